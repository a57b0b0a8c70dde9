"""Fuzzing the command line: generated spec files, ``--set`` values, output paths and decks,
for ``netlist``, ``inspect``, ``simulate``, and (stopped where their work would start) ``train``,
``characterize``, ``sweep``, ``energy`` and ``reproduce``.

For every input: the exit code is 0, 1 (a simulator or setup failure) or 2 (user input), never
a traceback (``main`` returns instead of raising); on exit 2 no existing file changed and no
new file appeared; nothing is ever written outside the requested output. ngspice is hidden
from ``simulate`` so a deck that passes the checks stops at "ngspice not found" (exit 1) and
nothing runs. More examples under the ``slow`` marker: ``CIRCUITSIM_FUZZ_EXAMPLES``.
"""

from __future__ import annotations

import json
import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circuitsim import spec as specs
from circuitsim.cli import main
from circuitsim.netlist import registry

EXAMPLES = int(os.environ.get("CIRCUITSIM_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

BLOCKS = sorted(registry.blocks())


def _field_paths(cls, prefix=""):
    out = []
    for f in specs.fields_of(cls):
        if isinstance(f.type, type) and hasattr(f.type, "__dataclass_fields__"):
            out += _field_paths(f.type, f"{prefix}{f.name}.")
        else:
            out.append(prefix + f.name)
    return out


FIELDS = {b: _field_paths(registry.get(b).spec) for b in BLOCKS}

numbers = st.one_of(
    st.integers(min_value=-10**30, max_value=10**30), st.floats(allow_nan=True),
    st.sampled_from(["nan", "inf", "-inf", "1e308", "-0", "9" * 400, "0x10", "1_000"]))
texts = st.text(alphabet=string.printable + "µ°→\u2028\x85", max_size=40)
nested = st.recursive(st.one_of(numbers.map(str), texts.map(json.dumps)),
                      lambda inner: st.lists(inner, max_size=3).map(lambda xs: f"[{','.join(xs)}]"),
                      max_leaves=8)
values = st.one_of(numbers.map(str), texts, nested, st.just("[" * 3000 + "]" * 3000))


def _snapshot(root):
    return {p: (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")
            if not p.is_symlink() or p.exists()}


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    if code and not (argv[0] == "inspect" and code == 1):  # inspect: 1 = lines flagged
        assert err.startswith("circuitsim: error:") and "Traceback" not in err, (argv, err)
        assert len(err.splitlines()) <= 2  # the error, plus the kept run dir on a sim failure
    return code


@pytest.fixture
def sandbox(tmp_path):
    (tmp_path / "keep.cir").write_text("* mine\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link.cir").symlink_to(tmp_path / "keep.cir")
    os.mkfifo(tmp_path / "fifo.cir")
    return tmp_path


OUTPUTS = ["out.cir", "keep.cir", "dir", "link.cir", "fifo.cir", "missing/x.cir", "/dev/null",
           "/proc/x.cir", ""]


@FUZZ
@given(block=st.sampled_from(BLOCKS), data=st.data(), out=st.sampled_from(OUTPUTS))
def test_netlist_set_values(sandbox, capsys, block, data, out):
    assigns = [f"{data.draw(st.sampled_from(FIELDS[block]))}={data.draw(values)}"
               for _ in range(data.draw(st.integers(1, 3)))]
    argv = ["netlist", block, *(a for x in assigns for a in ("--set", x))]
    target = sandbox / out if out and not out.startswith("/") else out
    if out:
        argv += ["-o", str(target)]
    before = _snapshot(sandbox)
    code = _run(capsys, argv)
    after = _snapshot(sandbox)
    if code == 2 or not out:
        assert after == before
    else:  # only the requested file (or the file its link points to) changed
        changed = {p for p in after if after[p] != before.get(p, "absent")}
        real = os.path.realpath(target)
        assert all(os.path.realpath(p) == real for p in changed), changed


spec_docs = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), st.integers(-10**20, 10**20), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["rows", "cols", "cell", "c",
                                                              "crossbar", "n", "x", "zz"]),
                                            inner, max_size=4)), max_leaves=20)


@FUZZ
@given(block=st.sampled_from(BLOCKS), doc=spec_docs, raw=st.binary(max_size=64),
       kind=st.sampled_from([".json", ".toml", ".txt", "raw"]))
def test_netlist_spec_files(sandbox, capsys, block, doc, raw, kind):
    path = sandbox / f"s{kind if kind != 'raw' else '.json'}"
    if kind == "raw":
        path.write_bytes(raw)
    else:
        path.write_text(json.dumps(doc) if kind != ".toml" else f"x = {json.dumps(doc)}\n")
    before = _snapshot(sandbox)
    _run(capsys, ["netlist", block, "--spec", str(path)])
    assert _snapshot(sandbox) == before


deck_lines = st.one_of(
    st.sampled_from(["R1 a 0 1k", "V1 a 0 1", ".tran 1n 10n", ".control", "shell touch m",
                     ".endc", ".incl x", "*#shell touch m", "+ .control", ".model m nmos",
                     ".model f filesource", ".end", "  .lib x y", "* c", "", ".param p=1"]),
    texts)


@FUZZ
@given(lines=st.lists(deck_lines, max_size=8), backend=st.sampled_from(["batch", "shared"]))
def test_inspect_and_simulate_decks_without_ngspice(sandbox, capsys, monkeypatch, lines,
                                                    backend):
    monkeypatch.setenv("CIRCUITSIM_NGSPICE", str(sandbox / "no-ngspice"))
    monkeypatch.setenv("PATH", str(sandbox / "dir"))
    monkeypatch.chdir(sandbox)
    deck = sandbox / "d.cir"
    deck.write_text("\n".join(["* fuzz", *lines]) + "\n")
    before = _snapshot(sandbox)
    assert _run(capsys, ["inspect", str(deck)]) in (0, 1)
    if backend == "batch":  # the shared backend would load libngspice: batch only
        _run(capsys, ["simulate", str(deck), "--backend", "batch"])
    assert _snapshot(sandbox) == before and not (sandbox / "m").exists()


class ReachedWork(Exception):
    """Raised where a command would start its simulations or training: the input was valid."""


def _stop(*_args, **_kwargs):
    raise ReachedWork


WORK_COMMANDS = {  # command -> (argv prefix, spec class, the entry that starts the work)
    "train": (["train", "--no-progress"], "circuitsim.train.config:TrainSpec",
              "circuitsim.train.loop:run"),
    "characterize-update": (["characterize", "update"],
                            "circuitsim.characterize.update:UpdateCharSpec",
                            "circuitsim.surrogate.service:characterize"),
    "characterize-mac": (["characterize", "mac"], "circuitsim.characterize.mac:MacCharSpec",
                         "circuitsim.surrogate.service:characterize"),
    "sweep-update": (["sweep", "update"], "circuitsim.netlist.tb_update:UpdateTestbenchSpec",
                     "circuitsim.sweep:sweep"),
}


def _resolve(ref):
    import importlib

    module, _, name = ref.partition(":")
    return importlib.import_module(module), name


@FUZZ
@given(command=st.sampled_from(sorted(WORK_COMMANDS)), data=st.data())
def test_commands_that_start_work_validate_first(sandbox, capsys, monkeypatch, command, data):
    """Random --set values for the commands that simulate or train: either a one-line error
    (exit 2, nothing written) or valid input, stopped where the work would begin."""
    argv, spec_ref, entry_ref = WORK_COMMANDS[command]
    module, name = _resolve(spec_ref)
    fields = _field_paths(getattr(module, name))
    entry_module, entry = _resolve(entry_ref)
    monkeypatch.setattr(entry_module, entry, _stop)
    monkeypatch.chdir(sandbox)
    assigns = [f"{data.draw(st.sampled_from(fields))}={data.draw(values)}"
               for _ in range(data.draw(st.integers(1, 2)))]
    before = _snapshot(sandbox)
    try:
        code = _run(capsys, [*argv, *(a for x in assigns for a in ("--set", x))])
    except ReachedWork:
        return
    assert code == 2 and _snapshot(sandbox) == before


flag_values = st.one_of(numbers.map(str), texts.filter(lambda t: not t.startswith("-")))


@FUZZ
@given(data=st.data())
def test_energy_flags_are_validated_before_any_simulation(data):
    """The energy command's flags: parsed and turned into specs (the step before its
    simulations), every bad value a one-line SpecError or an argparse error (exit 2)."""
    from circuitsim.cli import parser
    from circuitsim.errors import CircuitsimError
    from circuitsim.harness_cli import energy_inputs

    flags = data.draw(st.lists(st.sampled_from(["--rows", "--cols", "--bits", "--activation",
                                                "--p-opamp"]), min_size=1, max_size=3,
                               unique=True))
    argv = ["energy", *(f"{flag}={data.draw(flag_values)}" for flag in flags)]
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # a value of the wrong type: usage + one error line
        assert exc.code == 2
        return
    try:
        energy_inputs(args)
    except CircuitsimError as exc:
        assert exc.exit_code == 2 and "\n" not in str(exc) and len(str(exc)) < 400


@FUZZ
@given(data=st.data())
def test_reproduce_flags(sandbox, capsys, monkeypatch, data):
    """``--seeds`` of every reproduction: a one-line error and nothing written, or valid input
    stopped where its training runs would begin."""
    import importlib

    from circuitsim.train_cli import REPRODUCTIONS

    monkeypatch.chdir(sandbox)
    name = data.draw(st.sampled_from(REPRODUCTIONS))
    monkeypatch.setattr(importlib.import_module(f"circuitsim.reproduce.{name}"), "run", _stop)
    argv = ["reproduce", name, "--fast", "--no-progress", "--out", str(sandbox / "r"),
            f"--seeds={data.draw(flag_values)}"]
    before = _snapshot(sandbox)
    try:
        code = main(argv)
    except ReachedWork:
        return
    except SystemExit as exc:  # argparse: not an integer
        assert exc.code == 2
        code = 2
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err and _snapshot(sandbox) == before
