"""MAC surrogate: physics against an independent nodal solve, tiling, incremental updates,
storage, and QUICK characterize -> fit -> validate against held-out ngspice runs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from nodal import crossbar_currents

from circuitsim.characterize import mac as cm
from circuitsim.errors import CacheError, SpecError
from circuitsim.fidelity import all_passed
from circuitsim.netlist.crossbar import CrossbarSpec
from circuitsim.phases.mac import run_mac
from circuitsim.spec import build
from circuitsim.surrogate import mac as sm
from circuitsim.surrogate.mac_fit import fit
from circuitsim.surrogate.mac_layer import split
from circuitsim.surrogate.mac_plots import plot_validation
from circuitsim.surrogate.mac_validate import validate


def _linear_spec(r: float, **circuit) -> cm.MacCharSpec:
    return build(cm.MacCharSpec, {"circuit": {"iv": "linear", "r_row": r, "r_col": r,
                                              **circuit}})


def _nodal(g, x, r, v_read, backward=False):
    return np.array([crossbar_currents(g, v_read * v, r, r, backward=backward) for v in x])


@pytest.mark.parametrize("pattern", ["dense", "extreme", "max"])
def test_physics_matches_nodal_solve(pattern):
    """Linear devices, ideal virtual grounds, 10 Ohm per pitch on a 24x20 array (IR drop up to
    8 %): the ladder model within 0.25 % FS of tests/nodal.py (forward and backward: the
    backward read is the transpose, by reciprocity), first order within 1 % FS, the ideal
    model off by more than 3 % FS."""
    r = 10.0
    spec = _linear_spec(r)
    rng = np.random.default_rng(7)
    g = cm.draw_conductances(spec, pattern, 24, 20, rng)
    x = np.vstack([np.ones(24), rng.uniform(-1, 1, (3, 24))])
    d = np.vstack([np.ones(20), rng.uniform(-1, 1, (3, 20))])
    exact_f, exact_b = _nodal(g, x, r, 0.2), _nodal(g, d, r, 0.2, backward=True)
    fs_f, fs_b = np.abs(0.2 * x @ g).max(), np.abs(0.2 * d @ g.T).max()
    err = {}
    for form in ("first_order", "ladder"):
        sur = sm.physics(spec, form)
        err[form] = max(np.abs(sur.forward(g, x) - exact_f).max() / fs_f,
                        np.abs(sur.backward(g, d) - exact_b).max() / fs_b)
    ideal = np.abs(0.2 * x @ g - exact_f).max() / fs_f
    assert err["ladder"] < 2.5e-3
    assert err["first_order"] < 1e-2
    assert err["ladder"] < err["first_order"] / 3
    assert ideal > 3e-2


@pytest.mark.parametrize("shape", [(24, 20), (3, 7, 1), (2, 5, 65)])
def test_compiled_ladder_is_bitwise_the_numpy_ladder(shape):
    """The IR-drop ladder's compiled kernel (surrogate.ladder_kernel) against its numpy
    reference, bit for bit, on tile stacks, strided (transposed) input and one-node wires."""
    rng = np.random.default_rng(11)
    g = rng.uniform(0.0, 40e-6, shape)
    for arr in (g, np.swapaxes(g, -1, -2)):
        assert np.array_equal(sm._ladder_loss(arr, 2.5), sm._ladder_loss_numpy(arr, 2.5))


@pytest.mark.parametrize("shape", [(65, 32), (70, 50), (1, 1), (33, 10), (785, 250)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_layer_refresh_is_bitwise_the_tile_model(shape, dtype):
    """A plain ladder surrogate's layer refresh (ladder_kernel.tiles_transfer over every tile
    at once) against MacSurrogate.tile_model tile by tile, bit for bit, on uneven tilings."""
    sur = _fitted_like(build(cm.MacCharSpec, {"tiles": [[32, 32, 4]]}))
    assert sur.plain_ladder
    g = np.random.default_rng(5).uniform(0.0, 40e-6, shape)
    layer = sur.layer(g, dtype=dtype, refresh_every=0, exact_read=False)
    t, lm, p, q = layer.terms()
    assert lm is None and q is None
    for rs in layer.row_tiles:
        for cs in layer.col_tiles:
            ref_t, _, ref_p, *_ = sur.tile_model(g[rs, cs].astype(dtype).astype(np.float64))
            assert np.array_equal(t[rs, cs], ref_t.astype(dtype))
            assert np.array_equal(p[rs, cs], ref_p.astype(dtype))


def test_first_order_error_is_second_order_in_wire_resistance():
    rng = np.random.default_rng(3)
    g = rng.uniform(1e-6, 20e-6, (20, 16))
    x = rng.uniform(-1, 1, (4, 20))
    errs = []
    for r in (2.0, 1.0):
        sur = sm.physics(_linear_spec(r), "first_order")
        errs.append(np.abs(sur.forward(g, x) - _nodal(g, x, r, 0.2)).max())
    assert 0.2 < errs[1] / errs[0] < 0.3  # halving r quarters the error


def test_split_is_balanced():
    assert split(784, 128) == [slice(i * 112, (i + 1) * 112) for i in range(7)]
    sizes = [s.stop - s.start for s in split(250, 128)]
    assert sizes == [125, 125]
    sizes = [s.stop - s.start for s in split(70, 32)]
    assert sizes == [24, 23, 23] and split(16, 32) == [slice(0, 16)]


def _fitted_like(spec: cm.MacCharSpec) -> sm.MacSurrogate:
    """A learned-form surrogate with non-trivial coefficients (no SPICE needed)."""
    sur = sm.physics(spec, "ladder")
    return sur.with_form("ladder_ls", p=sur.p + [1e-3, 0.02, -0.03, 0.3, 0.5, -0.2],
                         q=sur.q + [1e-3, 0.1, -0.2, 0.4, 0.2, 0.1])


def test_layer_is_sum_of_tiles():
    spec = build(cm.MacCharSpec, {"tiles": [[32, 32, 4]]})
    sur = _fitted_like(spec)
    rng = np.random.default_rng(11)
    g = rng.uniform(1e-6, 20e-6, (70, 50))
    x, d = rng.uniform(-1, 1, (5, 70)), rng.uniform(-1, 1, (5, 50))
    fwd, bwd = np.zeros((5, 50)), np.zeros((5, 70))
    rows, cols = split(70, 32), split(50, 32)
    assert len(rows) == 3 and len(cols) == 2
    for rs in rows:
        for cs in cols:
            fwd[:, cs] += sur.forward(g[rs, cs], x[:, rs])
            bwd[:, rs] += sur.backward(g[rs, cs], d[:, cs])
    np.testing.assert_allclose(sur.forward(g, x), fwd, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(sur.backward(g, d), bwd, rtol=1e-12, atol=1e-18)
    # a whole-layer model would differ: each tile has its own (shorter) wires
    single = build(cm.MacCharSpec, {"tiles": [[128, 128, 4]]})
    assert np.abs(_fitted_like(single).forward(g, x) - fwd).max() > 1e-3 * np.abs(fwd).max()


def test_finite_gain_foot_scales_each_tile():
    spec = _linear_spec(1.0, opamp_gain=20.0)
    sur = sm.physics(spec)
    assert sur.r_foot == pytest.approx(1e3 / 21)
    g = np.random.default_rng(2).uniform(1e-6, 20e-6, (40, 30))
    x = np.random.default_rng(3).uniform(-1, 1, (2, 40))
    lay = sur.layer(g, dtype=np.float64)
    ref = np.zeros((2, 30))
    for rs in lay.row_tiles:
        ref += sur.forward(g[rs], x[:, rs])
    np.testing.assert_allclose(lay.forward(x), ref, rtol=1e-12)


def test_apply_delta_tracks_full_recompute():
    spec = build(cm.MacCharSpec, {"tiles": [[32, 32, 4]]})
    sur = _fitted_like(build(cm.MacCharSpec, {"tiles": [[32, 32, 4]]}))
    rng = np.random.default_rng(5)
    g0 = rng.uniform(1e-6, 20e-6, (80, 60))
    lay = sur.layer(g0, refresh_every=0)  # float32, never refreshed
    g = g0.copy()
    for _ in range(50):
        dg = np.clip(g + rng.normal(0.0, 0.1e-6, g.shape), 1e-6, 20e-6) - g
        g += dg
        lay.apply_delta(dg)
    np.testing.assert_allclose(lay.g, g, rtol=1e-5)  # G is held in float32
    x, d = rng.uniform(-1, 1, (4, 80)), rng.uniform(-1, 1, (4, 60))
    exact_f, exact_b = sur.forward(g, x), sur.backward(g, d)
    fs_f, fs_b = np.abs(exact_f).max(), np.abs(exact_b).max()
    assert np.abs(lay.forward(x) - exact_f).max() < 1e-3 * fs_f
    assert np.abs(lay.backward(d) - exact_b).max() < 1e-3 * fs_b
    lay.refresh()
    assert np.abs(lay.forward(x) - exact_f).max() < 1e-5 * fs_f  # float32 rounding only
    assert lay.forward(x[0]).shape == (60,) and lay.backward(d[0]).shape == (80,)
    auto = sur.layer(g0, refresh_every=3)
    for _ in range(3):
        auto.apply_delta(np.full(g0.shape, 1e-8))
    np.testing.assert_allclose(auto.transfer(), sur.layer(g0 + 3e-8).transfer(), rtol=1e-5)
    assert spec.max_tile == (32, 32)


def test_sparse_apply_delta_equals_dense():
    sur = _fitted_like(build(cm.MacCharSpec, {"tiles": [[32, 32, 4]]}))
    rng = np.random.default_rng(6)
    g0 = rng.uniform(1e-6, 20e-6, (70, 50))
    dense, sparse = sur.layer(g0, refresh_every=0), sur.layer(g0, refresh_every=0)
    idx = rng.choice(g0.size, 300, replace=False)
    dg = np.zeros(g0.size)
    dg[idx] = rng.normal(0.0, 0.5e-6, idx.size)
    dense.apply_delta(dg.reshape(g0.shape).astype(np.float32))
    sparse.apply_delta_at(idx, dg[idx])
    np.testing.assert_array_equal(sparse.g, dense.g)
    x = rng.uniform(-1, 1, (3, 70))
    np.testing.assert_allclose(sparse.forward(x), dense.forward(x), rtol=1e-6, atol=1e-12)
    with pytest.raises(SpecError, match="idx"):
        sparse.apply_delta_at(np.array([g0.size]), np.array([1e-7]))


def test_to_arrays_round_trip_and_corruption():
    sur = _fitted_like(cm.MacCharSpec())
    arrays = sur.to_arrays()
    assert all(a.dtype != object for a in arrays.values())
    back = sm.MacSurrogate.from_arrays(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(back.to_arrays()[name], value, err_msg=name)
    json.dumps(back.info())
    corruptions = {
        "p": np.array(["x"] * 6), "q": np.zeros(5), "r_row": np.array(np.nan),
        "form": np.array("bogus"), "tile_rows": np.array(1.5), "cv_max": np.zeros(3),
        "g_min": np.array(1.0),
    }
    for name, bad in corruptions.items():
        broken = dict(arrays, **{name: bad})
        with pytest.raises(CacheError, match=name):
            sm.MacSurrogate.from_arrays(broken)
    with pytest.raises(CacheError, match="missing"):
        sm.MacSurrogate.from_arrays({k: v for k, v in arrays.items() if k != "q"})
    with pytest.raises(CacheError, match="unknown"):
        sm.MacSurrogate.from_arrays(dict(arrays, extra=np.zeros(1)))


@pytest.mark.spice
def test_finite_gain_against_spice():
    """A 16x16 tile with an op-amp gain of 20 (foot 47.6 Ohm): the physics model with the foot
    within 0.05 % FS of ngspice, forward and backward; without the foot it is off by more."""
    rng = np.random.default_rng(9)
    g = rng.uniform(1e-6, 20e-6, (16, 16))
    x = np.vstack([np.ones(16), rng.uniform(-1, 1, (2, 16))])
    spec = _linear_spec(1.0, opamp_gain=20.0)
    xs = CrossbarSpec(rows=16, cols=16, r_row=1.0, r_col=1.0, g_min=1e-6, g_max=20e-6,
                      conductances=tuple(tuple(map(float, r)) for r in g))
    for direction in ("forward", "backward"):
        res = run_mac(xs, x, direction, opamp_gain=20.0, v_read=0.2)
        fs = np.abs(res.ideal_currents).max()
        for r_foot, bound in ((sm.physics(spec).r_foot, 5e-4), (0.0, None)):
            sur = replace(sm.physics(spec), r_foot=r_foot)
            model = sur.forward if direction == "forward" else sur.backward
            err = np.abs(model(g, x) - res.currents).max() / fs
            if bound is None:
                assert err > 5e-3
            else:
                assert err < bound


@pytest.mark.spice
def test_quick_characterize_fit_validate(tmp_path, quick):
    spec, ds = quick.spec("mac"), quick.dataset("mac")
    sur = fit(ds)
    info = sur.info()
    json.dumps(info)
    table = info["comparison_2fold_cv"]
    assert {"ideal", *sm.FORMS} <= set(table)
    best = min(sm.FORMS, key=lambda f: table[f]["rms_pct_fs_worst_group"])
    assert table[sur.form]["rms_pct_fs_worst_group"] <= table[best]["rms_pct_fs_worst_group"]
    assert table[sur.form]["rms_pct_fs_worst_group"] < table["ideal"]["rms_pct_fs_worst_group"]
    val = validate(sur, spec, store=quick.store, progress=False)
    assert all_passed(val.checks)
    bounded = [c for c in val.checks if c.bound is not None and "fast-read" not in c.name]
    labels = {c.name.removeprefix("mac ").removesuffix(" RMS error") for c in bounded}
    fast = [c for c in val.checks if "fast-read" in c.name]
    assert len(fast) == len(bounded) and all(c.passed for c in fast)
    assert labels == {"16x16 forward", "16x16 backward", "32x32 forward", "32x32 backward",
                      "layer 48x40 forward", "layer 48x40 backward",
                      *(f"{case} 16x16 {d}" for case in ("short_pulse", "large_wire_c")
                        for d in ("forward", "backward"))}
    assert all(c.value <= 1.0 and "FS = max|ideal" in c.detail for c in bounded)
    # the surrogate beats the ideal model on every held-out group
    ideal = {c.name: c.value for c in val.checks if "ideal-model RMS" in c.name}
    for c in bounded:
        assert c.value < ideal[c.name.replace("RMS error", "ideal-model RMS error")]
    paths = plot_validation(val, tmp_path)
    assert len(paths) == 3 and all(p.stat().st_size > 10_000 for p in paths)
