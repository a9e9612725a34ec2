"""SqueezeLayer and FactorOutLayer: shapes through a model, the sub-flow's weights are the
layer's weights, data-dependent initialisation and the training flag reach the inner layers,
saving keeps the nested weights, bad arguments. (Config round trips, check_bijector, context
refusal and gradients to every weight of a two-scale FactorOutLayer: test_registry.py.)"""
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import FlowModel
from tfp_flows.bijectors import Squeeze
from tfp_flows.layers import (
    ActNormLayer,
    BatchNormLayer,
    FactorOutLayer,
    InvertibleLinearLayer,
    SqueezeLayer,
)

IMAGE = (4, 4, 2)


def _data(n=64, seed=0):
    """Images whose channels have means 3 and -1 and spreads 2 and 0.5."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n,) + IMAGE) * [2.0, 0.5] + [3.0, -1.0]).astype("float32")


def _two_scales():
    """(4, 4, 2) -> keep 1 channel -> squeeze to (2, 2, 4) -> keep 2 -> ActNorm, 1x1 conv."""
    deepest = [ActNormLayer((2, 2, 2)), InvertibleLinearLayer((2, 2, 2), seed=0)]
    inner = FactorOutLayer((2, 2, 4), deepest, name="scale_2")
    return FactorOutLayer(IMAGE, [inner, SqueezeLayer((4, 4, 1))], name="scale_1")


# ------------------------------------------------------------------------- squeeze
def test_squeeze_layer_shapes_and_no_weights():
    layer = SqueezeLayer((4, 6, 3))
    assert layer.squeezed_shape == (2, 3, 12)
    assert layer.inverse_event_shape((4, 6, 3)) == (2, 3, 12)
    assert layer.forward_event_shape((2, 3, 12)) == (4, 6, 3)
    assert layer.compute_output_shape((None, 2, 3, 12)) == (None, 4, 6, 3)
    assert layer.weights == []


def test_a_squeeze_only_flow_is_a_standard_normal_over_the_pixels():
    """Squeezing permutes entries: log p(x) is the standard normal's, samples are images, and
    the base sample is the squeezed image."""
    model = FlowModel([SqueezeLayer(IMAGE)], event_shape=IMAGE)
    assert model.latent_shape == (2, 2, 8)
    x = _data(3)
    expected = -0.5 * np.sum(x.reshape(3, -1) ** 2, axis=1) - 16 * np.log(2 * np.pi)
    np.testing.assert_allclose(model.log_prob(x).numpy(), expected, rtol=1e-5)
    z, log_det = model.encode(x)
    np.testing.assert_array_equal(z.numpy(), Squeeze().forward(x).numpy())
    np.testing.assert_array_equal(log_det.numpy(), 0.0)
    assert model.sample(5, seed=0).shape == (5,) + IMAGE


@pytest.mark.parametrize("shape", [(3, 4, 1), (4, 5, 2)], ids=str)
def test_squeeze_layer_of_an_odd_size_names_the_shape(shape):
    with pytest.raises(ValueError, match=r"even height and width.*" + re.escape(str(shape))):
        SqueezeLayer(shape)


@pytest.mark.parametrize("make", [SqueezeLayer, lambda s: FactorOutLayer(s, [])],
                         ids=["squeeze", "factor_out"])
@pytest.mark.parametrize("shape", [(16,), (4, 4)], ids=str)
def test_multiscale_layers_need_an_image_shape(make, shape):
    with pytest.raises(ValueError, match=r"Layer is for images: event_shape must be \(height, "
                                         r"width, channels\), got " + re.escape(str(shape))):
        make(shape)


# ---------------------------------------------------------------------- factor-out
def test_factor_out_layer_shapes_through_two_scales():
    layer = _two_scales()
    assert layer.num_kept == 1
    assert layer.inner_latent_shape == (16,)
    assert layer.flow_layers[0].inner_latent_shape == (2, 2, 2)
    assert layer.inverse_event_shape(IMAGE) == (32,)
    assert layer.forward_event_shape((32,)) == IMAGE
    model = FlowModel([layer], event_shape=IMAGE)
    assert model.latent_shape == (32,)
    assert model.sample(3, seed=1).shape == (3,) + IMAGE
    z, _ = model.encode(_data(3))
    assert z.shape == (3, 32)


def test_inner_weights_are_the_layers_weights():
    layer = _two_scales()
    inner = layer.flow_layers[0].flow_layers
    expected = [w for sub in inner for w in sub.trainable_weights]
    assert len(expected) == 5  # ActNorm loc, log_scale; LU lower, upper, log_diag
    assert sorted(id(w) for w in layer.trainable_weights) == sorted(id(w) for w in expected)
    model = FlowModel([layer], event_shape=IMAGE)
    assert sorted(id(w) for w in model.trainable_weights) == sorted(id(w) for w in expected)
    # ActNorm's "initialized" flag is a non-trainable weight of the model too (saved).
    assert any(w is inner[0].initialized for w in model.non_trainable_weights)


def test_data_dependent_initialisation_reaches_a_nested_actnorm():
    """initialize_from_data standardises what reaches the inner ActNorm: the kept channel,
    squeezed, its first two channels, through the 1x1 convolution (data side first)."""
    layer = _two_scales()
    actnorm, conv = layer.flow_layers[0].flow_layers
    assert layer.needs_data_init and not layer.is_initialized
    assert layer.flow_layers[0].needs_data_init
    model = FlowModel([layer], event_shape=IMAGE)
    x = _data()
    model.initialize_from_data(x)
    assert actnorm.is_initialized and layer.is_initialized
    arriving = conv.bijector().inverse(Squeeze().forward(x[..., :1])[..., :2])
    out = actnorm.bijector().inverse(arriving).numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, rtol=1e-3)
    # ...which it was not before: the initialisation really did something.
    assert np.all(np.abs(arriving.numpy().mean(axis=(0, 1, 2))) > 0.5)


def test_a_sub_flow_without_data_dependent_layers_needs_no_init():
    layer = FactorOutLayer(IMAGE, [SqueezeLayer((4, 4, 1))])
    assert not layer.needs_data_init and layer.is_initialized
    assert layer.trainable_weights == []


def test_the_training_flag_reaches_an_inner_batch_norm():
    """log_prob(training=True) through the factor-out updates the inner running statistics
    with the kept channel's batch statistics; training=False leaves them alone."""
    bn = BatchNormLayer((4, 4, 1), momentum=0.5)
    model = FlowModel([FactorOutLayer(IMAGE, [bn])], event_shape=IMAGE)
    x = _data()
    model.initialize_from_data(x)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [x[..., 0].mean()], rtol=1e-5)
    shifted = x + 10.0
    model.log_prob(shifted)  # inference: running statistics, no update
    np.testing.assert_allclose(bn.moving_mean.numpy(), [x[..., 0].mean()], rtol=1e-5)
    model.log_prob(shifted, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [x[..., 0].mean() + 5.0], rtol=1e-5)


def test_save_and_load_keep_the_nested_weights(tmp_path):
    layer = _two_scales()
    model = FlowModel([layer, ActNormLayer(IMAGE)], event_shape=IMAGE)
    x = _data(8)
    model.initialize_from_data(x)
    for w in model.trainable_weights:  # away from the init, so that a lost weight shows
        w.assign(w.numpy() + np.random.default_rng(1).normal(size=w.shape).astype("float32")
                 * 0.1)
    path = str(tmp_path / "multiscale.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    inner = loaded.flow_layers[0]
    assert isinstance(inner, FactorOutLayer) and isinstance(inner.flow_layers[0],
                                                            FactorOutLayer)
    assert inner.flow_layers[0].flow_layers[0].is_initialized
    np.testing.assert_array_equal(loaded.log_prob(x).numpy(), model.log_prob(x).numpy())


@pytest.mark.parametrize("num_kept", [0, 2, 3, -1])
def test_factor_out_layer_num_kept_must_leave_both_parts(num_kept):
    with pytest.raises(ValueError, match=rf"needs 0 < num_kept < channels.*got "
                                         rf"num_kept={num_kept} for event_shape \(4, 4, 2\)"):
        FactorOutLayer(IMAGE, [], num_kept=num_kept)


def test_factor_out_layer_takes_only_flow_layers():
    with pytest.raises(TypeError, match=r"flow_layers\[1\] must be a FlowLayer, got Dense"):
        FactorOutLayer(IMAGE, [ActNormLayer((4, 4, 1)), keras.layers.Dense(3)])


def test_factor_out_layer_refuses_a_context():
    layer = _two_scales()
    assert layer.context_size is None
    with pytest.raises(ValueError, match=r"scale_1 takes no context"):
        layer.bijector(context=tf.zeros([3, 2]))
