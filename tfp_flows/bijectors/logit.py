"""Logit preprocessing of dequantised pixel intensities (Real NVP, Dinh et al. 2017)."""
import math

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["Logit"]


class Logit(tfb.Bijector):
    r"""Maps dequantised intensities :math:`x \in [0, K]` to the real line.

    .. math::
        p = \alpha + (1 - 2\alpha)\,\frac{x}{K}, \qquad y = \log p - \log(1 - p),

        \log\left|\frac{dy}{dx}\right| = \log\frac{1 - 2\alpha}{K} - \log p - \log(1 - p).

    ``K = max_value`` (256 for 8-bit pixels plus uniform noise in ``[0, 1)``; 1 for data
    already in ``[0, 1]``). ``alpha`` keeps ``p`` away from 0 and 1, so the output and the
    log-det stay finite even at ``x = 0`` and ``x = K``. The **forward** direction is the
    preprocessing (pixels to logits); in a flow whose base lives in logit space, use
    ``tfb.Invert(Logit())`` as the last bijector of the chain. The log-det of this map is
    the term that turns a density in logit space into one in pixel space, which is needed
    for honest bits per dimension.

    With ``validate_args=True``, an input outside ``[0, K]`` raises
    ``tf.errors.InvalidArgumentError`` naming the expected range and the values seen.

    Example:
        >>> bij = Logit(max_value=256.0, alpha=0.05)
        >>> y = bij.forward(tf.constant([0.0, 128.0, 256.0]))
        >>> y.numpy().round(4)
        array([-2.9444,  0.    ,  2.9444], dtype=float32)
        >>> bij.inverse(y).numpy().round(3)
        array([  0., 128., 256.], dtype=float32)
    """

    def __init__(self, max_value=256.0, alpha=0.05, validate_args=False, name="logit"):
        parameters = dict(locals())
        if not float(max_value) > 0:
            raise ValueError(f"max_value must be positive, got {max_value}")
        if not 0.0 < float(alpha) < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5) so logits stay finite, got {alpha}")
        self._max_value = float(max_value)
        self._alpha = float(alpha)
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=0,
                is_constant_jacobian=False,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @property
    def max_value(self):
        return self._max_value

    @property
    def alpha(self):
        return self._alpha

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _is_increasing(self):
        return True

    def _checked(self, x):
        if not self.validate_args:
            return x
        lo, hi = tf.reduce_min(x), tf.reduce_max(x)
        ok = tf.logical_and(lo >= 0, hi <= tf.cast(self._max_value, x.dtype))
        check = tf.debugging.Assert(
            ok,
            [f"Logit expects pixel intensities in [0, {self._max_value:g}]; got values in",
             lo, hi],
        )
        with tf.control_dependencies([check]):
            return tf.identity(x)

    def _p(self, x):
        scale = (1.0 - 2.0 * self._alpha) / self._max_value
        return self._alpha + scale * x

    def _forward(self, x):
        p = self._p(self._checked(x))
        return tf.math.log(p) - tf.math.log1p(-p)

    def _inverse(self, y):
        p = tf.sigmoid(y)
        return (p - self._alpha) * (self._max_value / (1.0 - 2.0 * self._alpha))

    def _forward_log_det_jacobian(self, x):
        p = self._p(self._checked(x))
        # A Python float, converted straight to x.dtype (tf.cast would pass through float32).
        const = math.log((1.0 - 2.0 * self._alpha) / self._max_value)
        return tf.constant(const, x.dtype) - tf.math.log(p) - tf.math.log1p(-p)

    def _inverse_log_det_jacobian(self, y):
        # d/dy sigmoid(y) = sigmoid(y) sigmoid(-y); log of it is -softplus(-y) - softplus(y).
        const = math.log(self._max_value / (1.0 - 2.0 * self._alpha))
        return tf.constant(const, y.dtype) - tf.nn.softplus(-y) - tf.nn.softplus(y)
