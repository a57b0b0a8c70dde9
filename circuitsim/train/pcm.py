"""PCM conductance model of the non-volatile pair (G+, G-) of Ambrogio's 2PCM+3T1C synapse.

All conductances are in siemens; every random draw comes from the ``np.random.Generator``
passed in (no seeds here). Two operations:

- :func:`program` — program-and-verify from full RESET to a target conductance (the transfer
  of the accumulated 3T1C weight into the PCM pair).
- :func:`partial_set` — ``n`` partial SET pulses (only increase G), for PCM-only training.

Model choices (tags as in ``papers.md``):

- **[paper]** Control is good below ~20 uS: ``g_max`` = 20 uS is the largest target the
  programmer aims at. Targets above ``g_max`` *saturate*: they are programmed as ``g_max``.
- **[paper]** Programming starts from full RESET and uses SET pulses with an 8-step
  ramp-down (``set_steps``); programming is imprecise, so the achieved G is the target plus a
  state-dependent stochastic error (the 3T1C cell absorbs the residual).
- **[ours]** One programming *attempt* = one RESET pulse + one SET ramp of ``set_steps``
  steps aimed at the target; its achieved conductance is
  ``G = clip(T + sigma(T) * xi, g_reset, headroom * g_max)``, ``xi ~ N(0, 1)``, with
  ``sigma(T) = sigma_abs + sigma_rel * T`` (T = target clamped to ``g_max``): the error grows
  with the target because a longer ramp crystallises more material less reproducibly.
  Defaults sigma_abs = 0.2 uS, sigma_rel = 10 % (1.2 uS at 10 uS, 2.2 uS at 20 uS per
  attempt) sit at the imprecise end of published single-shot PCM programming; after
  program-and-verify the residual is ~0.5 uS at 10 uS, the order of iterative PCM
  programming errors reported by the same group's follow-up work **[lineage]**.
- **[ours]** Program-and-verify: every device gets ``verify_iters`` independent attempts
  (each from full RESET); the verify read is exact and the attempt closest to the clamped
  target is kept. No early stop on a tolerance: keeping the best of all attempts bounds the
  accuracy, an early stop would only save time and energy (:func:`program_pulses` counts
  the worst case).
- **[ours]** Targets ``<= g_reset`` (including negative ones) are left at RESET exactly
  (``g_reset``); achieved values never leave ``[g_reset, headroom * g_max]`` (the device can
  physically overshoot ``g_max`` a little, ``headroom`` = 1.25 -> 25 uS).
- **[ours, lineage of PCM-only training]** Partial SET: one pulse raises G by
  ``dg = alpha * g_max * (1 - G / g_max)**gamma * (1 + sigma_step * xi)`` (``xi`` fresh per
  pulse, the factor clipped at 0 so a SET pulse never lowers G), then G is capped at
  ``g_max``; a device already at or above ``g_max`` does not move. The step shrinks as G
  approaches ``g_max`` (``gamma`` = 1: exponential saturation, ~60 pulses from RESET to
  95 % of ``g_max`` with ``alpha`` = 0.05, i.e. 1 uS first steps) and varies 30 % pulse to
  pulse. Resetting and reprogramming a saturated pair is the caller's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from circuitsim.spec import check_types, non_negative, param, positive, require


@dataclass(frozen=True, slots=True)
class PcmSpec:
    """PCM device of the (G+, G-) pair: programming and partial-SET model (SI units)."""

    g_max: float = param(20e-6, "largest programmable target (control good below ~20 uS) "
                         "and the partial-SET saturation level", "S")
    g_reset: float = param(0.1e-6, "conductance after a full RESET", "S")
    headroom: float = param(1.25, "achieved G never exceeds headroom * g_max (overshoot)")
    set_steps: int = param(8, "steps of the SET ramp-down pulse of one programming attempt")
    verify_iters: int = param(3, "program-and-verify attempts per device (best one kept)")
    sigma_abs: float = param(0.2e-6, "state-independent part of the per-attempt "
                             "programming error sigma(T) = sigma_abs + sigma_rel * T", "S")
    sigma_rel: float = param(0.1, "relative (state-dependent) part of the per-attempt "
                             "programming error")
    alpha: float = param(0.05, "partial-SET step at RESET as a fraction of g_max")
    gamma: float = param(1.0, "partial-SET nonlinearity: step ~ (1 - G/g_max)**gamma")
    sigma_step: float = param(0.3, "relative pulse-to-pulse spread of the partial-SET step")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "g_max", "g_reset", "set_steps", "verify_iters", "alpha", "gamma")
        non_negative(self, "sigma_abs", "sigma_rel", "sigma_step")
        require(self.g_reset < self.g_max, "g_reset", self.g_reset,
                f"must be < g_max={self.g_max!r}")
        require(self.headroom >= 1.0, "headroom", self.headroom, "must be >= 1")
        require(self.alpha < 1.0, "alpha", self.alpha, "must be < 1 (a fraction of g_max)")

    @property
    def g_top(self) -> float:
        """Physical upper limit of an achieved conductance (S)."""
        return self.headroom * self.g_max


def sigma_program(spec: PcmSpec, target: np.ndarray) -> np.ndarray:
    """Per-attempt programming error sigma(T) (S) for targets ``target`` (clamped to g_max)."""
    t = np.minimum(np.asarray(target, dtype=np.float64), spec.g_max)
    return spec.sigma_abs + spec.sigma_rel * np.maximum(t, 0.0)


def program(spec: PcmSpec, target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Program every device from full RESET towards ``target`` (S, any shape).

    Returns the achieved conductances (float64, same shape): ``g_reset`` where
    ``target <= g_reset``; otherwise the best of ``verify_iters`` attempts aimed at
    ``min(target, g_max)`` (see the module docstring), in ``[g_reset, headroom * g_max]``.
    """
    t = np.asarray(target, dtype=np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError("program: target holds non-finite values")
    aim = np.minimum(t, spec.g_max)
    sigma = sigma_program(spec, aim)
    best = np.full(t.shape, spec.g_reset)
    best_err = np.full(t.shape, np.inf)
    for _ in range(spec.verify_iters):
        g = np.clip(aim + sigma * rng.standard_normal(t.shape), spec.g_reset, spec.g_top)
        err = np.abs(g - aim)
        better = err < best_err
        best = np.where(better, g, best)
        best_err = np.where(better, err, best_err)
    return np.where(t <= spec.g_reset, spec.g_reset, best)


def program_pulses(spec: PcmSpec) -> int:
    """Pulses one device receives when programmed: per attempt one RESET + ``set_steps``
    SET-ramp steps (plus one verify read each, not counted)."""
    return spec.verify_iters * (1 + spec.set_steps)


def set_step(spec: PcmSpec, g: np.ndarray) -> np.ndarray:
    """Mean partial-SET step (S) at conductance ``g`` (0 at and above ``g_max``)."""
    u = np.clip(1.0 - np.asarray(g, dtype=np.float64) / spec.g_max, 0.0, 1.0)
    return spec.alpha * spec.g_max * u**spec.gamma


def partial_set(spec: PcmSpec, g: np.ndarray, n: np.ndarray, rng: np.random.Generator | None,
                normals: Callable[[int, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Apply ``n`` (non-negative ints, broadcast to ``g``'s shape) partial SET pulses to
    conductances ``g`` (S); returns the new conductances (float64, never decreased, capped at
    ``g_max`` unless already above it, floored at ``g_reset``). The pulse-to-pulse spread
    of pulse ``k`` of the devices at flat positions ``idx`` is ``normals(k, idx)``
    (standard normals; default ``rng.standard_normal``)."""
    out = np.maximum(np.array(g, dtype=np.float64), spec.g_reset)
    counts = np.broadcast_to(np.asarray(n), out.shape)
    if counts.size and (not np.issubdtype(counts.dtype, np.integer) or counts.min() < 0):
        raise ValueError("partial_set: n must be non-negative integers")
    steps = int(counts.max()) if counts.size else 0
    for k in range(steps):
        idx = np.flatnonzero(counts > k)
        cur = out.flat[idx]
        z = rng.standard_normal(idx.size) if normals is None else normals(k, idx)
        factor = np.maximum(1.0 + spec.sigma_step * z, 0.0)
        new = np.minimum(cur + set_step(spec, cur) * factor, spec.g_max)
        out.flat[idx] = np.where(cur >= spec.g_max, cur, new)
    return out
