"""Masked autoregressive bijector (MAF, Papamakarios et al. 2017; IAF is its inverse) with
the elementwise transform as an argument (affine, additive, rational-quadratic spline)."""
import tensorflow as tf

from tfp_flows.bijectors.conditioner import (
    ConditionedBijector,
    check_conditioner,
    reject_keras_tensor,
)
from tfp_flows.bijectors.transforms import get_transform

__all__ = ["MaskedAutoregressive"]

_UNROLL_LIMIT = 16  # event sizes up to this unroll the sampling loop in Python


class MaskedAutoregressive(ConditionedBijector):
    r"""Autoregressive bijector driven by an autoregressive conditioner (e.g. MADE).

    Forward (sampling direction), for every position :math:`i` of the conditioner's order:

    .. math::
        y_i = \tau_{\theta_i(y_{<i})}(z_i), \qquad
        \log|\det J| = \textstyle\sum_i \log|\tau'_{\theta_i(y_{<i})}(z_i)|,

    with :math:`\tau` = ``transform`` (affine :math:`z e^{s} + t` by default, as in MAF).
    The inverse (density direction) is one parallel pass; the forward needs one conditioner
    call per dimension, because each :math:`y_i` needs the ones before it. This is MAF: fast
    density, slow sampling. ``tfb.Invert(MaskedAutoregressive(...))`` is IAF: fast
    sampling, slow density.

    Args:
      conditioner: callable ``conditioner(y, **kwargs)``, autoregressive in ``y`` (output
        ``i`` depends only on inputs before ``i`` in some order), returning
        ``[..., D, num_params]`` (an affine transform also takes a tuple
        ``(shift, log_scale)``); :class:`tfp_flows.nets.MADE` is one. Its weights are a Keras
        layer's weights, tracked by any Keras model holding the layer.
      transform: a :class:`~tfp_flows.bijectors.Transform` or its name (``"affine"``,
        ``"additive"``, ``"rational_quadratic"``).
      validate_args: TFP's flag (no extra checks here).
      name: the bijector's name.

    Example:
        >>> made_like = lambda y: tf.stack(
        ...     [tf.concat([tf.zeros_like(y[..., :1]), y[..., :-1]], -1),   # shift = previous y
        ...      tf.zeros_like(y)], axis=-1)
        >>> bij = MaskedAutoregressive(made_like)
        >>> y = bij.forward(tf.constant([1.0, 1.0, 1.0]))   # y_i = z_i + y_{i-1}
        >>> y.numpy()
        array([1., 2., 3.], dtype=float32)
        >>> bij.inverse(y).numpy()
        array([1., 1., 1.], dtype=float32)
    """

    def __init__(self, conditioner, transform="affine", validate_args=False,
                 name="masked_autoregressive"):
        parameters = dict(locals())
        check_conditioner(conditioner)
        self._conditioner = conditioner
        self._transform_fn = get_transform(transform)
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=1,
                is_constant_jacobian=self._transform_fn.constant_jacobian,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    def _event_size(self, x):
        reject_keras_tensor(x, self.name)
        size = tf.compat.dimension_value(x.shape[-1])
        if size is None:
            raise ValueError(f"{self.name}: the event size (last axis) must be known statically")
        return size

    def _elementwise(self, value, y, inverse, **kwargs):
        """The per-dimension map with parameters from ``conditioner(y)``: returns the mapped
        ``value`` and its elementwise log-det in this direction."""
        params = self._conditioner_params(y, **kwargs)
        fn = self._transform_fn.inverse if inverse else self._transform_fn.forward
        return fn(value, params)

    def _solve_forward(self, z, passes, **kwargs):
        """Runs ``passes`` fixed-point passes ``y <- f(z; theta(y))`` from ``y = 0``: after
        ``k`` passes the first ``k`` entries (in the conditioner's order) are exact. Only ``y``
        is carried through the loop, so nothing unneeded is computed when sampling."""

        def step(y):
            return self._elementwise(z, y, inverse=False, **kwargs)[0]

        y = tf.zeros_like(z)
        if passes <= _UNROLL_LIMIT:
            for _ in range(passes):
                y = step(y)
            return y
        return tf.while_loop(lambda y: True, lambda y: (step(y),), (y,),
                             maximum_iterations=passes)[0]

    def _forward_and_log_det(self, z, **kwargs):
        # After D - 1 passes every parameter depends only on exact entries: the last pass
        # gives the exact output and its log-det together (D conditioner calls in all).
        y = self._solve_forward(z, self._event_size(z) - 1, **kwargs)
        y, ldj = self._elementwise(z, y, inverse=False, **kwargs)
        return y, tf.reduce_sum(ldj, axis=-1)

    def _inverse_and_log_det(self, y, **kwargs):
        x, ildj = self._elementwise(y, y, inverse=True, **kwargs)
        return x, tf.reduce_sum(ildj, axis=-1)

    def _forward(self, z, **kwargs):
        # Sampling: the same D conditioner calls, without the log-det.
        return self._solve_forward(z, self._event_size(z), **kwargs)
