"""Compiled periphery kernels: the DAC and ADC (``Periphery.dac`` / ``adc``, the same float32
operations as :mod:`~circuitsim.train.periphery`'s numpy path) and a ramp-ADC activation's
staircase (``acts.Act``)."""

from __future__ import annotations

import numba
import numpy as np

from circuitsim.train.kernel_base import JIT


@numba.njit(**JIT)
def dac(x: np.ndarray, levels: np.float32, managed: bool, u: np.ndarray, table: np.ndarray,
        etab: np.ndarray, act: np.ndarray, v: np.ndarray, scale: np.ndarray) -> None:
    """``Periphery.dac``: ``v`` (B, n) = the driven inputs of ``x`` (B, n), float32 — divided
    by their vector's max ``|x|`` (``managed``: noise management; ``scale`` (B, 1) gets that
    max, 1 for an all-zero vector), clipped to [-1, 1] and rounded to ``levels`` per side
    (0: ideal): to the nearest level, or with ``u`` (B, n) given (non-empty) stochastically,
    ``floor(x levels + u)``. The same float32 operations in the same order as numpy's. With
    a ``table`` (non-empty, ``2 levels + 1`` values) ``v`` gets the table's entry of each
    level instead (``Periphery.drive_table``: the MAC surrogate's drive of every level).
    With ``etab`` (non-empty, one float64 per level) each line's ``act`` (n,) float64 adds
    the entry of every level it is driven at (``Periphery.energy_table``: the ledger's
    driver energy per siemens of line)."""
    n_b, n = x.shape
    for b in range(n_b):
        m = np.float32(1.0)
        if managed:
            m = np.float32(0.0)
            for i in range(n):
                m = max(m, abs(x[b, i]))
            if m == 0:
                m = np.float32(1.0)
            scale[b, 0] = m
        for i in range(n):
            y = x[b, i] / m if managed else x[b, i]
            if levels != 0:
                y = min(max(y, np.float32(-1.0)), np.float32(1.0)) * levels
                y = np.floor(y + u[b, i]) if u.size else np.rint(y)
                if etab.size:
                    act[i] += etab[np.int64(y + levels)]
                if table.size:
                    y = table[np.int64(y + levels)]
                else:
                    y = y / levels
            v[b, i] = y


@numba.njit(**JIT)
def adc(y: np.ndarray, units: np.float32, noise: np.ndarray, bound: np.float32,
        lsb: np.float32, scale: np.ndarray) -> None:
    """``Periphery.adc`` of the read ``y`` (B, n) float32 in place, after the conversion to
    weight units (``y *= units``): plus ``noise`` (B, n; empty: none), clipped to
    ``+-bound``, rounded to multiples of ``lsb`` (0: ideal), times the noise-management
    ``scale`` (B, 1; empty: none)."""
    n_b, n = y.shape
    for b in range(n_b):
        for i in range(n):
            z = y[b, i] * units
            if noise.size:
                z += noise[b, i]
            z = min(max(z, -bound), bound)
            if lsb != 0:
                z = np.rint(z / lsb) * lsb
            if scale.size:
                z *= scale[b, 0]
            y[b, i] = z


@numba.njit(**JIT)
def staircase(z: np.ndarray, t: np.ndarray, vals: np.ndarray, out: np.ndarray) -> None:
    """A ramp-ADC activation (``acts.Act``): ``out = vals[searchsorted(t, z, "left")]``,
    i.e. the value of the number of transitions ``t`` (ascending) below each ``z``; flat
    float32 arrays."""
    for i in range(z.size):
        k = 0
        for j in range(t.size):
            k += t[j] < z[i]
        out[i] = vals[k]
