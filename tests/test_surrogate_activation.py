"""Activation surrogate: QUICK characterize -> fit -> validate against held-out SPICE, the
table API (codes, values, straight-through gradients, read-voltage interpolation) and the
array round trip with its corruption checks.

Independent checks: the held-out SPICE inputs come from another seed and never coincide with
a characterization input; the ideal-gradient helper equals the sigmoid's analytic derivative;
the table's codes are monotonic and bounded by the resolution.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from circuitsim.errors import CacheError, SpecError
from circuitsim.fidelity import all_passed
from circuitsim.surrogate import activation as sa


@pytest.fixture(scope="module")
def fitted(quick):
    ds = quick.dataset("adc")
    return quick.spec("adc"), ds, sa.fit(ds), quick.store


@pytest.mark.spice
def test_quick_fit_validates_within_the_bounds(fitted):
    spec, ds, sur, store = fitted
    val = sa.validate(sur, spec, store=store, progress=False)
    bounded = [c for c in val.checks if c.bound is not None]
    assert len(bounded) == 2 * 4  # codes = SPICE and max error, per (activation, bits)
    assert all_passed(val.checks), [c for c in val.checks if c.passed is False]
    assert np.all(val.match >= 0.99) and np.all(val.max_err <= 1)
    assert val.x.size == 4 * 128
    # held-out: none of the validation inputs was simulated for the characterization
    assert not np.isin(val.x, ds.sim_x).any()
    # the SPICE converter is close to ideal at 3-4 bits
    assert np.mean(val.spice == val.ideal) > 0.97


@pytest.mark.spice
def test_table_api(fitted):
    _, _, sur, _ = fitted
    tab = sur.table("sigmoid", 4)
    assert tab.v_read == 0.2 and tab.transitions.shape == (15,)
    x = np.linspace(-8, 8, 3000).reshape(3, 1000)
    c = tab.codes(x)
    assert c.shape == x.shape and c.dtype.kind == "i"
    assert c.min() == 0 and c.max() == 15 and np.all(np.diff(c.ravel()) >= 0)
    v = tab.values(x)
    np.testing.assert_allclose(v, c / 15)
    # the table is within half an LSB of the ideal code except where f is steep at transitions
    ideal = tab.ideal().code(x, 4)
    assert np.mean(c == ideal) > 0.99
    # straight-through gradients: the ideal one is the sigmoid's derivative inside the range
    s = 1 / (1 + np.exp(-x))
    g = tab.grad(x)
    inside = np.abs(x) <= 7
    np.testing.assert_allclose(g[inside], (s * (1 - s))[inside], rtol=1e-6, atol=1e-9)
    assert np.all(g[~inside] == 0)
    gt = tab.grad(x, "table")
    assert np.all(gt >= 0) and gt.shape == x.shape
    mid = np.abs(x) < 0.5  # near 0 the table slope is one LSB per code width ~ f'(0) = 1/4
    assert np.all(np.abs(gt[mid] - 0.25) < 0.03)
    with pytest.raises(SpecError, match="kind"):
        tab.grad(x, "nope")


@pytest.mark.spice
def test_read_voltage_interpolation_and_errors(fitted):
    _, _, sur, _ = fitted
    lo, hi = sur.table("tanh", 3, 0.15), sur.table("tanh", 3, 0.2)
    mid = sur.table("tanh", 3, 0.175)
    np.testing.assert_allclose(mid.transitions, 0.5 * (lo.transitions + hi.transitions))
    assert np.all(np.diff(mid.transitions) > 0)
    with pytest.raises(SpecError, match="^v_read=0.3"):
        sur.table("tanh", 3, 0.3)
    with pytest.raises(SpecError, match="not characterized"):
        sur.table("relu", 3)
    assert ("sigmoid", 3, 0.15) in sur.available()


@pytest.mark.spice
def test_fit_is_deterministic_and_round_trips(fitted):
    _, ds, sur, _ = fitted
    again = sa.fit(ds).to_arrays()
    arrays = sur.to_arrays()
    for name, arr in arrays.items():
        np.testing.assert_array_equal(again[name], arr, err_msg=name)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as data:
        back = sa.ActivationSurrogate.from_arrays({k: data[k] for k in data.files})
    np.testing.assert_array_equal(back.transitions, sur.transitions)
    assert back.info() == sur.info() and back.nominal_v_read == 0.2
    info = sur.info()
    assert info["chosen"] == "table" and json.dumps(info)
    assert info["comparison"]["table"]["min_match"] >= 0.99


@pytest.mark.spice
def test_corrupted_arrays_raise_cache_error(fitted):
    _, _, sur, _ = fitted
    a = sur.to_arrays()
    t = a["transitions"].copy()
    t[0, [0, 1]] = t[0, [1, 0]]  # unsorted
    nan = a["transitions"].copy()
    nan[1, 0] = np.nan
    cases = {
        "differ from": {k: v for k, v in a.items() if k != "hi"},
        "differ from ": {**a, "extra": np.zeros(1)},
        "bits: dtype": {**a, "bits": a["bits"].astype(float)},
        "lo: shape": {**a, "lo": a["lo"][:-1]},
        r"row 0 \(sigmoid 3b @0.2 V\) needs 7 sorted": {**a, "transitions": t},
        r"row 1 \(sigmoid 3b @0.15 V\) needs 7 sorted": {**a, "transitions": nan},
        "info_json": {**a, "info_json": np.asarray("{not json")},
        "appears twice": {k: (np.concatenate([v, v[:1]]) if v.ndim >= 1 else v)
                          for k, v in a.items()},
        "nominal_v_read: expected a scalar": {**a, "nominal_v_read": np.array([0.2, 0.2])},
    }
    for pattern, arrays in cases.items():
        with pytest.raises(CacheError, match=pattern.strip()):
            sa.ActivationSurrogate.from_arrays(arrays)
