"""ActNorm: a function of the loc/log-scale it is given; actnorm_statistics standardises."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.helpers import std_normal
from tfp_flows import bijectors as fb

tfd = tfp.distributions


def _data(shape, seed=8):
    rng = np.random.default_rng(seed)
    loc = rng.normal(size=shape[-1]) * 5
    scale = np.exp(rng.normal(size=shape[-1]))
    return tf.constant(rng.normal(size=shape) * scale + loc, tf.float32)


def test_statistics_are_the_mean_and_log_std_over_all_but_the_last_axis():
    data = _data((40, 3, 2, 4))
    loc, log_scale = fb.actnorm_statistics(data)
    assert loc.shape == log_scale.shape == (4,)
    np.testing.assert_allclose(loc, data.numpy().mean((0, 1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.exp(log_scale), data.numpy().std((0, 1, 2)), rtol=1e-4)
    # the epsilon keeps a constant feature finite
    _, log_scale = fb.actnorm_statistics(tf.ones([5, 2]))
    assert np.all(np.isfinite(log_scale.numpy()))


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf_function"])
def test_standardises_the_data_its_statistics_come_from(graph):
    first, second = _data((500, 3)), _data((500, 3), seed=9)
    bij = fb.ActNorm(*fb.actnorm_statistics(first))
    inverse = tf.function(bij.inverse) if graph else bij.inverse
    z = inverse(first).numpy()
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-3)
    z2 = inverse(second).numpy()  # other data: the same map, not re-standardised
    np.testing.assert_allclose(z2, (second.numpy() - bij.loc.numpy())
                               * np.exp(-bij.log_scale.numpy()), rtol=1e-5, atol=1e-5)
    assert np.max(np.abs(z2.mean(0))) > 0.1


def test_log_prob_of_standardised_data():
    data = _data((400, 3))
    bij = fb.ActNorm(*fb.actnorm_statistics(data))
    dist = tfd.TransformedDistribution(std_normal([3]), bij)
    lp = tf.function(dist.log_prob)(data).numpy()
    z = (data.numpy() - data.numpy().mean(0)) / data.numpy().std(0)
    want = -0.5 * np.sum(z ** 2, -1) - 1.5 * np.log(2 * np.pi) - np.sum(np.log(data.numpy().std(0)))
    np.testing.assert_allclose(lp, want, rtol=1e-4, atol=1e-4)


def test_image_is_per_channel_and_log_det_scales_with_pixels():
    data = _data((8, 4, 5, 3))
    bij = fb.ActNorm(*fb.actnorm_statistics(data), event_ndims=3)
    z = bij.inverse(data).numpy()
    np.testing.assert_allclose(z.mean((0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std((0, 1, 2)), 1.0, atol=1e-3)
    fldj = bij.forward_log_det_jacobian(z, event_ndims=3).numpy()
    np.testing.assert_allclose(fldj, [4 * 5 * bij.log_scale.numpy().sum()] * 8, rtol=1e-5)
    ildj = bij.inverse_log_det_jacobian(data, event_ndims=3).numpy()
    np.testing.assert_allclose(ildj, -fldj, rtol=1e-5)


def test_is_a_function_of_the_variables_it_is_given():
    loc, log_scale = tf.Variable(tf.zeros([2])), tf.Variable(tf.zeros([2]))
    bij = fb.ActNorm(loc, log_scale)
    assert {id(v) for v in bij.trainable_variables} == {id(loc), id(log_scale)}
    data = _data((300, 2))
    inverse = tf.function(bij.inverse)
    np.testing.assert_array_equal(inverse(data), data)  # the identity while both are zero
    stats = fb.actnorm_statistics(data)
    loc.assign(stats[0])
    log_scale.assign(stats[1])
    z = inverse(data).numpy()  # the traced function reads the new values
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-3)
    # gradients of a log-likelihood reach both
    dist = tfd.TransformedDistribution(std_normal([2]), bij)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(data * 2.0))
    for g in tape.gradient(loss, [loc, log_scale]):
        assert g is not None and np.all(g.numpy() != 0)


def test_plain_arrays_give_constant_parameters():
    bij = fb.ActNorm(np.array([1.0, -1.0]), np.log([2.0, 0.5]))
    assert bij.dtype == tf.float64 and bij.variables == ()
    x = tf.constant([[1.0, 4.0]], tf.float64)
    np.testing.assert_allclose(bij.forward(x), [[3.0, 1.0]])
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 1), [0.0], atol=1e-12)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 2), 0.0, atol=1e-12)
    assert bij.is_constant_jacobian


@pytest.mark.parametrize("dtype, scale", [
    ("float32", 1.0), ("float32", 1e-4), ("float32", 1e-10), ("float32", 1e-30),
    ("float64", 1e-200), ("float64", 1e150),
])
def test_statistics_are_scale_free(dtype, scale):
    """actnorm_statistics(s * x) = (s * loc, log_scale + log s): no absolute epsilon floors
    the standard deviation of data at a small scale (it used to, at 1e-3)."""
    x = np.random.default_rng(3).normal(size=(300, 3)) * [1.0, 0.01, 5.0] + [0.5, -2.0, 0.0]
    loc, log_scale = fb.actnorm_statistics(tf.constant(x, dtype))
    loc_s, log_scale_s = fb.actnorm_statistics(tf.constant(scale * x, dtype))
    assert loc_s.dtype == log_scale_s.dtype == dtype
    tol = 2e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(log_scale_s.numpy() - np.log(scale), log_scale.numpy(),
                               rtol=0, atol=tol)
    np.testing.assert_allclose(loc_s.numpy() / scale, loc.numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.exp(log_scale.numpy()), x.std(0), rtol=1e-5)


def test_variance_floor_is_relative_to_each_feature():
    # a constant feature: sqrt(1e-6) of its value; an all-zero one: of the largest feature's
    # root mean square; features at different scales do not floor each other.
    y = tf.constant([[5.0, 0.0, 1e-20], [5.0, 0.0, -1e-20], [5.0, 0.0, 3e-20]])
    loc, log_scale = fb.actnorm_statistics(y)
    rms = np.sqrt(np.mean(y.numpy().astype(np.float64) ** 2, axis=0))
    std = y.numpy().astype(np.float64).std(0)
    np.testing.assert_allclose(log_scale, np.log([1e-3 * 5.0, 1e-3 * 5.0, std[2]]), rtol=1e-5)
    np.testing.assert_allclose(loc, [5.0, 0.0, 1e-20], rtol=1e-5)
    assert rms[0] == pytest.approx(5.0)
    _, all_zero = fb.actnorm_statistics(tf.zeros([4, 2], tf.float64))
    np.testing.assert_allclose(all_zero, 0.5 * np.log(1e-6))
    with pytest.raises(ValueError, match=r"epsilon must be a number in \(0, 1\), got 0"):
        fb.actnorm_statistics(y, epsilon=0)
