"""Conditional flow layers: every layer that takes a context, checked the same way (a correct
bijector for a fixed context, outputs that depend on the context, config round trips, weights
that get gradients through the context path, clear errors for a missing or wrong context)."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import FlowModel
from tfp_flows.bijectors import RationalQuadratic
from tfp_flows.layers import (
    ActNormLayer,
    AutoregressiveLayer,
    CouplingLayer,
    FactorOutLayer,
    SqueezeLayer,
    layer_context,
)
from tfp_flows.nets import ResNet
from tfp_flows.testing import check_bijector

K = 3
IMAGE = (4, 4, 2)


def _resnet(seed):
    return ResNet(num_params=2, hidden_channels=4, num_blocks=1, seed=seed)


def _factor_out():
    """Two scales: the inner flow on the squeezed kept channels has a conditional coupling."""
    deepest = (2, 2, 2)
    inner = FactorOutLayer((2, 2, 4), [
        ActNormLayer(deepest),
        CouplingLayer(deepest, mask="channel", conditioner=_resnet(5), context_size=K)])
    return FactorOutLayer(IMAGE, [inner, SqueezeLayer((4, 4, 1))])


CONDITIONAL = {
    "affine_coupling": lambda: CouplingLayer((3,), hidden_units=(8,), context_size=K),
    "spline_coupling": lambda: CouplingLayer((3,), transform=RationalQuadratic(4),
                                             hidden_units=(8,), reverse_mask=True,
                                             context_size=K),
    "maf": lambda: AutoregressiveLayer(3, hidden_units=(8,), context_size=K, seed=0),
    "iaf": lambda: AutoregressiveLayer(3, hidden_units=(8,), context_size=K, inverse=True),
    "checkerboard_coupling": lambda: CouplingLayer(
        IMAGE, mask="checkerboard", conditioner=_resnet(1), context_size=K),
    "channel_coupling": lambda: CouplingLayer(
        IMAGE, mask="channel", reverse_mask=True, conditioner=_resnet(2), context_size=K),
    "factor_out_with_a_conditional_inner_flow": _factor_out,
}


def _shapes(layer):
    shape = tuple(getattr(layer, "event_shape", (3,)))
    return shape, tuple(layer.inverse_event_shape(shape))


def _perturb(layer, scale=0.3, seed=0):
    """Random weights, so that the map is not the identity and depends on the context."""
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        w.assign(w.numpy() + scale * rng.normal(size=w.shape).astype(w.dtype))


def _context(n, seed=1):
    return np.random.default_rng(seed).normal(size=(n, K)).astype("float32")


def _latent(layer, n=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n,) + _shapes(layer)[1]).astype("float32")


@pytest.mark.parametrize("kind", sorted(CONDITIONAL))
def test_a_conditional_layer_builds_a_correct_bijector_for_each_context(kind):
    layer = CONDITIONAL[kind]()
    assert layer.context_size == K
    _perturb(layer, 0.2)
    check_bijector(layer.bijector(context=_context(3)), _latent(layer, 3),
                   event_ndims=len(_shapes(layer)[1]))


@pytest.mark.parametrize("kind", sorted(CONDITIONAL))
def test_the_output_depends_on_the_context_row_by_row(kind):
    layer = CONDITIONAL[kind]()
    _perturb(layer)
    z, c = _latent(layer, 4), _context(4)
    y = layer.bijector(context=c).forward(z).numpy()
    other = layer.bijector(context=c + 1.0).forward(z).numpy()
    assert not np.allclose(y, other, atol=1e-4)
    # Row i uses context row i: the first two rows alone give the same values.
    np.testing.assert_allclose(layer.bijector(context=c[:2]).forward(z[:2]).numpy(), y[:2],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", sorted(CONDITIONAL))
def test_a_conditional_layer_refuses_a_missing_or_wrong_context(kind):
    layer = CONDITIONAL[kind]()
    with pytest.raises(ValueError, match=r"conditional.*needs a context of shape \[\.\.\., 3\]"):
        layer.bijector()
    with pytest.raises(ValueError, match=r"takes a context of shape \[\.\.\., 3\], got .*\(4, 2\)"):
        layer.bijector(context=np.zeros((4, 2), "float32"))


@pytest.mark.parametrize("kind", sorted(CONDITIONAL))
def test_config_round_trip_keeps_the_context(kind):
    layer = CONDITIONAL[kind]()
    _perturb(layer)
    config = layer.get_config()
    json.dumps(config)
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert copy.context_size == K
    copy.set_weights(layer.get_weights())
    z, c = _latent(layer), _context(4)
    np.testing.assert_array_equal(copy.bijector(context=c).forward(z).numpy(),
                                  layer.bijector(context=c).forward(z).numpy())


@pytest.mark.parametrize("kind", sorted(CONDITIONAL))
def test_every_weight_gets_a_gradient_in_a_conditional_flow(kind):
    layer = CONDITIONAL[kind]()
    shape, _ = _shapes(layer)
    model = FlowModel([layer], event_shape=shape, context_size=K)
    _perturb(layer, 0.1)
    x = np.random.default_rng(2).normal(size=(8,) + shape).astype("float32")
    context = tf.constant(_context(8))
    with tf.GradientTape() as tape:
        tape.watch(context)
        loss = -tf.reduce_mean(model.log_prob(x, context=context))
    grads = tape.gradient(loss, model.trainable_weights + [context])
    assert [w.path for w, g in zip(model.trainable_weights, grads)
            if g is None or not np.any(g.numpy())] == []
    # The density depends on every context column.
    assert np.all(np.abs(grads[-1].numpy()).sum(axis=0) > 0)


@pytest.mark.parametrize("kind", sorted(CONDITIONAL))
def test_a_one_layer_conditional_flow_samples_what_its_log_prob_says(kind):
    layer = CONDITIONAL[kind]()
    _perturb(layer, 0.1)
    shape, _ = _shapes(layer)
    model = FlowModel([layer], event_shape=shape, context_size=K)
    c = _context(3)
    x, log_prob = model.sample_and_log_prob(2, context=c, seed=3)
    assert tuple(x.shape) == (2, 3) + shape
    np.testing.assert_allclose(model.log_prob(x, context=c).numpy(), log_prob.numpy(),
                               rtol=1e-4, atol=1e-3)


def test_layer_context_gives_the_context_to_conditional_layers_only():
    c = _context(2)
    assert layer_context(CONDITIONAL["maf"](), c) is c
    assert layer_context(ActNormLayer(3), c) is None


def test_a_flow_model_refuses_layers_of_another_context_width():
    with pytest.raises(ValueError, match="pass context_size to FlowModel"):
        FlowModel([CONDITIONAL["maf"]()], event_shape=(3,))
    with pytest.raises(ValueError, match=r"context_size=2.*take \[3\]"):
        FlowModel([CONDITIONAL["maf"]()], event_shape=(3,), context_size=2)
    with pytest.raises(ValueError, match="take none"):
        FlowModel([ActNormLayer(3)], event_shape=(3,), context_size=2)
