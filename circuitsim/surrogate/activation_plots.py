"""Plots of the activation surrogate's validation against held-out SPICE conversions (PNG).

- ``activation_validation.png``: per configuration the share of held-out inputs whose
  surrogate code equals the SPICE code (bound 99 % at the nominal read voltage) and the largest
  code difference (bound 1 LSB).
- ``activation_validation_codes.png``: per configuration the held-out SPICE codes against the
  input, with the inputs where the surrogate differs marked.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from circuitsim.plots import save_figure
from circuitsim.surrogate.activation import ActivationValidation  # noqa: E402


def _labels(val: ActivationValidation) -> list[str]:
    return [f"{a} {b}b @{v:g} V" for a, b, v in
            zip(val.activation, val.bits, val.v_read, strict=True)]


def plot_summary(val: ActivationValidation, out_dir: Path) -> Path:
    labels = _labels(val)
    x = np.arange(len(labels))
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.45 * len(labels) + 2), 6.5), sharex=True)
    colors = ["C0" if n else "C7" for n in val.nominal]
    axes[0].bar(x, 100 * val.match, color=colors)
    axes[0].axhline(99, color="C3", lw=0.8, ls="--", label="bound 99 % (nominal V_read)")
    axes[0].set_ylim(min(95.0, 100 * float(val.match.min()) - 1), 100.5)
    axes[0].set_ylabel("surrogate code = SPICE code (%)")
    axes[0].legend(fontsize=7, loc="lower left")
    axes[1].bar(x, val.max_err, color=colors)
    axes[1].axhline(1, color="C3", lw=0.8, ls="--", label="bound 1 LSB")
    axes[1].set_ylabel("max |surrogate - SPICE| (LSB)")
    axes[1].set_ylim(0, max(1.5, float(val.max_err.max()) + 0.5))
    axes[1].set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    axes[1].legend(fontsize=7)
    fig.suptitle("Activation surrogate vs held-out SPICE conversions (grey: off-nominal)")
    return save_figure(fig, out_dir / "activation_validation.png", dpi=110)


def plot_codes(val: ActivationValidation, out_dir: Path) -> Path:
    labels = _labels(val)
    n = len(labels)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for j in range(rows * cols):
        ax = axes[j // cols, j % cols]
        if j >= n:
            ax.axis("off")
            continue
        sel = val.index == j
        x, spice, sur = val.x[sel], val.spice[sel], val.surrogate[sel]
        bad = spice != sur
        ax.plot(x, spice, ".", color="C0", ms=2.5, label="SPICE")
        ax.plot(x[bad], sur[bad], "x", color="C3", ms=6, label="surrogate differs")
        ax.set_title(f"{labels[j]}: {100 * val.match[j]:.1f} %", fontsize=8)
        ax.set_xlabel("input x")
        ax.set_ylabel("code")
        if bad.any():
            ax.legend(fontsize=6)
    fig.suptitle("Held-out SPICE codes; x: inputs where the surrogate's code differs")
    return save_figure(fig, out_dir / "activation_validation_codes.png", dpi=110)


def plot_validation(val: ActivationValidation, out_dir: Path) -> list[Path]:
    """Write the validation plots into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [plot_summary(val, out_dir), plot_codes(val, out_dir)]
