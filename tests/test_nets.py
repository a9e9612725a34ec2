"""Tests for the Keras 3 conditioner layers in tfp_flows.nets (MADE, CouplingMLP, ResNet)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows.nets import MADE, CouplingMLP, ResNet

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


# --------------------------------------------------------------------------- ResNet


def _resnet_perturbed(net, scale=1.0, seed=0):
    """Random values in every weight (the output conv starts at zero)."""
    rng = np.random.default_rng(seed)
    for w in net.weights:
        w.assign(rng.normal(size=w.shape).astype("float32") * scale)
    return net


@pytest.mark.parametrize("num_blocks", [0, 2])
def test_resnet_output_shape_and_zero_at_start(num_blocks, rng):
    net = ResNet(num_params=3, hidden_channels=4, num_blocks=num_blocks, seed=0)
    x = rng.normal(size=(5, 4, 6, 2)).astype("float32")
    out = net(x)
    assert out.shape == (5, 4, 6, 2, 3)
    assert np.all(out.numpy() == 0.0)
    assert net.compute_output_shape((None, 4, 6, 2)) == (None, 4, 6, 2, 3)
    # conv_in + 2 convs per block + conv_out, each a kernel and a bias
    assert len(net.trainable_weights) == 2 * (2 + 2 * num_blocks)
    # ...but not because the hidden layers are dead: they depend on the input.
    assert np.any(net.conv_in(x).numpy() != 0.0)


def test_resnet_output_layout_and_batch_axes(rng):
    """Output channel c * P + p of the last conv is parameter p of input channel c; leading
    batch axes are flattened and restored."""
    net = ResNet(num_params=2, hidden_channels=4, num_blocks=1, seed=0)
    x = rng.normal(size=(2, 3, 2, 2, 3)).astype("float32")
    net(x)
    net.conv_out.bias.assign(np.arange(6, dtype="float32"))
    out = net(x).numpy()
    assert out.shape == (2, 3, 2, 2, 3, 2)
    np.testing.assert_array_equal(out, np.broadcast_to(np.arange(6.0).reshape(3, 2), out.shape))
    _resnet_perturbed(net)
    np.testing.assert_allclose(net(x).numpy().reshape(6, 2, 2, 3, 2),
                               net(x.reshape(6, 2, 2, 3)).numpy(), rtol=1e-5, atol=1e-6)


def test_resnet_log_scale_is_bounded_by_a_learned_per_channel_scale(rng):
    net = ResNet(num_params=2, hidden_channels=4, num_blocks=1, log_scale_index=1, seed=0)
    raw_net = ResNet(num_params=2, hidden_channels=4, num_blocks=1, seed=0)
    x = rng.normal(size=(8, 4, 4, 2)).astype("float32")
    net(x)
    raw_net(x)
    assert [w.name for w in net.weights if w.name == "scale"] == ["scale"]
    np.testing.assert_array_equal(net.scale.numpy(), [1.0, 1.0])  # starts at 1
    for w in net.weights:  # large weights saturate tanh
        if w.name != "scale":
            w.assign(rng.normal(size=w.shape).astype("float32") * 3.0)
    net.scale.assign([0.5, 2.0])
    raw_net.set_weights([w.numpy() for w in net.weights if w.name != "scale"])
    out, raw = net(x).numpy(), raw_net(x).numpy()
    np.testing.assert_array_equal(out[..., 0], raw[..., 0])  # the shift is left alone
    np.testing.assert_allclose(out[..., 1], [0.5, 2.0] * np.tanh(raw[..., 1]), rtol=1e-5,
                               atol=1e-6)
    for c, bound in enumerate([0.5, 2.0]):
        assert np.abs(out[..., c, 1]).max() <= bound
        assert np.abs(out[..., c, 1]).max() > 0.9 * bound  # really saturated
    assert np.abs(raw[..., 1]).max() > 2.0  # unbounded without it
    assert np.abs(out[..., 0]).max() > 2.0


def test_resnet_seed_fixes_the_initial_weights():
    def weights(seed):
        net = ResNet(num_params=2, hidden_channels=4, num_blocks=1, seed=seed)
        net(tf.zeros([1, 4, 4, 2]))
        return [w.numpy() for w in net.weights]

    first, again, other = weights(3), weights(3), weights(4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    kernels = [i for i, w in enumerate(first) if w.ndim == 4 and np.any(w != 0)]
    assert len(kernels) == 3  # conv_in and the block's two convs; conv_out is zero
    assert all(not np.array_equal(first[i], other[i]) for i in kernels)
    # Within one network, the convolutions differ from each other.
    assert not np.array_equal(first[kernels[1]], first[kernels[2]])


def test_resnet_glow_network_and_output_channels(rng):
    """num_blocks=0, pointwise=True is Glow's conv 3x3 -> conv 1x1 -> zero conv 3x3 (TFP's
    GlowDefaultNetwork: the same weight shapes); output_channels sets C' of [n, H, W, C', P]."""
    net = ResNet(num_params=2, hidden_channels=8, num_blocks=0, pointwise=True,
                 output_channels=3, seed=0)
    x = rng.normal(size=(4, 4, 4, 2)).astype("float32")
    out = net(x)
    assert out.shape == (4, 4, 4, 3, 2) and np.all(out.numpy() == 0.0)
    assert net.compute_output_shape((None, 4, 4, 2)) == (None, 4, 4, 3, 2)
    kernels = sorted(tuple(w.shape) for w in net.trainable_weights if len(w.shape) == 4)
    assert kernels == sorted([(3, 3, 2, 8), (1, 1, 8, 8), (3, 3, 8, 6)])
    _resnet_perturbed(net)
    h = tf.nn.relu(net.conv_pointwise(tf.nn.relu(net.conv_in(x))))
    np.testing.assert_allclose(out_again := net(x).numpy(),
                               tf.reshape(net.conv_out(h), (4, 4, 4, 3, 2)).numpy(), rtol=1e-5)
    assert np.abs(out_again).max() > 0
    clone = ResNet.from_config(net.get_config())
    clone(x)
    clone.set_weights(net.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), out_again)
    with pytest.raises(ValueError, match="pointwise"):
        ResNet(pointwise="yes")
    with pytest.raises(ValueError, match="output_channels"):
        ResNet(output_channels=0)


def test_resnet_config_round_trip(rng):
    net = ResNet(num_params=3, hidden_channels=4, num_blocks=1, kernel_size=5,
                 activation="tanh", log_scale_index=2, seed=7)
    config = net.get_config()
    clone = ResNet.from_config(config)
    assert clone.get_config() == config
    assert {k: config[k] for k in ("num_params", "hidden_channels", "num_blocks", "kernel_size",
                                   "activation", "log_scale_index", "seed")} == dict(
        num_params=3, hidden_channels=4, num_blocks=1, kernel_size=5, activation="tanh",
        log_scale_index=2, seed=7)
    x = rng.normal(size=(2, 4, 4, 2)).astype("float32")
    net(x)
    clone(x)
    assert net.conv_in.kernel.shape == (5, 5, 2, 4)
    _resnet_perturbed(net)
    clone.set_weights(net.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), net(x).numpy())


def test_resnet_in_a_coupling_saves_and_loads(tmp_path, rng):
    from tfp_flows import FlowModel
    from tfp_flows.layers import CouplingLayer

    shape = (4, 4, 2)
    model = FlowModel([CouplingLayer(shape, mask="checkerboard", conditioner=ResNet(
        2, hidden_channels=4, num_blocks=1, log_scale_index=1, seed=0))], event_shape=shape)
    _resnet_perturbed(model.flow_layers[0].conditioner, scale=0.3)
    x = rng.normal(size=(3,) + shape).astype("float32")
    path = str(tmp_path / "resnet.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.flow_layers[0].conditioner, ResNet)
    np.testing.assert_array_equal(loaded.log_prob(x).numpy(), model.log_prob(x).numpy())


def test_resnet_context(rng):
    net = ResNet(num_params=2, hidden_channels=4, num_blocks=1, seed=0)
    x = rng.normal(size=(3, 4, 4, 2)).astype("float32")
    c = rng.normal(size=(3, 5)).astype("float32")
    net(x, context=c)
    assert net.context_dense.kernel.shape == (5, 4)
    _resnet_perturbed(net)
    out = net(x, context=c).numpy()
    assert np.abs(out - net(x, context=c + 1.0).numpy()).max() > 1e-3  # the context is used
    # Each image sees its own context only.
    np.testing.assert_allclose(net(x[:1], context=c[:1]).numpy(), out[:1], rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"built with a context input; got none"):
        net(x)
    plain = ResNet(num_params=2, hidden_channels=4, num_blocks=0)
    plain(x)
    with pytest.raises(ValueError, match=r"built without a context input; got one"):
        plain(x, context=c)


@pytest.mark.parametrize("kwargs,message", [
    (dict(kernel_size=2), r"kernel_size must be odd \(same padding\), got 2"),
    (dict(kernel_size=0), r"kernel_size must be an integer >= 1, got 0"),
    (dict(num_params=0), r"num_params must be an integer >= 1, got 0"),
    (dict(hidden_channels=0), r"hidden_channels must be an integer >= 1, got 0"),
    (dict(num_blocks=-1), r"num_blocks must be an integer >= 0, got -1"),
    (dict(num_blocks=1.5), r"num_blocks must be an integer >= 0, got 1\.5"),
    (dict(log_scale_index=2), r"log_scale_index must be None or in \[0, 2\), got 2"),
    (dict(log_scale_index=-1), r"log_scale_index must be None or in \[0, 2\), got -1"),
    (dict(activation="no_such_activation"), r"activation must be a Keras activation name"),
    (dict(seed=-1), r"seed must be an integer >= 0, got -1"),
], ids=str)
def test_resnet_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNet(**{"num_params": 2, **kwargs})


def test_resnet_needs_images():
    with pytest.raises(ValueError, match=r"ResNet expects images \[n, height, width, channels\] "
                                         r"with known channels, got shape \(3, 4\)"):
        ResNet(hidden_channels=4)(tf.zeros([3, 4]))
