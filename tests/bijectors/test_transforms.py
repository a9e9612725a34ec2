"""Elementwise transforms (Affine, Additive, RationalQuadratic): round trips, log-derivatives
against autodiff, the identity at zero parameters, configs."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import bijectors as fb
from tfp_flows.bijectors.transforms import MIN_BIN, MIN_DERIVATIVE

tfb = tfp.bijectors

TRANSFORMS = {
    "affine": fb.Affine(),
    "affine_unbounded": fb.Affine(log_scale_bound=None),
    "affine_tight_bound": fb.Affine(log_scale_bound=0.5),
    "additive": fb.Additive(),
    "spline": fb.RationalQuadratic(num_bins=4, bound=3.0),
    "spline_default": fb.RationalQuadratic(),
    "spline_two_bins": fb.RationalQuadratic(num_bins=2, bound=0.5),
}


def _params(transform, shape, rng, scale=1.0, dtype=tf.float64):
    return tf.constant(rng.normal(size=shape + (transform.num_params,)) * scale, dtype)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64], ids=lambda d: d.name)
@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_round_trip_and_log_derivatives_agree(name, dtype):
    transform = TRANSFORMS[name]
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(4, 5)) * 3.0, dtype)  # inside and outside spline bounds
    params = _params(transform, (4, 5), rng, dtype=dtype)
    y, fldj = transform.forward(x, params)
    x_back, ildj = transform.inverse(tf.identity(y), params)
    assert y.shape == x.shape == fldj.shape == ildj.shape
    assert y.dtype == fldj.dtype == ildj.dtype == dtype
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == tf.float32 else dict(rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(x_back, x, **tol)
    np.testing.assert_allclose(fldj, -ildj, **tol)
    if name != "additive":
        assert not np.allclose(fldj, 0.0)  # the parameters do something


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_log_derivative_matches_autodiff(name):
    transform = TRANSFORMS[name]
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(3, 6)) * 2.0)
    params = _params(transform, (3, 6), rng)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y, fldj = transform.forward(x, params)
        y_in = tf.identity(y)
        tape.watch(y_in)
        x_back, ildj = transform.inverse(y_in, params)
    dy_dx = tape.gradient(y, x)  # elementwise map: the gradient of the sum is the derivative
    dx_dy = tape.gradient(x_back, y_in)
    np.testing.assert_allclose(fldj, np.log(np.abs(dy_dx)), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ildj, np.log(np.abs(dx_dy)), rtol=1e-9, atol=1e-10)
    assert np.all(dy_dx.numpy() > 0)  # every transform is increasing


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_zero_parameters_give_the_identity(name):
    transform = TRANSFORMS[name]
    x = tf.constant(np.linspace(-6.0, 6.0, 25))  # inside and outside every spline interval
    zeros = tf.zeros([25, transform.num_params], tf.float64)
    for fn in (transform.forward, transform.inverse):
        out, ldj = fn(x, zeros)
        np.testing.assert_allclose(out, x, atol=1e-12)
        np.testing.assert_allclose(ldj, 0.0, atol=1e-12)


def test_number_of_parameters():
    assert fb.Affine().num_params == 2
    assert fb.Additive().num_params == 1
    for k in (2, 4, 8, 11):
        assert fb.RationalQuadratic(k).num_params == 3 * k - 1
    assert fb.Additive().constant_jacobian
    assert not fb.Affine().constant_jacobian and not fb.RationalQuadratic().constant_jacobian


def test_affine_by_hand_and_soft_clipped():
    x = tf.constant([1.0, 2.0, -1.0], tf.float64)
    params = tf.constant([[0.5, 0.0], [-1.0, 1.0], [2.0, 100.0]], tf.float64)
    y, ldj = fb.Affine(log_scale_bound=5.0).forward(x, params)
    clipped = 5.0 * np.tanh(np.array([0.0, 1.0, 100.0]) / 5.0)
    np.testing.assert_allclose(ldj, clipped)
    np.testing.assert_allclose(y, x.numpy() * np.exp(clipped) + [0.5, -1.0, 2.0])
    np.testing.assert_allclose(ldj[2], 5.0)  # never beyond the bound
    y, ldj = fb.Affine(log_scale_bound=None).forward(x[:2], params[:2])
    np.testing.assert_allclose(ldj, [0.0, 1.0])
    np.testing.assert_allclose(y, [1.5, 2.0 * np.e - 1.0])


def test_soft_clip_log_scale():
    values = tf.constant([-1e4, -3.0, 0.0, 0.1, 3.0, 1e4])
    np.testing.assert_allclose(fb.soft_clip_log_scale(values, 2.0),
                               2.0 * np.tanh(values.numpy() / 2.0), rtol=1e-6)
    assert np.all(np.abs(fb.soft_clip_log_scale(values, 2.0).numpy()) <= 2.0)
    np.testing.assert_allclose(fb.soft_clip_log_scale(tf.constant(4.0), None), 4.0)
    # near zero the clip is the identity (a zero-initialised net starts at the identity)
    np.testing.assert_allclose(fb.soft_clip_log_scale(tf.constant(1e-3), 5.0), 1e-3, rtol=1e-6)


def test_additive_by_hand():
    y, ldj = fb.Additive().forward(tf.constant([1.0, 2.0]), tf.constant([[0.5], [-3.0]]))
    np.testing.assert_allclose(y, [1.5, -1.0])
    np.testing.assert_array_equal(ldj, [0.0, 0.0])


def test_spline_is_the_identity_outside_its_interval():
    spline = fb.RationalQuadratic(num_bins=5, bound=2.0)
    rng = np.random.default_rng(2)
    x = tf.constant([-50.0, -2.5, -2.0, 2.0, 2.5, 50.0], tf.float64)
    params = _params(spline, (6,), rng, scale=3.0)
    y, ldj = spline.forward(x, params)
    np.testing.assert_allclose(y, x, atol=1e-12)
    np.testing.assert_allclose(ldj, 0.0, atol=1e-12)
    # inside, the interval maps onto itself
    inside = tf.constant(rng.uniform(-2.0, 2.0, size=(200,)))
    y, _ = spline.forward(inside, _params(spline, (200,), rng, scale=3.0))
    assert np.all(np.abs(y.numpy()) <= 2.0 + 1e-12)


def test_spline_knots_from_parameters():
    """Bins are a softmax of the raw widths/heights scaled to the interval, each at least
    MIN_BIN; interior derivatives are at least MIN_DERIVATIVE; raw 0 gives slope 1."""
    spline = fb.RationalQuadratic(num_bins=4, bound=3.0)
    rng = np.random.default_rng(3)
    params = tf.constant(rng.normal(size=(7, spline.num_params)) * 20.0)
    rqs = spline.spline(params)
    assert isinstance(rqs, tfb.RationalQuadraticSpline)
    widths, heights = rqs.bin_widths.numpy(), rqs.bin_heights.numpy()
    np.testing.assert_allclose(widths.sum(-1), 6.0, rtol=1e-12)
    np.testing.assert_allclose(heights.sum(-1), 6.0, rtol=1e-12)
    assert widths.min() >= MIN_BIN * (1 - 1e-9) and heights.min() >= MIN_BIN * (1 - 1e-9)
    assert rqs.knot_slopes.shape == (7, 3) and rqs.knot_slopes.numpy().min() >= MIN_DERIVATIVE
    np.testing.assert_allclose(spline.spline(tf.zeros([1, 11], tf.float64)).knot_slopes, 1.0,
                               rtol=1e-14)
    np.testing.assert_allclose(spline.spline(tf.zeros([1, 11], tf.float64)).bin_widths, 1.5,
                               rtol=1e-14)
    # float64 knots are exact to float64 precision (no pass through float32)
    narrow = fb.RationalQuadratic(num_bins=3, bound=0.1).spline(tf.zeros([1, 8], tf.float64))
    assert float(narrow.range_min) == -0.1
    assert float(tf.reduce_sum(narrow.bin_widths)) == pytest.approx(0.2, rel=1e-14)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64], ids=lambda d: d.name)
def test_spline_stays_finite_for_extreme_parameters(dtype):
    spline = fb.RationalQuadratic(num_bins=4, bound=3.0)
    rng = np.random.default_rng(4)
    x = tf.constant(rng.uniform(-3.0, 3.0, size=(500,)), dtype)
    params = _params(spline, (500,), rng, scale=100.0, dtype=dtype)
    y, fldj = spline.forward(x, params)
    x_back, ildj = spline.inverse(y, params)
    for value in (y, fldj, x_back, ildj):
        assert np.all(np.isfinite(value.numpy()))
    # the derivative at an interior knot is its slope, >= MIN_DERIVATIVE
    rqs = spline.spline(params[:1])
    knot = tf.cast(-3.0, dtype) + tf.cumsum(rqs.bin_widths[0])[:-1]
    _, ldj_at_knots = spline.forward(knot, tf.repeat(params[:1], 3, axis=0))
    np.testing.assert_allclose(np.exp(ldj_at_knots.numpy()), rqs.knot_slopes[0].numpy(),
                               rtol=1e-3 if dtype == tf.float32 else 1e-8)


def test_spline_works_on_high_rank_parameters():
    """Images with a 2-D batch give rank-6 parameters: softmax must not be limited to rank 5."""
    spline = fb.RationalQuadratic(num_bins=3, bound=2.0)
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(size=(2, 3, 2, 2, 2)), tf.float32)
    params = _params(spline, (2, 3, 2, 2, 2), rng, dtype=tf.float32)
    y, ldj = spline.forward(x, params)
    assert y.shape == ldj.shape == x.shape
    np.testing.assert_allclose(spline.inverse(y, params)[0], x, atol=1e-4)


@pytest.mark.parametrize("transform", list(TRANSFORMS.values()), ids=sorted(TRANSFORMS))
def test_get_transform_round_trips_configs(transform):
    config = transform.get_config()
    assert fb.get_transform(config) == transform
    assert hash(fb.get_transform(dict(config))) == hash(transform)
    assert fb.get_transform(transform) is transform
    import json
    assert fb.get_transform(json.loads(json.dumps(config))) == transform


def test_get_transform_by_name_gives_the_defaults():
    assert fb.get_transform("affine") == fb.Affine(log_scale_bound=5.0)
    assert fb.get_transform("additive") == fb.Additive()
    assert fb.get_transform("rational_quadratic") == fb.RationalQuadratic(num_bins=8, bound=6.0)
    assert fb.RationalQuadratic().bound == fb.SPLINE_BOUND == 6.0  # one default, nsf's too
    assert fb.Affine(1.0) != fb.Affine(2.0) and fb.Affine() != fb.Additive()
    assert repr(fb.RationalQuadratic(4, 3.0)) == "RationalQuadratic(num_bins=4, bound=3.0)"
    assert repr(fb.Affine(log_scale_bound=None)) == "Affine(log_scale_bound=None)"


@pytest.mark.parametrize("dtype,tol", [(tf.float64, 1e-8), (tf.float32, 2e-4)],
                         ids=["float64", "float32"])
def test_spline_equals_tfps_rational_quadratic_spline(dtype, tol):
    """Our one-pass spline against tfb.RationalQuadraticSpline with the same knots: values
    and log-dets both ways, inside and outside the interval."""
    spline = fb.RationalQuadratic(num_bins=6, bound=3.0)
    rng = np.random.default_rng(7)
    x = tf.constant(rng.uniform(-4.0, 4.0, size=(2000,)), dtype)
    params = _params(spline, (2000,), rng, scale=2.0, dtype=dtype)
    reference = spline.spline(params)
    y, fldj = spline.forward(x, params)
    np.testing.assert_allclose(y, reference.forward(x), atol=tol)
    np.testing.assert_allclose(fldj, reference.forward_log_det_jacobian(x, event_ndims=0),
                               atol=tol * 10)
    x_back, ildj = spline.inverse(y, params)
    if dtype == tf.float64:
        np.testing.assert_allclose(x_back, reference.inverse(y), atol=tol * 10)
        np.testing.assert_allclose(ildj, reference.inverse_log_det_jacobian(y, event_ndims=0),
                                   atol=tol * 10)
    else:   # flat bins make the inverse ill-conditioned in float32: no less accurate than TFP
        ours, tfps = np.abs(x_back - x), np.abs(reference.inverse(y) - x)
        assert ours.mean() <= tfps.mean() and np.median(ours) <= np.median(tfps) + 1e-6


def test_spline_inverse_stays_finite_in_bins_of_minimum_height():
    """Rounding can put the inverse's bin fraction just outside [0, 1] in a bin MIN_BIN
    high (TFP's spline then gives a NaN log-det); ours clips it."""
    spline = fb.RationalQuadratic(num_bins=8, bound=3.0)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-4.0, 4.0, size=(4000,)), tf.float32)
    params = tf.constant(rng.normal(size=(4000, spline.num_params)) * 5.0, tf.float32)
    y, _ = spline.forward(x, params)
    x_back, ildj = spline.inverse(y, params)
    assert np.isfinite(x_back.numpy()).all() and np.isfinite(ildj.numpy()).all()
    assert np.abs(x_back.numpy()).max() <= 4.0
