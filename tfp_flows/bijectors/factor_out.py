"""Multiscale factor-out (Real NVP, Glow): after a scale, half of the channels go straight to
the base and the rest of the flow acts on the other half; the latent stays one tensor."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.fused import FusedBijector
from tfp_flows.bijectors.log_det import forward_and_log_det, inverse_and_log_det

tfb = tfp.bijectors

__all__ = ["FactorOut"]


def _shape_through(bijectors, shape, direction):
    """Static event shapes along ``bijectors`` (base to data order) from ``shape``."""
    shapes = [tuple(shape)]
    order = bijectors if direction == "forward" else list(reversed(bijectors))
    for bijector in order:
        step = (bijector.forward_event_shape if direction == "forward"
                else bijector.inverse_event_shape)
        shapes.append(tuple(tf.TensorShape(step(shapes[-1])).as_list()))
    return shapes


class FactorOut(FusedBijector):
    r"""Splits an image's channels: the first ``num_kept`` continue through ``inner`` (the
    rest of the flow), the others are latent already; the latent is one flat vector.

    From the data side (the **inverse**), with ``y = [y_k, y_f]`` split on the channels:

    .. math::
        z = \big[\operatorname{vec}(y_f),\ g^{-1}(y_k)\big], \qquad
        \log\left|\det\frac{\partial z}{\partial y}\right| =
        \log\left|\det\frac{\partial g^{-1}(y_k)}{\partial y_k}\right|,

    where ``g`` is the composition of ``inner`` (base to data order) and ``g^{-1}(y_k)`` is
    flattened. The factored channels ``y_f`` pass unchanged: they face the base distribution
    directly, so at each scale the flow spends its depth on half of what remains (Real NVP's
    multiscale architecture). Nesting a ``FactorOut`` inside ``inner`` gives more scales;
    the flat latent then lists each scale's factored part in order, the last scale last
    (:meth:`split_latent`). A Glow-style learned prior for the factored part is a channel
    coupling on the data side of the split (its shift and scale depend on ``y_k``).

    Why one tensor: the base is one distribution over ``[H W C]`` and a
    :class:`~tfp_flows.FlowModel` stays a single-input, single-output Keras model (TFP's
    ``tfb.Glow`` makes the same choice with ``Blockwise``; normflows keeps a list of bases).

    Args:
      inner: the bijectors acting on the kept channels, in base-to-data order (may be empty).
      event_shape: the data-side image shape ``(H, W, C)``.
      num_kept: channels that continue through ``inner`` (default ``C // 2``).
      validate_args: TFP's flag.
      name: the bijector's name.

    Example:
        >>> import numpy as np
        >>> bij = FactorOut([tfb.Scale(2.0)], event_shape=(2, 2, 2))
        >>> y = tf.ones([1, 2, 2, 2])
        >>> z = bij.inverse(y)       # factored channel as is, kept channel halved
        >>> z.shape, z.numpy()[0].tolist()
        (TensorShape([1, 8]), [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5])
        >>> bij.inverse_log_det_jacobian(y).numpy().round(4)   # 4 * log(1/2)
        array([-2.7726], dtype=float32)
    """

    def __init__(self, inner, event_shape, num_kept=None, validate_args=False,
                 name="factor_out"):
        parameters = dict(locals())
        shape = tuple(int(s) for s in event_shape)
        if len(shape) != 3:
            raise ValueError(f"{name}: event_shape must be an image shape (height, width, "
                             f"channels), got {shape}")
        channels = shape[-1]
        num_kept = channels // 2 if num_kept is None else int(num_kept)
        if not 0 < num_kept < channels:
            raise ValueError(
                f"{name}: factoring out needs at least 2 channels and 0 < num_kept < channels; "
                f"got num_kept={num_kept} for an image of shape {shape}")
        self._inner = list(inner)
        self._event_shape = shape
        self._num_kept = num_kept
        kept = shape[:2] + (num_kept,)
        self._inner_shapes = _shape_through(self._inner, kept, "inverse")  # data to base
        self._inner_latent_shape = self._inner_shapes[-1]
        self._factored_size = int(np.prod(shape[:2])) * (channels - num_kept)
        dtypes = {b.dtype for b in self._inner if b.dtype is not None}
        with tf.name_scope(name) as name:
            super().__init__(forward_min_event_ndims=1, inverse_min_event_ndims=3,
                             is_constant_jacobian=all(b.is_constant_jacobian
                                                      for b in self._inner),
                             validate_args=validate_args, parameters=parameters,
                             dtype=dtypes.pop() if len(dtypes) == 1 else None, name=name)

    @property
    def inner(self):
        return list(self._inner)

    @property
    def latent_size(self):
        return int(np.prod(self._event_shape))

    def split_latent(self, z):
        """``[z_factored, z_inner]``: this scale's factored part as ``[..., H, W, C - k]`` and
        the rest of the latent (the inner flow's latent, flat or image-shaped)."""
        z = tf.convert_to_tensor(z)
        batch = tf.shape(z)[:-1]
        factored = tf.reshape(z[..., :self._factored_size], tf.concat(
            [batch, self._event_shape[:2] + (self._event_shape[2] - self._num_kept,)], 0))
        inner = tf.reshape(z[..., self._factored_size:],
                           tf.concat([batch, self._inner_latent_shape], 0))
        return [factored, inner]

    def _check_flat(self, z):
        if z.shape[-1] is not None and z.shape[-1] != self.latent_size:
            raise ValueError(f"{self.name}: expected latents of size {self.latent_size} on "
                             f"the last axis, got shape {tuple(z.shape)}")

    def _check_image(self, y):
        if y.shape.rank is None or y.shape.rank < 3 or not y.shape[-3:].is_compatible_with(
                self._event_shape):
            raise ValueError(f"{self.name}: expected images of shape [..., "
                             f"{', '.join(map(str, self._event_shape))}], got {tuple(y.shape)}")

    def _inverse_and_log_det(self, y, **kwargs):
        self._check_image(y)
        batch = tf.shape(y)[:-3]
        kept, factored = y[..., :self._num_kept], y[..., self._num_kept:]
        total = tf.zeros(batch, y.dtype)
        h = kept
        for bijector, shape in zip(reversed(self._inner), self._inner_shapes):
            h, ildj = inverse_and_log_det(bijector, h, len(shape), **kwargs)
            total += ildj
        flat = lambda t: tf.reshape(t, tf.concat([batch, [-1]], 0))  # noqa: E731
        return tf.concat([flat(factored), flat(h)], axis=-1), total

    def _forward_and_log_det(self, z, **kwargs):
        self._check_flat(z)
        batch = tf.shape(z)[:-1]
        factored, h = self.split_latent(z)
        total = tf.zeros(batch, z.dtype)
        for bijector, shape in zip(self._inner, reversed(self._inner_shapes)):
            h, fldj = forward_and_log_det(bijector, h, len(shape), **kwargs)
            total += fldj
        return tf.concat([h, factored], axis=-1), total

    def _forward_event_shape(self, input_shape):
        return tf.TensorShape(tuple(input_shape)[:-1]).concatenate(self._event_shape)

    def _inverse_event_shape(self, output_shape):
        return tf.TensorShape(tuple(output_shape)[:-3]).concatenate([self.latent_size])

    def _forward_event_shape_tensor(self, input_shape):
        return tf.concat([input_shape[:-1], self._event_shape], 0)

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.concat([output_shape[:-3], [self.latent_size]], 0)
