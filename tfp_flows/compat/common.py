"""What the compat networks share: activations given the TensorFlow way, and tf1 ``dense``
keyword arguments as Keras 3 ``Dense`` ones."""
import keras
import tensorflow as tf

__all__ = ["get_activation", "serialize_activation", "dense_kwargs"]

# ``tf.nn`` functions that users pass as activations (TFP's default is ``tf.nn.relu``), by
# the Keras name of the same function, so that a network holding one saves by name.
_TF_ACTIVATIONS = {
    tf.nn.relu: "relu", tf.nn.relu6: "relu6", tf.nn.elu: "elu", tf.nn.selu: "selu",
    tf.nn.softplus: "softplus", tf.nn.softsign: "softsign", tf.nn.tanh: "tanh",
    tf.math.tanh: "tanh", tf.nn.sigmoid: "sigmoid", tf.math.sigmoid: "sigmoid",
    tf.nn.gelu: "gelu", tf.nn.silu: "silu", tf.nn.leaky_relu: "leaky_relu",
}


def get_activation(activation):
    """``activation`` (``None``, a name, a Keras activation or a ``tf.nn`` function) as a
    callable; ``None`` is linear, as in TFP's networks.

    Example:
        >>> get_activation(tf.nn.relu).__name__, get_activation(None).__name__
        ('relu', 'linear')
    """
    name = _TF_ACTIVATIONS.get(activation) if callable(activation) else None
    try:
        return keras.activations.get(name or activation)
    except (ValueError, TypeError) as error:
        raise ValueError(f"activation must be None, a name such as 'relu', or a callable; got "
                         f"{activation!r} ({error})") from None


def serialize_activation(activation, owner):
    """``activation`` (from :func:`get_activation`) as a name for ``get_config``; a
    ``ValueError`` that says what to pass instead for a function Keras cannot save."""
    try:
        config = keras.activations.serialize(activation)
    except (ValueError, TypeError):
        config = None
    if isinstance(config, str) and keras.activations.get(config) is not None:
        return config
    raise ValueError(
        f"{owner}: cannot save the activation {activation!r}, a function Keras cannot "
        "serialise. Pass its name (e.g. 'relu', 'tanh') or a function registered with "
        "keras.saving.register_keras_serializable")


# tf1 ``tf.layers.dense`` keyword arguments that mean the same in ``keras.layers.Dense``.
_DENSE_KEYS = ("use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
               "bias_regularizer", "activity_regularizer", "kernel_constraint",
               "bias_constraint")


def dense_kwargs(kwargs, owner):
    """The ``tf.layers.dense`` keyword arguments in ``kwargs`` as ``keras.layers.Dense``
    ones; a ``TypeError`` names any other."""
    unknown = sorted(set(kwargs) - set(_DENSE_KEYS))
    if unknown:
        raise TypeError(f"{owner} got unexpected keyword argument(s) {unknown}: it takes the "
                        f"dense-layer arguments {list(_DENSE_KEYS)}")
    return dict(kwargs)
