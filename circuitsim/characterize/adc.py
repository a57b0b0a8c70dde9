"""Ramp-ADC activation characterization: code-vs-input tables from the simulated ramp + comparator.

For every activation ``f`` (sigmoid, tanh, relu, identity) and resolution ``B`` (3, 4, 5, 8
bits), at the nominal read voltage and at the others of ``v_reads``, with the ratiometric ramp
reference and with a fixed reference (:class:`ConversionTestbenchSpec` ``reference``), this
module measures the **code transitions** ``T_k`` (k = 1 .. 2^B - 1): the input ``x`` at which
the SPICE code changes from ``k - 1`` to ``k``. Then ``code(x) = #{k : x > T_k}`` (a
``searchsorted``) reproduces the simulated converter, and everything else follows from the
``T_k``. A Monte-Carlo study of ramp programming error and our calibration procedure completes it.

The parts, each importing only those listed before it: :mod:`~circuitsim.characterize.adc_spec`
(the spec, ``QUICK``, the ramp of a configuration), :mod:`~circuitsim.characterize.adc_configs`
(configurations, decks, input draws),
:mod:`~circuitsim.characterize.adc_transitions` (how the transitions are measured),
:mod:`~circuitsim.characterize.adc_metrics` (the figures) and
:mod:`~circuitsim.characterize.adc_calibration` (programming error and calibration); this
module holds the dataset, the sweep (:func:`characterize`) and :func:`summary`.

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

from circuitsim.characterize.adc_calibration import (
    McTrial,
    draw_mc_trials,
    mc_arrays,
    mc_calibrate,
)
from circuitsim.characterize.adc_configs import (
    Config,
    configs,
    seeded,
    stratified,
    testbench_for,
)
from circuitsim.characterize.adc_metrics import code_shift, codes_of, figures_of
from circuitsim.characterize.adc_spec import AdcCharSpec
from circuitsim.characterize.adc_transitions import (
    INTERPOLATED,
    MEASURED,
    NOMINAL,
    PROBE,
    RUNG,
    AdcDeck,
    ConfigState,
    convert,
    delta_by_level,
    delta_estimates,
    ladder_decks,
    mac_map,
    measured_thresholds,
    predicted,
    record_deck,
    refit_mac,
    transitions_of,
)
from circuitsim.characterize.common import run_points
from circuitsim.errors import CacheError, SpecError
from circuitsim.fidelity import Check
from circuitsim.phases.conversion import ConversionResult
from circuitsim.phases.records import Record
from circuitsim.spec import to_mapping
from circuitsim.spice.ngspice import ngspice_version

__all__ = ["AdcDataset", "characterize", "summary"]


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

def _run(spec: AdcCharSpec, decks: list[AdcDeck], *, store: Path | str | None,
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
    states = [ConfigState(c, sims=[]) for c in cfgs]
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
        x = stratified(seeded(spec.seed, *c.key, 0), c.act.x_min, c.act.x_max, m)
        probes.append(AdcDeck(i, testbench_for(spec, c.ramp, x, c.reference),
                            np.full(m, PROBE), np.zeros(m, dtype=int)))
        if needs_ladder(c):
            st.ks = measured_thresholds(c, spec.max_targeted)
            st.v_ramp, st.mac = predicted(c, t_int)
            ladder += ladder_decks(spec, i, st, {int(k): list(spec.rungs) for k in st.ks}, 1)
    trials = draw_mc_trials(spec)
    before = [t.before for t in trials]
    res = run(probes + ladder + before, desc="adc probes, ladders A, MC before")
    for deck, r in zip(probes, res, strict=False):
        st = states[deck.cfg]
        st.v_ramp = np.asarray(r.v_ramp)
        st.mac = mac_map(st.cfg, t_int, np.asarray(r.x), np.asarray(r.v_mac))
    for deck, r in zip(probes + ladder, res, strict=False):
        record_deck(states[deck.cfg], deck, r)
    for t, r in zip(trials, res[len(probes) + len(ladder):], strict=True):
        t.result_before = r

    # round 2: fine ladders around the round-A estimates, the calibrated Monte-Carlo decks
    ladder = []
    for i, st in enumerate(states):
        if st.ks is None:
            continue
        st.delta_a = delta_estimates(st)
        targets = {}
        for k, (d, ok) in st.delta_a.items():
            targets[k] = ([d * f for f in spec.refine] if ok
                          else [2.0 * max(spec.rungs), 1.4 * max(spec.rungs)])
        ladder += ladder_decks(spec, i, st, targets, 2)
    after = [mc_calibrate(spec, t) for t in trials]
    res = run(ladder + after, desc="adc ladders B, MC after")
    for deck, r in zip(ladder, res, strict=False):
        record_deck(states[deck.cfg], deck, r)
    for t, r in zip(trials, res[len(ladder):], strict=True):
        t.result_after = r

    return _assemble(spec, states, nominal_of, trials)


# ---------------------------------------------------------------- assembling the dataset

def _assemble(spec: AdcCharSpec, states: list[ConfigState], nominal_of: dict[tuple[str, int], int],
              trials: list[McTrial]) -> AdcDataset:
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
            est = delta_estimates(st)
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
        mac = refit_mac(st, spec.testbench.t_int)
        t = transitions_of(c, st.v_ramp, mac, delta)
        fig = figures_of(c.act, c.bits, t, spec.grid)
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
    mc = mc_arrays(spec, trials, {j: (states[j].v_ramp[np.asarray(states[j].ks) - 1],
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
