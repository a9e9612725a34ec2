"""Tests for tfp_flows.datasets.conditional: exact conditional densities and the KL estimate."""
import math

import numpy as np
import pytest
from scipy import stats

from tfp_flows import datasets
from tfp_flows.datasets import (
    ConditionalBanana,
    ConditionalMoons,
    ConditionalProblem,
    LinearGaussian,
    TwoMoons,
)
from tfp_flows.datasets.toy2d import grid_points

PROBLEMS = {
    "linear_gaussian": lambda: LinearGaussian(dim=2, obs_dim=3, noise_std=0.5, seed=0),
    "moons": lambda: ConditionalMoons(noise=0.05),
    "banana": lambda: ConditionalBanana(),
}


def _posterior_by_conditioning(problem, y):
    """Posterior from the joint Gaussian of (theta, y), written independently of the
    package: cov_yy = A A^T + s^2 I, mean = A^T cov_yy^-1 y, cov = I - A^T cov_yy^-1 A."""
    a, s = problem.matrix, problem.noise_std
    cov_yy = a @ a.T + s**2 * np.eye(len(a))
    gain = np.linalg.solve(cov_yy, a).T  # A^T cov_yy^-1
    return y @ gain.T, np.eye(a.shape[1]) - gain @ a


def test_exports():
    for name in ("ConditionalBanana", "ConditionalMoons", "ConditionalProblem",
                 "LinearGaussian"):
        assert name in datasets.__all__ and name in datasets.__doc__


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_sampling_shapes_dtypes_and_seeds(name):
    problem = PROBLEMS[name]()
    assert isinstance(problem, ConditionalProblem)
    e, c = problem.event_size, problem.context_size
    x, context = problem.sample(7, seed=0)
    assert x.shape == (7, e) and context.shape == (7, c)
    assert x.dtype == np.float32 and context.dtype == np.float32
    x2, context2 = problem.sample(7, seed=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(context, context2)
    assert not np.array_equal(problem.sample(7, seed=1)[0], x)
    assert problem.sample(0, seed=0)[0].shape == (0, e)
    given = problem.sample_given(context[:3], 4, seed=2)
    assert given.shape == (3, 4, e) and given.dtype == np.float32
    np.testing.assert_array_equal(given, problem.sample_given(context[:3], 4, seed=2))
    assert problem.sample_given(context[0], 5, seed=2).shape == (5, e)
    lp = problem.log_prob(x, context)
    assert lp.shape == (7,) and lp.dtype == np.float64 and np.all(np.isfinite(lp))
    # one context broadcasts against many x
    np.testing.assert_allclose(problem.log_prob(x[:3], context[0]),
                               problem.log_prob(x[:3], np.repeat(context[:1], 3, axis=0)))


def test_linear_gaussian_density_integrates_to_one_and_matches_scipy():
    problem = PROBLEMS["linear_gaussian"]()
    ys = np.array([[0.0, 0.0, 0.0], [1.5, -0.5, 2.0], [-2.0, 1.0, 0.3]])
    mean, cov = problem.posterior(ys)
    mean_ref, cov_ref = _posterior_by_conditioning(problem, ys)
    np.testing.assert_allclose(mean, mean_ref, atol=1e-12)
    np.testing.assert_allclose(cov, cov_ref, atol=1e-12)
    sd = np.sqrt(np.diag(cov))
    for y, m in zip(ys, mean):
        bounds = tuple((mi - 8 * si, mi + 8 * si) for mi, si in zip(m, sd))
        points, area = grid_points(bounds, sd.min() / 8)
        lp = problem.log_prob(points, y)
        assert abs(np.sum(np.exp(lp)) * area - 1.0) < 1e-3
        ref = stats.multivariate_normal(m, cov_ref).logpdf(points[:50])
        np.testing.assert_allclose(lp[:50], ref, rtol=1e-10)
    assert math.isclose(problem.entropy(), stats.multivariate_normal(mean[0], cov).entropy(),
                        rel_tol=1e-12)


@pytest.mark.parametrize("label", [0, 1])
def test_moons_density_integrates_to_one_per_label(label):
    problem = ConditionalMoons(noise=0.05)
    points, area = grid_points(((-1.6, 2.6), (-1.1, 1.6)), 0.05)
    lp = problem.log_prob(points, problem.one_hot(label))
    assert abs(np.sum(np.exp(lp)) * area - 1.0) < 1e-3


def test_banana_density_integrates_to_one_and_matches_scipy():
    problem = ConditionalBanana()
    for c in (-1.5, 0.0, 2.0):
        centre = 4.0 * (c**2 + 1.0)
        h = 0.05
        x2 = (centre - 10.0 + h * (np.arange(400) + 0.5))[:, None]
        lp = problem.log_prob(x2, [c])
        assert abs(np.sum(np.exp(lp)) * h - 1.0) < 1e-6
        np.testing.assert_allclose(lp, stats.norm(centre, 1.0).logpdf(x2[:, 0]), rtol=1e-12)
    assert math.isclose(problem.entropy(), stats.norm().entropy(), rel_tol=1e-12)


def _residual_moments_ok(theta, y, mean, cov, num_sd=6.0):
    """Checks of E[theta - mean(y)] = 0, Cov[theta - mean(y)] = cov and Cov[residual, y] = 0
    on joint samples, each to num_sd standard errors (Gaussian fourth moments)."""
    n = len(theta)
    r = theta - mean
    var_y = np.var(y, axis=0)
    sd = np.sqrt(np.diag(cov))
    ok_mean = np.all(np.abs(r.mean(axis=0)) < num_sd * sd / math.sqrt(n))
    emp_cov = r.T @ r / n
    se_cov = np.sqrt((np.outer(sd**2, sd**2) + cov**2) / n)
    ok_cov = np.all(np.abs(emp_cov - cov) < num_sd * se_cov)
    cross = r.T @ (y - y.mean(axis=0)) / n
    ok_cross = np.all(np.abs(cross) < num_sd * np.sqrt(np.outer(sd**2, var_y) / n))
    return ok_mean and ok_cov and ok_cross


def test_linear_gaussian_posterior_agrees_with_the_simulator():
    problem = PROBLEMS["linear_gaussian"]()
    theta, y = (v.astype(np.float64) for v in problem.sample(20000, seed=3))
    mean, cov = problem.posterior(y)
    assert _residual_moments_ok(theta, y, mean, cov)
    # a wrong formula (the 1 / s^2 forgotten) fails the same check
    a = problem.matrix
    wrong_cov = np.linalg.inv(np.eye(2) + a.T @ a)
    assert not _residual_moments_ok(theta, y, y @ a @ wrong_cov, wrong_cov)
    # the posterior sampler draws from posterior()
    y0 = np.array([0.7, -1.2, 0.4])
    draws = problem.posterior_sample(y0, 20000, seed=4).astype(np.float64)
    mean0, cov = problem.posterior(y0)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(draws.mean(axis=0) - mean0) < 6 * sd / math.sqrt(20000))
    se_cov = np.sqrt((np.outer(sd**2, sd**2) + cov**2) / 20000)
    assert np.all(np.abs(np.cov(draws.T) - cov) < 6 * se_cov)


def test_kl_to_is_zero_for_the_truth_and_matches_closed_form_for_a_shift():
    problem = PROBLEMS["linear_gaussian"]()
    y = problem.sample(4, seed=5)[1]
    assert problem.kl_to(problem.log_prob, y, num_samples=200, seed=6) == (0.0, 0.0)
    delta = np.array([0.1, -0.05])
    value, se = problem.kl_to(lambda t, c: problem.log_prob(t - delta, c), y,
                              num_samples=2000, seed=6)
    exact = 0.5 * delta @ problem.posterior_precision @ delta
    assert value > 0 and se > 0 and abs(value - exact) < 6 * se, (value, se, exact)

    banana = ConditionalBanana()
    value, se = banana.kl_to(lambda x, c: banana.log_prob(x - 0.5, c), [[0.0], [1.0]],
                             num_samples=2000, seed=7)
    assert abs(value - 0.125) < 6 * se

    # moons: a model that ignores the label loses about log 2 (the moons barely overlap)
    moons = ConditionalMoons()
    mixture = TwoMoons()
    value, se = moons.kl_to(lambda x, c: mixture.log_prob(x), moons.one_hot([0, 1]),
                            num_samples=200, seed=8)
    assert abs(value - math.log(2.0)) < 0.01, (value, se)


def test_moons_agree_with_two_moons_and_entropies():
    problem = ConditionalMoons(noise=0.05)
    x = TwoMoons(noise=0.05).sample(500, seed=9)
    lp0 = problem.log_prob(x, problem.one_hot(np.zeros(500, dtype=int)))
    lp1 = problem.log_prob(x, problem.one_hot(np.ones(500, dtype=int)))
    np.testing.assert_allclose(np.logaddexp(lp0, lp1) - math.log(2.0),
                               TwoMoons(noise=0.05).log_prob(x), atol=1e-10)
    h0, h1 = problem.entropy(0), problem.entropy(1)
    assert abs(h0 - h1) < 1e-8  # congruent moons
    assert abs(h0 - (TwoMoons().entropy() - math.log(2.0))) < 1e-3
    x, context = problem.sample(4000, seed=10)
    nll = -problem.log_prob(x, context)
    assert abs(nll.mean() - h0) < 5 * nll.std() / math.sqrt(len(nll))
    labels = np.argmax(context, axis=-1)
    assert np.array_equal(problem.one_hot(labels), context)
    assert abs(labels.mean() - 0.5) < 0.05
    # standardised x: log p shifts by sum(log scale), the entropy by minus it
    std = ConditionalMoons(loc=[0.5, 0.25], scale=[0.8, 0.5])
    shift = math.log(0.8 * 0.5)
    np.testing.assert_allclose(std.log_prob((x[:5] - [0.5, 0.25]) / [0.8, 0.5], context[:5]),
                               problem.log_prob(x[:5], context[:5]) + shift, rtol=1e-6)
    assert math.isclose(std.entropy(1), h1 - shift, rel_tol=1e-12)
    assert repr(std) == "ConditionalMoons(noise=0.05, loc=[0.5, 0.25], scale=[0.8, 0.5])"


LG = LinearGaussian(dim=2, obs_dim=3)
MOONS = ConditionalMoons()
BANANA = ConditionalBanana()
BAD_INPUTS = [
    (lambda: LinearGaussian(dim=0), r"`dim` to be an integer >= 1, got 0"),
    (lambda: LinearGaussian(dim=1.5), r"`dim` to be an integer >= 1, got 1.5"),
    (lambda: LinearGaussian(obs_dim=0), r"`obs_dim` to be an integer >= 1"),
    (lambda: LinearGaussian(noise_std=0.0), r"`noise_std` to be a positive number, got 0.0"),
    (lambda: LinearGaussian(noise_std=-1), r"`noise_std` to be a positive number"),
    (lambda: LinearGaussian(noise_std=float("nan")), r"`noise_std` to be a positive number"),
    (lambda: LG.log_prob(np.zeros((4, 3)), np.zeros((4, 3))),
     r"`x` of shape \[\.\.\., 2\], got shape \(4, 3\)"),
    (lambda: LG.posterior(np.zeros((4, 2))), r"`context` of shape \[\.\.\., 3\], got shape"),
    (lambda: LG.posterior([[np.nan, 0.0, 1.0]]), r"finite `context` values, got 1 NaN"),
    (lambda: LG.log_prob(np.zeros((4, 2)), np.zeros((3, 3))),
     r"broadcastable leading shapes, got \(4, 2\) and \(3, 3\)"),
    (lambda: LG.sample(-1), r"`n` to be a non-negative integer|`n` to be an integer >= 0"),
    (lambda: LG.posterior_sample(np.zeros(3), 0), r"`k` to be an integer >= 1, got 0"),
    (lambda: LG.kl_to(LG.log_prob, np.zeros(3), num_samples=1), r"`num_samples`"),
    (lambda: LG.kl_to(lambda t, y: np.zeros((len(t), 1)), np.zeros(3), num_samples=5),
     r"return shape \(5,\) for 5 pairs, got shape \(5, 1\)"),
    (lambda: LG.kl_to(LG.log_prob, np.zeros((0, 3))), r"at least one context"),
    (lambda: MOONS.log_prob(np.zeros((2, 2)), [[1.0, 1.0], [0.0, 1.0]]), r"one-hot `context`"),
    (lambda: MOONS.log_prob(np.zeros((1, 2)), [[0.5, 0.5]]), r"one-hot `context`"),
    (lambda: MOONS.log_prob(np.zeros((1, 2)), [[1.0, 0.0, 0.0]]),
     r"`context` of shape \[\.\.\., 2\], got shape \(1, 3\)"),
    (lambda: MOONS.sample_given([[np.nan, 1.0]], 2), r"finite `context` values"),
    (lambda: MOONS.one_hot([0, 2]), r"labels in \{0, 1\}, got values from 0 to 2"),
    (lambda: MOONS.one_hot([-1]), r"labels in \{0, 1\}"),
    (lambda: MOONS.one_hot([0.5]), r"integer moon labels"),
    (lambda: MOONS.entropy(2), r"a moon label 0 or 1, got 2"),
    (lambda: ConditionalMoons(noise=0.0), r"`noise` to be a positive number"),
    (lambda: BANANA.log_prob(np.zeros((2, 1)), np.zeros((2, 2))),
     r"`context` of shape \[\.\.\., 1\], got shape \(2, 2\)"),
    (lambda: BANANA.log_prob(np.zeros((2, 1)), [[0.0], [np.inf]]), r"finite `context`"),
]


@pytest.mark.parametrize("call, match", BAD_INPUTS)
def test_bad_input_raises_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_model_that_is_not_callable_is_a_type_error():
    with pytest.raises(TypeError, match=r"`model_log_prob` to be a callable .* got str"):
        LG.kl_to("flow", np.zeros(3))
