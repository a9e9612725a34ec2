"""Every layer of tests/layers/registry.py: config round trips (plain and through Keras's
registry), fixed structure kept without weights, a correct bijector (check_bijector), event
shapes (layers may change them: squeeze, factor-out), every weight a model weight that gets a
gradient, and a one-layer FlowModel whose samples and log_prob agree."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layers.registry import (
    FIXED,
    LAYERS,
    event_shape,
    latent_shape,
    perturb,
    sample_data,
    sample_input,
)
from tfp_flows import FlowModel, layers
from tfp_flows.layers import FactorOutLayer, FlowLayer
from tfp_flows.testing import check_bijector


def _with_inner(layer):
    """The layer and, through FactorOutLayer, every layer of its sub-flow."""
    yield layer
    if isinstance(layer, FactorOutLayer):
        for inner in layer.flow_layers:
            yield from _with_inner(inner)


def test_registry_covers_every_flow_layer():
    public = {name for name in layers.__all__ if isinstance(getattr(layers, name), type)
              and issubclass(getattr(layers, name), FlowLayer)} - {"FlowLayer"}
    made = [make() for make in LAYERS.values()]
    seen = {type(inner).__name__ for layer in made for inner in _with_inner(layer)}
    assert public <= seen, public - seen
    # ...and the registry has layers that change the event shape, and one that needs data.
    assert any(latent_shape(layer) != event_shape(layer) for layer in made)
    assert any(layer.needs_data_init and layer.is_initialized for layer in made)


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
    if kind not in FIXED:  # not the identity, nor a mere rearrangement of the entries
        assert not np.allclose(np.sort(expected.ravel()), np.sort(z.ravel()), atol=1e-3)
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
    check_bijector(layer.bijector(), x, event_ndims=len(latent_shape(layer)))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_each_layer_says_its_event_shapes_and_refuses_a_context(kind):
    """The layer's shape functions agree with its bijector's and with what it returns."""
    layer = LAYERS[kind]()
    shape, latent = event_shape(layer), latent_shape(layer)
    assert layer.forward_event_shape(latent) == shape
    assert layer.inverse_event_shape(shape) == latent
    assert layer.compute_output_shape((None,) + latent) == (None,) + shape
    bijector = layer.bijector()
    assert tuple(bijector.forward_event_shape(latent)) == shape
    assert tuple(bijector.inverse_event_shape(shape)) == latent
    z = sample_input(layer, n=2)
    assert tuple(layer(z).shape) == (2,) + shape
    assert tuple(bijector.inverse(sample_data(layer, n=2)).shape) == (2,) + latent
    with pytest.raises(ValueError, match="takes no context"):
        layer.bijector(context=np.zeros((6, 2), "float32"))


@pytest.mark.parametrize("kind", sorted(set(LAYERS) - set(FIXED)))
def test_every_weight_is_a_model_weight_and_gets_a_gradient(kind):
    layer = LAYERS[kind]()
    model = FlowModel([layer], event_shape=event_shape(layer))
    assert model.latent_shape == latent_shape(layer)
    assert layer.trainable_weights
    assert sorted(id(w) for w in model.trainable_weights) == sorted(
        id(w) for w in layer.trainable_weights)
    perturb(layer, scale=0.1)
    x = sample_data(layer, n=16, seed=1)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x))
    grads = tape.gradient(loss, model.trainable_weights)
    assert [w.path for w, g in zip(model.trainable_weights, grads)
            if g is None or not np.any(g.numpy())] == []


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_a_one_layer_flow_samples_what_its_log_prob_says(kind):
    layer = LAYERS[kind]()
    perturb(layer, scale=0.1)
    model = FlowModel([layer], event_shape=event_shape(layer))
    x, log_prob = model.sample_and_log_prob(5, seed=3)
    assert tuple(x.shape) == (5,) + event_shape(layer)
    np.testing.assert_allclose(model.log_prob(x).numpy(), log_prob.numpy(), rtol=1e-4,
                               atol=1e-3)
