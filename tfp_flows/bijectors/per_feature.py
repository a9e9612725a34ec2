"""What the per-feature (channel-wise) bijectors share: the log-det of a map applied at every
position, the dtype of their parameters, and :class:`PerFeatureBijector`."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["PerFeatureBijector", "common_float_dtype", "per_feature_log_det"]


def per_feature_log_det(log_abs_values, x, event_ndims):
    """Log-det of a map acting on the last axis of every position of ``x``.

    ``log_abs_values`` are per-feature log|scale| terms (summed here); for image events
    (``event_ndims == 3``, ``[..., H, W, C]``) the same map acts at all ``H * W`` pixels, so the
    sum counts ``H * W`` times. Returns the value broadcast to ``x``'s batch shape.
    """
    total = tf.reduce_sum(tf.convert_to_tensor(log_abs_values))
    if event_ndims == 3:
        total = total * tf.cast(tf.shape(x)[-3] * tf.shape(x)[-2], x.dtype)
        return tf.zeros_like(x[..., 0, 0, 0]) + total
    return tf.zeros_like(x[..., 0]) + total


def common_float_dtype(*values, name):
    """The floating dtype shared by parameters (tensors keep theirs; numbers and arrays
    take float32 unless a tensor or a float array says otherwise)."""
    dtypes = {tf.as_dtype(v.dtype) for v in values
              if tf.is_tensor(v) or isinstance(v, (tf.Variable, tfp.util.DeferredTensor))
              or (isinstance(v, np.ndarray) and v.dtype.kind == "f")}
    if len(dtypes) > 1:
        raise ValueError(f"{name}: parameters have different dtypes {sorted(d.name for d in dtypes)}")
    dtype = dtypes.pop() if dtypes else tf.float32
    if not dtype.is_floating:
        raise ValueError(f"{name}: parameters must be floating-point, got {dtype.name}")
    return dtype


class PerFeatureBijector(tfp.bijectors.Bijector):
    """Base of :class:`~tfp_flows.bijectors.ActNorm` and
    :class:`~tfp_flows.bijectors.InvertibleLinear`: a map of the last axis, the same at every
    position, whose constant log-det is the sum of per-feature ``log|scale|`` terms
    (:meth:`_log_abs_values`, which a subclass defines with ``_forward`` and ``_inverse``),
    times ``H W`` for images (``event_ndims=3``). The log-dets and the one-pass pairs that
    :func:`~tfp_flows.bijectors.forward_and_log_det` uses are defined here."""

    def __init__(self, event_ndims, dtype, validate_args, parameters, name):
        self._event_ndims = event_ndims
        with tf.name_scope(name) as name:
            super().__init__(forward_min_event_ndims=event_ndims, is_constant_jacobian=True,
                             validate_args=validate_args, dtype=dtype, parameters=parameters,
                             name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _log_abs_values(self):
        raise NotImplementedError(f"{type(self).__name__} must define _log_abs_values")

    def _log_det(self, x):
        return per_feature_log_det(self._log_abs_values(), x, self._event_ndims)

    def _forward_log_det_jacobian(self, x):
        return self._log_det(x)

    def _inverse_log_det_jacobian(self, y):
        return -self._log_det(y)

    def _forward_and_log_det(self, x):
        return self._forward(x), self._log_det(x)

    def _inverse_and_log_det(self, y):
        return self._inverse(y), -self._log_det(y)
