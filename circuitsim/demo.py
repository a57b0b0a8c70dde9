"""``make demo``: the whole pipeline, netlists -> SPICE -> surrogates -> training -> report.

Each circuit step generates decks with the library's generators, runs them in ngspice (batch
mode), prints what the simulation measured next to an independent expectation, and saves a PNG.
Then the three surrogates are characterized (QUICK presets, cached after the first run) and
validated against held-out SPICE runs, and the digits MLP is trained with 2PCM+3T1C synapses
next to its float baseline, with SPICE spot-checks along the way. ``report.md`` (Markdown with
the PNGs) collects it all. ``--technology sky130 [--corner C]`` puts the 3T1C cells (update
deck, update surrogate, training) and the ramp-ADC comparators (conversion decks, activation
surrogate, training) in SkyWater SKY130.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from tqdm import tqdm

from circuitsim.activations import get_activation
from circuitsim.errors import SpecError
from circuitsim.io import write_atomic
from circuitsim.netlist import adc, cell3t1c, golden, sky130, tb_conversion, tb_update
from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.netlist.ramp import RampSpec
from circuitsim.netlist.tb_mac import MacTestbenchSpec, ideal_currents
from circuitsim.netlist.tb_mac import deck as mac_deck
from circuitsim.phases.technology import options_for
from circuitsim.spec import build
from circuitsim.spice.ngspice import ngspice_version
from circuitsim.spice.runner import simulate


def _mac_step(out: Path, amb: dict[str, Any]) -> list[str]:
    lines = []
    fig = Figure(figsize=(10, 4.2))
    axes = fig.subplots(1, 2)
    for ax, direction in zip(axes, ("forward", "backward"), strict=True):
        spec = MacTestbenchSpec(crossbar=CrossbarSpec(rows=32, cols=32, r_row=2.5, r_col=2.5,
                                                      c_row=1e-16, c_col=1e-16),
                                direction=direction)
        text = mac_deck(spec)
        write_atomic(out / f"mac_32x32_{direction}.cir", text)
        res = simulate(text)
        got = np.array([res.meas[f"i{k}"] for k in range(32)])
        ideal = ideal_currents(spec)[0]
        err = np.abs(got - ideal).max() / np.abs(ideal).max()
        lines.append(f"MAC 32x32 {direction}, 2.5 Ohm/segment wires: max |I - G^T V| = "
                     f"{100 * err:.2f} % of full scale (IR drop), ngspice {res.wall_time:.2f} s")
        ax.plot(ideal * 1e6, got * 1e6, "o", ms=4, label="ngspice")
        lim = np.abs(ideal).max() * 1.1e6
        ax.plot([-lim, lim], [-lim, lim], "k--", lw=1, label="ideal (no wires)")
        ax.set(xlabel="ideal current [uA]", ylabel="simulated current [uA]",
               title=f"32x32 MAC, {direction} read")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "mac.png", dpi=120)
    for n in (64,):  # 128x128 takes ~11 s; its timing is in make bench
        spec = MacTestbenchSpec(crossbar=CrossbarSpec(rows=n, cols=n, r_row=2.5, r_col=2.5,
                                                      c_row=1e-16, c_col=1e-16))
        res = simulate(mac_deck(spec))
        lines.append(f"MAC {n}x{n} with wire R and C: ngspice wall time {res.wall_time:.2f} s "
                     f"({len(res.time)} time points)")
    return lines


def _update_step(out: Path, amb: dict[str, Any]) -> list[str]:
    cell = ({**cell3t1c.SKY130, "technology": {"name": "sky130", "corner": amb["corner"]}}
            if amb else {})
    spec = build(tb_update.UpdateTestbenchSpec,
                 {"cell": cell, "pulses": "U" * 10 + "D" * 6, "t_hold": 1e-3})
    text = tb_update.deck(spec)
    write_atomic(out / "update_3t1c.cir", text)
    res = simulate(text, options_for(spec.cell.technology, None))
    n = len(spec.pulses)
    vc = np.array([res.meas[f"vc_{k}"] for k in range(n + 1)])
    g = np.array([res.meas[f"g_{k}"] for k in range(n + 1)])
    steps = np.diff(vc)
    kinds = np.array(list(spec.pulses))
    up, down = steps[kinds == "U"], steps[kinds == "D"]
    lines = [
        f"3T1C: up step {1e3 * up.mean():.1f} mV (range {1e3 * up.min():.1f}.."
        f"{1e3 * up.max():.1f}), down step {1e3 * down.mean():.1f} mV; "
        f"g {1e6 * g.min():.1f}..{1e6 * g.max():.1f} uS",
        f"3T1C hold {spec.t_hold * 1e3:g} ms: V_C {vc[-1]:.4f} -> {res.meas['vc_hold']:.4f} V "
        f"(leakage of the BSIM4 devices; {_technology(amb)})",
    ]
    fig = Figure(figsize=(10, 4.2))
    a1, a2 = fig.subplots(1, 2)
    k = np.arange(n + 1)
    a1.step(k, vc, where="post", color="C0")
    a1.set(xlabel="pulse index", ylabel="V_C [V]", title=f"3T1C update: {spec.pulses}")
    a1b = a1.twinx()
    a1b.plot(k, g * 1e6, "s", color="C1", ms=4)
    a1b.set_ylabel("g [uS]", color="C1")
    hold = res.time >= n * spec.t_period
    a2.plot((res.time[hold] - n * spec.t_period) * 1e3, res["v(vc)"][hold])
    a2.set(xlabel="hold time [ms]", ylabel="V_C [V]", title="hold: leakage drift")
    fig.tight_layout()
    fig.savefig(out / "update.png", dpi=120)
    return lines


def _conversion_step(out: Path, amb: dict[str, Any]) -> list[str]:
    lines = []
    comparator = build(adc.ComparatorSpec, adc.preset("continuous", _comparator_tech(amb)))
    fig = Figure(figsize=(10, 4.2))
    axes = fig.subplots(1, 2)
    for ax, fname in zip(axes, ("sigmoid", "tanh"), strict=True):
        act = get_activation(fname)
        # 40 inputs across the range, offset from any regular grid, sharing one ramp column
        x = np.linspace(act.x_min, act.x_max, 41)[:-1] + 0.37 * (act.x_max - act.x_min) / 40
        spec = tb_conversion.ConversionTestbenchSpec(ramp=RampSpec(activation=fname, bits=5),
                                                     comparator=comparator,
                                                     x=tuple(float(v) for v in x))
        text = tb_conversion.deck(spec)
        write_atomic(out / f"conversion_{fname}_5bit.cir", text)
        res = simulate(text, options_for(comparator.technology, None))
        ts = adc.sample_times(spec)
        codes = np.array([adc.code_from_waveform(res.time, res[f"v(out{i})"], ts,
                                                 spec.comparator.threshold)
                          for i in range(len(x))])
        ideal = act.code(x, 5)
        lines.append(f"ramp ADC {fname} 5 bit, {len(x)} inputs on one ramp: "
                     f"{100 * np.mean(codes == ideal):.0f} % codes equal round(31 f(x)), "
                     f"max error {np.abs(codes - ideal).max()} LSB, ngspice {res.wall_time:.1f} s")
        fine = np.linspace(act.x_min, act.x_max, 2000)
        ax.plot(fine, act.code(fine, 5), "k-", lw=1, label="ideal code")
        ax.plot(x, codes, "o", ms=4, label="ngspice (comparator waveform)")
        ax.set(xlabel="input x", ylabel="code", title=f"5-bit ramp ADC: {fname}")
        ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "conversion.png", dpi=120)
    return lines


def _surrogates_step(out: Path, amb: dict[str, Any]) -> list[str]:
    """The QUICK presets of the three surrogates: characterized and fitted once (cached), then
    validated against held-out SPICE runs; fidelity tables and plots under ``surrogates/``."""
    from circuitsim import fidelity
    from circuitsim.characterize.technology_presets import adc_preset
    from circuitsim.surrogate.kind_names import KIND_NAMES
    from circuitsim.surrogate.kind_plots import PLOTS
    from circuitsim.surrogate.service import Runner, make_spec, validate_surrogate
    from circuitsim.train.config import TrainSpec
    from circuitsim.train.loop import update_spec

    # the 3T1C cell the training step uses (its storage capacitor is a training choice)
    specs = {"update": update_spec(build(TrainSpec, {"ambrogio": amb})),
             "adc": make_spec("adc", adc_preset("continuous", _comparator_tech(amb)),
                              quick=True)}
    lines, tables = [], []
    for kind in KIND_NAMES:
        kind_dir = out / "surrogates" / kind
        kind_dir.mkdir(parents=True, exist_ok=True)
        val, _, entry = validate_surrogate(kind, specs.get(kind) or make_spec(kind, quick=True),
                                           runner=Runner(progress=False))
        PLOTS[kind].plot_validation(val, kind_dir)
        bounded = [c for c in val.checks if c.bound is not None]
        # closest to its bound: value/bound (at most) or bound/value (at least)
        worst = max(bounded, key=lambda c: (c.passed is False,
                                           c.value / (c.bound or 1.0) if c.sense == "at_most"
                                           else c.bound / max(c.value, 1e-300)))
        lines.append(f"{kind} surrogate {entry.key[:12]} (quick preset, cache {entry.npz.parent}):"
                     f" {sum(bool(c.passed) for c in bounded)}/{len(bounded)} bounded checks "
                     f"pass vs held-out SPICE; tightest: {worst.name} = {worst.value:.3g} "
                     f"{worst.unit} (bound {worst.bound:g})")
        tables.append(fidelity.format_table(val.checks, f"{kind} surrogate vs held-out SPICE"))
    write_atomic(out / "surrogates" / "fidelity.md", "\n\n".join(tables) + "\n")
    lines.append(f"fidelity tables: {out / 'surrogates' / 'fidelity.md'}")
    return lines


def _train_step(out: Path, amb: dict[str, Any]) -> list[str]:
    """The digits MLP (64-32-10) trained with 2PCM+3T1C (polarity inversion, SPICE-fitted
    cell-to-cell asymmetry, QUICK surrogates) next to the float baseline, with SPICE
    spot-checks of the network's state during training; run outputs under ``train/``."""
    from threadpoolctl import threadpool_limits

    from circuitsim.train import loop, plots
    from circuitsim.train.config import TrainSpec
    from circuitsim.train_cli import write_run

    results = {}
    with threadpool_limits(1):
        tech = _comparator_tech(amb)
        comparator = ({"comparator_technology": tech["name"], "comparator_corner": tech["corner"]}
                      if amb else {})
        for rule, extra in (("float", {}), ("ambrogio", {"spot_every": TRAIN_SPOT_EVERY,
                                                         "ambrogio": amb, **comparator})):
            spec = build(TrainSpec, {"dataset": "digits", "rule": rule, **extra})
            results[rule] = loop.run(spec, progress=False)
            write_run(results[rule], _mkdir(out / "train" / rule))
    plots.curves({"float": results["float"], "2PCM+3T1C + PI": results["ambrogio"]},
                 out / "train" / "curves.png", "digits MLP 64-32-10")
    f, a = results["float"], results["ambrogio"]
    checks = a.spot_checks
    mac = [c["metrics"]["rms_pct_fs"] for c in checks if c["kind"] == "mac"]
    upd = [c["metrics"]["dg_rms_pct_mean_step"] for c in checks if c["kind"] == "update"]
    return [f"digits MLP 64-32-10, {f.spec.epochs} epochs, per-image SGD: float "
            f"{100 * f.test_acc:.2f} %, 2PCM+3T1C with polarity inversion "
            f"{100 * a.test_acc:.2f} % ({_technology(amb)} 3T1C cells and comparators; "
            f"{100 * (a.test_acc - f.test_acc):+.2f} pt; "
            f"{len(a.events)} transfers, {a.seconds:.1f} s vs {f.seconds:.1f} s)",
            f"SPICE spot-checks during training: {len(mac)} MAC (surrogate RMS error up to "
            f"{max(mac, default=0):.3g} % FS), {len(upd)} 3T1C (dg RMS error up to "
            f"{max(upd, default=0):.3g} % of a step)",
            f"training outputs: {out / 'train'}"]


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _decks_step(out: Path, amb: dict[str, Any]) -> list[str]:
    decks = dict(golden.examples())
    (out / "decks").mkdir(exist_ok=True)
    for name, text in decks.items():
        write_atomic(out / "decks" / name, text)
    return [f"wrote {len(decks)} example decks (every block and testbench) to {out / 'decks'}"]


def _comparator_tech(amb: dict[str, Any]) -> dict[str, Any]:
    """The comparators' ``technology`` mapping: the 3T1C cells' (PTM when ``amb`` is empty)."""
    return {"name": "sky130", "corner": amb["corner"]} if amb else {"name": "ptm45"}


def demo_ambrogio(technology: str, corner: str) -> dict[str, Any]:
    """The training's ``ambrogio`` overrides for the demo's 3T1C technology: none for the
    embedded PTM cards; for SKY130 the corner and the preset cell's own 100 fF capacitor."""
    if technology == "ptm45":
        if corner != "tt":
            raise SpecError(f"--corner={corner}: corners need --technology sky130")
        return {}
    if technology != "sky130" or corner not in sky130.CORNERS:
        raise SpecError(f"--technology={technology} --corner={corner}: choose ptm45, or "
                        f"sky130 with one of {' '.join(sky130.CORNERS)}")
    return {"technology": technology, "corner": corner, "cell_c": cell3t1c.SKY130["c"]}


def _technology(amb: dict[str, Any]) -> str:
    return f"SKY130 {amb['corner']}" if amb else "PTM 45 nm"


STEPS: list[tuple[str, Callable[[Path, dict[str, Any]], list[str]]]] = [
    ("decks", _decks_step),
    ("MAC read", _mac_step),
    ("3T1C update", _update_step),
    ("ramp ADC conversion", _conversion_step),
    ("surrogates", _surrogates_step),
    ("training", _train_step),
]
#: Steps between SPICE spot-checks in the demo's 2PCM+3T1C run (about three per run).
TRAIN_SPOT_EVERY = 9000
#: Images of the demo report, per section.
FIGURES = {"decks": [], "MAC read": ["mac.png"], "3T1C update": ["update.png"],
           "ramp ADC conversion": ["conversion.png"],
           "surrogates": ["surrogates/mac/mac_validation_rms.png",
                          "surrogates/update/update_validation_dg.png",
                          "surrogates/adc/activation_validation.png"],
           "training": ["train/curves.png", "train/ambrogio/weights.png",
                        "train/ambrogio/transfers.png", "train/ambrogio/spot_checks.png"]}


def run_demo(out: Path, technology: str = "ptm45", corner: str = "tt") -> None:
    """The demo; ``technology``/``corner`` choose the 3T1C cell's transistors (update deck,
    update surrogate, training)."""
    amb = demo_ambrogio(technology, corner)
    out.mkdir(parents=True, exist_ok=True)
    version = ngspice_version()
    print(f"circuitsim demo with ngspice {version} (KLU), 3T1C cells and comparators in "
          f"{_technology(amb)}; output in {out}")
    report: list[str] = []
    md = [f"# circuitsim demo (ngspice {version})", "",
          "Netlists -> SPICE -> characterization -> cached surrogates -> training. Every "
          "number below was measured by this run.", ""]
    start = time.perf_counter()
    for label, step in tqdm(STEPS, desc="demo", unit="step"):
        t0 = time.perf_counter()
        lines = step(out, amb)
        took = time.perf_counter() - t0
        report += lines + [f"  ({label}: {took:.1f} s)"]
        md += [f"## {label} ({took:.1f} s)", ""] + [f"- {line}" for line in lines] + [""]
        md += [f"![{name}]({name})" for name in FIGURES[label] if (out / name).exists()] + [""]
        for line in lines:
            tqdm.write(line)
    total = f"total {time.perf_counter() - start:.1f} s"
    report.append(f"{total}; plots: " + ", ".join(sorted(p.name for p in out.glob("*.png"))))
    md += [f"{total}. Fidelity tables: [surrogates/fidelity.md](surrogates/fidelity.md); "
           "training runs: [train/ambrogio/report.md](train/ambrogio/report.md), "
           "[train/float/report.md](train/float/report.md)."]
    write_atomic(out / "summary.txt", "\n".join(report) + "\n")
    write_atomic(out / "report.md", "\n".join(md) + "\n")
    print(report[-1])
    print(f"report: {out / 'report.md'}")
