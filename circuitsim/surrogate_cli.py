"""``circuitsim characterize`` and ``circuitsim surrogate fit|validate|show|clear``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from circuitsim import fidelity
from circuitsim import spec as specs
from circuitsim.errors import SimError, SpecError
from circuitsim.io import write_atomic
from circuitsim.surrogate.kind_names import KIND_NAMES

if TYPE_CHECKING:
    from circuitsim.surrogate.service import Runner

# The library modules below the command line are imported inside the commands, so that building
# the parser (``circuitsim --help``) does not load numpy and the simulator bindings.


def add_spec_arguments(p: argparse.ArgumentParser, sweep: bool = True) -> None:
    """The options selecting a characterization spec and how its sweeps run."""
    p.add_argument("kind", choices=KIND_NAMES, help="what to characterize")
    p.add_argument("--spec", help="characterization spec file (.toml/.json)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one spec field (dotted keys reach nested specs); repeatable")
    p.add_argument("--quick", action="store_true",
                   help="the small preset (fewer sizes, trials and points; minutes to seconds)")
    p.add_argument("--read-mode", metavar="MODE",
                   help="mac only: the read mode (dc, amp_int, pwm_int, pwm_int_1t1r; "
                        "validate: all of them unless given)")
    p.add_argument("--technology", choices=("ptm45", "sky130"),
                   help="update: the 3T1C cell's transistors (sky130: the cell preset, the "
                        "whole 0..vdd range and SkyWater's mismatch sigmas); adc: the "
                        "comparators' (sky130: their 1.8 V preset)")
    p.add_argument("--corner", help="with --technology sky130: tt ff ss fs sf")
    p.add_argument("--comparator", choices=("continuous", "strongarm"),
                   help="adc only: the comparator kind (default continuous)")
    if sweep:
        p.add_argument("--workers", type=int, help="local worker processes (default: cores)")
        p.add_argument("--scheduler", help="Dask scheduler address (or CIRCUITSIM_SCHEDULER)")
        p.add_argument("--store", help="sweep result store, resumable (default: "
                                       "<cache>/sweeps)")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--cache", help="surrogate cache directory (default: $CIRCUITSIM_CACHE "
                                   "or ~/.cache/circuitsim/surrogates)")


def _spec(args: argparse.Namespace, read_mode: str | None = None) -> Any:
    from circuitsim.surrogate import service

    mapping = specs.load_file(args.spec) if args.spec else {}
    technology, corner = getattr(args, "technology", None), getattr(args, "corner", None)
    comparator = getattr(args, "comparator", None)
    if comparator and args.kind != "adc":
        raise SpecError(f"--comparator: applies to the adc kind, not {args.kind}")
    if technology or corner or comparator:
        if args.kind not in ("update", "adc"):
            raise SpecError("--technology/--corner: apply to the update and adc kinds, not "
                            f"{args.kind}")
        tech = {"name": technology or "ptm45"}
        if corner:
            tech["corner"] = corner
        if args.kind == "update":
            from circuitsim.characterize.technology_presets import technology_preset

            mapping = specs.deep_merge(technology_preset(tech), mapping)
        else:
            from circuitsim.characterize.technology_presets import adc_preset

            mapping = specs.deep_merge(adc_preset(comparator or "continuous", tech), mapping)
    return service.make_spec(args.kind, mapping, args.set or [], args.quick,
                             read_mode or getattr(args, "read_mode", None))


def _runner(args: argparse.Namespace) -> Runner:
    from circuitsim.surrogate.service import Runner

    if args.workers is not None and args.workers < 1:
        raise SpecError(f"--workers={args.workers}: must be >= 1")
    return Runner(store=Path(args.store) if args.store else None, workers=args.workers,
                  scheduler=args.scheduler, progress=not args.no_progress)


def output_dir(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out: {path!r} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"--out: cannot create {path!r}: {exc.strerror}") from None
    return out


def _print_paths(label: str, paths: list[Path]) -> None:
    for p in paths:
        print(f"{label}: {p}")


def run_characterize(args: argparse.Namespace) -> int:
    from circuitsim.surrogate import service
    from circuitsim.surrogate.cache import SurrogateCache
    from circuitsim.surrogate.kind_plots import PLOTS
    from circuitsim.surrogate.kinds import get_kind

    k = get_kind(args.kind)
    spec = _spec(args)
    cache = SurrogateCache(args.cache)
    runner = _runner(args)
    out = output_dir(args.out or f"runs/characterize/{args.kind}")
    ds = service.characterize(args.kind, spec, runner, cache)
    checks = k.dataset_summary(ds)
    dataset_path = out / "dataset.npz"
    ds.save(dataset_path)
    table = fidelity.format_table(checks, f"{args.kind} characterization")
    write_atomic(out / "summary.md", table + "\n")
    write_atomic(out / "spec.json", json.dumps(specs.to_mapping(spec), indent=1) + "\n")
    print(table)
    print(f"dataset: {dataset_path}")
    _print_paths("plot", PLOTS[args.kind].plot_dataset(ds, out))
    return 0


def run_fit(args: argparse.Namespace) -> int:
    from circuitsim.surrogate import service
    from circuitsim.surrogate.cache import SurrogateCache

    cache = SurrogateCache(args.cache)
    dataset = None
    if args.dataset:
        if args.spec or args.set or args.quick:
            raise SpecError("--dataset: the spec comes from the dataset; drop --spec/--set/--quick")
        dataset = service.load_dataset(args.kind, args.dataset)
        spec = service.dataset_spec(args.kind, dataset)
    else:
        spec = _spec(args)
    sur, entry, fitted = service.get_surrogate(args.kind, spec, cache=cache,
                                               runner=_runner(args), dataset=dataset,
                                               force=args.force)
    print(f"{args.kind} surrogate {entry.key[:12]} "
          f"{'fitted and cached' if fitted else 'already cached'}: {entry.npz}")
    print(json.dumps(entry.meta.get("fit", {}), indent=1))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from circuitsim.characterize.mac_circuit import READ_MODES
    from circuitsim.surrogate import service
    from circuitsim.surrogate.cache import SurrogateCache
    from circuitsim.surrogate.kind_plots import PLOTS

    modes: list[str | None] = [args.read_mode]
    if args.kind == "mac" and args.read_mode in (None, "all"):
        modes = list(READ_MODES)
    specs_ = [(m, _spec(args, m)) for m in modes]  # every spec checked before any run
    runner = _runner(args)
    out = output_dir(args.out or f"runs/validate/{args.kind}")
    checks, titles = [], []
    for mode, spec in specs_:
        val, _, entry = service.validate_surrogate(args.kind, spec,
                                                   cache=SurrogateCache(args.cache),
                                                   runner=runner)
        checks += val.checks
        titles.append(f"{mode + ' ' if mode else ''}{entry.key[:12]}")
        sub = out / mode if mode and len(modes) > 1 else out
        _print_paths("plot", PLOTS[args.kind].plot_validation(val, output_dir(str(sub))))
    from circuitsim.surrogate.mac_validate import check_mode

    table = fidelity.format_table(checks, f"{args.kind} surrogate(s) {', '.join(titles)} vs "
                                          "held-out SPICE",
                                  check_mode if args.kind == "mac" else None)
    write_atomic(out / "fidelity.md", table + "\n")
    print(table)
    print(f"table: {out / 'fidelity.md'}")
    if not fidelity.all_passed(checks):
        failed = [c.name for c in checks if c.passed is False]
        raise SimError(f"validation: {len(failed)} check(s) outside their bound: "
                       + "; ".join(failed))
    return 0


def _entry_line(meta: dict[str, Any]) -> str:
    if "error" in meta:
        return f"{meta['sidecar']}  UNREADABLE: {meta['error']}"
    checks = fidelity.from_json(meta.get("validation", []))
    status = ("not validated" if not checks else
              "validated: all pass" if fidelity.all_passed(checks) else "validated: FAILS")
    fit = meta.get("fit", {})
    form = fit.get("model", fit.get("form", ""))
    return (f"{meta.get('kind', '?'):7s} {str(meta.get('key', ''))[:12]}  {meta.get('written', '')}"
            f"  {meta.get('npz_bytes', 0) / 1024:8.1f} KiB  {status}"
            + (f"  model={form}" if form else ""))


def run_show(args: argparse.Namespace) -> int:
    from circuitsim.surrogate import service
    from circuitsim.surrogate.cache import SurrogateCache

    cache = SurrogateCache(args.cache)
    if not args.kind and (args.spec or args.set or args.quick):
        raise SpecError("show: --spec/--set/--quick select one entry and need a KIND")
    if args.kind and (args.spec or args.set or args.quick):
        key, _ = service.entry_key(args.kind, _spec(args))
        entry = cache.read(args.kind, key)
        if entry is None:
            raise SpecError(f"no cached {args.kind} surrogate for this spec (key {key[:12]}); "
                            f"run 'circuitsim surrogate fit {args.kind}' first")
        print(json.dumps(entry.meta, indent=1, sort_keys=True))
        checks = fidelity.from_json(entry.meta.get("validation", []))
        if checks:
            print(fidelity.format_table(checks, "fidelity"))
        return 0
    entries = cache.entries(args.kind)
    print(f"cache: {cache.dir} ({len(entries)} entr{'y' if len(entries) == 1 else 'ies'})")
    for meta in entries:
        print(_entry_line(meta))
    return 0


def run_clear(args: argparse.Namespace) -> int:
    """Remove what circuitsim wrote, print it; refuse a directory that is not circuitsim's."""
    from circuitsim.store import ResultStore
    from circuitsim.surrogate.cache import SurrogateCache

    cache = SurrogateCache(args.cache)
    sweeps = cache.dir / "sweeps"
    if args.sweeps and sweeps.is_dir():
        ResultStore.check_is_store(sweeps, "--sweeps")
    removed = cache.clear(args.kind)
    for name in removed:
        print(f"removed {name}")
    print(f"removed {len(removed)} cached surrogate(s) from {cache.dir}")
    if args.sweeps and sweeps.is_dir():
        n = ResultStore(sweeps).clear()
        print(f"removed {n} sweep record(s) from {sweeps}")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``characterize`` and ``surrogate`` on the top-level subparsers."""
    c = sub.add_parser("characterize", help="SPICE characterization sweep -> dataset + plots")
    add_spec_arguments(c)
    c.add_argument("--out", help="output directory (default runs/characterize/KIND)")
    c.set_defaults(func=run_characterize)

    s = sub.add_parser("surrogate", help="fit, validate, show or clear cached surrogates")
    ss = s.add_subparsers(dest="action", required=True)
    f = ss.add_parser("fit", help="characterize (or read --dataset) and fit; cached")
    add_spec_arguments(f)
    f.add_argument("--dataset", help="fit from this characterization dataset (.npz)")
    f.add_argument("--force", action="store_true", help="refit even if cached")
    f.set_defaults(func=run_fit)
    v = ss.add_parser("validate", help="fidelity vs held-out SPICE runs: table + plots")
    add_spec_arguments(v)
    v.add_argument("--out", help="output directory (default runs/validate/KIND)")
    v.set_defaults(func=run_validate)
    sh = ss.add_parser("show", help="list cached surrogates, or one spec's entry in full")
    sh.add_argument("kind", nargs="?", choices=KIND_NAMES)
    sh.add_argument("--spec")
    sh.add_argument("--set", action="append", metavar="KEY=VALUE")
    sh.add_argument("--quick", action="store_true")
    sh.add_argument("--read-mode", metavar="MODE")
    sh.add_argument("--technology", choices=("ptm45", "sky130"))
    sh.add_argument("--corner")
    sh.add_argument("--cache")
    sh.set_defaults(func=run_show)
    cl = ss.add_parser("clear", help="delete cached surrogates (of one kind, or all)")
    cl.add_argument("kind", nargs="?", choices=KIND_NAMES)
    cl.add_argument("--cache")
    cl.add_argument("--sweeps", action="store_true",
                    help="also delete the sweep store of simulated points")
    cl.set_defaults(func=run_clear)
