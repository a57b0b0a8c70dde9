"""Operation counts of one weight matrix during a training run: the ledger's raw data.

Every analog *Weights* object owns a :class:`Tally`. Its reads, conversions, update pulses,
transfers and holds add to it while the network trains; :mod:`circuitsim.train.ledger` prices
the counts with energies and latencies measured in SPICE. Counting draws no random number and
changes no weight, so a run trains bit for bit the same whether or not its ledger is read.

Phases: ``forward`` and ``backward`` (the training reads), ``update`` (the rule's pulses),
``transfer`` (2PCM+3T1C transfers, PCM-only refreshes: PCM programming and the 3T1C
write-and-verify), ``hold`` (3T1C leakage between updates), ``inference`` (the test-set
reads of the evaluations) and ``program`` (writing the initial weights, once).

Read energy depends on the data: the driver of a line delivers ``e(v) G_line`` per read
(``MacSurrogate.line_energy``: the SPICE-fitted ``v F(v)`` times the pulse's duration), with
``G_line`` the line's total conductance over the weight's physical arrays. The DAC adds each
driven level's ``e(v)`` to its line's sum (:attr:`Tally.act`); :meth:`Tally.flush` turns the
sums into joules with the lines' conductances at that moment. The weights flush every
:data:`FLUSH_EVERY` training images, before every transfer and around every evaluation, so a
read is priced with conductances at most that many images old.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

PHASES = ("forward", "backward", "update", "transfer", "hold", "inference", "program")
#: Training images between two conversions of the read sums into joules (a flush sums every
#: array of the layer: ~1 ms for 785 x 250 x 4 cells, so not much more often than this).
FLUSH_EVERY = 1000

OutKind = Literal["adc", "ramp", "ideal"]


class Tally:
    """Counts of one weight matrix ``(n_in, n_out)`` (module docstring). ``reads[phase]``:
    input vectors read (their DAC, sense and output conversions follow from the lines,
    :meth:`read_counts`); ``counts[phase]``: every other operation by name (pulses,
    programming, holds); :meth:`to_json` gives both. ``read_energy[phase]``: joules of the
    flushed reads. ``fwd_out`` / ``bwd_out``: what converts a read's outputs (the periphery
    ADC, the ramp-ADC activation of the next layer, or nothing)."""

    __slots__ = ("n_in", "n_out", "fwd_out", "bwd_out", "enabled", "training", "counts",
                 "reads", "act", "read_energy", "pulses", "since_flush")

    def __init__(self, n_in: int, n_out: int, fwd_out: OutKind = "adc",
                 bwd_out: OutKind = "adc"):
        self.n_in, self.n_out, self.fwd_out, self.bwd_out = n_in, n_out, fwd_out, bwd_out
        self.enabled = True  # off: nothing is counted (the run has no ledger)
        self.training = True
        self.counts: dict[str, dict[str, float]] = {p: {} for p in PHASES}
        #: input vectors read per phase (a read's conversions follow from its lines)
        self.reads = dict.fromkeys(("forward", "backward", "inference"), 0)
        self.act = {"forward": np.zeros(n_in), "backward": np.zeros(n_out),
                    "inference": np.zeros(n_in)}
        self.read_energy = dict.fromkeys(("forward", "backward", "inference"), 0.0)
        #: the update's 3T1C pulses as the compiled kernel adds them: up, down, sum of the
        #: up dV_C, sum of the down |dV_C| (V)
        self.pulses = np.zeros(4)
        self.since_flush = 0

    def add(self, phase: str, name: str, value: float) -> None:
        if not self.enabled:
            return
        c = self.counts[phase]
        c[name] = c.get(name, 0.0) + float(value)

    def read(self, direction: Literal["forward", "backward"], batch: int
             ) -> np.ndarray | None:
        """Count a read of ``batch`` vectors; the line sums its DAC adds to (None: off)."""
        if not self.enabled:
            return None
        phase = direction if self.training else "inference"
        self.reads[phase] += batch
        return self.act[phase]

    def read_counts(self, phase: str) -> dict[str, float]:
        """A read phase's operations: vectors, DAC conversions (one per driven line), sense
        amplifier activations and output conversions (one per output line)."""
        n = self.reads[phase]
        if not n:
            return {}
        backward = phase == "backward"
        lines_in, lines_out = (self.n_out, self.n_in) if backward else (self.n_in, self.n_out)
        out = {"reads": n, "dac": n * lines_in, "sense": n * lines_out}
        kind = self.bwd_out if backward else self.fwd_out
        if kind != "ideal":
            out[kind] = n * lines_out
        return {k: float(v) for k, v in out.items()}

    def flush(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """Price the read sums with the lines' conductances now: ``rows`` (n_in,) S, summed
        over the physical arrays (forward reads drive rows), ``cols`` (n_out,) S."""
        for phase, lines in (("forward", rows), ("backward", cols), ("inference", rows)):
            act = self.act[phase]
            self.read_energy[phase] += float(act @ lines)
            act[:] = 0.0
        self.since_flush = 0

    def pulses_to_counts(self) -> None:
        """Move the kernel's pulse sums into ``counts["update"]``."""
        for name, v in zip(("pulses_up", "pulses_down", "dv_up", "dv_down"), self.pulses,
                           strict=True):
            if v:
                self.add("update", name, v)
        self.pulses[:] = 0.0

    def add_pulses(self, phase: str, n: np.ndarray, dv: np.ndarray) -> None:
        """Count 3T1C pulses ``n`` (signed per cell) that moved V_C by ``dv`` (V, per cell)."""
        up, down = n > 0, n < 0
        self.add(phase, "pulses_up", n[up].sum(dtype=np.float64))
        self.add(phase, "pulses_down", -n[down].sum(dtype=np.float64))
        self.add(phase, "dv_up", dv[up].sum(dtype=np.float64))
        self.add(phase, "dv_down", -dv[down].sum(dtype=np.float64))

    def to_json(self) -> dict[str, dict[str, float]]:
        """The counts per phase (after :meth:`flush` and :meth:`pulses_to_counts`)."""
        out = {p: {**c, **self.read_counts(p)} if p in self.reads else dict(c)
               for p, c in self.counts.items()}
        return {p: c for p, c in out.items() if c}
