r"""A base class for bijectors that compute a value and its log-det in one pass."""
import tensorflow_probability as tfp

__all__ = ["FusedBijector"]


class FusedBijector(tfp.bijectors.Bijector):
    r"""A ``tfb.Bijector`` defined by two fused maps, each returning the transformed value
    and the log-det of its direction together:

    * ``_forward_and_log_det(x, **kwargs)`` → ``(y, log|det dy/dx|)``,
    * ``_inverse_and_log_det(y, **kwargs)`` → ``(x, log|det dx/dy|)``,

    with the log-det per minimal event (TFP's base class, or
    :func:`~tfp_flows.bijectors.forward_and_log_det`, sums over any extra event axes).
    TFP's four methods (``_forward``, ``_inverse``, ``_forward_log_det_jacobian``,
    ``_inverse_log_det_jacobian``) are defined from them here, once. A subclass may still
    override one of the four with a cheaper path (sampling without the log-det, say).

    Use it when the value and the log-det share most of their work (a conditioner network
    call, batch statistics): :func:`~tfp_flows.bijectors.inverse_and_log_det` and
    :func:`~tfp_flows.bijectors.forward_and_log_det` call the fused maps directly, so a
    flow's ``log_prob`` does that work once, where TFP's two calls would do it twice.
    Subclasses pass TFP's constructor arguments (``forward_min_event_ndims``,
    ``parameters``, ``name``...) unchanged. Like every bijector of this package but PReLU,
    a fused bijector has no batch-shaped parameters (``_parameter_properties`` is empty:
    its batch shape is ``[]``); a subclass with such parameters overrides it.

    Example:
        >>> import math
        >>> import tensorflow as tf
        >>> class Double(FusedBijector):
        ...     def __init__(self):
        ...         super().__init__(forward_min_event_ndims=0, is_constant_jacobian=True,
        ...                          name="double")
        ...     def _forward_and_log_det(self, x):
        ...         return 2.0 * x, tf.fill(tf.shape(x), math.log(2.0))
        ...     def _inverse_and_log_det(self, y):
        ...         return y / 2.0, tf.fill(tf.shape(y), -math.log(2.0))
        >>> double = Double()
        >>> double.forward(tf.constant([1.0, 3.0])).numpy()
        array([2., 6.], dtype=float32)
        >>> round(float(double.inverse_log_det_jacobian(tf.constant([1.0, 3.0]),
        ...                                             event_ndims=1)), 4)   # 2 * -log 2
        -1.3863
    """

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _forward_and_log_det(self, x, **kwargs):
        """``(forward(x), log|det J|)`` per minimal event; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must define _forward_and_log_det")

    def _inverse_and_log_det(self, y, **kwargs):
        """``(inverse(y), log|det J^-1|)`` per minimal event; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must define _inverse_and_log_det")

    def _forward(self, x, **kwargs):
        return self._forward_and_log_det(x, **kwargs)[0]

    def _inverse(self, y, **kwargs):
        return self._inverse_and_log_det(y, **kwargs)[0]

    def _forward_log_det_jacobian(self, x, **kwargs):
        return self._forward_and_log_det(x, **kwargs)[1]

    def _inverse_log_det_jacobian(self, y, **kwargs):
        return self._inverse_and_log_det(y, **kwargs)[1]
