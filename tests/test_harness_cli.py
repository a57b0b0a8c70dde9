"""CLI of the harness: simulate --backend/--out/--plot, sweep grids and Monte-Carlo, energy."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.cli import main
from circuitsim.netlist import golden

pytestmark = pytest.mark.spice


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_writes_npz_and_png_with_either_backend(tmp_path, capsys):
    deck = tmp_path / "tb.cir"
    deck.write_text(dict(golden.examples())["tb_update__mixed.cir"])
    saved = {}
    for backend in ("shared", "batch"):
        npz, png = tmp_path / f"{backend}.npz", tmp_path / f"{backend}.png"
        code, out, _ = run(capsys, "simulate", str(deck), "--backend", backend,
                           "--out", str(npz), "--plot", str(png))
        assert code == 0 and f"({backend} backend)" in out
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with np.load(npz, allow_pickle=False) as data:
            saved[backend] = {k: data[k] for k in data.files}
    assert saved["shared"].keys() == saved["batch"].keys()
    for key in ("meas:vc_1", "meas:g_8"):
        assert saved["shared"][key] == pytest.approx(saved["batch"][key], rel=1e-5)


def test_simulate_rejects_bad_output_names(tmp_path, capsys):
    deck = tmp_path / "tb.cir"
    deck.write_text(dict(golden.examples())["tb_update__mixed.cir"])
    code, _, err = run(capsys, "simulate", str(deck), "--out", str(tmp_path / "x.txt"))
    assert code == 2 and "--out" in err and not (tmp_path / "x.txt").exists()


def test_sweep_grid_table_and_store(tmp_path, capsys):
    store = tmp_path / "store"
    argv = ["sweep", "update", "--set", "pulses=UUDD", "--set", "t_hold=1e-6",
            "--vary", "cell.c=[5e-14, 1e-13]", "--workers", "2", "--store", str(store)]
    code, out, _ = run(capsys, *argv)
    assert code == 0, out
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:2] == ["#", "cell.c"] and "up_mV" in header
    up = [float(line.split()[header.index("up_mV")]) for line in lines[1:3]]
    assert up[0] == pytest.approx(2 * up[1], rel=0.05)  # half the capacitor, twice the step
    assert "2 points: 2 simulated" in out
    code, out, _ = run(capsys, *argv)
    assert "2 from the store" in out


def test_sweep_monte_carlo_spread(capsys):
    code, out, _ = run(capsys, "sweep", "update", "--set", "pulses=UD", "--set", "t_hold=1e-6",
                       "--mc", 'cell.dvt_up={"kind": "normal", "sigma": 0.03}', "--n", "4",
                       "--seed", "7", "--workers", "2")
    assert code == 0 and "Monte-Carlo spread" in out and "4 points: 4 simulated" in out


@pytest.mark.parametrize("argv, needle", [
    (["--vary", "cell.c=5e-14"], "non-empty JSON list"),
    (["--vary", "cell.c=[1e-13"], "not valid JSON"),
    (["--vary", "cell.nosuch=[1]"], "nosuch"),
    (["--mc", 'cell.c={"kind": "gauss"}'], "gauss"),
    (["--n", "3"], "--n=3"),
    (["--workers", "0"], "workers=0"),
])
def test_sweep_bad_input_is_one_line_exit_2(capsys, argv, needle):
    code, _, err = run(capsys, "sweep", "update", "--set", "pulses=UD", *argv)
    assert code == 2 and err.count("\n") == 1 and needle in err


def test_energy_table_lists_ours_and_the_papers(capsys):
    code, out, _ = run(capsys, "energy", "--rows", "8", "--cols", "8", "--bits", "3")
    assert code == 0
    assert "MAC read energy (array)" in out and "3T1C up pulse energy" in out
    assert "3-bit conversion energy" in out and "Ambrogio 2018" in out and "Yang 2025" in out


def test_monte_carlo_grid_points_draw_different_devices():
    from circuitsim.harness_cli import build_points
    from circuitsim.phases import UpdatePoint

    points = build_points(UpdatePoint, {}, ["pulses=UD"], ["t_hold=[1e-6, 2e-6]"],
                          ['cell.dvt_up={"kind": "normal", "sigma": 0.03}'], 2, 5)
    assert [p.t_hold for p in points] == [1e-6, 1e-6, 2e-6, 2e-6]
    draws = [p.cell.dvt_up for p in points]
    assert len(set(draws)) == 4
    again = build_points(UpdatePoint, {}, ["pulses=UD"], ["t_hold=[1e-6, 2e-6]"],
                         ['cell.dvt_up={"kind": "normal", "sigma": 0.03}'], 2, 5)
    assert [p.cell.dvt_up for p in again] == draws
