"""Binary masks for coupling layers.

A mask has the event shape of the data; entries equal to 1 are *conditioning* entries
(passed through unchanged and fed to the conditioner), entries equal to 0 are transformed.
Real NVP (Dinh et al. 2017) alternates masks between layers so every entry gets transformed.
"""
import numpy as np

__all__ = ["checkerboard_mask", "channel_mask", "half_mask", "split_sizes", "validate_mask"]


def _image_shape(event_shape):
    shape = tuple(int(s) for s in event_shape)
    if len(shape) != 3:
        raise ValueError(
            f"expected an image event shape (height, width, channels), got {shape}"
        )
    return shape


def checkerboard_mask(event_shape, reverse=False, dtype="float32"):
    """Spatial checkerboard mask for image events of shape (H, W, C).

    ``mask[i, j, c] = (i + j + 1) % 2``: 1 on the squares where ``i + j`` is even,
    0 elsewhere; ``reverse=True`` swaps the two colours.

    Example:
        >>> checkerboard_mask((2, 2, 1))[..., 0]
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    height, width, channels = _image_shape(event_shape)
    i, j = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    board = ((i + j) % 2 == 0).astype(dtype)
    if reverse:
        board = 1 - board
    return np.repeat(board[..., None], channels, axis=-1)


def channel_mask(event_shape, reverse=False, dtype="float32"):
    """Channel-wise mask for image events of shape (H, W, C): the first C // 2 channels
    condition, the rest are transformed (``reverse=True`` swaps the halves).

    Example:
        >>> channel_mask((1, 1, 4))[0, 0]
        array([1., 1., 0., 0.], dtype=float32)
    """
    height, width, channels = _image_shape(event_shape)
    if channels < 2:
        raise ValueError(f"a channel mask needs at least 2 channels, got {channels}")
    row = (np.arange(channels) < channels // 2).astype(dtype)
    if reverse:
        row = 1 - row
    return np.broadcast_to(row, (height, width, channels)).copy()


def half_mask(event_size, num_masked=None, reverse=False, dtype="float32"):
    """Vector mask: the first ``num_masked`` entries condition (default ``size // 2``);
    ``reverse=True`` makes the *last* ``num_masked`` entries condition instead.

    Example:
        >>> half_mask(3, num_masked=1, reverse=True)
        array([0., 0., 1.], dtype=float32)
    """
    event_size = int(event_size)
    num_masked = event_size // 2 if num_masked is None else int(num_masked)
    if not 0 < num_masked < event_size:
        raise ValueError(
            f"num_masked must be in [1, {event_size - 1}] for event size {event_size}, "
            f"got {num_masked}"
        )
    mask = (np.arange(event_size) < num_masked).astype(dtype)
    return mask[::-1].copy() if reverse else mask


def split_sizes(size, num_masked=None, fraction_masked=None, reverse=False, name="coupling"):
    """``(first, second)``: the sizes of the two contiguous parts of a vector of ``size``
    entries that a coupling splits, the conditioning part being ``num_masked`` entries (or
    ``round(fraction_masked * size)``, or half) at the start (at the end with ``reverse``).

    Example:
        >>> split_sizes(5), split_sizes(5, num_masked=1, reverse=True)
        ((2, 3), (4, 1))
    """
    if num_masked is not None:
        d = int(num_masked)
    elif fraction_masked is not None:
        d = int(round(size * float(fraction_masked)))
    else:
        d = size // 2
    if not 0 < d < size:
        raise ValueError(f"{name}: {d} conditioning entries do not fit an event of size "
                         f"{size}; expected between 1 and {size - 1}")
    return (size - d, d) if reverse else (d, size - d)


def validate_mask(mask):
    """Returns ``mask`` as a float NumPy array after checking it is binary and has
    both conditioning (1) and transformed (0) entries; raises ``ValueError`` otherwise."""
    mask = np.asarray(mask, dtype="float64")
    if mask.ndim == 0:
        raise ValueError("a coupling mask must have the event's shape, got a scalar")
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError(
            f"a coupling mask must contain only 0 and 1, got values {np.unique(mask).tolist()}"
        )
    if mask.all() or not mask.any():
        raise ValueError(
            "a coupling mask needs both conditioning (1) and transformed (0) entries, "
            f"got all {int(mask.flat[0])}"
        )
    return mask
