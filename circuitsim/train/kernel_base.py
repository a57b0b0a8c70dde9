"""Building blocks of the compiled (numba) training kernels (:mod:`.kernels`,
:mod:`.kernels_rpu`, :mod:`.kernels_periphery`): the jit options, per-cell counter-based
random numbers (the integers and float32 of :mod:`~circuitsim.train.streams`, computed where a
kernel needs them), the surrogate tables' interpolation, the LLVM intrinsics numba does not
expose, and the array views kernels take. The kernel modules import nothing of the package
but each other."""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: numba.njit options of every kernel: compiled code cached on disk next to the module
JIT = {"cache": True, "nogil": True}
TAIL, SEG = 2**14, 10  # streams.TAIL, streams.SEG (checked equal by a test)
U = np.uint64


@numba.njit(inline="always")
def cell_bits(skey: np.uint32, idx: np.int64) -> np.uint32:
    """``streams.cell_bits`` for one cell (the same 32-bit arithmetic, in uint32 so that a
    loop of them compiles to vector instructions)."""
    h = np.uint32(skey + np.uint32(idx) * np.uint32(0x9E3779B9))
    h ^= h >> np.uint32(16)
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h ^= h >> np.uint32(13)
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    h ^= h >> np.uint32(16)
    return h >> np.uint32(8)



@numba.njit(inline="always")
def cell_uniform(skey: np.uint32, idx: np.int64) -> np.float32:
    """``streams.cell_uniforms`` for one cell (the same float32)."""
    return np.float32(np.int32(cell_bits(skey, idx))) * np.float32(2.0 ** -24)



@numba.njit(inline="always")
def cell_normal(skey: np.uint32, idx: np.int64, tail: np.ndarray, pairs: np.ndarray
                ) -> np.float32:
    """``streams.cell_normals`` for one cell (``tail``, ``pairs``:
    ``streams.NORMAL_TABLES``; the same float32 operations)."""
    k = np.int64(cell_bits(skey, idx))
    if k < TAIL:
        return tail[k]
    if k >= (1 << 24) - TAIL:
        return -tail[(1 << 24) - 1 - k]
    frac = (np.float32(k & ((1 << SEG) - 1)) + np.float32(0.5)) * np.float32(2.0**-SEG)
    return pairs[k >> SEG, 0] + frac * pairs[k >> SEG, 1]



@numba.njit(inline="always")
def step_key(key: np.uint64, counter: np.uint64) -> np.uint32:
    """``streams.step_key`` (SplitMix64, upper half) in wrapping uint64 arithmetic."""
    z = key + counter * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.uint32((z ^ (z >> np.uint64(31))) >> np.uint64(32))



@numba.njit(**JIT)
def step_keys(key: np.uint64, counter: np.uint64, out: np.ndarray) -> None:
    """``out[r]`` = :func:`step_key` of ``counter + r`` (uint32)."""
    for r in range(out.size):
        out[r] = step_key(key, counter + np.uint64(r))



@numba.njit(**JIT)
def lut(pairs: np.ndarray, x: np.float32, x0: np.float32, inv_h: np.float32, off: int,
        hi: np.float32) -> np.float32:
    """``update._lut`` for one value: ``pairs`` (N, 2) float32 (value, slope), ``hi`` = the
    clip bound ``m - 1.001`` as float32."""
    u = (x - x0) * inv_h
    if u < np.float32(0.0):
        u = np.float32(0.0)
    elif u > hi:
        u = hi
    i = np.int64(u)
    u = u - np.float32(i)
    j = i + off
    return pairs[j, 0] + u * pairs[j, 1]



@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch the cache line of ``arr.flat[idx]`` (for writing, kept in every
    cache level); no effect on results. An LLVM intrinsic numba does not expose."""
    if not isinstance(arr, types.Array):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0")
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), i8p)
        builder.call(fn, [ptr, i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen



@intrinsic
def popcount(typingctx, x):
    """Set bits of a uint64 (LLVM's ctpop: one instruction, or a vector one in a loop)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i64, [i64]), "llvm.ctpop.i64")
        return builder.call(fn, [args[0]])

    return types.uint64(x), codegen



def flat(a: np.ndarray) -> np.ndarray:
    """``a`` as a flat view for a kernel to update in place (a C-contiguous array; raises
    instead of letting ``reshape`` hand the kernel a copy)."""
    if not a.flags.c_contiguous:
        raise ValueError("kernels.flat: the array is not C-contiguous (a kernel would update "
                         "a copy)")
    return a.reshape(-1)


def pairs32(words: np.ndarray) -> np.ndarray:
    """A surrogate table of int64 (value, slope) words as an (N, 2) float32 view."""
    return words.view(np.float32).reshape(-1, 2)
