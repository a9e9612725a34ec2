"""Tests for the Keras 3 conditioner layers in tfp_flows.nets."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows.nets import MADE, CouplingMLP

ORDERS = ["left-to-right", "right-to-left", "random", [2, 0, 3, 1]]


def _positions(order):
    pos = np.empty(len(order), dtype=int)
    pos[np.asarray(order)] = np.arange(len(order))
    return pos


def _jacobian(layer, x, **kwargs):
    """d out[b, i, p] / d x[b, j] as an array of shape [B, D, P, D]."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, **kwargs)
    return tape.batch_jacobian(y, x).numpy()


# ----------------------------------------------------------------------------- MADE


@pytest.mark.parametrize("order", ORDERS, ids=str)
def test_made_autoregressive_jacobian(order, rng):
    d = 4
    made = MADE(d, num_params=3, hidden_units=(16, 16), order=order, seed=7,
                activation="tanh", zero_init_output=False)
    x = rng.normal(size=(5, d)).astype("float32")
    jac = np.abs(_jacobian(made, x)).max(axis=(0, 2))  # [D_out, D_in]
    pos = _positions(made.order)
    forbidden = pos[None, :] >= pos[:, None]  # position(j) >= position(i)
    assert np.all(jac[forbidden] == 0.0)
    # ...and with equal degree spacing every allowed dependency is present.
    assert np.all(jac[~forbidden] > 0.0)


@pytest.mark.parametrize("order", ["left-to-right", "right-to-left"])
def test_made_masks_match_tfp(order):
    from tensorflow_probability.python.bijectors import masked_autoregressive as tfp_ma

    made = MADE(5, num_params=2, hidden_units=(7, 9), order=order)
    made.build((None, 5))
    expected = tfp_ma._make_dense_autoregressive_masks(2, 5, [7, 9], input_order=order)
    for ours, theirs in zip(made._masks, expected):
        ours = np.ones(theirs.shape) if ours is None else ours.numpy()  # None: all ones
        np.testing.assert_array_equal(ours, theirs)


def test_made_order_property():
    np.testing.assert_array_equal(MADE(3).order, [0, 1, 2])
    np.testing.assert_array_equal(MADE(3, order="right-to-left").order, [2, 1, 0])
    np.testing.assert_array_equal(MADE(3, order=(1, 2, 0)).order, [1, 2, 0])
    a = MADE(6, order="random", seed=3).order
    np.testing.assert_array_equal(a, MADE(6, order="random", seed=3).order)
    np.testing.assert_array_equal(np.sort(a), np.arange(6))
    with pytest.raises(ValueError):
        a[0] = 1  # read-only


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(order="up-to-down"),
        dict(order=[0, 1, 1]),
        dict(order=[0, 1]),
        dict(order=[1, 2, 3]),
        dict(hidden_units=(8, 0)),
        dict(num_params=0),
    ],
    ids=str,
)
def test_made_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        MADE(3, **kwargs)


def test_made_wrong_input_size():
    with pytest.raises(ValueError, match=r"MADE expects inputs with last dimension 3; got input "
                                         r"shape \(2, 4\)"):
        MADE(3)(tf.zeros((2, 4)))


def test_made_zero_init_gives_zero():
    made = MADE(3, hidden_units=(8,))
    y = made(tf.random.normal((4, 3)))
    assert np.all(y.numpy() == 0.0)
    assert len(made.trainable_weights) == 4


@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 3)], ids=str)
def test_made_batch_shapes(batch_shape, rng):
    made = MADE(4, num_params=2, hidden_units=(8,), zero_init_output=False)
    x = rng.normal(size=batch_shape + (4,)).astype("float32")
    y = made(x)
    assert tuple(y.shape) == batch_shape + (4, 2)
    # Same numbers as the flattened 2-D call.
    flat = made(x.reshape(-1, 4)).numpy().reshape(batch_shape + (4, 2))
    np.testing.assert_allclose(y.numpy(), flat, rtol=1e-6)
    # Output layout: [..., i, p] == unit i * P + p of the output layer.
    h = tf.nn.relu(x.reshape(-1, 4) @ (made._kernels[0] * made._masks[0]) + made._biases[0])
    raw = (h @ (made._kernels[1] * made._masks[1]) + made._biases[1]).numpy()
    np.testing.assert_allclose(flat.reshape(-1, 8), raw, rtol=1e-5, atol=1e-6)


def test_made_event_size_one():
    made = MADE(1, hidden_units=(4,), zero_init_output=False)
    x = tf.random.normal((3, 1))
    np.testing.assert_array_equal(_jacobian(made, x), 0.0)
    made_c = MADE(1, hidden_units=(4,), context_size=2, zero_init_output=False)
    c = tf.random.normal((3, 2))
    with tf.GradientTape() as tape:
        tape.watch(c)
        y = made_c(x, context=c)
    assert y.shape == (3, 1, 2)
    assert np.all(np.abs(tape.batch_jacobian(y, c).numpy()).max(axis=(0, 2)) > 0)


def test_made_no_hidden_layers():
    made = MADE(3, hidden_units=(), zero_init_output=False)
    jac = np.abs(_jacobian(made, tf.random.normal((2, 3)))).max(axis=(0, 2))
    np.testing.assert_array_equal(jac != 0, np.tril(np.ones((3, 3)), -1) != 0)


def test_made_context(rng):
    made = MADE(3, hidden_units=(8,), context_size=2, zero_init_output=False,
                activation="tanh")
    x = rng.normal(size=(4, 3)).astype("float32")
    c = tf.constant(rng.normal(size=(4, 2)).astype("float32"))
    jac = np.abs(_jacobian(made, x, context=c)).max(axis=(0, 2))
    np.testing.assert_array_equal(jac != 0, np.tril(np.ones((3, 3)), -1) != 0)
    with tf.GradientTape() as tape:
        tape.watch(c)
        y = made(x, context=c)
    assert np.all(np.abs(tape.batch_jacobian(y, c).numpy()).max(axis=(0, 2)) > 0)
    # Broadcasting batch shapes between x and the conditional.
    assert made(x[None], context=c[:1]).shape == (1, 4, 3, 2)
    assert made(x, context=c[0]).shape == (4, 3, 2)
    with pytest.raises(ValueError, match="context"):
        made(x)
    with pytest.raises(ValueError, match="context"):
        MADE(3)(x, context=c)


def test_made_float64():
    made = MADE(3, hidden_units=(8,), dtype="float64", zero_init_output=False)
    y = made(np.ones((2, 3)))
    assert y.dtype == tf.float64
    assert all(w.dtype == "float64" for w in made.weights)


def test_made_inside_tf_function():
    made = MADE(3, hidden_units=(8,), zero_init_output=False)
    x = tf.random.normal((5, 3))
    f = tf.function(made, input_signature=[tf.TensorSpec([None, None, 3])])
    np.testing.assert_allclose(f(x[None]).numpy()[0], made(x).numpy(), rtol=1e-6)


def test_made_config_round_trip():
    made = MADE(4, num_params=3, hidden_units=(8, 8), activation="tanh",
                order="random", seed=1, context_size=2, zero_init_output=False)
    config = made.get_config()
    clone = MADE.from_config(config)
    np.testing.assert_array_equal(clone.order, made.order)
    assert clone.get_config() == config
    x, c = tf.random.normal((2, 4)), tf.random.normal((2, 2))
    made(x, context=c)
    clone(x, context=c)
    clone.set_weights(made.get_weights())
    np.testing.assert_allclose(clone(x, context=c), made(x, context=c))


def test_made_save_load(tmp_path):
    inp = keras.Input((5,))
    cond = keras.Input((2,))
    made = MADE(5, hidden_units=(8,), order="random", context_size=2,
                zero_init_output=False)
    model = keras.Model([inp, cond], made(inp, context=cond))
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    c = np.random.default_rng(1).normal(size=(3, 2)).astype("float32")
    path = str(tmp_path / "made.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.layers[-1].order, made.order)
    np.testing.assert_array_equal(loaded([x, c]).numpy(), model([x, c]).numpy())


# ---------------------------------------------------------------------- CouplingMLP


@pytest.mark.parametrize("batch_shape", [(), (3,), (2, 3)], ids=str)
@pytest.mark.parametrize("num_params", [1, 2])
def test_coupling_mlp_shapes(batch_shape, num_params, rng):
    net = CouplingMLP(3, num_params=num_params, hidden_units=(8,), zero_init_output=False)
    x = rng.normal(size=batch_shape + (2,)).astype("float32")
    y = net(x)
    assert tuple(y.shape) == batch_shape + (3, num_params)
    flat = net(x.reshape(-1, 2)).numpy().reshape(y.shape)
    np.testing.assert_allclose(y.numpy(), flat, rtol=1e-6)


def test_coupling_mlp_zero_init():
    net = CouplingMLP(3, hidden_units=(8, 8))
    assert np.all(net(tf.random.normal((4, 2))).numpy() == 0.0)
    assert len(net.trainable_weights) == 6


def test_coupling_mlp_context():
    net = CouplingMLP(3, hidden_units=(8,), zero_init_output=False)
    x, c = tf.random.normal((4, 2)), tf.random.normal((4, 5))
    y = net(x, context=c)
    assert y.shape == (4, 3, 2)
    # concat semantics: equal to feeding [x, c] through the same weights
    h = tf.nn.relu(tf.concat([x, c], -1) @ net._kernels[0] + net._biases[0])
    raw = h @ net._kernels[1] + net._biases[1]
    np.testing.assert_allclose(y.numpy().reshape(4, 6), raw.numpy(), rtol=1e-5, atol=1e-6)
    assert net(x[None], context=c[:1]).shape == (1, 4, 3, 2)
    with pytest.raises(ValueError, match="context"):
        net(x)


def test_coupling_mlp_float64():
    net = CouplingMLP(2, hidden_units=(8,), dtype="float64", zero_init_output=False)
    assert net(np.ones((2, 3))).dtype == tf.float64


def test_coupling_mlp_bad_arguments():
    with pytest.raises(ValueError):
        CouplingMLP(0)
    with pytest.raises(ValueError):
        CouplingMLP(2, hidden_units=(8, -1))


def test_coupling_mlp_config_round_trip():
    net = CouplingMLP(3, num_params=1, hidden_units=(8,), activation="tanh",
                      zero_init_output=False)
    config = net.get_config()
    clone = CouplingMLP.from_config(config)
    assert clone.get_config() == config
    x = tf.random.normal((2, 4))
    net(x)
    clone(x)
    clone.set_weights(net.get_weights())
    np.testing.assert_allclose(clone(x), net(x))


def test_coupling_mlp_save_load(tmp_path):
    inp, cond = keras.Input((4,)), keras.Input((3,))
    model = keras.Model(
        [inp, cond],
        CouplingMLP(4, hidden_units=(8,), zero_init_output=False)(inp, context=cond),
    )
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    c = np.random.default_rng(1).normal(size=(3, 3)).astype("float32")
    path = str(tmp_path / "mlp.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded([x, c]).numpy(), model([x, c]).numpy())
