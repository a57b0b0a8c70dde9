"""Latch decisions: one StrongARM latch deciding a sequence of input pairs, per clock cycle.

:func:`latch_point` runs :mod:`circuitsim.netlist.tb_latch` and reads, per cycle ``j``
(window ``[(j+1)·T, (j+2)·T]``, ``T`` the testbench period, after the warm-up cycle):

- ``decision``: the held output ``out`` at the end of the cycle (1: ``v(inp) > v(inn)``);
- ``t_decision``: from the clock edge (``clkb`` through ``vdd/2``) until the latch nodes
  differ by ``vdd/2`` (``|v(op) - v(on)|``), the regeneration time;
- ``energy``: ``∫ vdd·(-i(Vdd)) dt`` over the cycle, the supply energy of one decision and its
  reset; ``charge_clock``: the charge the clock source delivers while ``clkb`` rises (a real
  clock driver dissipates ``vdd`` times it);
- ``i_reset``, ``i_hold``: mean supply current over the last ``settle`` of the reset phase and
  of the evaluation phase (after the decision): what flows between clock edges;
- ``kick_p``, ``kick_n``: the largest ``|v(inp) - v(sp)|``, ``|v(inn) - v(sn)|`` over the cycle,
  the kickback through the source resistance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from circuitsim.netlist import tb_latch
from circuitsim.netlist.tb_latch import LatchTestbenchSpec
from circuitsim.phases.records import Record
from circuitsim.phases.technology import options_for
from circuitsim.spec import from_mapping, to_mapping
from circuitsim.spice.runner import simulate
from circuitsim.spice.waveform import window_energy, window_integral

#: End of each phase over which the between-edges current is averaged (s).
SETTLE = 1e-9


@dataclass(frozen=True, slots=True, eq=False)
class LatchResult(Record):
    """``n`` decisions of one latch (one per clock cycle)."""

    v_inp: np.ndarray  #: (n,) V
    v_inn: np.ndarray  #: (n,) V
    decision: np.ndarray  #: (n,) int, 1 when out is high at the end of the cycle
    t_decision: np.ndarray  #: (n,) s, clock edge to |v(op) - v(on)| = vdd/2 (NaN: none)
    energy: np.ndarray  #: (n,) J, supply energy of the cycle
    charge_clock: np.ndarray  #: (n,) C, charge the clock source delivers in the cycle
    i_reset: np.ndarray  #: (n,) A, mean supply current over the end of the reset phase
    i_hold: np.ndarray  #: (n,) A, mean supply current over the end of the evaluation phase
    kick_p: np.ndarray  #: (n,) V, largest |v(inp) - v(sp)| in the cycle
    kick_n: np.ndarray  #: (n,) V, largest |v(inn) - v(sn)| in the cycle
    vdd: float
    spec_json: str
    ngspice_version: str

    def spec(self) -> LatchTestbenchSpec:
        return from_mapping(LatchTestbenchSpec, json.loads(self.spec_json))


def _first_above(t: np.ndarray, y: np.ndarray, level: float, after: float,
                 before: float) -> float:
    idx = np.nonzero((t > after) & (t < before) & (y >= level))[0]
    if idx.size == 0:
        return float("nan")
    j = idx[0]
    if j == 0 or y[j - 1] >= level:
        return float(t[j])
    return float(t[j - 1] + (level - y[j - 1]) / (y[j] - y[j - 1]) * (t[j] - t[j - 1]))


def latch_point(spec: LatchTestbenchSpec) -> LatchResult:
    """Simulate the latch testbench ``spec`` (see the module docstring)."""
    res = simulate(tb_latch.deck(spec), options_for(spec.comparator.technology, None))
    t = res.time
    vdd = spec.comparator.vdd
    period, edges, starts = spec.period, spec.edges()[1:], spec.starts()
    e_clk = spec.comparator.latch.t_clk_edge
    cycles = np.stack([starts, starts + period], axis=1)
    i_dd = res["i(Vdd)"]
    i_clk = res["i(Vclk)"]
    split = np.abs(res["v(xl.op)"] - res["v(xl.on)"])
    ends = starts + period
    decision = np.array([np.interp(e - 0.01 * period, t, res["v(out)"]) > 0.5 * vdd
                         for e in ends], dtype=int)
    # clkb falls linearly through vdd/2 half an edge before the edge's end
    t_dec = np.array([_first_above(t, split, 0.5 * vdd, e - e_clk, s + period) - (e - e_clk / 2)
                      for s, e in zip(starts, edges, strict=True)])

    def mean_current(ends_: np.ndarray) -> np.ndarray:
        w = np.stack([ends_ - SETTLE, ends_], axis=1)
        return -window_integral(t, i_dd, w) / SETTLE

    kick = {}
    for side, src in (("p", "sp"), ("n", "sn")):
        dev = np.abs(res[f"v(in{side})"] - res[f"v({src})"])
        kick[side] = np.array([dev[(t >= a) & (t <= b)].max() for a, b in cycles])
    return LatchResult(
        v_inp=np.asarray(spec.v_inp, dtype=float), v_inn=np.asarray(spec.v_inn, dtype=float),
        decision=decision, t_decision=t_dec,
        energy=window_energy(t, vdd, i_dd, cycles),
        charge_clock=window_integral(t, np.maximum(-i_clk, 0.0), cycles),
        i_reset=mean_current(edges - 2 * e_clk), i_hold=mean_current(ends - 2 * e_clk),
        kick_p=kick["p"], kick_n=kick["n"], vdd=float(vdd),
        spec_json=json.dumps(to_mapping(spec)), ngspice_version=res.ngspice_version)


def decks(spec: LatchTestbenchSpec) -> list[str]:
    """The decks :func:`latch_point` simulates (hashed into sweep keys)."""
    return [tb_latch.deck(spec)]


latch_point.decks = decks  # type: ignore[attr-defined]
