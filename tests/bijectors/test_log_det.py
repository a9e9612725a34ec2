"""forward_and_log_det / inverse_and_log_det: agree with TFP's two calls for any bijector, and
take the one-pass path (one conditioner call) for this package's bijectors and their inverse."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.helpers import LinearAutoregressive, RandomNet
from tfp_flows import bijectors as fb

tfb = tfp.bijectors


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


def _cases():
    f64 = tf.float64
    rng = np.random.default_rng(13)
    act = fb.ActNorm(rng.normal(size=4), rng.normal(size=4))
    perm, lower, upper, _ = fb.random_lu_init(4, seed=6, dtype="float64")
    lin = fb.InvertibleLinear(perm, lower, upper, rng.normal(size=4))
    prelu = fb.PReLU(np.array([0.3, 0.5, 2.0, 1.5]))
    spline = fb.RationalQuadratic(num_bins=3, bound=2.0)
    chain = tfb.Chain([fb.Coupling(RandomNet(2, 2, seed=7)), tfb.Permute([3, 1, 2, 0]),
                       prelu, tfb.Shift(tf.constant(0.5, f64))])
    return {
        # (bijector, event_ndims, input shape)
        "chain": (chain, 1, (3, 4)),
        "chain_event2": (chain, 2, (3, 4)),
        "stock_scale": (tfb.Scale(tf.constant([0.5, 2.0, 3.0, 1.5], f64)), 1, (3, 4)),
        "stock_softplus": (tfb.Softplus(), 2, (3, 4)),
        "stock_exp": (tfb.Exp(), 0, (3, 4)),
        "prelu_event2": (prelu, 2, (2, 3, 4)),
        "learnable_prelu_event1": (fb.PReLU(fb.positive_variable([0.3, 2.0, 1.0, 0.5],
                                                                 dtype="float64")), 1, (3, 4)),
        "logit_event1": (fb.Logit(), 1, (3, 4)),
        "coupling_event2": (fb.Coupling(RandomNet(2, 2, seed=8)), 2, (2, 3, 4)),
        "additive_coupling": (fb.Coupling(RandomNet(2, 2, seed=10, num_params=1),
                                          transform="additive"), 1, (3, 4)),
        "spline_coupling": (fb.Coupling(RandomNet(2, 2, seed=11, num_params=spline.num_params),
                                        transform=spline), 1, (3, 4)),
        "maf": (fb.MaskedAutoregressive(LinearAutoregressive(4, seed=12)), 1, (3, 4)),
        "iaf_event2": (tfb.Invert(fb.MaskedAutoregressive(LinearAutoregressive(4, seed=13))), 2,
                       (2, 3, 4)),
        "actnorm_event2": (act, 2, (2, 3, 4)),
        "invertible_linear_event2": (lin, 2, (2, 3, 4)),
        "invert_coupling_event2": (tfb.Invert(fb.Coupling(RandomNet(2, 2, seed=9))), 2,
                                   (2, 3, 4)),
        "invert_logit_event1": (tfb.Invert(fb.Logit(max_value=1.0)), 1, (3, 4)),
    }


@pytest.mark.parametrize("direction", ["forward", "inverse"])
def test_fused_helpers_agree_with_tfp(direction):
    rng = np.random.default_rng(14)
    for name, (bij, event_ndims, shape) in _cases().items():
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


@pytest.mark.parametrize("transform", ["affine", "additive", "rational_quadratic"])
def test_fused_helpers_call_the_conditioner_once_and_pass_kwargs(transform):
    calls = []
    num_params = fb.get_transform(transform).num_params

    def conditioner(x_b, context):
        calls.append(context)
        base = tf.stack([x_b * context, tf.sin(x_b) * context], -1)
        return tf.tile(base, [1, 1, num_params])[..., :num_params]

    bij = fb.Coupling(conditioner, transform=transform)
    y = tf.constant(np.random.default_rng(15).normal(size=(3, 4)))
    c = tf.constant(1.5, tf.float64)
    for helper in (fb.inverse_and_log_det, fb.forward_and_log_det):
        calls.clear()
        out, ldj = helper(bij, y, 1, context=c)
        assert len(calls) == 1
        direction = "inverse" if helper is fb.inverse_and_log_det else "forward"
        want_out, want_ldj = _tfp_pair(bij, y, 1, direction, context=c)
        np.testing.assert_allclose(out, want_out, rtol=1e-12)
        np.testing.assert_allclose(ldj, want_ldj, rtol=1e-12, atol=1e-14)
        other, _ = helper(bij, y, 1, context=tf.constant(0.5, tf.float64))
        assert not np.allclose(other, out)


def test_fused_path_is_taken_for_invert_of_a_package_bijector():
    """tfb.Invert of a non-composite bijector is TFP's private _Invert class; the fused
    helpers must still see through it: IAF density is one sequential pass, not two."""
    calls = []

    def conditioner(y):
        calls.append(1)
        shift = tf.concat([tf.zeros_like(y[..., :1]), y[..., :-1]], axis=-1)
        return tf.stack([shift, 0.1 * shift], axis=-1)

    iaf = tfb.Invert(fb.MaskedAutoregressive(conditioner))
    assert not isinstance(iaf, tfb.Invert)  # the TFP quirk this guards against
    y = tf.constant([[0.5, -1.0, 2.0]])
    x, ildj = fb.inverse_and_log_det(iaf, y, event_ndims=1)
    assert len(calls) == 3  # one conditioner call per dimension, nothing more
    np.testing.assert_allclose(x, iaf.inverse(y), rtol=1e-6)
    np.testing.assert_allclose(ildj, iaf.inverse_log_det_jacobian(y, event_ndims=1), rtol=1e-6)
    calls.clear()
    fb.forward_and_log_det(iaf, y, event_ndims=1)  # IAF sampling: one parallel pass
    assert len(calls) == 1


def test_fused_helpers_work_inside_tf_function():
    net = RandomNet(2, 2, seed=16)
    bij = fb.Coupling(net)
    y = tf.constant(np.random.default_rng(17).normal(size=(3, 4)))
    graph = tf.function(lambda t: fb.inverse_and_log_det(bij, t, 1))
    x, ildj = graph(y)
    want_x, want_ildj = _tfp_pair(bij, y, 1, "inverse")
    np.testing.assert_allclose(x, want_x, rtol=1e-12)
    np.testing.assert_allclose(ildj, want_ildj, rtol=1e-12)
