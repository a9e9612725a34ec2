"""A bijector whose map depends on a context passed at call time, for plain TFP code."""
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["Conditional"]


class Conditional(tfp.bijectors.Bijector):
    r"""The bijector :math:`f_c` that ``bijector_fn(c)`` builds for the context ``c`` given to
    each call, so that a conditional flow works in plain TFP code: the context travels as a
    keyword argument, which ``TransformedDistribution`` forwards through ``bijector_kwargs``.

    .. math::
        \log p(x \mid c) = \log p_Z(f_c^{-1}(x)) + \log\left|\det
        \frac{\partial f_c^{-1}}{\partial x}\right|

    Every call (``forward``, ``inverse``, their log-dets) needs ``context=c``, a tensor
    ``[n, context_size]`` with one row per event, or ``[context_size]`` for all of them. The
    bijector holds no variables: ``bijector_fn`` reads the weights of whoever owns them (a
    :class:`~tfp_flows.FlowModel`'s layers).

    Args:
      bijector_fn: ``bijector_fn(context)`` returns a ``tfb.Bijector`` for a context
        ``[n, context_size]``.
      context_size: ``K``, the width of a context row.
      forward_min_event_ndims: rank of one base-side event.
      inverse_min_event_ndims: rank of one data-side event (differs for shape-changing flows).
      event_shape: the data-side event shape, or ``None`` when it equals the base side's.
      latent_shape: the base-side event shape (with ``event_shape``).
      dtype: the dtype of the context the bijector accepts (it is cast to it).
      validate_args: TFP's flag (no extra checks here).
      name: the bijector's name.

    Example:
        >>> import tensorflow_probability as tfp
        >>> tfd, tfb = tfp.distributions, tfp.bijectors
        >>> shift = Conditional(lambda c: tfb.Shift(c[:, 0]), context_size=1)   # x = z + c
        >>> dist = tfd.TransformedDistribution(tfd.Normal(0.0, 1.0), shift)
        >>> dist.log_prob([1.0, 1.0], bijector_kwargs={"context": [[1.0], [0.0]]}).numpy()
        array([-0.9189385, -1.4189385], dtype=float32)
    """

    def __init__(self, bijector_fn, context_size, forward_min_event_ndims=0,
                 inverse_min_event_ndims=None, event_shape=None, latent_shape=None,
                 dtype=tf.float32, validate_args=False, name="conditional"):
        parameters = dict(locals())
        if not callable(bijector_fn):
            raise TypeError(f"bijector_fn must be callable, got {type(bijector_fn).__name__}")
        self._bijector_fn = bijector_fn
        self._context_size = int(context_size)
        self._event_shape = None if event_shape is None else tuple(event_shape)
        self._latent_shape = None if latent_shape is None else tuple(latent_shape)
        self._context_dtype = tf.as_dtype(dtype)
        inverse_min_event_ndims = (forward_min_event_ndims if inverse_min_event_ndims is None
                                   else inverse_min_event_ndims)
        super().__init__(forward_min_event_ndims=forward_min_event_ndims,
                         inverse_min_event_ndims=inverse_min_event_ndims,
                         validate_args=validate_args, parameters=parameters, name=name)

    @property
    def context_size(self):
        return self._context_size

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _bijector(self, context):
        if context is None:
            raise ValueError(
                f"{self.name} is conditional: pass its context, e.g. "
                "dist.log_prob(x, bijector_kwargs={'context': c}) or "
                f"bijector.forward(z, context=c), with c of shape [n, {self._context_size}]")
        context = tf.convert_to_tensor(context, self._context_dtype)
        if context.shape.rank is not None and (
                context.shape.rank == 0 or context.shape[-1] not in (None, self._context_size)):
            raise ValueError(f"{self.name}: expected a context of shape [n, "
                             f"{self._context_size}] or [{self._context_size}], got "
                             f"{tuple(context.shape)}")
        if context.shape.rank == 1:
            context = context[None]
        return self._bijector_fn(context)

    def _broadcast(self, x, context, event_ndims):
        """``x`` flattened to ``[n, *event]`` and the context tiled to ``[n, K]``, with the
        batch shape to restore."""
        context = tf.convert_to_tensor(context, self._context_dtype)
        x = tf.convert_to_tensor(x)
        event = tf.shape(x)[tf.rank(x) - event_ndims:]
        batch = tf.broadcast_dynamic_shape(tf.shape(x)[:tf.rank(x) - event_ndims],
                                           tf.shape(context)[:-1])
        x = tf.broadcast_to(x, tf.concat([batch, event], 0))
        context = tf.broadcast_to(context, tf.concat([batch, [self._context_size]], 0))
        flat_x = tf.reshape(x, tf.concat([[-1], event], 0))
        if x.shape.rank is not None:
            flat_x.set_shape([None] + x.shape[x.shape.rank - event_ndims:].as_list())
        return flat_x, tf.reshape(context, [-1, self._context_size]), batch

    def _call(self, method, x, context, in_ndims, out_ndims):
        if context is None:
            self._bijector(None)
        flat, context, batch = self._broadcast(x, context, in_ndims)
        bijector = self._bijector(context)
        if method in ("forward", "inverse"):
            out = getattr(bijector, method)(flat)
            return tf.reshape(out, tf.concat([batch, tf.shape(out)[1:]], 0))
        log_det = getattr(bijector, method)(flat, event_ndims=in_ndims)
        log_det = tf.broadcast_to(log_det, tf.shape(flat)[:1])  # constant log-dets: one each
        return tf.reshape(log_det, batch)

    def _forward(self, x, context=None):
        return self._call("forward", x, context, self.forward_min_event_ndims,
                          self.inverse_min_event_ndims)

    def _inverse(self, y, context=None):
        return self._call("inverse", y, context, self.inverse_min_event_ndims,
                          self.forward_min_event_ndims)

    def _forward_log_det_jacobian(self, x, context=None):
        return self._call("forward_log_det_jacobian", x, context,
                          self.forward_min_event_ndims, self.inverse_min_event_ndims)

    def _inverse_log_det_jacobian(self, y, context=None):
        return self._call("inverse_log_det_jacobian", y, context,
                          self.inverse_min_event_ndims, self.forward_min_event_ndims)

    def _forward_event_shape(self, input_shape):
        return input_shape if self._event_shape is None else tf.TensorShape(self._event_shape)

    def _inverse_event_shape(self, output_shape):
        return output_shape if self._latent_shape is None else tf.TensorShape(self._latent_shape)

    def _forward_event_shape_tensor(self, input_shape):
        if self._event_shape is None:
            return input_shape
        return tf.constant(self._event_shape, tf.int32)

    def _inverse_event_shape_tensor(self, output_shape):
        if self._latent_shape is None:
            return output_shape
        return tf.constant(self._latent_shape, tf.int32)
