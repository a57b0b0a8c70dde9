"""Plots of a MAC surrogate validation against held-out SPICE (PNG, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from circuitsim.plots import save_figure
from circuitsim.surrogate.mac_validate import MacValidation  # noqa: E402


def _pct(val: MacValidation, values: np.ndarray) -> np.ndarray:
    return 100 * values / val.full_scale[val.group]


def plot_validation(val: MacValidation, out_dir: Path) -> list[Path]:
    """``mac_validation_scatter.png`` (SPICE - ideal and surrogate - SPICE against the ideal
    output), ``mac_validation_position.png`` (the same errors against the sensed line's
    position) and ``mac_validation_rms.png`` (RMS error per group: ideal, first-order physics,
    surrogate). Errors in % of each group's full scale FS = max |ideal|."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    ideal = _pct(val, val.ideal)
    err_ideal = _pct(val, val.spice - val.ideal)
    err_sur = _pct(val, val.surrogate - val.spice)

    for name, x, xlabel in (("scatter", ideal, "ideal G^T V [% FS]"),
                            ("position", val.position,
                             "sensed line position (0 = first, 1 = last)")):
        fig = Figure(figsize=(11, 4.4))
        axes = fig.subplots(1, 2, squeeze=False)[0]
        for k, label in enumerate(val.groups):
            sel = val.group == k
            axes[0].scatter(x[sel], err_ideal[sel], s=3, alpha=0.5, label=str(label))
            axes[1].scatter(x[sel], err_sur[sel], s=3, alpha=0.5, label=str(label))
        axes[0].set(xlabel=xlabel, ylabel="SPICE - ideal [% FS]",
                    title="ideal model vs held-out SPICE")
        axes[1].set(xlabel=xlabel, ylabel="surrogate - SPICE [% FS]",
                    title=f"surrogate ({val.form}) vs held-out SPICE")
        for ax in axes:
            ax.axhline(0.0, color="k", lw=0.6)
        axes[1].legend(fontsize=6, markerscale=3, ncol=2)
        fig.suptitle("MAC surrogate validation (FS = max |ideal| per group)", fontsize=10)
        paths.append(save_figure(fig, out_dir / f"mac_validation_{name}.png", dpi=110))

    fig = Figure(figsize=(11, 4.4))
    ax = fig.subplots()
    width = 0.27
    xs = np.arange(len(val.groups))
    for i, (label, pred) in enumerate((("ideal G^T V", val.ideal),
                                       ("first-order physics", val.first_order),
                                       (f"surrogate ({val.form})", val.surrogate))):
        e = _pct(val, pred - val.spice)
        rms = np.array([np.sqrt(np.mean(e[val.group == k] ** 2))
                        for k in range(len(val.groups))])
        ax.bar(xs + (i - 1) * width, rms, width, label=label)
    ax.axhline(1.0, color="r", lw=0.8, ls="--", label="bound 1 % FS")
    ax.set_yscale("log")
    ax.set_xticks(xs, [str(g) for g in val.groups], rotation=30, ha="right", fontsize=7)
    ax.set(ylabel="RMS error vs SPICE [% FS]", title="MAC models against held-out SPICE")
    ax.legend(fontsize=7)
    paths.append(save_figure(fig, out_dir / "mac_validation_rms.png", dpi=110))
    return paths
