"""Energy and latency from simulated waveforms, and the energy report next to the papers' claims.

Sign convention (SPICE): ``i(V)`` is the current flowing into a voltage source's ``+`` node,
through the source, out of its ``−`` node. The power a source *delivers* to the circuit is
therefore ``p = v · (−i)`` and its energy over a window ``∫ v · (−i) dt`` (J); the charge it
delivers is ``∫ −i dt`` (C). Both are integrated exactly for waveforms that are linear between
the simulator's time points (the product of two linear segments is quadratic, integrated by
Simpson's rule); window ends between time points are interpolated linearly.

What the decks simulate, and so what "simulated" energy covers: the ideal voltage sources that
drive the array rows/columns, the 3T1C supply and pulse lines, the ramp rows and the comparator
supply. Ideal op-amps (controlled sources) and ideal switches consume nothing in our decks, so
the sensing periphery is added as a clearly labelled, parameterised *estimate*
(:class:`Periphery`: op-amp static power × active time), kept separate from the simulated
array energy. Operations: one multiply-accumulate = 2 operations (multiply + add), so a read of
an ``rows × cols`` (logical) array is ``2 · rows · cols`` operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from circuitsim.spec import param, positive
from circuitsim.spice.result import TranResult

if TYPE_CHECKING:  # only for annotations: the phases import this module
    from circuitsim.phases.conversion import ConversionResult
    from circuitsim.phases.mac import MacResult
    from circuitsim.phases.update import UpdateResult


# ---------------------------------------------------------------- exact window integrals

def _windows(time: np.ndarray, windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    w = np.asarray(windows, dtype=float).reshape(-1, 2)
    if time.size < 2:
        raise ValueError("need a waveform of at least two time points")
    if np.any(w[:, 1] < w[:, 0]):
        raise ValueError("every window needs start <= end")
    span = time[-1] - time[0]
    slack = 1e-9 * span
    if np.any(w[:, 0] < time[0] - slack) or np.any(w[:, 1] > time[-1] + slack):
        raise ValueError(f"windows {w.min():g} .. {w.max():g} s lie outside the waveform "
                         f"{time[0]:g} .. {time[-1]:g} s")
    return np.clip(w, time[0], time[-1])


def _cumulative_at(time: np.ndarray, a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``∫_{t0}^{x} a·b dt`` for signals ``a``, ``b`` of shape ``(S, T)`` linear between time
    points, at the instants ``x`` (shape ``(X,)``); returns ``(S, X)``."""
    h = np.diff(time)
    seg = h * (2 * a[:, :-1] * b[:, :-1] + a[:, :-1] * b[:, 1:] + a[:, 1:] * b[:, :-1]
               + 2 * a[:, 1:] * b[:, 1:]) / 6
    cum = np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(seg, axis=1)], axis=1)
    j = np.clip(np.searchsorted(time, x, side="right") - 1, 0, time.size - 2)
    hj = time[j + 1] - time[j]
    frac = np.divide(x - time[j], hj, out=np.zeros_like(x), where=hj > 0)
    a0, a1, b0, b1 = a[:, j], a[:, j + 1], b[:, j], b[:, j + 1]
    ax, bx = a0 + (a1 - a0) * frac, b0 + (b1 - b0) * frac
    part = (x - time[j]) * (2 * a0 * b0 + a0 * bx + ax * b0 + 2 * ax * bx) / 6
    return cum[:, j] + part


def window_integral(time: np.ndarray, y: np.ndarray,
                    windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """``∫ y dt`` over each window ``[start, end]`` (trapezoidal: exact for a waveform linear
    between time points). ``y`` has shape ``(T,)`` or ``(S, T)``; windows ``(W, 2)`` in s;
    returns ``(W,)`` or ``(S, W)``."""
    time = np.asarray(time, dtype=float)
    y2 = np.atleast_2d(np.asarray(y, dtype=float))
    w = _windows(time, windows)
    ones = np.ones_like(y2)
    out = _cumulative_at(time, y2, ones, w[:, 1]) - _cumulative_at(time, y2, ones, w[:, 0])
    return out[0] if np.ndim(y) == 1 else out


def window_energy(time: np.ndarray, v: np.ndarray | float, i: np.ndarray,
                  windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Energy delivered by a source, ``∫ v · (−i) dt`` (J), per window.

    ``v`` is the source voltage (``v(+) − v(−)``, V; a constant or a waveform), ``i`` the SPICE
    source current (A, into ``+``). Shapes ``(T,)`` or ``(S, T)``; returns ``(W,)``/``(S, W)``.
    Exact when ``v`` and ``i`` are linear between time points.
    """
    time = np.asarray(time, dtype=float)
    i2 = np.atleast_2d(np.asarray(i, dtype=float))
    v2 = np.broadcast_to(np.atleast_2d(np.asarray(v, dtype=float)), i2.shape)
    w = _windows(time, windows)
    out = (_cumulative_at(time, v2, -i2, w[:, 1]) - _cumulative_at(time, v2, -i2, w[:, 0]))
    return out[0] if np.ndim(i) == 1 else out


def source_energy(result: TranResult, source: str, voltage: str | float | np.ndarray,
                  windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Energy (J) delivered by voltage source ``source`` (its saved ``i(source)``) per window.

    ``voltage`` is the source's voltage: a saved vector name such as ``"v(node)"`` (for a
    grounded source), a constant (V) or a waveform on ``result.time``.
    """
    v = result[voltage] if isinstance(voltage, str) else voltage
    return window_energy(result.time, v, result[f"i({source})"], windows)


def source_charge(result: TranResult, source: str,
                  windows: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Charge (C) delivered by ``source`` out of its ``+`` node, ``∫ −i dt``, per window."""
    return -window_integral(result.time, result[f"i({source})"], windows)


def settling_time(time: np.ndarray, y: np.ndarray, start: float, end: float,
                  rtol: float = 1e-3, atol: float = 1e-6) -> np.ndarray:
    """Time after ``start`` when each waveform of ``y`` (``(T,)`` or ``(S, T)``) last enters
    the band ``|y − y(end)| <= rtol·|y(end)| + atol`` before ``end`` (crossing interpolated
    linearly); 0 if it never leaves the band. Returns a float or ``(S,)`` in s."""
    time = np.asarray(time, dtype=float)
    y2 = np.atleast_2d(np.asarray(y, dtype=float))
    inside = (time > start) & (time < end)
    ts = np.concatenate([[start], time[inside], [end]])
    ends = np.array([[np.interp(start, time, row), np.interp(end, time, row)] for row in y2])
    ys = np.concatenate([ends[:, :1], y2[:, inside], ends[:, 1:]], axis=1)
    final = ys[:, -1:]
    dev = np.abs(ys - final) - (rtol * np.abs(final) + atol)
    outside = dev > 0
    rows = np.nonzero(outside.any(axis=1))[0]
    out = np.zeros(y2.shape[0])
    # last point outside the band (k); k + 1 is inside (the final point always is)
    k = ts.size - 1 - np.argmax(outside[rows, ::-1], axis=1)
    d0, d1 = dev[rows, k], dev[rows, k + 1]
    frac = np.where(d0 != d1, d0 / np.where(d0 != d1, d0 - d1, 1.0), 1.0)
    out[rows] = ts[k] + frac * (ts[k + 1] - ts[k]) - start
    return out[0] if np.ndim(y) == 1 else out


# ---------------------------------------------------------------- periphery estimate

@dataclass(frozen=True, slots=True)
class Periphery:
    """Parameterised estimate of what the decks do not simulate (ideal op-amps draw nothing).

    Illustrative defaults, not simulated and not tuned: change them to your amplifier design.
    """

    p_opamp: float = param(20e-6, "static power of one op-amp (TIA, MAC integrator or ramp "
                           "integrator) while it is active", "W")

    def __post_init__(self) -> None:
        positive(self, "p_opamp")


# ---------------------------------------------------------------- report

Kind = Literal["simulated", "estimate", "derived", "paper"]


@dataclass(frozen=True, slots=True)
class EnergyRow:
    """One line of the energy report: a quantity, its value and unit, and what it assumes."""

    quantity: str
    value: float
    unit: str
    assumptions: str
    kind: Kind


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


def _mac_rows(mac: MacResult, periphery: Periphery) -> list[EnergyRow]:
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


def _conversion_rows(conv: ConversionResult, periphery: Periphery) -> list[EnergyRow]:
    n = len(conv.x)
    opamp = periphery.p_opamp * conv.latency / n
    return [
        EnergyRow(f"{conv.bits}-bit conversion energy", conv.energy_per_conversion * 1e12,
                  "pJ/conversion", f"ramp row drivers (shared by {n} input(s)) + comparator "
                  "supply incl. shared bias, over the ramp; integrators, counter and clock "
                  "excluded", "simulated"),
        EnergyRow("  of which ramp row drivers", conv.energy_ramp / n * 1e12, "pJ/conversion",
                  "ramp column memristor reads, amortised over the inputs", "simulated"),
        EnergyRow("  of which comparator supply", conv.energy_comparators / n * 1e12,
                  "pJ/conversion", "static bias of the 3-stage comparator dominates",
                  "simulated"),
        EnergyRow("conversion latency", conv.latency * 1e9, "ns",
                  f"2^{conv.bits} clock steps (calibration step + ramp)", "derived"),
        EnergyRow("ramp integrator op-amp (estimate)", opamp * 1e12, "pJ/conversion",
                  f"{periphery.p_opamp:g} W x ramp time, amortised over {n} input(s)",
                  "estimate"),
    ]


def energy_report(mac: MacResult | None = None, update: UpdateResult | None = None,
                  conversion: ConversionResult | None = None,
                  periphery: Periphery | None = None) -> list[EnergyRow]:
    """Rows (quantity, value, unit, assumptions, kind) for the given phase results, plus the
    papers' claims. ``kind`` says whether a value is simulated, derived from simulated values,
    an estimate of unsimulated periphery (:class:`Periphery`), or a paper's claim.

    With both ``mac`` and ``conversion`` the system row adds one conversion per sensed output
    (the logical outputs of the read) to the array read: that is what Yang et al. count.
    """
    p = periphery or Periphery()
    rows: list[EnergyRow] = []
    if mac is not None:
        rows += _mac_rows(mac, p)
    if update is not None:
        rows += _update_rows(update)
    if conversion is not None:
        rows += _conversion_rows(conversion, p)
    if mac is not None and conversion is not None:
        outputs = mac.mac_outputs.shape[1]
        e = float(np.mean(mac.energy)) + outputs * conversion.energy_per_conversion
        rows.append(EnergyRow(
            f"array read + {outputs} conversions", tops_per_watt(e / mac.ops), "TOPS/W",
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
