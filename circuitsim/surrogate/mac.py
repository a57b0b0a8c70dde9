"""MAC surrogate: the non-ideal crossbar transfer (IR drop, read non-linearity) for any layer.

Model. A tile is a rows x cols 1R array; row ``i`` is driven at its column-0 end (cell
``(i, j)`` is ``j + 1`` row segments ``r_row`` from the driver), column ``j`` is sensed at its
bottom (cell ``(i, j)`` is ``rows - i`` segments ``r_col`` above the sense node). For linear
devices and ideal virtual grounds the array is a linear reciprocal network: the forward read is
``I = T^T V`` and the backward read (columns driven, rows sensed) ``I = T V`` with one
input-independent transfer ``T(G)``. Writing ``a`` (``b``) for the fractional loss a cell's
current suffers along its row (column) wire,

- ``first_order``: ``a = r_row * cumsum_j(revcumsum_j(G))``, ``b = r_col *
  revcumsum_i(cumsum_i(G))`` (first order in the wire resistances, O(N M) with cumsums);
- ``ladder``: ``a``, ``b`` from the exact solve of each row (column) wire alone as a resistive
  ladder loaded by its cells (one O(N M) recursion), ``T = G (1 - a)(1 - b)``; this is exact in
  ``r_row`` and in ``r_col`` separately and misses only the row-column cross terms.

The read law ``I = G V0 sinh(V / V0)`` enters as the input transform ``F = V0 sinh(V / V0)``
plus, to first order in the IR drop, the term ``-(F (cosh(V / V0) - 1)) @ (G (a + b))``: the
drop lowers a cell's voltage and the current falls with the device slope ``cosh``, not 1.
Together, with ``H = F (cosh(V / V0) - 1)`` (0 for linear devices)::

    forward:  I = s_col * (F @ T + H @ L)      backward:  I = s_row * (F @ T^T + H @ L^T)
    T = G * P(a, b),  L = G * Q(a, b),  P, Q polynomials in a, b of degree 2

The finite op-amp gain puts ``r_foot = r_f / (1 + gain)`` in series with every sensed line:
``s = 1 / (1 + r_foot * sum_line(T))`` per sensed line and tile (1 for an ideal op-amp).
Physics coefficients: ``first_order`` ``P = 1 - a - b``, ``Q = 0``; ``ladder`` ``P = (1 - a)
(1 - b)``, ``Q = -(a + b)``. The learned forms (``*_ls``) fit all coefficients of ``P`` and
``Q`` on the monomials ``1, a, b, a^2, ab, b^2`` by least squares on the SPICE dataset (with
``a``, ``b`` of their basis). :func:`fit` compares the forms by two-fold cross-validation over
the dataset's matrices and keeps the best; the comparison is in :meth:`MacSurrogate.info`.

Layers. A layer larger than the largest characterized tile is split into balanced tiles (each
dimension into ``ceil(n / tile)`` nearly equal parts), each its own array with drivers and sense
amplifiers; partial sums are added. :meth:`MacSurrogate.layer` returns a :class:`MacLayer` for
training: ``forward``/``backward`` are one or two matrix products over the whole layer (the
tiles' ``T`` sit in one matrix; with a finite op-amp gain one product per tile row/column), and
``apply_delta`` updates ``T`` and ``L`` in place (``T += dG * P``) with ``P``, ``Q`` and ``s``
refreshed every ``refresh_every`` updates or on :meth:`MacLayer.refresh`.

Fidelity (:func:`validate`): full scale FS of a group (tile size and direction, or the layer and
direction) is the largest ideal output ``max |G^T V|`` over that group's held-out reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim.characterize import mac as cm
from circuitsim.errors import CacheError, SpecError
from circuitsim.fidelity import Check

MONOMIALS = ("1", "a", "b", "aa", "ab", "bb")
BASES = ("first_order", "ladder")
FORMS = ("first_order", "ladder", "first_order_ls", "ladder_ls")
#: Physics coefficients (P, Q) of each basis on MONOMIALS.
PHYSICS = {
    "first_order": ((1.0, -1.0, -1.0, 0.0, 0.0, 0.0), (0.0,) * 6),
    "ladder": ((1.0, -1.0, -1.0, 0.0, 1.0, 0.0), (0.0, -1.0, -1.0, 0.0, 0.0, 0.0)),
}
RIDGE = 1e-6  #: ridge on unit-norm feature columns of the least-squares correction


# ---------------------------------------------------------------- physics building blocks


def split(n: int, max_size: int) -> list[slice]:
    """``n`` lines in ``ceil(n / max_size)`` consecutive, nearly equal tiles (balanced)."""
    if n < 1 or max_size < 1:
        raise SpecError(f"split: n={n!r} and max_size={max_size!r} must be >= 1")
    k = -(-n // max_size)
    base, extra = divmod(n, k)
    out, start = [], 0
    for t in range(k):
        size = base + (1 if t < extra else 0)
        out.append(slice(start, start + size))
        start += size
    return out


def _ladder_loss(g: np.ndarray, r: float) -> np.ndarray:
    """Loss ``1 - v`` along the last axis: a wire driven at index 0 through ``r`` per segment,
    a segment before every node, node ``k`` loaded by ``g[..., k]`` to ground (exact)."""
    m = g.shape[-1]
    y = np.empty_like(g)
    y[..., m - 1] = g[..., m - 1]
    for k in range(m - 2, -1, -1):
        nxt = y[..., k + 1]
        y[..., k] = g[..., k] + nxt / (1.0 + r * nxt)
    return 1.0 - np.cumprod(1.0 / (1.0 + r * y), axis=-1)


def losses(g: np.ndarray, r_row: float, r_col: float, basis: str) -> tuple[np.ndarray, np.ndarray]:
    """Row and column loss fractions ``(a, b)`` of every cell, shape of ``g`` (``(..., n, m)``)."""
    if basis == "first_order":
        a = r_row * np.cumsum(np.cumsum(g[..., ::-1], axis=-1)[..., ::-1], axis=-1)
        b = r_col * np.cumsum(np.cumsum(g, axis=-2)[..., ::-1, :], axis=-2)[..., ::-1, :]
        return a, b
    if basis == "ladder":
        a = _ladder_loss(g, r_row)
        flipped = np.swapaxes(g[..., ::-1, :], -1, -2)  # column sensed at the bottom row
        b = np.swapaxes(_ladder_loss(flipped, r_col), -1, -2)[..., ::-1, :]
        return a, b
    raise SpecError(f"basis={basis!r}: must be one of {', '.join(BASES)}")


def monomials(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The MONOMIALS of ``a``, ``b`` stacked on a new first axis."""
    return np.stack([np.ones_like(a), a, b, a * a, a * b, b * b])


def poly(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_k c_k monomial_k(a, b)``."""
    return c[0] + c[1] * a + c[2] * b + c[3] * a * a + c[4] * a * b + c[5] * b * b


# ---------------------------------------------------------------- the surrogate


_FLOATS = ("v_read", "iv_v0", "r_row", "r_col", "r_foot", "g_min", "g_max", "fit_rms")
_INTS = ("tile_rows", "tile_cols")
_STRS = ("form", "basis", "iv", "spec_json", "ngspice_version")
_VECS = ("p", "q")
_TABLE = ("model_names", "cv_rms_worst", "cv_rms_mean", "cv_max")


@dataclass(frozen=True, slots=True, eq=False)
class MacSurrogate:
    """Fitted MAC transfer model (see the module docstring). Currents in A, inputs in [-1, 1]
    (drive ``x * v_read``), conductances in S."""

    form: str  #: chosen model form (one of FORMS)
    basis: str  #: "first_order" or "ladder": how a, b are computed
    p: np.ndarray  #: (6,) coefficients of P on MONOMIALS
    q: np.ndarray  #: (6,) coefficients of Q on MONOMIALS (non-linear IR term)
    v_read: float  #: V, drive of x = 1
    iv: str  #: "linear" or "sinh" read law
    iv_v0: float  #: V, sinh characteristic voltage
    r_row: float  #: Ohm per cell pitch
    r_col: float  #: Ohm per cell pitch
    r_foot: float  #: Ohm, op-amp virtual-ground series resistance r_f / (1 + gain) (0 ideal)
    g_min: float  #: S, characterized range
    g_max: float  #: S
    tile_rows: int  #: largest tile rows (layers are split into tiles no larger)
    tile_cols: int  #: largest tile columns
    fit_rms: float  #: % FS, in-sample RMS error of the chosen form (worst group)
    model_names: np.ndarray  #: (K,) str, compared forms (plus "ideal")
    cv_rms_worst: np.ndarray  #: (K,) % FS, cross-validated RMS error, worst group
    cv_rms_mean: np.ndarray  #: (K,) % FS, cross-validated RMS error, mean over groups
    cv_max: np.ndarray  #: (K,) % FS, cross-validated max error over all groups
    spec_json: str  #: the MacCharSpec of the dataset
    ngspice_version: str

    # ------------------------------------------------------------ tile model

    def tile_model(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray, np.ndarray, np.ndarray]:
        """``(T, L, P, Q, s_fwd, s_bwd)`` of one tile or a stack ``(..., n, m)`` of tiles:
        ``T = G P``, ``L = G Q``, foot scales ``s_fwd`` ``(..., m)`` and ``s_bwd`` ``(..., n)``."""
        a, b = losses(g, self.r_row, self.r_col, self.basis)
        pm, qm = poly(self.p, a, b), poly(self.q, a, b)
        t = g * pm
        s_fwd = 1.0 / (1.0 + self.r_foot * t.sum(axis=-2))
        s_bwd = 1.0 / (1.0 + self.r_foot * t.sum(axis=-1))
        return t, g * qm, pm, qm, s_fwd, s_bwd

    def drive(self, x: np.ndarray, with_h: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Input transform of ``x`` (any shape): ``F = V0 sinh(V / V0)`` and ``H = F (cosh(V /
        V0) - 1)`` with ``V = x v_read`` (linear read law, or ``with_h=False``: ``H = None``)."""
        v = x * np.asarray(self.v_read, dtype=x.dtype)
        if self.iv == "linear":
            return v, None
        u = v / np.asarray(self.iv_v0, dtype=x.dtype)
        f = np.sinh(u)
        f *= np.asarray(self.iv_v0, dtype=x.dtype)
        if not with_h:
            return f, None
        h = np.cosh(u)
        h -= 1.0
        h *= f
        return f, h

    def layer(self, g: np.ndarray, *, dtype: Any = np.float32, refresh_every: int = 1000,
              exact_read: bool = True) -> MacLayer:
        """A :class:`MacLayer` for the physical ``(n_in, n_out)`` conductance matrix ``g``
        (``exact_read=False``: one matrix product per read, see :class:`MacLayer`)."""
        return MacLayer(self, g, dtype=dtype, refresh_every=refresh_every,
                        exact_read=exact_read)

    def forward(self, g: np.ndarray, x: np.ndarray, exact_read: bool = True) -> np.ndarray:
        """Forward read currents ``(B, n_out)`` A of inputs ``x`` ``(B, n_in)`` (float64)."""
        return self.layer(g, dtype=np.float64, refresh_every=0,
                          exact_read=exact_read).forward(x)

    def backward(self, g: np.ndarray, d: np.ndarray, exact_read: bool = True) -> np.ndarray:
        """Backward read currents ``(B, n_in)`` A of inputs ``d`` ``(B, n_out)`` (float64)."""
        return self.layer(g, dtype=np.float64, refresh_every=0,
                          exact_read=exact_read).backward(d)

    def with_form(self, form: str, p: np.ndarray | None = None,
                  q: np.ndarray | None = None) -> MacSurrogate:
        """The same circuit with another model form (physics coefficients unless given)."""
        if form not in FORMS:
            raise SpecError(f"form={form!r}: must be one of {', '.join(FORMS)}")
        basis = form.removesuffix("_ls")
        p0, q0 = PHYSICS[basis]
        return replace(self, form=form, basis=basis,
                       p=np.array(p0 if p is None else p, dtype=float),
                       q=np.array(q0 if q is None else q, dtype=float))

    # ------------------------------------------------------------ storage

    def to_arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for name in (*_FLOATS, *_INTS, *_STRS, *_VECS, *_TABLE):
            out[name] = np.asarray(getattr(self, name))
        return out

    @classmethod
    def from_arrays(cls, arrays: Any) -> MacSurrogate:
        """Rebuild from :meth:`to_arrays`; any missing, unknown, mistyped, misshapen or
        non-finite entry raises :class:`CacheError`."""
        names = set(_FLOATS + _INTS + _STRS + _VECS + _TABLE)
        got = set(arrays)
        if got != names:
            raise CacheError(f"MacSurrogate arrays: missing {sorted(names - got)}, "
                             f"unknown {sorted(got - names)}")
        kw: dict[str, Any] = {}

        def arr(name: str, kind: str, ndim: int) -> np.ndarray:
            a = np.asarray(arrays[name])
            if a.dtype.kind not in kind or a.ndim != ndim:
                raise CacheError(f"MacSurrogate.{name}: dtype {a.dtype} shape {a.shape}, "
                                 f"expected kind {kind!r} with {ndim} dimension(s)")
            if a.dtype.kind in "fi" and not np.all(np.isfinite(a)):
                raise CacheError(f"MacSurrogate.{name}: non-finite values")
            return a

        for name in _FLOATS:
            kw[name] = float(arr(name, "f", 0))
        for name in _INTS:
            kw[name] = int(arr(name, "i", 0))
        for name in _STRS:
            kw[name] = str(arr(name, "U", 0))
        for name in _VECS:
            kw[name] = arr(name, "f", 1).astype(float)
            if kw[name].shape != (len(MONOMIALS),):
                raise CacheError(f"MacSurrogate.{name}: shape {kw[name].shape}, expected "
                                 f"({len(MONOMIALS)},)")
        kw["model_names"] = arr("model_names", "U", 1)
        k = len(kw["model_names"])
        for name in _TABLE[1:]:
            kw[name] = arr(name, "f", 1).astype(float)
            if kw[name].shape != (k,):
                raise CacheError(f"MacSurrogate.{name}: shape {kw[name].shape}, expected ({k},)")
        checks = [(kw["form"] in FORMS, "form"), (kw["basis"] in BASES, "basis"),
                  (kw["form"].removesuffix("_ls") == kw["basis"], "basis"),
                  (kw["iv"] in ("linear", "sinh"), "iv"), (kw["v_read"] > 0, "v_read"),
                  (kw["iv_v0"] > 0, "iv_v0"), (kw["r_row"] > 0, "r_row"),
                  (kw["r_col"] > 0, "r_col"), (kw["r_foot"] >= 0, "r_foot"),
                  (0 < kw["g_min"] < kw["g_max"], "g_min"), (kw["tile_rows"] >= 1, "tile_rows"),
                  (kw["tile_cols"] >= 1, "tile_cols")]
        for ok, name in checks:
            if not ok:
                raise CacheError(f"MacSurrogate.{name}: invalid value {kw[name]!r}")
        return cls(**kw)

    def info(self) -> dict[str, Any]:
        """JSON-able description: chosen form, coefficients, fit residual, model comparison."""
        return {
            "form": self.form, "basis": self.basis,
            "p": dict(zip(MONOMIALS, map(float, self.p), strict=True)),
            "q": dict(zip(MONOMIALS, map(float, self.q), strict=True)),
            "circuit": {"v_read_V": self.v_read, "iv": self.iv, "iv_v0_V": self.iv_v0,
                        "r_row_ohm": self.r_row, "r_col_ohm": self.r_col,
                        "r_foot_ohm": self.r_foot, "g_range_S": [self.g_min, self.g_max]},
            "tile": [self.tile_rows, self.tile_cols],
            "fit_rms_pct_fs_worst_group": self.fit_rms,
            "full_scale": "max |ideal G^T V| over each (tile size, direction) group",
            "comparison_2fold_cv": {
                str(n): {"rms_pct_fs_worst_group": float(w), "rms_pct_fs_mean": float(m),
                         "max_pct_fs": float(x)}
                for n, w, m, x in zip(self.model_names, self.cv_rms_worst, self.cv_rms_mean,
                                      self.cv_max, strict=True)},
        }


# ---------------------------------------------------------------- fast layer evaluation


class MacLayer:
    """A physical ``(n_in, n_out)`` conductance matrix mapped onto tiles, for training.

    ``forward(x)``: ``x`` ``(B, n_in)`` or ``(n_in,)`` in [-1, 1] → column currents (A);
    ``backward(d)``: ``d`` ``(B, n_out)`` or ``(n_out,)`` → row currents (A);
    ``apply_delta(dg)``: ``G += dg`` (S, ``(n_in, n_out)``), ``T += dg * P``, ``L += dg * Q``;
    ``P``, ``Q`` and the foot scales are recomputed from ``G`` every ``refresh_every`` calls
    (0 = never) or on :meth:`refresh`. Arrays, ``G`` included, are held in ``dtype`` (float32
    for training; pass inputs and ``dg`` in it too, mixed types cost a conversion).

    Between refreshes ``P``, ``Q`` are those of the last refresh, so the error grows with the
    drift of ``G``: measured on 784x250 (tiles 112x125), a random walk moving ``G`` by 2 uS on
    average (20 % of the mean) left 0.34 % FS; a refresh takes ~10-30 ms there.

    ``exact_read=False`` drops the ``H @ L`` term of a sinh read (the IR drop seen through the
    cell's slope ``cosh`` instead of 1), so a read is one matrix product like a plain float
    layer instead of two; :func:`validate` reports its error against SPICE separately.
    """

    __slots__ = ("sur", "dtype", "refresh_every", "n_in", "n_out", "row_tiles", "col_tiles",
                 "_g", "_t", "_l", "_p", "_q", "_s_fwd", "_s_bwd", "_buf", "_count", "exact_read")

    def __init__(self, sur: MacSurrogate, g: np.ndarray, *, dtype: Any = np.float32,
                 refresh_every: int = 1000, exact_read: bool = True):
        g = np.array(g, dtype=np.float64)
        if g.ndim != 2 or not np.all(np.isfinite(g)) or np.any(g < 0):
            raise SpecError(f"g: expected a finite non-negative (n_in, n_out) matrix, got shape "
                            f"{g.shape}")
        if refresh_every < 0:
            raise SpecError(f"refresh_every={refresh_every!r}: must be >= 0")
        self.sur = sur
        self.dtype = np.dtype(dtype)
        self.refresh_every = refresh_every
        self.exact_read = exact_read
        self.n_in, self.n_out = g.shape
        self.row_tiles = split(self.n_in, sur.tile_rows)
        self.col_tiles = split(self.n_out, sur.tile_cols)
        self._g = g.astype(self.dtype)
        shape = g.shape
        self._t = np.empty(shape, self.dtype)
        self._p = np.empty(shape, self.dtype)
        nonlinear = sur.iv == "sinh" and exact_read
        self._l = np.empty(shape, self.dtype) if nonlinear else None
        self._q = np.empty(shape, self.dtype) if nonlinear else None
        foot = sur.r_foot > 0
        self._s_fwd = np.ones((len(self.row_tiles), self.n_out), self.dtype) if foot else None
        self._s_bwd = np.ones((len(self.col_tiles), self.n_in), self.dtype) if foot else None
        self._buf = np.empty(shape, self.dtype)
        self._count = 0
        self.refresh()

    @property
    def g(self) -> np.ndarray:
        """The current physical conductances (a float64 copy), S."""
        return self._g.astype(np.float64)

    def transfer(self) -> np.ndarray:
        """The current forward transfer ``T`` of the whole layer (float64 copy)."""
        return self._t.astype(np.float64)

    def terms(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
        """Views (not copies; do not write) of ``T``, ``L`` (None for a one-product read) and
        the tile scales ``P``, ``Q`` of ``T = G P``, ``L = G Q``: a caller combining several
        arrays into one read (e.g. ``F (G+ - G-) + g``) sums their ``T`` and ``L``."""
        return self._t, self._l, self._p, self._q

    def set_g(self, g: np.ndarray) -> None:
        """Replace ``G`` wholesale (same shape) and :meth:`refresh`."""
        g = np.asarray(g)
        if g.shape != self._g.shape:
            raise SpecError(f"g: expected shape {self._g.shape}, got {g.shape}")
        self._g[...] = g
        self.refresh()

    def refresh(self) -> None:
        """Recompute ``T``, ``L``, ``P``, ``Q`` and the foot scales from ``G`` (all tiles of one
        shape at once)."""
        groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for ri, rs in enumerate(self.row_tiles):
            for ci, cs in enumerate(self.col_tiles):
                groups.setdefault((rs.stop - rs.start, cs.stop - cs.start), []).append((ri, ci))
        for members in groups.values():
            stack = np.stack([self._g[self.row_tiles[ri], self.col_tiles[ci]]
                              for ri, ci in members]).astype(np.float64)
            t, lm, pm, qm, s_fwd, s_bwd = self.sur.tile_model(stack)
            for k, (ri, ci) in enumerate(members):
                rs, cs = self.row_tiles[ri], self.col_tiles[ci]
                self._t[rs, cs] = t[k]
                self._p[rs, cs] = pm[k]
                if self._l is not None and self._q is not None:
                    self._l[rs, cs] = lm[k]
                    self._q[rs, cs] = qm[k]
                if self._s_fwd is not None and self._s_bwd is not None:
                    self._s_fwd[ri, cs] = s_fwd[k]
                    self._s_bwd[ci, rs] = s_bwd[k]
        self._count = 0

    def _inputs(self, x: np.ndarray, n: int, name: str) -> tuple[np.ndarray, bool]:
        x = np.asarray(x, dtype=self.dtype)
        one = x.ndim == 1
        if one:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != n:
            raise SpecError(f"{name}: expected shape (B, {n}) or ({n},), got {x.shape}")
        return x, one

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Column currents (A) of a forward read of ``x`` (rows driven with ``x * v_read``)."""
        x, one = self._inputs(x, self.n_in, "x")
        f, h = self.sur.drive(x, self._l is not None)
        if self._s_fwd is None:
            out = f @ self._t
            if h is not None:
                out += h @ self._l
        else:
            out = np.zeros((len(x), self.n_out), self.dtype)
            for ri, rs in enumerate(self.row_tiles):
                part = f[:, rs] @ self._t[rs]
                if h is not None:
                    part += h[:, rs] @ self._l[rs]
                part *= self._s_fwd[ri]
                out += part
        return out[0] if one else out

    def backward(self, d: np.ndarray) -> np.ndarray:
        """Row currents (A) of a backward read of ``d`` (columns driven with ``d * v_read``)."""
        d, one = self._inputs(d, self.n_out, "d")
        f, h = self.sur.drive(d, self._l is not None)
        if self._s_bwd is None:
            out = f @ self._t.T
            if h is not None:
                out += h @ self._l.T
        else:
            out = np.zeros((len(d), self.n_in), self.dtype)
            for ci, cs in enumerate(self.col_tiles):
                part = f[:, cs] @ self._t[:, cs].T
                if h is not None:
                    part += h[:, cs] @ self._l[:, cs].T
                part *= self._s_bwd[ci]
                out += part
        return out[0] if one else out

    def apply_delta(self, dg: np.ndarray) -> None:
        """``G += dg`` and the incremental ``T += dg * P``, ``L += dg * Q`` (no allocation)."""
        dg = np.asarray(dg)
        if dg.shape != self._g.shape:
            raise SpecError(f"dg: expected shape {self._g.shape}, got {dg.shape}")
        self._g += dg
        np.multiply(dg, self._p, out=self._buf)
        self._t += self._buf
        if self._l is not None:
            np.multiply(dg, self._q, out=self._buf)
            self._l += self._buf
        self._tick()

    def apply_delta_at(self, idx: np.ndarray, dg: np.ndarray) -> None:
        """Sparse :meth:`apply_delta`: ``G.flat[idx] += dg`` (``idx`` distinct flat indices
        into the ``(n_in, n_out)`` matrix); costs in proportion to ``len(idx)``."""
        idx = np.asarray(idx).reshape(-1)
        dg = np.asarray(dg, dtype=self.dtype).reshape(-1)
        if idx.shape != dg.shape:
            raise SpecError(f"dg: expected {idx.size} values (one per index), got {dg.size}")
        if idx.size and (idx.min() < 0 or idx.max() >= self._g.size):
            raise SpecError(f"idx: flat indices must lie in [0, {self._g.size})")
        for arr, scale in ((self._g, None), (self._t, self._p), (self._l, self._q)):
            if arr is None:
                continue
            flat = arr.reshape(-1)
            flat[idx] += dg if scale is None else dg * scale.reshape(-1)[idx]
        self._tick()

    def _tick(self) -> None:
        self._count += 1
        if self.refresh_every and self._count >= self.refresh_every:
            self.refresh()


# ---------------------------------------------------------------- fitting


def _circuit(spec: cm.MacCharSpec) -> dict[str, Any]:
    c = spec.circuit
    n, m = spec.max_tile
    return {"v_read": c.v_read, "iv": c.iv, "iv_v0": c.iv_v0, "r_row": c.r_row,
            "r_col": c.r_col, "r_foot": c.r_foot, "g_min": c.g_min, "g_max": c.g_max,
            "tile_rows": n, "tile_cols": m}


def physics(spec: cm.MacCharSpec, form: str = "ladder", *, spec_json: str = "",
            ngspice_version: str = "") -> MacSurrogate:
    """The unfitted physics surrogate (``first_order`` or ``ladder``) of ``spec``'s circuit."""
    if form not in PHYSICS:
        raise SpecError(f"form={form!r}: physics forms are {', '.join(PHYSICS)}")
    p0, q0 = PHYSICS[form]
    return MacSurrogate(form=form, basis=form, p=np.array(p0), q=np.array(q0), fit_rms=0.0,
                        model_names=np.array([form]), cv_rms_worst=np.zeros(1),
                        cv_rms_mean=np.zeros(1), cv_max=np.zeros(1), spec_json=spec_json,
                        ngspice_version=ngspice_version, **_circuit(spec))


@dataclass(frozen=True, slots=True, eq=False)
class _Deck:
    group: int
    fold: int
    y: np.ndarray  #: (S,) SPICE currents, flattened
    ideal: np.ndarray  #: (S,)
    xp: dict[str, np.ndarray]  #: basis -> (6, S) features of P (foot-scaled)
    xq: dict[str, np.ndarray]  #: basis -> (6, S) features of Q


def _features(sur: MacSurrogate, g: np.ndarray, x: np.ndarray, direction: str,
              basis: str) -> tuple[np.ndarray, np.ndarray]:
    """P and Q feature columns ``(6, B * L)`` of one deck for ``basis`` (foot-scaled with the
    basis' physics)."""
    a, b = losses(g, sur.r_row, sur.r_col, basis)
    mons = g * monomials(a, b)
    f, h = sur.drive(x)
    phys = sur.with_form(basis)
    s_fwd, s_bwd = phys.tile_model(g)[4:]
    if direction == "forward":
        xp = np.einsum("bn,knm->kbm", f, mons) * s_fwd
        xq = np.einsum("bn,knm->kbm", h, mons) * s_fwd if h is not None else np.zeros_like(xp)
    else:
        xp = np.einsum("bm,knm->kbn", f, mons) * s_bwd
        xq = np.einsum("bm,knm->kbn", h, mons) * s_bwd if h is not None else np.zeros_like(xp)
    return xp.reshape(6, -1), xq.reshape(6, -1)


def _decks(ds: cm.MacDataset, sur: MacSurrogate) -> tuple[list[_Deck], list[str], np.ndarray]:
    spec = ds.spec()
    sizes = [(n, m) for n, m, _ in spec.tile_list]
    patterns = spec.pattern_list
    groups = [f"{n}x{m} {d}" for n, m, d in ds.groups()]
    decks = []
    for k in range(len(ds.deck_rows)):
        n, m, d = int(ds.deck_rows[k]), int(ds.deck_cols[k]), str(ds.deck_direction[k])
        g = ds.deck_g(k)
        x, y, ideal = ds.deck_reads(k)
        pat = str(ds.deck_pattern[k])
        size_i = sizes.index((n, m)) if (n, m) in sizes else 0
        pat_i = patterns.index(pat) if pat in patterns else 0
        xp, xq = {}, {}
        for basis in BASES:
            xp[basis], xq[basis] = _features(sur, g, x, d, basis)
        decks.append(_Deck(groups.index(f"{n}x{m} {d}"), (pat_i + size_i) % 2, y.ravel(),
                           ideal.ravel(), xp, xq))
    fs = np.zeros(len(groups))
    for dk in decks:
        fs[dk.group] = max(fs[dk.group], float(np.max(np.abs(dk.ideal))))
    fs[fs == 0] = 1.0
    return decks, groups, fs


def _predict(dk: _Deck, basis: str, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return p @ dk.xp[basis] + q @ dk.xq[basis]


def _lstsq(decks: list[_Deck], basis: str, fs: np.ndarray, nonlinear: bool) -> tuple[
        np.ndarray, np.ndarray]:
    """Least-squares (P, Q) on the decks: residual after the physics, rows weighted 1/FS."""
    p0, q0 = (np.array(c) for c in PHYSICS[basis])
    cols, rhs = [], []
    for dk in decks:
        w = 1.0 / fs[dk.group]
        feats = [dk.xp[basis]] + ([dk.xq[basis]] if nonlinear else [])
        cols.append(np.vstack(feats).T * w)
        rhs.append((dk.y - _predict(dk, basis, p0, q0)) * w)
    a = np.vstack(cols)
    y = np.concatenate(rhs)
    norms = np.linalg.norm(a, axis=0)
    norms[norms == 0] = 1.0
    a_s = a / norms
    k = a.shape[1]
    a_aug = np.vstack([a_s, np.sqrt(RIDGE) * np.eye(k)])
    y_aug = np.concatenate([y, np.zeros(k)])
    delta = np.linalg.lstsq(a_aug, y_aug, rcond=None)[0] / norms
    p = p0 + delta[:6]
    q = q0 + (delta[6:] if nonlinear else 0.0)
    return p, q


def _scores(decks: list[_Deck], preds: list[np.ndarray], n_groups: int,
            fs: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """(worst-group RMS, mean-group RMS, max) % FS and per-group RMS."""
    sq = np.zeros(n_groups)
    cnt = np.zeros(n_groups)
    mx = 0.0
    for dk, pr in zip(decks, preds, strict=True):
        e = (pr - dk.y) / fs[dk.group]
        sq[dk.group] += float(e @ e)
        cnt[dk.group] += e.size
        mx = max(mx, float(np.max(np.abs(e))))
    rms = 100 * np.sqrt(sq / np.maximum(cnt, 1))
    present = cnt > 0
    return float(rms[present].max()), float(rms[present].mean()), 100 * mx, rms


def fit(ds: cm.MacDataset) -> MacSurrogate:
    """Fit the MAC surrogate: compare the forms of FORMS by two-fold cross-validation over the
    dataset's matrices (fold = parity of pattern index + tile index; forward and backward reads
    of a matrix stay together), keep the lowest worst-group RMS % FS, refit it on all decks."""
    spec = ds.spec()
    base = physics(spec, spec_json=ds.spec_json, ngspice_version=ds.ngspice_version)
    nonlinear = base.iv == "sinh"
    decks, groups, fs = _decks(ds, base)
    folds = [[dk for dk in decks if dk.fold == f] for f in (0, 1)]
    both = all(folds)
    table: dict[str, tuple[float, float, float]] = {}
    table["ideal"] = _scores(decks, [dk.ideal for dk in decks], len(groups), fs)[:3]
    for form in FORMS:
        basis = form.removesuffix("_ls")
        if not form.endswith("_ls"):
            p, q = (np.array(c) for c in PHYSICS[basis])
            preds = [_predict(dk, basis, p, q) for dk in decks]
            table[form] = _scores(decks, preds, len(groups), fs)[:3]
            continue
        if not both:  # one fold only: in-sample score (reported as such in info)
            p, q = _lstsq(decks, basis, fs, nonlinear)
            preds = [_predict(dk, basis, p, q) for dk in decks]
        else:
            preds_by = {}
            for f in (0, 1):
                p, q = _lstsq(folds[1 - f], basis, fs, nonlinear)
                for dk in folds[f]:
                    preds_by[id(dk)] = _predict(dk, basis, p, q)
            preds = [preds_by[id(dk)] for dk in decks]
        table[form] = _scores(decks, preds, len(groups), fs)[:3]
    best = min(FORMS, key=lambda f: (round(table[f][0], 6), table[f][1]))
    basis = best.removesuffix("_ls")
    if best.endswith("_ls"):
        p, q = _lstsq(decks, basis, fs, nonlinear)
    else:
        p, q = (np.array(c) for c in PHYSICS[basis])
    fit_rms = _scores(decks, [_predict(dk, basis, p, q) for dk in decks], len(groups), fs)[0]
    names = list(table)
    return replace(base.with_form(best, p, q), fit_rms=fit_rms,
                   model_names=np.array(names),
                   cv_rms_worst=np.array([table[n][0] for n in names]),
                   cv_rms_mean=np.array([table[n][1] for n in names]),
                   cv_max=np.array([table[n][2] for n in names]))


# ---------------------------------------------------------------- validation


@dataclass(frozen=True, slots=True, eq=False)
class MacValidation:
    """Held-out SPICE reads against the surrogate. ``S`` outputs in all, in ``K`` groups
    (``"<rows>x<cols> <direction>"`` for tiles, ``"layer <rows>x<cols> <direction>"``)."""

    checks: list[Check]
    form: str  #: the surrogate's model form
    groups: np.ndarray  #: (K,) str
    full_scale: np.ndarray  #: (K,) A, max |ideal| over the group's held-out reads
    group: np.ndarray  #: (S,) int, group of each output
    position: np.ndarray  #: (S,) sensed-line position, 0 = first line, 1 = last line
    ideal: np.ndarray  #: (S,) A, ideal G^T V
    spice: np.ndarray  #: (S,) A, SPICE
    surrogate: np.ndarray  #: (S,) A, surrogate
    first_order: np.ndarray  #: (S,) A, first-order physics model (sinh input transform)
    seconds: float  #: wall time of the held-out SPICE runs


def _layer_plan(spec: cm.MacCharSpec, sur: MacSurrogate) -> tuple[
        np.ndarray, dict[str, np.ndarray], list[cm.Deck], list[slice]]:
    """The held-out layer: its matrix, its inputs per direction, one deck per tile and
    direction, and where each tile's sensed lines sit in the layer."""
    rows, cols, n_vec = (int(v) for v in spec.layer)
    g = cm.draw_conductances(spec, "dense", rows, cols,
                             cm.stream(spec.val_seed, cm.STREAM_VAL, rows, cols, "dense", 0))
    inputs, decks, places = {}, [], []
    for d, direction in enumerate(cm.DIRECTIONS):
        n = rows if direction == "forward" else cols
        x, kinds = cm.draw_inputs(spec, n_vec, n, cm.stream(spec.val_seed, cm.STREAM_VAL, rows,
                                                            cols, "dense", 1 + d))
        inputs[direction] = x
        for rs in split(rows, sur.tile_rows):
            for cs in split(cols, sur.tile_cols):
                gt = g[rs, cs]
                xt = x[:, rs] if direction == "forward" else x[:, cs]
                decks.append(cm.Deck(gt.shape[0], gt.shape[1], "dense", direction, gt, xt,
                                     kinds, spec.circuit.testbench(gt, xt, direction)))
                places.append(cs if direction == "forward" else rs)
    return g, inputs, decks, places


def validate(sur: MacSurrogate, spec: cm.MacCharSpec, *, store: Path | str | None = None,
             workers: int | None = None, scheduler: str | None = None,
             progress: bool = True) -> MacValidation:
    """Held-out SPICE runs never used in fitting: every ``val_tiles`` size with every
    ``val_patterns`` matrix, and the ``layer`` split into tiles (each its own SPICE array, the
    partial sums added), drawn from ``val_seed`` on the validation stream; forward and
    backward. Checks per group: surrogate RMS error (bound 1 % FS) and max error, and for
    comparison the ideal-model and first-order-physics RMS errors (their max in the detail)."""
    import time

    tiles = cm.plan(spec, spec.val_tile_list, spec.val_pattern_list, spec.val_seed,
                    cm.STREAM_VAL)
    layer = _layer_plan(spec, sur) if spec.layer else None
    all_decks = tiles + (layer[2] if layer else [])
    t0 = time.perf_counter()
    results = cm.run_decks(all_decks, store=store, workers=workers, scheduler=scheduler,
                           progress=progress, desc="validate mac")
    seconds = time.perf_counter() - t0
    first = sur.with_form("first_order")
    rows: dict[str, list[np.ndarray]] = {}

    def add(label: str, ideal: np.ndarray, spice: np.ndarray, g: np.ndarray, x: np.ndarray,
            direction: str) -> None:
        model = sur.forward if direction == "forward" else sur.backward
        model1 = first.forward if direction == "forward" else first.backward
        pos = np.broadcast_to(np.linspace(0.0, 1.0, ideal.shape[1]), ideal.shape)
        rows.setdefault(label, []).append(np.stack([
            ideal.ravel(), spice.ravel(), model(g, x).ravel(), model1(g, x).ravel(),
            pos.ravel(), model(g, x, exact_read=False).ravel()]))

    for dk, res in zip(tiles, results[:len(tiles)], strict=True):
        add(f"{dk.rows}x{dk.cols} {dk.direction}", res.ideal_currents, res.currents, dk.g,
            dk.x, dk.direction)
    if layer:
        g, inputs, ldecks, places = layer
        for direction in cm.DIRECTIONS:
            x = inputs[direction]
            total = np.zeros((len(x), g.shape[1] if direction == "forward" else g.shape[0]))
            for dk, res, place in zip(ldecks, results[len(tiles):], places, strict=True):
                if dk.direction == direction:
                    total[:, place] += res.currents
            ideal = sur.v_read * (x @ g if direction == "forward" else x @ g.T)
            add(f"layer {g.shape[0]}x{g.shape[1]} {direction}", ideal, total, g, x, direction)
    return _summarize(sur, rows, seconds)


def _summarize(sur: MacSurrogate, rows: dict[str, list[np.ndarray]],
               seconds: float) -> MacValidation:
    checks: list[Check] = []
    labels = list(rows)
    fs_all, cols = [], []
    for k, label in enumerate(labels):
        ideal, spice, pred, pred1, pos, fast = np.concatenate(rows[label], axis=1)
        fs = float(np.max(np.abs(ideal))) or 1.0
        fs_all.append(fs)
        cols.append(np.stack([np.full(ideal.size, k), pos, ideal, spice, pred, pred1]))

        def stat(e: np.ndarray, fs: float = fs) -> tuple[float, float]:
            return 100 * float(np.sqrt(np.mean(e**2))) / fs, 100 * float(np.max(np.abs(e))) / fs

        rms, mx = stat(pred - spice)
        rms_i, mx_i = stat(ideal - spice)
        rms_1, mx_1 = stat(pred1 - spice)
        rms_f, mx_f = stat(fast - spice)
        base = (f"held-out SPICE, {ideal.size} outputs; FS = max|ideal G^T V| over them = "
                f"{fs:.4g} A")
        checks += [
            Check(f"mac {label} RMS error", rms, "% FS", 1.0,
                  detail=f"surrogate ({sur.form}) vs {base}"),
            Check(f"mac {label} max error", mx, "% FS", detail=f"surrogate ({sur.form})"),
            Check(f"mac {label} fast-read RMS error", rms_f, "% FS", 1.0,
                  detail=f"layer(exact_read=False): one matrix product per read; max "
                         f"{mx_f:.3g} % FS"),
            Check(f"mac {label} ideal-model RMS error", rms_i, "% FS",
                  detail=f"ideal G^T V vs SPICE; max {mx_i:.3g} % FS"),
            Check(f"mac {label} first-order RMS error", rms_1, "% FS",
                  detail=f"first-order physics (sinh input) vs SPICE; max {mx_1:.3g} % FS"),
        ]
    data = np.concatenate(cols, axis=1)
    return MacValidation(checks=checks, form=sur.form, groups=np.array(labels),
                         full_scale=np.array(fs_all), group=data[0].astype(np.int64),
                         position=data[1], ideal=data[2], spice=data[3], surrogate=data[4],
                         first_order=data[5], seconds=seconds)
