"""Shared parts of the ``circuitsim reproduce`` experiments: the Markdown report (claim,
decision rule, table with intervals, verdict, plots) and its JSON twin, rows of intervals
against a reference, and error-bar plots.

An experiment module exposes ``NAME``, ``TITLE``, ``CLAIM`` (the paper's claim, one sentence),
``RULE`` (how the verdict follows from the numbers, stated before anything runs),
``SCALES`` (``fast``, ``default``, ``paper``: run sizes) and ``run(out: Path, *, seeds: int,
scale: str, grid: GridOptions) -> Report``. Scale ``fast`` shrinks epochs and sweeps so
tests exercise the whole path in seconds (its numbers are not the claim's evidence and the
report says so); ``paper`` is the papers' own network and data size.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from circuitsim.io import json_text, write_atomic
from circuitsim.plots import save_figure
from circuitsim.reproduce import stats
from circuitsim.spec import require

#: Run sizes every reproduction offers (``--scale``; ``fast`` is ``--fast``).
SCALES = ("fast", "default", "paper")
#: Seeds per configuration unless ``--seeds`` says otherwise.
DEFAULT_SEEDS = 5
#: The MLP reproductions' paper scale: Fashion-MNIST 784-250-125-10 [lineage], 20 epochs of
#: per-image SGD, learning rate 0.05 decayed by 0.9 per epoch [ours: the float MLP reaches
#: the published 89 % with it; lr 0.1 without decay peaks at 85 % in epoch 7].
PAPER_MLP: dict[str, Any] = {"dataset": "fashion-mnist", "layers": [250, 125], "epochs": 20,
                             "lr": 0.05, "lr_decay": 0.9}


@dataclass(frozen=True, slots=True)
class GridOptions:
    """Where a reproduction's runs go: local workers, a Dask scheduler, the run store."""

    workers: int | None = None  #: local processes (None: one per core)
    scheduler: str | None = None  #: Dask scheduler address (None: ``$CIRCUITSIM_SCHEDULER``)
    store: Path | None = None  #: finished runs (None: the default store)
    progress: bool = True

    def kwargs(self) -> dict[str, Any]:
        return {"workers": self.workers, "scheduler": self.scheduler, "store": self.store,
                "progress": self.progress}


def check_scale(scale: str) -> None:
    require(scale in SCALES, "scale", scale, f"choose one of {', '.join(SCALES)}")


def cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")


@dataclass(slots=True)
class Report:
    """One experiment's evidence: a table (rows of dicts over ``columns``) and a verdict."""

    name: str
    title: str
    claim: str
    rule: str
    columns: list[str]
    rows: list[dict[str, Any]]
    verdict: str
    notes: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    scale: str = "default"

    @property
    def fast(self) -> bool:
        return self.scale == "fast"

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", f"**Claim.** {self.claim}", "",
                 f"**Decision rule** (stated before the runs). {self.rule} Intervals: "
                 f"{stats.METHOD}, {100 * stats.LEVEL:.0f} %.", "", f"Scale: {self.scale}.", ""]
        if self.fast:
            lines += ["**FAST MODE**: shortened runs for testing; these numbers are not "
                      "evidence for the claim.", ""]
        lines += ["| " + " | ".join(self.columns) + " |",
                  "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(cell(r.get(c, "")) for c in self.columns) + " |"
                  for r in self.rows]
        lines += ["", f"**Verdict.** {self.verdict}", ""]
        lines += [f"- {n}" for n in self.notes]
        lines += [""] + [f"![{p.stem}]({p.name})" for p in self.plots]
        lines += ["", f"Wall time: {self.seconds:.0f} s."]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "claim": self.claim,
                "rule": self.rule, "interval_method": stats.METHOD, "level": stats.LEVEL,
                "columns": self.columns, "rows": self.rows, "verdict": self.verdict,
                "notes": self.notes, "plots": [p.name for p in self.plots],
                "seconds": round(self.seconds, 1), "scale": self.scale, "fast": self.fast}

    def write(self, out: Path) -> Path:
        """``report.md`` and ``results.json`` in ``out`` (plots already there)."""
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "results.json", json_text(self.to_json()))
        path = out / "report.md"
        write_atomic(path, self.markdown())
        return path


def interval_rows(groups: Sequence[tuple[str, Sequence[float]]], *, metric: str, ref: int,
                  margin: float, better: int = 1, scale: float = 1.0, digits: int = 2
                  ) -> list[dict[str, Any]]:
    """One row per ``(label, values over seeds 0..n-1)``: mean and interval of the metric, the
    paired difference to group ``ref`` and its equivalence decision (``margin`` in displayed
    units; ``better`` +1 when higher is better, -1 when lower is). Values are multiplied by
    ``scale`` for display (fractions -> %)."""
    ref_label, ref_vals = groups[ref]
    rows = []
    for label, vals in groups:
        iv = stats.t_interval(vals).scaled(scale)
        d = stats.paired(vals, ref_vals).scaled(scale)
        rows.append({"configuration": label, "n": iv.n,
                     f"{metric} mean [95 % CI]": iv.text(digits=digits),
                     f"vs {ref_label} [95 % CI]": "—" if label == ref_label
                     else d.text(digits=digits, sign=True),
                     "decision": "reference" if label == ref_label
                     else stats.equivalence(d.scaled(better), margin),
                     "mean": iv.mean, "lo": iv.lo, "hi": iv.hi,
                     "diff": d.mean, "diff_lo": d.lo, "diff_hi": d.hi,
                     "per seed": ", ".join(f"{scale * v:.{digits}f}" for v in vals)})
    return rows


def row_columns(metric: str, ref_label: str) -> list[str]:
    return ["configuration", "n", f"{metric} mean [95 % CI]", f"vs {ref_label} [95 % CI]",
            "decision", "per seed"]


def error_bars(ax: Axes, rows: Sequence[dict[str, Any]], xlabel: str, margin: float) -> None:
    """Horizontal bars of each row's paired difference to the reference with its interval
    (finite part only) and the ``±margin`` band."""
    names = [textwrap.fill(r["configuration"], 40) for r in rows]
    y = range(len(rows))
    mean = [r["diff"] for r in rows]
    lo = [r["diff"] - max(r["diff_lo"], r["diff"] - 1e3) for r in rows]
    hi = [min(r["diff_hi"], r["diff"] + 1e3) - r["diff"] for r in rows]
    ax.axvspan(-margin, margin, color="0.88", label=f"±{margin:g} (equivalence margin)")
    ax.axvline(0, color="k", lw=0.8)
    ax.errorbar(mean, list(y), xerr=[lo, hi], fmt="o", capsize=4)
    ax.set_yticks(list(y), names, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel=xlabel)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="x")


def train_groups(base: dict[str, Any], configs: Sequence[tuple[str, dict[str, Any]]],
                 seeds: int, ds_name: str, grid: GridOptions, desc: str,
                 data_args: dict[str, Any] | None = None
                 ) -> tuple[list[tuple[str, list[Any]]], Any]:
    """Every ``(label, TrainSpec overrides)`` of ``configs`` on ``base`` for seeds
    ``0..seeds-1``, as one grid: ``[(label, [RunRecord per seed])]`` and the GridResult."""
    from circuitsim.reproduce.grid import run_grid
    from circuitsim.spec import build, deep_merge
    from circuitsim.train.config import TrainSpec

    specs = [build(TrainSpec, deep_merge({**base, "seed": s}, over)) for _, over in configs
             for s in range(seeds)]
    res = run_grid(specs, ds_name, data_args, desc=desc, **grid.kwargs())
    recs = res.records
    return [(label, recs[k * seeds:(k + 1) * seeds]) for k, (label, _) in enumerate(configs)], res


def seeds_note(seeds: int, res: Any) -> str:
    """The report note on the seeds of every configuration and how the grid ran (``res``:
    the grid's result)."""
    return f"{seeds} seeds (0-{seeds - 1}) per configuration; {res.summary()}."


def mlp_note(ds_name: str, base: dict[str, Any]) -> str:
    """The report note naming an MLP reproduction's network and run length."""
    return (f"network {ds_name} {base.get('layers') or 'one hidden layer (data set default)'}"
            f", {base['epochs']} epochs, per-image SGD"
            + (f", lr {base['lr']:g} x {base['lr_decay']:g} per epoch" if "lr_decay" in base
               else "")
            + (f", first {base['max_train']} training images" if base.get("max_train") else ""))


def accuracy_plot(groups: Sequence[tuple[str, Sequence[Any]]], rows: Sequence[dict[str, Any]],
                  xlabel: str, margin: float, title: str, path: Path) -> Path:
    """Mean test-accuracy curves of every group and the rows' paired differences with their
    intervals (:func:`error_bars`)."""
    many = len(groups) > 4  # the legend gets its own panel under the curves
    fig = Figure(figsize=(12, max(6.0 if many else 4.0, 0.55 * len(groups))))
    axs = fig.subplot_mosaic([["curves", "bars"], ["legend", "bars"]] if many
                             else [["curves", "bars"]], height_ratios=[3, 2] if many else [1])
    ax, bar = axs["curves"], axs["bars"]
    colors = matplotlib.colormaps["tab20" if len(groups) > 10 else "tab10"].colors
    for k, (label, recs) in enumerate(groups):
        mean = sum(r.test_acc for r in recs) / len(recs)
        ax.plot(range(1, len(mean) + 1), 100 * mean, label=label, color=colors[k % len(colors)])
    ax.set(xlabel="epoch", ylabel="test accuracy [%] (mean over seeds)")
    if many:
        axs["legend"].axis("off")
        axs["legend"].legend(*ax.get_legend_handles_labels(), fontsize=7, loc="upper left")
    else:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    error_bars(bar, rows, xlabel, margin)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def accuracy_experiment(name: str, scales: dict[str, tuple[str, dict[str, Any]]],
                        configs: Sequence[tuple[str, dict[str, Any]]], ref: int, margin: float,
                        seeds: int, scale: str, grid: GridOptions | None
                        ) -> tuple[str, dict[str, Any], list[tuple[str, list[Any]]], Any,
                                   list[dict[str, Any]]]:
    """The MLP reproductions' grid: data set name, shared fields, ``[(label, records)]``, the
    GridResult and the rows of final test accuracy (%) against configuration ``ref``."""
    check_scale(scale)
    ds_name, base = scales[scale]
    groups, res = train_groups(base, configs, seeds, ds_name, grid or GridOptions(), name)
    rows = interval_rows([(label, [r.final_acc for r in recs]) for label, recs in groups],
                         metric="test acc [%]", ref=ref, margin=margin, scale=100)
    return ds_name, base, groups, res, rows
