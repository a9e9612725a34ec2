"""InvertibleLinear: W = P L U from the factors it is given; random_lu_init starts orthogonal."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.helpers import std_normal
from tfp_flows import bijectors as fb

tfd = tfp.distributions


def _numpy_matrix(permutation, lower, upper, log_diag):
    size = len(permutation)
    lower = np.tril(np.asarray(lower), -1) + np.eye(size)
    upper = np.triu(np.asarray(upper), 1) + np.diag(np.exp(np.asarray(log_diag)))
    perm = np.zeros((size, size))
    perm[np.arange(size), permutation] = 1.0
    return perm @ lower @ upper


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_lu_init_is_a_rotation(seed):
    factors = fb.random_lu_init(5, seed=seed, dtype="float64")
    assert [f.dtype for f in factors] == [np.int32] + [np.float64] * 3
    bij = fb.InvertibleLinear(*factors)
    w = bij.matrix().numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(5), atol=1e-12)
    np.testing.assert_allclose(w, _numpy_matrix(*factors), atol=1e-12)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.ones([2, 5], tf.float64), 1),
                               [0.0, 0.0], atol=1e-12)
    assert not np.allclose(w, np.eye(5))  # a real rotation, not the identity
    again = fb.random_lu_init(5, seed=seed, dtype="float64")
    for a, b in zip(factors, again):
        np.testing.assert_array_equal(a, b)  # the seed fixes it
    assert fb.random_lu_init(3, seed=seed)[1].dtype == np.float32


def test_matrix_is_plu_and_inverse_exact_for_any_factors():
    perm, _, _, _ = fb.random_lu_init(4, seed=3)
    rng = np.random.default_rng(10)
    upper = rng.normal(size=(4, 4))
    np.fill_diagonal(upper, -5.0)  # the diagonal of ``upper`` is not used
    lower = rng.normal(size=(4, 4))  # nor is the upper triangle of ``lower``
    log_diag = rng.normal(size=4)
    bij = fb.InvertibleLinear(perm, lower, upper, log_diag)
    w = bij.matrix().numpy()
    np.testing.assert_allclose(w, _numpy_matrix(perm, lower, upper, log_diag), rtol=1e-12)
    x = rng.normal(size=(6, 4))
    y = bij.forward(tf.constant(x)).numpy()
    np.testing.assert_allclose(y, x @ w.T, rtol=1e-12)
    np.testing.assert_allclose(bij.inverse(tf.constant(y)).numpy(), x, atol=1e-10)
    np.testing.assert_allclose(bij.inverse(tf.constant(x)).numpy(), np.linalg.solve(w, x.T).T,
                               atol=1e-10)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(x), 1).numpy(),
                               np.linalg.slogdet(w)[1], rtol=1e-10)
    np.testing.assert_allclose(np.linalg.slogdet(w)[1], log_diag.sum(), rtol=1e-10)


def test_gradients_reach_every_factor_variable():
    perm, lower, upper, log_diag = fb.random_lu_init(3, seed=4)
    variables = [tf.Variable(lower), tf.Variable(upper), tf.Variable(log_diag)]
    bij = fb.InvertibleLinear(perm, *variables)
    assert {id(v) for v in bij.trainable_variables} == {id(v) for v in variables}
    dist = tfd.TransformedDistribution(std_normal([3]), bij)
    x = tf.constant(np.random.default_rng(11).normal(size=(32, 3)) * [1.0, 2.0, 0.5], tf.float32)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(x))
    g_lower, g_upper, g_log_diag = [g.numpy() for g in tape.gradient(loss, variables)]
    assert np.all(g_lower[np.tril_indices(3, -1)] != 0)
    assert np.all(g_upper[np.triu_indices(3, 1)] != 0)
    assert np.all(g_log_diag != 0)
    # entries that the parametrisation ignores get no gradient
    np.testing.assert_array_equal(np.triu(g_lower), 0.0)
    np.testing.assert_array_equal(np.tril(g_upper), 0.0)
    # the bijector reads the variables on every call
    variables[2].assign(variables[2] + 1.0)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 1), 3.0 + log_diag.sum(),
                               rtol=1e-5)


def test_image_applies_the_matrix_per_pixel():
    perm, lower, upper, _ = fb.random_lu_init(3, seed=5, dtype="float64")
    bij = fb.InvertibleLinear(perm, lower, upper, np.array([0.3, -0.1, 0.5]), event_ndims=3)
    x = np.random.default_rng(12).normal(size=(2, 4, 5, 3))
    w = bij.matrix().numpy()
    y = bij.forward(tf.constant(x)).numpy()
    np.testing.assert_allclose(y, np.einsum("ij,bhwj->bhwi", w, x), rtol=1e-12)
    np.testing.assert_allclose(bij.inverse(tf.constant(y)).numpy(), x, atol=1e-10)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(tf.constant(x), 3).numpy(),
                               [20 * 0.7, 20 * 0.7], rtol=1e-10)
    assert bij.forward_min_event_ndims == 3 and bij.is_constant_jacobian
