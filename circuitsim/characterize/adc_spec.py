"""The ramp-ADC characterization spec (:class:`AdcCharSpec`, its ``QUICK`` preset) and the
ramp of each configuration it names (:func:`ramp_for`, which the spec's validation builds).
The sweep and the dataset are in :mod:`circuitsim.characterize.adc`."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from circuitsim.activations import BUILTINS
from circuitsim.netlist.ramp import RampSpec, design_ramp, fit_c_int
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.spec import MAX_TRIALS, check_types, param, require


@dataclass(frozen=True, slots=True)
class AdcCharSpec:
    """The ADC characterization: configurations, ladder design, Monte-Carlo and validation."""

    testbench: ConversionTestbenchSpec = param(
        ConversionTestbenchSpec(), "testbench template (ramp timing and electrical design, "
        "comparator, MAC read); activation, bits, read voltage, inputs, reference and "
        "programmed conductances are set per run")
    activations: tuple[str, ...] = param(("sigmoid", "tanh", "relu", "identity"),
                                         "built-in activations to characterize")
    bits: tuple[int, ...] = param((3, 4, 5, 8), "ADC resolutions B")
    v_reads: tuple[float, ...] = param((0.15, 0.2, 0.25), "applied read voltages; must "
                                       "include the design testbench.ramp.v_read", "V")
    relu_x_min_high: float = param(-0.25, "lower input bound of relu above 5 bits (its first "
                                   "ramp step spans the negative range: at [-1, 1] and 8 bits "
                                   "it needs a 1:256 conductance ratio; below it the code is "
                                   "0 either way)")
    n_deck: int = param(32, "inputs (comparators) per deck, every deck: the array columns "
                        "sharing the ramp column and the comparator bias")
    seed: int = param(1, "seed of the probe and background inputs")
    probe_inputs: int = param(8, "inputs of the probe deck of a configuration without "
                              "ladders (only its ramp levels and MAC map are used; they do "
                              "not depend on the number of comparators)")
    rungs: tuple[float, ...] = param((90e-6, 33e-6, 12e-6), "coarse ladder "
                                     "(round A): effective overdrives below each ramp level",
                                     "V")
    refine: tuple[float, ...] = param((1.25, 0.85), "fine ladder (round B): multiples of the "
                                      "round-A estimate of the overdrive")
    max_targeted: int = param(32, "thresholds per configuration measured with a ladder "
                              "(evenly spread; the others are interpolated)")
    off_nominal_ladder_bits: int = param(4, "off-nominal ramp-reference configurations get "
                                         "ladders up to this many bits, above it they reuse "
                                         "the nominal overdrives")
    mc_activations: tuple[str, ...] = param(("sigmoid", "tanh"), "activations of the "
                                            "programming-error Monte-Carlo (a subset of "
                                            "activations)")
    mc_bits: int = param(5, "resolution of the Monte-Carlo; it runs in the characterization "
                         "of that width (none if bits does not include it)")
    mc_trials: int = param(8, "Monte-Carlo trials per activation (0: none)")
    mc_sigma: float = param(0.05, "log-normal programming error: sigma of ln(G / target)")
    mc_p_stuck: float = param(0.03, "probability that a programmed device is stuck OFF")
    mc_seed: int = param(11, "seed of the Monte-Carlo draws and inputs")
    val_inputs: int = param(256, "held-out SPICE inputs per configuration up to 5 bits "
                            "(rounded up to whole decks)")
    val_inputs_high: int = param(128, "held-out SPICE inputs per configuration above 5 bits "
                                 "and per off-nominal configuration")
    val_off_nominal_bits: int = param(5, "also validate off-nominal read voltages (reported, no "
                                      "bound) up to this many bits (0: nominal only)")
    val_seed: int = param(1001, "seed of the held-out validation inputs (must differ from seed)")
    grid: int = param(20001, "inputs of the uniform grid for RMSE and code-shift figures")

    def __post_init__(self) -> None:
        check_types(self)
        acts = self.activations
        require(len(acts) >= 1 and len(set(acts)) == len(acts), "activations", self.activations,
                "needs one or more distinct names")
        for a in acts:
            require(a in BUILTINS, "activations", self.activations,
                    f"{a!r} is not a built-in ({', '.join(BUILTINS)})")
        require(len(self.bits) >= 1 and len(set(self.bits)) == len(self.bits), "bits",
                self.bits, "needs one or more distinct values")
        for b in self.bits:
            require(2 <= b <= 8, "bits", self.bits, "each must be 2 .. 8")
        require(len(set(self.v_reads)) == len(self.v_reads), "v_reads", self.v_reads,
                "must be distinct")
        require(all(v > 0 for v in self.v_reads), "v_reads", self.v_reads, "must be > 0")
        require(any(math.isclose(v, self.nominal) for v in self.v_reads), "v_reads",
                self.v_reads, f"must include the design read voltage {self.nominal!r} V")
        require(self.relu_x_min_high < 0, "relu_x_min_high", self.relu_x_min_high, "must be < 0")
        require(1 <= self.n_deck <= 256, "n_deck", self.n_deck, "must be 1 .. 256")
        require(2 <= self.probe_inputs <= 256, "probe_inputs", self.probe_inputs,
                "must be 2 .. 256")
        require(len(self.rungs) >= 2 and all(r > 0 for r in self.rungs)
                and bool(np.all(np.diff(self.rungs) < 0)), "rungs", self.rungs,
                "needs >= 2 positive, strictly decreasing overdrives")
        require(all(r > 0 for r in self.refine), "refine", self.refine, "must be > 0")
        require(self.max_targeted >= 2, "max_targeted", self.max_targeted, "must be >= 2")
        mc = self.mc_activations
        require(self.mc_trials == 0 or all(a in acts for a in mc), "mc_activations",
                self.mc_activations, "must be a subset of activations")
        require(2 <= self.mc_bits <= 8, "mc_bits", self.mc_bits, "must be 2 .. 8")
        require(0 <= self.mc_trials <= MAX_TRIALS, "mc_trials", self.mc_trials,
                f"must be in 0..{MAX_TRIALS} (each trial simulates every activation)")
        require(self.mc_sigma >= 0, "mc_sigma", self.mc_sigma, "must be >= 0")
        require(0 <= self.mc_p_stuck < 1, "mc_p_stuck", self.mc_p_stuck, "must be in [0, 1)")
        for field in ("seed", "mc_seed", "val_seed"):
            require(getattr(self, field) >= 0, field, getattr(self, field), "must be >= 0")
        require(self.val_seed != self.seed, "val_seed", self.val_seed,
                "must differ from seed (held-out inputs are never fitting inputs)")
        require(self.val_inputs >= 1 and self.val_inputs_high >= 1, "val_inputs",
                self.val_inputs, "needs >= 1 (and val_inputs_high >= 1)")
        require(self.grid >= 1001, "grid", self.grid, "must be >= 1001")
        for a in acts:  # every configuration's ramp must be buildable
            for b in self.bit_list():
                ramp_for(self, a, b)

    @property
    def nominal(self) -> float:
        """The design (nominal) read voltage, V."""
        return self.testbench.ramp.v_read

    def activation_list(self) -> list[str]:
        return list(self.activations)

    def bit_list(self) -> list[int]:
        return [int(b) for b in self.bits]

    def mc_activation_list(self) -> list[str]:
        """Activations of the Monte-Carlo (none if ``mc_bits`` is not characterized)."""
        return list(self.mc_activations) if self.mc_trials and self.mc_bits in self.bits else []

    def per_width(self) -> list[AdcCharSpec]:
        """One spec per resolution, each characterized and cached on its own: every
        configuration's inputs are seeded by its identity (:attr:`Config.key`) and the
        Monte-Carlo belongs to ``mc_bits``, so the parts' datasets hold exactly this spec's
        configurations and a user of 3-bit tables never simulates an 8-bit ramp."""
        return [replace(self, bits=(b,)) for b in self.bits]


#: Overrides for tests/CI: sigmoid and tanh at 3 and 4 bits, the nominal and one off-nominal
#: read voltage (no off-nominal ladders), 16-input decks, 2 Monte-Carlo trials at 4 bits, 128
#: held-out inputs per configuration, nominal validation only.
QUICK: dict[str, Any] = {
    "activations": ["sigmoid", "tanh"], "bits": [3, 4], "v_reads": [0.15, 0.2], "n_deck": 16,
    "off_nominal_ladder_bits": 0,
    "mc_activations": ["sigmoid"], "mc_bits": 4, "mc_trials": 2, "val_inputs": 128,
    "val_off_nominal_bits": 0,
}


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
