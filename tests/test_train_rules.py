"""Training rules against their definitions: periphery, combined analog reads, 2PCM+3T1C
(weight formula, transfer, polarity inversion), PCM-only, SBP and pulse weights, the MLP."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from circuitsim.errors import SpecError
from circuitsim.spec import build
from circuitsim.train import loop, pcm
from circuitsim.train.acts import Act
from circuitsim.train.ambrogio import AmbrogioSpec, AmbrogioWeights, PcmOnlyWeights
from circuitsim.train.config import TrainSpec
from circuitsim.train.mlp import MLP, SbpSpec, softmax_xent
from circuitsim.train.periphery import Periphery, PeripherySpec, quantize
from circuitsim.train.streams import cell_uniforms, step_key
from circuitsim.train.weights import ArrayRead, FloatWeights, round_pulses

IDEAL = PeripherySpec(in_bits=0, out_bits=0, noise_management=False)


@pytest.fixture(scope="module")
def sur():  # the session's QUICK surrogates (the 100 fF cell: no 400 fF characterization)
    return loop.load_surrogates(build(TrainSpec, {"rule": "ambrogio",
                                                  "ambrogio": {"cell_c": 100e-15}}))


def _periph(spec=IDEAL, seed=0):
    return Periphery(spec, np.random.default_rng(seed))


# ---------------------------------------------------------------- periphery


def test_quantize_levels_and_stochastic_rounding_is_unbiased():
    x = np.linspace(-1, 1, 101).astype(np.float32)
    q = quantize(x.copy(), 3)
    assert set(np.round(np.unique(q) * 3).astype(int)) <= {-3, -2, -1, 0, 1, 2, 3}
    assert np.abs(q - x).max() <= 0.5 / 3 + 1e-6
    rng = np.random.default_rng(1)
    v = np.full(200_000, 0.1, np.float32)
    s = quantize(v, 3, rng)
    # levels 0 and 1/3: mean must stay 0.1 (binomial std of the mean ~ 3e-4)
    assert abs(s.mean() - 0.1) < 2e-3
    assert set(np.unique(np.round(s * 3))) == {0.0, 1.0}


def test_noise_management_and_adc_bound():
    p = Periphery(PeripherySpec(in_bits=5, out_bits=6, out_bound=2.0), np.random.default_rng(0))
    x = np.array([[0.01, -0.02, 0.005]], np.float32)
    v, scale = p.dac(x)
    assert np.isclose(np.abs(v).max(), 1.0) and np.isclose(scale[0, 0], 0.02)
    y = p.adc(np.array([[5.0, -0.3]], np.float32), scale, np.float32(1.0))
    lsb = 2.0 / 31
    assert np.isclose(y[0, 0], 2.0 * 0.02, rtol=1e-5)  # clipped at the bound, scaled back
    assert np.isclose(y[0, 1] / 0.02 / lsb, np.rint(-0.3 / lsb), atol=1e-4)
    with pytest.raises(SpecError, match="in_bits=1"):
        PeripherySpec(in_bits=1)


@pytest.mark.parametrize("spec", [
    PeripherySpec(), PeripherySpec(in_bits=0, out_bits=0, noise_management=False),
    PeripherySpec(in_bits=4, stochastic_rounding=True, out_noise=0.3, out_bound=3.0),
    PeripherySpec(in_bits=3, noise_management=False, out_bits=5, out_bound=0.5)])
def test_compiled_periphery_bitwise_equals_numpy(spec):
    """The compiled DAC and ADC (kernels_periphery.dac / adc) give numpy's float32 results bit
    for bit on the same random draws: rows of zeros, saturating and rounding-tie inputs."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((6, 37)) * rng.choice([1e-3, 1.0, 30.0], (6, 1))).astype(np.float32)
    x[2] = 0.0
    x[3, :5] = [0.5, -0.5, 1.5, -1.0, 0.25]
    y = (rng.standard_normal((6, 11)) * 40).astype(np.float32)
    ref, fast = (Periphery(spec, np.random.default_rng(9), compiled=c) for c in (False, True))
    for _ in range(3):  # the random streams stay in step
        (va, sa), (vb, sb) = ref.dac(x), fast.dac(x)
        assert np.array_equal(va, vb) and (sa is None) == (sb is None)
        assert sa is None or np.array_equal(sa, sb)
        units = np.float32(0.37)
        assert np.array_equal(ref.adc(y.copy(), sa, units), fast.adc(y.copy(), sb, units))
    if spec.in_bits:  # the DAC levels' drive from a table: numpy's drive of the levels
        def drive(v):
            return np.float32(0.2) * np.sinh(v * np.float32(1.3))

        ref, fast = (Periphery(spec, np.random.default_rng(9), compiled=c) for c in (False, True))
        assert ref.drive_table(drive) is None
        assert np.array_equal(drive(ref.dac(x)[0]), fast.dac(x, fast.drive_table(drive))[0])


# ---------------------------------------------------------------- analog reads


def _combined(sur, direction, gains, arrays, v):
    read = getattr(sur.mac, direction)
    return sum(c * read(a, v, exact_read=False) for c, a in zip(gains, arrays, strict=True))


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_combined_read_equals_sum_of_array_reads(sur):
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(1e-6, 20e-6, (40, 24)) for _ in range(3)]
    gains = [3.0, -3.0, 1.0]
    read = ArrayRead(sur.mac, arrays, gains)
    x = rng.uniform(-1, 1, (5, 40)).astype(np.float32)
    want = _combined(sur, "forward", gains, arrays, x)
    fs = np.abs(want).max()
    assert np.abs(read.forward(x) - want).max() < 1e-5 * fs
    # a sparse change then a refresh: same as building from the changed arrays
    idx = rng.choice(arrays[2].size, 50, replace=False)
    new = rng.uniform(1e-6, 20e-6, 50)
    read.set_at(2, idx, new)
    arrays[2].reshape(-1)[idx] = new
    want = _combined(sur, "forward", gains, arrays, x)
    assert np.abs(read.forward(x) - want).max() < 2e-3 * fs  # stale IR-drop factors only
    read.refresh()
    assert np.abs(read.forward(x) - want).max() < 1e-5 * fs
    d = rng.uniform(-1, 1, (3, 24)).astype(np.float32)
    want_b = _combined(sur, "backward", gains, arrays, d)
    assert np.abs(read.backward(d) - want_b).max() < 1e-5 * np.abs(want_b).max()


def test_pulse_counts_are_unbiased_and_bounded():
    """Stochastic rounding with the counter-based uniforms: means within 0.01 pulse
    (binomial std of the mean ~ 0.0016), clipped at n_max."""
    dw = np.full((400, 400), 0.3, np.float32)
    dw[:200] = -1.7
    u = cell_uniforms(step_key(3, 0), np.arange(dw.size)).reshape(dw.shape)
    n = round_pulses(dw, 1.0, u, 8)
    assert abs(n[200:].mean() - 0.3) < 0.01 and abs(n[:200].mean() + 1.7) < 0.01
    assert np.abs(round_pulses(np.full((2, 2), 50.0, np.float32), 1.0, u[:2, :2], 8)).max() == 8


# ---------------------------------------------------------------- 2PCM + 3T1C


def _ambrogio(sur, w0, **over):
    spec = AmbrogioSpec(**{"leak_every": 0, "w_scale": 40e-6, "transfer_every": 200, **over})
    return AmbrogioWeights(w0, sur.mac, sur.update, spec, _periph(), _periph(seed=1),
                           np.random.default_rng(5))


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_ambrogio_weight_formula_and_initial_programming(sur):
    rng = np.random.default_rng(0)
    w0 = rng.uniform(-1, 1, (20, 12)).astype(np.float32)
    w = _ambrogio(sur, w0)
    g = w.read.g
    s = w.spec
    formula = (s.gain_f * (g[0].astype(float) - g[1]) + w.p * (g[2].astype(float) - g[3])
               ) / s.w_scale
    assert np.allclose(w.weights(), formula)
    # g_shared: one reference cell per column, the same in every row
    assert np.all(g[3] == g[3][0])
    # PCM programming error (~0.5 uS x F) written into g and verified with local steps: the
    # residual is a fraction of one step (measured 0.36 step at 100 fF, 0.54 at 400 fF; an
    # unabsorbed error would be ~0.9 step at 100 fF)
    err = (w.weights() - w0) * s.w_scale
    assert np.sqrt(np.mean(err ** 2)) < 0.6 * w.dg_nom
    # the read sees the same weights: x @ W up to the MAC non-ideality (IR drop, sinh)
    x = rng.uniform(0, 1, (4, 20)).astype(np.float32)
    y = w.forward(x)
    ref = x @ w.weights()
    assert np.abs(y - ref).max() < 0.05 * np.abs(ref).max()


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_polarity_flips_at_each_transfer_and_weights_survive(sur):
    rng = np.random.default_rng(1)
    w0 = rng.uniform(-1, 1, (16, 8)).astype(np.float32)
    w = _ambrogio(sur, w0, transfer_every=10)
    pols = []
    for _ in range(4):
        before = w.weights()
        w.end_step(10)  # 10 images: one transfer
        pols.append(w.p)
        err = (w.weights() - before) * w.spec.w_scale
        assert np.sqrt(np.mean(err ** 2)) < 0.6 * w.dg_nom  # write-and-verify, local steps
        assert np.allclose(w.read.gains, [3.0, -3.0, w.p, -w.p])
    assert pols == [-1.0, 1.0, -1.0, 1.0]
    assert [e["polarity"] for e in w.events[1:]] == pols
    off = _ambrogio(sur, w0, transfer_every=10, polarity_inversion=False)
    off.end_step(10)
    assert off.p == 1.0


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_update_pulses_follow_polarity_and_sgd_on_average(sur):
    w0 = np.zeros((8, 6), np.float32)
    x = np.ones((1, 8), np.float32)
    d = np.full((1, 6), -1.0, np.float32)  # dW = -lr x^T d > 0
    for p in (1.0, -1.0):
        w = _ambrogio(sur, w0, cell_variation=False)
        w.p = p
        w.read.set_gain(2, p)
        w.read.set_gain(3, -p)
        vc0, before = w.vc.copy(), w.weights()
        w.update(x, d, lr=w.dg_nom / w.spec.w_scale * 3)  # three nominal pulses
        moved = np.sign(w.vc - vc0)
        assert np.all(moved == p)  # up pulses when p = +1, down pulses when p = -1
        assert np.all(w.weights() > before)  # the weight rises either way
    # many small updates: the expected change equals SGD's (stochastic rounding)
    w = _ambrogio(sur, np.zeros((50, 40), np.float32), cell_variation=False)
    before, vc_before = w.weights(), w.vc.copy()  # programming left g about a pulse up
    lr = 0.2 * w.dg_nom / w.spec.w_scale  # 0.2 pulse per update on average
    for _ in range(20):
        w.update(np.ones((1, 50), np.float32), np.full((1, 40), -1.0, np.float32), lr)
    # nominal cells: V_C after k pulses from V_C0 is one ladder; map every cell onto it
    ladder = [np.full(1, w.upd.vc0)]
    for _ in range(20):
        ladder.append(w.upd.pulse(ladder[-1], np.ones(1, np.int8), w.upd.nominal_cells(1)))
    ladder = np.concatenate(ladder)
    k0 = np.abs(vc_before.reshape(-1, 1) - ladder).argmin(axis=1)
    k = np.abs(w.vc.reshape(-1, 1) - ladder).argmin(axis=1)
    # whole pulses only: every cell sits on a rung, within 5 % of the smallest rung spacing
    # (table rounding, measured 3 % of it; half a pulse would be ~50 %)
    rung = np.diff(ladder).min()
    assert np.abs(w.vc.reshape(-1) - ladder[k]).max() < 0.05 * rung
    assert np.abs(vc_before.reshape(-1) - ladder[k0]).max() < 0.05 * rung
    k = k - k0
    # 20 updates x 0.2 expected pulses: mean 4 (std of the mean over 2000 cells ~0.04)
    assert abs(k.mean() - 4.0) < 0.2
    # the weight change is the surrogate's state-dependent g steps, larger above V_C0
    assert np.all((w.weights() - before).reshape(-1)[k > 0] > 0)


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_pcm_only_updates_only_set_and_refresh_reprograms(sur):
    rng = np.random.default_rng(2)
    w0 = rng.uniform(-0.5, 0.5, (10, 6)).astype(np.float32)
    spec = AmbrogioSpec(transfer_every=5, w_scale=40e-6)
    w = PcmOnlyWeights(w0, sur.mac, spec, _periph(), _periph(seed=1), rng)
    g0 = [a.copy() for a in w.read.g]
    w.update(rng.uniform(0, 1, (1, 10)).astype(np.float32),
             rng.normal(size=(1, 6)).astype(np.float32), 0.5)
    assert all(np.all(a >= b - 1e-12) for a, b in zip(w.read.g, g0, strict=True))  # SET only
    before = w.weights()
    w.end_step(5)
    assert w.events and w.events[-1]["refresh"]
    err_us = (w.weights() - before) * spec.w_scale / spec.gain_f * 1e6
    assert np.sqrt(np.mean(err_us ** 2)) < 2.0  # programming error of the pair, uS
    assert np.all(np.minimum(w.read.g[0], w.read.g[1]) <= spec.pcm.g_reset + 1e-12)


# ---------------------------------------------------------------- SBP and pulse weights


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_sbp_one_identical_pulse_in_the_sign_of_x_delta(sur):
    spec = build(TrainSpec, {"rule": "sbp", "rpu": {"d2d": 0, "c2c": 0, "bound_d2d": 0},
                             "periphery": {"in_bits": 0, "out_bits": 0}})
    rng = np.random.default_rng(0)
    w0 = rng.uniform(-0.3, 0.3, (12, 5)).astype(np.float32)
    w = loop.make_weights(spec, sur, w0, rng, last=True)
    x = (rng.random((1, 12)) > 0.5).astype(np.float32)
    d = rng.choice(np.array([-1.0, 0.0, 1.0], np.float32), (1, 5))
    before = w.weights()
    w.update(x, d, lr=123.0)  # lr is ignored: one device step
    step = spec.sbp.step
    assert np.allclose(w.weights() - before, -step * np.sign(x.T @ d), atol=1e-6)


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_sbp_step_decay_shrinks_every_devices_step_each_epoch(sur):
    """sbp.step_decay = 0.5: after two epochs every device (with its own d2d step) moves by a
    quarter of its first-epoch step, on the compiled and on the numpy path alike."""
    spec = build(TrainSpec, {"rule": "sbp", "sbp": {"step_decay": 0.5},
                             "rpu": {"c2c": 0, "bound_d2d": 0},
                             "periphery": {"in_bits": 0, "out_bits": 0}})
    rng = np.random.default_rng(1)
    w0 = rng.uniform(-0.3, 0.3, (12, 5)).astype(np.float32)
    x = np.ones((1, 12), np.float32)
    d = rng.choice(np.array([-1.0, 1.0], np.float32), (1, 5))
    moved = []
    for engine in ("numba", "numpy"):
        w = loop.make_weights(replace(spec, engine=engine), sur, w0, np.random.default_rng(2),
                              last=True)
        first = np.where(np.sign(x.T @ d) < 0, w.dev.step_up, w.dev.step_down)
        net = MLP([w], Act("sigmoid"), spec.sbp)
        net.end_epoch()
        net.end_epoch()
        before = w.weights()
        w.update(x, d, lr=1.0)
        moved.append(w.weights() - before)
        assert np.allclose(moved[-1], -0.25 * first * np.sign(x.T @ d), rtol=0, atol=1e-7)
    assert np.array_equal(moved[0], moved[1])


def test_sbp_interfaces_are_binary_and_ternary():
    seen = {}

    class Spy(FloatWeights):
        def __init__(self, w0, name):
            super().__init__(w0)
            self.name = name

        def forward(self, x):
            seen.setdefault(f"{self.name} in", []).append(np.unique(x))
            return super().forward(x)

        def backward(self, d):
            seen.setdefault(f"{self.name} err", []).append(np.unique(d))
            return super().backward(d)

        def update(self, x, d, lr):
            seen.setdefault(f"{self.name} upd", []).append(np.unique(d))

    rng = np.random.default_rng(0)
    net = MLP([Spy(rng.normal(0, 0.3, (9, 6)), "h"), Spy(rng.normal(0, 0.3, (7, 3)), "o")],
              Act("sigmoid"), SbpSpec())
    net.step(rng.random((4, 8)).astype(np.float32), np.array([0, 1, 2, 0]), 0.1)
    for key in ("h in", "o in"):
        assert set(np.concatenate(seen[key])) <= {0.0, 1.0}
    for key in ("o err", "h upd", "o upd"):
        assert set(np.concatenate(seen[key])) <= {-1.0, 0.0, 1.0}


def test_float_mlp_backprop_matches_finite_differences():
    rng = np.random.default_rng(0)
    layers = [FloatWeights(rng.normal(0, 0.5, (6, 4))), FloatWeights(rng.normal(0, 0.5, (5, 3)))]
    net = MLP(layers, Act("tanh"))
    x = rng.random((3, 5)).astype(np.float32)
    y = np.array([0, 2, 1])

    def loss():
        return softmax_xent(net.logits(x).astype(np.float64), y)[1] / len(y)

    grads = []
    for layer in layers:
        g = np.zeros_like(layer.w, dtype=np.float64)
        for i in np.ndindex(layer.w.shape):
            old = layer.w[i]
            layer.w[i] = old + 1e-2
            up = loss()
            layer.w[i] = old - 1e-2
            g[i] = (up - loss()) / 2e-2
            layer.w[i] = old
        grads.append(g)
    before = [layer.w.astype(np.float64) for layer in layers]
    net.step(x, y, lr=1e-3)
    for layer, w_old, g in zip(layers, before, grads, strict=True):
        step = (w_old - layer.w) / 1e-3
        assert np.allclose(step, g, atol=2e-3, rtol=0.02)


@pytest.mark.spice  # the QUICK surrogates (SPICE on a cold cache)
@pytest.mark.slow
def test_runs_are_reproducible_and_rules_learn(sur):
    base = {"epochs": 2, "max_train": 400}
    for rule in ("float", "ambrogio", "pulse"):
        spec = build(TrainSpec, {**base, "rule": rule})
        a = loop.run(spec, sur=sur, progress=False)
        b = loop.run(spec, sur=sur, progress=False)
        assert ([{k: v for k, v in h.items() if k not in loop.TIMINGS} for h in a.history]
                == [{k: v for k, v in h.items() if k not in loop.TIMINGS} for h in b.history])
        assert a.test_acc > 0.4, rule  # 800 images seen; 10 classes: chance is 0.1


def test_train_spec_errors_name_the_field():
    with pytest.raises(SpecError, match="act_bits=6"):
        TrainSpec(act_bits=6)
    with pytest.raises(SpecError, match="model='mlp'"):
        build(TrainSpec, {"dataset": "text"})
    with pytest.raises(SpecError, match="data_path"):
        TrainSpec(dataset="mnist")
    with pytest.raises(SpecError, match="g_max"):
        pcm.PcmSpec(g_reset=30e-6)
