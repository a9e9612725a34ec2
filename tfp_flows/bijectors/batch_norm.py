"""Batch normalisation as a bijector (Real NVP, Dinh et al. 2017), with the statistics as
arguments: the batch's own (training) or running averages (inference)."""
import tensorflow as tf

from tfp_flows.bijectors.fused import FusedBijector
from tfp_flows.bijectors.per_feature import common_float_dtype, per_feature_log_det

__all__ = ["BatchNorm", "batch_statistics"]


def batch_statistics(y):
    """Per-feature ``(mean, variance)`` of ``y`` over every axis but the last.

    Example:
        >>> mean, variance = batch_statistics(tf.constant([[0.0, 1.0], [2.0, 5.0]]))
        >>> mean.numpy().tolist(), variance.numpy().tolist()
        ([1.0, 3.0], [1.0, 4.0])
    """
    y = tf.convert_to_tensor(y)
    return tf.nn.moments(y, axes=list(range(y.shape.rank - 1)))


class BatchNorm(FusedBijector):
    r"""Per-feature normalisation by a mean and a variance, then a learned affine map.

    From the data side (the **inverse**, as in a flow's density evaluation):

    .. math::
        z = \frac{y - \mu}{\sqrt{\sigma^2 + \epsilon}}\, e^{s} + m, \qquad
        \log\left|\det \frac{\partial z}{\partial y}\right| =
        \textstyle\sum_c \big(s_c - \tfrac12 \log(\sigma_c^2 + \epsilon)\big)
        \;(\times\, H W \text{ for images}),

    and the **forward** map is its inverse. ``(mu, variance)`` are either given (running
    averages, for inference and sampling) or ``None``: the inverse then uses the statistics of
    the batch it normalises, and the log-det is that of the statistics used, as Real NVP's
    batch normalisation does in training. The forward map needs given statistics.

    ``on_batch_statistics(mean, variance)`` is called with the batch statistics each time
    they are computed (:class:`~tfp_flows.layers.BatchNormLayer` updates its running averages
    there). The bijector holds no variables.

    Args:
      mean, variance: per-feature statistics ``[C]``, or both ``None`` (batch statistics).
      loc, log_scale: the learned shift ``m`` and log-scale ``s`` applied after normalising,
        shape ``[C]``.
      epsilon: added to the variance (a positive number).
      event_ndims: 1 (vectors ``[..., D]``) or 3 (images ``[..., H, W, C]``, statistics per
        channel).
      on_batch_statistics: ``None`` or a callable taking ``(mean, variance)``.
      validate_args: TFP's flag (no extra checks here).
      name: the bijector's name.

    Example:
        >>> y = tf.constant([[1.0, 10.0], [3.0, 30.0]])
        >>> bn = BatchNorm(None, None, loc=tf.zeros(2), log_scale=tf.zeros(2), epsilon=1e-6)
        >>> bn.inverse(y).numpy().round(3)   # each feature to zero mean, unit variance
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
    """

    def __init__(self, mean, variance, loc, log_scale, epsilon=1e-3, event_ndims=1,
                 on_batch_statistics=None, validate_args=False, name="batch_norm"):
        parameters = dict(locals())
        if event_ndims not in (1, 3):
            raise ValueError(f"event_ndims must be 1 (vectors) or 3 (images), got {event_ndims}")
        if (mean is None) != (variance is None):
            raise ValueError(f"{name}: give both mean and variance (running statistics) or "
                             "neither (batch statistics)")
        if not float(epsilon) > 0:
            raise ValueError(f"{name}: epsilon must be a positive number, got {epsilon!r}")
        given = [v for v in (mean, variance, loc, log_scale) if v is not None]
        dtype = common_float_dtype(*given, name=name)
        as_tensor = lambda v: v if v is None or tf.is_tensor(v) else tf.convert_to_tensor(  # noqa
            v, dtype)
        self._mean, self._variance = as_tensor(mean), as_tensor(variance)
        self._loc, self._log_scale = as_tensor(loc), as_tensor(log_scale)
        self._epsilon = float(epsilon)
        self._event_ndims = event_ndims
        self._on_batch_statistics = on_batch_statistics
        with tf.name_scope(name) as name:
            super().__init__(forward_min_event_ndims=event_ndims, validate_args=validate_args,
                             dtype=dtype, parameters=parameters, name=name)

    @property
    def uses_batch_statistics(self):
        return self._mean is None

    def _statistics(self, y):
        if self._mean is not None:
            return self._mean, self._variance
        mean, variance = batch_statistics(y)
        if self._on_batch_statistics is not None:
            self._on_batch_statistics(mean, variance)
        return mean, variance

    def _log_scales(self, variance):
        """Per-feature log|dz/dy|."""
        return self._log_scale - 0.5 * tf.math.log(variance + self._epsilon)

    def _inverse_and_log_det(self, y):
        mean, variance = self._statistics(y)
        log_scales = self._log_scales(variance)
        z = (y - mean) * tf.exp(log_scales) + self._loc
        return z, per_feature_log_det(log_scales, y, self._event_ndims)

    def _forward_and_log_det(self, z):
        if self._mean is None:
            raise ValueError(
                f"{self.name}: the forward (sampling) direction needs running statistics, "
                "but this bijector was built for batch statistics (training); build it with "
                "mean and variance (BatchNormLayer.bijector(training=False))")
        log_scales = self._log_scales(self._variance)
        y = (z - self._loc) * tf.exp(-log_scales) + self._mean
        return y, -per_feature_log_det(log_scales, z, self._event_ndims)
