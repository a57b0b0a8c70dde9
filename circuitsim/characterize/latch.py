"""StrongARM latch characterization: input offset and its Monte-Carlo spread, kickback,
decision time, energy per decision and the current between clock edges, in SPICE.

Per common mode (``common_modes``, spanning the ramp's 0.08 .. 0.32 V), one latch testbench
(:mod:`circuitsim.netlist.tb_latch`) decides ``+dv_sign`` and ``-dv_sign`` (differential
``v(inp) - v(inn)``) alternately, ``sign_cycles`` times: the decisions must follow the sign,
and those cycles give the decision time, the supply energy per decision, the clock charge, the
current at the end of the reset and evaluation phases, and the kickback through
``r_source``. The input offset ``V_os`` (decision 1 iff ``dv > V_os``) is found by a coarse
ladder of ``offset_steps`` inputs over ``±offset_span`` and a fine one of ``refine_steps``
across the coarse bracket, one decision per cycle (a simulation has no noise, so the ladder
is monotonic; its resolution is ``2 offset_span / (offset_steps - 1) / (refine_steps - 1)``);
an offset beyond ``±offset_span`` is NaN.

Monte-Carlo: ``mc_trials`` latches with the threshold offsets ``dvt_*`` of the input and both
cross-coupled pairs drawn by :func:`circuitsim.montecarlo.draw` from Pelgrom's law
(:meth:`circuitsim.netlist.latch.LatchSpec.sigma_vt`, ``A_VT`` = 2.5 mV·um), their offsets
measured at ``mc_common_mode`` with the same two ladders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim.characterize.common import run_points
from circuitsim.fidelity import Check
from circuitsim.montecarlo import Normal, draw
from circuitsim.netlist import sky130
from circuitsim.netlist.adc import ComparatorSpec
from circuitsim.netlist.sky130_mismatch import sigma_vth
from circuitsim.netlist.tb_latch import LatchTestbenchSpec
from circuitsim.phases.latch import LatchResult, latch_point
from circuitsim.phases.records import Record
from circuitsim.spec import (
    MAX_TRIALS,
    check_types,
    from_mapping,
    param,
    positive,
    require,
    to_mapping,
)
from circuitsim.spice.ngspice import ngspice_version


@dataclass(frozen=True, slots=True)
class LatchCharSpec:
    """What the latch characterization simulates (see the module docstring)."""

    comparator: ComparatorSpec = param(ComparatorSpec(kind="strongarm"),
                                       "the comparator (kind strongarm)")
    common_modes: tuple[float, ...] = param((0.08, 0.2, 0.32), "input common modes", "V")
    dv_sign: float = param(0.2e-3, "differential input of the sign cycles", "V")
    sign_cycles: int = param(4, "cycles of +dv_sign then -dv_sign per common mode")
    offset_span: float = param(30e-3, "coarse offset ladder covers -span .. +span", "V")
    offset_steps: int = param(31, "inputs of the coarse offset ladder")
    refine_steps: int = param(21, "inputs of the fine offset ladder")
    mc_trials: int = param(20, "Monte-Carlo latches (0: none)")
    mc_seed: int = param(7, "seed of the Monte-Carlo draws")
    mc_common_mode: float = param(0.2, "common mode of the Monte-Carlo offsets", "V")
    t_reset: float = param(5e-9, "reset phase of each cycle", "s")
    r_source: float = param(1e3, "source resistance of each input (kickback)", "ohm")
    t_step: float = param(1e-9, "transient maximum step outside the decisions", "s")

    def __post_init__(self) -> None:
        check_types(self)
        require(self.comparator.kind == "strongarm", "comparator.kind", self.comparator.kind,
                "must be strongarm")
        positive(self, "dv_sign", "offset_span", "t_reset", "r_source", "t_step")
        require(len(self.common_modes) >= 1, "common_modes", self.common_modes, "needs >= 1")
        for v in (*self.common_modes, self.mc_common_mode):
            require(self.offset_span < v < self.comparator.vdd - self.offset_span,
                    "common_modes", v, "must leave room for the offset ladder within 0 .. vdd")
        require(1 <= self.sign_cycles <= 100, "sign_cycles", self.sign_cycles, "must be 1 .. 100")
        require(3 <= self.offset_steps <= 500, "offset_steps", self.offset_steps,
                "must be 3 .. 500")
        require(3 <= self.refine_steps <= 500, "refine_steps", self.refine_steps,
                "must be 3 .. 500")
        require(0 <= self.mc_trials <= MAX_TRIALS, "mc_trials", self.mc_trials,
                f"must be 0 .. {MAX_TRIALS}")
        require(self.mc_seed >= 0, "mc_seed", self.mc_seed, "must be >= 0")

    def testbench(self, cm: float, dv: np.ndarray,
                  comparator: ComparatorSpec | None = None) -> LatchTestbenchSpec:
        """A testbench deciding the differential inputs ``dv`` around ``cm``."""
        dv = np.asarray(dv, dtype=float)
        return LatchTestbenchSpec(comparator=comparator or self.comparator,
                                  v_inp=tuple(float(v) for v in cm + dv / 2),
                                  v_inn=tuple(float(v) for v in cm - dv / 2),
                                  t_reset=self.t_reset, r_source=self.r_source,
                                  t_step=self.t_step)


#: Small settings for tests: two common modes, short ladders, four Monte-Carlo latches.
QUICK: dict[str, Any] = {"common_modes": [0.08, 0.32], "sign_cycles": 2, "offset_steps": 13,
                         "refine_steps": 11, "mc_trials": 4}


@dataclass(frozen=True, slots=True, eq=False)
class LatchDataset(Record):
    """``C`` common modes, ``M`` Monte-Carlo latches."""

    cm: np.ndarray  #: (C,) V
    sign_ok: np.ndarray  #: (C,) bool, every ±dv_sign decision follows the sign
    offset: np.ndarray  #: (C,) V, nominal latch input offset (NaN: beyond ±offset_span)
    t_decision: np.ndarray  #: (C,) s, mean regeneration time of the ±dv_sign decisions
    energy: np.ndarray  #: (C,) J, mean supply energy per decision (cycle)
    energy_clock: np.ndarray  #: (C,) J, vdd x clock charge per decision
    i_between: np.ndarray  #: (C,) A, largest |supply current| at the end of a phase
    kick: np.ndarray  #: (C,) V, largest kickback at a latch input through r_source
    mc_dvt: np.ndarray  #: (M, 6) V, drawn threshold offsets (input p/n, PMOS x/y, NMOS on/op)
    mc_offset: np.ndarray  #: (M,) V, input offset of each drawn latch (NaN: beyond the span)
    resolution: float  #: V, offset resolution of the ladders
    spec_json: str
    ngspice_version: str

    def spec(self) -> LatchCharSpec:
        return from_mapping(LatchCharSpec, json.loads(self.spec_json))


_DVT = ("dvt_in_p", "dvt_in_n", "dvt_xp_p", "dvt_xp_n", "dvt_xn_p", "dvt_xn_n")


def mismatch_sigmas(comparator: ComparatorSpec) -> dict[str, float]:
    """Sigma (V) of each ``dvt_*`` threshold offset of the latch: Pelgrom's law for PTM
    (:meth:`~circuitsim.netlist.latch.LatchSpec.sigma_vt`); for SKY130 SkyWater's own mismatch
    model for each device's W/L (a pure threshold shift,
    :func:`~circuitsim.netlist.sky130_mismatch.sigma_vth`). A custom library has no model."""
    lt, tech = comparator.latch, comparator.technology
    if tech.name == "ptm45":
        return lt.sigma_vt()
    require(tech.name == "sky130", "comparator.technology.name", tech.name,
            "a custom library has no mismatch model here: set mc_trials=0")
    lib = sky130.prepared_library()
    pair = sigma_vth(lib, sky130.PFET, lt.w_in, lt.l_in)
    xp = sigma_vth(lib, sky130.PFET, lt.w_xp, lt.l_min)
    xn = sigma_vth(lib, sky130.NFET, lt.w_xn, lt.l_min)
    return {"dvt_in_p": pair, "dvt_in_n": pair, "dvt_xp_p": xp, "dvt_xp_n": xp,
            "dvt_xn_p": xn, "dvt_xn_n": xn}


def _bracket(dv: np.ndarray, decision: np.ndarray) -> tuple[float, float]:
    """The inputs around the flip of a monotonic ladder (the ends if it does not flip)."""
    n0 = int(np.sum(decision == 0))
    lo = dv[max(n0 - 1, 0)]
    hi = dv[min(n0, dv.size - 1)]
    return float(lo), float(hi)


def characterize(spec: LatchCharSpec, *, store: Path | str | None = None,
                 workers: int | None = None, scheduler: str | None = None,
                 progress: bool = True) -> LatchDataset:
    """Run the characterization (two rounds of decks: sign and coarse ladders, fine ladders)."""
    run = {"store": store, "workers": workers, "scheduler": scheduler, "progress": progress}
    cms = np.asarray(spec.common_modes, dtype=float)
    sign = np.tile([spec.dv_sign, -spec.dv_sign], spec.sign_cycles)
    coarse = np.linspace(-spec.offset_span, spec.offset_span, spec.offset_steps)
    sigma = mismatch_sigmas(spec.comparator)
    draws = {f"comparator.latch.{k}": Normal(sigma[k]) for k in _DVT}
    mc = (draw(spec.testbench(spec.mc_common_mode, coarse), draws, spec.mc_trials, spec.mc_seed)
          if spec.mc_trials else [])
    ladders = [spec.testbench(cm, coarse) for cm in cms] + mc
    res = run_points(latch_point, [spec.testbench(cm, sign) for cm in cms] + ladders,
                     desc="latch sign cycles, coarse offset ladders", **run)
    signs, first = res[:len(cms)], res[len(cms):]
    fine_points, fine_dv = [], []
    for point, r in zip(ladders, first, strict=True):
        lo, hi = _bracket(coarse, r.decision)
        dv = np.linspace(lo, hi, spec.refine_steps)
        cm = 0.5 * (point.v_inp[0] + point.v_inn[0])
        fine_points.append(spec.testbench(cm, dv, point.comparator))
        fine_dv.append(dv)
    fine = run_points(latch_point, fine_points, desc="latch fine offset ladders", **run)
    # NaN where the coarse ladder does not flip: the offset lies beyond ±offset_span
    offsets = np.array([np.mean(_bracket(dv, r.decision))
                        if 0 < r0.decision.sum() < coarse.size else np.nan
                        for dv, r, r0 in zip(fine_dv, fine, first, strict=True)])
    return _assemble(spec, cms, sign, signs, offsets, mc)


def _assemble(spec: LatchCharSpec, cms: np.ndarray, sign: np.ndarray, signs: list[LatchResult],
              offsets: np.ndarray, mc: list[LatchTestbenchSpec]) -> LatchDataset:
    def per_cm(fn: Any) -> np.ndarray:
        return np.array([fn(r) for r in signs], dtype=float)

    return LatchDataset(
        cm=cms, sign_ok=np.array([np.array_equal(r.decision, (sign > 0).astype(int))
                                  for r in signs]),
        offset=offsets[:len(cms)],
        t_decision=per_cm(lambda r: np.mean(r.t_decision)),
        energy=per_cm(lambda r: np.mean(r.energy)),
        energy_clock=per_cm(lambda r: r.vdd * np.mean(r.charge_clock)),
        i_between=per_cm(lambda r: np.max(np.abs(np.concatenate([r.i_reset, r.i_hold])))),
        kick=per_cm(lambda r: max(np.max(r.kick_p), np.max(r.kick_n))),
        mc_dvt=np.array([[getattr(p.comparator.latch, k) for k in _DVT] for p in mc]
                        ).reshape(len(mc), len(_DVT)),
        mc_offset=offsets[len(cms):],
        resolution=2 * spec.offset_span / (spec.offset_steps - 1) / (spec.refine_steps - 1),
        spec_json=json.dumps(to_mapping(spec)), ngspice_version=ngspice_version())


def summary(ds: LatchDataset) -> list[Check]:
    """Headline figures: per common mode offset, decision time, energy, current between edges
    and kickback; the Monte-Carlo offset spread."""
    spec = ds.spec()
    checks = []
    for i, cm in enumerate(ds.cm):
        name = f"latch @{cm:g} V"
        checks += [
            Check(f"{name}: decisions follow ±{spec.dv_sign * 1e3:g} mV", float(ds.sign_ok[i]),
                  "", bound=1.0, sense="at_least"),
            Check(f"{name}: input offset", float(ds.offset[i]) * 1e6, "uV",
                  detail=f"ladder resolution {ds.resolution * 1e6:.2g} uV"),
            Check(f"{name}: decision time", float(ds.t_decision[i]) * 1e12, "ps",
                  detail="clock edge to |op - on| = vdd/2"),
            Check(f"{name}: energy per decision", float(ds.energy[i]) * 1e15, "fJ",
                  detail=f"supply; clock line {ds.energy_clock[i] * 1e15:.3g} fJ more"),
            Check(f"{name}: supply current between edges", float(ds.i_between[i]) * 1e9, "nA",
                  detail="largest, end of reset or of evaluation (leakage)"),
            Check(f"{name}: kickback", float(ds.kick[i]) * 1e3, "mV",
                  detail=f"peak at an input through {spec.r_source:g} ohm"),
        ]
    found = ds.mc_offset[np.isfinite(ds.mc_offset)]
    source = ("Pelgrom A_VT 2.5 mV um" if spec.comparator.technology.name == "ptm45" else
              "SkyWater's mismatch sigmas")
    if found.size:
        checks.append(Check(
            f"latch Monte-Carlo offset sigma @{spec.mc_common_mode:g} V",
            float(np.std(found, ddof=1)) * 1e3 if found.size > 1 else 0.0, "mV",
            detail=f"{ds.mc_offset.size} latches ({ds.mc_offset.size - found.size} beyond "
                   f"±{spec.offset_span * 1e3:g} mV, left out), {source}; mean "
                   f"{np.mean(found) * 1e3:.3g} mV, max |offset| "
                   f"{np.max(np.abs(found)) * 1e3:.3g} mV"))
    return checks

