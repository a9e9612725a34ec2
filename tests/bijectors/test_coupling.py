"""Coupling: conditioning, masks, each transform, conditioner output forms, Keras layers."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.helpers import RandomNet, std_normal
from tfp_flows import bijectors as fb

tfb = tfp.bijectors
tfd = tfp.distributions


def test_passes_conditioning_kwargs_to_the_conditioner():
    seen = []

    def conditioner(x_b, context):
        seen.append(context)
        shift = tf.zeros_like(x_b) + context
        return shift, 0.5 * context * tf.ones_like(x_b)

    bij = fb.Coupling(conditioner, transform=fb.Affine(log_scale_bound=None))
    x = tf.constant([[1.0, 2.0, 3.0, 4.0]])
    for c in (1.0, 2.0):
        y = bij.forward(x, context=tf.constant(c))
        expected = np.concatenate([[1.0, 2.0], np.array([3.0, 4.0]) * np.exp(0.5 * c) + c])
        np.testing.assert_allclose(y.numpy()[0], expected, rtol=1e-6)
        np.testing.assert_allclose(
            bij.forward_log_det_jacobian(x, event_ndims=1, context=tf.constant(c)), [c], rtol=1e-6
        )
    assert sorted({float(c) for c in seen}) == [1.0, 2.0]

    dist = tfd.TransformedDistribution(std_normal([4]), bij)
    lp = [dist.log_prob(x, bijector_kwargs=dict(context=tf.constant(c))).numpy()[0]
          for c in (0.0, 1.0, 2.0)]
    for c, got in zip((0.0, 1.0, 2.0), lp):
        z = np.concatenate([[1.0, 2.0], (np.array([3.0, 4.0]) - c) * np.exp(-0.5 * c)])
        want = -0.5 * np.sum(z ** 2) - 2 * np.log(2 * np.pi) - c
        assert got == pytest.approx(want, rel=1e-5)
    assert len(set(np.round(lp, 4))) == 3


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_affine_log_scale_is_soft_clipped(sign):
    def huge(x_b):
        out = tf.ones(tf.concat([tf.shape(x_b)[:-1], [4]], 0))
        out = out * (1.0 + 0.01 * tf.reduce_sum(x_b, -1, keepdims=True) ** 2)
        return 0.0 * out, sign * 1e4 * out

    bound = 3.0
    bij = fb.Coupling(huge, transform=fb.Affine(log_scale_bound=bound), num_masked=2)
    x = tf.constant(np.random.default_rng(0).normal(size=(5, 6)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = bij.forward(x)
        fldj = bij.forward_log_det_jacobian(x, event_ndims=1)
        total = tf.reduce_sum(y) + tf.reduce_sum(fldj)
    grad = tape.gradient(total, x)
    x_back = bij.inverse(tf.identity(y))
    for value in (y, fldj, grad, x_back):
        assert np.all(np.isfinite(value.numpy()))
    assert np.all(np.abs(fldj.numpy()) <= bound * 4 + 1e-4)  # 4 transformed entries
    np.testing.assert_allclose(fldj.numpy(), sign * bound * 4, rtol=1e-6)
    np.testing.assert_allclose(y.numpy()[:, 2:], x.numpy()[:, 2:] * np.exp(sign * bound),
                               rtol=1e-5)
    np.testing.assert_allclose(x_back.numpy(), x.numpy(), rtol=1e-4, atol=1e-5)


def test_default_transform_is_affine_bounded_at_five():
    raw = lambda x_b: (tf.zeros_like(x_b), 4.0 * tf.ones_like(x_b))  # noqa: E731
    x = tf.constant([[0.5, -1.0, 2.0, 1.0]], tf.float64)
    unbounded = fb.Coupling(raw, transform=fb.Affine(log_scale_bound=None))
    default = fb.Coupling(raw)
    assert default.transform == fb.Affine(log_scale_bound=5.0)
    np.testing.assert_allclose(unbounded.forward_log_det_jacobian(x, 1), [8.0])
    np.testing.assert_allclose(unbounded.forward(x).numpy()[0, 2:], [2.0 * np.exp(4), np.exp(4)])
    np.testing.assert_allclose(default.forward_log_det_jacobian(x, 1), [10 * np.tanh(0.8)])


@pytest.mark.parametrize("name,kind", [("affine", fb.Affine), ("additive", fb.Additive),
                                       ("rational_quadratic", fb.RationalQuadratic)])
def test_transform_by_name(name, kind):
    bij = fb.Coupling(lambda x_b: None, transform=name)
    assert isinstance(bij.transform, kind) and bij.transform == kind()
    assert bij.is_constant_jacobian == (name == "additive")


def test_tuple_and_stacked_conditioners_agree():
    x = tf.constant(np.random.default_rng(1).normal(size=(3, 5)))
    stacked = fb.Coupling(RandomNet(2, 3, seed=3, stacked=True), num_masked=2)
    as_tuple = fb.Coupling(RandomNet(2, 3, seed=3, stacked=False), num_masked=2)
    for fn in (lambda b: b.forward(x), lambda b: b.inverse(x),
               lambda b: b.forward_log_det_jacobian(x, 1),
               lambda b: b.inverse_log_det_jacobian(x, 1)):
        np.testing.assert_allclose(fn(stacked), fn(as_tuple), rtol=1e-12)
    assert not np.allclose(stacked.forward_log_det_jacobian(x, 1), 0.0)


def test_additive_coupling_has_zero_log_det_and_takes_a_plain_tensor():
    """NICE: the conditioner returns the shift, with or without a trailing axis of 1."""
    x = tf.constant(np.random.default_rng(2).normal(size=(4, 5)))
    shift_net = lambda x_b: tf.concat([x_b, x_b[..., :1]], -1) ** 2 + 1.0  # noqa: E731
    bij = fb.Coupling(shift_net, transform="additive", num_masked=2)
    assert bij.is_constant_jacobian
    y = bij.forward(x).numpy()
    xb = x.numpy()[:, :2]
    shift = np.concatenate([xb, xb[:, :1]], -1) ** 2 + 1.0
    np.testing.assert_allclose(y[:, :2], xb)
    np.testing.assert_allclose(y[:, 2:], x.numpy()[:, 2:] + shift)
    np.testing.assert_array_equal(bij.forward_log_det_jacobian(x, 1).numpy(), np.zeros(4))
    np.testing.assert_array_equal(bij.inverse_log_det_jacobian(x, 1).numpy(), np.zeros(4))
    np.testing.assert_allclose(bij.inverse(tf.constant(y)).numpy(), x.numpy(), atol=1e-12)
    with_axis = fb.Coupling(lambda x_b: shift_net(x_b)[..., None], transform=fb.Additive(),
                            num_masked=2)
    np.testing.assert_allclose(with_axis.forward(x).numpy(), y)


def test_spline_coupling_is_the_identity_at_zero_parameters_and_moves_only_its_part():
    spline = fb.RationalQuadratic(num_bins=5, bound=2.0)
    x = tf.constant(np.random.default_rng(3).normal(size=(6, 5)))
    zero = fb.Coupling(lambda x_b: tf.zeros(tf.concat([tf.shape(x_b)[:-1], [3, 14]], 0),
                                            x_b.dtype), transform=spline, num_masked=2)
    np.testing.assert_allclose(zero.forward(x), x, atol=1e-12)
    np.testing.assert_allclose(zero.forward_log_det_jacobian(x, 1), 0.0, atol=1e-12)
    net = RandomNet(2, 3, seed=4, num_params=spline.num_params)
    bij = fb.Coupling(net, transform=spline, num_masked=2)
    y = bij.forward(x).numpy()
    np.testing.assert_array_equal(y[:, :2], x.numpy()[:, :2])
    inside = np.abs(x.numpy()[:, 2:]) < 2.0
    moved = np.abs(y[:, 2:] - x.numpy()[:, 2:]) > 1e-9
    np.testing.assert_array_equal(moved, inside)  # the identity outside [-2, 2]
    np.testing.assert_allclose(bij.inverse(tf.identity(bij.forward(x))), x, atol=1e-10)
    # the log-det is the spline's, summed over the transformed entries
    params = net(x[:, :2])
    _, ldj = spline.forward(x[:, 2:], params)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 1), tf.reduce_sum(ldj, -1),
                               rtol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_reverse_mask_transforms_the_complementary_entries(reverse):
    net = RandomNet(2, 3, seed=4)
    bij = fb.Coupling(net, num_masked=2, reverse_mask=reverse)
    x = tf.constant(np.random.default_rng(3).normal(size=(6, 5)))
    y = bij.forward(x).numpy()
    cond = slice(3, 5) if reverse else slice(0, 2)
    rest = slice(0, 3) if reverse else slice(2, 5)
    np.testing.assert_array_equal(y[:, cond], x.numpy()[:, cond])
    assert np.all(np.abs(y[:, rest] - x.numpy()[:, rest]) > 1e-6)
    np.testing.assert_array_equal(net.inputs[-1].numpy(), x.numpy()[:, cond])
    # two layers with alternating masks together change every entry
    both = tfb.Chain([fb.Coupling(RandomNet(3, 2, seed=5), num_masked=3,
                                  reverse_mask=not reverse), bij])
    assert np.all(np.abs(both.forward(x).numpy() - x.numpy()) > 1e-6)


@pytest.mark.parametrize("transform", ["affine", "additive"])
@pytest.mark.parametrize("make_mask", [fb.checkerboard_mask, fb.channel_mask])
@pytest.mark.parametrize("reverse", [False, True])
def test_image_masks_transform_only_the_zero_entries(make_mask, reverse, transform):
    shape = (4, 4, 2)
    mask = make_mask(shape, reverse=reverse)
    seen = []

    def conditioner(x_masked):
        seen.append(x_masked)
        if transform == "additive":
            return tf.ones_like(x_masked) + x_masked
        return tf.ones_like(x_masked), 0.5 * tf.ones_like(x_masked) + x_masked

    bij = fb.Coupling(conditioner, transform=transform, mask=mask)
    assert bij.forward_min_event_ndims == 3
    np.testing.assert_array_equal(bij.mask, mask)
    x = tf.constant(np.random.default_rng(4).normal(size=(3,) + shape) + 3.0, tf.float32)
    y = bij.forward(x).numpy()
    keep = mask.astype(bool)
    np.testing.assert_array_equal(y[:, keep], x.numpy()[:, keep])
    assert np.all(np.abs(y[:, ~keep] - x.numpy()[:, ~keep]) > 1e-3)
    np.testing.assert_array_equal(seen[-1].numpy(), x.numpy() * mask)
    # x*mask is 0 on the transformed entries: log-scale 0.5 there, soft-clipped at 5
    expected_ldj = (~keep).sum() * 5.0 * np.tanh(0.5 / 5.0) if transform == "affine" else 0.0
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 3), [expected_ldj] * 3, rtol=1e-6)
    np.testing.assert_allclose(bij.inverse(tf.identity(y)), x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size,fraction,expected", [(10, 0.3, 3), (7, 0.25, 2), (8, 0.9, 7)])
def test_fraction_masked_picks_rounded_number_of_conditioning_dims(size, fraction, expected):
    assert expected == round(size * fraction)
    net = RandomNet(expected, size - expected, seed=6)
    bij = fb.Coupling(net, fraction_masked=fraction)
    x = tf.constant(np.random.default_rng(5).normal(size=(4, size)))
    y = bij.forward(x).numpy()
    assert net.inputs[-1].shape == (4, expected)
    np.testing.assert_array_equal(y[:, :expected], x.numpy()[:, :expected])
    assert np.all(np.abs(y[:, expected:] - x.numpy()[:, expected:]) > 1e-6)


def test_holds_no_variables_of_its_own():
    """Weights live in the conditioner; the bijector creates none."""
    assert fb.Coupling(RandomNet(2, 2)).variables == ()
    assert fb.Coupling(RandomNet(2, 2), transform="rational_quadratic").variables == ()


class DenseCoupling(keras.layers.Layer):
    """A tiny Keras 3 conditioner ``[..., d] -> [..., n, num_params]``."""

    def __init__(self, n, num_params=2, **kwargs):
        super().__init__(**kwargs)
        self.n, self.num_params = n, num_params
        self.hidden = keras.layers.Dense(8, activation="tanh")
        self.out = keras.layers.Dense(num_params * n, kernel_initializer="glorot_normal")

    def call(self, x):
        out = self.out(self.hidden(x))
        return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [self.n, self.num_params]], 0))


@pytest.mark.parametrize("transform", [fb.Affine(), fb.RationalQuadratic(4, 3.0)],
                         ids=["affine", "spline"])
def test_keras_layer_conditioner_gets_gradients(transform):
    keras.utils.set_random_seed(0)
    layer = DenseCoupling(2, transform.num_params)
    bij = fb.Coupling(layer, transform=transform, num_masked=2)
    dist = tfd.TransformedDistribution(std_normal([4]), bij)
    x = tf.constant(np.random.default_rng(6).normal(size=(16, 4)), tf.float32)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(x))
    weights = layer.trainable_variables
    assert len(weights) == 4
    grads = tape.gradient(loss, weights)
    for w, g in zip(weights, grads):
        assert g is not None, w.path
        assert np.all(np.isfinite(g.numpy())) and np.any(g.numpy() != 0), w.path
    # the same layer gives the same result inside tf.function
    np.testing.assert_allclose(tf.function(dist.log_prob)(x), dist.log_prob(x), rtol=1e-5)
