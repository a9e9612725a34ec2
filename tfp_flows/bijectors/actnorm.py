"""Activation normalisation (Glow, Kingma & Dhariwal 2018)."""
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors._shapes import per_feature_log_det

tfb = tfp.bijectors

__all__ = ["ActNorm", "actnorm_statistics"]


def actnorm_statistics(y, epsilon=1e-6):
    """Per-feature ``(mean, log std)`` of ``y`` over every axis but the last.

    These are the values that make ``(y - loc) * exp(-log_scale)`` zero-mean, unit-variance
    on that batch (Glow's data-dependent initialisation).

    Example:
        >>> import numpy as np
        >>> loc, log_scale = actnorm_statistics(tf.constant([[0.0, 1.0], [2.0, 5.0]]))
        >>> loc.numpy(), np.exp(log_scale.numpy()).round(4)
        (array([1., 3.], dtype=float32), array([1., 2.], dtype=float32))
    """
    y = tf.convert_to_tensor(y)
    axes = list(range(y.shape.rank - 1))
    mean, var = tf.nn.moments(y, axes=axes)
    return mean, 0.5 * tf.math.log(var + tf.cast(epsilon, y.dtype))


class ActNorm(tfb.Bijector):
    r"""Per-feature affine map, initialised from data.

    .. math::
        y = x \odot \exp(s) + m, \qquad
        \log|\det J| = \textstyle\sum_c s_c \;(\times\, H W \text{ for images}).

    Features are the last axis: ``event_ndims=1`` for vectors ``[..., D]``, ``event_ndims=3``
    for images ``[..., H, W, C]`` (one scale per channel). ``log_scale`` is log|scale|.

    Parameters: give ``num_features`` and the bijector creates ``tf.Variable`` s ``loc`` and
    ``log_scale`` (zeros: the identity) and, with ``data_init=True``, sets them from the
    first batch it *inverts* (the data direction of a ``TransformedDistribution``) so the
    latent output starts zero-mean and unit-variance. Or give ``loc`` and ``log_scale``
    tensors/variables (as :class:`tfp_flows.layers.ActNormLayer` does with its Keras weights,
    which a Keras model tracks) and call :meth:`initialize` yourself if you want data init.

    Example:
        >>> data = tf.constant([[1.0, 10.0], [3.0, 30.0]])
        >>> bij = ActNorm(num_features=2)
        >>> bij.inverse(data).numpy().round(3)     # first batch: sets loc and scale
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
        >>> bij.loc.numpy()
        array([ 2., 20.], dtype=float32)
    """

    def __init__(self, num_features=None, loc=None, log_scale=None, event_ndims=1,
                 data_init=True, validate_args=False, dtype=tf.float32, name="actnorm"):
        parameters = dict(locals())
        if event_ndims not in (1, 3):
            raise ValueError(f"event_ndims must be 1 (vectors) or 3 (images), got {event_ndims}")
        if (loc is None) != (log_scale is None):
            raise ValueError(
                "give both loc and log_scale, or neither; got only "
                + ("loc" if log_scale is None else "log_scale")
            )
        self._initialized = None
        if loc is None:
            if num_features is None or int(num_features) < 1:
                raise ValueError(f"num_features must be a positive integer, got {num_features}")
            loc = tf.Variable(tf.zeros([num_features], dtype), name="loc")
            log_scale = tf.Variable(tf.zeros([num_features], dtype), name="log_scale")
            if data_init:
                self._initialized = tf.Variable(False, trainable=False, name="initialized")
        else:
            dtype = loc.dtype
        self._loc = loc
        self._log_scale = log_scale
        self._event_ndims = event_ndims
        with tf.name_scope(name) as name:
            super().__init__(
                forward_min_event_ndims=event_ndims,
                is_constant_jacobian=True,
                validate_args=validate_args,
                dtype=dtype,
                parameters=parameters,
                name=name,
            )

    @property
    def loc(self):
        return self._loc

    @property
    def log_scale(self):
        return self._log_scale

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def initialize(self, y):
        """Sets ``loc``/``log_scale`` from the batch ``y`` (data side); needs variables."""
        loc, log_scale = actnorm_statistics(y)
        self._loc.assign(loc)
        self._log_scale.assign(log_scale)
        if self._initialized is not None:
            self._initialized.assign(True)

    def _maybe_initialize(self, y):
        if self._initialized is None:
            return
        if tf.executing_eagerly():
            if not bool(self._initialized.numpy()):
                self.initialize(y)
            return
        tf.cond(self._initialized, lambda: tf.constant(False),
                lambda: (self.initialize(y), tf.constant(True))[1])

    def _log_det(self, x):
        return per_feature_log_det(self._log_scale, x, self._event_ndims)

    def _forward(self, x):
        return x * tf.exp(tf.convert_to_tensor(self._log_scale)) + self._loc

    def _inverse(self, y):
        self._maybe_initialize(y)
        return (y - self._loc) * tf.exp(-tf.convert_to_tensor(self._log_scale))

    def _forward_log_det_jacobian(self, x):
        return self._log_det(x)

    def _inverse_log_det_jacobian(self, y):
        self._maybe_initialize(y)
        return -self._log_det(y)

    def _forward_and_fldj(self, x):
        return self._forward(x), self._log_det(x)

    def _inverse_and_ildj(self, y):
        x = self._inverse(y)
        return x, -self._log_det(y)
