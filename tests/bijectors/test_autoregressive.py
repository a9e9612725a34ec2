"""MaskedAutoregressive (MAF) and its inverse (IAF): semantics, conditioner calls, transforms,
conditioning inputs, a MADE conditioner."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.helpers import LinearAutoregressive, std_normal
from tfp_flows import bijectors as fb
from tfp_flows.nets import MADE

tfb = tfp.bijectors
tfd = tfp.distributions


def test_forward_is_sequential_and_inverse_parallel():
    """shift_i = previous y: y_i = z_i + y_{i-1}."""
    made_like = lambda y: tf.stack(  # noqa: E731
        [tf.concat([tf.zeros_like(y[..., :1]), y[..., :-1]], -1), tf.zeros_like(y)], axis=-1)
    bij = fb.MaskedAutoregressive(made_like)
    y = bij.forward(tf.constant([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(y, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(bij.inverse(y), [1.0, 1.0, 1.0])
    assert bij.transform == fb.Affine(log_scale_bound=5.0)


@pytest.mark.parametrize("size", [3, 20], ids=["unrolled", "while_loop"])
def test_forward_solves_the_linear_system_exactly(size):
    """With shift = W y (W strictly lower-triangular) and no scale, y = (I - W)^-1 z; sizes
    above the unroll limit go through tf.while_loop."""
    net = LinearAutoregressive(size, seed=1, scale=False)
    bij = fb.MaskedAutoregressive(net)
    z = np.random.default_rng(0).normal(size=(4, size))
    want = np.linalg.solve(np.eye(size) - net.w, z.T).T
    for forward in (bij.forward, tf.function(bij.forward)):
        np.testing.assert_allclose(forward(tf.constant(z)), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bij.inverse(tf.constant(want)), z, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(z), 1), 0.0, atol=1e-12)


def test_conditioner_calls_per_direction():
    """Density (inverse) is one conditioner call; sampling (forward) one per dimension."""
    net = LinearAutoregressive(4, seed=2)
    bij = fb.MaskedAutoregressive(net)
    y = tf.constant(np.random.default_rng(1).normal(size=(2, 4)))
    net.calls = 0
    bij.inverse(y)
    assert net.calls == 1
    net.calls = 0
    bij.forward(tf.identity(y))
    assert net.calls == 4
    net.calls = 0
    fb.inverse_and_log_det(bij, tf.identity(y), event_ndims=1)
    assert net.calls == 1
    net.calls = 0
    fb.forward_and_log_det(bij, tf.identity(y), event_ndims=1)
    assert net.calls == 4  # D - 1 passes, then one that gives y and the log-det together


def test_log_det_is_the_sum_of_log_scales():
    net = LinearAutoregressive(3, seed=3)
    bij = fb.MaskedAutoregressive(net, transform=fb.Affine(log_scale_bound=None))
    y = tf.constant(np.random.default_rng(2).normal(size=(5, 3)))
    log_scale = tf.linalg.matvec(net.tv, tf.tanh(y))
    np.testing.assert_allclose(bij.inverse_log_det_jacobian(y, 1), -tf.reduce_sum(log_scale, -1),
                               rtol=1e-12)
    z = bij.inverse(y)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(z, 1), tf.reduce_sum(log_scale, -1),
                               rtol=1e-10)


def test_passes_conditioning_kwargs_to_the_conditioner():
    net = LinearAutoregressive(3, seed=4)
    bij = fb.MaskedAutoregressive(net)
    z = tf.constant(np.random.default_rng(3).normal(size=(2, 3)))
    outs = [bij.forward(z, context=tf.constant(c, tf.float64)) for c in (0.0, 1.0)]
    assert not np.allclose(outs[0], outs[1])
    for c, y in zip((0.0, 1.0), outs):
        np.testing.assert_allclose(bij.inverse(y, context=tf.constant(c, tf.float64)), z,
                                   rtol=1e-10, atol=1e-12)
    dist = tfd.TransformedDistribution(std_normal([3], tf.float64), bij)
    lp = dist.log_prob(outs[1], bijector_kwargs=dict(context=tf.constant(1.0, tf.float64)))
    want = std_normal([3], tf.float64).log_prob(z) - bij.forward_log_det_jacobian(
        z, 1, context=tf.constant(1.0, tf.float64))
    np.testing.assert_allclose(lp, want, rtol=1e-10)


def _spline_net(size, spline, seed):
    rng = np.random.default_rng(seed)
    tril = np.tril(np.ones((size, size)), -1)[..., None]
    w = tf.constant(rng.normal(size=(size, size, spline.num_params)) * tril, tf.float64)
    return lambda y: tf.einsum("...j,ijk->...ik", tf.tanh(y), w)


def test_spline_autoregressive_round_trip_and_identity_at_zero():
    spline = fb.RationalQuadratic(num_bins=4, bound=3.0)
    z = tf.constant(np.random.default_rng(4).normal(size=(6, 4)) * 2.0)
    zero = fb.MaskedAutoregressive(lambda y: tf.zeros(tf.concat([tf.shape(y), [11]], 0),
                                                      tf.float64), transform=spline)
    np.testing.assert_allclose(zero.forward(z), z, atol=1e-12)
    np.testing.assert_allclose(zero.inverse_log_det_jacobian(z, 1), 0.0, atol=1e-12)
    bij = fb.MaskedAutoregressive(_spline_net(4, spline, 5), transform=spline)
    y = bij.forward(z)
    assert not np.allclose(y, z)
    np.testing.assert_allclose(y[:, 0], z[:, 0], atol=1e-12)  # the first entry sees nothing
    np.testing.assert_allclose(bij.inverse(tf.identity(y)), z, atol=1e-10)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(z, 1),
                               -bij.inverse_log_det_jacobian(tf.identity(y), 1), rtol=1e-10)


def test_additive_autoregressive_is_volume_preserving():
    bij = fb.MaskedAutoregressive(lambda y: tf.linalg.matvec(
        tf.constant(np.tril(np.ones((3, 3)), -1)), y), transform="additive")
    assert bij.is_constant_jacobian
    z = tf.constant([[1.0, 1.0, 1.0]], tf.float64)
    np.testing.assert_allclose(bij.forward(z), [[1.0, 2.0, 4.0]])  # y_i = z_i + sum(y_{<i})
    np.testing.assert_allclose(bij.forward_log_det_jacobian(z, 1), [0.0])


def test_iaf_samples_in_one_pass_and_evaluates_densities_sequentially():
    net = LinearAutoregressive(3, seed=6)
    iaf = tfb.Invert(fb.MaskedAutoregressive(net))
    z = tf.constant(np.random.default_rng(5).normal(size=(2, 3)))
    net.calls = 0
    x = iaf.forward(z)
    assert net.calls == 1
    np.testing.assert_allclose(iaf.inverse(tf.identity(x)), z, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("transform", [fb.Affine(), fb.RationalQuadratic(4, 3.0)],
                         ids=["affine", "spline"])
def test_made_conditioner_gets_gradients(transform):
    made = MADE(event_shape=3, num_params=transform.num_params, hidden_units=(8,), seed=0,
                zero_init_output=False)
    bij = fb.MaskedAutoregressive(made, transform=transform)
    dist = tfd.TransformedDistribution(std_normal([3]), bij)
    x = tf.constant(np.random.default_rng(6).normal(size=(16, 3)), tf.float32)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(x))
    grads = tape.gradient(loss, made.trainable_variables)
    assert len(grads) == len(made.trainable_variables) > 0
    for w, g in zip(made.trainable_variables, grads):
        assert g is not None and np.all(np.isfinite(g.numpy())) and np.any(g.numpy() != 0), w.path
    z = bij.inverse(x)
    np.testing.assert_allclose(bij.forward(z), x, atol=1e-4)
    assert bij.variables == ()  # weights live in the conditioner
