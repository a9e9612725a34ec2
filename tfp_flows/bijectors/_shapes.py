"""Shape helpers shared by the per-feature (channel-wise) bijectors."""
import tensorflow as tf

__all__ = ["per_feature_log_det"]


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
