"""Latch testbench: one StrongARM latch deciding a sequence of input pairs, one per clock.

A warm-up cycle on the first pair (the output latch's DC state is its metastable point), then
cycle ``j`` (period ``t_reset + t_eval``, :class:`~circuitsim.netlist.latch.LatchSpec`'s
``t_eval``): reset (``clkb`` high) for ``t_reset``, during which the input sources step to
``(v_inp[j], v_inn[j])`` (at a quarter of the reset phase, so the latch inputs have settled),
then the clock edge and the evaluation. Each input is driven through ``r_source`` (the
impedance the latch's kickback works against). The output latch is the comparator's own.

Saved: ``v(out)``, the latch nodes ``v(xl.op)``, ``v(xl.on)``, the latch inputs ``v(inp)``,
``v(inn)`` and their sources ``v(sp)``, ``v(sn)``, ``v(clkb)``, and the currents ``i(Vdd)``,
``i(Vclk)``, ``i(Vp)``, ``i(Vn)``. Measured: ``qdd``, the integral of ``i(Vdd)`` over the
cycles after the warm-up (minus the supply's charge, C).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuitsim.netlist import deck as deckmod
from circuitsim.netlist import latch
from circuitsim.netlist.adc import ComparatorSpec
from circuitsim.netlist.block import Block
from circuitsim.netlist.elements import (
    GND,
    instance,
    meas_integ,
    resistor,
    save,
    tran,
    vdc,
    vpwl,
    wrap,
)
from circuitsim.netlist.fmt import num
from circuitsim.netlist.technology import render_args
from circuitsim.spec import check_types, param, positive, require


@dataclass(frozen=True, slots=True)
class LatchTestbenchSpec:
    """A latch deciding ``len(v_inp)`` input pairs, one per clock cycle."""

    comparator: ComparatorSpec = param(ComparatorSpec(kind="strongarm"),
                                       "the comparator (kind must be strongarm)")
    v_inp: tuple[float, ...] = param((0.2005, 0.1995), "inp voltage of each cycle", "V")
    v_inn: tuple[float, ...] = param((0.2, 0.2), "inn voltage of each cycle", "V")
    t_reset: float = param(5e-9, "reset phase of each cycle", "s")
    r_source: float = param(1e3, "source resistance of each input", "ohm")
    t_step: float = param(10e-12, "transient print step and maximum time step", "s")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "t_reset", "r_source", "t_step")
        require(self.comparator.kind == "strongarm", "comparator.kind", self.comparator.kind,
                "must be strongarm")
        require(1 <= len(self.v_inp) <= 2000, "v_inp", len(self.v_inp),
                "needs 1 .. 2000 cycles")
        require(len(self.v_inn) == len(self.v_inp), "v_inn", len(self.v_inn),
                f"needs one value per cycle ({len(self.v_inp)})")
        for field in ("v_inp", "v_inn"):
            for v in getattr(self, field):
                require(0.0 <= v <= self.comparator.vdd, field, v,
                        f"must lie within 0 .. vdd = {self.comparator.vdd!r} V")
        e = self.comparator.latch.t_clk_edge
        require(self.t_reset > 4 * e, "t_reset", self.t_reset, "must exceed four clock edges")
        require(self.t_step <= self.comparator.latch.t_eval / 4, "t_step", self.t_step,
                "must be <= latch.t_eval / 4")

    @property
    def period(self) -> float:
        return self.t_reset + self.comparator.latch.t_eval

    def starts(self) -> np.ndarray:
        """Start of each cycle (s), after the warm-up cycle."""
        return (np.arange(len(self.v_inp)) + 1) * self.period

    def edges(self) -> np.ndarray:
        """Clock edges (s) of the warm-up cycle and of every cycle: the ends of the resets."""
        return (np.arange(len(self.v_inp) + 1) + 1) * self.period - self.comparator.latch.t_eval

    @property
    def t_stop(self) -> float:
        return (len(self.v_inp) + 1) * self.period


def _steps(values: tuple[float, ...], t0: np.ndarray, e: float) -> list[tuple[float, float]]:
    points = [(0.0, values[0])]
    for t, a, b in zip(t0[1:], values[:-1], values[1:], strict=True):
        points += [(t, a), (t + e, b)]
    return points


def deck(spec: LatchTestbenchSpec) -> str:
    c = spec.comparator
    lt = c.latch
    change = spec.edges() - 0.75 * spec.t_reset  # a quarter into each reset phase
    v_inp, v_inn = (spec.v_inp[0], *spec.v_inp), (spec.v_inn[0], *spec.v_inn)
    body = [*latch.subckt_lines(lt, c.technology), "",
            vdc("Vdd", "vdd", GND, c.vdd),
            vpwl("Vclk", "clkb", GND, latch.clock_points(lt, spec.edges(), c.vdd)),
            vpwl("Vp", "sp", GND, _steps(v_inp, change, lt.t_clk_edge)),
            vpwl("Vn", "sn", GND, _steps(v_inn, change, lt.t_clk_edge)),
            resistor("Rp", "sp", "inp", spec.r_source),
            resistor("Rn", "sn", "inn", spec.r_source),
            instance("Xl", ["inp", "inn", "out", "vdd", GND, "clkb"], latch.LATCH)]
    flat = save(["v(out)", "v(inp)", "v(inn)", "v(sp)", "v(sn)", "v(clkb)", "i(Vdd)",
                 "i(Vclk)", "i(Vp)", "i(Vn)"])
    tokens = [t for t in flat.split() if t not in (".save", "+")]
    # the latch's internal nodes: fixed names of the subcircuit, no user text
    control = [tran(spec.t_step, spec.t_stop, spec.t_step),
               wrap([".save", *tokens, "v(xl.op)", "v(xl.on)"]),
               meas_integ("qdd", "i(Vdd)", spec.period, spec.t_stop)]
    head = [*latch.header(lt, c.technology), f"supply {num(c.vdd)} V; a warm-up cycle (the "
            f"output latch starts metastable) and {len(spec.v_inp)} cycle(s) of "
            f"{num(spec.t_reset)} s reset + {num(lt.t_eval)} s evaluation; sources through "
            f"{num(spec.r_source)} ohm"]
    return deckmod.render(f"circuitsim StrongARM latch testbench ({len(spec.v_inp)} cycles)",
                          head, body, control=control, **render_args(c.technology))


BLOCKS = [
    Block(name="tb_latch", spec=LatchTestbenchSpec, generate=deck,
          summary="StrongARM latch deciding one input pair per clock cycle", kind="testbench",
          examples={"default": {}}),
]
