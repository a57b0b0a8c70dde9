"""Update surrogate of the 3T1C cell: V_C step per up/down pulse, g(V_C) and hold leakage,
per cell, with cell-to-cell parameters from the fitted Monte-Carlo distribution.

State: V_C per cell (V). Model, fitted from :class:`UpdateDataset` (numpy/scipy only):

- **Pulses** (chosen model: *threshold family*). A pulse moves V_C by the charge the pull
  device delivers, ``C dV/dt = I_pull(V_C)`` for the pulse duration, so a cell whose pull
  device is stronger by a factor ``a`` is the same flow run ``a`` times longer. For each
  family row (nominal cell with the pull-up, or pull-down, threshold offset ``e``) the
  measured step map ``V -> V + dV(V)`` is conjugated to a shift: a *pulse-count coordinate*
  ``Phi`` with ``Phi(V + dV(V)) = Phi(V) + 1`` (Abel equation, solved from the step data by
  iterating the map from a fundamental interval at the starting rail). ``k`` pulses then cost
  two table look-ups, ``V' = Phi^-1(Phi(V) + k)``, the same as ``k`` single pulses up to
  table rounding (~1e-5 V; ~1e-4 V within 30 mV of a rail, where V_C saturates). A cell with
  effective offset ``e_up`` uses the nearest row and a fractional flow time
  ``a = exp(-kappa (e_up - e_row))`` (``kappa`` = measured d ln(step)/de of the rows), so
  ``Phi' = Phi + a k``; likewise down pulses with ``e_down`` and their own tables.
  Measured reason for the family (:meth:`UpdateSurrogate.info`, ``model_comparison``): one
  scaled nominal step curve (the simplest form) misfits near the top rail, where a pull-up
  with a lower threshold leaves saturation earlier; the family rows carry that shape.
- **Read conductance**: ``g = s_read * G(V_C - c_read)`` with ``G`` the nominal g(V_C) table
  (shift = read-FET threshold, scale = its mobility/strength change).
- **Leakage** (also a family: the pull-down's subthreshold current, ``~ exp(-dvt_down/n U_T)``,
  is the largest cell-to-cell change of the hold leakage): ``dV_C/dt = r * L(V_C - s_leak)``
  with ``L`` the rate table of the cell's ``e_down`` row (zero at that row's equilibrium
  ``V_eq``), ``r = r_hi`` above and ``r_lo`` below the (shifted) equilibrium. Integrated
  exactly through the row's linearising coordinate ``z(V)`` with ``dz/dt = -k z``
  (``k = -L'(V_eq)``): ``V(t) = s + z^-1(z(V - s) exp(-k r t))``, any ``dt`` in one step.

Per-cell parameters ``theta = (e_up, e_down, c_read, ln s_read, ln r_hi, ln r_lo, s_leak)``
are fitted per Monte-Carlo trial (residuals kept); :meth:`sample_cells` draws new cells from
the fitted multivariate normal of theta (mean, covariance); :meth:`cells_for` maps drawn
threshold offsets (dvt_read, dvt_up, dvt_down) to theta through a fitted quadratic regression,
so a specific SPICE cell can be reproduced (that is how validation builds its held-out cells).

**g_shared**: the reference cell is an ordinary cell (``nominal_cells`` or ``sample_cells``)
whose V_C starts at ``vc0`` (:attr:`UpdateSurrogate.vc0`, the cell template's V_C0, 0.5 V) and
never receives pulses, only :meth:`leak`; the weight's volatile part is
``g(vc, cells) - g(vc_ref, ref_cells)``.

Fast API (float32 in, float32 out; float64 in, float64 out): ``sample_cells``,
``nominal_cells``, ``cells_for`` make :class:`CellParams` of any shape; ``pulse(vc, n, cells)``
(``vc``, ``n``, ``cells`` of one shape; only cells with ``n != 0`` are touched) and the
in-place sparse form ``pulse_at(vc, idx, n, cells)`` (cost in proportion to ``len(idx)``);
``g``, ``leak``, ``leak_rate`` broadcast like numpy; ``g_at(vc, idx, cells)`` reads only the
listed cells. Measured on a 784x250 layer (float32,
2-core machine shared with other jobs): one pulse on every cell ~3 ms, ``pulse_at`` on 1 % of
the cells ~0.1 ms, ``g`` of every cell ~1 ms, against ~0.1 ms for a plain float
``W += lr * outer(x, d)``: two table look-ups per pulse are ~10 numpy passes and a gather.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import brentq, least_squares

from circuitsim.characterize.common import run_points
from circuitsim.characterize.update import (
    UpdateCharSpec,
    UpdateDataset,
    asymmetry,
)
from circuitsim.errors import CacheError, SpecError
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.phases.update import update_point
from circuitsim.surrogate.fidelity import Check

#: Points of every V_C table and every coordinate table.
M = 2048
#: Points of the inverse leakage table (z -> V).
MZ = 8192
#: Margin of the pulse tables beyond [0, vdd] (V).
V_MARGIN = 0.02
#: Margin of the g and leakage tables (their argument is V_C minus a per-cell shift) (V).
W_MARGIN = 0.15
#: g above the data is extrapolated linearly from a straight line over its top this many V.
G_TOP_FIT = 0.03
#: Fundamental-interval samples of the Abel construction.
N_FUND = 512
#: Steps below this (V) end the pulse-count coordinate (the cell is saturated).
D_MIN = 1e-7
#: g below this (S) is ignored when fitting the read FET (log-space fit).
G_FIT_MIN = 1e-8
THETA = ("e_up", "e_down", "c_read", "ln_s_read", "ln_r_hi", "ln_r_lo", "s_leak")
FEATURES = ("1", "dr", "du", "dd", "dr^2", "du^2", "dd^2", "dr*du", "dr*dd", "du*dd")

# ---------------------------------------------------------------- cell parameters


@dataclass(frozen=True, slots=True, eq=False)
class CellParams:
    """Per-cell parameters, every array of the cells' shape: row offsets into the flat
    pulse tables, the normalised coordinate change per pulse, the read-FET shift (V) and
    scale, the leakage row offsets, shift (V), rate factors ``r`` and rates ``k r`` (1/s)
    above/below equilibrium; ``theta``
    (shape + (7,)) holds the fitted parameters they were made from (:data:`THETA`)."""

    up_off: np.ndarray
    up_k: np.ndarray
    dn_off: np.ndarray
    dn_k: np.ndarray
    rd_c: np.ndarray
    rd_s: np.ndarray
    lk_off: np.ndarray
    lk_offi: np.ndarray
    lk_s: np.ndarray
    lk_rhi: np.ndarray
    lk_rlo: np.ndarray
    lk_khi: np.ndarray
    lk_klo: np.ndarray
    theta: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.up_k.shape

    def __getitem__(self, index: Any) -> CellParams:
        """The parameters of a subset of cells (numpy indexing, e.g. flat indices)."""
        return CellParams(*(getattr(self, f.name)[index] for f in dataclasses.fields(self)
                            if f.name != "theta"), theta=self.theta[index])

    def reshape(self, *shape: int) -> CellParams:
        return CellParams(*(getattr(self, f.name).reshape(*shape)
                            for f in dataclasses.fields(self) if f.name != "theta"),
                          theta=self.theta.reshape(*shape, len(THETA)))


# ---------------------------------------------------------------- table helpers

def _lut(pairs: np.ndarray, x: np.ndarray, x0: float, inv_h: float,
         off: np.ndarray | None = None, m: int = M) -> np.ndarray:
    """Linear interpolation on a uniform grid (``m`` points per row, rows flattened) from
    :func:`_pairs` tables; ``x`` is clamped to the grid. A few numpy passes and one gather."""
    u = x - x0
    u *= inv_h
    np.clip(u, 0.0, m - 1.001, out=u)  # so that i <= m - 2
    i = u.astype(np.intp)
    u -= i
    if off is not None:
        i += off
    vs = np.take(pairs, i, mode="wrap")  # i is in range: no bounds check needed
    vs = vs.view(np.float32).reshape(*vs.shape, 2)
    return vs[..., 0] + u * vs[..., 1]


def _pairs(table: np.ndarray) -> np.ndarray:
    """A float32 table (rows on the last axis) as int64 words holding (value, slope to the
    next point) pairs, flattened: one gather fetches both."""
    t = np.asarray(table, dtype=np.float32)
    pairs = np.stack([t, _slopes(t)], axis=-1).reshape(-1, 2)
    return np.ascontiguousarray(pairs).view(np.int64).reshape(-1)


def _slopes(table: np.ndarray) -> np.ndarray:
    """Per-row forward differences (last column 0), same shape as ``table``."""
    s = np.zeros_like(table)
    s[..., :-1] = np.diff(table, axis=-1)
    return s


def _dedupe(x: np.ndarray, y: np.ndarray, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ``x`` (within ``tol``) with ``y`` averaged over duplicates."""
    order = np.argsort(x)
    x, y = x[order], y[order]
    key = np.round(x / tol).astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    cnt = np.bincount(inv)
    return np.bincount(inv, x) / cnt, np.bincount(inv, y) / cnt


def _step_function(x_obs: np.ndarray, d_obs: np.ndarray):
    """``d(x) >= 0`` from step observations: PCHIP through the data, constant below it;
    above it the steps fall linearly to the rail's fixed point, as they do near it (a
    geometric approach with the ratio ``rho`` of the last two steps):
    ``d = d_last (1 - (x - x_last) (1 - rho) / d_last)``."""
    x, d = _dedupe(x_obs, np.maximum(d_obs, 0.0))
    f = PchipInterpolator(x, d, extrapolate=False)
    x_lo, x_hi, d_lo, d_hi = x[0], x[-1], d[0], max(d[-1], 0.0)
    pos = np.flatnonzero(d > 0)
    rho = 0.5
    if pos.size >= 2:
        a, b = pos[-2], pos[-1]
        rho = float(np.clip(1.0 - (d[a] - d[b]) / max(x[b] - x[a], 1e-12), 0.3, 0.95))

    def step(v: np.ndarray) -> np.ndarray:
        out = f(np.clip(v, x_lo, x_hi))
        out = np.where(v < x_lo, d_lo, out)
        tail = np.maximum(d_hi - (v - x_hi) * (1.0 - rho), 0.0)
        return np.maximum(np.where(v > x_hi, tail, out), 0.0)

    return step


def pulse_coordinate(x_obs: np.ndarray, d_obs: np.ndarray, x_grid: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """Pulse-count coordinate of the map ``x -> x + d(x)`` (``d >= 0``) on ``x_grid``.

    Solves ``Phi(x + d(x)) = Phi(x) + 1`` by iterating the map from ``N_FUND`` points of the
    fundamental interval ``[x0, x0 + d(x0))`` (``Phi`` linear there, ``x0 = x_grid[0]``)
    until the steps fall below :data:`D_MIN`. Returns the normalised forward table
    ``Phi(x_grid) / span`` (0..1), the inverse table ``x(c)`` on ``c = linspace(0, 1, M)``,
    and ``span`` = pulses from ``x0`` to the saturated end.
    """
    step = _step_function(x_obs, d_obs)
    x0 = float(x_grid[0])
    s = np.arange(N_FUND) / N_FUND
    d0 = float(step(np.array([x0]))[0])
    if d0 <= D_MIN:
        raise SpecError(f"step data: no step at the start of the range (x={x0:.3g} V)")
    x = x0 + s * d0
    xs, phis = [], []
    for k in range(100000):
        d = step(x)
        keep = d >= D_MIN
        xs.append(x[keep])
        phis.append(k + s[keep])
        if not keep.any() or x[keep].min() > x_grid[-1]:
            break
        x, s = x[keep] + d[keep], s[keep]
    xs_all, phi_all = np.concatenate(xs), np.concatenate(phis)
    order = np.argsort(phi_all)
    xs_all, phi_all = np.maximum.accumulate(xs_all[order]), phi_all[order]
    span = float(phi_all[-1])
    fwd = np.interp(x_grid, xs_all, phi_all) / span
    inv = np.interp(np.linspace(0.0, 1.0, M) * span, phi_all, xs_all)
    return fwd, inv, span


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


# ---------------------------------------------------------------- the surrogate

_SCALARS = ("v_min", "v_max", "w_min", "w_max", "vdd", "vc0", "t_period")
_STRINGS = ("theta_names", "reg_features", "info_json", "spec_json")


@dataclass(frozen=True, slots=True, eq=False)
class UpdateSurrogate:
    """Fitted update surrogate (see the module docstring). ``F`` family rows, ``P`` = 7
    parameters, ``R`` regression features, ``T`` Monte-Carlo trials; tables have ``M``
    points on the V_C grid ``linspace(v_min, v_max, M)`` or on ``c = linspace(0, 1, M)``."""

    v_min: float  #: V, start of the V_C grid
    v_max: float  #: V, end of the V_C grid
    w_min: float  #: V, start of the g/leakage grid linspace(w_min, w_max, M)
    w_max: float  #: V, end of the g/leakage grid
    vdd: float  #: V
    vc0: float  #: V, start V_C of the reference cell (g_shared) and of fresh cells
    t_period: float  #: s, pulse period the steps were measured at
    family_dvt: np.ndarray  #: (F,) V, threshold offset of each row (up rows: dvt_up)
    up_fwd: np.ndarray  #: (F, M) normalised up coordinate of V_C
    up_inv: np.ndarray  #: (F, M) V_C of the normalised up coordinate
    up_span: np.ndarray  #: (F,) pulses from the bottom of the grid to saturation
    up_kappa: np.ndarray  #: (F,) 1/V, -d ln(up step)/d dvt_up
    dn_fwd: np.ndarray  #: (F, M) normalised down coordinate (increasing with V_C)
    dn_inv: np.ndarray  #: (F, M) V_C of the normalised down coordinate
    dn_span: np.ndarray  #: (F,) pulses from the top of the grid to saturation
    dn_kappa: np.ndarray  #: (F,) 1/V, -d ln|down step|/d dvt_down
    g_table: np.ndarray  #: (M,) S, nominal g on the g/leakage grid
    leak_table: np.ndarray  #: (F, M) V/s, dV_C/dt per dvt_down row on the g/leakage grid
    leak_v_eq: np.ndarray  #: (F,) V, leakage equilibrium of each row
    leak_k: np.ndarray  #: (F,) 1/s, -dL/dV at the equilibrium
    z_table: np.ndarray  #: (F, M) linearising coordinate z / z_scale (in [-1, 1])
    z_scale: np.ndarray  #: (F,) V, max |z| of each row
    zinv_table: np.ndarray  #: (F, MZ) V, V_C of z / z_scale on linspace(-1, 1, MZ)
    theta_names: np.ndarray  #: (P,) str
    theta_mean: np.ndarray  #: (P,)
    theta_cov: np.ndarray  #: (P, P)
    reg_features: np.ndarray  #: (R,) str
    reg_coef: np.ndarray  #: (P, R) theta = reg_coef @ features(dvt)
    reg_resid_std: np.ndarray  #: (P,) residual std of the regression
    trial_dvt: np.ndarray  #: (T, 3) V, the Monte-Carlo trials' offsets
    trial_theta: np.ndarray  #: (T, P) per-trial fitted theta
    trial_resid: np.ndarray  #: (T, 4) per-trial RMS residual: up, down (of mean |step|),
    #: g (ln g), leakage (V)
    trial_asym: np.ndarray  #: (T,) SPICE asymmetry at v_asym of each trial
    info_json: str  #: model forms, fit residuals, model comparison (JSON)
    spec_json: str  #: the characterization spec the data came from
    _tab: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tab = {"up": _pairs(self.up_fwd), "upi": _pairs(self.up_inv),
               "dn": _pairs(self.dn_fwd), "dni": _pairs(self.dn_inv),
               "g": _pairs(self.g_table), "l": _pairs(self.leak_table),
               "z": _pairs(self.z_table), "zi": _pairs(self.zinv_table)}
        tab["inv_hv"] = (M - 1) / (self.v_max - self.v_min)
        tab["inv_hw"] = (M - 1) / (self.w_max - self.w_min)
        tab["inv_hz"] = (MZ - 1) / 2.0
        tab["chol"] = np.linalg.cholesky(self.theta_cov + 1e-15 * np.eye(len(THETA)))
        object.__setattr__(self, "_tab", tab)

    # ------------------------------------------------------------ cells

    def _cells(self, theta: np.ndarray) -> CellParams:
        theta = np.asarray(theta, dtype=np.float64)
        e = self.family_dvt
        h = (e[-1] - e[0]) / (len(e) - 1)

        def row(x: np.ndarray, kappa: np.ndarray, span: np.ndarray):
            r = np.clip(np.rint((x - e[0]) / h), 0, len(e) - 1).astype(np.intp)
            a = np.exp(-kappa[r] * (x - e[r]))
            return r, (a / span[r]).astype(np.float32)

        r_up, up_k = row(theta[..., 0], self.up_kappa, self.up_span)
        r_dn, dn_k = row(theta[..., 1], self.dn_kappa, self.dn_span)
        f32 = np.float32
        r_hi, r_lo = np.exp(theta[..., 4]), np.exp(theta[..., 5])
        k_row = self.leak_k[r_dn]
        return CellParams(
            up_off=r_up * M, up_k=up_k, dn_off=r_dn * M, dn_k=dn_k,
            rd_c=theta[..., 2].astype(f32), rd_s=np.exp(theta[..., 3]).astype(f32),
            lk_off=r_dn * M, lk_offi=r_dn * MZ, lk_s=theta[..., 6].astype(f32),
            lk_rhi=r_hi.astype(f32), lk_rlo=r_lo.astype(f32),
            lk_khi=(k_row * r_hi).astype(f32), lk_klo=(k_row * r_lo).astype(f32),
            theta=theta.astype(f32))

    def nominal_cells(self, shape: int | tuple[int, ...]) -> CellParams:
        """Cells that are all the nominal cell (theta = 0)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return self._cells(np.zeros((*shape, len(THETA))))

    def sample_cells(self, shape: int | tuple[int, ...], rng: np.random.Generator
                     ) -> CellParams:
        """Cells drawn from the fitted multivariate normal of theta."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        xi = rng.standard_normal((*shape, len(THETA)))
        return self._cells(self.theta_mean + xi @ self._tab["chol"].T)

    def theta_for(self, dvt_read: Any, dvt_up: Any, dvt_down: Any) -> np.ndarray:
        """Regression theta of cells with these threshold offsets (V), shape (..., P)."""
        dr, du, dd = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                           for v in (dvt_read, dvt_up, dvt_down)))
        return features(dr, du, dd) @ self.reg_coef.T

    def cells_for(self, dvt_read: Any, dvt_up: Any, dvt_down: Any) -> CellParams:
        """Cells reproducing SPICE cells with these threshold offsets (regression)."""
        return self._cells(self.theta_for(dvt_read, dvt_up, dvt_down))

    # ------------------------------------------------------------ evaluation

    def _move(self, v: np.ndarray, n: np.ndarray, off: np.ndarray, k: np.ndarray,
              up: bool) -> np.ndarray:
        """1-D core of a pulse: coordinate look-up, shift by ``k n``, inverse look-up."""
        t = self._tab
        fwd, inv = ("up", "upi") if up else ("dn", "dni")
        c = _lut(t[fwd], v, self.v_min, t["inv_hv"], off)
        c += k * n
        np.clip(c, 0.0, 1.0, out=c)
        out = _lut(t[inv], c, 0.0, float(M - 1), off)
        # a cell pushed beyond its row's saturation end (a rare cell saturating closer to the
        # rail than its row) stays put instead of being pulled back
        return np.maximum(out, v, out=out) if up else np.minimum(out, v, out=out)

    def pulse(self, vc: np.ndarray, n: np.ndarray, cells: CellParams) -> np.ndarray:
        """V_C after ``|n|`` pulses in the direction of ``sign(n)`` (``n`` signed integer
        counts, same shape as ``vc``); cells with ``n == 0`` are returned unchanged.
        ``k`` pulses in one call equal ``k`` calls of one pulse (up to table rounding)."""
        vc = np.asarray(vc)
        dtype = np.float32 if vc.dtype == np.float32 else np.float64
        out = np.array(vc, dtype=dtype).reshape(-1)
        nf = np.asarray(n).reshape(-1)
        if nf.size != out.size or cells.up_k.size != out.size:
            raise SpecError(f"n {np.shape(n)} and cells {cells.shape} must match vc "
                            f"{vc.shape}")
        self._apply(out, nf, None, cells)
        return out.reshape(vc.shape)

    def pulse_at(self, vc: np.ndarray, idx: np.ndarray, n: np.ndarray,
                 cells: CellParams) -> None:
        """In place: apply ``n[j]`` signed pulses to the cell at flat index ``idx[j]`` of
        ``vc`` (a C-contiguous float array; ``cells`` of the same shape). Only the listed
        cells are read or written, so a sparse update costs in proportion to ``len(idx)``."""
        if not (isinstance(vc, np.ndarray) and vc.flags.c_contiguous
                and vc.dtype in (np.float32, np.float64)):
            raise SpecError("vc: pulse_at needs a C-contiguous float32/float64 array")
        if cells.up_k.size != vc.size:
            raise SpecError(f"cells {cells.shape} must match vc {vc.shape}")
        self._apply(vc.reshape(-1), np.asarray(n).reshape(-1), np.asarray(idx).reshape(-1),
                    cells)

    def _apply(self, flat: np.ndarray, n: np.ndarray, idx: np.ndarray | None,
               cells: CellParams) -> None:
        dense = idx is None
        for up in (True, False):
            sel = n > 0 if up else n < 0
            j = np.flatnonzero(sel)
            if j.size == 0:
                continue
            where = j if dense else idx[j]
            if dense and j.size == flat.size:
                where = slice(None)
            off = (cells.up_off if up else cells.dn_off).reshape(-1)[where]
            k = (cells.up_k if up else cells.dn_k).reshape(-1)[where]
            nj = n[j].astype(flat.dtype) if j.size != n.size else n.astype(flat.dtype)
            flat[where] = self._move(flat[where], nj, off, k, up)

    def step(self, vc: np.ndarray, direction: int, cells: CellParams) -> np.ndarray:
        """V_C change of one pulse (``direction`` +1 up, -1 down) at ``vc``."""
        vc = np.asarray(vc)
        return self.pulse(vc, np.full(vc.shape, int(np.sign(direction)), np.int8), cells) - vc

    def g(self, vc: np.ndarray, cells: CellParams) -> np.ndarray:
        """Read conductance (S) at ``vc``."""
        t = self._tab
        vc = np.asarray(vc)
        x = vc - cells.rd_c
        return _lut(t["g"], x, self.w_min, t["inv_hw"]) * cells.rd_s

    def g_at(self, vc: np.ndarray, idx: np.ndarray, cells: CellParams) -> np.ndarray:
        """g (S) of the cells at flat indices ``idx`` of ``vc`` (same shape as ``cells``),
        e.g. to refresh a weight cache after :meth:`pulse_at`; reads only those cells."""
        t = self._tab
        idx = np.asarray(idx).reshape(-1)
        x = np.asarray(vc).reshape(-1)[idx] - cells.rd_c.reshape(-1)[idx]
        return _lut(t["g"], x, self.w_min, t["inv_hw"]) * cells.rd_s.reshape(-1)[idx]

    def dg(self, vc: np.ndarray, direction: int, cells: CellParams) -> np.ndarray:
        """g change of one pulse at ``vc``."""
        vc = np.asarray(vc)
        return self.g(vc + self.step(vc, direction, cells), cells) - self.g(vc, cells)

    def leak_rate(self, vc: np.ndarray, cells: CellParams) -> np.ndarray:
        """Model dV_C/dt (V/s) during a hold: ``r * L(V_C - s_leak)``."""
        t = self._tab
        vc = np.asarray(vc)
        x = vc - cells.lk_s
        rate = _lut(t["l"], x, self.w_min, t["inv_hw"], cells.lk_off)
        z = _lut(t["z"], x, self.w_min, t["inv_hw"], cells.lk_off)
        return rate * np.where(z > 0, cells.lk_rhi, cells.lk_rlo)

    def leak(self, vc: np.ndarray, dt: Any, cells: CellParams) -> np.ndarray:
        """V_C after a hold of ``dt`` seconds (scalar or array broadcasting with ``vc``):
        the exact flow of :meth:`leak_rate` through the linearising coordinate."""
        t = self._tab
        vc = np.asarray(vc)
        x = vc - cells.lk_s
        z = _lut(t["z"], x, self.w_min, t["inv_hw"], cells.lk_off)
        k = np.where(z > 0, cells.lk_khi, cells.lk_klo)
        z = z * np.exp(-k * np.asarray(dt, dtype=z.dtype))
        return _lut(t["zi"], z, -1.0, t["inv_hz"], cells.lk_offi, m=MZ) + cells.lk_s

    # ------------------------------------------------------------ storage

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name != "_tab"}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> UpdateSurrogate:
        """Rebuild from :meth:`to_arrays`; any missing, unknown, mistyped, misshapen or
        non-finite entry raises :class:`CacheError`."""
        names = [f.name for f in dataclasses.fields(cls) if f.name != "_tab"]
        missing = sorted(set(names) - set(arrays))
        unknown = sorted(set(arrays) - set(names))
        if missing or unknown:
            raise CacheError(f"UpdateSurrogate: missing {missing}, unknown {unknown}")
        kw: dict[str, Any] = {}
        for name in names:
            a = np.asarray(arrays[name])
            if name in _STRINGS:
                if a.dtype.kind != "U":
                    raise CacheError(f"UpdateSurrogate.{name}: expected text, got {a.dtype}")
                kw[name] = str(a) if a.ndim == 0 else a
                continue
            if a.dtype.kind != "f":
                raise CacheError(f"UpdateSurrogate.{name}: expected floats, got {a.dtype}")
            if not np.all(np.isfinite(a)):
                raise CacheError(f"UpdateSurrogate.{name}: non-finite values")
            if name in _SCALARS:
                if a.ndim != 0:
                    raise CacheError(f"UpdateSurrogate.{name}: expected a scalar, got shape "
                                     f"{a.shape}")
                kw[name] = float(a)
            else:
                kw[name] = a
        f_rows = kw["family_dvt"].shape
        p = len(THETA)
        t = kw["trial_dvt"].shape[0] if kw["trial_dvt"].ndim == 2 else -1
        shapes = {
            "up_fwd": (*f_rows, M), "up_inv": (*f_rows, M), "dn_fwd": (*f_rows, M),
            "dn_inv": (*f_rows, M), "up_span": f_rows, "dn_span": f_rows,
            "up_kappa": f_rows, "dn_kappa": f_rows, "g_table": (M,),
            "leak_table": (*f_rows, M), "leak_v_eq": f_rows, "leak_k": f_rows,
            "z_table": (*f_rows, M), "z_scale": f_rows, "zinv_table": (*f_rows, MZ),
            "theta_names": (p,), "theta_mean": (p,),
            "theta_cov": (p, p), "reg_features": (len(FEATURES),),
            "reg_coef": (p, len(FEATURES)), "reg_resid_std": (p,), "trial_dvt": (t, 3),
            "trial_theta": (t, p), "trial_resid": (t, 4), "trial_asym": (t,),
        }
        for name, shape in shapes.items():
            if kw[name].shape != shape:
                raise CacheError(f"UpdateSurrogate.{name}: shape {kw[name].shape}, expected "
                                 f"{shape}")
        steps = np.diff(kw["family_dvt"])
        if (len(f_rows) != 1 or f_rows[0] < 2 or np.any(steps <= 0)
                or np.ptp(steps) > 1e-9 * max(1.0, abs(float(steps.mean())))):
            raise CacheError("UpdateSurrogate.family_dvt: need >= 2 equally spaced ascending "
                             "offsets")
        if tuple(kw["theta_names"]) != THETA or tuple(kw["reg_features"]) != FEATURES:
            raise CacheError("UpdateSurrogate: parameter or feature names differ from this "
                             "code's")
        for name in ("up_fwd", "up_inv", "dn_fwd", "dn_inv", "z_table", "zinv_table"):
            if np.any(np.diff(kw[name], axis=-1) < -1e-12):
                raise CacheError(f"UpdateSurrogate.{name}: table is not monotonic")
        if not (kw["v_min"] < kw["v_max"] and kw["w_min"] < kw["w_max"]
                and np.all(kw["z_scale"] > 0) and np.all(kw["leak_k"] > 0)
                and np.all(kw["up_span"] > 0) and np.all(kw["dn_span"] > 0)):
            raise CacheError("UpdateSurrogate: inconsistent table ranges")
        try:
            json.loads(kw["info_json"])
            json.loads(kw["spec_json"])
        except json.JSONDecodeError as exc:
            raise CacheError(f"UpdateSurrogate: corrupt JSON field: {exc}") from None
        try:
            np.linalg.cholesky(kw["theta_cov"] + 1e-15 * np.eye(p))
        except np.linalg.LinAlgError:
            raise CacheError("UpdateSurrogate.theta_cov: not positive definite") from None
        return cls(**kw)

    def info(self) -> dict[str, Any]:
        return json.loads(self.info_json)


def features(dr: np.ndarray, du: np.ndarray, dd: np.ndarray) -> np.ndarray:
    """Regression features (:data:`FEATURES`) of threshold offsets, shape (..., R)."""
    dr, du, dd = (np.asarray(v, dtype=float) for v in (dr, du, dd))
    return np.stack([np.ones_like(dr), dr, du, dd, dr * dr, du * du, dd * dd, dr * du,
                     dr * dd, du * dd], axis=-1)


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
    v, g = _dedupe(ds.nom_v, ds.nom_g, 1e-6)
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
    v, rate = _dedupe(v, rate, 1e-6)
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


# ---------------------------------------------------------------- validation

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
