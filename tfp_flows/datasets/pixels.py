"""Pixels: the one rule for what counts as integer or dequantised pixels, the check for
integer images, uniform dequantisation and its inverse (samples back to integer pixels).

Discrete pixel values ``x in {0, ..., K-1}`` have no density; adding ``u ~ U[0, 1)`` gives
a continuous variable whose density ``p(x + u)`` lower-bounds the discrete likelihood
(Theis et al. 2016), so a flow is fitted to ``dequantize(x)``.

The rule (:func:`check_pixels`), applied wherever pixels come in:

- integer arrays must lie in ``[0, K)``: they are integer pixels, to be dequantised;
- float arrays must be dequantised pixels, ``x + u`` in ``[0, K)``. Three kinds of float
  arrays are refused, each with a message naming the fix: all values whole numbers
  (integer pixels stored as floats: pass ``x.astype("int32")`` so that they are
  dequantised, instead of fitting the bins' corners), all values in ``[0, 1]`` when
  ``K > 2`` (pixels scaled to ``[0, 1]``: pass ``np.rint(x * (K - 1))`` as integers), and
  values outside ``[0, K)`` (the range found is named).
"""
import math

import numpy as np

__all__ = ["check_images", "check_pixels", "dequantize", "quantize"]


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


def _first_outside(x, num_levels):
    """``(index of the first image with a pixel outside [0, K), "values up/down to v")``, or
    ``None`` when every pixel is inside."""
    flat = x.reshape(len(x), -1) if x.ndim > 1 else x.reshape(-1, 1)
    low, high = flat.min(axis=1), flat.max(axis=1)
    bad = np.flatnonzero((low < 0) | (high >= num_levels))
    if not bad.size:
        return None
    i = int(bad[0])
    return i, (f"values up to {high[i]:g}" if high[i] >= num_levels
               else f"values down to {low[i]:g}")


def check_pixels(x, num_levels, what="images"):
    """Checks pixels against the rule of this module and says which kind they are.

    Any shape is accepted (the first axis counts images, for messages); the array is
    returned as it came (``np.asarray``), neither cast nor copied.

    Args:
      x: array-like of pixels, ``[n, ...]``: integers in ``[0, num_levels)``, or
        dequantised floats ``x + u`` in ``[0, num_levels)``.
      num_levels: ``K``, the number of pixel levels, an integer >= 2.
      what: the name of ``x`` in messages (e.g. ``"fit's images"``).

    Returns:
      ``(array, is_integer)``: ``is_integer`` is ``True`` for integer pixels (to be
      dequantised), ``False`` for dequantised float pixels (to be used as they are).

    Raises:
      ValueError: a boolean, complex or non-numeric array; an integer pixel outside
        ``[0, K)``; a NaN or infinite float; floats outside ``[0, K)``; floats that are all
        whole numbers (integer pixels stored as floats); floats all in ``[0, 1]`` when
        ``K > 2`` (scaled pixels). Each message names the range found and the fix.

    Example:
        >>> check_pixels(np.array([[0, 16]]), num_levels=17)[1]
        True
        >>> check_pixels(np.array([[0.3, 16.9]]), num_levels=17)[1]   # dequantised
        False
        >>> check_pixels(np.array([[0.0, 16.0]]), num_levels=17)
        Traceback (most recent call last):
        ...
        ValueError: images: expected integer pixels in [0, 17), got an array of dtype float64 whose values are all whole numbers (in [0, 16]): integer pixels stored as floats; pass them as integers, x.astype("int32") or x.astype(np.uint8), so that they are dequantised (x + u, u ~ U[0, 1))
        >>> check_pixels(np.array([[0.0, 0.25, 1.0]]), num_levels=17)
        Traceback (most recent call last):
        ...
        ValueError: images: float pixels of dtype float64; values in [0, 1] look like scaled pixels (values in [0, 1]), but num_levels=17 takes pixels in [0, 17): pass the integers np.rint(x * 16).astype("int32") (or dequantised floats in [0, 17))
        >>> check_pixels(np.array([[3, 300]]), num_levels=256)
        Traceback (most recent call last):
        ...
        ValueError: images: pixels must be integers in [0, 256), got values up to 300 in image 0 (values found in [3, 300])
    """
    num_levels = _check_num_levels(num_levels)
    x = np.asarray(x)
    if x.dtype.kind == "b":
        raise ValueError(f"{what}: expected integer pixels, got a boolean array; for binary "
                         "images use x.astype(np.uint8) with num_levels=2")
    if x.dtype.kind not in "iuf":
        raise ValueError(f"{what}: expected integer or float pixels in [0, {num_levels}), got "
                         f"an array of dtype {x.dtype}")
    if x.size == 0:
        return x, x.dtype.kind in "iu"
    found = f"[{x.min():g}, {x.max():g}]"
    if x.dtype.kind in "iu":
        outside = _first_outside(x, num_levels)
        if outside is not None:
            raise ValueError(f"{what}: pixels must be integers in [0, {num_levels}), got "
                             f"{outside[1]} in image {outside[0]} (values found in {found})")
        return x, True
    if not np.isfinite(x).all():
        i = int(np.argmax(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))) if x.ndim else 0
        raise ValueError(f"{what}: pixels must be finite numbers in [0, {num_levels}), got a "
                         f"NaN or infinite value in image {i}")
    outside = _first_outside(x, num_levels)
    if outside is not None:
        raise ValueError(f"{what}: float pixels must be dequantised pixels in "
                         f"[0, {num_levels}), got {outside[1]} in image {outside[0]} "
                         f"(values found in {found})")
    if np.all(x == np.floor(x)):
        raise ValueError(
            f"{what}: expected integer pixels in [0, {num_levels}), got an array of dtype "
            f"{x.dtype} whose values are all whole numbers (in {found}): integer pixels "
            "stored as floats; pass them "
            'as integers, x.astype("int32") or x.astype(np.uint8), so that they are '
            "dequantised (x + u, u ~ U[0, 1))")
    if num_levels > 2 and x.max() <= 1.0:
        raise ValueError(
            f"{what}: float pixels of dtype {x.dtype}; values in [0, 1] look like scaled "
            f"pixels (values in {found}), but num_levels={num_levels} takes pixels in "
            f'[0, {num_levels}): pass the integers np.rint(x * {num_levels - 1}).astype("int32")'
            f" (or dequantised floats in [0, {num_levels}))")
    return x, False


def check_images(images, num_levels=256, source="images"):
    """Check integer images and return them as [N, H, W, C] of the smallest unsigned dtype.

    Images must be stored as integers (:func:`check_pixels` is the rule): float arrays are
    refused, with the fix for each kind (whole numbers: ``x.astype(np.uint8)``; pixels
    scaled to ``[0, 1]``: ``np.rint(x * (K - 1))``; dequantised floats:
    ``np.floor(x)``), because rounding them silently could change the data. A rank-3 array
    [N, H, W] gets a channel axis; a single [H, W, C] image must be given as ``image[None]``.

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
            ``images: pixels must be integers in [0, 256), got values up to 300 in image 3
            (values found in [0, 300])``.

    Example:
        >>> x = check_images(np.array([[[0, 255], [7, 8]]]))
        >>> x.shape, x.dtype.name
        ((1, 2, 2, 1), 'uint8')
        >>> check_images(np.array([[[0, 300]]]))
        Traceback (most recent call last):
        ...
        ValueError: images: pixels must be integers in [0, 256), got values up to 300 in image 0 (values found in [0, 300])
    """
    num_levels = _check_num_levels(num_levels)
    x = np.asarray(images)
    if x.dtype.kind in "bf":
        x, _ = check_pixels(x, num_levels, source)  # refuses booleans and the float kinds
        if x.size:
            raise ValueError(
                f"{source}: expected integer pixels in [0, {num_levels}), got dequantised "
                f"float pixels (dtype {x.dtype}); np.floor(x).astype(np.uint8) gives the "
                "integers back if they are x + u")
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
    check_pixels(x, num_levels, source)
    return np.ascontiguousarray(x.astype(_pixel_dtype(num_levels), copy=False))


def dequantize(x_int, seed=None, num_levels=256):
    """Uniform dequantisation ``x + u``, ``u ~ U[0, 1)`` elementwise, as float32.

    Args:
        x_int: integer pixels in ``[0, num_levels)``, an integer array (floats are refused,
            see :func:`check_pixels`: whole-number floats want ``x.astype("int32")``).
        seed: anything :func:`numpy.random.default_rng` accepts.
        num_levels: number of pixel levels (256 for 8-bit images, 17 for
            :func:`~tfp_flows.datasets.digits`).

    Returns:
        float32 array of the same shape with values in ``[0, num_levels)``;
        ``floor(dequantize(x)) == x``.

    Example:
        >>> y = dequantize(np.array([0, 3, 16]), seed=0, num_levels=17)
        >>> y.dtype.name, np.floor(y).astype(int).tolist()
        ('float32', [0, 3, 16])
    """
    x, is_integer = check_pixels(x_int, num_levels, "dequantize's pixels")
    if not is_integer:
        raise ValueError(
            f"dequantize's pixels: expected integer pixels in [0, {num_levels}), got float "
            f"pixels that are already dequantised (values in [{x.min():g}, {x.max():g}])")
    u = np.random.default_rng(seed).random(x.shape)
    x64 = x.astype(np.float64)
    y = (x64 + u).astype(np.float32)
    # float32 rounding can turn k + 0.99999999 into k + 1; keep floor(y) == x.
    ceiling = np.nextafter((x64 + 1.0).astype(np.float32), np.float32(0))
    return np.minimum(y, ceiling)


def quantize(x, num_levels=256):
    r"""Samples of an image flow, ``x + u`` in ``[0, K)``, back to integer pixels: the inverse
    of :func:`dequantize`, :math:`\operatorname{clip}(\lfloor x \rfloor, 0, K - 1)`.

    Unlike :func:`check_pixels` nothing is refused: samples a little outside ``[0, K)`` are
    clipped, and values that are not finite (a diverged model) become 0.

    Args:
        x: array-like of floats (model samples or dequantised pixels), any shape.
        num_levels: ``K``, the number of pixel levels.

    Returns:
        An array of the shape of ``x`` with integers in ``0 .. K-1``, of the smallest
        unsigned dtype that holds them (``uint8`` for ``K <= 256``).

    Example:
        >>> quantize(np.array([-0.2, 0.7, 3.99, 4.0, np.nan]), num_levels=4).tolist()
        [0, 0, 3, 3, 0]
        >>> x = np.array([0, 5, 16])
        >>> np.array_equal(quantize(dequantize(x, seed=0, num_levels=17), 17), x)
        True
    """
    k = _check_num_levels(num_levels)
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(np.floor(x), 0, k - 1).astype(_pixel_dtype(k))
