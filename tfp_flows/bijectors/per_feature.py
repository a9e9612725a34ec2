"""What the per-feature (channel-wise) bijectors share: the log-det of a map applied at every
position, and the dtype of their parameters."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["common_float_dtype", "per_feature_log_det"]


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
