"""Calling a conditioner and reading its output as a transform's parameters.

A conditioner is any callable (a Keras 3 layer in practice) that maps the conditioning part of
the input (and keyword arguments such as a context) to parameters for the transformed part:
one tensor of shape ``out_shape + [num_params]``. For affine transforms a tuple
``(shift, log_scale)`` of ``out_shape`` tensors is accepted too, and for additive ones a
tensor of ``out_shape`` (the shift), as TFP's ``shift_and_log_scale_fn`` returns.
"""
import sys

import tensorflow as tf

from tfp_flows.bijectors.fused import FusedBijector

__all__ = ["ConditionedBijector", "check_conditioner", "conditioner_params",
           "reject_keras_tensor"]


def check_conditioner(conditioner):
    """Raises ``TypeError`` unless ``conditioner`` is callable."""
    if not callable(conditioner):
        raise TypeError(f"conditioner must be callable, got {type(conditioner).__name__}")


def reject_keras_tensor(x, name):
    """Raises a ``TypeError`` pointing to ``LogProb`` when ``x`` is a symbolic Keras 3 input
    (``keras.Model(x, dist.log_prob(x))``); Keras is only looked up, never imported here."""
    keras = sys.modules.get("keras")
    keras_tensor = getattr(keras, "KerasTensor", None)
    if keras_tensor is not None and isinstance(x, keras_tensor):
        raise TypeError(
            f"{name}: got a symbolic KerasTensor {x!r}. A TFP bijector cannot be called on "
            "keras.Input under Keras 3 (keras.Model(x, dist.log_prob(x)) does not work); wrap "
            "the distribution in tfp_flows.layers.LogProb: keras.Model(x, LogProb(dist)(x))")


def conditioner_params(out, out_shape, num_params, dtype, name):
    """Reads a conditioner's output ``out`` as parameters of shape ``out_shape + [P]``.

    Args:
      out: what the conditioner returned.
      out_shape: the (static) shape of the entries to transform, batch included.
      num_params: ``P``, parameters per entry of the transform.
      dtype: the data's dtype; another dtype is an error rather than a silent cast.
      name: the bijector's name, for messages.

    Returns:
      A tensor of shape ``out_shape + [P]``.

    Example:
        >>> conditioner_params((tf.zeros([3, 2]), tf.ones([3, 2])), [3, 2], 2, tf.float32,
        ...                    "coupling").shape
        TensorShape([3, 2, 2])
    """
    expected = list(out_shape) + [num_params]
    if out is None or (isinstance(out, (tuple, list)) and any(o is None for o in out)):
        raise ValueError(f"{name}: the conditioner returned None; expected a tensor of shape "
                         f"{expected}")
    if isinstance(out, (tuple, list)):
        if len(out) != num_params:
            raise ValueError(f"{name}: the conditioner returned a tuple of {len(out)} tensors; "
                             f"expected {num_params} of shape {list(out_shape)} or one tensor "
                             f"of shape {expected}")
        parts = [_check_dtype(tf.convert_to_tensor(o), dtype, name) for o in out]
        for part in parts:
            if not part.shape.is_compatible_with(out_shape):
                raise ValueError(f"{name}: the conditioner returned a tensor of shape "
                                 f"{part.shape} in its tuple; expected {list(out_shape)}")
        return tf.stack(parts, axis=-1)
    out = _check_dtype(tf.convert_to_tensor(out), dtype, name)
    if num_params == 1 and out.shape.is_compatible_with(out_shape):
        out = out[..., None]
    if not out.shape.is_compatible_with(expected):
        raise ValueError(f"{name}: the conditioner returned shape {out.shape}; expected "
                         f"{expected} ({num_params} parameter(s) per transformed entry)")
    return out


def _check_dtype(value, dtype, name):
    """``value`` in ``dtype``: a conditioner that computes in 16 bits (a mixed-precision Keras
    layer) is cast up; any other mismatch is an error rather than a silent cast."""
    if dtype is None or value.dtype == dtype:
        return value
    if value.dtype in (tf.float16, tf.bfloat16) and tf.as_dtype(dtype).is_floating:
        return tf.cast(value, dtype)
    raise ValueError(
        f"{name}: the conditioner returned dtype {value.dtype.name}; expected "
        f"{tf.as_dtype(dtype).name}, the dtype of the data (build the conditioner with the "
        "same dtype)")


class ConditionedBijector(FusedBijector):
    """What :class:`~tfp_flows.bijectors.Coupling` and
    :class:`~tfp_flows.bijectors.MaskedAutoregressive` share: a ``conditioner`` that gives
    the parameters of an elementwise ``transform``. Holds no variables (the conditioner's
    weights are a Keras layer's)."""

    @property
    def conditioner(self):
        return self._conditioner

    @property
    def transform(self):
        """The elementwise :class:`~tfp_flows.bijectors.Transform`."""
        return self._transform_fn

    def _conditioner_params(self, x_cond, out_shape=None, **kwargs):
        """``conditioner(x_cond, **kwargs)`` read as parameters of shape ``out_shape + [P]``
        (``out_shape`` defaults to ``x_cond``'s shape) in ``x_cond``'s dtype."""
        reject_keras_tensor(x_cond, self.name)
        out_shape = x_cond.shape.as_list() if out_shape is None else out_shape
        return conditioner_params(self._conditioner(x_cond, **kwargs), out_shape,
                                  self._transform_fn.num_params, x_cond.dtype, self.name)
