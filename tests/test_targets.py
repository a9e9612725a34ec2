"""Tests for tfp_flows.datasets.targets and .posteriors: exact normalisers (grid quadrature
for the 2-D targets, closed forms for the funnel), sampling against log_prob and entropy,
TensorFlow behaviour (dtypes, batch shapes, tf.function, gradients), the NUTS reference."""
import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfp_flows.datasets import (
    TARGET_NAMES,
    TOY_NAMES,
    BananaTarget,
    FunnelTarget,
    LogisticRegressionTarget,
    MixtureTarget,
    ToyTarget,
    load_target,
    load_toy,
    logistic_regression_reference,
)
from tfp_flows.datasets.toy_base import grid_points


def _grid_log_z(target, bounds, step):
    """log of the midpoint-rule integral of exp(unnormalized_log_prob) over bounds."""
    pts, area = grid_points(bounds, step)
    lp = target.unnormalized_log_prob(pts).numpy()
    return float(np.log(np.sum(np.exp(lp)) * area))


@pytest.mark.parametrize("target, bounds, step", [
    (BananaTarget(), ((-7, 7), (-8, 60)), 0.05),
    (BananaTarget(curvature=4.0, offset=1.0), ((-7, 7), (-5, 200)), 0.02),
    (MixtureTarget(), ((-9, 9), (-9, 9)), 0.05),
    (MixtureTarget(num_modes=3, radius=1.0, std=0.8), ((-7, 7), (-7, 7)), 0.05),
])
def test_2d_normalisers_match_grid_quadrature(target, bounds, step):
    assert target.normalized
    assert _grid_log_z(target, bounds, step) == pytest.approx(target.log_normalizer, abs=1e-4)


@pytest.mark.parametrize("name", TOY_NAMES)
def test_toy_targets_are_the_toy_densities_and_integrate_to_their_normaliser(name):
    target = ToyTarget(name, log_normalizer=-1.5)
    toy = target.toy
    x = toy.sample(200, seed=0).astype(np.float64)
    np.testing.assert_allclose(target.log_prob(x).numpy(), toy.log_prob(x), rtol=1e-9,
                               atol=1e-9)
    # the plot bounds widened by half on each side; the midpoint rule with a step of one
    # noise standard deviation is already accurate to ~exp(-2 pi^2) for Gaussian blurs
    bounds = [(lo - (hi - lo) / 2, hi + (hi - lo) / 2) for lo, hi in toy.plot_bounds]
    step = getattr(toy, "noise", 0.05)
    assert _grid_log_z(target, bounds, step) == pytest.approx(-1.5, abs=1e-3)
    assert target.entropy() == toy.entropy()


def test_toy_target_keeps_the_standardisation_of_load_toy():
    _, truth = load_toy("banana", n_train=300, seed=0)
    target = ToyTarget(truth)
    y = truth.sample(50, seed=1).astype(np.float64)
    np.testing.assert_allclose(target.log_prob(y).numpy(), truth.log_prob(y), rtol=1e-10)
    assert target.log_normalizer == 0.0 and target.plot_bounds == truth.plot_bounds


def test_funnel_log_prob_is_the_product_of_its_normal_factors():
    t = FunnelTarget(dim=5, scale=2.0)
    x = np.random.default_rng(0).normal(size=(40, 5)) * [2.0, 3, 3, 3, 3]
    want = stats.norm.logpdf(x[:, 0], scale=2.0) + stats.norm.logpdf(
        x[:, 1:], scale=np.exp(x[:, :1] / 2)).sum(1)
    np.testing.assert_allclose(t.log_prob(x).numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(t(x).numpy() - t.log_normalizer, want, rtol=1e-10)
    assert t.log_normalizer == pytest.approx(0.5 * math.log(2 * math.pi * 4) + 2 * math.log(
        2 * math.pi))


@pytest.mark.parametrize("target", [
    FunnelTarget(), FunnelTarget(dim=2), BananaTarget(), MixtureTarget(),
    ToyTarget("moons"), ToyTarget("eight_gaussians"),
], ids=lambda t: f"{t.name}{t.event_shape}")
def test_samples_match_log_prob_through_the_entropy(target):
    """mean(-log p(x)) over exact draws estimates the entropy: sample, log_prob and entropy
    agree within 4 standard errors."""
    x = target.sample(20000, seed=3)
    nll = -target.log_prob(x.astype(np.float64)).numpy()
    se = nll.std() / math.sqrt(len(nll))
    assert abs(nll.mean() - target.entropy()) < 4 * se + 1e-3


def test_sample_is_reproducible_and_float32():
    t = BananaTarget()
    a, b = t.sample(5, seed=7), t.sample(5, seed=7)
    assert a.dtype == np.float32 and a.shape == (5, 2)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="non-negative integer"):
        t.sample(-1)


def test_mixture_mode_masses():
    t = MixtureTarget()
    masses = t.mode_masses(t.sample(40000, seed=0))
    np.testing.assert_allclose(masses, (1 - math.exp(-4.5)) / 8, atol=0.006)
    one_mode = t.centres[2] + t.std * np.random.default_rng(0).normal(size=(1000, 2))
    masses = t.mode_masses(one_mode, within=100.0)
    assert masses[2] == 1.0 and masses.sum() == 1.0
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        t.mode_masses(np.zeros((3, 3)))


@pytest.mark.parametrize("target", [FunnelTarget(dim=4), BananaTarget(), MixtureTarget(),
                                    ToyTarget("spirals"), LogisticRegressionTarget()],
                         ids=lambda t: t.name)
def test_tensorflow_dtypes_batch_shapes_tracing_and_gradients(target):
    d = target.event_shape[0]
    x64 = np.random.default_rng(0).normal(size=(2, 3, d)) * 0.3
    out64 = target.log_prob(x64)
    assert out64.dtype == tf.float64 and out64.shape == (2, 3)
    out32 = target.log_prob(tf.constant(x64, tf.float32))
    assert out32.dtype == tf.float32
    np.testing.assert_allclose(out32.numpy(), out64.numpy(), rtol=1e-4, atol=1e-3)
    assert target.log_prob(x64[0, 0]).shape == ()
    traced = tf.function(target.unnormalized_log_prob)(tf.constant(x64[0]))
    np.testing.assert_allclose(traced.numpy(), target(x64[0]).numpy(), rtol=1e-12)
    xt = tf.constant(x64[0])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.reduce_sum(target(xt))
    grad = tape.gradient(y, xt).numpy()
    assert grad.shape == (3, d) and np.isfinite(grad).all()
    # the gradient matches a central finite difference along the first coordinate
    e = np.zeros_like(x64[0]); e[:, 0] = 1e-6
    fd = (target(x64[0] + e).numpy() - target(x64[0] - e).numpy()) / 2e-6
    np.testing.assert_allclose(grad[:, 0], fd, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="expected points of shape"):
        target.log_prob(np.zeros((4, d + 1)))


def test_load_target_names():
    for name in TARGET_NAMES:
        if name != "logistic_regression":
            assert load_target(name).name in name
    assert load_target("Funnel", dim=3).event_shape == (3,)
    assert isinstance(load_target("logistic_regression"), LogisticRegressionTarget)
    with pytest.raises(ValueError, match="known names"):
        load_target("donut")


def test_logistic_regression_log_prob_matches_numpy():
    t = LogisticRegressionTarget(prior_scale=2.0)
    theta = np.random.default_rng(0).normal(size=(4, 31)) * 0.2
    eta = t.features @ theta[:, :30].T + theta[:, 30]
    want = (t.labels[:, None] * eta - np.logaddexp(0, eta)).sum(0) + stats.norm.logpdf(
        theta, scale=2.0).sum(1)
    np.testing.assert_allclose(t(theta).numpy(), want, rtol=1e-10)
    assert not t.normalized and t.log_normalizer is None
    np.testing.assert_array_equal(t.log_prob(theta).numpy(), t(theta).numpy())
    with pytest.raises(NotImplementedError, match="no exact sampler"):
        t.sample(3)
    with pytest.raises(ValueError, match="prior_scale=1 only"):
        t.reference()


def test_nuts_reference_is_converged_and_satisfies_the_score_identities():
    """Under the posterior E[grad log p] = 0 and E[theta grad log p^T] = -I (Stein), so the
    cached draws are checked against the target itself, not against another sampler."""
    ref = LogisticRegressionTarget().reference()
    assert ref.draws.shape == (2000, 31) and ref.draws.dtype == np.float32
    assert ref.rhat.max() < 1.01 and ref.ess.min() > 4000
    assert ref.info["divergences"] == 0 and ref.info["chains"] == 4
    se = ref.std / math.sqrt(len(ref.draws))
    assert np.all(np.abs(ref.draws.mean(0) - ref.mean) < 5 * se)
    np.testing.assert_allclose(ref.draws.std(0), ref.std, rtol=0.1)
    theta = tf.constant(ref.draws, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(theta)
        lp = tf.reduce_sum(LogisticRegressionTarget()(theta))
    score = tape.gradient(lp, theta).numpy()
    z = score.mean(0) / (score.std(0) / math.sqrt(len(score)))
    assert np.abs(z).max() < 5
    stein = (ref.draws - ref.mean) * score
    z = (stein.mean(0) + 1.0) / (stein.std(0) / math.sqrt(len(stein)))
    assert np.abs(z).max() < 5
    assert ref.info["log_evidence"] == pytest.approx(-55.22, abs=0.05)
    assert ref.info["log_evidence_khat"] < 0.7
    assert logistic_regression_reference().mean.shape == (31,)
