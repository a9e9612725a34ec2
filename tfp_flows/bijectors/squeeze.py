"""Squeeze: trade space for channels, ``[H, W, C] -> [H/2, W/2, 4C]`` (Dinh et al. 2017)."""
import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["Squeeze", "SQUEEZE_ORDER", "squeezed_shape", "unsqueezed_shape"]

#: Where each group of ``C`` output channels comes from in its 2x2 block, as (row, column)
#: offsets. The first two groups are the block's diagonal, so the first half of the squeezed
#: channels is one colour of a checkerboard of the input and the second half the other: a
#: channel mask after a squeeze complements the checkerboard masks before it, and the half
#: of the channels factored out after a scale is a contiguous block.
SQUEEZE_ORDER = ((0, 0), (1, 1), (0, 1), (1, 0))
_GATHER = [2 * i + j for i, j in SQUEEZE_ORDER]
_SCATTER = [_GATHER.index(k) for k in range(4)]


def _image(shape, what):
    shape = tuple(tf.TensorShape(shape).as_list())
    if len(shape) < 3:
        raise ValueError(f"{what} acts on images [..., height, width, channels], got shape "
                         f"{shape}")
    return shape


def squeezed_shape(event_shape):
    """``(H, W, C) -> (H/2, W/2, 4C)``; a ``ValueError`` for odd ``H`` or ``W``.

    Example:
        >>> squeezed_shape((8, 6, 1))
        (4, 3, 4)
    """
    *batch, h, w, c = _image(event_shape, "Squeeze")
    if (h is not None and h % 2) or (w is not None and w % 2):
        raise ValueError(f"Squeeze needs an even height and width, got an image of shape "
                         f"(height, width, channels) = {(h, w, c)}")
    half = lambda n: None if n is None else n // 2  # noqa: E731
    return tuple(batch) + (half(h), half(w), None if c is None else 4 * c)


def unsqueezed_shape(event_shape):
    """``(H, W, 4C) -> (2H, 2W, C)``, the inverse of :func:`squeezed_shape`.

    Example:
        >>> unsqueezed_shape((4, 3, 4))
        (8, 6, 1)
    """
    *batch, h, w, c = _image(event_shape, "Squeeze's inverse")
    if c is not None and c % 4:
        raise ValueError(f"undoing a squeeze needs a multiple of 4 channels, got an image of "
                         f"shape (height, width, channels) = {(h, w, c)}")
    double = lambda n: None if n is None else 2 * n  # noqa: E731
    return tuple(batch) + (double(h), double(w), None if c is None else c // 4)


class Squeeze(tfb.Bijector):
    r"""Moves each 2x2 block of pixels into the channels: ``[..., H, W, C] ->
    [..., H/2, W/2, 4C]``.

    .. math::
        y_{i, j, k C + c} = x_{2i + a_k,\, 2j + b_k,\, c}, \qquad
        (a_k, b_k) = (0, 0), (1, 1), (0, 1), (1, 0), \qquad \log|\det J| = 0.

    A permutation of the entries, so the log-det is zero and the inverse is exact. The order
    of the four offsets (:data:`SQUEEZE_ORDER`) puts one colour of the input's checkerboard in
    the first ``2C`` channels and the other colour in the last ``2C``. Real NVP squeezes between
    its checkerboard and its channel-wise couplings; Glow squeezes at the start of each scale.
    In a flow written from the base to the data (as ``tfd.TransformedDistribution`` and
    :class:`~tfp_flows.FlowModel` are), use ``tfb.Invert(Squeeze())``, or
    :class:`~tfp_flows.layers.SqueezeLayer`.

    Height and width must be even; an odd one is a ``ValueError`` naming the shape.

    Example:
        >>> x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
        >>> y = Squeeze().forward(x)
        >>> y.shape, y[0, 0, 0].numpy().tolist()   # the top-left 2x2 block: 0, 5, 1, 4
        (TensorShape([1, 2, 2, 4]), [0.0, 5.0, 1.0, 4.0])
        >>> bool(tf.reduce_all(Squeeze().inverse(y) == x))
        True
    """

    def __init__(self, validate_args=False, name="squeeze"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            super().__init__(forward_min_event_ndims=3, is_constant_jacobian=True,
                             validate_args=validate_args, parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _forward(self, x):
        h, w, c = squeezed_shape(x.shape)[-3:]
        batch = tf.shape(x)[:-3]
        blocks = tf.reshape(x, tf.concat([batch, [h, 2, w, 2, x.shape[-1]]], 0))
        rank = blocks.shape.rank
        perm = list(range(rank - 5)) + [rank - 5, rank - 3, rank - 4, rank - 2, rank - 1]
        blocks = tf.transpose(blocks, perm)  # [..., h, w, 2 (row), 2 (column), C]
        blocks = tf.reshape(blocks, tf.concat([batch, [h, w, 4, x.shape[-1]]], 0))
        blocks = tf.gather(blocks, _GATHER, axis=-2)
        return tf.reshape(blocks, tf.concat([batch, [h, w, c]], 0))

    def _inverse(self, y):
        h2, w2, c = unsqueezed_shape(y.shape)[-3:]
        h, w = y.shape[-3], y.shape[-2]
        batch = tf.shape(y)[:-3]
        blocks = tf.reshape(y, tf.concat([batch, [h, w, 4, c]], 0))
        blocks = tf.gather(blocks, _SCATTER, axis=-2)
        blocks = tf.reshape(blocks, tf.concat([batch, [h, w, 2, 2, c]], 0))
        rank = blocks.shape.rank
        perm = list(range(rank - 5)) + [rank - 5, rank - 3, rank - 4, rank - 2, rank - 1]
        blocks = tf.transpose(blocks, perm)  # [..., h, 2 (row), w, 2 (column), C]
        return tf.reshape(blocks, tf.concat([batch, [h2, w2, c]], 0))

    def _forward_log_det_jacobian(self, x):
        return tf.zeros([], x.dtype)

    def _inverse_log_det_jacobian(self, y):
        return tf.zeros([], y.dtype)

    def _forward_event_shape(self, input_shape):
        return tf.TensorShape(squeezed_shape(input_shape))

    def _inverse_event_shape(self, output_shape):
        return tf.TensorShape(unsqueezed_shape(output_shape))

    def _forward_event_shape_tensor(self, input_shape):
        return tf.concat([input_shape[:-3], input_shape[-3:-1] // 2, input_shape[-1:] * 4], 0)

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.concat([output_shape[:-3], output_shape[-3:-1] * 2, output_shape[-1:] // 4],
                         0)
