"""What limits 2PCM+3T1C on the MNIST-1D MLP: an ablation against float on the same seeds.

Earlier single runs left the analog MLP (40-100-10) 5-14 points below float and blamed the
weight range against the 3T1C resolution. Here each configuration removes or relaxes one
non-ideality of the default 2PCM+3T1C run and the paired difference to that run says how
much of the gap it holds:

- the output ADC's range (``periphery.out_bound``, 12 weight units x input units by the RPU
  baseline's convention): MNIST-1D's float MLP drives its hidden pre-activations well beyond it
  (40 inputs of unit variance, weights of a few units), and the clipped read both distorts
  the forward pass and the backward errors;
- the hidden activation's 4-bit ramp-ADC table (against float activations);
- the 3T1C cell-to-cell variation (against nominal cells);
- the transfer cadence (every 50 images against the data set's 200);
- the weight scale (w_scale, siemens per weight unit: range against resolution);

and from the best combination (nominal cells, ADC ±48, transfer every 50) what is left: ideal
converters and activations, 3.2 pF cells (1/8 of the 400 fF cell's step at the same weight
range), exact PCM programming, no 3T1C leakage, one at a time and all four together.

Scales: ``default`` 60 epochs of the 4,000-sample training set, 5 seeds; ``fast`` 2 epochs of
400 samples with the QUICK 100 fF cell (a pipeline check). ``paper`` is the default (MNIST-1D
is its own paper's scale).
"""

from __future__ import annotations

import time
from functools import reduce
from pathlib import Path
from typing import Any

from circuitsim.reproduce import stats
from circuitsim.reproduce.common import (
    DEFAULT_SEEDS,
    GridOptions,
    Report,
    accuracy_plot,
    check_scale,
    interval_rows,
    mlp_note,
    row_columns,
    seeds_note,
    train_groups,
)
from circuitsim.spec import deep_merge
from circuitsim.train.config import TrainSpec

NAME = "mnist1d"
TITLE = "MNIST-1D MLP: what limits 2PCM+3T1C (ablation)"
CLAIM = ("2PCM+3T1C with polarity inversion trains the MNIST-1D MLP (40-100-10) to within "
         "2 points of float; where it does not, one named non-ideality holds the gap.")
MARGIN = 2.0  # percentage points (the target)
#: A run's accuracy: the mean test accuracy of its last LAST epochs (single epochs of the
#: analog runs swing by several points).
LAST = 5
RULE = (f"Accuracy of a run = mean test accuracy of its last {LAST} epochs; every "
        f"configuration on the same seeds. 'Within {MARGIN:g} points of float' = the interval "
        f"of the paired difference (configuration - float) lies above -{MARGIN:g} pt. A "
        f"non-ideality 'limits' the default run when removing it gains: the interval of "
        f"(ablated - default 2PCM+3T1C) lies above 0; each '+' row is compared the same way "
        f"with the best combination it adds to.")

#: Report column: mean training accuracy of the last LAST epochs over the seeds.
TRAIN = "train acc, last epochs, mean [%]"
SCALES: dict[str, tuple[str, dict[str, Any]]] = {
    # fast: the QUICK 100 fF 3T1C cell (its surrogate is the one the tests share)
    "fast": ("mnist1d", {"dataset": "mnist1d", "epochs": 2, "max_train": 400,
                         "ambrogio": {"cell_c": 100e-15}}),
    "default": ("mnist1d", {"dataset": "mnist1d", "epochs": 60}),
    "paper": ("mnist1d", {"dataset": "mnist1d", "epochs": 60}),
}
DEFAULT = "2PCM+3T1C + PI (defaults: ADC ±12, 4-bit ramp activations)"
WIDE = {"periphery": {"out_bound": 48.0}}
BEST = "nominal cells + ADC ±48 + transfer every 50"
BEST_OVER = {"rule": "ambrogio", **WIDE,
             "ambrogio": {"transfer_every": 50, "cell_variation": False}}
CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("float", {"rule": "float"}),
    (DEFAULT, {"rule": "ambrogio"}),
    ("output ADC range ±48", {"rule": "ambrogio", **WIDE}),
    ("float hidden activations", {"rule": "ambrogio", "act_bits": 0}),
    ("nominal 3T1C cells", {"rule": "ambrogio", "ambrogio": {"cell_variation": False}}),
    ("transfer every 50 images", {"rule": "ambrogio", "ambrogio": {"transfer_every": 50}}),
    ("w_scale 40 uS (finer steps, half the range)",
     {"rule": "ambrogio", "ambrogio": {"w_scale": 40e-6}}),
    ("ADC ±48 + transfer every 50", {"rule": "ambrogio", **WIDE,
                                     "ambrogio": {"transfer_every": 50}}),
    (BEST, BEST_OVER),
]

#: What is left after the best combination above, one non-ideality at a time and all at
#: once (default and paper scale only: the 3.2 pF cell has its own SPICE characterization,
#: which the fast pipeline check does not pay for).
IDEAL_PARTS: list[tuple[str, dict[str, Any]]] = [
    ("ideal converters and activations",
     {"act_bits": 0, "periphery": {"in_bits": 0, "out_bits": 0}}),
    ("3.2 pF cells (1/8 the step, 32 pulses)",
     {"ambrogio": {"cell_c": 3.2e-12, "n_max": 32}}),
    ("exact PCM programming", {"ambrogio": {"pcm": {"sigma_abs": 0.0, "sigma_rel": 0.0}}}),
    ("no 3T1C leakage", {"ambrogio": {"leak_every": 0}}),
]
_ALL = reduce(deep_merge, (over for _, over in IDEAL_PARTS), BEST_OVER)
_LADDER = [(f"{BEST} + {label}", deep_merge(BEST_OVER, over))
           for label, over in IDEAL_PARTS] + [(f"{BEST} + all four", _ALL)]
EXTRA: dict[str, list[tuple[str, dict[str, Any]]]] = {"default": _LADDER, "paper": _LADDER}


def verdict(acc: dict[str, list[float]]) -> str:
    ref = acc["float"]
    base = acc[DEFAULT]
    gap = stats.paired(base, ref).scaled(100)
    parts, limits, fixed = [], [], []
    for label, vals in acc.items():
        if label in ("float", DEFAULT):
            continue
        over = BEST if label.startswith(f"{BEST} + ") else DEFAULT
        gain = stats.paired(vals, acc[over]).scaled(100)
        vs_float = stats.paired(vals, ref).scaled(100)
        if gain.lo > 0:
            limits.append(label)
        if vs_float.lo > -MARGIN:
            fixed.append(label)
        parts.append(f"{label}: {gain.text(sign=True)} pt over "
                     + ("the default" if over == DEFAULT else "the best combination") + ", "
                     f"{vs_float.text(sign=True)} pt vs float"
                     + (" (within the margin)" if vs_float.lo > -MARGIN else ""))
    ok = gap.lo > -MARGIN
    head = ("Holds" if ok else "Does not hold at the defaults") + (
        f": default 2PCM+3T1C vs float {gap.text(sign=True)} pt, n = {gap.n}. ")
    cause = ("Limiting (removing it gains over the default, or the '+' rows over the best "
             "combination; interval above 0): " + ", ".join(limits) + ". "
             if limits else "No single ablation gains significantly. ")
    within = ("Within the margin of float: " + ", ".join(fixed) + ". " if fixed
              else "No configuration is within the margin of float. ")
    return head + cause + within + "Per configuration: " + "; ".join(parts) + "."


def run(out: Path, *, seeds: int = DEFAULT_SEEDS, scale: str = "default",
        grid: GridOptions | None = None) -> Report:
    t0 = time.perf_counter()
    check_scale(scale)
    ds_name, base = SCALES[scale]
    groups, res = train_groups(base, CONFIGS + EXTRA.get(scale, []), seeds, ds_name,
                               grid or GridOptions(), NAME)
    last = min(LAST, base["epochs"])
    acc = {label: [r.last_acc(last) for r in recs] for label, recs in groups}
    rows = interval_rows(list(acc.items()), metric=f"test acc, last {last} epochs [%]",
                         ref=0, margin=MARGIN, scale=100)
    for row, (_, recs) in zip(rows, groups, strict=True):  # a plateau or overfitting shows
        row[TRAIN] = f"{100 * sum(r.train_acc[-last:].mean() for r in recs) / len(recs):.1f}"
    a = TrainSpec(dataset=ds_name).ambrogio_spec
    notes = [seeds_note(seeds, res), mlp_note(ds_name, base),
             f"2PCM+3T1C defaults for MNIST-1D: w_scale {a.w_scale * 1e6:g} uS per weight "
             f"unit, transfer every {a.transfer_every} images, 9-bit output ADC over ±12, "
             "7-bit input DAC with noise management, 4-bit ramp-ADC sigmoid; the float "
             "reference has float activations and no periphery"]
    plot = accuracy_plot(groups, rows[1:], "paired difference to float [pt], 95 % CI",
                         MARGIN, TITLE, out / f"{NAME}.png")
    return Report(NAME, TITLE, CLAIM, RULE,
                  [*row_columns(f"test acc, last {last} epochs [%]", "float"), TRAIN], rows,
                  verdict(acc), notes, [plot], time.perf_counter() - t0, scale)
