"""Resistive pulse-device weights: Gokmen's stochastic pulse update and SBP's Manhattan rule.

The device state is an :class:`~circuitsim.train.rpu.RpuArray` (weights in network units with
per-device steps, asymmetry, bounds and cycle-to-cycle noise). Physically each weight is a
conductance pair around a common mid-point, ``G+- = g_mid +- w w_scale / 2`` (``w_scale =
(g_max - g_min) / max bound``: the largest device bound spans the MAC surrogate's
characterized conductance range), read through the MAC surrogate like every analog array.

- ``rule="pulse"`` (Gokmen et al. 2018): ``update(x, d, lr)`` fires stochastic row/column
  pulse trains of bit length BL; a device steps once per coincidence (``RpuArray.pulse_update``).
- ``rule="sbp"`` (sign backprop): ``update(x, d, lr)`` applies one identical SET/RESET pulse
  per weight in the sign of ``-x^T d`` (``x`` binary, ``d`` ternary, so per sample each weight
  moves by at most one step); ``lr`` is unused, the step is the device's.
"""

from __future__ import annotations

import numpy as np

from circuitsim.surrogate.mac import MacSurrogate
from circuitsim.train.periphery import Periphery
from circuitsim.train.rpu import RpuArray, RpuSpec
from circuitsim.train.weights import AnalogWeights, ArrayRead


class RpuWeights(AnalogWeights):
    """Pulse-device weights (see the module docstring)."""

    def __init__(self, w0: np.ndarray, mac: MacSurrogate, spec: RpuSpec, fwd: Periphery,
                 bwd: Periphery, rng: np.random.Generator, rule: str = "pulse",
                 exact_read: bool = False, engine: str = "numba"):
        w0 = np.asarray(w0, np.float32)
        self.dev = RpuArray(spec, w0.shape, rng, w0=w0, engine=engine)
        b = float(self.dev.bound.max())
        super().__init__(*w0.shape, (mac.g_max - mac.g_min) / b, fwd, bwd)
        self.kind = rule
        self.g_mid = 0.5 * (mac.g_min + mac.g_max)
        gp, gn = self._pair(self.dev.w)
        self.read = ArrayRead(mac, [gp, gn], [1.0, -1.0], exact_read=exact_read)
        self.pulses = 0

    def _pair(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = w * np.float32(0.5 * self.w_scale)
        return self.g_mid + half, self.g_mid - half

    def weights(self) -> np.ndarray:
        return self.dev.weights()

    def conductances(self) -> dict[str, np.ndarray]:
        return {"G+": self.read.g[0], "G-": self.read.g[1]}

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        if self.kind == "sbp":
            n = -np.sign(x.T @ d).astype(np.int64)
            self.dev.apply_pulses(n)
            self.pulses += int(np.count_nonzero(n))
        else:
            self.pulses += self.dev.pulse_update(x, d, lr)["coincidences"]
        idx = self.dev.touched  # a pulsed device at its bound gets dg = 0: no change
        if idx.size:
            gp, gn = self._pair(self.dev.w.reshape(-1)[idx])
            self.read.set_at(0, idx, gp)
            self.read.set_at(1, idx, gn)
