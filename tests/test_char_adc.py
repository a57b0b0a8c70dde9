"""Ramp-ADC characterization: definitions, measurement helpers, calibration, and a QUICK run.

Independent checks:
- INL/DNL against hand-computed values (identity and sigmoid), the ideal converter's RMSE
  against 1/sqrt(12) LSB;
- the MAC map's droop and its inverse, the overdrive estimator on a synthetic log-law ladder;
- the calibration plan against the charge-conservation ramp of a column with a stuck device;
- ngspice: a fixed-reference ADC's transitions move by the read-voltage ratio (V_mac scales
  with V_read, the ramp does not) while the ramp ADC's stay; calibration of a simulated ramp
  with a stuck-OFF device brings its codes back; the dataset round-trips through .npz.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from circuitsim.activations import get_activation
from circuitsim.characterize import adc, adc_spec
from circuitsim.characterize.adc import AdcDataset
from circuitsim.characterize.adc_calibration import plan_calibration, program_calibration
from circuitsim.characterize.adc_metrics import codes_of, inl_dnl, rmse
from circuitsim.characterize.adc_spec import AdcCharSpec
from circuitsim.characterize.adc_transitions import DELTA_FLOOR, MacMap, estimate_delta
from circuitsim.errors import CacheError, SpecError
from circuitsim.netlist.ramp import ramp_design
from circuitsim.spec import build

# ---------------------------------------------------------------- definitions


def test_inl_dnl_identity_hand_example():
    # identity on [-1, 1], 2 bits: u(x) = 3 (x + 1) / 2, ideal transitions u = 0.5, 1.5, 2.5
    act = get_activation("identity")
    inl, dnl = inl_dnl(act, 2, np.array([-0.6, 0.1, 0.6]))
    np.testing.assert_allclose(inl, [0.6 - 0.5, 1.65 - 1.5, 2.4 - 2.5], atol=1e-12)
    np.testing.assert_allclose(dnl, [1.65 - 0.6 - 1, 2.4 - 1.65 - 1], atol=1e-12)
    inl, dnl = inl_dnl(act, 2, np.array([-2 / 3, 0.0, 2 / 3]))  # the ideal converter
    np.testing.assert_allclose(inl, 0, atol=1e-12)
    np.testing.assert_allclose(dnl, 0, atol=1e-12)


def test_inl_dnl_sigmoid_hand_example():
    # sigmoid, 2 bits: u(x) = 3 / (1 + exp(-x)); transitions at x = 0, 1, 2
    u = [3 / (1 + math.exp(-x)) for x in (0.0, 1.0, 2.0)]
    inl, dnl = inl_dnl(get_activation("sigmoid"), 2, np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(inl, [u[0] - 0.5, u[1] - 1.5, u[2] - 2.5], atol=1e-12)
    np.testing.assert_allclose(dnl, [u[1] - u[0] - 1, u[2] - u[1] - 1], atol=1e-12)
    assert abs(inl[0] - 1.0) < 1e-12  # u(0) = 1.5: the first transition sits a whole LSB late


@pytest.mark.parametrize("bits", [3, 5, 8])
def test_ideal_converter_rmse_and_codes(bits):
    act = get_activation("identity")
    t = act.thresholds(bits)
    x = np.random.default_rng(0).uniform(-1, 1, 5000)
    np.testing.assert_array_equal(codes_of(t, x), act.code(x, bits))
    np.testing.assert_array_equal(codes_of(t[::-1], x), act.code(x, bits))  # any order
    out, lsb = rmse(act, bits, t, 200001)
    # uniform quantisation error over the coded range; the two half-codes at the ends add
    # their (smaller) share: 1/sqrt(12) LSB up to a 1/(2^B - 1) correction
    assert abs(lsb - 1 / math.sqrt(12)) < 0.35 / (2**bits - 1)
    assert abs(out - lsb * 2 / (2**bits - 1)) < 1e-12
    assert rmse(act, bits, None, 200001) == (out, lsb)


def test_mac_map_droop_and_inverse():
    m = MacMap(offset=0.2, gain=0.034, l0=50.0, l1=4.0, t0=30e-9, resid=0.0)
    x = np.linspace(-7, 7, 29)
    t = np.linspace(30e-9, 13e-6, 29)
    v = m.at(x, t)
    np.testing.assert_allclose(v, (0.2 + 0.034 * x) * np.exp(-(50 + 4 * x) * (t - 30e-9)))
    np.testing.assert_allclose(m.solve(v, t), x, atol=1e-12)
    np.testing.assert_allclose(m.droop(x, 0.2 + 0.034 * x, t), v)


def test_overdrive_estimator_on_a_log_law():
    delta, slope = 20e-6, -12e-9
    od = np.array([96, 48, 24, 25, 17]) * 1e-6
    trel = slope * np.log(od / delta)
    code = np.where(od > delta, 4, 5)  # threshold k = 5: left rungs show code 4
    got, ok = estimate_delta(od, code, trel, 5)
    assert ok and abs(got - delta) < 1e-12
    # one left rung only: the given slope; the result stays inside the bracket of rungs
    got, ok = estimate_delta(od[[0, 4]], code[[0, 4]], trel[[0, 4]], 5, slope)
    assert ok and 17e-6 < got < 96e-6 and abs(got - delta) < 1e-9
    got, ok = estimate_delta(od[4:], code[4:], trel[4:], 5)
    assert not ok and got == 2 * 17e-6


def test_overdrive_by_level_interpolates_and_extrapolates():
    v = np.array([0.25, 0.1, 0.2, 0.15])  # any order
    d = 10e-6 + 200e-6 * (v - 0.1)
    levels = np.array([0.05, 0.12, 0.175, 0.3, -0.5])
    want = np.maximum(10e-6 + 200e-6 * (levels - 0.1), DELTA_FLOOR)
    np.testing.assert_allclose(adc.delta_by_level(levels, v, d), want, rtol=1e-9)
    assert adc.delta_by_level(levels, v, d)[-1] == DELTA_FLOOR


def test_spec_validation_names_the_field():
    with pytest.raises(SpecError, match="^val_seed=1:"):
        AdcCharSpec(val_seed=1)
    with pytest.raises(SpecError, match="^bits="):
        build(AdcCharSpec, {"bits": [9]})
    with pytest.raises(SpecError, match="^v_reads=.*must include the design read voltage"):
        build(AdcCharSpec, {"v_reads": [0.15, 0.25]})
    with pytest.raises(SpecError, match="^activations=.*'softplus' is not a built-in"):
        build(AdcCharSpec, {"activations": ["sigmoid", "softplus"]})
    spec = build(AdcCharSpec, adc_spec.QUICK)
    assert spec.bit_list() == [3, 4] and spec.activation_list() == ["sigmoid", "tanh"]
    assert spec.val_seed != spec.seed


def test_eight_bit_designs_fit_the_window():
    spec = AdcCharSpec()
    for a in spec.activation_list():
        r = adc_spec.ramp_for(spec, a, 8)
        d = ramp_design(r)
        g = np.concatenate([d.g_ramp, d.g_cal])
        assert r.g_min <= g.min() and g.max() <= r.g_max
    assert adc_spec.ramp_for(spec, "relu", 8).x_min == -0.25
    assert adc_spec.ramp_for(spec, "relu", 5).c_int == spec.testbench.ramp.c_int


# ---------------------------------------------------------------- calibration (no SPICE)

def _ideal_ramp(design, g_ramp, g_cal, cal_step=None):
    steps = np.zeros(len(g_ramp) + 1)
    steps[1:] = g_ramp
    np.add.at(steps, np.zeros(len(g_cal), int) if cal_step is None else cal_step, g_cal)
    return design.v_read * design.t_read / design.c_int * np.cumsum(steps)[1:]


def test_calibration_plan_replaces_a_stuck_device():
    spec = AdcCharSpec()
    r = adc_spec.ramp_for(spec, "sigmoid", 4)
    d = ramp_design(r)
    g = np.array(d.g_ramp)
    g[4] = 0.0  # ramp device 5 stuck OFF
    g_cal = np.array(d.g_cal) * np.array([1.05, 0.97, 1.0, 1.02, 0.0])  # cal device 5 stuck
    v = _ideal_ramp(d, g, g_cal)
    plan = plan_calibration(d, v, g_cal, g_min=r.g_min, g_max=r.g_max)
    steps = np.array(plan.cal_step)
    assert 5 in steps and steps[4] == 0 and plan.g_cal[4] == 0  # the stuck one stays unused
    spare = int(np.nonzero(steps == 5)[0][0])
    assert abs(plan.g_cal[spare] - d.g_ramp[4]) < 0.02 * d.g_ramp[4]
    exact = program_calibration(d, v, g_cal, plan, np.random.default_rng(0), 0.0,
                                g_min=r.g_min, g_max=r.g_max)
    after = _ideal_ramp(d, g, exact, steps)
    lsb = np.min(np.diff(d.v_thresholds))
    assert np.max(np.abs(after - d.v_thresholds)) < 0.01 * lsb
    np.testing.assert_allclose(after - d.v_thresholds, plan.predicted_error, atol=1e-12)
    # with 5 % programming error write-and-verify keeps the offset to the trim device's error
    noisy = program_calibration(d, v, g_cal, plan, np.random.default_rng(1), 0.05,
                                g_min=r.g_min, g_max=r.g_max)
    before_err = np.max(np.abs(v - d.v_thresholds))
    after_err = np.max(np.abs(_ideal_ramp(d, g, noisy, steps) - d.v_thresholds))
    assert after_err < 0.25 * before_err


# ---------------------------------------------------------------- ngspice

@pytest.fixture(scope="module")
def quick_adc(quick):
    return quick.spec("adc"), quick.dataset("adc")


@pytest.mark.spice
def test_quick_dataset_is_consistent(quick_adc):
    spec, ds = quick_adc
    assert ds.spec() == spec
    n_cfg = 2 * 2 * 3  # activations x bits x (nominal, ramp @0.15, fixed @0.15)
    assert ds.cfg_bits.shape == (n_cfg,) and ds.transitions.shape == (n_cfg, 15)
    assert np.all(ds.monotonic)
    assert np.all(ds.fit_match >= 0.99)  # the table reproduces its own probe/background codes
    assert np.all(ds.mac_resid < 1e-6)  # the held MAC voltage is affine in x
    for i in range(n_cfg):
        n = 2 ** int(ds.cfg_bits[i]) - 1
        assert np.all(np.diff(ds.transitions[i, :n]) > 0)
        # the simulated ramp follows charge conservation to within the integrator's leak
        assert np.max(np.abs(ds.v_ramp[i, :n] - ds.v_design[i, :n])) < 50e-6
        # the overdrive is a few tens of microvolts
        assert np.all((ds.delta[i, :n] > 0) & (ds.delta[i, :n] < 100e-6))
    nominal = (ds.cfg_reference == "ramp") & np.isclose(ds.cfg_v_read, 0.2)
    assert np.all(ds.delta_source[nominal][:, :7] == adc.MEASURED)
    # at 3-4 bits microvolt errors are tiny against millivolt steps: near-ideal converters
    assert np.all(ds.inl_max[nominal] < 0.05) and np.all(ds.dnl_max[nominal] < 0.05)
    assert np.all(np.abs(ds.rmse_lsb - ds.rmse_ideal_lsb)[nominal] < 0.01)
    checks = adc.summary(ds)
    assert all(c.passed is not False for c in checks)


@pytest.mark.spice
def test_fixed_reference_drifts_with_v_read_ramp_does_not(quick_adc):
    _, ds = quick_adc
    for a in ("sigmoid", "tanh"):
        for b in (3, 4):
            n = 2**b - 1
            nom = ds.index(a, b)
            ramp = ds.index(a, b, 0.15, "ramp")
            fixed = ds.index(a, b, 0.15, "fixed")
            # ratiometric: the ramp scales with V_read too, codes stay (rms << 1 LSB)
            assert ds.shift_rms[ramp] < 0.05 and ds.shift_max[ramp] <= 1
            assert ds.shift_frac[ramp] < 0.01
            assert ds.shift_rms[fixed] > 1.5 and ds.shift_frac[fixed] > 0.5
            # physics: V_mac = V_in(x) * 0.15/0.2 meets the unscaled ramp, so the fixed
            # reference's transitions sit where V_in(T) = V_th / 0.75 (up to µV offsets)
            act = get_activation(a)
            v_in = 0.08 + (ds.transitions[fixed, :n] - act.x_min) / (act.x_max - act.x_min) * 0.24
            v_th = ds.v_design[nom, :n]
            np.testing.assert_allclose(v_in * 0.75, v_th, rtol=0, atol=0.2e-3)
            # ... while the ramp reference's move by a few µV only
            span = act.x_max - act.x_min
            shift = np.abs(ds.transitions[ramp, :n] - ds.transitions[nom, :n]) / span * 0.24
            assert shift.max() < 30e-6


@pytest.mark.spice
def test_monte_carlo_calibration_helps(quick_adc):
    _, ds = quick_adc
    assert ds.mc_trial.size == 2
    assert np.mean(ds.mc_rmse_after) < np.mean(ds.mc_rmse_before)
    assert np.mean(ds.mc_inl_after) < np.mean(ds.mc_inl_before)
    assert np.all(ds.mc_sim_match >= 0.95)  # the threshold model reproduces the SPICE codes


@pytest.mark.spice
@pytest.mark.slow
def test_calibration_recovers_a_stuck_off_ramp_device():
    """A 4-bit sigmoid ramp with device 3 stuck OFF and a few % programming error: the
    calibrated column (a spare at step 3, trimmed base) converts like the design again."""
    spec = build(AdcCharSpec, adc_spec.QUICK)
    nom = adc_spec.ramp_for(spec, "sigmoid", 4)
    d = ramp_design(nom)
    rng = np.random.default_rng(5)
    g = np.array(d.g_ramp) * np.exp(0.03 * rng.standard_normal(15))
    g[2] = 0.0  # every threshold from 3 on is about two middle codes low
    g_cal = np.array(d.g_cal) * np.exp(0.03 * rng.standard_normal(5))
    broken = replace(nom, g_ramp=tuple(g), g_cal=tuple(g_cal))
    act = get_activation("sigmoid")
    x = adc.stratified(rng, act.x_min, act.x_max, 32)
    before = adc.convert(adc.testbench_for(spec, broken, x))
    plan = plan_calibration(d, before.v_ramp, g_cal, g_min=nom.g_min, g_max=nom.g_max)
    assert 3 in plan.cal_step
    g_after = program_calibration(d, before.v_ramp, g_cal, plan, rng, 0.03,
                                  g_min=nom.g_min, g_max=nom.g_max)
    fixed = replace(broken, g_cal=tuple(g_after), cal_step=tuple(float(s) for s in plan.cal_step))
    after = adc.convert(adc.testbench_for(spec, fixed, x))
    # the deck reads the spare at step 3: the ramp's step 3 increment is back
    inc = np.diff(after.v_ramp)
    assert abs(inc[1] - (d.v_thresholds[2] - d.v_thresholds[1])) < 0.1 * inc[1]
    ideal = act.code(x, 4)
    assert np.max(np.abs(before.codes - ideal)) >= 2
    assert np.mean(after.codes == ideal) > np.mean(before.codes == ideal) + 0.25
    assert np.max(np.abs(after.codes - ideal)) <= 1
    lsb = np.min(np.diff(d.v_thresholds))
    err_before = np.max(np.abs(before.v_ramp - d.v_thresholds))
    err_after = np.max(np.abs(after.v_ramp - d.v_thresholds))
    assert err_before > lsb / 2 and err_after < 0.3 * err_before


@pytest.mark.spice
def test_dataset_npz_round_trip_and_corruption(quick_adc, tmp_path):
    _, ds = quick_adc
    path = tmp_path / "adc.npz"
    ds.save(path)
    back = AdcDataset.load(path)
    for name, arr in ds.to_arrays().items():
        np.testing.assert_array_equal(back.to_arrays()[name], arr, err_msg=name)
    arrays = ds.to_arrays()
    with pytest.raises(CacheError, match="transitions"):
        AdcDataset.from_arrays({**arrays, "transitions": arrays["transitions"][:, :3]})
    with pytest.raises(CacheError, match="sim_code"):
        AdcDataset.from_arrays({**arrays, "sim_code": arrays["sim_code"].astype(float)})
    with pytest.raises(CacheError, match="inl_max"):
        AdcDataset.from_arrays({k: v for k, v in arrays.items() if k != "inl_max"})
    with pytest.raises(CacheError, match="spec_json"):
        AdcDataset.from_arrays({**arrays, "spec_json": np.asarray('{"bits": [99]}')})
    bad = arrays["transitions"].copy()
    bad[0, 0] = np.nan
    with pytest.raises(CacheError, match="row 0"):
        AdcDataset.from_arrays({**arrays, "transitions": bad})
