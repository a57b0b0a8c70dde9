"""Configurations of the ADC characterization: the ramp of each (activation, bits, read
voltage), the decks built from the testbench template, and the seeded input draws."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from circuitsim.activations import BUILTINS, Activation
from circuitsim.characterize.adc_spec import AdcCharSpec, ramp_for
from circuitsim.netlist.ramp import RampDesign, RampSpec, ramp_design
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec


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

    @property
    def key(self) -> tuple[int, int, int, int]:
        """The configuration's identity as seed material (activation's built-in index, bits,
        read voltage in µV, reference): its random inputs do not depend on which other
        configurations a spec holds, so a spec's characterization is the union of its
        per-width ones (:meth:`AdcCharSpec.per_width`)."""
        return (list(BUILTINS).index(self.activation), self.bits,
                round(self.v_read * 1e6), int(self.reference == "fixed"))


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
