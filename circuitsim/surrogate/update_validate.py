"""Validation of the update surrogate against held-out SPICE runs: cells drawn with
``val_seed`` (reproduced through :meth:`~circuitsim.surrogate.update.UpdateSurrogate.cells_for`),
random pulse sequences and held-out holds, compared per pulse, open loop and over the hold."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from circuitsim.characterize.common import run_points
from circuitsim.characterize.update import UpdateCharSpec, asymmetry
from circuitsim.fidelity import Check
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.phases.update import update_point
from circuitsim.surrogate.update import CellParams, UpdateSurrogate


@dataclass(frozen=True, slots=True)
class UpdateValidation:
    """Held-out comparison. ``C`` cells (row 0 nominal), ``N`` pulses, ``K`` leakage runs
    per cell, ``H`` hold samples."""

    checks: list[Check]
    cell_dvt: np.ndarray  #: (C, 3) V, (dvt_read, dvt_up, dvt_down)
    kinds: np.ndarray  #: (C, N) +1 up, -1 down
    vc_spice: np.ndarray  #: (C, N+1) V
    g_spice: np.ndarray  #: (C, N+1) S
    dg_spice: np.ndarray  #: (C, N) S
    dg_sur: np.ndarray  #: (C, N) S, surrogate step from the SPICE V_C before each pulse
    dv_sur: np.ndarray  #: (C, N) V, surrogate V_C step from the SPICE V_C
    vc_open: np.ndarray  #: (C, N+1) V, surrogate run open loop from vc0
    g_open: np.ndarray  #: (C, N+1) S
    leak_t: np.ndarray  #: (H,) s
    leak_spice: np.ndarray  #: (C, K, H) V
    leak_sur: np.ndarray  #: (C, K, H) V
    gs_spice: np.ndarray  #: (C,) S, reference cell g_shared at vc0 (SPICE)
    gs_sur: np.ndarray  #: (C,) S


def validation_sequences(spec: UpdateCharSpec, sur: UpdateSurrogate, cells: CellParams
                         ) -> list[str]:
    """Held-out pulse strings, one per cell (``cells`` of shape (C,)): a random walk seeded
    by ``val_seed`` and the cell index that pulses towards a target V_C with probability
    ``val_bias``; the target sweeps ``val_range`` up and down (triangle, ``val_segment``
    pulses per sweep, starting at vc0 going up). Where the cell is, is judged from the
    surrogate's open-loop V_C, so asymmetric cells still walk over the whole range; this only
    chooses the inputs: validation compares with the SPICE V_C of the resulting runs."""
    n_c = cells.shape[0]
    lo, hi = spec.val_range
    phase = (spec.cell.vc0 - lo) / (hi - lo) / 2.0
    x = np.arange(spec.val_pulses) / (2.0 * spec.val_segment) + phase
    target = lo + (hi - lo) * (1.0 - np.abs(2.0 * (x % 1.0) - 1.0))
    rngs = [np.random.default_rng([spec.val_seed, i]) for i in range(n_c)]
    v = np.full(n_c, spec.cell.vc0)
    up = np.zeros((n_c, spec.val_pulses), dtype=bool)
    for k in range(spec.val_pulses):
        toward = v < target[k]
        u = np.array([r.random() for r in rngs]) < spec.val_bias
        up[:, k] = np.where(toward, u, ~u)
        v = sur.pulse(v, np.where(up[:, k], 1, -1), cells)
    return ["".join("U" if b else "D" for b in row) for row in up]


def validation_cells(spec: UpdateCharSpec) -> list[Cell3T1CSpec]:
    """The nominal cell, then ``val_cells`` cells drawn with the held-out ``val_seed``."""
    return [spec.cell, *spec.mc_cells(spec.val_cells, spec.val_seed)]


def validate(sur: UpdateSurrogate, spec: UpdateCharSpec, *, store: Path | str | None = None,
             workers: int | None = None, scheduler: str | None = None,
             progress: bool = True) -> UpdateValidation:
    """Compare the surrogate with held-out SPICE runs: cells drawn with ``val_seed`` (never
    ``mc_seed``) and random pulse sequences seeded by ``val_seed``
    (:func:`validation_sequences`), plus held-out holds from ``val_leak_v0``. The surrogate
    reproduces each SPICE cell through :meth:`UpdateSurrogate.cells_for` (the nominal cell:
    :meth:`UpdateSurrogate.nominal_cells`)."""
    cells = validation_cells(spec)
    dvt = np.array([[c.dvt_read, c.dvt_up, c.dvt_down] for c in cells])
    cp = _with_nominal_first(sur.cells_for(dvt[:, 0], dvt[:, 1], dvt[:, 2]),
                             sur.nominal_cells(1))
    seqs = validation_sequences(spec, sur, cp)
    seq_pts = [UpdateTestbenchSpec(cell=c, pulses=s, t_period=spec.t_period, t_hold=1e-6)
               for c, s in zip(cells, seqs, strict=True)]
    leak_pts = [UpdateTestbenchSpec(cell=dataclasses.replace(c, vc0=float(v)), pulses="U",
                                    t_period=spec.t_period, t_hold=spec.val_hold)
                for c in cells for v in spec.val_leak_v0]
    res = run_points(update_point, seq_pts + leak_pts, store=store, workers=workers,
                     scheduler=scheduler, progress=progress, desc="update validation")
    seq_res, leak_res = res[:len(cells)], res[len(cells):]
    kinds = np.array([r.kinds for r in seq_res])
    vc = np.array([r.vc for r in seq_res])
    g = np.array([r.g for r in seq_res])
    n_c, n_p = kinds.shape
    cols = cp[np.repeat(np.arange(n_c), n_p)].reshape(n_c, n_p)
    v_before = vc[:, :-1]
    v_after = sur.pulse(v_before, kinds, cols)
    dg_sur = sur.g(v_after, cols) - sur.g(v_before, cols)
    dg_sp = np.diff(g, axis=1)
    # open loop from the SPICE start
    v_open = np.empty_like(vc)
    v_open[:, 0] = vc[:, 0]
    for k in range(n_p):
        v_open[:, k + 1] = sur.pulse(v_open[:, k], kinds[:, k], cp)
    g_open = sur.g(v_open, cp[np.repeat(np.arange(n_c), n_p + 1)].reshape(n_c, n_p + 1))
    # leakage
    n_k = len(spec.val_leak_v0)
    t_h = np.asarray(leak_res[0].hold_times)
    l_sp = np.array([r.vc_hold for r in leak_res]).reshape(n_c, n_k, -1)
    v_start = l_sp[:, :, 0]
    lcells = cp[np.repeat(np.arange(n_c), n_k * t_h.size)].reshape(n_c, n_k, t_h.size)
    l_sur = sur.leak(np.repeat(v_start[:, :, None], t_h.size, axis=2), t_h[None, None, :],
                     lcells)
    gs_sp = np.array([r.g_shared[0] for r in seq_res])
    gs_sur = sur.g(np.full(n_c, spec.cell.vc0), cp)
    checks = _checks(spec, dg_sp, dg_sur, v_before, v_after, vc, g, v_open, g_open, l_sp,
                     l_sur, gs_sp, gs_sur, sur)
    return UpdateValidation(
        checks=checks, cell_dvt=dvt, kinds=kinds, vc_spice=vc, g_spice=g, dg_spice=dg_sp,
        dg_sur=dg_sur, dv_sur=v_after - v_before, vc_open=v_open, g_open=g_open,
        leak_t=t_h, leak_spice=l_sp, leak_sur=l_sur, gs_spice=gs_sp, gs_sur=gs_sur)


def _with_nominal_first(cp: CellParams, nom: CellParams) -> CellParams:
    """Cell 0 of the validation set is the nominal cell: use the nominal parameters."""
    fields = {}
    for f in dataclasses.fields(cp):
        a = np.array(getattr(cp, f.name))
        a[0] = getattr(nom, f.name)[0]
        fields[f.name] = a
    return CellParams(**fields)


def _checks(spec: UpdateCharSpec, dg_sp: np.ndarray, dg_sur: np.ndarray, v_before: np.ndarray,
            v_after: np.ndarray, vc: np.ndarray, g: np.ndarray, v_open: np.ndarray,
            g_open: np.ndarray,
            l_sp: np.ndarray, l_sur: np.ndarray, gs_sp: np.ndarray, gs_sur: np.ndarray,
            sur: UpdateSurrogate) -> list[Check]:
    mean_step = float(np.mean(np.abs(dg_sp)))
    err = dg_sur - dg_sp
    per_cell = np.sqrt(np.mean(err ** 2, axis=1)) / mean_step
    dv_sp = np.diff(vc, axis=1)
    dv_err = (v_after - v_before) - dv_sp
    traj = g_open - g
    span = float(np.max(g) - np.min(g))
    n_c, n_p = dg_sp.shape
    drift = np.abs(l_sp[:, :, -1] - l_sp[:, :, 0])
    l_err = l_sur - l_sp
    rng = np.random.default_rng(spec.val_seed)
    sampled = sur.sample_cells(4000, rng)
    va = np.full(4000, spec.v_asym)
    a_s = asymmetry(sur.step(va, 1, sampled), sur.step(va, -1, sampled))
    a_mc = sur.trial_asym
    return [
        Check("per-pulse dg RMS error / mean |dg|", 100 * float(np.sqrt(np.mean(err ** 2)))
              / mean_step, "%", bound=5.0,
              detail=f"{n_c} held-out cells (nominal + {n_c - 1} MC, val_seed "
                     f"{spec.val_seed}) x {n_p} mixed pulses; mean |dg| "
                     f"{1e6 * mean_step:.3g} uS; surrogate from the SPICE V_C"),
        Check("per-pulse dg RMS error, worst cell", 100 * float(per_cell.max()), "%",
              detail="per cell: RMS / the overall mean |dg|"),
        Check("per-pulse dg max |error|", 1e6 * float(np.max(np.abs(err))), "uS"),
        Check("per-pulse dV_C RMS error / mean |dV_C|", 100 * float(np.sqrt(np.mean(
            dv_err ** 2)) / np.mean(np.abs(dv_sp))), "%"),
        Check("trajectory g RMS error (open loop)", 1e6 * float(np.sqrt(np.mean(traj ** 2))),
              "uS", detail=f"= {float(np.sqrt(np.mean(traj ** 2))) / mean_step:.3g} mean "
                           f"steps, {100 * float(np.sqrt(np.mean(traj ** 2))) / span:.3g} % "
                           f"of the g span {1e6 * span:.3g} uS; max "
                           f"{1e6 * float(np.max(np.abs(traj))):.3g} uS"),
        Check("trajectory V_C RMS error (open loop)",
              1e3 * float(np.sqrt(np.mean((v_open - vc) ** 2))), "mV",
              detail=f"max {1e3 * float(np.max(np.abs(v_open - vc))):.3g} mV"),
        Check("leakage trajectory RMS error", 1e3 * float(np.sqrt(np.mean(l_err ** 2))), "mV",
              detail=f"held-out holds of {1e3 * spec.val_hold:g} ms from "
                     f"{', '.join(f'{v:g}' for v in spec.val_leak_v0)} V (+1 pulse); max "
                     f"{1e3 * float(np.max(np.abs(l_err))):.3g} mV; mean drift "
                     f"{1e3 * float(np.mean(drift)):.3g} mV"),
        Check("g_shared at vc0: RMS relative error", 100 * float(np.sqrt(np.mean(
            ((gs_sur - gs_sp) / gs_sp) ** 2))), "%",
              detail=f"reference cell at vc0 = {spec.cell.vc0:g} V"),
        Check("sampled-cell asymmetry std vs MC trials", float(np.std(a_s)), "",
              detail=f"4000 sample_cells: mean {np.mean(a_s):.3g}, std {np.std(a_s):.3g}; "
                     f"{a_mc.size} SPICE trials (fit data, not held out): mean "
                     f"{np.mean(a_mc):.3g}, std {np.std(a_mc):.3g}"),
    ]
