"""Tests for LogProb: the classic ``keras.Model(x, dist.log_prob(x))`` pattern under Keras 3."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import datasets
from tfp_flows.bijectors import MaskedAutoregressive, PReLU
from tfp_flows.layers import LogProb, negative_log_likelihood
from tfp_flows.nets import MADE

tfd = tfp.distributions
tfb = tfp.bijectors

X = datasets.load_toy("moons", n_train=500)[0]


def _fit(model, x, epochs, lr=1e-2):
    model.compile(keras.optimizers.Adam(lr), loss=negative_log_likelihood)
    return model.fit(x, np.zeros((len(x), 0), "float32"), epochs=epochs, batch_size=100,
                     verbose=0).history["loss"]


def _base():
    return tfd.MultivariateNormalDiag(loc=tf.zeros(2))


def _functional(dist):
    x = keras.Input((2,))
    return keras.Model(x, LogProb(dist)(x))


def test_negative_log_likelihood_ignores_targets():
    y_pred = tf.constant([-1.5, 2.0])
    np.testing.assert_array_equal(negative_log_likelihood(tf.zeros((2, 0)), y_pred).numpy(),
                                  [1.5, -2.0])


def test_made_permute_prelu_chain_trains():
    made = MADE(2, hidden_units=(8,))
    prelu = PReLU(alpha=0.5)
    assert isinstance(prelu.alpha, tfp.util.TransformedVariable)
    chain = tfb.Chain([prelu, tfb.Permute([1, 0]), MaskedAutoregressive(made)])
    dist = tfd.TransformedDistribution(_base(), chain)
    model = _functional(dist)

    made_ids = {id(w) for w in made.trainable_weights}
    assert len(made_ids) == 4
    model_ids = {id(w) for w in model.trainable_weights}
    assert made_ids <= model_ids
    others = [w for w in model.trainable_weights if id(w) not in made_ids]
    assert len(others) == 1  # the slope's unconstrained variable
    slope = others[0]
    assert slope.shape == () and slope.dtype == "float32"
    # The Keras weight shares the storage of the bijector's tf.Variable.
    raw = slope.numpy()
    slope.assign(raw + 1.0)
    assert abs(float(tf.convert_to_tensor(prelu.alpha)) - 0.5) > 0.1
    slope.assign(raw)
    np.testing.assert_allclose(float(tf.convert_to_tensor(prelu.alpha)), 0.5, rtol=1e-6)

    before = {w.path: w.numpy().copy() for w in model.trainable_weights}
    # Log-prob of data before training vs after: the flow learns.
    start = -float(np.mean(model(X).numpy()))
    losses = _fit(model, X, epochs=3)
    unchanged = [w.path for w in model.trainable_weights
                 if np.array_equal(before[w.path], w.numpy())]
    assert unchanged == []
    assert abs(float(tf.convert_to_tensor(prelu.alpha)) - 0.5) > 1e-4
    assert losses[-1] < losses[0] and losses[-1] < start
    np.testing.assert_allclose(model(X[:50]).numpy(), dist.log_prob(X[:50]).numpy(), rtol=1e-5)


@pytest.fixture(scope="module")
def shift_model():
    """A stock tfb.Shift(tf.Variable) fitted to data with mean 3."""
    shift = tf.Variable([0.0, 0.0], name="shift")
    dist = tfd.TransformedDistribution(_base(), tfb.Shift(shift))
    model = _functional(dist)
    data = np.random.default_rng(0).normal(3.0, 1.0, size=(500, 2)).astype("float32")
    losses = _fit(model, data, epochs=8, lr=0.2)
    return model, dist, shift, data, losses


def test_stock_shift_recovers_the_mean(shift_model):
    model, dist, shift, data, losses = shift_model
    assert len(model.trainable_weights) == 1
    np.testing.assert_allclose(shift.numpy(), data.mean(axis=0), atol=0.15)
    np.testing.assert_allclose(shift.numpy(), [3.0, 3.0], atol=0.25)
    assert losses[-1] < losses[0]
    np.testing.assert_allclose(model(data[:20]).numpy(), dist.log_prob(data[:20]).numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(model.predict(data[:20], verbose=0),
                               dist.log_prob(data[:20]).numpy(), rtol=1e-6)


def test_saving_a_keras_file_points_to_save_weights(shift_model, tmp_path):
    model = shift_model[0]
    with pytest.raises(Exception) as info:
        model.save(tmp_path / "model.keras")
    message = str(info.value)
    assert "save_weights" in message and "FlowModel" in message


def test_save_weights_and_load_weights_round_trip(shift_model, tmp_path):
    model, dist, shift, data, _ = shift_model
    path = tmp_path / "shift.weights.h5"
    model.save_weights(path)
    other_shift = tf.Variable([-5.0, 7.0], name="shift")
    other_dist = tfd.TransformedDistribution(_base(), tfb.Shift(other_shift))
    other = _functional(other_dist)
    other.load_weights(path)
    np.testing.assert_array_equal(other_shift.numpy(), shift.numpy())
    np.testing.assert_array_equal(other(data[:20]).numpy(), model(data[:20]).numpy())
    np.testing.assert_array_equal(other_dist.log_prob(data[:20]).numpy(),
                                  dist.log_prob(data[:20]).numpy())
