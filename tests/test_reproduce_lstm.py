"""The LSTM reproductions (gokmen2018, yang2025) in fast mode: report.md, results.json and the
PNG are written, with one row per sweep point and a verdict."""

from __future__ import annotations

import json
import math

import pytest

from circuitsim.reproduce import gokmen2018, yang2025
from circuitsim.train import data


@pytest.mark.spice  # pulse rule: the MAC surrogate (SPICE on a cold cache)
@pytest.mark.slow
def test_gokmen2018_fast(tmp_path):
    rep = gokmen2018.run(tmp_path, fast=True, progress=False)
    res = json.loads((tmp_path / "results.json").read_text())
    md = (tmp_path / "report.md").read_text()
    assert (tmp_path / "gokmen2018.png").stat().st_size > 10_000
    assert res["fast"] is True and "FAST MODE" in md and rep.verdict in md
    sweeps = [(r["sweep"], r["setting"]) for r in res["rows"]]
    n_bits = len(gokmen2018.IN_BITS)
    assert len(sweeps) == 1 + 2 * len(gokmen2018.ASYMMETRY) + 2 * n_bits - 1
    assert sweeps[0] == ("float", "float weights (SGD)")
    assert ("asymmetry (mean)", "5 %") in sweeps
    assert ("asymmetry (device spread)", "10 %") in sweeps
    assert ("input bits", "ideal") in sweeps
    assert ("input bits, stochastic rounding", "5 bit") in sweeps
    rows = {(r["sweep"], r["setting"]): r for r in res["rows"]}
    # the 0 % devices and the 7-bit point are one and the same run
    base = rows[("input bits", "7 bit")]["test loss [nats/char]"]
    assert rows[("asymmetry (mean)", "0 %")]["test loss [nats/char]"] == base
    assert rows[("asymmetry (device spread)", "0 %")]["test loss [nats/char]"] == base
    # every configuration learned the characters' frequencies at least: below the loss of a
    # uniform guess, ln(vocabulary) = ln 77 = 4.34 nats/char (measured: 3.96 float, at most
    # 4.03 analog; an LSTM that does not learn stays at ~4.34)
    n_vocab = len(data.load("text", **gokmen2018.FAST["data"]).vocab)
    for r in res["rows"]:
        assert r["test loss [nats/char]"] < math.log(n_vocab) - 0.2 and len(r["seed losses"]) == 1
    assert "Asymmetry:" in res["verdict"]


@pytest.mark.spice  # pulse rule and the QUICK ramp-ADC surrogate
@pytest.mark.slow
def test_yang2025_fast(tmp_path):
    rep = yang2025.run(tmp_path, fast=True, progress=False)
    res = json.loads((tmp_path / "results.json").read_text())
    md = (tmp_path / "report.md").read_text()
    assert (tmp_path / "yang2025.png").stat().st_size > 10_000
    assert res["fast"] is True and rep.verdict in md
    labels = [(r["weights"], r["gate activations"]) for r in res["rows"]]
    assert labels == [("float", "float"), ("pulse (RPU)", "float")] + [
        ("pulse (RPU)", f"{b}-bit ramp ADC") for b in yang2025.FAST["bits"]]
    assert res["rows"][1]["vs float act [pp]"] == 0
    for r in res["rows"]:
        assert len(r["curves"][0]) == yang2025.FAST["train"]["epochs"]
    # the ADC tables are what the gates compute: each changes the run (a table that is not
    # used repeats the float-activation run to the last bit). Fast mode is a smoke run (64
    # sequences, one epoch: chance accuracy); test_train_lstm checks that the LSTM learns.
    pulse_float = res["rows"][1]["test loss"]
    assert all(abs(r["test loss"] - pulse_float) > 1e-6 for r in res["rows"][2:])
    assert any("ADC surrogates" in n for n in res["notes"])
    assert any("Run-to-run noise" in n for n in res["notes"])
