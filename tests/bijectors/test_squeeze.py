"""Squeeze: the exact entry mapping, the checkerboard-to-channel property that real_nvp's mask
alternation relies on, event shapes (static and tensor, with batch axes), graph mode.
(Round trips, zero log-det vs the Jacobian, dtypes and batch shapes: the registry; odd sizes:
test_bad_input.py.)"""
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import bijectors as fb
from tfp_flows.bijectors.squeeze import SQUEEZE_ORDER


def _reference_squeeze(x):
    """y[..., i, j, k C + c] = x[..., 2i + a_k, 2j + b_k, c], written with loops."""
    *batch, h, w, c = x.shape
    y = np.empty(tuple(batch) + (h // 2, w // 2, 4 * c), x.dtype)
    for i in range(h // 2):
        for j in range(w // 2):
            for k, (a, b) in enumerate(SQUEEZE_ORDER):
                y[..., i, j, k * c:(k + 1) * c] = x[..., 2 * i + a, 2 * j + b, :]
    return y


def test_squeeze_order_is_the_diagonal_then_the_anti_diagonal():
    assert SQUEEZE_ORDER == ((0, 0), (1, 1), (0, 1), (1, 0))


@pytest.mark.parametrize("shape", [(4, 6, 3), (2, 3, 2, 4, 1)], ids=str)
def test_each_entry_lands_where_the_order_says(shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    y = fb.Squeeze().forward(x).numpy()
    np.testing.assert_array_equal(y, _reference_squeeze(x))
    np.testing.assert_array_equal(fb.Squeeze().inverse(tf.constant(y)).numpy(), x)


def test_top_left_block_of_a_small_image():
    """The 2x2 block [[0, 1], [4, 5]] of a 4x4 ramp gives channels (0, 5, 1, 4)."""
    x = tf.reshape(tf.range(16.0), [4, 4, 1])
    y = fb.Squeeze().forward(x).numpy()
    assert y.shape == (2, 2, 4)
    np.testing.assert_array_equal(y[0, 0], [0.0, 5.0, 1.0, 4.0])
    np.testing.assert_array_equal(y[1, 1], [10.0, 15.0, 11.0, 14.0])
    np.testing.assert_array_equal(y[0, 1], [2.0, 7.0, 3.0, 6.0])


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("reverse", [False, True])
def test_a_checkerboard_colour_becomes_the_first_half_of_the_channels(channels, reverse):
    """After a squeeze, a channel mask conditions on the same entries as a checkerboard mask
    before it, so real_nvp's checkerboard/channel alternation covers every entry."""
    shape = (4, 6, channels)
    board = fb.checkerboard_mask(shape, reverse=reverse)
    squeezed = fb.Squeeze().forward(board).numpy()
    np.testing.assert_array_equal(squeezed, fb.channel_mask(fb.squeezed_shape(shape),
                                                            reverse=reverse))


def test_log_det_is_zero_and_constant():
    bij = fb.Squeeze()
    x = tf.random.normal([3, 4, 4, 2])
    assert bij.is_constant_jacobian
    np.testing.assert_array_equal(bij.forward_log_det_jacobian(x, event_ndims=3).numpy(), 0.0)
    y = bij.forward(x)
    np.testing.assert_array_equal(bij.inverse_log_det_jacobian(y, event_ndims=3).numpy(), 0.0)


def test_static_event_shapes_with_batch_axes():
    bij = fb.Squeeze()
    assert bij.forward_event_shape([2, 3, 4, 6, 5]) == [2, 3, 2, 3, 20]
    assert bij.inverse_event_shape([2, 3, 2, 3, 20]) == [2, 3, 4, 6, 5]
    assert bij.forward_event_shape([None, 4, 6, 5]).as_list() == [None, 2, 3, 20]
    assert fb.squeezed_shape((8, 6, 1)) == (4, 3, 4)
    assert fb.unsqueezed_shape((4, 3, 4)) == (8, 6, 1)
    assert fb.squeezed_shape((7, 8, 6, 1)) == (7, 4, 3, 4)
    assert fb.squeezed_shape((None, 6, 1)) == (None, 3, 4)
    assert fb.unsqueezed_shape((2, None, 8)) == (4, None, 2)


def test_tensor_event_shapes_with_batch_axes():
    bij = fb.Squeeze()
    np.testing.assert_array_equal(
        bij.forward_event_shape_tensor(tf.constant([2, 3, 4, 6, 5])).numpy(), [2, 3, 2, 3, 20])
    np.testing.assert_array_equal(
        bij.inverse_event_shape_tensor(tf.constant([2, 3, 2, 3, 20])).numpy(), [2, 3, 4, 6, 5])
    np.testing.assert_array_equal(
        bij.forward_event_shape_tensor(tf.constant([4, 6, 5])).numpy(), [2, 3, 20])
    # ...and they agree with what the maps return.
    x = tf.zeros([2, 3, 4, 6, 5])
    assert bij.forward(x).shape == bij.forward_event_shape(x.shape)


def test_inside_tf_function_with_an_unknown_batch():
    bij = fb.Squeeze()
    spec = tf.TensorSpec([None, None, 4, 6, 2])
    forward = tf.function(bij.forward, input_signature=[spec])
    inverse = tf.function(bij.inverse, input_signature=[tf.TensorSpec([None, None, 2, 3, 8])])
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 6, 2)).astype("float32")
    y = forward(x)
    np.testing.assert_array_equal(y.numpy(), _reference_squeeze(x))
    np.testing.assert_array_equal(inverse(y).numpy(), x)
    assert forward.get_concrete_function().output_shapes.as_list() == [None, None, 2, 3, 8]
