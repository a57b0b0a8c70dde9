"""Design-space exploration: circuit and system parameters x rules x seeds, each point trained
through its surrogates and priced by its energy ledger; accuracy against energy per training
image, with the Pareto front (``circuitsim explore``).

Every configuration (one value of each axis, e.g. ``ambrogio.cell_c``, ``act_bits``,
``comparator``, ``periphery.read_mode``, ``ambrogio.technology``, and one analog rule) is
trained for every seed as an independent run of :func:`circuitsim.reproduce.grid.run_grid`:
on the local pool or a Dask cluster, each run stored when done, so an interrupted exploration
resumes with nothing lost. The grid's parent characterizes and fits what each configuration
needs first (cached by content hash) and simulates its ledger's price decks. The float rule on
the base spec with the same seeds is the accuracy reference (paired by seed). A configuration
is on the Pareto front when no other has a higher mean accuracy at a lower mean energy per
training image (and none an equal one at a lower energy, or a higher one at an equal energy;
energies within 0.5 % count as equal).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from circuitsim.plots import save_figure
from circuitsim.reproduce import grid
from circuitsim.reproduce.common import GridOptions, Report, interval_rows
from circuitsim.spec import build, require, to_mapping
from circuitsim.train.config import TrainSpec

#: Most training runs one exploration may ask for (configurations x seeds, plus the reference).
MAX_RUNS = 10_000
#: Accuracy margin (points) of the equivalence decision against the float reference.
MARGIN = 1.0
#: Relative energy difference below which two configurations cost the same (:func:`pareto`).
ENERGY_TIE = 0.005


@dataclass(frozen=True, slots=True)
class DesignPoint:
    """One point of the design space: an analog rule and one value per axis."""

    rule: str
    values: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        return " ".join([self.rule, *(f"{k}={_short(v)}" for k, v in self.values)])


def _short(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def configs(axes: Sequence[tuple[str, Sequence[Any]]], rules: Sequence[str]
            ) -> list[DesignPoint]:
    """Every rule x every combination of axis values."""
    require(bool(rules) and "float" not in rules, "rules", list(rules),
            "name one or more analog rules (float is the reference, always trained)")
    for key, values in axes:
        require(isinstance(values, list | tuple) and len(values) > 0, key, values,
                "an axis needs a non-empty list of values")
    combos = itertools.product(*[[(k, v) for v in vals] for k, vals in axes])
    return [DesignPoint(r, tuple(c)) for c in combos for r in rules]


def spec_of(base: TrainSpec, config: DesignPoint, seed: int) -> TrainSpec:
    """``base`` with ``config``'s rule and axis values and ``seed`` (a bad key or value is a
    one-line error naming it)."""
    sets = [f"{k}={json.dumps(v)}" for k, v in config.values]
    return build(TrainSpec, to_mapping(base), [*sets, f"rule={config.rule}", f"seed={seed}"])


def pareto(acc: Sequence[float], energy: Sequence[float], tie: float = ENERGY_TIE
           ) -> list[bool]:
    """Whether each point (accuracy, energy) is on the front: no other point is at least as
    accurate at no more energy and strictly better in one of the two. Energies within a
    relative ``tie`` of each other count as equal (the ledger's estimates are not that
    precise, and a front should not rest on a difference of a few pJ in 70 nJ)."""
    pts = list(zip(acc, energy, strict=True))

    def beats(a2: float, e2: float, a: float, e: float) -> bool:
        no_more = e2 <= e * (1 + tie)
        return a2 >= a and no_more and (a2 > a or e2 < e * (1 - tie))
    return [not any(beats(a2, e2, a, e) for a2, e2 in pts) for a, e in pts]


def run(base: TrainSpec, axes: Sequence[tuple[str, Sequence[Any]]], rules: Sequence[str],
        seeds: int, out: Path, data_args: dict[str, Any] | None = None,
        grid_options: GridOptions | None = None) -> Report:
    """Train and price every configuration (module docstring); the report, with its Pareto
    plot in ``out``."""
    t0 = time.perf_counter()
    opts = grid_options or GridOptions()
    cfgs = configs(axes, rules)
    require(1 <= seeds and (len(cfgs) + 1) * seeds <= MAX_RUNS, "seeds", seeds,
            f"{len(cfgs)} configurations x {seeds} seeds exceed {MAX_RUNS} runs")
    ref_specs = [build(TrainSpec, to_mapping(base), ["rule=\"float\"", f"seed={s}"])
                 for s in range(base.seed, base.seed + seeds)]
    specs = [spec_of(base, c, s) for c in cfgs for s in range(base.seed, base.seed + seeds)]
    require(all(s.ledger.enabled for s in specs), "ledger.enabled", False,
            "an exploration prices every run: enable the ledger")
    res = grid.run_grid([*ref_specs, *specs], base.dataset, data_args, **opts.kwargs(),
                        desc="explore")
    recs = res.records
    ref, per_cfg = recs[:seeds], [recs[seeds + i * seeds: seeds + (i + 1) * seeds]
                                  for i in range(len(cfgs))]
    groups = [("float", [r.final_acc for r in ref])]
    groups += [(c.label, [r.final_acc for r in rs]) for c, rs in zip(cfgs, per_cfg,
                                                                      strict=True)]
    rows = interval_rows(groups, metric="test accuracy %", ref=0, margin=MARGIN, scale=100)
    for row, (_, accs) in zip(rows, groups, strict=True):
        row["seeds_pct"] = [100 * a for a in accs]
    rows[0]["axes"] = {}
    for row, c, rs in zip(rows[1:], cfgs, per_cfg, strict=True):
        row.update(_energy(rs), axes={"rule": c.rule, **dict(c.values)})
    front = pareto([r["mean"] for r in rows[1:]], [r["energy_J"] for r in rows[1:]])
    for row, on in zip(rows[1:], front, strict=True):
        row["Pareto"] = "yes" if on else ""
    rows[0].update({"Pareto": "reference"})
    best = [r["configuration"] for r in rows[1:] if r["Pareto"]]
    out.mkdir(parents=True, exist_ok=True)
    plot = pareto_plot(rows, out / "pareto.png",
                       f"{base.dataset}: accuracy vs energy per training image "
                       f"({seeds} seed{'s' * (seeds > 1)}, {base.epochs} epochs)",
                       axes[-1][0] if axes else "rule")
    return Report(
        "explore", f"Design-space exploration on {base.dataset}",
        f"which of {len(cfgs)} configurations ({', '.join(k for k, _ in axes) or 'none'} x "
        f"rules {', '.join(rules)}) trade accuracy for training energy best",
        "a configuration is on the Pareto front when no other has a higher mean test accuracy "
        "at a lower mean energy per training image (energy from each run's ledger); "
        f"accuracy against float paired by seed, equivalent within +-{MARGIN:g} pt.",
        COLUMNS, rows, f"Pareto front: {'; '.join(best)}.",
        notes=[f"{res.summary()}", "energy per training image and per test image: mean over "
               "seeds of each run's ledger (simulated + derived + estimate, see "
               "`circuitsim/train/ledger.py`)"],
        plots=[plot], seconds=time.perf_counter() - t0, scale="explore")


COLUMNS = ["configuration", "n", "test accuracy % mean [95 % CI]", "vs float [95 % CI]",
           "decision", "nJ per training image", "nJ per test image", "us per image",
           "training TOPS/W", "Pareto"]


def _energy(records: Sequence[grid.RunRecord]) -> dict[str, Any]:
    """Mean ledger figures of a configuration's runs."""
    mean = float(np.mean([r.energy_per_image for r in records]))
    return {"energy_J": mean, "nJ per training image": f"{mean * 1e9:.4g}",
            "nJ per test image": f"{np.mean([r.energy_per_test_image for r in records]) * 1e9:.4g}",
            "us per image": f"{np.mean([r.latency_per_image for r in records]) * 1e6:.4g}",
            "training TOPS/W": f"{np.mean([r.tops_per_watt for r in records]):.3g}",
            "phase_energy_J": np.mean([r.phase_energy for r in records], axis=0).tolist()}


def pareto_plot(rows: Sequence[dict[str, Any]], path: Path, title: str,
                colour_by: str | None = None) -> Path:
    """Mean test accuracy against energy per training image, the range over seeds as a
    vertical line, points coloured by the value of axis ``colour_by``, the front joined and
    labelled, the float reference (mean, range over seeds) as a band."""
    fig = Figure(figsize=(9, 5.4))
    ax = fig.subplots()
    ref, pts = rows[0], rows[1:]
    ax.axhspan(min(ref["seeds_pct"]), max(ref["seeds_pct"]), color="0.88",
               label="float (range over seeds)")
    ax.axhline(ref["mean"], color="0.5", lw=0.8, label="float (mean)")
    groups = sorted({str(r["axes"].get(colour_by, "")) for r in pts})
    colours = {g: f"C{i}" for i, g in enumerate(groups)}
    for r in pts:
        g = str(r["axes"].get(colour_by, ""))
        x = r["energy_J"] * 1e9
        ax.plot([x, x], [min(r["seeds_pct"]), max(r["seeds_pct"])], color=colours[g],
                lw=0.8, alpha=0.6)
        ax.plot(x, r["mean"], "o", color=colours[g], ms=5, mfc="none" if not r["Pareto"]
                else colours[g])
    for g, c in colours.items():
        ax.plot([], [], "o", color=c, label=f"{colour_by}={g}" if colour_by else "runs")
    front = sorted((r["energy_J"] * 1e9, r["mean"], r["configuration"]) for r in pts
                   if r["Pareto"] == "yes")
    if front:
        ax.plot([f[0] for f in front], [f[1] for f in front], "-", color="k", lw=1,
                label="Pareto front (filled)")
        for i, (x, y, label) in enumerate(front):  # stacked: front points may sit close
            ax.annotate(label, (x, y), fontsize=7, xytext=(8, 8 + 11 * i),
                        textcoords="offset points", arrowprops={"arrowstyle": "-", "lw": 0.5})
    lows = [min(r["seeds_pct"]) for r in rows]
    ax.set_ylim(max(0.0, min(lows) - 1.0), min(100.0, max(max(r["seeds_pct"])
                                                          for r in rows) + 1.0))
    ax.set(xscale="log", xlabel="energy per training image [nJ] (ledger)",
           ylabel="final test accuracy [%]", title=title)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower left")
    return save_figure(fig, path)
