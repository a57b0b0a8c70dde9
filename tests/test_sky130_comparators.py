"""The ramp-ADC comparators on SkyWater SKY130 (issue 14): both kinds convert to the design
codes, the latch decides small inputs with no static current and its Monte-Carlo draws
SkyWater's own mismatch sigmas, and bad technology input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from circuitsim.characterize import latch as char_latch
from circuitsim.characterize.technology_presets import adc_preset
from circuitsim.cli import main
from circuitsim.netlist import adc, sky130
from circuitsim.netlist.adc import ComparatorSpec
from circuitsim.netlist.sky130_mismatch import sigma_vth
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.phases.conversion import conversion_point
from circuitsim.spec import build
from circuitsim.surrogate.service import make_spec

TT = {"name": "sky130", "corner": "tt"}


@pytest.mark.spice
@pytest.mark.parametrize("kind", ["continuous", "strongarm"])
def test_sky130_comparators_convert_to_the_design_codes(kind):
    """3-bit sigmoid conversions of inputs 1 mV above and below design thresholds and beyond
    both ends: the codes are the design codes, with the same margin as PTM's comparators;
    the latch draws a small fraction of the continuous comparator's energy."""
    ramp = {"bits": 3}
    design = build(ConversionTestbenchSpec, {"ramp": ramp}).design()
    v_thr = np.asarray(design.v_thresholds)
    near = v_thr[[0, 3, 6]] if kind == "continuous" else v_thr[[0, 6]]  # a latch deck is slow
    v = np.concatenate([near - 1e-3, near + 1e-3, [v_thr[0] - 0.02, v_thr[-1] + 0.02]])
    x = design.x_min + (v - design.v_lo) / design.v_span * (design.x_max - design.x_min)
    spec = build(ConversionTestbenchSpec, {"ramp": ramp, "x": list(x),
                                           "comparator": adc.preset(kind, TT)})
    assert spec.comparator.vdd == 1.8 and spec.comparator.technology.name == "sky130"
    res = conversion_point(spec)
    np.testing.assert_array_equal(res.codes, np.searchsorted(v_thr, v))
    per_input = res.energy_comparators / len(x)
    bound = (5e-12, 100e-12) if kind == "continuous" else (0.1e-12, 5e-12)
    assert bound[0] < per_input < bound[1], per_input


@pytest.mark.spice
def test_sky130_latch_decides_small_inputs_and_draws_skywaters_sigmas():
    spec = char_latch.LatchCharSpec(
        comparator=build(ComparatorSpec, adc.preset("strongarm", TT)), common_modes=(0.2,),
        sign_cycles=1, offset_span=8e-3, offset_steps=9, refine_steps=11, mc_trials=0)
    ds = char_latch.characterize(spec, progress=False)
    assert ds.sign_ok[0] and abs(ds.offset[0]) <= 2 * ds.resolution
    assert 50e-12 < ds.t_decision[0] < 2e-9  # slower than PTM 45 nm, far within t_lead
    assert np.all(np.abs(ds.i_between) < 1e-6)  # leakage only between clock edges
    sig = char_latch.mismatch_sigmas(spec.comparator)
    lt, lib = spec.comparator.latch, sky130.prepared_library()
    assert sig["dvt_in_p"] == sig["dvt_in_n"] == sigma_vth(lib, sky130.PFET, lt.w_in, lt.l_in)
    assert sig["dvt_xn_p"] == sigma_vth(lib, sky130.NFET, lt.w_xn, lt.l_min)
    assert 1e-3 < sig["dvt_in_p"] < sig["dvt_xn_p"] < 50e-3  # the larger pair matches better


def test_presets_keep_ptm_cache_keys_and_carry_the_corner():
    assert adc_preset("continuous", {"name": "ptm45"}) == {}
    assert make_spec("adc", adc_preset("continuous", {"name": "ptm45"}), quick=True) == \
        make_spec("adc", quick=True)
    s = make_spec("adc", adc_preset("strongarm", {"name": "sky130", "corner": "ss"}),
                  quick=True)
    c = s.testbench.comparator
    assert (c.kind, c.technology.corner, c.vdd, c.latch.l_min) == ("strongarm", "ss", 1.8,
                                                                    0.15e-6)


@pytest.mark.parametrize("argv, needle", [
    (["netlist", "comparator", "--set", "technology.name=sky130", "-o", "{out}"],
     "below the sky130 minimum"),
    (["netlist", "comparator", "--preset", "sky130", "--set", "vdd=2.5", "-o", "{out}"],
     "above the sky130 device rating"),
    (["netlist", "comparator", "--preset", "sky130_strongarm", "--set", "latch.l_min=1e-7",
      "-o", "{out}"], "latch.l_min=1e-07: below the sky130 minimum"),
    (["latch", "--corner", "ss", "--out", "{out}"], "corners need --technology sky130"),
    (["train", "--set", "comparator_corner=ff"],
     "corners other than tt need comparator_technology=sky130"),
    (["surrogate", "fit", "mac", "--comparator", "strongarm"], "--comparator: applies to the "
     "adc kind"),
    (["characterize", "adc", "--corner", "ss"], "ptm45 has no process corners"),
])
def test_bad_comparator_technology_input_one_line_exit_2(tmp_path, capsys, argv, needle):
    code = main([a.format(out=tmp_path / "o") for a in argv])
    _, err = capsys.readouterr()
    assert code == 2 and needle in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.spice
def test_offset_is_found_when_the_fine_ladder_is_shorter_than_the_coarse_flip():
    """Regression: the offset was NaN ("beyond the span") whenever the coarse ladder's count
    of 1-decisions reached the fine ladder's length (9 coarse steps, 5 fine ones)."""
    spec = char_latch.LatchCharSpec(comparator=ComparatorSpec(kind="strongarm"),
                                    common_modes=(0.2,), sign_cycles=1, offset_steps=9,
                                    refine_steps=5, mc_trials=0)
    ds = char_latch.characterize(spec, progress=False)
    assert np.isfinite(ds.offset[0]) and abs(ds.offset[0]) <= 2 * ds.resolution


def test_training_asks_for_the_sky130_adc_of_its_comparator_fields():
    from circuitsim.characterize.technology_presets import SKY130_RUNGS
    from circuitsim.spec import build as build_spec
    from circuitsim.train.build import adc_spec
    from circuitsim.train.config import TrainSpec

    t = build_spec(TrainSpec, {"rule": "ambrogio", "comparator": "strongarm",
                               "comparator_technology": "sky130", "comparator_corner": "ff"})
    s = adc_spec(t.quick, t.act_bits, t.comparator, t.comparator_technology,
                 t.comparator_corner)
    c = s.testbench.comparator
    assert s.bits == (t.act_bits,) and s.rungs == SKY130_RUNGS
    assert (c.kind, c.technology.name, c.technology.corner) == ("strongarm", "sky130", "ff")
    assert adc_spec(True, 4) == make_spec("adc", {"bits": [4]}, quick=True)  # PTM unchanged
