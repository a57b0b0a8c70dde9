"""PNG plots of the update surrogate's held-out validation (matplotlib ``Figure``, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from circuitsim.plots import save_figure
from circuitsim.surrogate.update_validate import UpdateValidation

#: Most cells drawn in the trajectory plots.
MAX_CELLS = 4


def _label(val: UpdateValidation, c: int) -> str:
    if c == 0:
        return "nominal cell"
    d = 1e3 * val.cell_dvt[c]
    return f"MC cell {c}: dvt read/up/down {d[0]:+.0f}/{d[1]:+.0f}/{d[2]:+.0f} mV"


def plot_validation(val: UpdateValidation, out_dir: Path) -> list[Path]:
    """Open-loop g trajectories (SPICE vs surrogate), per-pulse dg comparison and the
    held-out leakage trajectories."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    n_c, n_p = val.kinds.shape
    shown = min(n_c, MAX_CELLS)

    fig = Figure(figsize=(11, 2.6 * shown))
    axes = fig.subplots(shown, 1, squeeze=False)[:, 0]
    k = np.arange(n_p + 1)
    for c, ax in enumerate(axes):
        ax.plot(k, val.g_spice[c] * 1e6, "k-", lw=1.2, label="SPICE")
        ax.plot(k, val.g_open[c] * 1e6, "r--", lw=1, label="surrogate (open loop)")
        ax2 = ax.twinx()
        ax2.plot(k, (val.g_open[c] - val.g_spice[c]) * 1e6, color="tab:blue", lw=0.6)
        ax2.set_ylabel("error [uS]", color="tab:blue")
        ax.set(ylabel="g [uS]", title=_label(val, c))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("pulse number (mixed up/down sequence)")
    paths.append(save_figure(fig, out_dir / "update_validation_trajectory.png"))

    fig = Figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2)
    up = val.kinds > 0
    for sel, color, name in ((up, "tab:red", "up"), (~up, "tab:blue", "down")):
        axes[0].plot(val.dg_spice[sel] * 1e6, val.dg_sur[sel] * 1e6, ".", ms=2, color=color,
                     label=name)
        axes[1].plot(val.g_spice[:, :-1][sel] * 1e6, (val.dg_sur - val.dg_spice)[sel] * 1e6,
                     ".", ms=2, color=color, label=name)
    lim = np.abs(val.dg_spice).max() * 1e6 * 1.05
    axes[0].plot([-lim, lim], [-lim, lim], "k-", lw=0.6)
    axes[0].set(xlabel="SPICE dg per pulse [uS]", ylabel="surrogate dg [uS]",
                title="per-pulse dg (surrogate at the SPICE V_C)")
    axes[1].set(xlabel="g before the pulse [uS]", ylabel="surrogate - SPICE dg [uS]",
                title=f"per-pulse dg error ({n_c} held-out cells x {n_p} pulses)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    paths.append(save_figure(fig, out_dir / "update_validation_dg.png"))

    fig = Figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2)
    t = val.leak_t[1:] * 1e3
    for c in range(n_c):
        for j in range(val.leak_spice.shape[1]):
            axes[0].semilogx(t, val.leak_spice[c, j, 1:], "k-", lw=1,
                             label="SPICE" if c == j == 0 else None)
            axes[0].semilogx(t, val.leak_sur[c, j, 1:], "r--", lw=1,
                             label="surrogate" if c == j == 0 else None)
            axes[1].semilogx(t, 1e3 * (val.leak_sur[c, j, 1:] - val.leak_spice[c, j, 1:]),
                             lw=0.8)
    axes[0].set(xlabel="hold time [ms]", ylabel="V_C [V]",
                title=f"held-out holds ({n_c} cells)")
    axes[1].set(xlabel="hold time [ms]", ylabel="surrogate - SPICE V_C [mV]",
                title="leakage trajectory error")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    paths.append(save_figure(fig, out_dir / "update_validation_leakage.png"))
    return paths
