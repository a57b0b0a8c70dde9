"""Code transitions of the ramp ADC: the MAC map with droop, the comparator overdrive and its
ladders, and the conversion runner (used by :mod:`circuitsim.characterize.adc`).

How the transitions are measured without a dense sweep [ours]
------------------------------------------------------------
In the conversion testbench the counter samples comparator ``i`` at the end of every ramp
step ``k`` (``t_s(k)``, :func:`circuitsim.netlist.adc.sample_times`); input ``i`` reaches code
``k`` exactly when its comparator has not fallen by ``t_s(k)``. Three things decide that, and
each is extracted from few simulations:

1. **The ramp levels** ``V_r(k)`` at ``t_s(k)``: identical in every deck of a configuration (the
   ramp column is driven by its own integrator), read from any run (``result.v_ramp``).
2. **The MAC voltage at the decision**, ``V_mac(x, t) = (a + b·x)·exp(-λ(x)·(t - t_start))``:
   the held MAC voltage is affine in ``x`` (``a``, ``b`` fitted on every simulated input of the
   configuration; residual ~0.03 µV), and it droops because the integrator's finite op-amp gain
   ``A`` leaks the charge through the input memristor, ``λ(x) = G_x(x) / ((A + 1)·c_int)``
   (exact for the behavioural integrator; checked against the waveform to < 0.001 µV). The
   droop is ~15 µV over a 5-bit conversion but ~300 µV (about one 8-bit LSB) over an 8-bit one.
3. **The comparator's effective overdrive** ``δ_k``: the input is counted above threshold ``k``
   only if ``V_mac < V_r(k) - δ_k`` flips the comparator before ``t_s(k)``; small overdrives
   take long (stage 1 slews with ``gm·overdrive``). ``δ_k`` is 3 .. 50 µV, smooth in ``k``.
   It is measured with a **ladder**: inputs placed (through 2.) at effective overdrives
   ``od = V_r(k) - V_mac(x, t_s(k))`` of ``rungs`` (coarse, round A), then at ``refine`` ×
   the coarse estimate (round B). Inputs that fall before ``t_s(k)`` (code ``k - 1``) do so at
   ``t_flip - t_s(k)`` linear in ``ln(od)`` (measured: within 0.3 ns over a factor 4); the
   zero of the line through the two closest such rungs, clamped into the bracket left by the
   rungs that did not fall (code ``k``), is ``δ_k``. At most ``max_targeted`` thresholds per
   configuration get a ladder (all up to 5 bits); ``δ_k`` of the others is interpolated
   linearly in the ramp level ``V_r(k)``, on which it mostly depends (the comparator slows
   as the common mode rises: ~10 µV at 0.14 V, ~45 µV at 0.26 V).

Then ``T_k`` solves ``V_mac(T_k, t_s(k)) = V_r(k) - δ_k``.

With the clocked StrongARM latch (``comparator.kind = strongarm``) every rung that falls does
so at the clock edge ``t_lead`` before the sample, whatever its overdrive, so the same ladders
measure the latch's input offset instead. Measured on QUICK (3 bits): every coarse rung (12 ..
90 µV) fell, ``δ_k`` sits at :data:`DELTA_FLOOR` and the table reproduces all probe and
background codes (a nominal latch between two ideal drivers is symmetric; its offset is
mismatch, see :mod:`circuitsim.characterize.latch`).

The comparators of a deck share one bias line (``vbp``) whose load depends on how many
comparators hang on it (BSIM4 gate tunnelling: 100 extra comparators delay the decisions by
~3.3 ns, a few µV of ``δ_k``), and comparators deciding in the same step kick each other
through it (~0.25 ns each). So every deck here, characterization and validation alike, has
exactly ``n_deck`` inputs (the array columns sharing the ramp), and a ladder deck holds one rung
of each threshold (never two rungs of one step), filled up with random background inputs.

The fixed-reference ramp is the nominal ramp (read at the design ``v_read``) and its inputs
near threshold ``k`` sit at the same voltage as the nominal ones, so its ``δ_k`` is the nominal
one; fixed-reference configurations need one probe deck each. So do off-nominal ramp-reference
configurations above ``off_nominal_ladder_bits`` bits, which take the nominal configuration's
measured ``δ`` as a function of the ramp level (:func:`delta_by_level`; marked in
``delta_source``). Checked against ladders of sigmoid at 3 and 4 bits, 0.15 and 0.25 V: within
3 µV, up to 7 µV at the extrapolated top levels at 0.25 V (reusing ``δ_k`` by code instead is
15-19 µV off, as the levels scale with the read voltage). Such a
probe deck has only ``probe_inputs`` inputs: ramp levels and MAC voltages do not depend on the
number of comparators, and an 8-bit deck costs ~0.6 s per input.

"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

import numpy as np

from circuitsim.characterize.adc_configs import Config, seeded, testbench_for
from circuitsim.characterize.adc_spec import AdcCharSpec
from circuitsim.errors import SimError
from circuitsim.netlist.adc import sample_times
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.phases.conversion import ConversionResult, conversion_point
from circuitsim.spec import to_mapping

#: Slope of ``t_flip - t_s`` vs ``ln(overdrive)`` used when only one rung fell (s per e-fold).
DEFAULT_SLOPE = -12e-9
#: Smallest overdrive an extrapolated ``δ_k`` is clamped to (V).
DELTA_FLOOR = 0.1e-6

#: Kinds of simulated inputs (``sim_kind``).
PROBE, BACKGROUND, RUNG = 0, 1, 2
#: Where ``δ_k`` came from (``delta_source``).
PAD, MEASURED, INTERPOLATED, NOMINAL = 0, 1, 2, 3


# ---------------------------------------------------------------- the MAC map with droop

@dataclass(frozen=True, slots=True)
class MacMap:
    """``V_mac(x, t) = (offset + gain·x)·exp(-(l0 + l1·x)·(t - t0))`` (V, s)."""

    offset: float
    gain: float
    l0: float
    l1: float
    t0: float
    resid: float  #: largest |fit residual| of the held voltage, V

    def at(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return (self.offset + self.gain * x) * np.exp(-(self.l0 + self.l1 * x) * (t - self.t0))

    def droop(self, x: np.ndarray, v0: np.ndarray, t: np.ndarray) -> np.ndarray:
        """A simulated held voltage ``v0`` of input ``x`` at time ``t``."""
        x = np.asarray(x, dtype=float)
        return np.asarray(v0) * np.exp(-(self.l0 + self.l1 * x) * (t - self.t0))

    def solve(self, v: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The input ``x`` with ``V_mac(x, t) = v`` (Newton from the droop-free solution)."""
        v, t = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(t, dtype=float))
        x = (v - self.offset) / self.gain
        tau = t - self.t0
        for _ in range(6):
            e = np.exp(-(self.l0 + self.l1 * x) * tau)
            y = (self.offset + self.gain * x) * e
            dy = e * (self.gain - (self.offset + self.gain * x) * self.l1 * tau)
            x = x - (y - v) / dy
        return x


def _droop(cfg: Config, t_int: float) -> tuple[float, float]:
    """``λ(x) = l0 + l1·x`` (1/s): ``G_x(x) / ((A + 1)·c_int)``, ``G_x = c_int·V_in(x) /
    (v_read·t_int)`` (the design read voltage: the input conductances do not change)."""
    r, d = cfg.ramp, cfg.design
    k = 1.0 / (r.v_read * t_int * (r.opamp_gain + 1.0))
    slope = d.v_span / (d.x_max - d.x_min)
    return k * (d.v_lo - slope * d.x_min), k * slope


def mac_map(cfg: Config, t_int: float, x: np.ndarray, v0: np.ndarray) -> MacMap:
    """Fit the held MAC voltage ``v0`` (at ``t_start``) of inputs ``x`` (affine) and add the
    droop of the circuit (:func:`_droop`)."""
    gain, offset = np.polyfit(x, v0, 1)
    resid = float(np.max(np.abs(v0 - (offset + gain * x))))
    return MacMap(float(offset), float(gain), *_droop(cfg, t_int), cfg.ramp.t_start, resid)


def predicted(cfg: Config, t_int: float) -> tuple[np.ndarray, MacMap]:
    """Ramp levels at the samples and MAC map expected from the design (used only to place the
    coarse ladder; everything measured comes from the simulations): ideal increments, and the
    finite-gain leak of the integrators through their idle devices."""
    r, d = cfg.ramp, cfg.design
    v_ramp_read = r.v_read if cfg.reference == "fixed" else r.v_applied
    inc = d.step_conductances() * v_ramp_read * r.t_read / r.c_int
    g_all = float(np.sum(d.g_ramp) + np.sum(d.g_cal))
    leak = math.exp(-g_all * r.period / ((r.opamp_gain + 1.0) * r.c_int))
    v = np.empty(inc.size)
    acc = 0.0
    for k, step in enumerate(inc):  # the step's charge, then a period of leak
        acc = (acc + step) * leak
        v[k] = acc
    scale = r.v_applied / r.v_read
    gain = d.v_span / (d.x_max - d.x_min) * scale
    offset = d.v_lo * scale - gain * d.x_min
    return v[1:], MacMap(offset, gain, *_droop(cfg, t_int), r.t_start, float("nan"))


# ---------------------------------------------------------------- comparator overdrive

def estimate_delta(od: np.ndarray, code: np.ndarray, trel: np.ndarray, k: int,
                   slope: float = DEFAULT_SLOPE) -> tuple[float, bool]:
    """The comparator's effective overdrive ``δ_k`` from ladder rungs of threshold ``k``.

    ``od``: effective overdrives (V), ``code``: SPICE codes, ``trel``: ``t_flip - t_s(k)`` (s).
    Rungs with code ``k - 1`` fell before the sample (left of the transition) at a ``trel``
    linear in ``ln(od)``: the line through the left rungs within a factor 4 of the closest
    one (its own slope if they span >= 0.25 in ``ln(od)``, else ``slope``), anchored at the
    closest one, crosses zero at ``ln(δ_k)``; the result is kept inside the bracket left by
    the rungs that did not fall (code ``k``). Returns ``(δ_k, resolved)``; unresolved (no rung
    fell) gives ``2 × max(od)`` as a guess.
    """
    od, code, trel = (np.asarray(a, dtype=float) for a in (od, code, trel))
    left = (code == k - 1) & np.isfinite(trel) & (trel < 0) & (od > 0)
    right = (code >= k) & (od > 0)
    if not left.any():
        return float(2.0 * od.max()), False
    z, y = np.log(od[left]), trel[left]
    i0 = int(np.argmin(z))
    near = z <= z[i0] + math.log(4.0)
    if np.ptp(z[near]) >= 0.25:
        fit = float(np.polyfit(z[near], y[near], 1)[0])
        if fit < 0:
            slope = fit
    zstar = z[i0] - y[i0] / slope
    hi = z[i0]
    if right.any():
        lo = float(np.log(od[right].max()))
        if lo < hi:
            zstar = min(max(zstar, lo + 0.01 * (hi - lo)), hi - 0.01 * (hi - lo))
            return math.exp(zstar), True
    return max(math.exp(min(zstar, hi)), DELTA_FLOOR), True


def delta_by_level(levels: np.ndarray, ref_levels: np.ndarray,
                   ref_delta: np.ndarray) -> np.ndarray:
    """Overdrives at ramp ``levels`` from measured ``(ref_levels, ref_delta)``: linear
    interpolation in the level, linear extrapolation through the three end points outside,
    floored at :data:`DELTA_FLOOR`."""
    o = np.argsort(ref_levels)
    v, d = np.asarray(ref_levels, dtype=float)[o], np.asarray(ref_delta, dtype=float)[o]
    out = np.interp(levels, v, d)
    if v.size >= 2:
        m = min(3, v.size)
        for sel, ends in ((levels < v[0], slice(0, m)), (levels > v[-1], slice(-m, None))):
            if np.any(sel):
                slope, icept = np.polyfit(v[ends], d[ends], 1)
                out[sel] = icept + slope * levels[sel]
    return np.maximum(out, DELTA_FLOOR)


def measured_thresholds(cfg: Config, limit: int) -> np.ndarray:
    """Thresholds (1 .. 2^B - 1) that get a ladder: all, or ``limit`` evenly spread."""
    if cfg.n <= limit:
        return np.arange(1, cfg.n + 1)
    return np.unique(np.round(np.linspace(1, cfg.n, limit)).astype(int))


# ---------------------------------------------------------------- decks and their results

@dataclass
class AdcDeck:
    """A deck to run and what each of its inputs is for."""

    cfg: int
    point: ConversionTestbenchSpec
    kind: np.ndarray  #: (inputs,) int: PROBE, BACKGROUND or RUNG
    k: np.ndarray  #: (inputs,) int, threshold of a rung (0 otherwise)


@dataclass
class ConfigState:
    """Per-configuration data gathered over the rounds."""

    cfg: Config
    v_ramp: np.ndarray | None = None
    mac: MacMap | None = None
    ks: np.ndarray | None = None
    delta_a: dict[int, tuple[float, bool]] | None = None
    sims: list[tuple[np.ndarray, ...]] | None = None


def _fill(spec: AdcCharSpec, cfg: Config, x: np.ndarray, kind: np.ndarray, k: np.ndarray,
          rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Split inputs into decks of ``n_deck``, the last filled with background inputs."""
    out = []
    n = spec.n_deck
    act = cfg.act
    for start in range(0, len(x), n):
        xs, ks_, kd = x[start:start + n], k[start:start + n], kind[start:start + n]
        pad = n - len(xs)
        if pad:
            xs = np.concatenate([xs, rng.uniform(act.x_min, act.x_max, pad)])
            ks_ = np.concatenate([ks_, np.zeros(pad, dtype=int)])
            kd = np.concatenate([kd, np.full(pad, BACKGROUND)])
        out.append((xs, kd, ks_))
    return out


def convert(point: ConversionTestbenchSpec) -> ConversionResult:
    """:func:`~circuitsim.phases.conversion.conversion_point`, robust to a recovered pivot.

    ngspice sometimes warns "singular matrix" at one time step of a conversion deck (seen at a
    comparator's internal BSIM4 body node), recovers by reordering and finishes the transient,
    but the runner treats the warning as a failure. Such a deck is simulated again with its
    inputs in reverse order, then rotated by half (the same circuit, numbered differently), and
    the result is given back in the original order.
    """
    orders = [np.arange(len(point.x)), np.arange(len(point.x))[::-1],
              np.roll(np.arange(len(point.x)), len(point.x) // 2)]
    for attempt, order in enumerate(orders):
        try:
            res = conversion_point(replace(point, x=tuple(point.x[i] for i in order)))
        except SimError as exc:
            if "singular matrix" not in str(exc) or attempt == len(orders) - 1:
                raise
            continue
        if attempt == 0:
            return res
        back = np.argsort(order)
        per_input = {f: getattr(res, f)[back] for f in
                     ("x", "codes", "ideal_codes", "t_flip", "v_mac", "v_mac_ideal",
                      "energy_mac_inputs")}
        return replace(res, **per_input, spec_json=json.dumps(to_mapping(point)))
    raise AssertionError("unreachable")


convert.decks = conversion_point.decks  # type: ignore[attr-defined]


def record_deck(st: ConfigState, deck: AdcDeck, res: ConversionResult) -> None:
    """Keep a deck's inputs: (kind, k, x, v_mac0, code, od, trel)."""
    cfg = st.cfg
    ts = sample_times(cfg.ramp)
    od = np.full(len(res.x), np.nan)
    trel = np.full(len(res.x), np.nan)
    rung = deck.kind == RUNG
    if rung.any():
        kk = deck.k[rung]
        t = ts[kk - 1]
        od[rung] = st.v_ramp[kk - 1] - st.mac.droop(res.x[rung], res.v_mac[rung], t)
        trel[rung] = res.t_flip[rung] - t
    st.sims.append((deck.kind, deck.k, np.asarray(res.x), np.asarray(res.v_mac),
                    np.asarray(res.codes), od, trel))


def ladder_decks(spec: AdcCharSpec, i: int, st: ConfigState, targets: dict[int, list[float]],
                  round_id: int) -> list[AdcDeck]:
    """Decks of one rung per threshold: rung ``j`` of every threshold in deck ``j``."""
    cfg = st.cfg
    ts = sample_times(cfg.ramp)
    width = max((len(v) for v in targets.values()), default=0)
    decks = []
    for j in range(width):
        ks = np.array([k for k, v in targets.items() if j < len(v)], dtype=int)
        ods = np.array([targets[k][j] for k in ks])
        x = st.mac.solve(st.v_ramp[ks - 1] - ods, ts[ks - 1])
        rng = seeded(spec.seed, *cfg.key, round_id, j)
        for xs, kd, kk in _fill(spec, cfg, x, np.full(len(x), RUNG), ks, rng):
            decks.append(AdcDeck(i, testbench_for(spec, cfg.ramp, xs, cfg.reference), kd, kk))
    return decks


def delta_estimates(st: ConfigState) -> dict[int, tuple[float, bool]]:
    kind = np.concatenate([s[0] for s in st.sims])
    k = np.concatenate([s[1] for s in st.sims])
    code = np.concatenate([s[4] for s in st.sims])
    od = np.concatenate([s[5] for s in st.sims])
    trel = np.concatenate([s[6] for s in st.sims])
    slopes = []
    for kk in st.ks:  # the configuration's typical slope, for thresholds with one left rung
        left = ((kind == RUNG) & (k == kk) & (code == kk - 1) & np.isfinite(trel)
                & (trel < 0) & (od > 0))
        z = np.log(od[left])
        if left.sum() >= 2 and np.ptp(z) >= 0.25:
            fit = float(np.polyfit(z, trel[left], 1)[0])
            if fit < 0:
                slopes.append(fit)
    slope = float(np.median(slopes)) if slopes else DEFAULT_SLOPE
    out = {}
    for kk in st.ks:
        sel = (kind == RUNG) & (k == kk)
        out[int(kk)] = estimate_delta(od[sel], code[sel], trel[sel], int(kk), slope)
    return out


def transitions_of(cfg: Config, v_ramp: np.ndarray, mac: MacMap, delta: np.ndarray) -> np.ndarray:
    ts = sample_times(cfg.ramp)
    return mac.solve(v_ramp - delta, ts)


def refit_mac(st: ConfigState, t_int: float) -> MacMap:
    """The MAC map refitted on every simulated input of the configuration."""
    x = np.concatenate([s[2] for s in st.sims])
    v0 = np.concatenate([s[3] for s in st.sims])
    return mac_map(st.cfg, t_int, x, v0)
