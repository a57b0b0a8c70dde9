"""Plots of a MAC characterization: SPICE against the ideal G^T V (PNG, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from circuitsim.characterize.mac import DIRECTIONS, MacDataset  # noqa: E402
from circuitsim.plots import save_figure


def _sizes(ds: MacDataset) -> list[tuple[int, int]]:
    seen: dict[tuple[int, int], None] = {}
    for n, m in zip(ds.deck_rows, ds.deck_cols, strict=True):
        seen[(int(n), int(m))] = None
    return list(seen)


def _group(ds: MacDataset, size: tuple[int, int], direction: str,
           kind: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ideal, SPICE, sensed-line position in [0, 1]) of a group, each ``(reads, lines)``."""
    ideal, spice = [], []
    for k in np.flatnonzero((ds.deck_rows == size[0]) & (ds.deck_cols == size[1])
                            & (ds.deck_direction == direction)):
        _, i_s, i_id = ds.deck_reads(int(k))
        if kind is not None:
            sel = ds.read_kind[ds.read_deck == k] == kind
            i_s, i_id = i_s[sel], i_id[sel]
        ideal.append(i_id)
        spice.append(i_s)
    i_id, i_s = np.vstack(ideal), np.vstack(spice)
    pos = np.broadcast_to(np.linspace(0.0, 1.0, i_id.shape[1]), i_id.shape)
    return i_id, i_s, pos


def plot_dataset(ds: MacDataset, out_dir: Path) -> list[Path]:
    """``mac_error_vs_ideal.png`` (SPICE - ideal against ideal, both in % of the group's full
    scale) and ``mac_error_vs_position.png`` (all-ones reads: error against the sensed line's
    position, 0 = first line, 1 = last), forward and backward."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = _sizes(ds)
    paths = []

    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for ax, direction in zip(axes, DIRECTIONS, strict=True):
        for size in sizes:
            ideal, spice, _ = _group(ds, size, direction)
            fs = float(np.max(np.abs(ideal))) or 1.0
            ax.scatter(100 * ideal.ravel() / fs, 100 * (spice - ideal).ravel() / fs, s=3,
                       alpha=0.5, label=f"{size[0]}x{size[1]} (FS {fs * 1e6:.3g} uA)")
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set(xlabel="ideal G^T V [% FS]", ylabel="SPICE - ideal [% FS]",
               title=f"{direction} reads: SPICE vs ideal")
        ax.legend(fontsize=7, markerscale=3)
    fig.suptitle("MAC characterization: error of the ideal model (FS = max |ideal| per tile "
                 "size and direction)", fontsize=10)
    paths.append(save_figure(fig, out_dir / "mac_error_vs_ideal.png", dpi=110))

    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for ax, direction in zip(axes, DIRECTIONS, strict=True):
        for size in sizes:
            ideal, spice, pos = _group(ds, size, direction, kind="ones")
            if ideal.size == 0:
                continue
            rel = 100 * (spice - ideal) / np.where(ideal == 0, 1.0, ideal)
            order = np.argsort(pos[0])
            ax.plot(pos[0][order], rel.mean(axis=0)[order], lw=1.2,
                    label=f"{size[0]}x{size[1]} mean over matrices")
            ax.fill_between(pos[0][order], rel.min(axis=0)[order], rel.max(axis=0)[order],
                            alpha=0.15)
        sensed = "column" if direction == "forward" else "row"
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set(xlabel=f"sensed {sensed} position (0 = first, 1 = last)",
               ylabel="(SPICE - ideal) / ideal [%]",
               title=f"{direction}, all inputs x = +1 (band: min..max over matrices)")
        ax.legend(fontsize=7)
    fig.suptitle("MAC characterization: IR drop and read non-linearity along the array",
                 fontsize=10)
    paths.append(save_figure(fig, out_dir / "mac_error_vs_position.png", dpi=110))
    return paths
