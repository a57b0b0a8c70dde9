"""Deck safety: every way ngspice can be made to run a command or read a file is refused.

Each variant below is first shown to be real: run as-is by ``ngspice -b`` it creates a marker
file (``shell touch``). Then ``circuitsim simulate`` (both backends) refuses it with exit code 2
and a message naming the line, before ngspice starts, and the marker never appears.
"""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuitsim.cli import main
from circuitsim.errors import NetlistError
from circuitsim.netlist import safety
from circuitsim.spice import ngspice

CIRCUIT = "R1 a 0 1k\nV1 a 0 1\n"
END = ".tran 1n 10n\n.end\n"
SHELL = "shell touch marker"
INC = "x/inc.lib"

#: (id, deck text, line number simulate must name). All of them run SHELL in ngspice 46.
VARIANTS = [
    ("control", f"* t\n{CIRCUIT}.control\n{SHELL}\n.endc\n{END}", 4),
    ("controlx", f"* t\n{CIRCUIT}.controlx\n{SHELL}\n.endcx\n{END}", 4),
    ("CONTROLS", f"* t\n{CIRCUIT}.CONTROLS\n{SHELL}\n.ENDC\n{END}", 4),
    ("control-semicolon", f"* t\n{CIRCUIT}.control;x\n{SHELL}\n.endc\n{END}", 4),
    ("leading-blanks", f"* t\n{CIRCUIT}   .control\n{SHELL}\n.endc\n{END}", 4),
    ("leading-tab", f"* t\n{CIRCUIT}\t.control\n{SHELL}\n.endc\n{END}", 4),
    ("after-end", f"* t\n{CIRCUIT}{END}.control\n{SHELL}\n.endc\n", 6),
    ("in-subckt", f"* t\n.subckt s a\nR1 a 0 1\n.control\n{SHELL}\n.endc\n.ends\n"
                  f"V1 a 0 1\nX1 a s\n{END}", 4),
    ("blank-title", f"\n.control\n{SHELL}\n.endc\n{CIRCUIT}{END}", 2),
    ("no-endc", f"* t\n{CIRCUIT}.tran 1n 10n\n.control\n{SHELL}\n.end\n", 5),
    ("star-hash", f"* t\n{CIRCUIT}*#{SHELL}\n{END}", 4),
    ("blank-star-hash", f"* t\n{CIRCUIT}  *#{SHELL}\n{END}", 4),
    ("ng_script", f"*ng_script\n{SHELL}\n", 1),
    ("NG_SCRIPT", f"*NG_SCRIPT\n{SHELL}\n", 1),
    *[(f"include-{card.strip()}", f"* t\n{CIRCUIT}{card} {INC}\n{END}", 4)
      for card in (".inc", ".incl", ".inclu", ".includ", ".include", ".includes", ".incx",
                   ".INCLUDE", "  .include", ".inc\t")],
    *[(f"lib-{card}", f"* t\n{CIRCUIT}{card} x/sec.lib sec\n{END}", 4)
      for card in (".lib", ".libx", ".LIBRARY")],
]


def _include_files(where):
    (where / "x").mkdir(exist_ok=True)
    (where / INC).write_text(f"* lib\n.control\n{SHELL}\n.endc\n")
    (where / "x/sec.lib").write_text(f"* lib\n.lib sec\n.control\n{SHELL}\n.endc\n.endl\n")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.spice
@pytest.mark.parametrize("text", [v[1] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_ngspice_itself_runs_every_variant(tmp_path, text):
    """The threat is real: ngspice, given the deck directly, runs the shell command."""
    _include_files(tmp_path)
    (tmp_path / "d.cir").write_text(text)
    subprocess.run([ngspice.ngspice_executable(), "-b", "d.cir"], cwd=tmp_path,
                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (tmp_path / "marker").exists()


@pytest.mark.spice
@pytest.mark.parametrize("backend", ["shared", "batch"])
@pytest.mark.parametrize("text, line", [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_simulate_refuses_every_variant(tmp_path, capsys, monkeypatch, backend, text, line):
    _include_files(tmp_path)
    (tmp_path / "d.cir").write_text(text)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "simulate", "d.cir", "--backend", backend)
    assert code == 2 and out == ""
    assert err.startswith(f"circuitsim: error: deck line {line}: ") and err.count("\n") == 1
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("text, line", [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_refused_without_ngspice_exit_2(tmp_path, capsys, monkeypatch, text, line):
    """The check comes before ngspice is looked for: no ngspice is still a user error."""
    monkeypatch.setenv("CIRCUITSIM_NGSPICE", "")
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "d.cir").write_text(text)
    code, _, err = run_cli(capsys, "simulate", str(tmp_path / "d.cir"), "--backend", "batch")
    assert code == 2 and f"deck line {line}:" in err


@pytest.mark.parametrize("text, line", [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_inspect_flags_the_same_line_with_the_same_message(tmp_path, capsys, text, line):
    (tmp_path / "d.cir").write_text(text)
    with pytest.raises(NetlistError) as info:
        safety.check_deck(text)
    code, out, _ = run_cli(capsys, "inspect", str(tmp_path / "d.cir"))
    assert code == 1
    assert f"  {info.value}\n" in out and f"deck line {line}:" in str(info.value)


SECRET = "root:x:0:0:SECRET-7f3a:/root:/bin/bash\n4e-9 SECRET-7f3a\n"


@pytest.mark.parametrize("deck", [
    "* t\n{CIRCUIT}.includex {secret}\n{END}",
    "* t\n{CIRCUIT}.lib {secret} x\n{END}",
    # an XSPICE filesource reads any numeric file into the result; '+' continuation hides it
    "* t\n{CIRCUIT}a1 %v([s]) fs\n.model fs\n+ filesource (file=\"{secret}\")\n{END}",
])
def test_no_file_content_reaches_a_message(tmp_path, capsys, deck):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    (tmp_path / "d.cir").write_text(deck.format(CIRCUIT=CIRCUIT, END=END, secret=secret))
    code, out, err = run_cli(capsys, "simulate", str(tmp_path / "d.cir"))
    assert code == 2 and "SECRET" not in out + err


def test_a_non_library_file_is_refused_without_quoting_it(tmp_path, capsys):
    secret = tmp_path / "passwd"
    secret.write_text(SECRET)
    (tmp_path / "d.cir").write_text(f"* t\n{CIRCUIT}{END}")
    code, out, err = run_cli(capsys, "simulate", str(tmp_path / "d.cir"), "--lib", str(secret))
    assert code == 2 and "SECRET" not in out + err
    assert f"model library file {secret} line 1: an element line outside a .subckt" in err


@given(prefix=st.sampled_from([p for p, _ in safety.PREFIX_KINDS]),
       tail=st.text(alphabet="abcdefghijklmnopqrstuvwxyz;_:,0123456789", max_size=6),
       blanks=st.text(alphabet=" \t", max_size=3), upper=st.lists(st.booleans(), min_size=12,
                                                                   max_size=12))
def test_every_case_and_suffix_of_a_dangerous_card_is_refused(prefix, tail, blanks, upper):
    card = "".join(c.upper() if u else c for c, u in zip(prefix + tail, upper * 2, strict=False))
    found = safety.refusals(f"* t\n{CIRCUIT}{blanks}{card} x\n{END}")
    assert [r.line for r in found] == [4]


def test_no_allowed_card_is_a_prefix_variant_of_a_dangerous_one():
    for card in safety.CARDS:
        assert not card.startswith(tuple(p for p, _ in safety.PREFIX_KINDS)), card
    assert "filesource" not in safety.MODEL_TYPES and "d_process" not in safety.MODEL_TYPES


def test_every_generated_golden_deck_passes_the_allowlist():
    from circuitsim.netlist.golden import GOLDEN_DIR

    decks = sorted(GOLDEN_DIR.glob("*.cir"))
    assert len(decks) >= 10
    for path in decks:  # a technology's library line is vetted when the deck runs
        text = path.read_text().replace('.lib "${CIRCUITSIM_TECH_DIR}/', "* .lib ")
        assert safety.refusals(text) == [], path.name


# ---------------------------------------------------------------- vetted model libraries

def _library(tmp_path, part="* divider\n.subckt rdiv a b\nR1 a b {rval}\n.ends\n"):
    lib = tmp_path / "models" / "corners.lib"
    (lib.parent / "parts").mkdir(parents=True)
    (lib.parent / "parts" / "res.inc").write_text(part)
    lib.write_text("* test PDK\n.lib typ\n.param rval=1k\n.include \"parts/res.inc\"\n.endl\n"
                   ".lib fast\n.param rval=500\n.inc parts/res.inc\n.endl typ\n")
    return lib


@pytest.mark.spice
@pytest.mark.parametrize("backend", ["shared", "batch"])
def test_a_vetted_library_section_runs_and_selects_its_parameters(tmp_path, capsys, backend):
    lib = _library(tmp_path)
    deck = tmp_path / "d.cir"
    deck.write_text("* divider\nV1 a 0 1\nX1 a 0 rdiv\n.tran 1n 10n\n"
                    ".meas tran iv avg i(V1)\n.end\n")
    for section, ohms in (("typ", 1e3), ("fast", 500.0)):
        code, out, err = run_cli(capsys, "simulate", str(deck), "--backend", backend,
                                 "--lib", f"{lib}@{section}")
        assert code == 0, err
        value = float(out.split("iv")[1].split("=")[1])
        assert value == pytest.approx(-1.0 / ohms, rel=1e-6)  # Ohm's law through the section


@pytest.mark.spice
def test_a_command_hidden_in_a_nested_library_file_is_refused(tmp_path, capsys, monkeypatch):
    lib = _library(tmp_path, part=f"* divider\n.subckt rdiv a b\nR1 a b 1k\n.ends\n"
                                  f".controlx\n{SHELL}\n.endc\n")
    deck = tmp_path / "d.cir"
    deck.write_text(f"* divider\nV1 a 0 1\nX1 a 0 rdiv\n{END}")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "simulate", str(deck), "--lib", f"{lib}@typ")
    assert code == 2 and not (tmp_path / "marker").exists()
    assert "parts/res.inc line 5: a card is a control block" in err
    assert SHELL not in err


def test_a_library_changed_after_vetting_is_refused(tmp_path):
    lib = _library(tmp_path)
    vetted = safety.vet_library(lib, "typ")
    deck = f"* t\n{vetted.line()}\nV1 a 0 1\nX1 a 0 rdiv\n{END}"
    safety.check_deck(deck, libraries=[vetted])
    part = lib.parent / "parts" / "res.inc"
    part.write_text(part.read_text() + "* edited\n")
    with pytest.raises(NetlistError, match="changed since it was vetted"):
        safety.check_deck(deck, libraries=[vetted])


def test_include_lines_a_user_writes_are_refused_even_for_a_vetted_file(tmp_path, capsys):
    lib = _library(tmp_path)
    vetted = safety.vet_library(lib, "typ")
    deck = tmp_path / "d.cir"
    deck.write_text(f"* t\n{vetted.line()}\nV1 a 0 1\nX1 a 0 rdiv\n{END}")
    code, _, err = run_cli(capsys, "simulate", str(deck), "--lib", f"{lib}@typ")
    assert code == 2 and "deck line 2: '.lib' is a library include" in err


@pytest.mark.parametrize("arg, needle", [
    ("{lib}@nosuch", "has no section 'nosuch' (has: fast, typ)"),
    ("{lib}@a;b", "not a plain name"),
    ("{tmp}/missing.lib", "does not exist"),
    ("{tmp}/models", "not a regular file"),
])
def test_bad_library_arguments_one_line_exit_2(tmp_path, capsys, arg, needle):
    lib = _library(tmp_path)
    deck = tmp_path / "d.cir"
    deck.write_text(f"* t\n{CIRCUIT}{END}")
    code, _, err = run_cli(capsys, "simulate", str(deck), "--lib",
                           arg.format(lib=lib, tmp=tmp_path))
    assert code == 2 and needle in err and err.count("\n") == 1


def test_empty_continuations_are_harmless():
    """Found by the CLI fuzz test: a lone '+' line made the checker itself fail."""
    assert safety.refusals(f"* t\n+\n{CIRCUIT}+ \n{END}") == []
