"""Affine coupling (Real NVP) and additive coupling (NICE)."""
import sys

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.masks import validate_mask

tfb = tfp.bijectors

__all__ = ["AffineCoupling", "parse_shift_and_log_scale", "soft_clip_log_scale"]


def soft_clip_log_scale(log_scale, bound):
    """Bounds a raw log-scale smoothly: ``bound * tanh(log_scale / bound)``.

    Identity near 0, never beyond ``+-bound``, so ``exp(log_scale)`` cannot overflow.

    Example:
        >>> soft_clip_log_scale(tf.constant([0.1, 100.0]), 5.0).numpy().round(3)
        array([0.1, 5. ], dtype=float32)
    """
    if bound is None:
        return log_scale
    bound = tf.cast(bound, log_scale.dtype)
    return bound * tf.tanh(log_scale / bound)


def check_conditioner_args(conditioner, log_scale_bound):
    """Raises unless ``conditioner`` is callable and ``log_scale_bound`` is positive or None."""
    if not callable(conditioner):
        raise TypeError(f"conditioner must be callable, got {type(conditioner).__name__}")
    if log_scale_bound is not None and not float(log_scale_bound) > 0:
        raise ValueError(f"log_scale_bound must be positive or None, got {log_scale_bound}")


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


def parse_shift_and_log_scale(out, out_shape, name, log_scale_bound, shift_only=False,
                              dtype=None):
    """Reads a conditioner's output as ``(shift, log_scale)`` for entries of ``out_shape``.

    ``out`` is a tuple ``(shift, log_scale)`` or one tensor whose extra last axis holds
    ``[shift, log_scale]``; with ``shift_only`` a tensor of ``out_shape`` (or with a last
    axis of 1) is the shift and ``log_scale`` is ``None``. Shapes are checked with a message
    naming ``name``, the shape returned and the one expected; the log-scale is soft-clipped
    to ``+-log_scale_bound`` (:func:`soft_clip_log_scale`). With ``dtype`` (the data's), a
    conditioner returning another dtype is an error rather than a silent cast.
    """
    if out is None or (isinstance(out, (tuple, list)) and any(o is None for o in out)):
        raise ValueError(f"{name}: the conditioner returned None; expected a tensor of shape "
                         f"{out_shape + [2]} (shift and log-scale) or a tuple of two {out_shape}")
    if isinstance(out, (tuple, list)):
        shift = tf.convert_to_tensor(out[0])
        log_scale = None if shift_only else tf.convert_to_tensor(out[1])
    else:
        out = tf.convert_to_tensor(out)
        rank = len(out_shape)
        if out.shape.rank == rank + 1 and out.shape[-1] in (1, 2):
            shift = out[..., 0]
            if out.shape[-1] == 2 and not shift_only:
                log_scale = out[..., 1]
            elif shift_only:
                log_scale = None
            else:
                raise ValueError(
                    f"{name}: an affine transform needs shift and log-scale, but the "
                    f"conditioner returned one value per entry (shape {out.shape})"
                )
        elif out.shape.rank == rank and shift_only:
            shift, log_scale = out, None
        else:
            raise ValueError(
                f"{name}: conditioner returned shape {out.shape}; expected "
                f"{out_shape + [2]} (shift and log-scale) or a tuple of two {out_shape}"
            )
    for value, what in ((shift, "shift"), (log_scale, "log_scale")):
        if value is not None and dtype is not None and value.dtype != dtype:
            raise ValueError(
                f"{name}: conditioner returned {what} of dtype {value.dtype.name}; expected "
                f"{tf.as_dtype(dtype).name}, the dtype of the data (build the conditioner "
                "with the same dtype)")
        if value is not None and not value.shape.is_compatible_with(out_shape):
            raise ValueError(
                f"{name}: conditioner returned {what} of shape {value.shape}; "
                f"expected {out_shape}"
            )
    if log_scale is not None:
        log_scale = soft_clip_log_scale(log_scale, log_scale_bound)
    return shift, log_scale


class AffineCoupling(tfb.Bijector):
    r"""Affine coupling layer of Real NVP (Dinh et al., 2017); NICE with ``shift_only``.

    With a binary mask :math:`b` (1 = conditioning entry), the forward map is

    .. math::
        y_b = x_b, \qquad y_{\bar b} = x_{\bar b} \odot \exp(s(x_b)) + t(x_b),
        \qquad \log|\det J| = \textstyle\sum_{\bar b} s(x_b),

    where :math:`(t, s)` come from ``conditioner`` and :math:`s` is soft-clipped to
    ``[-log_scale_bound, log_scale_bound]`` (see :func:`soft_clip_log_scale`). With
    ``shift_only=True`` the scale is 1 (NICE's additive coupling, zero log-det).

    Masks:

    * vectors (default): the first ``num_masked`` entries condition (or a
      ``fraction_masked`` of them; half by default); ``reverse_mask=True`` makes the *last*
      ones condition, for alternating layers. The conditioner sees only the conditioning
      entries, shape ``[..., d]``, and must give outputs for the ``D - d`` others.
    * any event shape, e.g. images ``(H, W, C)``: pass ``mask`` (see
      :func:`~tfp_flows.bijectors.checkerboard_mask`, :func:`~tfp_flows.bijectors.channel_mask`).
      The conditioner sees ``x * mask`` (full event shape) and returns full-shape outputs;
      only entries where ``mask == 0`` are transformed.

    The conditioner is any callable (a Keras 3 layer in practice) ``conditioner(x_b, **kw)``
    returning either a tuple ``(shift, log_scale)`` or one tensor whose last axis has size 2
    (``[..., 0]`` shift, ``[..., 1]`` log-scale); with ``shift_only`` a tensor of the output
    shape (optionally with a trailing axis of size 1) is the shift. Keyword arguments given
    to ``forward``/``inverse`` (e.g. via ``TransformedDistribution(...).log_prob(x,
    bijector_kwargs=...)``) are passed through to the conditioner.

    Trainable weights live in the conditioner: a Keras layer's ``trainable_weights``, which a
    Keras model that holds the layer (e.g. :class:`tfp_flows.FlowModel`) tracks.

    Example:
        >>> net = lambda x_b: (tf.zeros_like(x_b), tf.ones_like(x_b))
        >>> bij = AffineCoupling(net, log_scale_bound=None)   # keeps x[0], scales x[1] by e
        >>> bij.forward(tf.constant([1.0, 1.0])).numpy().round(4)
        array([1.    , 2.7183], dtype=float32)
        >>> float(bij.forward_log_det_jacobian(tf.constant([1.0, 1.0]), event_ndims=1))
        1.0
    """

    def __init__(
        self,
        conditioner,
        num_masked=None,
        fraction_masked=None,
        reverse_mask=False,
        mask=None,
        shift_only=False,
        log_scale_bound=5.0,
        validate_args=False,
        name="affine_coupling",
    ):
        parameters = dict(locals())
        check_conditioner_args(conditioner, log_scale_bound)
        if num_masked is not None and fraction_masked is not None:
            raise ValueError(
                "give at most one of num_masked and fraction_masked, got "
                f"num_masked={num_masked} and fraction_masked={fraction_masked}"
            )
        if fraction_masked is not None and not 0.0 < float(fraction_masked) < 1.0:
            raise ValueError(f"fraction_masked must be in (0, 1), got {fraction_masked}")
        if num_masked is not None and int(num_masked) < 1:
            raise ValueError(f"num_masked must be a positive integer, got {num_masked}")
        if mask is not None and (num_masked is not None or fraction_masked is not None):
            raise ValueError(
                "give either a mask or num_masked/fraction_masked, not both; got a mask and "
                f"num_masked={num_masked}, fraction_masked={fraction_masked}"
            )
        self._conditioner = conditioner
        self._num_masked = None if num_masked is None else int(num_masked)
        self._fraction_masked = fraction_masked
        self._reverse_mask = bool(reverse_mask)
        self._mask = None if mask is None else validate_mask(mask)
        self._shift_only = bool(shift_only)
        self._log_scale_bound = log_scale_bound
        event_ndims = 1 if mask is None else self._mask.ndim
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=event_ndims,
                is_constant_jacobian=self._shift_only,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @property
    def conditioner(self):
        return self._conditioner

    @property
    def mask(self):
        """The explicit mask (NumPy array), or ``None`` for the vector split mask."""
        return self._mask

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    # ----------------------------------------------------------------- helpers
    def _split_sizes(self, x):
        size = tf.compat.dimension_value(x.shape[-1])
        if size is None:
            raise ValueError(f"{self.name}: the event size (last axis) must be known statically")
        if self._num_masked is not None:
            d = self._num_masked
        elif self._fraction_masked is not None:
            d = int(round(size * float(self._fraction_masked)))
        else:
            d = size // 2
        if not 0 < d < size:
            raise ValueError(
                f"{self.name}: {d} conditioning entries do not fit an event of size {size}; "
                f"expected between 1 and {size - 1}"
            )
        return (size - d, d) if self._reverse_mask else (d, size - d)

    def _check_mask_shape(self, x):
        event_shape = x.shape[-self._mask.ndim:] if x.shape.rank is not None else None
        if x.shape.rank is None or x.shape.rank < self._mask.ndim or not event_shape.is_compatible_with(
            self._mask.shape
        ):
            raise ValueError(
                f"{self.name}: mask of shape {self._mask.shape} does not match the event "
                f"shape of the input {x.shape}"
            )

    def _shift_and_log_scale(self, x_cond, out_shape, **kwargs):
        return parse_shift_and_log_scale(
            self._conditioner(x_cond, **kwargs), out_shape, self.name,
            self._log_scale_bound, shift_only=self._shift_only, dtype=x_cond.dtype)

    def _couple(self, x_cond, x_rest, inverse, **kwargs):
        """Transforms the non-conditioning entries (vector split mask). Returns the new
        entries and the elementwise log-det of this direction (``None`` if zero)."""
        shift, log_scale = self._shift_and_log_scale(x_cond, x_rest.shape.as_list(), **kwargs)
        if inverse:
            rest = x_rest - shift
            if log_scale is None:
                return rest, None
            return rest * tf.exp(-log_scale), -log_scale
        if log_scale is None:
            return x_rest + shift, None
        return x_rest * tf.exp(log_scale) + shift, log_scale

    def _transform(self, x, inverse, **kwargs):
        """Returns (output, unreduced log-det of this direction)."""
        reject_keras_tensor(x, self.name)
        if self._mask is None:
            first, second = self._split_sizes(x)
            a, b = x[..., :first], x[..., first:]
            x_cond, x_rest = (b, a) if self._reverse_mask else (a, b)
            rest, ldj = self._couple(x_cond, x_rest, inverse, **kwargs)
            parts = (rest, x_cond) if self._reverse_mask else (x_cond, rest)
            out = tf.concat(parts, axis=-1)
            ldj = tf.zeros_like(out[..., 0]) if ldj is None else tf.reduce_sum(ldj, axis=-1)
            return out, ldj

        self._check_mask_shape(x)
        mask = tf.constant(self._mask, dtype=x.dtype)
        x_cond = x * mask
        shift, log_scale = self._shift_and_log_scale(x_cond, x.shape.as_list(), **kwargs)
        keep = 1.0 - mask
        shift = shift * keep
        if inverse:
            out = x - shift
            if log_scale is not None:
                out = out * tf.exp(-log_scale * keep)
        else:
            out = x if log_scale is None else x * tf.exp(log_scale * keep)
            out = out + shift
        axes = list(range(-self._mask.ndim, 0))
        if log_scale is None:
            ldj = tf.zeros_like(tf.reduce_sum(out, axis=axes))
        else:
            ldj = tf.reduce_sum(log_scale * keep, axis=axes)
        return out, -ldj if inverse else ldj

    # ------------------------------------------------------------ TFP contract
    def _forward(self, x, **kwargs):
        return self._transform(x, inverse=False, **kwargs)[0]

    def _inverse(self, y, **kwargs):
        return self._transform(y, inverse=True, **kwargs)[0]

    def _forward_log_det_jacobian(self, x, **kwargs):
        return self._transform(x, inverse=False, **kwargs)[1]

    def _inverse_log_det_jacobian(self, y, **kwargs):
        return self._transform(y, inverse=True, **kwargs)[1]

    # Fused paths used by tfp_flows.bijectors.fused (one conditioner call).
    def _forward_and_fldj(self, x, **kwargs):
        return self._transform(x, inverse=False, **kwargs)

    def _inverse_and_ildj(self, y, **kwargs):
        return self._transform(y, inverse=True, **kwargs)
