r"""Elementwise transforms: the invertible per-entry map inside a coupling or autoregressive
bijector, given its parameters (as TFP's ``bijector_fn`` and FlowJAX's ``transformer``).

A transform maps each entry :math:`x` with its own parameters :math:`\theta` (the last axis of
``params``, ``num_params`` values, computed by a conditioner) and returns the elementwise
log-derivative with it:

==========================  =======================================  ====================
transform                   :math:`y = \tau_\theta(x)`                ``num_params``
==========================  =======================================  ====================
:class:`Affine`             :math:`x e^{s} + t`, soft-clipped s      2 (shift, log-scale)
:class:`Additive`           :math:`x + t` (NICE, zero log-det)       1 (shift)
:class:`RationalQuadratic`  monotone spline on ``[-bound, bound]``   ``3 * num_bins - 1``
==========================  =======================================  ====================

All-zero parameters give the identity for each, so zero-initialised conditioners start flows
at the identity. Transforms are plain Python objects with a JSON-able ``get_config``.
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.validation import check_positive_float, check_positive_int

tfb = tfp.bijectors

__all__ = ["SPLINE_BOUND", "Additive", "Affine", "RationalQuadratic", "Transform",
           "get_transform", "soft_clip_log_scale"]

#: Default half-width of the spline interval ``[-bound, bound]`` of
#: :class:`RationalQuadratic` (and of the ``nsf`` builder): 6 standard deviations of
#: standardised data (measured against 4: BENCHMARKS.md, "Small data").
SPLINE_BOUND = 6.0

MIN_BIN = 1e-3
MIN_DERIVATIVE = 1e-3
_SLOPE_OFFSET = float(np.log(np.expm1(1.0 - MIN_DERIVATIVE)))  # raw 0 -> slope exactly 1


def soft_clip_log_scale(log_scale, bound):
    """Bounds a raw log-scale smoothly: ``bound * tanh(log_scale / bound)``.

    Identity near 0, never beyond ``+-bound``, so ``exp(log_scale)`` cannot overflow.

    Args:
      log_scale: a tensor of raw log-scales.
      bound: a positive number, or ``None`` for no bound.

    Example:
        >>> soft_clip_log_scale(tf.constant([0.1, 100.0]), 5.0).numpy().round(3)
        array([0.1, 5. ], dtype=float32)
    """
    if bound is None:
        return log_scale
    bound = tf.cast(bound, log_scale.dtype)
    return bound * tf.tanh(log_scale / bound)


class Transform:
    """Base class: an invertible elementwise map with ``num_params`` parameters per entry.

    Subclasses implement :meth:`forward` and :meth:`inverse`, each returning the mapped values
    and the elementwise log-derivative of that direction, and :meth:`get_config`.
    """

    num_params = None
    #: True when the log-derivative does not depend on x (the Jacobian is constant).
    constant_jacobian = False

    def forward(self, x, params):
        """``(y, log|dy/dx|)`` elementwise for ``x`` of shape ``S`` and ``params`` of
        shape ``S + [num_params]``."""
        raise NotImplementedError

    def inverse(self, y, params):
        """``(x, log|dx/dy|)`` elementwise, the inverse of :meth:`forward`."""
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "kind")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(tuple(sorted(self.get_config().items())))


class Affine(Transform):
    r"""Affine map :math:`y = x\,e^{s} + t` with :math:`s` soft-clipped to
    ``[-log_scale_bound, log_scale_bound]`` (:func:`soft_clip_log_scale`); parameters
    ``[..., 0]`` shift :math:`t`, ``[..., 1]`` raw log-scale.

    Args:
      log_scale_bound: a positive number, or ``None`` for no bound (then ``exp(s)`` can
        overflow in training).

    Example:
        >>> y, ldj = Affine().forward(tf.constant([1.0]), tf.constant([[0.5, 0.0]]))
        >>> float(y[0]), float(ldj[0])
        (1.5, 0.0)
    """

    num_params = 2

    def __init__(self, log_scale_bound=5.0):
        self.log_scale_bound = (None if log_scale_bound is None
                                else check_positive_float(log_scale_bound, "log_scale_bound"))

    def _split(self, params):
        return params[..., 0], soft_clip_log_scale(params[..., 1], self.log_scale_bound)

    def forward(self, x, params):
        shift, log_scale = self._split(params)
        return x * tf.exp(log_scale) + shift, log_scale

    def inverse(self, y, params):
        shift, log_scale = self._split(params)
        log_det = -log_scale
        return (y - shift) * tf.exp(log_det), log_det

    def get_config(self):
        return {"kind": "affine", "log_scale_bound": self.log_scale_bound}


class Additive(Transform):
    r"""Additive map :math:`y = x + t` (NICE): volume-preserving, zero log-derivative.

    Example:
        >>> Additive().forward(tf.constant([1.0]), tf.constant([[2.0]]))[0].numpy()
        array([3.], dtype=float32)
    """

    num_params = 1
    constant_jacobian = True

    def forward(self, x, params):
        return x + params[..., 0], tf.zeros_like(x)

    def inverse(self, y, params):
        return y - params[..., 0], tf.zeros_like(y)

    def get_config(self):
        return {"kind": "additive"}


class RationalQuadratic(Transform):
    r"""Monotone rational-quadratic spline (Durkan et al. 2019) on ``[-bound, bound]``,
    the identity outside, with ``num_bins`` bins.

    Parameters per entry: ``num_bins`` raw widths, ``num_bins`` raw heights (each a softmax
    scaled to ``2 * bound``, every bin at least ``MIN_BIN`` wide) and ``num_bins - 1`` raw
    interior derivatives (``MIN_DERIVATIVE + softplus(raw + c)``, ``c`` chosen so that raw 0
    gives slope 1): all-zero parameters give the identity. The derivative at the knots is at
    least ``MIN_DERIVATIVE``; inside a bin it can be smaller, but the log-derivative is finite
    everywhere.

    Args:
      num_bins: number of bins, an integer >= 2.
      bound: half-width of the interval, a finite number > 0 (default
        :data:`SPLINE_BOUND`, 6).

    Example:
        >>> spline = RationalQuadratic(num_bins=4, bound=3.0)
        >>> y, ldj = spline.forward(tf.constant([-1.0, 0.5, 5.0]), tf.zeros([3, 11]))
        >>> y.numpy().round(5).tolist(), ldj.numpy().round(5).tolist()
        ([-1.0, 0.5, 5.0], [0.0, 0.0, 0.0])
    """

    def __init__(self, num_bins=8, bound=SPLINE_BOUND):
        self.num_bins = check_positive_int(num_bins, "num_bins", minimum=2)
        self.bound = check_positive_float(bound, "bound")
        self.num_params = 3 * self.num_bins - 1

    def _knots(self, params):
        """``(bin widths, bin heights, interior knot slopes)`` from ``params``."""
        k = self.num_bins
        widths, heights, slopes = params[..., :k], params[..., k:2 * k], params[..., 2 * k:]
        span = 2.0 * self.bound - k * MIN_BIN

        def bins(raw):
            flat = tf.nn.softmax(tf.reshape(raw, [-1, k]), axis=-1)  # oneDNN: rank <= 5
            return tf.reshape(flat, tf.shape(raw)) * tf.constant(span, raw.dtype) + MIN_BIN

        return bins(widths), bins(heights), tf.nn.softplus(slopes + _SLOPE_OFFSET) + MIN_DERIVATIVE

    def spline(self, params):
        """The same spline as a ``tfb.RationalQuadraticSpline`` for ``params`` of shape
        ``[..., num_params]`` (the reference :meth:`forward` and :meth:`inverse` are tested
        against; they compute it in one pass with about a third of TFP's operations)."""
        widths, heights, slopes = self._knots(params)
        return tfb.RationalQuadraticSpline(widths, heights, slopes,
                                           range_min=-tf.constant(self.bound, params.dtype))

    def _bin_values(self, value, params, inverse):
        """Per entry, the bin that holds ``value`` (``x``, or ``y`` if ``inverse``) and its
        numbers ``(x_k, w_k, y_k, h_k, d_k, d_k+1)``; ``value`` clipped into the interval and
        the mask of entries inside it."""
        widths, heights, slopes = self._knots(params)
        bound = tf.constant(self.bound, value.dtype)
        ones = tf.ones_like(slopes[..., :1])
        slopes = tf.concat([ones, slopes, ones], axis=-1)   # slope 1 at both ends
        x_left = tf.cumsum(widths, axis=-1, exclusive=True) - bound
        y_left = tf.cumsum(heights, axis=-1, exclusive=True) - bound
        inside = tf.logical_and(value > -bound, value < bound)
        value = tf.clip_by_value(value, -bound, bound)   # finite gradients outside
        left = y_left if inverse else x_left
        index = tf.reduce_sum(tf.cast(value[..., None] >= left[..., 1:], tf.int32), axis=-1)
        table = tf.stack([x_left, widths, y_left, heights, slopes[..., :-1], slopes[..., 1:]],
                         axis=-2)
        chosen = tf.reduce_sum(table * tf.one_hot(index, self.num_bins, dtype=value.dtype)
                               [..., None, :], axis=-1)
        return value, inside, tf.unstack(chosen, axis=-1)

    @staticmethod
    def _log_slope(xi, s, d_lo, d_hi, denominator):
        """``log dy/dx`` at the bin fraction ``xi`` (Durkan et al. 2019, eq. 5)."""
        numerator = tf.square(s) * (d_hi * tf.square(xi) + 2.0 * s * xi * (1.0 - xi)
                                    + d_lo * tf.square(1.0 - xi))
        return tf.math.log(numerator) - 2.0 * tf.math.log(denominator)

    def forward(self, x, params):
        r"""With :math:`\xi = (x - x_k) / w_k` and :math:`s_k = h_k / w_k` in the bin ``k`` of
        ``x``: :math:`y = y_k + h_k \frac{s_k \xi^2 + d_k \xi (1 - \xi)}{s_k + (d_{k+1}
        + d_k - 2 s_k) \xi (1 - \xi)}`; the identity outside ``[-bound, bound]``."""
        v, inside, (x_k, w_k, y_k, h_k, d_lo, d_hi) = self._bin_values(x, params, False)
        xi = (v - x_k) / w_k
        s = h_k / w_k
        between = xi * (1.0 - xi)
        curve = d_hi + d_lo - 2.0 * s
        denominator = s + curve * between
        y = y_k + h_k * (s * tf.square(xi) + d_lo * between) / denominator
        ldj = self._log_slope(xi, s, d_lo, d_hi, denominator)
        return tf.where(inside, y, x), tf.where(inside, ldj, tf.zeros_like(ldj))

    def inverse(self, y, params):
        r"""The root in ``[0, 1]`` of the quadratic :math:`a \xi^2 + b \xi + c = 0` that
        :meth:`forward`'s formula gives for ``y`` in its bin, taken in the stable form
        :math:`\xi = 2c / (-b - \sqrt{b^2 - 4ac})`."""
        v, inside, (x_k, w_k, y_k, h_k, d_lo, d_hi) = self._bin_values(y, params, True)
        s = h_k / w_k
        dy = v - y_k
        curve = d_hi + d_lo - 2.0 * s
        a = h_k * (s - d_lo) + dy * curve
        b = h_k * d_lo - dy * curve
        c = -s * dy
        root = tf.sqrt(tf.maximum(tf.square(b) - 4.0 * a * c, tf.zeros_like(b)))
        # in [0, 1] up to rounding, which in a bin MIN_BIN high can push it out (and the
        # log-slope to NaN): clipped
        xi = tf.clip_by_value(2.0 * c / (-b - root), tf.zeros_like(c), tf.ones_like(c))
        x = xi * w_k + x_k
        denominator = s + curve * xi * (1.0 - xi)
        ildj = -self._log_slope(xi, s, d_lo, d_hi, denominator)
        return tf.where(inside, x, y), tf.where(inside, ildj, tf.zeros_like(ildj))

    def get_config(self):
        return {"kind": "rational_quadratic", "num_bins": self.num_bins, "bound": self.bound}


_KINDS = {"affine": Affine, "additive": Additive, "rational_quadratic": RationalQuadratic}


def get_transform(spec):
    """A :class:`Transform` from itself, a name (``"affine"``, ``"additive"``,
    ``"rational_quadratic"``, with default settings) or a config dict (``get_config()``).

    Args:
      spec: a :class:`Transform`, a name, or a dict with a ``"kind"`` key.

    Example:
        >>> get_transform({"kind": "rational_quadratic", "num_bins": 4, "bound": 3.0})
        RationalQuadratic(num_bins=4, bound=3.0)
    """
    if isinstance(spec, Transform):
        return spec
    if isinstance(spec, str) and spec in _KINDS:
        return _KINDS[spec]()
    if isinstance(spec, dict) and spec.get("kind") in _KINDS:
        config = dict(spec)
        return _KINDS[config.pop("kind")](**config)
    raise ValueError(f"transform must be a Transform, one of {sorted(_KINDS)} or a config "
                     f"dict with a 'kind' key, got {spec!r}")
