"""The energy and latency report of simulated phases, next to the papers' claims.

The phases integrate their sources' energy and charge over time windows
(:mod:`circuitsim.spice.waveform`, exact for piecewise-linear waveforms); this module turns
their results into rows.

What the decks simulate, and so what "simulated" energy covers: the ideal voltage sources that
drive the array rows/columns, the 3T1C supply and pulse lines, the ramp rows and the comparator
supply. Ideal op-amps (controlled sources) and ideal switches consume nothing in our decks, so
the sensing periphery is added as a clearly labelled, parameterised *estimate*
(:class:`PeripheryEstimate`: op-amp static power × active time), kept separate from the simulated
array energy. Operations: one multiply-accumulate = 2 operations (multiply + add), so a read of
an ``rows × cols`` (logical) array is ``2 · rows · cols`` operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from circuitsim.phases.conversion import ConversionResult
from circuitsim.phases.mac import MacResult
from circuitsim.phases.update import UpdateResult
from circuitsim.spec import param, positive

# ---------------------------------------------------------------- periphery estimate

@dataclass(frozen=True, slots=True)
class PeripheryEstimate:
    """Parameterised estimate of what the decks do not simulate (ideal op-amps draw nothing).

    Illustrative defaults, not simulated and not tuned: change them to your amplifier design.
    """

    p_opamp: float = param(20e-6, "static power of one op-amp (TIA, MAC integrator or ramp "
                           "integrator) while it is active", "W")

    def __post_init__(self) -> None:
        positive(self, "p_opamp")


# ---------------------------------------------------------------- report

RowKind = Literal["simulated", "estimate", "derived", "paper"]


@dataclass(frozen=True, slots=True)
class EnergyRow:
    """One line of the energy report: a quantity, its value and unit, and what it assumes."""

    quantity: str
    value: float
    unit: str
    assumptions: str
    kind: RowKind


#: The papers' efficiency claims, printed next to ours (TOPS/W = 1e12 operations per joule).
PAPER_CLAIMS = (
    EnergyRow("Ambrogio 2018 (Nature 558): training chip efficiency", 28.065, "TOPS/W",
              "28,065 GOP/s/W, calculated for the 2PCM+3T1C design (not measured)", "paper"),
    EnergyRow("Yang 2025 (Nat. Commun. 16): in-memory ramp ADC system, 5 bits", 31.0,
              "TOPS/W", "31-48 TOPS/W at 5 bits (lower end shown; upper 48)", "paper"),
)


def tops_per_watt(energy_per_op: float) -> float:
    """Efficiency in TOPS/W (= 1e12 operations per joule) for ``energy_per_op`` joules."""
    return 1e-12 / energy_per_op if energy_per_op > 0 else float("inf")


def _mac_rows(mac: MacResult, periphery: PeripheryEstimate) -> list[EnergyRow]:
    e_read = float(np.mean(mac.energy))
    ops = mac.ops
    what = (f"{mac.direction} {mac.encoding} read, {mac.sensing} sensing, "
            f"{len(mac.energy)} input vector(s), mean over windows; input-driver sources only")
    opamp = mac.n_sense_amps * periphery.p_opamp * mac.t_window
    rows = [
        EnergyRow("MAC read energy (array)", e_read * 1e12, "pJ/read", what, "simulated"),
        EnergyRow("operations per read", float(ops), "op",
                  f"2 x {ops // 2} weights (1 MAC = 2 ops)", "derived"),
        EnergyRow("array energy per operation", e_read / ops * 1e15, "fJ/op", what, "derived"),
        EnergyRow("array efficiency", tops_per_watt(e_read / ops), "TOPS/W",
                  "array only: drivers and sense amplifiers excluded", "derived"),
        EnergyRow("MAC read latency", mac.latency * 1e9, "ns",
                  "integrator: read window incl. reset" if mac.sensing == "integrator" else
                  "TIA: slowest output within 0.1 % of its final value", "simulated"),
        EnergyRow("sense amplifiers (estimate)", opamp * 1e12, "pJ/read",
                  f"{mac.n_sense_amps} op-amps x {periphery.p_opamp:g} W x window "
                  f"{mac.t_window:g} s", "estimate"),
        EnergyRow("array + sense amplifiers", tops_per_watt((e_read + opamp) / ops), "TOPS/W",
                  "simulated array + estimated op-amps", "estimate"),
    ]
    return rows


def _update_rows(update: UpdateResult) -> list[EnergyRow]:
    rows = []
    for kind, label in ((1, "up"), (-1, "down")):
        sel = update.kinds == kind
        if not np.any(sel):
            continue
        n = int(np.count_nonzero(sel))
        rows += [
            EnergyRow(f"3T1C {label} pulse energy", float(np.mean(update.energy_pulse[sel]))
                      * 1e15, "fJ/pulse", f"mean of {n}: supply + pulse-line sources (net, "
                      "ideal drivers return the gate charge)", "simulated"),
            EnergyRow(f"3T1C {label} pulse line switching (estimate)",
                      float(np.mean(update.energy_lines_cv2[sel])) * 1e15, "fJ/pulse",
                      "C_line*dV^2 a real driver would dissipate (charge moved x swing)",
                      "estimate"),
        ]
    rows.append(EnergyRow("3T1C read bias during the update", float(np.mean(
        update.energy_read_bias)) * 1e15, "fJ/period", "read FET bias sources, excluded "
        "from the pulse energy", "simulated"))
    return rows


def _conversion_rows(conv: ConversionResult, periphery: PeripheryEstimate) -> list[EnergyRow]:
    n = len(conv.x)
    opamp = periphery.p_opamp * conv.latency / n
    kind = conv.spec().comparator.kind
    latch = kind == "strongarm"
    rows = [
        EnergyRow(f"{conv.bits}-bit conversion energy, {kind} comparator",
                  conv.energy_per_conversion * 1e12, "pJ/conversion",
                  f"ramp row drivers (shared by {n} input(s)) + comparator supply"
                  + (" + latch clock line" if latch else " incl. shared bias")
                  + ", over the ramp; integrators, counter and counter clock excluded",
                  "simulated"),
        EnergyRow("  of which ramp row drivers", conv.energy_ramp / n * 1e12, "pJ/conversion",
                  "ramp column memristor reads, amortised over the inputs", "simulated"),
        EnergyRow("  of which comparator supply", conv.energy_comparators / n * 1e12,
                  "pJ/conversion",
                  f"StrongARM latch: charge switched per decision ({2**conv.bits} decisions), "
                  "no static bias" if latch else
                  "static bias of the 3-stage comparator dominates", "simulated"),
    ]
    if latch:
        rows.append(EnergyRow("  of which latch clock line", conv.energy_clock / n * 1e12,
                              "pJ/conversion", "vdd x gate charge the clock source delivers "
                              "(what a CMOS clock driver dissipates)", "simulated"))
    return rows + [
        EnergyRow("conversion latency", conv.latency * 1e9, "ns",
                  f"2^{conv.bits} clock steps (calibration step + ramp)", "derived"),
        EnergyRow("ramp integrator op-amp (estimate)", opamp * 1e12, "pJ/conversion",
                  f"{periphery.p_opamp:g} W x ramp time, amortised over {n} input(s)",
                  "estimate"),
    ]


def energy_report(mac: MacResult | None = None, update: UpdateResult | None = None,
                  conversion: ConversionResult | Sequence[ConversionResult] | None = None,
                  periphery: PeripheryEstimate | None = None) -> list[EnergyRow]:
    """Rows (quantity, value, unit, assumptions, kind) for the given phase results, plus the
    papers' claims. ``kind`` says whether a value is simulated, derived from simulated values,
    an estimate of unsimulated periphery (:class:`PeripheryEstimate`), or a paper's claim.

    ``conversion`` may be several results (e.g. one per comparator kind): each gets its rows.
    With both ``mac`` and a conversion the system row adds one conversion per sensed output
    (the logical outputs of the read) to the array read: that is what Yang et al. count.
    """
    p = periphery or PeripheryEstimate()
    convs = ([] if conversion is None else [conversion]
             if isinstance(conversion, ConversionResult) else list(conversion))
    rows: list[EnergyRow] = []
    if mac is not None:
        rows += _mac_rows(mac, p)
    if update is not None:
        rows += _update_rows(update)
    for conv in convs:
        rows += _conversion_rows(conv, p)
    for conv in convs if mac is not None else []:
        outputs = mac.mac_outputs.shape[1]
        e = float(np.mean(mac.energy)) + outputs * conv.energy_per_conversion
        rows.append(EnergyRow(
            f"array read + {outputs} conversions, {conv.spec().comparator.kind} comparator",
            tops_per_watt(e / mac.ops), "TOPS/W",
            f"{e * 1e12:.4g} pJ for {mac.ops} ops; simulated sources only (no op-amps)",
            "derived"))
    return rows + list(PAPER_CLAIMS)


def format_report(rows: Sequence[EnergyRow]) -> str:
    """The report as an aligned text table (ours first, then the papers' claims)."""
    width = max(len(r.quantity) for r in rows)
    lines = [f"{'quantity':<{width}}  {'value':>11}  {'unit':<14} {'kind':<9}  assumptions"]
    for r in rows:
        lines.append(f"{r.quantity:<{width}}  {r.value:>11.4g}  {r.unit:<14} {r.kind:<9}  "
                     f"{r.assumptions}")
    return "\n".join(lines)
