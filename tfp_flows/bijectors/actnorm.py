"""Activation normalisation (Glow, Kingma & Dhariwal 2018)."""
import numpy as np
import tensorflow as tf

from tfp_flows.bijectors.per_feature import PerFeatureBijector, common_float_dtype
from tfp_flows.validation import check_fraction

__all__ = ["ActNorm", "actnorm_statistics"]


def actnorm_statistics(y, epsilon=1e-6):
    r"""Per-feature ``(mean, log std)`` of ``y`` over every axis but the last.

    These are the values that make ``(y - loc) * exp(-log_scale)`` zero-mean, unit-variance
    on that batch (Glow's data-dependent initialisation). The statistics are scale-free:
    ``actnorm_statistics(s * y)`` is ``(s * loc, log_scale + log s)`` for any ``s > 0``
    the dtype holds (float32 data at 1e-30 as well as at 1), because each feature is
    rescaled into ``[-1, 1]`` by its largest absolute value before its moments are taken.
    A feature's variance is floored relative to its own mean square (never by an absolute
    number, which would swamp data at a small scale):

    .. math::
        \log\mathrm{scale}_c = \tfrac12 \log \max\big(\sigma_c^2,\
        \epsilon\, E[y_c^2]\big),

    so a constant feature gets a standard deviation of ``sqrt(epsilon)`` times its value
    instead of 0; an all-zero feature takes the root mean square of the largest feature
    times ``sqrt(epsilon)`` (``sqrt(epsilon)`` when every feature is zero).

    Args:
      y: a batch ``[..., C]`` (float32 or float64) with at least one row; features on the
        last axis.
      epsilon: the relative variance floor, in ``(0, 1)``.

    Example:
        >>> import numpy as np
        >>> loc, log_scale = actnorm_statistics(tf.constant([[0.0, 1.0], [2.0, 5.0]]))
        >>> loc.numpy(), np.exp(log_scale.numpy()).round(4)
        (array([1., 3.], dtype=float32), array([1., 2.], dtype=float32))
        >>> _, tiny = actnorm_statistics(tf.constant([[0.0, 1e-30], [2e-30, 5e-30]]))
        >>> (tiny.numpy() - log_scale.numpy()).round(3)   # log(1e-30) = -69.078
        array([-69.078, -69.078], dtype=float32)
    """
    epsilon = check_fraction(epsilon, "epsilon")
    y = tf.convert_to_tensor(y)
    axes = list(range(y.shape.rank - 1))
    size = tf.reduce_max(tf.abs(y), axis=axes)  # per feature
    nonzero = size > 0
    size = tf.where(nonzero, size, tf.ones_like(size))
    mean, var = tf.nn.moments(y / size, axes=axes)  # of the feature rescaled into [-1, 1]
    mean_square = tf.where(nonzero, tf.square(mean) + var, tf.ones_like(var))
    log_rms = tf.math.log(size) + 0.5 * tf.math.log(mean_square)
    largest = tf.reduce_max(tf.where(nonzero, log_rms, tf.fill(tf.shape(log_rms),
                                                               tf.constant(-np.inf, y.dtype))))
    # an all-zero feature borrows the largest feature's scale (1 when all are zero)
    log_rms = tf.where(nonzero, log_rms,
                       tf.where(tf.reduce_any(nonzero), largest, tf.zeros_like(largest)))
    relative_var = tf.where(nonzero, var / mean_square, tf.zeros_like(var))
    floor = tf.constant(epsilon, y.dtype)
    return mean * size, log_rms + 0.5 * tf.math.log(tf.maximum(relative_var, floor))


class ActNorm(PerFeatureBijector):
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
        super().__init__(event_ndims, dtype, validate_args, parameters, name)

    @property
    def loc(self):
        return self._loc

    @property
    def log_scale(self):
        return self._log_scale

    def _check_width(self, x):
        width = tf.compat.dimension_value(x.shape[-1]) if x.shape.rank else None
        features = tf.compat.dimension_value(self._loc.shape[0])
        if width is not None and features is not None and width != features:
            raise ValueError(f"{self.name}: expected inputs with {features} features on the "
                             f"last axis, got shape {tuple(x.shape)}")

    def _log_abs_values(self):
        return self._log_scale

    def _forward(self, x):
        self._check_width(x)
        return x * tf.exp(tf.convert_to_tensor(self._log_scale)) + self._loc

    def _inverse(self, y):
        self._check_width(y)
        return (y - self._loc) * tf.exp(-tf.convert_to_tensor(self._log_scale))
