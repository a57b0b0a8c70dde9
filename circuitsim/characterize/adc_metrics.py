"""Figures of an ADC from its code transitions: INL, DNL, RMSE vs the ideal function, code
shift.

Figures (per configuration, from the transitions)
-------------------------------------------------
With ``u(x) = (2^B - 1)·(f(x) - lo)/(hi - lo)`` the ideal code as a continuous function (the
activation's output range ``[lo, hi]``, :mod:`circuitsim.activations`), whose ideal transitions
are at ``u = k - 1/2``:

- ``INL_k = u(T_k) - (k - 1/2)`` in LSB (k = 1 .. 2^B - 1): the transition's error referred to
  the ideal transfer ``f`` (not to an end-point line), i.e. in output units. For identity this
  is the usual INL of a linear ADC.
- ``DNL_k = u(T_{k+1}) - u(T_k) - 1`` in LSB (k = 1 .. 2^B - 2): the width of code ``k`` in
  output units minus one LSB (-1: a missing code).
- RMSE vs the ideal function: ``sqrt(mean((value(code(x)) - f(x))^2))`` over ``grid`` inputs
  uniform on ``[x_min, x_max]``, ``value(c) = lo + c·(hi - lo)/(2^B - 1)``; in output units and
  in LSB (an ideal quantizer gives ~1/sqrt(12) = 0.29 LSB where ``f`` is not saturated;
  ``rmse_ideal_lsb`` is the ideal converter's figure on the same grid).
- monotonic: the transitions increase and the SPICE codes of every simulated input of the
  configuration are non-decreasing in ``x``.
- V_read robustness: the code change against the nominal configuration (rms, max, fraction of
  inputs) on the same grid, for the ramp and the fixed reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from circuitsim.activations import Activation


def inl_dnl(act: Activation, bits: int, transitions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``INL_k = u(T_k) - (k - 1/2)`` (k = 1 .. 2^B - 1) and ``DNL_k = u(T_{k+1}) - u(T_k) - 1``
    (k = 1 .. 2^B - 2), in LSB, with ``u(x) = (2^B - 1)(f(x) - lo)/(hi - lo)``."""
    lo, hi = act.bounds
    n = 2**bits - 1
    t = np.asarray(transitions, dtype=float)[:n]
    u = n * (act(t) - lo) / (hi - lo)
    return u - (np.arange(1, n + 1) - 0.5), np.diff(u) - 1.0


def codes_of(transitions: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``#{k : x > T_k}`` for every ``x`` (int array; the transitions in any order)."""
    t = np.sort(np.asarray(transitions, dtype=float))
    return np.searchsorted(t[np.isfinite(t)], np.asarray(x, dtype=float), side="left")


def rmse(act: Activation, bits: int, transitions: np.ndarray | None,
         grid: int) -> tuple[float, float]:
    """RMSE of ``value(code(x))`` vs ``f(x)`` over ``grid`` uniform inputs on the input range:
    ``(output units, LSB)``; ``transitions=None`` gives the ideal converter's."""
    lo, hi = act.bounds
    n = 2**bits - 1
    x = np.linspace(act.x_min, act.x_max, grid)
    c = act.code(x, bits) if transitions is None else codes_of(transitions, x)
    err = lo + c * (hi - lo) / n - act(x)
    out = float(np.sqrt(np.mean(err**2)))
    return out, out * n / (hi - lo)


def code_shift(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """Code change between transition sets ``a`` and ``b`` over inputs ``x``: rms, max (LSB)
    and the fraction of inputs whose code changes."""
    d = codes_of(a, x).astype(float) - codes_of(b, x)
    return float(np.sqrt(np.mean(d**2))), float(np.max(np.abs(d))), float(np.mean(d != 0))


def figures_of(act: Activation, bits: int, t: np.ndarray, grid: int) -> dict[str, Any]:
    inl, dnl = inl_dnl(act, bits, t)
    rm, rm_lsb = rmse(act, bits, t, grid)
    x = np.linspace(act.x_min, act.x_max, grid)
    c, ideal = codes_of(t, x), act.code(x, bits)
    return {"inl": inl, "dnl": dnl, "rmse": rm, "rmse_lsb": rm_lsb,
            "rmse_ideal_lsb": rmse(act, bits, None, grid)[1],
            "frac_ideal": float(np.mean(c == ideal)),
            "max_code_err": float(np.max(np.abs(c - ideal)))}
