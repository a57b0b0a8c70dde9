"""Counter-based random streams of the training engine: a value per (update, cell) computed
from integers, so a compiled kernel evaluates each cell's own draw where it needs it
(``kernel_base.cell_uniform`` / ``kernel_base.cell_normal``) instead of reading an array drawn in
advance, and the numpy reference computes the same bits.

- :func:`step_key`: the 32-bit key of update number ``counter`` of a layer's 64-bit stream key
  (SplitMix64).
- :func:`cell_uniforms`: U[0, 1) with 24 bits, the murmur3 finalizer of ``key + idx *
  golden`` (mod 2**32).
- :func:`cell_normals`: N(0, 1) by the inverse normal CDF of the same 24-bit integer ``k`` at
  ``(k + 1/2) / 2**24`` (so |z| <= 5.42): exact (tabulated per ``k``) in the outer 16,384
  integers of each tail (|z| > 3.1), elsewhere linear within segments of 1,024 integers
  (interpolation error < 2e-4; :data:`NORMAL_TABLES`, 192 kB).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

_M64 = (1 << 64) - 1
_M32 = np.uint64(0xFFFFFFFF)
#: 24-bit draws k in [0, 2**24): the TAIL outermost integers of each tail tabulated exactly,
#: the rest linear within segments of 2**SEG integers
BITS, TAIL, SEG = 24, 2**14, 10
COARSE = 2 ** (BITS - SEG)


def step_key(key: int, counter: int) -> int:
    """32-bit key of update number ``counter`` of a stream with 64-bit ``key``: the
    SplitMix64 output of ``key + counter * golden``, upper half (Python integers, exact)."""
    z = (key + counter * 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return (z ^ (z >> 31)) >> 32


def cell_bits(skey: int, idx: np.ndarray) -> np.ndarray:
    """The 24-bit integers (uint64) of the cells at flat indices ``idx`` for the update with
    key ``skey``: the murmur3 finalizer of ``skey + idx * golden`` (mod 2**32; a bijection of
    the index, so the cells of one update hash to distinct words), top 24 bits."""
    h = (np.uint64(skey) + np.asarray(idx, np.uint64) * np.uint64(0x9E3779B9)) & _M32
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & _M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _M32
    h ^= h >> np.uint64(16)
    return h >> np.uint64(32 - BITS)


def cell_uniforms(skey: int, idx: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) (float32, 24 bits) of the cells at flat indices ``idx`` for the
    update with key ``skey`` (:func:`cell_bits`)."""
    return cell_bits(skey, idx).astype(np.float32) * np.float32(2.0 ** -BITS)


def _normal_tables() -> tuple[np.ndarray, np.ndarray]:
    """(tail, coarse): the inverse normal CDF at ``(k + 1/2) / 2**24`` for the lowest TAIL
    integers k (float32), and (value, slope) float32 pairs at the COARSE + 1 segment bounds
    ``u = i / COARSE`` (the outermost bounds, never interpolated to, set to the tail's
    innermost values so the slopes stay finite)."""
    n = 2.0 ** BITS
    tail = ndtri((np.arange(TAIL) + 0.5) / n).astype(np.float32)
    u = np.arange(COARSE + 1) / COARSE
    u[0], u[-1] = (TAIL - 0.5) / n, 1 - (TAIL - 0.5) / n
    v = ndtri(u).astype(np.float32)
    pairs = np.zeros((COARSE + 1, 2), np.float32)
    pairs[:, 0] = v
    pairs[:-1, 1] = np.diff(v)
    return tail, pairs


#: the tables of :func:`cell_normals` (``kernel_base.cell_normal`` takes them as arguments)
NORMAL_TABLES = _normal_tables()


def normals_from_bits(k: np.ndarray) -> np.ndarray:
    """N(0, 1) (float32) of 24-bit integers ``k`` (see the module docstring)."""
    tail, pairs = NORMAL_TABLES
    k = np.asarray(k, np.int64)
    seg = k >> SEG
    frac = ((k & (2**SEG - 1)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-SEG)
    z = pairs[seg, 0] + frac * pairs[seg, 1]
    low, high = k < TAIL, k >= (1 << BITS) - TAIL
    z[low] = tail[k[low]]
    z[high] = -tail[(1 << BITS) - 1 - k[high]]
    return z


def cell_normals(skey: int, idx: np.ndarray) -> np.ndarray:
    """Standard normals (float32) of the cells at flat indices ``idx`` for the update with
    key ``skey`` (:func:`cell_bits`, :func:`normals_from_bits`)."""
    return normals_from_bits(cell_bits(skey, idx))
