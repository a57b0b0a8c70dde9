"""Per-operation energy and latency of a training run's circuits, measured in SPICE.

The ledger (:mod:`circuitsim.train.ledger`) prices its counts with these. Each price comes
from a deck of the circuit the run's surrogates were characterized on, run through the
sweep store (so it is simulated once and then read back, keyed like every sweep point; the
point keys are kept as provenance):

- **3T1C pulses** (rule ``ambrogio``): the characterized cell template (technology, corner,
  storage capacitor), ``PULSES`` up pulses from V_C0 then as many down pulses, at the
  characterization's pulse period. Per direction the energy per pulse (supply + pulse-line
  sources, ``UpdateResult.energy_pulse``) is fitted as ``fixed + per_volt |dV_C|`` over the
  pulses by least squares: an up pulse charges C from the supply, so its energy follows the
  step it makes (~ C VDD dV_C), which is state dependent. The pulse lines' ``C dV^2``
  (``energy_lines_cv2``) is kept as a separate, labelled estimate.
- **Conversions**: the run's ramp ADC (its characterization testbench: comparator, timing,
  ramp design) converting ``n_deck`` inputs across the activation's range in one deck:
  energy per conversion (ramp drivers and comparator supply, shared by the deck's inputs)
  and latency. Once at the run's activation and bits (its ramp-ADC activations), and once
  at :data:`REFERENCE_BITS` sigmoid (the reference the periphery's output ADCs of other
  widths are scaled from, so their price does not depend on the activation's width).
- **MAC reads** are priced by the MAC surrogate's SPICE-fitted ``line_energy`` as the run
  reads (:mod:`circuitsim.train.tally`); their latency is its ``t_window``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from circuitsim.characterize.adc_spec import ramp_for
from circuitsim.characterize.adc_transitions import convert
from circuitsim.characterize.common import run_points
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.phases.update import update_point
from circuitsim.spice.ngspice import ngspice_version
from circuitsim.store import point_key

#: Up pulses (then down pulses) of the 3T1C pricing deck.
PULSES = 16
#: Resolution of the reference conversion (output ADCs of other widths are scaled from it).
REFERENCE_BITS = 5


@dataclass(frozen=True, slots=True)
class PulsePrices:
    """Energy of one 3T1C pulse, ``fixed + per_volt |dV_C|``, per direction (SPICE fit)."""

    up_fixed: float  #: J per up pulse
    up_per_volt: float  #: J per volt an up pulse raises V_C
    down_fixed: float  #: J per down pulse
    down_per_volt: float  #: J per volt a down pulse lowers V_C
    up_lines: float  #: J per up pulse, estimate: pulse-line charge moved x swing
    down_lines: float  #: J per down pulse, the same estimate
    fit_rms: float  #: J, RMS residual of the two fits over the deck's pulses
    t_period: float  #: s, pulse period
    c: float  #: F, storage capacitor
    vdd: float  #: V, pull-up supply
    source: str  #: sweep point key of the deck


@dataclass(frozen=True, slots=True)
class ConversionPrices:
    """One ramp-ADC conversion of the run's design (SPICE)."""

    activation: str
    bits: int
    comparator: str
    inputs: int  #: conversions sharing the deck's ramp and comparator bias
    energy: float  #: J per conversion
    latency: float  #: s per conversion (2^bits clock steps)
    source: str  #: sweep point key of the deck


@dataclass(frozen=True, slots=True)
class Prices:
    """What the ledger prices with: SPICE measurements and the MAC read's window."""

    conversion: ConversionPrices  #: the ramp-ADC activation's (the reference's without one)
    reference: ConversionPrices  #: REFERENCE_BITS sigmoid, what the output ADCs scale from
    pulses: PulsePrices | None  #: None: the rule has no 3T1C cells
    t_read: float  #: s, one MAC read (the MAC surrogate's window)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _fit(energy: np.ndarray, dv: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Least-squares ``energy = fixed + per_volt |dv|``; (fixed, per_volt, residuals)."""
    a = np.stack([np.ones_like(dv), np.abs(dv)], axis=1)
    coef = np.linalg.lstsq(a, energy, rcond=None)[0]
    return float(coef[0]), float(coef[1]), energy - a @ coef


def pulse_prices(char_spec: Any, kw: dict[str, Any]) -> PulsePrices:
    """3T1C pulse prices of the update characterization ``char_spec``'s cell (module
    docstring); ``kw``: the sweep's store, workers, scheduler and progress."""
    point = UpdateTestbenchSpec(cell=char_spec.cell, pulses="U" * PULSES + "D" * PULSES,
                                t_period=char_spec.t_period, t_hold=char_spec.t_period)
    res = run_points(update_point, [point], desc="ledger: 3T1C pulse energy", **kw)[0]
    dv = np.diff(res.vc)
    up = np.arange(len(dv)) < PULSES
    uf, ub, ur = _fit(res.energy_pulse[up], dv[up])
    df, db, dr = _fit(res.energy_pulse[~up], dv[~up])
    cell = char_spec.cell
    return PulsePrices(uf, ub, df, db, float(np.mean(res.energy_lines_cv2[up])),
                       float(np.mean(res.energy_lines_cv2[~up])),
                       float(np.sqrt(np.mean(np.concatenate([ur, dr]) ** 2))),
                       char_spec.t_period, cell.c, cell.vdd,
                       point_key(update_point, point, ngspice_version()))


def conversion_prices(adc_char_spec: Any, activation: str, bits: int, kw: dict[str, Any]
                      ) -> ConversionPrices:
    """One conversion of ``adc_char_spec``'s ramp ADC at ``activation`` and ``bits``."""
    ramp = ramp_for(adc_char_spec, activation, bits)
    fn = ramp.activation_fn()
    n = adc_char_spec.n_deck
    xs = np.linspace(fn.x_min, fn.x_max, n + 2)[1:-1]
    point = replace(adc_char_spec.testbench, ramp=ramp, x=tuple(float(v) for v in xs))
    res = run_points(convert, [point], desc="ledger: conversion energy", **kw)[0]
    cmp_ = adc_char_spec.testbench.comparator
    kind = cmp_.kind if cmp_.technology.name == "ptm45" else (
        f"{cmp_.kind} {cmp_.technology.label()}")
    return ConversionPrices(activation, bits, kind, n,
                            res.energy_per_conversion, res.latency,
                            point_key(convert, point, ngspice_version()))
