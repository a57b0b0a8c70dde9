"""``simulate(deck, options) -> TranResult``: the one entry point for running a deck.

Backends: ``shared`` (default) runs libngspice through PySpice inside a worker process
(:mod:`circuitsim.spice.pool`; in this process when it is one); ``batch`` runs ``ngspice -b`` in
a subprocess and parses its binary raw file. Both give the same vector names, waveforms and
``.meas`` values, and raise :class:`~circuitsim.errors.SimError` (deck, log, kept run
directory) on failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from circuitsim.spec import check_types, param, positive
from circuitsim.spice.ngspice import run_batch
from circuitsim.spice.result import TranResult


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How a deck is run (none of these change the simulated numbers)."""

    backend: Literal["shared", "batch"] = param(
        "shared", "shared: libngspice in a worker process; batch: one ngspice -b per run")
    timeout: float = param(600.0, "wall-time limit of one run", "s")
    keep_dir: bool = param(False, "keep the run directory (deck, log) even on success")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "timeout")


def simulate(deck: str, options: SimOptions = SimOptions()) -> TranResult:
    """Run ``deck`` and return its waveforms and ``.meas`` values (raises ``SimError``)."""
    if options.backend == "batch":
        return run_batch(deck, timeout=options.timeout, keep_dir=options.keep_dir)
    from circuitsim.spice.shared_backend import simulate_shared

    return simulate_shared(deck, options)
