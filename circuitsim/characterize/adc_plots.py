"""Plots of the ramp-ADC characterization (:mod:`circuitsim.characterize.adc`), PNG via Agg.

- ``adc_curves_<B>b.png`` (one per resolution): the simulated activation (code value vs input,
  from the measured transitions, with the SPICE probe codes as dots) against the ideal
  function, and below it the error ``(value(code(x)) - f(x)) / LSB`` with INL at each transition.
- ``adc_inl_dnl.png``: INL and DNL per code, one row per resolution, a line per activation.
- ``adc_overdrive.png``: the comparator's effective overdrive ``δ_k`` against the ramp level
  (measured by the ladders, and interpolated).
- ``adc_ratiometric.png``: rms code change against the nominal read voltage, ramp reference vs
  fixed reference, one panel per resolution.
- ``adc_calibration.png``: per Monte-Carlo trial, RMSE and max |INL| before and after
  calibration, and the INL of the worst trial before and after.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from circuitsim.activations import get_activation  # noqa: E402
from circuitsim.characterize.adc import AdcDataset  # noqa: E402
from circuitsim.characterize.adc_metrics import codes_of, inl_dnl  # noqa: E402
from circuitsim.characterize.adc_transitions import (  # noqa: E402
    BACKGROUND,
    INTERPOLATED,
    MEASURED,
    PROBE,
)
from circuitsim.plots import save_figure  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    return save_figure(fig, path, dpi=110)


def _nominal_rows(ds: AdcDataset) -> list[int]:
    nominal = ds.spec().nominal
    return [i for i in range(len(ds.cfg_bits))
            if ds.cfg_reference[i] == "ramp" and math.isclose(ds.cfg_v_read[i], nominal)]


def _act(ds: AdcDataset, i: int):
    return get_activation(str(ds.cfg_activation[i])).with_range(ds.cfg_x_min[i],
                                                                 ds.cfg_x_max[i])


def plot_curves(ds: AdcDataset, out_dir: Path) -> list[Path]:
    paths = []
    rows = _nominal_rows(ds)
    for b in sorted({int(ds.cfg_bits[i]) for i in rows}):
        sel = [i for i in rows if ds.cfg_bits[i] == b]
        fig, axes = plt.subplots(2, len(sel), figsize=(4.2 * len(sel), 6.2), squeeze=False,
                                 gridspec_kw={"height_ratios": [2, 1]})
        n = 2**b - 1
        for col, i in enumerate(sel):
            act = _act(ds, i)
            lo, hi = act.bounds
            lsb = (hi - lo) / n
            t = ds.transitions[i, :n]
            x = np.linspace(act.x_min, act.x_max, 4001)
            value = lo + codes_of(t, x) * lsb
            ax = axes[0, col]
            ax.plot(x, act(x), color="0.6", lw=1.5, label="ideal f(x)")
            ax.plot(x, value, color="C0", lw=1.0, label="ADC (SPICE transitions)")
            pts = (ds.sim_cfg == i) & np.isin(ds.sim_kind, [PROBE, BACKGROUND])
            ax.plot(ds.sim_x[pts], lo + ds.sim_code[pts] * lsb, ".", color="C3", ms=3,
                    label="SPICE codes")
            ax.set_title(f"{ds.cfg_activation[i]}, {b} bits")
            ax.set_xlabel("input x (pre-activation)")
            ax.set_ylabel("activation value (output units)")
            ax.legend(fontsize=7, loc="upper left")
            ax = axes[1, col]
            ax.plot(x, (value - act(x)) / lsb, color="C0", lw=0.6, label="value - f(x)")
            ax.plot(t, ds.inl[i, :n], "o", color="C1", ms=2.5, label="INL at transitions")
            ax.axhline(0.5, color="0.7", lw=0.5, ls="--")
            ax.axhline(-0.5, color="0.7", lw=0.5, ls="--")
            ax.set_xlabel("input x (pre-activation)")
            ax.set_ylabel("error (LSB)")
            ax.legend(fontsize=7, loc="lower left")
        fig.suptitle(f"Ramp-ADC activations at {b} bits, nominal V_read "
                     f"{ds.spec().nominal:g} V (SPICE) vs ideal")
        paths.append(_save(fig, out_dir / f"adc_curves_{b}b.png"))
    return paths


def plot_inl_dnl(ds: AdcDataset, out_dir: Path) -> Path:
    rows = _nominal_rows(ds)
    bits = sorted({int(ds.cfg_bits[i]) for i in rows})
    fig, axes = plt.subplots(len(bits), 2, figsize=(10, 2.6 * len(bits)), squeeze=False)
    for r, b in enumerate(bits):
        n = 2**b - 1
        for i in (i for i in rows if ds.cfg_bits[i] == b):
            k = np.arange(1, n + 1)
            axes[r, 0].plot(k, ds.inl[i, :n], ".-", ms=2, lw=0.7,
                            label=str(ds.cfg_activation[i]))
            axes[r, 1].plot(k[:-1], ds.dnl[i, :n - 1], ".-", ms=2, lw=0.7,
                            label=str(ds.cfg_activation[i]))
        for c, name in enumerate(("INL", "DNL")):
            axes[r, c].set_title(f"{name}, {b} bits")
            axes[r, c].set_xlabel("code k")
            axes[r, c].set_ylabel(f"{name} (LSB)")
            axes[r, c].legend(fontsize=7)
    fig.suptitle("INL_k = u(T_k) - (k - 1/2), DNL_k = u(T_k+1) - u(T_k) - 1, "
                 "u(x) = (2^B - 1)(f(x) - lo)/(hi - lo)")
    return _save(fig, out_dir / "adc_inl_dnl.png")


def plot_overdrive(ds: AdcDataset, out_dir: Path) -> Path:
    rows = _nominal_rows(ds)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for j, i in enumerate(rows):
        n = 2 ** int(ds.cfg_bits[i]) - 1
        v, d, src = ds.v_ramp[i, :n], ds.delta[i, :n] * 1e6, ds.delta_source[i, :n]
        color = f"C{j % 10}"
        label = f"{ds.cfg_activation[i]} {ds.cfg_bits[i]}b"
        ax.plot(v, d, "-", color=color, lw=0.6)
        m = src == MEASURED
        ax.plot(v[m], d[m], "o", color=color, ms=3, label=label)
        if np.any(src == INTERPOLATED):
            ax.plot(v[src == INTERPOLATED], d[src == INTERPOLATED], ".", color=color, ms=1)
    ax.set_xlabel("ramp level V_r(k) at the sample (V)")
    ax.set_ylabel("comparator effective overdrive δ_k (µV)")
    ax.set_title("Overdrive needed to flip before the counter samples (dots: ladder-measured)")
    ax.legend(fontsize=6, ncol=2)
    return _save(fig, out_dir / "adc_overdrive.png")


def plot_ratiometric(ds: AdcDataset, out_dir: Path) -> Path:
    nominal = ds.spec().nominal
    bits = sorted(set(ds.cfg_bits.tolist()))
    fig, axes = plt.subplots(1, len(bits), figsize=(4 * len(bits), 3.8), squeeze=False)
    for c, b in enumerate(bits):
        ax = axes[0, c]
        for j, a in enumerate(sorted(set(ds.cfg_activation.tolist()))):
            for ref, style in (("ramp", "o-"), ("fixed", "s--")):
                sel = (ds.cfg_bits == b) & (ds.cfg_activation == a) & \
                    ((ds.cfg_reference == ref) | np.isclose(ds.cfg_v_read, nominal))
                v = ds.cfg_v_read[sel]
                o = np.argsort(v)
                y = np.maximum(ds.shift_rms[sel][o], 1e-3)
                ax.plot(v[o], y, style, color=f"C{j}", ms=3, lw=0.8, label=f"{a}, {ref}")
        ax.set_yscale("log")
        ax.set_xlabel("applied read voltage V_read (V)")
        ax.set_ylabel("rms code change vs nominal (LSB, floor 1e-3)")
        ax.set_title(f"{b} bits")
        ax.legend(fontsize=6)
    fig.suptitle("Ratiometric ramp ADC vs fixed-reference ADC under read-voltage drift")
    return _save(fig, out_dir / "adc_ratiometric.png")


def plot_calibration(ds: AdcDataset, out_dir: Path) -> Path | None:
    if ds.mc_trial.size == 0:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for j, a in enumerate(sorted(set(ds.mc_activation.tolist()))):
        sel = ds.mc_activation == a
        stuck = np.any(ds.mc_g_ramp[sel] == 0, axis=1)
        for ax, before, after in ((axes[0], ds.mc_rmse_before, ds.mc_rmse_after),
                                  (axes[1], ds.mc_inl_before, ds.mc_inl_after)):
            ax.plot(before[sel][~stuck], after[sel][~stuck], "o", color=f"C{j}", ms=4,
                    label=f"{a}")
            ax.plot(before[sel][stuck], after[sel][stuck], "x", color=f"C{j}", ms=6,
                    label=f"{a}, stuck-OFF ramp device")
    for ax, what in ((axes[0], "RMSE vs f (LSB)"), (axes[1], "max |INL| (LSB)")):
        lim = max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([0, lim], [0, lim], color="0.7", lw=0.6)
        ax.set_xlabel(f"before calibration: {what}")
        ax.set_ylabel(f"after calibration: {what}")
        ax.legend(fontsize=6)
    worst = int(np.argmax(ds.mc_inl_before))
    n = 2**ds.mc_bits - 1
    i = next(i for i in _nominal_rows(ds) if ds.cfg_activation[i] == ds.mc_activation[worst]
             and ds.cfg_bits[i] == ds.mc_bits)
    act = _act(ds, i)
    k = np.arange(1, n + 1)
    for when, t in (("before", ds.mc_transitions_before), ("after", ds.mc_transitions_after)):
        axes[2].plot(k, inl_dnl(act, int(ds.mc_bits), t[worst, :n])[0], ".-", ms=3, lw=0.8,
                     label=when)
    axes[2].plot(k, ds.inl[i, :n], color="0.6", lw=0.8, label="unperturbed ramp")
    axes[2].set_xlabel("code k")
    axes[2].set_ylabel("INL (LSB)")
    axes[2].set_title(f"worst trial: {ds.mc_activation[worst]} #{ds.mc_trial[worst]}")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Ramp programming error (Monte-Carlo, {ds.mc_bits} bits) and calibration")
    return _save(fig, out_dir / "adc_calibration.png")


def plot_dataset(ds: AdcDataset, out_dir: Path) -> list[Path]:
    """Write every plot of the characterization into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [*plot_curves(ds, out_dir), plot_inl_dnl(ds, out_dir), plot_overdrive(ds, out_dir),
             plot_ratiometric(ds, out_dir)]
    cal = plot_calibration(ds, out_dir)
    return paths + ([cal] if cal is not None else [])
