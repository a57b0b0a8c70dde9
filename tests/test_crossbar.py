"""Crossbar MAC reads in ngspice against Ohm's law and an independent nodal solve."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from nodal import crossbar_currents

from circuitsim.errors import SpecError
from circuitsim.netlist.crossbar import CrossbarSpec, conductance_matrix, weight_matrix
from circuitsim.netlist.tb_mac import (
    MacTestbenchSpec,
    deck,
    drive_voltages,
    ideal_charges,
    ideal_currents,
    input_matrix,
    output_times,
    sample_times,
    stop_time,
    window_starts,
)
from circuitsim.spice.ngspice import run_batch

pytestmark = pytest.mark.spice


def sensed(spec: MacTestbenchSpec, what: str = "i") -> np.ndarray:
    """Per window and sensed line ``(B, lines)``: current at the sample time (``i``), charge
    over the window (``q``) or sensing output (``out``), from the full-precision waveforms."""
    res = run_batch(deck(spec))
    n, t = spec.n_sensed, res.time
    if what == "q":
        edges = np.append(window_starts(spec), stop_time(spec))
        out = []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            inside = (t >= a) & (t <= b)
            out.append([np.trapezoid(res[f"i(vs{k})"][inside], t[inside]) for k in range(n)])
        return np.array(out)
    name, times = (("i(vs{})", sample_times(spec)) if what == "i"
                   else ("v(out{})", output_times(spec)))
    return np.array([np.interp(times, t, res[name.format(k)]) for k in range(n)]).T


def test_zero_wire_forward_currents_equal_gt_v():
    spec = MacTestbenchSpec(crossbar=CrossbarSpec(rows=12, cols=9, g_seed=3), input_seed=4,
                            n_vectors=3)
    g = conductance_matrix(spec.crossbar)
    expected = (g.T @ (0.2 * input_matrix(spec)).T).T
    np.testing.assert_allclose(sensed(spec), expected, rtol=1e-6, atol=0)


def test_zero_wire_backward_differential_rows_equal_w_x():
    xs = CrossbarSpec(rows=7, cols=5, differential=True, g_seed=5)
    spec = MacTestbenchSpec(crossbar=xs, direction="backward", input_seed=6)
    x = np.random.default_rng(6).uniform(-1, 1, (1, 5))
    expected = (weight_matrix(xs) @ (x[0] * spec.v_read))[None, :]
    np.testing.assert_allclose(sensed(spec), expected, rtol=1e-6, atol=1e-15)


def test_tia_output_is_minus_rf_times_current():
    spec = MacTestbenchSpec(crossbar=CrossbarSpec(rows=5, cols=3), r_f=2.2e3)
    np.testing.assert_allclose(sensed(spec, "out"), -2.2e3 * ideal_currents(spec), rtol=1e-6)


def test_pulse_width_integrator_charge_matches_sum_of_g_v_t():
    spec = MacTestbenchSpec(crossbar=CrossbarSpec(rows=6, cols=4, g_seed=9), sensing="integrator",
                            encoding="pulse_width", input_seed=10, c_int=5e-12, n_vectors=3)
    q = ideal_charges(spec)
    np.testing.assert_allclose(sensed(spec, "q"), q, rtol=1e-6, atol=1e-20)
    # the capacitor voltage carries ngspice's time-integration error (first-order steps right
    # after each breakpoint), measured ~7e-5 relative here; the charge itself is exact.
    np.testing.assert_allclose(sensed(spec, "out"), -q / 5e-12, rtol=3e-4, atol=1e-9)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_wire_resistance_matches_independent_nodal_solve(direction):
    xs = CrossbarSpec(rows=16, cols=8, r_row=3.0, r_col=5.0, g_seed=11)
    spec = MacTestbenchSpec(crossbar=xs, direction=direction, input_seed=12)
    expected = crossbar_currents(conductance_matrix(xs), drive_voltages(spec)[0], 3.0, 5.0,
                                 backward=direction == "backward")[None, :]
    got = sensed(spec)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    # the wires matter at this size: more than 0.1 % away from the ideal G^T V
    assert np.abs(got - ideal_currents(spec)).max() > 1e-3 * np.abs(expected).max()


def test_column_currents_fall_monotonically_with_wire_resistance():
    base = CrossbarSpec(rows=16, cols=6, g_min=2e-5, g_max=1e-4, g_seed=13)
    x = (tuple(np.random.default_rng(14).uniform(0.2, 1.0, 16)),)
    currents = []
    for r in (0.0, 1.0, 5.0, 20.0, 80.0):
        xs = dataclasses.replace(base, r_row=r, r_col=r)
        currents.append(sensed(MacTestbenchSpec(crossbar=xs, inputs=x)))
    currents = np.array(currents)
    assert np.all(np.diff(currents, axis=0) < 0), currents


def test_sinh_read_model_follows_its_iv():
    g0, v0, v_read = 5e-5, 0.25, 0.4
    xs = CrossbarSpec(rows=1, cols=1, iv="sinh", iv_v0=v0, conductances=((g0,),))
    spec = MacTestbenchSpec(crossbar=xs, inputs=((1.0,),), v_read=v_read)
    np.testing.assert_allclose(sensed(spec), [[g0 * v0 * np.sinh(v_read / v0)]], rtol=1e-6)


def test_finite_gain_opamp_and_1t1r_reduce_current_physically():
    xs = CrossbarSpec(rows=4, cols=2, g_seed=2)
    ideal = ideal_currents(MacTestbenchSpec(crossbar=xs, inputs=((1, 1, 1, 1),)))
    finite = sensed(MacTestbenchSpec(crossbar=xs, inputs=((1, 1, 1, 1),), opamp_gain=100.0,
                                     r_f=1e4))
    # out = -A*vg and I = (vg - out)/r_f give vg = r_f*I/(1 + A); with I = sum G*(V - vg):
    # I = G^T V / (1 + G_col*r_f/(1 + A))
    g_col = conductance_matrix(xs).sum(axis=0)
    expected = ideal / (1 + g_col * 1e4 / 101.0)
    np.testing.assert_allclose(finite, expected, rtol=1e-6)
    one_t = sensed(MacTestbenchSpec(crossbar=dataclasses.replace(xs, cell="1T1R"),
                                    inputs=((1, 1, 1, 1),)))
    assert np.all(one_t < ideal) and np.all(one_t > 0.5 * ideal)


@pytest.mark.parametrize("bad, field", [
    ({"rows": 0}, "rows"), ({"g_min": 1e-4, "g_max": 1e-5}, "g_min"),
    ({"r_row": -1.0}, "r_row"), ({"conductances": ((1e-5,),)}, "conductances"),
])
def test_crossbar_spec_errors_name_the_field(bad, field):
    with pytest.raises(SpecError, match=field):
        CrossbarSpec(**bad)


def test_mac_inputs_out_of_range_rejected():
    with pytest.raises(SpecError, match="inputs"):
        MacTestbenchSpec(crossbar=CrossbarSpec(rows=2, cols=2), inputs=((0.5, 1.5),))
    with pytest.raises(SpecError, match="inputs"):
        MacTestbenchSpec(crossbar=CrossbarSpec(rows=2, cols=2), inputs=((0.5,),))


def test_meas_statements_report_the_physics():
    """The deck's own .meas figures (printed with 6 digits) against the ideal read."""
    xs = CrossbarSpec(rows=5, cols=2, differential=True, g_seed=21)
    spec = MacTestbenchSpec(crossbar=xs, n_vectors=2, input_seed=22)
    meas = run_batch(deck(spec)).meas
    i_ideal, q_ideal = ideal_currents(spec), ideal_charges(spec)
    for w in range(2):
        for k in range(4):
            assert meas[f"i{k}_{w}"] == pytest.approx(i_ideal[w, k], rel=2e-5)
            assert meas[f"q{k}_{w}"] == pytest.approx(q_ideal[w, k], rel=2e-5)
            assert meas[f"out{k}_{w}"] == pytest.approx(-spec.r_f * i_ideal[w, k], rel=2e-5)
        for j in range(2):
            diff = i_ideal[w, 2 * j] - i_ideal[w, 2 * j + 1]
            assert meas[f"id{j}_{w}"] == pytest.approx(diff, rel=1e-4, abs=1e-10)
