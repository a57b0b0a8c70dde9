"""The LSTM reproductions (gokmen2018, yang2025) at scale ``fast``: report.md, results.json
and the PNG are written, with one row per point, intervals over seeds, the decision rule and
a verdict."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from circuitsim.reproduce import gokmen2018, yang2025
from circuitsim.reproduce.common import GridOptions
from circuitsim.store import ResultStore
from circuitsim.train import data

QUIET = GridOptions(workers=1, progress=False)


def _gok_status():
    """``scripts/gok_status.py`` as a module."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "gok_status.py"
    spec = importlib.util.spec_from_file_location("gok_status", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.spice  # pulse rule: the MAC surrogate (SPICE on a cold cache)
@pytest.mark.slow
def test_gokmen2018_fast(tmp_path):
    store = tmp_path / "store"
    rep = gokmen2018.run(tmp_path, seeds=1, scale="fast",
                         grid=GridOptions(workers=1, progress=False, store=store))
    rep.write(tmp_path)
    res = json.loads((tmp_path / "results.json").read_text())
    md = (tmp_path / "report.md").read_text()
    assert (tmp_path / "gokmen2018.png").stat().st_size > 10_000
    assert res["fast"] is True and "FAST MODE" in md and rep.verdict in md
    assert "**Decision rule**" in md and res["rule"] == gokmen2018.RULE
    cfg = gokmen2018.SCALES["fast"]
    sweeps = [(r["sweep"], r["setting"]) for r in res["rows"]]
    assert sweeps == [("float", "float weights (SGD)"), ("asymmetry (mean)", "0 %"),
                      ("asymmetry (mean)", "5 %"), ("input bits", "3 bit"),
                      ("input bits", "5 bit"), ("input bits", "ideal"),
                      ("input bits, stochastic rounding", "3 bit")]
    rows = {s: r for s, r in zip(sweeps, res["rows"], strict=True)}
    assert rows[("input bits", "3 bit")]["reference"] == "input bits ideal"
    # one seed: the paired interval is unbounded, so nothing can be decided (and strict JSON
    # writes the unbounded ends as null)
    assert math.isinf(rep.rows[2]["diff_hi"])
    assert rows[("asymmetry (mean)", "5 %")]["diff_hi"] is None
    # every configuration learned the characters' frequencies at least: below the loss of a
    # uniform guess, ln(vocabulary) = ln 77 = 4.34 nats/char (measured: 3.96 float, at most
    # 4.03 analog; an LSTM that does not learn stays at ~4.34)
    n_vocab = len(data.load("text", **cfg["data"]).vocab)
    for r in res["rows"]:
        assert r["mean"] < math.log(n_vocab) - 0.2 and len(r["values"]) == 1
    assert "Asymmetry:" in res["verdict"]
    # the status script plans the same keys and reads every run back from the store
    points, runs, done = _gok_status().finished(ResultStore(store), "fast", 1)
    assert (runs, done) == (7, 7)
    assert [v[0] for *_, v in points] == [r["values"][0] for r in res["rows"]]


def test_gok_status_pairs_a_partial_grid_on_common_seeds():
    """A point with seeds 0-2 done against a reference with seeds 1-3: the difference is
    over seeds 1 and 2; a lone seed gives its value without an interval."""
    points = [("asymmetry (mean)", "0 %", 0.0, {1: 1.80, 2: 1.90, 3: 1.70}),
              ("asymmetry (mean)", "2 %", 2.0, {0: 2.50, 1: 2.60, 2: 2.80}),
              ("asymmetry (mean)", "5 %", 5.0, {3: 3.00}),
              ("input bits", "4 bit", 4.0, {})]
    rows = _gok_status().table(points)[2:]
    assert rows[0].startswith("| asymmetry (mean) | 0 % | 3 | 1.800 [") and "| — |" in rows[0]
    assert "| +0.850 [" in rows[1] and "(n = 2)" in rows[1]  # (0.80 + 0.90) / 2
    assert "| 3.000 (one seed) | +1.300 (one seed) |" in rows[2]
    assert rows[3] == "| input bits | 4 bit | 0 | — | — |  |"  # its ideal DAC is not in the list


def test_gokmen2018_verdict_reads_needed_bits_from_paired_intervals():
    """Synthetic losses on five seeds: rounded inputs are worse than the ideal DAC up to
    6 bits and the same from 7 on, stochastic rounding is the same at every width tried; 2 %
    mean asymmetry is worse by 0.1 nats/char. The verdict names 7 bits, '<= 3' for the
    narrowest stochastic width, and asymmetry shown."""
    cfg = {"train": {"hidden": 8, "batch": 16}, "asym": (0, 2), "asym_d2d": (),
           "bits": (5, 6, 7, 8, 0), "sr_bits": (3, 4)}
    pts = gokmen2018.points(cfg)
    noise = [0.004, -0.003, 0.001, -0.002, 0.000]
    extra = {("asymmetry (mean)", 2.0): 0.1, ("input bits", 5.0): 0.3,
             ("input bits", 6.0): 0.08}
    losses = [[1.5 + extra.get((sweep, x), 0.0) + e * (1 + i) for e in noise]
              for i, (sweep, _, x, _) in enumerate(pts)]
    v = gokmen2018.verdict(gokmen2018.rows_of(pts, losses))
    assert v.startswith("Asymmetry: shown; input bits: qualitatively shown")
    assert ("needed input bits: 7 rounded to nearest, <= 3 (the narrowest tried) with "
            "stochastic rounding") in v
    assert "worse from 2 % on" in v


@pytest.mark.spice  # pulse rule and the QUICK ramp-ADC surrogate
@pytest.mark.slow
def test_yang2025_fast(tmp_path):
    rep = yang2025.run(tmp_path, seeds=2, scale="fast", grid=QUIET)
    rep.write(tmp_path)
    res = json.loads((tmp_path / "results.json").read_text())
    md = (tmp_path / "report.md").read_text()
    assert (tmp_path / "yang2025.png").stat().st_size > 10_000
    assert res["fast"] is True and rep.verdict in md and "Not tested at 5 bits" in rep.verdict
    labels = [r["configuration"] for r in res["rows"]]
    assert labels == ["float weights, float gates (context)", "ideal devices, float gates"] + [
        f"ideal devices, {b}-bit ramp-ADC gates" for b in yang2025.SCALES["fast"]["bits"]]
    ref = res["rows"][1]
    assert ref["decision"] == "reference" and ref["diff"] == 0 and ref["n"] == 2
    for r in res["rows"][2:]:
        # the ADC tables are what the gates compute: each changes the runs (a table that is
        # not used repeats the float-gate runs to the last bit)
        assert r["per seed"] != ref["per seed"]
        assert r["diff_lo"] <= r["diff"] <= r["diff_hi"] and math.isfinite(r["diff_lo"])
        assert r["decision"] in ("equivalent", "different", "undecided")
