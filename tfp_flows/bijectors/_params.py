"""Helpers that create the trainable parameters of standalone bijectors."""
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["positive_variable"]


def positive_variable(initial_value, dtype, floor, name):
    """A ``tfp.util.TransformedVariable`` equal to ``initial_value`` that stays above
    ``floor`` however it is trained: ``value = floor + softplus(raw)``."""
    return tfp.util.TransformedVariable(
        initial_value,
        bijector=tfp.bijectors.Softplus(low=tf.constant(floor, dtype=dtype)),
        dtype=dtype,
        name=name,
    )
