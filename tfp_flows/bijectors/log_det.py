"""One-pass transform plus log-det for any bijector.

TFP computes ``inverse(y)`` and ``inverse_log_det_jacobian(y)`` in two calls, so a coupling
or autoregressive bijector evaluates its neural network twice per ``log_prob``. The bijectors
of this package implement ``_forward_and_log_det(x, **kw)`` / ``_inverse_and_log_det(y, **kw)``
returning the transformed value and the *unreduced* log-det (per minimal event), so one
network evaluation serves both (:class:`~tfp_flows.bijectors.FusedBijector` defines TFP's
methods from them). :func:`inverse_and_log_det` and :func:`forward_and_log_det`
use that fast path when a bijector has it and fall back to the two TFP calls otherwise,
so they work on any ``tfb.Bijector``; ``tfb.Invert`` of a fused bijector is fused too.
"""
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["forward_and_log_det", "inverse_and_log_det"]

# For bijectors that are not composite tensors (ours hold Keras conditioners), tfb.Invert(b)
# returns TFP's private base class _Invert, so isinstance(x, tfb.Invert) is False for them.
_INVERT_CLASSES = tuple(c for c in tfp.bijectors.Invert.__mro__
                        if c.__name__ in ("Invert", "_Invert"))
#: Bijectors whose log-det is 0 everywhere.
_VOLUME_PRESERVING = (tfp.bijectors.Permute, tfp.bijectors.Reshape, tfp.bijectors.Transpose,
                      tfp.bijectors.Identity)


def _reduce(ldj, bijector, event_ndims, direction):
    min_ndims = _static_min_ndims(bijector, direction)
    if event_ndims < min_ndims:  # as TFP's own calls do, rather than a silently wrong sum
        raise ValueError(
            f"{bijector.name}: event_ndims must be at least {min_ndims}, got {event_ndims}"
        )
    extra_ndims = event_ndims - min_ndims
    if extra_ndims == 0:
        return ldj
    return tf.reduce_sum(ldj, axis=list(range(-extra_ndims, 0)))


def _static_min_ndims(bijector, direction):
    ndims = (
        bijector.forward_min_event_ndims if direction == "forward"
        else bijector.inverse_min_event_ndims
    )
    if not isinstance(ndims, int):
        raise TypeError(f"{bijector.name}: structured event ndims are not supported")
    return ndims


def inverse_and_log_det(bijector, y, event_ndims, **kwargs):
    """Returns ``(bijector.inverse(y), bijector.inverse_log_det_jacobian(y, event_ndims))``.

    Uses the bijector's fused ``_inverse_and_log_det`` when it has one (one network call).

    Args:
      bijector: any ``tfb.Bijector``.
      y: the bijector's output, with ``event_ndims`` event axes.
      event_ndims: how many trailing axes of ``y`` form one event (the log-det is summed
        over them), at least the bijector's ``inverse_min_event_ndims``.
      **kwargs: passed to the bijector (e.g. a context for a conditioner).

    Example:
        >>> import tensorflow_probability as tfp
        >>> from tfp_flows.bijectors import Coupling
        >>> coupling = Coupling(lambda xb: (xb, tf.zeros_like(xb)))   # y1 = x1 + x0
        >>> x, ildj = inverse_and_log_det(coupling, tf.ones([3, 2]), event_ndims=1)
        >>> x.numpy().tolist(), ildj.numpy().tolist()
        ([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], [-0.0, -0.0, -0.0])
    """
    return _one_pass(bijector, y, event_ndims, "inverse", **kwargs)


def forward_and_log_det(bijector, x, event_ndims, **kwargs):
    """Returns ``(bijector.forward(x), bijector.forward_log_det_jacobian(x, event_ndims))``,
    fused when the bijector supports it (see :func:`inverse_and_log_det`).

    Args:
      bijector: any ``tfb.Bijector``.
      x: the bijector's input, with ``event_ndims`` event axes.
      event_ndims: how many trailing axes of ``x`` form one event, at least the
        bijector's ``forward_min_event_ndims``.
      **kwargs: passed to the bijector.

    Example:
        >>> import tensorflow_probability as tfp
        >>> y, fldj = forward_and_log_det(tfp.bijectors.Scale(2.0), tf.ones([3, 2]), 1)
        >>> round(float(fldj), 4)     # stock TFP returns the constant log-det unbroadcast
        1.3863
    """
    return _one_pass(bijector, x, event_ndims, "forward", **kwargs)


def _one_pass(bijector, value, event_ndims, direction, **kwargs):
    """``(value mapped in direction, its log-det)``: the fused map when the bijector has one
    (through ``tfb.Invert`` too), a constant 0 for a volume-preserving bijector (TFP's own
    value, without the ops TFP spends to reach it), else TFP's two calls."""
    if isinstance(bijector, _INVERT_CLASSES):
        other = "forward" if direction == "inverse" else "inverse"
        return _one_pass(bijector.bijector, value, event_ndims, other, **kwargs)
    if isinstance(bijector, _VOLUME_PRESERVING):
        _static_min_ndims(bijector, direction)   # refuses structured event ndims, as TFP
        out = getattr(bijector, direction)(value, **kwargs)
        return out, tf.zeros([], out.dtype)
    fused = getattr(bijector, f"_{direction}_and_log_det", None)
    if fused is None:
        out = getattr(bijector, direction)(value, **kwargs)
        log_det = getattr(bijector, f"{direction}_log_det_jacobian")
        return out, log_det(value, event_ndims=event_ndims, **kwargs)
    out, log_det = fused(tf.convert_to_tensor(value, dtype_hint=bijector.dtype), **kwargs)
    return out, _reduce(log_det, bijector, event_ndims, direction)
