"""PReLU: a fixed slope from numbers, a learnable one from positive_variable."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import bijectors as fb
from tfp_flows.bijectors.prelu import MIN_SLOPE

tfd = tfp.distributions


@pytest.mark.parametrize("alpha", [0.7, [0.4, 1.0, 2.5]], ids=["scalar", "per_dim"])
def test_learnable_slope_stays_positive_under_a_hard_push_toward_zero(alpha):
    bij = fb.PReLU(fb.positive_variable(alpha))
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


def test_trainable_variables_hold_exactly_the_slope():
    bij = fb.PReLU(fb.positive_variable([0.2, 0.9]))
    (var,) = bij.trainable_variables
    assert var.shape == (2,)
    # the variable is the slope's raw value: moving it moves alpha, and only alpha
    before = tf.convert_to_tensor(bij.alpha).numpy()
    np.testing.assert_allclose(before, [0.2, 0.9], rtol=1e-6)
    var.assign_add([1.0, 0.0])
    after = tf.convert_to_tensor(bij.alpha).numpy()
    assert after[0] > before[0] + 0.2 and after[1] == pytest.approx(before[1])
    np.testing.assert_allclose(after, MIN_SLOPE + np.log1p(np.exp(var.numpy())), rtol=1e-6)
    # ... and the bijector reads it on every call (no snapshot at construction)
    np.testing.assert_allclose(bij.forward(tf.constant([-1.0, -1.0])), -after, rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.3, [0.2, 0.9], np.array([0.2, 0.9]), tf.constant(0.3)],
                         ids=["number", "list", "array", "tensor"])
def test_a_fixed_slope_has_no_variables(alpha):
    bij = fb.PReLU(alpha)
    assert bij.trainable_variables == () and bij.variables == ()


def test_a_plain_variable_slope_is_used_as_given():
    alpha = tf.Variable([0.5, 2.0])
    bij = fb.PReLU(alpha)
    assert [id(v) for v in bij.trainable_variables] == [id(alpha)]
    x = tf.constant([-1.0, -1.0])
    with tf.GradientTape() as tape:
        fldj = bij.forward_log_det_jacobian(x, event_ndims=1)
    np.testing.assert_allclose(tape.gradient(fldj, alpha), [2.0, 0.5], rtol=1e-6)  # 1/alpha
    alpha.assign([0.25, 4.0])
    np.testing.assert_allclose(tf.function(bij.forward)(x), [-0.25, -4.0])


def test_maximum_likelihood_recovers_the_slope():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 1)).astype(np.float32)
    y = fb.PReLU(0.3).forward(z)
    bij = fb.PReLU(fb.positive_variable(1.0))
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


def test_positive_variable_dtype_and_floor():
    alpha = fb.positive_variable([0.5, 2.0], floor=0.1, dtype="float64")
    assert alpha.dtype == tf.float64
    bij = fb.PReLU(alpha)
    assert bij.dtype == tf.float64
    raw = alpha.trainable_variables[0]
    raw.assign([-1e30, -1e30])
    np.testing.assert_allclose(tf.convert_to_tensor(alpha), [0.1, 0.1])


def test_forward_inverse_and_log_det_by_hand():
    bij = fb.PReLU(np.array([0.5, 2.0, 1.0], np.float64))
    x = tf.constant([[-2.0, -3.0, -1.0], [1.0, 2.0, 0.0]], tf.float64)
    np.testing.assert_allclose(bij.forward(x), [[-1.0, -6.0, -1.0], [1.0, 2.0, 0.0]])
    np.testing.assert_allclose(bij.inverse(bij.forward(x)), x)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, event_ndims=1),
                               [np.log(0.5) + np.log(2.0), 0.0])
    np.testing.assert_allclose(bij.inverse_log_det_jacobian(bij.forward(x), event_ndims=1),
                               [-np.log(0.5) - np.log(2.0), 0.0])
