"""Gokmen, Rasch & Haensch 2018: a character-level LSTM trained on resistive pulse devices.

Points (every one a grid run of dataset "text", rule "pulse", float gate activations, the
RPU-baseline device and periphery otherwise; all on the same seeds):

- up/down asymmetry, two readings of "x % asymmetry" (:mod:`circuitsim.train.rpu`: ``beta =
  (dw_up - dw_down) / (dw_up + dw_down)``): a *mean* imbalance ``asymmetry = x / 100`` shared by
  all devices, and a *device-to-device* spread ``asymmetry_d2d = x / 100`` (sigma of ``beta``,
  mean 0: the RPU-baseline reading, where a global imbalance is trimmed by the periphery's
  pulse amplitudes and only the per-device part remains) **[ours: the paper's wording fits
  both]**; 7-bit inputs as the baseline;
- DAC input resolution (``periphery.in_bits`` for forward and backward reads, noise management
  on) with round-to-nearest and with stochastic rounding, asymmetry 0, against an ideal DAC;
- the float baseline (same network, initial weights, order, lr).

Scales: ``default`` one LSTM layer of 32 units on 100 k characters of Python standard-library
source (all 2,812 windows of 32), 8 epochs [ours, sized for 15 min on 2 cores]; ``paper`` the
paper's LSTM2-64 (two stacked layers of 64 units) on >= 1 M characters (the data module's
extended standard-library corpus), windows of 100, 20 epochs; ``fast`` a pipeline check.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter

from circuitsim.errors import SpecError
from circuitsim.plots import save_figure
from circuitsim.reproduce import stats
from circuitsim.reproduce.common import DEFAULT_SEEDS, GridOptions, Report, check_scale
from circuitsim.reproduce.grid import dataset, run_grid
from circuitsim.spec import build
from circuitsim.train.config import TrainSpec

NAME = "gokmen2018"
TITLE = "Gokmen et al. 2018: LSTM training on resistive cross-point devices"
CLAIM = ("A few percent up/down asymmetry of the devices already raises a character LSTM's "
         "test error above floating point, and the array inputs need at least 7 bits "
         "(5 bits with stochastic rounding).")
#: Two losses count as different when apart by more than this (nats/char) [ours].
MARGIN = 0.03
BASE_BITS = 7
RULE = (f"Final test loss (nats/char) per seed; every point on the same seeds; intervals of "
        f"paired differences. 'Asymmetry x % raises the error' = the interval of (x % - 0 %) "
        f"lies above +{MARGIN} nats/char; the claim holds if that happens at 5 % or less. "
        f"'Needs >= k bits' = the smallest width from which on every finer width is not "
        f"worse than an ideal DAC (the interval of (width - ideal) reaches +{MARGIN} or "
        f"below); the claim holds if k = 7 with rounding to nearest and k = 5 with "
        f"stochastic rounding, and holds qualitatively if stochastic rounding needs fewer.")

#: Run sizes: data set arguments, TrainSpec fields, and the swept values.
SCALES: dict[str, dict[str, Any]] = {
    "fast": {"data": {"max_chars": 12_000, "seq_len": 16},
             "train": {"max_train": 32, "epochs": 1, "hidden": 8, "batch": 16, "lr": 3.0},
             "asym": (0, 5), "asym_d2d": (), "bits": (3, 5, 0), "sr_bits": (3,)},
    "default": {"data": {"max_chars": 100_000, "seq_len": 32},
                "train": {"epochs": 8, "hidden": 32, "batch": 16, "lr": 1.5},
                "asym": (0, 2, 5, 10), "asym_d2d": (5, 10), "bits": (4, 5, 6, 7, 8, 0),
                "sr_bits": (3, 4, 5, 6)},
    "paper": {"data": {"max_chars": 1_200_000, "seq_len": 100},
              "train": {"epochs": 20, "layers": [64, 64], "batch": 16, "lr": 1.5},
              "asym": (0, 2, 5, 10), "asym_d2d": (5, 10), "bits": (4, 5, 6, 7, 8, 0),
              "sr_bits": (3, 4, 5, 6)},
}
MIN_PAPER_CHARS = 1_000_000
SWEEPS = {"asym": "asymmetry (mean)", "asym_d2d": "asymmetry (device spread)",
          "bits": "input bits", "sr_bits": "input bits, stochastic rounding"}
COLUMNS = ["sweep", "setting", "n", "test loss [nats/char] mean [95 % CI]", "bits/char",
           "vs reference [95 % CI]", "reference", "per seed"]


def points(cfg: dict[str, Any]) -> list[tuple[str, str, float | None, TrainSpec]]:
    """(sweep, setting, x value, spec) of every point (seed 0)."""
    base = build(TrainSpec, {"dataset": "text", "model": "lstm", "rule": "pulse",
                             "act_bits": 0, **cfg["train"]})
    out = [("float", "float weights (SGD)", None, replace(base, rule="float"))]
    for key, field in (("asym", "asymmetry"), ("asym_d2d", "asymmetry_d2d")):
        for pct in cfg[key]:
            spec = replace(base, rpu=replace(base.rpu, **{field: pct / 100}))
            out.append((SWEEPS[key], f"{pct} %", float(pct), spec))
    for key, sr in (("bits", False), ("sr_bits", True)):
        for bits in cfg[key]:
            per = replace(base.periphery, in_bits=bits, stochastic_rounding=sr)
            out.append((SWEEPS[key], f"{bits} bit" if bits else "ideal", float(bits),
                        replace(base, periphery=per)))
    return out


def reference(sweep: str) -> tuple[str, float] | None:
    """(sweep, x) of the point a point of ``sweep`` is compared with: 0 % asymmetry (mean)
    for the asymmetry sweeps, the ideal DAC for the bit sweeps, none for float."""
    if sweep.startswith("asymmetry"):
        return SWEEPS["asym"], 0.0
    if sweep.startswith("input bits"):
        return SWEEPS["bits"], 0.0
    return None


def _reference(sweep: str, rows: list[dict]) -> dict | None:
    """The row of :func:`reference` among ``rows`` (None: none or not in the grid)."""
    ref = reference(sweep)
    return None if ref is None else next(
        (r for r in rows if (r["sweep"], r["x"]) == ref), None)


def rows_of(pts: list, losses: list[list[float]]) -> list[dict[str, Any]]:
    rows = []
    for (sweep, setting, x, _), vals in zip(pts, losses, strict=True):
        iv = stats.t_interval(vals)
        rows.append({"sweep": sweep, "setting": setting, "x": x, "n": iv.n,
                     "test loss [nats/char] mean [95 % CI]": iv.text(digits=3),
                     "mean": iv.mean, "lo": iv.lo, "hi": iv.hi,
                     "bits/char": iv.mean / math.log(2), "values": vals,
                     "per seed": ", ".join(f"{v:.3f}" for v in vals)})
    for r in rows:
        ref = _reference(r["sweep"], rows)
        if ref is None or ref is r:
            r["vs reference [95 % CI]"], r["reference"] = "—", "—"
            continue
        d = stats.paired(r["values"], ref["values"])
        r.update({"diff": d.mean, "diff_lo": d.lo, "diff_hi": d.hi,
                  "vs reference [95 % CI]": d.text(digits=3, sign=True),
                  "reference": f"{ref['sweep']} {ref['setting']}"})
    return rows


def _diffs(rows: list[dict], sweep: str) -> dict[int, stats.Interval]:
    """Better-oriented (reference - point) intervals of a bit sweep, by width."""
    return {int(r["x"]): stats.Interval(-r["diff"], -r["diff_hi"], -r["diff_lo"], r["n"])
            for r in rows if r["sweep"] == sweep and "diff" in r and r["x"] > 0}


def verdict(rows: list[dict]) -> str:
    parts, asym_ok = [], []
    for key in ("asym", "asym_d2d"):
        rs = [r for r in rows if r["sweep"] == SWEEPS[key] and "diff" in r]
        if not rs:
            continue
        worse = [r for r in rs if r["diff_lo"] > MARGIN]
        asym_ok.append(bool(worse) and worse[0]["x"] <= 5)
        detail = ", ".join(f"{r['setting']} {r['vs reference [95 % CI]']}" for r in rs)
        parts.append(f"{SWEEPS[key]} vs 0 %: {detail} nats/char; "
                     + (f"worse from {worse[0]['setting']} on" if worse else
                        "never shown worse"))
    det, sr = _diffs(rows, SWEEPS["bits"]), _diffs(rows, SWEEPS["sr_bits"])
    n_det, n_sr = stats.needed(det, MARGIN), stats.needed(sr, MARGIN)

    def fmt(n: int | None, tried: dict[int, stats.Interval]) -> str:
        if n is None:
            return "more than the widest tried"
        return f"<= {n} (the narrowest tried)" if n == min(tried) else f"{n}"

    parts.append(f"needed input bits: {fmt(n_det, det)} rounded to nearest, {fmt(n_sr, sr)} with "
                 "stochastic rounding (paper: 7 and 5)")
    bits_word = ("shown (same thresholds)" if (n_det, n_sr) == (7, 5) else
                 "qualitatively shown (stochastic rounding needs fewer bits)"
                 if n_det is not None and n_sr is not None and n_sr < n_det else
                 "not shown at this scale")
    flt = rows[0]
    return (f"Asymmetry: {'shown' if any(asym_ok) else 'not shown'}; input bits: {bits_word}. "
            f"Float {flt['test loss [nats/char] mean [95 % CI]']} nats/char; "
            + "; ".join(parts) + ".")


def plot(rows: list[dict], path: Path) -> Path:
    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)

    def bars(ax: Any, sweep: str, marker: str, dx: float) -> None:
        rs = [r for r in rows if r["sweep"] == sweep and r["x"] is not None
              and (r["x"] > 0 or sweep.startswith("asym"))]
        if rs:
            ax.errorbar([r["x"] + dx for r in rs], [r["mean"] for r in rs],
                        [[r["mean"] - max(r["lo"], 0) for r in rs],
                         [min(r["hi"], 2 * r["mean"]) - r["mean"] for r in rs]],
                        marker=marker, capsize=3, label=sweep)

    flt = rows[0]["mean"]
    for key, marker, dx in (("asym", "o", 0), ("asym_d2d", "s", 0.15)):
        bars(ax1, SWEEPS[key], marker, dx)
    ax1.axhline(flt, color="k", ls="--", lw=1, label="float")
    ax1.set(xlabel="up/down asymmetry [%]", ylabel="test loss [nats/char], 95 % CI",
            title=f"asymmetry ({BASE_BITS}-bit inputs)")
    ax1.legend(fontsize=7)
    for key, marker, dx in (("bits", "o", 0), ("sr_bits", "s", 0.1)):
        bars(ax2, SWEEPS[key], marker, dx)
    ideal = next((r for r in rows if r["sweep"] == SWEEPS["bits"] and r["x"] == 0), None)
    if ideal is not None:
        ax2.axhspan(ideal["lo"] if math.isfinite(ideal["lo"]) else ideal["mean"] - MARGIN,
                    ideal["hi"] if math.isfinite(ideal["hi"]) else ideal["mean"] + MARGIN,
                    color="0.85", label="ideal DAC, 95 % CI")
    ax2.axhline(flt, color="k", ls="--", lw=1, label="float")
    ax2.set_yscale("log")
    plain = FormatStrFormatter("%.1f")   # tick labels 1.8, 1.9, not 1.8x10^0
    ax2.yaxis.set_major_formatter(plain)
    ax2.yaxis.set_minor_formatter(plain)
    ax2.set(xlabel="input DAC bits", ylabel="test loss [nats/char] (log), 95 % CI",
            title="input resolution (asymmetry 0)")
    ax2.legend(fontsize=7)
    fig.suptitle("char-LSTM on RPU devices (Gokmen 2018 style)")
    return save_figure(fig, path)


def run(out: Path, *, seeds: int = DEFAULT_SEEDS, scale: str = "default",
        grid: GridOptions | None = None) -> Report:
    check_scale(scale)
    grid = grid or GridOptions()
    t0 = time.perf_counter()
    cfg = SCALES[scale]
    ds = dataset("text", tuple(sorted(cfg["data"].items())))
    n_chars = len(ds.x_train) * ds.x_train.shape[1] + len(ds.x_test) * ds.x_test.shape[1]
    if scale == "paper" and n_chars < MIN_PAPER_CHARS:
        raise SpecError(f"scale='paper': the offline corpus has {n_chars} chars here, fewer "
                        f"than {MIN_PAPER_CHARS} (standard-library sources missing?)")
    pts = points(cfg)
    specs = [replace(spec, seed=s) for *_, spec in pts for s in range(seeds)]
    res = run_grid(specs, "text", cfg["data"], desc=NAME, **grid.kwargs())
    losses = [[r.final_loss for r in res.records[k * seeds:(k + 1) * seeds]]
              for k in range(len(pts))]
    rows = rows_of(pts, losses)
    tr = cfg["train"]
    notes = [
        f"Data: {ds.describe()}"
        + (f"; first {tr['max_train']} training windows used" if tr.get("max_train") else "")
        + f"; test on all {len(ds.x_test)} test windows. Loss = mean cross-entropy per char "
        f"(ln({ds.n_classes}) = {math.log(ds.n_classes):.2f} nats for a uniform guess).",
        f"Network: LSTM layers {tr.get('layers') or [tr['hidden']]} + softmax read-out "
        "(paper: 2 x 64), "
        f"{tr['epochs']} epochs, batch {tr['batch']} windows, lr {tr['lr']} (mean loss), "
        f"one pulse update per batch and array; seeds 0-{seeds - 1} at every point; "
        f"{res.summary()}.",
        "Device: RPU baseline (dw_min 0.001, bound 0.6, 30 % d2d/c2c/bound spread, BL 31, "
        "stochastic pulse update); periphery: noise management, 9-bit output ADC, bound 12; "
        f"{BASE_BITS}-bit inputs unless swept; gate activations float.",
        "'x % asymmetry': mean = every device's beta = x/100 (dw_up/dw_down = (1+b)/(1-b)); "
        "device spread = beta ~ N(0, (x/100)^2) per device.",
    ]
    return Report(NAME, TITLE, CLAIM, RULE, COLUMNS, rows, verdict(rows), notes,
                  [plot(rows, out / f"{NAME}.png")], time.perf_counter() - t0, scale)
