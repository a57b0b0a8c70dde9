"""Update-phase testbench of one 3T1C cell and its reference cell.

A sequence of up (``U``) and down (``D``) pulses is applied to the cell, one per period; the
reference cell (g_shared) sits next to it with its pulse gates held off. Both read FETs are
biased at ``v_read`` throughout, so ``g = I_read / v_read`` is available at every instant
through B-source helper nodes ``g`` and ``gs`` whose voltage equals g and g_shared in siemens.

Timing (``T`` = ``t_period``, ``N`` = number of pulses): pulse ``K`` (1..N) starts at
``(K - 1) T + T/4`` and lasts ``t_pulse + 2 t_edge <= T/2``; V_C and g are sampled at
``K T`` (``vc_K``/``g_K``, K = 0 before the first pulse), i.e. at least ``T/4`` after a pulse
ended; then the cell holds for ``t_hold`` and ``vc_hold``/``g_hold`` are sampled at the end.

Saved: ``v(vc)``, ``v(vcref)``, ``v(g)``, ``v(gs)``; for energy the source currents
``i(Vdd)``, ``i(Vup)``, ``i(Vdn)``, ``i(Vrd)``, ``i(Vrdref)`` and the pulse-line voltages
``v(upb)``, ``v(dn)`` (:mod:`circuitsim.phases.update` integrates ``v * (-i)`` per period).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from circuitsim.netlist import cell3t1c
from circuitsim.netlist import deck as deck_mod
from circuitsim.netlist.block import Block
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.elements import GND, bvoltage, comment, instance, save, vdc, vpwl
from circuitsim.netlist.fmt import num
from circuitsim.netlist.technology import render_args
from circuitsim.spec import check_types, param, positive, require

PULSES_RE = re.compile(r"[UD]{1,512}")
#: Vectors the deck saves.
SAVED = ("v(vc)", "v(vcref)", "v(g)", "v(gs)", "v(upb)", "v(dn)", "i(Vdd)", "i(Vup)", "i(Vdn)",
         "i(Vrd)", "i(Vrdref)")


@dataclass(frozen=True, slots=True)
class UpdateTestbenchSpec:
    """Pulse sequence on one 3T1C cell, followed by a hold (SI units)."""

    cell: Cell3T1CSpec = param(Cell3T1CSpec(), "the cell under test (and its reference)")
    pulses: str = param(
        "UUUUUUUUDDDD", "pulse sequence, U = up pulse, D = down pulse (1 to 512 characters); "
        "the default ends near 0.62 V, above the ~0.48 V hold equilibrium, so the hold "
        "drift shows")
    t_period: float = param(50e-9, "pulse period (one pulse per period)", "s")
    t_hold: float = param(1e-3, "hold time after the last period (all pulse gates off)", "s")

    def __post_init__(self) -> None:
        check_types(self)
        require(isinstance(self.pulses, str) and PULSES_RE.fullmatch(self.pulses) is not None,
                "pulses", self.pulses, "must be 1 to 512 characters, each U or D")
        positive(self, "t_period", "t_hold")
        width = self.cell.t_pulse + 2 * self.cell.t_edge
        require(width <= self.t_period / 2, "t_period", self.t_period,
                f"must be >= 2*(cell.t_pulse + 2*cell.t_edge) = {2 * width!r}")


def sample_times(spec: UpdateTestbenchSpec) -> np.ndarray:
    """Times (s) of ``vc_K``/``g_K``, K = 0..N, shape ``(N + 1,)``: ``K * t_period``."""
    return np.arange(len(spec.pulses) + 1) * spec.t_period


def hold_time(spec: UpdateTestbenchSpec) -> float:
    """Time (s) of ``vc_hold``/``g_hold``: the end of the transient."""
    return len(spec.pulses) * spec.t_period + spec.t_hold


def pulse_starts(spec: UpdateTestbenchSpec) -> np.ndarray:
    """Start time (s) of each pulse's leading edge, shape ``(N,)``."""
    return np.arange(len(spec.pulses)) * spec.t_period + spec.t_period / 4


def _gate_points(spec: UpdateTestbenchSpec, kind: str, idle: float,
                 active: float) -> list[tuple[float, float]]:
    c = spec.cell
    points = [(0.0, idle)]
    for t0, p in zip(pulse_starts(spec), spec.pulses, strict=True):
        if p != kind:
            continue
        t0 = float(t0)
        points += [(t0, idle), (t0 + c.t_edge, active), (t0 + c.t_edge + c.t_pulse, active),
                   (t0 + 2 * c.t_edge + c.t_pulse, idle)]
    return points


def deck(spec: UpdateTestbenchSpec) -> str:
    c = spec.cell
    n = len(spec.pulses)
    stop = hold_time(spec)
    header = [
        f"pulses {spec.pulses} ({n} pulses, U = up, D = down), period {num(spec.t_period)} s, "
        f"hold {num(spec.t_hold)} s, stop {num(stop)} s",
        *cell3t1c.cell_header(c),
        "saved: v(vc) v(vcref) V; v(g) v(gs) = g and g_shared in S (I_read / V_read); "
        "source currents (A) and pulse-line voltages (V) for energy",
        "meas: vc_K g_K at t = K*period (K = 0..N, pulse K ends by (K-1/4)*period); "
        "vc_hold g_hold gs_0 gs_hold",
    ]
    up_idle = c.vdd if c.v_up_idle is None else c.v_up_idle
    body = [
        *cell3t1c.subckt_lines(c),
        "",
        comment("supply, pulse lines (PWL), read bias"),
        vdc("Vdd", "vdd", GND, c.vdd),
        vpwl("Vup", "upb", GND, _gate_points(spec, "U", up_idle, c.v_up_gate)),
        vpwl("Vdn", "dn", GND, _gate_points(spec, "D", 0.0, c.v_down_gate)),
        vdc("Vrd", "rd", GND, c.v_read),
        vdc("Vrdref", "rdref", GND, c.v_read),
        comment("cell under test and reference cell (pulse gates held off)"),
        instance("Xcell", ("vdd", "upb", "dn", "rd", GND, "vc"), "cell3t1c"),
        *([] if c.v_up_idle is None else [vdc("Vupoff", "upoff", GND, c.v_up_idle)]),
        instance("Xref", ("vdd", "vdd" if c.v_up_idle is None else "upoff", GND, "rdref", GND,
                          "vcref"), "cell3t1c"),
        comment("helper nodes: v(g) = g, v(gs) = g_shared, in siemens"),
        bvoltage("Bg", "g", GND, f"-i(Vrd)/{num(c.v_read)}"),
        bvoltage("Bgs", "gs", GND, f"-i(Vrdref)/{num(c.v_read)}"),
    ]
    control = [
        f".ic v(vc)={num(c.vc0)} v(vcref)={num(c.vc0)}",
        # one print step past `stop`: ngspice's last time point can fall a rounding error
        # short of it, and a .meas AT=stop then fails
        f".tran {num(spec.t_period / 50)} {num(stop + spec.t_period / 50)} 0 {num(stop / 100)}",
        save(SAVED),
    ]
    for k, t in enumerate(sample_times(spec)):
        control.append(f".meas tran vc_{k} FIND v(vc) AT={num(t)}")
        control.append(f".meas tran g_{k} FIND v(g) AT={num(t)}")
    control += [
        f".meas tran vc_hold FIND v(vc) AT={num(stop)}",
        f".meas tran g_hold FIND v(g) AT={num(stop)}",
        ".meas tran gs_0 FIND v(gs) AT=0",
        f".meas tran gs_hold FIND v(gs) AT={num(stop)}",
    ]
    return deck_mod.render("circuitsim tb_update: 3T1C cell update pulses and hold",
                           header, body, control=control, **render_args(c.technology))


BLOCKS = [
    Block(name="tb_update", spec=UpdateTestbenchSpec, generate=deck,
          summary="3T1C update phase: U/D pulse sequence, V_C and g per pulse, hold leakage",
          kind="testbench",
          examples={"default": {}, "mixed": {"pulses": "UUDUDDDU", "t_hold": 200e-6},
                    "sky130": {"cell": cell3t1c.SKY130, "pulses": "UUUUDDDD",
                               "t_hold": 20e-6}}),
]
