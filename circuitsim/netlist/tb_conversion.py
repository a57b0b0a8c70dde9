"""Ramp-conversion testbench: MAC integrators, one shared ramp column, one comparator each.

Architecture [ours, after Yang et al. 2025]: one ramp column serves every array column. Each
input value ``x_i`` stands for one column's MAC result: an input memristor of conductance
``G_x = c_int * V_in(x) / (v_read * t_int)`` is read at the applied read voltage for ``t_int``
(a trapezoid of area ``v_read * t_int`` starting at ``t_reset + t_edge``) onto its own
integrator, identical to the ramp's, so the MAC node holds ``V_in(x)`` (times
``v_read_applied / v_read``) through the conversion. ``G_x`` stands for a whole column's
summed conductance and may lie outside the device window ``[g_min, g_max]`` (it is not
checked against it). Then the ramp runs (steps 0 .. 2^B - 1) and comparator ``i`` compares
MAC ``i`` (``inp``) with the ramp (``inn``); its output is high while ramp < input.

Reference (``reference``): ``ramp`` (default) reads the ramp column at the same applied read
voltage as the MAC inputs, so a read-voltage drift scales both and cancels (Yang's ratiometric
claim); ``fixed`` reads the ramp column at the design ``ramp.v_read`` whatever the MAC inputs
see, a conventional ADC with a fixed reference, whose codes drift with the read voltage.

Timeline: reset 0 .. ``t_reset``; MAC read ``t_reset + t_edge`` .. ``+ t_int + t_edge``
(must end by ``ramp.t_start``); ramp steps from ``ramp.t_start``; the run stops one
``t_edge`` after the last sample, ``ramp.t_end``.

Saved: ``v(ramp)``, ``v(mac<i>)``, ``v(out<i>)``; for energy the comparator supply current
``i(Vdd)`` (and the clock's ``i(Vclk)`` with the StrongARM latch), the MAC input drivers
``i(Vx<i>)`` with their voltages ``v(xrow<i>)``, and the ramp column's row drivers inside
``Xramp`` (:func:`ramp_sources`: ``i(v.xramp.vcal<k>)``, ``v(xramp.rcal<k>)``,
``i(v.xramp.vrow<k>)``, ``v(xramp.row<k>)``). Measured: ``vmac<i>`` (MAC voltage at
``ramp.t_start``) and ``tflip<i>`` (first fall of ``out<i>`` through ``vdd / 2`` after
``ramp.t_start``; NaN if the input lies above the last threshold). The code
is read from the waveform by :func:`circuitsim.netlist.adc.code_from_waveform` at
:func:`circuitsim.netlist.adc.sample_times`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from circuitsim.netlist import adc, ramp
from circuitsim.netlist import deck as deckmod
from circuitsim.netlist.block import Block
from circuitsim.netlist.elements import (
    GND,
    comment,
    instance,
    meas_fall,
    meas_find,
    resistor,
    save,
    tran,
    vdc,
    vpwl,
    wrap,
)
from circuitsim.netlist.fmt import name, num
from circuitsim.netlist.technology import render_args
from circuitsim.spec import check_types, param, positive, require


@dataclass(frozen=True, slots=True)
class ConversionTestbenchSpec:
    """Conversion of one or more MAC inputs by the shared ramp column and per-input comparators."""

    ramp: ramp.RampSpec = param(ramp.RampSpec(), "ramp column (activation, bits, timing)")
    comparator: adc.ComparatorSpec = param(adc.ComparatorSpec(), "comparator sizes and bias")
    x: tuple[float, ...] = param((0.37,), "input values (pre-activation), one MAC integrator "
                                 "and comparator each, sharing the ramp")
    t_int: float = param(20e-9, "MAC read (integration) window", "s")
    t_step: float = param(1e-9, "transient print step and maximum time step", "s")
    reference: Literal["ramp", "fixed"] = param(
        "ramp", "ramp: the ramp column is read at the applied read voltage like the MAC "
        "inputs (ratiometric, Yang 2025); fixed: the ramp column is always read at the design "
        "ramp.v_read while the MAC inputs see ramp.v_read_applied (a conventional "
        "fixed-reference ADC)")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "t_int", "t_step")
        require(self.t_int > self.ramp.t_edge, "t_int", self.t_int,
                f"must be > ramp.t_edge={self.ramp.t_edge!r} (the read pulse needs a flat top)")
        require(1 <= len(self.x) <= 256, "x", self.x, "needs 1 .. 256 input values")
        r = self.ramp
        mac_end = r.t_reset + r.t_edge + self.t_int + r.t_edge
        require(mac_end <= r.t_start, "t_int", self.t_int,
                f"the MAC read must end ({mac_end:g} s) by ramp.t_start = {r.t_start:g} s")
        require(self.t_step <= r.period / 10, "t_step", self.t_step,
                "must be <= ramp.period / 10 to resolve the clock steps")
        v = self.design().v_in(np.asarray(self.x))
        for i, (x, vi) in enumerate(zip(self.x, v, strict=True)):
            require(vi > 0, f"x[{i}]", x, "maps to V_in <= 0 V; it lies too far below x_min")

    def design(self) -> ramp.RampDesign:
        return ramp.ramp_design(self.ramp)

    def ramp_column(self) -> ramp.RampSpec:
        """The ramp spec the ramp column is built from: ``ramp`` itself, or for a fixed
        reference ``ramp`` read at its design ``v_read`` (``v_read_applied`` dropped)."""
        if self.reference == "fixed":
            return replace(self.ramp, v_read_applied=None)
        return self.ramp

    def g_x(self) -> np.ndarray:
        """Input (MAC) conductances in S, shape ``(len(x),)``."""
        r = self.ramp
        v_in = self.design().v_in(np.asarray(self.x))
        return r.c_int * v_in / (r.v_read * self.t_int)


def ramp_sources(spec: ConversionTestbenchSpec) -> list[tuple[str, str]]:
    """(current, voltage) vector names of the ramp column's row drivers inside ``Xramp``:
    calibration rows ``1 .. n_cal``, then ramp rows ``1 .. 2^B - 1``."""
    r = spec.ramp
    rows = ([(f"Vcal{k}", f"rcal{k}") for k in range(1, r.n_cal + 1)]
            + [(f"Vrow{k}", f"row{k}") for k in range(1, r.steps)])
    return [(f"i(v.xramp.{name(src, 'source')})", f"v(xramp.{name(node, 'node')})")
            for src, node in rows]


def _save(spec: ConversionTestbenchSpec) -> str:
    """``.save`` line; hierarchical names are built from validated parts by
    :func:`ramp_sources`, the rest goes through :func:`circuitsim.netlist.elements.save`."""
    n = len(spec.x)
    flat = save(["v(ramp)", *(f"v(mac{i})" for i in range(n)),
                 *(f"v(out{i})" for i in range(n)), "i(Vdd)",
                 *(["i(Vclk)"] if spec.comparator.kind == "strongarm" else []),
                 *(f"i(Vx{i})" for i in range(n)), *(f"v(xrow{i})" for i in range(n))])
    tokens = [t for t in flat.split() if t not in (".save", "+")]
    hier = [v for pair in ramp_sources(spec) for v in pair]
    return wrap([".save", *tokens, *hier])


def header(spec: ConversionTestbenchSpec) -> list[str]:
    r = spec.ramp
    fixed = ([f"fixed reference: ramp column read at the design {num(r.v_read)} V, MAC inputs "
              f"at {num(r.v_applied)} V"] if spec.reference == "fixed" else [])
    return [
        *ramp.header(spec.ramp_column()),
        *fixed,
        *adc.header(spec.comparator),
        f"{len(spec.x)} MAC input(s) x = {', '.join(num(x) for x in spec.x[:8])}"
        f"{' ...' if len(spec.x) > 8 else ''}; read for t_int {num(spec.t_int)} s from "
        f"{num(r.t_reset + r.t_edge)} s",
        f"samples at t_start + (k + 1) * {num(r.period)} s for k = 1 .. {r.steps - 1}; "
        f"code = samples with v(out) > {num(spec.comparator.threshold)} V",
    ]


def deck(spec: ConversionTestbenchSpec) -> str:
    """The runnable conversion testbench deck."""
    r, c = spec.ramp, spec.comparator
    t_mac = r.t_reset + r.t_edge
    reset = [(0.0, 1.0), (r.t_reset, 1.0), (r.t_reset + r.t_edge, 0.0)]
    body = [*ramp.subckt_lines(spec.ramp_column()), "", *adc.subckt_lines(c), "",
            vdc("Vdd", "vdd", GND, c.vdd),
            vpwl("Vrst", "rst", GND, reset),
            *adc.shared_lines(c, adc.sample_times(r), r.t_start + r.period),
            instance("Xramp", ["ramp", "rst"], ramp.RAMP_COLUMN)]
    for i, g in enumerate(spec.g_x()):
        body += [
            comment(f"input {i}: x = {num(spec.x[i])}, G_x = {num(g)} S"),
            ramp.read_pulse(f"Vx{i}", f"xrow{i}", r.v_applied, t_mac, spec.t_int, r.t_edge),
            resistor(f"Rx{i}", f"xrow{i}", f"xsum{i}", 1.0 / g),
            instance(f"Xmac{i}", [f"xsum{i}", f"mac{i}", "rst"], ramp.INTEGRATOR),
            adc.comparator_line(c, f"Xcmp{i}", f"mac{i}", "ramp", f"out{i}"),
        ]
    n = len(spec.x)
    control = [tran(spec.t_step, r.t_end + r.t_edge, spec.t_step), _save(spec)]
    for i in range(n):
        control += [meas_find(f"vmac{i}", f"v(mac{i})", r.t_start),
                    meas_fall(f"tflip{i}", f"v(out{i})", c.threshold, r.t_start)]
    title = f"circuitsim ramp conversion testbench ({r.activation}, {r.bits} bits, {n} input(s))"
    return deckmod.render(title, header(spec), body, control=control, **render_args(c.technology))


BLOCKS = [
    Block(name="tb_conversion", spec=ConversionTestbenchSpec, generate=deck,
          summary="ramp ADC conversion: MAC integrators, shared ramp column, comparators",
          kind="testbench",
          examples={"default": {}, "sigmoid3": {"ramp": {"bits": 3}},
                    "tanh4": {"ramp": {"activation": "tanh", "bits": 4}, "x": [0.35]},
                    "fixed3": {"ramp": {"bits": 3, "v_read_applied": 0.15},
                               "reference": "fixed", "x": [0.37, 2.0]},
                    "strongarm3": {"ramp": {"bits": 3}, "comparator": {"kind": "strongarm"}},
                    "sky130_3": {"ramp": {"bits": 3}, "comparator": adc.SKY130}}),
]
