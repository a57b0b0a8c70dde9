"""A layer of any size on the tiles of a :class:`~circuitsim.surrogate.mac.MacSurrogate`:
the fast reads training uses (:class:`MacLayer`), and how a layer is split into tiles."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from circuitsim.errors import SpecError
from circuitsim.surrogate import ladder_kernel


class TileModel(Protocol):
    """What a :class:`MacLayer` reads from its surrogate (a
    :class:`~circuitsim.surrogate.mac.MacSurrogate`)."""

    tile_rows: int
    tile_cols: int
    iv: str
    r_row: float
    r_col: float
    p: np.ndarray

    @property
    def line_scaled(self) -> bool: ...

    @property
    def plain_ladder(self) -> bool: ...

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
    ``P``, ``Q`` and the line scales are recomputed from ``G`` every ``refresh_every`` calls
    (0 = never) or on :meth:`refresh`. Arrays, ``G`` included, are held in ``dtype`` (float32
    for training; pass inputs and ``dg`` in it too, mixed types cost a conversion).

    Between refreshes ``P``, ``Q`` are those of the last refresh, so the error grows with the
    drift of ``G``: measured on 784x250 (tiles 112x125), a random walk moving ``G`` by 2 uS on
    average (20 % of the mean) left 0.34 % FS; a refresh takes ~3 ms there (a plain ladder
    surrogate's T and P, compiled: :func:`~circuitsim.surrogate.ladder_kernel.tiles_transfer`;
    ~10-30 ms through :meth:`~circuitsim.surrogate.mac.MacSurrogate.tile_model`).

    A line-scaled surrogate (finite-gain TIA, timed finite-gain integrator) scales each tile's
    sensed lines. A tile row's partial sum scaled per column is the same as its transfer
    scaled per entry, so the layer keeps ``T`` scaled for forward reads and for backward reads
    (and a pulse-width integrator's droop transfer ``T k``,
    :mod:`~circuitsim.surrogate.mac_timing`): every read is still one matrix product per term,
    and ``apply_delta`` updates each kept matrix with its own factor (``P`` times the scale).

    ``exact_read=False`` drops the ``H @ L`` term of a sinh read (the IR drop seen through the
    cell's slope ``cosh`` instead of 1) and a pulse-width integrator's droop product (its
    droop is then that of a full-scale pulse for every input: over-estimated by at most ``k
    t_read / 2`` of a short pulse's contribution, 0.5 % at gain 200 on 128 rows), so a read is
    one matrix product like a plain float layer instead of two;
    :func:`~circuitsim.surrogate.mac_validate.validate` reports its error against SPICE
    separately.
    """

    __slots__ = ("sur", "dtype", "refresh_every", "n_in", "n_out", "row_tiles", "col_tiles",
                 "_g", "_t", "_l", "_p", "_q", "_fwd", "_bwd", "_pairs", "_buf", "_count",
                 "exact_read", "_edges")

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
        self._edges = tuple(np.array([0] + [s.stop for s in tiles], np.int64)
                            for tiles in (self.row_tiles, self.col_tiles))
        self._g = g.astype(self.dtype)
        shape = g.shape
        self._t = np.empty(shape, self.dtype)
        self._p = np.empty(shape, self.dtype)
        nonlinear = sur.iv == "sinh" and exact_read
        self._l = np.empty(shape, self.dtype) if nonlinear else None
        self._q = np.empty(shape, self.dtype) if nonlinear else None
        # per direction: the (F, H, droop) transfers a read multiplies (None: term absent);
        # _pairs: every kept transfer with its factor (transfer = G * factor)
        self._fwd: list[np.ndarray | None] = []
        self._bwd: list[np.ndarray | None] = []
        self._pairs: list[tuple[np.ndarray, np.ndarray]] = []
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
        arrays into one read (e.g. ``F (G+ - G-) + g``) sums their ``T`` and ``L`` (only
        without line scales: ``sur.line_scaled`` False)."""
        return self._t, self._l, self._p, self._q

    def set_g(self, g: np.ndarray) -> None:
        """Replace ``G`` wholesale (same shape) and :meth:`refresh`."""
        g = np.asarray(g)
        if g.shape != self._g.shape:
            raise SpecError(f"g: expected shape {self._g.shape}, got {g.shape}")
        self._g[...] = g
        self.refresh()

    def _tile_groups(self) -> list[list[tuple[int, int]]]:
        groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for ri, rs in enumerate(self.row_tiles):
            for ci, cs in enumerate(self.col_tiles):
                groups.setdefault((rs.stop - rs.start, cs.stop - cs.start), []).append((ri, ci))
        return list(groups.values())

    def refresh(self) -> None:
        """Recompute ``T``, ``L``, ``P``, ``Q`` and the line scales from ``G`` (all tiles of one
        shape at once)."""
        if self._l is None and self.sur.plain_ladder:  # T and P only, compiled
            ladder_kernel.tiles_transfer(self._g, self._edges[0], self._edges[1],
                                         self.sur.r_row, self.sur.r_col, self.sur.p, self._t,
                                         self._p)
            self._pairs = [(self._t, self._p)]
            self._fwd = self._bwd = [self._t, None, None]
            self._count = 0
            return
        scaled = self.sur.line_scaled
        shape = self._g.shape
        scales = {n: np.ones(shape) for n in ("sf", "sb")} if scaled else {}
        droop = {n: np.zeros(shape) for n in ("kf", "kb")}
        has_droop = False
        for members in self._tile_groups():
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
                if scaled:  # forward scales the tile's columns, backward its rows
                    scales["sf"][rs, cs] = s_fwd[k][None, :]
                    scales["sb"][rs, cs] = s_bwd[k][:, None]
                if k_fwd is not None and k_bwd is not None and self.exact_read:
                    has_droop = True
                    droop["kf"][rs, cs] = -k_fwd[k][None, :]
                    droop["kb"][rs, cs] = -k_bwd[k][:, None]
        self._pairs = [(self._t, self._p)] + ([(self._l, self._q)] if self._l is not None
                                              else [])
        if not scaled:
            self._fwd = self._bwd = [self._t, self._l, None]
        else:
            def kept(factor: np.ndarray, scale: np.ndarray) -> np.ndarray:
                f = (factor * scale).astype(self.dtype)
                self._pairs.append((self._g * f, f))
                return self._pairs[-1][0]

            self._fwd, self._bwd = [], []
            for terms, s, k in ((self._fwd, scales["sf"], droop["kf"]),
                                (self._bwd, scales["sb"], droop["kb"])):
                terms.append(kept(self._p, s))
                terms.append(None if self._q is None else kept(self._q, s))
                terms.append(kept(self._p, k) if has_droop else None)
        self._count = 0

    def _inputs(self, x: np.ndarray, n: int, name: str) -> tuple[np.ndarray, bool]:
        x = np.asarray(x, dtype=self.dtype)
        one = x.ndim == 1
        if one:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != n:
            raise SpecError(f"{name}: expected shape (B, {n}) or ({n},), got {x.shape}")
        return x, one

    def _read(self, x: np.ndarray, terms: list[np.ndarray | None], transpose: bool) -> np.ndarray:
        f, h = self.sur.drive(x, terms[1] is not None)
        t, lm, k = (m.T if transpose and m is not None else m for m in terms)
        out = f @ t
        if h is not None and lm is not None:
            out += h @ lm
        if k is not None:
            dd = self.sur.droop_drive(x, f)
            if dd is not None:
                out += dd @ k
        return out

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Column currents (A) of a forward read of ``x`` (rows driven with ``x * v_read``)."""
        x, one = self._inputs(x, self.n_in, "x")
        out = self._read(x, self._fwd, False)
        return out[0] if one else out

    def backward(self, d: np.ndarray) -> np.ndarray:
        """Row currents (A) of a backward read of ``d`` (columns driven with ``d * v_read``)."""
        d, one = self._inputs(d, self.n_out, "d")
        out = self._read(d, self._bwd, True)
        return out[0] if one else out

    def apply_delta(self, dg: np.ndarray) -> None:
        """``G += dg`` and every kept transfer ``M += dg * factor`` (no allocation)."""
        dg = np.asarray(dg)
        if dg.shape != self._g.shape:
            raise SpecError(f"dg: expected shape {self._g.shape}, got {dg.shape}")
        self._g += dg
        for m, factor in self._pairs:
            np.multiply(dg, factor, out=self._buf)
            m += self._buf
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
        self._g.reshape(-1)[idx] += dg
        for m, factor in self._pairs:
            m.reshape(-1)[idx] += dg * factor.reshape(-1)[idx]
        self._tick()

    def _tick(self) -> None:
        self._count += 1
        if self.refresh_every and self._count >= self.refresh_every:
            self.refresh()
