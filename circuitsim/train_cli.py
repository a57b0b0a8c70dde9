"""``circuitsim train`` and ``circuitsim reproduce``."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from circuitsim import spec as specs
from circuitsim.errors import SpecError
from circuitsim.io import json_text, write_atomic
from circuitsim.surrogate_cli import output_dir
from circuitsim.train_names import DATASETS, RULES

#: Experiment name -> module under circuitsim.reproduce.
REPRODUCTIONS = ("ambrogio2018", "sbp2018", "gokmen2018", "yang2025", "sky130corners",
                 "mnist1d")
#: ``circuitsim train`` options that set a TrainSpec field directly.
FIELDS = {"dataset": str, "rule": str, "epochs": int, "seed": int, "lr": float, "batch": int,
          "data_path": str, "spot_every": int, "act_bits": int}


def hidden_sets(text: str) -> list[str]:
    """``--hidden`` as TrainSpec assignments: ``32`` sets ``hidden``, ``250,125`` ``layers``."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise SpecError(f"hidden={text!r}: expected positive widths separated by commas, "
                        "e.g. 250,125")
    if len(parts) == 1:
        return [f"hidden={parts[0]}"]
    return [f"layers=[{','.join(parts)}]"]


def train_spec(args: argparse.Namespace) -> Any:
    from circuitsim.train.config import TrainSpec
    mapping = specs.load_file(args.spec) if args.spec else {}
    sets = list(args.set or [])
    for name in FIELDS:
        value = getattr(args, name)
        if value is not None:
            sets.append(f"{name}={value}")
    if args.hidden is not None:
        sets += hidden_sets(args.hidden)
    if args.dataset in ("mnist1d-seq", "text") and not any(s.startswith("model=") for s in sets):
        sets.append("model=lstm")
    return specs.build(TrainSpec, mapping, sets)


def summary_markdown(result: Any, plots: list[Path]) -> str:
    s, last = result.spec, result.history[-1]
    best = max(h["test_acc"] for h in result.history)
    lines = [f"# circuitsim train: {s.dataset}, rule {s.rule}, seed {s.seed}", "",
             f"- network: {s.model} hidden {','.join(map(str, s.widths))}, {s.epochs} epochs, "
             f"lr {s.lr}, batch {s.batch}",
             f"- final test accuracy **{100 * last['test_acc']:.2f} %** (best epoch "
             f"{100 * best:.2f} %), test loss {last['test_loss']:.4f}",
             f"- data: {result.dataset.get('source', s.dataset)}",
             f"- wall time {result.seconds:.1f} s; transfer/refresh events: "
             f"{len(result.events)}; SPICE spot-checks: {len(result.spot_checks)}"]
    for kind, prov in result.surrogates.items():
        lines.append(f"- {kind} surrogate: cache key {prov['cache_key'][:12]}")
    lines += ["", "| epoch | train loss | train acc | test loss | test acc | train s |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {h['epoch']} | {h['train_loss']:.4f} | {100 * h['train_acc']:.2f} | "
              f"{h['test_loss']:.4f} | {100 * h['test_acc']:.2f} | {h['train_seconds']:.2f} |"
              for h in result.history]
    if result.ledger:
        from circuitsim.train.ledger import report
        lines += ["", "## Energy and latency (ledger)", "", "```", report(result.ledger), "```"]
    lines += [""] + [f"![{p.stem}]({p.name})" for p in plots]
    return "\n".join(lines) + "\n"


def write_run(result: Any, out: Path) -> list[Path]:
    """results.json, report.md and the PNGs of one run in ``out``."""
    from circuitsim.train import plots
    label = f"{result.spec.rule}"
    made = [plots.curves({label: result}, out / "curves.png",
                         f"{result.spec.dataset}: {result.spec.rule}"),
            plots.histograms(result, out / "weights.png"),
            plots.transfers(result, out / "transfers.png"),
            plots.spot_checks(result, out / "spot_checks.png"),
            plots.ledger(result, out / "ledger.png")]
    made = [p for p in made if p is not None]
    write_atomic(out / "results.json", json.dumps(result.to_json(), indent=1) + "\n")
    write_atomic(out / "report.md", summary_markdown(result, made))
    return [out / "results.json", out / "report.md", *made]


def run_train(args: argparse.Namespace) -> int:
    from circuitsim.surrogate.service import Runner
    from circuitsim.train import loop

    spec = train_spec(args)
    if args.seeds is not None:
        check_seeds(args.seeds, "--seeds")
        check_workers(args.workers)
        if args.seeds > 1:
            return run_train_seeds(args, spec)
    out = Path(args.out or f"runs/train/{spec.dataset}-{spec.rule}-seed{spec.seed}")
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out: {str(out)!r} exists and is not a directory")
    runner = Runner(workers=args.workers, progress=not args.no_progress)
    with threadpool_limits(1):
        result = loop.run(spec, progress=not args.no_progress, runner=runner)
    paths = write_run(result, output_dir(str(out)))  # created once there is something to write
    last = result.history[-1]
    print(f"{spec.dataset} {spec.rule}: test accuracy {100 * last['test_acc']:.2f} % "
          f"(loss {last['test_loss']:.4f}) after {spec.epochs} epochs, {result.seconds:.1f} s")
    if result.ledger:
        from circuitsim.train.ledger import report
        print(report(result.ledger))
    else:
        print("energy ledger: none (" + ("the float rule is the software baseline: no circuit "
                                         "to price)" if not spec.analog else
                                         "ledger.enabled=false)"))
    for p in paths:
        print(f"wrote {p}")
    return 0


def run_train_seeds(args: argparse.Namespace, spec: Any) -> int:
    """``train --seeds N``: seeds ``spec.seed .. spec.seed + N - 1`` as a grid of runs; the
    mean final accuracy with its t-interval, per-seed curves."""
    from circuitsim.reproduce import grid, stats
    from circuitsim.train.plots import seed_curves

    out = Path(args.out or f"runs/train/{spec.dataset}-{spec.rule}-seeds{spec.seed}-"
                           f"{spec.seed + args.seeds - 1}")
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out: {str(out)!r} exists and is not a directory")
    runs = grid.seeds_of(spec, args.seeds, spec.seed)
    data_args = {"path": spec.data_path} if spec.data_path else {}
    res = grid.run_grid(runs, spec.dataset, data_args, workers=args.workers,
                        scheduler=args.scheduler, store=args.store,
                        progress=not args.no_progress, desc=f"train {spec.rule}")
    acc = stats.t_interval([r.final_acc for r in res.records]).scaled(100)
    loss = stats.t_interval([r.final_loss for r in res.records])
    seeds = [s.seed for s in runs]
    summary = {"spec": specs.to_mapping(spec), "seeds": seeds, "interval_method": stats.METHOD,
               "level": stats.LEVEL,
               "test_acc_pct": {"mean": acc.mean, "lo": acc.lo, "hi": acc.hi, "n": acc.n},
               "test_loss": {"mean": loss.mean, "lo": loss.lo, "hi": loss.hi, "n": loss.n},
               "runs": [{"seed": s, "test_acc": r.test_acc.tolist(),
                         "test_loss": r.test_loss.tolist(), "seconds": r.seconds,
                         "energy_per_image_J": r.energy_per_image,
                         "tops_per_watt": r.tops_per_watt}
                        for s, r in zip(seeds, res.records, strict=True)],
               "grid": res.summary()}
    out = output_dir(str(out))
    plot = seed_curves({s: r.test_acc for s, r in zip(seeds, res.records, strict=True)},
                       out / "curves.png", f"{spec.dataset}: {spec.rule}, seeds {seeds[0]}-"
                       f"{seeds[-1]}")
    write_atomic(out / "results.json", json_text(summary))
    lines = [f"# circuitsim train: {spec.dataset}, rule {spec.rule}, seeds {seeds[0]}-"
             f"{seeds[-1]}", "",
             f"- final test accuracy **{acc.text()} %** (mean [{100 * stats.LEVEL:.0f} % CI], "
             f"n = {acc.n}; {stats.METHOD})",
             f"- final test loss {loss.text(digits=4)}", f"- {res.summary()}", "",
             "| seed | final test acc [%] | test loss | s |", "|---|---|---|---|"]
    lines += [f"| {s} | {100 * r.final_acc:.2f} | {r.final_loss:.4f} | {r.seconds:.1f} |"
              for s, r in zip(seeds, res.records, strict=True)]
    write_atomic(out / "report.md", "\n".join(lines + ["", f"![curves]({plot.name})"]) + "\n")
    print(f"{spec.dataset} {spec.rule}: test accuracy {acc.text()} % ({100 * stats.LEVEL:.0f} "
          f"% CI, n = {acc.n}); {res.summary()}")
    if spec.analog and spec.ledger.enabled:
        e = sum(r.energy_per_image for r in res.records) / len(res.records)
        print(f"energy per training image (ledger, mean over seeds): {e * 1e9:.4g} nJ")
    for p in (out / "results.json", out / "report.md", plot):
        print(f"wrote {p}")
    return 0


def check_seeds(n: int, flag: str) -> None:
    if not 1 <= n <= MAX_SEEDS:
        raise SpecError(f"{flag}={n}: must be in 1..{MAX_SEEDS}")


def check_workers(n: int | None) -> None:
    if n is not None and n < 1:
        raise SpecError(f"--workers={n}: must be >= 1")


def run_reproduce(args: argparse.Namespace) -> int:
    from circuitsim.reproduce.common import GridOptions

    if args.seeds is not None:
        check_seeds(args.seeds, "--seeds")
    check_workers(args.workers)
    module = importlib.import_module(f"circuitsim.reproduce.{args.name}")
    out = output_dir(args.out or f"runs/reproduce/{args.name}")
    kwargs: dict[str, Any] = {
        "scale": "fast" if args.fast else args.scale,
        "grid": GridOptions(workers=args.workers, scheduler=args.scheduler,
                            store=Path(args.store) if args.store else None,
                            progress=not args.no_progress)}
    if args.seeds is not None:
        kwargs["seeds"] = args.seeds
    print(f"# {module.TITLE}\n\nClaim: {module.CLAIM}\n\nDecision rule: {module.RULE}\n",
          flush=True)
    with threadpool_limits(1):
        report = module.run(out, **kwargs)
    path = report.write(out)
    print(report.markdown())
    print(f"report: {path}")
    return 0


#: Most seeds per configuration of a reproduction (each is a full training run).
MAX_SEEDS = 1000


def _spec_arguments(p: argparse.ArgumentParser) -> None:
    """The TrainSpec options ``train`` and ``explore`` share (not ``--rule``/``--seed``)."""
    p.add_argument("--dataset", choices=DATASETS)
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch", type=int)
    p.add_argument("--hidden", help="hidden units, or widths of several hidden layers "
                                    "(250,125) (default: the data set's)")
    p.add_argument("--act-bits", dest="act_bits", type=int,
                   help="ramp-ADC activation bits (0: float activations)")
    p.add_argument("--data-path", dest="data_path",
                   help="IDX directory (mnist) or a text file (text)")
    p.add_argument("--spot-every", dest="spot_every", type=int,
                   help="SPICE spot-checks every this many steps")
    p.add_argument("--spec", help="training spec file (.toml/.json)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one TrainSpec field (dotted keys: ambrogio.transfer_every, "
                        "periphery.in_bits, rpu.asymmetry, ...); repeatable")


def _grid_arguments(p: argparse.ArgumentParser, out: str) -> None:
    """Where a grid of runs goes (``explore`` and ``reproduce``)."""
    p.add_argument("--workers", type=int, help="local worker processes (default: one per "
                                               "core)")
    p.add_argument("--scheduler", help="Dask scheduler address (or CIRCUITSIM_SCHEDULER)")
    p.add_argument("--store", help="store of finished runs (default: <cache>/train-runs); "
                                   "a rerun skips what is stored")
    p.add_argument("--out", help=f"output directory (default {out})")
    p.add_argument("--no-progress", action="store_true")


def run_explore(args: argparse.Namespace) -> int:
    from circuitsim.harness_cli import json_arg
    from circuitsim.reproduce import explore
    from circuitsim.reproduce.common import GridOptions

    check_seeds(args.seeds, "--seeds")
    check_workers(args.workers)
    base = train_spec(args)
    axes = []
    for item in args.vary:
        key, values = json_arg(item, "--vary")
        if not isinstance(values, list) or not values:
            raise SpecError(f"--vary {key}: expected a non-empty JSON list, got {values!r}")
        axes.append((key, values))
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    for r in rules:
        if r not in RULES or r == "float":
            raise SpecError(f"--rules: {r!r} is not an analog rule (choose from "
                            f"{', '.join(x for x in RULES if x != 'float')})")
    out = Path(args.out or f"runs/explore/{base.dataset}")
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out: {str(out)!r} exists and is not a directory")
    data_args = {"path": base.data_path} if base.data_path else {}
    opts = GridOptions(workers=args.workers, scheduler=args.scheduler,
                       store=Path(args.store) if args.store else None,
                       progress=not args.no_progress)
    with threadpool_limits(1):
        report = explore.run(base, axes, rules, args.seeds, out, data_args, opts)
    path = report.write(out)
    print(report.markdown())
    print(f"report: {path}")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``train``, ``explore`` and ``reproduce`` on the top-level subparsers."""
    t = sub.add_parser("train", help="train a network with circuit-accurate surrogates")
    _spec_arguments(t)
    t.add_argument("--rule", choices=RULES,
                   help="ambrogio: 2PCM+3T1C; pcm: PCM only; sbp: sign backprop; pulse: "
                        "Gokmen stochastic pulses; float: software baseline")
    t.add_argument("--seed", type=int)
    t.add_argument("--seeds", type=int,
                   help="train seeds SEED..SEED+N-1 as independent runs (a grid on --workers "
                        "processes or a Dask cluster; finished runs are stored and skipped "
                        "on a rerun); reports the mean with its 95 %% t-interval")
    t.add_argument("--workers", type=int,
                   help="worker processes (SPICE characterization; runs of --seeds; default: "
                        "one per core)")
    t.add_argument("--scheduler", help="Dask scheduler address for --seeds runs (or "
                                       "CIRCUITSIM_SCHEDULER)")
    t.add_argument("--store", help="store of finished runs (default: <cache>/train-runs)")
    t.add_argument("--out", help="output directory (default runs/train/DATASET-RULE-seedN)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=run_train)

    x = sub.add_parser("explore", help="design-space exploration: circuit parameters x rules x "
                                       "seeds, accuracy vs ledger energy, Pareto plot")
    _spec_arguments(x)
    x.add_argument("--vary", action="append", metavar="KEY=JSON-LIST", default=[],
                   help="an axis: a TrainSpec field and its JSON values, e.g. "
                        "ambrogio.cell_c=[1e-13,4e-13] or act_bits=[3,4,5]; repeatable (the "
                        "grid is their product)")
    x.add_argument("--rules", default="ambrogio",
                   help="analog rules, comma-separated (default ambrogio; float is the "
                        "reference and always trained)")
    x.add_argument("--seeds", type=int, default=2, help="seeds per configuration (default 2)")
    x.add_argument("--seed", type=int, help="first seed (default 0)")
    _grid_arguments(x, "runs/explore/DATASET")
    x.set_defaults(func=run_explore, rule=None)

    r = sub.add_parser("reproduce", help="a paper's claim at our scale: table + plot")
    r.add_argument("name", choices=REPRODUCTIONS)
    r.add_argument("--seeds", type=int, help="seeds per configuration (default 5)")
    r.add_argument("--scale", choices=("default", "paper"), default="default",
                   help="run sizes: default (<= 15 min on 2 cores) or the paper's network "
                        "and data (hours)")
    r.add_argument("--fast", action="store_true",
                   help="tiny runs to check the pipeline (numbers are not evidence)")
    _grid_arguments(r, "runs/reproduce/NAME")
    r.set_defaults(func=run_reproduce)
