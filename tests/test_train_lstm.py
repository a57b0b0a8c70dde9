"""LSTM (circuitsim.train.lstm): BPTT against finite differences, the analog LSTM with ideal
periphery against the float one, bitwise reproducibility, ramp-ADC gate activations, and a
small learning check on text.

Independent references: central finite differences of the model's own loss (float64), and
the float network itself (the analog one with exact reads must follow it up to whole-pulse
rounding).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from circuitsim.errors import SpecError
from circuitsim.spec import build
from circuitsim.surrogate import mac as sm
from circuitsim.surrogate import service
from circuitsim.train import data, loop
from circuitsim.train.config import TrainSpec
from circuitsim.train.lstm import FORGET_BIAS, LSTM, build_lstm, init_lstm
from circuitsim.train.weights import FloatWeights


@pytest.fixture(scope="module")
def seq():
    return data.load("mnist1d-seq")


def _tiny(kind: str, rng: np.random.Generator, n_layers: int = 1):
    n_in, hid, n_cls, b, t = (2, 3, 4, 3, 5) if kind == "sequence" else (5, 3, 5, 2, 4)
    layers = []
    for w in init_lstm(n_in, hid, n_cls, rng, n_layers):
        fw = FloatWeights(w)  # float64 weights, perturbed off the init (bias rows non-zero)
        fw.w = w.astype(np.float64) + 0.3 * rng.standard_normal(w.shape)
        layers.append(fw)
    model = LSTM(layers[0], layers[1], kind, n_in, hid, clip=1e9, dtype=np.float64,
                 upper=tuple(layers[2:]))
    if kind == "sequence":
        x, y = rng.standard_normal((b, t, n_in)), rng.integers(0, n_cls, b)
    else:
        x, y = rng.integers(0, n_in, (b, t)), rng.integers(0, n_cls, (b, t))
    return model, x, y


@pytest.mark.parametrize("kind, n_layers", [("sequence", 1), ("text", 1), ("sequence", 2),
                                            ("text", 2)])
def test_bptt_matches_finite_differences(kind, n_layers):
    """BPTT through one layer and through a stack of two (the lower layer's error is the input
    part of the upper array's transposed read)."""
    model, x, y = _tiny(kind, np.random.default_rng(3), n_layers)
    _, _, count, grads = model.gradients(x, y)
    assert count == (len(y) if kind == "sequence" else y.size)
    h = 1e-6
    for layer, (inputs, errors) in zip(model.layers, grads, strict=True):
        g = inputs.T @ errors  # gradient of the summed loss
        fd = np.zeros_like(g)
        w = layer.w
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + h
            up = model.evaluate(x, y)[0]
            w[idx] = old - h
            down = model.evaluate(x, y)[0]
            w[idx] = old
            fd[idx] = (up - down) / (2 * h)
        assert np.abs(fd).max() > 0.01  # a gradient that says something
        np.testing.assert_allclose(g, fd, rtol=0, atol=1e-7 * np.abs(fd).max() + 1e-8)


def test_forget_bias_and_gate_order():
    w_rec, w_out = init_lstm(3, 4, 5, np.random.default_rng(0))
    assert w_rec.shape == (3 + 4 + 1, 16) and w_out.shape == (5, 5)
    assert np.all(w_rec[-1, 4:8] == FORGET_BIAS) and np.all(w_rec[-1, :4] == 0)
    assert np.all(w_rec[-1, 8:] == 0) and np.all(w_out[-1] == 0)
    assert w_rec.dtype == np.float32


def _exact_mac() -> loop.Surrogates:
    """A MAC surrogate whose reads are exact: linear read law, negligible wire resistance."""
    spec = service.make_spec("mac", {"circuit": {"iv": "linear", "r_row": 1e-6, "r_col": 1e-6}},
                             quick=True)
    return loop.Surrogates(mac=sm.physics(spec, "ladder"))


DW_MIN = 1e-4


def _ideal_spec(**kw) -> TrainSpec:
    return build(TrainSpec, {
        "dataset": "mnist1d-seq", "model": "lstm", "rule": "pulse", "hidden": 6, "act_bits": 0,
        "batch": 8, "lr": 0.7, "periphery": {"in_bits": 0, "out_bits": 0},
        "rpu": {"update_mode": "expected", "d2d": 0.0, "c2c": 0.0, "bound_d2d": 0.0,
                "w_bound": 2.0, "dw_min": DW_MIN}, **kw})


def test_analog_with_ideal_periphery_tracks_float(seq):
    """Exact reads, ideal converters, expected-mode pulses of an ideal device: the analog
    update differs from SGD only by rounding each up and each down pulse count to a whole
    pulse (unbiased, < 1 pulse each), so after ``k`` steps a weight is off by at most ~2k
    dw_min plus the (second-order) effect of those differences on the gradients."""
    spec = _ideal_spec()
    seeds = np.random.SeedSequence(0).spawn(8)
    ana = build_lstm(spec, seq, _exact_mac(), seeds)
    flt = build_lstm(replace(spec, rule="float"), seq, loop.Surrogates(), seeds)
    assert ana.rec.kind == "pulse" and flt.rec.kind == "float"
    np.testing.assert_allclose(ana.rec.weights(), flt.rec.weights(), atol=1e-7)
    x, y = seq.x_train[:40], seq.y_train[:40]
    steps = 5
    for k in range(steps):
        sl = slice(8 * k, 8 * k + 8)
        la = ana.step(x[sl], y[sl], spec.lr)[0]
        lf = flt.step(x[sl], y[sl], spec.lr)[0]
        assert la == pytest.approx(lf, rel=1e-3)
    for a, f in zip(ana.layers, flt.layers, strict=True):
        diff = np.abs(a.weights() - f.weights()).max()
        assert diff <= 2 * steps * DW_MIN * 1.5, diff
    # and SGD moved the weights by much more than that
    w0 = build_lstm(replace(spec, rule="float"), seq, loop.Surrogates(), seeds)
    assert np.abs(flt.rec.weights() - w0.rec.weights()).max() > 20 * steps * DW_MIN


def _run(spec: TrainSpec, ds, sur):
    res = loop.run(spec, ds=ds, sur=sur, progress=False)
    return res.history, [layer.weights() for layer in res.model.layers]


def test_runs_are_bitwise_reproducible(seq):
    spec = build(TrainSpec, {"dataset": "mnist1d-seq", "model": "lstm", "rule": "pulse",
                             "hidden": 5, "act_bits": 0, "batch": 8, "lr": 0.7, "epochs": 1,
                             "max_train": 32, "seed": 4, "ledger": {"enabled": False}})
    sur = _exact_mac()  # no SPICE: physics MAC, and no ledger (its prices are SPICE decks)
    small = replace(seq, x_test=seq.x_test[:50], y_test=seq.y_test[:50])
    h1, w1 = _run(spec, small, sur)
    h2, w2 = _run(spec, small, sur)
    for a, b in zip(h1, h2, strict=True):
        assert {k: v for k, v in a.items() if k not in loop.TIMINGS} == \
               {k: v for k, v in b.items() if k not in loop.TIMINGS}
    for a, b in zip(w1, w2, strict=True):
        assert np.array_equal(a, b)
    h3, w3 = _run(replace(spec, seed=5), small, sur)
    assert not np.array_equal(w1[0], w3[0])


@pytest.mark.spice  # the ramp-ADC surrogate (QUICK preset: SPICE on a cold cache)
@pytest.mark.slow
def test_gate_activations_use_the_adc_tables(seq):
    spec = build(TrainSpec, {"dataset": "mnist1d-seq", "model": "lstm", "rule": "pulse",
                             "hidden": 6, "act_bits": 4})
    sur = loop.load_surrogates(spec)
    sur.mac = _exact_mac().mac
    model = build_lstm(spec, seq, sur, np.random.SeedSequence(0).spawn(8))
    assert model.sig.table is not None and model.sig.table.bits == 4
    assert model.tanh.table is not None and model.tanh.table.activation == "tanh"
    assert model.rec.fwd.spec.out_bits == 0  # the ramp ADC is the recurrent array's ADC
    assert model.out.fwd.spec.out_bits == spec.periphery.out_bits
    st = model._forward(seq.x_train[:16])["layers"][0]
    hid = spec.width
    for part, tab in ((slice(0, 3 * hid), sur.adc.table("sigmoid", 4)),
                      (slice(3 * hid, 4 * hid), sur.adc.table("tanh", 4))):
        a, z = st["a"][:, :, part], st["z"][:, :, part]
        levels = tab.lo + np.arange(16) * tab.lsb
        on_level = np.isclose(a[..., None], levels, atol=1e-6).any(axis=-1)
        assert on_level.all()
        assert len(np.unique(a)) > 3  # several codes in use
        np.testing.assert_allclose(a, tab.values(z), atol=1e-6)
    float_model = build_lstm(replace(spec, act_bits=0), seq, sur,
                             np.random.SeedSequence(0).spawn(8))
    assert float_model.sig.table is None and float_model.tanh.table is None


def test_float_lstm_learns_text():
    ds = data.load("text", max_chars=30_000, seq_len=16)
    spec = build(TrainSpec, {"dataset": "text", "model": "lstm", "rule": "float", "hidden": 16,
                             "batch": 16, "lr": 3.0, "epochs": 3, "max_train": 640})
    res = loop.run(spec, ds=ds, progress=False)
    first, last = res.history[0], res.history[-1]
    assert last["test_loss"] < math.log(ds.n_classes) - 1.0
    assert last["train_loss"] < first["train_loss"]


def test_build_refuses_sbp_and_vector_data(seq):
    spec = build(TrainSpec, {"dataset": "mnist1d-seq", "model": "lstm", "rule": "sbp",
                             "hidden": 4})
    with pytest.raises(SpecError, match="rule='sbp'"):
        build_lstm(spec, seq, loop.Surrogates(), np.random.SeedSequence(0).spawn(8))
    digits = data.load("digits")
    with pytest.raises(SpecError, match="dataset='digits'"):
        build_lstm(replace(spec, rule="float"), digits, loop.Surrogates(),
                   np.random.SeedSequence(0).spawn(8))
