"""Compiled kernels of the stochastic pulse update (Gokmen's RPU rule) and SBP's one-pulse
Manhattan rule; the numpy code of :mod:`~circuitsim.train.rpu` stays the reference:

- :func:`coincidence_list` / :func:`sign_list` and :func:`rpu_apply`: the pulsed devices of
  an update (``RpuArray.pulse_update`` / ``apply_pulses``) and their conductance pairs;
- :func:`coincidences` (bit masks and popcounts): the numpy rule's coincidence counts.
"""

from __future__ import annotations

import numba
import numpy as np

from circuitsim.train.kernel_base import JIT, U, cell_normal, cell_uniform, popcount


@numba.njit(**JIT)
def _masks(a: np.ndarray, n_b: int, bl: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample and line: the slots that fired as a bit mask, and the line's sign."""
    n = a.shape[1]
    mask = np.zeros((n_b, n), np.uint64)
    sign = np.zeros((n_b, n), np.int8)
    for s in range(n_b):
        for k in range(bl):
            bit = U(1) << U(k)
            for i in range(n):
                v = a[s * bl + k, i]
                if v != 0:
                    mask[s, i] |= bit
                    sign[s, i] = 1 if v > 0 else -1
    return mask, sign


@numba.njit(**JIT)
def coincidences(a: np.ndarray, b: np.ndarray, n_b: int, bl: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``rpu.coincidences``: up/down coincidence counts (int32, (n_in, n_out)) of the row
    pulse slots ``a`` (B * BL, n_in) and column slots ``b`` (B * BL, n_out) in {-1, 0, +1}
    (``bl`` <= 64)."""
    mx, sx = _masks(a, n_b, bl)
    md, sd = _masks(b, n_b, bl)
    n_in, n_out = a.shape[1], b.shape[1]
    up = np.zeros((n_in, n_out), np.int32)
    down = np.zeros((n_in, n_out), np.int32)
    for s in range(n_b):
        for i in range(n_in):
            m = mx[s, i]
            if m == 0:
                continue
            for j in range(n_out):
                c = popcount(m & md[s, j])
                if c == 0:
                    continue
                if sx[s, i] * sd[s, j] > 0:
                    down[i, j] += np.int32(c)
                else:
                    up[i, j] += np.int32(c)
    return up, down


@numba.njit(**JIT)
def pulse_masks(v: np.ndarray, c: np.float32, bl: int, skey: np.uint32
                ) -> tuple[np.ndarray, np.ndarray]:
    """``rpu.pulse_trains`` of lines ``v`` (B, n) as :func:`_masks` gives them: per sample
    and line the slots that fired (bit ``k`` of slot ``k``: its uniform of index ``(s bl +
    k) n + i`` below ``min(1, c |v|)``) and the line's sign."""
    n_b, n = v.shape
    mask = np.zeros((n_b, n), np.uint64)
    sign = np.zeros((n_b, n), np.int8)
    p = np.empty(n, np.float32)
    for s in range(n_b):
        for i in range(n):
            p[i] = min(c * abs(v[s, i]), np.float32(1.0))
            sign[s, i] = 1 if v[s, i] > 0 else -1
        for k in range(bl):  # over the lines innermost: vector instructions
            base = (s * bl + k) * n
            for i in range(n):
                fire = cell_uniform(skey, base + i) < p[i]
                mask[s, i] |= U(fire) << U(k)
    return mask, sign


@numba.njit(inline="always")
def _fired(mask: np.ndarray, line: int) -> bool:
    """Whether line ``line`` of ``mask`` (B, n) fired in any sample."""
    out = False
    for s in range(mask.shape[0]):
        out |= mask[s, line] != 0
    return out


@numba.njit(**JIT)
def coincidence_list(x: np.ndarray, d: np.ndarray, c: np.float32, bl: int,
                     key_rows: np.uint32, key_cols: np.uint32, idx: np.ndarray,
                     ups: np.ndarray, downs: np.ndarray) -> int:
    """The stochastic pulse update of inputs ``x`` (B, n_in) and errors ``d`` (B, n_out) as a
    list: pulse trains (:func:`pulse_masks`, ``c`` = sqrt(lr / (bl dw_min))), then the
    flat indices (ascending, ``np.flatnonzero``'s order) of the devices with any
    coincidence into ``idx``, their up and down counts (:func:`coincidences`) into ``ups``
    / ``downs`` (float32, exact integers); returns how many. Sample by sample, each row
    that fired visits only the columns that fired in that sample (small errors leave most
    columns silent: ~1 % of the first layer's per sample on Fashion-MNIST, 2-6 % of an
    LSTM's), those of its own sign (down) and of the other (up) in two branch-free loops,
    counting into the rows and columns that fired in any sample."""
    n_b = x.shape[0]
    mx, sx = pulse_masks(x, c, bl, key_rows)
    md, sd = pulse_masks(d, c, bl, key_cols)
    n_in, n_out = x.shape[1], d.shape[1]
    rows = np.empty(n_in, np.int64)
    n_r = 0
    for i in range(n_in):
        rows[n_r] = i
        n_r += _fired(mx, i)
    cols = np.empty(n_out, np.int64)
    n_c = 0
    for j in range(n_out):
        cols[n_c] = j
        n_c += _fired(md, j)
    up = np.zeros((n_r, n_c), np.int32)  # n_b bl < 2**24 (rpu._check_batch): no overflow
    dn = np.zeros((n_r, n_c), np.int32)
    # one sample's columns: their masks split by sign (0 in the other sign's array) and the
    # lists of those that fired, as positions in the union
    mp = np.empty(n_c, np.uint64)
    mn = np.empty(n_c, np.uint64)
    lp = np.empty(n_c, np.int64)
    ln = np.empty(n_c, np.int64)
    for s in range(n_b):
        k_p = 0
        k_n = 0
        for u in range(n_c):
            m = md[s, cols[u]]
            neg = sd[s, cols[u]] < 0
            mp[u] = 0 if neg else m
            mn[u] = m if neg else 0
            lp[k_p] = u
            ln[k_n] = u
            k_p += (m != 0) & (not neg)
            k_n += (m != 0) & neg
        for r in range(n_r):
            m = mx[s, rows[r]]
            if m == 0:
                continue
            if sx[s, rows[r]] > 0:
                same, l_same, k_same, other, l_other, k_other = mp, lp, k_p, mn, ln, k_n
            else:
                same, l_same, k_same, other, l_other, k_other = mn, ln, k_n, mp, lp, k_p
            for h in range(k_same):
                u = l_same[h]
                dn[r, u] += np.int32(popcount(m & same[u]))
            for h in range(k_other):
                u = l_other[h]
                up[r, u] += np.int32(popcount(m & other[u]))
    cnt = 0
    for r in range(n_r):
        for u in range(n_c):
            if up[r, u] + dn[r, u]:
                idx[cnt] = rows[r] * n_out + cols[u]
                ups[cnt] = up[r, u]
                downs[cnt] = dn[r, u]
                cnt += 1
    return cnt


@numba.njit(**JIT)
def sign_list(x: np.ndarray, d: np.ndarray, idx: np.ndarray, ups: np.ndarray,
              downs: np.ndarray) -> int:
    """SBP's Manhattan rule as a list: one pulse per device in the sign of ``-sum_b x_b
    d_b`` (``x`` binary, ``d`` ternary, so the float32 sums are exact integers in any
    order), up (``ups`` = 1) where that sum is negative, down where positive; flat indices
    ascending into ``idx``. Returns how many devices are pulsed."""
    n_b, n_in = x.shape
    n_out = d.shape[1]
    acc = np.empty(n_out, np.float32)
    cnt = 0
    for i in range(n_in):
        acc[:] = 0
        live = False
        for s in range(n_b):  # rows at 0 in every sample are skipped
            xv = x[s, i]
            if xv != 0:
                live = True
                for j in range(n_out):
                    acc[j] += xv * d[s, j]
        if not live:
            continue
        for j in range(n_out):
            if acc[j] != 0:
                idx[cnt] = i * n_out + j
                ups[cnt] = np.float32(1.0) if acc[j] < 0 else np.float32(0.0)
                downs[cnt] = np.float32(1.0) if acc[j] > 0 else np.float32(0.0)
                cnt += 1
    return cnt


@numba.njit(**JIT)
def rpu_apply(idx: np.ndarray, ku: np.ndarray, kd: np.ndarray, step_up: np.ndarray,
              step_down: np.ndarray, bound: np.ndarray, w: np.ndarray, c2c: np.float32,
              key_up: np.uint32, key_dn: np.uint32, tail: np.ndarray, pairs: np.ndarray,
              g_mid: np.float32, half: np.float32, g0: np.ndarray,
              g1: np.ndarray, t: np.ndarray, p0: np.ndarray, p1: np.ndarray,
              c0: np.float32, c1: np.float32) -> float:
    """The pulsed devices of a list (:func:`coincidence_list` / :func:`sign_list`: ``ku``
    up and ``kd`` down pulses at flat ``idx``) in one pass: the RPU step with
    cycle-to-cycle noise (when ``c2c`` > 0: :func:`cell_normal` of the device's index,
    keys ``key_up`` / ``key_dn``, tables ``streams.NORMAL_TABLES``) and bounds
    (``RpuArray._apply``), the conductance pair ``g_mid +- w half`` (``RpuWeights._pair``)
    into arrays ``g0``, ``g1`` and the combined transfer ``t`` (``ArrayRead.set_at`` of
    array 0, then of array 1, gains ``c0``, ``c1``); the same float32 operations. Returns
    the pulses (up and down)."""
    total = 0.0
    for h in range(idx.size):
        total += ku[h] + kd[h]
        i = idx[h]
        su = step_up[i]
        sd = step_down[i]
        mu = ku[h] * su
        md = kd[h] * sd
        if c2c > 0:
            nu = cell_normal(key_up, i, tail, pairs)
            nd = cell_normal(key_dn, i, tail, pairs)
            mu = max(mu + np.sqrt(ku[h]) * c2c * su * nu, np.float32(0.0))
            md = max(md + np.sqrt(kd[h]) * c2c * sd * nd, np.float32(0.0))
        b = bound[i]
        wn = min(max(w[i] + (mu - md), -b), b)
        w[i] = wn
        hw = wn * half
        dg = (g_mid + hw) - g0[i]
        g0[i] += dg
        ti = t[i] + c0 * dg * p0[i]
        dg = (g_mid - hw) - g1[i]
        g1[i] += dg
        t[i] = ti + c1 * dg * p1[i]
    return total
