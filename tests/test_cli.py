"""The command line: decks out, one-line errors with exit code 2, nothing half-written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from circuitsim.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_block_with_units(capsys):
    code, out, _ = run(capsys, "netlist", "--list")
    assert code == 0
    for block in ("crossbar", "cell3t1c", "ramp", "comparator", "tb_mac", "tb_update",
                  "tb_conversion"):
        assert f"\n{block}  [" in "\n" + out
    assert "r_row = 0.0 [Ohm]" in out


@pytest.mark.spice
def test_netlist_to_file_then_inspect_and_simulate(tmp_path, capsys):
    spec = tmp_path / "mac.toml"
    spec.write_text('direction = "forward"\n[crossbar]\nrows = 3\ncols = 2\nr_row = 1.5\n')
    deck = tmp_path / "mac.cir"
    code, out, _ = run(capsys, "netlist", "tb_mac", "--spec", str(spec),
                       "--set", "crossbar.r_col=2.0", "-o", str(deck))
    assert code == 0 and deck.exists()
    text = deck.read_text()
    assert "Rr2_1 r2_0 r2_1 1.5" in text and "Rc2_1 c2_1 col_1 2" in text
    code, out, _ = run(capsys, "inspect", str(deck))
    assert code == 0
    assert "resistor: 18" in out  # 6 cells + 6 row + 6 column segments
    assert "options: klu" in out and ".tran" in out
    code, out, _ = run(capsys, "simulate", str(deck))
    assert code == 0
    assert "i0" in out and "q1" in out


@pytest.mark.parametrize("argv, needle", [
    (["netlist", "nosuchblock"], "nosuchblock"),
    (["netlist", "crossbar", "--set", "nosuchkey=1"], "nosuchkey"),
    (["netlist", "crossbar", "--set", "rows=-3"], "rows=-3"),
    (["netlist", "crossbar", "--set", "g_min=1e-3"], "g_min=0.001"),
    (["netlist", "crossbar", "--set", "rows=abc"], "rows"),
    (["netlist", "crossbar", "--set", "cell=1R\n.control"], "cell"),
    (["netlist", "tb_mac", "--set", "crossbar.cols=0"], "cols=0"),
    (["netlist", "tb_update", "--set", "pulses=UU;shell"], "UU;shell"),
    (["netlist", "crossbar", "--spec", "/nonexistent/spec.toml"], "spec.toml"),
    (["netlist", "ramp", "--set", "activation=table", "--set", "table_x=[-1, 0, 1]",
      "--set", "table_f=[0, 1, 0.5]"], "decreases between"),
    (["netlist", "ramp", "--set", "activation=softsign"], "softsign"),
    (["netlist", "tb_conversion", "--set", "ramp.bits=5", "--set", "ramp.g_max=2e-5"],
     "ramp.g_max=2e-05"),
    (["netlist", "crossbar", "--set", "g_seed=-1"], "g_seed=-1"),
    (["netlist", "tb_mac", "--set", "crossbar.rows=0"], "crossbar.rows=0"),
    (["netlist", "crossbar", "--set", "rows=" + "9" * 5000], "rows"),
])
def test_bad_input_one_line_exit_2_no_output(tmp_path, capsys, argv, needle):
    out_file = tmp_path / "deck.cir"
    code, out, err = run(capsys, *argv, "-o", str(out_file))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("circuitsim: error:")
    assert needle in err
    assert not out_file.exists() and list(tmp_path.iterdir()) == []


def test_tabulated_monotonic_activation_is_accepted(capsys):
    code, out, _ = run(capsys, "netlist", "ramp", "--set", "activation=table",
                       "--set", "table_x=[-2, 0, 2]", "--set", "table_f=[0, 0.2, 1]")
    assert code == 0 and ".subckt ramp_column" in out


def test_output_path_is_a_directory(tmp_path, capsys):
    code, _, err = run(capsys, "netlist", "crossbar", "-o", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["simulate", "x.cir", "--timeout", "nan"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "--timeout" in err


def test_non_utf8_and_non_table_spec_files(tmp_path, capsys):
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"rows = \xff\xfe\n")
    code, _, err = run(capsys, "netlist", "crossbar", "--spec", str(binary))
    assert code == 2 and "UTF-8" in err
    scalar = tmp_path / "scalar.toml"
    scalar.write_text("crossbar = 5\n")
    code, _, err = run(capsys, "netlist", "tb_mac", "--spec", str(scalar),
                       "--set", "crossbar.rows=2")
    assert code == 2 and "crossbar" in err


def test_malformed_spec_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("rows = [1, \n")
    code, _, err = run(capsys, "netlist", "crossbar", "--spec", str(bad))
    assert code == 2 and "bad.toml" in err


@pytest.mark.spice
def test_simulate_reports_a_broken_deck(tmp_path, capsys):
    deck = tmp_path / "broken.cir"
    deck.write_text("* broken\nR1 a 0 1k\nV1 a 0 dc 1\nQ9 x y\n.tran 1n 10n\n.end\n")
    code, _, err = run(capsys, "simulate", str(deck))
    assert code == 1 and "ngspice failed" in err


def test_simulate_refuses_control_blocks(tmp_path, capsys):
    deck = tmp_path / "ctl.cir"
    deck.write_text("* c\nR1 a 0 1k\nV1 a 0 1\n.control\nshell touch pwned\n.endc\n.end\n")
    code, _, err = run(capsys, "simulate", str(deck))
    assert code == 2 and ".control" in err
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("text, needle", [
    ("*ng_script\nshell touch pwned\n.end\n", "ng_script"),
    ("* t\nR1 a 0 1k\rshell touch pwned\nV1 a 0 1\n.end\n", "control character"),
    ("* t\nR1 a 0 1k\x0b.control\nV1 a 0 1\n.end\n", "control character"),
    ("* t\nR1 a 0 1k\nV1 a 0 1\n", ".end"),
    ("* t\n*# shell touch pwned\nR1 a 0 1k\nV1 a 0 1\n.end\n", "*#"),
    ("* t\n.include evil.inc\nR1 a 0 1k\nV1 a 0 1\n.end\n", ".include"),
])
def test_simulate_refuses_scripts_and_hidden_lines(tmp_path, capsys, text, needle):
    deck = tmp_path / "d.cir"
    deck.write_bytes(text.encode())
    code, _, err = run(capsys, "simulate", str(deck), "--backend", "batch")
    assert code == 2 and needle in err
    assert not (tmp_path / "pwned").exists()


def test_console_script_exit_code():
    proc = subprocess.run([sys.executable, "-m", "circuitsim.cli", "netlist", "crossbar",
                           "--set", "rows=0"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "circuitsim: error: rows=0: must be > 0"
    assert proc.stdout == ""
