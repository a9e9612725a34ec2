"""Invalid arguments and inputs raise the right error type with a message that says what was
expected and what came."""
import re

import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import bijectors as fb


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
@pytest.mark.parametrize("trainable", [True, False])
def test_prelu_rejects_non_positive_slopes(alpha, shown, trainable):
    with pytest.raises(ValueError, match=r"alpha must be positive and finite, " + shown):
        fb.PReLU(alpha=alpha, trainable=trainable)


def test_prelu_rejects_a_trainable_slope_below_the_floor():
    with pytest.raises(ValueError, match=r"exceed MIN_SLOPE=1e-06, got \[?1e-07"):
        fb.PReLU(alpha=1e-7)
    fb.PReLU(alpha=1e-7, trainable=False)  # a fixed tiny slope is fine


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


# ------------------------------------------------------------------ AffineCoupling
def test_coupling_mask_shape_must_match_the_event():
    bij = fb.AffineCoupling(_pair, mask=fb.checkerboard_mask((4, 4, 2)))
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
        fb.AffineCoupling(_pair, mask=mask)


@pytest.mark.parametrize("num_masked", [4, 6])
def test_coupling_num_masked_must_leave_entries_to_transform(num_masked):
    bij = fb.AffineCoupling(_pair, num_masked=num_masked)
    with pytest.raises(ValueError, match=rf"{num_masked} conditioning entries do not fit an event "
                                         r"of size 4; expected between 1 and 3"):
        bij.forward(tf.zeros([2, 4]))


@pytest.mark.parametrize("num_masked", [0, -1])
def test_coupling_num_masked_must_be_positive(num_masked):
    with pytest.raises(ValueError, match=rf"num_masked must be a positive integer, got {num_masked}"):
        fb.AffineCoupling(_pair, num_masked=num_masked)


def test_coupling_rejects_two_ways_of_choosing_the_mask():
    with pytest.raises(ValueError, match=r"at most one of num_masked and fraction_masked.*"
                                         r"got num_masked=2.*fraction_masked=0\.5"):
        fb.AffineCoupling(_pair, num_masked=2, fraction_masked=0.5)
    with pytest.raises(ValueError, match=r"either a mask or num_masked/fraction_masked.*"
                                         r"got.*num_masked=1"):
        fb.AffineCoupling(_pair, mask=[1.0, 0.0], num_masked=1)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.2])
def test_coupling_fraction_must_be_inside_the_unit_interval(fraction):
    with pytest.raises(ValueError, match=rf"fraction_masked must be in \(0, 1\), got {fraction}"):
        fb.AffineCoupling(_pair, fraction_masked=fraction)


def test_coupling_fraction_that_rounds_to_no_entries_fails_on_use():
    bij = fb.AffineCoupling(_pair, fraction_masked=0.1)
    with pytest.raises(ValueError, match=r"0 conditioning entries do not fit an event of size 4"):
        bij.forward(tf.zeros([4]))


@pytest.mark.parametrize("bound", [0.0, -1.0])
def test_coupling_log_scale_bound_must_be_positive(bound):
    with pytest.raises(ValueError, match=rf"log_scale_bound must be positive or None, got {bound}"):
        fb.AffineCoupling(_pair, log_scale_bound=bound)


def _returns(shape_tail, tuple_out=False):
    def conditioner(x_b):
        out = tf.zeros(tf.concat([tf.shape(x_b)[:-1], shape_tail], 0))
        return (out, out) if tuple_out else out
    return conditioner


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf_function"])
@pytest.mark.parametrize("tail,tuple_out,message", [
    ([3, 2], False, r"shift of shape \(5, 3\); expected \[5, 2\]"),
    ([2, 3], False, r"returned shape \(5, 2, 3\); expected \[5, 2, 2\]"),
    ([2], False, r"returned shape \(5, 2\); expected \[5, 2, 2\]"),
    ([2, 1], False, r"needs shift and log-scale.*shape \(5, 2, 1\)"),
    ([3], True, r"shift of shape \(5, 3\); expected \[5, 2\]"),
])
def test_coupling_conditioner_output_shape_is_checked(graph, tail, tuple_out, message):
    bij = fb.AffineCoupling(_returns(tail, tuple_out))
    forward = tf.function(bij.forward) if graph else bij.forward
    with pytest.raises(ValueError, match=message):
        forward(tf.zeros([5, 4]))


def test_shift_only_coupling_checks_the_shift_shape():
    bij = fb.AffineCoupling(_returns([3]), shift_only=True)
    with pytest.raises(ValueError, match=r"shift of shape \(5, 3\); expected \[5, 2\]"):
        bij.forward(tf.zeros([5, 4]))
    bij = fb.AffineCoupling(_returns([2, 3]), shift_only=True)
    with pytest.raises(ValueError, match=r"returned shape \(5, 2, 3\); expected \[5, 2, 2\]"):
        bij.forward(tf.zeros([5, 4]))


@pytest.mark.parametrize("conditioner", [3, "net", None])
def test_coupling_conditioner_must_be_callable(conditioner):
    with pytest.raises(TypeError, match=rf"conditioner must be callable, got "
                                        rf"{type(conditioner).__name__}"):
        fb.AffineCoupling(conditioner)


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


@pytest.mark.parametrize("alpha", [0.0, 0.5, -0.1, 0.7])
def test_logit_alpha_must_be_in_open_half_interval(alpha):
    with pytest.raises(ValueError, match=rf"alpha must be in \(0, 0\.5\).*got {alpha}"):
        fb.Logit(alpha=alpha)


@pytest.mark.parametrize("max_value", [0.0, -1.0])
def test_logit_max_value_must_be_positive(max_value):
    with pytest.raises(ValueError, match=rf"max_value must be positive, got {max_value}"):
        fb.Logit(max_value=max_value)


# ------------------------------------------------------- ActNorm / InvertibleLinear
@pytest.mark.parametrize("event_ndims", [0, 2, 4])
def test_bad_event_ndims(event_ndims):
    message = rf"event_ndims must be 1 \(vectors\) or 3 \(images\), got {event_ndims}"
    with pytest.raises(ValueError, match=message):
        fb.ActNorm(num_features=3, event_ndims=event_ndims)
    with pytest.raises(ValueError, match=message):
        fb.InvertibleLinear(event_size=3, event_ndims=event_ndims)


def test_actnorm_needs_both_loc_and_log_scale():
    with pytest.raises(ValueError, match=r"both loc and log_scale, or neither.*got only loc"):
        fb.ActNorm(loc=tf.Variable(tf.zeros([3])))
    with pytest.raises(ValueError, match=r"both loc and log_scale, or neither.*got only log_scale"):
        fb.ActNorm(log_scale=tf.Variable(tf.zeros([3])))


@pytest.mark.parametrize("num_features", [None, 0])
def test_actnorm_needs_num_features(num_features):
    with pytest.raises(ValueError, match=rf"num_features must be a positive integer, "
                                         rf"got {num_features}"):
        fb.ActNorm(num_features=num_features)


def test_invertible_linear_needs_all_factors():
    perm, lower, upper, log_diag = fb.random_lu_init(3, seed=0)
    with pytest.raises(ValueError, match=r"all of permutation, lower, upper, log_diag, or none.*"
                                         r"missing.*upper.*log_diag"):
        fb.InvertibleLinear(permutation=perm, lower=tf.constant(lower))


@pytest.mark.parametrize("event_size", [None, 0, -2])
def test_invertible_linear_needs_a_positive_event_size(event_size):
    with pytest.raises(ValueError, match=rf"event_size must be a positive integer, got {event_size}"):
        fb.InvertibleLinear(event_size=event_size)


@pytest.mark.parametrize("perm", [[0, 0, 2], [1, 2, 3], [2, 0, 2]])
def test_invertible_linear_rejects_a_non_permutation(perm):
    _, lower, upper, log_diag = fb.random_lu_init(3, seed=0)
    with pytest.raises(ValueError, match=rf"permutation of range\({len(perm)}\), got "
                                         + re.escape(str(np.asarray(perm, np.int32)))):
        fb.InvertibleLinear(permutation=perm, lower=tf.constant(lower), upper=tf.constant(upper),
                            log_diag=tf.constant(log_diag))


def test_invertible_linear_factors_must_match_the_permutation():
    _, lower, upper, log_diag = fb.random_lu_init(3, seed=0)
    with pytest.raises(ValueError, match=r"lower must have shape \[2, 2\] to match a permutation of "
                                         r"2 entries, got shape \(3, 3\)"):
        fb.InvertibleLinear(permutation=[1, 0], lower=tf.constant(lower),
                            upper=tf.constant(upper), log_diag=tf.constant(log_diag))
    with pytest.raises(ValueError, match=r"log_diag must have shape \[3\].*got shape \(2,\)"):
        fb.InvertibleLinear(permutation=[1, 0, 2], lower=tf.constant(lower),
                            upper=tf.constant(upper), log_diag=tf.constant(log_diag[:2]))


@pytest.mark.parametrize("event_ndims,shape", [(1, [2, 4]), (3, [2, 5, 5, 2])])
def test_invertible_linear_checks_the_last_axis(event_ndims, shape):
    bij = fb.InvertibleLinear(event_size=3, seed=0, event_ndims=event_ndims)
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


# ------------------------------------------------------------------------- fused
@pytest.mark.parametrize("helper", [fb.inverse_and_log_det, fb.forward_and_log_det])
def test_fused_helpers_reject_event_ndims_below_the_minimum(helper):
    bij = fb.AffineCoupling(_pair)
    with pytest.raises(ValueError, match=r"event_ndims must be at least 1, got 0"):
        helper(bij, tf.ones([2, 4]), 0)
    image = fb.InvertibleLinear(event_size=2, seed=0, event_ndims=3)
    with pytest.raises(ValueError, match=r"event_ndims must be at least 3, got 2"):
        helper(image, tf.ones([2, 3, 3, 2]), 2)


# --------------------------------------------------------------------------- conditioner output
@pytest.mark.parametrize("make", [
    lambda f: fb.AffineCoupling(f),
    lambda f: fb.MaskedAutoregressive(f),
], ids=["coupling", "autoregressive"])
def test_conditioner_returning_none_or_another_dtype_is_named(make):
    x = tf.ones([2, 4])
    with pytest.raises(ValueError, match=r"the conditioner returned None; expected a tensor"):
        make(lambda t: None).inverse(x)
    wrong = lambda t: tf.zeros(tf.concat([tf.shape(t), [2]], 0), tf.float64)  # noqa: E731
    with pytest.raises(ValueError, match=r"returned shift of dtype float64; expected float32"):
        make(wrong).inverse(x)


@pytest.mark.parametrize("make", [
    lambda: fb.AffineCoupling(_pair),
    lambda: fb.MaskedAutoregressive(lambda t: (tf.zeros_like(t), tf.zeros_like(t))),
], ids=["coupling", "autoregressive"])
def test_keras_input_points_to_log_prob(make):
    import keras
    with pytest.raises(TypeError, match=r"KerasTensor.*LogProb\(dist\)\(x\)"):
        make().forward(keras.Input((4,)))
