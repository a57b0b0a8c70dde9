"""Per-corner trim of a 3T1C cell's pulse gate levels: the up and down steps of one pulse at
V_C0 brought back to a reference's (by default the same cell at the typical corner).

At a skewed corner one pull device is fast and the other slow (SKY130 ``fs``: ~+24 / -4 mV
per pulse where ``tt`` gives ~+10 / -10 mV), and the update is lopsided enough that training
fails. A chip corrects this once per die by its gate-drive (bias) levels; here the levels are
found in SPICE: the pull devices run near threshold, where a step grows about exponentially
with the gate drive, so each level is solved by the secant method on ``ln |step|`` (one
transient deck per direction and iteration, :func:`~circuitsim.phases.update.run_update`)
until both steps lie within ``tol`` of the targets. The up level only moves the up step and
the down level only the down step, so the two are solved side by side.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from circuitsim.errors import SpecError
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.phases.update import run_update

#: Hold after the one pulse (s): the step is sampled a quarter period after the pulse, the
#: hold only ends the deck.
T_HOLD = 1e-7
#: Largest change of a gate level per secant iteration (V).
MAX_MOVE = 0.15
MAX_ITERS = 12
#: First guess of d ln|step| / d(gate level) near threshold: about a decade per 0.1 V (1/V).
SLOPE_GUESS = math.log(10) / 0.1


@dataclass(frozen=True, slots=True)
class TrimResult:
    """Trimmed gate levels and the steps they give (V, at the cell's V_C0)."""

    v_up_gate: float
    v_down_gate: float
    step_up: float  #: V_C change of one up pulse with the trimmed level
    step_down: float  #: V_C change of one down pulse (negative)
    target_up: float
    target_down: float
    untrimmed_up: float  #: the steps with the cell's own levels
    untrimmed_down: float
    decks: int  #: transient decks simulated

    def levels(self) -> dict[str, float]:
        return {"v_up_gate": round(self.v_up_gate, 4),
                "v_down_gate": round(self.v_down_gate, 4)}


def check_tol(tol: float) -> None:
    if not 0 < tol < 0.5:
        raise SpecError(f"tol={tol!r}: must lie in (0, 0.5)")


def pulse_step(cell: Cell3T1CSpec, pulse: str) -> float:
    """V_C change of one ``pulse`` ("U" up or "D" down) from ``cell.vc0`` (one deck)."""
    return float(run_update(cell, pulse, t_hold=T_HOLD).dvc[0])


def pulse_steps(cell: Cell3T1CSpec) -> tuple[float, float]:
    """V_C change of one up and of one down pulse from ``cell.vc0`` (two decks)."""
    return pulse_step(cell, "U"), pulse_step(cell, "D")


def _solve(step_of: Callable[[float], float], v0: float, s0: float, target: float,
           lo: float, hi: float, tol: float, sign: int) -> tuple[float, float, int]:
    """Gate level in [lo, hi] where ``|step_of(v)|`` is within ``tol`` (relative) of
    ``|target|``, from level ``v0`` whose step is ``s0``: secant on ``ln |step|``; ``sign``
    +1 when a higher level gives a larger step (the NMOS pull-down), -1 when a smaller one
    does (the PMOS pull-up's gate). Returns the level, its step and the decks simulated."""
    goal = math.log(abs(target))
    pts: list[tuple[float, float]] = []
    v, s = v0, s0
    for n in range(MAX_ITERS + 1):
        if n:
            s = step_of(v)
        if s * target <= 0:
            raise SpecError(f"trim: the step at gate level {v:.4g} V is {s:.3g} V, not in "
                            f"the direction of the target {target:.3g} V")
        pts.append((v, math.log(abs(s))))
        if abs(abs(s) / abs(target) - 1) <= tol:
            return v, s, n
        slope = sign * SLOPE_GUESS
        if len(pts) > 1 and pts[-1][0] != pts[-2][0]:
            (va, la), (vb, lb) = pts[-2], pts[-1]
            if (lb - la) / (vb - va) * sign > 0:  # keep the guess where the secant is flat
                slope = (lb - la) / (vb - va)
        move = max(-MAX_MOVE, min(MAX_MOVE, (goal - pts[-1][1]) / slope))
        v = min(hi, max(lo, v + move))
    raise SpecError(f"trim: no gate level within {tol:.0%} of the target step {target:.3g} V "
                    f"after {MAX_ITERS} decks (last {v:.4g} V)")


def trim_gates(cell: Cell3T1CSpec, target: tuple[float, float] | None = None, *,
               reference: Cell3T1CSpec | None = None, tol: float = 0.02) -> TrimResult:
    """Gate levels of ``cell`` whose one-pulse steps at V_C0 match ``target`` (up, down in V)
    or, without one, the steps of ``reference`` (default: ``cell`` at the typical corner
    ``tt``, its technology's other settings kept) within ``tol``."""
    check_tol(tol)
    decks = 2
    if target is None:
        ref = reference or replace(cell, technology=replace(cell.technology, corner="tt"))
        target, decks = pulse_steps(ref), 4
    up0, dn0 = pulse_steps(cell)
    up_v, up, n_up = _solve(lambda v: pulse_step(replace(cell, v_up_gate=v), "U"),
                            cell.v_up_gate, up0, target[0], 0.0, cell.vdd - 0.05, tol, -1)
    dn_v, dn, n_dn = _solve(lambda v: pulse_step(replace(cell, v_down_gate=v), "D"),
                            cell.v_down_gate, dn0, target[1], 0.05, cell.vdd, tol, +1)
    return TrimResult(up_v, dn_v, up, dn, target[0], target[1], up0, dn0,
                      decks + n_up + n_dn)
