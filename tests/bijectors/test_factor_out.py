"""FactorOut: where each entry of the flat latent comes from, split_latent, event shapes,
use inside tfd.TransformedDistribution and tfb.Chain, bad arguments and inputs. (Round trips
and log-det vs the Jacobian of a two-scale FactorOut in float64: the registry.)"""
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.registry import REGISTRY
from tfp_flows import bijectors as fb

tfb, tfd = tfp.bijectors, tfp.distributions


def _images(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=shape))


def test_inverse_puts_the_factored_channels_first_then_the_inner_latent():
    bij = fb.FactorOut([tfb.Scale(tf.constant(2.0, tf.float64))], event_shape=(2, 3, 4),
                       num_kept=1)
    y = _images((5, 2, 3, 4))
    z = bij.inverse(y).numpy()
    assert z.shape == (5, 24)
    factored, kept = y.numpy()[..., 1:], y.numpy()[..., :1]
    np.testing.assert_array_equal(z[:, :18], factored.reshape(5, 18))
    np.testing.assert_allclose(z[:, 18:], kept.reshape(5, 6) / 2.0, rtol=1e-15)
    np.testing.assert_allclose(bij.inverse_log_det_jacobian(y, event_ndims=3).numpy(),
                               np.full(5, -6 * np.log(2.0)), rtol=1e-12)
    np.testing.assert_allclose(bij.forward(tf.constant(z)).numpy(), y.numpy(), rtol=1e-15)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(z), event_ndims=1),
                               np.full(5, 6 * np.log(2.0)), rtol=1e-12)


def test_empty_inner_flow_is_a_permutation_with_zero_log_det():
    bij = fb.FactorOut([], event_shape=(2, 2, 2))
    y = tf.reshape(tf.range(8.0), [1, 2, 2, 2])
    z = bij.inverse(y).numpy()
    np.testing.assert_array_equal(z, [[1.0, 3.0, 5.0, 7.0, 0.0, 2.0, 4.0, 6.0]])
    assert bij.is_constant_jacobian
    np.testing.assert_array_equal(bij.inverse_log_det_jacobian(y, event_ndims=3).numpy(), [0.0])


def test_split_latent_gives_this_scale_and_the_inner_latent():
    # Inner flow keeps the image shape: the inner latent is an image.
    bij = fb.FactorOut([tfb.Identity()], event_shape=(2, 2, 4), num_kept=3)
    z = tf.reshape(tf.range(2 * 16.0), [2, 16])
    factored, inner = bij.split_latent(z)
    assert factored.shape == (2, 2, 2, 1) and inner.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(factored.numpy().reshape(2, 4), z.numpy()[:, :4])
    np.testing.assert_array_equal(inner.numpy().reshape(2, 12), z.numpy()[:, 4:])
    # Two scales: the inner latent is the inner FactorOut's flat latent, last scale last.
    outer, _, _ = REGISTRY["factor_out_two_scales"](tf.float64)
    z = tf.reshape(tf.range(3 * 16.0, dtype=tf.float64), [3, 16])
    factored, inner = outer.split_latent(z)
    assert factored.shape == (3, 2, 2, 2) and inner.shape == (3, 8)
    deeper = outer.inner[0]
    assert isinstance(deeper, fb.FactorOut)
    f2, last = deeper.split_latent(inner)
    assert f2.shape == (3, 1, 1, 4) and last.shape == (3, 1, 1, 4)
    np.testing.assert_array_equal(np.concatenate(
        [t.numpy().reshape(3, -1) for t in (factored, f2, last)], axis=1), z.numpy())


def test_the_factored_part_of_the_latent_is_the_data_as_is():
    """Through two scales, the first scale's factored channels are untouched data and the
    deeper scale's factored part is the squeezed kept channels, untouched too."""
    outer, _, _ = REGISTRY["factor_out_two_scales"](tf.float64)
    y = _images((3, 2, 2, 4), seed=1)
    factored, inner = outer.split_latent(outer.inverse(y))
    np.testing.assert_array_equal(factored.numpy(), y.numpy()[..., 2:])
    squeezed = fb.Squeeze().forward(y[..., :2]).numpy()  # (3, 1, 1, 8)
    f2, _ = outer.inner[0].split_latent(inner)
    np.testing.assert_array_equal(f2.numpy(), squeezed[..., 4:])


def test_event_shapes_static_and_tensor():
    bij = fb.FactorOut([tfb.Identity()], event_shape=(4, 2, 6))
    assert bij.latent_size == 48
    assert bij.forward_event_shape([7, 48]) == [7, 4, 2, 6]
    assert bij.inverse_event_shape([7, 3, 4, 2, 6]) == [7, 3, 48]
    np.testing.assert_array_equal(bij.forward_event_shape_tensor(tf.constant([7, 48])).numpy(),
                                  [7, 4, 2, 6])
    np.testing.assert_array_equal(
        bij.inverse_event_shape_tensor(tf.constant([7, 4, 2, 6])).numpy(), [7, 48])
    assert bij.forward_min_event_ndims == 1 and bij.inverse_min_event_ndims == 3
    assert bij.forward_event_ndims(1) == 3 and bij.inverse_event_ndims(3) == 1


def test_inside_transformed_distribution_and_chain():
    """log_prob of TransformedDistribution(base over the flat latent, Chain([shift on images,
    FactorOut])) equals the change of variables written by hand; samples are images."""
    outer, _, _ = REGISTRY["factor_out_two_scales"](tf.float64)
    shift = tfb.Shift(tf.constant(0.5, tf.float64))
    chain = tfb.Chain([shift, outer])
    base = tfd.Sample(tfd.Normal(tf.constant(0.0, tf.float64), 1.0), [16])
    dist = tfd.TransformedDistribution(base, chain)
    assert dist.event_shape == [2, 2, 4]
    y = _images((5, 2, 2, 4), seed=2)
    z = outer.inverse(y - 0.5)
    expected = base.log_prob(z) + outer.inverse_log_det_jacobian(y - 0.5, event_ndims=3)
    np.testing.assert_allclose(dist.log_prob(y).numpy(), expected.numpy(), rtol=1e-12)
    samples = dist.sample(4, seed=3)
    assert samples.shape == (4, 2, 2, 4)
    z = chain.inverse(samples)
    np.testing.assert_allclose(chain.forward(z).numpy(), samples.numpy(), rtol=1e-10)


def test_inside_tf_function_with_an_unknown_batch():
    outer, _, _ = REGISTRY["factor_out_two_scales"](tf.float64)

    @tf.function(input_signature=[tf.TensorSpec([None, 2, 2, 4], tf.float64)])
    def inverse(t):
        return fb.inverse_and_log_det(outer, t, 3)

    y = _images((3, 2, 2, 4), seed=4)
    z, ildj = inverse(y)
    z_eager, ildj_eager = fb.inverse_and_log_det(outer, y, 3)
    np.testing.assert_allclose(z.numpy(), z_eager.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ildj.numpy(), ildj_eager.numpy(), rtol=1e-12)


@pytest.mark.parametrize("num_kept", [0, 4, 5, -1])
def test_num_kept_must_leave_both_parts(num_kept):
    with pytest.raises(ValueError, match=rf"0 < num_kept < channels; got num_kept={num_kept} "
                                         r"for an image of shape \(2, 2, 4\)"):
        fb.FactorOut([], event_shape=(2, 2, 4), num_kept=num_kept)


def test_one_channel_cannot_be_split():
    with pytest.raises(ValueError, match=r"at least 2 channels.*num_kept=0 for an image of "
                                         r"shape \(4, 4, 1\)"):
        fb.FactorOut([], event_shape=(4, 4, 1))


@pytest.mark.parametrize("shape", [(16,), (4, 4), (1, 2, 2, 4)], ids=str)
def test_event_shape_must_be_an_image(shape):
    with pytest.raises(ValueError, match=r"event_shape must be an image shape \(height, width, "
                                         r"channels\), got " + re.escape(str(shape))):
        fb.FactorOut([], event_shape=shape)


def test_inputs_of_the_wrong_shape_are_named():
    bij = fb.FactorOut([], event_shape=(2, 2, 4), name="scale1")
    with pytest.raises(ValueError, match=r"scale1: expected images of shape \[\.\.\., 2, 2, 4\], "
                                         r"got \(3, 2, 2, 3\)"):
        bij.inverse(tf.zeros([3, 2, 2, 3]))
    with pytest.raises(ValueError, match=r"scale1: expected latents of size 16 on the last "
                                         r"axis, got shape \(3, 15\)"):
        bij.forward(tf.zeros([3, 15]))


def test_inner_shapes_that_do_not_fit_fail_at_construction():
    """An inner Squeeze on kept channels of odd size is found when the FactorOut is built."""
    with pytest.raises(ValueError, match=r"even height and width"):
        fb.FactorOut([tfb.Invert(fb.Squeeze())], event_shape=(3, 2, 2))
