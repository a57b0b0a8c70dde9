"""MAC-read testbench: drive a crossbar, sense its outputs, measure currents, charges, voltages.

Forward: inputs drive the rows, the (physical) columns are sensed. Backward (transposed
read): inputs drive the columns — for differential pairs ``+x_j`` on G+ and ``−x_j`` on G− —
and the rows are sensed, so the rows report ``W·x`` with ``W = G+ − G−``.

Inputs ``x`` lie in [−1, 1]. ``amplitude`` encoding drives ``x·v_read`` for the read window
``t_read``; ``pulse_width`` encoding drives ``sign(x)·v_read`` for ``|x|·t_read``, rounded to the
``pw_bits`` pulse-width DAC grid (which also bounds the number of distinct edges, and so the
number of transient breakpoints, to ``2^pw_bits``).

Every sensed line ends in a 0 V source ``VS<k>`` (its current is the line current, positive
into the sense amplifier) followed by the sensing stage:

- ``tia``: transimpedance amplifier, ``v(out<k>) = −r_f·i``;
- ``integrator``: charge integrator, ``v(out<k>) = −(1/c_int)·∫i dt`` (reset at t = 0).

With ``opamp_gain=None`` the amplifier is ideal (exact virtual ground: the sense node is held
at 0 V and the output is a controlled source). With a finite gain it is a VCVS op-amp with the
feedback element between its inverting input and its output, so the virtual ground moves by
``v(out)/gain``. The ideal integrator's output node has a 1 TΩ bleed resistor to ground so its
DC operating point exists (time constant ≥ 1 s, negligible over a read).

Measurements per output ``k``: ``i<k>`` (line current at the end of the read window, A),
``q<k>`` (charge over the whole read, C) and ``out<k>`` (sensing output at the sample time, V).
For differential forward reads also ``id<k> = i<2k> − i<2k+1>`` and ``qd<k>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from circuitsim.netlist import crossbar as xb
from circuitsim.netlist import elements as el
from circuitsim.netlist.deck import render
from circuitsim.netlist.fmt import num
from circuitsim.netlist.registry import Block
from circuitsim.spec import param, positive, require

BLEED_OHMS = 1e12


@dataclass(frozen=True, slots=True)
class MacTestbenchSpec:
    """One MAC read of a crossbar (forward or backward) with its sensing periphery."""

    crossbar: xb.CrossbarSpec = param(xb.CrossbarSpec(), "the array under test")
    direction: Literal["forward", "backward"] = param(
        "forward", "forward: drive rows, sense columns; backward: drive columns, sense rows")
    inputs: tuple[float, ...] | None = param(
        None, "input vector in [-1, 1] (rows forward, logical columns backward); None = drawn")
    input_seed: int = param(1, "seed of the drawn input vector (uniform in [-1, 1])")
    encoding: Literal["amplitude", "pulse_width"] = param(
        "amplitude", "x as voltage x*v_read, or as pulse of v_read lasting |x|*t_read")
    pw_bits: int = param(5, "pulse-width DAC resolution: widths are multiples of "
                              "t_read/(2^pw_bits - 1)")
    v_read: float = param(0.2, "read voltage for x = 1", "V")
    t_read: float = param(100e-9, "read window (full-scale pulse width)", "s")
    t_edge: float = param(1e-9, "rise and fall time of the input pulses", "s")
    sensing: Literal["tia", "integrator"] = param("tia", "sense amplifier type")
    r_f: float = param(1e3, "TIA feedback resistance", "Ohm")
    c_int: float = param(10e-12, "integrator feedback capacitance", "F")
    opamp_gain: float | None = param(None, "op-amp open-loop gain; None = ideal virtual ground")
    v_wordline: float = param(1.0, "1T1R word-line (access gate) voltage during the read", "V")

    def __post_init__(self) -> None:
        positive(self, "v_read", "t_read", "t_edge", "r_f", "c_int")
        require(1 <= self.pw_bits <= 12, "pw_bits", self.pw_bits, "must be in 1..12")
        if self.opamp_gain is not None:
            require(self.opamp_gain >= 10, "opamp_gain", self.opamp_gain, "must be >= 10")
        if self.inputs is not None:
            n = self.n_inputs
            require(len(self.inputs) == n, "inputs", f"{len(self.inputs)} values",
                    f"need {n} for a {self.direction} read")
            bad = next((x for x in self.inputs if abs(x) > 1), None)
            require(bad is None, "inputs", bad, "every input must lie in [-1, 1]")

    @property
    def n_inputs(self) -> int:
        return self.crossbar.rows if self.direction == "forward" else self.crossbar.cols

    @property
    def sample_time(self) -> float:
        """End of the full-scale read window: where currents and TIA outputs are sampled."""
        return self.t_edge + self.t_read

    @property
    def stop_time(self) -> float:
        return self.t_read + 3 * self.t_edge


def input_vector(spec: MacTestbenchSpec) -> np.ndarray:
    """The input vector x in [−1, 1] the deck drives."""
    if spec.inputs is not None:
        return np.array(spec.inputs, dtype=float)
    return np.random.default_rng(spec.input_seed).uniform(-1.0, 1.0, spec.n_inputs)


def drive_voltages(spec: MacTestbenchSpec) -> np.ndarray:
    """Per driven port: the signed read voltage (amplitude) or pulse level (pulse width), V."""
    x = input_vector(spec)
    level = x * spec.v_read if spec.encoding == "amplitude" else np.sign(x) * spec.v_read
    if spec.direction == "backward" and spec.crossbar.differential:
        level = np.stack([level, -level], axis=1).ravel()
    return level


def drive_widths(spec: MacTestbenchSpec) -> np.ndarray:
    """Per driven port: how long the level is held, s (quantised to the pulse-width DAC)."""
    x = np.abs(input_vector(spec))
    if spec.encoding == "amplitude":
        x = np.ones_like(x)
    else:
        steps = 2**spec.pw_bits - 1
        x = np.round(x * steps) / steps
    if spec.direction == "backward" and spec.crossbar.differential:
        x = np.repeat(x, 2)
    return x * spec.t_read


def ideal_currents(spec: MacTestbenchSpec) -> np.ndarray:
    """Ideal (no wire, linear device) sensed currents at the sample time: Gᵀ·V or G·V, A."""
    g = xb.conductance_matrix(spec.crossbar)
    v = drive_voltages(spec)
    if spec.encoding == "pulse_width":
        v = v * (drive_widths(spec) >= spec.t_read)
    return g.T @ v if spec.direction == "forward" else g @ v


def ideal_charges(spec: MacTestbenchSpec) -> np.ndarray:
    """Ideal charge per sensed line over the read (including the input edges), C."""
    g = xb.conductance_matrix(spec.crossbar)
    w = drive_widths(spec)
    q_in = drive_voltages(spec) * (w + np.where(w > 0, spec.t_edge, 0.0))
    return g.T @ q_in if spec.direction == "forward" else g @ q_in


def _driven_and_sensed(spec: MacTestbenchSpec) -> tuple[list[str], list[str]]:
    rows = [f"row_{i}" for i in range(spec.crossbar.rows)]
    cols = [f"col_{j}" for j in range(spec.crossbar.phys_cols)]
    return (rows, cols) if spec.direction == "forward" else (cols, rows)


def _drivers(spec: MacTestbenchSpec, driven: list[str]) -> list[str]:
    lines = [el.comment(f"input drivers ({spec.encoding} encoding)")]
    e = spec.t_edge
    for k, (port, level, width) in enumerate(
            zip(driven, drive_voltages(spec), drive_widths(spec), strict=True)):
        if width == 0.0 or level == 0.0:
            lines.append(el.vdc(f"VIN{k}", port, "0", 0.0))
        else:
            points = [(0.0, 0.0), (e, level), (e + width, level), (2 * e + width, 0.0)]
            lines.append(el.vpwl(f"VIN{k}", port, "0", points))
    if spec.crossbar.cell == "1T1R":
        lines.append(el.comment("word lines (access transistors on)"))
        lines += [el.vdc(f"VWL{i}", f"wl_{i}", "0", spec.v_wordline)
                  for i in range(spec.crossbar.rows)]
    return lines


def _sense(spec: MacTestbenchSpec, k: int, port: str) -> list[str]:
    out = f"out{k}"
    if spec.opamp_gain is None:
        lines = [el.vdc(f"VS{k}", port, "0", 0.0)]
        if spec.sensing == "tia":
            return [*lines, el.ccvs(f"HT{k}", out, "0", f"VS{k}", -spec.r_f)]
        return [*lines, el.cccs(f"FI{k}", out, "0", f"VS{k}", 1.0),
                el.capacitor(f"CI{k}", out, "0", spec.c_int),
                el.resistor(f"RB{k}", out, "0", BLEED_OHMS)]
    vg = f"vg{k}"
    feedback = (el.resistor(f"RF{k}", vg, out, spec.r_f) if spec.sensing == "tia"
                else el.capacitor(f"CF{k}", vg, out, spec.c_int))
    return [el.vdc(f"VS{k}", port, vg, 0.0), el.vcvs(f"EA{k}", out, "0", "0", vg, spec.opamp_gain),
            feedback]


def _measurements(spec: MacTestbenchSpec, n_sensed: int) -> list[str]:
    ts, tstop = num(spec.sample_time), num(spec.stop_time)
    t_out = spec.sample_time if spec.sensing == "tia" else spec.stop_time
    lines = [f".tran {num(spec.t_read / 5)} {tstop}",
             el.wrap([".save", *(f"i(VS{k})" for k in range(n_sensed)),
                      *(f"v(out{k})" for k in range(n_sensed))])]
    for k in range(n_sensed):
        lines += [f".meas tran i{k} FIND i(VS{k}) AT={ts}",
                  f".meas tran q{k} INTEG i(VS{k}) FROM=0 TO={tstop}",
                  f".meas tran out{k} FIND v(out{k}) AT={num(t_out)}"]
    if spec.direction == "forward" and spec.crossbar.differential:
        for j in range(spec.crossbar.cols):
            lines += [f".meas tran id{j} param='i{2 * j}-i{2 * j + 1}'",
                      f".meas tran qd{j} param='q{2 * j}-q{2 * j + 1}'"]
    return lines


def _inputs_line(spec: MacTestbenchSpec) -> str:
    x = input_vector(spec)
    if len(x) > 16:
        source = "explicit" if spec.inputs is not None else f"drawn with seed {spec.input_seed}"
        return f"inputs x: {len(x)} values {source} (levels in the VIN sources)"
    return "inputs x: " + " ".join(num(round(v, 6)) for v in x)


def deck(spec: MacTestbenchSpec) -> str:
    xs = spec.crossbar
    driven, sensed = _driven_and_sensed(spec)
    amp = "ideal" if spec.opamp_gain is None else f"op-amp gain {num(spec.opamp_gain)}"
    head = [*xb.header(xs),
            f"{spec.direction} read, {spec.encoding} inputs, v_read {num(spec.v_read)} V, "
            f"t_read {num(spec.t_read)} s",
            f"sensing: {spec.sensing} ({amp}), "
            + (f"r_f {num(spec.r_f)} Ohm" if spec.sensing == "tia"
               else f"c_int {num(spec.c_int)} F"),
            _inputs_line(spec)]
    body = [*xb.subckt_lines(xs), "",
            el.instance("Xarray", xb.ports(xs), "crossbar"), "",
            *_drivers(spec, driven), "",
            el.comment(f"sense amplifiers on {len(sensed)} lines")]
    for k, port in enumerate(sensed):
        body += _sense(spec, k, port)
    return render(f"circuitsim testbench: MAC read ({spec.direction})", head, body,
                  models=xb.models(xs), control=_measurements(spec, len(sensed)))


BLOCKS = [
    Block("tb_mac", MacTestbenchSpec, deck, "MAC read testbench (forward or backward)",
          "testbench", {
              "default": {},
              "backward_differential_integrator": {
                  "direction": "backward", "sensing": "integrator",
                  "crossbar": {"rows": 3, "cols": 2, "differential": True,
                               "r_row": 1.0, "r_col": 1.0}},
              "pulse_width_1t1r_opamp": {
                  "encoding": "pulse_width", "opamp_gain": 1e4,
                  "crossbar": {"rows": 3, "cols": 2, "cell": "1T1R", "r_row": 2.0, "r_col": 2.0,
                               "c_row": 1e-16, "c_col": 1e-16}},
          }),
]
