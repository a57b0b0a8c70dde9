"""PCM programming and partial-SET model (circuitsim.train.pcm) against its definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from circuitsim.errors import SpecError
from circuitsim.train.pcm import (
    PcmSpec,
    partial_set,
    program,
    program_pulses,
    set_step,
    sigma_program,
)

US = 1e-6
N = 20000


def best_of_n_rms(n: int) -> float:
    """RMS of min(|Z_1|..|Z_n|), Z ~ N(0, 1): E[M^2] = int_0^inf 2 m P(M > m) dm with
    P(M > m) = erfc(m / sqrt 2)^n (independent of the model code)."""
    m = np.linspace(0.0, 10.0, 20001)
    tail = np.array([math.erfc(v / math.sqrt(2.0)) ** n for v in m])
    f = 2 * m * tail
    return math.sqrt(float(np.sum((f[1:] + f[:-1]) / 2 * np.diff(m))))


@pytest.mark.parametrize("target_us", [2.0, 5.0, 10.0, 15.0])
def test_single_attempt_error_matches_sigma(target_us: float) -> None:
    spec = PcmSpec(verify_iters=1)
    target = np.full(N, target_us * US)
    g = program(spec, target, np.random.default_rng(1))
    sigma = spec.sigma_abs + spec.sigma_rel * target_us * US
    assert sigma == pytest.approx(float(sigma_program(spec, target_us * US)))
    err = g - target
    assert abs(err.mean()) < 5 * sigma / math.sqrt(N)
    assert err.std() == pytest.approx(sigma, rel=0.05)


def test_verify_iterations_reduce_error_as_best_of_n() -> None:
    target = np.full(N, 10 * US)
    sigma = float(sigma_program(PcmSpec(), 10 * US))
    rms = []
    for iters in (1, 2, 3, 5):
        g = program(PcmSpec(verify_iters=iters), target, np.random.default_rng(iters))
        err = g - target
        assert abs(err.mean()) < 5 * err.std() / math.sqrt(N)  # keep-best is unbiased
        rms.append(math.sqrt(float(np.mean(err**2))))
        assert rms[-1] == pytest.approx(sigma * best_of_n_rms(iters), rel=0.05)
    assert rms == sorted(rms, reverse=True)
    assert rms[2] < 0.5 * rms[0]


def test_saturation_above_g_max() -> None:
    spec = PcmSpec()
    above = program(spec, np.full(N, 35 * US), np.random.default_rng(3))
    at = program(spec, np.full(N, spec.g_max), np.random.default_rng(3))
    np.testing.assert_array_equal(above, at)  # programmed exactly as a g_max target
    assert above.max() <= spec.headroom * spec.g_max
    assert abs(above.mean() - spec.g_max) < 0.05 * US


def test_reset_below_g_reset_and_physical_range() -> None:
    spec = PcmSpec(sigma_rel=0.5)
    low = np.array([-1 * US, 0.0, 0.05 * US, spec.g_reset])
    np.testing.assert_array_equal(program(spec, low, np.random.default_rng(0)), spec.g_reset)
    target = np.random.default_rng(5).uniform(0, 30 * US, (50, 40))
    g = program(spec, target, np.random.default_rng(6))
    assert g.shape == target.shape
    assert g.min() >= spec.g_reset and g.max() <= spec.g_top


def test_program_is_deterministic_with_seeded_rng() -> None:
    target = np.linspace(0, 20 * US, 101)
    a = program(PcmSpec(), target, np.random.default_rng(9))
    b = program(PcmSpec(), target, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert program_pulses(PcmSpec()) == 3 * (1 + 8)


def test_partial_set_step_shrinks_towards_g_max() -> None:
    for gamma in (1.0, 2.0):
        spec = PcmSpec(sigma_step=0.0, gamma=gamma)
        g = np.array([spec.g_reset])
        steps = []
        for _ in range(60):
            new = partial_set(spec, g, np.array([1]), np.random.default_rng(0))
            expect = spec.alpha * spec.g_max * (1 - g[0] / spec.g_max) ** gamma
            assert new[0] - g[0] == pytest.approx(expect, rel=1e-12)
            steps.append(new[0] - g[0])
            g = new
        assert all(b < a for a, b in zip(steps, steps[1:], strict=False))
        assert g[0] < spec.g_max


def test_partial_set_closed_form_vectorised() -> None:
    spec = PcmSpec(sigma_step=0.0, gamma=1.0)
    g0 = np.array([[0.1, 2.0, 8.0], [15.0, 19.5, 0.5]]) * US
    n = np.array([[0, 1, 5], [12, 3, 40]])
    got = partial_set(spec, g0, n, np.random.default_rng(0))
    expect = spec.g_max - (spec.g_max - g0) * (1 - spec.alpha) ** n  # (g_max - g) *= 1 - alpha
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    assert got[0, 0] == g0[0, 0]


def test_partial_set_noise_bounds_and_monotone() -> None:
    spec = PcmSpec(alpha=0.5, sigma_step=1.0)
    rng = np.random.default_rng(2)
    g = np.full(5000, spec.g_reset)
    for _ in range(30):
        new = partial_set(spec, g, np.ones(g.shape, dtype=int), rng)
        assert np.all(new >= g) and np.all(new <= spec.g_max)
        g = new
    assert np.median(g) > 0.99 * spec.g_max
    above = np.array([1.1 * spec.g_max])  # programmed overshoot: a SET pulse leaves it
    assert partial_set(spec, above, np.array([3]), rng)[0] == above[0]


def test_partial_set_mean_step_matches_model() -> None:
    spec = PcmSpec()  # sigma_step 0.3: the clip of the factor at 0 is a 1e-5 effect
    g = np.full(N, 6 * US)
    step = partial_set(spec, g, np.ones(N, dtype=int), np.random.default_rng(4)) - g
    mean = float(set_step(spec, 6 * US))
    assert abs(step.mean() - mean) < 5 * spec.sigma_step * mean / math.sqrt(N)
    assert step.std() == pytest.approx(spec.sigma_step * mean, rel=0.05)
    with pytest.raises(ValueError, match="non-negative"):
        partial_set(spec, g[:2], np.array([1, -1]), np.random.default_rng(0))


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"g_max": -1e-6}, "g_max=-1e-06"),
    ({"g_reset": 30e-6}, "g_reset=3e-05"),
    ({"headroom": 0.9}, "headroom=0.9"),
    ({"verify_iters": 0}, "verify_iters=0"),
    ({"set_steps": 0}, "set_steps=0"),
    ({"sigma_rel": -0.1}, "sigma_rel=-0.1"),
    ({"sigma_abs": -1e-7}, "sigma_abs=-1e-07"),
    ({"alpha": 1.0}, "alpha=1.0"),
    ({"gamma": 0.0}, "gamma=0.0"),
    ({"sigma_step": -0.1}, "sigma_step=-0.1"),
    ({"verify_iters": 2.5}, "verify_iters"),
])
def test_bad_spec_names_field(kwargs: dict, needle: str) -> None:
    with pytest.raises(SpecError, match=needle):
        PcmSpec(**kwargs)
