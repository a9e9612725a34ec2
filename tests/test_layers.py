"""Tests for the Keras flow layers in tfp_flows.layers (FlowLayer subclasses)."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import FlowModel
from tfp_flows.bijectors import channel_mask, checkerboard_mask
from tfp_flows.bijectors.prelu import MIN_SLOPE
from tfp_flows.layers import (
    ActNormLayer,
    AffineCouplingLayer,
    AutoregressiveLayer,
    FlowLayer,
    InvertibleLinearLayer,
    PermuteLayer,
    PReLULayer,
    SplineAutoregressiveLayer,
    SplineCouplingLayer,
    make_permutation,
)

IMAGE = (4, 4, 2)


@keras.saving.register_keras_serializable(package="tfp_flows_tests")
class TinyConv(keras.layers.Layer):
    """A Conv2D conditioner mapping [n, H, W, C] to [n, H, W, C, 2] (shift, log-scale)."""

    def __init__(self, channels, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.seed = seed
        self.conv = keras.layers.Conv2D(
            2 * self.channels, 3, padding="same",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=seed),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=seed + 1))

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, x):
        out = self.conv(x)
        return tf.reshape(out, tf.concat([tf.shape(x), [2]], axis=0))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "seed": self.seed}


def _image_coupling(mask="checkerboard", reverse_mask=False, seed=0):
    return AffineCouplingLayer(IMAGE, mask=mask, reverse_mask=reverse_mask,
                               conditioner=TinyConv(IMAGE[-1], seed=seed))


LAYERS = {
    "affine_coupling": lambda: AffineCouplingLayer((3,), hidden_units=(8,)),
    "additive_coupling_reversed": lambda: AffineCouplingLayer(
        (3,), reverse_mask=True, num_masked=1, hidden_units=(8,), shift_only=True,
        activation="tanh", log_scale_bound=2.0),
    "checkerboard_coupling": lambda: _image_coupling(),
    "channel_coupling": lambda: _image_coupling("channel", reverse_mask=True),
    "maf": lambda: AutoregressiveLayer(3, hidden_units=(8,), order="random", seed=3),
    "iaf": lambda: AutoregressiveLayer(3, hidden_units=(8,), inverse=True, log_scale_bound=2.0),
    "actnorm": lambda: ActNormLayer(3),
    "invertible_linear": lambda: InvertibleLinearLayer(3, seed=1),
    "permute": lambda: PermuteLayer([2, 0, 1]),
    "prelu_shared": lambda: PReLULayer(alpha=0.7),
    "prelu_per_dim": lambda: PReLULayer(event_size=3, alpha=0.3),
    "spline_coupling": lambda: SplineCouplingLayer((3,), num_bins=4, hidden_units=(8,),
                                                   reverse_mask=True),
    "spline_autoregressive": lambda: SplineAutoregressiveLayer(
        3, num_bins=4, hidden_units=(8,), order="right-to-left"),
}


def _input(layer, n=6, seed=0):
    shape = IMAGE if isinstance(layer, AffineCouplingLayer) and layer.mask_kind != "half" else (3,)
    return np.random.default_rng(seed).normal(size=(n,) + shape).astype("float32")


def _perturb(layer, scale=0.3, seed=0):
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        w.assign(w.numpy() + scale * rng.normal(size=w.shape).astype(w.dtype))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_config_round_trip_gives_the_same_bijector(kind):
    layer = LAYERS[kind]()
    assert isinstance(layer, FlowLayer)
    _perturb(layer)  # so that the layer is not the identity
    z = _input(layer)
    config = layer.get_config()
    json.dumps(config)  # plain JSON
    copy = type(layer).from_config(config)
    assert type(copy) is type(layer) and copy is not layer
    assert copy.get_config() == config
    assert [w.shape for w in copy.weights] == [w.shape for w in layer.weights]
    copy.set_weights(layer.get_weights())
    expected = layer.bijector().forward(z).numpy()
    if kind != "permute":
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
                                  "permute", "prelu_per_dim"])
def test_config_keeps_the_fixed_structure(kind):
    """Orders, permutations, seeded LU init and initial slopes come back without weights."""
    layer = LAYERS[kind]()
    copy = type(layer).from_config(layer.get_config())
    if hasattr(layer, "order"):
        np.testing.assert_array_equal(copy.order, layer.order)
    if kind == "maf":
        assert list(layer.order) != [0, 1, 2]  # the random order is really stored
    if kind in ("invertible_linear", "permute", "prelu_per_dim"):
        z = _input(layer)
        np.testing.assert_array_equal(copy(z).numpy(), layer(z).numpy())


# ----------------------------------------------------------------------------- PReLU


def test_prelu_slope_stays_positive_under_aggressive_training():
    layer = PReLULayer(alpha=0.5)
    model = FlowModel([layer], event_shape=(2,))
    assert any(w is layer.raw_alpha for w in model.trainable_weights)
    z = np.random.default_rng(0).normal(size=(400, 2)).astype("float32")
    x = np.where(z >= 0, z, 1e-4 * z)  # negative side squeezed: pushes the slope to zero
    model.compile(keras.optimizers.SGD(learning_rate=1e4))
    history = model.fit(x, epochs=3, batch_size=100, verbose=0)
    alpha = layer.alpha.numpy()
    assert np.isfinite(layer.raw_alpha.numpy()) and float(layer.raw_alpha.numpy()) < -10
    assert alpha >= MIN_SLOPE > 0 and alpha < 1e-3
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.all(np.isfinite(model.log_prob(x).numpy()))
    np.testing.assert_allclose(layer(np.array([[-1.0, 1.0]], "float32")).numpy(),
                               [[-alpha, 1.0]], rtol=1e-5)


def test_prelu_rejects_a_non_positive_slope():
    for alpha in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            PReLULayer(alpha=alpha)


# ----------------------------------------------------------------------------- weights


def test_every_layer_weight_is_a_model_weight():
    layers = [
        InvertibleLinearLayer(2, seed=0),
        ActNormLayer(2),
        AffineCouplingLayer((2,), hidden_units=(4,)),
        AutoregressiveLayer(2, hidden_units=(4,)),
        SplineCouplingLayer((2,), num_bins=3, hidden_units=(4,)),
        SplineAutoregressiveLayer(2, num_bins=3, hidden_units=(4,)),
        PReLULayer(alpha=0.5),
        PermuteLayer([1, 0]),
    ]
    model = FlowModel(layers, event_shape=(2,))
    model_ids = [id(w) for w in model.trainable_weights]
    assert len(model_ids) == len(set(model_ids))
    expected = []
    for layer in layers[:-1]:
        assert layer.trainable_weights, type(layer).__name__
        expected += [id(w) for w in layer.trainable_weights]
    assert sorted(expected) == sorted(model_ids)
    assert layers[-1].weights == []
    names = lambda layer: sorted(w.name for w in layer.trainable_weights)  # noqa: E731
    assert names(layers[0]) == ["log_diag", "lower", "upper"]
    assert names(layers[1]) == ["loc", "log_scale"]
    assert [w.name for w in model.non_trainable_weights] == ["initialized"]
    # ... and each of them gets a gradient through the model's log_prob.
    for layer in layers:
        _perturb(layer, scale=0.1)
    x = np.random.default_rng(1).normal(size=(32, 2)).astype("float32")
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x))
    grads = tape.gradient(loss, model.trainable_weights)
    assert [w.path for w, g in zip(model.trainable_weights, grads)
            if g is None or not np.any(g.numpy())] == []


# ----------------------------------------------------------------------------- image coupling


@pytest.mark.parametrize("mask", ["checkerboard", "channel"])
def test_image_coupling_with_a_conv_conditioner(mask, tmp_path):
    layers = [_image_coupling(mask, seed=0), _image_coupling(mask, reverse_mask=True, seed=5)]
    model = FlowModel(layers, event_shape=IMAGE)
    conv_weights = layers[0].conditioner.conv.trainable_weights
    assert len(conv_weights) == 2
    assert all(any(w is v for v in model.trainable_weights) for w in conv_weights)
    x = np.random.default_rng(0).normal(size=(8,) + IMAGE).astype("float32")

    # The entries under the mask condition and pass through unchanged; the others move.
    make = checkerboard_mask if mask == "checkerboard" else channel_mask
    keep = make(IMAGE).astype(bool)
    y = layers[0](x).numpy()
    np.testing.assert_array_equal(y[:, keep], x[:, keep])
    assert np.abs(y[:, ~keep] - x[:, ~keep]).min() > 0

    log_prob = model.log_prob(x)
    assert log_prob.shape == (8,)
    z, log_det = model.encode(x)
    assert z.shape == (8,) + IMAGE and np.abs(log_det.numpy()).max() > 1e-2
    np.testing.assert_allclose(model.bijector.forward(z).numpy(), x, rtol=1e-4, atol=1e-5)
    samples, sample_log_prob = model.sample_and_log_prob(16, seed=(1, 2))
    assert samples.shape == (16,) + IMAGE
    np.testing.assert_allclose(sample_log_prob.numpy(), model.log_prob(samples).numpy(),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.distribution.log_prob(x).numpy(), log_prob.numpy(),
                               rtol=1e-5, atol=1e-5)

    model.save(tmp_path / "image_flow.keras")
    loaded = keras.models.load_model(tmp_path / "image_flow.keras")
    assert isinstance(loaded.flow_layers[0].conditioner, TinyConv)
    np.testing.assert_array_equal(loaded.log_prob(x).numpy(), log_prob.numpy())


def test_image_coupling_needs_a_conditioner():
    for mask in ("checkerboard", "channel"):
        with pytest.raises(ValueError, match="conditioner"):
            AffineCouplingLayer(IMAGE, mask=mask)
    with pytest.raises(ValueError, match="mask"):
        AffineCouplingLayer(IMAGE)  # the default half mask is for vectors
    with pytest.raises(ValueError, match="mask"):
        AffineCouplingLayer((2,), mask="stripes")


# ----------------------------------------------------------------------------- permutations


@pytest.mark.parametrize("bad", [[0, 0, 1], [1, 2, 3], [[0, 1], [1, 0]], [0, 2]])
def test_permute_layer_rejects_a_non_permutation(bad):
    with pytest.raises(ValueError, match="permutation"):
        PermuteLayer(bad)


def test_make_permutation():
    assert make_permutation(4).tolist() == [3, 2, 1, 0]
    first = make_permutation(6, "random", seed=2).tolist()
    assert sorted(first) == list(range(6))
    assert make_permutation(6, "random", seed=2).tolist() == first
    with pytest.raises(ValueError, match="permutation"):
        make_permutation(3, "shuffle")


def test_user_supplied_coupling_mlp_survives_save_and_load(tmp_path):
    """A conditioner given by the user is serialised as given, not rebuilt from defaults."""
    import keras
    import numpy as np

    import tfp_flows
    from tfp_flows.layers import AffineCouplingLayer
    from tfp_flows.nets import CouplingMLP

    net = CouplingMLP(output_units=1, num_params=2, hidden_units=(8, 8, 8), activation="tanh",
                      zero_init_output=False)
    flow = tfp_flows.FlowModel([AffineCouplingLayer((2,), conditioner=net)], event_shape=(2,))
    x = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    flow.save(tmp_path / "f.keras")
    again = keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(flow.log_prob(x), again.log_prob(x))
    assert again.flow_layers[0].conditioner.get_config()["activation"] == "tanh"
