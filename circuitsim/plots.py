"""PNG plots of simulation results (matplotlib, no GUI: figures are rendered with Agg)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from circuitsim.io import write_atomic
from circuitsim.spice.result import TranResult

MAX_TRACES = 12


def _time_axis(t: np.ndarray) -> tuple[np.ndarray, str]:
    span = float(t[-1]) if len(t) else 0.0
    for scale, unit in ((1e-9, "ns"), (1e-6, "us"), (1e-3, "ms")):
        if span < 1000 * scale:
            return t / scale, unit
    return t, "s"


def plot_waveforms(result: TranResult, path: Path | str, title: str = "") -> Path:
    """Saved voltages (top, V) and currents (bottom, A) against time; at most 12 of each."""
    volts = sorted(k for k in result.signals if k.startswith("v("))
    amps = sorted(k for k in result.signals if k.startswith("i("))
    panels = [(names, unit) for names, unit in ((volts, "V"), (amps, "A")) if names]
    fig = Figure(figsize=(9, 3.2 * max(len(panels), 1)))
    axes = fig.subplots(max(len(panels), 1), 1, squeeze=False)[:, 0]
    t, t_unit = _time_axis(result.time)
    for ax, (names, unit) in zip(axes, panels, strict=False):
        for n in names[:MAX_TRACES]:
            ax.plot(t, result.signals[n], label=n, lw=1)
        more = f" (first {MAX_TRACES} of {len(names)})" if len(names) > MAX_TRACES else ""
        ax.set(ylabel=f"[{unit}]", xlabel=f"time [{t_unit}]",
               title=("voltages" if unit == "V" else "currents") + more)
        ax.legend(fontsize=7, ncol=3, loc="best")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def save_figure(fig: Figure, path: Path | str, dpi: int = 120) -> Path:
    """Lay ``fig`` out, write it as a PNG (atomically, :func:`circuitsim.io.write_atomic`) and
    release it (pyplot-made figures included)."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    write_atomic(path, buf.getvalue(), "plot")
    if fig.canvas.manager is not None:  # made by pyplot: drop it from pyplot's registry
        import matplotlib.pyplot as plt

        plt.close(fig)
    return Path(path)
