"""A fixed (weightless) TFP bijector as a flow layer, saved by its constructor arguments."""
import importlib

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.layers.base import FlowLayer

__all__ = ["BijectorLayer", "bijector_from_config", "bijector_to_config"]

tfb = tfp.bijectors

# Only classes from these packages are rebuilt from a saved file (no arbitrary imports).
_TRUSTED_PACKAGES = ("tensorflow_probability.", "tfp_flows.")


def _value_to_config(value, where):
    if isinstance(value, tfb.Bijector):
        return {"bijector": bijector_to_config(value)}
    if isinstance(value, tf.Variable):
        raise ValueError(
            f"{where} is a tf.Variable ({value.name}): a fixed bijector layer holds constants "
            "only. Trainable numbers belong to a FlowLayer that owns them as Keras weights "
            "(e.g. tfp_flows.layers.CouplingLayer, ActNormLayer)")
    if isinstance(value, (tf.Tensor, np.ndarray, np.generic)):
        array = np.asarray(value)
        return {"array": array.tolist(), "dtype": array.dtype.name}
    if isinstance(value, tf.DType):
        return {"tf_dtype": value.name}
    if isinstance(value, (list, tuple)):
        return {"list": [_value_to_config(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise ValueError(
        f"{where} is a {type(value).__name__}, which a saved flow cannot hold: fixed bijector "
        "arguments must be numbers, arrays, tensors, strings or other bijectors")


def _value_from_config(config):
    if "bijector" in config:
        return bijector_from_config(config["bijector"])
    if "array" in config:
        return np.asarray(config["array"], dtype=config["dtype"])
    if "tf_dtype" in config:
        return tf.as_dtype(config["tf_dtype"])
    if "list" in config:
        return [_value_from_config(v) for v in config["list"]]
    return config["value"]


def _bijector_class(bijector):
    cls = type(bijector)
    # TFP rebuilds composite bijectors as auto-generated subclasses; save the public class.
    while cls.__module__.startswith("tensorflow_probability.") and cls.__name__.startswith("_"):
        base = cls.__mro__[1]
        if not issubclass(base, tfb.Bijector) or base is tfb.Bijector:
            break
        cls = base
    return cls


def bijector_to_config(bijector):
    """A JSON-able description of a weightless bijector: its class and constructor arguments.

    Args:
      bijector: a ``tfb.Bijector`` from TensorFlow Probability or this package whose
        constructor arguments (``bijector.parameters``) are constants or other bijectors.

    Returns:
      ``{"class": "module.Name", "parameters": {...}}``, readable by
      :func:`bijector_from_config`.

    Raises:
      ValueError: if an argument is a ``tf.Variable`` (trainable numbers belong to a
        :class:`FlowLayer`) or cannot be saved, or the class comes from another package.

    Example:
        >>> config = bijector_to_config(tfb.Shift([1.0, 2.0]))
        >>> config["class"]
        'tensorflow_probability.python.bijectors.shift.Shift'
        >>> bijector_from_config(config).forward([0.0, 0.0]).numpy()
        array([1., 2.], dtype=float32)
    """
    if not isinstance(bijector, tfb.Bijector):
        raise TypeError(f"expected a tfb.Bijector, got {type(bijector).__name__}")
    cls = _bijector_class(bijector)
    path = f"{cls.__module__}.{cls.__name__}"
    if not path.startswith(_TRUSTED_PACKAGES):
        raise ValueError(
            f"cannot save the bijector class {path}: only TensorFlow Probability's and "
            "tfp_flows' bijectors are rebuilt from a saved file. Wrap your bijector in a "
            "FlowLayer subclass registered with keras.saving.register_keras_serializable")
    parameters = {
        key: _value_to_config(value, f"{bijector.name}.{key}")
        for key, value in bijector.parameters.items()
        if key not in ("self", "__class__")
    }
    return {"class": path, "parameters": parameters}


def bijector_from_config(config):
    """Rebuilds a bijector from :func:`bijector_to_config`'s description.

    Args:
      config: the dict written by :func:`bijector_to_config`.

    Returns:
      A new ``tfb.Bijector`` equal to the saved one.
    """
    path = config["class"]
    if not path.startswith(_TRUSTED_PACKAGES):
        raise ValueError(f"refusing to import the bijector class {path} from a saved file")
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    kwargs = {key: _value_from_config(value) for key, value in config["parameters"].items()}
    return cls(**kwargs)


@keras.saving.register_keras_serializable(package="tfp_flows")
class BijectorLayer(FlowLayer):
    """A fixed TFP bijector (no weights) as a flow layer.

    :class:`~tfp_flows.FlowModel` wraps any ``tfb.Bijector`` found among its layers in one, so
    ``FlowModel([tfb.Shift(...), coupling, tfp_flows.bijectors.Logit(...)], ...)`` works and
    saves: the bijector is stored by its class and constructor arguments.

    Args:
      bijector: a ``tfb.Bijector`` whose arguments are constants (no ``tf.Variable``), from
        TensorFlow Probability or this package; or its :func:`bijector_to_config` dict.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> layer = BijectorLayer(tfb.Scale(2.0))
        >>> layer(np.ones((2, 1), "float32")).numpy().ravel().tolist()
        [2.0, 2.0]
    """

    def __init__(self, bijector, **kwargs):
        super().__init__(**kwargs)
        if isinstance(bijector, dict):
            bijector = bijector_from_config(bijector)
        self._config = bijector_to_config(bijector)  # fails now, not at save time
        trainable = [v for v in bijector.trainable_variables]
        if trainable:
            raise ValueError(
                f"{bijector.name} holds trainable variables ({trainable[0].name}): a fixed "
                "bijector layer cannot train them. Use a FlowLayer that owns them as Keras "
                "weights")
        self.fixed_bijector = bijector
        self.built = True

    def bijector(self, context=None, training=False):
        self.check_context(context)
        return self.fixed_bijector

    def forward_event_shape(self, shape):
        return tuple(self.fixed_bijector.forward_event_shape(shape))

    def inverse_event_shape(self, shape):
        return tuple(self.fixed_bijector.inverse_event_shape(shape))

    def get_config(self):
        return {**super().get_config(), "bijector": self._config}
