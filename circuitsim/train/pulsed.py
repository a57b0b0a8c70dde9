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
from circuitsim.train import kernel_base, kernels_rpu
from circuitsim.train.periphery import Periphery
from circuitsim.train.rpu import RpuArray, RpuSpec
from circuitsim.train.streams import NORMAL_TABLES
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
        # compiled updates (kernels_rpu.rpu_apply) where the read is one combined transfer
        spec_ok = rule == "sbp" or (spec.update_mode == "stochastic" and spec.bl <= 64)
        self.compiled = engine == "numba" and spec_ok and self.read.single_transfer
        if self.compiled:
            n = self.dev.w.size
            self._list = (np.empty(n, np.int64), *np.empty((2, n), np.float32))
        self._state: tuple | None = None
        self._state2: tuple = ()

    def _pair(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = w * np.float32(0.5 * self.w_scale)
        return self.g_mid + half, self.g_mid - half

    def weights(self) -> np.ndarray:
        return self.dev.weights()

    def conductances(self) -> dict[str, np.ndarray]:
        return {"G+": self.read.g[0], "G-": self.read.g[1]}

    def flush_tally(self) -> None:
        """The tally's reads, and the device pulses so far (counted by :meth:`update`)."""
        super().flush_tally()
        if self.tally.enabled and self.pulses:
            self.tally.counts["update"]["device_pulses"] = float(self.pulses)

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        if self.compiled:
            self._update_compiled(x, d, lr)
            return
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

    def _update_compiled(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        """:meth:`update` through ``RpuArray.pulse_list`` and :func:`kernels_rpu.rpu_apply`
        (the same random draws and float32 operations)."""
        dev, read = self.dev, self.read
        n = dev.pulse_list(x, d, lr, self.kind, self._list)
        idx, ku, kd = (a[:n] for a in self._list)
        k_up, k_dn, _, _ = dev.keys()
        dev.end_update(idx.copy())
        if not n:
            return
        if self._state is None or self._state[0] is not read.t:
            # the arrays the kernel updates in place, as flat views (rebuilt when a refresh
            # replaces the transfer)
            (_, _, p0, _), (_, _, p1, _) = read.layers[0].terms(), read.layers[1].terms()
            f32, flat = np.float32, kernel_base.flat
            self._state = (read.t, *map(flat, (dev.step_up, dev.step_down, dev.bound, dev.w)),
                           f32(dev.spec.c2c))
            self._state2 = (*NORMAL_TABLES, f32(self.g_mid), f32(0.5 * self.w_scale),
                            *map(flat, (read.g[0], read.g[1], read.t, p0, p1)),
                            f32(read.gains[0]), f32(read.gains[1]))
        pulses = kernels_rpu.rpu_apply(idx, ku, kd, *self._state[1:], np.uint32(k_up),
                                       np.uint32(k_dn), *self._state2)
        self.pulses += n if self.kind == "sbp" else int(pulses)
        for k in (0, 1):  # as two set_at calls
            read.mark_dirty(k)
            read.tick()
