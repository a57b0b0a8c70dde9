"""StrongARM latch comparator against physics: the sign of small inputs, the energy per
decision as the supply-current integral, no current between clock edges, and the ramp ADC's
codes against the simulated voltages it compares.
"""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.characterize.latch import LatchCharSpec, characterize, summary
from circuitsim.errors import SpecError
from circuitsim.netlist import tb_latch
from circuitsim.netlist.adc import ComparatorSpec, sample_times
from circuitsim.netlist.latch import LatchSpec
from circuitsim.netlist.ramp import RampSpec
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.phases.conversion import conversion_point
from circuitsim.phases.latch import latch_point
from circuitsim.spice.runner import simulate

LATCH = ComparatorSpec(kind="strongarm")
DV = 0.3e-3  # V, differential input of the sign cycles
CM = np.repeat([0.08, 0.2, 0.32], 2)  # the ramp's voltage range
SIGNS = np.tile([1.0, -1.0], 3)


@pytest.fixture(scope="module")
def cycles():
    spec = tb_latch.LatchTestbenchSpec(comparator=LATCH, v_inp=tuple(CM + SIGNS * DV / 2),
                                       v_inn=tuple(CM - SIGNS * DV / 2), t_step=1e-9)
    return spec, latch_point(spec), simulate(tb_latch.deck(spec))


@pytest.mark.spice
def test_latch_decides_the_sign_of_small_inputs(cycles):
    _, res, _ = cycles
    np.testing.assert_array_equal(res.decision, (SIGNS > 0).astype(int))
    # regeneration is fast (tens of ps) next to the 10 ns the ADC leaves before its sample
    assert np.all((res.t_decision > 5e-12) & (res.t_decision < 1e-9)), res.t_decision


@pytest.mark.spice
def test_energy_per_decision_is_the_supply_current_integral(cycles):
    spec, res, raw = cycles
    t, i = raw.time, raw["i(Vdd)"]
    for j, start in enumerate(spec.starts()):
        sel = (t >= start) & (t <= start + spec.period)  # cycles start and end on time points
        e = spec.comparator.vdd * -np.trapezoid(i[sel], t[sel])
        assert res.energy[j] == pytest.approx(e, rel=1e-3)
    # a decision switches some 10-50 fF of nodes through vdd: tens of fJ, not pJ
    assert np.all((res.energy > 10e-15) & (res.energy < 200e-15)), res.energy


@pytest.mark.spice
def test_no_static_current_between_clock_edges(cycles):
    spec, res, _ = cycles
    # what flows once a phase has settled is leakage: < 1 % of the continuous comparator's
    # static bias per comparator (tail + stage-2 load mirrored from i_bias)
    c = ComparatorSpec()
    bias = c.i_bias * (c.w_tail + c.w_cs_load) / c.w_bias
    assert np.all(np.abs(res.i_reset) < 0.01 * bias), res.i_reset
    assert np.all(np.abs(res.i_hold) < 0.01 * bias), res.i_hold
    # over a whole cycle that leakage is a few % of the energy of the decision
    leak = spec.comparator.vdd * np.maximum(np.abs(res.i_reset), np.abs(res.i_hold)) * spec.period
    assert np.all(leak < 0.1 * res.energy)


@pytest.mark.spice
def test_ramp_adc_codes_follow_the_simulated_comparison():
    """Inputs 0.3 mV above and below 3-bit design thresholds: the latch ADC's code is the
    number of samples at which the simulated MAC voltage exceeds the simulated ramp (the
    ramp's droop and the MAC's are µV, far below the margin), i.e. the design code."""
    ramp = RampSpec(bits=3)
    design = ConversionTestbenchSpec(ramp=ramp).design()
    v_thr = np.asarray(design.v_thresholds)
    near = v_thr[[0, 3, 6]]
    v = np.concatenate([near - 0.3e-3, near + 0.3e-3, [v_thr[0] - 0.02, v_thr[-1] + 0.02]])
    x = design.x_min + (v - design.v_lo) / design.v_span * (design.x_max - design.x_min)
    spec = ConversionTestbenchSpec(ramp=ramp, comparator=LATCH, x=tuple(x))
    res = conversion_point(spec)
    expected = np.sum(res.v_mac[:, None] > res.v_ramp[None, :], axis=1)
    np.testing.assert_array_equal(res.codes, expected)
    np.testing.assert_array_equal(res.codes, np.searchsorted(v_thr, v))
    # energy: the supply draws about one latch decision per clock step and comparator
    n = len(x)
    decisions = len(sample_times(ramp)) + 1  # the calibration step's decision too
    per_decision = res.energy_comparators / (n * decisions)
    assert 20e-15 < per_decision < 100e-15, per_decision
    assert res.energy_clock > 0
    assert res.energy_per_conversion == pytest.approx(
        (res.energy_ramp + res.energy_comparators + res.energy_clock) / n)


@pytest.mark.spice
def test_input_pair_threshold_shift_is_the_offset():
    """A threshold shift ``dvt`` (weaker) of the inp device needs a higher ``v(inp)`` for a
    tie: the input offset is negative and at least ``dvt`` in size (the gate-shift part;
    BSIM4's mobility degradation also depends on V_th: 1.37 x measured, and -dvt gives +4.1 mV
    as +dvt gives -4.1 mV; the nominal offset is within the 0.2 mV resolution). Ideal sources
    (1 ohm): through 1 kohm the mismatched pair's unequal kickback adds more."""
    dvt = 3e-3
    spec = LatchCharSpec(comparator=ComparatorSpec(kind="strongarm",
                                                   latch=LatchSpec(dvt_in_p=dvt)),
                         common_modes=(0.2,), sign_cycles=1, offset_span=8e-3, offset_steps=9,
                         refine_steps=11, mc_trials=0, r_source=1.0)
    ds = characterize(spec, progress=False)
    assert ds.resolution == pytest.approx(0.2e-3)
    assert -1.6 * dvt < ds.offset[0] < -dvt + ds.resolution
    assert not ds.sign_ok[0]  # -0.2 mV lies above the -4 mV offset: decided as positive
    assert ds.mc_offset.size == 0 and ds.mc_dvt.shape == (0, 6)
    names = [c.name for c in summary(ds)]
    assert "latch @0.2 V: input offset" in names and len(names) == 6


def test_latch_spec_names_the_bad_field():
    with pytest.raises(SpecError, match="t_eval"):
        LatchSpec(t_eval=20e-9)  # ends after the sample (t_lead 10 ns)
    with pytest.raises(SpecError, match="comparator.kind"):
        tb_latch.LatchTestbenchSpec(comparator=ComparatorSpec())
    with pytest.raises(SpecError, match="w_in"):
        LatchSpec(w_in=10e-9)
