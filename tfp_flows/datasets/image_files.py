"""Loaders for image files a user already has on disk; nothing is downloaded.

- :func:`load_mnist_npz`: Keras's ``mnist.npz`` (``x_train``, ``y_train``, ``x_test``,
  ``y_test``), as ``keras.datasets.mnist.load_data`` caches it.
- :func:`load_cifar10`: CIFAR-10's python batches (``data_batch_1`` .. ``data_batch_5``,
  ``test_batch``), read with an unpickler that only builds NumPy arrays.
- :func:`load_idx`: one IDX file (``train-images-idx3-ubyte`` and friends, optionally
  gzipped): images or labels.
- :func:`load_images_npy`: a ``.npy`` of integer images.

Every loader returns integer images [N, H, W, C] (uint8 for 8-bit data) checked by
:func:`~tfp_flows.datasets.pixels.check_images`: integer dtype (floats are refused, see
there), rank 3 or 4, pixels in ``[0, num_levels)``. Problems raise ``ValueError`` naming the
file, what was expected and what came; a missing file raises ``FileNotFoundError``.
"""
import gzip
import os
import pickle
import zipfile

import numpy as np

from tfp_flows.datasets.images import ImageDataset, check_labels
from tfp_flows.datasets.pixels import check_images

__all__ = ["CIFAR10_FILES", "load_cifar10", "load_idx", "load_images_npy", "load_mnist_npz"]

CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
MNIST_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

# IDX type byte -> big-endian dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _existing_file(path):
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"file not found: {name}")
    if os.path.isdir(name):
        raise ValueError(f"{name} is a directory, expected a file")
    return name


def load_mnist_npz(path):
    """Keras's ``mnist.npz`` (e.g. ``~/.keras/datasets/mnist.npz``) as an ImageDataset.

    Args:
        path: the ``.npz`` archive, holding uint8 ``x_train`` [60000, 28, 28],
            ``y_train`` [60000], ``x_test`` [10000, 28, 28] and ``y_test`` [10000] (any
            sizes are accepted as long as images and labels agree).

    Returns:
        :class:`~tfp_flows.datasets.images.ImageDataset` with uint8 images
        [n, 28, 28, 1], int32 labels and ``num_levels=256``; Keras's own train/test split.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an ``.npz`` archive, a missing key, or bad images / labels.

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "mnist.npz")
        >>> x = np.zeros((3, 28, 28), np.uint8)
        >>> np.savez(path, x_train=x, y_train=np.array([0, 1, 2], np.uint8),
        ...          x_test=x[:1], y_test=np.array([7], np.uint8))
        >>> data = load_mnist_npz(path)
        >>> data.x_train.shape, data.y_test.tolist(), data.num_levels
        ((3, 28, 28, 1), [7], 256)
    """
    name = _existing_file(path)
    if not zipfile.is_zipfile(name):
        raise ValueError(
            f"{name}: expected an .npz archive with {', '.join(MNIST_NPZ_KEYS)} (as Keras "
            "saves mnist.npz), got a file that is not a zip archive"
        )
    with np.load(name, allow_pickle=False) as archive:
        missing = [key for key in MNIST_NPZ_KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"{name}: expected arrays {', '.join(MNIST_NPZ_KEYS)}, missing "
                f"{', '.join(missing)} (the archive holds: {', '.join(archive.files) or 'none'})"
            )
        arrays = {key: archive[key] for key in MNIST_NPZ_KEYS}
    parts = {}
    for split in ("train", "test"):
        x = check_images(arrays[f"x_{split}"], num_levels=256, source=f"{name} x_{split}")
        y = check_labels(arrays[f"y_{split}"], len(x), source=f"{name} y_{split}")
        parts[split] = (x, y)
    return ImageDataset(parts["train"][0], parts["test"][0], parts["train"][1],
                        parts["test"][1], num_levels=256)


class _ArrayUnpickler(pickle.Unpickler):
    """Builds dicts, lists, strings, numbers and NumPy arrays, nothing else (no code runs)."""

    _ALLOWED = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # how Python 3 writes an array's bytes at protocol 2
    })

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: CIFAR-10 batches hold only NumPy arrays, "
                "lists and strings"
            )
        return super().find_class(module, name)


def _read_cifar_batch(name):
    try:
        with open(name, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise ValueError(f"{name}: not a CIFAR-10 python batch ({err})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{name}: expected a dict with 'data' and 'labels', got "
                         f"{type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    missing = [key for key in ("data", "labels") if key not in batch]
    if missing:
        raise ValueError(f"{name}: expected keys 'data' and 'labels', missing "
                         f"{', '.join(repr(k) for k in missing)}")
    data = np.asarray(batch["data"])
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(
            f"{name}: expected 'data' of shape [n, 3072] (3 x 32 x 32 pixels per row, channel "
            f"first), got shape {data.shape}"
        )
    images = check_images(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), num_levels=256,
                          source=f"{name} data")
    labels = check_labels(np.asarray(batch["labels"]), len(images), source=f"{name} labels")
    return images, labels


def load_cifar10(folder):
    """CIFAR-10's python version (``cifar-10-python.tar.gz``, unpacked) as an ImageDataset.

    Each batch is a pickled dict whose ``data`` is uint8 [n, 3072]: a row is the red, then
    green, then blue 32x32 plane (channel first), turned here into [n, 32, 32, 3]. The
    pickles are read by an unpickler that builds only NumPy arrays and plain containers,
    so a tampered file cannot run code.

    Args:
        folder: the ``cifar-10-batches-py`` folder, or a folder that contains it, with
            ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``.

    Returns:
        :class:`~tfp_flows.datasets.images.ImageDataset`: uint8 images [50000, 32, 32, 3]
        (train, batches 1..5 in order) and [10000, 32, 32, 3] (test), int32 labels 0..9,
        ``num_levels=256``.

    Raises:
        FileNotFoundError: no such folder, or batch files missing (all are named).
        ValueError: a file that is not a CIFAR-10 batch, or bad images / labels.

    Example:
        >>> import os, pickle, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for name in CIFAR10_FILES:
        ...     batch = {b"data": np.full((2, 3072), 9, np.uint8), b"labels": [3, 5]}
        ...     with open(os.path.join(folder, name), "wb") as f:
        ...         pickle.dump(batch, f, protocol=2)
        >>> data = load_cifar10(folder)
        >>> data.x_train.shape, data.x_test.shape, data.y_test.tolist()
        ((10, 32, 32, 3), (2, 32, 32, 3), [3, 5])
    """
    root = os.fspath(folder)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"CIFAR-10 folder not found: {root}")
    nested = os.path.join(root, "cifar-10-batches-py")
    if not os.path.exists(os.path.join(root, CIFAR10_FILES[0])) and os.path.isdir(nested):
        root = nested
    missing = [name for name in CIFAR10_FILES if not os.path.isfile(os.path.join(root, name))]
    if missing:
        raise FileNotFoundError(
            f"{root}: expected CIFAR-10 python batches {', '.join(CIFAR10_FILES)}; missing "
            f"{', '.join(missing)}"
        )
    batches = [_read_cifar_batch(os.path.join(root, name)) for name in CIFAR10_FILES]
    x_train = np.concatenate([x for x, _ in batches[:5]])
    y_train = np.concatenate([y for _, y in batches[:5]])
    (x_test, y_test), = batches[5:]
    return ImageDataset(x_train, x_test, y_train, y_test, num_levels=256)


def load_idx(path, num_levels=256):
    """One IDX file (the MNIST / Fashion-MNIST / EMNIST format), plain or gzipped.

    The header is two zero bytes, a type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B
    int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each
    dimension as a big-endian uint32; the data follow in C order. Gzip is recognised by
    its magic bytes, whatever the file name.

    Args:
        path: the IDX file, e.g. ``train-images-idx3-ubyte`` or ``...-idx1-ubyte.gz``.
        num_levels: number of pixel levels for image files (256 for 8-bit images).

    Returns:
        For a 1-dimensional file (labels): int32 array [N]. For a 3- or 4-dimensional file
        (images): integer images [N, H, W, C] (uint8 when ``num_levels <= 256``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a bad header (magic number, type, dimensions), data that are shorter or
            longer than the header says, another rank, or bad images / labels.

    Example:
        >>> import os, struct, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "images-idx3-ubyte")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(struct.pack(">BBBBIII", 0, 0, 0x08, 3, 2, 2, 3) + bytes(range(12)))
        >>> x = load_idx(path)
        >>> x.shape, x.dtype.name, int(x[1, 1, 2, 0])
        ((2, 2, 3, 1), 'uint8', 11)
    """
    name = _existing_file(path)
    with open(name, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{name}: a damaged gzip file ({err})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{name}: expected an IDX file starting with the magic number 00 00 <type> <ndim> "
            f"(type one of {', '.join(f'0x{t:02X}' for t in _IDX_DTYPES)}), got "
            f"{raw[:4].hex(' ') or 'an empty file'}"
        )
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{name}: the IDX header declares {ndim} dimensions but the file is "
                         f"{len(raw)} bytes long")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{name}: the IDX header declares shape {dims} of {dtype.newbyteorder('=')} "
            f"({expected} bytes of data), got {len(raw) - header} bytes after the header"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(dims)
    data = data.astype(dtype.newbyteorder("="))
    if ndim == 1:
        return check_labels(data, len(data), source=name)
    if ndim not in (3, 4):
        raise ValueError(
            f"{name}: expected labels (1 dimension) or images (3 or 4 dimensions), got "
            f"{ndim} dimensions {dims}"
        )
    return check_images(data, num_levels=num_levels, source=name)


def load_images_npy(path, num_levels=256):
    """A ``.npy`` of integer images, [N, H, W] or [N, H, W, C].

    Args:
        path: the ``.npy`` file (saved with :func:`numpy.save`; object arrays are refused).
        num_levels: number of pixel levels (256 for 8-bit images).

    Returns:
        Integer images [N, H, W, C], uint8 when ``num_levels <= 256``. Pair them with
        labels, if any, through :func:`~tfp_flows.datasets.images.split_images`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a ``.npy`` file, or a float dtype, wrong rank, or pixels outside
            ``[0, num_levels)`` (see :func:`~tfp_flows.datasets.pixels.check_images`).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "images.npy")
        >>> np.save(path, np.arange(5 * 4 * 4).reshape(5, 4, 4) % 256)
        >>> x = load_images_npy(path)
        >>> x.shape, x.dtype.name
        ((5, 4, 4, 1), 'uint8')
    """
    name = _existing_file(path)
    if zipfile.is_zipfile(name):
        raise ValueError(f"{name}: expected a .npy array, got an .npz archive (a zip file); "
                         "open it with np.load and pass an array to check_images")
    try:
        array = np.load(name, allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:
        raise ValueError(f"{name}: not a readable .npy array of numbers ({err})") from None
    return check_images(array, num_levels=num_levels, source=name)
