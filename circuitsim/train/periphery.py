"""Array periphery of an analog layer: input DACs, output ADCs, noise management.

A read drives the rows (forward) or columns (backward) with voltages ``x * v_read``, ``x`` in
[-1, 1], through DACs of ``in_bits`` (signed: ``2^(in_bits-1) - 1`` levels per side, the
Gokmen et al. 2018 convention), rounding to the nearest level or *stochastically* (``floor(x L
+ u)``, ``u ~ U[0, 1)``, unbiased). **Noise management** [paper, Gokmen 2018]: each input
vector is divided by its max ``|x|`` before the DAC and the read is multiplied back, so small
error vectors use the whole DAC range. The sensed value (weight units: ``sum_i x_i W_ij``) is
clipped to ``+-out_bound`` and quantized by a signed ADC of ``out_bits`` over that range
(``2^(out_bits-1) - 1`` levels per side, so 0 and the bounds are levels), with
optional Gaussian read noise of ``out_noise`` (weight units) added before the ADC.
``in_bits = 0`` / ``out_bits = 0`` switch the quantization off (an ideal converter).
Defaults [lineage, Gokmen 2018 "RPU baseline"]: 7-bit inputs, 9-bit outputs, bound 12.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from circuitsim.spec import check_types, non_negative, param, positive, require
from circuitsim.train import kernels, kernels_periphery


@dataclass(frozen=True, slots=True)
class PeripherySpec:
    """DAC/ADC of one analog array (used for forward and backward reads alike)."""

    in_bits: int = param(7, "input DAC resolution, signed (0 = ideal)", "bit")
    stochastic_rounding: bool = param(False, "round DAC inputs stochastically (unbiased)")
    noise_management: bool = param(True, "scale each input vector by its max |x| (and back)")
    out_bits: int = param(9, "output ADC resolution, signed, over [-out_bound, out_bound] "
                             "(0 = ideal)", "bit")
    out_bound: float = param(12.0, "output ADC full scale, weight units times input units")
    out_noise: float = param(0.0, "Gaussian read noise added before the ADC (std)")
    read_mode: Literal["dc", "amp_int", "pwm_int", "pwm_int_1t1r"] = param(
        "dc", "MAC read mode: its own characterized surrogate (characterize.mac_circuit."
        "READ_MODES: dc = amplitude into a TIA; amp_int / pwm_int = amplitude / pulse-width "
        "inputs into a finite-gain integrator; pwm_int_1t1r = the same on 1T1R cells)")

    def __post_init__(self) -> None:
        check_types(self)
        for name in ("in_bits", "out_bits"):
            v = getattr(self, name)
            require(v == 0 or 2 <= v <= 24, name, v, "must be 0 (ideal) or 2..24")
        positive(self, "out_bound")
        non_negative(self, "out_noise")


def quantize(x: np.ndarray, bits: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``x`` in [-1, 1] on a signed ``bits`` grid (``rng``: stochastic rounding); in place if
    ``x`` is a float array the caller owns."""
    if bits == 0:
        return x
    levels = float(2 ** (bits - 1) - 1)
    np.clip(x, -1.0, 1.0, out=x)
    x *= levels
    if rng is None:
        np.rint(x, out=x)
    else:
        x += rng.random(x.shape, dtype=x.dtype)
        np.floor(x, out=x)
    x /= levels
    return x


class Periphery:
    """The DAC/ADC chain of :class:`PeripherySpec` with its own random stream (``compiled``:
    through :func:`kernels_periphery.dac` / :func:`~kernels_periphery.adc`, the same float32
    operations on the same random draws; the numpy code here is their reference)."""

    __slots__ = ("spec", "rng", "compiled", "_lsb", "_levels", "_table", "_etable", "_f32",
                 "_scratch")

    def __init__(self, spec: PeripherySpec, rng: np.random.Generator, compiled: bool = False):
        self.spec = spec
        self.rng = rng
        self.compiled = compiled
        self._lsb = spec.out_bound / (2 ** (spec.out_bits - 1) - 1) if spec.out_bits else 0.0
        self._levels = float(2 ** (spec.in_bits - 1) - 1) if spec.in_bits else 0.0
        self._table: tuple[object, np.ndarray] | None = None
        self._etable: tuple[object, np.ndarray] | None = None
        f32 = np.float32
        self._f32 = (f32(self._levels), f32(spec.out_bound), f32(self._lsb))
        self._scratch = (_EMPTY, _EMPTY)
        if compiled:
            kernels.warm_up()

    def drive_table(self, drive: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | None:
        """``drive`` (a MAC surrogate's input transform, elementwise) of every DAC level, as
        the numpy path computes it on the quantized inputs; None for an ideal DAC or the
        numpy path. Kept for the last ``drive`` asked for."""
        if not (self.compiled and self.spec.in_bits):
            return None
        if self._table is None or self._table[0] != drive:
            self._table = (drive, np.ascontiguousarray(drive(self.levels()), np.float32))
        return self._table[1]

    def levels(self) -> np.ndarray:
        """Every DAC level in [-1, 1] (float32, as the quantizer produces them)."""
        lv = np.float32(self._levels)
        return np.arange(-self._levels, self._levels + 1).astype(np.float32) / lv

    def energy_table(self, energy: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | None:
        """``energy`` (the ledger's driver energy per line, elementwise) of every DAC level,
        float64; None for an ideal DAC or the numpy path. Kept for the last ``energy``."""
        if not (self.compiled and self.spec.in_bits):
            return None
        if self._etable is None or self._etable[0] != energy:
            self._etable = (energy, np.ascontiguousarray(energy(self.levels()), np.float64))
        return self._etable[1]

    def dac(self, x: np.ndarray, table: np.ndarray | None = None, act: np.ndarray | None = None,
            energy: Callable[[np.ndarray], np.ndarray] | None = None
            ) -> tuple[np.ndarray, np.ndarray | None]:
        """Driven inputs (a new array in [-1, 1]; with a :meth:`drive_table`, already
        through the drive) and the per-vector scale ``(B, 1)`` to multiply the read by (None
        without noise management). With ``act`` (n,) and ``energy``, each line's ``act``
        adds ``energy`` of the levels it is driven at, summed over the batch (the ledger's
        read sums, :class:`~circuitsim.train.tally.Tally`)."""
        s = self.spec
        count = act is not None and energy is not None
        if self.compiled:
            x = np.ascontiguousarray(x, np.float32)
            v = np.empty_like(x)
            scale = np.empty((x.shape[0], 1), np.float32)
            u = (self.rng.random(x.shape, dtype=np.float32)
                 if s.stochastic_rounding and s.in_bits else _EMPTY)
            etab = self.energy_table(energy) if count else None
            kernels_periphery.dac(x, np.float32(self._levels), s.noise_management, u,
                                  _NO_TABLE if table is None else table,
                                  _NO_ENERGY if etab is None else etab,
                                  _NO_ENERGY if etab is None else act, v, scale)
            if count and etab is None:  # an ideal DAC: the driven values themselves
                act += energy(v).sum(axis=0)
            return v, scale if s.noise_management else None
        v = np.array(x, dtype=np.float32)
        scale = None
        if s.noise_management:
            scale = np.max(np.abs(v), axis=1, keepdims=True)
            scale[scale == 0] = 1.0
            v /= scale
        quantize(v, s.in_bits, self.rng if s.stochastic_rounding else None)
        if count:
            act += energy(v).sum(axis=0)
        return v, scale

    def read(self, x: np.ndarray, t: np.ndarray, table: np.ndarray,
             act: np.ndarray | None, energy: Callable[[np.ndarray], np.ndarray],
             units: np.float32) -> np.ndarray:
        """A whole read of a one-product array in the compiled path: :meth:`dac` of ``x``
        through the drive ``table`` (:meth:`drive_table`, not None), ``v @ t``, :meth:`adc`
        with ``units``: the same operations and random draws as those three calls."""
        s = self.spec
        x = np.ascontiguousarray(x, np.float32)
        if self._scratch[0].shape != x.shape:  # the DAC's outputs, used up by the product
            self._scratch = (np.empty_like(x), np.empty((x.shape[0], 1), np.float32))
        v, scale = self._scratch
        u = self.rng.random(x.shape, dtype=np.float32) if s.stochastic_rounding else _EMPTY
        etab = _NO_ENERGY if act is None else self.energy_table(energy)
        lv, bound, lsb = self._f32
        kernels_periphery.dac(x, lv, s.noise_management, u, table, etab,
                              _NO_ENERGY if act is None else act, v, scale)
        y = v @ t
        noise = (self.rng.normal(0.0, s.out_noise, y.shape).astype(y.dtype) if s.out_noise
                 else _EMPTY)
        kernels_periphery.adc(y, units, noise, bound, lsb, scale if s.noise_management else _EMPTY)
        return y

    def adc(self, y: np.ndarray, scale: np.ndarray | None, units: np.float32
            ) -> np.ndarray:
        """Sensed values ``y`` (the read, times ``units`` = weight units, for the scaled
        inputs) through noise, bound and ADC, multiplied back by the noise-management
        ``scale``; in place."""
        s = self.spec
        noise = (self.rng.normal(0.0, s.out_noise, y.shape).astype(y.dtype) if s.out_noise
                 else None)
        if self.compiled and y.dtype == np.float32 and y.flags.c_contiguous:
            kernels_periphery.adc(y, units, _EMPTY if noise is None else noise,
                                  np.float32(s.out_bound), np.float32(self._lsb),
                                  _EMPTY if scale is None else scale)
            return y
        y *= units
        if noise is not None:
            y += noise
        np.clip(y, -s.out_bound, s.out_bound, out=y)
        if self._lsb:
            y /= self._lsb
            np.rint(y, out=y)
            y *= self._lsb
        if scale is not None:
            y *= scale
        return y


_EMPTY = np.zeros((0, 0), np.float32)
_NO_TABLE = np.zeros(0, np.float32)
_NO_ENERGY = np.zeros(0)
