"""Tests for LogProb: the classic ``keras.Model(x, dist.log_prob(x))`` pattern under Keras 3."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import datasets
from tfp_flows.bijectors import MaskedAutoregressive, PReLU, positive_variable
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
    prelu = PReLU(alpha=positive_variable(0.5))
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


# --- issue 8, section 2: stock TFP pieces under LogProb -------------------------------------

def _fit_changes(model, x, epochs, lr=1e-2):
    """Fits; returns the losses and the paths of trainable weights that did not change."""
    before = {w.path: w.numpy().copy() for w in model.trainable_weights}
    losses = _fit(model, x, epochs=epochs, lr=lr)
    unchanged = [w.path for w in model.trainable_weights
                 if np.array_equal(before[w.path], w.numpy())]
    return losses, unchanged


def test_variable_made_under_a_name_scope_gets_a_readable_name():
    with tf.name_scope("affine"):
        shift = tf.Variable([0.0, 0.0], name="shift")
        other = tf.Variable([1.0, 1.0], name="shift")  # the same name once sanitised
    assert shift.name == "affine/shift:0"
    dist = tfd.TransformedDistribution(_base(), tfb.Chain([tfb.Shift(shift), tfb.Scale(other)]))
    model = _functional(dist)
    names = sorted(w.name for w in model.trainable_weights)
    assert names == ["affine_shift", "affine_shift_1"]
    np.testing.assert_allclose(model(X[:5]).numpy(), dist.log_prob(X[:5]).numpy(), rtol=1e-6)


@pytest.fixture(scope="module")
def batch_norm_fit():
    """Stock tfb.BatchNormalization in a chain, fitted to data of mean 3, scales (1, 2)."""
    shift = tf.Variable([0.0, 0.0], name="shift")
    bn = tfb.BatchNormalization()
    dist = tfd.TransformedDistribution(_base(), tfb.Chain([tfb.Shift(shift), bn]))
    model = _functional(dist)
    data = np.random.default_rng(1).normal(3.0, [1.0, 2.0], size=(1000, 2)).astype("float32")
    losses, unchanged = _fit_changes(model, data, epochs=30, lr=0.05)
    return model, bn, data, losses, unchanged


def test_stock_batch_normalization_builds_without_name_errors_and_trains(batch_norm_fit):
    model, bn, data, losses, unchanged = batch_norm_fit
    names = sorted(w.name for w in model.weights)
    assert names == ["batch_normalization_beta", "batch_normalization_gamma",
                     "batch_normalization_moving_mean", "batch_normalization_moving_variance",
                     "shift"]
    assert len(model.trainable_weights) == 3 and len(model.non_trainable_weights) == 2
    assert unchanged == []
    # fit updated the running statistics (through the storage Keras tracks) towards the
    # data's; TFP's log-det uses them, so the NLL tends to the data's true entropy.
    np.testing.assert_allclose(bn.batchnorm.moving_variance.numpy(), data.var(0), rtol=0.15)
    true_nll = np.log(2 * np.pi) + 1 + 0.5 * np.log(data.var(0)).sum()
    nll = model.evaluate(data, np.zeros((len(data), 0)), batch_size=100, verbose=0)
    assert abs(nll - true_nll) < 0.1 and abs(losses[-1] - true_nll) < 0.1


def test_construction_does_not_move_running_statistics():
    bn = tfb.BatchNormalization()
    LogProb(tfd.TransformedDistribution(_base(), bn))
    assert bn.batchnorm.built
    np.testing.assert_array_equal(bn.batchnorm.moving_mean.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(bn.batchnorm.moving_variance.numpy(), [1.0, 1.0])


def _rings(n=1000, seed=0):
    """A simple 2-D set that a single Gaussian fits badly: two shifted, correlated blobs."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = 0.5 * x1 ** 2 + 0.3 * rng.normal(size=n)
    return np.stack([x1, x2 - 0.5], axis=1).astype("float32")


def _assert_trains(dist, expected_weights, epochs=6):
    data = _rings()
    model = _functional(dist)
    assert len(model.trainable_weights) == expected_weights
    start = -float(np.mean(model(data).numpy()))
    losses, unchanged = _fit_changes(model, data, epochs=epochs)  # 10 steps an epoch
    assert unchanged == []
    assert losses[-1] < losses[0] - 0.05 and losses[-1] < start
    np.testing.assert_allclose(model(data[:20]).numpy(), dist.log_prob(data[:20]).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_stock_autoregressive_network_trains():
    made = tfb.AutoregressiveNetwork(params=2, hidden_units=[16], activation="tanh")
    assert not made.built  # TFP builds it lazily; LogProb builds it
    dist = tfd.TransformedDistribution(_base(), tfb.MaskedAutoregressiveFlow(made))
    _assert_trains(dist, expected_weights=4, epochs=30)


def test_stock_real_nvp_default_template_trains():
    template = tfb.real_nvp_default_template(hidden_layers=[16])
    chain = tfb.Chain([tfb.RealNVP(num_masked=1, shift_and_log_scale_fn=template),
                       tfb.Permute([1, 0])])
    dist = tfd.TransformedDistribution(_base(), chain)
    _assert_trains(dist, expected_weights=4, epochs=30)


def test_keras_layer_inside_a_lambda_trains():
    net = keras.Sequential([keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)])
    bijector = tfb.RealNVP(
        num_masked=1, shift_and_log_scale_fn=lambda x, d: tf.split(net(x), 2, axis=-1))
    dist = tfd.TransformedDistribution(_base(), tfb.Chain([bijector, tfb.Permute([1, 0])]))
    _assert_trains(dist, expected_weights=4, epochs=30)
    model = _functional(dist)
    assert {id(w) for w in net.trainable_weights} == {id(w) for w in model.trainable_weights}


def test_layer_made_inside_the_function_raises_a_clear_error():
    def fresh_network(x, d):
        return tf.split(keras.layers.Dense(2 * d)(x), 2, axis=-1)  # new weights each call

    dist = tfd.TransformedDistribution(
        _base(), tfb.RealNVP(num_masked=1, shift_and_log_scale_fn=fresh_network))
    with pytest.raises(ValueError, match="new weights on every call.*outside the function"):
        LogProb(dist)


def test_log_prob_of_a_keras_input_points_to_log_prob_layer():
    made = MADE(2, hidden_units=(8,))
    dist = tfd.TransformedDistribution(_base(), MaskedAutoregressive(made))
    x = keras.Input((2,))
    with pytest.raises(TypeError, match=r"KerasTensor.*LogProb\(dist\)\(x\)"):
        keras.Model(x, dist.log_prob(x))
    with pytest.raises(TypeError, match="KerasTensor"):
        dist.bijector.forward(x)


@pytest.mark.parametrize("wrong", ["x", None, tfb.Shift(1.0)])
def test_log_prob_rejects_what_is_not_a_distribution(wrong):
    with pytest.raises(TypeError, match=f"tfp.distributions.Distribution.*{type(wrong).__name__}"):
        LogProb(wrong)


def test_distribution_whose_support_excludes_zero_is_built_on_a_sample():
    scale = tf.Variable([1.0, 1.0], name="scale")
    reciprocal = tfb.Reciprocal(validate_args=True)  # rejects 0
    dist = tfd.TransformedDistribution(_base(), tfb.Chain([tfb.Scale(scale), reciprocal]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        dist.log_prob(tf.zeros((1, 2)))
    model = _functional(dist)
    assert [w.name for w in model.trainable_weights] == ["scale"]
    np.testing.assert_allclose(model(X[:5] + 5).numpy(), dist.log_prob(X[:5] + 5).numpy(),
                               rtol=1e-6)
