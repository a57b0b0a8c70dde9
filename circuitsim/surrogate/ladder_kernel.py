"""Compiled (numba) IR-drop ladder of the MAC surrogate: :func:`ladder_loss` does what
``mac._ladder_loss_numpy`` (the reference) does with the same float64 operations in the same
order, one row at a time instead of a Python loop over the wire's nodes; :func:`tiles_transfer`
does what ``MacSurrogate.tile_model`` does for a plain ladder surrogate (``T`` and ``P`` of
every tile of a layer in one call: a layer's refresh after a transfer). The tests require
bitwise-equal results. Compiled code is cached on disk next to this file."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _ladder_rows(g: np.ndarray, r: float, out: np.ndarray) -> None:
    n, m = g.shape
    y = np.empty(m, np.float64)
    for i in range(n):
        y[m - 1] = g[i, m - 1]
        for k in range(m - 2, -1, -1):
            nxt = y[k + 1]
            y[k] = g[i, k] + nxt / (1.0 + r * nxt)
        prod = 1.0
        for k in range(m):
            prod = prod * (1.0 / (1.0 + r * y[k]))
            out[i, k] = 1.0 - prod


def ladder_loss(g: np.ndarray, r: float) -> np.ndarray:
    """Loss ``1 - v`` along the last axis of float64 ``g`` (any leading shape): a wire driven
    at index 0 through ``r`` per segment, node ``k`` loaded by ``g[..., k]`` to ground."""
    flat = np.ascontiguousarray(g, np.float64).reshape(-1, g.shape[-1])
    out = np.empty_like(flat)
    _ladder_rows(flat, float(r), out)
    return out.reshape(g.shape)


@numba.njit(cache=True, nogil=True)
def _tile_tp(g, r0, r1, c0, c1, r_row, r_col, c, t_out, p_out, a, z, prod):
    """One tile ``g[r0:r1, c0:c1]``: the row losses ``a`` (wire driven at its first column),
    the column ladder ``z`` (sensed at its first row, as the numpy reference's flipped wire),
    then ``P = poly(c, a, b)`` and ``T = G P`` in the reference's operation order. The row
    ladder is :func:`_ladder_rows`' loop written out on the tile's indices: calling it on a
    strided view of the tile made a 784x250 refresh 2.8 -> 5.5 ms (measured)."""
    m = c1 - c0
    for i in range(r1 - r0):
        a[i, m - 1] = g[r0 + i, c1 - 1]
        for k in range(m - 2, -1, -1):
            nxt = a[i, k + 1]
            a[i, k] = g[r0 + i, c0 + k] + nxt / (1.0 + r_row * nxt)
        p = 1.0
        for k in range(m):
            p = p * (1.0 / (1.0 + r_row * a[i, k]))
            a[i, k] = 1.0 - p
    for j in range(m):
        z[0, j] = g[r0, c0 + j]
        prod[j] = 1.0
    for i in range(1, r1 - r0):
        for j in range(m):
            nxt = z[i - 1, j]
            z[i, j] = g[r0 + i, c0 + j] + nxt / (1.0 + r_col * nxt)
    for i in range(r1 - r0 - 1, -1, -1):
        for j in range(m):
            prod[j] = prod[j] * (1.0 / (1.0 + r_col * z[i, j]))
            av, bv = a[i, j], 1.0 - prod[j]
            pm = c[0] + c[1] * av + c[2] * bv + c[3] * av * av + c[4] * av * bv + c[5] * bv * bv
            gv = np.float64(g[r0 + i, c0 + j])
            p_out[r0 + i, c0 + j] = pm
            t_out[r0 + i, c0 + j] = gv * pm


@numba.njit(cache=True, nogil=True)
def _tiles_tp(g, rows, cols, r_row, r_col, c, t_out, p_out):
    n_max = max(rows[1:] - rows[:-1])
    m_max = max(cols[1:] - cols[:-1])
    a = np.empty((n_max, m_max), np.float64)
    z = np.empty((n_max, m_max), np.float64)
    prod = np.empty(m_max, np.float64)
    for ri in range(rows.size - 1):
        for ci in range(cols.size - 1):
            _tile_tp(g, rows[ri], rows[ri + 1], cols[ci], cols[ci + 1], r_row, r_col, c,
                     t_out, p_out, a, z, prod)


def tiles_transfer(g: np.ndarray, rows: np.ndarray, cols: np.ndarray, r_row: float,
                   r_col: float, c: np.ndarray, t_out: np.ndarray, p_out: np.ndarray) -> None:
    """``P = poly(c, a, b)`` of the ladder losses ``(a, b)`` and ``T = G P`` of every tile of
    ``g`` (tile edges ``rows``, ``cols``: int64, first 0, last the size) into ``t_out``,
    ``p_out`` (``g``'s shape and dtype): what ``MacSurrogate.tile_model`` gives a plain ladder
    surrogate (no access transistor, wire settling or line scales), computed in float64 with
    the same operations in the same order, stored as ``t_out``'s dtype (bitwise equal)."""
    _tiles_tp(g, rows, cols, float(r_row), float(r_col), np.asarray(c, np.float64), t_out,
              p_out)
