"""Activation surrogate: the simulated ramp-ADC code-vs-input tables, fast, for training.

Model form: per (activation, bits, read voltage) of the ramp-reference ADC, the measured code
transitions ``T_1 < .. < T_{2^B-1}`` of :mod:`circuitsim.characterize.adc` (simulated ramp
levels, the MAC map with its droop, and the comparator's effective overdrive measured with
targeted ladders). ``code(x) = #{k : x > T_k}`` is one ``np.searchsorted``, exact for the
simulated converter up to the transitions' measurement error. :meth:`ActivationSurrogate.info`
compares this model with two simpler ones on the characterization's own probe and background
inputs: the ideal design thresholds, and the simulated ramp levels alone (no comparator
overdrive, no droop).

Use in training (:class:`ActivationTable`, from :meth:`ActivationSurrogate.table`):

- ``codes(x)``: integer codes ``0 .. 2^B - 1``, any array shape;
- ``values(x)``: the activation value each code stands for, ``lo + code·(hi - lo)/(2^B - 1)``
  (the function's output units, e.g. 0 .. 1 for the sigmoid);
- ``grad(x, kind)``: a straight-through derivative for backprop, since the staircase's own
  derivative is zero almost everywhere. ``"ideal"``: ``f'(x)`` (central difference of the
  ideal function) inside the input range, 0 outside (the ADC clips there); ``"table"``: the
  slope of the piecewise-linear curve through the transitions ``(T_k, lo + (k - 1/2)·LSB)``,
  which carries the converter's INL into the gradient, with ``f'`` outside ``[T_1, T_n]``
  inside the range, and 0 outside the range.

Read voltages: a table exists at every characterized ramp-reference read voltage; in between,
the transitions are interpolated linearly in the read voltage (a convex combination of sorted
transitions stays sorted); outside the characterized span a :class:`SpecError` is raised.

Validation (:func:`validate`): held-out SPICE decks of the same size (``n_deck`` comparators on
one ramp, as characterized) with inputs drawn from ``val_seed`` (never the characterization's
``seed``): half uniform on the input range, half uniform in the output level (``x = f^-1(u)``,
an equal share of inputs per code, so every transition is exercised). The SPICE codes are
compared with the table's: the fraction equal (bound >= 99 %) and the largest difference
(bound <= 1 LSB) at the nominal read voltage, reported only at the others.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from circuitsim.activations import Activation, get_activation
from circuitsim.characterize.adc import AdcDataset
from circuitsim.characterize.adc_configs import Config, seeded, testbench_for
from circuitsim.characterize.adc_metrics import codes_of, inl_dnl
from circuitsim.characterize.adc_spec import AdcCharSpec, ramp_for
from circuitsim.characterize.adc_transitions import BACKGROUND, PROBE, convert
from circuitsim.characterize.common import run_points
from circuitsim.errors import CacheError, SpecError
from circuitsim.fidelity import Check

#: The arrays of a stored surrogate and their kinds (U: str, i: int, f: float).
_ARRAYS = {"activation": "U", "bits": "i", "v_read": "f", "x_min": "f", "x_max": "f",
           "lo": "f", "hi": "f", "transitions": "f", "nominal_v_read": "f", "inl_max": "f",
           "dnl_max": "f", "rmse_lsb": "f", "info_json": "U"}


@dataclass(frozen=True, slots=True, eq=False)
class ActivationTable:
    """One converter: ``2^B - 1`` sorted transitions of ``activation`` at ``v_read``."""

    activation: str
    bits: int
    v_read: float  #: applied read voltage, V
    x_min: float
    x_max: float
    lo: float  #: output value of code 0
    hi: float  #: output value of code 2^B - 1
    transitions: np.ndarray  #: (2^B - 1,) sorted input thresholds

    @property
    def lsb(self) -> float:
        """Output value of one code step (function's output units)."""
        return (self.hi - self.lo) / (2**self.bits - 1)

    def ideal(self) -> Activation:
        """The ideal activation on the table's input range."""
        return get_activation(self.activation).with_range(self.x_min, self.x_max)

    def codes(self, x: np.ndarray | float) -> np.ndarray:
        """Integer codes of inputs ``x`` (any shape): ``#{k : x > T_k}``."""
        return np.searchsorted(self.transitions, x, side="left")

    def values(self, x: np.ndarray | float) -> np.ndarray:
        """Activation values the codes stand for (output units), the shape of ``x``."""
        return self.lo + self.codes(x) * self.lsb

    def grad(self, x: np.ndarray | float,
             kind: Literal["ideal", "table"] = "ideal") -> np.ndarray:
        """Straight-through derivative d value / dx (see the module docstring)."""
        x = np.asarray(x, dtype=float)
        f = self.ideal()
        h = 1e-4 * (self.x_max - self.x_min)
        inside = (x >= self.x_min) & (x <= self.x_max)
        d = np.where(inside, (f(x + h) - f(x - h)) / (2 * h), 0.0)
        if kind == "ideal":
            return d
        if kind != "table":
            raise SpecError(f"kind={kind!r}: expected 'ideal' or 'table'")
        t = self.transitions
        if t.size < 2:
            return d
        slopes = self.lsb / np.maximum(np.diff(t), 1e-300)
        j = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.size - 2)
        within = (x >= t[0]) & (x <= t[-1])
        return np.where(within, slopes[j], d)


@dataclass(frozen=True, slots=True, eq=False)
class ActivationSurrogate:
    """Code-vs-input tables, one row per (activation, bits, read voltage); ``C`` rows, ``K``
    transition columns (NaN past a row's 2^B - 1)."""

    activation: np.ndarray  #: (C,) str
    bits: np.ndarray  #: (C,) int
    v_read: np.ndarray  #: (C,) V, applied read voltage
    x_min: np.ndarray  #: (C,)
    x_max: np.ndarray  #: (C,)
    lo: np.ndarray  #: (C,) output value of code 0
    hi: np.ndarray  #: (C,) output value of the full-scale code
    transitions: np.ndarray  #: (C, K) sorted transitions
    nominal_v_read: float  #: V, the design read voltage
    inl_max: np.ndarray  #: (C,) LSB
    dnl_max: np.ndarray  #: (C,) LSB
    rmse_lsb: np.ndarray  #: (C,) LSB, RMSE vs the ideal function on the uniform grid
    info_json: str  #: fit residuals and model comparison (JSON)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in _ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: Any) -> ActivationSurrogate:
        """Rebuild from :meth:`to_arrays` (or a loaded ``.npz``); raise :class:`CacheError`
        naming the first missing, unknown or inconsistent array."""
        names = set(arrays.keys()) if hasattr(arrays, "keys") else set()
        if names != set(_ARRAYS):
            raise CacheError(f"ActivationSurrogate: arrays {sorted(names)} differ from "
                             f"{sorted(_ARRAYS)}")
        a = {name: np.asarray(arrays[name]) for name in _ARRAYS}
        for name, kind in _ARRAYS.items():
            ok = a[name].dtype.kind in ("iu" if kind == "i" else kind)
            if not ok:
                raise CacheError(f"ActivationSurrogate.{name}: dtype {a[name].dtype}, "
                                 f"expected kind {kind!r}")
        c = a["activation"].shape[0] if a["activation"].ndim == 1 else 0
        if c == 0:
            raise CacheError("ActivationSurrogate.activation: expected a non-empty 1-d array")
        for name in ("bits", "v_read", "x_min", "x_max", "lo", "hi", "inl_max", "dnl_max",
                     "rmse_lsb"):
            if a[name].shape != (c,):
                raise CacheError(f"ActivationSurrogate.{name}: shape {a[name].shape}, "
                                 f"expected ({c},)")
        for name in ("nominal_v_read", "info_json"):
            if a[name].ndim != 0:
                raise CacheError(f"ActivationSurrogate.{name}: expected a scalar")
        t = a["transitions"]
        if t.ndim != 2 or t.shape[0] != c:
            raise CacheError(f"ActivationSurrogate.transitions: shape {t.shape}, expected "
                             f"({c}, K)")
        seen = set()
        for i in range(c):
            b = int(a["bits"][i])
            n = 2**b - 1
            row = t[i]
            where = f"row {i} ({a['activation'][i]} {b}b @{a['v_read'][i]:g} V)"
            if not 1 <= b <= 10 or n > t.shape[1]:
                raise CacheError(f"ActivationSurrogate.bits: {where} has no room")
            if not (np.all(np.isfinite(row[:n])) and np.all(np.isnan(row[n:]))
                    and np.all(np.diff(row[:n]) >= 0)):
                raise CacheError(f"ActivationSurrogate.transitions: {where} needs {n} sorted "
                                 "finite values then NaN")
            if not (a["x_min"][i] < a["x_max"][i] and a["lo"][i] < a["hi"][i]
                    and a["v_read"][i] > 0):
                raise CacheError(f"ActivationSurrogate: {where} has an empty range or a "
                                 "non-positive read voltage")
            key = (str(a["activation"][i]), b, round(float(a["v_read"][i]), 9))
            if key in seen:
                raise CacheError(f"ActivationSurrogate: {where} appears twice")
            seen.add(key)
        try:
            info = json.loads(str(a["info_json"][()]))
        except ValueError as exc:
            raise CacheError(f"ActivationSurrogate.info_json: {exc}") from None
        if not isinstance(info, dict):
            raise CacheError("ActivationSurrogate.info_json: expected a JSON object")
        return cls(**{k: (v[()].item() if k == "nominal_v_read" else
                          str(v[()]) if k == "info_json" else v) for k, v in a.items()})

    def info(self) -> dict[str, Any]:
        """Model form, per-table figures and the model comparison (JSON-able)."""
        return json.loads(self.info_json)

    def available(self) -> list[tuple[str, int, float]]:
        return [(str(a), int(b), float(v)) for a, b, v in
                zip(self.activation, self.bits, self.v_read, strict=True)]

    def table(self, activation: str, bits: int, v_read: float | None = None) -> ActivationTable:
        """The table of ``activation`` at ``bits`` and applied read voltage ``v_read`` (None:
        nominal), interpolated between characterized read voltages."""
        rows = np.nonzero((self.activation == activation) & (self.bits == bits))[0]
        if rows.size == 0:
            have = ", ".join(sorted({f"{a} {b}b" for a, b, _ in self.available()}))
            raise SpecError(f"activation={activation!r}, bits={bits!r}: not characterized "
                            f"(have {have})")
        v = self.nominal_v_read if v_read is None else float(v_read)
        vs = self.v_read[rows]
        order = np.argsort(vs)
        rows, vs = rows[order], vs[order]
        n = 2**bits - 1
        exact = np.nonzero(np.isclose(vs, v, rtol=0, atol=1e-9))[0]
        if exact.size:
            t = self.transitions[rows[exact[0]], :n]
        elif vs[0] < v < vs[-1]:
            j = int(np.searchsorted(vs, v))
            w = (v - vs[j - 1]) / (vs[j] - vs[j - 1])
            t = (1 - w) * self.transitions[rows[j - 1], :n] + w * self.transitions[rows[j], :n]
        else:
            raise SpecError(f"v_read={v!r}: outside the characterized read voltages "
                            f"{vs[0]:g} .. {vs[-1]:g} V of {activation} {bits}b")
        r = rows[0]
        return ActivationTable(activation, int(bits), v, float(self.x_min[r]),
                               float(self.x_max[r]), float(self.lo[r]), float(self.hi[r]),
                               np.array(t, dtype=float))


def fit(ds: AdcDataset) -> ActivationSurrogate:
    """The tables of every ramp-reference configuration of ``ds`` (deterministic)."""
    spec = ds.spec()
    rows = np.nonzero(ds.cfg_reference == "ramp")[0]
    lo, hi = [], []
    per_table = []
    for i in rows:
        act = get_activation(str(ds.cfg_activation[i])).with_range(ds.cfg_x_min[i],
                                                                    ds.cfg_x_max[i])
        b, n = int(ds.cfg_bits[i]), 2 ** int(ds.cfg_bits[i]) - 1
        lo_i, hi_i = act.bounds
        lo.append(lo_i)
        hi.append(hi_i)
        sel = (ds.sim_cfg == i) & np.isin(ds.sim_kind, [PROBE, BACKGROUND])
        x, code = ds.sim_x[sel], ds.sim_code[sel]
        t = ds.transitions[i, :n]
        design = np.asarray(act.thresholds(b))
        # ramp levels alone: V_r(k) = V_mac0(x) without overdrive and droop
        levels = (ds.v_ramp[i, :n] - ds.mac_offset[i]) / ds.mac_gain[i]
        match = {"table": float(np.mean(codes_of(t, x) == code)),
                 "design": float(np.mean(codes_of(design, x) == code)),
                 "ramp levels": float(np.mean(codes_of(levels, x) == code))}
        src = ds.delta_source[i, :n]
        per_table.append({
            "activation": str(ds.cfg_activation[i]), "bits": b, "v_read": float(ds.cfg_v_read[i]),
            "fit_match": match["table"], "rung_match": _num(ds.rung_match[i]),
            "match_design": match["design"], "match_ramp_levels": match["ramp levels"],
            "delta_uV": [round(float(ds.delta[i, :n].min()) * 1e6, 2),
                         round(float(ds.delta[i, :n].max()) * 1e6, 2)],
            "delta_measured": int(np.sum(src == 1)), "mac_resid_uV": float(ds.mac_resid[i]) * 1e6,
            "inl_max_lsb": float(ds.inl_max[i]), "dnl_max_lsb": float(ds.dnl_max[i]),
            "rmse_lsb": float(ds.rmse_lsb[i]), "monotonic": bool(ds.monotonic[i])})
    info = _info(per_table, ds.ngspice_version, spec.n_deck)
    k = ds.transitions.shape[1]
    t = np.full((rows.size, k), np.nan)
    for j, i in enumerate(rows):
        n = 2 ** int(ds.cfg_bits[i]) - 1
        t[j, :n] = np.sort(ds.transitions[i, :n])
    return ActivationSurrogate(
        activation=np.array(ds.cfg_activation[rows]), bits=np.array(ds.cfg_bits[rows]),
        v_read=np.array(ds.cfg_v_read[rows]), x_min=np.array(ds.cfg_x_min[rows]),
        x_max=np.array(ds.cfg_x_max[rows]), lo=np.array(lo), hi=np.array(hi), transitions=t,
        nominal_v_read=float(spec.nominal), inl_max=np.array(ds.inl_max[rows]),
        dnl_max=np.array(ds.dnl_max[rows]), rmse_lsb=np.array(ds.rmse_lsb[rows]),
        info_json=json.dumps(info))


def _info(tables: list[dict[str, Any]], ngspice: str, n_deck: int) -> dict[str, Any]:
    """The fit report: model form, the three models compared over ``tables``, each table."""
    models = {"table": "fit_match", "design": "match_design",
              "ramp levels": "match_ramp_levels"}
    return {
        "model": "measured code-transition table per (activation, bits, v_read): ramp levels "
                 "+ MAC map with droop + comparator overdrive from targeted ladders; "
                 "code = searchsorted(transitions, x)",
        "comparison": {name: {"mean_match": float(np.mean([t[f] for t in tables])),
                              "min_match": float(np.min([t[f] for t in tables]))}
                       for name, f in models.items()},
        "chosen": "table",
        "tables": tables,
        "ngspice_version": ngspice,
        "n_deck": n_deck,
    }


def merge(parts: list[ActivationSurrogate]) -> ActivationSurrogate:
    """One surrogate holding the tables of ``parts`` (surrogates of disjoint configurations,
    e.g. one per width from :meth:`AdcCharSpec.per_width`), in their order."""
    if not parts:
        raise SpecError("merge: no activation surrogates to merge")
    infos = [p.info() for p in parts]
    first = infos[0]
    for p, info in zip(parts, infos, strict=True):
        if (not math.isclose(p.nominal_v_read, parts[0].nominal_v_read)
                or (info["ngspice_version"], info["n_deck"])
                != (first["ngspice_version"], first["n_deck"])):
            raise SpecError("merge: the surrogates differ in design read voltage, ngspice "
                            "version or deck size")
    k = max(p.transitions.shape[1] for p in parts)
    t = np.concatenate([np.pad(p.transitions, ((0, 0), (0, k - p.transitions.shape[1])),
                               constant_values=np.nan) for p in parts])
    cat = {name: np.concatenate([getattr(p, name) for p in parts]) for name in
           ("activation", "bits", "v_read", "x_min", "x_max", "lo", "hi", "inl_max",
            "dnl_max", "rmse_lsb")}
    info = _info([tab for i in infos for tab in i["tables"]], first["ngspice_version"],
                 first["n_deck"])
    return ActivationSurrogate(**cat, transitions=t, nominal_v_read=parts[0].nominal_v_read,
                               info_json=json.dumps(info))


def _num(v: float) -> float | None:
    return None if math.isnan(float(v)) else float(v)


# ---------------------------------------------------------------- validation

@dataclass(frozen=True, slots=True, eq=False)
class ActivationValidation:
    """Held-out SPICE codes vs the surrogate: ``V`` configurations, ``P`` inputs in all."""

    checks: list[Check]
    activation: np.ndarray  #: (V,) str
    bits: np.ndarray  #: (V,) int
    v_read: np.ndarray  #: (V,) V
    nominal: np.ndarray  #: (V,) bool
    match: np.ndarray  #: (V,) fraction of inputs whose surrogate code equals SPICE's
    max_err: np.ndarray  #: (V,) LSB, max |surrogate - SPICE|
    index: np.ndarray  #: (P,) int, configuration of each input
    x: np.ndarray  #: (P,) inputs
    spice: np.ndarray  #: (P,) int, SPICE codes
    surrogate: np.ndarray  #: (P,) int, surrogate codes
    ideal: np.ndarray  #: (P,) int, ideal codes of f


def heldout_inputs(spec: AdcCharSpec, cfg: Config) -> np.ndarray:
    """The held-out inputs of configuration ``cfg``: ``val_inputs`` (nominal, up to
    5 bits) or ``val_inputs_high`` (above 5 bits, off-nominal) rounded up to whole decks of
    ``n_deck``, half uniform on the input range, half uniform in the output level (seed
    ``val_seed``)."""
    nominal = math.isclose(cfg.v_read, spec.nominal)
    want = spec.val_inputs if cfg.bits <= 5 and nominal else spec.val_inputs_high
    n = -(-want // spec.n_deck) * spec.n_deck
    rng = seeded(spec.val_seed, *cfg.key)
    act = cfg.act
    uniform = rng.uniform(act.x_min, act.x_max, n - n // 2)
    lo, hi = act.bounds
    grid = np.linspace(act.x_min, act.x_max, 20001)
    levels = lo + rng.uniform(0.0, 1.0, n // 2) * (hi - lo)
    by_level = np.interp(levels, np.maximum.accumulate(act(grid)), grid)
    x = np.concatenate([uniform, by_level])
    return x[rng.permutation(n)]


def validation_configs(spec: AdcCharSpec) -> list[Config]:
    """Nominal ramp configurations, and off-nominal ones up to ``val_off_nominal_bits``."""
    out = []
    for a in spec.activation_list():
        for b in spec.bit_list():
            out.append(Config(a, b, spec.nominal, "ramp", ramp_for(spec, a, b)))
            if b > spec.val_off_nominal_bits:
                continue
            for v in spec.v_reads:
                if not math.isclose(v, spec.nominal):
                    out.append(Config(a, b, float(v), "ramp", ramp_for(spec, a, b, v)))
    return out


def validate(sur: ActivationSurrogate, spec: AdcCharSpec, *, store: Path | str | None = None,
             workers: int | None = None, scheduler: str | None = None,
             progress: bool = True) -> ActivationValidation:
    """Compare the surrogate with held-out SPICE conversions (see the module docstring)."""
    cfgs = validation_configs(spec)
    points, owner = [], []
    xs = []
    for j, c in enumerate(cfgs):
        x = heldout_inputs(spec, c)
        xs.append(x)
        for start in range(0, x.size, spec.n_deck):
            points.append(testbench_for(spec, c.ramp, x[start:start + spec.n_deck]))
            owner.append(j)
    results = run_points(convert, points, store=store, workers=workers, scheduler=scheduler,
                         progress=progress, desc="adc validation")
    spice = [np.concatenate([r.codes for r, o in zip(results, owner, strict=True) if o == j])
             for j in range(len(cfgs))]
    checks: list[Check] = []
    match, max_err, sur_codes, ideal = [], [], [], []
    for j, c in enumerate(cfgs):
        tab = sur.table(c.activation, c.bits, c.v_read)
        got = tab.codes(xs[j])
        ideal.append(c.act.code(xs[j], c.bits))
        sur_codes.append(got)
        diff = np.abs(got - spice[j])
        match.append(float(np.mean(diff == 0)))
        max_err.append(float(diff.max()))
        nominal = math.isclose(c.v_read, spec.nominal)
        name = f"activation {c.activation} {c.bits}b @{c.v_read:g} V"
        lo, hi = c.act.bounds
        n = 2**c.bits - 1
        value = lo + spice[j] * (hi - lo) / n
        rmse_lsb = float(np.sqrt(np.mean((value - c.act(xs[j]))**2)) * n / (hi - lo))
        inl, dnl = inl_dnl(c.act, c.bits, tab.transitions)
        checks += [
            Check(f"{name}: codes = SPICE", 100 * match[-1], "%", 99.0 if nominal else None,
                  "at_least", f"{xs[j].size} held-out inputs"),
            Check(f"{name}: max |code - SPICE|", max_err[-1], "LSB",
                  1.0 if nominal else None),
            Check(f"{name}: RMSE vs f (SPICE codes)", rmse_lsb, "LSB",
                  detail=f"{rmse_lsb * (hi - lo) / n:.4g} in output units"),
            Check(f"{name}: max |INL|", float(np.max(np.abs(inl))), "LSB"),
            Check(f"{name}: max |DNL|", float(np.max(np.abs(dnl))) if dnl.size else 0.0,
                  "LSB"),
        ]
    return ActivationValidation(
        checks=checks, activation=np.array([c.activation for c in cfgs]),
        bits=np.array([c.bits for c in cfgs]), v_read=np.array([c.v_read for c in cfgs]),
        nominal=np.array([math.isclose(c.v_read, spec.nominal) for c in cfgs]),
        match=np.array(match), max_err=np.array(max_err),
        index=np.concatenate([np.full(x.size, j) for j, x in enumerate(xs)]),
        x=np.concatenate(xs), spice=np.concatenate(spice), surrogate=np.concatenate(sur_codes),
        ideal=np.concatenate(ideal))
