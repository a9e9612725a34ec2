"""Tests for tfp_flows.training.diagnostics (importance weights: ESS, Pareto k-hat, log Z,
ELBO) and tfp_flows.plotting.importance, against cases with known answers."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import stats

import tfp_flows
from tfp_flows.datasets import BananaTarget, FunnelTarget, MixtureTarget
from tfp_flows.plotting import plot_log_weights, plot_target_fit
from tfp_flows.training import (
    ImportanceDiagnostics,
    importance_diagnostics,
    importance_log_weights,
    pareto_khat,
)

tfd = tfp.distributions


@pytest.fixture(scope="module")
def flow():
    return tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)


def test_constant_log_weights_are_exact():
    d = importance_diagnostics(np.full(500, -3.25))
    assert d.ess == 500.0 and d.ess_fraction == 1.0
    assert d.log_z == -3.25 and d.log_z_std_error == 0.0
    assert d.elbo == -3.25 and d.elbo_std_error == 0.0
    assert d.khat == -np.inf and d.num_samples == 500
    assert "ESS 500 / 500 (100.0%)" in d.summary()


def test_hand_computed_weights():
    w = np.array([1.0, 1.0, 1.0, 5.0, 2.0])
    d = importance_diagnostics(np.log(w) + 700.0)   # far beyond float64's exp range
    assert d.ess == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)
    assert d.log_z == pytest.approx(700.0 + math.log(w.mean()), rel=1e-14)
    assert d.log_z_std_error == pytest.approx(w.std(ddof=1) / (math.sqrt(5) * w.mean()))
    assert d.elbo == pytest.approx(700.0 + np.log(w).mean())
    assert math.isnan(d.khat)     # 5 weights: no tail to fit


@pytest.mark.parametrize("k", [0.3, 0.5, 0.8])
def test_khat_recovers_the_shape_of_pareto_weights(k):
    """Lomax (Pareto II) weights with tail index 1/k: the generalized Pareto shape is k."""
    rng = np.random.default_rng(int(10 * k))
    khats = [pareto_khat(np.log(rng.pareto(1.0 / k, size=20000))) for _ in range(8)]
    assert np.mean(khats) == pytest.approx(k, abs=0.08)   # each: sd ~0.08, mean: ~0.03


def test_khat_of_short_tailed_weights_is_small():
    rng = np.random.default_rng(0)
    assert pareto_khat(1e-7 * rng.normal(size=2000)) < 0.2      # q = p up to rounding
    assert pareto_khat(np.log(rng.uniform(size=2000))) < 0      # bounded weights: k = -1


def test_narrow_q_broad_p_has_the_theoretical_khat():
    """q = N(0, 1), p = N(0, 2^2): P(w > t) ~ t^(-4/3), so k = 1 - 1/2^2 = 0.75."""
    x = np.random.default_rng(1).normal(size=40000)
    d = importance_diagnostics(stats.norm.logpdf(x, scale=2.0) - stats.norm.logpdf(x))
    assert d.khat == pytest.approx(0.75, abs=0.1)
    assert d.ess_fraction < 0.5


def test_broad_q_over_narrow_p_in_10d_is_flagged():
    """q = N(0, 3^2 I), p = N(0, 0.5^2 I) in 10-D: almost all mass on a few draws."""
    x = 3.0 * np.random.default_rng(2).normal(size=(4000, 10))
    lw = (stats.norm.logpdf(x, scale=0.5) - stats.norm.logpdf(x, scale=3.0)).sum(1)
    d = importance_diagnostics(lw)
    assert d.ess < 10 and d.ess_fraction < 0.01
    assert d.khat > 0.7


def test_elbo_is_minus_the_reverse_kl_for_a_normalised_target():
    """q = N(0, s^2), p = N(0, 1): KL(q || p) = -log s + s^2 / 2 - 1 / 2."""
    s = 0.7
    x = s * np.random.default_rng(3).normal(size=20000)
    d = importance_diagnostics(stats.norm.logpdf(x) - stats.norm.logpdf(x, scale=s))
    kl = -math.log(s) + s**2 / 2 - 0.5
    assert abs(-d.elbo - kl) < 4 * d.elbo_std_error
    assert abs(d.log_z) < 4 * d.log_z_std_error
    assert d.khat == pytest.approx(1 - s**2, abs=0.1)   # q narrower than p: k = 1 - s^2


def test_invalid_log_weights():
    with pytest.raises(ValueError, match="at least 2"):
        importance_diagnostics([1.0])
    with pytest.raises(ValueError, match="1 NaN and 0 \\+inf"):
        importance_diagnostics([0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="all log-weights are -inf"):
        importance_diagnostics([-np.inf, -np.inf])
    d = importance_diagnostics([0.0, -np.inf, 0.0, 0.0])   # a draw outside the support
    assert d.elbo == -np.inf and d.log_z == pytest.approx(math.log(0.75))


def test_flow_against_itself_gives_log_z_0_and_full_ess(flow):
    """q == p normalised (the target is the flow's own log_prob): log w = 0 up to the
    float32 round trip through the flow."""
    x, lw = importance_log_weights(flow, flow.log_prob, num_samples=3000, seed=0,
                                   batch_size=1000)
    assert x.shape == (3000, 2) and lw.dtype == np.float64
    assert np.abs(lw).max() < 1e-4
    d = importance_diagnostics(lw)
    assert d.ess == pytest.approx(3000, rel=1e-6) and abs(d.log_z) < 1e-5
    x2, lw2 = importance_log_weights(flow, flow.log_prob, num_samples=3000, seed=0,
                                     batch_size=1000)
    np.testing.assert_array_equal(x, x2)


def test_unnormalised_target_gives_its_log_normalizer():
    """A TFP distribution q == the target normalised: log Z = the target's log_normalizer
    (BananaTarget with curvature 0 is N(0, I) without its 1 / (2 pi))."""
    q = tfd.MultivariateNormalDiag(tf.zeros(2, tf.float64), tf.ones(2, tf.float64))
    target = BananaTarget(curvature=0.0)
    _, lw = importance_log_weights(q, target, num_samples=1000, seed=4)
    d = importance_diagnostics(lw)
    assert d.log_z == pytest.approx(target.log_normalizer, abs=1e-12)
    assert d.ess == pytest.approx(1000.0)
    _, lw = importance_log_weights(q, q, num_samples=50, seed=(1, 2))   # a distribution
    assert np.abs(lw).max() == 0.0


def test_flow_at_initialisation_on_the_funnel(flow):
    """The untrained flow (near N(0, I)) against a 2-D funnel: a valid but poor proposal;
    the estimate of log Z lands within a few standard errors of the truth."""
    target = FunnelTarget(dim=2)
    _, lw = importance_log_weights(flow, target, num_samples=20000, seed=5)
    d = importance_diagnostics(lw)
    assert d.ess_fraction < 0.9 and d.khat > 0.5
    assert d.elbo < target.log_normalizer
    assert isinstance(d, ImportanceDiagnostics)


def test_plot_target_fit_panels_and_shared_scale():
    target = MixtureTarget(num_modes=4, radius=2.0, std=0.5)
    q = tfd.MultivariateNormalDiag([0.0, 0.0], [2.0, 2.0])
    fig = plot_target_fit(q, target, resolution=30)
    axes = fig.axes
    assert [a.get_title() for a in axes[:2]] == ["flow density", "target density"]
    assert len(axes) == 3 and axes[2].get_ylabel() == "density"      # one shared colour bar
    assert axes[0].get_xlabel() == "$x_1$" and axes[1].get_ylabel() == "$x_2$"
    assert axes[0].get_xlim() == pytest.approx(target.plot_bounds[0])
    plt.close(fig)
    with pytest.raises(ValueError, match="bounds"):
        plot_target_fit(q, lambda x: -tf.reduce_sum(x**2, -1))


def test_plot_log_weights_title_and_axes():
    rng = np.random.default_rng(0)
    d = importance_diagnostics(np.concatenate([rng.normal(size=998), [-60.0, -80.0]]))
    fig = plot_log_weights(d, bins=20)
    left, right = fig.axes
    assert "k-hat" in fig._suptitle.get_text() and "ESS" in fig._suptitle.get_text()
    assert left.get_ylabel() == "number of draws" and right.get_yscale() == "log"
    assert "2 draws below" in left.get_title()          # far outliers do not squash it
    assert sum(p.get_height() for p in left.patches) == 998
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert labels == ["weight share", "equal share 1/n"]
    plt.close(fig)
