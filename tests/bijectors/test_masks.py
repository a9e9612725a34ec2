"""Coupling masks: patterns, complements, dtypes, vector splits."""
import numpy as np
import pytest

from tfp_flows import bijectors as fb
from tfp_flows.bijectors.masks import split_sizes, validate_mask


def test_checkerboard_pattern_and_its_reverse():
    mask = fb.checkerboard_mask((3, 4, 2))
    assert mask.shape == (3, 4, 2) and mask.dtype == np.float32
    i, j = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    np.testing.assert_array_equal(mask[..., 0], (i + j) % 2 == 0)
    np.testing.assert_array_equal(mask[..., 0], mask[..., 1])  # the same on every channel
    np.testing.assert_array_equal(fb.checkerboard_mask((3, 4, 2), reverse=True), 1 - mask)
    assert fb.checkerboard_mask((2, 2, 1), dtype="float64").dtype == np.float64


def test_channel_mask_halves_the_channels():
    mask = fb.channel_mask((2, 3, 5))
    assert mask.shape == (2, 3, 5)
    np.testing.assert_array_equal(mask[1, 2], [1, 1, 0, 0, 0])  # first C // 2 condition
    np.testing.assert_array_equal(fb.channel_mask((2, 3, 5), reverse=True), 1 - mask)
    mask.flags.writeable = True
    mask[0, 0, 0] = 5  # a copy, not a broadcast view
    assert mask[1, 1, 0] == 1


@pytest.mark.parametrize("size,num_masked,reverse,want", [
    (4, None, False, [1, 1, 0, 0]),
    (5, None, False, [1, 1, 0, 0, 0]),
    (5, 3, False, [1, 1, 1, 0, 0]),
    (3, 1, True, [0, 0, 1]),
])
def test_half_mask(size, num_masked, reverse, want):
    np.testing.assert_array_equal(fb.half_mask(size, num_masked=num_masked, reverse=reverse),
                                  want)


@pytest.mark.parametrize("args,want", [
    (dict(size=5), (2, 3)),
    (dict(size=5, num_masked=1, reverse=True), (4, 1)),
    (dict(size=10, fraction_masked=0.3), (3, 7)),
    (dict(size=8, fraction_masked=0.9, reverse=True), (1, 7)),
])
def test_split_sizes(args, want):
    assert split_sizes(**args) == want


def test_a_half_mask_agrees_with_the_vector_split_of_a_coupling():
    """mask=half_mask(...) and num_masked=... transform the same entries."""
    for size, d, reverse in [(5, 2, False), (5, 2, True), (4, 1, True)]:
        first, _ = split_sizes(size, num_masked=d, reverse=reverse)
        mask = fb.half_mask(size, num_masked=d, reverse=reverse)
        conditioning = np.arange(size)[mask == 1]
        expected = np.arange(first, size) if reverse else np.arange(first)
        np.testing.assert_array_equal(conditioning, expected)


def test_validate_mask_returns_a_float_array():
    mask = validate_mask([[1, 0], [0, 1]])
    assert mask.dtype == np.float64 and mask.shape == (2, 2)
