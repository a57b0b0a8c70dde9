"""The compiled training kernels against the numpy reference, multi-layer MLPs, Fashion-MNIST.

Equivalence: the compiled 2PCM+3T1C path draws the same random numbers from the same streams
as the numpy path and does the same float32 arithmetic, so the tests require *bitwise*
equality of every state array (cells' V_C, all four conductance arrays, the combined
transfer matrix) and of whole training histories.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from circuitsim.spec import build
from circuitsim.train import data, kernel_base, kernels_rpu, loop
from circuitsim.train.ambrogio import AmbrogioWeights
from circuitsim.train.config import TrainSpec
from circuitsim.train.periphery import Periphery, PeripherySpec
from circuitsim.train_cli import hidden_sets


@pytest.fixture(scope="module")
def sur():  # the session's QUICK surrogates (the 100 fF cell: no 400 fF characterization)
    return loop.load_surrogates(build(TrainSpec, {"rule": "ambrogio",
                                                  "ambrogio": {"cell_c": 100e-15}}))


def _pair(sur, shape, **over):
    spec = dataclasses.replace(build(TrainSpec, {"rule": "ambrogio"}).ambrogio_spec, **over)
    w0 = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    return [AmbrogioWeights(w0, sur.mac, sur.update, spec,
                            Periphery(PeripherySpec(), np.random.default_rng(1)),
                            Periphery(PeripherySpec(), np.random.default_rng(2)),
                            np.random.default_rng(5), engine=e) for e in ("numpy", "numba")]


def _state(w):
    return [w.vc, w.vc_ref, *w.read.g, w.read.t]


def _assert_same_runs(ref, fast):
    """Two training runs agree bit for bit: histories (timings aside), effective weights,
    every conductance array and the transfer matrix the reads use."""
    strip = [[{k: v for k, v in h.items() if k not in loop.TIMINGS} for h in r.history]
             for r in (ref, fast)]
    assert strip[0] == strip[1]
    for a, b in zip(ref.model.layers, fast.model.layers, strict=True):
        assert np.array_equal(a.weights(), b.weights())
        for ga, gb in zip([*a.read.g, a.read.t], [*b.read.g, b.read.t], strict=True):
            assert np.array_equal(ga, gb)


@pytest.mark.parametrize("transfer_every, leak_every", [(3, 200), (5, 2)])
def test_cells_leak_for_the_hold_before_a_transfer(sur, transfer_every, leak_every):
    """Every image's hold time leaks, also when a transfer comes before leak_every images
    have passed (the transfer restarts the cells): after each transfer the tally holds
    (cells + references) x images x t_image cell-seconds, and the cells had drifted."""
    w = _pair(sur, (9, 4), transfer_every=transfer_every, leak_every=leak_every)[1]
    n_cells = w.vc.size + w.vc_ref.size
    drifted = []
    orig = w.transfer

    def transfer():
        drifted.append(not np.all(w.vc == w.vc0))
        orig()
    w.transfer = transfer
    for k in range(1, 2 * transfer_every + 1):
        w.end_step(1)
        if k % transfer_every == 0:
            held = w.tally.counts["hold"]["cell_seconds"]
            assert held == pytest.approx(n_cells * k * w.spec.t_image, rel=1e-12)
    assert drifted == [True, True]


@pytest.mark.parametrize("batch, leak_every, transfer_every", [(1, 0, 10_000), (3, 7, 40)])
def test_ambrogio_kernels_bitwise_equal_to_numpy(sur, batch, leak_every, transfer_every):
    ws = _pair(sur, (31, 12), leak_every=leak_every, transfer_every=transfer_every)
    rng = np.random.default_rng(3)
    for _ in range(120):
        x = (rng.random((batch, 31)) < 0.6) * rng.random((batch, 31))
        d = rng.standard_normal((batch, 12)) * rng.choice([0.05, 1.0, 5.0])  # few..saturating
        for w in ws:
            w.update(x.astype(np.float32), d.astype(np.float32), 0.3)
            w.end_step(batch)
    ref, fast = ws
    moved = np.count_nonzero(ref.vc != sur.update.vc0)
    assert moved > 50  # the updates really pulsed cells
    for a, b in zip(_state(ref), _state(fast), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert ref.events == fast.events
    assert np.array_equal(ref.weights(), fast.weights())


def test_lut_kernel_matches_surrogate_lookup(sur):
    """One compiled table look-up against the surrogate's vectorised one (incl. clamping)."""
    v = np.linspace(-0.5, 1.8, 997, dtype=np.float32)  # beyond both ends of the grid
    cells = sur.update.nominal_cells(v.size)
    ref = sur.update.g(v, cells)
    t = sur.update._tab
    from circuitsim.surrogate.update import M
    got = np.array([kernel_base.lut(kernel_base.pairs32(t["g"]), x - cells.rd_c[0],
                                np.float32(sur.update.w_min), np.float32(t["inv_hw"]), 0,
                                np.float32(M - 1.001)) * cells.rd_s[0] for x in v], np.float32)
    assert np.array_equal(got, ref)


def test_training_runs_identical_on_both_engines(sur):
    ds = data.load("digits")
    base = {"rule": "ambrogio", "layers": [12, 8], "epochs": 1, "max_train": 120, "batch": 2,
            "ambrogio": {"transfer_every": 50, "leak_every": 20}}
    runs = [loop.run(build(TrainSpec, {**base, "engine": e}), ds=ds, sur=sur, progress=False)
            for e in ("numpy", "numba")]
    _assert_same_runs(*runs)


def test_multilayer_mlp_shapes_and_float_learns():
    ds = data.load("digits")
    spec = build(TrainSpec, {"rule": "float", "layers": [24, 16], "epochs": 3, "lr": 0.5})
    res = loop.run(spec, ds=ds, progress=False)
    shapes = [layer.w.shape for layer in res.model.layers]
    assert shapes == [(65, 24), (25, 16), (17, 10)]
    assert res.test_acc > 0.8  # a 3-layer sigmoid MLP learns digits in 3 epochs


def test_layers_validation_and_cli_hidden():
    assert hidden_sets("32") == ["hidden=32"]
    assert hidden_sets("250, 125") == ["layers=[250,125]"]
    with pytest.raises(Exception, match="layers"):
        build(TrainSpec, {"layers": [250, 0]})
    assert build(TrainSpec, {"layers": [250, 125]}).widths == (250, 125)
    assert build(TrainSpec, {}).widths == (32,)


def test_transfer_every_defaults_per_dataset():
    assert build(TrainSpec, {"dataset": "fashion-mnist"}).ambrogio_spec.transfer_every == 8000
    assert build(TrainSpec, {"dataset": "digits"}).ambrogio_spec.transfer_every == 200
    spec = build(TrainSpec, {"dataset": "digits", "ambrogio": {"transfer_every": 77}})
    assert spec.ambrogio_spec.transfer_every == 77


def test_fashion_mnist_loads_idx_dir_and_names_the_package(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        data.write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz",
                       rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        data.write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz",
                       rng.integers(0, 10, n, dtype=np.uint8))
    ds = data.load("fashion-mnist", path=tmp_path)
    assert ds.name == "fashion-mnist" and ds.x_train.shape == (30, 784)
    assert ds.x_test.shape == (10, 784) and float(ds.x_train.max()) <= 1.0
    with pytest.raises(Exception, match="dataset-fashion-mnist"):
        data.load("fashion-mnist", path=tmp_path / "missing")


@pytest.mark.parametrize("n_b, bl", [(1, 31), (4, 10), (2, 64)])
def test_pulse_coincidence_kernel_equals_matrix_products(n_b, bl):
    from circuitsim.train import rpu
    rng = np.random.default_rng(n_b * bl)
    a = (rng.random((n_b, bl, 23)) < 0.3) * np.sign(rng.standard_normal((n_b, 1, 23)))
    b = (rng.random((n_b, bl, 9)) < 0.4) * np.sign(rng.standard_normal((n_b, 1, 9)))
    a = a.reshape(n_b * bl, 23).astype(np.float32)  # one sign per sample and line
    b = b.reshape(n_b * bl, 9).astype(np.float32)
    ref = rpu.coincidences(a, b, n_b, bl)
    got = kernels_rpu.coincidences(a, b, n_b, bl)
    assert ref[0].sum() + ref[1].sum() > 0
    for r, g in zip(ref, got, strict=True):
        assert g.dtype == np.int32 and np.array_equal(r, g)


@pytest.mark.parametrize("scale", [5e-4, 1.0])
def test_pulse_list_kernel_equals_numpy_trains(scale):
    """kernels_rpu.coincidence_list (per sample, a row that fired visits only the columns that
    fired, split by sign) against rpu.pulse_trains + rpu.coincidences on a batch of 16 with
    inputs of both signs, inputs at 0 and rows silent in every sample, and errors from
    mostly silent (``scale`` 5e-4: a few columns fire) to dense."""
    from circuitsim.train import rpu
    rng = np.random.default_rng(3)
    x = (rng.uniform(-1, 1, (16, 41)) * (rng.random((16, 41)) < 0.5)).astype(np.float32)
    x[:, 7:10] = 0.0
    d = (scale * rng.standard_normal((16, 23))).astype(np.float32)
    d[:, :5] = 0.0
    lr, dw_min, bl, keys = 0.05, 1e-3, 31, (12345, 67890)
    a, b, _ = rpu.pulse_trains(x, d, lr, dw_min, bl, keys)
    up, down = rpu.coincidences(a, b, 16, bl)
    ref = np.flatnonzero(up + down)
    out = (np.empty(x.shape[1] * d.shape[1], np.int64), *np.empty((2, 41 * 23), np.float32))
    c = np.float32(np.sqrt(lr / (bl * dw_min)))
    n = kernels_rpu.coincidence_list(x, d, c, bl, np.uint32(keys[0]), np.uint32(keys[1]), *out)
    cols, rows = np.unique(ref % 23), np.unique(ref // 23)
    assert n > 0 and cols.min() >= 5 and not np.isin([7, 8, 9], rows).any()
    assert (up.sum() > 0) and (down.sum() > 0)
    assert (cols.size < 18) if scale < 1 else (cols.size == 18)  # silent columns / none
    assert np.array_equal(out[0][:n], ref)
    assert np.array_equal(out[1][:n], up.reshape(-1)[ref])
    assert np.array_equal(out[2][:n], down.reshape(-1)[ref])


@pytest.mark.parametrize("rule", ["pulse", "sbp", "pcm"])
def test_other_rules_identical_on_both_engines(sur, rule):
    ds = data.load("digits")
    base = {"rule": rule, "layers": [12], "epochs": 1, "max_train": 80, "batch": 3}
    runs = [loop.run(build(TrainSpec, {**base, "engine": e}), ds=ds, sur=sur, progress=False)
            for e in ("numpy", "numba")]
    _assert_same_runs(*runs)


def test_compiled_ramp_adc_activation_is_numpy_searchsorted(sur):
    """The ramp-ADC staircase (kernels_periphery.staircase): the numpy path's searchsorted value bit
    for bit, on inputs that hit the transitions exactly, between them and beyond both ends."""
    from circuitsim.train.acts import Act

    spec = build(TrainSpec, {"rule": "ambrogio"})
    table = sur.adc.table("sigmoid", spec.act_bits)
    ref, fast = (Act("sigmoid", table, compiled=c) for c in (False, True))
    t = table.transitions.astype(np.float32)
    z = np.concatenate([t, (t[:-1] + t[1:]) / 2, [-1e3, 1e3, t[0] - 1e-3]]).astype(np.float32)
    z = np.stack([z, z[::-1]])
    assert fast.compiled and np.array_equal(ref(z), fast(z))


def test_counter_uniforms_equal_the_kernel_and_are_uniform():
    """The stochastic rounding's counter-based uniforms: the kernel's per-cell value equals
    the numpy twin's bit for bit; statistically U[0, 1) (Kolmogorov-Smirnov, 200k draws,
    p > 1e-4) and uncorrelated between consecutive updates of a cell (|r| < 0.012, ~5
    standard errors of a correlation over 200k pairs)."""
    from scipy import stats

    from circuitsim.train.streams import cell_uniforms, step_key
    idx = np.arange(200_000)
    u0, u1 = (cell_uniforms(step_key(2**62 + 12345, k), idx) for k in (7, 8))
    assert u0.dtype == np.float32 and 0.0 <= u0.min() and u0.max() < 1.0
    pick = idx[::997]
    got = [kernel_base.cell_uniform(np.uint32(step_key(2**62 + 12345, 7)), int(i)) for i in pick]
    assert np.array_equal(np.array(got, np.float32), u0[pick])
    assert stats.kstest(u0, "uniform").pvalue > 1e-4
    assert abs(np.corrcoef(u0, u1)[0, 1]) < 0.012
    assert abs(np.corrcoef(u0[:-1], u0[1:])[0, 1]) < 0.012  # neighbouring cells


def test_step_key_kernel_equals_python_splitmix():
    """The kernels' wrapping-uint64 SplitMix64 against the exact Python-integer reference,
    keys and counters across the whole 64-bit range (the multiplications overflow)."""
    from circuitsim.train.streams import step_key
    rng = np.random.default_rng(4)
    keys = [0, 1, 2**63 - 1, *rng.integers(0, 2**63, 20).tolist()]
    counters = [0, 1, 2**40 + 3, *rng.integers(0, 2**62, 20).tolist()]
    out = np.zeros(5, np.uint32)
    for key in keys:
        for c in counters:
            kernel_base.step_keys(np.uint64(key), np.uint64(c), out)
            assert out.tolist() == [step_key(key, c + r) for r in range(5)]


def test_counter_normals_equal_the_kernel_and_are_normal():
    """The c2c noise's counter-based normals (inverse normal CDF of the 24-bit draws): the
    kernel's value equals the numpy twin's bit for bit; the tables match scipy's ndtri
    within 2e-4 everywhere; 400k draws pass Kolmogorov-Smirnov against N(0, 1) (p > 1e-4)
    with mean and variance within 5 standard errors."""
    from scipy import stats
    from scipy.special import ndtri

    from circuitsim.train import streams
    from circuitsim.train.streams import NORMAL_TABLES, cell_normals, normals_from_bits

    k = np.arange(0, 2**24, 37)
    z = normals_from_bits(k)
    assert np.abs(z - ndtri((k + 0.5) / 2**24)).max() < 2e-4
    assert (streams.TAIL, streams.SEG) == (kernel_base.TAIL, kernel_base.SEG)
    skey = 0x5DEECE66
    got = [kernel_base.cell_normal(np.uint32(skey), int(i), *NORMAL_TABLES) for i in k[::4001]]
    assert np.array_equal(np.array(got, np.float32), cell_normals(skey, k[::4001]))
    n = cell_normals(skey, np.arange(400_000)).astype(np.float64)
    assert stats.kstest(n, "norm").pvalue > 1e-4
    assert abs(n.mean()) < 5 / np.sqrt(n.size) and abs(n.var() - 1) < 5 * np.sqrt(2 / n.size)


def test_sgd_rows_is_the_batch_outer_product_of_driven_rows():
    from circuitsim.train.weights import sgd_rows
    rng = np.random.default_rng(4)
    x = ((rng.random((5, 30)) < 0.3) * rng.random((5, 30))).astype(np.float32)
    d = rng.standard_normal((5, 7)).astype(np.float32)
    rows, dw = sgd_rows(x, d, -0.5)
    assert np.array_equal(rows, np.flatnonzero(np.any(x, axis=0)))
    assert np.allclose(dw, -0.5 * (x.T @ d)[rows], rtol=1e-5, atol=1e-6)


def test_set_all_equals_set_at_of_every_cell(sur):
    from circuitsim.train.weights import ArrayRead
    rng = np.random.default_rng(6)
    arrays = [rng.uniform(1e-6, 20e-6, (30, 12)).astype(np.float32) for _ in range(2)]
    new = rng.uniform(1e-6, 20e-6, (30, 12)).astype(np.float32)
    a, b = (ArrayRead(sur.mac, arrays, [3.0, -1.0]) for _ in range(2))
    a.set_all(1, new)
    b.set_at(1, np.arange(new.size), new.reshape(-1))
    assert np.array_equal(a.g[1], b.g[1]) and np.array_equal(a.t, b.t)


def test_transfer_per_lr_stretches_the_interval_as_the_rate_decays(sur):
    """transfer_per_lr: at the first learning rate a transfer every 10 images, at half of it
    every 20."""
    w = _pair(sur, (9, 4), transfer_every=10, transfer_per_lr=True, leak_every=0)[1]
    x, d = np.full((1, 9), 0.5, np.float32), np.full((1, 4), 0.1, np.float32)
    images = []
    for lr in [0.2] * 20 + [0.1] * 40:
        w.update(x, d, lr)
        w.end_step(1)
        if w.events[-1]["image"] == w.images:
            images.append(w.images)
    assert images == [10, 20, 40, 60]


def test_vc0_sets_where_cells_and_references_restart(sur):
    w = _pair(sur, (9, 4), vc0=0.6, transfer_every=10)[0]
    assert np.all(w.vc_ref == np.float32(0.6))
    g0 = sur.update.g(np.full(1, 0.6), sur.update.nominal_cells(1))[0]
    assert abs(np.median(w.read.g[3]) - g0) < 0.5 * g0  # references read g(0.6 V)
    with pytest.raises(Exception, match="vc0"):
        _pair(sur, (9, 4), vc0=5.0)
