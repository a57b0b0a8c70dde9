"""2PCM+3T1C with SkyWater SKY130 3T1C cells and SKY130 ramp-ADC comparators at the process
corners tt, ff, ss, fs and sf (a question the Ambrogio paper does not answer): each corner's
update surrogate is characterized in SPICE with the foundry's corner section and its mismatch
sigmas (:func:`~circuitsim.characterize.technology_presets.technology_preset`), each corner's
activation ADC with the SKY130 continuous comparator at that corner
(:func:`~circuitsim.characterize.technology_presets.adc_preset`), and the network trains
through them; float is the reference on the same seeds. (This wheel's ``fs`` is PMOS-fast,
NMOS-slow: models/README.md.)

Scales: ``default`` the digits MLP 64-32-10, 20 epochs; ``paper`` Fashion-MNIST
784-250-125-10, 20 epochs, transfer every 8,000 images; ``fast`` 300 digits, 3 epochs. The
cell is the SKY130 preset with its own 100 fF capacitor (~10 mV per pulse at tt).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from circuitsim.netlist import cell3t1c
from circuitsim.reproduce import stats
from circuitsim.reproduce.common import (
    DEFAULT_SEEDS,
    GridOptions,
    Report,
    accuracy_experiment,
    accuracy_plot,
    mlp_note,
    row_columns,
    seeds_note,
)

NAME = "sky130corners"
TITLE = "2PCM+3T1C on SKY130 3T1C cells and comparators at tt / ff / ss / fs / sf vs float"
CLAIM = ("With SKY130 3T1C cells (foundry corner models and mismatch) and SKY130 ramp-ADC "
         "comparators, 2PCM+3T1C with polarity inversion trains to accuracy equivalent to "
         "floating point at every corner tt, ff, ss, fs and sf.")
MARGIN = 1.0  # percentage points, as ambrogio2018
CORNERS = ("tt", "ff", "ss", "fs", "sf")
RULE = (f"Final test accuracy per seed; every configuration on the same seeds. Per corner, "
        f"'equivalent' = the interval of the paired difference (2PCM+3T1C at that corner - "
        f"float) lies within ±{MARGIN:g} pt, 'different' = it lies wholly outside, otherwise "
        "undecided. The claim holds when every corner is equivalent.")
_CELL = {"technology": "sky130", "cell_c": cell3t1c.SKY130["c"]}
SCALES: dict[str, tuple[str, dict[str, Any]]] = {
    "fast": ("digits", {"dataset": "digits", "epochs": 3, "max_train": 300}),
    "default": ("digits", {"dataset": "digits", "epochs": 20}),
    "paper": ("fashion-mnist", {"dataset": "fashion-mnist", "layers": [250, 125],
                                "epochs": 20}),
}
CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("float", {"rule": "float"}),
    *[(f"2PCM+3T1C + PI, SKY130 {c}", {"rule": "ambrogio", "ambrogio": {**_CELL, "corner": c},
                                       "comparator_technology": "sky130",
                                       "comparator_corner": c})
      for c in CORNERS],
]


def verdict(groups: list[tuple[str, list[Any]]]) -> str:
    acc = [[r.final_acc for r in recs] for _, recs in groups]
    parts, decisions = [], []
    for corner, values in zip(CORNERS, acc[1:], strict=True):
        diff = stats.paired(values, acc[0]).scaled(100)
        decisions.append(stats.equivalence(diff, MARGIN))
        parts.append(f"{corner} {diff.text(sign=True)} pt → {decisions[-1]}")
    overall = ("equivalent" if all(d == "equivalent" for d in decisions)
               else "different" if "different" in decisions else "undecided")
    return (f"{stats.headline(overall)}: 2PCM+3T1C + PI - float per corner, n = {len(acc[0])} "
            f"(margin ±{MARGIN:g} pt): " + "; ".join(parts) + ".")


def run(out: Path, *, seeds: int = DEFAULT_SEEDS, scale: str = "default",
        grid: GridOptions | None = None) -> Report:
    t0 = time.perf_counter()
    ds_name, base, groups, res, rows = accuracy_experiment(NAME, SCALES, CONFIGS, 0, MARGIN,
                                                           seeds, scale, grid)
    notes = [seeds_note(seeds, res),
             mlp_note(ds_name, base),
             "3T1C: the SKY130 preset cell (1/1 um pull devices, 100 fF; models/README.md), "
             "one update surrogate per corner (QUICK characterization), Monte-Carlo cells "
             "with SkyWater's mismatch sigmas; ramp-ADC activations with the SKY130 continuous "
             "comparator (1.8 V preset) at the same corner, one QUICK ADC characterization "
             "each; MAC surrogate as in ambrogio2018 (1R crossbar, no transistors)"]
    plot = accuracy_plot(groups, rows[1:], "paired difference to float [pt], 95 % CI",
                         MARGIN, TITLE, out / f"{NAME}.png")
    return Report(NAME, TITLE, CLAIM, RULE, row_columns("test acc [%]", "float"), rows,
                  verdict(groups), notes, [plot], time.perf_counter() - t0, scale)
