"""Ramp-ADC activation characterization: code-vs-input tables from the simulated ramp + comparator.

For every activation ``f`` (sigmoid, tanh, relu, identity) and resolution ``B`` (3, 4, 5, 8
bits), at the nominal read voltage and at the others of ``v_reads``, with the ratiometric ramp
reference and with a fixed reference (:class:`ConversionTestbenchSpec` ``reference``), this
module measures the **code transitions** ``T_k`` (k = 1 .. 2^B - 1): the input ``x`` at which
the SPICE code changes from ``k - 1`` to ``k``. Then ``code(x) = #{k : x > T_k}`` (a
``searchsorted``) reproduces the simulated converter, and everything else follows from the
``T_k``. A Monte-Carlo study of ramp programming error and our calibration procedure completes it.

The parts: :mod:`~circuitsim.characterize.adc_configs` (configurations, decks, input draws),
:mod:`~circuitsim.characterize.adc_transitions` (how the transitions are measured),
:mod:`~circuitsim.characterize.adc_metrics` (the figures) and
:mod:`~circuitsim.characterize.adc_calibration` (programming error and calibration); this
module holds the spec, the dataset, the sweep (:func:`characterize`) and :func:`summary`.

Cost (measured, ngspice 46, one core): a 32-input deck takes 1.4 s at 3 bits, 1.9 s at 4,
3.8 s at 5 and 26 s at 8 bits (an 8-input one 0.85 s at 5 bits, 7.6 s at 8). Per nominal
configuration the ladders add ``len(rungs) + len(refine)`` decks (one rung per threshold per
deck, up to ``n_deck`` thresholds). The full default is 272 decks here plus 208 held-out decks
in :func:`circuitsim.surrogate.activation.validate`, ~2,100 CPU-s: about 19 min on 2 free cores
(measured: 23 + 9.5 min on 2 cores shared with two other sweeps). QUICK: 13 s + 11 s.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim.activations import BUILTINS
from circuitsim.characterize.adc_calibration import (
    SPARE_MIN_GAIN,
    TRIM_FRACTION,
    CalibrationPlan,
    _mc_arrays,
    _mc_calibrate,
    _mc_trials,
    _Trial,
    plan_calibration,
    program,
    program_calibration,
)
from circuitsim.characterize.adc_configs import (
    Config,
    configs,
    ramp_for,
    seeded,
    stratified,
    testbench_for,
)
from circuitsim.characterize.adc_metrics import _figures, code_shift, codes_of, inl_dnl, rmse
from circuitsim.characterize.adc_transitions import (
    BACKGROUND,
    DEFAULT_SLOPE,
    DELTA_FLOOR,
    INTERPOLATED,
    MEASURED,
    NOMINAL,
    PAD,
    PROBE,
    RUNG,
    MacMap,
    _Deck,
    _delta_estimates,
    _ladder_decks,
    _record,
    _refit,
    _State,
    _transitions,
    convert,
    delta_by_level,
    estimate_delta,
    mac_map,
    measured_thresholds,
    predicted,
)
from circuitsim.characterize.common import run_points
from circuitsim.errors import CacheError, SpecError
from circuitsim.fidelity import Check
from circuitsim.netlist.adc import sample_times
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.phases.conversion import ConversionResult
from circuitsim.phases.records import Record
from circuitsim.spec import check_types, param, require, to_mapping
from circuitsim.spice.ngspice import ngspice_version

__all__ = [
    # defined here
    "QUICK", "AdcCharSpec", "AdcDataset", "characterize", "summary",
    # the parts, re-exported (other modules and tests import them from here)
    "BACKGROUND", "DEFAULT_SLOPE", "DELTA_FLOOR", "INTERPOLATED", "MEASURED", "NOMINAL", "PAD",
    "PROBE", "RUNG", "SPARE_MIN_GAIN", "TRIM_FRACTION", "CalibrationPlan", "Config", "MacMap",
    "code_shift", "codes_of", "configs", "convert", "delta_by_level", "estimate_delta",
    "inl_dnl", "mac_map", "measured_thresholds", "plan_calibration", "predicted", "program",
    "program_calibration", "ramp_for", "rmse", "sample_times", "seeded", "stratified",
    "testbench_for",
]


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

def _run(spec: AdcCharSpec, decks: list[_Deck], *, store: Path | str | None,
         workers: int | None, scheduler: str | None, progress: bool,
         desc: str) -> list[ConversionResult]:
    if not decks:
        return []
    return run_points(convert, [d.point for d in decks], store=store, workers=workers,
                      scheduler=scheduler, progress=progress, desc=desc)


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
