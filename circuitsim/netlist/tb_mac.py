"""MAC-read testbench: drive a crossbar, sense its outputs, one read window per input vector.

Forward: inputs drive the rows, the (physical) columns are sensed. Backward (transposed
read): inputs drive the columns — for differential pairs ``+x_j`` on G+ and ``−x_j`` on G− —
and the rows are sensed, so the rows report ``W·x`` with ``W = G+ − G−``.

Inputs ``x`` lie in [−1, 1]. ``amplitude`` encoding drives ``x·v_read`` for the read window
``t_read``; ``pulse_width`` encoding drives ``sign(x)·v_read`` for ``|x|·t_read``, rounded to the
``pw_bits`` pulse-width DAC grid (which also bounds the number of distinct edges, and so the
number of transient breakpoints, to ``2^pw_bits`` per window).

A batch of ``B`` input vectors is read in ``B`` consecutive windows of one transient (one deck,
one matrix setup). Window ``w`` starts at ``w·t_window`` with ``t_window = t_read + 3·t_edge
+ t_reset``: the pulses rise from the start, currents and TIA outputs are sampled at
``start + t_edge + t_read`` (end of the full-scale plateau), integrator outputs at
``start + 3·t_edge + t_read`` (all pulses over), then the integrators are reset for
``t_reset`` (a 1 Ω switch across the feedback capacitor; it is also closed at the DC
operating point and opens at ``t_edge/10``).

Every sensed line ends in a 0 V source ``VS<k>`` (its current is the line current, positive
into the sense amplifier) followed by the sensing stage:

- ``tia``: transimpedance amplifier, ``v(out<k>) = −r_f·i``;
- ``integrator``: charge integrator, ``v(out<k>) = −(1/c_int)·∫i dt`` over the window.

With ``opamp_gain=None`` the amplifier is ideal (exact virtual ground: the sense node is held
at 0 V and the output is a controlled source). With a finite gain it is a VCVS op-amp with the
feedback element between its inverting input and its output, so the virtual ground moves by
``v(out)/gain``. The ideal integrator's output node has a 1 TΩ bleed resistor to ground so its
DC operating point exists (time constant ≥ 1 s, negligible over a read).

Saved: ``i(VS<k>)``, ``v(out<k>)`` and the driver currents ``i(VIN<p>)`` (for energy).
Measurements for a single vector (``B = 1``): ``i<k>`` (line current at the sample time, A),
``q<k>`` (charge over the window, C), ``out<k>`` (sensing output at its sample time, V), and for
differential forward reads ``id<j> = i<2j> − i<2j+1>`` and ``qd<j>``. For ``B > 1`` the same
per window as ``i<k>_<w>``/``q<k>_<w>``/``out<k>_<w>`` while ``B·lines ≤ 256`` (beyond that the
waveforms carry the results; :mod:`circuitsim.phases.mac` samples them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from circuitsim.netlist import crossbar as xb
from circuitsim.netlist import elements as el
from circuitsim.netlist.block import Block
from circuitsim.netlist.deck import render
from circuitsim.netlist.fmt import num
from circuitsim.spec import check_types, non_negative, param, positive, require

BLEED_OHMS = 1e12
RESET_OHMS = 1.0
MAX_MEAS = 256


@dataclass(frozen=True, slots=True)
class MacTestbenchSpec:
    """MAC reads of a crossbar (forward or backward) with its sensing periphery."""

    crossbar: xb.CrossbarSpec = param(xb.CrossbarSpec(), "the array under test")
    direction: Literal["forward", "backward"] = param(
        "forward", "forward: drive rows, sense columns; backward: drive columns, sense rows")
    inputs: tuple[tuple[float, ...], ...] | None = param(
        None, "input vectors in [-1, 1], one read window each (length rows forward, logical "
        "columns backward); None = n_vectors drawn from input_seed")
    n_vectors: int = param(1, "number of drawn input vectors when inputs is None")
    input_seed: int = param(1, "seed of the drawn input vectors (uniform in [-1, 1])")
    encoding: Literal["amplitude", "pulse_width"] = param(
        "amplitude", "x as voltage x*v_read, or as pulse of v_read lasting |x|*t_read")
    pw_bits: int = param(5, "pulse-width DAC resolution: widths are multiples of "
                              "t_read/(2^pw_bits - 1)")
    v_read: float = param(0.2, "read voltage for x = 1", "V")
    t_read: float = param(100e-9, "read window (full-scale pulse width)", "s")
    t_edge: float = param(1e-9, "rise and fall time of the input pulses", "s")
    t_reset: float = param(10e-9, "integrator reset time after each window", "s")
    sensing: Literal["tia", "integrator"] = param("tia", "sense amplifier type")
    r_f: float = param(1e3, "TIA feedback resistance", "Ohm")
    c_int: float = param(10e-12, "integrator feedback capacitance", "F")
    opamp_gain: float | None = param(None, "op-amp open-loop gain; None = ideal virtual ground")
    v_wordline: float = param(1.0, "1T1R word-line (access gate) voltage during the read", "V")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "v_read", "t_read", "t_edge", "r_f", "c_int")
        non_negative(self, "input_seed")
        require(self.t_reset >= self.t_edge, "t_reset", self.t_reset,
                f"must be >= t_edge={self.t_edge!r}")
        require(1 <= self.pw_bits <= 12, "pw_bits", self.pw_bits, "must be in 1..12")
        require(1 <= self.n_vectors <= 10000, "n_vectors", self.n_vectors, "must be 1..10000")
        if self.opamp_gain is not None:
            require(self.opamp_gain >= 10, "opamp_gain", self.opamp_gain, "must be >= 10")
        if self.inputs is not None:
            require(1 <= len(self.inputs) <= 10000, "inputs", f"{len(self.inputs)} vectors",
                    "need 1..10000 input vectors")
            n = self.n_inputs
            bad_len = next((len(v) for v in self.inputs if len(v) != n), None)
            require(bad_len is None, "inputs", f"a vector of {bad_len} values",
                    f"each needs {n} values for a {self.direction} read")
            bad = next((x for v in self.inputs for x in v if abs(x) > 1), None)
            require(bad is None, "inputs", bad, "every input must lie in [-1, 1]")

    @property
    def n_inputs(self) -> int:
        """Length of one input vector: rows (forward) or logical columns (backward)."""
        return self.crossbar.rows if self.direction == "forward" else self.crossbar.cols

    @property
    def n_sensed(self) -> int:
        """Number of sensed lines: physical columns (forward) or rows (backward)."""
        return self.crossbar.phys_cols if self.direction == "forward" else self.crossbar.rows

    @property
    def t_window(self) -> float:
        return self.t_read + 3 * self.t_edge + self.t_reset


def input_matrix(spec: MacTestbenchSpec) -> np.ndarray:
    """The input vectors x in [−1, 1], shape ``(B, n_inputs)``."""
    if spec.inputs is not None:
        return np.array(spec.inputs, dtype=float).reshape(len(spec.inputs), spec.n_inputs)
    rng = np.random.default_rng(spec.input_seed)
    return rng.uniform(-1.0, 1.0, (spec.n_vectors, spec.n_inputs))


def window_starts(spec: MacTestbenchSpec) -> np.ndarray:
    """Start of every read window, s, shape ``(B,)``."""
    return np.arange(len(input_matrix(spec))) * spec.t_window


def sample_times(spec: MacTestbenchSpec) -> np.ndarray:
    """Where line currents and TIA outputs are sampled (end of the plateau), shape ``(B,)``."""
    return window_starts(spec) + spec.t_edge + spec.t_read


def output_times(spec: MacTestbenchSpec) -> np.ndarray:
    """Where the sensing outputs are read: the sample time (TIA) or after all pulses ended
    (integrator, just before its reset), shape ``(B,)``."""
    if spec.sensing == "tia":
        return sample_times(spec)
    return window_starts(spec) + 3 * spec.t_edge + spec.t_read


def stop_time(spec: MacTestbenchSpec) -> float:
    return len(input_matrix(spec)) * spec.t_window


def _per_port(spec: MacTestbenchSpec, values: np.ndarray) -> np.ndarray:
    """Per driven port (``(B, ports)``): differential backward reads drive ±x on the pair."""
    if spec.direction == "backward" and spec.crossbar.differential:
        return np.stack([values, values], axis=2).reshape(len(values), -1)
    return values


def drive_voltages(spec: MacTestbenchSpec) -> np.ndarray:
    """Signed drive level per window and driven port (V), shape ``(B, ports)``."""
    x = input_matrix(spec)
    level = x * spec.v_read if spec.encoding == "amplitude" else np.sign(x) * spec.v_read
    level = _per_port(spec, level)
    if spec.direction == "backward" and spec.crossbar.differential:
        level[:, 1::2] *= -1
    return level


def drive_widths(spec: MacTestbenchSpec) -> np.ndarray:
    """How long each level is held (s), shape ``(B, ports)`` (quantised pulse widths)."""
    x = np.abs(input_matrix(spec))
    if spec.encoding == "amplitude":
        x = np.ones_like(x)
    else:
        steps = 2**spec.pw_bits - 1
        x = np.round(x * steps) / steps
    return _per_port(spec, x) * spec.t_read


def _transfer(spec: MacTestbenchSpec) -> np.ndarray:
    """Conductance map from driven ports to sensed lines, shape ``(ports, lines)``."""
    g = xb.conductance_matrix(spec.crossbar)
    return g if spec.direction == "forward" else g.T


def ideal_currents(spec: MacTestbenchSpec) -> np.ndarray:
    """Ideal (no wire, linear device) sensed currents at the sample times, A, ``(B, lines)``."""
    v = drive_voltages(spec)
    if spec.encoding == "pulse_width":
        v = v * (drive_widths(spec) >= spec.t_read)
    return v @ _transfer(spec)


def ideal_charges(spec: MacTestbenchSpec) -> np.ndarray:
    """Ideal charge per window and sensed line (including the input edges), C, ``(B, lines)``."""
    w = drive_widths(spec)
    q_in = drive_voltages(spec) * (w + np.where(w > 0, spec.t_edge, 0.0))
    return q_in @ _transfer(spec)


def _ports(spec: MacTestbenchSpec) -> tuple[list[str], list[str]]:
    rows = [f"row_{i}" for i in range(spec.crossbar.rows)]
    cols = [f"col_{j}" for j in range(spec.crossbar.phys_cols)]
    return (rows, cols) if spec.direction == "forward" else (cols, rows)


def _drivers(spec: MacTestbenchSpec, driven: list[str]) -> list[str]:
    lines = [el.comment(f"input drivers ({spec.encoding} encoding, one window per vector)")]
    e = spec.t_edge
    levels, widths = drive_voltages(spec), drive_widths(spec)
    for k, port in enumerate(driven):
        points: list[tuple[float, float]] = [(0.0, 0.0)]
        for t0, level, width in zip(window_starts(spec), levels[:, k], widths[:, k], strict=True):
            if level != 0.0 and width > 0.0:
                points += [(t0, 0.0), (t0 + e, level), (t0 + e + width, level),
                           (t0 + 2 * e + width, 0.0)]
        if len(points) == 1:
            lines.append(el.vdc(f"VIN{k}", port, "0", 0.0))
        else:
            lines.append(el.vpwl(f"VIN{k}", port, "0", points[1:] if points[1][0] == 0.0
                                 else points))
    if spec.crossbar.cell == "1T1R":
        lines.append(el.comment("word lines (access transistors on)"))
        lines += [el.vdc(f"VWL{i}", f"wl_{i}", "0", spec.v_wordline)
                  for i in range(spec.crossbar.rows)]
    return lines


def _reset_line(spec: MacTestbenchSpec) -> list[str]:
    """Reset control node ``rst`` (1 V while the integrators reset) and the switch model.
    The switch is closed at the DC operating point and opens at ``t_edge/10``: a finite-gain
    integrator has no DC feedback, so leakage into its virtual ground (a 1T1R access FET's
    gate) would otherwise leave an offset in the first window."""
    e = spec.t_edge
    points: list[tuple[float, float]] = [(0.0, 1.0), (e / 10, 0.0)]
    for t0 in window_starts(spec):
        r0 = t0 + spec.t_read + 3 * e
        points += [(r0, 0.0), (r0 + e / 10, 1.0), (t0 + spec.t_window - e / 10, 1.0),
                   (t0 + spec.t_window, 0.0)]
    return [el.comment(f"integrator reset after every window ({num(RESET_OHMS)} Ohm switch)"),
            el.vpwl("VRST", "rst", "0", points),
            el.switch_model("swrst", 0.5, RESET_OHMS, 1e15)]


def _sense(spec: MacTestbenchSpec, k: int, port: str) -> list[str]:
    out = f"out{k}"
    if spec.opamp_gain is None:
        lines = [el.vdc(f"VS{k}", port, "0", 0.0)]
        if spec.sensing == "tia":
            return [*lines, el.ccvs(f"HT{k}", out, "0", f"VS{k}", -spec.r_f)]
        return [*lines, el.cccs(f"FI{k}", out, "0", f"VS{k}", 1.0),
                el.capacitor(f"CI{k}", out, "0", spec.c_int),
                el.resistor(f"RB{k}", out, "0", BLEED_OHMS),
                el.switch(f"SR{k}", out, "0", "rst", "0", "swrst")]
    vg = f"vg{k}"
    lines = [el.vdc(f"VS{k}", port, vg, 0.0),
             el.vcvs(f"EA{k}", out, "0", "0", vg, spec.opamp_gain)]
    if spec.sensing == "tia":
        return [*lines, el.resistor(f"RF{k}", vg, out, spec.r_f)]
    return [*lines, el.capacitor(f"CF{k}", vg, out, spec.c_int),
            el.switch(f"SR{k}", vg, out, "rst", "0", "swrst")]


def _measurements(spec: MacTestbenchSpec, n_driven: int) -> list[str]:
    n, b = spec.n_sensed, len(input_matrix(spec))
    stop = stop_time(spec)
    lines = [el.tran(spec.t_read / 5, stop),
             el.save([*(f"i(VS{k})" for k in range(n)), *(f"v(out{k})" for k in range(n)),
                      *(f"i(VIN{k})" for k in range(n_driven))])]
    if b * n > MAX_MEAS:
        return lines
    diff = spec.direction == "forward" and spec.crossbar.differential
    for w, (t0, ts, to) in enumerate(zip(window_starts(spec), sample_times(spec),
                                         output_times(spec), strict=True)):
        sfx = "" if b == 1 else f"_{w}"
        t1 = t0 + spec.t_read + 3 * spec.t_edge
        for k in range(n):
            lines += [el.meas_find(f"i{k}{sfx}", f"i(VS{k})", ts),
                      el.meas_integ(f"q{k}{sfx}", f"i(VS{k})", t0, t1),
                      el.meas_find(f"out{k}{sfx}", f"v(out{k})", to)]
        for j in range(spec.crossbar.cols if diff else 0):
            lines += [el.meas_diff(f"id{j}{sfx}", f"i{2 * j}{sfx}", f"i{2 * j + 1}{sfx}"),
                      el.meas_diff(f"qd{j}{sfx}", f"q{2 * j}{sfx}", f"q{2 * j + 1}{sfx}")]
    return lines


def _inputs_line(spec: MacTestbenchSpec) -> str:
    x = input_matrix(spec)
    source = "explicit" if spec.inputs is not None else f"drawn with seed {spec.input_seed}"
    if x.size > 16:
        return (f"inputs x: {len(x)} vector(s) of {x.shape[1]} values, {source} "
                f"(levels in the VIN sources)")
    return "inputs x: " + " | ".join(" ".join(num(round(v, 6)) for v in row) for row in x)


def deck(spec: MacTestbenchSpec) -> str:
    xs = spec.crossbar
    driven, sensed = _ports(spec)
    amp = "ideal" if spec.opamp_gain is None else f"op-amp gain {num(spec.opamp_gain)}"
    stage = (f"r_f {num(spec.r_f)} Ohm" if spec.sensing == "tia"
             else f"c_int {num(spec.c_int)} F, reset {num(spec.t_reset)} s")
    head = [*xb.header(xs),
            f"{spec.direction} read, {spec.encoding} inputs, v_read {num(spec.v_read)} V, "
            f"t_read {num(spec.t_read)} s, window {num(spec.t_window)} s",
            f"sensing: {spec.sensing} ({amp}), {stage}",
            _inputs_line(spec)]
    body = [*xb.subckt_lines(xs), "",
            el.instance("Xarray", xb.ports(xs), "crossbar"), "",
            *_drivers(spec, driven), "",
            el.comment(f"sense amplifiers on {len(sensed)} lines")]
    if spec.sensing == "integrator":
        body += _reset_line(spec)
    for k, port in enumerate(sensed):
        body += _sense(spec, k, port)
    return render(f"circuitsim testbench: MAC read ({spec.direction})", head, body,
                  control=_measurements(spec, len(driven)), **xb.models(xs))


BLOCKS = [
    Block("tb_mac", MacTestbenchSpec, deck, "MAC read testbench (forward or backward)",
          "testbench", {
              "default": {},
              "backward_differential_integrator": {
                  "direction": "backward", "sensing": "integrator", "n_vectors": 2,
                  "crossbar": {"rows": 3, "cols": 2, "differential": True,
                               "r_row": 1.0, "r_col": 1.0}},
              "pulse_width_1t1r_opamp": {
                  "encoding": "pulse_width", "opamp_gain": 1e4,
                  "crossbar": {"rows": 3, "cols": 2, "cell": "1T1R", "r_row": 2.0, "r_col": 2.0,
                               "c_row": 1e-16, "c_col": 1e-16}},
          }),
]
