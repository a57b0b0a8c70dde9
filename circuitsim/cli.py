"""The ``circuitsim`` command line: thin commands over the library.

User errors print one line ``circuitsim: error: ...`` to stderr and exit with code 2;
simulation or setup failures exit with code 1. No traceback, no half-written output.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from circuitsim import spec as specs
from circuitsim.errors import CircuitsimError, SimError, SpecError


def _block_help(block) -> list[str]:
    lines = [f"{block.name}  [{block.kind}]  {block.summary}"]
    for f in specs.fields_of(block.spec):
        if dataclasses.is_dataclass(f.type):
            default = f"{f.type.__name__} (set its fields as {f.name}.FIELD=...)"
        else:
            default = repr(f.default)
        unit = f" [{f.unit}]" if f.unit else ""
        lines.append(f"    {f.name} = {default}{unit}  -- {f.doc}")
    lines.append(f"    presets (--preset): {', '.join(block.examples)}")
    return lines


def cmd_netlist(args: argparse.Namespace) -> int:
    from circuitsim.netlist import registry

    if args.list:
        chosen = [registry.get(args.block)] if args.block else list(registry.blocks().values())
        print("\n".join(line for b in chosen for line in _block_help(b)))
        return 0
    if not args.block:
        raise SpecError("block: give a block name (see 'circuitsim netlist --list')")
    block = registry.get(args.block)
    mapping = specs.load_file(args.spec) if args.spec else {}
    if args.preset:
        if args.preset not in block.examples:
            raise SpecError(f"--preset: {block.name} has no preset {args.preset!r} "
                            f"(has: {', '.join(block.examples)})")
        mapping = specs.deep_merge(specs.to_mapping(specs.from_mapping(
            block.spec, block.examples[args.preset])), mapping)
    spec = specs.build(block.spec, mapping, args.set or [])
    deck = block.generate(spec)
    if args.output:
        from circuitsim.io import write_atomic

        out = Path(args.output)
        write_atomic(out, deck, "-o")
        print(f"wrote {out} ({len(deck.splitlines())} lines)")
    else:
        sys.stdout.write(deck)
    return 0


def _read_deck(path: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as fh:  # keep \r: runnable() judges it
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"FILE: cannot read {path!r}: {getattr(exc, 'strerror', exc)}") from None


def cmd_inspect(args: argparse.Namespace) -> int:
    """Summarise a deck; list every line ``simulate`` would refuse (exit 1 if there is one)."""
    from circuitsim.netlist.inspect import report, summarize
    from circuitsim.netlist.safety import message, refusals

    text = _read_deck(args.file)
    print(report(summarize(text)))
    refused = refusals(text)
    if refused:
        print(f"simulate would refuse {len(refused)} line(s):")
        for r in refused:
            print(f"  {message('deck', r)}")
        return 1
    print("simulate would accept every line")
    return 0


def _libraries(specs_: list[str] | None):
    """``--lib PATH[@SECTION]`` arguments, each vetted (with every file it pulls in)."""
    from circuitsim.netlist.safety import vet_library

    out = []
    for item in specs_ or []:
        path, _, section = item.partition("@")
        try:
            out.append(vet_library(path, section or None))
        except CircuitsimError as exc:
            raise SpecError(f"--lib {item!r}: {exc}") from None
    return tuple(out)


def with_libraries(deck: str, libraries) -> str:
    """``deck`` with the include line of each vetted library after its title line."""
    if not libraries:
        return deck
    title, _, rest = deck.partition("\n")
    return "\n".join([title, *(lib.line() for lib in libraries), rest])


def _check_output(path: str | None, flag: str, suffix: str) -> Path | None:
    from circuitsim.io import check_output

    if path is None:
        return None
    if Path(path).suffix.lower() != suffix:
        raise SpecError(f"{flag}: {path!r} must end in {suffix}")
    return check_output(path, flag)


def cmd_simulate(args: argparse.Namespace) -> int:
    import io

    import numpy as np

    from circuitsim.io import write_atomic
    from circuitsim.netlist.safety import check_deck
    from circuitsim.spice.runner import SimOptions, simulate

    npz, png = _check_output(args.out, "--out", ".npz"), _check_output(args.plot, "--plot", ".png")
    deck = _read_deck(args.file)
    check_deck(deck.replace("\r\n", "\n"))  # the user's own lines: no include lines at all
    libraries = _libraries(args.lib)
    options = SimOptions(backend=args.backend, timeout=args.timeout, libraries=libraries)
    result = simulate(with_libraries(deck, libraries), options)
    print(f"ngspice {result.ngspice_version} ({args.backend} backend), wall time "
          f"{result.wall_time:.3f} s, {len(result.time)} time points, "
          f"{len(result.signals)} saved vectors")
    if result.meas:
        width = max(len(k) for k in result.meas)
        for key, value in result.meas.items():
            print(f"  {key:<{width}} = {value:.6g}")
    else:
        print("  (no .meas results)")
    if npz is not None:
        buf = io.BytesIO()
        np.savez(buf, time=result.time, **{f"signal:{k}": v for k, v in result.signals.items()},
                 **{f"meas:{k}": np.float64(v) for k, v in result.meas.items()})
        write_atomic(npz, buf.getvalue(), "--out")
        print(f"wrote {npz} (time, signal:<name>, meas:<name>; load with numpy.load)")
    if png is not None:
        from circuitsim.plots import plot_waveforms

        plot_waveforms(result, png, title=Path(args.file).name)
        print(f"wrote {png}")
    return 0


def cmd_golden(args: argparse.Namespace) -> int:
    from circuitsim.netlist import golden

    if args.update:
        names = golden.update()
        print(f"wrote {len(names)} golden decks to {golden.GOLDEN_DIR}")
        return 0
    problems = golden.compare()
    if problems:
        print("golden decks out of date: " + ", ".join(problems), file=sys.stderr)
        print("review the change, then run 'make golden' to regenerate", file=sys.stderr)
        return 1
    print(f"all golden decks match ({golden.GOLDEN_DIR})")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from circuitsim.harness_cli import run_sweep_command

    return run_sweep_command(args)


def cmd_energy(args: argparse.Namespace) -> int:
    from circuitsim.harness_cli import run_energy_command

    return run_energy_command(args)


def cmd_latch(args: argparse.Namespace) -> int:
    from circuitsim.harness_cli import run_latch_command

    return run_latch_command(args)


def cmd_trim3t1c(args: argparse.Namespace) -> int:
    from circuitsim.harness_cli import run_trim_command

    return run_trim_command(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from circuitsim.demo import run_demo

    run_demo(Path(args.out), args.technology, args.corner)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line error format (exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"circuitsim: error: {message} (see '{self.prog} --help')\n")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="circuitsim", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    n = sub.add_parser("netlist", help="generate a block or testbench deck")
    n.add_argument("block", nargs="?", help="block name (see --list)")
    n.add_argument("--list", action="store_true", help="list blocks and their parameters")
    n.add_argument("--spec", help="spec file (.toml or .json) with field values")
    n.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one field (dotted keys reach nested specs); repeatable")
    n.add_argument("--preset", help="start from one of the block's examples (e.g. sky130: "
                                    "the SKY130 sizing); --spec and --set apply on top")
    n.add_argument("-o", "--output", help="write the deck here instead of stdout")
    n.set_defaults(func=cmd_netlist)

    i = sub.add_parser("inspect", help="summarise a deck (elements, nodes, models, analyses) "
                                       "and flag every line simulate would refuse")
    i.add_argument("file")
    i.set_defaults(func=cmd_inspect)

    s = sub.add_parser("simulate", help="run a deck in ngspice and print its .meas results")
    s.add_argument("file")
    s.add_argument("--timeout", type=_positive_seconds, default=600.0,
                   help="seconds (default 600)")
    s.add_argument("--backend", choices=("auto", "shared", "batch"), default="auto",
                   help="shared: libngspice in a worker process; batch: ngspice -b; auto "
                        "(default): shared for small decks, batch for large ones")
    s.add_argument("--out", metavar="FILE.npz", help="save time, waveforms and .meas values")
    s.add_argument("--plot", metavar="FILE.png", help="plot the saved waveforms")
    s.add_argument("--lib", action="append", metavar="PATH[@SECTION]",
                   help="a model library to include (.lib PATH SECTION, or .include PATH "
                        "without @SECTION); every file it pulls in is vetted first")
    s.set_defaults(func=cmd_simulate)

    w = sub.add_parser("sweep", help="run a phase over a grid and/or Monte-Carlo draws")
    w.add_argument("phase", choices=("mac", "update", "conversion"))
    w.add_argument("--spec", help="point spec file (.toml/.json): the phase's testbench fields")
    w.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one field")
    w.add_argument("--vary", action="append", metavar="KEY=[V1,V2,...]",
                   help="sweep a field over a JSON list of values; several --vary make a grid")
    w.add_argument("--mc", action="append", metavar='PATH={"kind":"normal","sigma":0.02}',
                   help="draw a field per run from a distribution (normal, uniform, "
                        "lognormal, stuck_at); with --n and --seed")
    w.add_argument("--n", type=int, default=1, help="Monte-Carlo draws per grid point")
    w.add_argument("--seed", type=int, default=0,
                   help="Monte-Carlo seed (grid point g uses seed + g)")
    w.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    w.add_argument("--scheduler", help="Dask scheduler address (or CIRCUITSIM_SCHEDULER)")
    w.add_argument("--store", help="result store directory (resumable; default: none)")
    w.add_argument("--timeout", type=_positive_seconds, default=600.0,
                   help="per-point limit, seconds (default 600)")
    w.add_argument("--force", action="store_true",
                   help="start a sweep of more than 100000 points")
    w.set_defaults(func=cmd_sweep)

    e = sub.add_parser("energy", help="simulate one read, update and conversion; energy table")
    e.add_argument("--rows", type=int, default=32, help="array rows (default 32)")
    e.add_argument("--cols", type=int, default=32, help="array columns (default 32)")
    e.add_argument("--bits", type=int, default=5, help="ramp-ADC bits (default 5)")
    e.add_argument("--activation", default="sigmoid", help="ramp activation (default sigmoid)")
    e.add_argument("--p-opamp", type=float, default=20e-6,
                   help="assumed static power per op-amp, W (default 20e-6)")
    e.add_argument("--comparator", choices=["continuous", "strongarm", "both"], default="both",
                   help="ramp-ADC comparator: continuous (static bias), strongarm (clocked "
                        "latch) or both (default)")
    e.set_defaults(func=cmd_energy)

    la = sub.add_parser("latch", help="characterize the StrongARM latch comparator: offset, "
                        "Monte-Carlo offset, kickback, decision time, energy per decision")
    la.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override one LatchCharSpec field (dotted keys reach nested specs)")
    la.add_argument("--quick", action="store_true", help="the small preset (tests, CI)")
    la.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    la.add_argument("--technology", default="ptm45", choices=("ptm45", "sky130"),
                    help="the latch's transistors (sky130: its 1.8 V preset, SkyWater's "
                         "mismatch sigmas in the Monte-Carlo)")
    la.add_argument("--corner", choices=("tt", "ff", "ss", "fs", "sf"),
                    help="with --technology sky130: the process corner")
    la.add_argument("--out", default="runs/latch",
                    help="output directory: summary.md, results.json, offsets.png")
    la.set_defaults(func=cmd_latch)

    tr = sub.add_parser("trim3t1c", help="trim the SKY130 3T1C cell's pulse gate levels per "
                        "process corner so one pulse moves V_C0 as at tt (SPICE, a few s each)")
    tr.add_argument("--corners", default="ff,ss,fs,sf",
                    help="comma-separated corners to trim (default ff,ss,fs,sf)")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override one field of the SKY130 cell preset (Cell3T1CSpec)")
    tr.add_argument("--tol", type=float, default=0.02,
                    help="relative tolerance of each step against tt's (default 0.02)")
    tr.add_argument("--out", default="runs/trim3t1c",
                    help="output directory: trim.md, trim.json, steps.png")
    tr.set_defaults(func=cmd_trim3t1c)

    g = sub.add_parser("golden", help="check (or --update) the golden decks in netlists/")
    g.add_argument("--update", action="store_true")
    g.set_defaults(func=cmd_golden)

    from circuitsim import surrogate_cli, train_cli

    surrogate_cli.add_commands(sub)
    train_cli.add_commands(sub)

    d = sub.add_parser("demo", help="generate every deck, simulate, print figures, plot")
    d.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    d.add_argument("--technology", default="ptm45", choices=("ptm45", "sky130"),
                   help="transistors of the 3T1C cell (update deck, surrogate, training)")
    d.add_argument("--corner", default="tt", help="SKY130 corner: tt ff ss fs sf")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except CircuitsimError as exc:
        print(f"circuitsim: error: {exc}", file=sys.stderr)
        if isinstance(exc, SimError) and exc.run_dir:
            print(f"circuitsim: deck and ngspice log kept in {exc.run_dir}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("circuitsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
