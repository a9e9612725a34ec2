"""Coupling bijector (NICE, Real NVP, neural spline couplings) with the elementwise transform
as an argument."""
import tensorflow as tf

from tfp_flows.bijectors.conditioner import (
    ConditionedBijector,
    check_conditioner,
    reject_keras_tensor,
)
from tfp_flows.bijectors.masks import split_sizes, validate_mask
from tfp_flows.bijectors.transforms import Affine, get_transform  # noqa: F401 (doctest)

__all__ = ["Coupling"]


class Coupling(ConditionedBijector):
    r"""Coupling layer: one part of the input passes unchanged and parametrises an
    elementwise transform :math:`\tau` of the other (Dinh et al. 2015, 2017; Durkan et al.
    2019).

    With a binary mask :math:`b` (1 = conditioning entry):

    .. math::
        y_b = x_b, \qquad y_{\bar b} = \tau_{\theta(x_b)}(x_{\bar b}),
        \qquad \log|\det J| = \textstyle\sum_{\bar b} \log|\tau'_{\theta(x_b)}(x_{\bar b})|,

    where :math:`\theta` = ``conditioner(x_b, **kwargs)`` and :math:`\tau` is ``transform``:
    :class:`~tfp_flows.bijectors.Affine` (Real NVP: :math:`x e^{s} + t`, the default),
    :class:`~tfp_flows.bijectors.Additive` (NICE) or
    :class:`~tfp_flows.bijectors.RationalQuadratic` (neural spline flows).

    Masks:

    * vectors (default): the first ``num_masked`` entries condition (or a
      ``fraction_masked`` of them; half by default); ``reverse_mask=True`` makes the *last*
      ones condition, for alternating layers. The conditioner sees the conditioning entries,
      shape ``[..., d]``, and returns parameters for the ``D - d`` others:
      ``[..., D - d, num_params]``.
    * any event shape, e.g. images ``(H, W, C)``: pass ``mask`` (see
      :func:`~tfp_flows.bijectors.checkerboard_mask`, :func:`~tfp_flows.bijectors.channel_mask`).
      The conditioner sees ``x * mask`` (full event shape) and returns parameters for every
      entry, ``[..., H, W, C, num_params]``; only entries where ``mask == 0`` change.

    Keyword arguments given to ``forward``/``inverse`` (e.g. a context, through
    ``TransformedDistribution.log_prob(x, bijector_kwargs=...)``) reach the conditioner.
    The bijector holds no variables: trainable weights live in the conditioner (a Keras
    layer, tracked by the Keras model that holds it).

    Args:
      conditioner: callable ``conditioner(x_b, **kwargs)`` returning the parameters (see
        :func:`~tfp_flows.bijectors.conditioner.conditioner_params` for accepted forms; an
        affine transform also takes a tuple ``(shift, log_scale)``).
      transform: a :class:`~tfp_flows.bijectors.Transform`, or ``"affine"``, ``"additive"``,
        ``"rational_quadratic"`` (default settings).
      num_masked: number of conditioning entries of a vector (default half).
      fraction_masked: the conditioning fraction instead of ``num_masked``.
      reverse_mask: condition on the last entries instead of the first.
      mask: an explicit 0/1 mask of the event's shape (images); excludes the three above.
      validate_args: TFP's flag (no extra checks here).
      name: the bijector's name.

    Example:
        >>> net = lambda x_b: (tf.zeros_like(x_b), tf.ones_like(x_b))   # shift 0, log-scale 1
        >>> bij = Coupling(net, transform=Affine(log_scale_bound=None))
        >>> bij.forward(tf.constant([1.0, 1.0])).numpy().round(4)   # keeps x[0], x[1] * e
        array([1.    , 2.7183], dtype=float32)
        >>> float(bij.forward_log_det_jacobian(tf.constant([1.0, 1.0]), event_ndims=1))
        1.0
    """

    def __init__(self, conditioner, transform="affine", num_masked=None, fraction_masked=None,
                 reverse_mask=False, mask=None, validate_args=False, name="coupling"):
        parameters = dict(locals())
        check_conditioner(conditioner)
        self._transform_fn = get_transform(transform)
        if mask is not None and (num_masked is not None or fraction_masked is not None):
            raise ValueError(
                "give either a mask or num_masked/fraction_masked, not both; got a mask and "
                f"num_masked={num_masked}, fraction_masked={fraction_masked}")
        if num_masked is not None and fraction_masked is not None:
            raise ValueError("give at most one of num_masked and fraction_masked, got "
                             f"num_masked={num_masked} and fraction_masked={fraction_masked}")
        if fraction_masked is not None and not 0.0 < float(fraction_masked) < 1.0:
            raise ValueError(f"fraction_masked must be in (0, 1), got {fraction_masked}")
        if num_masked is not None and (isinstance(num_masked, bool) or int(num_masked) < 1
                                       or int(num_masked) != num_masked):
            raise ValueError(f"num_masked must be a positive integer, got {num_masked}")
        self._conditioner = conditioner
        self._num_masked = None if num_masked is None else int(num_masked)
        self._fraction_masked = fraction_masked
        self._reverse_mask = bool(reverse_mask)
        self._mask = None if mask is None else validate_mask(mask)
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=1 if mask is None else self._mask.ndim,
                is_constant_jacobian=self._transform_fn.constant_jacobian,
                validate_args=validate_args, parameters=parameters, name=name)

    @property
    def mask(self):
        """The explicit mask (NumPy array), or ``None`` for the vector split."""
        return self._mask

    def _apply(self, x, params, inverse):
        fn = self._transform_fn.inverse if inverse else self._transform_fn.forward
        return fn(x, params)

    def _couple(self, x, inverse, **kwargs):
        """Returns the output and the log-det of this direction (summed over the event)."""
        reject_keras_tensor(x, self.name)
        if self._mask is None:
            size = tf.compat.dimension_value(x.shape[-1])
            if size is None:
                raise ValueError(f"{self.name}: the event size (last axis) must be known")
            first, _ = split_sizes(size, self._num_masked, self._fraction_masked,
                                   self._reverse_mask, self.name)
            a, b = x[..., :first], x[..., first:]
            x_cond, x_rest = (b, a) if self._reverse_mask else (a, b)
            params = self._conditioner_params(x_cond, x_rest.shape.as_list(), **kwargs)
            rest, ldj = self._apply(x_rest, params, inverse)
            parts = (rest, x_cond) if self._reverse_mask else (x_cond, rest)
            return tf.concat(parts, axis=-1), tf.reduce_sum(ldj, axis=-1)
        ndims = self._mask.ndim
        if x.shape.rank is None or x.shape.rank < ndims or not x.shape[-ndims:].is_compatible_with(
                self._mask.shape):
            raise ValueError(f"{self.name}: mask of shape {self._mask.shape} does not match "
                             f"the event shape of the input {x.shape}")
        mask = tf.constant(self._mask, dtype=x.dtype)
        params = self._conditioner_params(x * mask, **kwargs)
        out, ldj = self._apply(x, params, inverse)
        keep = mask > 0
        out = tf.where(keep, x, out)
        ldj = tf.where(keep, tf.zeros_like(ldj), ldj)
        return out, tf.reduce_sum(ldj, axis=list(range(-ndims, 0)))

    # One pass gives the value and the log-det (FusedBijector defines TFP's four methods).
    def _forward_and_log_det(self, x, **kwargs):
        return self._couple(x, False, **kwargs)

    def _inverse_and_log_det(self, y, **kwargs):
        return self._couple(y, True, **kwargs)
