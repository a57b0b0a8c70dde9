"""Weight matrices of a network: float, or analog arrays read through the MAC surrogate.

Every weight matrix ``(n_in, n_out)`` of a model is a *Weights* object with ``forward(x)``
(``~ x @ W``), ``backward(d)`` (``~ d @ W.T``), ``update(x, d, lr)`` (realise ``W -= lr x^T d``
with the rule's device physics), ``weights()`` (effective ``W``, float64 copy),
``conductances()`` (name -> S, for histograms), ``end_step(n)`` (after each optimisation step
of ``n`` images: leakage, transfers) and ``events`` (a list of dicts, e.g. transfers).

Analog reads. A weight is realised by ``K`` physical conductance arrays whose column (row)
currents are combined with signed gains, e.g. ``F (G+ - G-) + p (g - g_shared)`` for
2PCM+3T1C. Each array is a :class:`~circuitsim.surrogate.mac.MacLayer` (IR drop of its own
wires, the read law); :class:`ArrayRead` keeps the gain-weighted sum of their transfers
``T = sum_k c_k T_k`` (and ``L``), so a read is one matrix product (two for the exact sinh
read) whatever ``K`` is, and a sparse conductance change updates only the touched entries.
With per-line scales (the surrogate's ``line_scaled``: a finite-gain TIA's foot, a
finite-gain integrator's droop) the scales differ per array
and the arrays are read one by one and summed. Currents become weight units through ``I /
(v_read w_scale)`` (``w_scale``: siemens per weight unit), then pass the output ADC
(:mod:`~circuitsim.train.periphery`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from circuitsim.errors import SpecError
from circuitsim.surrogate.mac import MacSurrogate
from circuitsim.train.periphery import Periphery
from circuitsim.train.tally import FLUSH_EVERY, Tally


class FloatWeights:
    """Plain float32 SGD weights (the software baseline)."""

    kind = "float"

    def __init__(self, w0: np.ndarray):
        self.w = np.array(w0, dtype=np.float32)
        self.n_in, self.n_out = self.w.shape
        self.events: list[dict[str, Any]] = []

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x @ self.w

    def backward(self, d: np.ndarray) -> np.ndarray:
        return d @ self.w.T

    def update(self, x: np.ndarray, d: np.ndarray, lr: float) -> None:
        self.w -= np.float32(lr) * (x.T @ d)

    def weights(self) -> np.ndarray:
        return self.w.astype(np.float64)

    def conductances(self) -> dict[str, np.ndarray]:
        return {}

    def end_step(self, n_images: int) -> None:
        return None


class ArrayRead:
    """Reads of ``sum_k gains[k] * MAC(arrays[k])`` (see the module docstring)."""

    def __init__(self, sur: MacSurrogate, arrays: Sequence[np.ndarray], gains: Sequence[float],
                 *, exact_read: bool = False, refresh_every: int = 500):
        if len(arrays) != len(gains) or not arrays:
            raise SpecError("arrays: need one gain per conductance array")
        self.sur = sur
        self.g = [np.array(a, dtype=np.float32, order="C") for a in arrays]
        self.layers = [sur.layer(a, dtype=np.float32, refresh_every=0, exact_read=exact_read)
                       for a in arrays]
        self.gains = [float(c) for c in gains]
        self.refresh_every = refresh_every
        self.combined = not sur.line_scaled
        self._count = 0
        self._dirty = [False] * len(self.g)
        self._rebuild()

    def drive_f(self, v: np.ndarray) -> np.ndarray:
        """The input transform ``F`` of a one-product read (``MacSurrogate.drive``)."""
        return self.sur.drive(v, False)[0]

    @property
    def single_transfer(self) -> bool:
        """Reads are one matrix product with ``t`` (combined arrays, no slope term): the
        compiled kernels update ``t`` (and the arrays) in place."""
        return self.combined and self.l is None

    def _rebuild(self) -> None:
        if not self.combined:
            return
        t0, l0, _, _ = self.layers[0].terms()
        self.t = np.zeros_like(t0)
        self.l = None if l0 is None else np.zeros_like(l0)
        for c, layer in zip(self.gains, self.layers, strict=True):
            t, lm, _, _ = layer.terms()
            self.t += np.float32(c) * t
            if self.l is not None and lm is not None:
                self.l += np.float32(c) * lm

    def set_gain(self, k: int, gain: float) -> None:
        self.gains[k] = float(gain)
        self.refresh()

    def set_at(self, k: int, idx: np.ndarray, g_new: np.ndarray) -> None:
        """Array ``k``'s conductances at flat indices ``idx`` become ``g_new`` (S)."""
        if idx.size == 0:
            return
        flat = self.g[k].reshape(-1)
        self._dirty[k] = True
        dg = np.asarray(g_new, dtype=np.float32) - flat[idx]
        flat[idx] += dg
        if not self.combined:
            self.layers[k].apply_delta_at(idx, dg)
        else:  # the arrays' own T are rebuilt from self.g at the next refresh
            c = np.float32(self.gains[k])
            _, _, p, q = self.layers[k].terms()
            self.t.reshape(-1)[idx] += c * dg * p.reshape(-1)[idx]
            if self.l is not None:
                self.l.reshape(-1)[idx] += c * dg * q.reshape(-1)[idx]
        self.tick()

    def set_all(self, k: int, g_new: np.ndarray) -> None:
        """Array ``k`` becomes ``g_new`` (S, the full matrix): :meth:`set_at` of every cell,
        as whole-array operations (the same float32 arithmetic, no index arrays)."""
        if not self.combined:
            self.set_at(k, np.arange(self.g[k].size), np.asarray(g_new).reshape(-1))
            return
        g = self.g[k]
        self._dirty[k] = True
        dg = np.asarray(g_new, dtype=np.float32).reshape(g.shape) - g
        g += dg
        c = np.float32(self.gains[k])
        _, _, p, q = self.layers[k].terms()
        self.t += c * dg * p
        if self.l is not None:
            self.l += c * dg * q
        self.tick()

    def line_conductances(self) -> tuple[np.ndarray, np.ndarray]:
        """Total conductance (S, as float64) on every row and every column, over the physical
        arrays (what a read's drivers charge: the ledger's read energy)."""
        rows = sum(g.sum(axis=1) for g in self.g)  # float32 pairwise sums: ~1e-7 relative
        cols = sum(g.sum(axis=0) for g in self.g)
        return rows.astype(np.float64), cols.astype(np.float64)

    def tick(self) -> None:
        """Count one sparse update (a compiled kernel's too); refresh every ``refresh_every``."""
        self._count += 1
        if self.refresh_every and self._count >= self.refresh_every:
            self.refresh()

    def mark_dirty(self, k: int) -> None:
        """Array ``k``'s conductances were changed in place (by a compiled kernel)."""
        self._dirty[k] = True

    def refresh(self) -> None:
        """Recompute the IR-drop factors of every array whose conductances changed since the
        last refresh (after large changes such as a transfer; also every ``refresh_every``
        updates). An unchanged array's factors depend on nothing else, so they are kept."""
        for k, (layer, g) in enumerate(zip(self.layers, self.g, strict=True)):
            if self._dirty[k]:
                layer.set_g(g)
                self._dirty[k] = False
        self._rebuild()
        self._count = 0

    def forward(self, v: np.ndarray) -> np.ndarray:
        """Combined column currents (A) of inputs ``v`` (B, n_in) in [-1, 1]."""
        if not self.combined:
            return sum(np.float32(c) * layer.forward(v)
                       for c, layer in zip(self.gains, self.layers, strict=True))
        f, h = self.sur.drive(v, self.l is not None)
        out = f @ self.t
        if h is not None:
            out += h @ self.l
        return out

    def backward(self, v: np.ndarray) -> np.ndarray:
        """Combined row currents (A) of inputs ``v`` (B, n_out) in [-1, 1]."""
        if not self.combined:
            return sum(np.float32(c) * layer.backward(v)
                       for c, layer in zip(self.gains, self.layers, strict=True))
        f, h = self.sur.drive(v, self.l is not None)
        out = f @ self.t.T
        if h is not None:
            out += h @ self.l.T
        return out


class AnalogWeights:
    """Base of the analog rules: reads through :class:`ArrayRead` and the periphery; the
    subclass builds ``self.read`` and implements ``update`` / ``weights``."""

    kind = "analog"

    def __init__(self, n_in: int, n_out: int, w_scale: float, fwd: Periphery, bwd: Periphery):
        if not w_scale > 0:
            raise SpecError(f"w_scale={w_scale!r}: must be > 0 (S per weight unit)")
        self.n_in, self.n_out = n_in, n_out
        self.w_scale = float(w_scale)
        self.fwd, self.bwd = fwd, bwd
        self.events: list[dict[str, Any]] = []
        self.read: ArrayRead
        self._units: np.float32 | None = None  # A / (V S per weight unit), once read exists
        # what converts the forward outputs: the periphery ADC, or (out_bits 0) nothing;
        # the builder sets "ramp" where the next layer's ramp-ADC activation does
        self.tally = Tally(n_in, n_out, "adc" if fwd.spec.out_bits else "ideal",
                           "adc" if bwd.spec.out_bits else "ideal")

    def _to_units(self) -> np.float32:
        if self._units is None:
            self._units = np.float32(1.0 / (self.read.sur.v_read * self.w_scale))
        return self._units

    def _drive_table(self, per: Periphery) -> np.ndarray | None:
        """The DAC levels' drive (``Periphery.drive_table``) where a read is one product."""
        return per.drive_table(self.read.drive_f) if self.read.single_transfer else None

    def _read(self, per: Periphery, x: np.ndarray, backward: bool) -> np.ndarray:
        """A forward (rows driven) or backward (columns driven) read through ``per``."""
        read = self.read
        act = self.tally.read("backward" if backward else "forward", len(x))
        table = self._drive_table(per)
        if table is not None:  # one compiled DAC, one matrix product, one compiled ADC
            return per.read(x, read.t.T if backward else read.t, table, act,
                            read.sur.line_energy, self._to_units())
        v, scale = per.dac(x, None, act, read.sur.line_energy)
        return per.adc(read.backward(v) if backward else read.forward(v), scale,
                       self._to_units())

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._read(self.fwd, x, False)

    def backward(self, d: np.ndarray) -> np.ndarray:
        return self._read(self.bwd, d, True)

    def flush_tally(self) -> None:
        """Price the tally's read sums with the arrays' conductances now."""
        self.tally.flush(*self.read.line_conductances())
        self.tally.pulses_to_counts()

    def end_step(self, n_images: int) -> None:
        """After each step: the tally's read sums become joules every ``FLUSH_EVERY``
        images (subclasses add their leakage and transfers after this)."""
        self.tally.since_flush += n_images
        if self.tally.since_flush >= FLUSH_EVERY:
            self.flush_tally()


def round_pulses(dw: np.ndarray, step: float, u: np.ndarray, n_max: int) -> np.ndarray:
    """Signed whole pulse counts realising ``dw / step`` on average (stochastic rounding
    ``floor(dw / step + u)`` with the uniforms ``u``, float32 of ``dw``'s shape), clipped to
    ``+-n_max`` per update."""
    n = np.floor(dw / np.float32(step) + u)
    np.clip(n, -n_max, n_max, out=n)
    return n.astype(np.int16)


def sgd_rows(x: np.ndarray, d: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The rows driven by any sample of ``x`` (B, n_in) (rows at 0 V fire no pulses) and the
    SGD change of those rows ``scale * sum_b x_b^T d_b`` (float32, summed over the batch in
    order: the arithmetic of ``kernels.ambrogio_pulse``)."""
    rows = np.flatnonzero(np.any(x, axis=0))
    dw = np.outer(x[0, rows], d[0])
    for b in range(1, x.shape[0]):
        dw += np.outer(x[b, rows], d[b])
    dw *= np.float32(scale)
    return rows, dw

