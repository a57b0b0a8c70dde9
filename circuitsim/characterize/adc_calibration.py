"""Ramp programming error and its calibration: the calibration procedure and the Monte-Carlo
trials of :func:`circuitsim.characterize.adc.characterize`.

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

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from circuitsim.characterize.adc_configs import Config, seeded, stratified, testbench_for
from circuitsim.characterize.adc_metrics import codes_of, figures_of
from circuitsim.characterize.adc_spec import AdcCharSpec, ramp_for
from circuitsim.characterize.adc_transitions import (
    PROBE,
    AdcDeck,
    delta_by_level,
    mac_map,
    transitions_of,
)
from circuitsim.netlist.ramp import RampDesign, ramp_design
from circuitsim.phases.conversion import ConversionResult
from circuitsim.spec import G_FLOOR

#: A spare calibration device is used only if it cuts the weighted squared error by this much.
SPARE_MIN_GAIN = 0.2
#: Share of the base conductance given to the trim device (programmed last, absorbs errors).
TRIM_FRACTION = 0.1


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


# ---------------------------------------------------------------- Monte-Carlo trials

@dataclass
class McTrial:
    activation: str
    index: int
    cfg: Config
    g_ramp: np.ndarray
    g_cal: np.ndarray
    rng: np.random.Generator
    before: AdcDeck
    result_before: ConversionResult | None = None
    after: AdcDeck | None = None
    result_after: ConversionResult | None = None
    plan: CalibrationPlan | None = None
    g_cal_after: np.ndarray | None = None


def draw_mc_trials(spec: AdcCharSpec) -> list[McTrial]:
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
            deck = AdcDeck(-1, testbench_for(spec, ramp, x), np.full(spec.n_deck, PROBE),
                         np.zeros(spec.n_deck, dtype=int))
            out.append(McTrial(a, t, cfg, g_ramp, g_cal, rng, deck))
    return out


def mc_calibrate(spec: AdcCharSpec, trial: McTrial) -> AdcDeck:
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
    trial.after = AdcDeck(-1, replace(trial.before.point, ramp=ramp), trial.before.kind,
                        trial.before.k)
    return trial.after


def mc_arrays(spec: AdcCharSpec, trials: list[McTrial],
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
            tr = transitions_of(c, v_ramp, mac, delta_by_level(v_ramp, ref_levels, ref_delta))
            fig = figures_of(c.act, c.bits, tr, spec.grid)
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
