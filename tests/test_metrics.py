"""training.metrics.bits_per_dim: the model's own num_levels and the pixels' range are
checked before any log_prob (they used to give (nan, nan))."""
import math

import numpy as np
import pytest

from tfp_flows import FlowModel
from tfp_flows.layers import LogitLayer
from tfp_flows.training.metrics import bits_per_dim, bits_per_image


@pytest.fixture(scope="module")
def model17():
    """A flow over 2x2x1 images with 17 levels (a logit and a normal base, no weights)."""
    return FlowModel([LogitLayer(num_levels=17)], event_shape=(2, 2, 1), num_levels=17)


def _images(high, value=None):
    x = np.random.default_rng(0).integers(0, high, size=(6, 2, 2, 1))
    x[0, 0, :, 0] = [0, high - 1]  # both ends of the range
    if value is not None:
        x[3, 1, 0, 0] = value
    return x


def test_bits_per_dim_of_integer_images_in_range_is_finite(model17):
    value, error = bits_per_dim(model17, _images(17), num_levels=17, num_draws=2)
    assert math.isfinite(value) and math.isfinite(error) and value > 0


def test_a_num_levels_other_than_the_models_is_an_error(model17):
    with pytest.raises(ValueError, match=r"num_levels=256 does not match the model's own "
                                         r"num_levels=17"):
        bits_per_dim(model17, _images(17, value=100), num_levels=256)


@pytest.mark.parametrize("value, says", [
    (100, r"got values up to 100 in image 3 \(values found in \[0, 100\]\)"),
    (-1, r"got values down to -1 in image 3 \(values found in \[-1, 16\]\)"),
])
def test_pixels_outside_the_levels_are_an_error_naming_the_range(model17, value, says):
    with pytest.raises(ValueError, match=r"bits_per_dim's images \(integer pixel values in "
                                         r"\[0, 17\), dequantised here\): pixels must be "
                                         r"integers in \[0, 17\), " + says):
        bits_per_image(model17, _images(17, value=value), num_levels=17)


@pytest.mark.parametrize("images, says", [
    (_images(17).astype("float32"), r"all whole numbers .* x\.astype\(\"int32\"\)"),
    (_images(17) / 16.0, r"values in \[0, 1\] look like scaled pixels"),
    (_images(17) + 0.5, r"integer pixel values .*: got float pixels that are already "
                        r"dequantised"),
])
def test_float_images_are_refused(model17, images, says):
    with pytest.raises(ValueError, match=says):
        bits_per_dim(model17, images, num_levels=17)


class _Shift:
    """p(x | c) = N(x; c, 1) in one dimension, duck-typed."""

    def log_prob(self, x, context):
        return -0.5 * ((np.asarray(x) - context) ** 2).sum(-1) - 0.5 * math.log(2 * math.pi)


def test_one_context_row_serves_all_data_rows():
    from tfp_flows.training import negative_log_likelihoods

    x = np.arange(5.0)[:, None]
    one = negative_log_likelihoods(_Shift(), x, batch_size=2, context=[1.0])
    each = negative_log_likelihoods(_Shift(), x, batch_size=2, context=np.ones((5, 1)))
    np.testing.assert_array_equal(one, each)
    with pytest.raises(ValueError, match=r"one context row per data row, shape \[5, K\], or"):
        negative_log_likelihoods(_Shift(), x, context=np.ones((2, 1)))


def test_context_gain_is_the_nll_given_shuffled_contexts_minus_the_right_ones():
    from tfp_flows.training import context_gain, mean_nll

    c = np.arange(20.0)[:, None]
    x = c + 0.1
    gain = context_gain(_Shift(), x, c, seed=3)
    shuffled = c[np.random.default_rng(3).permutation(20)]
    expected = (mean_nll(_Shift(), x, context=shuffled).value
                - mean_nll(_Shift(), x, context=c).value)
    assert gain.value == pytest.approx(expected) and gain.value > 1 and gain.std_error > 0
    assert context_gain(_Shift(), x, np.zeros((20, 1))) == (0.0, 0.0)   # all contexts alike


def test_context_gain_of_images_pairs_the_dequantisation_noise(model17):
    from tfp_flows.training import context_gain

    class Unconditional:   # ignores its context: exactly 0 with the same noise for both terms
        num_levels = 17

        def log_prob(self, x, context):
            return model17.log_prob(x)

    gain = context_gain(Unconditional(), _images(17), np.eye(6), num_levels=17, num_draws=2)
    assert gain == (0.0, 0.0)
