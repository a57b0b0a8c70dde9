"""Compiled (numba) IR-drop ladder of the MAC surrogate: :func:`ladder_loss` does what
``mac._ladder_loss_numpy`` (the reference) does with the same float64 operations in the same
order, one row at a time instead of a Python loop over the wire's nodes; the tests require
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
