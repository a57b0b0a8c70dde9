"""Ramp-ADC activation characterization: code-vs-input tables from the simulated ramp + comparator.

For every activation ``f`` (sigmoid, tanh, relu, identity) and resolution ``B`` (3, 4, 5, 8
bits), at the nominal read voltage and at the others of ``v_reads``, with the ratiometric ramp
reference and with a fixed reference (:class:`ConversionTestbenchSpec` ``reference``), this
module measures the **code transitions** ``T_k`` (k = 1 .. 2^B - 1): the input ``x`` at which
the SPICE code changes from ``k - 1`` to ``k``. Then ``code(x) = #{k : x > T_k}`` (a
``searchsorted``) reproduces the simulated converter, and everything else follows from the
``T_k``. A Monte-Carlo study of ramp programming error and our calibration procedure completes it.

How the transitions are measured without a dense sweep [ours]
------------------------------------------------------------
In the conversion testbench the counter samples comparator ``i`` at the end of every ramp
step ``k`` (``t_s(k)``, :func:`circuitsim.netlist.adc.sample_times`); input ``i`` reaches code
``k`` exactly when its comparator has not fallen by ``t_s(k)``. Three things decide that, and
each is extracted from few simulations:

1. **The ramp levels** ``V_r(k)`` at ``t_s(k)``: identical in every deck of a configuration (the
   ramp column is driven by its own integrator), read from any run (``result.v_ramp``).
2. **The MAC voltage at the decision**, ``V_mac(x, t) = (a + b·x)·exp(-λ(x)·(t - t_start))``:
   the held MAC voltage is affine in ``x`` (``a``, ``b`` fitted on every simulated input of the
   configuration; residual ~0.03 µV), and it droops because the integrator's finite op-amp gain
   ``A`` leaks the charge through the input memristor, ``λ(x) = G_x(x) / ((A + 1)·c_int)``
   (exact for the behavioural integrator; checked against the waveform to < 0.001 µV). The
   droop is ~15 µV over a 5-bit conversion but ~300 µV (about one 8-bit LSB) over an 8-bit one.
3. **The comparator's effective overdrive** ``δ_k``: the input is counted above threshold ``k``
   only if ``V_mac < V_r(k) - δ_k`` flips the comparator before ``t_s(k)``; small overdrives
   take long (stage 1 slews with ``gm·overdrive``). ``δ_k`` is 3 .. 50 µV, smooth in ``k``.
   It is measured with a **ladder**: inputs placed (through 2.) at effective overdrives
   ``od = V_r(k) - V_mac(x, t_s(k))`` of ``rungs`` (coarse, round A), then at ``refine`` ×
   the coarse estimate (round B). Inputs that fall before ``t_s(k)`` (code ``k - 1``) do so at
   ``t_flip - t_s(k)`` linear in ``ln(od)`` (measured: within 0.3 ns over a factor 4); the
   zero of the line through the two closest such rungs, clamped into the bracket left by the
   rungs that did not fall (code ``k``), is ``δ_k``. At most ``max_targeted`` thresholds per
   configuration get a ladder (all up to 5 bits); ``δ_k`` of the others is interpolated
   linearly in the ramp level ``V_r(k)``, on which it mostly depends (the comparator slows
   as the common mode rises: ~10 µV at 0.14 V, ~45 µV at 0.26 V).

Then ``T_k`` solves ``V_mac(T_k, t_s(k)) = V_r(k) - δ_k``.

The comparators of a deck share one bias line (``vbp``) whose load depends on how many
comparators hang on it (BSIM4 gate tunnelling: 100 extra comparators delay the decisions by
~3.3 ns, a few µV of ``δ_k``), and comparators deciding in the same step kick each other
through it (~0.25 ns each). So every deck here, characterization and validation alike, has
exactly ``n_deck`` inputs (the array columns sharing the ramp), and a ladder deck holds one rung
of each threshold (never two rungs of one step), filled up with random background inputs.

The fixed-reference ramp is the nominal ramp (read at the design ``v_read``) and its inputs
near threshold ``k`` sit at the same voltage as the nominal ones, so its ``δ_k`` is the nominal
one; fixed-reference configurations need one probe deck each. So do off-nominal ramp-reference
configurations above ``off_nominal_ladder_bits`` bits, which take the nominal configuration's
measured ``δ`` as a function of the ramp level (:func:`delta_by_level`; marked in
``delta_source``). Checked against ladders of sigmoid at 3 and 4 bits, 0.15 and 0.25 V: within
3 µV, up to 7 µV at the extrapolated top levels at 0.25 V (reusing ``δ_k`` by code instead is
15-19 µV off, as the levels scale with the read voltage). Such a
probe deck has only ``probe_inputs`` inputs: ramp levels and MAC voltages do not depend on the
number of comparators, and an 8-bit deck costs ~0.6 s per input.

Cost (measured, ngspice 46, one core): a 32-input deck takes 1.4 s at 3 bits, 1.9 s at 4,
3.8 s at 5 and 26 s at 8 bits (an 8-input one 0.85 s at 5 bits, 7.6 s at 8). Per nominal
configuration the ladders add ``len(rungs) + len(refine)`` decks (one rung per threshold per
deck, up to ``n_deck`` thresholds). The full default is 272 decks here plus 208 held-out decks
in :func:`circuitsim.surrogate.activation.validate`, ~2,100 CPU-s: about 19 min on 2 free cores
(measured: 23 + 9.5 min on 2 cores shared with two other sweeps). QUICK: 13 s + 11 s.

Figures (per configuration, from the transitions)
-------------------------------------------------
With ``u(x) = (2^B - 1)·(f(x) - lo)/(hi - lo)`` the ideal code as a continuous function (the
activation's output range ``[lo, hi]``, :mod:`circuitsim.activations`), whose ideal transitions
are at ``u = k - 1/2``:

- ``INL_k = u(T_k) - (k - 1/2)`` in LSB (k = 1 .. 2^B - 1): the transition's error referred to
  the ideal transfer ``f`` (not to an end-point line), i.e. in output units. For identity this
  is the usual INL of a linear ADC.
- ``DNL_k = u(T_{k+1}) - u(T_k) - 1`` in LSB (k = 1 .. 2^B - 2): the width of code ``k`` in
  output units minus one LSB (-1: a missing code).
- RMSE vs the ideal function: ``sqrt(mean((value(code(x)) - f(x))^2))`` over ``grid`` inputs
  uniform on ``[x_min, x_max]``, ``value(c) = lo + c·(hi - lo)/(2^B - 1)``; in output units and
  in LSB (an ideal quantizer gives ~1/sqrt(12) = 0.29 LSB where ``f`` is not saturated;
  ``rmse_ideal_lsb`` is the ideal converter's figure on the same grid).
- monotonic: the transitions increase and the SPICE codes of every simulated input of the
  configuration are non-decreasing in ``x``.
- V_read robustness: the code change against the nominal configuration (rms, max, fraction of
  inputs) on the same grid, for the ramp and the fixed reference.

Ramp programming error and calibration [ours; Yang et al. 2025 use 5 calibration devices]
-----------------------------------------------------------------------------------------
Each Monte-Carlo trial programs the ramp and calibration devices of ``(f, mc_bits)`` with a
log-normal error ``G·exp(mc_sigma·ξ)``, each device stuck OFF (``G = 0``) with probability
``mc_p_stuck``, and converts ``n_deck`` inputs (before). The calibration works from what a chip
can measure: the programmed ramp's levels (``v_ramp``: the counter sampling against known
inputs) and a verify read of each calibration device. :func:`plan_calibration`, with threshold
errors ``e_j = V_r(j) - V_th(j)`` against the design thresholds weighted by the local code
width (so the objective is the sum of squared INL), (1) assigns calibration devices one by one
as spares read at step ``s`` (``RampSpec.cal_step``) with the conductance that best cancels
the errors from ``s`` on, greedily, while a spare cuts the weighted error by at least
:data:`SPARE_MIN_GAIN` (a stuck-OFF ramp device at ``s`` is the obvious candidate: the
cumulative ramp lacks its step from ``s`` on); (2) gives the remaining (base) devices, read at
step 0, the total that cancels the weighted mean offset: equal coarse devices plus a trim device
of :data:`TRIM_FRACTION` of it. :func:`program_calibration` writes them with the same
log-normal error, reading each back (write-and-verify): the spares first, then the base total
is re-centred on the spares' actual values, then the base devices in turn, each re-targeted so
the ones still to come absorb the errors of those written, the small trim device last (its own
error is a tenth of a coarse device's). Stuck calibration devices stay unused. The calibrated
ramp is simulated again (after); codes, RMSE, INL and DNL before and after are compared, the
trial's transitions coming from its own ramp levels and MAC map with the nominal configuration's
overdrive at those levels (:func:`delta_by_level`).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim.activations import BUILTINS, Activation
from circuitsim.characterize.common import run_points
from circuitsim.errors import CacheError, SimError, SpecError
from circuitsim.netlist.adc import sample_times
from circuitsim.netlist.ramp import RampDesign, RampSpec, design_ramp, fit_c_int, ramp_design
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.phases.conversion import ConversionResult, conversion_point
from circuitsim.phases.records import Record
from circuitsim.spec import G_FLOOR, check_types, param, require, to_mapping
from circuitsim.spice.ngspice import ngspice_version
from circuitsim.surrogate.fidelity import Check

#: A spare calibration device is used only if it cuts the weighted squared error by this much.
SPARE_MIN_GAIN = 0.2
#: Share of the base conductance given to the trim device (programmed last, absorbs errors).
TRIM_FRACTION = 0.1
#: Slope of ``t_flip - t_s`` vs ``ln(overdrive)`` used when only one rung fell (s per e-fold).
DEFAULT_SLOPE = -12e-9
#: Smallest overdrive an extrapolated ``δ_k`` is clamped to (V).
DELTA_FLOOR = 0.1e-6

#: Kinds of simulated inputs (``sim_kind``).
PROBE, BACKGROUND, RUNG = 0, 1, 2
#: Where ``δ_k`` came from (``delta_source``).
PAD, MEASURED, INTERPOLATED, NOMINAL = 0, 1, 2, 3


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@dataclass(frozen=True, slots=True)
class AdcCharSpec:
    """The ADC characterization: configurations, ladder design, Monte-Carlo and validation."""

    testbench: ConversionTestbenchSpec = param(
        ConversionTestbenchSpec(), "testbench template (ramp timing and electrical design, "
        "comparator, MAC read); activation, bits, read voltage, inputs, reference and "
        "programmed conductances are set per run")
    activations: str = param("sigmoid,tanh,relu,identity", "comma-separated built-in "
                             "activations to characterize")
    bits: tuple[float, ...] = param((3.0, 4.0, 5.0, 8.0), "ADC resolutions B (integers)")
    v_reads: tuple[float, ...] = param((0.15, 0.2, 0.25), "applied read voltages; must "
                                       "include the design testbench.ramp.v_read", "V")
    relu_x_min_high: float = param(-0.25, "lower input bound of relu above 5 bits (its first "
                                   "ramp step spans the negative range: at [-1, 1] and 8 bits "
                                   "it needs a 1:256 conductance ratio; below it the code is "
                                   "0 either way)")
    n_deck: int = param(32, "inputs (comparators) per deck, every deck: the array columns "
                        "sharing the ramp column and the comparator bias")
    seed: int = param(1, "seed of the probe and background inputs")
    probe_inputs: int = param(8, "inputs of the probe deck of a configuration without "
                              "ladders (only its ramp levels and MAC map are used; they do "
                              "not depend on the number of comparators)")
    rungs: tuple[float, ...] = param((90e-6, 33e-6, 12e-6), "coarse ladder "
                                     "(round A): effective overdrives below each ramp level",
                                     "V")
    refine: tuple[float, ...] = param((1.25, 0.85), "fine ladder (round B): multiples of the "
                                      "round-A estimate of the overdrive")
    max_targeted: int = param(32, "thresholds per configuration measured with a ladder "
                              "(evenly spread; the others are interpolated)")
    off_nominal_ladder_bits: int = param(4, "off-nominal ramp-reference configurations get "
                                         "ladders up to this many bits, above it they reuse "
                                         "the nominal overdrives")
    mc_activations: str = param("sigmoid,tanh", "comma-separated activations of the "
                                "programming-error Monte-Carlo (a subset of activations)")
    mc_bits: int = param(5, "resolution of the Monte-Carlo (one of bits)")
    mc_trials: int = param(8, "Monte-Carlo trials per activation (0: none)")
    mc_sigma: float = param(0.05, "log-normal programming error: sigma of ln(G / target)")
    mc_p_stuck: float = param(0.03, "probability that a programmed device is stuck OFF")
    mc_seed: int = param(11, "seed of the Monte-Carlo draws and inputs")
    val_inputs: int = param(256, "held-out SPICE inputs per configuration up to 5 bits "
                            "(rounded up to whole decks)")
    val_inputs_high: int = param(128, "held-out SPICE inputs per configuration above 5 bits "
                                 "and per off-nominal configuration")
    val_off_nominal_bits: int = param(5, "also validate off-nominal read voltages (reported, no "
                                      "bound) up to this many bits (0: nominal only)")
    val_seed: int = param(1001, "seed of the held-out validation inputs (must differ from seed)")
    grid: int = param(20001, "inputs of the uniform grid for RMSE and code-shift figures")

    def __post_init__(self) -> None:
        check_types(self)
        acts = _names(self.activations)
        require(len(acts) >= 1 and len(set(acts)) == len(acts), "activations", self.activations,
                "needs one or more distinct names")
        for a in acts:
            require(a in BUILTINS, "activations", self.activations,
                    f"{a!r} is not a built-in ({', '.join(BUILTINS)})")
        require(len(self.bits) >= 1 and len(set(self.bits)) == len(self.bits), "bits",
                self.bits, "needs one or more distinct values")
        for b in self.bits:
            require(float(b).is_integer() and 2 <= b <= 8, "bits", self.bits,
                    "each must be an integer 2 .. 8")
        require(len(set(self.v_reads)) == len(self.v_reads), "v_reads", self.v_reads,
                "must be distinct")
        require(all(v > 0 for v in self.v_reads), "v_reads", self.v_reads, "must be > 0")
        require(any(math.isclose(v, self.nominal) for v in self.v_reads), "v_reads",
                self.v_reads, f"must include the design read voltage {self.nominal!r} V")
        require(self.relu_x_min_high < 0, "relu_x_min_high", self.relu_x_min_high, "must be < 0")
        require(1 <= self.n_deck <= 256, "n_deck", self.n_deck, "must be 1 .. 256")
        require(2 <= self.probe_inputs <= 256, "probe_inputs", self.probe_inputs,
                "must be 2 .. 256")
        require(len(self.rungs) >= 2 and all(r > 0 for r in self.rungs)
                and bool(np.all(np.diff(self.rungs) < 0)), "rungs", self.rungs,
                "needs >= 2 positive, strictly decreasing overdrives")
        require(all(r > 0 for r in self.refine), "refine", self.refine, "must be > 0")
        require(self.max_targeted >= 2, "max_targeted", self.max_targeted, "must be >= 2")
        mc = _names(self.mc_activations)
        require(self.mc_trials == 0 or all(a in acts for a in mc), "mc_activations",
                self.mc_activations, "must be a subset of activations")
        require(self.mc_trials == 0 or self.mc_bits in self.bit_list(), "mc_bits", self.mc_bits,
                "must be one of bits")
        require(self.mc_trials >= 0, "mc_trials", self.mc_trials, "must be >= 0")
        require(self.mc_sigma >= 0, "mc_sigma", self.mc_sigma, "must be >= 0")
        require(0 <= self.mc_p_stuck < 1, "mc_p_stuck", self.mc_p_stuck, "must be in [0, 1)")
        for field in ("seed", "mc_seed", "val_seed"):
            require(getattr(self, field) >= 0, field, getattr(self, field), "must be >= 0")
        require(self.val_seed != self.seed, "val_seed", self.val_seed,
                "must differ from seed (held-out inputs are never fitting inputs)")
        require(self.val_inputs >= 1 and self.val_inputs_high >= 1, "val_inputs",
                self.val_inputs, "needs >= 1 (and val_inputs_high >= 1)")
        require(self.grid >= 1001, "grid", self.grid, "must be >= 1001")
        for a in acts:  # every configuration's ramp must be buildable
            for b in self.bit_list():
                ramp_for(self, a, b)

    @property
    def nominal(self) -> float:
        """The design (nominal) read voltage, V."""
        return self.testbench.ramp.v_read

    def activation_list(self) -> list[str]:
        return _names(self.activations)

    def bit_list(self) -> list[int]:
        return [int(b) for b in self.bits]

    def mc_activation_list(self) -> list[str]:
        return _names(self.mc_activations) if self.mc_trials else []


#: Overrides for tests/CI: sigmoid and tanh at 3 and 4 bits, the nominal and one off-nominal
#: read voltage (no off-nominal ladders), 16-input decks, 2 Monte-Carlo trials at 4 bits, 128
#: held-out inputs per configuration, nominal validation only.
QUICK: dict[str, Any] = {
    "activations": "sigmoid,tanh", "bits": [3, 4], "v_reads": [0.15, 0.2], "n_deck": 16,
    "off_nominal_ladder_bits": 0,
    "mc_activations": "sigmoid", "mc_bits": 4, "mc_trials": 2, "val_inputs": 128,
    "val_off_nominal_bits": 0,
}


# ---------------------------------------------------------------- configurations

@functools.lru_cache(maxsize=256)
def ramp_for(spec: AdcCharSpec, activation: str, bits: int,
             v_read: float | None = None) -> RampSpec:
    """The ramp of configuration ``(activation, bits)`` read at ``v_read`` (None: nominal).

    From the template ``spec.testbench.ramp``; ``c_int`` is the template's if the design fits
    the device window, else :func:`circuitsim.netlist.ramp.fit_c_int`'s; relu above 5 bits
    starts at ``relu_x_min_high``.
    """
    t = spec.testbench.ramp
    x_min = spec.relu_x_min_high if activation == "relu" and bits > 5 else None
    geometry = dict(v_read=t.v_read, t_read=t.t_read, v_lo=t.v_lo, v_span=t.v_span,
                    n_cal=t.n_cal)
    d = design_ramp(activation, bits, x_min=x_min, c_int=t.c_int, g_min=None, g_max=None,
                    **geometry)
    g = np.concatenate([d.g_ramp, d.g_cal])
    c_int = t.c_int
    if g.min() < t.g_min or g.max() > t.g_max:
        c_int = fit_c_int(activation, bits, x_min=x_min, g_min=t.g_min, g_max=t.g_max,
                          **geometry)
    applied = None if v_read is None or math.isclose(v_read, t.v_read) else float(v_read)
    return replace(t, activation=activation, table_x=(), table_f=(), bits=bits, x_min=x_min,
                   x_max=None, c_int=c_int, v_read_applied=applied, g_ramp=None, g_cal=None,
                   cal_step=())


def testbench_for(spec: AdcCharSpec, ramp: RampSpec, x: np.ndarray,
                  reference: str = "ramp") -> ConversionTestbenchSpec:
    """A deck of the configuration: the template testbench with ``ramp``, inputs and reference."""
    return replace(spec.testbench, ramp=ramp, x=tuple(float(v) for v in x), reference=reference)


@dataclass(frozen=True)
class Config:
    """One characterized configuration (an ADC at one read voltage and reference)."""

    activation: str
    bits: int
    v_read: float  #: applied read voltage, V
    reference: str  #: "ramp" or "fixed"
    ramp: RampSpec

    @property
    def n(self) -> int:
        return 2**self.bits - 1

    @functools.cached_property
    def act(self) -> Activation:
        return self.ramp.activation_fn().with_range(self.ramp.x_min, self.ramp.x_max)

    @functools.cached_property
    def design(self) -> RampDesign:
        return ramp_design(self.ramp)

    def label(self) -> str:
        return f"{self.activation} {self.bits}b @{self.v_read:g} V {self.reference}"


def configs(spec: AdcCharSpec) -> list[Config]:
    """Every configuration, nominal first within each (activation, bits): the ramp reference at
    every read voltage, the fixed reference at the off-nominal ones (at the nominal voltage
    both are the same circuit)."""
    out = []
    for a in spec.activation_list():
        for b in spec.bit_list():
            out.append(Config(a, b, spec.nominal, "ramp", ramp_for(spec, a, b)))
            for v in spec.v_reads:
                if math.isclose(v, spec.nominal):
                    continue
                for ref in ("ramp", "fixed"):
                    out.append(Config(a, b, float(v), ref, ramp_for(spec, a, b, v)))
    return out


def stratified(rng: np.random.Generator, x_min: float, x_max: float, n: int) -> np.ndarray:
    """``n`` random inputs, one per equal slice of ``[x_min, x_max]``, away from slice edges."""
    u = rng.uniform(0.05, 0.95, n)
    return x_min + (np.arange(n) + u) * (x_max - x_min) / n


def seeded(*key: int) -> np.random.Generator:
    """A generator seeded by a tuple of non-negative integers (a spec seed and indices)."""
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


# ---------------------------------------------------------------- the MAC map with droop

@dataclass(frozen=True, slots=True)
class MacMap:
    """``V_mac(x, t) = (offset + gain·x)·exp(-(l0 + l1·x)·(t - t0))`` (V, s)."""

    offset: float
    gain: float
    l0: float
    l1: float
    t0: float
    resid: float  #: largest |fit residual| of the held voltage, V

    def at(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return (self.offset + self.gain * x) * np.exp(-(self.l0 + self.l1 * x) * (t - self.t0))

    def droop(self, x: np.ndarray, v0: np.ndarray, t: np.ndarray) -> np.ndarray:
        """A simulated held voltage ``v0`` of input ``x`` at time ``t``."""
        x = np.asarray(x, dtype=float)
        return np.asarray(v0) * np.exp(-(self.l0 + self.l1 * x) * (t - self.t0))

    def solve(self, v: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The input ``x`` with ``V_mac(x, t) = v`` (Newton from the droop-free solution)."""
        v, t = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(t, dtype=float))
        x = (v - self.offset) / self.gain
        tau = t - self.t0
        for _ in range(6):
            e = np.exp(-(self.l0 + self.l1 * x) * tau)
            y = (self.offset + self.gain * x) * e
            dy = e * (self.gain - (self.offset + self.gain * x) * self.l1 * tau)
            x = x - (y - v) / dy
        return x


def _droop(cfg: Config, t_int: float) -> tuple[float, float]:
    """``λ(x) = l0 + l1·x`` (1/s): ``G_x(x) / ((A + 1)·c_int)``, ``G_x = c_int·V_in(x) /
    (v_read·t_int)`` (the design read voltage: the input conductances do not change)."""
    r, d = cfg.ramp, cfg.design
    k = 1.0 / (r.v_read * t_int * (r.opamp_gain + 1.0))
    slope = d.v_span / (d.x_max - d.x_min)
    return k * (d.v_lo - slope * d.x_min), k * slope


def mac_map(cfg: Config, t_int: float, x: np.ndarray, v0: np.ndarray) -> MacMap:
    """Fit the held MAC voltage ``v0`` (at ``t_start``) of inputs ``x`` (affine) and add the
    droop of the circuit (:func:`_droop`)."""
    gain, offset = np.polyfit(x, v0, 1)
    resid = float(np.max(np.abs(v0 - (offset + gain * x))))
    return MacMap(float(offset), float(gain), *_droop(cfg, t_int), cfg.ramp.t_start, resid)


def predicted(cfg: Config, t_int: float) -> tuple[np.ndarray, MacMap]:
    """Ramp levels at the samples and MAC map expected from the design (used only to place the
    coarse ladder; everything measured comes from the simulations): ideal increments, and the
    finite-gain leak of the integrators through their idle devices."""
    r, d = cfg.ramp, cfg.design
    v_ramp_read = r.v_read if cfg.reference == "fixed" else r.v_applied
    inc = d.step_conductances() * v_ramp_read * r.t_read / r.c_int
    g_all = float(np.sum(d.g_ramp) + np.sum(d.g_cal))
    leak = math.exp(-g_all * r.period / ((r.opamp_gain + 1.0) * r.c_int))
    v = np.empty(inc.size)
    acc = 0.0
    for k, step in enumerate(inc):  # the step's charge, then a period of leak
        acc = (acc + step) * leak
        v[k] = acc
    scale = r.v_applied / r.v_read
    gain = d.v_span / (d.x_max - d.x_min) * scale
    offset = d.v_lo * scale - gain * d.x_min
    return v[1:], MacMap(offset, gain, *_droop(cfg, t_int), r.t_start, float("nan"))


# ---------------------------------------------------------------- comparator overdrive

def estimate_delta(od: np.ndarray, code: np.ndarray, trel: np.ndarray, k: int,
                   slope: float = DEFAULT_SLOPE) -> tuple[float, bool]:
    """The comparator's effective overdrive ``δ_k`` from ladder rungs of threshold ``k``.

    ``od``: effective overdrives (V), ``code``: SPICE codes, ``trel``: ``t_flip - t_s(k)`` (s).
    Rungs with code ``k - 1`` fell before the sample (left of the transition) at a ``trel``
    linear in ``ln(od)``: the line through the left rungs within a factor 4 of the closest
    one (its own slope if they span >= 0.25 in ``ln(od)``, else ``slope``), anchored at the
    closest one, crosses zero at ``ln(δ_k)``; the result is kept inside the bracket left by
    the rungs that did not fall (code ``k``). Returns ``(δ_k, resolved)``; unresolved (no rung
    fell) gives ``2 × max(od)`` as a guess.
    """
    od, code, trel = (np.asarray(a, dtype=float) for a in (od, code, trel))
    left = (code == k - 1) & np.isfinite(trel) & (trel < 0) & (od > 0)
    right = (code >= k) & (od > 0)
    if not left.any():
        return float(2.0 * od.max()), False
    z, y = np.log(od[left]), trel[left]
    i0 = int(np.argmin(z))
    near = z <= z[i0] + math.log(4.0)
    if np.ptp(z[near]) >= 0.25:
        fit = float(np.polyfit(z[near], y[near], 1)[0])
        if fit < 0:
            slope = fit
    zstar = z[i0] - y[i0] / slope
    hi = z[i0]
    if right.any():
        lo = float(np.log(od[right].max()))
        if lo < hi:
            zstar = min(max(zstar, lo + 0.01 * (hi - lo)), hi - 0.01 * (hi - lo))
            return math.exp(zstar), True
    return max(math.exp(min(zstar, hi)), DELTA_FLOOR), True


def delta_by_level(levels: np.ndarray, ref_levels: np.ndarray,
                   ref_delta: np.ndarray) -> np.ndarray:
    """Overdrives at ramp ``levels`` from measured ``(ref_levels, ref_delta)``: linear
    interpolation in the level, linear extrapolation through the three end points outside,
    floored at :data:`DELTA_FLOOR`."""
    o = np.argsort(ref_levels)
    v, d = np.asarray(ref_levels, dtype=float)[o], np.asarray(ref_delta, dtype=float)[o]
    out = np.interp(levels, v, d)
    if v.size >= 2:
        m = min(3, v.size)
        for sel, ends in ((levels < v[0], slice(0, m)), (levels > v[-1], slice(-m, None))):
            if np.any(sel):
                slope, icept = np.polyfit(v[ends], d[ends], 1)
                out[sel] = icept + slope * levels[sel]
    return np.maximum(out, DELTA_FLOOR)


def measured_thresholds(cfg: Config, limit: int) -> np.ndarray:
    """Thresholds (1 .. 2^B - 1) that get a ladder: all, or ``limit`` evenly spread."""
    if cfg.n <= limit:
        return np.arange(1, cfg.n + 1)
    return np.unique(np.round(np.linspace(1, cfg.n, limit)).astype(int))


# ---------------------------------------------------------------- figures

def inl_dnl(act: Activation, bits: int, transitions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``INL_k = u(T_k) - (k - 1/2)`` (k = 1 .. 2^B - 1) and ``DNL_k = u(T_{k+1}) - u(T_k) - 1``
    (k = 1 .. 2^B - 2), in LSB, with ``u(x) = (2^B - 1)(f(x) - lo)/(hi - lo)``."""
    lo, hi = act.bounds
    n = 2**bits - 1
    t = np.asarray(transitions, dtype=float)[:n]
    u = n * (act(t) - lo) / (hi - lo)
    return u - (np.arange(1, n + 1) - 0.5), np.diff(u) - 1.0


def codes_of(transitions: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``#{k : x > T_k}`` for every ``x`` (int array; the transitions in any order)."""
    t = np.sort(np.asarray(transitions, dtype=float))
    return np.searchsorted(t[np.isfinite(t)], np.asarray(x, dtype=float), side="left")


def rmse(act: Activation, bits: int, transitions: np.ndarray | None,
         grid: int) -> tuple[float, float]:
    """RMSE of ``value(code(x))`` vs ``f(x)`` over ``grid`` uniform inputs on the input range:
    ``(output units, LSB)``; ``transitions=None`` gives the ideal converter's."""
    lo, hi = act.bounds
    n = 2**bits - 1
    x = np.linspace(act.x_min, act.x_max, grid)
    c = act.code(x, bits) if transitions is None else codes_of(transitions, x)
    err = lo + c * (hi - lo) / n - act(x)
    out = float(np.sqrt(np.mean(err**2)))
    return out, out * n / (hi - lo)


def code_shift(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """Code change between transition sets ``a`` and ``b`` over inputs ``x``: rms, max (LSB)
    and the fraction of inputs whose code changes."""
    d = codes_of(a, x).astype(float) - codes_of(b, x)
    return float(np.sqrt(np.mean(d**2))), float(np.max(np.abs(d))), float(np.mean(d != 0))


# ---------------------------------------------------------------- calibration

@dataclass(frozen=True, slots=True)
class CalibrationPlan:
    """Targets for the calibration devices: conductance (S, 0 = unused or stuck) and clock
    step (0 = base) each, and the threshold errors the plan predicts (V, per ramp step)."""

    g_cal: tuple[float, ...]
    cal_step: tuple[int, ...]
    predicted_error: np.ndarray


def _threshold_errors(design: RampDesign, v_ramp: np.ndarray) -> tuple[np.ndarray, ...]:
    """Errors ``e_j`` (V) of a measured ramp against the design thresholds, the weights
    ``1/h_j^2`` (``h_j``: local code width in V, so sums of squares are in LSB^2), the volts per
    siemens of one read ``κ`` and the step indicator matrix ``u[s-1, j-1] = (j >= s)``."""
    v_th = np.asarray(design.v_thresholds, dtype=float)
    n = v_th.size
    e = np.asarray(v_ramp, dtype=float)[:n] - v_th
    h = np.gradient(np.concatenate([[design.v_lo], v_th]))[1:]
    kappa = design.v_read * design.t_read / design.c_int
    k = np.arange(1, n + 1)
    return e, 1.0 / h**2, np.asarray(kappa), (k[None, :] >= k[:, None]).astype(float)


def _centred(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``r`` plus the offset that minimises its weighted sum of squares (last axis)."""
    return r - (r * w).sum(axis=-1, keepdims=True) / w.sum()


def plan_calibration(design: RampDesign, v_ramp: np.ndarray, g_cal_measured: Sequence[float], *,
                     g_min: float, g_max: float) -> CalibrationPlan:
    """Plan the calibration of a programmed ramp (see the module docstring).

    ``design``: the intended ramp; ``v_ramp``: the measured ramp after steps 1 .. 2^B - 1 (V)
    with every calibration device read at step 0; ``g_cal_measured``: the verify-read
    calibration conductances (0: stuck OFF, not usable). Spares are chosen greedily while one
    cuts the weighted squared error by :data:`SPARE_MIN_GAIN`; the base devices (at least one)
    share the total that cancels the weighted mean error.
    """
    e, w, kappa, u = _threshold_errors(design, v_ramp)
    g_meas = np.asarray(g_cal_measured, dtype=float)
    usable = [i for i, g in enumerate(g_meas) if g > 0]
    r = e.copy()
    spares: list[tuple[int, float]] = []
    while len(spares) < len(usable) - 1:
        cost0 = float((w * _centred(r, w) ** 2).sum())
        # weighted least squares of r + a·u_s + b over (a, b), for every step s at once
        du = u - ((u * w).sum(axis=1) / w.sum())[:, None]
        rc = r - float((r * w).sum() / w.sum())
        a = -(w * du * rc).sum(axis=1) / np.maximum((w * du**2).sum(axis=1), 1e-300)
        a = np.clip(a, kappa * g_min, kappa * g_max)
        cost = (w * _centred(r[None, :] + a[:, None] * u, w) ** 2).sum(axis=1)
        s = int(np.argmin(cost))
        if not cost[s] < (1.0 - SPARE_MIN_GAIN) * cost0:
            break
        spares.append((s + 1, float(a[s] / kappa)))
        r = r + a[s] * u[s]
    base = usable[len(spares):]
    total = g_meas[usable].sum() - float((r * w).sum() / w.sum()) / kappa
    g_cal = np.zeros(g_meas.size)
    cal_step = np.zeros(g_meas.size, dtype=int)
    for i, (s, g) in zip(usable, spares, strict=False):
        g_cal[i], cal_step[i] = g, s
    g_cal[base] = _split_base(total, len(base), g_min, g_max)
    predicted = r + (g_cal[base].sum() - g_meas[usable].sum()) * kappa
    return CalibrationPlan(tuple(float(g) for g in g_cal), tuple(int(s) for s in cal_step),
                           predicted)


def _split_base(total: float, n: int, g_min: float, g_max: float) -> np.ndarray:
    """Targets of ``n`` base devices summing to ``total``: ``n - 1`` equal coarse devices and a
    trim device of :data:`TRIM_FRACTION` of the total (programmed last, absorbing the others'
    programming errors), each within ``[g_min, g_max]``."""
    if n == 1:
        return np.array([np.clip(total, g_min, g_max)])
    trim = max(TRIM_FRACTION * total, 2.0 * g_min)
    coarse = np.clip((total - trim) / (n - 1), g_min, g_max)
    return np.array([*[coarse] * (n - 1), np.clip(total - coarse * (n - 1), g_min, g_max)])


def program_calibration(design: RampDesign, v_ramp: np.ndarray,
                        g_cal_measured: Sequence[float], plan: CalibrationPlan,
                        rng: np.random.Generator, sigma: float, *, g_min: float,
                        g_max: float) -> np.ndarray:
    """Program the plan with write-and-verify: every programmed device lands at
    ``target·exp(sigma·ξ)`` and is read back; the spares first, then the base total is
    re-centred on the spares' actual values, then the base devices one by one, each re-targeted
    so the devices still to come absorb the error of those already written (the last one is the
    trim device). Stuck devices stay at 0. Returns the programmed conductances (S)."""
    e, w, kappa, u = _threshold_errors(design, v_ramp)
    g_meas = np.asarray(g_cal_measured, dtype=float)
    target = np.asarray(plan.g_cal, dtype=float)
    steps = np.asarray(plan.cal_step, dtype=int)
    out = np.zeros(g_meas.size)
    spare = [i for i in range(g_meas.size) if g_meas[i] > 0 and steps[i] > 0]
    base = [i for i in range(g_meas.size) if g_meas[i] > 0 and steps[i] == 0]
    r = e.copy()
    for i in spare:
        out[i] = target[i] * math.exp(sigma * rng.standard_normal())
        r = r + kappa * out[i] * u[steps[i] - 1]
    remaining = g_meas[g_meas > 0].sum() - float((r * w).sum() / w.sum()) / kappa
    for j, i in enumerate(base):
        left = len(base) - j
        goal = _split_base(remaining, left, g_min, g_max)[0]
        out[i] = goal * math.exp(sigma * rng.standard_normal())
        remaining -= out[i]
    return out


def program(target: np.ndarray, rng: np.random.Generator, sigma: float,
            p_stuck: float) -> np.ndarray:
    """Programmed conductances: ``target·exp(sigma·ξ)``, each stuck OFF (0) with ``p_stuck``."""
    target = np.asarray(target, dtype=float)
    g = target * np.exp(sigma * rng.standard_normal(target.shape))
    g = np.where(g < G_FLOOR, G_FLOOR, g)
    return np.where(rng.random(target.shape) < p_stuck, 0.0, g)


# ---------------------------------------------------------------- the dataset

@dataclass(frozen=True, slots=True, eq=False)
class AdcDataset(Record):
    """The characterization. ``C`` configurations (see :func:`configs`), ``K`` = 2^max(bits) - 1
    threshold columns (NaN past a configuration's 2^B - 1), ``P`` simulated inputs, ``M``
    Monte-Carlo trials (``n_cal`` calibration devices, ``D`` = n_deck inputs each)."""

    cfg_activation: np.ndarray  #: (C,) str
    cfg_bits: np.ndarray  #: (C,) int
    cfg_v_read: np.ndarray  #: (C,) V, applied read voltage
    cfg_reference: np.ndarray  #: (C,) str, "ramp" or "fixed"
    cfg_x_min: np.ndarray  #: (C,) input range lower end
    cfg_x_max: np.ndarray  #: (C,) input range upper end
    cfg_c_int: np.ndarray  #: (C,) F, integrator capacitance of the design
    v_ramp: np.ndarray  #: (C, K) V, simulated ramp at the counter samples
    v_design: np.ndarray  #: (C, K) V, design thresholds V_in(x_k) at the ramp's read voltage
    delta: np.ndarray  #: (C, K) V, comparator effective overdrive δ_k
    delta_source: np.ndarray  #: (C, K) int: 1 measured, 2 interpolated, 3 nominal δ(level), 0 pad
    transitions: np.ndarray  #: (C, K) input at which the code goes from k-1 to k
    inl: np.ndarray  #: (C, K) LSB
    dnl: np.ndarray  #: (C, K) LSB (last column of each configuration NaN)
    mac_offset: np.ndarray  #: (C,) V, held MAC voltage at x = 0
    mac_gain: np.ndarray  #: (C,) V per input unit
    mac_resid: np.ndarray  #: (C,) V, largest residual of the affine MAC fit
    inl_max: np.ndarray  #: (C,) LSB, max |INL|
    dnl_max: np.ndarray  #: (C,) LSB, max |DNL|
    rmse: np.ndarray  #: (C,) output units, RMSE vs f on the uniform grid
    rmse_lsb: np.ndarray  #: (C,) LSB
    rmse_ideal_lsb: np.ndarray  #: (C,) LSB, the ideal converter on the same grid
    frac_ideal: np.ndarray  #: (C,) fraction of grid inputs whose code is the ideal code
    max_code_err: np.ndarray  #: (C,) LSB, max |code - ideal code| on the grid
    monotonic: np.ndarray  #: (C,) bool
    fit_match: np.ndarray  #: (C,) fraction of probe/background SPICE codes the table reproduces
    rung_match: np.ndarray  #: (C,) the same for the ladder rungs (NaN: none)
    shift_rms: np.ndarray  #: (C,) LSB, rms code change vs the nominal configuration
    shift_max: np.ndarray  #: (C,) LSB, max code change vs nominal
    shift_frac: np.ndarray  #: (C,) fraction of grid inputs whose code changes vs nominal
    sim_cfg: np.ndarray  #: (P,) int, configuration of each simulated input
    sim_kind: np.ndarray  #: (P,) int: 0 probe, 1 background, 2 ladder rung
    sim_k: np.ndarray  #: (P,) int, threshold of a rung (0 otherwise)
    sim_x: np.ndarray  #: (P,) input
    sim_code: np.ndarray  #: (P,) int, SPICE code
    sim_od: np.ndarray  #: (P,) V, effective overdrive of a rung (NaN otherwise)
    sim_trel: np.ndarray  #: (P,) s, t_flip - t_s(k) of a rung (NaN otherwise)
    mc_activation: np.ndarray  #: (M,) str
    mc_bits: int
    mc_trial: np.ndarray  #: (M,) int
    mc_g_ramp: np.ndarray  #: (M, K) S, programmed ramp devices (0: stuck OFF)
    mc_g_cal: np.ndarray  #: (M, n_cal) S, programmed calibration devices before calibration
    mc_g_cal_after: np.ndarray  #: (M, n_cal) S, re-programmed calibration devices
    mc_cal_step: np.ndarray  #: (M, n_cal) int, step each calibration device is read at after
    mc_transitions_before: np.ndarray  #: (M, K)
    mc_transitions_after: np.ndarray  #: (M, K)
    mc_rmse_before: np.ndarray  #: (M,) LSB, RMSE vs f
    mc_rmse_after: np.ndarray  #: (M,) LSB
    mc_inl_before: np.ndarray  #: (M,) LSB, max |INL|
    mc_inl_after: np.ndarray  #: (M,) LSB
    mc_dnl_before: np.ndarray  #: (M,) LSB, max |DNL|
    mc_dnl_after: np.ndarray  #: (M,) LSB
    mc_ideal_before: np.ndarray  #: (M,) fraction of grid inputs with the ideal code
    mc_ideal_after: np.ndarray  #: (M,)
    mc_x: np.ndarray  #: (M, D) inputs of the trial's decks
    mc_codes_before: np.ndarray  #: (M, D) int, SPICE codes before calibration
    mc_codes_after: np.ndarray  #: (M, D) int, SPICE codes after calibration
    mc_sim_match: np.ndarray  #: (M,) fraction of those SPICE codes (both decks) the model gives
    spec_json: str
    ngspice_version: str

    def spec(self) -> AdcCharSpec:
        from circuitsim.spec import from_mapping

        return from_mapping(AdcCharSpec, json.loads(self.spec_json))

    def index(self, activation: str, bits: int, v_read: float | None = None,
              reference: str = "ramp") -> int:
        """Row of a configuration (``v_read`` None: the nominal one); SpecError if absent."""
        v = self.spec().nominal if v_read is None else v_read
        hit = np.nonzero((self.cfg_activation == activation) & (self.cfg_bits == bits)
                         & np.isclose(self.cfg_v_read, v) & (self.cfg_reference == reference))[0]
        if hit.size != 1:
            raise SpecError(f"configuration {activation} {bits}b @{v:g} V {reference}: "
                            "not in the dataset")
        return int(hit[0])

    @classmethod
    def from_arrays(cls, arrays: Any) -> AdcDataset:
        """Rebuild and check shapes; anything inconsistent raises :class:`CacheError`."""
        try:
            ds = super(AdcDataset, cls).from_arrays(arrays)
        except (SpecError, ValueError, TypeError) as exc:
            raise CacheError(f"AdcDataset: {exc}") from None
        ds.check()
        return ds

    def check(self) -> None:
        """Raise :class:`CacheError` naming the first array with a wrong shape or type."""
        c = self.cfg_activation.shape[0] if self.cfg_activation.ndim == 1 else -1
        k = self.v_ramp.shape[1] if self.v_ramp.ndim == 2 else -1
        p = self.sim_x.shape[0] if self.sim_x.ndim == 1 else -1
        m = self.mc_trial.shape[0] if self.mc_trial.ndim == 1 else -1
        shapes = {"cfg": (c,), "ck": (c, k), "p": (p,), "m": (m,), "mk": (m, k)}
        groups = {
            "cfg": ["cfg_activation", "cfg_bits", "cfg_v_read", "cfg_reference", "cfg_x_min",
                    "cfg_x_max", "cfg_c_int", "mac_offset", "mac_gain", "mac_resid", "inl_max",
                    "dnl_max", "rmse", "rmse_lsb", "rmse_ideal_lsb", "frac_ideal",
                    "max_code_err", "monotonic", "fit_match", "rung_match", "shift_rms",
                    "shift_max", "shift_frac"],
            "ck": ["v_ramp", "v_design", "delta", "delta_source", "transitions", "inl", "dnl"],
            "p": ["sim_cfg", "sim_kind", "sim_k", "sim_x", "sim_code", "sim_od", "sim_trel"],
            "m": ["mc_activation", "mc_trial", "mc_rmse_before", "mc_rmse_after",
                  "mc_inl_before", "mc_inl_after", "mc_dnl_before", "mc_dnl_after",
                  "mc_ideal_before", "mc_ideal_after", "mc_sim_match"],
            "mk": ["mc_g_ramp", "mc_transitions_before", "mc_transitions_after"],
        }
        if min(c, k, p, m) < 0 or c == 0 or k == 0:
            raise CacheError("AdcDataset: cfg_activation, v_ramp, sim_x or mc_trial has the "
                             "wrong number of dimensions or is empty")
        for group, names in groups.items():
            for name in names:
                arr = getattr(self, name)
                if arr.shape != shapes[group]:
                    raise CacheError(f"AdcDataset.{name}: shape {arr.shape}, expected "
                                     f"{shapes[group]}")
        for name in ("cfg_activation", "cfg_reference", "mc_activation"):
            if getattr(self, name).dtype.kind != "U":
                raise CacheError(f"AdcDataset.{name}: expected strings")
        for name in ("cfg_bits", "delta_source", "sim_cfg", "sim_kind", "sim_k", "sim_code",
                     "mc_trial", "mc_cal_step", "mc_codes_before", "mc_codes_after"):
            if getattr(self, name).dtype.kind not in "iu":
                raise CacheError(f"AdcDataset.{name}: expected integers")
        if self.monotonic.dtype.kind != "b":
            raise CacheError("AdcDataset.monotonic: expected booleans")
        for name in ("mc_g_cal", "mc_g_cal_after", "mc_cal_step", "mc_x", "mc_codes_before",
                     "mc_codes_after"):
            arr = getattr(self, name)
            if arr.ndim != 2 or arr.shape[0] != m:
                raise CacheError(f"AdcDataset.{name}: shape {arr.shape}, expected ({m}, ...)")
        if np.any((self.sim_cfg < 0) | (self.sim_cfg >= c)):
            raise CacheError("AdcDataset.sim_cfg: configuration index out of range")
        for i in range(c):
            n = 2 ** int(self.cfg_bits[i]) - 1
            t = self.transitions[i]
            if n > k or not np.all(np.isfinite(t[:n])) or np.any(np.isfinite(t[n:])):
                raise CacheError(f"AdcDataset.transitions: row {i} ({self.cfg_activation[i]} "
                                 f"{self.cfg_bits[i]}b) needs {n} finite values then NaN")
        try:
            self.spec()
        except (SpecError, ValueError, TypeError) as exc:
            raise CacheError(f"AdcDataset.spec_json: {exc}") from None


# ---------------------------------------------------------------- the sweep

@dataclass
class _Deck:
    """A deck to run and what each of its inputs is for."""

    cfg: int
    point: ConversionTestbenchSpec
    kind: np.ndarray  #: (inputs,) int: PROBE, BACKGROUND or RUNG
    k: np.ndarray  #: (inputs,) int, threshold of a rung (0 otherwise)


@dataclass
class _State:
    """Per-configuration data gathered over the rounds."""

    cfg: Config
    v_ramp: np.ndarray | None = None
    mac: MacMap | None = None
    ks: np.ndarray | None = None
    delta_a: dict[int, tuple[float, bool]] | None = None
    sims: list[tuple[np.ndarray, ...]] | None = None


def _fill(spec: AdcCharSpec, cfg: Config, x: np.ndarray, kind: np.ndarray, k: np.ndarray,
          rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Split inputs into decks of ``n_deck``, the last filled with background inputs."""
    out = []
    n = spec.n_deck
    act = cfg.act
    for start in range(0, len(x), n):
        xs, ks_, kd = x[start:start + n], k[start:start + n], kind[start:start + n]
        pad = n - len(xs)
        if pad:
            xs = np.concatenate([xs, rng.uniform(act.x_min, act.x_max, pad)])
            ks_ = np.concatenate([ks_, np.zeros(pad, dtype=int)])
            kd = np.concatenate([kd, np.full(pad, BACKGROUND)])
        out.append((xs, kd, ks_))
    return out


def convert(point: ConversionTestbenchSpec) -> ConversionResult:
    """:func:`~circuitsim.phases.conversion.conversion_point`, robust to a recovered pivot.

    ngspice sometimes warns "singular matrix" at one time step of a conversion deck (seen at a
    comparator's internal BSIM4 body node), recovers by reordering and finishes the transient,
    but the runner treats the warning as a failure. Such a deck is simulated again with its
    inputs in reverse order, then rotated by half (the same circuit, numbered differently), and
    the result is given back in the original order.
    """
    orders = [np.arange(len(point.x)), np.arange(len(point.x))[::-1],
              np.roll(np.arange(len(point.x)), len(point.x) // 2)]
    for attempt, order in enumerate(orders):
        try:
            res = conversion_point(replace(point, x=tuple(point.x[i] for i in order)))
        except SimError as exc:
            if "singular matrix" not in str(exc) or attempt == len(orders) - 1:
                raise
            continue
        if attempt == 0:
            return res
        back = np.argsort(order)
        per_input = {f: getattr(res, f)[back] for f in
                     ("x", "codes", "ideal_codes", "t_flip", "v_mac", "v_mac_ideal",
                      "energy_mac_inputs")}
        return replace(res, **per_input, spec_json=json.dumps(to_mapping(point)))
    raise AssertionError("unreachable")


convert.decks = conversion_point.decks  # type: ignore[attr-defined]


def _run(spec: AdcCharSpec, decks: list[_Deck], *, store: Path | str | None,
         workers: int | None, scheduler: str | None, progress: bool,
         desc: str) -> list[ConversionResult]:
    if not decks:
        return []
    return run_points(convert, [d.point for d in decks], store=store, workers=workers,
                      scheduler=scheduler, progress=progress, desc=desc)


def _record(st: _State, deck: _Deck, res: ConversionResult) -> None:
    """Keep a deck's inputs: (kind, k, x, v_mac0, code, od, trel)."""
    cfg = st.cfg
    ts = sample_times(cfg.ramp)
    od = np.full(len(res.x), np.nan)
    trel = np.full(len(res.x), np.nan)
    rung = deck.kind == RUNG
    if rung.any():
        kk = deck.k[rung]
        t = ts[kk - 1]
        od[rung] = st.v_ramp[kk - 1] - st.mac.droop(res.x[rung], res.v_mac[rung], t)
        trel[rung] = res.t_flip[rung] - t
    st.sims.append((deck.kind, deck.k, np.asarray(res.x), np.asarray(res.v_mac),
                    np.asarray(res.codes), od, trel))


def _ladder_decks(spec: AdcCharSpec, i: int, st: _State, targets: dict[int, list[float]],
                  round_id: int) -> list[_Deck]:
    """Decks of one rung per threshold: rung ``j`` of every threshold in deck ``j``."""
    cfg = st.cfg
    ts = sample_times(cfg.ramp)
    width = max((len(v) for v in targets.values()), default=0)
    decks = []
    for j in range(width):
        ks = np.array([k for k, v in targets.items() if j < len(v)], dtype=int)
        ods = np.array([targets[k][j] for k in ks])
        x = st.mac.solve(st.v_ramp[ks - 1] - ods, ts[ks - 1])
        rng = seeded(spec.seed, i, round_id, j)
        for xs, kd, kk in _fill(spec, cfg, x, np.full(len(x), RUNG), ks, rng):
            decks.append(_Deck(i, testbench_for(spec, cfg.ramp, xs, cfg.reference), kd, kk))
    return decks


def _delta_estimates(st: _State) -> dict[int, tuple[float, bool]]:
    kind = np.concatenate([s[0] for s in st.sims])
    k = np.concatenate([s[1] for s in st.sims])
    code = np.concatenate([s[4] for s in st.sims])
    od = np.concatenate([s[5] for s in st.sims])
    trel = np.concatenate([s[6] for s in st.sims])
    slopes = []
    for kk in st.ks:  # the configuration's typical slope, for thresholds with one left rung
        left = ((kind == RUNG) & (k == kk) & (code == kk - 1) & np.isfinite(trel)
                & (trel < 0) & (od > 0))
        z = np.log(od[left])
        if left.sum() >= 2 and np.ptp(z) >= 0.25:
            fit = float(np.polyfit(z, trel[left], 1)[0])
            if fit < 0:
                slopes.append(fit)
    slope = float(np.median(slopes)) if slopes else DEFAULT_SLOPE
    out = {}
    for kk in st.ks:
        sel = (kind == RUNG) & (k == kk)
        out[int(kk)] = estimate_delta(od[sel], code[sel], trel[sel], int(kk), slope)
    return out


def _transitions(cfg: Config, v_ramp: np.ndarray, mac: MacMap, delta: np.ndarray) -> np.ndarray:
    ts = sample_times(cfg.ramp)
    return mac.solve(v_ramp - delta, ts)


def _figures(act: Activation, bits: int, t: np.ndarray, grid: int) -> dict[str, Any]:
    inl, dnl = inl_dnl(act, bits, t)
    rm, rm_lsb = rmse(act, bits, t, grid)
    x = np.linspace(act.x_min, act.x_max, grid)
    c, ideal = codes_of(t, x), act.code(x, bits)
    return {"inl": inl, "dnl": dnl, "rmse": rm, "rmse_lsb": rm_lsb,
            "rmse_ideal_lsb": rmse(act, bits, None, grid)[1],
            "frac_ideal": float(np.mean(c == ideal)),
            "max_code_err": float(np.max(np.abs(c - ideal)))}


def characterize(spec: AdcCharSpec, *, store: Path | str | None = None,
                 workers: int | None = None, scheduler: str | None = None,
                 progress: bool = True) -> AdcDataset:
    """Run the characterization: round 1 the probe decks, coarse ladders (placed from the
    design) and Monte-Carlo "before" decks; round 2 the fine ladders and the calibrated
    Monte-Carlo decks (see the module docstring). Pure numpy afterwards."""
    cfgs = configs(spec)
    states = [_State(c, sims=[]) for c in cfgs]
    nominal_of = {}
    for i, c in enumerate(cfgs):
        if c.reference == "ramp" and math.isclose(c.v_read, spec.nominal):
            nominal_of[(c.activation, c.bits)] = i
    run = functools.partial(_run, spec, store=store, workers=workers, scheduler=scheduler,
                            progress=progress)

    def needs_ladder(c: Config) -> bool:
        return c.reference == "ramp" and (math.isclose(c.v_read, spec.nominal)
                                          or c.bits <= spec.off_nominal_ladder_bits)

    # round 1: a probe deck per configuration, the coarse ladders (placed from the design:
    # their overdrives are measured afterwards) and the Monte-Carlo "before" decks
    t_int = spec.testbench.t_int
    probes, ladder = [], []
    for i, (c, st) in enumerate(zip(cfgs, states, strict=True)):
        m = spec.n_deck if needs_ladder(c) else spec.probe_inputs
        x = stratified(seeded(spec.seed, i, 0), c.act.x_min, c.act.x_max, m)
        probes.append(_Deck(i, testbench_for(spec, c.ramp, x, c.reference),
                            np.full(m, PROBE), np.zeros(m, dtype=int)))
        if needs_ladder(c):
            st.ks = measured_thresholds(c, spec.max_targeted)
            st.v_ramp, st.mac = predicted(c, t_int)
            ladder += _ladder_decks(spec, i, st, {int(k): list(spec.rungs) for k in st.ks}, 1)
    trials = _mc_trials(spec)
    before = [t.before for t in trials]
    res = run(probes + ladder + before, desc="adc probes, ladders A, MC before")
    for deck, r in zip(probes, res, strict=False):
        st = states[deck.cfg]
        st.v_ramp = np.asarray(r.v_ramp)
        st.mac = mac_map(st.cfg, t_int, np.asarray(r.x), np.asarray(r.v_mac))
    for deck, r in zip(probes + ladder, res, strict=False):
        _record(states[deck.cfg], deck, r)
    for t, r in zip(trials, res[len(probes) + len(ladder):], strict=True):
        t.result_before = r

    # round 2: fine ladders around the round-A estimates, the calibrated Monte-Carlo decks
    ladder = []
    for i, st in enumerate(states):
        if st.ks is None:
            continue
        st.delta_a = _delta_estimates(st)
        targets = {}
        for k, (d, ok) in st.delta_a.items():
            targets[k] = ([d * f for f in spec.refine] if ok
                          else [2.0 * max(spec.rungs), 1.4 * max(spec.rungs)])
        ladder += _ladder_decks(spec, i, st, targets, 2)
    after = [_mc_calibrate(spec, t) for t in trials]
    res = run(ladder + after, desc="adc ladders B, MC after")
    for deck, r in zip(ladder, res, strict=False):
        _record(states[deck.cfg], deck, r)
    for t, r in zip(trials, res[len(ladder):], strict=True):
        t.result_after = r

    return _assemble(spec, states, nominal_of, trials)


# ---------------------------------------------------------------- Monte-Carlo trials

@dataclass
class _Trial:
    activation: str
    index: int
    cfg: Config
    g_ramp: np.ndarray
    g_cal: np.ndarray
    rng: np.random.Generator
    before: _Deck
    result_before: ConversionResult | None = None
    after: _Deck | None = None
    result_after: ConversionResult | None = None
    plan: CalibrationPlan | None = None
    g_cal_after: np.ndarray | None = None


def _mc_trials(spec: AdcCharSpec) -> list[_Trial]:
    out = []
    acts = spec.activation_list()
    for a in spec.mc_activation_list():
        nom = ramp_for(spec, a, spec.mc_bits)
        d = ramp_design(nom)
        for t in range(spec.mc_trials):
            rng = seeded(spec.mc_seed, acts.index(a), t)
            g_ramp = program(np.asarray(d.g_ramp), rng, spec.mc_sigma, spec.mc_p_stuck)
            g_cal = program(np.asarray(d.g_cal), rng, spec.mc_sigma, spec.mc_p_stuck)
            ramp = replace(nom, g_ramp=tuple(g_ramp), g_cal=tuple(g_cal))
            cfg = Config(a, spec.mc_bits, spec.nominal, "ramp", ramp)
            x = stratified(rng, cfg.act.x_min, cfg.act.x_max, spec.n_deck)
            deck = _Deck(-1, testbench_for(spec, ramp, x), np.full(spec.n_deck, PROBE),
                         np.zeros(spec.n_deck, dtype=int))
            out.append(_Trial(a, t, cfg, g_ramp, g_cal, rng, deck))
    return out


def _mc_calibrate(spec: AdcCharSpec, trial: _Trial) -> _Deck:
    """Plan the calibration from the trial's measured ramp and program it (write-and-verify)."""
    r = trial.cfg.ramp
    design = ramp_design(replace(r, g_ramp=None, g_cal=None))
    v_ramp = np.asarray(trial.result_before.v_ramp)
    plan = plan_calibration(design, v_ramp, trial.g_cal, g_min=r.g_min, g_max=r.g_max)
    g = program_calibration(design, v_ramp, trial.g_cal, plan, trial.rng, spec.mc_sigma,
                            g_min=r.g_min, g_max=r.g_max)
    trial.plan, trial.g_cal_after = plan, g
    ramp = replace(r, g_cal=tuple(float(v) for v in g),
                   cal_step=tuple(float(s) for s in plan.cal_step))
    trial.after = _Deck(-1, replace(trial.before.point, ramp=ramp), trial.before.kind,
                        trial.before.k)
    return trial.after


# ---------------------------------------------------------------- assembling the dataset

def _assemble(spec: AdcCharSpec, states: list[_State], nominal_of: dict[tuple[str, int], int],
              trials: list[_Trial]) -> AdcDataset:
    cfgs = [s.cfg for s in states]
    C = len(cfgs)
    K = 2 ** max(spec.bit_list()) - 1
    nan = functools.partial(np.full, fill_value=np.nan)
    arr: dict[str, Any] = {name: nan((C, K)) for name in
                           ("v_ramp", "v_design", "delta", "transitions", "inl", "dnl")}
    arr["delta_source"] = np.zeros((C, K), dtype=int)
    per = {name: nan(C) for name in ("mac_offset", "mac_gain", "mac_resid", "inl_max",
                                     "dnl_max", "rmse", "rmse_lsb", "rmse_ideal_lsb",
                                     "frac_ideal", "max_code_err", "fit_match", "rung_match",
                                     "shift_rms", "shift_max", "shift_frac")}
    monotonic = np.zeros(C, dtype=bool)
    deltas: dict[int, np.ndarray] = {}
    sims = []
    # nominal and ladder configurations first: the others borrow their overdrives
    order = sorted(range(C), key=lambda i: states[i].ks is None)
    for i in order:
        st, c = states[i], cfgs[i]
        n = c.n
        if st.ks is not None:
            est = _delta_estimates(st)
            ks = np.array(sorted(est))
            vals = np.array([est[k][0] for k in ks])
            delta = np.interp(st.v_ramp, st.v_ramp[ks - 1], vals)  # smooth in the level
            src = np.full(n, INTERPOLATED)
            src[ks - 1] = MEASURED
        else:
            j = nominal_of[(c.activation, c.bits)]
            ref = states[j]
            m = np.asarray(ref.ks) - 1
            delta = delta_by_level(st.v_ramp, ref.v_ramp[m], deltas[j][m])
            src = np.full(n, NOMINAL)
        deltas[i] = delta
        mac = _refit(st, spec.testbench.t_int)
        t = _transitions(c, st.v_ramp, mac, delta)
        fig = _figures(c.act, c.bits, t, spec.grid)
        arr["v_ramp"][i, :n] = st.v_ramp
        scale = c.ramp.v_applied / c.ramp.v_read if c.reference == "ramp" else 1.0
        arr["v_design"][i, :n] = np.asarray(c.design.v_thresholds) * scale
        arr["delta"][i, :n] = delta
        arr["delta_source"][i, :n] = src
        arr["transitions"][i, :n] = t
        arr["inl"][i, :n] = fig["inl"]
        arr["dnl"][i, :n - 1] = fig["dnl"]
        per["mac_offset"][i], per["mac_gain"][i], per["mac_resid"][i] = \
            mac.offset, mac.gain, mac.resid
        per["inl_max"][i] = float(np.max(np.abs(fig["inl"])))
        per["dnl_max"][i] = float(np.max(np.abs(fig["dnl"]))) if n > 1 else 0.0
        for name in ("rmse", "rmse_lsb", "rmse_ideal_lsb", "frac_ideal", "max_code_err"):
            per[name][i] = fig[name]
        kind, k, x, _, code, od, trel = (np.concatenate(v) for v in zip(*st.sims, strict=True))
        pred = codes_of(t, x)
        plain = kind != RUNG
        per["fit_match"][i] = float(np.mean(pred[plain] == code[plain]))
        if (~plain).any():
            per["rung_match"][i] = float(np.mean(pred[~plain] == code[~plain]))
        o = np.argsort(x[plain], kind="stable")
        monotonic[i] = bool(np.all(np.diff(t) > 0) and np.all(np.diff(code[plain][o]) >= 0))
        sims.append((np.full(len(x), i), kind, k, x, code, od, trel))
    for i, c in enumerate(cfgs):
        j = nominal_of[(c.activation, c.bits)]
        xg = np.linspace(c.act.x_min, c.act.x_max, spec.grid)
        n = c.n
        per["shift_rms"][i], per["shift_max"][i], per["shift_frac"][i] = code_shift(
            arr["transitions"][i, :n], arr["transitions"][j, :n], xg)
    sims.sort(key=lambda s: s[0][0] if len(s[0]) else 0)
    sim = [np.concatenate(v) for v in zip(*sims, strict=True)]
    mc = _mc_arrays(spec, trials, {j: (states[j].v_ramp[np.asarray(states[j].ks) - 1],
                                      deltas[j][np.asarray(states[j].ks) - 1])
                                   for j in set(nominal_of.values())}, nominal_of, K)
    return AdcDataset(
        cfg_activation=np.array([c.activation for c in cfgs]),
        cfg_bits=np.array([c.bits for c in cfgs]),
        cfg_v_read=np.array([c.v_read for c in cfgs]),
        cfg_reference=np.array([c.reference for c in cfgs]),
        cfg_x_min=np.array([c.act.x_min for c in cfgs]),
        cfg_x_max=np.array([c.act.x_max for c in cfgs]),
        cfg_c_int=np.array([c.ramp.c_int for c in cfgs]),
        **arr, **per, monotonic=monotonic,
        sim_cfg=sim[0].astype(int), sim_kind=sim[1].astype(int), sim_k=sim[2].astype(int),
        sim_x=sim[3], sim_code=sim[4].astype(int), sim_od=sim[5], sim_trel=sim[6],
        **mc, spec_json=json.dumps(to_mapping(spec)), ngspice_version=ngspice_version())


def _refit(st: _State, t_int: float) -> MacMap:
    """The MAC map refitted on every simulated input of the configuration."""
    x = np.concatenate([s[2] for s in st.sims])
    v0 = np.concatenate([s[3] for s in st.sims])
    return mac_map(st.cfg, t_int, x, v0)


def _mc_arrays(spec: AdcCharSpec, trials: list[_Trial],
               measured: dict[int, tuple[np.ndarray, np.ndarray]],
               nominal_of: dict[tuple[str, int], int], K: int) -> dict[str, Any]:
    """Figures of the Monte-Carlo trials; ``measured[j]``: ladder levels and overdrives of
    nominal configuration ``j``."""
    M = len(trials)
    n_cal = spec.testbench.ramp.n_cal
    out: dict[str, Any] = {
        "mc_activation": np.array([t.activation for t in trials], dtype="<U16"),
        "mc_bits": int(spec.mc_bits), "mc_trial": np.array([t.index for t in trials], dtype=int),
        "mc_g_ramp": np.full((M, K), np.nan), "mc_g_cal": np.zeros((M, n_cal)),
        "mc_g_cal_after": np.zeros((M, n_cal)), "mc_cal_step": np.zeros((M, n_cal), dtype=int),
        "mc_transitions_before": np.full((M, K), np.nan),
        "mc_transitions_after": np.full((M, K), np.nan),
        "mc_x": np.zeros((M, spec.n_deck)),
        "mc_codes_before": np.zeros((M, spec.n_deck), dtype=int),
        "mc_codes_after": np.zeros((M, spec.n_deck), dtype=int),
    }
    for name in ("rmse", "inl", "dnl", "ideal"):
        for when in ("before", "after"):
            out[f"mc_{name}_{when}"] = np.full(M, np.nan)
    out["mc_sim_match"] = np.full(M, np.nan)
    for m, t in enumerate(trials):
        c = t.cfg
        n = c.n
        ref_levels, ref_delta = measured[nominal_of[(c.activation, c.bits)]]
        matches = []
        for when, r in (("before", t.result_before), ("after", t.result_after)):
            mac = mac_map(c, spec.testbench.t_int, np.asarray(r.x), np.asarray(r.v_mac))
            v_ramp = np.asarray(r.v_ramp)
            tr = _transitions(c, v_ramp, mac, delta_by_level(v_ramp, ref_levels, ref_delta))
            fig = _figures(c.act, c.bits, tr, spec.grid)
            out[f"mc_transitions_{when}"][m, :n] = tr
            out[f"mc_rmse_{when}"][m] = fig["rmse_lsb"]
            out[f"mc_inl_{when}"][m] = float(np.max(np.abs(fig["inl"])))
            out[f"mc_dnl_{when}"][m] = float(np.max(np.abs(fig["dnl"])))
            out[f"mc_ideal_{when}"][m] = fig["frac_ideal"]
            out[f"mc_codes_{when}"][m] = r.codes
            matches.append(codes_of(tr, r.x) == r.codes)
        out["mc_sim_match"][m] = float(np.mean(np.concatenate(matches)))
        out["mc_g_ramp"][m, :n] = t.g_ramp
        out["mc_g_cal"][m] = t.g_cal
        out["mc_g_cal_after"][m] = t.g_cal_after
        out["mc_cal_step"][m] = t.plan.cal_step
        out["mc_x"][m] = t.result_before.x
    return out


# ---------------------------------------------------------------- headline figures

def summary(ds: AdcDataset) -> list[Check]:
    """Per nominal configuration: max |INL|, max |DNL|, RMSE vs f, monotonicity; the code shift
    vs read voltage for the ramp and the fixed reference; the calibration's effect."""
    spec = ds.spec()
    checks = []
    for i in range(len(ds.cfg_bits)):
        if ds.cfg_reference[i] != "ramp" or not math.isclose(ds.cfg_v_read[i], spec.nominal):
            continue
        name = f"adc {ds.cfg_activation[i]} {ds.cfg_bits[i]}b"
        checks += [
            Check(f"{name} max |INL|", float(ds.inl_max[i]), "LSB"),
            Check(f"{name} max |DNL|", float(ds.dnl_max[i]), "LSB"),
            Check(f"{name} RMSE vs f", float(ds.rmse_lsb[i]), "LSB",
                  detail=f"{ds.rmse[i]:.4g} in output units; ideal converter "
                         f"{ds.rmse_ideal_lsb[i]:.3f} LSB; code = ideal for "
                         f"{100 * ds.frac_ideal[i]:.1f} % of inputs"),
            Check(f"{name} monotonic", float(ds.monotonic[i]), "", bound=1.0, sense="at_least"),
        ]
    for b in sorted(set(ds.cfg_bits.tolist())):
        for v in sorted(set(ds.cfg_v_read.tolist())):
            if math.isclose(v, spec.nominal):
                continue
            for ref in ("ramp", "fixed"):
                sel = (ds.cfg_bits == b) & np.isclose(ds.cfg_v_read, v) & \
                    (ds.cfg_reference == ref)
                if not sel.any():
                    continue
                detail = ", ".join(f"{a} {r:.3g}" for a, r in
                                   zip(ds.cfg_activation[sel], ds.shift_rms[sel], strict=True))
                checks.append(Check(
                    f"code shift {b}b @{v:g} V, {ref} reference (rms, worst activation)",
                    float(ds.shift_rms[sel].max()), "LSB",
                    detail=f"{detail}; max |shift| {ds.shift_max[sel].max():.0f} LSB, "
                           f"{100 * ds.shift_frac[sel].max():.1f} % of codes change"))
    for a in sorted(set(ds.mc_activation.tolist())):
        sel = ds.mc_activation == a
        name = f"calibration {a} {ds.mc_bits}b ({int(sel.sum())} trials)"
        stuck = int(np.sum(ds.mc_g_ramp[sel] == 0))
        checks += [
            Check(f"{name} RMSE before", float(np.mean(ds.mc_rmse_before[sel])), "LSB",
                  detail=f"mean; {stuck} stuck-OFF ramp devices in all"),
            Check(f"{name} RMSE after", float(np.mean(ds.mc_rmse_after[sel])), "LSB",
                  detail="mean"),
            Check(f"{name} max |INL| before", float(np.mean(ds.mc_inl_before[sel])), "LSB",
                  detail="mean over trials"),
            Check(f"{name} max |INL| after", float(np.mean(ds.mc_inl_after[sel])), "LSB",
                  detail="mean over trials"),
            Check(f"{name} code = ideal before", float(100 * np.mean(ds.mc_ideal_before[sel])),
                  "%"),
            Check(f"{name} code = ideal after", float(100 * np.mean(ds.mc_ideal_after[sel])),
                  "%"),
        ]
    return checks
