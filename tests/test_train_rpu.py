"""RPU device and stochastic pulse update (circuitsim.train.rpu) against their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from circuitsim.errors import SpecError
from circuitsim.train.rpu import RpuArray, RpuSpec, expected_dw, pulse_counts

IDEAL = RpuSpec(w_bound=100.0, bound_d2d=0.0, d2d=0.0, c2c=0.0)
X = np.array([[0.2, -0.5, 0.9, 0.0]])
D = np.array([[0.3, -0.7, 1.0]])
LR = 0.01  # C = sqrt(0.01 / (31 * 0.001)) = 0.568: C|x|, C|d| <= 1, no saturation


def probs(spec: RpuSpec, v: np.ndarray, lr: float) -> np.ndarray:
    return np.minimum(1.0, math.sqrt(lr / (spec.bl * spec.dw_min)) * np.abs(v))


def count_sigma(spec: RpuSpec, trials: int, lr: float = LR) -> np.ndarray:
    """Std of the summed coincidence count per device: Binomial(trials * bl, p_x p_d)."""
    p = probs(spec, X, lr)[0][:, None] * probs(spec, D, lr)[0][None, :]
    return np.sqrt(trials * spec.bl * p * (1 - p))


def test_expected_dw_is_sgd_step_without_saturation() -> None:
    np.testing.assert_allclose(expected_dw(IDEAL, X, D, LR), -LR * X.T @ D, rtol=1e-6)


def test_mean_update_of_ideal_device_batched_and_looped() -> None:
    trials = 2000
    arr = RpuArray(IDEAL, (4, 3), np.random.default_rng(1))
    stats = arr.pulse_update(np.repeat(X, trials, 0), np.repeat(D, trials, 0), LR)
    tol = 5 * IDEAL.dw_min * count_sigma(IDEAL, trials) + 1e-9
    assert np.all(np.abs(arr.weights() - trials * -LR * X.T @ D) <= tol)
    assert np.all(arr.weights()[3] == 0.0)  # x = 0: the row never fires
    assert stats["coincidences"] == stats["up"] + stats["down"]
    assert stats["saturated"] == 0

    loops = 300
    arr = RpuArray(IDEAL, (4, 3), np.random.default_rng(2))
    for _ in range(loops):
        arr.pulse_update(X, D, LR)
    tol = 5 * IDEAL.dw_min * count_sigma(IDEAL, loops) + 1e-5  # + float32 accumulation
    assert np.all(np.abs(arr.weights() - loops * -LR * X.T @ D) <= tol)


def test_coincidence_count_distribution() -> None:
    rng = np.random.default_rng(3)
    reps = 4000
    counts = np.empty((reps, 4, 3))
    rows = np.empty(reps)
    for r in range(reps):
        pc = pulse_counts(X, D, LR, IDEAL.dw_min, IDEAL.bl, rng)
        counts[r] = pc.up + pc.down
        rows[r] = pc.row_pulses
        # a device sees only one sign per sample: up iff x d < 0
        assert np.all(pc.up[(X.T @ D) > 0] == 0) and np.all(pc.down[(X.T @ D) < 0] == 0)
    p = probs(IDEAL, X, LR)[0][:, None] * probs(IDEAL, D, LR)[0][None, :]
    mean, var = IDEAL.bl * p, IDEAL.bl * p * (1 - p)
    assert np.all(np.abs(counts.mean(0) - mean) <= 5 * np.sqrt(var / reps) + 1e-12)
    live = p > 0
    np.testing.assert_allclose(counts.var(0)[live], var[live], rtol=0.1)
    row_mean = IDEAL.bl * probs(IDEAL, X, LR).sum()
    assert abs(rows.mean() - row_mean) < 5 * math.sqrt(row_mean / reps)


def test_saturated_probabilities_follow_expected_dw() -> None:
    lr, trials = 0.2, 2000  # C = 2.54: |x| = 0.9 and |d| = 1.0 saturate at p = 1
    arr = RpuArray(IDEAL, (4, 3), np.random.default_rng(4))
    stats = arr.pulse_update(np.repeat(X, trials, 0), np.repeat(D, trials, 0), lr)
    expect = trials * expected_dw(IDEAL, X, D, lr)
    assert np.all(np.abs(arr.weights() - expect)
                  <= 5 * IDEAL.dw_min * count_sigma(IDEAL, trials, lr) + 1e-5)  # + float32
    assert abs(expect[2, 2]) < abs(trials * lr * X[0, 2] * D[0, 2]) / 2  # clipped, not SGD
    assert stats["saturated"] == trials * 4


def test_asymmetry_steps() -> None:
    beta = 0.2
    spec = RpuSpec(w_bound=100.0, bound_d2d=0.0, d2d=0.0, c2c=0.0, asymmetry=beta)
    arr = RpuArray(spec, (4, 3), np.random.default_rng(5))
    arr.apply_pulses(np.ones((4, 3), dtype=int))
    np.testing.assert_allclose(arr.weights(), (1 + beta) * spec.dw_min, rtol=1e-6)
    arr.apply_pulses(-np.ones((4, 3), dtype=int))
    np.testing.assert_allclose(arr.weights(), 2 * beta * spec.dw_min, rtol=1e-5)

    trials = 2000
    arr = RpuArray(spec, (4, 3), np.random.default_rng(6))
    arr.pulse_update(np.repeat(X, trials, 0), np.repeat(D, trials, 0), LR)
    sgd = -trials * LR * X.T @ D
    expect = sgd * (1 + beta * np.sign(sgd))  # up steps 1 + beta, down steps 1 - beta
    tol = 5 * (1 + beta) * spec.dw_min * count_sigma(spec, trials) + 1e-9
    assert np.all(np.abs(arr.weights() - expect) <= tol)

    noisy = RpuSpec(w_bound=100.0, asymmetry=beta, c2c=0.3, d2d=0.0, asymmetry_d2d=0.05)
    arr = RpuArray(noisy, (200, 200), np.random.default_rng(7))
    assert arr.beta.std() == pytest.approx(0.05, rel=0.05)
    arr.apply_pulses(np.ones((200, 200), dtype=int))
    up = arr.weights() / noisy.dw_min
    assert abs(up.mean() - (1 + beta)) < 5 * 0.3 * 1.2 / 200
    arr = RpuArray(noisy, (200, 200), np.random.default_rng(8))
    arr.apply_pulses(-np.ones((200, 200), dtype=int))
    assert abs(-arr.weights().mean() / noisy.dw_min - (1 - beta)) < 5 * 0.3 * 0.8 / 200


def test_d2d_and_c2c_spreads() -> None:
    shape = (200, 200)
    d2d = RpuSpec(w_bound=100.0, d2d=0.3, c2c=0.0)
    arr = RpuArray(d2d, shape, np.random.default_rng(9))
    np.testing.assert_array_equal(arr.step_up, arr.step_down)  # one xi_ij per device
    arr.apply_pulses(np.ones(shape, dtype=int))
    rel = arr.weights() / d2d.dw_min
    assert abs(rel.mean() - 1) < 5 * 0.3 / 200
    assert rel.std() == pytest.approx(0.3, rel=0.05)

    c2c = RpuSpec(w_bound=100.0, d2d=0.0, c2c=0.3)
    for k in (1, 9):  # k pulses summed: mean k, std sqrt(k) * c2c
        arr = RpuArray(c2c, shape, np.random.default_rng(10 + k))
        arr.apply_pulses(np.full(shape, k))
        rel = arr.weights() / c2c.dw_min
        assert abs(rel.mean() - k) < 5 * math.sqrt(k) * 0.3 / 200
        assert rel.std() == pytest.approx(math.sqrt(k) * 0.3, rel=0.05)


def test_bounds_respected_and_spread() -> None:
    spec = RpuSpec()  # bound_d2d 0.3 of w_bound 0.6
    arr = RpuArray(spec, (200, 200), np.random.default_rng(12))
    assert arr.bound.std() / spec.w_bound == pytest.approx(0.3, rel=0.05)
    arr.apply_pulses(np.full((200, 200), 5000))
    assert np.all(arr.w <= arr.bound)
    assert np.mean(arr.w == arr.bound) > 0.99
    arr.apply_pulses(np.full((200, 200), -5000))
    assert np.all(arr.w >= -arr.bound)
    rng = np.random.default_rng(13)
    small = RpuArray(spec, (20, 10), np.random.default_rng(14), w0=rng.normal(0, 1, (20, 10)))
    assert np.all(np.abs(small.w) <= small.bound)  # w0 clipped to the bounds
    for _ in range(50):
        small.pulse_update(rng.normal(0, 1, (8, 20)), rng.normal(0, 1, (8, 10)), 0.5)
        assert np.all(np.abs(small.w) <= small.bound)


def test_apply_pulses_moves_one_step_in_sign() -> None:
    spec = RpuSpec(c2c=0.0)
    arr = RpuArray(spec, (30, 20), np.random.default_rng(15))
    n = np.random.default_rng(16).integers(-1, 2, (30, 20))
    arr.apply_pulses(n)
    expect = np.where(n > 0, arr.step_up, np.where(n < 0, -arr.step_down, 0.0))
    expect = np.clip(expect, -arr.bound, arr.bound)  # a drawn bound <= 0 is a stuck device
    np.testing.assert_allclose(arr.weights(), expect, rtol=1e-6)
    noisy = RpuArray(RpuSpec(), (30, 20), np.random.default_rng(15))
    noisy.apply_pulses(n)
    assert np.all(noisy.weights() * n >= 0) and np.all(noisy.weights()[n == 0] == 0)
    with pytest.raises(ValueError, match="integer"):
        noisy.apply_pulses(n.astype(float))


def test_pulse_update_sign_and_determinism() -> None:
    rng = np.random.default_rng(17)
    x, d = rng.normal(0, 0.5, (16, 12)), rng.normal(0, 0.5, (16, 5))

    def run(seed: int) -> np.ndarray:
        arr = RpuArray(RpuSpec(), (12, 5), np.random.default_rng(seed))
        for _ in range(5):
            arr.pulse_update(x, d, 0.05)
        arr.apply_pulses(np.ones((12, 5), dtype=int))
        return arr.weights()

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))
    arr = RpuArray(IDEAL, (1, 1), np.random.default_rng(3))
    arr.pulse_update(np.array([[1.0]]), np.array([[1.0]]), 0.02)
    assert arr.weights()[0, 0] < 0  # W -= lr x^T d


def test_expected_mode() -> None:
    spec = RpuSpec(w_bound=100.0, bound_d2d=0.0, d2d=0.0, c2c=0.0, update_mode="expected")
    rng = np.random.default_rng(18)
    x, d = rng.normal(0, 1, (8, 6)), rng.normal(0, 1, (8, 4))
    sgd = -0.3 * x.T @ d
    arr = RpuArray(spec, (6, 4), np.random.default_rng(19))
    stats = arr.pulse_update(x, d, 0.3)  # saturating lr: expected mode is not limited
    assert np.any(probs(spec, x, 0.3) == 1.0)
    assert np.all(np.abs(arr.weights() - sgd) <= 2 * spec.dw_min + 1e-6)
    assert stats["row_pulses"] == 0 and stats["coincidences"] > 0
    reps, lr = 400, 0.01
    arr = RpuArray(spec, (6, 4), np.random.default_rng(20))
    for _ in range(reps):
        arr.pulse_update(x, d, lr)
    # stochastic rounding: per update two Bernoulli roundings, variance <= 2 / 4 pulse^2
    tol = 5 * spec.dw_min * math.sqrt(reps * 0.5) + 1e-4
    assert np.all(np.abs(arr.weights() - reps * -lr * x.T @ d) <= tol)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"dw_min": 0.0}, "dw_min=0.0"),
    ({"dw_min": 1.0}, "dw_min=1.0"),
    ({"w_bound": -0.6}, "w_bound=-0.6"),
    ({"d2d": -0.1}, "d2d=-0.1"),
    ({"c2c": -0.1}, "c2c=-0.1"),
    ({"bound_d2d": -0.3}, "bound_d2d=-0.3"),
    ({"asymmetry": 1.0}, "asymmetry=1.0"),
    ({"asymmetry_d2d": -0.01}, "asymmetry_d2d=-0.01"),
    ({"bl": 0}, "bl=0"),
    ({"update_mode": "exact"}, "update_mode"),
])
def test_bad_spec_names_field(kwargs: dict, needle: str) -> None:
    with pytest.raises(SpecError, match=needle):
        RpuSpec(**kwargs)


def test_bad_shapes() -> None:
    arr = RpuArray(RpuSpec(), (4, 3), np.random.default_rng(0))
    with pytest.raises(ValueError, match="match"):
        arr.pulse_update(np.ones((2, 5)), np.ones((2, 3)), 0.01)
    with pytest.raises(ValueError, match="batch"):
        arr.pulse_update(np.ones((2, 4)), np.ones((3, 3)), 0.01)
