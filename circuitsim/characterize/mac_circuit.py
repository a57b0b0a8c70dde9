"""The circuit of a MAC characterization and its read modes.

A *read mode* is how a crossbar read turns inputs into outputs (issue 16):

- encoding: ``amplitude`` (row voltage ``x v_read`` for ``t_read``) or ``pulse_width`` (a
  ``sign(x) v_read`` pulse lasting ``|x| t_read`` on a ``pw_bits`` grid);
- sensing: ``tia`` (line current sampled at the end of the read plateau) or ``integrator``
  (charge on ``c_int``, read after the pulses end; a finite op-amp gain lets the virtual ground
  rise with the charge, so the integrator droops);
- cell: ``1R`` or ``1T1R`` (an NMOS access transistor ``access_w`` x ``access_l`` in series);
- wires: resistance and capacitance per cell pitch (``c_row``, ``c_col``): with short pulses the
  wires do not settle.

Every mode reports its read in *ampere equivalents*, so the surrogates, the ideal model
``v_read G^T x`` and training share one unit: a TIA's sensed line current, an integrator's
``-v_out c_int / (t_read + t_edge)`` (its charge over the full-scale pulse area; the ideal
charge of an amplitude read is exactly ``(t_read + t_edge) v_read G^T x``).

:data:`READ_MODES` names the modes training selects (``periphery.read_mode``); each is a set
of :class:`MacCircuit` overrides, characterized and fitted as its own surrogate.

Bad combinations are refused with one line naming the fields: pulse-width inputs into a TIA
(it samples only the pulses still on), a shortest pulse (one ``pw_bits`` step) shorter than
its edges, an integrator whose full-scale output (every row at ``g_max``, ``x = 1``) would
leave its swing ``v_swing``, and a gap ``t_reset`` too short for the wires to discharge
(:meth:`MacCircuit.check_tile`).

Read-to-read carry-over. Every read is modelled from rest. A wire RC still charged when a
window ends discharges into the next one: with the slowest time constant ``tau`` of the tile
(the far cell's Elmore delays of its row and its column wire, added), the tail a full-scale
read leaves holds about ``tau/(t_read + t_edge)`` of its charge, and ``exp(-t_reset/tau)`` of
that survives the gap, so the next read carries ``carry_over = tau/(t_read + t_edge)
exp(-t_reset/tau)`` of full scale. :meth:`MacCircuit.check_tile` refuses a tile whose carry
exceeds :data:`CARRY_BOUND` and names the shortest gap that meets it; the physics is checked
against two-window ngspice decks in ``tests/test_mac_readmodes.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.netlist.tb_mac import MacTestbenchSpec
from circuitsim.phases.mac import MacResult
from circuitsim.spec import G_FLOOR, check_types, non_negative, param, positive, require

#: Time-domain read modes share these timings: 0.1 ns edges let 7-bit pulse widths (shortest
#: 0.157 ns over 20 ns) stay longer than their edges.
_TIMED = {"t_read": 20e-9, "t_edge": 0.1e-9, "t_reset": 1e-9, "c_row": 1e-15, "c_col": 1e-15,
          "opamp_gain": 200.0, "c_int": 12e-12}

#: The read modes training can select (``periphery.read_mode``): MacCircuit overrides.
READ_MODES: dict[str, dict[str, Any]] = {
    "dc": {},
    "amp_int": {**_TIMED, "sensing": "integrator"},
    "pwm_int": {**_TIMED, "sensing": "integrator", "encoding": "pulse_width"},
    "pwm_int_1t1r": {**_TIMED, "sensing": "integrator", "encoding": "pulse_width",
                     "cell": "1T1R"},
}


@dataclass(frozen=True, slots=True)
class MacCircuit:
    """The circuit every characterized tile is built from: a single-ended crossbar with wire
    resistance (and capacitance), read in one of the read modes (module docstring)."""

    r_row: float = param(1.0, "row wire resistance per cell pitch", "Ohm")
    r_col: float = param(1.0, "column wire resistance per cell pitch", "Ohm")
    c_row: float = param(0.0, "row wire capacitance to ground per cell pitch", "F")
    c_col: float = param(0.0, "column wire capacitance to ground per cell pitch", "F")
    g_min: float = param(1e-6, "lowest device conductance", "S")
    g_max: float = param(20e-6, "highest device conductance (PCM range of Ambrogio 2018)", "S")
    iv: Literal["linear", "sinh"] = param("sinh", "device read law: linear or "
                                                  "I = G V0 sinh(V/V0)")
    iv_v0: float = param(0.5, "characteristic voltage V0 of the sinh read law", "V")
    cell: Literal["1R", "1T1R"] = param("1R", "bare device, or device + NMOS access FET")
    access_w: float = param(1e-6, "1T1R access NMOS channel width (PTM 45 nm)", "m")
    access_l: float = param(45e-9, "1T1R access NMOS channel length", "m")
    v_wordline: float = param(1.0, "1T1R word-line (access gate) voltage during a read", "V")
    encoding: Literal["amplitude", "pulse_width"] = param(
        "amplitude", "x as voltage x*v_read, or as a v_read pulse lasting |x|*t_read")
    pw_bits: int = param(7, "pulse-width DAC resolution: widths are multiples of "
                            "t_read/(2^pw_bits - 1)", "bit")
    sensing: Literal["tia", "integrator"] = param("tia", "TIA (current) or integrator (charge)")
    v_read: float = param(0.2, "read voltage of x = 1", "V")
    r_f: float = param(1e3, "TIA feedback resistance", "Ohm")
    c_int: float = param(12e-12, "integrator feedback capacitance", "F")
    v_swing: float = param(1.0, "integrator output swing: |v_out| at full-scale input must "
                                "stay below it", "V")
    opamp_gain: float | None = param(
        None, "op-amp open-loop gain (TIA: a series r_f/(1+gain) at every sensed line's foot; "
        "integrator: droop); None = ideal")
    t_read: float = param(10e-9, "read plateau (full-scale pulse width)", "s")
    t_edge: float = param(1e-9, "input rise/fall time", "s")
    t_reset: float = param(1e-9, "gap between read windows (integrator reset)", "s")

    def __post_init__(self) -> None:
        check_types(self)
        positive(self, "r_row", "r_col", "iv_v0", "v_read", "r_f", "c_int", "v_swing",
                 "t_read", "t_edge", "access_w", "access_l", "v_wordline")
        non_negative(self, "c_row", "c_col")
        require(self.g_min >= G_FLOOR, "g_min", self.g_min, f"must be >= {G_FLOOR:g} S")
        require(self.g_min < self.g_max, "g_min", self.g_min, f"must be < g_max={self.g_max!r}")
        require(self.t_reset >= self.t_edge, "t_reset", self.t_reset,
                f"must be >= t_edge={self.t_edge!r}")
        require(1 <= self.pw_bits <= 12, "pw_bits", self.pw_bits, "must be in 1..12")
        if self.opamp_gain is not None:
            require(self.opamp_gain >= 10, "opamp_gain", self.opamp_gain, "must be >= 10")
        if self.encoding == "pulse_width":
            require(self.sensing == "integrator", "encoding", self.encoding,
                    f"needs sensing=integrator, not sensing={self.sensing} (a TIA samples "
                    "only the pulses still on)")
            require(self.pw_lsb >= self.t_edge * (1 - 1e-9), "t_read", self.t_read,
                    f"with pw_bits={self.pw_bits} the shortest pulse ({self.pw_lsb:.3g} s) is "
                    f"shorter than its edges (t_edge={self.t_edge!r})")

    @property
    def pw_lsb(self) -> float:
        """Shortest pulse of the pulse-width DAC, s."""
        return self.t_read / (2**self.pw_bits - 1)

    @property
    def r_foot(self) -> float:
        """Series resistance of a TIA-sensed line's virtual ground, r_f / (1 + gain), Ohm
        (0 for an integrator, whose finite gain is droop instead)."""
        if self.opamp_gain is None or self.sensing != "tia":
            return 0.0
        return self.r_f / (1.0 + self.opamp_gain)

    @property
    def t_area(self) -> float:
        """Duration that turns an integrator's charge into ampere equivalents, s."""
        return self.t_read + self.t_edge

    def full_scale_output(self, rows: int) -> float:
        """|v_out| of an integrator when ``rows`` rows at ``g_max`` read ``x = 1``, V."""
        return self.v_read * self.g_max * rows * self.t_area / self.c_int

    def wire_tau(self, lines: int) -> float:
        """Slowest wire time constant of a ``lines`` x ``lines`` tile, s: the Elmore delays
        ``r c n (n + 1) / 2`` of the far cell's row and column wire, added."""
        return (self.r_row * self.c_row + self.r_col * self.c_col) * lines * (lines + 1) / 2

    def carry_over(self, lines: int) -> float:
        """Fraction of full scale a read carries into the next one across the gap
        ``t_reset`` on a ``lines`` x ``lines`` tile (module docstring)."""
        tau = self.wire_tau(lines)
        if tau <= 0:
            return 0.0
        return tau / self.t_area * float(np.exp(-self.t_reset / tau))

    def min_gap(self, lines: int) -> float:
        """The shortest ``t_reset`` whose carry-over is :data:`CARRY_BOUND`, s (0 if any)."""
        tau = self.wire_tau(lines)
        if tau <= 0:
            return 0.0
        return max(0.0, tau * float(np.log(tau / (self.t_area * CARRY_BOUND))))

    def check_tile(self, rows: int, field: str, prefix: str = "circuit.") -> None:
        """Refuse a gap ``t_reset`` that carries more than :data:`CARRY_BOUND` of full scale
        from a read into the next on a ``rows`` x ``rows`` tile, and an integrator that
        saturates at full-scale input on ``rows`` sensed cells (``field``: the spec field the
        tile size came from; ``prefix``: where the circuit sits in the spec)."""
        carry = self.carry_over(rows)
        require(carry <= CARRY_BOUND, f"{prefix}t_reset", self.t_reset,
                f"the wires of a {rows}x{rows} tile of {field} (time constant "
                f"{self.wire_tau(rows):.3g} s) would carry {100 * carry:.2g} % of full scale "
                f"from one read into the next; every read is modelled from rest: needs "
                f"t_reset >= {self.min_gap(rows):.3g} s, or less c_row/c_col or r_row/r_col")
        if self.sensing != "integrator":
            return
        v = self.full_scale_output(rows)
        require(v <= self.v_swing, f"{prefix}c_int", self.c_int,
                f"the integrator would reach {v:.3g} V at full-scale input on {rows} rows of "
                f"{field} (g_max={self.g_max!r}, v_read={self.v_read!r}, t_read="
                f"{self.t_read!r}), beyond {prefix}v_swing={self.v_swing!r}")

    def testbench(self, g: np.ndarray, x: np.ndarray, direction: str) -> MacTestbenchSpec:
        """The testbench reading inputs ``x`` ``(B, n)`` through matrix ``g`` in ``direction``."""
        xs = CrossbarSpec(rows=g.shape[0], cols=g.shape[1], r_row=self.r_row, r_col=self.r_col,
                          c_row=self.c_row, c_col=self.c_col, cell=self.cell,
                          access_w=self.access_w, access_l=self.access_l,
                          g_min=self.g_min, g_max=self.g_max, iv=self.iv, iv_v0=self.iv_v0,
                          conductances=_tuple2(g))
        return MacTestbenchSpec(crossbar=xs, direction=direction, inputs=_tuple2(x),
                                encoding=self.encoding, pw_bits=self.pw_bits,
                                v_read=self.v_read, t_read=self.t_read, t_edge=self.t_edge,
                                t_reset=self.t_reset, sensing=self.sensing, r_f=self.r_f,
                                c_int=self.c_int, opamp_gain=self.opamp_gain,
                                v_wordline=self.v_wordline)

    def readout(self, res: MacResult) -> np.ndarray:
        """The read in ampere equivalents ``(B, lines)`` (module docstring)."""
        if self.sensing == "tia":
            return res.currents
        return -res.outputs * (self.c_int / self.t_area)


_DEFAULT = MacCircuit()
#: Largest read-to-read carry-over (fraction of full scale) a tile may have (module docstring).
CARRY_BOUND = 1e-4


def mode_name(circuit: MacCircuit) -> str:
    """The :data:`READ_MODES` name of ``circuit``'s encoding, sensing and cell (else the three
    joined by ``/``)."""
    key = (circuit.encoding, circuit.sensing, circuit.cell)
    for name, overrides in READ_MODES.items():
        if key == tuple(overrides.get(f, getattr(_DEFAULT, f)) for f in
                        ("encoding", "sensing", "cell")):
            return name
    return "/".join(key)


def ideal_read(g: np.ndarray, x: np.ndarray, direction: str, v_read: float) -> np.ndarray:
    """The ideal read ``v_read G^T x`` (forward) or ``v_read G x`` (backward), A, ``(B, L)``."""
    return v_read * (x @ g if direction == "forward" else x @ g.T)


def _tuple2(a: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in a)
