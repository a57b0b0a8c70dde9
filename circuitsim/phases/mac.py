"""MAC read phase: a batch of input vectors through a crossbar, one deck, one window per vector.

:func:`run_mac` builds a :class:`~circuitsim.netlist.tb_mac.MacTestbenchSpec`, runs its deck
once for the whole batch (consecutive read windows) and samples the waveforms at the
testbench's own instants (``tb_mac.sample_times`` / ``output_times``; ``.meas`` is not used,
it is capped at 256 values). The point of a MAC sweep is that spec itself (:data:`MacPoint`),
run by :func:`mac_point`.

Energy per read: what the input drivers ``VIN<p>`` deliver over the read's window,
``∫ v·(−i) dt`` (their voltage is the deck's PWL, rebuilt from the spec). The sense amplifiers
are ideal controlled sources in the deck and draw nothing; :mod:`circuitsim.energy` adds a
labelled estimate for them. With a 1T1R array the word-line sources (DC gate bias, only gate
leakage) are not counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from circuitsim.netlist import tb_mac
from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.netlist.tb_mac import MacTestbenchSpec
from circuitsim.phases.records import Record
from circuitsim.phases.technology import options_for
from circuitsim.spec import from_mapping, to_mapping
from circuitsim.spice.runner import SimOptions, simulate
from circuitsim.spice.waveform import settling_time, window_energy, window_integral

#: The point of a MAC sweep is the testbench spec (frozen, TOML/JSON via spec.from_mapping).
MacPoint = MacTestbenchSpec

#: TIA settling band: within SETTLE_RTOL of the final value, plus SETTLE_ATOL volts.
SETTLE_RTOL = 1e-3
SETTLE_ATOL = 1e-6


@dataclass(frozen=True, slots=True, eq=False)
class MacResult(Record):
    """One batch of MAC reads. ``B`` windows (input vectors), ``n`` inputs per vector, ``P``
    driven ports (``n``, or ``2n`` for a backward differential read), ``L`` sensed lines
    (physical columns forward, rows backward), ``M`` logical outputs (logical columns forward,
    rows backward). Currents are positive into the sense amplifier."""

    direction: str  #: "forward" or "backward"
    sensing: str  #: "tia" or "integrator"
    encoding: str  #: "amplitude" or "pulse_width"
    differential: bool  #: G+/G- column pairs
    inputs: np.ndarray  #: (B, n) input vectors x in [-1, 1]
    drive_voltages: np.ndarray  #: (B, P) V, signed drive level per window and port
    window_starts: np.ndarray  #: (B,) s
    sample_times: np.ndarray  #: (B,) s, end of the input plateau: currents, TIA outputs
    output_times: np.ndarray  #: (B,) s, where ``outputs`` are read (TIA: = sample_times)
    currents: np.ndarray  #: (B, L) A, line currents at sample_times
    charges: np.ndarray  #: (B, L) C, line charge over [start, start + t_read + 3 t_edge]
    outputs: np.ndarray  #: (B, L) V, sensing outputs at output_times (TIA or integrator)
    ideal_currents: np.ndarray  #: (B, L) A, G^T V without wires or device non-linearity
    ideal_charges: np.ndarray  #: (B, L) C, the same integrated over the pulses (edges incl.)
    ideal_outputs: np.ndarray  #: (B, L) V, -r_f * ideal_currents or -ideal_charges / c_int
    mac_currents: np.ndarray  #: (B, M) A, G+ - G- combined (differential forward) else currents
    mac_charges: np.ndarray  #: (B, M) C, combined like mac_currents
    mac_outputs: np.ndarray  #: (B, M) V, combined like mac_currents
    ideal_mac_currents: np.ndarray  #: (B, M) A, ideal W x (W = G+ - G- for pairs) * v_read
    ideal_mac_charges: np.ndarray  #: (B, M) C, ideal charges combined like mac_currents
    energy_ports: np.ndarray  #: (B, P) J, energy each input driver delivers per window
    energy: np.ndarray  #: (B,) J, energy per read (sum over ports)
    latencies: np.ndarray  #: (B,) s, TIA: slowest output's settling; integrator: t_window
    latency: float  #: s, the largest of latencies
    t_window: float  #: s, read window incl. edges and integrator reset
    ops: int  #: operations per read, 2 * rows * logical columns (1 MAC = 2 ops)
    n_sense_amps: int  #: L, op-amps of the sensing periphery (for energy estimates)
    spec_json: str  #: the testbench spec as JSON (provenance)
    ngspice_version: str

    @property
    def energy_per_read(self) -> float:
        """Mean energy of one read (J)."""
        return float(np.mean(self.energy))

    @property
    def energy_per_op(self) -> float:
        """Mean array energy per operation (J)."""
        return self.energy_per_read / self.ops

    def spec(self) -> MacTestbenchSpec:
        """The testbench spec the result was simulated from."""
        return from_mapping(MacTestbenchSpec, json.loads(self.spec_json))


def drive_waveforms(spec: MacTestbenchSpec, time: np.ndarray) -> np.ndarray:
    """The input drivers' PWL voltages (the deck's ``VIN<p>``) on ``time``, shape ``(P, T)``."""
    e = spec.t_edge
    levels, widths = tb_mac.drive_voltages(spec), tb_mac.drive_widths(spec)
    starts = tb_mac.window_starts(spec)
    out = np.zeros((levels.shape[1], len(time)))
    for p in range(levels.shape[1]):
        ts, vs = [0.0], [0.0]
        for t0, level, width in zip(starts, levels[:, p], widths[:, p], strict=True):
            if level != 0.0 and width > 0.0:
                ts += [t0, t0 + e, t0 + e + width, t0 + 2 * e + width]
                vs += [0.0, level, level, 0.0]
        out[p] = np.interp(time, ts, vs)
    return out


def _combine(spec: MacTestbenchSpec, lines: np.ndarray) -> np.ndarray:
    if spec.direction == "forward" and spec.crossbar.differential:
        return lines[:, 0::2] - lines[:, 1::2]
    return lines


def mac_point(spec: MacTestbenchSpec, options: SimOptions | None = None) -> MacResult:
    """Simulate the MAC testbench ``spec`` (all its input vectors in one deck)."""
    xb = spec.crossbar
    if xb.cell == "1T1R":
        options = options_for(xb.technology, options)
    res = simulate(tb_mac.deck(spec)) if options is None else simulate(tb_mac.deck(spec), options)
    t = res.time
    n_lines = spec.n_sensed
    starts = tb_mac.window_starts(spec)
    ts, to = tb_mac.sample_times(spec), tb_mac.output_times(spec)
    line_i = np.array([res[f"i(VS{k})"] for k in range(n_lines)])
    line_v = np.array([res[f"v(out{k})"] for k in range(n_lines)])
    currents = np.array([np.interp(ts, t, row) for row in line_i]).T
    outputs = np.array([np.interp(to, t, row) for row in line_v]).T
    pulse_windows = np.stack([starts, starts + spec.t_read + 3 * spec.t_edge], axis=1)
    charges = window_integral(t, line_i, pulse_windows).T
    ideal_i, ideal_q = tb_mac.ideal_currents(spec), tb_mac.ideal_charges(spec)
    ideal_out = -spec.r_f * ideal_i if spec.sensing == "tia" else -ideal_q / spec.c_int

    n_ports = tb_mac.drive_voltages(spec).shape[1]
    v_in = drive_waveforms(spec, t)
    i_in = np.array([res[f"i(VIN{p})"] for p in range(n_ports)])
    read_windows = np.stack([starts, starts + spec.t_window], axis=1)
    energy_ports = window_energy(t, v_in, i_in, read_windows).T

    if spec.sensing == "tia":
        latencies = np.array([settling_time(t, line_v, a, b, SETTLE_RTOL, SETTLE_ATOL).max()
                              for a, b in zip(starts, ts, strict=True)])
    else:
        latencies = np.full(len(starts), spec.t_window)
    xs = spec.crossbar
    return MacResult(
        direction=spec.direction, sensing=spec.sensing, encoding=spec.encoding,
        differential=xs.differential, inputs=tb_mac.input_matrix(spec),
        drive_voltages=tb_mac.drive_voltages(spec), window_starts=starts, sample_times=ts,
        output_times=to, currents=currents, charges=charges, outputs=outputs,
        ideal_currents=ideal_i, ideal_charges=ideal_q, ideal_outputs=ideal_out,
        mac_currents=_combine(spec, currents), mac_charges=_combine(spec, charges),
        mac_outputs=_combine(spec, outputs), ideal_mac_currents=_combine(spec, ideal_i),
        ideal_mac_charges=_combine(spec, ideal_q), energy_ports=energy_ports,
        energy=energy_ports.sum(axis=1), latencies=latencies,
        latency=float(latencies.max()), t_window=spec.t_window, ops=2 * xs.rows * xs.cols,
        n_sense_amps=n_lines, spec_json=json.dumps(to_mapping(spec)),
        ngspice_version=res.ngspice_version)


def decks(spec: Any) -> list[str]:
    """The decks :func:`mac_point` simulates for ``spec`` (hashed into sweep keys)."""
    return [tb_mac.deck(spec)]


# circuitsim.store.point_key hashes the decks of functions that declare them
mac_point.decks = decks  # type: ignore[attr-defined]

def run_mac(crossbar: CrossbarSpec, inputs: np.ndarray, direction: str = "forward", *,
            options: SimOptions | None = None, **overrides: Any) -> MacResult:
    """Read the input vectors ``inputs`` (shape ``(B, n)``, values in [−1, 1]; ``n`` = rows
    forward, logical columns backward) through ``crossbar`` in one deck.

    ``overrides`` are other :class:`MacTestbenchSpec` fields (``sensing``, ``encoding``,
    ``v_read``, ``t_read``, ``r_f``, ``c_int``, ``opamp_gain`` ...); an unknown or invalid one
    raises :class:`SpecError` naming it. ``options`` selects the simulator backend.
    """
    x = np.asarray(inputs, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    for key in ("crossbar", "inputs", "direction", "n_vectors", "input_seed"):
        if key in overrides:
            raise TypeError(f"run_mac: {key!r} is not an override (pass it as an argument)")
    mapping = {"crossbar": crossbar, "direction": direction,
               "inputs": tuple(tuple(float(v) for v in row) for row in x), **overrides}
    return mac_point(from_mapping(MacTestbenchSpec, mapping), options)
