"""MAC characterization: spec checks, draws, and the QUICK sweep with real ngspice."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from circuitsim.characterize import mac as cm
from circuitsim.characterize.mac_plots import plot_dataset
from circuitsim.errors import SpecError
from circuitsim.spec import build
from circuitsim.surrogate.service import make_spec


def test_spec_defaults_and_quick_are_valid():
    spec = cm.MacCharSpec()
    assert spec.max_tile == (128, 128)
    assert spec.pattern_list == ("dense", "sparse", "extreme", "max")
    quick = make_spec("mac", quick=True)
    assert quick.max_tile == (32, 32)
    assert json.loads(json.dumps(quick.layer)) == [48, 40, 4]


@pytest.mark.parametrize("override, field", [
    ({"patterns": ["dense", "bogus"]}, "patterns"),
    ({"patterns": ["dense", "dense"]}, "patterns"),
    ({"tiles": [[16, 16]]}, "tiles"),
    ({"tiles": [[16.5, 16, 4]]}, "tiles"),
    ({"val_tiles": [[16, 1000, 4]]}, "val_tiles"),
    ({"layer": [1, 40, 4]}, "layer"),
    ({"sparse_density": 0.0}, "sparse_density"),
    ({"circuit": {"g_min": 1e-3}}, "g_min"),
    ({"circuit": {"opamp_gain": 2.0}}, "opamp_gain"),
    ({"circuit": {"iv": "cubic"}}, "iv"),
    ({"circuit": {"encoding": "pulse_width"}}, "encoding"),  # into a TIA
    ({"circuit": {"encoding": "pulse_width", "sensing": "integrator", "t_read": 1e-8}},
     "t_read"),  # 7-bit pulses of 79 ps with 1 ns edges
    ({"circuit": {"sensing": "integrator", "c_int": 2e-12}}, "c_int"),  # saturates
    ({"circuit": {"sensing": "integrator", "c_int": 2e-12}, "tiles": [[16, 16, 2]],
      "val_tiles": [[16, 16, 2]]}, "stress_tile"),  # 64 rows saturate, 16 do not
    ({"stress": ["bogus"]}, "stress"),
])
def test_spec_rejects_bad_values(override, field):
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        build(cm.MacCharSpec, override)


def test_read_modes_are_valid_and_their_stress_cases_apply():
    for name, circuit in cm.READ_MODES.items():
        spec = make_spec("mac", {"circuit": circuit}, quick=True)
        cases = dict(spec.stress_circuits())
        integ = spec.circuit.sensing == "integrator"
        assert set(cases) == ({"short_pulse", "large_wire_c", "near_saturated"} if integ
                              else {"short_pulse", "large_wire_c"}), name
        assert cases["short_pulse"].t_read <= 12.8e-9 and cases["large_wire_c"].c_row == 1e-13
        if integ:  # 95 % of the swing on the 16x16 stress tile
            assert cases["near_saturated"].full_scale_output(16) == pytest.approx(0.95)


@pytest.mark.spice
@pytest.mark.parametrize("encoding", ["amplitude", "pulse_width"])
def test_integrator_readout_is_charge_over_area(encoding):
    """Linear 6x5 array, 1 mOhm wires, ideal integrator: the read in ampere equivalents is
    v_read G^T x for amplitude inputs, and for pulse widths the charge of the quantised pulse
    plus its edges, sign(x) v_read G^T (w_q + t_edge) / (t_read + t_edge), within 0.1 %."""
    c = cm.MacCircuit(r_row=1e-3, r_col=1e-3, iv="linear", sensing="integrator",
                      encoding=encoding, pw_bits=4, t_read=15e-9, t_edge=0.5e-9)
    rng = np.random.default_rng(3)
    g = rng.uniform(1e-6, 20e-6, (6, 5))
    x = np.vstack([np.ones(6), rng.uniform(-1, 1, (2, 6)), np.zeros(6)])
    from circuitsim.phases.mac import mac_point

    for direction in cm.DIRECTIONS:
        xd = x if direction == "forward" else x[:, :5]
        got = c.readout(mac_point(c.testbench(g, xd, direction)))
        if encoding == "amplitude":
            drive = xd
        else:
            w = np.round(np.abs(xd) * 15) / 15 * c.t_read
            drive = np.sign(xd) * (w + np.where(w > 0, c.t_edge, 0)) / c.t_area
        want = cm.ideal_read(g, drive, direction, c.v_read)
        assert np.abs(got - want).max() < 1e-3 * np.abs(want).max()


def test_draws_follow_their_patterns_and_are_reproducible():
    spec = cm.MacCharSpec()
    lo, hi = spec.circuit.g_min, spec.circuit.g_max
    draw = {p: cm.draw_conductances(spec, p, 64, 48, cm.stream(1, 0, 64, 48, p, 0))
            for p in cm.PATTERNS}
    for g in draw.values():
        assert g.shape == (64, 48) and g.min() >= lo and g.max() <= hi
    assert np.all(draw["max"] == hi)
    above = np.mean(draw["sparse"] > lo)
    assert abs(above - spec.sparse_density) < 0.03
    ext = draw["extreme"]
    forced_cols = [j for j in range(48) if np.all(ext[:, j] == ext[0, j])
                   and ext[0, j] in (lo, hi)]
    assert len(forced_cols) == round(0.25 * 48)
    rest = np.delete(ext, forced_cols, axis=1)  # forced columns cross the forced rows
    forced_rows = [i for i in range(64) if np.all(rest[i] == rest[i, 0])
                   and rest[i, 0] in (lo, hi)]
    assert len(forced_rows) == round(0.25 * 64)
    again = cm.draw_conductances(spec, "dense", 64, 48, cm.stream(1, 0, 64, 48, "dense", 0))
    assert np.array_equal(again, draw["dense"])
    held_out = cm.draw_conductances(spec, "dense", 64, 48,
                                    cm.stream(1, cm.STREAM_VAL, 64, 48, "dense", 0))
    assert not np.allclose(held_out, draw["dense"])

    x, kinds = cm.draw_inputs(spec, 8, 100, np.random.default_rng(0))
    assert kinds == ["ones", "uniform", "sign", "sparse"] * 2
    assert np.all(x[0] == 1) and np.all(np.abs(x[2]) == 1)
    assert np.all(np.abs(x) <= 1)
    assert 0.05 < np.mean(x[3] != 0) < 0.4


@pytest.fixture(scope="module")
def quick_dataset(quick):
    return quick.spec("mac"), quick.dataset("mac")


@pytest.mark.spice
def test_quick_dataset_shapes_ideal_and_physics(quick_dataset):
    spec, ds = quick_dataset
    n_decks = len(spec.tile_list) * len(spec.pattern_list) * 2
    assert len(ds.deck_rows) == n_decks
    assert ds.conductances.shape == (n_decks, 32, 32)
    v_read = spec.circuit.v_read
    v0 = spec.circuit.iv_v0
    for k in range(n_decks):
        g = ds.deck_g(k)
        x, spice, ideal = ds.deck_reads(k)
        forward = ds.deck_direction[k] == "forward"
        # the ideal reference, computed independently: V = x v_read, I = G^T V or G V
        np.testing.assert_allclose(ideal, v_read * (x @ g if forward else x @ g.T),
                                   rtol=1e-12, atol=1e-18)
        assert np.all(np.isfinite(spice))
        # all-ones reads: sinh read law raises every current by V0 sinh(v/V0) / v; the wire
        # drops only lower it, by at most the first-order loss r (N^2 + M^2) g_max / 2
        ones = ds.read_kind[ds.read_deck == k] == "ones"
        ratio = spice[ones] / ideal[ones]
        gain = v0 * math.sinh(v_read / v0) / v_read
        n, m = g.shape
        worst = spec.circuit.r_row * (n * n + m * m) * g.max() / 2
        assert np.all(ratio <= gain + 1e-9)
        assert np.all(ratio >= gain * (1 - worst))
    checks = cm.summary(ds)
    assert len(checks) == 3 * len(ds.groups())
    assert all(math.isfinite(c.value) for c in checks)


@pytest.mark.spice
def test_quick_dataset_npz_round_trip_and_plots(quick_dataset, tmp_path):
    spec, ds = quick_dataset
    path = tmp_path / "mac.npz"
    ds.save(path)
    back = cm.MacDataset.load(path)
    for name, value in ds.to_arrays().items():
        np.testing.assert_array_equal(getattr(back, name), value, err_msg=name)
    assert back.spec() == spec
    paths = plot_dataset(back, tmp_path / "plots")
    assert [p.name for p in paths] == ["mac_error_vs_ideal.png", "mac_error_vs_position.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)
