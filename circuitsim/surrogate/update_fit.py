"""Fitting the update surrogate (:class:`~circuitsim.surrogate.update.UpdateSurrogate`) to an
:class:`UpdateDataset`: the family pulse tables, the nominal g and leakage tables, the per-trial
parameters ``theta`` (with the residuals and the model comparison kept in ``info``), their
Monte-Carlo distribution and the regression on the threshold offsets."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq, least_squares

from circuitsim.characterize.update import UpdateDataset
from circuitsim.errors import SpecError
from circuitsim.surrogate.update import (
    FEATURES,
    G_FIT_MIN,
    G_TOP_FIT,
    MZ,
    THETA,
    V_MARGIN,
    W_MARGIN,
    CellParams,
    M,
    UpdateSurrogate,
    dedupe,
    features,
    pulse_coordinate,
)


def _golden(cost, lo: np.ndarray, hi: np.ndarray, iters: int = 40) -> np.ndarray:
    """Vectorised golden-section minimisation of ``cost(x) -> (T,)`` over ``[lo, hi]``."""
    r = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = lo.astype(float).copy(), hi.astype(float).copy()
    c, d = b - r * (b - a), a + r * (b - a)
    fc, fd = cost(c), cost(d)
    for _ in range(iters):
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = b - r * (b - a)
        d_new = a + r * (b - a)
        c, d = np.where(left, c_new, d), np.where(left, c, d_new)
        fc_new = cost(np.where(left, c, d))
        fc, fd = np.where(left, fc_new, fd), np.where(left, fc, fc_new)
    return (a + b) / 2.0


# ---------------------------------------------------------------- fit

def _grid(vdd: float, margin: float) -> tuple[float, float, np.ndarray]:
    lo, hi = -margin, vdd + margin
    return lo, hi, np.linspace(lo, hi, M)


def _family_tables(ds: UpdateDataset, v_grid: np.ndarray, up: bool) -> dict[str, np.ndarray]:
    rows = ds.fu_row if up else ds.fd_row
    v0, v1 = (ds.fu_v0, ds.fu_v1) if up else (ds.fd_v0, ds.fd_v1)
    fam = ds.family_dvt
    fwd, inv, span, mid = [], [], [], []
    v_mid = ds.spec().v_asym
    for r in range(len(fam)):
        m = rows == r
        if up:
            f, i, s = pulse_coordinate(v0[m], v1[m] - v0[m], v_grid)
        else:  # down steps are up steps of x = -V; the coordinate is made increasing in V
            f, i, s = pulse_coordinate(-v0[m], v0[m] - v1[m], -v_grid[::-1])
            f, i = 1.0 - f[::-1], -i[::-1]
        fwd.append(f)
        inv.append(i)
        span.append(s)
        order = np.argsort(v0[m])
        mid.append(abs(np.interp(v_mid, v0[m][order], (v1 - v0)[m][order])))
    kappa = -np.gradient(np.log(np.array(mid)), fam)
    return {"fwd": np.array(fwd), "inv": np.array(inv), "span": np.array(span),
            "kappa": kappa}


def _g_table(ds: UpdateDataset, w_grid: np.ndarray) -> np.ndarray:
    """Nominal g on ``w_grid``: PCHIP of ln g through the data; above the data g continues
    on the straight line fitted over its top :data:`G_TOP_FIT` (the read FET is in strong
    inversion there, g ~ linear in V_C); below it ln g continues linearly (subthreshold)."""
    v, g = dedupe(ds.nom_v, ds.nom_g, 1e-6)
    ok = g > 0
    v, g = v[ok], g[ok]
    lg = PchipInterpolator(v, np.log(g), extrapolate=False)
    out = np.exp(lg(np.clip(w_grid, v[0], v[-1])))
    top = v >= v[-1] - G_TOP_FIT
    slope, icpt = np.polyfit(v[top], g[top], 1)
    above = w_grid > v[-1]
    out[above] = g[-1] + slope * (w_grid[above] - v[-1])
    low = v <= v[0] + 0.03
    ls = np.polyfit(v[low], np.log(g[low]), 1)[0]
    below = w_grid < v[0]
    out[below] = g[0] * np.exp(ls * (w_grid[below] - v[0]))
    return out


def _leak_row(v: np.ndarray, rate: np.ndarray, w_grid: np.ndarray, row: float
              ) -> dict[str, Any]:
    """One row's rate on ``w_grid`` (constant beyond the data) and its linearising
    coordinate ``z`` (normalised to [-1, 1]) with the inverse table."""
    v, rate = dedupe(v, rate, 1e-6)
    s = np.sign(rate)
    crossings = np.flatnonzero(s[:-1] * s[1:] < 0)
    if crossings.size != 1 or rate[0] <= 0 or rate[-1] >= 0:
        raise SpecError(f"leakage data (dvt_down {row:+.3g} V): the rate must fall through "
                        f"zero exactly once (found {crossings.size} sign changes)")
    lf = PchipInterpolator(v, rate, extrapolate=False)
    i = int(crossings[0])
    v_eq = float(brentq(lambda u: float(lf(u)), v[i], v[i + 1]))
    k = float(-lf.derivative()(v_eq))
    if k <= 0:
        raise SpecError(f"leakage data (dvt_down {row:+.3g} V): equilibrium not attracting")
    table = lf(np.clip(w_grid, v[0], v[-1]))
    # ln|z| = ln|V - V_eq| + int_{V_eq}^{V} (-k/L(u) - 1/(u - V_eq)) du on a fine grid
    fine = np.linspace(w_grid[0], w_grid[-1], 16 * M + 1)
    lfine = lf(np.clip(fine, v[0], v[-1]))
    du = fine - v_eq
    h = np.full(fine.shape, np.nan)
    near = np.abs(du) < 2e-3
    h[~near] = -k / lfine[~near] - 1.0 / du[~near]
    h[near] = np.interp(fine[near], fine[~near], h[~near])
    cum = np.concatenate([[0.0], np.cumsum((h[1:] + h[:-1]) / 2 * np.diff(fine))])
    cum -= np.interp(v_eq, fine, cum)
    with np.errstate(divide="ignore"):
        z_fine = np.sign(du) * np.exp(np.log(np.abs(du)) + cum)
    z_fine = np.maximum.accumulate(np.nan_to_num(z_fine))
    scale = float(max(-z_fine[0], z_fine[-1]))
    z_fine /= scale
    z = np.interp(w_grid, fine, z_fine)
    zinv = np.interp(np.linspace(-1.0, 1.0, MZ), z_fine, fine)
    return {"table": table, "v_eq": v_eq, "k": k, "z": z, "scale": scale, "zinv": zinv}


def _leak_tables(ds: UpdateDataset, w_grid: np.ndarray) -> dict[str, np.ndarray]:
    rows = [_leak_row(ds.leak_v[ds.leak_row == r], ds.leak_rate[ds.leak_row == r], w_grid,
                      float(e)) for r, e in enumerate(ds.family_dvt)]
    return {key: np.array([r[key] for r in rows])
            for key in ("table", "v_eq", "k", "z", "scale", "zinv")}


def _fit_pulses(sur: UpdateSurrogate, trial: np.ndarray, v0: np.ndarray, v1: np.ndarray,
                up: bool, n_trials: int, family: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial effective offset (family model) or ln-scale of the nominal row
    (``family=False``); returns the parameter and the RMS residual / mean |step|."""
    col = 0 if up else 1
    step = v1 - v0
    n = np.full(v0.shape, 1 if up else -1, dtype=np.int8)
    nom = nominal_row_index(sur)

    def cells_of(p: np.ndarray) -> CellParams:
        theta = np.zeros((p.size, len(THETA)))
        if family:
            theta[:, col] = p
            c = sur._cells(theta)
        else:
            c = sur._cells(theta)
            span = sur.up_span if up else sur.dn_span
            k = (np.exp(p) / span[nom]).astype(np.float32)
            c = dataclasses.replace(c, **({"up_k": k} if up else {"dn_k": k}))
        return c[trial]

    def cost(p: np.ndarray) -> np.ndarray:
        pred = sur.pulse(v0, n, cells_of(p))
        return np.bincount(trial, (pred - v1) ** 2, minlength=n_trials)

    if family:
        lo = np.full(n_trials, sur.family_dvt[0] - 0.05)
        hi = np.full(n_trials, sur.family_dvt[-1] + 0.05)
    else:
        lo, hi = np.full(n_trials, -3.0), np.full(n_trials, 3.0)
    # coarse scan, then golden section around the best candidate
    cands = np.linspace(lo[0], hi[0], 61)
    costs = np.array([cost(np.full(n_trials, c)) for c in cands])
    best = cands[np.argmin(costs, axis=0)]
    h = cands[1] - cands[0]
    p = _golden(cost, best - h, best + h)
    cnt = np.bincount(trial, minlength=n_trials)
    mean_step = np.bincount(trial, np.abs(step), minlength=n_trials) / cnt
    resid = np.sqrt(cost(p) / cnt) / mean_step
    return p, resid


def nominal_row_index(sur: UpdateSurrogate) -> int:
    return int(np.argmin(np.abs(sur.family_dvt)))


def _fit_read(w_grid: np.ndarray, ln_g: np.ndarray, ds: UpdateDataset, n_trials: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Per-trial (c_read, ln s_read) of ``ln g = ln s + lnG(V - c)``; RMS residual in ln g.
    Also the shift-only fit's residuals (model comparison)."""
    v = np.concatenate([ds.mu_v0, ds.md_v0])
    g = np.concatenate([ds.mu_g0, ds.md_g0])
    t = np.concatenate([ds.mu_trial, ds.md_trial])
    keep = g > G_FIT_MIN
    v, lgm, t = v[keep], np.log(g[keep]), t[keep]
    cnt = np.bincount(t, minlength=n_trials)

    def model(c: np.ndarray) -> np.ndarray:
        return np.interp(v - c[t], w_grid, ln_g)

    def cost_scaled(c: np.ndarray) -> np.ndarray:
        r = lgm - model(c)
        mean = np.bincount(t, r, minlength=n_trials) / cnt
        return np.bincount(t, (r - mean[t]) ** 2, minlength=n_trials)

    def cost_shift(c: np.ndarray) -> np.ndarray:
        return np.bincount(t, (lgm - model(c)) ** 2, minlength=n_trials)

    lo, hi = np.full(n_trials, -0.25), np.full(n_trials, 0.25)
    c = _golden(cost_scaled, lo, hi, 60)
    ln_s = np.bincount(t, lgm - model(c), minlength=n_trials) / cnt
    resid = np.sqrt(cost_scaled(c) / cnt)
    c1 = _golden(cost_shift, lo, hi, 60)
    resid1 = np.sqrt(cost_shift(c1) / cnt)
    comp = {"shift+scale median": float(np.median(resid)),
            "shift+scale max": float(np.max(resid)),
            "shift-only median": float(np.median(resid1)),
            "shift-only max": float(np.max(resid1))}
    return c, ln_s, resid, comp


def _leak_flow(sur: UpdateSurrogate, row: int, v0: np.ndarray, t: np.ndarray, p: np.ndarray
               ) -> np.ndarray:
    """:meth:`UpdateSurrogate.leak` in float64 with np.interp (for fitting) for a cell on
    leakage row ``row`` with ``p = (ln r_hi, ln r_lo, s_leak)``; ``v0`` (B,), ``t`` (H,)
    -> (B, H)."""
    w_grid = np.linspace(sur.w_min, sur.w_max, M)
    z = np.interp(v0 - p[2], w_grid, sur.z_table[row])
    k = sur.leak_k[row] * np.exp(np.where(z > 0, p[0], p[1]))
    zt = z[:, None] * np.exp(-k[:, None] * t[None, :])
    return np.interp(zt, np.linspace(-1.0, 1.0, MZ), sur.zinv_table[row]) + p[2]


def _fit_leak(sur: UpdateSurrogate, ds: UpdateDataset, e_down: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Per-trial (ln r_hi, ln r_lo, s_leak) from the two hold trajectories, relative to the
    leakage row of the trial's fitted e_down; RMS residual (V). Also the nominal row with a
    single rate (ln r, s) for comparison."""
    t = ds.mc_hold_t
    e = sur.family_dvt
    rows = np.clip(np.rint((e_down - e[0]) / (e[1] - e[0])), 0, e.size - 1).astype(int)
    nom = nominal_row_index(sur)
    out, resid, resid1 = [], [], []
    for tr in range(ds.mc_dvt.shape[0]):
        vh = ds.mc_hold_v[tr]
        v0 = vh[:, 0]
        row = int(rows[tr])

        def res3(p: np.ndarray, vh=vh, v0=v0, row=row) -> np.ndarray:
            return (_leak_flow(sur, row, v0, t, p) - vh).ravel()

        def res2(p: np.ndarray, vh=vh, v0=v0) -> np.ndarray:
            return (_leak_flow(sur, nom, v0, t, np.array([p[0], p[0], p[1]])) - vh).ravel()

        s3 = least_squares(res3, np.zeros(3), bounds=([-4, -4, -0.2], [4, 4, 0.2]))
        s2 = least_squares(res2, np.zeros(2), bounds=([-4, -0.2], [4, 0.2]))
        out.append(s3.x)
        resid.append(np.sqrt(np.mean(s3.fun ** 2)))
        resid1.append(np.sqrt(np.mean(s2.fun ** 2)))
    comp = {"dvt_down rows + two rates, median V": float(np.median(resid)),
            "dvt_down rows + two rates, max V": float(np.max(resid)),
            "nominal row + one rate, median V": float(np.median(resid1)),
            "nominal row + one rate, max V": float(np.max(resid1))}
    return np.array(out), np.array(resid), comp


def _stats(x: np.ndarray) -> dict[str, float]:
    return {"median": float(np.median(x)), "p90": float(np.percentile(x, 90)),
            "max": float(np.max(x))}


def fit(ds: UpdateDataset) -> UpdateSurrogate:
    """Fit the surrogate to a characterization dataset (deterministic)."""
    spec = ds.spec()
    vdd = spec.cell.vdd
    v_min, v_max, v_grid = _grid(vdd, V_MARGIN)
    w_min, w_max, w_grid = _grid(vdd, W_MARGIN)
    up = _family_tables(ds, v_grid, True)
    dn = _family_tables(ds, v_grid, False)
    g_table = _g_table(ds, w_grid)
    lk = _leak_tables(ds, w_grid)
    n_t = ds.mc_dvt.shape[0]
    p = len(THETA)
    base = dict(
        v_min=v_min, v_max=v_max, w_min=w_min, w_max=w_max, vdd=vdd, vc0=spec.cell.vc0,
        t_period=spec.t_period,
        family_dvt=np.asarray(ds.family_dvt, dtype=float),
        up_fwd=up["fwd"], up_inv=up["inv"], up_span=up["span"], up_kappa=up["kappa"],
        dn_fwd=dn["fwd"], dn_inv=dn["inv"], dn_span=dn["span"], dn_kappa=dn["kappa"],
        g_table=g_table, leak_table=lk["table"], leak_v_eq=lk["v_eq"], leak_k=lk["k"],
        z_table=lk["z"], z_scale=lk["scale"], zinv_table=lk["zinv"],
        theta_names=np.array(THETA), theta_mean=np.zeros(p), theta_cov=np.eye(p) * 1e-6,
        reg_features=np.array(FEATURES), reg_coef=np.zeros((p, len(FEATURES))),
        reg_resid_std=np.zeros(p), trial_dvt=np.asarray(ds.mc_dvt, dtype=float),
        trial_theta=np.zeros((n_t, p)), trial_resid=np.zeros((n_t, 4)),
        trial_asym=np.asarray(ds.mc_asym, dtype=float), info_json="{}",
        spec_json=ds.spec_json)
    sur0 = UpdateSurrogate(**base)
    e_up, r_up = _fit_pulses(sur0, ds.mu_trial, ds.mu_v0, ds.mu_v1, True, n_t)
    e_dn, r_dn = _fit_pulses(sur0, ds.md_trial, ds.md_v0, ds.md_v1, False, n_t)
    _, r_up1 = _fit_pulses(sur0, ds.mu_trial, ds.mu_v0, ds.mu_v1, True, n_t, family=False)
    _, r_dn1 = _fit_pulses(sur0, ds.md_trial, ds.md_v0, ds.md_v1, False, n_t, family=False)
    c_rd, ln_s, r_g, g_comp = _fit_read(w_grid, np.log(g_table), ds, n_t)
    lk_p, r_lk, lk_comp = _fit_leak(sur0, ds, e_dn)
    theta = np.column_stack([e_up, e_dn, c_rd, ln_s, lk_p[:, 0], lk_p[:, 1], lk_p[:, 2]])
    mean = theta.mean(axis=0)
    cov = np.cov(theta, rowvar=False) if n_t > 1 else np.eye(p) * 1e-6
    feats = features(ds.mc_dvt[:, 0], ds.mc_dvt[:, 1], ds.mc_dvt[:, 2])
    n_feat = feats.shape[1] if n_t > 2 * feats.shape[1] else 4  # linear if few trials
    coef = np.zeros((p, feats.shape[1]))
    coef[:, :n_feat] = np.linalg.lstsq(feats[:, :n_feat], theta, rcond=None)[0].T
    resid_reg = theta - feats @ coef.T
    reg_std = resid_reg.std(axis=0)
    total_std = theta.std(axis=0)
    info = {
        "model": {
            "state": "V_C per cell (V)",
            "pulses": "threshold family: per-row pulse-count coordinate (Abel), nearest row "
                      "+ flow-time factor exp(-kappa (e - e_row)); k pulses = one shift",
            "g": "g = s_read * G_nom(V_C - c_read)",
            "leak": "dV/dt = r_hi|r_lo * L_row(V_C - s_leak), row = nearest e_down "
                    "(pull-down family), exact flow via the row's z(V)",
            "cells": "theta ~ N(mean, cov) (sample_cells); theta = quadratic regression of "
                     "(dvt_read, dvt_up, dvt_down) (cells_for)",
            "g_shared": f"reference cell = an ordinary cell at vc0 = {spec.cell.vc0} V, "
                        "changed only by leak(); weight part g(vc) - g(vc_ref)",
        },
        "family_rows": int(len(ds.family_dvt)),
        "trials": int(n_t),
        "regression_terms": int(n_feat),
        "per_trial_residuals": {
            "up step (RMS / mean |step|)": _stats(r_up),
            "down step (RMS / mean |step|)": _stats(r_dn),
            "ln g (RMS)": _stats(r_g),
            "leak trajectory (RMS, V)": _stats(r_lk),
        },
        "model_comparison": {
            "up step: threshold family": _stats(r_up),
            "up step: scaled nominal curve": _stats(r_up1),
            "down step: threshold family": _stats(r_dn),
            "down step: scaled nominal curve": _stats(r_dn1),
            "read FET (ln g RMS)": g_comp,
            "leak (trajectory RMS)": lk_comp,
        },
        "regression": {name: {"resid_std": float(reg_std[i]), "theta_std": float(total_std[i]),
                              "r2": float(1 - reg_std[i] ** 2 / max(total_std[i] ** 2, 1e-300))}
                       for i, name in enumerate(THETA)},
        "theta_mean": dict(zip(THETA, map(float, mean), strict=True)),
        "theta_std": dict(zip(THETA, map(float, np.sqrt(np.diag(cov))), strict=True)),
        "leak_equilibrium_V": {f"{e:+.3f}": float(v)
                               for e, v in zip(ds.family_dvt, lk["v_eq"], strict=True)},
        "leak_k_per_s": {f"{e:+.3f}": float(v)
                         for e, v in zip(ds.family_dvt, lk["k"], strict=True)},
        "dataset_ngspice": ds.ngspice_version,
    }
    return UpdateSurrogate(**{
        **base, "theta_mean": mean, "theta_cov": cov, "reg_coef": coef,
        "reg_resid_std": reg_std, "trial_theta": theta,
        "trial_resid": np.column_stack([r_up, r_dn, r_g, r_lk]),
        "info_json": json.dumps(info)})
