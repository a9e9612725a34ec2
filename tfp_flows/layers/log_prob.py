"""``LogProb``: the classic ``keras.Model(x, dist.log_prob(x))`` pattern, working in Keras 3."""
import keras
import tensorflow as tf

__all__ = ["LogProb", "negative_log_likelihood"]


def negative_log_likelihood(y_true, y_pred):
    """Keras loss for models whose output is ``log p(x)``: returns ``-y_pred`` (targets unused).

    Example:
        >>> negative_log_likelihood(None, tf.constant([-1.5, -2.0])).numpy()
        array([1.5, 2. ], dtype=float32)
    """
    del y_true
    return -y_pred


def _keras_view(variable):
    """A Keras 3 variable that reads and writes the storage of the ``tf.Variable``.

    Keras 3 models only train Keras variables; TFP distributions hold ``tf.Variable`` s. On the
    TensorFlow backend a Keras variable wraps a ``tf.Variable`` in ``_value``; pointing it at
    the user's variable lets ``fit`` update the very variable the distribution reads.
    """
    view = keras.Variable(variable.numpy(), trainable=True, dtype=variable.dtype.name,
                          name=variable.name.split(":")[0])
    if not isinstance(getattr(view, "_value", None), tf.Variable):
        raise RuntimeError(
            "this Keras version stores variables differently; LogProb cannot track the "
            f"tf.Variable {variable.name!r}: put it in a Keras layer instead")
    view._value = variable
    return view


class LogProb(keras.layers.Layer):
    """A Keras 3 layer whose output is ``distribution.log_prob(x)``.

    Under Keras 3, ``keras.Model(x, dist.log_prob(x))`` fails ("A KerasTensor cannot be used as
    input to a TensorFlow function"). Wrap the distribution instead::

        x = keras.Input((2,))
        model = keras.Model(x, LogProb(dist)(x))
        model.compile("adam", loss=negative_log_likelihood)
        model.fit(data, np.zeros((len(data), 0)), epochs=...)

    The layer makes the distribution's parameters trainable by ``fit``: Keras layers found
    inside it (e.g. :class:`~tfp_flows.nets.MADE` conditioners) are tracked as sub-layers, and
    each trainable ``tf.Variable`` (``dist.trainable_variables``) gets a Keras view that shares
    its storage. A distribution is not a Keras object, so a model holding ``LogProb`` saves its
    weights (``save_weights``) but not a ``.keras`` file; use :class:`tfp_flows.FlowModel` for
    that.

    Example:
        >>> import tensorflow_probability as tfp
        >>> shift = tf.Variable([0.0, 0.0])
        >>> dist = tfp.distributions.TransformedDistribution(
        ...     tfp.distributions.MultivariateNormalDiag(tf.zeros(2)), tfp.bijectors.Shift(shift))
        >>> x = keras.Input((2,))
        >>> model = keras.Model(x, LogProb(dist)(x))
        >>> [w.name for w in model.trainable_weights]
        ['Variable']
    """

    def __init__(self, distribution, **kwargs):
        super().__init__(**kwargs)
        self.distribution = distribution
        self.inner_layers = list(
            distribution._flatten(predicate=lambda v: isinstance(v, keras.layers.Layer),
                                  expand_composites=False)
        )
        for variable in distribution.trainable_variables:
            self._track_variable(_keras_view(variable))

    def call(self, inputs):
        return self.distribution.log_prob(inputs)

    def compute_output_shape(self, input_shape):
        event_ndims = len(self.distribution.event_shape)
        return tuple(input_shape[: len(input_shape) - event_ndims])

    def get_config(self):
        raise NotImplementedError(
            "LogProb wraps a TFP distribution, which Keras cannot serialise: save the weights "
            "with model.save_weights(...), or build the flow as a tfp_flows.FlowModel to save "
            "a .keras file")
