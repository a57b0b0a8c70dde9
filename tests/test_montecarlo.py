"""Monte-Carlo draws: reproducibility, independence, moments, elementwise tuples, validity,
errors naming the path, and a variability study through real ngspice runs."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from circuitsim import montecarlo as mc
from circuitsim.errors import SpecError
from circuitsim.netlist.adc import ComparatorSpec
from circuitsim.netlist.cell3t1c import Cell3T1CRowSpec, Cell3T1CSpec
from circuitsim.netlist.crossbar import CrossbarSpec, conductance_matrix
from circuitsim.netlist.ramp import RampSpec, ramp_design
from circuitsim.netlist.tb_conversion import ConversionTestbenchSpec
from circuitsim.netlist.tb_mac import MacTestbenchSpec
from circuitsim.netlist.tb_update import UpdateTestbenchSpec
from circuitsim.phases import update_point
from circuitsim.spec import G_FLOOR
from circuitsim.sweep import Outcome, SweepResult

CELL = Cell3T1CSpec()
N = 2000
#: Sample-mean bound: 4 standard errors (false alarm ~6e-5 per check).
Z = 4.0
#: Sample standard deviation of n normal values: relative standard error 1/sqrt(2(n-1)),
#: 1.6 % at n = 2000; 4 standard errors.
STD_RTOL = Z / np.sqrt(2 * (N - 1))


def test_same_seed_same_specs_other_seed_other_specs():
    draws = {"dvt_read": mc.Normal(0.01), "c": mc.Normal(0.05, relative=True)}
    a = mc.draw(CELL, draws, 5, seed=11)
    assert a == mc.draw(CELL, draws, 5, seed=11)
    assert a != mc.draw(CELL, draws, 5, seed=12)
    assert len({s.dvt_read for s in a}) == 5


def test_draw_i_is_independent_of_n_and_of_the_other_paths():
    both = {"dvt_read": mc.Normal(0.01), "dvt_up": mc.Normal(0.02)}
    long, short = mc.draw(CELL, both, 9, seed=3), mc.draw(CELL, both, 4, seed=3)
    assert long[:4] == short
    assert mc.draw_one(CELL, both, 3, 7) == long[7]
    alone = mc.draw(CELL, {"dvt_up": mc.Normal(0.02)}, 9, seed=3)
    assert [s.dvt_up for s in alone] == [s.dvt_up for s in long]


def test_normal_moments_absolute_and_relative():
    specs = mc.draw(CELL, {"dvt_read": mc.Normal(0.01),
                           "c": mc.Normal(0.1, relative=True)}, N, seed=1)
    dvt = np.array([s.dvt_read for s in specs])
    assert abs(dvt.mean()) < Z * 0.01 / np.sqrt(N)
    assert dvt.std(ddof=1) == pytest.approx(0.01, rel=STD_RTOL)
    ratio = np.array([s.c for s in specs]) / CELL.c
    assert abs(ratio.mean() - 1) < Z * 0.1 / np.sqrt(N)
    assert ratio.std(ddof=1) == pytest.approx(0.1, rel=STD_RTOL)
    # independent fields are uncorrelated (|r| < 4/sqrt(n))
    assert abs(np.corrcoef(dvt, ratio)[0, 1]) < Z / np.sqrt(N)


def test_uniform_and_lognormal_moments():
    specs = mc.draw(ComparatorSpec(), {"i_bias": mc.LogNormal(0.2),
                                       "w_in": mc.Uniform(-0.1, 0.3, relative=True)}, N, 2)
    log_ratio = np.log([s.i_bias / 20e-6 for s in specs])
    assert abs(log_ratio.mean()) < Z * 0.2 / np.sqrt(N)
    assert log_ratio.std(ddof=1) == pytest.approx(0.2, rel=STD_RTOL)
    u = np.array([s.w_in for s in specs]) / 4e-6 - 1
    assert u.min() >= -0.1 and u.max() <= 0.3
    # U(a, b): mean (a + b)/2, standard deviation (b - a)/sqrt(12)
    assert abs(u.mean() - 0.1) < Z * (0.4 / np.sqrt(12)) / np.sqrt(N)
    assert u.std(ddof=1) == pytest.approx(0.4 / np.sqrt(12), rel=0.05)


def test_tuple_fields_are_drawn_elementwise_from_the_materialised_matrix():
    xs = CrossbarSpec(rows=20, cols=10, g_seed=5)
    nominal = conductance_matrix(xs)
    specs = mc.draw(MacTestbenchSpec(crossbar=xs), {"crossbar.conductances":
                                                    mc.Normal(0.1, relative=True)}, 2, 4)
    r0, r1 = (np.array(s.crossbar.conductances) / nominal - 1 for s in specs)
    assert r0.shape == (20, 10)
    # 200 independent elements per draw: spread 0.1, no correlation between draws
    assert r0.std() == pytest.approx(0.1, rel=0.25) and abs(r0.mean()) < Z * 0.1 / np.sqrt(200)
    assert abs(np.corrcoef(r0.ravel(), r1.ravel())[0, 1]) < Z / np.sqrt(200)
    # neighbouring elements are independent too (lag-1 correlation along rows)
    assert abs(np.corrcoef(r0[:, :-1].ravel(), r0[:, 1:].ravel())[0, 1]) < Z / np.sqrt(180)


def test_row_offsets_and_ramp_conductances_materialise_then_draw():
    rows = mc.draw(Cell3T1CRowSpec(n=6), {"dvt_up": mc.Normal(0.02)}, 1, 8)[0]
    assert len(rows.dvt_up) == 6 and len(set(rows.dvt_up)) == 6
    design = np.array(ramp_design(RampSpec()).g_ramp)
    stuck = mc.draw(ConversionTestbenchSpec(), {"ramp.g_ramp": mc.StuckAt(p=0.3)}, 3, 9)
    for s in stuck:
        g = np.array(s.ramp.g_ramp)
        assert g.shape == (31,)
        assert np.all((g == 0) | (g == design))
    n_stuck = sum(int(np.sum(np.array(s.ramp.g_ramp) == 0)) for s in stuck)
    assert 0 < n_stuck < 93


def test_drawn_conductances_are_floored_and_specs_valid():
    xs = CrossbarSpec(rows=6, cols=6, g_min=1e-6, g_max=2e-6)
    specs = mc.draw(xs, {"conductances": mc.Normal(1e-5)}, 3, 10)  # mostly negative draws
    g = np.array([s.conductances for s in specs])
    assert np.all(g >= G_FLOOR) and np.any(g == G_FLOOR) and np.any(g > 1e-6)
    clipped = mc.draw(CELL, {"dvt_read": mc.Normal(1.0, clip_min=-0.1, clip_max=0.1)}, 50, 1)
    assert max(abs(s.dvt_read) for s in clipped) == pytest.approx(0.1)


@pytest.mark.parametrize("path, needle", [
    ("cell.nope", "cell.nope: cell has no field 'nope'"),
    ("nope", "nope: UpdateTestbenchSpec has no field 'nope'"),
    ("cell.c.x", "cell.c.x: cell.c is not a spec"),
    ("pulses", "pulses: a field of type str cannot be drawn"),
    ("cell", "cell: a nested spec Cell3T1CSpec cannot be drawn"),
])
def test_invalid_paths_raise_spec_error_naming_the_path(path, needle):
    with pytest.raises(SpecError) as err:
        mc.draw(UpdateTestbenchSpec(), {path: mc.Normal(0.1)}, 1, 0)
    assert needle in str(err.value)


def test_invalid_draws_name_path_draw_and_reason():
    with pytest.raises(SpecError, match=r"cell\.dvt_read: drawn .* within \+-0\.5 V.*draw \d"):
        mc.draw(UpdateTestbenchSpec(), {"cell.dvt_read": mc.Normal(5.0)}, 3, 0)
    with pytest.raises(SpecError, match="ramp.x_min"):
        mc.draw(ConversionTestbenchSpec(), {"ramp.x_min": mc.Normal(50.0)}, 3, 0)
    with pytest.raises(SpecError, match="sigma"):
        mc.Normal(-1.0)
    with pytest.raises(SpecError, match="low"):
        mc.Uniform(0.2, 0.1)


def test_distributions_round_trip_through_json():
    draws = {"cell.dvt_read": mc.Normal(0.01), "cell.c": mc.LogNormal(0.05),
             "cell.dvt_up": mc.Uniform(-0.01, 0.01, relative=False, clip_max=0.005),
             "cell.g_leak": mc.StuckAt(0.5, 1e-12)}
    text = json.dumps(mc.draws_to_mapping(draws))
    assert mc.draws_from_mapping(json.loads(text)) == draws
    with pytest.raises(SpecError, match="cell.c.kind"):
        mc.draws_from_mapping({"cell.c": {"kind": "gamma"}})
    assert pickle.loads(pickle.dumps(draws)) == draws


# ---------------------------------------------------------------- a study with ngspice

@pytest.mark.spice
def test_monte_carlo_update_study_pull_up_threshold_sets_the_step():
    base = UpdateTestbenchSpec(pulses="UUD", t_hold=10e-6)

    def sweep_here(fn, points):  # a sweep returning a SweepResult like circuitsim.sweep's
        outcomes = []
        for i, p in enumerate(points):
            assert pickle.loads(pickle.dumps(p)) == p  # points travel to worker processes
            outcomes.append(Outcome(i, p, str(i), result=fn(p)))
        return SweepResult(outcomes)

    run = mc.monte_carlo(update_point, base, {"cell.dvt_up": mc.Normal(0.03)}, 4, seed=5,
                         sweep=sweep_here)
    dvt = run.values("cell.dvt_up")
    first_up = run.stack()["dvc"][:, 0]
    assert dvt.shape == (4,) and run.stack()["vc"].shape == (4, 4)
    # a weaker pull-up (larger threshold magnitude) gives a smaller up step
    order = np.argsort(dvt)
    assert np.all(np.diff(first_up[order]) < 0), (dvt, first_up)
    # the study is the sweep of the drawn points
    assert list(run.points) == mc.draw(base, {"cell.dvt_up": mc.Normal(0.03)}, 4, 5)
