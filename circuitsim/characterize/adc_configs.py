"""Configurations of the ADC characterization: the ramp of each (activation, bits, read
voltage), the decks built from the testbench template, and the seeded input draws."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from circuitsim.activations import Activation
from circuitsim.netlist.ramp import RampDesign, RampSpec, design_ramp, fit_c_int, ramp_design
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec

if TYPE_CHECKING:
    from circuitsim.characterize.adc import AdcCharSpec


@functools.lru_cache(maxsize=256)
def ramp_for(spec: AdcCharSpec, activation: str, bits: int,
             v_read: float | None = None) -> RampSpec:
    """The ramp of configuration ``(activation, bits)`` read at ``v_read`` (None: nominal).

    From the template ``spec.testbench.ramp``; ``c_int`` is the template's if the design fits
    the device window, else :func:`circuitsim.netlist.ramp.fit_c_int`'s; relu above 5 bits
    starts at ``relu_x_min_high``.
    """
    t = spec.testbench.ramp
    x_min = spec.relu_x_min_high if activation == "relu" and bits > 5 else None
    geometry = dict(v_read=t.v_read, t_read=t.t_read, v_lo=t.v_lo, v_span=t.v_span,
                    n_cal=t.n_cal)
    d = design_ramp(activation, bits, x_min=x_min, c_int=t.c_int, g_min=None, g_max=None,
                    **geometry)
    g = np.concatenate([d.g_ramp, d.g_cal])
    c_int = t.c_int
    if g.min() < t.g_min or g.max() > t.g_max:
        c_int = fit_c_int(activation, bits, x_min=x_min, g_min=t.g_min, g_max=t.g_max,
                          **geometry)
    applied = None if v_read is None or math.isclose(v_read, t.v_read) else float(v_read)
    return replace(t, activation=activation, table_x=(), table_f=(), bits=bits, x_min=x_min,
                   x_max=None, c_int=c_int, v_read_applied=applied, g_ramp=None, g_cal=None,
                   cal_step=())


def testbench_for(spec: AdcCharSpec, ramp: RampSpec, x: np.ndarray,
                  reference: str = "ramp") -> ConversionTestbenchSpec:
    """A deck of the configuration: the template testbench with ``ramp``, inputs and reference."""
    return replace(spec.testbench, ramp=ramp, x=tuple(float(v) for v in x), reference=reference)


@dataclass(frozen=True)
class Config:
    """One characterized configuration (an ADC at one read voltage and reference)."""

    activation: str
    bits: int
    v_read: float  #: applied read voltage, V
    reference: str  #: "ramp" or "fixed"
    ramp: RampSpec

    @property
    def n(self) -> int:
        return 2**self.bits - 1

    @functools.cached_property
    def act(self) -> Activation:
        return self.ramp.activation_fn().with_range(self.ramp.x_min, self.ramp.x_max)

    @functools.cached_property
    def design(self) -> RampDesign:
        return ramp_design(self.ramp)

    def label(self) -> str:
        return f"{self.activation} {self.bits}b @{self.v_read:g} V {self.reference}"


def configs(spec: AdcCharSpec) -> list[Config]:
    """Every configuration, nominal first within each (activation, bits): the ramp reference at
    every read voltage, the fixed reference at the off-nominal ones (at the nominal voltage
    both are the same circuit)."""
    out = []
    for a in spec.activation_list():
        for b in spec.bit_list():
            out.append(Config(a, b, spec.nominal, "ramp", ramp_for(spec, a, b)))
            for v in spec.v_reads:
                if math.isclose(v, spec.nominal):
                    continue
                for ref in ("ramp", "fixed"):
                    out.append(Config(a, b, float(v), ref, ramp_for(spec, a, b, v)))
    return out


def stratified(rng: np.random.Generator, x_min: float, x_max: float, n: int) -> np.ndarray:
    """``n`` random inputs, one per equal slice of ``[x_min, x_max]``, away from slice edges."""
    u = rng.uniform(0.05, 0.95, n)
    return x_min + (np.arange(n) + u) * (x_max - x_min) / n


def seeded(*key: int) -> np.random.Generator:
    """A generator seeded by a tuple of non-negative integers (a spec seed and indices)."""
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))
