"""``circuitsim train`` / ``circuitsim reproduce`` end to end (real surrogates, QUICK presets)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from circuitsim.cli import main
from circuitsim.train.data import write_idx


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_train_writes_results_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--dataset", "digits", "--rule", "ambrogio", "--epochs", "1",
                 "--set", "max_train=300", "--set", "ambrogio.transfer_every=100",
                 "--set", "ambrogio.cell_c=1e-13",  # the session's QUICK update surrogate
                 "--no-progress", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "digits ambrogio: test accuracy" in printed
    res = json.loads((out / "results.json").read_text())
    assert res["spec"]["rule"] == "ambrogio" and len(res["history"]) == 1
    # it learns: one epoch of 300 images (seed 0) reached 42 % test accuracy, loss 1.64
    # (chance: 10 %, ln 10 = 2.30)
    last = res["history"][-1]
    assert last["test_acc"] > 0.25 and last["test_loss"] < 2.0
    assert {"mac", "update", "adc"} <= set(res["surrogates"])
    polarities = [e["polarity"] for e in res["events"] if e["layer"] == 0]
    assert len(polarities) == 4  # initial programming + 3 transfers of 100 images
    assert all(a == -b for a, b in zip(polarities, polarities[1:], strict=False))
    for name in ("curves.png", "weights.png", "transfers.png", "report.md"):
        assert (out / name).stat().st_size > 0


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_train_on_tiny_idx_mnist(tmp_path, capsys):
    rng = np.random.default_rng(0)
    d = tmp_path / "mnist"
    d.mkdir()
    for prefix, n in (("train", 60), ("t10k", 20)):
        write_idx(d / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(d / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8))
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--data-path", str(d), "--rule", "pulse",
                 "--epochs", "1", "--no-progress", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["dataset"]["n_train"] == 60 and res["dataset"]["n_test"] == 20
    assert list(res["dataset"]["x_shape"])[-1] == 784  # flattened 28x28, the 784-250-10 MLP
    capsys.readouterr()


@pytest.mark.parametrize("argv, needle", [
    (["--set", "rule=quantum"], "rule"),
    (["--dataset", "mnist"], "data_path"),
    (["--set", "ambrogio.gain_f=-1"], "gain_f=-1"),
    (["--set", "nosuch=1"], "nosuch"),
    (["--rule", "float", "--epochs", "1", "--set", "max_train=3", "--set", "lr=1e300"],
     "diverged"),
    (["--dataset", "mnist", "--data-path", "/nonexistent/idx"], "path"),
    (["--dataset", "fashion-mnist", "--data-path", "/nonexistent/idx"],
     "apt-get install dataset-fashion-mnist"),
    (["--hidden", "250,x"], "hidden='250,x'"),
    (["--hidden", "0"], "hidden='0'"),
])
def test_train_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, needle):
    out = tmp_path / "run"
    assert main(["train", "--no-progress", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    assert not out.exists()  # nothing written


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.parametrize("name", ["ambrogio2018", "sbp2018"])
@pytest.mark.slow
def test_reproduce_fast_writes_table_and_plot(tmp_path, capsys, name):
    out = tmp_path / name
    assert main(["reproduce", name, "--fast", "--seeds", "1", "--no-progress",
                 "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["fast"] and len(res["rows"]) >= 3
    assert res["rows"][0]["configuration"].startswith("float")
    report = (out / "report.md").read_text()
    assert "FAST MODE" in report and "**Verdict.**" in report and "**Decision rule**" in report
    assert all((out / p).stat().st_size > 0 for p in res["plots"])
    # on seed 0 (300 digits, 3 epochs) the networks learn: measured 79 % float, SBP 75-78 %,
    # 2PCM+3T1C 77 % with polarity inversion and 50 % without it (chance: 10 %)
    acc = {r["configuration"]: r["mean"] for r in res["rows"]}
    if name == "ambrogio2018":
        assert acc["float"] > 60 and acc["2PCM+3T1C + PI"] > 60
        assert acc["2PCM+3T1C + PI"] > acc["2PCM+3T1C, no PI"] + 10
    else:
        assert min(acc.values()) > 50
    capsys.readouterr()


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_reproduce_mnist1d_ablation_fast(tmp_path, capsys):
    """The MNIST-1D ablation's pipeline: every configuration trains on the same seed, the
    report gives each one's paired difference and a verdict naming what limits the run."""
    from circuitsim.reproduce import mnist1d

    out = tmp_path / "m1d"
    assert main(["reproduce", "mnist1d", "--fast", "--seeds", "2", "--no-progress",
                 "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert [r["configuration"] for r in res["rows"]] == [c for c, _ in mnist1d.CONFIGS]
    assert all(r["n"] == 2 and 0 < r["mean"] <= 100 for r in res["rows"])
    assert all(0 < float(r[mnist1d.TRAIN]) <= 100 for r in res["rows"])
    assert mnist1d.TRAIN in res["columns"]
    assert "Per configuration: output ADC range ±48" in res["verdict"]
    assert ("Limiting" in res["verdict"]) or ("No single ablation" in res["verdict"])
    assert all((out / p).stat().st_size > 0 for p in res["plots"])
    capsys.readouterr()


@pytest.mark.spice
@pytest.mark.slow
def test_spot_checks_log_surrogate_vs_spice_during_training(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--spot-every", "100", "--set", "max_train=100",
                 "--set", "ambrogio.cell_c=1e-13",  # the session's QUICK update surrogate
                 "--no-progress", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    kinds = {c["kind"]: c for c in res["spot_checks"]}
    assert set(kinds) == {"mac", "update"} and all(c["step"] == 100 for c in kinds.values())
    mac = kinds["mac"]["metrics"]
    assert mac["rms_pct_fs"] < 1.0 and mac["rms_pct_fs"] < mac["ideal_rms_pct_fs"]
    assert kinds["update"]["metrics"]["dg_rms_pct_mean_step"] < 5.0
    assert (out / "spot_checks.png").stat().st_size > 0
    capsys.readouterr()
