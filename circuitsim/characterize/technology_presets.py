"""Characterization specs of the 3T1C update and of the ramp ADC per technology (kept out of
:mod:`circuitsim.characterize.update` and :mod:`circuitsim.characterize.adc_spec`, whose source
is part of every surrogate's cache key of their kind: a preset only chooses spec values, and
the spec itself is in the key)."""

from __future__ import annotations

from typing import Any

import numpy as np

from circuitsim.netlist import adc, cell3t1c, sky130
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.sky130_mismatch import sigma_vth
from circuitsim.spec import build

#: Gate levels of the SKY130 preset cell trimmed per corner (V; :mod:`circuitsim.characterize.
#: trim`, ``circuitsim trim3t1c --corners C``): one pulse at V_C0 = 0.75 V then moves V_C by the
#: tt steps (+10.3 / -9.5 mV) within 2 %. Measured with ngspice 46 (the untrimmed steps:
#: ff +13.4 / -15.3, ss +8.0 / -5.8, fs +23.6 / -4.2, sf +4.3 / -20.4 mV); tt keeps the preset.
SKY130_TRIM: dict[str, dict[str, float]] = {
    "ff": {"v_up_gate": 0.8808, "v_down_gate": 0.5179},
    "ss": {"v_up_gate": 0.8493, "v_down_gate": 0.5614},
    "fs": {"v_up_gate": 0.9175, "v_down_gate": 0.5755},
    "sf": {"v_up_gate": 0.8133, "v_down_gate": 0.5037},
}


def technology_preset(technology: dict[str, Any], cell: dict[str, Any] | None = None,
                      trim: bool = True) -> dict[str, Any]:
    """Characterization overrides for a 3T1C cell in ``technology`` (a ``technology`` field
    mapping), on top of QUICK or the defaults: none for the embedded PTM cards. For ``sky130``:
    the SKY130 cell preset with, at a corner other than tt and ``trim``, that corner's gate
    levels (:data:`SKY130_TRIM`), updated by ``cell``; staircases over the whole 0..vdd range, the
    V_C points of the asymmetry and validation inside the read FET's g window (0.6-0.9 V), and
    the Monte-Carlo sigmas of SkyWater's own mismatch model for the cell's device sizes
    (:func:`~circuitsim.netlist.sky130_mismatch.sigma_vth`), with a family that spans 3.5 of
    them in three rows per side."""
    if technology.get("name") != "sky130":
        return {"cell": {"technology": technology, **(cell or {})}}
    levels = SKY130_TRIM.get(technology.get("corner", "tt"), {}) if trim else {}
    c = {**cell3t1c.SKY130, **levels, **(cell or {}), "technology": technology}
    spec = build(Cell3T1CSpec, c)
    lib = sky130.prepared_library()
    sig = {"sigma_read": sigma_vth(lib, sky130.NFET, spec.w_read, spec.l_read),
           "sigma_up": sigma_vth(lib, sky130.PFET, spec.w_up, spec.l_up),
           "sigma_down": sigma_vth(lib, sky130.NFET, spec.w_down, spec.l_down)}
    step = float(np.ceil(3.5 * max(sig["sigma_up"], sig["sigma_down"]) / 3 / 1e-3)) * 1e-3
    return {"cell": c, "v_hi": spec.vdd, **sig, "family_max": 3 * step, "family_step": step,
            "v_asym": 0.75, "asym_range": (0.6, 0.9), "val_range": (0.55, 1.0),
            "val_leak_v0": (0.6, 0.9)}


#: Coarse overdrive ladder of the SKY130 comparators (V): the continuous one's DC trip point
#: sits up to ~0.4 mV beyond the ramp level (common mode and corner), above the PTM ladder's
#: 12-90 uV.
SKY130_RUNGS = (1e-3, 0.45e-3, 0.2e-3)


def adc_preset(comparator: str, technology: dict[str, Any]) -> dict[str, Any]:
    """ADC characterization overrides for ``comparator`` (continuous, strongarm) in
    ``technology`` (:func:`circuitsim.netlist.adc.preset`): none for PTM's continuous
    comparator, the preset's own."""
    c = adc.preset(comparator, technology)
    if technology.get("name") == "sky130":
        return {"testbench": {"comparator": c}, "rungs": list(SKY130_RUNGS)}
    return {"testbench": {"comparator": c}} if c else {}
