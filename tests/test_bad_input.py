"""Every bad input: one line, exit 2, nothing written, no work started (issue: reliability)."""

from __future__ import annotations

import pytest

from circuitsim.cli import main
from circuitsim.errors import SpecError
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.crossbar import CrossbarSpec

MC = 'cell.dvt_up={"kind":"normal","sigma":0.03}'


def _deep(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    nested = "[" * 5000 + "]" * 5000
    path.write_text(f'{{"rows": {nested}}}' if suffix == ".json" else f"rows = {nested}\n")
    return path


@pytest.mark.parametrize("argv, needle", [
    (["netlist", "crossbar", "--spec", "{deep_json}"], "nested too deeply"),
    (["netlist", "crossbar", "--spec", "{deep_toml}"], "nested too deeply"),
    (["netlist", "crossbar", "--set", "rows=" + "9" * 5000], "(5002 chars) as int"),
    (["netlist", "tb_update", "--set", "t_hold=1e308"], "outside the physical range |x| <= 10 s"),
    (["netlist", "cell3t1c", "--set", "c=1"], "outside the physical range |x| <= 1e-06 F"),
    (["netlist", "cell3t1c", "--set", "w_read=nan"], "w_read"),
    (["energy", "--p-opamp", "inf"], "--p-opamp=inf"),
    (["latch", "--set", "offset_steps=1"], "offset_steps=1: must be 3 .. 500"),
    (["sweep", "update", "--set", "pulses=UD", "--mc", MC, "--n", "1000000000"],
     "1e+09 runs would take ~"),
    (["sweep", "update", "--store", "{file}"], "not a directory"),
    (["characterize", "update", "--set", "mc_trials=1000000000"], "need 3..100000 trials"),
    (["train", "--seed", "-1"], "seed=-1: must be in 0..2**32-1"),
    (["train", "--hidden", "10000000"], "must be <= 16384"),
    (["train", "--epochs", "100000000"], "epochs=100000000: must be <= 10000"),
    (["reproduce", "ambrogio2018", "--seeds", "1000000000"], "must be in 1..1000"),
    (["characterize", "adc", "--set", "mc_trials=1e9"], "must be in 0..100000"),
    (["sweep", "update", "--set", "pulses=UD", "--mc", MC, "--n", "0"], "--n=0"),
    (["demo", "--corner", "ss", "--out", "{out}"], "corners need --technology sky130"),
    (["demo", "--technology", "sky130", "--corner", "xx", "--out", "{out}"], "--corner=xx"),
    (["train", "--set", "ambrogio.corner=ff"], "corners other than tt need technology=sky130"),
    (["train", "--set", "ambrogio.technology=tsmc"], "technology='tsmc'"),
    (["surrogate", "fit", "update", "--technology", "sky130", "--corner", "zz"],
     "'zz' is not one of"),
    (["explore", "--vary", "nope=[1]", "--out", "{out}"], "nope"),
    (["explore", "--vary", "act_bits=[4,7]", "--out", "{out}"], "act_bits=7"),
    (["explore", "--vary", "act_bits=4", "--out", "{out}"], "non-empty JSON list"),
    (["explore", "--rules", "ambrogio,float", "--out", "{out}"], "--rules: 'float'"),
    (["explore", "--seeds", "0", "--out", "{out}"], "--seeds=0"),
    (["explore", "--set", "ledger.enabled=false", "--out", "{out}"], "ledger.enabled"),
])
def test_one_line_exit_2_nothing_written(tmp_path, capsys, argv, needle):
    (tmp_path / "file").write_text("mine\n")
    paths = {"deep_json": _deep(tmp_path, ".json"), "deep_toml": _deep(tmp_path, ".toml"),
             "file": tmp_path / "file", "out": tmp_path / "demo"}
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    code = main([a.format(**paths) if a.startswith("{") else a for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.startswith("circuitsim: error:") and err.count("\n") == 1 and needle in err
    assert len(err) < 400
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_specs_built_in_python_are_as_strict_as_files():
    with pytest.raises(SpecError, match=r"^rows: expected an integer, got 4.0$"):
        CrossbarSpec(rows=4.0)
    with pytest.raises(SpecError, match=r"^t_pulse=20\.0: outside the physical range"):
        Cell3T1CSpec(t_pulse=20.0)
    assert CrossbarSpec(rows=4).rows == 4 and Cell3T1CSpec(c=1e-13).c == 1e-13
