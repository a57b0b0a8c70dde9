"""SPICE spot-checks of the training surrogates (real ngspice on the QUICK surrogates).

Independent references: the full scale of a whole-matrix check recomputed by hand from the
clipped matrix (so clipping is what the circuit saw), the ideal model's error as the contrast
the surrogate must beat, and the pulse counts of the sequences given.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from circuitsim import make_spec
from circuitsim.errors import SpecError
from circuitsim.surrogate.mac import physics
from circuitsim.train.spotcheck import SpotCheck, mac_spot_check, update_spot_check


@pytest.fixture(scope="module")
def mac(quick):
    return quick.surrogate("mac"), quick.spec("mac")


@pytest.fixture(scope="module")
def upd(quick):
    return quick.surrogate("update"), quick.spec("update")


@pytest.mark.spice
def test_mac_spot_check_in_range_beats_the_ideal_model(mac):
    sur, spec = mac
    rng = np.random.default_rng(5)
    g = rng.uniform(sur.g_min, sur.g_max, (48, 40))
    x = rng.uniform(-1.0, 1.0, (4, 48))
    chk = mac_spot_check(sur, spec, g, x, rng=rng)
    m = chk.metrics
    assert chk.kind == "mac" and chk.step == -1 and chk.seconds > 0
    # the tile is the largest allowed that fits the layer and the characterized tiles (32x32)
    assert (m["rows"], m["cols"], m["reads"]) == (32, 32, 4)
    assert 0 <= m["row0"] <= 48 - 32 and 0 <= m["col0"] <= 40 - 32
    assert m["clipped"] == 0 and m["clipped_layer"] == 0
    assert m["rms_pct_fs"] < 1.0, chk
    assert m["max_pct_fs"] < 2.0, chk
    # the sinh read law and the IR drop put the ideal model clearly further off
    assert m["rms_pct_fs"] < 0.2 * m["ideal_rms_pct_fs"], chk
    # the full scale is of the order of the largest possible column current
    assert 0.1 * 32 * sur.g_max * sur.v_read < m["fs_A"] < 32 * sur.g_max * sur.v_read * 1.1
    stamped = chk.with_step(120)
    assert stamped.step == 120 and stamped.metrics == m
    back = json.loads(json.dumps(stamped.to_json()))
    assert back["kind"] == "mac" and back["step"] == 120
    assert back["metrics"]["rms_pct_fs"] == pytest.approx(m["rms_pct_fs"])


@pytest.mark.spice
def test_mac_spot_check_clips_and_counts_out_of_range_cells(mac):
    sur, spec = mac
    rng = np.random.default_rng(11)
    g = rng.uniform(sur.g_min, sur.g_max, (16, 12))
    g[0, :3] = 3 * sur.g_max  # above the range
    g[5, 7] = 0.1 * sur.g_min  # below it
    g[9, 2] = -1e-6  # a negative weight mapped wrongly: also clipped
    x = rng.uniform(-1.0, 1.0, (6, 12))
    chk = mac_spot_check(sur, spec, g, x, rng=rng, max_rows=16, max_cols=16, max_reads=6,
                         direction="backward")
    m = chk.metrics
    assert (m["rows"], m["cols"], m["reads"]) == (16, 12, 6)  # the whole matrix, all reads
    assert m["clipped"] == 5 and m["clipped_layer"] == 5
    # what the circuit saw is the clipped matrix: its ideal full scale, recomputed by hand
    gc = np.clip(g, sur.g_min, sur.g_max)
    assert m["fs_A"] == pytest.approx(sur.v_read * np.max(np.abs(x @ gc.T)), rel=1e-9)
    assert m["rms_pct_fs"] < 1.0, chk
    # fewer reads than given: a random subset of max_reads
    sub = mac_spot_check(sur, spec, gc, x, rng=rng, max_rows=8, max_cols=8, max_reads=2,
                         direction="backward")
    assert (sub.metrics["rows"], sub.metrics["cols"], sub.metrics["reads"]) == (8, 8, 2)
    assert sub.metrics["clipped"] == 0


@pytest.mark.spice
def test_update_spot_check_matches_spice_per_pulse(upd):
    sur, spec = upd
    rng = np.random.default_rng(3)
    vc = np.array([0.25, 0.5, 0.75])
    sig = np.array([spec.sigma_read, spec.sigma_up, spec.sigma_down])
    dvt = rng.standard_normal((3, 3)) * sig
    pulses = rng.choice([-1, 0, 1], size=(3, 8), p=[0.4, 0.2, 0.4])
    pulses[:, 0] = [1, -1, 1]
    chk = update_spot_check(sur, spec, vc, dvt, pulses)
    m = chk.metrics
    assert chk.kind == "update" and chk.seconds > 0
    assert m["cells"] == 3 and m["cells_simulated"] == 3
    assert m["pulses"] == np.count_nonzero(pulses)
    assert m["dg_rms_pct_mean_step"] < 5.0, chk
    assert m["final_g_rms_steps"] < 0.5, chk
    assert m["g0_rms_uS"] < 0.2 * m["mean_step_uS"], chk
    json.dumps(chk.to_json())


@pytest.mark.spice
def test_update_spot_check_nominal_cells_and_idle_cell(upd):
    sur, spec = upd
    pulses = np.array([[1, 1, 0, -1], [0, 0, 0, 0]])
    chk = update_spot_check(sur, spec, np.array([0.4, 0.6]), None, pulses)
    m = chk.metrics
    assert m["cells"] == 2 and m["cells_simulated"] == 1 and m["pulses"] == 3
    assert m["dg_rms_pct_mean_step"] < 5.0, chk


def test_mac_bad_arguments_name_the_argument():
    spec = make_spec("mac", quick=True)
    sur = physics(spec)
    rng = np.random.default_rng(0)
    g = np.full((8, 6), 5e-6)
    x = np.zeros((2, 8))
    cases = [
        ({"g": g[0]}, "g"), ({"x": np.zeros((2, 6))}, "x"), ({"x": np.zeros(8)}, "x"),
        ({"x": np.full((2, 8), 1.5)}, "x"), ({"g": np.full((8, 6), np.nan)}, "g"),
        ({"direction": "sideways"}, "direction"), ({"max_rows": 0}, "max_rows"),
        ({"max_reads": 1.5}, "max_reads"), ({"rng": 3}, "rng"),
        ({"spec": make_spec("mac", quick=True, sets=["circuit.r_row=2"])}, "spec"),
    ]
    for over, name in cases:
        kw = {"g": g, "x": x, "rng": rng, "spec": spec, **over}
        with pytest.raises(SpecError, match=rf"^{name}\b"):
            mac_spot_check(sur, kw.pop("spec"), kw.pop("g"), kw.pop("x"), **kw)
    # backward reads are driven with (B, n_out)
    with pytest.raises(SpecError, match=r"^x\b.*backward"):
        mac_spot_check(sur, spec, g, x, rng=rng, direction="backward")


@pytest.mark.spice
def test_update_bad_arguments_name_the_argument(upd):
    sur, spec = upd
    vc = np.array([0.3, 0.6])
    dvt = np.zeros((2, 3))
    p = np.ones((2, 4), dtype=int)
    cases = [
        ({"vc": vc[None]}, "vc"), ({"vc": np.array([0.3, 1.5])}, "vc"),
        ({"dvt": np.zeros((2, 2))}, "dvt"), ({"dvt": np.zeros((3, 3))}, "dvt"),
        ({"pulses": np.ones((3, 4))}, "pulses"), ({"pulses": np.ones(4)}, "pulses"),
        ({"pulses": np.full((2, 4), 2)}, "pulses"), ({"pulses": np.zeros((2, 4))}, "pulses"),
        ({"pulses": np.ones((2, 600))}, "pulses"),
        ({"spec": make_spec("update", quick=True, sets=["t_period=60e-9"])}, "spec"),
    ]
    for over, name in cases:
        kw = {"vc": vc, "dvt": dvt, "pulses": p, "spec": spec, **over}
        with pytest.raises(SpecError, match=rf"^{name}\b"):
            update_spot_check(sur, kw["spec"], kw["vc"], kw["dvt"], kw["pulses"])


def test_spot_check_record_is_json_and_frozen():
    chk = SpotCheck("mac", {"rms_pct_fs": 0.1}, 1.5, "d")
    assert chk.to_json() == {"kind": "mac", "step": -1, "seconds": 1.5,
                             "metrics": {"rms_pct_fs": 0.1}, "detail": "d"}
    with pytest.raises(AttributeError):
        chk.step = 3  # type: ignore[misc]
