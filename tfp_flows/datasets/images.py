"""Small image data sets that ship offline, and uniform dequantisation.

Discrete pixel values ``x in {0, ..., L-1}`` have no density; adding ``u ~ U[0, 1)`` gives
a continuous variable whose density ``p(x + u)`` lower-bounds the discrete likelihood
(Theis et al. 2016), so a flow can be fitted to ``dequantize(x)``.
"""
import dataclasses

import numpy as np

__all__ = ["ImageDataset", "dequantize", "digits"]


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """Integer images with labels, split into train and test.

    Attributes:
        x_train, x_test: int32 arrays [n, height, width, channels], values in
            ``0 .. num_levels - 1``.
        y_train, y_test: int32 label arrays [n].
        num_levels: number of distinct pixel values.
    """

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    num_levels: int = 17


def digits(test_size=0.2, seed=0):
    """scikit-learn's 8x8 handwritten digits (1797 images, no download) as integer images.

    Pixels take the values 0..16 (``num_levels = 17``). The split is stratified by label
    and reproducible through ``seed``.

    Args:
        test_size: fraction of images in the test set, in (0, 1).
        seed: random state of the split.

    Returns:
        :class:`ImageDataset` with int32 images of shape [n, 8, 8, 1].

    Example:
        >>> data = digits(test_size=0.2, seed=0)
        >>> data.x_train.shape, data.x_test.shape, data.num_levels
        ((1437, 8, 8, 1), (360, 8, 8, 1), 17)
        >>> int(data.x_train.max())
        16
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not (np.isscalar(test_size) and 0.0 < test_size < 1.0):
        raise ValueError(f"expected `test_size` to be a fraction in (0, 1), got {test_size!r}")
    raw = load_digits()
    images = np.rint(raw.images).astype(np.int32)[..., None]
    labels = raw.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels
    )
    return ImageDataset(x_train, x_test, y_train, y_test, num_levels=17)


def dequantize(x_int, seed=None, num_levels=256):
    """Uniform dequantisation ``x + u``, ``u ~ U[0, 1)`` elementwise, as float32.

    Args:
        x_int: array of integers in ``[0, num_levels)``; an integer dtype, or floats that
            are whole numbers.
        seed: anything :func:`numpy.random.default_rng` accepts.
        num_levels: number of pixel levels (256 for 8-bit images, 17 for
            :func:`digits`).

    Returns:
        float32 array of the same shape with values in ``[0, num_levels)``.

    Example:
        >>> y = dequantize(np.array([0, 3, 16]), seed=0, num_levels=17)
        >>> y.dtype.name, np.floor(y).astype(int).tolist()
        ('float32', [0, 3, 16])
    """
    if isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) \
            or num_levels < 2:
        raise ValueError(f"expected `num_levels` to be an integer >= 2, got {num_levels!r}")
    x = np.asarray(x_int)
    if x.dtype.kind not in "iuf":
        raise ValueError(f"expected integer pixel values, got an array of dtype {x.dtype}")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x) | (x != np.round(x))
        if np.any(bad):
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"expected integer pixel values in [0, {num_levels}), got {x[idx].item()!r} at "
                f"index {idx}"
            )
    outside = (x < 0) | (x >= num_levels)
    if np.any(outside):
        idx = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(
            f"expected integer pixel values in [0, {num_levels}), got {x[idx].item()!r} at index "
            f"{idx}"
        )
    u = np.random.default_rng(seed).random(x.shape)
    x64 = x.astype(np.float64)
    y = (x64 + u).astype(np.float32)
    # float32 rounding can turn k + 0.99999999 into k + 1; keep floor(y) == x.
    ceiling = np.nextafter((x64 + 1.0).astype(np.float32), np.float32(0))
    return np.minimum(y, ceiling)
