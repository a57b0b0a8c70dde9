"""The harness's CLI commands: ``circuitsim sweep`` and ``circuitsim energy``.

Thin: they build points and call :func:`circuitsim.sweep.sweep`, the phase helpers and
:mod:`circuitsim.energy`; every figure printed is read from a simulation result.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
from typing import Any

import numpy as np

from circuitsim import spec as specs
from circuitsim.errors import SpecError


def json_arg(text: str, flag: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"{flag}: expected KEY=JSON, got {text!r}")
    try:
        return key.strip(), json.loads(raw)
    except ValueError:
        raise SpecError(f"{flag} {key.strip()}: {raw!r} is not valid JSON") from None


#: Wall time of the smallest sweep point (a 3T1C update deck on the shared backend, measured
#: 13-40 ms): the lower bound a size estimate uses.
SECONDS_PER_POINT = 0.013


def build_points(point_cls: type, mapping: dict[str, Any], sets: list[str], vary: list[str],
                 mc: list[str], n: int, seed: int, workers: int = 1,
                 force: bool = False) -> list[Any]:
    """Grid (``--vary``) × Monte-Carlo draws (``--mc``, ``n`` per grid point) of points.
    Grid point ``g`` draws with seed ``seed + g``, so grid points get different devices.
    More than :data:`circuitsim.spec.MAX_RUNS` points need ``force``."""
    from circuitsim import montecarlo

    specs.require(n >= 1, "--n", n, "must be >= 1")
    specs.require(seed >= 0, "--seed", seed, "must be >= 0")
    axes = []
    for item in vary:
        key, values = json_arg(item, "--vary")
        if not isinstance(values, list) or not values:
            raise SpecError(f"--vary {key}: expected a non-empty JSON list, got "
                            f"{specs.short(values)}")
        axes.append([f"{key}={json.dumps(v)}" for v in values])
    size = math.prod(len(a) for a in axes) * n
    specs.require_budget("--n" if n > 1 else "--vary", n if n > 1 else vary, size,
                         SECONDS_PER_POINT, workers, force)
    grid = [specs.build(point_cls, mapping, [*sets, *combo])
            for combo in itertools.product(*axes)]
    draws = {}
    for item in mc:
        path, dist = json_arg(item, "--mc")
        if not isinstance(dist, dict):
            raise SpecError(f"--mc {path}: expected a JSON object like "
                            '{"kind": "normal", "sigma": 0.02}')
        draws[path] = montecarlo.dist_from_mapping(dist, where=f"--mc {path}")
    if not draws:
        if n != 1:
            raise SpecError(f"--n={n}: Monte-Carlo draws need at least one --mc")
        return grid
    return [p for g, base in enumerate(grid) for p in montecarlo.draw(base, draws, n, seed + g)]


def figures(phase: str, result: Any) -> dict[str, float]:
    """The few numbers a sweep table shows per point (all read from the result)."""
    if phase == "mac":
        ideal = np.abs(result.ideal_mac_currents).max()
        err = np.abs(result.mac_currents - result.ideal_mac_currents).max()
        return {"max_err_%FS": 100 * err / ideal if ideal else float("nan"),
                "pJ/read": 1e12 * result.energy_per_read,
                "TOPS/W": result.ops / result.energy_per_read / 1e12}
    if phase == "update":
        up, down = result.dvc[result.kinds > 0], result.dvc[result.kinds < 0]
        return {"up_mV": 1e3 * up.mean() if up.size else float("nan"),
                "down_mV": 1e3 * down.mean() if down.size else float("nan"),
                "g_min_uS": 1e6 * result.g.min(), "g_max_uS": 1e6 * result.g.max(),
                "leak_mV/ms": result.leak_rate}
    exact = result.codes == result.ideal_codes
    return {"exact_%": 100 * exact.mean(),
            "max_LSB": float(np.abs(result.codes - result.ideal_codes).max()),
            "pJ/conv": 1e12 * result.energy_per_conversion}


def _table(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    width = {c: max(len(c), *(len(_fmt(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.rjust(width[c]) for c in cols)]
    lines += ["  ".join(_fmt(r[c]).rjust(width[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def run_sweep_command(args: argparse.Namespace) -> int:
    from circuitsim.phases import PHASES
    from circuitsim.sweep import sweep

    phase = PHASES[args.phase]
    mapping = specs.load_file(args.spec) if args.spec else {}
    workers = args.workers or os.cpu_count() or 1
    points = build_points(phase.point, mapping, args.set or [], args.vary or [],
                          args.mc or [], args.n, args.seed, workers, args.force)
    outcome = sweep(phase.run, points, store=args.store, workers=args.workers,
                    scheduler=args.scheduler, timeout=args.timeout, desc=f"sweep {args.phase}")
    varied = [item.partition("=")[0] for item in args.vary or []]
    rows = []
    for o in outcome.outcomes:
        row: dict[str, Any] = {"#": o.index}
        row.update({k: _fmt(specs_value(o.point, k)) for k in varied})
        if o.error is None:
            row.update(figures(args.phase, o.result))
        else:
            row["error"] = str(o.error)[:60]
        rows.append(row)
    ok = [r for r in rows if "error" not in r]
    if ok:
        print(_table(ok))
        if args.mc and len(ok) > 1:
            keys = [k for k in ok[0] if k not in ("#", *varied)]
            stats = [{"figure": k, "mean": float(np.mean([r[k] for r in ok])),
                      "std": float(np.std([r[k] for r in ok])),
                      "min": float(np.min([r[k] for r in ok])),
                      "max": float(np.max([r[k] for r in ok]))} for k in keys]
            print("\nMonte-Carlo spread over all points:\n" + _table(stats))
    for r in rows:
        if "error" in r:
            print(f"point {r['#']} failed: {r['error']}")
    print(outcome.summary() + (f"; store: {args.store}" if args.store else ""))
    return 0 if not outcome.failed else 1


def specs_value(point: Any, path: str) -> Any:
    value = point
    for part in path.split("."):
        value = getattr(value, part)
    return value


def energy_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The ``energy`` command's crossbar, ramp and periphery specs from its flags (every bad
    value is a :class:`SpecError` here, before anything is simulated)."""
    from circuitsim.energy import PeripheryEstimate
    from circuitsim.netlist.crossbar import CrossbarSpec
    from circuitsim.netlist.ramp import RampSpec

    specs.require(math.isfinite(args.p_opamp) and 0 <= args.p_opamp <= 1.0, "--p-opamp",
                  args.p_opamp, "must be a power in [0, 1] W")
    return (CrossbarSpec(rows=args.rows, cols=args.cols),
            RampSpec(activation=args.activation, bits=args.bits),
            PeripheryEstimate(p_opamp=args.p_opamp))


def run_energy_command(args: argparse.Namespace) -> int:
    from circuitsim.energy import energy_report, format_report
    from circuitsim.netlist.adc import ComparatorSpec
    from circuitsim.netlist.cell3t1c import Cell3T1CSpec
    from circuitsim.phases import run_conversion, run_mac, run_update

    xbar, ramp, periphery = energy_inputs(args)
    x = np.random.default_rng(0).uniform(-1.0, 1.0, (4, args.rows))
    print(f"simulating: {args.rows}x{args.cols} MAC read (4 vectors), 3T1C UD pulses, "
          f"{args.bits}-bit {args.activation} conversion of {min(args.cols, 32)} outputs with "
          f"the {args.comparator} comparator(s) ...")
    mac = run_mac(xbar, x)
    update = run_update(Cell3T1CSpec(), "UUDD", t_hold=1e-6)
    act = ramp.activation_fn()
    xs = np.linspace(act.x_min, act.x_max, min(args.cols, 32) + 2)[1:-1]
    kinds = ["continuous", "strongarm"] if args.comparator == "both" else [args.comparator]
    conversions = [run_conversion(ramp, ComparatorSpec(kind=k), xs) for k in kinds]
    print(format_report(energy_report(mac, update, conversions, periphery)))
    return 0


def run_latch_command(args: argparse.Namespace) -> int:
    """``circuitsim latch``: the latch characterization's table, JSON and offset histogram."""
    import json

    from matplotlib.figure import Figure

    from circuitsim.characterize import latch
    from circuitsim.fidelity import format_table, to_json
    from circuitsim.io import write_atomic
    from circuitsim.netlist.adc import preset
    from circuitsim.plots import save_figure
    from circuitsim.spec import build, to_mapping
    from circuitsim.surrogate_cli import output_dir

    if args.corner and args.technology != "sky130":
        raise SpecError(f"--corner={args.corner}: corners need --technology sky130")
    tech = {"name": args.technology} | ({"corner": args.corner} if args.corner else {})
    base = {**(latch.QUICK if args.quick else {}), "comparator": preset("strongarm", tech)}
    spec = build(latch.LatchCharSpec, base, args.set or [])
    out = output_dir(args.out)
    ds = latch.characterize(spec, workers=args.workers)
    checks = latch.summary(ds)
    table = format_table(checks, f"StrongARM latch comparator, "
                                 f"{spec.comparator.technology.label()} (SPICE)")
    print(table)
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    found = ds.mc_offset[np.isfinite(ds.mc_offset)]
    ax.hist(found * 1e3, bins=max(5, found.size // 3), color="C0")
    ax.set(xlabel="input offset (mV)", ylabel="latches",
           title=f"StrongARM offset, {ds.mc_offset.size} Monte-Carlo latches "
                 f"@{spec.mc_common_mode:g} V")
    save_figure(fig, out / "offsets.png")
    write_atomic(out / "summary.md", table + "\n")
    write_atomic(out / "results.json", json.dumps(
        {"spec": to_mapping(spec), "checks": to_json(checks),
         "mc_offset_V": [None if np.isnan(v) else v for v in ds.mc_offset.tolist()],
         "ngspice": ds.ngspice_version}, indent=1) + "\n")
    print(f"wrote {out}/summary.md, results.json, offsets.png")
    return 0


def run_trim_command(args: argparse.Namespace) -> int:
    """``circuitsim trim3t1c``: per-corner gate levels of the SKY130 3T1C cell
    (:func:`circuitsim.characterize.trim.trim_gates`), as a table, JSON and a bar plot."""
    import time

    from matplotlib.figure import Figure

    from circuitsim.characterize.trim import check_tol, pulse_steps, trim_gates
    from circuitsim.io import write_atomic
    from circuitsim.netlist import sky130
    from circuitsim.netlist.cell3t1c import SKY130, Cell3T1CSpec
    from circuitsim.plots import save_figure
    from circuitsim.spec import build
    from circuitsim.surrogate_cli import output_dir

    corners = [c.strip() for c in args.corners.split(",") if c.strip()]
    bad = [c for c in corners if c not in sky130.CORNERS]
    if bad or not corners:
        raise SpecError(f"--corners={args.corners!r}: choose from {' '.join(sky130.CORNERS)}")
    check_tol(args.tol)
    cell = {**SKY130, "technology": {"name": "sky130", "corner": "tt"}}
    tt = build(Cell3T1CSpec, cell, args.set or [])
    target = pulse_steps(tt)
    rows = []
    for corner in corners:
        t0 = time.perf_counter()
        spec = build(Cell3T1CSpec, {**cell, "technology": {"name": "sky130", "corner": corner}},
                     args.set or [])
        r = trim_gates(spec, target, tol=args.tol)
        rows.append({"corner": corner, **r.levels(), "step_up_mV": r.step_up * 1e3,
                     "step_down_mV": r.step_down * 1e3, "untrimmed_up_mV": r.untrimmed_up * 1e3,
                     "untrimmed_down_mV": r.untrimmed_down * 1e3, "decks": r.decks,
                     "seconds": round(time.perf_counter() - t0, 1)})
    head = (f"SKY130 3T1C gate trim at V_C0 = {tt.vc0:g} V (tt steps {target[0] * 1e3:+.2f} / "
            f"{target[1] * 1e3:+.2f} mV; preset levels up {tt.v_up_gate:g} V, down "
            f"{tt.v_down_gate:g} V)")
    lines = [head, "", "| corner | untrimmed up / down (mV) | v_up_gate (V) | v_down_gate (V) "
             "| trimmed up / down (mV) | decks | s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['corner']} | {r['untrimmed_up_mV']:+.2f} / {r['untrimmed_down_mV']:+.2f} "
              f"| {r['v_up_gate']:.4f} | {r['v_down_gate']:.4f} | {r['step_up_mV']:+.2f} / "
              f"{r['step_down_mV']:+.2f} | {r['decks']} | {r['seconds']} |" for r in rows]
    text = "\n".join(lines)
    print(text)
    out = output_dir(args.out)
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    x = np.arange(len(rows))
    for k, (key, label) in enumerate((("untrimmed_up_mV", "up, untrimmed"),
                                      ("step_up_mV", "up, trimmed"),
                                      ("untrimmed_down_mV", "down, untrimmed"),
                                      ("step_down_mV", "down, trimmed"))):
        ax.bar(x + (k - 1.5) * 0.2, [abs(r[key]) for r in rows], 0.2, label=label,
               color=f"C{k // 2}", alpha=0.45 if "untrimmed" in key else 1.0)
    for v in target:
        ax.axhline(abs(v) * 1e3, color="k", lw=0.8, ls=":")
    ax.set_xticks(x, [r["corner"] for r in rows])
    ax.set(ylabel="|V_C step| of one pulse (mV)", title="3T1C steps per corner (dotted: tt)")
    ax.legend(fontsize=7)
    save_figure(fig, out / "steps.png")
    write_atomic(out / "trim.md", text + "\n")
    write_atomic(out / "trim.json", json.dumps({"target_V": list(target), "rows": rows},
                                               indent=1) + "\n")
    print(f"wrote {out}/trim.md, trim.json, steps.png")
    return 0
