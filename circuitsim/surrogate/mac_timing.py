"""Time-domain physics of a MAC read (issue 16): what a read mode adds to the DC transfer.

All functions are pure numpy on SI values; :class:`~circuitsim.surrogate.mac.MacSurrogate`
combines them with its ladder IR-drop model.

Wire settling. A cell's current reaches its sense amplifier through the RC of its driven and
its sensed wire. Each is modelled as a first-order lag whose time constant is the Elmore delay
of the cell's node: on a line of ``N`` segments (resistance ``r``, capacitance ``c`` each) a node
``d`` segments from the line's port has ``tau(d) = r c (d (d - 1) / 2 + d (N - d + 1))`` (the
capacitance below the node sees the resistance to it, the capacitance beyond it all ``d``
segments), for a driven line (voltage source at the port) and for a sensed one (virtual ground
at the port) alike, so a forward and a backward read share ``tau_row(j + 1)`` and
``tau_col(rows - i)``; the two wires are two poles in cascade (:func:`settle_factor`). Inputs
rise in ``t_edge``; for one pole ``tau``:

- a TIA samples at ``t_edge + t_read``: the lag of a ramp-then-step leaves
  ``(tau / t_edge) (1 - exp(-t_edge / tau)) exp(-t_read / tau)`` of the current missing;
- an integrator keeps the whole charge except the tail still in the wires when it is read
  (``t_edge`` after the full-scale pulse ends): for a first-order lag ``int_0^t y = int_0^t u -
  tau y(t)``, and a trapezoid pulse of width ``w`` leaves ``y(t_s) = (tau / t_edge) (1 -
  exp(-t_edge / tau)) (exp(-(t_s - 2 t_edge - w) / tau) - exp(-(t_s - t_edge) / tau))``.

For amplitude inputs every row has the same timing, so the settling factor is a per-cell
constant folded into the transfer ``T``. For pulse widths it depends on each input's width
and cell; the model uses the full-scale pulse's factor for every input (exact for the pulses
that end last, which are the ones whose tail is cut; shorter pulses have settled).

Integrator droop. With open-loop gain ``A`` the virtual ground of a sensed line rises to
``q / (c_int (1 + A))`` as charge ``q`` accumulates; every cell of the line then sees that much
less voltage, a leak ``k = sum_line(T) / (c_int (1 + A))`` (1/s) on the charge. The charge of
an input is then its area times ``exp(-k (t_s - t_c))`` (to second order in ``k``), ``t_c`` the
centroid of its pulse: ``t_s - t_c = d_0 = t_read / 2 + 2 t_edge`` for every amplitude input (a
per-line scale ``exp(-k d_0)``) and ``d_0 + (t_read - w) / 2`` for a pulse of width ``w``:
``exp(-k d_0) (1 - k (t_read - w) / 2)``, a per-line scale and a second, input-weighted product
(first order in the shortfall of the pulse only). The integrator's output is ``A / (1 + A)``
of ``-q / c_int``.
"""

from __future__ import annotations

import numpy as np


def elmore(n: int, r: float, c: float) -> np.ndarray:
    """Elmore delay (s) of the nodes ``d = 1 .. n`` segments from a line's port, ``(n,)``."""
    d = np.arange(1, n + 1, dtype=float)
    return r * c * (d * (d - 1) / 2 + d * (n - d + 1))


def cell_tau(rows: int, cols: int, r_row: float, c_row: float, r_col: float,
             c_col: float) -> tuple[np.ndarray, np.ndarray]:
    """Settling time constants of every cell's current through its row and its column wire,
    each broadcastable to ``(rows, cols)`` s."""
    row = elmore(cols, r_row, c_row)  # cell (i, j) is j + 1 row segments from the driver
    col = elmore(rows, r_col, c_col)[::-1]  # and rows - i column segments above the sense node
    return row[None, :], col[:, None]


def _lag_ramp(tau: np.ndarray, t_edge: float) -> np.ndarray:
    """``(tau / t_edge) (1 - exp(-t_edge / tau))`` (1 where ``tau`` is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = tau / t_edge * -np.expm1(-t_edge / tau)
    return np.where(tau > 0, out, 1.0)


def _exp_neg(t: float, tau: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(tau > 0, np.exp(-t / np.where(tau > 0, tau, 1.0)), 0.0)


def _deficit(tau: np.ndarray, sensing: str, t_read: float, t_edge: float) -> np.ndarray:
    """Fraction of a full-scale read one pole ``tau`` withholds (module docstring)."""
    if sensing == "tia":
        return _lag_ramp(tau, t_edge) * _exp_neg(t_read, tau)
    t_s = t_read + 3 * t_edge
    y = _lag_ramp(tau, t_edge) * (_exp_neg(t_s - 2 * t_edge - t_read, tau)
                                  - _exp_neg(t_s - t_edge, tau))
    return tau * y / (t_read + t_edge)


def settle_factor(tau_row: np.ndarray, tau_col: np.ndarray, sensing: str, t_read: float,
                  t_edge: float) -> np.ndarray:
    """Fraction of a full-scale input's read that arrives through the two wires in cascade,
    ``1 / ((1 + s tau_row)(1 + s tau_col))`` = ``(tau_row H_row - tau_col H_col) / (tau_row -
    tau_col)``, so the deficits combine with the same weights (equal poles: one nudged by
    1e-4)."""
    tau_row, tau_col = np.broadcast_arrays(tau_row, tau_col)
    close = np.abs(tau_row - tau_col) <= 1e-4 * np.maximum(tau_row, tau_col)
    tau_col = np.where(close & (tau_col > 0), tau_col * (1 + 1e-4), tau_col)
    d_row = _deficit(tau_row, sensing, t_read, t_edge)
    d_col = _deficit(tau_col, sensing, t_read, t_edge)
    with np.errstate(divide="ignore", invalid="ignore"):
        both = (tau_row * d_row - tau_col * d_col) / (tau_row - tau_col)
    return 1.0 - np.where(tau_row == tau_col, 0.0, both)


def droop_delay(w: np.ndarray | float, t_read: float, t_edge: float,
                encoding: str) -> np.ndarray | float:
    """``t_s - t_c``: from a pulse's centroid to the integrator's read, s."""
    if encoding == "amplitude":
        return t_read / 2 + 2 * t_edge
    return t_read + 2 * t_edge - np.asarray(w) / 2


def droop_rate(line_sum: np.ndarray, c_int: float, gain: float) -> np.ndarray:
    """Leak ``k`` (1/s) of a line of total transfer ``line_sum`` (S) on a finite-gain
    integrator (``gain`` 0 = ideal: no droop)."""
    if gain <= 0:
        return np.zeros_like(line_sum)
    return line_sum / (c_int * (1.0 + gain))


def output_gain(gain: float) -> float:
    """``A / (1 + A)`` (1 for an ideal op-amp, ``gain`` 0)."""
    return 1.0 if gain <= 0 else gain / (1.0 + gain)
