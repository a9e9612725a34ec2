"""Rational-quadratic spline coupling and autoregressive bijectors (Durkan et al., 2019)."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.affine_coupling import AffineCoupling
from tfp_flows.bijectors.autoregressive import MaskedAutoregressive

tfb = tfp.bijectors

__all__ = ["SplineAutoregressive", "SplineCoupling", "rational_quadratic_spline",
           "spline_param_count"]

MIN_BIN = 1e-3
MIN_SLOPE = 1e-3
_SLOPE_OFFSET = float(np.log(np.expm1(1.0 - MIN_SLOPE)))  # raw 0 -> slope exactly 1


def spline_param_count(num_bins):
    """Parameters per dimension: ``num_bins`` widths, heights, and ``num_bins - 1`` slopes."""
    return 3 * int(num_bins) - 1


def rational_quadratic_spline(params, num_bins, bound):
    r"""A ``tfb.RationalQuadraticSpline`` on ``[-bound, bound]`` from unconstrained ``params``
    of shape ``[..., 3 * num_bins - 1]`` (identity outside the interval).

    Widths and heights are ``softmax`` of their raw values scaled to ``2 * bound`` (each bin at
    least ``MIN_BIN``); interior knot slopes are ``MIN_SLOPE + softplus(raw + c)`` with ``c``
    chosen so that all-zero parameters give the identity (uniform bins, unit slopes).

    Example:
        >>> spline = rational_quadratic_spline(tf.zeros([3, 11]), num_bins=4, bound=3.0)
        >>> spline.forward(tf.constant([-1.0, 0.5, 2.0])).numpy().round(5)
        array([-1. ,  0.5,  2. ], dtype=float32)
    """
    k = int(num_bins)
    widths, heights, slopes = params[..., :k], params[..., k:2 * k], params[..., 2 * k:]
    span = 2.0 * bound - k * MIN_BIN

    def bins(raw):
        return tf.nn.softmax(raw, axis=-1) * tf.cast(span, raw.dtype) + MIN_BIN

    slopes = tf.nn.softplus(slopes + _SLOPE_OFFSET) + MIN_SLOPE
    return tfb.RationalQuadraticSpline(bins(widths), bins(heights), slopes,
                                       range_min=-tf.cast(bound, params.dtype))


def _check_spline_args(num_bins, bound):
    if int(num_bins) < 2:
        raise ValueError(f"num_bins must be at least 2, got {num_bins}")
    if not float(bound) > 0:
        raise ValueError(f"bound must be positive, got {bound}")
    return int(num_bins), float(bound)


def _spline_params(out, expected_shape, num_bins, name):
    count = spline_param_count(num_bins)
    out = tf.convert_to_tensor(out)
    if not out.shape.is_compatible_with(list(expected_shape) + [count]):
        raise ValueError(
            f"{name}: conditioner returned shape {out.shape}; expected "
            f"{list(expected_shape) + [count]} ({count} spline parameters per entry)")
    return out


class SplineCoupling(AffineCoupling):
    r"""Coupling layer whose transformed entries go through monotone rational-quadratic
    splines on ``[-bound, bound]`` (identity outside):

    .. math:: y_b = x_b, \qquad y_{\bar b} = \mathrm{RQS}_{\theta(x_b)}(x_{\bar b}).

    Masks as for :class:`AffineCoupling` with vectors (``num_masked``/``fraction_masked``/
    ``reverse_mask``). The conditioner maps ``[..., d]`` to ``[..., D - d, 3 * num_bins - 1]``
    (see :func:`rational_quadratic_spline`); all-zero output gives the identity.

    Example:
        >>> bij = SplineCoupling(lambda xb: tf.zeros(xb.shape[:-1] + [1, 11]), num_bins=4)
        >>> bij.forward(tf.constant([0.3, -0.7])).numpy().round(5)
        array([ 0.3, -0.7], dtype=float32)
    """

    def __init__(self, conditioner, num_bins=8, bound=4.0, num_masked=None,
                 fraction_masked=None, reverse_mask=False, validate_args=False,
                 name="spline_coupling"):
        self._num_bins, self._bound = _check_spline_args(num_bins, bound)
        super().__init__(conditioner, num_masked=num_masked, fraction_masked=fraction_masked,
                         reverse_mask=reverse_mask, validate_args=validate_args, name=name)
        self._parameters = dict(self._parameters, num_bins=num_bins, bound=bound)

    def _couple(self, x_cond, x_rest, inverse, **kwargs):
        params = _spline_params(self._conditioner(x_cond, **kwargs), x_rest.shape,
                                self._num_bins, self.name)
        spline = rational_quadratic_spline(params, self._num_bins, self._bound)
        if inverse:
            return spline.inverse(x_rest), spline.inverse_log_det_jacobian(x_rest, event_ndims=0)
        return spline.forward(x_rest), spline.forward_log_det_jacobian(x_rest, event_ndims=0)


class SplineAutoregressive(MaskedAutoregressive):
    r"""Autoregressive rational-quadratic spline flow:
    :math:`y_i = \mathrm{RQS}_{\theta_i(y_{<i})}(z_i)`. One-pass inverse (density), one
    conditioner call per dimension forward (sampling). The conditioner (e.g. MADE with
    ``num_params=3 * num_bins - 1``) maps ``[..., D]`` to ``[..., D, 3 * num_bins - 1]``.

    Example:
        >>> bij = SplineAutoregressive(lambda y: tf.zeros(y.shape + [11]), num_bins=4)
        >>> bij.inverse(tf.constant([0.3, -0.7])).numpy().round(5)
        array([ 0.3, -0.7], dtype=float32)
    """

    def __init__(self, conditioner, num_bins=8, bound=4.0, validate_args=False,
                 name="spline_autoregressive"):
        self._num_bins, self._bound = _check_spline_args(num_bins, bound)
        super().__init__(conditioner, validate_args=validate_args, name=name)
        self._parameters = dict(self._parameters, num_bins=num_bins, bound=bound)

    def _elementwise(self, value, y, inverse, **kwargs):
        params = _spline_params(self._conditioner(y, **kwargs), y.shape, self._num_bins,
                                self.name)
        spline = rational_quadratic_spline(params, self._num_bins, self._bound)
        if inverse:
            return spline.inverse(value), spline.inverse_log_det_jacobian(value, event_ndims=0)
        return spline.forward(value), spline.forward_log_det_jacobian(value, event_ndims=0)
