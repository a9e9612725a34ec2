"""Logit preprocessing: finite at the pixel range's edges, exact log-derivative, honest
pixel-space densities (bits per dimension)."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.helpers import std_normal
from tfp_flows import bijectors as fb

tfb = tfp.bijectors
tfd = tfp.distributions

@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("max_value", [256.0, 1.0])
def test_logit_is_finite_at_the_exact_edges(dtype, max_value):
    bij = fb.Logit(max_value=max_value, alpha=0.05)
    x = tf.constant([0.0, max_value], dtype)
    y = bij.forward(x)
    logit = np.log(0.05 / 0.95)
    np.testing.assert_allclose(y.numpy(), [logit, -logit], rtol=1e-5)
    for value in (y, bij.forward_log_det_jacobian(x, 0), bij.inverse_log_det_jacobian(y, 0)):
        assert value.dtype == dtype and np.all(np.isfinite(value.numpy()))
    x_back = bij.inverse(tf.identity(y))
    np.testing.assert_allclose(x_back.numpy(), [0.0, max_value], atol=1e-4 * max_value)
    want = np.log(0.9 / max_value) - np.log(0.05) - np.log(0.95)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 0).numpy(), [want, want], rtol=1e-5)


def test_logit_log_det_matches_finite_differences():
    bij = fb.Logit(max_value=256.0, alpha=0.05)
    x = np.array([0.0, 1e-3, 0.7, 37.0, 128.0, 200.5, 255.9, 256.0])
    h = 1e-4
    fd = (bij.forward(tf.constant(x + h)) - bij.forward(tf.constant(x - h))).numpy() / (2 * h)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(x), 0).numpy(),
                               np.log(fd), rtol=1e-7, atol=1e-7)
    y = bij.forward(tf.constant(x)).numpy()
    fd_inv = (bij.inverse(tf.constant(y + h)) - bij.inverse(tf.constant(y - h))).numpy() / (2 * h)
    np.testing.assert_allclose(bij.inverse_log_det_jacobian(tf.constant(y), 0).numpy(),
                               np.log(fd_inv), rtol=1e-7, atol=1e-7)


def test_logit_with_max_value_one_handles_unit_interval_data():
    unit = fb.Logit(max_value=1.0, alpha=1e-3)
    pixel = fb.Logit(max_value=256.0, alpha=1e-3)
    x = tf.constant(np.linspace(0.0, 1.0, 11))
    np.testing.assert_allclose(unit.forward(x), pixel.forward(256.0 * x), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(unit.forward_log_det_jacobian(x, 1),
                               pixel.forward_log_det_jacobian(256.0 * x, 1) + 11 * np.log(256.0),
                               rtol=1e-9)
    np.testing.assert_allclose(unit.inverse(tf.identity(unit.forward(x))), x, atol=1e-12)


def test_logit_log_det_gives_pixel_space_density_for_bits_per_dim():
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(5, 12))  # 8-bit data
    x = pixels + rng.uniform(size=pixels.shape)  # dequantised, in [0, 256)
    a, k = 0.05, 256.0
    p = a + (1 - 2 * a) * x / k
    by_hand = np.sum(np.log((1 - 2 * a) / k) - np.log(p) - np.log1p(-p), axis=-1)
    bij = fb.Logit(max_value=k, alpha=a)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(x), 1), by_hand, rtol=1e-10)
    # a flow in logit space, as a density on pixels: log p(x) = log N(logit(x)) + log-det
    dist = tfd.TransformedDistribution(std_normal([12], tf.float64), tfb.Invert(bij))
    y = np.log(p) - np.log1p(-p)
    log_px = -0.5 * np.sum(y ** 2, -1) - 6 * np.log(2 * np.pi) + by_hand
    np.testing.assert_allclose(dist.log_prob(tf.constant(x)), log_px, rtol=1e-10)
    bpd = -log_px / (12 * np.log(2.0))
    assert np.all(bpd > 0) and np.all(bpd < 8.5)
    # in 1-D the pixel-space density integrates to the base mass of [logit(0), logit(K)]
    dist1 = tfd.TransformedDistribution(tfd.Normal(tf.constant(0.0, tf.float64), 1.0),
                                        tfb.Invert(bij))
    grid = np.linspace(0.0, k, 20001)
    mass = np.trapezoid(np.exp(dist1.log_prob(tf.constant(grid)).numpy()), grid)
    edge = np.log((1 - a) / a)
    want = tfd.Normal(0.0, 1.0).cdf(edge) - tfd.Normal(0.0, 1.0).cdf(-edge)
    assert mass == pytest.approx(float(want), rel=1e-6)


def test_num_levels_is_the_name_and_max_value_a_deprecated_alias():
    x = tf.constant([0.0, 3.5, 17.0])
    new = fb.Logit(num_levels=17, alpha=0.01)
    with pytest.warns(DeprecationWarning, match=r"max_value=.*deprecated; pass num_levels"):
        old = fb.Logit(max_value=17.0, alpha=0.01)
    assert new.num_levels == old.num_levels == old.max_value == 17.0
    np.testing.assert_array_equal(new.forward(x), old.forward(x))
    assert old.parameters["num_levels"] == 17.0 and old.parameters["max_value"] is None
    np.testing.assert_array_equal(fb.Logit(17, 0.01).forward(x), new.forward(x))  # positional


def test_one_default_alpha_for_the_bijector_and_the_layer():
    from tfp_flows.bijectors.logit import ALPHA
    from tfp_flows.layers import LogitLayer

    assert ALPHA == 1e-6
    assert fb.Logit().alpha == LogitLayer().alpha == ALPHA
    assert LogitLayer(num_levels=17).bijector().bijector.alpha == ALPHA
