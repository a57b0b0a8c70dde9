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

Fitting is in :mod:`~circuitsim.surrogate.update_fit` (``fit``), validation against
held-out SPICE runs in :mod:`~circuitsim.surrogate.update_validate` (``validate``); both
import the model from this module.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from circuitsim.errors import CacheError, SpecError

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


def dedupe(x: np.ndarray, y: np.ndarray, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
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
    x, d = dedupe(x_obs, np.maximum(d_obs, 0.0))
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
        # up and down tables stacked (down rows after the up rows) for one-pass sparse pulses
        tab["both"] = np.concatenate([tab["up"], tab["dn"]])
        tab["bothi"] = np.concatenate([tab["upi"], tab["dni"]])
        tab["dn_shift"] = tab["up"].size
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
        self._apply_at(vc.reshape(-1), np.asarray(n).reshape(-1), np.asarray(idx).reshape(-1),
                       cells)

    def _apply_at(self, flat: np.ndarray, n: np.ndarray, idx: np.ndarray,
                  cells: CellParams) -> None:
        """:meth:`_apply` for listed cells in one pass over both directions (the stacked
        tables): the same arithmetic per cell, half the numpy calls of a pass per direction."""
        if not n.all():
            keep = np.flatnonzero(n)
            idx, n = idx[keep], n[keep]
        if idx.size == 0:
            return
        t = self._tab
        up = n > 0
        off = np.where(up, cells.up_off.reshape(-1)[idx],
                       cells.dn_off.reshape(-1)[idx] + t["dn_shift"])
        k = np.where(up, cells.up_k.reshape(-1)[idx], cells.dn_k.reshape(-1)[idx])
        v = flat[idx]
        c = _lut(t["both"], v, self.v_min, t["inv_hv"], off)
        c += k * n.astype(flat.dtype)
        np.clip(c, 0.0, 1.0, out=c)
        out = _lut(t["bothi"], c, 0.0, float(M - 1), off)
        # as in _move: a cell never moves against its pulse direction
        flat[idx] = np.where(up, np.maximum(out, v), np.minimum(out, v))

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


__all__ = [
    "D_MIN", "FEATURES", "G_FIT_MIN", "G_TOP_FIT", "M", "MZ", "N_FUND", "THETA", "V_MARGIN",
    "W_MARGIN", "CellParams", "UpdateSurrogate", "features", "pulse_coordinate",
]
