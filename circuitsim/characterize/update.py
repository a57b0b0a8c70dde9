"""3T1C update characterization: V_C step per up/down pulse over the whole V_C range,
Monte-Carlo cell-to-cell variation, and the hold leakage rate vs V_C.

Every SPICE run is a :func:`circuitsim.phases.update.update_point` testbench (one cell and its
reference cell, a pulse string, then a hold), run through :func:`run_points` (parallel,
resumable with a store). Four kinds of runs:

- **Nominal family** (the surrogate's tables): staircases of the nominal cell with the pull-up
  threshold offset ``dvt_up`` (up staircases) or the pull-down offset ``dvt_down`` (down
  staircases) set to each value of a grid ``family_offsets()`` (-family_max .. +family_max).
  An up staircase starts at ``v_lo + offset`` (one per ``start_offsets`` entry, so a row
  samples V_C every ~10 mV) and pulses up until V_C saturates; a down staircase starts at
  ``v_hi - offset`` and pulses down. A staircase runs in rounds of ``round_pulses`` pulses,
  each round a deck starting where the previous one ended, until its last step is below
  ``sat_step`` (saturated at the rail) or ``max_rounds`` rounds ran. The read FET of these
  runs is nominal, so every sample (V_C, g) also gives the nominal g(V_C).
- **Monte-Carlo**: ``mc_trials`` cells with (dvt_read, dvt_up, dvt_down) drawn independently
  from N(0, sigma_*) (:func:`circuitsim.montecarlo.draw`, seed ``mc_seed``); per trial one up
  staircase from ``v_lo`` and one down staircase from ``v_hi``, each ending with a hold of
  ``mc_hold``: the hold after the up staircase starts at the top rail and the one after the
  down staircase at the bottom, so the two hold trajectories cover both branches of the cell's
  leakage (V_C relaxes to an equilibrium in between).
- **Leakage grid** (per family row of the pull-down offset, whose subthreshold current
  ``~ exp(-dvt_down / n U_T)`` is the largest cell-to-cell change of the hold leakage): at
  each of ``leak_points`` start values from v_lo to v_hi one up pulse (and from the lowest
  two also a down pulse, to reach the bottom rail) followed by a short hold ``leak_hold``;
  the rate dV_C/dt at the hold start (quadratic fit, :mod:`circuitsim.phases.update`) at
  the V_C reached after the pulse.

Sigma choice: Pelgrom mismatch ``sigma_VT = A_VT / sqrt(W L)`` with A_VT = 2.5 mV·um (typical
of 45 nm bulk CMOS) gives 26.4 mV for the 45 nm x 200 nm read FET and 27.8 mV for the
45 nm x 180 nm pull devices; the defaults round these to 26 mV and 28 mV.

Up/down asymmetry of a cell: ``(|dV_up| - |dV_down|) / (|dV_up| + |dV_down|)`` with the steps
of one up and one down pulse at V_C = ``v_asym`` (0.5 V, the paper's initial V_C); the range
version averages the same ratio over V_C in ``asym_range``. > 0 means up steps are larger.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from circuitsim import montecarlo
from circuitsim.characterize.common import run_points
from circuitsim.errors import SpecError
from circuitsim.fidelity import Check
from circuitsim.netlist import cell3t1c, sky130
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.sky130_mismatch import sigma_vth
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.phases.records import Record
from circuitsim.phases.update import UpdateResult, update_point
from circuitsim.spec import (
    MAX_TRIALS,
    build,
    check_types,
    from_mapping,
    param,
    positive,
    require,
    to_mapping,
)

#: Longest pulse string of one deck (the testbench's limit).
MAX_DECK_PULSES = 512


@dataclass(frozen=True, slots=True)
class UpdateCharSpec:
    """Update characterization sweep (defaults = the full characterization, SI units)."""

    cell: Cell3T1CSpec = param(
        Cell3T1CSpec(), "cell template (sizing, pulse levels, vc0 = the reference cell's and "
        "the validation sequences' start); each run sets vc0 and the dvt_* offsets itself")
    t_period: float = param(50e-9, "pulse period of every run", "s")
    v_lo: float = param(0.0, "bottom of the V_C range: up staircases start here", "V")
    v_hi: float = param(1.0, "top of the V_C range: down staircases start here", "V")
    start_offsets: tuple[float, ...] = param(
        (0.0, 0.01, 0.02), "family staircases start at v_lo + offset (up) and v_hi - offset "
        "(down), one staircase per offset, so a row samples V_C every ~10 mV", "V")
    family_max: float = param(
        0.12, "family threshold offsets span -family_max..+family_max (>= ~4 sigma)", "V")
    family_step: float = param(0.01, "spacing of the family threshold offsets", "V")
    round_pulses: int = param(64, "pulses per staircase deck (a staircase runs in rounds)")
    max_rounds: int = param(10, "most decks per staircase")
    sat_step: float = param(
        2e-4, "a staircase is complete when its last step is below this (saturated)", "V")
    family_hold: float = param(1e-6, "hold after each family deck (not used)", "s")
    mc_trials: int = param(1000, "Monte-Carlo cells (Ambrogio et al. used 1,000 trials)")
    mc_seed: int = param(1, "seed of the Monte-Carlo draws")
    sigma_read: float = param(
        0.026, "sigma of the read FET threshold offset (Pelgrom, A_VT 2.5 mV um)", "V")
    sigma_up: float = param(
        0.028, "sigma of the pull-up PMOS threshold offset (Pelgrom, A_VT 2.5 mV um)", "V")
    sigma_down: float = param(
        0.028, "sigma of the pull-down NMOS threshold offset (Pelgrom, A_VT 2.5 mV um)", "V")
    mc_hold: float = param(
        5e-3, "hold after each Monte-Carlo staircase deck (leakage trajectory)", "s")
    leak_points: int = param(41, "start values of the leakage grid of each dvt_down row "
                             "(v_lo..v_hi)")
    leak_hold: float = param(20e-6, "hold of the leakage grid runs (rate at its start)", "s")
    v_asym: float = param(0.5, "V_C at which the up/down asymmetry is quoted", "V")
    asym_range: tuple[float, ...] = param(
        (0.1, 0.8), "V_C range (lo, hi) over which the range asymmetry is averaged", "V")
    val_seed: int = param(
        1001, "seed of the held-out validation cells and pulse sequences (not mc_seed)")
    val_cells: int = param(8, "held-out Monte-Carlo cells validated (plus the nominal cell)")
    val_pulses: int = param(256, "pulses per validation sequence (>= 200)")
    val_segment: int = param(
        128, "validation target V_C sweeps val_range in this many pulses, then back")
    val_bias: float = param(
        0.85, "probability of a pulse towards the target V_C (else away from it)")
    val_range: tuple[float, ...] = param(
        (0.05, 0.97), "(lo, hi) of the validation target sweep (the walk covers the range)",
        "V")
    val_leak_v0: tuple[float, ...] = param(
        (0.15, 0.8), "held-out leakage runs start here (one up pulse, then val_hold)", "V")
    val_hold: float = param(2e-3, "hold of the held-out leakage runs", "s")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "t_period", "family_max", "family_step", "round_pulses", "max_rounds",
                 "sat_step", "family_hold", "mc_trials", "sigma_read", "sigma_up",
                 "sigma_down", "mc_hold", "leak_hold", "val_cells", "val_hold")
        vdd = self.cell.vdd
        require(0.0 <= self.v_lo < self.v_hi <= vdd, "v_hi", self.v_hi,
                f"need 0 <= v_lo={self.v_lo!r} < v_hi <= cell.vdd={vdd!r}")
        require(len(self.start_offsets) >= 1 and all(0 <= o < 0.1 for o in self.start_offsets),
                "start_offsets", self.start_offsets, "need 1+ offsets in [0, 0.1) V")
        require(self.family_max <= 0.3, "family_max", self.family_max, "must be <= 0.3 V")
        require(self.family_step <= self.family_max, "family_step", self.family_step,
                f"must be <= family_max={self.family_max!r}")
        sig = max(self.sigma_up, self.sigma_down)
        require(self.family_max >= 3 * sig, "family_max", self.family_max,
                f"must cover 3 sigma = {3 * sig!r} V of the pull-device offsets")
        require(self.round_pulses <= MAX_DECK_PULSES, "round_pulses", self.round_pulses,
                f"must be <= {MAX_DECK_PULSES}")
        require(3 <= self.mc_trials <= MAX_TRIALS, "mc_trials", self.mc_trials,
                f"need 3..{MAX_TRIALS} trials (each is a SPICE staircase)")
        require(self.mc_seed >= 0 and self.val_seed >= 0 and self.val_seed != self.mc_seed,
                "val_seed", self.val_seed, f"must be >= 0 and differ from mc_seed={self.mc_seed}")
        require(3 <= self.leak_points <= 400, "leak_points", self.leak_points,
                "must be in 3..400")
        require(self.v_lo <= self.v_asym <= self.v_hi, "v_asym", self.v_asym,
                "must lie in [v_lo, v_hi]")
        require(len(self.asym_range) == 2 and self.v_lo <= self.asym_range[0]
                < self.asym_range[1] <= self.v_hi, "asym_range", self.asym_range,
                "need (lo, hi) with v_lo <= lo < hi <= v_hi")
        require(200 <= self.val_pulses <= MAX_DECK_PULSES, "val_pulses", self.val_pulses,
                f"must be in 200..{MAX_DECK_PULSES} (the issue asks for >= 200 pulses)")
        require(1 <= self.val_segment <= self.val_pulses, "val_segment", self.val_segment,
                "must be in 1..val_pulses")
        require(0.5 <= self.val_bias <= 1.0, "val_bias", self.val_bias, "must be in [0.5, 1]")
        require(len(self.val_range) == 2 and self.v_lo <= self.val_range[0]
                < self.cell.vc0 < self.val_range[1] <= self.v_hi, "val_range", self.val_range,
                "need (lo, hi) with v_lo <= lo < cell.vc0 < hi <= v_hi")
        require(len(self.val_leak_v0) >= 1 and all(self.v_lo <= v <= self.v_hi - 0.05
                                                    for v in self.val_leak_v0),
                "val_leak_v0", self.val_leak_v0, "need 1+ values in [v_lo, v_hi - 0.05]")
        # the decks this spec makes must themselves be valid (pulse width vs period)
        UpdateTestbenchSpec(cell=self.cell, pulses="U", t_period=self.t_period,
                            t_hold=self.mc_hold)

    def family_offsets(self) -> np.ndarray:
        """Threshold offsets of the family rows (V), ascending, 0 included."""
        n = int(round(self.family_max / self.family_step))
        return np.arange(-n, n + 1) * self.family_step

    def mc_draws(self) -> dict[str, montecarlo.Normal]:
        return {"dvt_read": montecarlo.Normal(self.sigma_read),
                "dvt_up": montecarlo.Normal(self.sigma_up),
                "dvt_down": montecarlo.Normal(self.sigma_down)}

    def mc_cells(self, n: int, seed: int) -> list[Cell3T1CSpec]:
        """``n`` cells drawn from the Monte-Carlo distribution (seed ``seed``)."""
        return montecarlo.draw(self.cell, self.mc_draws(), n, seed)


#: Overrides for a small version (tests/CI): a coarse family, 20 trials, short holds.
QUICK: dict[str, Any] = {
    "start_offsets": (0.0, 0.015), "family_max": 0.09, "family_step": 0.015,
    "round_pulses": 96, "mc_trials": 20, "mc_hold": 2e-3, "leak_points": 13,
    "val_cells": 3, "val_pulses": 200, "val_segment": 100, "val_hold": 1e-3,
}


def technology_preset(technology: dict[str, Any], cell: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
    """Characterization overrides for a 3T1C cell in ``technology`` (a ``technology`` field
    mapping), on top of QUICK or the defaults: none for the embedded PTM cards. For ``sky130``:
    the SKY130 cell preset (updated by ``cell``), staircases over the whole 0..vdd range, the
    V_C points of the asymmetry and validation inside the read FET's g window (0.6-0.9 V), and
    the Monte-Carlo sigmas of SkyWater's own mismatch model for the cell's device sizes
    (:func:`~circuitsim.netlist.sky130_mismatch.sigma_vth`), with a family that spans 3.5 of
    them in three rows per side."""
    if technology.get("name") != "sky130":
        return {"cell": {"technology": technology, **(cell or {})}}
    c = {**cell3t1c.SKY130, **(cell or {}), "technology": technology}
    spec = build(Cell3T1CSpec, c)
    lib = sky130.prepared_library()
    sig = {"sigma_read": sigma_vth(lib, sky130.NFET, spec.w_read, spec.l_read),
           "sigma_up": sigma_vth(lib, sky130.PFET, spec.w_up, spec.l_up),
           "sigma_down": sigma_vth(lib, sky130.NFET, spec.w_down, spec.l_down)}
    step = float(np.ceil(3.5 * max(sig["sigma_up"], sig["sigma_down"]) / 3 / 1e-3)) * 1e-3
    return {"cell": c, "v_hi": spec.vdd, **sig, "family_max": 3 * step, "family_step": step,
            "v_asym": 0.75, "asym_range": (0.6, 0.9), "val_range": (0.55, 1.0),
            "val_leak_v0": (0.6, 0.9)}


@dataclass(frozen=True, slots=True, eq=False)
class UpdateDataset(Record):
    """Characterization data. Step observations are flat arrays, one entry per pulse:
    ``*_v0`` V_C before, ``*_v1`` after (V), ``*_g0``/``*_g1`` read conductance (S).
    ``F`` family rows, ``T`` Monte-Carlo trials, ``H`` hold samples, ``L`` leakage points."""

    family_dvt: np.ndarray  #: (F,) V, threshold offset of each family row
    fu_row: np.ndarray  #: (Pu,) int, family row of each up observation (dvt_up offset)
    fu_v0: np.ndarray  #: (Pu,) V
    fu_v1: np.ndarray  #: (Pu,) V
    fd_row: np.ndarray  #: (Pd,) int, family row of each down observation (dvt_down offset)
    fd_v0: np.ndarray  #: (Pd,) V
    fd_v1: np.ndarray  #: (Pd,) V
    nom_v: np.ndarray  #: (N,) V, V_C samples of the family runs (nominal read FET), sorted
    nom_g: np.ndarray  #: (N,) S, g at nom_v
    mc_dvt: np.ndarray  #: (T, 3) V, drawn (dvt_read, dvt_up, dvt_down) of each trial
    mu_trial: np.ndarray  #: (Qu,) int, trial of each Monte-Carlo up observation
    mu_v0: np.ndarray  #: (Qu,) V
    mu_v1: np.ndarray  #: (Qu,) V
    mu_g0: np.ndarray  #: (Qu,) S
    mu_g1: np.ndarray  #: (Qu,) S
    md_trial: np.ndarray  #: (Qd,) int, trial of each Monte-Carlo down observation
    md_v0: np.ndarray  #: (Qd,) V
    md_v1: np.ndarray  #: (Qd,) V
    md_g0: np.ndarray  #: (Qd,) S
    md_g1: np.ndarray  #: (Qd,) S
    mc_hold_t: np.ndarray  #: (H,) s since the hold start
    mc_hold_v: np.ndarray  #: (T, 2, H) V; [:, 0] after the up staircase (from the top),
    #: [:, 1] after the down staircase (from the bottom)
    mc_step_up: np.ndarray  #: (T,) V, up step at v_asym
    mc_step_down: np.ndarray  #: (T,) V, down step at v_asym (negative)
    mc_asym: np.ndarray  #: (T,) asymmetry at v_asym
    mc_asym_range: np.ndarray  #: (T,) asymmetry averaged over asym_range
    leak_row: np.ndarray  #: (L,) int, family row (dvt_down offset) of each leakage point
    leak_v: np.ndarray  #: (L,) V, V_C at the start of each leakage-grid hold (sorted per row)
    leak_rate: np.ndarray  #: (L,) V/s, dV_C/dt there
    leak_vc0: np.ndarray  #: (G,) V, start values of the leakage grid
    leak_gs: np.ndarray  #: (G,) S, the nominal reference cell's g_shared at leak_vc0
    spec_json: str
    ngspice_version: str

    def spec(self) -> UpdateCharSpec:
        return from_mapping(UpdateCharSpec, json.loads(self.spec_json))


# ---------------------------------------------------------------- staircases

DeckRunner = Callable[[list[UpdateTestbenchSpec], str], list[UpdateResult]]


def _runner(store: Path | str | None, workers: int | None, scheduler: str | None,
            progress: bool) -> DeckRunner:
    def run(points: list[UpdateTestbenchSpec], desc: str) -> list[UpdateResult]:
        if not points:
            return []
        return run_points(update_point, points, store=store, workers=workers,
                          scheduler=scheduler, progress=progress, desc=desc)
    return run


def _clamp_vc(v: float, vdd: float) -> float:
    return float(min(max(v, 0.0), vdd))


def staircases(spec: UpdateCharSpec, cells: Sequence[Cell3T1CSpec], kind: str,
               starts: Sequence[float], hold: float, run: DeckRunner,
               desc: str) -> list[list[UpdateResult]]:
    """Run one staircase per cell (``kind`` "U" or "D") from ``starts`` in rounds of
    ``round_pulses`` pulses until the last step is below ``sat_step`` or ``max_rounds`` ran.
    Returns, per cell, its decks' results in order. All staircases of a round run together."""
    results: list[list[UpdateResult]] = [[] for _ in cells]
    v_start = [float(v) for v in starts]
    pending = list(range(len(cells)))
    for r in range(spec.max_rounds):
        points = [UpdateTestbenchSpec(
            cell=dataclasses.replace(cells[i], vc0=_clamp_vc(v_start[i], cells[i].vdd)),
            pulses=kind * spec.round_pulses, t_period=spec.t_period, t_hold=hold)
            for i in pending]
        outs = run(points, f"{desc} round {r + 1}")
        still = []
        for i, res in zip(pending, outs, strict=True):
            results[i].append(res)
            if abs(float(res.dvc[-1])) > spec.sat_step:
                v_start[i] = float(res.vc[-1])
                still.append(i)
        pending = still
        if not pending:
            break
    return results


def _require_saturated(spec: UpdateCharSpec, runs: list[list[UpdateResult]], fam: np.ndarray,
                       which: str) -> None:
    """The surrogate's tables need every family staircase to reach its rail."""
    per_row = len(spec.start_offsets)
    for i, decks in enumerate(runs):
        last = abs(float(decks[-1].dvc[-1]))
        if last > spec.sat_step:
            raise SpecError(
                f"max_rounds={spec.max_rounds!r}: the {which} staircase of family row "
                f"dvt_{which}={fam[i // per_row]:+.3g} V still steps {1e3 * last:.3g} mV after "
                f"{len(decks) * spec.round_pulses} pulses; raise max_rounds or round_pulses")


def _observations(decks: list[UpdateResult]) -> tuple[np.ndarray, ...]:
    v0 = np.concatenate([d.vc[:-1] for d in decks])
    v1 = np.concatenate([d.vc[1:] for d in decks])
    g0 = np.concatenate([d.g[:-1] for d in decks])
    g1 = np.concatenate([d.g[1:] for d in decks])
    return v0, v1, g0, g1


def _flat(per_item: list[list[UpdateResult]]) -> dict[str, np.ndarray]:
    idx, v0, v1, g0, g1 = [], [], [], [], []
    for i, decks in enumerate(per_item):
        a, b, c, d = _observations(decks)
        idx.append(np.full(a.size, i))
        v0.append(a)
        v1.append(b)
        g0.append(c)
        g1.append(d)
    return {"idx": np.concatenate(idx).astype(np.int64), "v0": np.concatenate(v0),
            "v1": np.concatenate(v1), "g0": np.concatenate(g0), "g1": np.concatenate(g1)}


def step_at(v0: np.ndarray, v1: np.ndarray, v: np.ndarray | float) -> np.ndarray:
    """Step ``v1 - v0`` linearly interpolated at V_C = ``v`` from one cell's observations."""
    order = np.argsort(v0)
    return np.interp(v, v0[order], (v1 - v0)[order])


def asymmetry(up: np.ndarray, down: np.ndarray) -> np.ndarray:
    """``(|up| - |down|) / (|up| + |down|)`` (elementwise)."""
    a, b = np.abs(up), np.abs(down)
    return (a - b) / (a + b)


# ---------------------------------------------------------------- characterize

def characterize(spec: UpdateCharSpec, *, store: Path | str | None = None,
                 workers: int | None = None, scheduler: str | None = None,
                 progress: bool = True) -> UpdateDataset:
    """Run the family, Monte-Carlo and leakage sweeps of ``spec`` (module docstring)."""
    run = _runner(store, workers, scheduler, progress)
    base = spec.cell
    fam = spec.family_offsets()
    offs = spec.start_offsets
    # nominal family: one staircase per (row, start offset), up rows vary dvt_up, down dvt_down
    up_cells = [dataclasses.replace(base, dvt_up=base.dvt_up + float(e))
                for e in fam for _ in offs]
    dn_cells = [dataclasses.replace(base, dvt_down=base.dvt_down + float(e))
                for e in fam for _ in offs]
    up_starts = [spec.v_lo + o for _ in fam for o in offs]
    dn_starts = [spec.v_hi - o for _ in fam for o in offs]
    fu = staircases(spec, up_cells, "U", up_starts, spec.family_hold, run, "update family up")
    fd = staircases(spec, dn_cells, "D", dn_starts, spec.family_hold, run,
                    "update family down")
    _require_saturated(spec, fu, fam, "up")
    _require_saturated(spec, fd, fam, "down")
    fu_flat, fd_flat = _flat(fu), _flat(fd)
    per_row = len(offs)
    # Monte-Carlo trials
    mc = spec.mc_cells(spec.mc_trials, spec.mc_seed)
    mu = staircases(spec, mc, "U", [spec.v_lo] * len(mc), spec.mc_hold, run, "update MC up")
    md = staircases(spec, mc, "D", [spec.v_hi] * len(mc), spec.mc_hold, run,
                    "update MC down")
    mu_flat, md_flat = _flat(mu), _flat(md)
    # leakage grid per pull-down family row: an up pulse from each start value (a down pulse
    # from the lowest two), then a short hold
    grid = np.linspace(spec.v_lo, spec.v_hi, spec.leak_points)
    starts = [("U", float(v)) for v in grid] + [("D", float(v)) for v in grid[:2]]
    leak_pts = [UpdateTestbenchSpec(
        cell=dataclasses.replace(base, vc0=v, dvt_down=base.dvt_down + float(e)),
        pulses=k, t_period=spec.t_period, t_hold=spec.leak_hold)
        for e in fam for k, v in starts]
    leak_res = run(leak_pts, "update leakage grid")
    l_row = np.repeat(np.arange(fam.size), len(starts))
    lv = np.array([r.vc[-1] for r in leak_res])
    lr = np.array([r.leak_rate for r in leak_res])
    order = np.lexsort((lv, l_row))
    nom = int(np.argmin(np.abs(fam)))
    nom_leak = leak_res[nom * len(starts):nom * len(starts) + grid.size]
    # nominal g(V_C) from every family sample (their read FET is nominal)
    nv = np.concatenate([fu_flat["v0"], fu_flat["v1"], fd_flat["v0"], fd_flat["v1"]])
    ng = np.concatenate([fu_flat["g0"], fu_flat["g1"], fd_flat["g0"], fd_flat["g1"]])
    n_order = np.argsort(nv)
    # per-trial asymmetry
    t_count = len(mc)
    lo, hi = spec.asym_range
    vr = np.linspace(lo, hi, 36)
    step_up = np.empty(t_count)
    step_dn = np.empty(t_count)
    asym_r = np.empty(t_count)
    for t in range(t_count):
        mu_m, md_m = mu_flat["idx"] == t, md_flat["idx"] == t
        su = step_at(mu_flat["v0"][mu_m], mu_flat["v1"][mu_m], np.r_[spec.v_asym, vr])
        sd = step_at(md_flat["v0"][md_m], md_flat["v1"][md_m], np.r_[spec.v_asym, vr])
        step_up[t], step_dn[t] = su[0], sd[0]
        asym_r[t] = float(np.mean(asymmetry(su[1:], sd[1:])))
    hold_v = np.stack([np.stack([mu[t][-1].vc_hold, md[t][-1].vc_hold]) for t in range(t_count)])
    return UpdateDataset(
        family_dvt=fam,
        fu_row=fu_flat["idx"] // per_row, fu_v0=fu_flat["v0"], fu_v1=fu_flat["v1"],
        fd_row=fd_flat["idx"] // per_row, fd_v0=fd_flat["v0"], fd_v1=fd_flat["v1"],
        nom_v=nv[n_order], nom_g=ng[n_order],
        mc_dvt=np.array([[c.dvt_read, c.dvt_up, c.dvt_down] for c in mc]),
        mu_trial=mu_flat["idx"], mu_v0=mu_flat["v0"], mu_v1=mu_flat["v1"],
        mu_g0=mu_flat["g0"], mu_g1=mu_flat["g1"],
        md_trial=md_flat["idx"], md_v0=md_flat["v0"], md_v1=md_flat["v1"],
        md_g0=md_flat["g0"], md_g1=md_flat["g1"],
        mc_hold_t=np.asarray(mu[0][-1].hold_times), mc_hold_v=hold_v,
        mc_step_up=step_up, mc_step_down=step_dn, mc_asym=asymmetry(step_up, step_dn),
        mc_asym_range=asym_r,
        leak_row=l_row[order], leak_v=lv[order], leak_rate=lr[order],
        leak_vc0=grid, leak_gs=np.array([r.g_shared[0] for r in nom_leak]),
        spec_json=json.dumps(to_mapping(spec)), ngspice_version=leak_res[0].ngspice_version)


# ---------------------------------------------------------------- summary

def nominal_row(ds: UpdateDataset) -> int:
    """Index of the family row with zero offset (the nominal cell)."""
    return int(np.argmin(np.abs(ds.family_dvt)))


def nominal_steps(ds: UpdateDataset, v: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Nominal (up, down) step at V_C = ``v`` from the family's zero-offset rows."""
    r = nominal_row(ds)
    mu, md = ds.fu_row == r, ds.fd_row == r
    return (step_at(ds.fu_v0[mu], ds.fu_v1[mu], v), step_at(ds.fd_v0[md], ds.fd_v1[md], v))


def leak_curve(ds: UpdateDataset, row: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(V_C, dV_C/dt) of one leakage family row (default: the nominal row)."""
    m = ds.leak_row == (nominal_row(ds) if row is None else row)
    return ds.leak_v[m], ds.leak_rate[m]


def leak_equilibrium(ds: UpdateDataset, row: int | None = None) -> float:
    """V_C where a row's leakage rate changes sign (linear interpolation), NaN if none."""
    v, rate = leak_curve(ds, row)
    s = np.sign(rate)
    k = np.flatnonzero((s[:-1] > 0) & (s[1:] <= 0))
    if k.size == 0:
        return float("nan")
    i = int(k[0])
    return float(v[i] - rate[i] * (v[i + 1] - v[i]) / (rate[i + 1] - rate[i]))


def summary(ds: UpdateDataset) -> list[Check]:
    """Headline figures of the characterization."""
    spec = ds.spec()
    va = spec.v_asym
    up, dn = nominal_steps(ds, va)
    nom_asym = float(asymmetry(up, dn))
    r = nominal_row(ds)
    top = float(ds.fu_v1[ds.fu_row == r].max())
    bottom = float(ds.fd_v1[ds.fd_row == r].min())
    g_at = np.interp([0.5, 0.7, top], ds.nom_v, ds.nom_g)
    a = ds.mc_asym
    c_up = float(np.corrcoef(a, ds.mc_dvt[:, 1])[0, 1])
    c_dn = float(np.corrcoef(a, ds.mc_dvt[:, 2])[0, 1])
    lv, lrate = leak_curve(ds)
    lr = lambda v: float(np.interp(v, lv, lrate))  # noqa: E731
    f = ds.family_dvt
    eq = [leak_equilibrium(ds, r) for r in (0, f.size - 1)]
    t = a.size
    return [
        Check(f"nominal up step at V_C={va:.2f} V", 1e3 * float(up), "mV"),
        Check(f"nominal down step at V_C={va:.2f} V", 1e3 * float(dn), "mV"),
        Check(f"nominal up/down asymmetry at V_C={va:.2f} V", nom_asym, ""),
        Check("nominal V_C after saturating up / down", top, "V",
              detail=f"down staircases end at {bottom:.4g} V"),
        Check("nominal g at V_C = 0.5 / 0.7 V / top", 1e6 * g_at[0], "uS",
              detail=f"{1e6 * g_at[1]:.3g} uS at 0.7 V, {1e6 * g_at[2]:.3g} uS at the top"),
        Check(f"MC asymmetry at {va:.2f} V: mean", float(np.mean(a)), "",
              detail=f"{t} trials; std {np.std(a):.3g}, 5-95 % [{np.percentile(a, 5):.3g}, "
                     f"{np.percentile(a, 95):.3g}]"),
        Check("MC asymmetry over V_C range: std", float(np.std(ds.mc_asym_range)), "",
              detail=f"range {spec.asym_range[0]:g}-{spec.asym_range[1]:g} V, mean "
                     f"{np.mean(ds.mc_asym_range):.3g}"),
        Check("MC up step at v_asym: std/mean", float(np.std(ds.mc_step_up)
                                                      / np.mean(ds.mc_step_up)), ""),
        Check("MC down step at v_asym: std/mean", float(np.std(ds.mc_step_down)
                                                        / abs(np.mean(ds.mc_step_down))), ""),
        Check("corr(asymmetry, dvt_up) (weaker pull-up: smaller up step)", c_up, "",
              bound=0.0, sense="at_most"),
        Check("corr(asymmetry, dvt_down) (weaker pull-down: smaller down step)", c_dn, "",
              bound=0.0, sense="at_least"),
        Check("nominal leakage equilibrium V_C", leak_equilibrium(ds), "V",
              detail=f"{eq[0]:.3g} V at dvt_down {f[0]:+.3g} V, {eq[1]:.3g} V at "
                     f"{f[-1]:+.3g} V"),
        Check("nominal leakage rate at V_C = 0.5 V", lr(0.5), "mV/ms",
              detail=f"{lr(0.3):.3g} mV/ms at 0.3 V, {lr(0.62):.3g} mV/ms at 0.62 V, "
                     f"{lr(0.9):.3g} mV/ms at 0.9 V (1 V/s = 1 mV/ms)"),
    ]
