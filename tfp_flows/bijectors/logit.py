"""Logit preprocessing of dequantised pixel intensities (Real NVP, Dinh et al. 2017)."""
import math
import numbers
import warnings

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.validation import check_fraction

tfb = tfp.bijectors

__all__ = ["ALPHA", "Logit"]

#: Default margin ``alpha`` of the logit preprocessing, here and in
#: :class:`~tfp_flows.layers.LogitLayer` (and the image builders). 1e-6 keeps the bins of
#: black and white pixels wide in logit space; BENCHMARKS.md "Image flows" has the
#: measurements against 0.05 and 0.01.
ALPHA = 1e-6


class Logit(tfb.Bijector):
    r"""Maps dequantised intensities :math:`x \in [0, K]` to the real line.

    .. math::
        p = \alpha + (1 - 2\alpha)\,\frac{x}{K}, \qquad y = \log p - \log(1 - p),

        \log\left|\frac{dy}{dx}\right| = \log\frac{1 - 2\alpha}{K} - \log p - \log(1 - p).

    ``K = num_levels`` (256 for 8-bit pixels plus uniform noise in ``[0, 1)``; 1 for data
    already in ``[0, 1]``). ``alpha`` keeps ``p`` away from 0 and 1, so the output and the
    log-det stay finite even at ``x = 0`` and ``x = K``. The **forward** direction is the
    preprocessing (pixels to logits); in a flow whose base lives in logit space, use
    ``tfb.Invert(Logit())`` as the last bijector of the chain. The log-det of this map is
    the term that turns a density in logit space into one in pixel space, which is needed
    for honest bits per dimension.

    With ``validate_args=True``, an input outside ``[0, K]`` raises
    ``tf.errors.InvalidArgumentError`` naming the expected range and the values seen.

    Args:
      num_levels: ``K``, the upper end of the input range ``[0, K]``: the number of pixel
        levels for dequantised pixels, ``1`` for data in ``[0, 1]``; a number > 0.
      alpha: the margin, in ``(0, 0.5)`` (default :data:`ALPHA`, 1e-6).
      validate_args: check at run time that inputs lie in ``[0, K]``.
      name: the bijector's name.
      max_value: deprecated name of ``num_levels`` (a ``DeprecationWarning``).

    Example:
        >>> bij = Logit(num_levels=256, alpha=0.05)
        >>> y = bij.forward(tf.constant([0.0, 128.0, 256.0]))
        >>> y.numpy().round(4)
        array([-2.9444,  0.    ,  2.9444], dtype=float32)
        >>> bij.inverse(y).numpy().round(3)
        array([  0., 128., 256.], dtype=float32)
        >>> Logit(17).alpha, Logit(17).num_levels
        (1e-06, 17.0)
    """

    def __init__(self, num_levels=256, alpha=ALPHA, validate_args=False, name="logit", *,
                 max_value=None):
        parameters = dict(locals())
        what = "num_levels"
        if max_value is not None:
            warnings.warn("Logit(max_value=...) is deprecated; pass num_levels=... (the same "
                          "number, K)", DeprecationWarning, stacklevel=2)
            num_levels, what = max_value, "max_value"
            parameters.update(num_levels=max_value, max_value=None)
        if isinstance(num_levels, bool) or not isinstance(num_levels, numbers.Real) or \
                not 0 < float(num_levels) < math.inf:
            raise ValueError(f"{what} must be a finite number > 0, got {num_levels!r}")
        self._num_levels = float(num_levels)
        self._alpha = check_fraction(alpha, "alpha", high=0.5)  # keeps the logits finite
        with tf.name_scope(name) as name:
            super().__init__(forward_min_event_ndims=0, validate_args=validate_args,
                             parameters=parameters, name=name)

    @property
    def num_levels(self):
        """``K``, the upper end of the input range, as a float."""
        return self._num_levels

    @property
    def max_value(self):
        """Deprecated name of :attr:`num_levels`."""
        return self._num_levels

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
        ok = tf.logical_and(lo >= 0, hi <= tf.cast(self._num_levels, x.dtype))
        check = tf.debugging.Assert(
            ok,
            [f"Logit expects pixel intensities in [0, {self._num_levels:g}]; got values in",
             lo, hi],
        )
        with tf.control_dependencies([check]):
            return tf.identity(x)

    def _p(self, x):
        scale = (1.0 - 2.0 * self._alpha) / self._num_levels
        return self._alpha + scale * x

    def _forward(self, x):
        p = self._p(self._checked(x))
        return tf.math.log(p) - tf.math.log1p(-p)

    def _inverse(self, y):
        p = tf.sigmoid(y)
        return (p - self._alpha) * (self._num_levels / (1.0 - 2.0 * self._alpha))

    def _forward_log_det_jacobian(self, x):
        p = self._p(self._checked(x))
        # A Python float, converted straight to x.dtype (tf.cast would pass through float32).
        const = math.log((1.0 - 2.0 * self._alpha) / self._num_levels)
        return tf.constant(const, x.dtype) - tf.math.log(p) - tf.math.log1p(-p)

    def _inverse_log_det_jacobian(self, y):
        # d/dy sigmoid(y) = sigmoid(y) sigmoid(-y); log of it is -softplus(-y) - softplus(y).
        const = math.log(self._num_levels / (1.0 - 2.0 * self._alpha))
        return tf.constant(const, y.dtype) - tf.nn.softplus(-y) - tf.nn.softplus(y)
