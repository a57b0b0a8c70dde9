"""Update phase of the 3T1C cell: a pulse sequence, then a hold.

:func:`run_update` runs :mod:`circuitsim.netlist.tb_update` and reads its waveforms: V_C and g
at the testbench's sample times (one per pulse period, ``tb_update.sample_times``), V_C(t) and
g(t) over the hold on a fixed grid (:data:`HOLD_POINTS` points: the hold start, then
log-spaced from ``t_hold·1e-3`` to ``t_hold``), the leakage rate at the hold start, and the
energy of every pulse period from the supply and pulse-line source currents.

Energy per pulse, period ``K`` = ``[(K−1)·T, K·T]``: ``energy_supply`` from ``Vdd`` (it
charges V_C through the pull-up, so ≈ ``C·ΔV_C·VDD`` for an up pulse) plus ``energy_lines``,
the net energy of the ideal pulse-line sources ``Vup``/``Vdn`` (they take back the gate charge
on the return edge, so it is ≈ 0: an ideal driver is lossless). ``energy_lines_cv2`` estimates
what a real driver dissipates switching the line: the charge moved (½∫|i|dt) times the swing.
The read-bias sources ``Vrd``/``Vrdref`` are reported separately (``energy_read_bias``), not
counted as update energy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from circuitsim.netlist import tb_update
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.phases.records import Record
from circuitsim.phases.technology import options_for
from circuitsim.spec import from_mapping, to_mapping
from circuitsim.spice.runner import SimOptions, simulate
from circuitsim.spice.waveform import source_charge, source_energy, window_integral

#: The point of an update sweep is the testbench spec.
UpdatePoint = UpdateTestbenchSpec

#: Hold grid: t = 0, then HOLD_POINTS - 1 log-spaced points from t_hold*HOLD_FIRST to t_hold.
HOLD_POINTS = 50
HOLD_FIRST = 1e-3
#: The leakage rate is the slope at 0 of a quadratic fitted over this fraction of the hold.
LEAK_FIT_FRACTION = 0.1

_DEFAULTS = UpdateTestbenchSpec()


@dataclass(frozen=True, slots=True, eq=False)
class UpdateResult(Record):
    """``N`` pulses, ``H`` = :data:`HOLD_POINTS` hold samples."""

    pulses: str  #: the sequence, U = up, D = down
    kinds: np.ndarray  #: (N,) int, +1 up, -1 down
    sample_times: np.ndarray  #: (N+1,) s, K * t_period (K = 0 before the first pulse)
    vc: np.ndarray  #: (N+1,) V, V_C after each pulse (index 0: initial)
    g: np.ndarray  #: (N+1,) S, read conductance after each pulse
    g_shared: np.ndarray  #: (N+1,) S, reference cell's g at the same instants
    dvc: np.ndarray  #: (N,) V, V_C step of each pulse
    dg: np.ndarray  #: (N,) S, g step of each pulse
    hold_start: float  #: s, N * t_period
    hold_times: np.ndarray  #: (H,) s since hold_start: 0, then log-spaced to t_hold
    vc_hold: np.ndarray  #: (H,) V
    g_hold: np.ndarray  #: (H,) S
    leak_rate: float  #: V/s, dV_C/dt at the start of the hold
    leak_current: float  #: A, c * leak_rate (storage capacitor only)
    charge_supply: np.ndarray  #: (N,) C delivered by Vdd per pulse period
    energy_supply: np.ndarray  #: (N,) J delivered by Vdd per pulse period
    energy_lines: np.ndarray  #: (N,) J, net energy of the pulse-line sources per period
    energy_pulse: np.ndarray  #: (N,) J, energy_supply + energy_lines
    energy_lines_cv2: np.ndarray  #: (N,) J, estimate: line charge moved x swing
    energy_read_bias: np.ndarray  #: (N,) J from the read-bias sources (not update energy)
    c: float  #: F, storage capacitor
    vdd: float  #: V, pull-up supply
    t_period: float  #: s
    spec_json: str
    ngspice_version: str

    def spec(self) -> UpdateTestbenchSpec:
        return from_mapping(UpdateTestbenchSpec, json.loads(self.spec_json))


def hold_grid(t_hold: float) -> np.ndarray:
    """Hold sample instants (s since the hold start), shape ``(HOLD_POINTS,)``."""
    return np.concatenate([[0.0], t_hold * np.logspace(np.log10(HOLD_FIRST), 0.0,
                                                       HOLD_POINTS - 1)])


def _leak_rate(time: np.ndarray, vc: np.ndarray, start: float, t_hold: float) -> float:
    s = np.linspace(0.0, LEAK_FIT_FRACTION * t_hold, 21)
    coef = np.polyfit(s / t_hold, np.interp(start + s, time, vc), 2)
    return float(coef[1] / t_hold)


def update_point(spec: UpdateTestbenchSpec, options: SimOptions | None = None) -> UpdateResult:
    """Simulate the update testbench ``spec``."""
    deck = tb_update.deck(spec)
    res = simulate(deck, options_for(spec.cell.technology, options))
    t, c = res.time, spec.cell
    ts = tb_update.sample_times(spec)
    vc, g, gs = (np.interp(ts, t, res[name]) for name in ("v(vc)", "v(g)", "v(gs)"))
    n = len(spec.pulses)
    periods = np.stack([ts[:-1], ts[1:]], axis=1)
    e_supply = source_energy(res, "Vdd", c.vdd, periods)
    e_lines = source_energy(res, "Vup", "v(upb)", periods) + source_energy(res, "Vdn", "v(dn)",
                                                                           periods)
    up_swing = (c.vdd if c.v_up_idle is None else c.v_up_idle) - c.v_up_gate
    moved = (window_integral(t, np.abs(res["i(Vup)"]), periods) * up_swing
             + window_integral(t, np.abs(res["i(Vdn)"]), periods) * c.v_down_gate) / 2
    e_read = (source_energy(res, "Vrd", c.v_read, periods)
              + source_energy(res, "Vrdref", c.v_read, periods))
    start = n * spec.t_period
    hold_t = hold_grid(spec.t_hold)
    rate = _leak_rate(t, res["v(vc)"], start, spec.t_hold)
    return UpdateResult(
        pulses=spec.pulses, kinds=np.array([1 if p == "U" else -1 for p in spec.pulses]),
        sample_times=ts, vc=vc, g=g, g_shared=gs, dvc=np.diff(vc), dg=np.diff(g),
        hold_start=start, hold_times=hold_t, vc_hold=np.interp(start + hold_t, t, res["v(vc)"]),
        g_hold=np.interp(start + hold_t, t, res["v(g)"]), leak_rate=rate,
        leak_current=c.c * rate, charge_supply=source_charge(res, "Vdd", periods),
        energy_supply=e_supply, energy_lines=e_lines, energy_pulse=e_supply + e_lines,
        energy_lines_cv2=moved, energy_read_bias=e_read, c=c.c, vdd=c.vdd,
        t_period=spec.t_period, spec_json=json.dumps(to_mapping(spec)),
        ngspice_version=res.ngspice_version)


def decks(spec: Any) -> list[str]:
    """The decks :func:`update_point` simulates for ``spec`` (hashed into sweep keys)."""
    return [tb_update.deck(spec)]


# circuitsim.store.point_key hashes the decks of functions that declare them
update_point.decks = decks  # type: ignore[attr-defined]

def run_update(cell: Cell3T1CSpec, pulses: str, *, t_period: float = _DEFAULTS.t_period,
               t_hold: float = _DEFAULTS.t_hold,
               options: SimOptions | None = None) -> UpdateResult:
    """Apply ``pulses`` (``U``/``D`` characters, one per ``t_period``) to ``cell``, then hold
    for ``t_hold``. Invalid arguments raise :class:`SpecError` naming the field."""
    spec = UpdateTestbenchSpec(cell=cell, pulses=pulses, t_period=t_period, t_hold=t_hold)
    return update_point(spec, options)
