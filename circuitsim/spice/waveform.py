"""Exact integrals of simulated waveforms over time windows: energy, charge, settling time.

Sign convention (SPICE): ``i(V)`` is the current flowing into a voltage source's ``+`` node,
through the source, out of its ``−`` node. The power a source *delivers* to the circuit is
therefore ``p = v · (−i)`` and its energy over a window ``∫ v · (−i) dt`` (J); the charge it
delivers is ``∫ −i dt`` (C). Both are integrated exactly for waveforms that are linear between
the simulator's time points (the product of two linear segments is quadratic, integrated by
Simpson's rule); window ends between time points are interpolated linearly.

The phase helpers use these; the energy report (:mod:`circuitsim.energy`) uses their results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from circuitsim.spice.result import TranResult


def _windows(time: np.ndarray, windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    w = np.asarray(windows, dtype=float).reshape(-1, 2)
    if time.size < 2:
        raise ValueError("need a waveform of at least two time points")
    if np.any(w[:, 1] < w[:, 0]):
        raise ValueError("every window needs start <= end")
    span = time[-1] - time[0]
    slack = 1e-9 * span
    if np.any(w[:, 0] < time[0] - slack) or np.any(w[:, 1] > time[-1] + slack):
        raise ValueError(f"windows {w.min():g} .. {w.max():g} s lie outside the waveform "
                         f"{time[0]:g} .. {time[-1]:g} s")
    return np.clip(w, time[0], time[-1])


def _cumulative_at(time: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``∫_{t0}^{x} a·b dt`` for signals ``a``, ``b`` of shape ``(S, T)`` linear between time
    points, at the instants ``x`` (shape ``(X,)``); returns ``(S, X)``."""
    h = np.diff(time)
    seg = h * (2 * a[:, :-1] * b[:, :-1] + a[:, :-1] * b[:, 1:] + a[:, 1:] * b[:, :-1]
               + 2 * a[:, 1:] * b[:, 1:]) / 6
    cum = np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(seg, axis=1)], axis=1)
    j = np.clip(np.searchsorted(time, x, side="right") - 1, 0, time.size - 2)
    hj = time[j + 1] - time[j]
    frac = np.divide(x - time[j], hj, out=np.zeros_like(x), where=hj > 0)
    a0, a1, b0, b1 = a[:, j], a[:, j + 1], b[:, j], b[:, j + 1]
    ax, bx = a0 + (a1 - a0) * frac, b0 + (b1 - b0) * frac
    part = (x - time[j]) * (2 * a0 * b0 + a0 * bx + ax * b0 + 2 * ax * bx) / 6
    return cum[:, j] + part


def window_integral(time: np.ndarray, y: np.ndarray,
                    windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """``∫ y dt`` over each window ``[start, end]`` (trapezoidal: exact for a waveform linear
    between time points). ``y`` has shape ``(T,)`` or ``(S, T)``; windows ``(W, 2)`` in s;
    returns ``(W,)`` or ``(S, W)``."""
    time = np.asarray(time, dtype=float)
    y2 = np.atleast_2d(np.asarray(y, dtype=float))
    w = _windows(time, windows)
    ones = np.ones_like(y2)
    out = _cumulative_at(time, y2, ones, w[:, 1]) - _cumulative_at(time, y2, ones, w[:, 0])
    return out[0] if np.ndim(y) == 1 else out


def window_energy(time: np.ndarray, v: np.ndarray | float, i: np.ndarray,
                  windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Energy delivered by a source, ``∫ v · (−i) dt`` (J), per window.

    ``v`` is the source voltage (``v(+) − v(−)``, V; a constant or a waveform), ``i`` the SPICE
    source current (A, into ``+``). Shapes ``(T,)`` or ``(S, T)``; returns ``(W,)``/``(S, W)``.
    Exact when ``v`` and ``i`` are linear between time points.
    """
    time = np.asarray(time, dtype=float)
    i2 = np.atleast_2d(np.asarray(i, dtype=float))
    v2 = np.broadcast_to(np.atleast_2d(np.asarray(v, dtype=float)), i2.shape)
    w = _windows(time, windows)
    out = (_cumulative_at(time, v2, -i2, w[:, 1]) - _cumulative_at(time, v2, -i2, w[:, 0]))
    return out[0] if np.ndim(i) == 1 else out


def source_energy(result: TranResult, source: str, voltage: str | float | np.ndarray,
                  windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Energy (J) delivered by voltage source ``source`` (its saved ``i(source)``) per window.

    ``voltage`` is the source's voltage: a saved vector name such as ``"v(node)"`` (for a
    grounded source), a constant (V) or a waveform on ``result.time``.
    """
    v = result[voltage] if isinstance(voltage, str) else voltage
    return window_energy(result.time, v, result[f"i({source})"], windows)


def source_charge(result: TranResult, source: str,
                  windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Charge (C) delivered by ``source`` out of its ``+`` node, ``∫ −i dt``, per window."""
    return -window_integral(result.time, result[f"i({source})"], windows)


def settling_time(time: np.ndarray, y: np.ndarray, start: float, end: float,
                  rtol: float = 1e-3, atol: float = 1e-6) -> np.ndarray:
    """Time after ``start`` when each waveform of ``y`` (``(T,)`` or ``(S, T)``) last enters
    the band ``|y − y(end)| <= rtol·|y(end)| + atol`` before ``end`` (crossing interpolated
    linearly); 0 if it never leaves the band. Returns a float or ``(S,)`` in s."""
    time = np.asarray(time, dtype=float)
    y2 = np.atleast_2d(np.asarray(y, dtype=float))
    inside = (time > start) & (time < end)
    ts = np.concatenate([[start], time[inside], [end]])
    ends = np.array([[np.interp(start, time, row), np.interp(end, time, row)] for row in y2])
    ys = np.concatenate([ends[:, :1], y2[:, inside], ends[:, 1:]], axis=1)
    final = ys[:, -1:]
    dev = np.abs(ys - final) - (rtol * np.abs(final) + atol)
    outside = dev > 0
    rows = np.nonzero(outside.any(axis=1))[0]
    out = np.zeros(y2.shape[0])
    # last point outside the band (k); k + 1 is inside (the final point always is)
    k = ts.size - 1 - np.argmax(outside[rows, ::-1], axis=1)
    d0, d1 = dev[rows, k], dev[rows, k + 1]
    frac = np.where(d0 != d1, d0 / np.where(d0 != d1, d0 - d1, 1.0), 1.0)
    out[rows] = ts[k] + frac * (ts[k + 1] - ts[k]) - start
    return out[0] if np.ndim(y) == 1 else out
