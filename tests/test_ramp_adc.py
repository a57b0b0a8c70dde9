"""Ramp ADC: activation thresholds, ramp-column design, comparator and full conversions.

Independent checks used here:
- thresholds: ``f(x_k)`` equals the code boundary level ``lo + (k - 1/2)(hi - lo)/(2^B - 1)``
  and the ideal code changes from ``k - 1`` to ``k`` across ``x_k``;
- conductances: charge conservation ``V = sum(G) * V_read * t_read / C_int`` reproduces the
  threshold voltages written from the input map directly;
- ngspice: the ramp at each sample and the held MAC voltage equal those charge-conservation
  values, the code counted from the comparator waveform equals the ideal code of ``f(x)``,
  and scaling V_read scales the voltages but not the codes (ratiometric).
"""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuitsim.activations import BUILTINS, Activation, get_activation
from circuitsim.errors import SpecError
from circuitsim.netlist import adc, ramp, tb_conversion
from circuitsim.netlist import deck as deck_mod
from circuitsim.netlist.adc import ComparatorSpec, code_from_waveform, sample_times
from circuitsim.netlist.elements import instance, vcvs, vdc
from circuitsim.netlist.ramp import RampSpec, design_ramp, fit_c_int, ramp_design
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.phases import conversion_point
from circuitsim.spec import from_mapping, to_mapping
from circuitsim.spice.ngspice import run_batch

NAMES = sorted(BUILTINS)
N_SWEEP = 64


def sweep_inputs(act: Activation, n: int = N_SWEEP, seed: int = 7) -> np.ndarray:
    """Stratified random inputs: one per equal slice of the range, away from slice edges."""
    u = np.random.default_rng(seed).uniform(0.05, 0.95, n)
    return act.x_min + (np.arange(n) + u) * (act.x_max - act.x_min) / n


# ---------------------------------------------------------------- activations and design

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bits", [3, 5, 8])
def test_thresholds_invert_the_activation(name, bits):
    act = get_activation(name)
    lo, hi = act.bounds
    xs = act.thresholds(bits)
    n = 2**bits - 1
    levels = lo + (np.arange(1, n + 1) - 0.5) * (hi - lo) / n
    assert xs.shape == (n,)
    np.testing.assert_allclose(act(xs), levels, rtol=0, atol=1e-9 * (hi - lo))
    assert np.all(np.diff(xs) > 0)
    eps = 1e-7 * (act.x_max - act.x_min)
    np.testing.assert_array_equal(act.code(xs + eps, bits), np.arange(1, n + 1))
    np.testing.assert_array_equal(act.code(xs - eps, bits), np.arange(0, n))


@pytest.mark.parametrize("name", NAMES)
def test_threshold_root_finder_is_scipys_brentq_bit_for_bit(name):
    """The port keeps every designed ramp (and golden deck) as SciPy's brentq made it."""
    from scipy.optimize import brentq as scipy_brentq

    from circuitsim.activations import brentq

    act = get_activation(name)
    grid = np.linspace(act.x_min, act.x_max, 9)
    tol = 1e-13 * (act.x_max - act.x_min)
    lo, hi = act.bounds
    for level in lo + (np.arange(1, 256) - 0.5) * (hi - lo) / 255:
        def f(t, y=level):
            return float(act(t)) - y
        j = int(np.searchsorted(act(grid), level))
        a, b = float(grid[max(j - 1, 0)]), float(grid[min(j, 8)])
        if f(a) * f(b) > 0:
            continue
        assert brentq(f, a, b, tol) == scipy_brentq(f, a, b, xtol=tol)
    with pytest.raises(ValueError, match="different signs"):
        brentq(lambda t: t * t + 1.0, -1.0, 1.0, tol)


def test_sigmoid_code_is_round_of_scaled_sigmoid():
    x = np.random.default_rng(3).uniform(-8, 8, 500)
    sig = 1 / (1 + np.exp(-x))
    assert np.array_equal(get_activation("sigmoid").code(x, 5), np.round(31 * sig).astype(int))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bits", [3, 4, 5])
def test_conductance_sums_reproduce_the_ramp(name, bits):
    d = design_ramp(name, bits)  # defaults: inside the device window
    act = get_activation(name)
    v_expected = 0.08 + (act.thresholds(bits) - act.x_min) / (act.x_max - act.x_min) * 0.24
    g_cum = np.cumsum([sum(d.g_cal), *d.g_ramp])
    v_from_charge = g_cum * d.v_read * d.t_read / d.c_int
    np.testing.assert_allclose(v_from_charge, [0.08, *v_expected], rtol=1e-12)
    assert len(d.g_cal) == 5 and min(d.g_ramp + d.g_cal) >= 1e-6
    assert max(d.g_ramp + d.g_cal) <= 1e-4


def test_any_monotonic_callable_is_designed():
    def cube(x):
        return np.asarray(x, dtype=float) ** 3

    d = design_ramp(cube, 4, x_min=-1.0, x_max=1.0)
    levels = -1 + (np.arange(1, 16) - 0.5) * 2 / 15
    np.testing.assert_allclose(np.asarray(d.thresholds) ** 3, levels, atol=1e-12)

    def scalar_only(x):  # a plain scalar function is mapped point by point
        return math.atan(float(x))

    d = design_ramp(scalar_only, 3, x_min=-2.0, x_max=2.0)
    assert d.activation == "scalar_only" and len(d.g_ramp) == 7


def test_non_monotonic_callable_is_rejected_with_place():
    def bump(x):
        return -(np.asarray(x) - 0.5) ** 2

    with pytest.raises(SpecError, match="bump") as err:
        design_ramp(bump, 4, x_min=-1.0, x_max=1.0)
    where = float(re.search(r"between x=([-0-9.e]+)", str(err.value)).group(1))
    assert abs(where - 0.5) < 1e-3


def test_threshold_outside_input_range_names_the_bound():
    with pytest.raises(SpecError, match=r"^x_min=-7\.0: the threshold of code 1"):
        get_activation("sigmoid").thresholds(10)


def test_conductance_outside_window_is_rejected_naming_the_field():
    with pytest.raises(SpecError, match=r"^g_min=2e-06: ramp device \d+ of 'sigmoid'"):
        RampSpec(g_min=2e-6)
    with pytest.raises(SpecError, match=r"^g_max=5e-05: ramp device 1 of 'relu'"):
        RampSpec(activation="relu", bits=3, g_max=5e-5)
    with pytest.raises(SpecError, match=r"^g_min="):
        design_ramp("sigmoid", 8)  # 8 bits: steps 8x smaller than the defaults allow
    c = fit_c_int("sigmoid", 8)  # ... unless the design picks c_int
    d = design_ramp("sigmoid", 8, c_int=c)
    assert 1e-6 <= min(d.g_ramp) and max(d.g_ramp + d.g_cal) <= 1e-4


def test_explicit_conductances_override_the_design():
    base = ramp_design(RampSpec(bits=3))
    g_ramp = tuple(g * 1.1 for g in base.g_ramp)
    spec = RampSpec(bits=3, g_ramp=g_ramp, g_cal=(0.0, 1e-5, 1e-5, 1e-5, 2e-5))
    d = ramp_design(spec)
    assert d.g_ramp == g_ramp and d.thresholds == base.thresholds
    text = ramp.deck(spec)
    assert not re.search(r"^Rcal1 ", text, re.M) and "* Rcal1: stuck OFF" in text
    with pytest.raises(SpecError, match=r"^g_ramp=.*needs 2\^bits - 1 = 7"):
        RampSpec(bits=3, g_ramp=(1e-5,) * 6)


def test_code_from_waveform_counts_high_samples():
    t = np.linspace(0, 10, 1001)
    v = np.where(t < 4.5, 1.2, 0.0)
    assert code_from_waveform(t, v, np.arange(1.0, 9.0), 0.6) == 4
    spec = RampSpec(bits=3)
    np.testing.assert_allclose(sample_times(spec), 30e-9 + np.arange(2, 9) * 50e-9)
    with pytest.raises(ValueError):
        code_from_waveform(t, v, np.array([11.0]), 0.6)


def test_block_decks_are_plain_and_stable():
    for module, spec in ((ramp, RampSpec()), (adc, ComparatorSpec()),
                         (tb_conversion, ConversionTestbenchSpec())):
        text = module.deck(spec)
        assert ".control" not in text.lower() and text.endswith(".end\n")


# ---------------------------------------------------------------- spec round trips

ramp_specs = st.builds(
    RampSpec,
    activation=st.sampled_from(NAMES),
    bits=st.integers(3, 5),
    v_read_applied=st.none() | st.floats(0.1, 0.3),
    period=st.floats(40e-9, 100e-9),
    opamp_gain=st.floats(1e4, 1e7),
    n_cal=st.integers(1, 8),
    g_cal=st.none(),
)
comparator_specs = st.builds(ComparatorSpec, vdd=st.floats(0.9, 1.3), i_bias=st.floats(1e-6, 5e-5),
                             w_in=st.floats(0.5e-6, 8e-6), l_inv=st.floats(45e-9, 0.2e-6))


@settings(max_examples=25, deadline=None)
@given(ramp_specs)
def test_ramp_spec_round_trip(spec):
    assert from_mapping(RampSpec, to_mapping(spec)) == spec


@settings(max_examples=25, deadline=None)
@given(comparator_specs)
def test_comparator_spec_round_trip(spec):
    assert from_mapping(ComparatorSpec, to_mapping(spec)) == spec


@settings(max_examples=15, deadline=None)
@given(ramp_specs, comparator_specs,
       st.lists(st.floats(-0.9, 0.9), min_size=1, max_size=4), st.booleans())
def test_testbench_spec_round_trip(r, c, x, explicit):
    if explicit:  # explicit conductances as a programming-error study would give them
        d = ramp_design(r)
        r = from_mapping(RampSpec, {**to_mapping(r), "g_ramp": [g * 0.97 for g in d.g_ramp],
                                    "g_cal": list(d.g_cal)})
    spec = ConversionTestbenchSpec(ramp=r, comparator=c, x=tuple(x))
    assert from_mapping(ConversionTestbenchSpec, to_mapping(spec)) == spec


# ---------------------------------------------------------------- ngspice

#: Inputs per deck: a deck's cost grows faster than its comparator count (measured: 16 inputs
#: 1.3 s, 32 3.3 s, 64 9.1 s), so each sweep runs as several decks sharing the ramp design.
DECK_INPUTS = 16


@dataclass(frozen=True)
class Sweep:
    """Per-input results of one sweep (all its decks), plus the ramp sampled in each deck."""

    codes: np.ndarray
    vmac: np.ndarray  #: the .meas held MAC voltage
    t_flip: np.ndarray  #: the .meas switching time (NaN: never switches)
    ramps: list[np.ndarray]  #: per deck, the ramp voltage at the sample times


def _convert(spec: ConversionTestbenchSpec) -> Sweep:
    ts = sample_times(spec)
    codes, vmac, t_flip, ramps = [], [], [], []
    for k in range(0, len(spec.x), DECK_INPUTS):
        part = replace(spec, x=spec.x[k:k + DECK_INPUTS])
        result = run_batch(tb_conversion.deck(part))
        n = len(part.x)
        codes += [code_from_waveform(result.time, result[f"v(out{i})"], ts,
                                     spec.comparator.threshold) for i in range(n)]
        vmac += [result.meas[f"vmac{i}"] for i in range(n)]
        t_flip += [result.meas[f"tflip{i}"] for i in range(n)]
        ramps.append(np.interp(ts, result.time, result["v(ramp)"]))
    return Sweep(np.array(codes), np.array(vmac, dtype=float), np.array(t_flip, dtype=float),
                 ramps)


def _spec(name: str, v_read_applied: float | None = None) -> ConversionTestbenchSpec:
    x = sweep_inputs(get_activation(name))
    return ConversionTestbenchSpec(ramp=RampSpec(activation=name, bits=5,
                                                 v_read_applied=v_read_applied),
                                   x=tuple(float(v) for v in x))


RUNS = {**{name: (name, None) for name in NAMES},
        "sigmoid@0.15": ("sigmoid", 0.15), "sigmoid@0.25": ("sigmoid", 0.25)}


@pytest.fixture(scope="module")
def conversions():
    """All sweeps of this file, two ngspice processes at a time."""
    specs = {key: _spec(*args) for key, args in RUNS.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(_convert, spec) for key, spec in specs.items()}
        return {key: (specs[key], futures[key].result()) for key in specs}


@pytest.mark.spice
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.slow
def test_five_bit_conversion_matches_ideal_code(conversions, name):
    spec, sw = conversions[name]
    codes = sw.codes
    act, x = get_activation(name), np.asarray(spec.x)
    ideal = act.code(x, 5)
    assert len(set(ideal.tolist())) >= 16  # the sweep exercises most codes
    wrong = codes != ideal
    assert np.mean(~wrong) >= 0.95, list(zip(x[wrong], codes[wrong], strict=True))
    assert np.max(np.abs(codes - ideal)) <= 1
    # physics: ramp after each step and held MAC voltage from charge conservation; the
    # op-amp's finite gain (1e6) lets the idle rows leak the ramp by up to 0.07 mV (relu)
    d = spec.design()
    for ramp_at in sw.ramps:
        np.testing.assert_allclose(ramp_at, d.v_thresholds, rtol=0, atol=100e-6)
    np.testing.assert_allclose(sw.vmac, d.v_in(x), rtol=0, atol=50e-6)
    # the measured switching time lies in step code + 1 (NaN: never switches, full scale)
    t_flip = sw.t_flip
    r = spec.ramp
    full = codes == 2**5 - 1
    assert np.all(np.isnan(t_flip[full]))
    step = np.floor((t_flip[~full] - r.t_start) / r.period).astype(int)
    np.testing.assert_array_equal(step, codes[~full] + 1)


@pytest.mark.spice
@pytest.mark.parametrize("v_read", [0.15, 0.25])
@pytest.mark.slow
def test_conversion_is_ratiometric_in_v_read(conversions, v_read):
    spec0, sw0 = conversions["sigmoid"]
    spec, sw = conversions[f"sigmoid@{v_read}"]
    codes0, codes, vmac = sw0.codes, sw.codes, sw.vmac
    x = np.asarray(spec.x)
    # the MAC voltage follows V_read (a fixed-reference ADC would see it move) ...
    np.testing.assert_allclose(vmac, spec0.design().v_in(x) * v_read / 0.2, rtol=0, atol=50e-6)
    fixed_ref = np.searchsorted(spec0.design().v_thresholds, vmac)
    assert np.mean(fixed_ref != codes0) > 0.2
    # ... but the ramp follows too, so the codes stay
    assert np.mean(codes == codes0) >= 0.95
    assert np.max(np.abs(codes - codes0)) <= 1


@pytest.mark.spice
def test_comparator_offset_and_polarity():
    """DC sweep of v(inp) - v(inn) at several common modes: |offset| < 0.1 mV."""
    spec = ComparatorSpec()
    vcms = [0.06, 0.1, 0.2, 0.3, 0.4]
    body = [*adc.subckt_lines(spec), vdc("Vdd", "vdd", "0", spec.vdd),
            instance("Xb", ["vdd", "0", "vbp"], adc.BIAS), vdc("Vd", "vd", "0", 0.0)]
    for i, vcm in enumerate(vcms):
        body += [vdc(f"Vcm{i}", f"cm{i}", "0", vcm),
                 vcvs(f"Ed{i}", f"inp{i}", f"cm{i}", "vd", "0", 1.0),
                 instance(f"Xc{i}", [f"inp{i}", f"cm{i}", f"out{i}", "vdd", "0", "vbp"],
                          adc.COMPARATOR)]
    control = [".dc Vd -0.001 0.001 2e-06",
               ".save " + " ".join(f"v(out{i})" for i in range(len(vcms)))]
    result = run_batch(deck_mod.render("comparator offset", [], body, models=["ptm45hp"],
                                       control=control))
    vd = np.linspace(-1e-3, 1e-3, 1001)
    for i in range(len(vcms)):
        out = result[f"v(out{i})"]
        assert out[0] < 0.05 * spec.vdd and out[-1] > 0.95 * spec.vdd  # high when inp > inn
        j = int(np.argmax(out > spec.threshold))  # first point above the logic threshold
        offset = vd[j - 1] + (spec.threshold - out[j - 1]) / (out[j] - out[j - 1]) * 2e-6
        assert abs(offset) < 1e-4, (vcms[i], offset)


# ---------------------------------------------------------------- calibration steps, reference

def test_cal_step_is_validated_and_moves_the_charge():
    with pytest.raises(SpecError, match=r"^cal_step=.*needs n_cal = 5"):
        RampSpec(bits=3, cal_step=(0.0, 3.0))
    with pytest.raises(SpecError, match=r"^cal_step=.*integer step 0 \.\. 7"):
        RampSpec(bits=3, cal_step=(0.0, 0.0, 0.0, 0.0, 8.0))
    with pytest.raises(SpecError, match=r"^cal_step=.*integer step"):
        RampSpec(bits=3, cal_step=(0.0, 0.0, 0.0, 0.0, 1.5))
    base = ramp_design(RampSpec(bits=3))
    d = ramp_design(RampSpec(bits=3, cal_step=(0.0, 0.0, 0.0, 0.0, 3.0)))
    g5 = base.g_cal[4]
    moved = base.ramp_voltages() - d.ramp_voltages()
    kappa = base.v_read * base.t_read / base.c_int
    np.testing.assert_allclose(moved, kappa * g5 * np.array([1, 1, 1, 0, 0, 0, 0, 0]),
                               atol=1e-15)
    assert "calibration row 5 read at step 3" in ramp.deck(RampSpec(bits=3, cal_step=(
        0.0, 0.0, 0.0, 0.0, 3.0)))
    assert ramp.deck(RampSpec(bits=3, cal_step=())) == ramp.deck(RampSpec(bits=3))


def test_fixed_reference_deck_reads_the_ramp_at_the_design_voltage():
    spec = ConversionTestbenchSpec(ramp=RampSpec(bits=3, v_read_applied=0.15),
                                   reference="fixed", x=(0.37, 2.0))
    text = tb_conversion.deck(spec)
    assert "fixed reference: ramp column read at the design 0.2 V, MAC inputs at 0.15 V" in text
    ramp_rows = [line for line in text.splitlines() if line.startswith(("Vrow", "Vcal"))]
    mac_rows = [line for line in text.splitlines() if line.startswith("Vx")]
    assert all(" -0.2 " in line for line in ramp_rows)
    assert all(" -0.15 " in line for line in mac_rows)
    assert spec.ramp_column().v_applied == 0.2
    ratiometric = replace(spec, reference="ramp")
    assert "fixed reference" not in tb_conversion.deck(ratiometric)


@pytest.mark.spice
def test_spare_and_fixed_reference_in_ngspice():
    """A spare read at step 3 raises the ramp from step 3 on by G·V_read·t_read/C_int; a fixed
    reference keeps the ramp at the design levels while the MAC voltage scales with V_read."""
    spare = RampSpec(bits=3, g_cal=(1.25e-05, 1.25e-05, 1.25e-05, 1.25e-05, 8e-06),
                     cal_step=(0.0, 0.0, 0.0, 0.0, 3.0))
    spec = ConversionTestbenchSpec(ramp=spare, x=(0.37,))
    (ramp_at,) = _convert(spec).ramps
    np.testing.assert_allclose(ramp_at, ramp_design(spare).ramp_voltages()[1:], rtol=0,
                               atol=20e-6)
    fixed = ConversionTestbenchSpec(ramp=RampSpec(bits=3, v_read_applied=0.15),
                                    reference="fixed", x=(-2.0, 0.37, 2.0))
    sw = _convert(fixed)
    d = fixed.design()
    (ramp_at,) = sw.ramps
    np.testing.assert_allclose(ramp_at, d.v_thresholds, rtol=0, atol=20e-6)
    np.testing.assert_allclose(sw.vmac, d.v_in(np.array(fixed.x)) * 0.75, rtol=0, atol=20e-6)
    np.testing.assert_array_equal(sw.codes, np.searchsorted(d.v_thresholds, sw.vmac))
    # the phase result's ideal ramp is the fixed reference's too
    res = conversion_point(fixed)
    np.testing.assert_allclose(res.v_ramp, res.v_ramp_ideal, rtol=0, atol=20e-6)
