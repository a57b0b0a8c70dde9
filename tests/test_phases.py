"""Phase helpers against Ohm's law, charge integration, the testbenches' own .meas and the ADC's
ideal codes, with real ngspice runs (one deck per batch)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import tomllib

import numpy as np
import pytest

from circuitsim.errors import SpecError
from circuitsim.netlist import tb_update
from circuitsim.netlist.adc import ComparatorSpec
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.netlist.crossbar import CrossbarSpec, conductance_matrix, weight_matrix
from circuitsim.netlist.ramp import RampSpec, ramp_design
from circuitsim.phases import (
    PHASES,
    ConversionResult,
    MacPoint,
    MacResult,
    UpdateResult,
    mac_point,
    run_conversion,
    run_mac,
    run_update,
)
from circuitsim.spec import from_mapping, to_mapping
from circuitsim.spice.runner import SimOptions, simulate

#: The default backend (shared libngspice); test_backends_agree cross-checks ngspice -b.
OPTIONS = SimOptions()
#: Ideal wires and ideal op-amps: a linear resistive network solved to ngspice's precision.
OHM_RTOL = 1e-6
#: Integrator outputs carry ngspice's time-integration error of the capacitor (first-order
#: steps after each breakpoint), measured ~7e-5 relative in tests/test_crossbar.py.
INTEGRATOR_RTOL = 3e-4


def inputs(n_vectors: int, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n_vectors, n))


# ---------------------------------------------------------------- MAC read

@pytest.fixture(scope="module")
def forward() -> tuple[CrossbarSpec, np.ndarray, MacResult]:
    xs = CrossbarSpec(rows=7, cols=5, g_seed=31)
    x = inputs(3, 7, 32)
    return xs, x, run_mac(xs, x, options=OPTIONS)


@pytest.mark.spice
def test_forward_batch_outputs_equal_gt_v(forward):
    xs, x, res = forward
    ideal = (0.2 * x) @ conductance_matrix(xs)
    assert res.currents.shape == (3, 5) and res.outputs.shape == (3, 5)
    np.testing.assert_allclose(res.currents, ideal, rtol=OHM_RTOL)
    np.testing.assert_allclose(res.ideal_mac_currents, ideal, rtol=1e-12)
    np.testing.assert_allclose(res.outputs, -1e3 * ideal, rtol=OHM_RTOL)
    np.testing.assert_array_equal(res.mac_outputs, res.outputs)
    # charge over the window: the plateau plus two linear edges, i.e. I * (t_read + t_edge)
    np.testing.assert_allclose(res.charges, ideal * (100e-9 + 1e-9), rtol=OHM_RTOL)


@pytest.mark.spice
def test_tia_latency_is_the_input_edge_with_ideal_wires(forward):
    _, _, res = forward
    # ideal TIA and wires: outputs follow the 1 ns input ramp and are final at its end; the
    # 0.1 % band is entered 0.1 % before it
    assert res.latencies.shape == (3,)
    np.testing.assert_allclose(res.latencies, 1e-9, rtol=2e-3)
    assert res.latency == res.latencies.max()


@pytest.mark.spice
def test_backward_differential_batch_rows_equal_w_x():
    xs = CrossbarSpec(rows=6, cols=4, differential=True, g_seed=33)
    x = inputs(3, 4, 34)
    res = run_mac(xs, x, "backward", options=OPTIONS)
    expected = (0.2 * x) @ weight_matrix(xs).T
    assert res.drive_voltages.shape == (3, 8) and res.mac_currents.shape == (3, 6)
    np.testing.assert_allclose(res.mac_currents, expected, rtol=OHM_RTOL,
                               atol=1e-9 * np.abs(expected).max())
    np.testing.assert_allclose(res.outputs, -1e3 * expected, rtol=OHM_RTOL,
                               atol=1e-9 * np.abs(expected).max())


@pytest.mark.spice
def test_forward_differential_integrator_outputs_are_minus_q_over_c():
    xs = CrossbarSpec(rows=5, cols=3, differential=True, g_seed=35)
    x = inputs(4, 5, 36)
    res = run_mac(xs, x, options=OPTIONS, sensing="integrator", c_int=5e-12)
    g = conductance_matrix(xs)
    q_lines = (0.2 * x * 101e-9) @ g
    np.testing.assert_allclose(res.charges, q_lines, rtol=OHM_RTOL, atol=1e-21)
    np.testing.assert_allclose(res.outputs, -res.charges / 5e-12, rtol=INTEGRATOR_RTOL,
                               atol=1e-9)
    # differential pairs combined as G+ - G-
    np.testing.assert_allclose(res.mac_charges, (0.2 * x * 101e-9) @ weight_matrix(xs),
                               rtol=OHM_RTOL, atol=1e-20)
    np.testing.assert_allclose(res.mac_outputs, res.outputs[:, 0::2] - res.outputs[:, 1::2])
    np.testing.assert_allclose(res.latencies, res.t_window)


@pytest.mark.spice
def test_windows_of_a_batch_do_not_interact():
    """The integrator reset and the pulse edges leave no trace in the next window: window 2
    of a batch equals the same vector read alone."""
    xs = CrossbarSpec(rows=4, cols=3, g_seed=37)
    x = inputs(3, 4, 38)
    batch = run_mac(xs, x, options=OPTIONS, sensing="integrator", encoding="pulse_width")
    alone = run_mac(xs, x[2:], options=OPTIONS, sensing="integrator", encoding="pulse_width")
    np.testing.assert_allclose(batch.charges[2], alone.charges[0], rtol=1e-9)
    np.testing.assert_allclose(batch.outputs[2], alone.outputs[0], rtol=INTEGRATOR_RTOL)
    np.testing.assert_allclose(batch.energy[2], alone.energy[0], rtol=1e-9)


@pytest.mark.spice
def test_backends_agree():
    """The default (shared libngspice) backend and ``ngspice -b`` give the same read."""
    xs = CrossbarSpec(rows=5, cols=4, r_row=2.0, r_col=2.0, c_row=1e-16, c_col=1e-16)
    x = inputs(3, 5, 39)
    shared = run_mac(xs, x, options=OPTIONS, sensing="integrator")
    batch = run_mac(xs, x, options=SimOptions(backend="batch"), sensing="integrator")
    for key, value in shared.to_arrays().items():
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, batch.to_arrays()[key], rtol=1e-9, atol=1e-30,
                                       err_msg=key)


def test_run_mac_overrides_are_checked():
    xs = CrossbarSpec(rows=2, cols=2)
    with pytest.raises(SpecError, match="sensinq"):
        run_mac(xs, [[0.1, 0.2]], sensinq="tia")
    with pytest.raises(SpecError, match="sensing"):
        run_mac(xs, [[0.1, 0.2]], sensing="adc")
    with pytest.raises(SpecError, match="inputs"):
        run_mac(xs, [[0.1, 1.2]])
    with pytest.raises(TypeError, match="n_vectors"):
        run_mac(xs, [[0.1, 0.2]], n_vectors=3)


# ---------------------------------------------------------------- update

@pytest.fixture(scope="module")
def update() -> tuple[tb_update.UpdateTestbenchSpec, UpdateResult]:
    spec = tb_update.UpdateTestbenchSpec(pulses="UUUUUUDDDU", t_hold=300e-6)
    res = run_update(spec.cell, spec.pulses, t_period=spec.t_period, t_hold=spec.t_hold,
                     options=OPTIONS)
    return spec, res


@pytest.mark.spice
def test_update_matches_the_testbench_meas(update):
    spec, res = update
    meas = simulate(tb_update.deck(spec), OPTIONS).meas
    n = len(spec.pulses)
    # .meas values are printed with 6 significant digits: rounding is up to 5e-6 relative
    np.testing.assert_allclose(res.vc, [meas[f"vc_{k}"] for k in range(n + 1)], rtol=6e-6)
    np.testing.assert_allclose(res.g, [meas[f"g_{k}"] for k in range(n + 1)], rtol=6e-6)
    assert res.vc_hold[-1] == pytest.approx(meas["vc_hold"], rel=6e-6)
    assert res.g_hold[-1] == pytest.approx(meas["g_hold"], rel=6e-6)
    assert res.g_shared[0] == pytest.approx(meas["gs_0"], rel=6e-6)


@pytest.mark.spice
def test_update_steps_kinds_and_hold(update):
    spec, res = update
    n = len(spec.pulses)
    assert res.vc.shape == res.g.shape == (n + 1,) and res.dvc.shape == (n,)
    np.testing.assert_array_equal(res.kinds, [1, 1, 1, 1, 1, 1, -1, -1, -1, 1])
    np.testing.assert_allclose(res.dvc, np.diff(res.vc))
    assert np.all(res.dvc[res.kinds > 0] > 0.02) and np.all(res.dvc[res.kinds < 0] < -0.02)
    assert np.all(np.sign(res.dg) == res.kinds)
    assert res.hold_times.shape == res.vc_hold.shape == res.g_hold.shape == (50,)
    assert res.hold_times[0] == 0 and res.hold_times[-1] == pytest.approx(spec.t_hold)
    assert np.all(np.diff(res.hold_times) > 0)
    assert res.vc_hold[0] == pytest.approx(res.vc[-1], abs=1e-9)
    # ends near 0.59 V, above the ~0.48 V hold equilibrium: V_C leaks down (see cell3t1c)
    assert res.leak_rate < 0 and np.all(np.diff(res.vc_hold) <= 1e-7)
    # the rate at the start agrees with the early hold samples' secant (within 5 %)
    k = np.searchsorted(res.hold_times, 0.02 * spec.t_hold)
    secant = (res.vc_hold[k] - res.vc_hold[0]) / res.hold_times[k]
    assert res.leak_rate == pytest.approx(secant, rel=0.05)
    assert res.leak_current == pytest.approx(res.c * res.leak_rate)


# ---------------------------------------------------------------- conversion

@pytest.fixture(scope="module")
def conversion() -> tuple[RampSpec, ConversionResult]:
    ramp = RampSpec(bits=3)
    th = np.array(ramp_design(ramp).thresholds)
    # below x_1, midway between every pair of thresholds, above x_7
    x = np.concatenate([[-6.5], (th[:-1] + th[1:]) / 2, [6.5]])
    return ramp, run_conversion(ramp, ComparatorSpec(), x, options=OPTIONS)


@pytest.mark.spice
def test_conversion_codes_equal_ideal_codes(conversion):
    ramp, res = conversion
    np.testing.assert_array_equal(res.ideal_codes, np.arange(8))
    np.testing.assert_array_equal(res.codes, res.ideal_codes)
    assert res.sample_times.shape == res.v_ramp.shape == (7,)
    # finite op-amp gain (1e6) and its leak: ramp and MAC voltages within 0.01 % of ideal
    np.testing.assert_allclose(res.v_ramp, res.v_ramp_ideal, rtol=1e-4)
    np.testing.assert_allclose(res.v_mac, res.v_mac_ideal, rtol=1e-4)
    assert res.latency == pytest.approx(8 * ramp.period)


@pytest.mark.spice
def test_comparator_flips_in_the_step_where_the_ramp_passes_the_input(conversion):
    ramp, res = conversion
    step = (res.t_flip[:-1] - ramp.t_start) / ramp.period
    # code c: ramp steps 1..c stay below the input, step c + 1 passes it
    assert np.all(step > res.codes[:-1] + 1) and np.all(step < res.codes[:-1] + 2)
    assert np.isnan(res.t_flip[-1]) and res.codes[-1] == 7


# ---------------------------------------------------------------- records and points

@pytest.mark.spice
def test_results_round_trip_through_npz_without_pickle(forward, update, conversion, tmp_path):
    for res in (forward[2], update[1], conversion[1]):
        arrays = res.to_arrays()
        assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())
        again = type(res).from_arrays(arrays)
        for key, value in arrays.items():
            np.testing.assert_array_equal(again.to_arrays()[key], value)
        path = tmp_path / f"{type(res).__name__}.npz"
        res.save(path)
        loaded = type(res).load(path)
        assert loaded.to_arrays().keys() == arrays.keys()
        np.testing.assert_array_equal(next(iter(loaded.to_arrays().values())),
                                      next(iter(arrays.values())))
    mac = forward[2]
    assert not mac.currents.flags.writeable
    assert mac.spec().crossbar == forward[0]
    with pytest.raises(SpecError, match="MacResult.currents: missing"):
        MacResult.from_arrays({k: v for k, v in mac.to_arrays().items() if k != "currents"})
    with pytest.raises(SpecError, match="unknown"):
        MacResult.from_arrays({**mac.to_arrays(), "extra": np.zeros(1)})


def test_points_are_specs_read_from_toml_and_picklable():
    text = """
    direction = "backward"
    sensing = "integrator"
    inputs = [[0.5, -0.25, 1.0]]
    [crossbar]
    rows = 2
    cols = 3
    conductances = [[1e-5, 2e-5, 3e-5], [4e-5, 5e-5, 6e-5]]
    """
    point = from_mapping(MacPoint, tomllib.loads(text))
    assert point.crossbar.rows == 2 and point.inputs == ((0.5, -0.25, 1.0),)
    assert from_mapping(MacPoint, json.loads(json.dumps(to_mapping(point)))) == point
    assert pickle.loads(pickle.dumps(point)) == point
    assert pickle.loads(pickle.dumps(mac_point)) is mac_point
    for phase in PHASES.values():
        default = phase.point()
        assert len(phase.run.decks(default)) == 1
        assert dataclasses.is_dataclass(phase.result)


@pytest.mark.spice
def test_mac_point_runs_a_toml_point():
    point = from_mapping(MacPoint, {"crossbar": {"rows": 2, "cols": 1,
                                                 "conductances": [[1e-5], [3e-5]]},
                                    "inputs": [[1.0, -0.5], [0.25, 0.0]]})
    res = mac_point(point, OPTIONS)
    expected = 0.2 * np.array([[1e-5 - 1.5e-5], [0.25e-5]])
    np.testing.assert_allclose(res.currents, expected, rtol=OHM_RTOL)
    assert res.ops == 4


@pytest.mark.parametrize("bad, field", [("X", "pulses"), ("", "pulses")])
def test_run_update_rejects_bad_pulses(bad, field):
    with pytest.raises(SpecError, match=field):
        run_update(Cell3T1CSpec(), bad)


@pytest.mark.spice
def test_a_long_hold_does_not_change_the_pulses_before_it():
    """The hold's length sets the transient's largest step; the pulse steps before it must not
    depend on it (PWL breakpoints keep the pulses resolved)."""
    from circuitsim.netlist.cell3t1c import Cell3T1CSpec
    from circuitsim.phases.update import run_update

    short = run_update(Cell3T1CSpec(), "UUDD", t_hold=1e-6)
    long = run_update(Cell3T1CSpec(), "UUDD", t_hold=2.0)
    np.testing.assert_allclose(long.dvc, short.dvc, rtol=1e-6)
