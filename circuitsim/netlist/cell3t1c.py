"""The 3T1C capacitor weight cell of Ambrogio et al., Nature 558, 60 (2018), and a row of them.

One cell: a storage capacitor ``C`` from the node ``vc`` to ground; a read NMOS whose gate is
``vc`` (drain ``rd``, source ``rs``; its channel conductance is the volatile weight ``g``); a
PMOS pull-up (source ``vdd``, drain ``vc``, gate ``upb``) that adds charge while an "up" pulse
pulls ``upb`` from VDD down to ``v_up_gate``; an NMOS pull-down (drain ``vc``, source ground,
gate ``dn``) that removes charge while a "down" pulse raises ``dn`` from 0 to ``v_down_gate``.
The pull devices run near threshold and in saturation, so each pulse moves a nearly constant
charge ``I_pull * t_pulse`` (state dependent through DIBL and, near the rails, through V_DS).

Devices are the PTM 45 nm HP BSIM4 cards (``models/ptm45hp.lib``, ``ptm45n``/``ptm45p``) with
their gate tunnelling and subthreshold leakage, which set the hold drift of ``vc``.

Default sizing (chosen by simulation, see the field docs and ``tests/test_cell3t1c.py``):
all devices are 45 nm wide to keep width-proportional leakage (gate-edge tunnelling, GIDL)
small; the pull devices are 180 nm long (4 L_min), where the NMOS subthreshold leakage has
dropped to the gate-edge tunnelling floor (longer L gains little and costs gate drive); the
read FET is 200 nm long, giving g ~ 3 uS at V_C = 0.5 V and ~ 20 uS near 0.7 V (the read FET
is near threshold at 0.5 V, so g falls off exponentially below it). Gate levels 0.4 V (up)
and 0.488 V (down) with 10 ns pulses give +30.2 mV / -30.0 mV per pulse at V_C = 0.5 V.

Hold leakage with these models (all gates off, read bias on): the pull-up's gate-edge
tunnelling charges the node, the pull-down's subthreshold/edge leakage and above all the read
FET's gate tunnelling into its channel discharge it, so V_C relaxes towards ~0.48 V (not the
~0.8 V reported for the paper's technology): about -6 mV/ms at 0.5 V, -70 mV/ms at 0.62 V,
+58 mV/ms at 0.3 V.
"""

from __future__ import annotations

from dataclasses import dataclass

from circuitsim.netlist import deck as deck_mod
from circuitsim.netlist.block import Block
from circuitsim.netlist.elements import GND, capacitor, comment, resistor, subckt
from circuitsim.netlist.fmt import num
from circuitsim.netlist.technology import (
    TechnologySpec,
    check_sizes,
    mosfet_lines,
    render_args,
)
from circuitsim.spec import G_FLOOR, check_types, param, positive, require

#: Port order of the cell subcircuit.
CELL_PORTS = ("vdd", "upb", "dn", "rd", "rs", "vc")
MAX_ROW = 4096


@dataclass(frozen=True, slots=True)
class Cell3T1CSpec:
    """One 3T1C cell and the pulse/read levels it is operated with (SI units)."""

    c: float = param(100e-15, "storage capacitor C from vc to ground", "F")
    w_read: float = param(45e-9, "read NMOS width (gate = vc, channel conductance = g)", "m")
    l_read: float = param(
        200e-9, "read NMOS length; long channel so g(V_C) spans ~3-20 uS over V_C 0.5-0.7 V "
        "with a small gate area (gate tunnelling into the channel is the main hold leak "
        "at high V_C and scales with W*L)", "m")
    w_up: float = param(45e-9, "PMOS pull-up width", "m")
    l_up: float = param(
        180e-9, "PMOS pull-up length; its off leakage is gate-edge tunnelling, flat in L "
        "beyond 90 nm, 180 nm matches the pull-down", "m")
    w_down: float = param(45e-9, "NMOS pull-down width", "m")
    l_down: float = param(
        180e-9, "NMOS pull-down length; off leakage at V_C=0.5 V falls 6.9->3.1 pA from "
        "90 to 180 nm and only to 2.0 pA at 360 nm", "m")
    vdd: float = param(1.0, "supply of the pull-up source (PTM 45 nm HP nominal)", "V")
    v_up_gate: float = param(
        0.4, "PMOS gate level during an up pulse (idle level is vdd); V_SG = vdd - v_up_gate; "
        "0.4 V gives ~+30 mV per 10 ns pulse at V_C = 0.5 V", "V")
    v_down_gate: float = param(
        0.488, "NMOS gate level during a down pulse (idle level is 0); 0.488 V gives ~-30 mV "
        "per 10 ns pulse at V_C = 0.5 V", "V")
    v_up_idle: float | None = param(
        None, "PMOS pull-up gate level between up pulses (None = vdd); driving it above vdd "
        "cuts the pull-up's subthreshold leakage, the main hold drift on SKY130", "V")
    t_pulse: float = param(10e-9, "pulse width: time the gate sits at its drive level", "s")
    t_edge: float = param(1e-9, "rise and fall time of each pulse edge", "s")
    v_read: float = param(0.1, "read bias on the read FET drain (source at 0 V)", "V")
    vc0: float = param(0.5, "initial capacitor voltage V_C (also the reference cell's)", "V")
    dvt_read: float = param(
        0.0, "threshold-magnitude offset of the read NMOS (delvto); > 0 weakens it", "V")
    dvt_up: float = param(
        0.0, "threshold-magnitude offset of the PMOS pull-up, > 0 weakens it "
        "(written as delvto = -dvt_up, since PMOS vth0 is negative)", "V")
    dvt_down: float = param(
        0.0, "threshold-magnitude offset of the NMOS pull-down (delvto); > 0 weakens it", "V")
    g_leak: float = param(0.0, "capacitor dielectric leakage conductance (0 = none)", "S")
    technology: TechnologySpec = param(
        TechnologySpec(), "the transistors (ptm45, sky130 with corner and mismatch, or a custom "
                          "library); sizes and levels above must suit it (--preset sky130)")

    def __post_init__(self) -> None:
        check_types(self)
        check_sizes(self.technology, {f: getattr(self, f) for f in (
            "w_read", "l_read", "w_up", "l_up", "w_down", "l_down")}, self.vdd)
        positive(self, "c", "w_read", "l_read", "w_up", "l_up", "w_down", "l_down", "vdd",
                 "t_pulse", "t_edge", "v_read")
        require(self.g_leak == 0 or self.g_leak >= G_FLOOR, "g_leak", self.g_leak,
                f"must be 0 (none) or >= {G_FLOOR:g} S")
        require(0 <= self.v_up_gate < self.vdd, "v_up_gate", self.v_up_gate,
                f"must be in [0, vdd={self.vdd!r}) so an up pulse turns the PMOS on")
        require(self.v_up_idle is None or self.vdd <= self.v_up_idle <= self.vdd + 0.5,
                "v_up_idle", self.v_up_idle, f"must be in [vdd, vdd + 0.5] (vdd={self.vdd!r})")
        require(0 < self.v_down_gate <= self.vdd, "v_down_gate", self.v_down_gate,
                f"must be in (0, vdd={self.vdd!r}]")
        require(0 <= self.vc0 <= self.vdd, "vc0", self.vc0, f"must be in [0, vdd={self.vdd!r}]")
        require(self.v_read < self.vdd, "v_read", self.v_read, "must be below vdd")
        for n in ("dvt_read", "dvt_up", "dvt_down"):
            v = getattr(self, n)
            require(abs(v) <= 0.5, n, v, "threshold offset must lie within +-0.5 V")


def cell_elements(spec: Cell3T1CSpec, suffix: str, nodes: dict[str, str],
                  dvt: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> list[str]:
    """Element lines of one cell; ``nodes`` maps the :data:`CELL_PORTS` to node names.

    ``dvt`` = extra (read, up, down) threshold-magnitude offsets added to the spec's own.
    Element names get ``suffix`` so several cells can share one subcircuit.
    """
    vdd, upb, dn, rd, rs, vc = (nodes[p] for p in CELL_PORTS)
    d_read = spec.dvt_read + dvt[0]
    d_up = spec.dvt_up + dvt[1]
    d_down = spec.dvt_down + dvt[2]
    tech = spec.technology
    lines = [
        *mosfet_lines(tech, f"Mup{suffix}", vc, upb, vdd, vdd, "p", spec.w_up, spec.l_up, d_up),
        *mosfet_lines(tech, f"Mdn{suffix}", vc, dn, GND, GND, "n", spec.w_down, spec.l_down,
                      d_down),
        *mosfet_lines(tech, f"Mrd{suffix}", rd, vc, rs, GND, "n", spec.w_read, spec.l_read,
                      d_read),
        capacitor(f"Cs{suffix}", vc, GND, spec.c),
    ]
    if spec.g_leak > 0:
        lines.append(resistor(f"Rlk{suffix}", vc, GND, 1.0 / spec.g_leak))
    return lines


def cell_header(spec: Cell3T1CSpec) -> list[str]:
    """Deck header lines stating the cell's key values and units."""
    return [
        f"C={num(spec.c)} F, VDD={num(spec.vdd)} V, V_C0={num(spec.vc0)} V, "
        f"V_read={num(spec.v_read)} V, g_leak={num(spec.g_leak)} S",
        f"read NMOS W/L={num(spec.w_read)}/{num(spec.l_read)} m, "
        f"pull-up PMOS W/L={num(spec.w_up)}/{num(spec.l_up)} m, "
        f"pull-down NMOS W/L={num(spec.w_down)}/{num(spec.l_down)} m",
        f"up pulse: upb {'VDD' if spec.v_up_idle is None else num(spec.v_up_idle) + ' V'}->"
        f"{num(spec.v_up_gate)} V, down pulse: dn 0->"
        f"{num(spec.v_down_gate)} V, width {num(spec.t_pulse)} s, edges {num(spec.t_edge)} s",
        f"threshold offsets (V, >0 = weaker): read {num(spec.dvt_read)}, "
        f"up {num(spec.dvt_up)}, down {num(spec.dvt_down)}",
        *([] if spec.technology.name == "ptm45" else
          [f"transistors: {spec.technology.label()}"]),
    ]


#: SKY130 sizing and levels at 1.8 V (``--preset sky130``; see models/README.md): 1/1 um pull
#: devices biased near threshold so a 10 ns pulse moves ~100 nA x 10 ns on 100 fF (~10 mV),
#: large enough that SkyWater's mismatch stays small (sigma_Vth 5.9 mV pfet, 4.5 mV nfet; at
#: the minimum 0.42/0.15 um it is 23 and 55 mV, and a weak-inversion step then varies ~4x
#: from cell to cell), a 0.42/1 um read FET whose g spans ~2-20 uS over V_C ~0.6-0.9 V, and
#: the idle pull-up gate 0.2 V above vdd (cuts the hold drift toward vdd).
SKY130 = {"technology": {"name": "sky130"}, "vdd": 1.8, "c": 100e-15,
          "w_read": 0.42e-6, "l_read": 1e-6, "w_up": 1e-6, "l_up": 1e-6,
          "w_down": 1e-6, "l_down": 1e-6, "v_up_gate": 0.865, "v_down_gate": 0.54,
          "v_up_idle": 2.0, "v_read": 0.1, "vc0": 0.75}


def subckt_lines(spec: Cell3T1CSpec) -> list[str]:
    """``.subckt cell3t1c vdd upb dn rd rs vc`` for ``spec``."""
    body = cell_elements(spec, "", {p: p for p in CELL_PORTS})
    return subckt("cell3t1c", CELL_PORTS, body,
                  doc="3T1C cell: ports vdd upb(PMOS gate) dn(NMOS gate) rd rs(read FET) vc")


def deck(spec: Cell3T1CSpec) -> str:
    """Subcircuit library of one cell (models inlined, no analysis) to ``.include``."""
    return deck_mod.render("circuitsim cell3t1c: 3T1C capacitor weight cell (subckt library)",
                           cell_header(spec), subckt_lines(spec), **render_args(spec.technology))


@dataclass(frozen=True, slots=True)
class Cell3T1CRowSpec:
    """A row of ``n`` cells sharing vdd, the up/down pulse lines and the read source line.

    Each cell has its own read drain (column) line ``rd<i>`` and probe port ``vc<i>``. A
    reference cell (identical, pulse gates tied off: ``upb`` to vdd, ``dn`` to ground) on
    ``rdref``/``vcref`` gives g_shared; the weight uses ``g_i - g_shared``.
    """

    cell: Cell3T1CSpec = param(Cell3T1CSpec(), "the nominal cell of the row")
    n: int = param(4, "number of cells in the row (excluding the reference cell)")
    dvt_read: tuple[float, ...] = param(
        (), "per-cell read-FET threshold offsets added to cell.dvt_read (empty = none)", "V")
    dvt_up: tuple[float, ...] = param(
        (), "per-cell pull-up threshold offsets added to cell.dvt_up (empty = none)", "V")
    dvt_down: tuple[float, ...] = param(
        (), "per-cell pull-down threshold offsets added to cell.dvt_down (empty = none)", "V")
    ref_dvt: tuple[float, ...] = param(
        (), "reference cell (read, up, down) offsets added to the cell's (empty = none)", "V")

    def __post_init__(self) -> None:
        check_types(self)
        require(1 <= self.n <= MAX_ROW, "n", self.n, f"must be in 1..{MAX_ROW}")
        for f in ("dvt_read", "dvt_up", "dvt_down"):
            v = getattr(self, f)
            require(len(v) in (0, self.n), f, v, f"needs 0 or n={self.n} entries")
            require(all(abs(x) <= 0.5 for x in v), f, v, "offsets must lie within +-0.5 V")
        require(len(self.ref_dvt) in (0, 3), "ref_dvt", self.ref_dvt,
                "needs 0 or 3 entries (read, up, down)")
        require(all(abs(x) <= 0.5 for x in self.ref_dvt), "ref_dvt", self.ref_dvt,
                "offsets must lie within +-0.5 V")


def row_ports(spec: Cell3T1CRowSpec) -> list[str]:
    """Port order of the row subcircuit."""
    return ["vdd", "upb", "dn", "rs", *(f"rd{i}" for i in range(spec.n)), "rdref",
            *(f"vc{i}" for i in range(spec.n)), "vcref"]


def _offsets(values: tuple[float, ...], i: int) -> float:
    return values[i] if values else 0.0


def row_subckt_lines(spec: Cell3T1CRowSpec) -> list[str]:
    """``.subckt cell3t1c_row`` (ports: :func:`row_ports`)."""
    body: list[str] = []
    for i in range(spec.n):
        nodes = {"vdd": "vdd", "upb": "upb", "dn": "dn", "rd": f"rd{i}", "rs": "rs",
                 "vc": f"vc{i}"}
        dvt = (_offsets(spec.dvt_read, i), _offsets(spec.dvt_up, i),
               _offsets(spec.dvt_down, i))
        body += cell_elements(spec.cell, f"_{i}", nodes, dvt)
    ref = spec.ref_dvt or (0.0, 0.0, 0.0)
    body.append(comment("reference cell g_shared: pulse gates held off"))
    ref_nodes = {"vdd": "vdd", "upb": "vdd", "dn": GND, "rd": "rdref", "rs": "rs",
                 "vc": "vcref"}
    body += cell_elements(spec.cell, "_ref", ref_nodes, (ref[0], ref[1], ref[2]))
    return subckt("cell3t1c_row", row_ports(spec), body,
                  doc=f"row of {spec.n} 3T1C cells + reference cell (shared vdd upb dn rs)")


def row_deck(spec: Cell3T1CRowSpec) -> str:
    """Subcircuit library of a row (models inlined, no analysis) to ``.include``."""
    header = [f"{spec.n} cells + reference cell; ports: {' '.join(row_ports(spec))}",
              *cell_header(spec.cell)]
    return deck_mod.render("circuitsim cell3t1c_row: row of 3T1C cells (subckt library)",
                           header, row_subckt_lines(spec), **render_args(spec.cell.technology))


BLOCKS = [
    Block(name="cell3t1c", spec=Cell3T1CSpec, generate=deck,
          summary="3T1C capacitor weight cell (read NMOS, PMOS pull-up, NMOS pull-down, C)",
          kind="block", examples={"default": {}, "leaky": {"c": 50e-15, "g_leak": 1e-12},
                                  "sky130": SKY130,
                                  "sky130_ss_mismatch": {**SKY130, "technology": {
                                      "name": "sky130", "corner": "ss", "mismatch": True,
                                      "seed": 7}}}),
    Block(name="cell3t1c_row", spec=Cell3T1CRowSpec, generate=row_deck,
          summary="row of 3T1C cells sharing pulse lines, plus the g_shared reference cell",
          kind="block",
          examples={"default": {"n": 2},
                    "offsets": {"n": 3, "dvt_read": (0.02, -0.01, 0.0),
                                "dvt_up": (0.0, 0.03, -0.03), "ref_dvt": (0.01, 0.0, 0.0)}}),
]
