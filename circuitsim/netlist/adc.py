"""Transistor-level comparator of the ramp ADC, and reading the count from its waveform.

The ramp ADC [Yang et al. 2025; circuit ours] is the ramp column (:mod:`circuitsim.netlist.ramp`)
plus this comparator plus a counter. The counter is :func:`code_from_waveform`: the comparator
output is sampled at the end of every ramp step ``k = 1 .. 2^B - 1`` (:func:`sample_times`,
after the read window, once settled) and the code is the number of samples at which the
comparator says ``ramp < input`` (output high). As the ramp rises monotonically this equals
the step at which the output flips, minus one.

Comparator [ours], PTM 45 nm HP BSIM4 (``ptm45n``/``ptm45p``), supply ``vdd`` = 1.2 V: the
inputs sit low (ramp and MAC voltages are 0.06 .. 0.4 V over read voltages 0.15 .. 0.25 V),
so the first stage is a PMOS differential pair (n-well tied to the tail, no body effect) with
an NMOS current-mirror load and a PMOS tail source. Stage 2 is an NMOS common-source amplifier
with a PMOS current-source load, stage 3 a CMOS inverter buffer. ``inp`` drives the pair side
mirrored by the diode, so the output is high when ``v(inp) > v(inn)``; in the ADC ``inp`` is
the MAC voltage and ``inn`` the ramp.

Measured with the defaults (ngspice 46): input offset -0.02 .. +0.02 mV for common modes
0.05 .. 0.4 V (0.1 mV at 0.5 V, 0.19 mV at 0.55 V, where the tail leaves saturation); DC gain
4e5 at 0.2 V. After the ramp crosses the input, the output falls through vdd/2 within 2 ns
for 1 mV overdrive, 12 ns for 0.2 mV, 20 ns for 0.1 mV and 30 ns for 0.05 mV (slewing stage 1
out of saturation with ``gm * overdrive`` is what takes the time, hence the generous bias:
tail 40 uA, stage 2 20 uA). The default clock leaves 39.8 ns between the end of a read pulse
and the sample, so codes are wrong only for inputs within about 0.03 mV of a threshold.
At vdd = 1.0 V the tail leaves saturation above about 0.35 V input (offset 0.14 mV at 0.4 V,
0.66 mV at 0.55 V with a 4 uA bias), which is why the comparator gets 1.2 V.

Other technologies: ``technology`` builds the same circuits from SKY130 or a user's library
(:data:`SKY130` and :data:`SKY130_LATCH` are the 1.8 V presets, :func:`preset` picks one);
``cs_trim`` scales the stage-2 width to null the systematic offset a technology leaves.

Bias: a shared ``cmp_bias`` subcircuit (a diode-connected PMOS of width ``w_bias`` fed by
``i_bias``) sets ``vbp`` for the tail (width ``w_tail``) and the stage-2 load (``w_cs_load``)
of every comparator. The stage-2 NMOS width is derived, not a field:
``w_cs = 2 * w_load * w_cs_load / w_tail`` (length ``l_load``), so at balance its gate-source
voltage equals the mirror's and the systematic offset vanishes to first order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from circuitsim.errors import SpecError
from circuitsim.netlist import deck as deckmod
from circuitsim.netlist import latch as latchmod
from circuitsim.netlist.block import Block
from circuitsim.netlist.elements import GND, comment, idc, instance, subckt, vpwl
from circuitsim.netlist.fmt import num
from circuitsim.netlist.latch import LatchSpec
from circuitsim.netlist.ramp import RampSpec
from circuitsim.netlist.technology import (
    TechnologySpec,
    check_sizes,
    mosfet_lines,
    render_args,
)
from circuitsim.spec import check_types, param, positive, require

COMPARATOR = "comparator"
BIAS = "cmp_bias"
#: The device-size fields of the continuous comparator (m).
SIZES = ("w_bias", "w_tail", "l_tail", "w_in", "l_in", "w_load", "l_load", "w_cs_load",
         "w_inv_n", "w_inv_p", "l_inv")


@dataclass(frozen=True, slots=True)
class ComparatorSpec:
    """The ramp-ADC comparator: the continuous-time three-stage one (PMOS pair, CS stage,
    inverter; supply, bias and device sizes here) or the clocked StrongARM latch
    (:mod:`circuitsim.netlist.latch`, sizes in ``latch``), both on ``vdd``."""

    kind: Literal["continuous", "strongarm"] = param(
        "continuous", "continuous: three-stage comparator with a static bias; strongarm: "
        "clocked latch deciding once per ramp step, no static current")
    latch: LatchSpec = param(LatchSpec(), "StrongARM latch sizes and clock (kind strongarm)")
    vdd: float = param(1.2, "comparator supply", "V")
    i_bias: float = param(20e-6, "reference current into the bias diode (tail current = "
                          "i_bias * w_tail / w_bias)", "A")
    w_bias: float = param(2e-6, "width of the diode-connected PMOS bias device", "m")
    w_tail: float = param(4e-6, "width of the PMOS tail current source", "m")
    l_tail: float = param(0.36e-6, "length of bias, tail and stage-2 load PMOS", "m")
    w_in: float = param(4e-6, "width of each PMOS input-pair device", "m")
    l_in: float = param(0.18e-6, "length of the input-pair devices", "m")
    w_load: float = param(2e-6, "width of each NMOS mirror-load device", "m")
    l_load: float = param(0.36e-6, "length of the mirror-load and stage-2 NMOS", "m")
    w_cs_load: float = param(2e-6, "width of the stage-2 PMOS current-source load", "m")
    w_inv_n: float = param(0.5e-6, "width of the output inverter NMOS", "m")
    w_inv_p: float = param(1e-6, "width of the output inverter PMOS", "m")
    l_inv: float = param(0.09e-6, "length of the output inverter devices", "m")
    cs_trim: float = param(1.0, "stage-2 NMOS width over its square-law value (trims the "
                                "systematic offset the devices' output conductance leaves)")
    technology: TechnologySpec = param(
        TechnologySpec(), "the transistors (ptm45, sky130 with corner and mismatch, or a custom "
                          "library); sizes and supply must suit it (--preset sky130)")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, *SIZES, "vdd", "i_bias")
        require(0.5 <= self.cs_trim <= 2.0, "cs_trim", self.cs_trim, "must be in 0.5 .. 2")
        if self.technology.name == "ptm45":
            require(self.vdd <= 1.5, "vdd", self.vdd, "PTM 45 nm devices are rated for about "
                    "1.0 V; keep the comparator supply <= 1.5 V")
            for field in ("l_tail", "l_in", "l_load", "l_inv"):
                require(getattr(self, field) >= 45e-9, field, getattr(self, field),
                        "must be >= 45 nm (the PTM 45 nm drawn length)")
        else:  # the technology's minimum sizes and rated supply
            sizes = ({f"latch.{f}": getattr(self.latch, f) for f in latchmod.SIZES}
                     if self.kind == "strongarm" else {f: getattr(self, f) for f in SIZES})
            check_sizes(self.technology, sizes, self.vdd)

    @property
    def w_cs(self) -> float:
        """Derived stage-2 NMOS width (m): zero systematic offset to first order, times
        ``cs_trim``."""
        return 2.0 * self.w_load * self.w_cs_load / self.w_tail * self.cs_trim

    @property
    def threshold(self) -> float:
        """Logic threshold used to read the output (V): half the supply."""
        return 0.5 * self.vdd


def subckt_lines(spec: ComparatorSpec) -> list[str]:
    """``.subckt cmp_bias vdd vss vbp`` and ``.subckt comparator inp inn out vdd vss vbp``,
    or for the latch ``.subckt strongarm inp inn out vdd vss clkb``."""
    tech = spec.technology
    if spec.kind == "strongarm":
        return latchmod.subckt_lines(spec.latch, tech)

    def m(el: str, d: str, g: str, s: str, b: str, kind: str, w: float,
          length: float) -> list[str]:
        return mosfet_lines(tech, el, d, g, s, b, kind, w, length)  # type: ignore[arg-type]

    bias = [
        *m("Mb", "vbp", "vbp", "vdd", "vdd", "p", spec.w_bias, spec.l_tail),
        idc("Ib", "vbp", "vss", spec.i_bias),
    ]
    body = [
        comment("stage 1: PMOS pair (well tied to the tail), NMOS mirror load, PMOS tail"),
        *m("M5", "tail", "vbp", "vdd", "vdd", "p", spec.w_tail, spec.l_tail),
        *m("M1", "d1", "inp", "tail", "tail", "p", spec.w_in, spec.l_in),
        *m("M2", "d2", "inn", "tail", "tail", "p", spec.w_in, spec.l_in),
        *m("M3", "d1", "d1", "vss", "vss", "n", spec.w_load, spec.l_load),
        *m("M4", "d2", "d1", "vss", "vss", "n", spec.w_load, spec.l_load),
        comment("stage 2: NMOS common source, PMOS current-source load"),
        *m("M6", "o2", "d2", "vss", "vss", "n", spec.w_cs, spec.l_load),
        *m("M7", "o2", "vbp", "vdd", "vdd", "p", spec.w_cs_load, spec.l_tail),
        comment("stage 3: inverter buffer"),
        *m("M8", "out", "o2", "vss", "vss", "n", spec.w_inv_n, spec.l_inv),
        *m("M9", "out", "o2", "vdd", "vdd", "p", spec.w_inv_p, spec.l_inv),
    ]
    return [
        *subckt(BIAS, ["vdd", "vss", "vbp"], bias,
                f"comparator bias: PMOS diode fed by {num(spec.i_bias)} A"),
        "",
        *subckt(COMPARATOR, ["inp", "inn", "out", "vdd", "vss", "vbp"], body,
                "comparator: out high when v(inp) > v(inn)"),
    ]


def header(spec: ComparatorSpec) -> list[str]:
    """Header comment lines with supply, bias and sizes."""
    def um(x: float) -> str:
        return num(x * 1e6)

    tech = spec.technology
    if spec.kind == "strongarm":
        return [f"clocked comparator, supply {num(spec.vdd)} V",
                *latchmod.header(spec.latch, tech)]
    return [
        f"comparator supply {num(spec.vdd)} V, bias {num(spec.i_bias)} A, tail "
        f"{num(spec.i_bias * spec.w_tail / spec.w_bias)} A "
        f"({tech.label()}, models {tech.device_name('n')}/{tech.device_name('p')})",
        f"W/L in um: pair {um(spec.w_in)}/{um(spec.l_in)}, load {um(spec.w_load)}/"
        f"{um(spec.l_load)}, tail {um(spec.w_tail)}/{um(spec.l_tail)}, stage 2 "
        f"{um(spec.w_cs)}/{um(spec.l_load)} with load {um(spec.w_cs_load)}/{um(spec.l_tail)}",
        f"inverter n {um(spec.w_inv_n)}/{um(spec.l_inv)}, p {um(spec.w_inv_p)}/{um(spec.l_inv)}",
    ]


def shared_lines(spec: ComparatorSpec, samples: np.ndarray, t_first: float) -> list[str]:
    """What every comparator shares: the bias ``vbp`` (continuous) or the clock ``clkb``
    (strongarm: :func:`circuitsim.netlist.latch.decision_edges` of the counter's ``samples``
    and of ``t_first``, the end of the calibration step)."""
    if spec.kind == "strongarm":
        edges = latchmod.decision_edges(spec.latch, samples, t_first)
        return [vpwl("Vclk", "clkb", GND, latchmod.clock_points(spec.latch, edges, spec.vdd))]
    return [instance("Xbias", ["vdd", GND, "vbp"], BIAS)]


def comparator_line(spec: ComparatorSpec, el: str, inp: str, inn: str, out: str) -> str:
    """One comparator instance (output high when ``v(inp) > v(inn)``)."""
    if spec.kind == "strongarm":
        return instance(el, [inp, inn, out, "vdd", GND, "clkb"], latchmod.LATCH)
    return instance(el, [inp, inn, out, "vdd", GND, "vbp"], COMPARATOR)


def deck(spec: ComparatorSpec) -> str:
    """Library deck: the transistors (PTM cards or a library line) and the bias and comparator
    subcircuits."""
    return deckmod.render("circuitsim ramp-ADC comparator library", header(spec),
                          subckt_lines(spec), **render_args(spec.technology))


# ---------------------------------------------------------------- the counter

def sample_times(spec: RampSpec) -> np.ndarray:
    """Instants (s) at which the counter samples the comparator: the end of each ramp step
    ``k = 1 .. 2^B - 1``, i.e. ``t_start + (k + 1) * period``; shape ``(2^B - 1,)``.

    Accepts a :class:`RampSpec` or any spec with a ``ramp`` field holding one.
    """
    ramp = getattr(spec, "ramp", spec)
    k = np.arange(1, ramp.steps)
    return ramp.t_start + (k + 1) * ramp.period


def code_from_waveform(time: np.ndarray, v_out: np.ndarray, sample_times: np.ndarray,
                       threshold: float) -> int:
    """The count: at how many ``sample_times`` the comparator output exceeds ``threshold``
    (says ramp < input). ``time``/``v_out`` are a simulated waveform (s, V), interpolated
    linearly at the sample instants, which must lie within the simulated time."""
    time = np.asarray(time, dtype=float)
    ts = np.asarray(sample_times, dtype=float)
    if ts.size and (ts.min() < time[0] or ts.max() > time[-1]):
        raise ValueError(f"sample times {ts.min():g} .. {ts.max():g} s lie outside the "
                         f"waveform {time[0]:g} .. {time[-1]:g} s")
    return int(np.count_nonzero(np.interp(ts, time, np.asarray(v_out, dtype=float)) > threshold))


#: SKY130 sizing at 1.8 V (``--preset sky130``; see models/README.md). Continuous: the PTM
#: topology and currents (tail 40 uA, stage 2 20 uA) with 1 um bias/load lengths, an 8/0.5 um
#: input pair (SkyWater's mismatch falls with area) and a 16 um tail: the pair's |V_GS| is
#: ~1.1 V, so a narrower tail leaves saturation as the common mode rises. ``cs_trim`` 1.1
#: nulls most of the systematic offset the output conductances leave (+0.15 mV untrimmed);
#: the DC trip point is then 0.26 .. 0.05 mV below the ramp over common modes 0.06 .. 0.4 V
#: at tt, the side the ramp ADC's overdrive ladders measure (models/README.md).
SKY130 = {"technology": {"name": "sky130"}, "vdd": 1.8, "i_bias": 20e-6, "w_bias": 8e-6,
          "w_tail": 16e-6, "l_tail": 1e-6, "w_in": 8e-6, "l_in": 0.5e-6, "w_load": 2e-6,
          "l_load": 1e-6, "w_cs_load": 8e-6, "w_inv_n": 1e-6, "w_inv_p": 2e-6,
          "l_inv": 0.15e-6, "cs_trim": 1.1}
#: The StrongARM latch at 1.8 V: 8/0.5 um input pair, the other devices at L = 0.15 um, widths
#: >= the 0.42 um minimum; regeneration is slower than with PTM 45 nm, so the fine-step window
#: after each clock edge is 1 ns of 10 ps steps.
SKY130_LATCH = {"kind": "strongarm", "technology": {"name": "sky130"}, "vdd": 1.8,
                "latch": {"w_tail": 4e-6, "w_in": 8e-6, "l_in": 0.5e-6, "w_xp": 2e-6,
                          "w_xn": 1e-6, "w_rst": 0.84e-6, "w_sr_n": 0.42e-6, "w_sr_p": 0.84e-6,
                          "l_min": 0.15e-6, "t_resolve": 1e-9, "t_fine": 10e-12}}


def preset(kind: str, technology: dict[str, Any]) -> dict[str, Any]:
    """The comparator mapping of ``kind`` (continuous, strongarm) in ``technology`` (a
    ``technology`` field mapping): the defaults for PTM, the SKY130 sizing for sky130 (with the
    mapping's corner and mismatch)."""
    if technology.get("name", "ptm45") == "ptm45":  # the defaults (and their cache keys)
        out: dict[str, Any] = {} if kind == "continuous" else {"kind": kind}
        return out | ({"technology": technology} if set(technology) - {"name"} else {})
    if technology["name"] != "sky130":
        raise SpecError(f"technology.name={technology['name']!r}: no comparator preset "
                        "(ptm45 or sky130)")
    return {**(SKY130 if kind == "continuous" else SKY130_LATCH), "technology": technology}


BLOCKS = [
    Block(name="comparator", spec=ComparatorSpec, generate=deck,
          summary="transistor-level ramp-ADC comparator (PMOS pair, CS stage, inverter)",
          kind="block", examples={"default": {}, "strongarm": {"kind": "strongarm"},
                                  "sky130": SKY130, "sky130_strongarm": SKY130_LATCH}),
]
