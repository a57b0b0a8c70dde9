"""MAC read modes (issue 16): the time-domain physics against ngspice on tiny tiles, the
surrogate's layer in every mode, and a 1T1R fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from circuitsim.characterize import mac as cm
from circuitsim.errors import SpecError
from circuitsim.phases.mac import mac_point
from circuitsim.surrogate import mac as sm
from circuitsim.surrogate import mac_timing as tm
from circuitsim.surrogate.mac_fit import fit
from circuitsim.surrogate.mac_validate import validate

#: Linear 12x10 tiles whose read modes leave the DC model far off.
CASES = {
    # gain 20 on a near-full-scale integrator: droop of ~12 % FS
    "amplitude droop": ({"sensing": "integrator", "opamp_gain": 20.0, "c_int": 0.8e-12,
                         "t_read": 15e-9, "t_edge": 0.5e-9}, 0.15, 10.0),
    "pulse-width droop": ({"sensing": "integrator", "encoding": "pulse_width", "pw_bits": 4,
                           "opamp_gain": 20.0, "c_int": 0.8e-12, "t_read": 15e-9,
                           "t_edge": 0.5e-9}, 0.15, 10.0),
    # 20 Ohm, 100 fF per pitch, 1 ns reads into an integrator: tails cut at the read
    "wire settling": ({"sensing": "integrator", "r_row": 20.0, "r_col": 20.0,
                       "c_row": 100e-15, "c_col": 100e-15, "t_read": 1e-9, "t_edge": 0.1e-9,
                       "t_reset": 5e-9, "c_int": 0.8e-12}, 1.0, 4.0),
}


@pytest.mark.spice
@pytest.mark.parametrize("case", list(CASES))
def test_time_domain_physics_against_spice(case):
    """The unfitted ladder physics with the time-domain terms against ngspice (max error in %
    FS, forward and backward), and the same physics without them (the DC model) off by more."""
    circuit, bound, dc_off = CASES[case]
    c = cm.MacCircuit(iv="linear", **circuit)
    spec = cm.MacCharSpec(circuit=c, tiles=((12, 10, 3),), val_tiles=((12, 10, 3),),
                          stress_tile=())
    sur = sm.physics(spec)
    assert sur.timed == 1
    rng = np.random.default_rng(4)
    g = rng.uniform(1e-6, 20e-6, (12, 10))
    x = np.vstack([np.ones(12), rng.uniform(-1, 1, (2, 12))])
    for direction in cm.DIRECTIONS:
        xd = x if direction == "forward" else x[:, :10]
        spice = c.readout(mac_point(c.testbench(g, xd, direction)))
        fs = np.abs(cm.ideal_read(g, xd, direction, c.v_read)).max()
        errs = []
        for model in (sur, replace(sur, timed=0)):
            read = model.forward if direction == "forward" else model.backward
            errs.append(100 * np.abs(read(g, xd) - spice).max() / fs)
        assert errs[0] < bound and errs[1] > dc_off, (direction, errs)


@pytest.mark.spice
def test_read_to_read_carry_over_is_bounded_and_refused_beyond_its_bound():
    """Two back-to-back reads in one ngspice deck (a full-scale read, then a random one)
    against the second read alone, from rest, on a 16x16 integrator tile with slow wires
    (20 Ohm, 100 fF per pitch, 1 ns reads): the second read carries part of the first one's
    wire tail across the gap. The Elmore estimate ``carry_over`` bounds it and is not vacuous
    (within 15x of it) while the carry is above the simulator's floor; at ``min_gap`` it is
    within ``CARRY_BOUND``. A spec whose gap is shorter is refused, naming t_reset."""
    from circuitsim.characterize.mac_circuit import CARRY_BOUND

    n = 16
    c = cm.MacCircuit(iv="linear", sensing="integrator", r_row=20.0, r_col=20.0,
                      c_row=100e-15, c_col=100e-15, t_read=1e-9, t_edge=0.1e-9, c_int=0.8e-12)
    rng = np.random.default_rng(3)
    g = rng.uniform(1e-6, 20e-6, (n, n))
    x = np.vstack([np.ones(n), rng.uniform(-1, 1, n)])
    fs = np.abs(cm.ideal_read(g, x, "forward", c.v_read)).max()
    alone = c.readout(mac_point(c.testbench(g, x[1:], "forward")))[0]
    measured = []
    for gap in (0.1e-9, 1e-9, c.min_gap(n)):
        cg = replace(c, t_reset=gap)
        both = cg.readout(mac_point(cg.testbench(g, x, "forward")))[1]
        measured.append((np.abs(both - alone).max() / fs, cg.carry_over(n)))
    for carry, bound in measured[:2]:
        assert bound / 15 < carry <= bound, measured
    assert measured[2][0] <= CARRY_BOUND and measured[2][1] == pytest.approx(CARRY_BOUND)
    assert measured[0][0] > 10 * measured[1][0] > 100 * measured[2][0], measured
    with pytest.raises(SpecError, match=r"circuit\.t_reset.*carry"):
        cm.MacCharSpec(circuit=replace(c, t_reset=1e-9), tiles=((n, n, 2),),
                       val_tiles=((n, n, 2),), stress_tile=())
    cm.MacCharSpec(circuit=replace(c, t_reset=c.min_gap(n) * 1.01), tiles=((n, n, 2),),
                   val_tiles=((n, n, 2),), stress_tile=(), layer=())


def test_settling_factor_limits():
    """One pole: a ramp of 0.1 ns then 1 ns of plateau into a lag leaves (tau/e)(1 -
    exp(-e/tau)) exp(-t_read/tau) missing (hand values); two equal poles are the limit of two
    distinct ones; the integrator loses only the cut tail."""
    tau = np.array([0.0, 0.1e-9, 1e-9])
    one = tm.settle_factor(tau, np.zeros(3), "tia", 1e-9, 0.1e-9)
    assert one[0] == 1.0
    assert one[1] == pytest.approx(1 - (1 - np.exp(-1)) * np.exp(-10), rel=1e-9)
    assert one[2] == pytest.approx(1 - 10 * (1 - np.exp(-0.1)) * np.exp(-1), rel=1e-9)
    same = tm.settle_factor(tau[2], tau[2], "tia", 3e-9, 0.1e-9)
    near = tm.settle_factor(tau[2], tau[2] * 1.001, "tia", 3e-9, 0.1e-9)
    assert same == pytest.approx(near, rel=1e-3)
    integ = tm.settle_factor(tau, np.zeros(3), "integrator", 20e-9, 0.1e-9)
    assert integ[0] == 1.0 and 0.9 < integ[2] < integ[1] < 1.0


@pytest.mark.parametrize("mode", list(cm.READ_MODES))
def test_layer_is_sum_of_tiles_in_every_mode(mode):
    """A 70x50 layer on 32x32 tiles reads like its tiles read one by one (float64), forward
    and backward, including the pulse-width droop product; float32 within 1e-5 FS."""
    spec = cm.MacCharSpec(circuit=replace(cm.MacCircuit(),
                                          **{**cm.READ_MODES[mode], "opamp_gain": 50.0}),
                          tiles=((32, 32, 4),), val_tiles=((32, 32, 4),), stress_tile=())
    sur = sm.physics(spec)
    assert sur.line_scaled and sur.pulse_droop == (mode.startswith("pwm"))
    rng = np.random.default_rng(11)
    g = rng.uniform(1e-6, 20e-6, (70, 50))
    x, d = rng.uniform(-1, 1, (5, 70)), rng.uniform(-1, 1, (5, 50))
    lay = sur.layer(g, dtype=np.float64)
    fwd, bwd = np.zeros((5, 50)), np.zeros((5, 70))
    for rs in lay.row_tiles:
        for cs in lay.col_tiles:
            fwd[:, cs] += sur.forward(g[rs, cs], x[:, rs])
            bwd[:, rs] += sur.backward(g[rs, cs], d[:, cs])
    np.testing.assert_allclose(lay.forward(x), fwd, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(lay.backward(d), bwd, rtol=1e-12, atol=1e-18)
    f32 = sur.layer(g).forward(x.astype(np.float32))
    assert np.abs(f32 - fwd).max() < 1e-5 * np.abs(fwd).max()
    # a sparse change moves every kept transfer (scaled forward, backward, droop) like a refresh
    idx = rng.choice(g.size, 200, replace=False)
    dg = rng.normal(0.0, 0.3e-6, idx.size)
    lay.apply_delta_at(idx, dg)
    g.reshape(-1)[idx] += dg
    ref = sur.layer(g, dtype=np.float64)
    assert np.abs(lay.forward(x) - ref.forward(x)).max() < 2e-3 * np.abs(fwd).max()
    assert np.abs(lay.backward(d) - ref.backward(d)).max() < 2e-3 * np.abs(bwd).max()


def test_training_reads_through_the_mode():
    """The training hook: an analog weight (G+ - G-) read through a pwm_int surrogate (line
    scales and droop, so not combined) equals the difference of the two arrays' reads, and
    periphery.read_mode selects the mode's characterization."""
    from circuitsim.spec import build
    from circuitsim.surrogate.service import make_spec
    from circuitsim.train.config import TrainSpec
    from circuitsim.train.weights import ArrayRead

    spec = make_spec("mac", read_mode="pwm_int", quick=True)
    assert spec.circuit == make_spec("mac", {"circuit": cm.READ_MODES["pwm_int"]}, quick=True
                                     ).circuit
    train = build(TrainSpec, {}, ["periphery.read_mode=pwm_int"])
    assert train.periphery.read_mode == "pwm_int"
    sur = sm.physics(spec)
    rng = np.random.default_rng(7)
    gp, gn = rng.uniform(1e-6, 20e-6, (2, 40, 30)).astype(np.float32)
    read = ArrayRead(sur, [gp, gn], [1.0, -1.0], exact_read=True)
    assert not read.combined
    x = rng.uniform(-1, 1, (3, 40)).astype(np.float32)
    want = sur.forward(gp, x) - sur.forward(gn, x)
    assert np.abs(read.forward(x) - want).max() < 1e-5 * np.abs(want).max()


@pytest.mark.spice
def test_spot_check_simulates_the_read_mode(tmp_path):
    """A training spot-check of a pwm_int surrogate simulates pulse-width inputs into the
    finite-gain integrator (its readout), so the unfitted physics is within 0.5 % FS of it."""
    from circuitsim.train.spotcheck import mac_spot_check

    spec = cm.MacCharSpec(circuit=replace(cm.MacCircuit(), **cm.READ_MODES["pwm_int"]),
                          tiles=((12, 12, 2),), val_tiles=((12, 12, 2),), stress_tile=())
    sur = sm.physics(spec)
    rng = np.random.default_rng(8)
    g = rng.uniform(1e-6, 20e-6, (20, 12))
    x = rng.uniform(-1, 1, (3, 20))
    check = mac_spot_check(sur, spec, g, x, rng=rng, max_rows=12, store=tmp_path)
    assert check.metrics["rms_pct_fs"] < 0.5 < check.metrics["ideal_rms_pct_fs"]
    with pytest.raises(SpecError, match="encoding"):
        mac_spot_check(replace(sur, encoding="amplitude"), spec, g, x, rng=rng)


def test_pulse_width_drive_is_quantised_area():
    sur = sm.physics(cm.MacCharSpec(circuit=replace(cm.MacCircuit(), iv="linear",
                                                    **cm.READ_MODES["pwm_int"])))
    x = np.array([1.0, -0.5, 0.004, 0.0])
    f, h = sur.drive(x)
    lsb = sur.t_read / 127
    w = np.array([127, 64, 1, 0]) * lsb
    want = np.sign(x) * 0.2 * np.where(w > 0, w + sur.t_edge, 0) / (sur.t_read + sur.t_edge)
    np.testing.assert_allclose(f, want, rtol=1e-12)
    assert h is None


@pytest.mark.spice
@pytest.mark.slow
def test_1t1r_pulse_width_fit_and_validate(tmp_path):
    """A tiny pwm_int_1t1r characterization (8x8, PTM 45 nm access FETs): the fitted access
    resistance is positive and below 2 kOhm, the chosen form beats the ideal model, the
    held-out tile and stress cases pass 1 % FS, and the energy per read is within 5 % of SPICE."""
    spec = cm.MacCharSpec(
        circuit=replace(cm.MacCircuit(), **cm.READ_MODES["pwm_int_1t1r"]),
        tiles=((8, 8, 4),), patterns=("dense", "extreme"), val_tiles=((8, 8, 3),),
        val_patterns=("dense",), layer=(), stress=("near_saturated",),
        stress_tile=(8, 8, 2))
    ds = cm.characterize(spec, store=tmp_path / "store", progress=False)
    sur = fit(ds)
    assert 0 < sur.r_acc < 2e3
    table = dict(zip(sur.model_names, sur.cv_rms_worst, strict=True))
    assert table[sur.form + "+timed" * sur.timed] < table["ideal"]
    val = validate(sur, spec, store=tmp_path / "store", progress=False)
    bounded = {c.name: c for c in val.checks if c.bound is not None}
    assert all(c.passed for c in bounded.values()), [c for c in val.checks if not c.passed]
    assert any("near_saturated" in n for n in bounded)
    assert all(n.startswith("mac pwm_int_1t1r ") for n in bounded)
    energy = next(c for c in val.checks if "energy" in c.name)
    assert energy.value < 5.0
