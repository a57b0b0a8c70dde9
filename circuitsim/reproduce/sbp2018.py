"""SBP 2018 (sign backpropagation on RRAM crossbars) at our scale: binary forward and ternary
backward interfaces, one pulse per weight, against float MLPs of the same size on grey-level
and on the same binary inputs.

Scales: ``default`` digits 64-128-10, 20 epochs; ``paper`` Fashion-MNIST 784-250-125-10
[lineage], 20 epochs (``common.PAPER_MLP``; SBP ignores the learning rate); ``fast`` 300
digits, 3 epochs (a pipeline check).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from circuitsim.reproduce import stats
from circuitsim.reproduce.common import (
    DEFAULT_SEEDS,
    PAPER_MLP,
    GridOptions,
    Report,
    accuracy_experiment,
    accuracy_plot,
    row_columns,
    seeds_note,
)

NAME = "sbp2018"
TITLE = "SBP 2018: sign backpropagation vs float MLP"
CLAIM = ("An RRAM-crossbar MLP trained with sign backpropagation (binary forward, ternary "
         "backward interfaces, one pulse per weight) reaches accuracy comparable to a "
         "floating-point MLP.")
MARGIN = 2.0  # percentage points: "comparable" [ours]
RULE = (f"Final test accuracy per seed; every configuration on the same seeds. 'Comparable' = "
        f"the interval of the paired difference (SBP with device spread - float MLP on the "
        f"same binary inputs) lies within ±{MARGIN:g} pt; the difference to the grey-level "
        f"float MLP is reported with the same rule (the binary input interface is part of "
        "SBP's design).")
SCALES: dict[str, tuple[str, dict[str, Any]]] = {
    "fast": ("digits", {"dataset": "digits", "hidden": 128, "epochs": 3, "max_train": 300}),
    "default": ("digits", {"dataset": "digits", "hidden": 128, "epochs": 20}),
    "paper": ("fashion-mnist", PAPER_MLP),
}
IDEAL = {"rpu": {"d2d": 0.0, "c2c": 0.0, "bound_d2d": 0.0},
         "periphery": {"in_bits": 0, "out_bits": 0}}
CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("float MLP (grey-level inputs)", {"rule": "float"}),
    ("float MLP, binary inputs (x > 0.5)", {"rule": "float", "binary_inputs": True}),
    ("SBP, ideal devices and converters", {"rule": "sbp", **IDEAL}),
    ("SBP, devices with 30 % d2d/c2c step spread", {"rule": "sbp"}),
]


def verdict(groups: list[tuple[str, list[Any]]]) -> str:
    acc = [[r.final_acc for r in recs] for _, recs in groups]
    vs_bin = stats.paired(acc[3], acc[1]).scaled(100)
    vs_grey = stats.paired(acc[3], acc[0]).scaled(100)
    binarize = stats.paired(acc[1], acc[0]).scaled(100)
    eq = stats.equivalence(vs_bin, MARGIN)
    head = stats.headline(eq)
    return (f"{head}: SBP (device spread) vs float MLP on binary inputs "
            f"{vs_bin.text(sign=True)} pt, n = {vs_bin.n} → {eq} (margin ±{MARGIN:g} pt). "
            f"Against the grey-level float MLP {vs_grey.text(sign=True)} pt → "
            f"{stats.equivalence(vs_grey, MARGIN)}; binarizing the inputs alone costs "
            f"{binarize.text(sign=True)} pt.")


def run(out: Path, *, seeds: int = DEFAULT_SEEDS, scale: str = "default",
        grid: GridOptions | None = None) -> Report:
    t0 = time.perf_counter()
    ds_name, base, groups, res, rows = accuracy_experiment(NAME, SCALES, CONFIGS, 1, MARGIN,
                                                           seeds, scale, grid)
    notes = [seeds_note(seeds, res),
             f"network {ds_name} hidden {base.get('layers') or base.get('hidden')}, "
             f"{base['epochs']} epochs",
             "SBP thresholds (ours): output margin 1, hidden dead zone 0.5 of the vector's "
             "max |error|, straight-through window |z| < 1, pulse step 0.005 (bounds +-0.6)",
             "SBP weights are conductance pairs read through the SPICE-fitted MAC surrogate"]
    plot = accuracy_plot(groups, [r for k, r in enumerate(rows) if k != 1],
                         "paired difference to float on binary inputs [pt], 95 % CI",
                         MARGIN, TITLE, out / f"{NAME}.png")
    return Report(NAME, TITLE, CLAIM, RULE, row_columns("test acc [%]", CONFIGS[1][0]), rows,
                  verdict(groups), notes, [plot], time.perf_counter() - t0, scale)

