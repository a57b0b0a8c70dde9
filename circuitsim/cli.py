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
    spec = specs.build(block.spec, mapping, args.set or [])
    deck = block.generate(spec)
    if args.output:
        from circuitsim.io import write_atomic

        out = Path(args.output)
        if not out.parent.is_dir():
            raise SpecError(f"-o: directory {str(out.parent)!r} does not exist")
        if out.is_dir():
            raise SpecError(f"-o: {str(out)!r} is a directory")
        write_atomic(out, deck)
        print(f"wrote {out} ({len(deck.splitlines())} lines)")
    else:
        sys.stdout.write(deck)
    return 0


def _read_deck(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"FILE: cannot read {path!r}: {getattr(exc, 'strerror', exc)}") from None


def cmd_inspect(args: argparse.Namespace) -> int:
    from circuitsim.netlist.inspect import report, summarize

    print(report(summarize(_read_deck(args.file))))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from circuitsim.spice.ngspice import run_batch

    result = run_batch(_read_deck(args.file), timeout=args.timeout, keep_dir=False)
    print(f"ngspice {result.ngspice_version}, wall time {result.wall_time:.3f} s, "
          f"{len(result.time)} time points, {len(result.signals)} saved vectors")
    if result.meas:
        width = max(len(k) for k in result.meas)
        for key, value in result.meas.items():
            print(f"  {key:<{width}} = {value:.6g}")
    else:
        print("  (no .meas results)")
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


def cmd_demo(args: argparse.Namespace) -> int:
    from circuitsim.demo import run_demo

    run_demo(Path(args.out))
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
    n.add_argument("-o", "--output", help="write the deck here instead of stdout")
    n.set_defaults(func=cmd_netlist)

    i = sub.add_parser("inspect", help="summarise a deck (elements, nodes, models, analyses)")
    i.add_argument("file")
    i.set_defaults(func=cmd_inspect)

    s = sub.add_parser("simulate", help="run a deck in ngspice and print its .meas results")
    s.add_argument("file")
    s.add_argument("--timeout", type=_positive_seconds, default=600.0,
                   help="seconds (default 600)")
    s.set_defaults(func=cmd_simulate)

    g = sub.add_parser("golden", help="check (or --update) the golden decks in netlists/")
    g.add_argument("--update", action="store_true")
    g.set_defaults(func=cmd_golden)

    d = sub.add_parser("demo", help="generate every deck, simulate, print figures, plot")
    d.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
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
