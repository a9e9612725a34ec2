"""Every layer of tests/layers/registry.py: config round trips (plain and through Keras's
registry), fixed structure kept without weights, a correct bijector (check_bijector), output
shapes, and every weight a model weight that gets a gradient."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layers.registry import FIXED, LAYERS, event_shape, perturb, sample_input
from tfp_flows import FlowModel
from tfp_flows.layers import FlowLayer
from tfp_flows.testing import check_bijector


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_config_round_trip_gives_the_same_bijector(kind):
    layer = LAYERS[kind]()
    assert isinstance(layer, FlowLayer)
    perturb(layer)  # so that the layer is not the identity
    z = sample_input(layer)
    config = layer.get_config()
    json.dumps(config)  # plain JSON
    copy = type(layer).from_config(config)
    assert type(copy) is type(layer) and copy is not layer
    assert copy.get_config() == config
    assert [w.shape for w in copy.weights] == [w.shape for w in layer.weights]
    copy.set_weights(layer.get_weights())
    expected = layer.bijector().forward(z).numpy()
    if kind not in FIXED:
        assert not np.allclose(expected, z, atol=1e-3)
    np.testing.assert_array_equal(copy.bijector().forward(z).numpy(), expected)
    np.testing.assert_array_equal(copy(z).numpy(), expected)
    np.testing.assert_array_equal(copy.bijector().inverse(expected).numpy(),
                                  layer.bijector().inverse(expected).numpy())
    # Through Keras' registry, as saving does.
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
    restored.set_weights(layer.get_weights())
    np.testing.assert_array_equal(restored.bijector().forward(z).numpy(), expected)


@pytest.mark.parametrize("kind", ["maf", "spline_autoregressive", "invertible_linear",
                                  "invertible_linear_image", "permute", "prelu_per_dim",
                                  "fixed_shift_scale"])
def test_config_keeps_the_fixed_structure(kind):
    """Orders, permutations, seeded LU init and initial slopes come back without weights."""
    layer = LAYERS[kind]()
    copy = type(layer).from_config(layer.get_config())
    if hasattr(layer, "order"):
        np.testing.assert_array_equal(copy.order, layer.order)
    if kind == "maf":
        assert list(layer.order) != [0, 1, 2]  # the random order is really stored
    if kind in ("invertible_linear", "invertible_linear_image", "permute", "prelu_per_dim",
                "fixed_shift_scale"):
        z = sample_input(layer)
        np.testing.assert_array_equal(copy(z).numpy(), layer(z).numpy())




@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_each_layer_builds_a_correct_bijector(kind):
    layer = LAYERS[kind]()
    perturb(layer, scale=0.2)
    x = tf.constant(sample_input(layer, n=3), tf.float32)
    check_bijector(layer.bijector(), x, event_ndims=len(event_shape(layer)))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_each_layer_says_its_output_shape_and_refuses_a_context(kind):
    layer = LAYERS[kind]()
    shape = event_shape(layer)
    assert layer.compute_output_shape((None,) + shape) == (None,) + shape
    assert layer.forward_event_shape(shape) == shape == layer.inverse_event_shape(shape)
    with pytest.raises(ValueError, match="takes no context"):
        layer.bijector(context=np.zeros((6, 2), "float32"))


@pytest.mark.parametrize("kind", sorted(set(LAYERS) - set(FIXED)))
def test_every_weight_is_a_model_weight_and_gets_a_gradient(kind):
    layer = LAYERS[kind]()
    model = FlowModel([layer], event_shape=event_shape(layer))
    assert layer.trainable_weights
    assert sorted(id(w) for w in model.trainable_weights) == sorted(
        id(w) for w in layer.trainable_weights)
    perturb(layer, scale=0.1)
    x = sample_input(layer, n=16, seed=1)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x))
    grads = tape.gradient(loss, model.trainable_weights)
    assert [w.path for w, g in zip(model.trainable_weights, grads)
            if g is None or not np.any(g.numpy())] == []
