"""Parametric leaky ReLU with a learnable, strictly positive slope."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors._params import positive_variable

tfb = tfp.bijectors
tfp_util = tfp.util

__all__ = ["PReLU", "MIN_SLOPE"]

MIN_SLOPE = 1e-6
"""Floor of the trainable slope: ``alpha = MIN_SLOPE + softplus(raw)`` keeps ``log(alpha)``
finite however far the optimiser pushes ``raw``."""


class PReLU(tfb.Bijector):
    r"""Leaky ReLU with a learnable slope for negative inputs (elementwise).

    .. math::
        y = \begin{cases} x & x \ge 0 \\ \alpha x & x < 0 \end{cases},
        \qquad \log\left|\frac{dy}{dx}\right| = \mathbb{1}[x < 0] \log \alpha .

    ``alpha`` is a scalar or has one value per dimension (it broadcasts against the input).
    Given as numbers, ``alpha`` becomes a trainable
    ``tfp.util.TransformedVariable`` with ``alpha = MIN_SLOPE + softplus(raw)``, so it stays
    strictly positive however it is trained; ``bijector.trainable_variables`` holds it, and a
    plain ``tf.GradientTape`` loop trains it. Given as a tensor or variable, it is used as is
    (keep it positive; with ``validate_args=True`` a non-positive value raises). A Keras model
    sees the slope when it is a weight of a Keras layer: :class:`tfp_flows.layers.PReLULayer`
    owns it and builds this bijector on each call.

    Example:
        >>> bij = PReLU(alpha=0.5)
        >>> bij.forward(tf.constant([-2.0, 3.0])).numpy()
        array([-1.,  3.], dtype=float32)
        >>> round(float(bij.forward_log_det_jacobian(tf.constant([-2.0, 3.0]), event_ndims=1)), 4)
        -0.6931
        >>> len(bij.trainable_variables)
        1
    """

    def __init__(self, alpha=0.5, trainable=True, validate_args=False, dtype=tf.float32,
                 name="prelu"):
        parameters = dict(locals())
        if isinstance(alpha, (int, float, list, tuple, np.ndarray, np.generic)):
            values = np.asarray(alpha, dtype=np.float64)
            if not np.all(np.isfinite(values)) or np.any(values <= 0):
                raise ValueError(
                    f"PReLU slope alpha must be positive and finite, got {values.tolist()}"
                )
            if trainable:
                if np.any(values <= MIN_SLOPE):
                    raise ValueError(
                        f"a trainable PReLU slope must exceed MIN_SLOPE={MIN_SLOPE}, "
                        f"got {values.tolist()}"
                    )
                alpha = positive_variable(values, dtype=dtype, floor=MIN_SLOPE, name="alpha")
            else:
                alpha = tf.constant(values, dtype=dtype)
        else:
            dtype = alpha.dtype
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

    def _forward_and_fldj(self, x):
        return self._forward(x), self._forward_log_det_jacobian(x)

    def _inverse_and_ildj(self, y):
        return self._inverse(y), self._inverse_log_det_jacobian(y)
