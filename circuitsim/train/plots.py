"""PNG plots of a training run: curves, weight/conductance histograms, transfers, spot-checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from circuitsim.plots import save_figure
from circuitsim.train.loop import TrainResult


def curves(results: dict[str, TrainResult], path: Path, title: str = "") -> Path:
    """Test accuracy and train/test loss vs epoch of one or more labelled runs."""
    fig = Figure(figsize=(10, 3.8))
    acc, loss = fig.subplots(1, 2)
    for label, r in results.items():
        ep = [h["epoch"] for h in r.history]
        line = acc.plot(ep, [100 * h["test_acc"] for h in r.history], label=f"{label} test")[0]
        acc.plot(ep, [100 * h["train_acc"] for h in r.history], ls=":", color=line.get_color(),
                 label=f"{label} train")
        loss.plot(ep, [h["test_loss"] for h in r.history], color=line.get_color(),
                  label=f"{label} test")
        loss.plot(ep, [h["train_loss"] for h in r.history], ls=":", color=line.get_color())
    acc.set(xlabel="epoch", ylabel="accuracy [%]", title="accuracy (dotted: train)")
    loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss (dotted: train)",
             yscale="log")
    acc.legend(fontsize=7)
    acc.grid(alpha=0.3)
    loss.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def seed_curves(curves: dict[int, np.ndarray], path: Path, title: str) -> Path:
    """Test accuracy vs epoch of every seed, with the mean."""
    fig = Figure(figsize=(6, 3.8))
    ax = fig.subplots()
    for seed, acc in curves.items():
        ax.plot(np.arange(1, len(acc) + 1), 100 * acc, lw=0.8, alpha=0.6, label=f"seed {seed}")
    mean = np.mean(list(curves.values()), axis=0)
    ax.plot(np.arange(1, len(mean) + 1), 100 * mean, "k", lw=2, label="mean")
    ax.set(xlabel="epoch", ylabel="test accuracy [%]", title=title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def histograms(result: TrainResult, path: Path) -> Path:
    """Final weights of every layer and the physical arrays' conductances / states."""
    layers = result.model.layers
    panels = [(f"layer {k} W", layer.weights().ravel(), "weight") for k, layer in
              enumerate(layers)]
    for k, layer in enumerate(layers):
        for name, arr in layer.conductances().items():
            unit = "V" if name.startswith("V_C") else "uS"
            scale = 1.0 if unit == "V" else 1e6
            panels.append((f"layer {k} {name}", np.asarray(arr, float).ravel() * scale, unit))
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(3.2 * cols, 2.6 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, (name, values, unit) in zip(axes, panels, strict=False):
        ax.hist(values, bins=60)
        ax.set(title=name, xlabel=unit)
        ax.title.set_fontsize(8)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    fig.suptitle(f"final weights and device states ({result.spec.rule})")
    return save_figure(fig, path)


def transfers(result: TrainResult, path: Path) -> Path | None:
    """2PCM+3T1C transfer events: PCM programming error and the weight error after g."""
    ev = [e for e in result.events if "pcm_error_rms_uS" in e]
    if not ev:
        return None
    fig = Figure(figsize=(9, 3.6))
    ax = fig.subplots()
    for layer in sorted({e["layer"] for e in ev}):
        sel = [e for e in ev if e["layer"] == layer]
        img = [e["image"] for e in sel]
        line = ax.plot(img, [e["pcm_error_rms_uS"] for e in sel], ".-", lw=0.8,
                       label=f"layer {layer}: PCM programming error")[0]
        ax.plot(img, [e["weight_error_rms_uS"] for e in sel], "x", color=line.get_color(), ms=4,
                label=f"layer {layer}: weight error after the g correction")
    ax.set(xlabel="training images", ylabel="RMS weight error [uS]",
           title=f"transfers to the PCM pair ({len(ev)} events; polarity flips at each)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def spot_checks(result: TrainResult, path: Path) -> Path | None:
    """Surrogate-vs-SPICE error of the spot-checks against the training step."""
    if not result.spot_checks:
        return None
    fig = Figure(figsize=(9, 3.4))
    ax = fig.subplots()
    for kind, key, label in (("mac", "rms_pct_fs", "MAC surrogate RMS [% FS]"),
                             ("mac", "ideal_rms_pct_fs", "ideal G^T V RMS [% FS]"),
                             ("update", "dg_rms_pct_mean_step", "3T1C dg RMS [% of step]")):
        pts = [(c["step"], c["metrics"][key]) for c in result.spot_checks if c["kind"] == kind]
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-", label=label)
    ax.set(xlabel="training step", ylabel="error vs SPICE", yscale="log",
           title="SPICE spot-checks of the current network state")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def ledger(result: TrainResult, path: Path) -> Path | None:
    """Energy per training image of every ledger item (phase: item), log scale, coloured by
    kind (simulated, derived, estimate)."""
    led = result.ledger
    if not led:
        return None
    img = max(led["images"], 1)
    phases = led["per_training_image"]["by_phase_J"]
    totals: dict[tuple[str, str], float] = {}
    for it in led["items"]:
        if it["phase"] in phases and it["energy_J"] > 0:
            key = (f"{it['phase']}: {it['item']}", it["kind"])
            totals[key] = totals.get(key, 0.0) + it["energy_J"] / img
    rows = sorted(totals.items(), key=lambda kv: kv[1])
    fig = Figure(figsize=(9, 1.2 + 0.22 * len(rows)))
    ax = fig.subplots()
    colour = {"simulated": "tab:blue", "derived": "tab:green", "estimate": "tab:orange"}
    ax.barh([k[0] for k, _ in rows], [v * 1e15 for _, v in rows],
            color=[colour[k[1]] for k, _ in rows])
    p = led["per_training_image"]
    ax.set(xscale="log", xlabel="energy per training image [fJ]",
           title=f"{result.spec.dataset} {result.spec.rule}: {p['energy_J'] * 1e9:.3g} nJ per "
                 f"image, {p['tops_per_watt']:.3g} TOPS/W")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(handles=[Patch(color=c, label=k) for k, c in colour.items()], fontsize=7,
              loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return save_figure(fig, path)
