"""BatchNormLayer: batch statistics and moving-average updates in training (eager and under
fit), running statistics at inference, non-trainable saved statistics (a fresh process loads
them), a clear error before any statistics exist, bad arguments. (Config round trip,
check_bijector and gradients with running statistics: test_registry.py.)"""
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import FlowModel
from tfp_flows.layers import BatchNormLayer, CouplingLayer

EPS = 1e-4


def _data(n, mean, std, seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, len(mean))) * std + mean).astype("float32")


def _normal_log_prob(z):
    return -0.5 * np.sum(z ** 2, axis=-1) - 0.5 * z.shape[-1] * np.log(2 * np.pi)


def test_statistics_are_non_trainable_weights_of_the_model():
    layer = BatchNormLayer((3,))
    model = FlowModel([layer], event_shape=(3,))
    assert sorted(w.name for w in layer.trainable_weights) == ["loc", "log_scale"]
    assert sorted(w.name for w in layer.non_trainable_weights) == [
        "initialized", "moving_mean", "moving_variance"]
    assert {id(w) for w in model.non_trainable_weights} == {
        id(w) for w in layer.non_trainable_weights}
    assert {id(w) for w in model.trainable_weights} == {id(w) for w in layer.trainable_weights}


def test_initialize_sets_per_channel_statistics_of_images():
    layer = BatchNormLayer((2, 3, 2))
    assert layer.needs_data_init and not layer.is_initialized
    y = np.random.default_rng(0).normal(size=(5, 2, 3, 2)) * [1.0, 3.0] + [2.0, -4.0]
    layer.initialize(y.astype("float32"))
    assert layer.is_initialized
    np.testing.assert_allclose(layer.moving_mean.numpy(), y.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), y.var(axis=(0, 1, 2)), rtol=1e-5)
    with pytest.raises(ValueError, match=r"expected data of shape \[n, 2, 3, 2\], got "
                                         r"\(5, 3, 2, 2\)"):
        layer.initialize(np.zeros((5, 3, 2, 2), "float32"))


def test_training_bijector_updates_the_moving_averages_eagerly():
    layer = BatchNormLayer((2,), momentum=0.75)
    layer.initialize(np.array([[0.0, 0.0], [2.0, 4.0]], "float32"))  # mean (1, 2), var (1, 4)
    batch = np.array([[5.0, 1.0], [7.0, 1.0], [9.0, 4.0]], "float32")
    z = layer.bijector(training=True).inverse(batch).numpy()
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)  # the batch's own statistics
    np.testing.assert_allclose(layer.moving_mean.numpy(),
                               0.75 * np.array([1.0, 2.0]) + 0.25 * batch.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(),
                               0.75 * np.array([1.0, 4.0]) + 0.25 * batch.var(axis=0), rtol=1e-6)
    before = layer.moving_mean.numpy()
    layer.bijector(training=False).inverse(batch)
    layer.bijector(training=False).forward(batch)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), before)


def test_inference_uses_the_running_statistics_and_training_the_batchs():
    layer = BatchNormLayer((3,))
    model = FlowModel([layer], event_shape=(3,))
    model.initialize_from_data(_data(500, [1.0, -2.0, 0.5], [2.0, 0.5, 1.0], seed=0))
    layer.loc.assign([0.1, -0.2, 0.3])
    layer.log_scale.assign([0.2, 0.0, -0.1])
    mean, var = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    loc, s = layer.loc.numpy(), layer.log_scale.numpy()
    shifted = _data(50, [4.0, 1.0, 3.0], [1.0, 1.0, 1.0], seed=1)

    def expected(m, v):
        z = (shifted - m) / np.sqrt(v + EPS) * np.exp(s) + loc
        return _normal_log_prob(z) + np.sum(s - 0.5 * np.log(v + EPS))

    np.testing.assert_allclose(model.log_prob(shifted).numpy(), expected(mean, var),
                               rtol=1e-5)
    model.compile()
    np.testing.assert_allclose(model.evaluate(shifted, verbose=0),
                               -expected(mean, var).mean(), rtol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), mean)  # evaluate: no update
    training = model.log_prob(shifted, training=True).numpy()
    np.testing.assert_allclose(training, expected(shifted.mean(0), shifted.var(0)), rtol=1e-5)
    assert np.abs(training - expected(mean, var)).min() > 1.0  # the shift is seen only here


def test_fit_moves_the_running_statistics_towards_the_data():
    """One full batch per epoch, momentum 0.5, 3 epochs: the running mean is exactly
    0.125 * initial + 0.875 * data mean (the batch-norm layer is on the data side, so it sees
    the data whatever the coupling learns); every weight trains."""
    layer = BatchNormLayer((3,), momentum=0.5)
    model = FlowModel([CouplingLayer((3,), hidden_units=(8,)), layer], event_shape=(3,))
    start = _data(40, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], seed=2)
    layer.initialize(start)
    x = _data(64, [5.0, -2.0, 1.0], [3.0, 0.5, 1.0], seed=3)
    model.compile(keras.optimizers.Adam(1e-2))
    weights = [w.numpy() for w in model.trainable_weights]
    model.fit(x, batch_size=64, epochs=3, verbose=0)
    np.testing.assert_allclose(layer.moving_mean.numpy(),
                               0.125 * start.mean(0) + 0.875 * x.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(),
                               0.125 * start.var(0) + 0.875 * x.var(0), rtol=1e-5)
    assert all(np.any(w.numpy() != before) for w, before in zip(model.trainable_weights,
                                                                  weights))


def test_fit_initialises_the_statistics_from_the_data_first():
    layer = BatchNormLayer((2,), momentum=0.9)
    model = FlowModel([layer], event_shape=(2,))
    x = _data(32, [10.0, -10.0], [1.0, 2.0], seed=4)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(x, batch_size=32, epochs=1, verbose=0)
    # init sets the full-data statistics, the one step averages them with themselves
    np.testing.assert_allclose(layer.moving_mean.numpy(), x.mean(0), rtol=1e-5)


def test_inference_before_any_statistics_names_the_layer():
    layer = BatchNormLayer((3,), name="bn_first")
    model = FlowModel([layer], event_shape=(3,))
    message = r"bn_first: a batch-norm layer has no running statistics yet"
    for call in (layer.bijector, lambda: model.log_prob(np.zeros((2, 3), "float32")),
                 lambda: model.sample(2, seed=0)):
        with pytest.raises(ValueError, match=message):
            call()

    @tf.function(autograph=False)
    def log_prob(x):
        return model.log_prob(x)

    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        log_prob(tf.zeros([2, 3]))
    # Training needs no running statistics (the batch's are used), and makes them exist.
    model.log_prob(np.ones((4, 3), "float32") * [[1.0], [2.0], [3.0], [4.0]], training=True)
    assert layer.is_initialized
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.05 * 2.5, rtol=1e-6)


@pytest.mark.parametrize("kwargs,message", [
    (dict(momentum=1.0), r"momentum must be a number in \[0, 1\), got 1\.0"),
    (dict(momentum=-0.1), r"momentum must be a number in \[0, 1\), got -0\.1"),
    (dict(momentum=True), r"momentum must be a number in \[0, 1\), got True"),
    (dict(momentum="0.5"), r"momentum must be a number in \[0, 1\), got '0\.5'"),
    (dict(epsilon=0.0), r"epsilon"),
    (dict(event_shape=(4, 4)), r"BatchNormLayer acts on vectors \(D,\) or images \(H, W, C\), "
                               r"got event_shape \(4, 4\)"),
], ids=["momentum_one", "momentum_negative", "momentum_bool", "momentum_str", "epsilon",
         "event_shape"])
def test_bad_arguments(kwargs, message):
    args = dict(event_shape=(3,))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        BatchNormLayer(**args)


LOAD = '''
import json, sys
import keras, numpy as np
import tfp_flows  # noqa: F401  registers the layers

model = keras.models.load_model(sys.argv[1])
layer = model.flow_layers[-1]
x = np.load(sys.argv[2])
json.dump({"log_prob": model.log_prob(x).numpy().tolist(),
           "moving_mean": layer.moving_mean.numpy().tolist(),
           "moving_variance": layer.moving_variance.numpy().tolist(),
           "initialized": layer.is_initialized,
           "momentum": layer.momentum, "epsilon": layer.epsilon,
           "non_trainable": sorted(w.name for w in layer.non_trainable_weights)},
          open(sys.argv[3], "w"))
'''


def test_a_fresh_process_loads_the_running_statistics(tmp_path):
    layer = BatchNormLayer((2, 2, 2), momentum=0.8, epsilon=1e-3)
    conv = CouplingLayer((2, 2, 2), mask="checkerboard",
                         conditioner=keras.Sequential([keras.layers.Conv2D(4, 1),
                                                       keras.layers.Reshape((2, 2, 2, 2))]))
    model = FlowModel([conv, layer], event_shape=(2, 2, 2))
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(32, 2, 2, 2)) * 2.0 + 1.0).astype("float32")
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    # After fit the running statistics are the data's moved by batches, not the init's.
    assert not np.allclose(layer.moving_mean.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-6)
    path, data, out = tmp_path / "bn.keras", tmp_path / "x.npy", tmp_path / "out.json"
    model.save(str(path))
    np.save(data, x[:5])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(LOAD), str(path), str(data),
                             str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(out.read_text())
    np.testing.assert_array_equal(loaded["moving_mean"], layer.moving_mean.numpy())
    np.testing.assert_array_equal(loaded["moving_variance"], layer.moving_variance.numpy())
    assert loaded["initialized"] is True
    assert (loaded["momentum"], loaded["epsilon"]) == (0.8, 1e-3)
    assert loaded["non_trainable"] == ["initialized", "moving_mean", "moving_variance"]
    np.testing.assert_array_equal(loaded["log_prob"], model.log_prob(x[:5]).numpy())
