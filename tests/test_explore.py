"""``circuitsim explore``: the Pareto front, the grid of configurations, and a real (tiny)
exploration from the command line that resumes from its store."""

from __future__ import annotations

import json

import pytest

from circuitsim.cli import main
from circuitsim.errors import SpecError
from circuitsim.reproduce.explore import DesignPoint, configs, pareto, spec_of
from circuitsim.train.config import TrainSpec


def test_pareto_front_by_hand():
    acc = [90.0, 95.0, 95.0, 80.0, 97.0, 90.0]
    energy = [1.0, 2.0, 3.0, 0.5, 10.0, 1.0]
    # (95, 3) is beaten by (95, 2); the two (90, 1) tie and both stay
    assert pareto(acc, energy, tie=0.0) == [True, True, False, True, True, True]
    # within 0.5 % energies are equal: 96 % at 70.2 beats 95 % at 70.0 (not the reverse)
    assert pareto([95.0, 96.0], [70.0, 70.2]) == [False, True]
    assert pareto([95.0, 96.0], [70.0, 71.0]) == [True, True]


def test_configurations_are_rules_times_axis_values():
    cfgs = configs([("act_bits", [3, 4]), ("comparator", ["continuous", "strongarm"])],
                   ["ambrogio", "pcm"])
    assert len(cfgs) == 8 and len(set(cfgs)) == 8
    c = DesignPoint("ambrogio", (("ambrogio.cell_c", 2e-13), ("comparator", "strongarm")))
    spec = spec_of(TrainSpec(), c, 3)
    assert (spec.rule, spec.seed, spec.ambrogio.cell_c, spec.comparator) == (
        "ambrogio", 3, 2e-13, "strongarm")
    assert c.label == "ambrogio ambrogio.cell_c=2e-13 comparator=strongarm"
    with pytest.raises(SpecError, match="float"):
        configs([], ["float"])
    with pytest.raises(SpecError, match="nope"):
        spec_of(TrainSpec(), DesignPoint("ambrogio", (("nope", 1),)), 0)


@pytest.mark.spice  # the QUICK surrogates and the ledger's price decks
def test_explore_cli_prices_every_run_plots_the_front_and_resumes(tmp_path, capsys):
    out, store = tmp_path / "x", tmp_path / "store"
    argv = ["explore", "--epochs", "1", "--set", "max_train=40",
            "--set", "ambrogio.cell_c=1e-13", "--vary", "periphery.out_bits=[7,9]",
            "--seeds", "2", "--workers", "1", "--store", str(store), "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    res = json.loads((out / "results.json").read_text())
    rows = {r["configuration"]: r for r in res["rows"]}
    assert set(rows) == {"float", "ambrogio periphery.out_bits=7",
                         "ambrogio periphery.out_bits=9"}
    e7 = rows["ambrogio periphery.out_bits=7"]["energy_J"]
    e9 = rows["ambrogio periphery.out_bits=9"]["energy_J"]
    assert 0 < e7 < e9  # a 9-bit output conversion counts 4x the ramp steps of a 7-bit one
    assert rows["ambrogio periphery.out_bits=7"]["Pareto"] == "yes"
    assert (out / "pareto.png").stat().st_size > 10_000
    assert "6 runs: 6 trained now" in res["notes"][0]
    capsys.readouterr()
    assert main(argv) == 0  # a rerun reads every run back
    assert "6 runs: 0 trained now" in json.loads((out / "results.json").read_text())[
        "notes"][0]
