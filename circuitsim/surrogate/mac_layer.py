"""A layer of any size on the tiles of a :class:`~circuitsim.surrogate.mac.MacSurrogate`:
the fast reads training uses (:class:`MacLayer`), and how a layer is split into tiles."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from circuitsim.errors import SpecError


class TileModel(Protocol):
    """What a :class:`MacLayer` reads from its surrogate (a
    :class:`~circuitsim.surrogate.mac.MacSurrogate`)."""

    tile_rows: int
    tile_cols: int
    iv: str

    @property
    def line_scaled(self) -> bool: ...

    @property
    def pulse_droop(self) -> bool: ...

    def tile_model(self, g: np.ndarray) -> tuple[np.ndarray, ...]: ...

    def drive(self, x: np.ndarray, with_h: bool = True) -> tuple[np.ndarray, np.ndarray | None]: ...

    def droop_drive(self, x: np.ndarray, f: np.ndarray) -> np.ndarray | None: ...


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

    A line-scaled surrogate (finite-gain TIA, timed finite-gain integrator) reads tile row by
    tile row, each sensed line scaled; pulse-width integrators subtract a second, droop-weighted
    product (:mod:`~circuitsim.surrogate.mac_timing`).

    ``exact_read=False`` drops the ``H @ L`` term of a sinh read (the IR drop seen through the
    cell's slope ``cosh`` instead of 1), so a read is one matrix product like a plain float
    layer instead of two; :func:`~circuitsim.surrogate.mac_validate.validate` reports its error
    against SPICE separately.
    """

    __slots__ = ("sur", "dtype", "refresh_every", "n_in", "n_out", "row_tiles", "col_tiles",
                 "_g", "_t", "_l", "_p", "_q", "_s_fwd", "_s_bwd", "_k_fwd", "_k_bwd", "_buf",
                 "_count", "exact_read")

    def __init__(self, sur: TileModel, g: np.ndarray, *, dtype: Any = np.float32,
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
        foot = sur.line_scaled
        self._s_fwd = np.ones((len(self.row_tiles), self.n_out), self.dtype) if foot else None
        self._s_bwd = np.ones((len(self.col_tiles), self.n_in), self.dtype) if foot else None
        droop = sur.pulse_droop
        self._k_fwd = np.zeros((len(self.row_tiles), self.n_out), self.dtype) if droop else None
        self._k_bwd = np.zeros((len(self.col_tiles), self.n_in), self.dtype) if droop else None
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
            t, lm, pm, qm, s_fwd, s_bwd, k_fwd, k_bwd = self.sur.tile_model(stack)
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
                if self._k_fwd is not None and self._k_bwd is not None:
                    self._k_fwd[ri, cs] = k_fwd[k]
                    self._k_bwd[ci, rs] = k_bwd[k]
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
        dd = None if self._k_fwd is None else self.sur.droop_drive(x, f)
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
                if dd is not None:
                    part -= (dd[:, rs] @ self._t[rs]) * self._k_fwd[ri]
                out += part
        return out[0] if one else out

    def backward(self, d: np.ndarray) -> np.ndarray:
        """Row currents (A) of a backward read of ``d`` (columns driven with ``d * v_read``)."""
        d, one = self._inputs(d, self.n_out, "d")
        f, h = self.sur.drive(d, self._l is not None)
        dd = None if self._k_bwd is None else self.sur.droop_drive(d, f)
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
                if dd is not None:
                    part -= (dd[:, cs] @ self._t[:, cs].T) * self._k_bwd[ci]
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
