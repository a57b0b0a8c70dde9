"""Compiled (numba) kernels of the training hot path; the numpy code they replace stays the
reference (``TrainSpec.engine = "numpy"``) and the tests compare the two on fixed seeds.

Each kernel does in one pass what the numpy path does in tens of array calls, with the same
float arithmetic in the same order, and both take their random numbers from the same
streams (drawn by the caller in the same order and shape, or computed per cell from the
counter-based streams of :mod:`~circuitsim.train.streams`), so the results are bitwise
equal. This module holds the 3T1C and PCM cell updates and :func:`warm_up`;
:mod:`.kernels_rpu` the stochastic pulse (RPU) and SBP updates, :mod:`.kernels_periphery`
the DAC, ADC and ramp-ADC staircase, :mod:`.kernel_base` what they share.

- :func:`ambrogio_pulse`: SGD change of the driven rows (``weights.sgd_rows``) -> stochastic
  rounding to whole pulses (``weights.round_pulses``) with the counter-based uniforms of
  ``kernel_base.cell_uniform`` (:func:`pulse_list`) -> the 3T1C surrogate's state-dependent
  step of each pulsed cell (``UpdateSurrogate.pulse_at``) -> its new g
  (``UpdateSurrogate.g_at``) -> the combined array transfer ``T += c dg P``
  (``ArrayRead.set_at``); :func:`absorb`: the write-and-verify rounds of a transfer.
- :func:`pcm_set`: PCM-only partial SET of the same kind of pulse list (``pcm.partial_set``).
- :func:`leak_g`, :func:`leak_into`: whole-array 3T1C leakage (``UpdateSurrogate.leak``)
  and the cells' new g (``UpdateSurrogate.g``), into the arrays and the transfer (the decay
  factors come from numpy's ``exp``, whose last bit differs from the compiled one).

Compiled code is cached on disk (``cache=True``, next to each module in ``__pycache__``), so
only the first run in a fresh checkout compiles (:func:`warm_up` compiles everything and
reports the time).
"""
from __future__ import annotations

import time

import numba
import numpy as np

from circuitsim.train.kernel_base import (
    JIT,
    TAIL,
    cell_normal,
    cell_uniform,
    lut,
    prefetch,
    step_key,
    step_keys,
)
from circuitsim.train.kernels_periphery import adc, dac, staircase
from circuitsim.train.kernels_rpu import coincidence_list, coincidences, rpu_apply, sign_list

#: hits ahead whose cache lines the pulse loop requests while it works on the current one
_AHEAD = 16


@numba.njit(**JIT)
def pulse_list(x: np.ndarray, d: np.ndarray, k: np.float32, skey: np.uint32, n_max: int,
               hit: np.ndarray, nh: np.ndarray) -> int:
    """The first pass of :func:`ambrogio_pulse` (and the list :func:`pcm_set` takes): the
    cells (flat indices into ``hit``, ascending) with a non-zero pulse count ``floor(k
    sum_b x_b d_b + u)`` (``u``: the counter-based uniform, key ``skey``), clipped to
    ``+-n_max``, into ``nh``; returns how many."""
    n_b, n_in = x.shape
    n_out = d.shape[1]
    acc = np.empty(n_out, np.float32)
    fmax = np.float32(n_max)
    hits = 0
    for row in range(n_in):
        first = True
        for b in range(n_b):
            xv = x[b, row]
            if xv == 0:
                continue
            if first:
                for j in range(n_out):
                    acc[j] = xv * d[b, j]
                first = False
            else:
                for j in range(n_out):
                    acc[j] += xv * d[b, j]
        if first:  # a row driven at 0 V by every sample fires no pulses
            continue
        base = row * n_out
        for j in range(n_out):
            nf = np.floor(acc[j] * k + cell_uniform(skey, base + j))
            acc[j] = min(max(nf, -fmax), fmax)
        for j in range(n_out):
            if acc[j] != 0:
                hit[hits] = base + j
                nh[hits] = acc[j]
                hits += 1
    return hits


@numba.njit(**JIT)
def ambrogio_pulse(x: np.ndarray, d: np.ndarray, k: np.float32, skey: np.uint32,
                   n_max: int, vc: np.ndarray, cell: np.ndarray,
                   both: np.ndarray, bothi: np.ndarray, v_min: np.float32,
                   inv_hv: np.float32, hi: np.float32, gtab: np.ndarray,
                   w_min: np.float32, inv_hw: np.float32, g2: np.ndarray, t: np.ndarray,
                   p: np.ndarray, gain: np.float32, hit: np.ndarray, nh: np.ndarray,
                   cs: np.ndarray, tally: np.ndarray) -> int:
    """Fused 2PCM+3T1C update (see the module docstring) of inputs ``x`` (B, n_in) and errors
    ``d`` (B, n_out), float32: per driven row the change in nominal steps ``k * sum_b x_b
    d_b`` (``weights.sgd_rows``; ``k`` = SGD scale / nominal step), the uniform of each cell
    from the counter-based stream of update key ``skey`` (``streams.cell_uniforms``), then
    the pulsed cells. ``vc``, ``g2`` (the g array), ``t`` (combined transfer) and ``p`` (its
    tile scale) flat over (n_in, n_out), updated in place; ``cell`` (n_in * n_out, 8)
    float32: each cell's parameters in one record (:func:`cell_records`: a pulsed cell costs
    one cache line, not six). ``both``/``bothi``/``gtab``: the surrogate's tables as (N, 2)
    float32 pairs of ``M`` points per row; ``hi`` = float32(M - 1.001), the look-ups' clip
    bound. ``hit`` (int64) and ``nh`` (float32), n_in * n_out each: scratch for the list of
    pulsed cells. ``tally`` (4,) float64 adds the up and down pulses and the V_C they moved
    (up, down, sum of up dV_C, sum of down |dV_C|: the ledger's counts). Returns the number
    of pulsed cells.

    Two passes: the pulse counts of every driven cell (vector instructions: a few tenths of
    a ns per cell) into a list of the pulsed ones, then the pulsed cells (a few per cent),
    each requesting the cache lines of the one ``_AHEAD`` places down the list, so that
    their state arrives from memory while earlier cells compute (the state of a large layer
    lives in the last-level cache or DRAM)."""
    one_m = np.float32(np.floor(hi) + np.float32(1.0))  # M - 1, exact
    hits = pulse_list(x, d, k, skey, n_max, hit, nh)
    # the pulsed cells in three passes of short independent iterations, so that the
    # processor keeps many of their memory accesses in flight at once: state and the first
    # table look-up; the inverse look-up; the new g and the stores
    for h in range(hits):
        if h + _AHEAD < hits:
            q = hit[h + _AHEAD]
            prefetch(vc, q)
            prefetch(cell, q * 8)
        idx = hit[h]
        n = nh[h]
        col = 0 if n > 0 else 2
        c = lut(both, vc[idx], v_min, inv_hv, np.int64(cell[idx, col]), hi) \
            + cell[idx, col + 1] * n
        cs[h] = min(max(c, np.float32(0.0)), np.float32(1.0))
    for h in range(hits):
        idx = hit[h]
        n = nh[h]
        v = vc[idx]
        up = n > 0
        out = lut(bothi, cs[h], np.float32(0.0), one_m, np.int64(cell[idx, 0 if up else 2]), hi)
        new = max(out, v) if up else min(out, v)
        vc[idx] = new
        if up:
            tally[0] += n
            tally[2] += np.float64(new) - np.float64(v)
        else:
            tally[1] -= n
            tally[3] += np.float64(v) - np.float64(new)
    for h in range(hits):
        if h + _AHEAD < hits:
            q = hit[h + _AHEAD]
            prefetch(g2, q)
            prefetch(t, q)
            prefetch(p, q)
        idx = hit[h]
        g_new = lut(gtab, vc[idx] - cell[idx, 4], w_min, inv_hw, 0, hi) * cell[idx, 5]
        dg = g_new - g2[idx]
        g2[idx] += dg
        t[idx] += gain * dg * p[idx]
    return hits


@numba.njit(inline="always")
def _pulse1(v: np.float32, n: np.float32, cell: np.ndarray, i: np.int64, both: np.ndarray,
            bothi: np.ndarray, v_min: np.float32, inv_hv: np.float32, one_m: np.float32,
            hi: np.float32) -> np.float32:
    """V_C of cell ``i`` after ``n`` (signed, whole) pulses from ``v``
    (``UpdateSurrogate._move``: forward look-up, shift, inverse look-up, never backwards)."""
    col = 0 if n > 0 else 2
    off = np.int64(cell[i, col])
    c = lut(both, v, v_min, inv_hv, off, hi) + cell[i, col + 1] * n
    c = min(max(c, np.float32(0.0)), np.float32(1.0))
    out = lut(bothi, c, np.float32(0.0), one_m, off, hi)
    return max(out, v) if n > 0 else min(out, v)


@numba.njit(**JIT)
def absorb(vc: np.ndarray, a: np.ndarray, gs: np.ndarray, iters: int, cell: np.ndarray,
           both: np.ndarray, bothi: np.ndarray, v_min: np.float32, inv_hv: np.float32,
           hi: np.float32, gtab: np.ndarray, w_min: np.float32, inv_hw: np.float32,
           tally: np.ndarray) -> None:
    """The write-and-verify rounds of a 2PCM+3T1C transfer (``AmbrogioWeights._write``), in
    place on ``vc`` (flat float32 over (n_in, n_out)): each round a cell's conductance error
    ``want = a - (g - gs)`` (float64; ``a`` = polarity times the target left after the PCM
    pair, ``gs`` (n_out,) the column reference's g) becomes ``n = sign(want) max(1,
    rint(|want| / step))`` pulses (none where ``|want| <= step / 2``; clipped to +-64) at
    the cell's own step ``step = g(v + dv) - g(v)`` of one pulse in that direction. A cell
    without pulses in a round keeps its V_C, so it has none in later rounds either: the
    cells are independent and the numpy path's stop when no cell pulses is each cell's own
    stop. ``tally`` (4,) adds up and down pulses and the V_C they moved (as
    :func:`ambrogio_pulse`'s). Tables and records as :func:`ambrogio_pulse` takes them."""
    one_m = np.float32(np.floor(hi) + np.float32(1.0))
    n_out = gs.size
    live = np.ones(vc.size, np.bool_)
    # rounds outside, cells inside: the cells' look-up chains are independent, so the
    # processor overlaps consecutive cells (a cell's own rounds are one dependent chain)
    for _ in range(iters):
        for i in range(vc.size):
            if not live[i]:
                continue
            v = vc[i]
            g = lut(gtab, v - cell[i, 4], w_min, inv_hw, 0, hi) * cell[i, 5]
            want = a[i] - (np.float64(g) - np.float64(gs[i % n_out]))
            d = np.float32(1.0) if want > 0 else np.float32(-1.0)
            s = _pulse1(v, d, cell, i, both, bothi, v_min, inv_hv, one_m, hi) - v
            step = lut(gtab, (v + s) - cell[i, 4], w_min, inv_hw, 0, hi) * cell[i, 5] - g
            step = max(step if want > 0 else -step, np.float32(1e-12))
            if not abs(want) > np.float64(np.float32(0.5) * step):
                live[i] = False
                continue
            n = max(1.0, np.rint(abs(want) / np.float64(step)))
            n = np.float32(min(n, 64.0) if want > 0 else -min(n, 64.0))
            new = _pulse1(v, n, cell, i, both, bothi, v_min, inv_hv, one_m, hi)
            vc[i] = new
            if n > 0:
                tally[0] += n
                tally[2] += np.float64(new - v)
            else:
                tally[1] -= n
                tally[3] -= np.float64(new - v)


@numba.njit(**JIT)
def pcm_set(hit: np.ndarray, nh: np.ndarray, key: np.uint64, base: np.uint64,
            tail: np.ndarray, pairs: np.ndarray, g_reset: float, g_max: float, step0: float,
            gamma: float, sigma: np.float32, g0: np.ndarray, g1: np.ndarray, t: np.ndarray,
            p0: np.ndarray, p1: np.ndarray, c0: np.float32, c1: np.float32
            ) -> tuple[float, int]:
    """PCM-only partial SET of a pulse list (:func:`pulse_list`): ``|n|`` pulses on G+
    (``g0``, n > 0) or G- (``g1``) of each listed cell (``pcm.partial_set`` in float64:
    step ``step0 (1 - G / g_max)**gamma`` times ``max(1 + sigma z, 0)``, ``z`` the
    :func:`cell_normal` of the cell with key :func:`step_key` ``(key, base + k)`` for pulse
    ``k`` = 0, 1, ...), and the change into the combined transfer ``t``
    (``ArrayRead.set_at``; gains ``c0``, ``c1``). Returns the pulses and a bit mask of the
    arrays that changed (1: G+, 2: G-)."""
    total = 0.0
    changed = 0
    for h in range(hit.size):
        i = hit[h]
        n = nh[h]
        g = g0 if n > 0 else g1
        changed |= 1 if n > 0 else 2
        total += abs(n)
        cur = max(np.float64(g[i]), g_reset)
        for r in range(int(abs(n))):
            z = cell_normal(step_key(key, base + np.uint64(r)), i, tail, pairs)
            factor = max(np.float32(1.0) + sigma * z, np.float32(0.0))
            u = min(max(1.0 - cur / g_max, 0.0), 1.0)
            new = min(cur + step0 * u**gamma * np.float64(factor), g_max)
            cur = cur if cur >= g_max else new
        dg = np.float32(cur) - g[i]
        g[i] += dg
        if n > 0:
            t[i] += c0 * dg * p0[i]
        else:
            t[i] += c1 * dg * p1[i]
    return total, changed


@numba.njit(**JIT)
def leak_g(vc: np.ndarray, lk_s: np.ndarray, lk_off: np.ndarray,
           lk_offi: np.ndarray, e_hi: np.ndarray, e_lo: np.ndarray, ztab: np.ndarray,
           zitab: np.ndarray, w_min: np.float32, inv_hw: np.float32, inv_hz: np.float32,
           hi: np.float32, hiz: np.float32, rd_c: np.ndarray, rd_s: np.ndarray,
           gtab: np.ndarray, g_out: np.ndarray) -> None:
    """In place: ``vc`` after a hold (``UpdateSurrogate.leak``) and ``g_out`` = the cells' g
    at the new ``vc`` (``UpdateSurrogate.g``); flat arrays. ``e_hi``, ``e_lo``: each cell's
    decay factors ``exp(-k dt)`` above/below equilibrium (numpy's float32 exp, computed once
    per hold length by the caller, so the result is bitwise numpy's). ``hi``, ``hiz``:
    float32(M - 1.001), float32(MZ - 1.001), the look-ups' clip bounds."""
    for i in range(vc.size):
        x = vc[i] - lk_s[i]
        z = lut(ztab, x, w_min, inv_hw, lk_off[i], hi)
        z = z * (e_hi[i] if z > 0 else e_lo[i])
        v = lut(zitab, z, np.float32(-1.0), inv_hz, lk_offi[i], hiz) + lk_s[i]
        vc[i] = v
        g_out[i] = lut(gtab, v - rd_c[i], w_min, inv_hw, 0, hi) * rd_s[i]


@numba.njit(**JIT)
def leak_into(vc: np.ndarray, lk_s: np.ndarray, lk_off: np.ndarray,
              lk_offi: np.ndarray, e_hi: np.ndarray, e_lo: np.ndarray, ztab: np.ndarray,
              zitab: np.ndarray, w_min: np.float32, inv_hw: np.float32, inv_hz: np.float32,
              hi: np.float32, hiz: np.float32, rd_c: np.ndarray, rd_s: np.ndarray,
              gtab: np.ndarray, g2: np.ndarray, p2: np.ndarray, gain2: np.float32,
              gs: np.ndarray, g3: np.ndarray, p3: np.ndarray, gain3: np.float32,
              t: np.ndarray) -> None:
    """One pass of the whole-array leakage of a 2PCM+3T1C layer: :func:`leak_g` of every
    cell (the same lines; flat over (n_in, n_out)) into the g array ``g2``, the column
    references' new g ``gs`` (n_out,) into their broadcast array ``g3``, and both changes
    into the combined transfer ``t`` (``ArrayRead.set_all(2, ...)`` then ``set_all(3,
    ...)``: per cell ``dg = new - old; g += dg; t += gain dg p``, the same float32
    operations in that order)."""
    n_out = gs.size
    for row in range(vc.size // n_out):
        for j in range(n_out):
            i = row * n_out + j
            z = lut(ztab, vc[i] - lk_s[i], w_min, inv_hw, lk_off[i], hi)
            z = z * (e_hi[i] if z > 0 else e_lo[i])
            v = lut(zitab, z, np.float32(-1.0), inv_hz, lk_offi[i], hiz) + lk_s[i]
            vc[i] = v
            dg = lut(gtab, v - rd_c[i], w_min, inv_hw, 0, hi) * rd_s[i] - g2[i]
            g2[i] += dg
            ti = t[i] + gain2 * dg * p2[i]
            dg = gs[j] - g3[i]
            g3[i] += dg
            t[i] = ti + gain3 * dg * p3[i]


def cell_records(up_off: np.ndarray, up_k: np.ndarray, dn_off: np.ndarray, dn_k: np.ndarray,
                 rd_c: np.ndarray, rd_s: np.ndarray, dn_shift: int) -> np.ndarray:
    """3T1C cell parameters as (N, 8) float32 records for :func:`ambrogio_pulse`: up offset,
    up k, down offset (into the stacked tables, ``+ dn_shift``), down k, read shift, read
    scale (offsets are table indices < 2**24, exact in float32)."""
    rec = np.zeros((up_k.size, 8), np.float32)
    rec[:, 2] = np.asarray(dn_off).reshape(-1) + dn_shift
    if rec[:, 2].max(initial=0) >= 2**24:
        raise ValueError("cell_records: table offsets beyond float32's exact integers")
    for col, a in ((0, up_off), (1, up_k), (3, dn_k), (4, rd_c), (5, rd_s)):
        rec[:, col] = np.asarray(a).reshape(-1)
    return rec


_WARM: list[float] = []


def warm_up() -> float:
    """Compile (or load from the disk cache) every kernel, once per process; returns the
    seconds that took (the first call's time on later calls). Model building calls it, so
    the loading is not counted as training time."""
    if _WARM:
        return _WARM[0]
    t0 = time.perf_counter()
    f = np.float32
    tab = np.zeros((8, 2), np.float32)
    z1 = np.zeros(4, np.float32)
    zi = np.zeros(4, np.int64)
    ambrogio_pulse(np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32), f(1),
                   np.uint32(1), 8, z1.copy(), np.zeros((4, 8), np.float32), tab, tab,
                   f(0), f(1), f(4), tab, f(0), f(1), z1.copy(), z1.copy(), z1, f(1),
                   np.zeros(4, np.int64), z1.copy(), z1.copy(), np.zeros(4))
    hit, nh = np.zeros(4, np.int64), z1.copy()
    pulse_list(np.ones((1, 2), f), np.ones((1, 2), f), f(1), np.uint32(1), 8, hit, nh)
    step_keys(np.uint64(1), np.uint64(2), np.zeros(2, np.uint32))
    pcm_set(hit[:1], nh[:1], np.uint64(1), np.uint64(2), np.zeros(TAIL, f),
            np.zeros((2**14 + 1, 2), f), 1e-7, 2e-5, 1e-6, 1.0, f(0.3), z1.copy(), z1.copy(),
            z1.copy(), z1, z1, f(1), f(-1))
    leak_g(z1.copy(), z1, zi, zi, z1, z1, tab, tab, f(0), f(1), f(1), f(4), f(4), z1, z1,
           tab, z1.copy())
    one = np.ones((2, 3), np.float32)
    coincidences(one, one, 1, 2)
    i9, f9 = np.zeros(9, np.int64), np.zeros(9, np.float32)  # 3 x 3 devices
    u1 = np.uint32(1)
    coincidence_list(one, one, f(1), 2, u1, u1, i9, f9, f9.copy())
    sign_list(one, one, i9, f9, f9.copy())
    rpu_apply(i9[:1], f9[:1], f9[:1], f9, f9, f9, f9.copy(), f(0.3), u1, u1,
              np.zeros(TAIL, f), np.zeros((2**14 + 1, 2), f), f(1), f(1), f9.copy(), f9.copy(),
              f9.copy(), f9, f9, f(1), f(-1))
    staircase(z1, z1, np.zeros(5, f), z1.copy())
    absorb(z1.copy(), np.zeros(4), z1[:2], 2, np.zeros((4, 8), f), tab, tab, f(0), f(1), f(4),
           tab, f(0), f(1), np.zeros(4))
    e2 = np.zeros((0, 0), np.float32)
    no, e7 = np.zeros(0), np.zeros(7)
    dac(one, f(3), True, e2, np.zeros(0, f), no, no, one.copy(), np.ones((2, 1), f))
    dac(one, f(3), True, e2, np.zeros(7, f), e7, np.zeros(3), one.copy(), np.ones((2, 1), f))
    adc(one.copy(), f(1), e2, f(1), f(0.5), e2)
    _WARM.append(time.perf_counter() - t0)
    return _WARM[0]
