"""PNG plots of the 3T1C update characterization (matplotlib ``Figure``, Agg, no GUI)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from circuitsim.characterize.update import UpdateDataset, leak_curve, nominal_row
from circuitsim.plots import save_figure


def _curves(trial: np.ndarray, x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each trial's y(x) interpolated on ``grid``, shape (T, G), NaN outside its x range."""
    out = np.full((int(trial.max()) + 1, grid.size), np.nan)
    for t in range(out.shape[0]):
        m = trial == t
        if m.sum() < 2:
            continue
        order = np.argsort(x[m])
        xs, ys = x[m][order], y[m][order]
        inside = (grid >= xs[0]) & (grid <= xs[-1])
        out[t, inside] = np.interp(grid[inside], xs, ys)
    return out


def _spread(ax, trial: np.ndarray, x: np.ndarray, y: np.ndarray, grid: np.ndarray,
            color: str, label: str, scale_x: float, scale_y: float) -> None:
    """Percentile bands over the trials of their curves y(x)."""
    c = _curves(trial, x, y, grid)
    ok = np.sum(np.isfinite(c), axis=0) >= max(3, c.shape[0] // 4)
    if not ok.any():
        return
    p = np.nanpercentile(c[:, ok], [5, 25, 50, 75, 95], axis=0)
    gx = grid[ok] * scale_x
    ax.fill_between(gx, p[0] * scale_y, p[4] * scale_y, color=color, alpha=0.18, lw=0,
                    label=f"{label} MC 5-95 %")
    ax.fill_between(gx, p[1] * scale_y, p[3] * scale_y, color=color, alpha=0.35, lw=0,
                    label=f"{label} MC 25-75 %")
    ax.plot(gx, p[2] * scale_y, color=color, lw=1, ls="--", label=f"{label} MC median")


def _nominal(ds: UpdateDataset) -> dict[str, np.ndarray]:
    r = nominal_row(ds)
    out = {}
    for key, rows, v0, v1 in (("up", ds.fu_row, ds.fu_v0, ds.fu_v1),
                              ("down", ds.fd_row, ds.fd_v0, ds.fd_v1)):
        m = rows == r
        order = np.argsort(v0[m])
        a, b = v0[m][order], v1[m][order]
        out[f"{key}_v"], out[f"{key}_dv"] = a, b - a
        g0, g1 = (np.interp(x, ds.nom_v, ds.nom_g) for x in (a, b))
        out[f"{key}_g"], out[f"{key}_dg"] = g0, g1 - g0
    return out


def plot_dataset(ds: UpdateDataset, out_dir: Path) -> list[Path]:
    """dg vs g and dV_C vs V_C (up and down, Monte-Carlo percentile bands and the nominal
    cell), the asymmetry histogram, g(V_C) and the leakage rate vs V_C."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = ds.spec()
    nom = _nominal(ds)
    n_t = ds.mc_dvt.shape[0]
    paths = []

    g_top = float(max(ds.mu_g1.max(), ds.nom_g.max()))
    panels = {"up": (ds.mu_trial, "tab:red"), "down": (ds.md_trial, "tab:blue")}
    for name, quantity, grid, scale, xlabel, ylabel, arrays in (
            ("update_dg_vs_g.png", "dg vs g", np.linspace(0.0, g_top, 200), (1e6, 1e6),
             "g before the pulse [uS]", "dg per pulse [uS]",
             {"up": (ds.mu_g0, ds.mu_g1), "down": (ds.md_g0, ds.md_g1)}),
            ("update_dv_vs_vc.png", "dV_C vs V_C", np.linspace(spec.v_lo, spec.v_hi, 200),
             (1.0, 1e3), "V_C before the pulse [V]", "dV_C per pulse [mV]",
             {"up": (ds.mu_v0, ds.mu_v1), "down": (ds.md_v0, ds.md_v1)})):
        fig = Figure(figsize=(11, 4.5))
        for ax, key in zip(fig.subplots(1, 2), ("up", "down"), strict=True):
            trial, color = panels[key]
            before, after = arrays[key]
            _spread(ax, trial, before, after - before, grid, color, key, *scale)
            nx, ny = (f"{key}_g", f"{key}_dg") if quantity == "dg vs g" else (f"{key}_v",
                                                                              f"{key}_dv")
            ax.plot(nom[nx] * scale[0], nom[ny] * scale[1], "k.-", ms=3, lw=1,
                    label="nominal cell")
            ax.set(xlabel=xlabel, ylabel=ylabel,
                   title=f"{key} pulses: {quantity} ({n_t} MC trials)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        paths.append(save_figure(fig, out_dir / name))

    # asymmetry histogram
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    bins = np.linspace(-1, 1, 41)
    ax.hist(ds.mc_asym, bins=bins, alpha=0.6, color="tab:purple",
            label=f"at V_C = {spec.v_asym:g} V (mean {np.mean(ds.mc_asym):.3f}, "
                  f"std {np.std(ds.mc_asym):.3f})")
    ax.hist(ds.mc_asym_range, bins=bins, histtype="step", color="k",
            label=f"mean over {spec.asym_range[0]:g}-{spec.asym_range[1]:g} V "
                  f"(std {np.std(ds.mc_asym_range):.3f})")
    ax.set(xlabel="up/down asymmetry (|dV_up| - |dV_down|) / (|dV_up| + |dV_down|)",
           ylabel="cells", title=f"cell-to-cell up/down asymmetry ({n_t} MC trials, sigma_VT "
                                 f"{1e3 * spec.sigma_up:g}/{1e3 * spec.sigma_down:g} mV)")
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out_dir / "update_asymmetry_hist.png"))

    # g(V_C) and leakage rate vs V_C
    fig = Figure(figsize=(11, 4.5))
    axes = fig.subplots(1, 2)
    ax = axes[0]
    ax.semilogy(ds.nom_v, ds.nom_g * 1e6, "k-", lw=1)
    ax.set(xlabel="V_C [V]", ylabel="g [uS]", title="nominal read conductance g(V_C)")
    ax.set_ylim(1e-4, None)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1]
    cmap = matplotlib.colormaps["coolwarm"]
    f = ds.family_dvt
    for r in range(0, f.size, max(1, f.size // 6)):
        v, rate = leak_curve(ds, r)
        ax.plot(v, rate, lw=0.8, color=cmap(r / max(f.size - 1, 1)),
                label=f"dvt_down {1e3 * f[r]:+.0f} mV")
    v, rate = leak_curve(ds)
    ax.plot(v, rate, "k.-", ms=4, lw=1, label="nominal, hold-start rate")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(xlabel="V_C [V]", ylabel="dV_C/dt [V/s] (= mV/ms)",
           title="hold leakage rate vs V_C (all gates off)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    paths.append(save_figure(fig, out_dir / "update_g_and_leakage.png"))

    # Monte-Carlo hold trajectories
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    t = ds.mc_hold_t[1:] * 1e3
    for i in range(min(n_t, 50)):
        for b, color in ((0, "tab:red"), (1, "tab:blue")):
            ax.semilogx(t, ds.mc_hold_v[i, b, 1:], color=color, lw=0.6, alpha=0.5)
    ax.set(xlabel="time since the hold start [ms]", ylabel="V_C [V]",
           title=f"MC hold trajectories (first {min(n_t, 50)} trials; from the top: red, "
                 "from the bottom: blue)")
    ax.grid(alpha=0.3, which="both")
    paths.append(save_figure(fig, out_dir / "update_mc_holds.png"))
    return paths
