"""Activation normalisation (Glow, Kingma & Dhariwal 2018)."""
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.per_feature import common_float_dtype, per_feature_log_det

tfb = tfp.bijectors

__all__ = ["ActNorm", "actnorm_statistics"]


def actnorm_statistics(y, epsilon=1e-6):
    """Per-feature ``(mean, log std)`` of ``y`` over every axis but the last.

    These are the values that make ``(y - loc) * exp(-log_scale)`` zero-mean, unit-variance
    on that batch (Glow's data-dependent initialisation).

    Example:
        >>> import numpy as np
        >>> loc, log_scale = actnorm_statistics(tf.constant([[0.0, 1.0], [2.0, 5.0]]))
        >>> loc.numpy(), np.exp(log_scale.numpy()).round(4)
        (array([1., 3.], dtype=float32), array([1., 2.], dtype=float32))
    """
    y = tf.convert_to_tensor(y)
    axes = list(range(y.shape.rank - 1))
    mean, var = tf.nn.moments(y, axes=axes)
    return mean, 0.5 * tf.math.log(var + tf.cast(epsilon, y.dtype))


class ActNorm(tfb.Bijector):
    r"""Per-feature affine map (Glow's activation normalisation).

    .. math::
        y = x \odot \exp(s) + m, \qquad
        \log|\det J| = \textstyle\sum_c s_c \;(\times\, H W \text{ for images}).

    Features are the last axis: ``event_ndims=1`` for vectors ``[..., D]``, ``event_ndims=3``
    for images ``[..., H, W, C]`` (one scale per channel). The bijector is a function of the
    tensors it is given (TFP's convention): pass ``tf.Variable`` s to train them in plain TFP
    code, or use :class:`tfp_flows.layers.ActNormLayer`, which owns them as Keras weights and
    sets them from data (:func:`actnorm_statistics`) before training.

    Args:
      loc: the shift :math:`m`, shape ``[C]`` (tensor, variable or array).
      log_scale: :math:`s = \log|\text{scale}|`, shape ``[C]``.
      event_ndims: 1 (vectors) or 3 (images).
      validate_args: TFP's flag (no extra checks here).
      name: the bijector's name.

    Example:
        >>> data = tf.constant([[1.0, 10.0], [3.0, 30.0]])
        >>> bij = ActNorm(*actnorm_statistics(data))
        >>> bij.inverse(data).numpy().round(3)     # standardised per feature
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
    """

    def __init__(self, loc, log_scale, event_ndims=1, validate_args=False, name="actnorm"):
        parameters = dict(locals())
        if event_ndims not in (1, 3):
            raise ValueError(f"event_ndims must be 1 (vectors) or 3 (images), got {event_ndims}")
        dtype = common_float_dtype(loc, log_scale, name=name)
        loc = tf.convert_to_tensor(loc, dtype) if not tf.is_tensor(loc) else loc
        log_scale = (tf.convert_to_tensor(log_scale, dtype) if not tf.is_tensor(log_scale)
                     else log_scale)
        if loc.shape.rank != 1 or log_scale.shape != loc.shape:
            raise ValueError(f"{name}: loc and log_scale must be vectors of one length (one "
                             f"value per feature), got shapes {tuple(loc.shape)} and "
                             f"{tuple(log_scale.shape)}")
        self._loc = loc
        self._log_scale = log_scale
        self._event_ndims = event_ndims
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=event_ndims,
                is_constant_jacobian=True,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    @property
    def loc(self):
        return self._loc

    @property
    def log_scale(self):
        return self._log_scale

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _check_width(self, x):
        width = tf.compat.dimension_value(x.shape[-1]) if x.shape.rank else None
        features = tf.compat.dimension_value(self._loc.shape[0])
        if width is not None and features is not None and width != features:
            raise ValueError(f"{self.name}: expected inputs with {features} features on the "
                             f"last axis, got shape {tuple(x.shape)}")

    def _log_det(self, x):
        return per_feature_log_det(self._log_scale, x, self._event_ndims)

    def _forward(self, x):
        self._check_width(x)
        return x * tf.exp(tf.convert_to_tensor(self._log_scale)) + self._loc

    def _inverse(self, y):
        self._check_width(y)
        return (y - self._loc) * tf.exp(-tf.convert_to_tensor(self._log_scale))

    def _forward_log_det_jacobian(self, x):
        return self._log_det(x)

    def _inverse_log_det_jacobian(self, y):
        return -self._log_det(y)

    def _forward_and_fldj(self, x):
        return self._forward(x), self._log_det(x)

    def _inverse_and_ildj(self, y):
        x = self._inverse(y)
        return x, -self._log_det(y)
