"""BatchNorm: batch-statistics mode (training) normalises the batch it sees and takes its
log-det from those statistics; given statistics give the exact affine map; the callback sees
the batch statistics; the forward map refuses batch statistics. (Log-det vs the Jacobian with
given statistics, dtypes, batch shapes: the registry.)"""
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import bijectors as fb

EPS = 1e-3


def _batch(shape, seed=0):
    """Data whose features have very different means and spreads."""
    rng = np.random.default_rng(seed)
    c = shape[-1]
    return (rng.normal(size=shape) * np.linspace(0.5, 4.0, c) + np.linspace(-3.0, 5.0, c))


@pytest.mark.parametrize("shape,axes", [((64, 3), (0,)), ((4, 16, 3), (0, 1)),
                                        ((8, 4, 4, 2), (0, 1, 2))], ids=str)
def test_batch_statistics_are_per_feature_over_every_other_axis(shape, axes):
    y = _batch(shape)
    mean, variance = fb.batch_statistics(tf.constant(y))
    np.testing.assert_allclose(mean.numpy(), y.mean(axis=axes), rtol=1e-10)
    np.testing.assert_allclose(variance.numpy(), y.var(axis=axes), rtol=1e-10)  # biased


@pytest.mark.parametrize("event_ndims,shape", [(1, (200, 3)), (3, (12, 4, 6, 2))], ids=str)
def test_batch_mode_normalises_the_batch_and_its_log_det_uses_those_statistics(event_ndims,
                                                                               shape):
    y = _batch(shape, seed=1)
    c = shape[-1]
    loc = np.linspace(-1.0, 1.0, c)
    log_scale = np.linspace(0.3, -0.2, c)
    bij = fb.BatchNorm(None, None, tf.constant(loc), tf.constant(log_scale), epsilon=EPS,
                       event_ndims=event_ndims)
    assert bij.uses_batch_statistics
    z = bij.inverse(tf.constant(y)).numpy()
    axes = tuple(range(len(shape) - 1))
    variance = y.var(axis=axes)
    shrink = variance / (variance + EPS)  # what epsilon leaves of a unit variance
    np.testing.assert_allclose(z.mean(axis=axes), loc, atol=1e-10)
    np.testing.assert_allclose(z.var(axis=axes), np.exp(2 * log_scale) * shrink, rtol=1e-10)
    ildj = bij.inverse_log_det_jacobian(tf.constant(y), event_ndims=event_ndims).numpy()
    per_pixel = np.sum(log_scale - 0.5 * np.log(variance + EPS))
    pixels = 1 if event_ndims == 1 else shape[1] * shape[2]
    batch = shape[:1] if event_ndims == 3 else shape[:-1]
    np.testing.assert_allclose(ildj, np.full(batch, per_pixel * pixels), rtol=1e-12)
    # The fused path (the one FlowModel uses) agrees.
    z_fused, ildj_fused = fb.inverse_and_log_det(bij, tf.constant(y), event_ndims)
    np.testing.assert_allclose(z_fused.numpy(), z, rtol=1e-12)
    np.testing.assert_allclose(ildj_fused.numpy(), ildj, rtol=1e-12)


def test_batch_mode_normalises_whatever_batch_it_gets():
    """Shifting and scaling the batch changes nothing in the output (statistics follow)."""
    y = _batch((50, 3), seed=2)
    bij = fb.BatchNorm(None, None, tf.zeros(3, tf.float64), tf.zeros(3, tf.float64),
                       epsilon=1e-9)
    z = bij.inverse(tf.constant(y)).numpy()
    np.testing.assert_allclose(bij.inverse(tf.constant(3.0 * y + 7.0)).numpy(), z, atol=1e-7)
    ildj = bij.inverse_log_det_jacobian(tf.constant(y), event_ndims=1).numpy()
    ildj_scaled = bij.inverse_log_det_jacobian(tf.constant(3.0 * y), event_ndims=1).numpy()
    np.testing.assert_allclose(ildj_scaled, ildj - 3 * np.log(3.0), rtol=1e-7)


@pytest.mark.parametrize("event_ndims,shape", [(1, (5, 3)), (3, (5, 2, 3, 3))], ids=str)
def test_given_statistics_give_the_exact_affine_map(event_ndims, shape):
    rng = np.random.default_rng(3)
    mean, variance = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3)
    loc, log_scale = rng.normal(size=3), rng.normal(size=3) * 0.3
    bij = fb.BatchNorm(mean, variance, loc, log_scale, epsilon=EPS, event_ndims=event_ndims)
    assert not bij.uses_batch_statistics
    y = rng.normal(size=shape)
    expected = (y - mean) / np.sqrt(variance + EPS) * np.exp(log_scale) + loc
    assert bij.dtype == tf.float64  # float arrays keep their dtype
    z = bij.inverse(tf.constant(y)).numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    np.testing.assert_allclose(bij.forward(tf.constant(expected)).numpy(), y, rtol=1e-12)
    # Statistics of the batch play no part: one row gives the same result alone.
    np.testing.assert_allclose(bij.inverse(tf.constant(y[:1])).numpy(), z[:1], rtol=1e-12)


def test_forward_with_batch_statistics_is_refused_with_a_clear_message():
    bij = fb.BatchNorm(None, None, tf.zeros(2), tf.zeros(2), name="bn7")
    message = (r"bn7: the forward \(sampling\) direction needs running statistics, but this "
               r"bijector was built for batch statistics \(training\)")
    with pytest.raises(ValueError, match=message):
        bij.forward(tf.zeros([3, 2]))
    with pytest.raises(ValueError, match=message):
        bij.forward_log_det_jacobian(tf.zeros([3, 2]), event_ndims=1)
    with pytest.raises(ValueError, match=message):
        fb.forward_and_log_det(bij, tf.zeros([3, 2]), 1)


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf_function"])
def test_on_batch_statistics_is_called_with_the_batch_mean_and_variance(graph):
    seen = []
    y = _batch((6, 2, 2, 3), seed=4).astype("float32")

    def record(mean, variance):
        seen.append((mean, variance))

    bij = fb.BatchNorm(None, None, tf.zeros(3), tf.zeros(3), event_ndims=3,
                       on_batch_statistics=record)
    if graph:
        out = tf.Variable(tf.zeros([2, 3]))

        @tf.function
        def run(t):
            seen.clear()
            z = bij.inverse(t)
            out.assign(tf.stack(seen[0]))  # what the callback got, out of the graph
            return z

        run(tf.constant(y))
        got_mean, got_var = out.numpy()
    else:
        fb.inverse_and_log_det(bij, tf.constant(y), 3)
        assert len(seen) == 1  # once per fused pass
        got_mean, got_var = seen[0][0].numpy(), seen[0][1].numpy()
    np.testing.assert_allclose(got_mean, y.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_var, y.var(axis=(0, 1, 2)), rtol=1e-5)


def test_on_batch_statistics_is_not_called_with_given_statistics():
    calls = []
    bij = fb.BatchNorm(tf.zeros(2), tf.ones(2), tf.zeros(2), tf.zeros(2),
                       on_batch_statistics=lambda m, v: calls.append(1))
    bij.inverse(tf.ones([3, 2]))
    bij.forward(tf.ones([3, 2]))
    assert calls == []


@pytest.mark.parametrize("kwargs,message", [
    (dict(event_ndims=2), r"event_ndims must be 1 \(vectors\) or 3 \(images\), got 2"),
    (dict(mean=np.zeros(2)), r"give both mean and variance"),
    (dict(variance=np.ones(2)), r"give both mean and variance"),
    (dict(epsilon=0.0), r"epsilon must be a positive number, got 0\.0"),
    (dict(epsilon=-1e-3), r"epsilon must be a positive number, got -0\.001"),
    (dict(loc=tf.zeros(2, tf.float64)), r"parameters have different dtypes"),
], ids=["event_ndims", "mean_only", "variance_only", "eps_zero", "eps_negative", "dtypes"])
def test_bad_arguments(kwargs, message):
    args = dict(mean=None, variance=None, loc=tf.zeros(2), log_scale=tf.zeros(2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fb.BatchNorm(**args)
