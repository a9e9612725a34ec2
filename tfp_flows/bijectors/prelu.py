"""Parametric leaky ReLU with a learnable, strictly positive slope."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp


tfb = tfp.bijectors
tfp_util = tfp.util

__all__ = ["PReLU", "MIN_SLOPE", "positive_variable"]

MIN_SLOPE = 1e-6
"""Floor of a learnable slope: ``alpha = MIN_SLOPE + softplus(raw)`` keeps ``log(alpha)``
finite however far the optimiser pushes ``raw``."""


def positive_variable(initial_value, floor=MIN_SLOPE, dtype="float32", name="alpha"):
    """A trainable ``tfp.util.TransformedVariable`` equal to ``initial_value`` that stays above
    ``floor`` however it is trained: ``value = floor + softplus(raw)``.

    Args:
      initial_value: a number or array, every entry above ``floor``.
      floor: the lower bound (``MIN_SLOPE`` by default).
      dtype: the floating dtype.
      name: the variable's name.

    Example:
        >>> alpha = positive_variable([0.5, 2.0])
        >>> alpha.numpy().round(3).tolist(), len(alpha.trainable_variables)
        ([0.5, 2.0], 1)
    """
    if isinstance(initial_value, (str, bytes, bool)) or np.asarray(initial_value).dtype.kind not in "iuf":
        raise ValueError(f"initial_value must be a number or an array of numbers, got "
                         f"{initial_value!r}")
    values = np.asarray(initial_value, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values <= floor):
        raise ValueError(f"initial_value must be finite and above floor={floor}, "
                         f"got {values.tolist()}")
    return tfp_util.TransformedVariable(
        values.astype(dtype), bijector=tfb.Softplus(low=tf.constant(floor, dtype=dtype)),
        dtype=dtype, name=name)


class PReLU(tfb.Bijector):
    r"""Leaky ReLU with a learnable slope for negative inputs (elementwise).

    .. math::
        y = \begin{cases} x & x \ge 0 \\ \alpha x & x < 0 \end{cases},
        \qquad \log\left|\frac{dy}{dx}\right| = \mathbb{1}[x < 0] \log \alpha .

    ``alpha`` is a scalar or has one value per dimension (it broadcasts against the input).
    The bijector is a function of the slope it is given (TFP's convention): a number or array
    is a fixed slope; to learn it in plain TFP code pass a variable that stays positive,
    :func:`positive_variable` (``alpha = MIN_SLOPE + softplus(raw)``), whose
    ``trainable_variables`` a ``tf.GradientTape`` loop trains. In a Keras model,
    :class:`tfp_flows.layers.PReLULayer` owns the slope as a Keras weight.

    Args:
      alpha: the slope, > 0: a number, array, tensor, ``tf.Variable`` or
        ``tfp.util.TransformedVariable``.
      validate_args: check at run time that a tensor slope is positive.
      name: the bijector's name.

    Example:
        >>> bij = PReLU(alpha=positive_variable(0.5))     # learnable, always > 0
        >>> bij.forward(tf.constant([-2.0, 3.0])).numpy()
        array([-1.,  3.], dtype=float32)
        >>> round(float(bij.forward_log_det_jacobian(tf.constant([-2.0, 3.0]), event_ndims=1)), 4)
        -0.6931
        >>> len(bij.trainable_variables)
        1
    """

    def __init__(self, alpha=0.5, validate_args=False, name="prelu"):
        parameters = dict(locals())
        if isinstance(alpha, (str, bytes)) or isinstance(alpha, bool):
            raise ValueError(f"PReLU slope alpha must be a positive number, array or tensor, "
                             f"got {alpha!r}")
        if not (tf.is_tensor(alpha) or isinstance(alpha, (tf.Variable,
                                                          tfp_util.DeferredTensor))):
            try:
                if np.asarray(alpha).dtype.kind not in "iuf":  # strings, bools, objects
                    raise TypeError(alpha)
                values = np.asarray(alpha, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"PReLU slope alpha must be a positive number, array or "
                                 f"tensor, got {alpha!r}") from None
            if not np.all(np.isfinite(values)) or np.any(values <= 0):
                raise ValueError(
                    f"PReLU slope alpha must be positive and finite, got {values.tolist()}")
            dtype = (alpha.dtype if isinstance(alpha, (np.ndarray, np.floating))
                     and alpha.dtype.kind == "f" else "float32")  # a Python float: float32
            alpha = tf.constant(values, dtype=dtype)
        dtype = tf.as_dtype(alpha.dtype)
        if not dtype.is_floating:
            raise ValueError(f"PReLU slope alpha must be floating-point, got {dtype.name}")
        self._alpha = alpha
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=0,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    @property
    def alpha(self):
        return self._alpha

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(alpha=tfp_util.ParameterProperties())

    def _is_increasing(self):
        return True

    def _slope(self):
        alpha = tf.convert_to_tensor(self._alpha)
        if self.validate_args:
            with tf.control_dependencies(
                [tf.debugging.assert_positive(alpha, message="PReLU slope alpha must be > 0")]
            ):
                alpha = tf.identity(alpha)
        return alpha

    def _forward(self, x):
        return tf.where(x >= 0, x, self._slope() * x)

    def _inverse(self, y):
        return tf.where(y >= 0, y, y / self._slope())

    def _forward_log_det_jacobian(self, x):
        log_alpha = tf.math.log(self._slope())
        return tf.where(x >= 0, tf.zeros_like(x * log_alpha), log_alpha + tf.zeros_like(x))

    def _inverse_log_det_jacobian(self, y):
        return -self._forward_log_det_jacobian(y)  # sign of x equals sign of y

    def _forward_and_log_det(self, x):
        return self._forward(x), self._forward_log_det_jacobian(x)

    def _inverse_and_log_det(self, y):
        return self._inverse(y), self._inverse_log_det_jacobian(y)
