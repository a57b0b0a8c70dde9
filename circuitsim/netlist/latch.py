"""Clocked StrongARM latch comparator of the ramp ADC: no static bias, energy only per decision.

Circuit [ours; the StrongARM latch after Kobayashi et al. 1993, mirrored for low inputs],
PTM 45 nm HP BSIM4 (or the comparator's ``technology``), supply ``vdd`` (the
:class:`~circuitsim.netlist.adc.ComparatorSpec`'s):
the ramp-ADC inputs sit at 0.06 .. 0.4 V, below an NMOS threshold, so the latch is the PMOS
version. A PMOS tail switch (gate ``clkb``) feeds a PMOS input pair (``inp`` → node ``x``,
``inn`` → ``y``); cross-coupled PMOS (sources ``x``/``y``) and NMOS (to ground) pairs
regenerate ``op``/``on``; NMOS reset switches (gate ``clkb``) hold ``x``, ``y``, ``op``, ``on``
at ground while ``clkb`` is high. When ``clkb`` falls the input with the lower voltage draws
more current, so ``op`` wins (rises to ``vdd``) when ``v(inp) > v(inn)``. An inverter on each
of ``op``/``on`` gives both the same load whatever the held state (a set-reset latch on them
directly loads them by its state, a hysteresis of several mV measured), and a NAND set-reset
latch on the inverted nodes holds the decision through the next reset, so ``out`` is high when
``v(inp) > v(inn)`` at the last clock edge, as for the continuous comparator.

No static current: in reset the tail is off; after a decision one side of every path is off.
The supply delivers the charge of the nodes switched per decision (measured in
:mod:`circuitsim.characterize.latch`), and the clock line the gate charge of the tail and
reset switches (a real clock driver dissipates ``vdd`` times that charge per cycle).

In the ramp ADC (:func:`decision_edges`, :func:`clock_points`) the latch decides once per ramp
step, ``t_lead`` before the counter's sample at the end of the step (the ramp has settled by
then), once at the end of the calibration step so the held output starts from a decision
against the ramp base, and once at the start; ``clkb`` is low for ``t_eval`` per decision.

Mismatch: ``dvt_*`` are threshold offsets (V, > 0 = weaker device) of the input, PMOS
cross-coupled and NMOS cross-coupled pairs, drawn by :mod:`circuitsim.montecarlo` (Pelgrom).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuitsim.netlist.elements import comment, subckt
from circuitsim.netlist.fmt import num
from circuitsim.netlist.technology import TechnologySpec, mosfet_lines
from circuitsim.spec import check_types, param, positive, require

LATCH = "strongarm"
_PTM = TechnologySpec()
#: The device-size fields of :class:`LatchSpec` (m).
SIZES = ("w_tail", "w_in", "l_in", "w_xp", "w_xn", "w_rst", "w_sr_n", "w_sr_p", "l_min")
#: Pelgrom coefficient of the threshold mismatch (V·m), as for the 3T1C cell's devices.
A_VT = 2.5e-9


@dataclass(frozen=True, slots=True)
class LatchSpec:
    """StrongARM latch with inverters and a NAND set-reset output latch: device sizes, clock
    and mismatch."""

    w_tail: float = param(2e-6, "width of the PMOS tail switch", "m")
    w_in: float = param(4e-6, "width of each PMOS input-pair device", "m")
    l_in: float = param(0.18e-6, "length of the input-pair devices (longer: less offset)", "m")
    w_xp: float = param(1e-6, "width of each cross-coupled PMOS", "m")
    w_xn: float = param(0.5e-6, "width of each cross-coupled NMOS", "m")
    w_rst: float = param(0.3e-6, "width of each NMOS reset switch", "m")
    w_sr_n: float = param(0.2e-6, "width of the inverter and NAND latch NMOS devices", "m")
    w_sr_p: float = param(0.4e-6, "width of the inverter and NAND latch PMOS devices", "m")
    l_min: float = param(45e-9, "length of every device but the input pair", "m")
    t_lead: float = param(10e-9, "clock edge (decision) to the counter's sample", "s")
    t_eval: float = param(5e-9, "evaluation phase (clkb low) per decision", "s")
    t_clk_edge: float = param(50e-12, "clock rise and fall time", "s")
    t_resolve: float = param(0.2e-9, "window after each falling clock edge simulated with "
                             "steps of t_fine (the regeneration)", "s")
    t_fine: float = param(2e-12, "largest time step through the clock edge and t_resolve "
                          "(set by clock breakpoints)", "s")
    dvt_in_p: float = param(0.0, "threshold offset of the inp device", "V")
    dvt_in_n: float = param(0.0, "threshold offset of the inn device", "V")
    dvt_xp_p: float = param(0.0, "threshold offset of the cross-coupled PMOS on the x side",
                            "V")
    dvt_xp_n: float = param(0.0, "threshold offset of the cross-coupled PMOS on the y side",
                            "V")
    dvt_xn_p: float = param(0.0, "threshold offset of the cross-coupled NMOS pulling on",
                            "V")
    dvt_xn_n: float = param(0.0, "threshold offset of the cross-coupled NMOS pulling op",
                            "V")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "w_tail", "w_in", "l_in", "w_xp", "w_xn", "w_rst", "w_sr_n", "w_sr_p",
                 "l_min", "t_lead", "t_eval", "t_clk_edge", "t_resolve", "t_fine")
        for field in SIZES:
            require(getattr(self, field) >= 45e-9, field, getattr(self, field),
                    "must be >= 45 nm (the PTM 45 nm minimum)")
        require(self.t_eval > 2 * self.t_clk_edge + self.t_resolve, "t_eval", self.t_eval,
                "must exceed two clock edges and t_resolve")
        require(self.t_fine <= self.t_clk_edge / 5, "t_fine", self.t_fine,
                "must be <= t_clk_edge / 5")
        require(self.t_resolve / self.t_fine <= 1000, "t_resolve", self.t_resolve,
                "at most 1000 steps of t_fine per decision")
        require(self.t_eval + 2 * self.t_clk_edge <= self.t_lead, "t_eval", self.t_eval,
                f"the evaluation must end by the sample (t_lead = {self.t_lead!r} s)")
        for field in ("dvt_in_p", "dvt_in_n", "dvt_xp_p", "dvt_xp_n", "dvt_xn_p", "dvt_xn_n"):
            require(abs(getattr(self, field)) <= 0.2, field, getattr(self, field),
                    "threshold offsets beyond 0.2 V are not mismatch")

    def sigma_vt(self) -> dict[str, float]:
        """Pelgrom sigma (V) of each ``dvt_*`` field: ``A_VT / sqrt(W L)``."""
        def s(w: float, length: float) -> float:
            return A_VT / float(np.sqrt(w * length))

        return {"dvt_in_p": s(self.w_in, self.l_in), "dvt_in_n": s(self.w_in, self.l_in),
                "dvt_xp_p": s(self.w_xp, self.l_min), "dvt_xp_n": s(self.w_xp, self.l_min),
                "dvt_xn_p": s(self.w_xn, self.l_min), "dvt_xn_n": s(self.w_xn, self.l_min)}


def subckt_lines(spec: LatchSpec, tech: TechnologySpec = _PTM) -> list[str]:
    """``.subckt strongarm inp inn out vdd vss clkb`` built from ``tech``'s transistors."""
    def m(el: str, d: str, g: str, s: str, b: str, kind: str, w: float,
          length: float | None = None, dvt: float = 0.0) -> list[str]:
        return mosfet_lines(tech, el, d, g, s, b, kind, w,  # type: ignore[arg-type]
                            spec.l_min if length is None else length, dvt)

    body = [
        comment("PMOS tail switch, PMOS input pair (well tied to the tail)"),
        *m("M0", "tail", "clkb", "vdd", "vdd", "p", spec.w_tail),
        *m("M1", "x", "inp", "tail", "tail", "p", spec.w_in, spec.l_in, spec.dvt_in_p),
        *m("M2", "y", "inn", "tail", "tail", "p", spec.w_in, spec.l_in, spec.dvt_in_n),
        comment("regeneration: cross-coupled PMOS from x/y, cross-coupled NMOS to ground"),
        *m("M3", "on", "op", "x", "vdd", "p", spec.w_xp, dvt=spec.dvt_xp_p),
        *m("M4", "op", "on", "y", "vdd", "p", spec.w_xp, dvt=spec.dvt_xp_n),
        *m("M5", "on", "op", "vss", "vss", "n", spec.w_xn, dvt=spec.dvt_xn_p),
        *m("M6", "op", "on", "vss", "vss", "n", spec.w_xn, dvt=spec.dvt_xn_n),
        comment("reset switches: x, y, op, on to ground while clkb is high"),
        *m("M7", "x", "clkb", "vss", "vss", "n", spec.w_rst),
        *m("M8", "y", "clkb", "vss", "vss", "n", spec.w_rst),
        *m("M9", "op", "clkb", "vss", "vss", "n", spec.w_rst),
        *m("M10", "on", "clkb", "vss", "vss", "n", spec.w_rst),
        comment("equal loads: an inverter on each latch node (both high in reset)"),
        *m("M11", "opb", "op", "vss", "vss", "n", spec.w_sr_n),
        *m("M12", "opb", "op", "vdd", "vdd", "p", spec.w_sr_p),
        *m("M13", "onb", "on", "vss", "vss", "n", spec.w_sr_n),
        *m("M14", "onb", "on", "vdd", "vdd", "p", spec.w_sr_p),
        comment("NAND set-reset latch: out = NAND(opb, outb), outb = NAND(onb, out)"),
        *m("M15", "out", "opb", "s1", "vss", "n", spec.w_sr_n),
        *m("M16", "s1", "outb", "vss", "vss", "n", spec.w_sr_n),
        *m("M17", "out", "opb", "vdd", "vdd", "p", spec.w_sr_p),
        *m("M18", "out", "outb", "vdd", "vdd", "p", spec.w_sr_p),
        *m("M19", "outb", "onb", "s2", "vss", "n", spec.w_sr_n),
        *m("M20", "s2", "out", "vss", "vss", "n", spec.w_sr_n),
        *m("M21", "outb", "onb", "vdd", "vdd", "p", spec.w_sr_p),
        *m("M22", "outb", "out", "vdd", "vdd", "p", spec.w_sr_p),
    ]
    return subckt(LATCH, ["inp", "inn", "out", "vdd", "vss", "clkb"], body,
                  "StrongARM latch (PMOS input) + inverters + NAND SR latch: out high when "
                  "v(inp) > v(inn) at the last falling edge of clkb")


def header(spec: LatchSpec, tech: TechnologySpec = _PTM) -> list[str]:
    def um(x: float) -> str:
        return num(x * 1e6)

    return [f"StrongARM latch (PMOS input), {tech.label()}; W/L in um: tail {um(spec.w_tail)}, "
            f"pair {um(spec.w_in)}/{um(spec.l_in)}, cross p {um(spec.w_xp)} n {um(spec.w_xn)}, "
            f"reset {um(spec.w_rst)}, SR n {um(spec.w_sr_n)} p {um(spec.w_sr_p)}, other L "
            f"{um(spec.l_min)}",
            f"decides {num(spec.t_lead)} s before each counter sample, clkb low for "
            f"{num(spec.t_eval)} s"]


def clock_points(spec: LatchSpec, edges: np.ndarray, vdd: float) -> list[tuple[float, float]]:
    """PWL points of ``clkb``: high (reset), low for ``t_eval`` from each of ``edges`` (s,
    rising order, at least ``t_eval + 2 t_clk_edge`` apart)."""
    e = spec.t_clk_edge
    # breakpoints every t_fine through the edge and the regeneration: the decision takes
    # ~0.1 ns, and the simulator's own step control lets mV of numerical error decide it
    fine = np.arange(-e, spec.t_resolve + 0.5 * spec.t_fine, spec.t_fine)
    shape = np.clip(-fine / e, 0.0, 1.0) * vdd
    points = [(0.0, vdd)]
    for t in np.asarray(edges, dtype=float):
        points += [(t + d, v) for d, v in zip(fine, shape, strict=True)]
        points += [(t + spec.t_eval, 0.0), (t + spec.t_eval + e, vdd)]
    return points


def decision_edges(spec: LatchSpec, sample_times: np.ndarray, t_first: float) -> np.ndarray:
    """Clock edges of a ramp conversion: one right after the start (the set-reset latch's DC
    state is its metastable point, which draws crowbar current until a decision), one
    ``t_lead`` before ``t_first`` (the end of the calibration step, so the held output starts
    from a decision against the ramp base) and one ``t_lead`` before each counter sample."""
    return np.concatenate([[2 * spec.t_clk_edge, t_first - spec.t_lead],
                           np.asarray(sample_times) - spec.t_lead])
