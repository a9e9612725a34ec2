"""Invalid arguments and inputs raise the right error type with a message that says what was
expected and what came."""
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import bijectors as fb

tfb = tfp.bijectors


def _pair(x_b):
    return tf.zeros_like(x_b), tf.zeros_like(x_b)


# --------------------------------------------------------------------------- PReLU
@pytest.mark.parametrize("alpha,shown", [
    (0.0, r"got 0\.0"),
    (-0.3, r"got -0\.3"),
    (float("nan"), r"got nan"),
    ([0.5, -1.0], r"got \[0\.5, -1\.0\]"),
    (np.array([0.5, np.inf]), r"got \[0\.5, inf\]"),
])
def test_prelu_rejects_non_positive_slopes(alpha, shown):
    with pytest.raises(ValueError, match=r"alpha must be positive and finite, " + shown):
        fb.PReLU(alpha)


@pytest.mark.parametrize("alpha", ["0.5", b"0.5", ["0.5", "1.0"], np.array(["0.5"]), True,
                                   [True, False], None, {"alpha": 0.5}])
def test_prelu_refuses_strings_and_other_non_numbers(alpha):
    """A string is not parsed into a slope (not even inside a list or array)."""
    with pytest.raises(ValueError, match=r"PReLU slope alpha must be a positive number, array or "
                                         r"tensor, got " + re.escape(repr(alpha)[:20])):
        fb.PReLU(alpha)


def test_prelu_refuses_an_integer_tensor_slope():
    with pytest.raises(ValueError, match=r"alpha must be floating-point, got int32"):
        fb.PReLU(tf.constant([1, 2]))


@pytest.mark.parametrize("initial", [1e-7, 0.0, -1.0, [0.5, float("nan")]])
def test_positive_variable_starts_above_its_floor(initial):
    shown = re.escape(str(np.asarray(initial, np.float64).tolist()))
    with pytest.raises(ValueError, match=r"initial_value must be finite and above "
                                         r"floor=1e-06, got " + shown):
        fb.positive_variable(initial)
    assert fb.PReLU(1e-7).forward(tf.constant([-1.0])).numpy() == pytest.approx(-1e-7)  # fixed: ok


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf_function"])
def test_prelu_tensor_slope_is_checked_with_validate_args(graph):
    bij = fb.PReLU(alpha=tf.constant([0.5, -0.2]), validate_args=True)
    x = tf.constant([[1.0, -2.0]])
    forward = tf.function(bij.forward) if graph else bij.forward
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"alpha must be > 0(.|\n)*-0\.2"):
        forward(x)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"alpha must be > 0"):
        bij.inverse_log_det_jacobian(x, event_ndims=1)
    ok = fb.PReLU(alpha=tf.constant([0.5, 0.2]), validate_args=True)
    np.testing.assert_allclose(ok.forward(x), [[1.0, -0.4]])


def test_prelu_fixed_slope_from_a_python_number_works_on_float32_data():
    """A Python number has no dtype: it takes float32, TFP's default (not NumPy's float64)."""
    for alpha in (0.5, [0.5, 2.0], 1):
        bij = fb.PReLU(alpha)
        assert bij.dtype == tf.float32
        assert bij.forward(tf.constant([-1.0, 1.0])).dtype == tf.float32
    assert fb.PReLU().dtype == tf.float32
    assert fb.PReLU(np.array([0.5, 2.0])).dtype == tf.float64  # a float64 array keeps it
    with pytest.raises(ValueError, match=r"float64.*float32|float32.*float64"):
        fb.PReLU(np.array([0.5, 2.0])).forward(tf.constant([-1.0, 1.0]))


# ------------------------------------------------------------------------ Coupling
def test_coupling_mask_shape_must_match_the_event():
    bij = fb.Coupling(_pair, mask=fb.checkerboard_mask((4, 4, 2)))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4, 2\).*\(2, 4, 4, 3\)"):
        bij.forward(tf.zeros([2, 4, 4, 3]))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4, 2\).*\(4, 2\)"):
        bij.inverse(tf.zeros([4, 2]))


@pytest.mark.parametrize("mask,message", [
    (np.array([1.0, 0.5, 0.0]), r"only 0 and 1.*got.*0\.5"),
    (np.array([[1, 2], [0, 1]]), r"only 0 and 1.*got.*2"),
    (np.ones(4), r"both conditioning \(1\) and transformed \(0\).*got all 1"),
    (np.zeros((2, 2, 2)), r"both conditioning \(1\) and transformed \(0\).*got all 0"),
    (np.float32(1.0), r"event's shape, got a scalar"),
])
def test_coupling_rejects_bad_masks(mask, message):
    with pytest.raises(ValueError, match=message):
        fb.Coupling(_pair, mask=mask)


@pytest.mark.parametrize("num_masked", [4, 6])
def test_coupling_num_masked_must_leave_entries_to_transform(num_masked):
    bij = fb.Coupling(_pair, num_masked=num_masked)
    with pytest.raises(ValueError, match=rf"{num_masked} conditioning entries do not fit an event "
                                         r"of size 4; expected between 1 and 3"):
        bij.forward(tf.zeros([2, 4]))


@pytest.mark.parametrize("num_masked", [0, -1, 1.5, True])
def test_coupling_num_masked_must_be_positive(num_masked):
    with pytest.raises(ValueError,
                       match=rf"num_masked must be a positive integer, got {num_masked}"):
        fb.Coupling(_pair, num_masked=num_masked)


def test_coupling_rejects_two_ways_of_choosing_the_mask():
    with pytest.raises(ValueError, match=r"at most one of num_masked and fraction_masked.*"
                                         r"got num_masked=2.*fraction_masked=0\.5"):
        fb.Coupling(_pair, num_masked=2, fraction_masked=0.5)
    with pytest.raises(ValueError, match=r"either a mask or num_masked/fraction_masked.*"
                                         r"got.*num_masked=1"):
        fb.Coupling(_pair, mask=[1.0, 0.0], num_masked=1)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2])
def test_coupling_fraction_must_be_inside_the_unit_interval(fraction):
    with pytest.raises(ValueError, match=rf"fraction_masked must be in \(0, 1\), got {fraction}"):
        fb.Coupling(_pair, fraction_masked=fraction)


def test_coupling_fraction_that_rounds_to_no_entries_fails_on_use():
    bij = fb.Coupling(_pair, fraction_masked=0.1)
    with pytest.raises(ValueError, match=r"0 conditioning entries do not fit an event of size 4"):
        bij.forward(tf.zeros([4]))


@pytest.mark.parametrize("conditioner", [3, "net", None])
@pytest.mark.parametrize("bijector", [fb.Coupling, fb.MaskedAutoregressive])
def test_conditioner_must_be_callable(bijector, conditioner):
    with pytest.raises(TypeError, match=rf"conditioner must be callable, got "
                                        rf"{type(conditioner).__name__}"):
        bijector(conditioner)


# ---------------------------------------------------------------------- transforms
@pytest.mark.parametrize("bound", [0, 0.0, -1.0, float("nan"), float("inf"), "5", True])
def test_affine_log_scale_bound_must_be_a_finite_positive_number(bound):
    with pytest.raises(ValueError, match=r"log_scale_bound must be a finite number > 0, got "
                                         + re.escape(repr(bound))):
        fb.Affine(log_scale_bound=bound)
    assert fb.Affine(log_scale_bound=None).log_scale_bound is None  # None: no bound


@pytest.mark.parametrize("num_bins", [1, 0, -3, 4.5, "8", True])
def test_spline_needs_at_least_two_bins(num_bins):
    with pytest.raises(ValueError, match=r"num_bins must be an integer >= 2, got "
                                         + re.escape(repr(num_bins))):
        fb.RationalQuadratic(num_bins=num_bins)


@pytest.mark.parametrize("bound", [0, -1.0, float("nan"), float("inf"), "3"])
def test_spline_bound_must_be_a_finite_positive_number(bound):
    with pytest.raises(ValueError, match=r"bound must be a finite number > 0, got "
                                         + re.escape(repr(bound))):
        fb.RationalQuadratic(num_bins=4, bound=bound)


@pytest.mark.parametrize("spec", ["bogus", "Affine", "spline", None, 3, {"kind": "bogus"},
                                  {"num_bins": 4}, fb.Affine])
def test_unknown_transforms_are_refused(spec):
    message = (r"transform must be a Transform, one of \['additive', 'affine', "
               r"'rational_quadratic'\] or a config dict with a 'kind' key, got "
               + re.escape(repr(spec)))
    with pytest.raises(ValueError, match=message):
        fb.get_transform(spec)
    with pytest.raises(ValueError, match=message):
        fb.Coupling(_pair, transform=spec)
    with pytest.raises(ValueError, match=message):
        fb.MaskedAutoregressive(_pair, transform=spec)


def test_transform_config_with_bad_settings_is_refused():
    with pytest.raises(ValueError, match=r"num_bins must be an integer >= 2, got 1"):
        fb.get_transform({"kind": "rational_quadratic", "num_bins": 1})
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'bins'"):
        fb.get_transform({"kind": "rational_quadratic", "bins": 4})


# -------------------------------------------------------------- conditioner output
def _returns(shape_tail, tuple_size=None, dtype=tf.float32):
    def conditioner(x_b):
        out = tf.zeros(tf.concat([tf.shape(x_b)[:-1], shape_tail], 0), dtype)
        return (out,) * tuple_size if tuple_size else out
    return conditioner


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf_function"])
@pytest.mark.parametrize("transform,tail,tuple_size,message", [
    ("affine", [3, 2], None, r"returned shape \(5, 3, 2\); expected \[5, 2, 2\] \(2 parameter"),
    ("affine", [2, 3], None, r"returned shape \(5, 2, 3\); expected \[5, 2, 2\]"),
    ("affine", [2], None, r"returned shape \(5, 2\); expected \[5, 2, 2\]"),
    ("affine", [2, 1], None, r"returned shape \(5, 2, 1\); expected \[5, 2, 2\]"),
    ("affine", [3], 2, r"returned a tensor of shape \(5, 3\) in its tuple; expected \[5, 2\]"),
    ("affine", [2], 3, (r"returned a tuple of 3 tensors; expected 2 of shape \[5, 2\] or one "
                        r"tensor of shape \[5, 2, 2\]")),
    ("affine", [2], 1, r"returned a tuple of 1 tensors; expected 2"),
    ("additive", [3], None, r"returned shape \(5, 3\); expected \[5, 2, 1\] \(1 parameter"),
    ("additive", [2, 3], None, r"returned shape \(5, 2, 3\); expected \[5, 2, 1\]"),
    ("additive", [2], 2, r"returned a tuple of 2 tensors; expected 1"),
    (fb.RationalQuadratic(4), [2, 10], None,
     r"returned shape \(5, 2, 10\); expected \[5, 2, 11\] \(11 parameter"),
    ("rational_quadratic", [2, 11], None,
     r"returned shape \(5, 2, 11\); expected \[5, 2, 23\] \(23 parameter"),
])
def test_coupling_conditioner_output_shape_is_checked(graph, transform, tail, tuple_size,
                                                      message):
    bij = fb.Coupling(_returns(tail, tuple_size), transform=transform)
    forward = tf.function(bij.forward) if graph else bij.forward
    with pytest.raises(ValueError, match=r"coupling: the conditioner " + message):
        forward(tf.zeros([5, 4]))


@pytest.mark.parametrize("transform,tail,message", [
    ("affine", [3, 1], r"returned shape \(5, 3, 1\); expected \[5, 3, 2\]"),
    ("affine", [4, 2], r"returned shape \(5, 4, 2\); expected \[5, 3, 2\]"),
    (fb.RationalQuadratic(3), [3, 2], r"returned shape \(5, 3, 2\); expected \[5, 3, 8\]"),
])
def test_autoregressive_conditioner_output_shape_is_checked(transform, tail, message):
    def conditioner(y):
        return tf.zeros([5] + tail)

    bij = fb.MaskedAutoregressive(conditioner, transform=transform)
    for call in (bij.forward, bij.inverse):
        with pytest.raises(ValueError, match=r"masked_autoregressive: the conditioner " + message):
            call(tf.zeros([5, 3]))


def test_image_coupling_conditioner_must_return_the_full_event():
    mask = fb.checkerboard_mask((2, 2, 2))
    bij = fb.Coupling(lambda x: tf.zeros([3, 2, 2, 1, 2]), mask=mask)
    with pytest.raises(ValueError, match=r"returned shape \(3, 2, 2, 1, 2\); expected "
                                         r"\[3, 2, 2, 2, 2\]"):
        bij.forward(tf.zeros([3, 2, 2, 2]))


# --------------------------------------------------------------------------- Logit
@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf_function"])
@pytest.mark.parametrize("bad", [300.0, -1.0, float("nan")])
def test_logit_validate_args_rejects_pixels_out_of_range(graph, bad):
    bij = fb.Logit(max_value=256.0, validate_args=True)
    x = tf.constant([0.0, 128.0, bad, 256.0])
    for call in (bij.forward, lambda t: bij.forward_log_det_jacobian(t, event_ndims=1)):
        call = tf.function(call) if graph else call
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"in \[0, 256\]; got values in(.|\n)*" + str(bad)[:3]):
            call(x)
    # the exact edges are inside the domain
    assert np.all(np.isfinite(bij.forward(tf.constant([0.0, 256.0])).numpy()))


def test_logit_without_validate_args_does_not_check():
    bij = fb.Logit(max_value=256.0)
    bij.forward(tf.constant([300.0]))  # no error: checks cost time and are opt-in


@pytest.mark.parametrize("alpha", [0.0, 0.5, -0.1, 0.7, True, "0.1"])
def test_logit_alpha_must_be_in_open_half_interval(alpha):
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 0\.5\), got "
                                         + repr(alpha).replace(".", r"\.")):
        fb.Logit(alpha=alpha)


@pytest.mark.parametrize("name", ["num_levels", "max_value"])  # max_value: deprecated alias
@pytest.mark.parametrize("value", [0.0, -1.0, float("inf"), True, "256"])
def test_logit_num_levels_must_be_positive(name, value):
    with pytest.raises(ValueError, match=rf"{name} must be a finite number > 0, got "
                                         + repr(value).replace(".", r"\.")):
        fb.Logit(**{name: value})


# ------------------------------------------------------- ActNorm / InvertibleLinear
def _lu(size=3, dtype="float32"):
    return fb.random_lu_init(size, seed=0, dtype=dtype)


@pytest.mark.parametrize("event_ndims", [0, 2, 4])
def test_bad_event_ndims(event_ndims):
    message = rf"event_ndims must be 1 \(vectors\) or 3 \(images\), got {event_ndims}"
    with pytest.raises(ValueError, match=message):
        fb.ActNorm(tf.zeros([3]), tf.zeros([3]), event_ndims=event_ndims)
    with pytest.raises(ValueError, match=message):
        fb.InvertibleLinear(*_lu(), event_ndims=event_ndims)


@pytest.mark.parametrize("loc,log_scale,shown", [
    (tf.zeros([3]), tf.zeros([2]), r"\(3,\) and \(2,\)"),
    (tf.zeros([]), tf.zeros([]), r"\(\) and \(\)"),
    (tf.zeros([2, 3]), tf.zeros([2, 3]), r"\(2, 3\) and \(2, 3\)"),
    ([0.0, 1.0], [0.0], r"\(2,\) and \(1,\)"),
])
def test_actnorm_needs_two_vectors_of_one_length(loc, log_scale, shown):
    with pytest.raises(ValueError, match=r"actnorm: loc and log_scale must be vectors of one "
                                         r"length \(one value per feature\), got shapes " + shown):
        fb.ActNorm(loc, log_scale)


@pytest.mark.parametrize("event_ndims,shape", [(1, [2, 4]), (1, [4]), (3, [2, 5, 5, 2])])
def test_actnorm_checks_the_number_of_features(event_ndims, shape):
    bij = fb.ActNorm(tf.zeros([3]), tf.zeros([3]), event_ndims=event_ndims)
    shown = re.escape(str(tuple(shape)))
    for call in (bij.forward, bij.inverse, tf.function(bij.inverse)):
        with pytest.raises(ValueError, match=rf"actnorm: expected inputs with 3 features on the "
                                             rf"last axis, got shape {shown}"):
            call(tf.zeros(shape))


def test_per_feature_bijectors_refuse_integer_parameters():
    with pytest.raises(ValueError, match=r"actnorm: parameters must be floating-point, got int32"):
        fb.ActNorm(tf.constant([0, 1]), tf.constant([0, 0]))
    with pytest.raises(ValueError, match=r"actnorm: parameters must be floating-point, got int64"):
        fb.ActNorm(tf.Variable(tf.zeros([2], tf.int64)), tf.constant([0, 0], tf.int64))
    perm, lower, upper, log_diag = _lu()
    ints = [tf.constant(v.astype(np.int32)) for v in (lower, upper, log_diag)]
    with pytest.raises(ValueError, match=r"invertible_linear: parameters must be floating-point, "
                                         r"got int32"):
        fb.InvertibleLinear(perm, *ints)


def test_plain_numbers_take_float32_and_float_arrays_keep_their_dtype():
    """Lists and integer arrays have no float dtype of their own: float32, as TFP."""
    assert fb.ActNorm([0, 1], np.array([0, 0])).dtype == tf.float32
    assert fb.ActNorm(np.zeros(2), np.zeros(2)).dtype == tf.float64
    assert fb.InvertibleLinear(*_lu(dtype="float64")).dtype == tf.float64


@pytest.mark.parametrize("build", [
    lambda: fb.ActNorm(tf.zeros([2], tf.float64), tf.zeros([2])),
    lambda: fb.ActNorm(np.zeros(2), tf.Variable(tf.zeros([2]))),
    lambda: fb.ActNorm(tf.zeros([2], tf.float16), np.zeros(2, np.float32)),
    lambda: fb.InvertibleLinear(*_lu()[:3], tf.zeros([3], tf.float64)),
    lambda: fb.InvertibleLinear(_lu()[0], tf.constant(_lu()[1], tf.float64), *_lu()[2:]),
], ids=["actnorm_tensors", "actnorm_array_vs_variable", "actnorm_float16",
        "invertible_linear_log_diag", "invertible_linear_lower"])
def test_per_feature_bijectors_refuse_mixed_dtypes(build):
    with pytest.raises(ValueError, match=r"parameters have different dtypes \['float(16|32)', "
                                         r"'float(32|64)'\]"):
        build()


@pytest.mark.parametrize("bijector", [
    lambda: fb.ActNorm(tf.zeros([2]), tf.zeros([2])),
    lambda: fb.InvertibleLinear(*_lu(2)),
], ids=["actnorm", "invertible_linear"])
def test_per_feature_bijectors_refuse_data_of_another_dtype(bijector):
    with pytest.raises(ValueError, match=r"requested dtype float32 for Tensor with dtype float64"):
        bijector().forward(tf.zeros([3, 2], tf.float64))


@pytest.mark.parametrize("event_size", [None, 0, -2, 2.5, "3"])
def test_random_lu_init_needs_a_positive_event_size(event_size):
    with pytest.raises(ValueError, match=r"event_size must be an integer >= 1, got "
                                         + re.escape(repr(event_size))):
        fb.random_lu_init(event_size)


@pytest.mark.parametrize("perm", [[0, 0, 2], [1, 2, 3], [2, 0, 2]])
def test_invertible_linear_rejects_a_non_permutation(perm):
    _, lower, upper, log_diag = _lu()
    with pytest.raises(ValueError, match=rf"permutation of range\({len(perm)}\), got "
                                         + re.escape(str(np.asarray(perm, np.int32)))):
        fb.InvertibleLinear(perm, lower, upper, log_diag)


def test_invertible_linear_factors_must_match_the_permutation():
    _, lower, upper, log_diag = _lu()
    with pytest.raises(ValueError, match=r"lower must have shape \[2, 2\] to match a "
                                         r"permutation of 2 entries, got shape \(3, 3\)"):
        fb.InvertibleLinear([1, 0], tf.constant(lower), tf.constant(upper),
                            tf.constant(log_diag))
    with pytest.raises(ValueError, match=r"log_diag must have shape \[3\].*got shape \(2,\)"):
        fb.InvertibleLinear([1, 0, 2], lower, upper, log_diag[:2])


@pytest.mark.parametrize("event_ndims,shape", [(1, [2, 4]), (3, [2, 5, 5, 2])])
def test_invertible_linear_checks_the_last_axis(event_ndims, shape):
    bij = fb.InvertibleLinear(*_lu(), event_ndims=event_ndims)
    shown = re.escape(str(tuple(shape)))
    for call in (bij.forward, bij.inverse):
        with pytest.raises(ValueError, match=rf"last axis has size 3, got shape {shown}"):
            call(tf.zeros(shape))


# --------------------------------------------------------------------------- masks
@pytest.mark.parametrize("make_mask", [fb.checkerboard_mask, fb.channel_mask])
@pytest.mark.parametrize("shape", [(4, 4), (8,), (2, 2, 2, 2)])
def test_image_masks_need_an_image_shape(make_mask, shape):
    with pytest.raises(ValueError, match=r"expected an image event shape \(height, width, "
                                         r"channels\), got " + re.escape(str(shape))):
        make_mask(shape)


def test_channel_mask_needs_two_channels():
    with pytest.raises(ValueError, match=r"at least 2 channels, got 1"):
        fb.channel_mask((4, 4, 1))


@pytest.mark.parametrize("num_masked", [0, 5, 6, -1])
def test_half_mask_num_masked_must_leave_both_parts(num_masked):
    with pytest.raises(ValueError, match=rf"num_masked must be in \[1, 4\] for event size 5, "
                                         rf"got {num_masked}"):
        fb.half_mask(5, num_masked=num_masked)


# ------------------------------------------------------------------------- squeeze
@pytest.mark.parametrize("shape", [(3, 4, 2), (4, 5, 1), (5, 5, 3), (2, 4, 7, 1)], ids=str)
def test_squeeze_of_an_odd_size_names_the_image_shape(shape):
    hwc = re.escape(str(tuple(shape[-3:])))
    message = r"even height and width, got an image of shape \(height, width, channels\) = "
    with pytest.raises(ValueError, match=message + hwc):
        fb.Squeeze().forward(tf.zeros(shape))
    with pytest.raises(ValueError, match=message + hwc):
        tf.function(fb.Squeeze().forward)(tf.zeros(shape))
    with pytest.raises(ValueError, match=message + hwc):
        fb.squeezed_shape(shape)
    with pytest.raises(ValueError, match=message + hwc):  # sampling side of a flow
        tfb.Invert(fb.Squeeze()).inverse(tf.zeros(shape))


@pytest.mark.parametrize("shape", [(2, 2, 3), (1, 1, 6)], ids=str)
def test_unsqueeze_needs_a_multiple_of_four_channels(shape):
    with pytest.raises(ValueError, match=r"undoing a squeeze needs a multiple of 4 channels, got "
                                         r"an image of shape \(height, width, channels\) = "
                                         + re.escape(str(shape))):
        fb.Squeeze().inverse(tf.zeros((2,) + shape))
    with pytest.raises(ValueError, match=r"multiple of 4 channels"):
        fb.unsqueezed_shape(shape)


@pytest.mark.parametrize("shape", [(4, 4), (8,)], ids=str)
def test_squeeze_needs_images(shape):
    with pytest.raises(ValueError, match=r"Squeeze acts on images \[\.\.\., height, width, "
                                         r"channels\], got shape " + re.escape(str(shape))):
        fb.Squeeze().forward(tf.zeros(shape))
    with pytest.raises(ValueError, match=r"Squeeze's inverse acts on images"):
        fb.Squeeze().inverse(tf.zeros(shape))


# ------------------------------------------------------------------------ log_det
@pytest.mark.parametrize("helper", [fb.inverse_and_log_det, fb.forward_and_log_det])
def test_fused_helpers_reject_event_ndims_below_the_minimum(helper):
    bij = fb.Coupling(_pair)
    with pytest.raises(ValueError, match=r"event_ndims must be at least 1, got 0"):
        helper(bij, tf.ones([2, 4]), 0)
    image = fb.InvertibleLinear(*_lu(2), event_ndims=3)
    with pytest.raises(ValueError, match=r"event_ndims must be at least 3, got 2"):
        helper(image, tf.ones([2, 3, 3, 2]), 2)


# --------------------------------------------------------------- conditioner result
@pytest.mark.parametrize("make", [
    lambda f: fb.Coupling(f),
    lambda f: fb.Coupling(f, transform="rational_quadratic"),
    lambda f: fb.MaskedAutoregressive(f),
], ids=["coupling", "spline_coupling", "autoregressive"])
def test_conditioner_returning_none_or_another_dtype_is_named(make):
    x = tf.ones([2, 4])
    with pytest.raises(ValueError, match=r"the conditioner returned None; expected a tensor "
                                         r"of shape \[2, [24], \d+\]"):
        make(lambda t: None).inverse(x)
    with pytest.raises(ValueError, match=r"the conditioner returned None"):
        make(lambda t: (None, tf.zeros_like(t))).inverse(x)
    wrong = lambda t: tf.zeros(tf.concat([tf.shape(t), [2]], 0), tf.float64)  # noqa: E731
    with pytest.raises(ValueError, match=r"the conditioner returned dtype float64; expected "
                                         r"float32, the dtype of the data"):
        make(wrong).inverse(x)


def test_conditioner_tuple_of_another_dtype_is_named():
    pair64 = lambda t: (tf.zeros_like(t, tf.float64),) * 2  # noqa: E731
    with pytest.raises(ValueError, match=r"returned dtype float64; expected float32"):
        fb.Coupling(pair64).forward(tf.ones([2, 4]))


@pytest.mark.parametrize("make", [
    lambda: fb.Coupling(_pair),
    lambda: fb.Coupling(_pair, transform="additive"),
    lambda: fb.MaskedAutoregressive(lambda t: (tf.zeros_like(t), tf.zeros_like(t))),
], ids=["coupling", "additive_coupling", "autoregressive"])
def test_keras_input_points_to_log_prob(make):
    import keras
    with pytest.raises(TypeError, match=r"KerasTensor.*LogProb\(dist\)\(x\)"):
        make().forward(keras.Input((4,)))
