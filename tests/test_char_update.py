"""3T1C update characterization (QUICK spec, real ngspice): the dataset's physics and shape.

Independent checks: a direct single-pulse SPICE run (a weaker pull-up gives a smaller up
step); the charge-balance picture of the hold (the rate changes sign once, and every hold
trajectory moves towards that equilibrium); the staircase bookkeeping (each deck of a
staircase starts where the previous one ended).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from circuitsim.characterize import update as cu
from circuitsim.characterize.update_plots import plot_dataset
from circuitsim.errors import SpecError
from circuitsim.netlist.cell3t1c import Cell3T1CSpec
from circuitsim.phases.update import run_update
from circuitsim.spec import build

QUICK = build(cu.UpdateCharSpec, cu.QUICK)


@pytest.fixture(scope="module")
def ds(quick) -> cu.UpdateDataset:
    assert quick.spec("update") == QUICK
    return quick.dataset("update")


@pytest.mark.spice
def test_dataset_shapes_and_directions(ds):
    f = QUICK.family_offsets()
    np.testing.assert_allclose(ds.family_dvt, f)
    assert set(np.unique(ds.fu_row)) == set(range(f.size)) == set(np.unique(ds.fd_row))
    assert np.all(ds.fu_v1 - ds.fu_v0 > -1e-4)  # up pulses never lower V_C (beyond leakage)
    assert np.all(ds.fd_v1 - ds.fd_v0 < 1e-4)
    t = QUICK.mc_trials
    assert ds.mc_dvt.shape == (t, 3) and ds.mc_hold_v.shape == (t, 2, ds.mc_hold_t.size)
    assert set(np.unique(ds.mu_trial)) == set(range(t))
    # g rises with V_C (read FET gate = V_C) over the whole nominal sample
    assert np.all(np.diff(ds.nom_g[ds.nom_v > 0.05]) > -1e-9)
    # drawn offsets have the spec's sigma (20 trials: loose)
    sig = np.std(ds.mc_dvt, axis=0)
    np.testing.assert_allclose(sig, [QUICK.sigma_read, QUICK.sigma_up, QUICK.sigma_down],
                               rtol=0.5)


@pytest.mark.spice
def test_family_staircases_saturate_and_continue_across_decks(ds):
    for rows, v0, v1, rail in ((ds.fu_row, ds.fu_v0, ds.fu_v1, QUICK.v_lo),
                               (ds.fd_row, ds.fd_v0, ds.fd_v1, QUICK.v_hi)):
        starts = [rail + o if rail == QUICK.v_lo else rail - o for o in QUICK.start_offsets]
        for r in np.unique(rows):
            a, b = v0[rows == r], v1[rows == r]
            # every observation continues the previous one or starts a new staircase
            new = np.abs(a[1:] - b[:-1]) > 1e-9
            assert np.all(np.min(np.abs(a[1:][new][:, None] - np.array(starts)), axis=1)
                          < 1e-9)
            assert abs(b[-1] - a[-1]) < QUICK.sat_step  # the last staircase saturated
    weakest = ds.fu_row == ds.family_dvt.size - 1
    assert weakest.sum() > len(QUICK.start_offsets) * QUICK.round_pulses  # needed rounds


@pytest.mark.spice
def test_nominal_steps_and_saturation(ds):
    up, dn = cu.nominal_steps(ds, 0.5)
    assert 0.025 < up < 0.035 and -0.035 < dn < -0.025  # the cell's documented ~30 mV
    r = cu.nominal_row(ds)
    assert ds.fu_v1[ds.fu_row == r].max() > 0.99  # pulled to the rail by the PMOS
    assert ds.fd_v1[ds.fd_row == r].min() < 0.01


@pytest.mark.spice
def test_asymmetry_sign_follows_pull_device_offsets(ds):
    # a weaker pull-up (dvt_up > 0) gives smaller up steps, so the asymmetry falls
    assert np.corrcoef(ds.mc_asym, ds.mc_dvt[:, 1])[0, 1] < -0.3
    assert np.corrcoef(ds.mc_asym, ds.mc_dvt[:, 2])[0, 1] > 0.3
    assert np.corrcoef(ds.mc_step_up, ds.mc_dvt[:, 1])[0, 1] < -0.8
    np.testing.assert_allclose(ds.mc_asym, cu.asymmetry(ds.mc_step_up, ds.mc_step_down))
    # independent single-pulse runs: weaker pull-up -> smaller up step
    nominal = run_update(Cell3T1CSpec(vc0=0.5), "U", t_hold=1e-6)
    weak = run_update(Cell3T1CSpec(vc0=0.5, dvt_up=0.03), "U", t_hold=1e-6)
    strong = run_update(Cell3T1CSpec(vc0=0.5, dvt_up=-0.03), "U", t_hold=1e-6)
    assert weak.dvc[0] < nominal.dvc[0] < strong.dvc[0]


@pytest.mark.spice
def test_leakage_has_one_attracting_equilibrium(ds):
    v_eq = cu.leak_equilibrium(ds)
    assert 0.4 < v_eq < 0.56  # the cell's documented ~0.48 V
    v, rate = cu.leak_curve(ds)
    assert np.all(rate[v < v_eq - 0.02] > 0) and np.all(rate[v > v_eq + 0.02] < 0)
    # a weaker pull-down (dvt_down > 0) discharges less, so its equilibrium sits higher
    eq = [cu.leak_equilibrium(ds, r) for r in range(ds.family_dvt.size)]
    assert np.all(np.diff(eq) > 0), eq
    # the Monte-Carlo holds start at the rails and move towards the middle
    top, bottom = ds.mc_hold_v[:, 0], ds.mc_hold_v[:, 1]
    assert np.all(top[:, -1] < top[:, 1]) and np.all(bottom[:, -1] > bottom[:, 1])
    assert np.all(top[:, -1] > 0.3) and np.all(bottom[:, -1] < 0.6)


@pytest.mark.spice
def test_round_trip_summary_and_plots(ds, tmp_path):
    path = tmp_path / "ds.npz"
    ds.save(path)
    back = cu.UpdateDataset.load(path)
    for k, v in ds.to_arrays().items():
        np.testing.assert_array_equal(back.to_arrays()[k], v)
    assert back.spec() == QUICK
    checks = cu.summary(ds)
    assert all(c.passed is not False for c in checks)
    assert any("asymmetry" in c.name for c in checks)
    paths = plot_dataset(ds, tmp_path / "plots")
    assert len(paths) == 5 and all(p.stat().st_size > 10_000 for p in paths)


def test_defaults_are_the_full_characterization():
    spec = cu.UpdateCharSpec()
    assert spec.mc_trials == 1000 and spec.val_pulses >= 200
    assert spec.family_max >= 4 * max(spec.sigma_up, spec.sigma_down)
    assert 0.0 in spec.family_offsets()


@pytest.mark.parametrize("field, value", [
    ("val_seed", 1), ("family_max", 0.05), ("round_pulses", 600), ("val_pulses", 150),
    ("asym_range", (0.8, 0.1)), ("leak_points", 2), ("sigma_up", 0.0),
])
def test_spec_errors_name_field_and_value(field, value):
    with pytest.raises(SpecError, match=re.escape(f"{field}={value!r}")):
        cu.UpdateCharSpec(**{field: value})


def test_spec_checks_the_decks_it_makes():
    cell = dataclasses.replace(Cell3T1CSpec(), t_pulse=40e-9)
    with pytest.raises(SpecError, match="t_period"):
        cu.UpdateCharSpec(cell=cell)
