"""Memristor-column ramp generator of the activation ramp ADC (Yang et al. 2025; circuit ours).

Circuit [ours]: an integrator made of a behavioural op-amp (VCVS with finite gain
``opamp_gain`` = 1e6, non-inverting input at ground), a feedback capacitor ``c_int`` between the
summing node and the output, and a reset switch across ``c_int`` that is closed from 0 to
``t_reset``. The summing node is the column of ``n_cal`` calibration memristors and
``2^B - 1`` ramp memristors. A read drives a row from 0 V to ``-v_read`` (a trapezoid with
``t_edge`` edges whose area is ``v_read * t_read``), so the row's memristor draws
``G * v_read`` out of the virtual-ground column and the output rises by
``G * v_read * t_read / c_int``.

The finite gain leaves the column at ``-V_out / opamp_gain``, so the idle rows (at 0 V) leak
charge back: the integrator decays with time constant ``opamp_gain * c_int / sum(G)``
(0.74 ms at gain 1e5 for the 5-bit sigmoid, a 0.4 mV ramp error by the last step, a fifth
of the smallest step; 7.4 ms and 0.04 mV, 0.07 mV for relu, at the default 1e6).

Timing, clock period ``T = period``: step 0 starts at ``t_start``; in step 0 all calibration
rows are read together and set the ramp base ``V_lo``; in step ``k`` (1 .. 2^B - 1), starting
at ``t_start + k * T``, ramp row ``k`` alone is read, so at the end of step ``k`` the ramp holds
``V_in(x_k)``, the input-referred threshold of code ``k``. The input map shared with the MAC
integrator is ``V_in(x) = v_lo + (x - x_min) / (x_max - x_min) * v_span``. Hence::

    G_k = c_int * (V_in(x_k) - V_in(x_{k-1})) / (v_read * t_read),   x_0 = x_min
    sum(G_cal) = c_int * v_lo / (v_read * t_read)   (split evenly over the n_cal devices)

Calibration devices [ours; Yang's 5 calibration memristors fix offset, INL and stuck-OFF
devices]: by default all ``n_cal`` are read together in step 0 and set the base. ``cal_step``
may move any of them to step ``k``, where it is read together with ramp row ``k`` and adds to
that step's increment: a spare that stands in for a stuck-OFF or weak ramp device (see
:mod:`circuitsim.characterize.adc` for the calibration procedure). ``RampDesign.cal_step``
carries the steps, and :meth:`RampDesign.step_conductances` / ``ramp_voltages`` account for
them.

The ramp and a MAC output read through the same kind of integrator both scale with
``v_read * G``, so the comparison, and hence the code, does not depend on the applied read
voltage (Yang's ratiometric claim). ``v_read`` is the design read voltage from which the
conductances are computed; ``v_read_applied`` (default: the same) is what the row drivers
actually apply, which models read-voltage drift.

Default timing: T = 50 ns with a short read window t_read = 10 ns (and c_int = 1.25 pF, which
gives the same conductances as 20 ns with 2.5 pF) leaves the comparator 39.8 ns to settle
before the end-of-step sample; a small overdrive takes it that long (see
:mod:`circuitsim.netlist.adc`).

Defaults: the device window [1 uS, 100 uS] holds the designs of sigmoid, tanh, relu and
identity at 3, 4 and 5 bits (conductances 1.38 .. 80.4 uS; each calibration device 10 uS).
Eight bits make the smallest ramp steps 8x smaller (sigmoid/tanh: 0.17 uS at the defaults),
so the conductances must be scaled up: raise ``c_int`` (:func:`fit_c_int` picks it, 8.9 pF
for sigmoid/tanh, 1:70 in conductance) or shorten ``t_read``; relu at 8 bits spans 1:256 (its
first step covers the whole negative half) and needs a wider window or a narrower negative
input range. The comparator must then resolve 0.27 mV ramp steps (at v_span 0.24 V).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from circuitsim.activations import Activation, as_activation, get_activation, tabulated
from circuitsim.netlist import deck as deckmod
from circuitsim.netlist.block import Block
from circuitsim.netlist.elements import (
    GND,
    capacitor,
    comment,
    instance,
    resistor,
    subckt,
    switch,
    switch_model,
    vcvs,
    vpwl,
)
from circuitsim.netlist.fmt import num
from circuitsim.spec import G_FLOOR, check_types, param, positive, require

#: Defaults shared by :class:`RampSpec` and :func:`design_ramp`.
V_READ = 0.2
T_READ = 10e-9
C_INT = 1.25e-12
V_LO = 0.08
V_SPAN = 0.24
N_CAL = 5
G_MIN = 1e-6
G_MAX = 1e-4

#: Reset switch of the integrators (closed: R_ON across c_int; open: R_OFF).
R_ON = 100.0
R_OFF = 1e15
INTEGRATOR = "integrator"
RAMP_COLUMN = "ramp_column"


@dataclass(frozen=True, slots=True)
class RampDesign:
    """Designed ramp column: thresholds, their voltages and the conductances realising them.

    ``thresholds`` (shape ``(2^B - 1,)``, input units) are ``x_1 .. x_{2^B-1}``;
    ``v_thresholds`` (V) are ``V_in(x_k)``, the ramp voltage after step ``k``; ``g_ramp``
    (S, ``2^B - 1`` values) and ``g_cal`` (S, ``n_cal`` values) are the device conductances.
    """

    activation: str
    bits: int
    x_min: float
    x_max: float
    v_read: float
    t_read: float
    c_int: float
    v_lo: float
    v_span: float
    thresholds: tuple[float, ...]
    v_thresholds: tuple[float, ...]
    g_ramp: tuple[float, ...]
    g_cal: tuple[float, ...]
    cal_step: tuple[int, ...] = ()  #: clock step of each calibration device (empty: all 0)

    def steps_of_cal(self) -> np.ndarray:
        """Clock step at which each calibration device is read (int, shape ``(n_cal,)``)."""
        if not self.cal_step:
            return np.zeros(len(self.g_cal), dtype=int)
        return np.asarray(self.cal_step, dtype=int)

    def step_conductances(self) -> np.ndarray:
        """Conductance read in each clock step 0 .. 2^B - 1 (S, shape ``(2^B,)``): step 0 holds
        the calibration devices read with the base, step ``k`` ramp device ``k`` plus any
        calibration device read at step ``k``."""
        charge = np.concatenate([[0.0], np.asarray(self.g_ramp, dtype=float)])
        np.add.at(charge, self.steps_of_cal(), np.asarray(self.g_cal, dtype=float))
        return charge

    def v_in(self, x: np.ndarray | float) -> np.ndarray:
        """The input map ``V_in(x)`` in volts at the design read voltage."""
        frac = (np.asarray(x, dtype=float) - self.x_min) / (self.x_max - self.x_min)
        return self.v_lo + frac * self.v_span

    def ramp_voltages(self, v_read: float | None = None) -> np.ndarray:
        """Ideal-integrator ramp after steps 0 .. 2^B - 1 from the conductances (V, shape 2^B).

        ``v_read`` is the applied read voltage (default: the design one).
        """
        scale = (self.v_read if v_read is None else v_read) * self.t_read / self.c_int
        return scale * np.cumsum(self.step_conductances())


def design_ramp(activation: Activation | str | Callable, bits: int, *,
                x_min: float | None = None, x_max: float | None = None,
                v_read: float = V_READ, t_read: float = T_READ, c_int: float = C_INT,
                v_lo: float = V_LO, v_span: float = V_SPAN, n_cal: int = N_CAL,
                g_min: float | None = G_MIN, g_max: float | None = G_MAX) -> RampDesign:
    """Design the ramp column of a ``bits``-bit ADC for ``activation``.

    ``activation`` is a built-in name, an :class:`Activation` or any monotonic non-decreasing
    callable (then ``x_min``/``x_max`` are required). A designed conductance outside
    ``[g_min, g_max]`` raises :class:`SpecError` naming the violated bound (``None`` skips it).
    """
    require(isinstance(bits, int) and 1 <= bits <= 10, "bits", bits, "must be 1 .. 10")
    require(isinstance(n_cal, int) and n_cal >= 1, "n_cal", n_cal, "must be >= 1")
    for field, value in (("v_read", v_read), ("t_read", t_read), ("c_int", c_int),
                         ("v_lo", v_lo), ("v_span", v_span)):
        require(value > 0, field, value, "must be > 0")
    act = as_activation(activation, x_min, x_max)
    xs = act.thresholds(bits)
    frac = (xs - act.x_min) / (act.x_max - act.x_min)
    v_th = v_lo + frac * v_span
    per_volt = c_int / (v_read * t_read)
    g_ramp = per_volt * np.diff(np.concatenate([[v_lo], v_th]))
    g_cal = np.full(n_cal, per_volt * v_lo / n_cal)
    design = RampDesign(act.name, bits, act.x_min, act.x_max, v_read, t_read, c_int, v_lo,
                        v_span, tuple(float(x) for x in xs), tuple(float(v) for v in v_th),
                        tuple(float(g) for g in g_ramp), tuple(float(g) for g in g_cal))
    check_window(design, g_min, g_max)
    return design


def check_window(design: RampDesign, g_min: float | None, g_max: float | None,
                 ramp: bool = True, cal: bool = True) -> None:
    """Raise :class:`SpecError` naming ``g_min``/``g_max`` if a designed device lies outside."""
    groups = ([("ramp", design.g_ramp)] if ramp else []) + ([("cal", design.g_cal)] if cal else [])
    for label, values in groups:
        for i, g in enumerate(values, start=1 if label == "ramp" else 0):
            where = (f"{label} device {i} of {design.activation!r} at {design.bits} bits: "
                     f"G = {g:.4g} S")
            hint = "(change c_int, t_read, v_read, v_lo or v_span; fit_c_int picks c_int)"
            if g_min is not None:
                require(g >= g_min, "g_min", g_min, f"{where} lies below the window {hint}")
            if g_max is not None:
                require(g <= g_max, "g_max", g_max, f"{where} lies above the window {hint}")


def fit_c_int(activation: Activation | str | Callable, bits: int, **design: float) -> float:
    """The integrator capacitance ``c_int`` (F) centring the design geometrically in
    [g_min, g_max] (conductances scale with ``c_int``; the timing stays as it is).

    Keyword arguments are those of :func:`design_ramp` (``c_int`` is ignored). Raises
    :class:`SpecError` (naming ``g_max``) if the conductance ratio exceeds the window's.
    """
    g_min = design.pop("g_min", G_MIN)
    g_max = design.pop("g_max", G_MAX)
    design.pop("c_int", None)
    unit = design_ramp(activation, bits, c_int=1.0, g_min=None, g_max=None, **design)
    values = np.concatenate([unit.g_ramp, unit.g_cal])
    lo, hi = float(values.min()), float(values.max())
    require(hi / lo <= g_max / g_min, "g_max", g_max,
            f"{unit.activation!r} at {bits} bits needs a conductance ratio {hi / lo:.4g} "
            f"but the window [g_min, g_max] spans only {g_max / g_min:.4g}")
    return math.sqrt(g_min * g_max / (lo * hi))


@dataclass(frozen=True, slots=True)
class RampSpec:
    """Ramp column of the activation ADC: activation, resolution, electrical design, timing."""

    activation: str = param("sigmoid", "activation realised by the ramp: sigmoid, tanh, "
                            "relu, identity, or table (piecewise linear through table_x/table_f)")
    table_x: tuple[float, ...] = param((), "inputs of a tabulated activation (strictly "
                                       "increasing; used when activation = table)")
    table_f: tuple[float, ...] = param((), "outputs of a tabulated activation (monotonic "
                                       "non-decreasing; used when activation = table)")
    bits: int = param(5, "ADC resolution B; the ramp has 2^B - 1 ramp memristors")
    x_min: float | None = param(None, "lower end of the input range (None: the "
                                "activation's default)")
    x_max: float | None = param(None, "upper end of the input range (None: the "
                                "activation's default)")
    v_read: float = param(V_READ, "design read voltage the conductances are computed for", "V")
    v_read_applied: float | None = param(None, "read voltage the row drivers apply "
                                         "(None: v_read); differs to model V_read drift", "V")
    period: float = param(50e-9, "clock period T of one ramp step", "s")
    t_read: float = param(T_READ, "read window of each step (area of the row pulse / "
                          "v_read)", "s")
    t_edge: float = param(0.2e-9, "rise and fall time of row pulses and of the reset", "s")
    t_reset: float = param(5e-9, "integrators are reset (c_int shorted) from 0 to t_reset", "s")
    t_start: float = param(30e-9, "start of step 0 (calibration read)", "s")
    c_int: float = param(C_INT, "integrator feedback capacitance", "F")
    opamp_gain: float = param(1e6, "DC gain of the behavioural integrator op-amp", "V/V")
    v_lo: float = param(V_LO, "ramp base after step 0 = V_in(x_min) at v_read", "V")
    v_span: float = param(V_SPAN, "V_in(x_max) - V_in(x_min) at v_read", "V")
    n_cal: int = param(N_CAL, "number of calibration memristors (read in step 0 unless "
                       "cal_step says otherwise)")
    g_min: float = param(G_MIN, "lowest programmable device conductance", "S")
    g_max: float = param(G_MAX, "highest programmable device conductance", "S")
    g_ramp: tuple[float, ...] | None = param(None, "explicit ramp conductances G_1 .. "
                                             "G_{2^B-1} replacing the design (0 = stuck OFF)",
                                             "S")
    g_cal: tuple[float, ...] | None = param(None, "explicit calibration conductances "
                                            "replacing the design (0 = stuck OFF)", "S")
    cal_step: tuple[float, ...] = param((), "clock step at which each calibration device is "
                                        "read: 0 = step 0 with the base, k = 1 .. 2^B - 1 = "
                                        "together with ramp row k (a spare standing in for a "
                                        "stuck or weak ramp device); empty: all at step 0")

    def __post_init__(self) -> None:
        check_types(self)
        self.activation_fn()
        require(1 <= self.bits <= 10, "bits", self.bits, "must be 1 .. 10")
        require(1 <= self.n_cal <= 64, "n_cal", self.n_cal, "must be 1 .. 64")
        positive(self, "v_read", "period", "t_read", "t_edge", "t_reset", "c_int",
                 "opamp_gain", "v_lo", "v_span", "g_min", "g_max")
        if self.v_read_applied is not None:
            positive(self, "v_read_applied")
        require(self.g_max > self.g_min, "g_max", self.g_max, "must be > g_min")
        require(self.t_edge < self.t_read, "t_edge", self.t_edge, "must be < t_read")
        require(self.t_read + self.t_edge < self.period, "t_read", self.t_read,
                "the read pulse (t_read + t_edge) must end within the clock period")
        require(self.t_start >= self.t_reset + self.t_edge, "t_start", self.t_start,
                "step 0 must start after the reset has ended (t_reset + t_edge)")
        n = 2**self.bits - 1
        if self.g_ramp is not None:
            require(len(self.g_ramp) == n, "g_ramp", self.g_ramp,
                    f"needs 2^bits - 1 = {n} conductances")
            require(all(g == 0 or g >= G_FLOOR for g in self.g_ramp), "g_ramp", self.g_ramp,
                    f"each must be 0 (stuck OFF) or >= {G_FLOOR:g} S")
        if self.g_cal is not None:
            require(len(self.g_cal) == self.n_cal, "g_cal", self.g_cal,
                    f"needs n_cal = {self.n_cal} conductances")
            require(all(g == 0 or g >= G_FLOOR for g in self.g_cal), "g_cal", self.g_cal,
                    f"each must be 0 (stuck OFF) or >= {G_FLOOR:g} S")
        if self.cal_step:
            require(len(self.cal_step) == self.n_cal, "cal_step", self.cal_step,
                    f"needs n_cal = {self.n_cal} steps (or none)")
            require(all(float(k).is_integer() and 0 <= k <= n for k in self.cal_step),
                    "cal_step", self.cal_step, f"each must be an integer step 0 .. {n}")
        if self.x_min is not None and self.x_max is not None:
            require(self.x_max > self.x_min, "x_max", self.x_max, "must be > x_min")
        design = self.designed()
        check_window(design, self.g_min, self.g_max, ramp=self.g_ramp is None,
                     cal=self.g_cal is None)

    def activation_fn(self) -> Activation:
        """The activation named by ``activation`` (a built-in, or the table)."""
        if self.activation == "table":
            return tabulated(self.table_x, self.table_f)
        require(not self.table_x and not self.table_f, "table_x", self.table_x,
                "is only used with activation = table")
        return get_activation(self.activation)

    @property
    def v_applied(self) -> float:
        """The read voltage the rows are actually driven with (V)."""
        return self.v_read if self.v_read_applied is None else self.v_read_applied

    @property
    def steps(self) -> int:
        """Clock steps of one conversion: step 0 (calibration) plus 2^B - 1 ramp steps."""
        return 2**self.bits

    @property
    def t_end(self) -> float:
        """End of the last ramp step (s)."""
        return self.t_start + self.steps * self.period

    def designed(self) -> RampDesign:
        """The design from the spec's fields, without the explicit overrides or window check."""
        return design_ramp(self.activation_fn(), self.bits, x_min=self.x_min,
                           x_max=self.x_max, v_read=self.v_read, t_read=self.t_read,
                           c_int=self.c_int, v_lo=self.v_lo, v_span=self.v_span,
                           n_cal=self.n_cal, g_min=None, g_max=None)


def ramp_design(spec: RampSpec) -> RampDesign:
    """The design the deck realises: :meth:`RampSpec.designed` with the explicit conductances."""
    d = spec.designed()
    g_ramp = d.g_ramp if spec.g_ramp is None else tuple(spec.g_ramp)
    g_cal = d.g_cal if spec.g_cal is None else tuple(spec.g_cal)
    cal_step = tuple(int(k) for k in spec.cal_step)
    return RampDesign(d.activation, d.bits, d.x_min, d.x_max, d.v_read, d.t_read, d.c_int,
                      d.v_lo, d.v_span, d.thresholds, d.v_thresholds, g_ramp, g_cal, cal_step)


# ---------------------------------------------------------------- private element helpers

def read_pulse(el: str, row: str, v_read: float, start: float, t_read: float,
               t_edge: float) -> str:
    """Row driver: 0 V, then a trapezoid to ``-v_read`` from ``start`` with area
    ``v_read * t_read`` (flat top ``t_read - t_edge``, edges ``t_edge``)."""
    return vpwl(el, row, GND, [(0.0, 0.0), (start, 0.0), (start + t_edge, -v_read),
                               (start + t_read, -v_read), (start + t_read + t_edge, 0.0)])


def memristor(el: str, row: str, col: str, g: float) -> list[str]:
    """A memristor at fixed conductance ``g`` (a resistor; none for a stuck-OFF ``g = 0``)."""
    if g == 0:
        return [comment(f"{el}: stuck OFF (G = 0), no element")]
    return [resistor(el, row, col, 1.0 / g)]


# ---------------------------------------------------------------- generators

def integrator_lines(spec: RampSpec) -> list[str]:
    """``.subckt integrator sum out rst``: VCVS op-amp, c_int, reset switch (rst > 0.5 V)."""
    body = [
        vcvs("Eamp", "out", GND, GND, "sum", spec.opamp_gain),
        capacitor("Cint", "sum", "out", spec.c_int),
        switch("Srst", "sum", "out", "rst", GND, "swrst"),
        switch_model("swrst", 0.5, R_ON, R_OFF),
    ]
    doc = (f"ideal integrator: gain {num(spec.opamp_gain)}, C_int {num(spec.c_int)} F, "
           "reset while v(rst) > 0.5 V")
    return subckt(INTEGRATOR, ["sum", "out", "rst"], body, doc)


def subckt_lines(spec: RampSpec) -> list[str]:
    """The ``integrator`` and ``ramp_column`` (ports ``ramp rst``) subcircuits."""
    d = ramp_design(spec)
    v = spec.v_applied
    steps = d.steps_of_cal()
    body = [instance("Xint", ["col", "ramp", "rst"], INTEGRATOR),
            comment(f"step 0 at {num(spec.t_start)} s: {int(np.sum(steps == 0))} "
                    "calibration rows")]
    for i, (g, k) in enumerate(zip(d.g_cal, steps, strict=True), start=1):
        if k:
            body.append(comment(f"calibration row {i} read at step {k} with ramp row {k}"))
        start = spec.t_start + k * spec.period
        body.append(read_pulse(f"Vcal{i}", f"rcal{i}", v, start, spec.t_read, spec.t_edge))
        body += memristor(f"Rcal{i}", f"rcal{i}", "col", g)
    body.append(comment(f"step k at t_start + k * {num(spec.period)} s: ramp row k"))
    for k, g in enumerate(d.g_ramp, start=1):
        start = spec.t_start + k * spec.period
        body.append(read_pulse(f"Vrow{k}", f"row{k}", v, start, spec.t_read, spec.t_edge))
        body += memristor(f"Rrow{k}", f"row{k}", "col", g)
    doc = f"{spec.bits}-bit {spec.activation} ramp column, {spec.n_cal} calibration rows"
    return [*integrator_lines(spec), "", *subckt(RAMP_COLUMN, ["ramp", "rst"], body, doc)]


def header(spec: RampSpec) -> list[str]:
    """Header comment lines stating the key ramp values and units."""
    d = ramp_design(spec)
    return [
        f"activation {spec.activation}, {spec.bits} bits, input range [{num(d.x_min)}, "
        f"{num(d.x_max)}], V_in(x) = {num(spec.v_lo)} V + (x - x_min)/(x_max - x_min) * "
        f"{num(spec.v_span)} V",
        f"read {num(spec.v_applied)} V (design {num(spec.v_read)} V) for t_read "
        f"{num(spec.t_read)} s per step, clock period {num(spec.period)} s, step 0 at "
        f"{num(spec.t_start)} s",
        f"integrator C_int {num(spec.c_int)} F, op-amp gain {num(spec.opamp_gain)}, reset "
        f"0 .. {num(spec.t_reset)} s",
        f"G_ramp {num(min(d.g_ramp))} .. {num(max(d.g_ramp))} S, G_cal {num(min(d.g_cal))} .. "
        f"{num(max(d.g_cal))} S ({spec.n_cal} devices), window [{num(spec.g_min)}, "
        f"{num(spec.g_max)}] S",
        *([f"calibration devices read at steps {', '.join(str(int(k)) for k in spec.cal_step)}"
           " (0: with the base)"] if any(spec.cal_step) else []),
    ]


def deck(spec: RampSpec) -> str:
    """Library deck holding the ``integrator`` and ``ramp_column`` subcircuits."""
    return deckmod.render(f"circuitsim ramp column library ({spec.activation}, {spec.bits} bits)",
                          header(spec), subckt_lines(spec))


BLOCKS = [
    Block(name="ramp", spec=RampSpec, generate=deck,
          summary="memristor-column ramp generator (integrator + calibration and ramp rows)",
          kind="block",
          examples={"default": {}, "tanh4": {"activation": "tanh", "bits": 4},
                    "spare3": {"bits": 3, "g_ramp": [1.2e-05, 1.0e-05, 0.0, 1.0e-05, 1.1e-05,
                                                     1.3e-05, 2.4e-05],
                               "g_cal": [1.25e-05, 1.25e-05, 1.25e-05, 1.25e-05, 9e-06],
                               "cal_step": [0, 0, 0, 0, 3]}}),
]
