"""Behaviour of each bijector beyond the generic registry checks: training, parameter
handling, masks, conditioning, initialisation and the fused transform-and-log-det helpers."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import bijectors as fb
from tfp_flows.bijectors.prelu import MIN_SLOPE

tfb = tfp.bijectors
tfd = tfp.distributions


def _std_normal(event_shape, dtype=tf.float32):
    return tfd.Sample(tfd.Normal(tf.constant(0.0, dtype), tf.constant(1.0, dtype)), event_shape)


class RandomNet:
    """Fixed random map ``x_b [..., d] -> [..., n, 2]`` (shift, log-scale); counts its calls."""

    def __init__(self, d, n, seed=0, dtype=tf.float64, stacked=True):
        rng = np.random.default_rng(seed)
        self.w = tf.constant(rng.normal(size=(d, 2 * n)) * 0.5, dtype)
        self.n, self.stacked, self.calls, self.inputs = n, stacked, 0, []

    def __call__(self, x_b):
        self.calls += 1
        self.inputs.append(x_b)
        out = tf.tanh(tf.linalg.matvec(self.w, x_b, transpose_a=True))
        out = tf.reshape(out, tf.concat([tf.shape(x_b)[:-1], [self.n, 2]], 0))
        return out if self.stacked else (out[..., 0], out[..., 1])


# --------------------------------------------------------------------------- PReLU
@pytest.mark.parametrize("alpha", [0.7, [0.4, 1.0, 2.5]], ids=["scalar", "per_dim"])
def test_prelu_slope_stays_positive_under_a_hard_push_toward_zero(alpha):
    bij = fb.PReLU(alpha=alpha)
    assert len(bij.trainable_variables) == 1
    opt = keras.optimizers.Adam(learning_rate=5.0)
    x = tf.constant([[-1.0, -2.0, -3.0]])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            # maximise -log(alpha): the likelihood of data that wants the slope at 0
            loss = tf.reduce_sum(tf.math.log(tf.convert_to_tensor(bij.alpha)))
        grads = tape.gradient(loss, bij.trainable_variables)
        opt.apply_gradients(zip(grads, bij.trainable_variables))
        return loss

    first = float(step())
    for _ in range(1999):
        last = step()
    assert float(last) < first - 5.0  # the push did move the slope a long way down
    value = tf.convert_to_tensor(bij.alpha).numpy()
    assert np.all(value > 0) and np.all(np.isfinite(np.log(value)))
    # ... and at the extreme: a raw parameter at -1e30 still gives alpha = MIN_SLOPE
    raw = bij.trainable_variables[0]
    raw.assign(tf.fill(raw.shape, -1e30))
    value = tf.convert_to_tensor(bij.alpha).numpy()
    np.testing.assert_allclose(value, MIN_SLOPE, rtol=1e-6)
    fldj = bij.forward_log_det_jacobian(x, event_ndims=1).numpy()
    np.testing.assert_allclose(fldj, 3 * np.log(MIN_SLOPE), rtol=1e-5)
    np.testing.assert_allclose(bij.inverse(x).numpy(), x.numpy() / MIN_SLOPE, rtol=1e-5)


def test_prelu_trainable_variables_hold_exactly_the_slope():
    bij = fb.PReLU(alpha=[0.2, 0.9])
    (var,) = bij.trainable_variables
    assert var.shape == (2,)
    # the variable is the slope's raw value: moving it moves alpha, and only alpha
    before = tf.convert_to_tensor(bij.alpha).numpy()
    var.assign_add([1.0, 0.0])
    after = tf.convert_to_tensor(bij.alpha).numpy()
    assert after[0] > before[0] + 0.2 and after[1] == pytest.approx(before[1])
    np.testing.assert_allclose(after, MIN_SLOPE + np.log1p(np.exp(var.numpy())), rtol=1e-6)
    assert fb.PReLU(alpha=[0.2, 0.9], trainable=False).trainable_variables == ()
    assert fb.PReLU(alpha=0.3, trainable=False).variables == ()
    assert fb.PReLU(alpha=tf.constant(0.3)).trainable_variables == ()


def test_prelu_maximum_likelihood_recovers_the_slope():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 1)).astype(np.float32)
    y = fb.PReLU(alpha=0.3, trainable=False).forward(z)
    bij = fb.PReLU(alpha=1.0)
    dist = tfd.TransformedDistribution(tfd.Normal(0.0, 1.0), bij)
    opt = keras.optimizers.Adam(learning_rate=0.05)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(y))
        grads = tape.gradient(loss, bij.trainable_variables)
        opt.apply_gradients(zip(grads, bij.trainable_variables))

    for _ in range(400):
        step()
    alpha = float(tf.convert_to_tensor(bij.alpha))
    assert abs(alpha - 0.3) < 0.05
    # the closed-form maximum-likelihood slope: sqrt(mean(y^2 over y < 0))
    y_neg = y.numpy()[y.numpy() < 0]
    assert alpha == pytest.approx(np.sqrt(np.mean(y_neg ** 2)), abs=5e-3)


# ------------------------------------------------------------------ AffineCoupling
def test_coupling_passes_conditioning_kwargs_to_the_conditioner():
    seen = []

    def conditioner(x_b, context):
        seen.append(context)
        shift = tf.zeros_like(x_b) + context
        return shift, 0.5 * context * tf.ones_like(x_b)

    bij = fb.AffineCoupling(conditioner, log_scale_bound=None)
    x = tf.constant([[1.0, 2.0, 3.0, 4.0]])
    for c in (1.0, 2.0):
        y = bij.forward(x, context=tf.constant(c))
        expected = np.concatenate([[1.0, 2.0], np.array([3.0, 4.0]) * np.exp(0.5 * c) + c])
        np.testing.assert_allclose(y.numpy()[0], expected, rtol=1e-6)
        np.testing.assert_allclose(
            bij.forward_log_det_jacobian(x, event_ndims=1, context=tf.constant(c)), [c], rtol=1e-6
        )
    assert sorted({float(c) for c in seen}) == [1.0, 2.0]

    dist = tfd.TransformedDistribution(_std_normal([4]), bij)
    lp = [dist.log_prob(x, bijector_kwargs=dict(context=tf.constant(c))).numpy()[0]
          for c in (0.0, 1.0, 2.0)]
    for c, got in zip((0.0, 1.0, 2.0), lp):
        z = np.concatenate([[1.0, 2.0], (np.array([3.0, 4.0]) - c) * np.exp(-0.5 * c)])
        want = -0.5 * np.sum(z ** 2) - 2 * np.log(2 * np.pi) - c
        assert got == pytest.approx(want, rel=1e-5)
    assert len(set(np.round(lp, 4))) == 3


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_coupling_log_scale_is_soft_clipped(sign):
    def huge(x_b):
        out = tf.ones(tf.concat([tf.shape(x_b)[:-1], [4]], 0))
        out = out * (1.0 + 0.01 * tf.reduce_sum(x_b, -1, keepdims=True) ** 2)
        return 0.0 * out, sign * 1e4 * out

    bound = 3.0
    bij = fb.AffineCoupling(huge, num_masked=2, log_scale_bound=bound)  # 4 transformed
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


def test_coupling_without_bound_uses_the_raw_log_scale():
    raw = lambda x_b: (tf.zeros_like(x_b), 4.0 * tf.ones_like(x_b))  # noqa: E731
    x = tf.constant([[0.5, -1.0, 2.0, 1.0]], tf.float64)
    unbounded = fb.AffineCoupling(raw, log_scale_bound=None)
    bounded = fb.AffineCoupling(raw, log_scale_bound=5.0)
    np.testing.assert_allclose(unbounded.forward_log_det_jacobian(x, 1), [8.0])
    np.testing.assert_allclose(unbounded.forward(x).numpy()[0, 2:], [2.0 * np.exp(4), np.exp(4)])
    np.testing.assert_allclose(bounded.forward_log_det_jacobian(x, 1), [10 * np.tanh(0.8)])
    np.testing.assert_allclose(fb.soft_clip_log_scale(tf.constant(4.0), None), 4.0)


def test_tuple_and_stacked_conditioners_agree():
    x = tf.constant(np.random.default_rng(1).normal(size=(3, 5)))
    stacked = fb.AffineCoupling(RandomNet(2, 3, seed=3, stacked=True), num_masked=2)
    as_tuple = fb.AffineCoupling(RandomNet(2, 3, seed=3, stacked=False), num_masked=2)
    for fn in (lambda b: b.forward(x), lambda b: b.inverse(x),
               lambda b: b.forward_log_det_jacobian(x, 1),
               lambda b: b.inverse_log_det_jacobian(x, 1)):
        np.testing.assert_allclose(fn(stacked), fn(as_tuple), rtol=1e-12)
    assert not np.allclose(stacked.forward_log_det_jacobian(x, 1), 0.0)


def test_shift_only_coupling_has_zero_log_det_and_takes_a_plain_tensor():
    x = tf.constant(np.random.default_rng(2).normal(size=(4, 5)))
    shift_net = lambda x_b: tf.concat([x_b, x_b[..., :1]], -1) ** 2 + 1.0  # noqa: E731
    bij = fb.AffineCoupling(shift_net, num_masked=2, shift_only=True)
    assert bij.is_constant_jacobian
    y = bij.forward(x).numpy()
    xb = x.numpy()[:, :2]
    shift = np.concatenate([xb, xb[:, :1]], -1) ** 2 + 1.0
    np.testing.assert_allclose(y[:, :2], xb)
    np.testing.assert_allclose(y[:, 2:], x.numpy()[:, 2:] + shift)
    np.testing.assert_array_equal(bij.forward_log_det_jacobian(x, 1).numpy(), np.zeros(4))
    np.testing.assert_array_equal(bij.inverse_log_det_jacobian(x, 1).numpy(), np.zeros(4))
    np.testing.assert_allclose(bij.inverse(tf.constant(y)).numpy(), x.numpy(), atol=1e-12)
    # a trailing axis of size 1 is accepted as the shift too
    with_axis = fb.AffineCoupling(lambda x_b: shift_net(x_b)[..., None], num_masked=2,
                                  shift_only=True)
    np.testing.assert_allclose(with_axis.forward(x).numpy(), y)


@pytest.mark.parametrize("reverse", [False, True])
def test_reverse_mask_transforms_the_complementary_entries(reverse):
    net = RandomNet(2, 3, seed=4)
    bij = fb.AffineCoupling(net, num_masked=2, reverse_mask=reverse)
    x = tf.constant(np.random.default_rng(3).normal(size=(6, 5)))
    y = bij.forward(x).numpy()
    cond = slice(3, 5) if reverse else slice(0, 2)
    rest = slice(0, 3) if reverse else slice(2, 5)
    np.testing.assert_array_equal(y[:, cond], x.numpy()[:, cond])
    assert np.all(np.abs(y[:, rest] - x.numpy()[:, rest]) > 1e-6)
    np.testing.assert_array_equal(net.inputs[-1].numpy(), x.numpy()[:, cond])
    # two layers with alternating masks together change every entry
    both = tfb.Chain([fb.AffineCoupling(RandomNet(3, 2, seed=5), num_masked=3,
                                        reverse_mask=not reverse), bij])
    assert np.all(np.abs(both.forward(x).numpy() - x.numpy()) > 1e-6)


@pytest.mark.parametrize("make_mask", [fb.checkerboard_mask, fb.channel_mask])
@pytest.mark.parametrize("reverse", [False, True])
def test_image_masks_transform_only_the_zero_entries(make_mask, reverse):
    shape = (4, 4, 2)
    mask = make_mask(shape, reverse=reverse)
    seen = []

    def conditioner(x_masked):
        seen.append(x_masked)
        return tf.ones_like(x_masked), 0.5 * tf.ones_like(x_masked) + x_masked

    bij = fb.AffineCoupling(conditioner, mask=mask)
    x = tf.constant(np.random.default_rng(4).normal(size=(3,) + shape) + 3.0, tf.float32)
    y = bij.forward(x).numpy()
    keep = mask.astype(bool)
    np.testing.assert_array_equal(y[:, keep], x.numpy()[:, keep])
    assert np.all(np.abs(y[:, ~keep] - x.numpy()[:, ~keep]) > 1e-3)
    np.testing.assert_array_equal(seen[-1].numpy(), x.numpy() * mask)
    # x*mask is 0 on the transformed entries: log-scale 0.5 there, soft-clipped at 5
    expected_ldj = (~keep).sum() * 5.0 * np.tanh(0.5 / 5.0)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 3), [expected_ldj] * 3, rtol=1e-6)


@pytest.mark.parametrize("size,fraction,expected", [(10, 0.3, 3), (7, 0.25, 2), (8, 0.9, 7)])
def test_fraction_masked_picks_rounded_number_of_conditioning_dims(size, fraction, expected):
    assert expected == round(size * fraction)
    net = RandomNet(expected, size - expected, seed=6)
    bij = fb.AffineCoupling(net, fraction_masked=fraction)
    x = tf.constant(np.random.default_rng(5).normal(size=(4, size)))
    y = bij.forward(x).numpy()
    assert net.inputs[-1].shape == (4, expected)
    np.testing.assert_array_equal(y[:, :expected], x.numpy()[:, :expected])
    assert np.all(np.abs(y[:, expected:] - x.numpy()[:, expected:]) > 1e-6)


class DenseCoupling(keras.layers.Layer):
    """A tiny Keras 3 conditioner ``[..., d] -> [..., n, 2]``."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = n
        self.hidden = keras.layers.Dense(8, activation="tanh")
        self.out = keras.layers.Dense(2 * n, kernel_initializer="glorot_normal")

    def call(self, x):
        out = self.out(self.hidden(x))
        return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [self.n, 2]], 0))


def test_keras_layer_conditioner_gets_gradients():
    keras.utils.set_random_seed(0)
    layer = DenseCoupling(2)
    bij = fb.AffineCoupling(layer, num_masked=2)
    dist = tfd.TransformedDistribution(_std_normal([4]), bij)
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


# --------------------------------------------------------------------------- Logit
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
@pytest.mark.parametrize("max_value", [256.0, 1.0])
def test_logit_is_finite_at_the_exact_edges(dtype, max_value):
    bij = fb.Logit(max_value=max_value, alpha=0.05)
    x = tf.constant([0.0, max_value], dtype)
    y = bij.forward(x)
    logit = np.log(0.05 / 0.95)
    np.testing.assert_allclose(y.numpy(), [logit, -logit], rtol=1e-5)
    for value in (y, bij.forward_log_det_jacobian(x, 0), bij.inverse_log_det_jacobian(y, 0)):
        assert value.dtype == dtype and np.all(np.isfinite(value.numpy()))
    x_back = bij.inverse(tf.identity(y))
    np.testing.assert_allclose(x_back.numpy(), [0.0, max_value], atol=1e-4 * max_value)
    want = np.log(0.9 / max_value) - np.log(0.05) - np.log(0.95)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 0).numpy(), [want, want], rtol=1e-5)


def test_logit_log_det_matches_finite_differences():
    bij = fb.Logit(max_value=256.0, alpha=0.05)
    x = np.array([0.0, 1e-3, 0.7, 37.0, 128.0, 200.5, 255.9, 256.0])
    h = 1e-4
    fd = (bij.forward(tf.constant(x + h)) - bij.forward(tf.constant(x - h))).numpy() / (2 * h)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(x), 0).numpy(),
                               np.log(fd), rtol=1e-7, atol=1e-7)
    y = bij.forward(tf.constant(x)).numpy()
    fd_inv = (bij.inverse(tf.constant(y + h)) - bij.inverse(tf.constant(y - h))).numpy() / (2 * h)
    np.testing.assert_allclose(bij.inverse_log_det_jacobian(tf.constant(y), 0).numpy(),
                               np.log(fd_inv), rtol=1e-7, atol=1e-7)


def test_logit_with_max_value_one_handles_unit_interval_data():
    unit = fb.Logit(max_value=1.0, alpha=1e-3)
    pixel = fb.Logit(max_value=256.0, alpha=1e-3)
    x = tf.constant(np.linspace(0.0, 1.0, 11))
    np.testing.assert_allclose(unit.forward(x), pixel.forward(256.0 * x), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(unit.forward_log_det_jacobian(x, 1),
                               pixel.forward_log_det_jacobian(256.0 * x, 1) + 11 * np.log(256.0),
                               rtol=1e-9)
    np.testing.assert_allclose(unit.inverse(tf.identity(unit.forward(x))), x, atol=1e-12)


def test_logit_log_det_gives_pixel_space_density_for_bits_per_dim():
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(5, 12))  # 8-bit data
    x = pixels + rng.uniform(size=pixels.shape)  # dequantised, in [0, 256)
    a, k = 0.05, 256.0
    p = a + (1 - 2 * a) * x / k
    by_hand = np.sum(np.log((1 - 2 * a) / k) - np.log(p) - np.log1p(-p), axis=-1)
    bij = fb.Logit(max_value=k, alpha=a)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(x), 1), by_hand, rtol=1e-10)
    # a flow in logit space, as a density on pixels: log p(x) = log N(logit(x)) + log-det
    dist = tfd.TransformedDistribution(_std_normal([12], tf.float64), tfb.Invert(bij))
    y = np.log(p) - np.log1p(-p)
    log_px = -0.5 * np.sum(y ** 2, -1) - 6 * np.log(2 * np.pi) + by_hand
    np.testing.assert_allclose(dist.log_prob(tf.constant(x)), log_px, rtol=1e-10)
    bpd = -log_px / (12 * np.log(2.0))
    assert np.all(bpd > 0) and np.all(bpd < 8.5)
    # in 1-D the pixel-space density integrates to the base mass of [logit(0), logit(K)]
    dist1 = tfd.TransformedDistribution(tfd.Normal(tf.constant(0.0, tf.float64), 1.0),
                                        tfb.Invert(bij))
    grid = np.linspace(0.0, k, 20001)
    mass = np.trapezoid(np.exp(dist1.log_prob(tf.constant(grid)).numpy()), grid)
    edge = np.log((1 - a) / a)
    want = tfd.Normal(0.0, 1.0).cdf(edge) - tfd.Normal(0.0, 1.0).cdf(-edge)
    assert mass == pytest.approx(float(want), rel=1e-6)


# -------------------------------------------------------------------------- ActNorm
def _data(shape, seed=8):
    rng = np.random.default_rng(seed)
    loc = rng.normal(size=shape[-1]) * 5
    scale = np.exp(rng.normal(size=shape[-1]))
    return tf.constant(rng.normal(size=shape) * scale + loc, tf.float32)


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf_function"])
def test_actnorm_data_init_from_the_first_inverted_batch_only(graph):
    bij = fb.ActNorm(num_features=3)
    first, second = _data((500, 3)), _data((500, 3), seed=9)
    inverse = tf.function(bij.inverse) if graph else bij.inverse
    z = inverse(first).numpy()
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-3)
    np.testing.assert_allclose(bij.loc.numpy(), first.numpy().mean(0), rtol=1e-5)
    loc, log_scale = bij.loc.numpy(), bij.log_scale.numpy()
    z2 = inverse(second).numpy()
    np.testing.assert_array_equal(bij.loc.numpy(), loc)
    np.testing.assert_array_equal(bij.log_scale.numpy(), log_scale)
    np.testing.assert_allclose(z2, (second.numpy() - loc) * np.exp(-log_scale), rtol=1e-5,
                               atol=1e-5)
    assert np.max(np.abs(z2.mean(0))) > 0.1  # the second batch was not standardised


def test_actnorm_inits_on_the_first_log_prob_in_tf_function():
    bij = fb.ActNorm(num_features=3)
    data = _data((400, 3))
    dist = tfd.TransformedDistribution(_std_normal([3]), bij)
    lp = tf.function(dist.log_prob)(data).numpy()
    z = (data.numpy() - data.numpy().mean(0)) / data.numpy().std(0)
    want = -0.5 * np.sum(z ** 2, -1) - 1.5 * np.log(2 * np.pi) - np.sum(np.log(data.numpy().std(0)))
    np.testing.assert_allclose(lp, want, rtol=1e-4, atol=1e-4)


def test_actnorm_image_init_is_per_channel_and_log_det_scales_with_pixels():
    bij = fb.ActNorm(num_features=3, event_ndims=3)
    data = _data((8, 4, 5, 3))
    z = bij.inverse(data).numpy()
    np.testing.assert_allclose(z.mean((0, 1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std((0, 1, 2)), 1.0, atol=1e-3)
    np.testing.assert_allclose(np.exp(bij.log_scale.numpy()), data.numpy().std((0, 1, 2)),
                               rtol=1e-4)
    fldj = bij.forward_log_det_jacobian(z, event_ndims=3).numpy()
    np.testing.assert_allclose(fldj, [4 * 5 * bij.log_scale.numpy().sum()] * 8, rtol=1e-5)
    ildj = bij.inverse_log_det_jacobian(data, event_ndims=3).numpy()
    np.testing.assert_allclose(ildj, -fldj, rtol=1e-5)


def test_actnorm_initialize_on_given_variables():
    loc, log_scale = tf.Variable(tf.zeros([2])), tf.Variable(tf.zeros([2]))
    bij = fb.ActNorm(loc=loc, log_scale=log_scale)
    data = _data((300, 2))
    np.testing.assert_array_equal(bij.inverse(data), data)  # no automatic init here
    bij.initialize(data)
    np.testing.assert_allclose(loc.numpy(), data.numpy().mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.exp(log_scale.numpy()), data.numpy().std(0), rtol=1e-4)
    z = bij.inverse(tf.identity(data)).numpy()
    np.testing.assert_allclose(z.std(0), 1.0, atol=1e-3)
    assert set(map(id, bij.trainable_variables)) == {id(loc), id(log_scale)}


# ------------------------------------------------------------------ InvertibleLinear
def _numpy_matrix(bij):
    size = len(bij.permutation)
    lower = np.tril(bij._lower.numpy(), -1) + np.eye(size)
    upper = np.triu(bij._upper.numpy(), 1) + np.diag(np.exp(bij._log_diag.numpy()))
    perm = np.zeros((size, size))
    perm[np.arange(size), bij.permutation] = 1.0
    return perm @ lower @ upper


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invertible_linear_starts_orthogonal(seed):
    bij = fb.InvertibleLinear(event_size=5, seed=seed, dtype=tf.float64)
    w = bij.matrix().numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(5), atol=1e-12)
    np.testing.assert_allclose(w, _numpy_matrix(bij), atol=1e-12)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.ones([2, 5], tf.float64), 1),
                               [0.0, 0.0], atol=1e-12)
    assert not np.allclose(w, np.eye(5))  # a real rotation, not the identity


def test_invertible_linear_matrix_is_plu_and_inverse_exact_after_random_assignment():
    bij = fb.InvertibleLinear(event_size=4, seed=3, dtype=tf.float64)
    rng = np.random.default_rng(10)
    upper = rng.normal(size=(4, 4))
    np.fill_diagonal(upper, -5.0)  # the diagonal of ``upper`` is not used
    bij._upper.assign(upper)
    bij._lower.assign(rng.normal(size=(4, 4)))
    bij._log_diag.assign(rng.normal(size=4))
    w = bij.matrix().numpy()
    np.testing.assert_allclose(w, _numpy_matrix(bij), rtol=1e-12)
    _, u = bij._factors()
    assert np.all(np.diag(u.numpy()) > 0)
    np.testing.assert_allclose(np.diag(u.numpy()), np.exp(bij._log_diag.numpy()), rtol=1e-12)
    x = rng.normal(size=(6, 4))
    y = bij.forward(tf.constant(x)).numpy()
    np.testing.assert_allclose(y, x @ w.T, rtol=1e-12)
    np.testing.assert_allclose(bij.inverse(tf.constant(y)).numpy(), x, atol=1e-10)
    np.testing.assert_allclose(bij.inverse(tf.constant(x)).numpy(), np.linalg.solve(w, x.T).T,
                               atol=1e-10)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(x), 1).numpy(),
                               np.linalg.slogdet(w)[1], rtol=1e-10)


def test_invertible_linear_gradients_reach_every_factor():
    bij = fb.InvertibleLinear(event_size=3, seed=4)
    dist = tfd.TransformedDistribution(_std_normal([3]), bij)
    x = tf.constant(np.random.default_rng(11).normal(size=(32, 3)) * [1.0, 2.0, 0.5], tf.float32)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(x))
    variables = [bij._lower, bij._upper, bij._log_diag]
    assert {id(v) for v in bij.trainable_variables} == {id(v) for v in variables}
    g_lower, g_upper, g_log_diag = [g.numpy() for g in tape.gradient(loss, variables)]
    assert np.all(np.tril(g_lower, -1)[np.tril_indices(3, -1)] != 0)
    assert np.all(np.triu(g_upper, 1)[np.triu_indices(3, 1)] != 0)
    assert np.all(g_log_diag != 0)
    # entries that the parametrisation ignores get no gradient
    np.testing.assert_array_equal(np.triu(g_lower), 0.0)
    np.testing.assert_array_equal(np.tril(g_upper), 0.0)


def test_invertible_linear_image_applies_the_matrix_per_pixel():
    bij = fb.InvertibleLinear(event_size=3, seed=5, event_ndims=3, dtype=tf.float64)
    bij._log_diag.assign([0.3, -0.1, 0.5])
    x = np.random.default_rng(12).normal(size=(2, 4, 5, 3))
    w = bij.matrix().numpy()
    y = bij.forward(tf.constant(x)).numpy()
    np.testing.assert_allclose(y, np.einsum("ij,bhwj->bhwi", w, x), rtol=1e-12)
    np.testing.assert_allclose(bij.inverse(tf.constant(y)).numpy(), x, atol=1e-10)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(x), 3).numpy(),
                               [20 * 0.7, 20 * 0.7], rtol=1e-10)


# ------------------------------------------------------------------------- fused
def _tfp_pair(bijector, value, event_ndims, direction, **kwargs):
    value = tf.identity(value)
    if direction == "inverse":
        return (bijector.inverse(value, **kwargs),
                bijector.inverse_log_det_jacobian(tf.identity(value), event_ndims, **kwargs))
    return (bijector.forward(value, **kwargs),
            bijector.forward_log_det_jacobian(tf.identity(value), event_ndims, **kwargs))


def _fused(bijector, value, event_ndims, direction, **kwargs):
    fn = fb.inverse_and_log_det if direction == "inverse" else fb.forward_and_log_det
    return fn(bijector, tf.identity(value), event_ndims, **kwargs)


def _fused_cases():
    f64 = tf.float64
    rng = np.random.default_rng(13)
    act = fb.ActNorm(num_features=4, data_init=False, dtype=f64)
    act.log_scale.assign(rng.normal(size=4))
    act.loc.assign(rng.normal(size=4))
    lin = fb.InvertibleLinear(event_size=4, seed=6, dtype=f64)
    lin._log_diag.assign(rng.normal(size=4))
    chain = tfb.Chain([fb.AffineCoupling(RandomNet(2, 2, seed=7)), tfb.Permute([3, 1, 2, 0]),
                       fb.PReLU(alpha=[0.3, 0.5, 2.0, 1.5], dtype=f64),
                       tfb.Shift(tf.constant(0.5, f64))])
    return {
        # (bijector, event_ndims, input shape)
        "chain": (chain, 1, (3, 4)),
        "chain_event2": (chain, 2, (3, 4)),
        "stock_scale": (tfb.Scale(tf.constant([0.5, 2.0, 3.0, 1.5], f64)), 1, (3, 4)),
        "stock_softplus": (tfb.Softplus(), 2, (3, 4)),
        "stock_exp": (tfb.Exp(), 0, (3, 4)),
        "prelu_event2": (fb.PReLU(alpha=[0.3, 0.5, 2.0, 1.5], dtype=f64), 2, (2, 3, 4)),
        "logit_event1": (fb.Logit(), 1, (3, 4)),
        "coupling_event2": (fb.AffineCoupling(RandomNet(2, 2, seed=8)), 2, (2, 3, 4)),
        "actnorm_event2": (act, 2, (2, 3, 4)),
        "invertible_linear_event2": (lin, 2, (2, 3, 4)),
        "invert_coupling_event2": (tfb.Invert(fb.AffineCoupling(RandomNet(2, 2, seed=9))), 2,
                                   (2, 3, 4)),
        "invert_logit_event1": (tfb.Invert(fb.Logit(max_value=1.0)), 1, (3, 4)),
    }


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_fused_helpers_agree_with_tfp(direction):
    rng = np.random.default_rng(14)
    for name, (bij, event_ndims, shape) in _fused_cases().items():
        value = rng.normal(size=shape)
        if isinstance(bij, fb.Logit) and direction == "forward":
            value = rng.uniform(0.0, 256.0, size=shape)
        if isinstance(bij, tfb.Invert) and isinstance(bij.bijector, fb.Logit):
            value = rng.uniform(0.0, 1.0, size=shape) if direction == "inverse" else value
        value = tf.constant(value, tf.float64)
        out, ldj = _fused(bij, value, event_ndims, direction)
        want_out, want_ldj = _tfp_pair(bij, value, event_ndims, direction)
        np.testing.assert_allclose(out, want_out, rtol=1e-10, atol=1e-12, err_msg=name)
        batch_shape = shape[:len(shape) - event_ndims]
        if name.startswith("stock"):  # TFP may give a constant log-det unbroadcast
            ldj = tf.broadcast_to(ldj, batch_shape)
        assert ldj.shape == batch_shape, name
        np.testing.assert_allclose(ldj, tf.broadcast_to(want_ldj, batch_shape), rtol=1e-10,
                                   atol=1e-12, err_msg=name)


def test_fused_helpers_call_the_conditioner_once_and_pass_kwargs():
    calls = []

    def conditioner(x_b, context):
        calls.append(context)
        return x_b * context, tf.sin(x_b) * context

    bij = fb.AffineCoupling(conditioner)
    y = tf.constant(np.random.default_rng(15).normal(size=(3, 4)))
    c = tf.constant(1.5, tf.float64)
    x, ildj = fb.inverse_and_log_det(bij, y, 1, context=c)
    assert len(calls) == 1
    want_x, want_ildj = _tfp_pair(bij, y, 1, "inverse", context=c)
    np.testing.assert_allclose(x, want_x, rtol=1e-12)
    np.testing.assert_allclose(ildj, want_ildj, rtol=1e-12)
    other_x, _ = fb.inverse_and_log_det(bij, y, 1, context=tf.constant(0.5, tf.float64))
    assert not np.allclose(other_x, x)


def test_fused_path_is_taken_for_invert_of_a_package_bijector():
    """tfb.Invert of a non-composite bijector is TFP's private _Invert class; the fused
    helpers must still see through it (one sequential pass, not two)."""
    import tensorflow_probability as tfp

    from tfp_flows.bijectors import MaskedAutoregressive, inverse_and_log_det

    calls = []

    def conditioner(y):
        calls.append(1)
        shift = tf.concat([tf.zeros_like(y[..., :1]), y[..., :-1]], axis=-1)
        return tf.stack([shift, 0.1 * shift], axis=-1)

    iaf = tfp.bijectors.Invert(MaskedAutoregressive(conditioner))
    assert not isinstance(iaf, tfp.bijectors.Invert)  # the TFP quirk this guards against
    y = tf.constant([[0.5, -1.0, 2.0]])
    x, ildj = inverse_and_log_det(iaf, y, event_ndims=1)
    assert len(calls) == 3  # one conditioner call per dimension, nothing more
    np.testing.assert_allclose(x, iaf.inverse(y), rtol=1e-6)
    np.testing.assert_allclose(ildj, iaf.inverse_log_det_jacobian(y, event_ndims=1), rtol=1e-6)
