"""``StockFlowLayer``: a stock TFP bijector built with the compat networks, as a flow layer
that trains, saves and loads (it owns the networks and rebuilds the bijector from a saved
description)."""
import functools

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.compat.bijectors import int32_reshapes
from tfp_flows.layers.base import FlowLayer
from tfp_flows.layers.fixed import (
    _TRUSTED_PACKAGES,
    _bijector_class,
    _value_from_config,
    _value_to_config,
    bijector_from_config,
    bijector_to_config,
)
from tfp_flows.layers.log_prob import _keras_view, _keras_name
from tfp_flows.validation import check_event_shape

__all__ = ["StockFlowLayer"]

tfb = tfp.bijectors


def _is_keras2(obj):
    return any(cls.__module__.startswith("tf_keras") for cls in type(obj).__mro__)


def _public_class(bijector):
    """The public class of ``bijector``: TFP makes a stock ``Chain`` / ``Invert`` holding a
    bijector that is no composite tensor (one with a Keras network) a private ``_Chain`` /
    ``_Invert``, whose public subclass of the same name is what rebuilds it."""
    cls = type(bijector)
    if cls.__name__.startswith("_"):
        module = __import__(cls.__module__, fromlist=["_"])
        public = getattr(module, cls.__name__.lstrip("_"), None)
        if isinstance(public, type) and issubclass(public, cls):
            return public
    return _bijector_class(bijector)


def _import(path):
    if not path.startswith(_TRUSTED_PACKAGES):
        raise ValueError(f"refusing to import the bijector class {path} from a saved file")
    module, name = path.rsplit(".", 1)
    return getattr(__import__(module, fromlist=[name]), name)


class _Describer:
    """Walks a stock bijector's constructor arguments into a JSON-able description; Keras 3
    networks become ``{"network": i}`` (``networks[i]``), network classes (factories such as
    ``coupling_bijector_fn=GlowDefaultNetwork``) ``{"keras_class": name}``."""

    def __init__(self):
        self.networks, self.factories = [], 0

    def bijector(self, bijector):
        cls = _public_class(bijector)
        path = f"{cls.__module__}.{cls.__name__}"
        if not path.startswith(_TRUSTED_PACKAGES):
            raise ValueError(f"cannot save the bijector class {path}: a StockFlowLayer holds "
                             "TensorFlow Probability's and tfp_flows' bijectors")
        return {"class": path, "parameters": {
            key: self.value(value, f"{bijector.name}.{key}")
            for key, value in bijector.parameters.items() if key not in ("self", "__class__")}}

    def value(self, value, where):
        if isinstance(value, tfb.Bijector):
            before = (len(self.networks), self.factories)
            node = self.bijector(value)
            if (len(self.networks), self.factories) == before:  # no network inside
                return {"fixed": bijector_to_config(value)}
            return {"bijector": node}
        if isinstance(value, keras.layers.Layer):
            index = next((i for i, n in enumerate(self.networks) if n is value), None)
            if index is None:
                self.networks.append(value)
                index = len(self.networks) - 1
            return {"network": index}
        if isinstance(value, type) and issubclass(value, keras.layers.Layer):
            self.factories += 1
            return {"keras_class": keras.saving.get_registered_name(value)}
        if isinstance(value, functools.partial):
            return {"partial": {"func": self.value(value.func, where),
                                "args": [self.value(a, where) for a in value.args],
                                "keywords": {k: self.value(v, where)
                                             for k, v in value.keywords.items()}}}
        if isinstance(value, (list, tuple)):
            return {"list": [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if _is_keras2(value):
            raise ValueError(
                f"{where} is a Keras 2 (tf_keras) {type(value).__name__}: build it from "
                "tfp_flows.compat (e.g. `from tfp_flows.compat import bijectors as tfb`) so "
                "that it is a Keras 3 layer whose weights can be saved")
        if callable(value) and not isinstance(value, (tf.Tensor, np.ndarray, tf.Variable)):
            raise ValueError(
                f"{where} is a Python function ({getattr(value, '__name__', value)!r}), which a "
                "saved flow cannot hold: pass the network itself (a Keras 3 layer), its class, "
                "or functools.partial(NetworkClass, ...) instead of a lambda")
        return _value_to_config(value, where)


def _has_factory(config):
    """Whether a description holds a network class (its bijector makes networks)."""
    if isinstance(config, dict):
        return "keras_class" in config or any(_has_factory(v) for v in config.values())
    if isinstance(config, list):
        return any(_has_factory(v) for v in config)
    return False


def _rebuild(node, networks, bind):
    """The bijector of description ``node``; ``bind(net)`` is what a ``{"network": i}``
    argument becomes."""

    def value(config):
        if "network" in config:
            return bind(networks[config["network"]])
        if "bijector" in config:
            return _rebuild(config["bijector"], networks, bind)
        if "fixed" in config:
            return bijector_from_config(config["fixed"])
        if "keras_class" in config:
            cls = keras.saving.get_registered_object(config["keras_class"])
            if cls is None:
                raise ValueError(f"unknown Keras class {config['keras_class']!r}: import the "
                                 "module that registers it first")
            return cls
        if "partial" in config:
            p = config["partial"]
            return functools.partial(value(p["func"]), *[value(a) for a in p["args"]],
                                     **{k: value(v) for k, v in p["keywords"].items()})
        if "list" in config:
            return [value(v) for v in config["list"]]
        return _value_from_config(config)

    cls = _import(node["class"])
    return cls(**{key: value(v) for key, v in node["parameters"].items()})


@keras.saving.register_keras_serializable(package="tfp_flows.compat")
class StockFlowLayer(FlowLayer):
    """A stock TFP bijector made with the :mod:`tfp_flows.compat` networks, as a flow layer:
    ``FlowModel([StockFlowLayer(bijector, event_shape)], event_shape, base)`` trains it with
    ``fit`` and saves it to ``.keras``; it loads in a fresh process after ``import
    tfp_flows``.

    The layer owns the Keras 3 networks found among the bijector's constructor arguments
    (``tfb.MaskedAutoregressiveFlow(net)``, ``tfb.RealNVP(..., shift_and_log_scale_fn=net)``,
    inside ``tfb.Invert`` and ``tfb.Chain``, next to fixed bijectors such as ``tfb.Permute``)
    and stores the bijector as its class and arguments; :meth:`bijector` rebuilds it around
    the same networks on every call (cheap: no weights are made). A conditional
    :class:`AutoregressiveNetwork` makes the layer conditional (``context_size`` = its
    ``conditional_event_shape``): the context is passed to it as ``conditional_input``.

    A bijector that makes its own networks and variables when constructed (stock
    ``tfb.Glow``: ``coupling_bijector_fn=GlowDefaultNetwork`` is a class, and its 1x1
    convolutions and ActNorm hold ``tf.Variable`` s) is built once instead, from the same
    arguments (pass a ``seed`` for the same initial 1x1 convolutions) when loaded; its
    ``tf.Variable`` s become Keras weights that share their storage, and ActNorm initialises
    from the first batch it sees, as in TFP.

    Args:
      bijector: the stock bijector (base to data), or its saved description.
      event_shape: the shape of the events on the bijector's data side.
      networks: used when loading: the networks of a saved description.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Raises:
      ValueError: the bijector holds a Keras 2 (``tf_keras``) network, a Python function
        (a ``lambda``) or a ``tf.Variable`` outside a network, a class from another package,
        or conditional networks of different context sizes.

    Example:
        >>> from tfp_flows.compat import AutoregressiveNetwork
        >>> maf = tfb.MaskedAutoregressiveFlow(AutoregressiveNetwork(2, hidden_units=[8]))
        >>> layer = StockFlowLayer(maf, event_shape=(3,))
        >>> len(layer.networks), layer.context_size, len(layer.trainable_weights)
        (1, None, 4)
    """

    def __init__(self, bijector, event_shape, networks=None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_event_shape(event_shape)
        if isinstance(bijector, tfb.Bijector):
            describer = _Describer()
            self._description = describer.bijector(bijector)
            networks, built_once = describer.networks, describer.factories > 0
        elif isinstance(bijector, dict) and "class" in bijector:
            self._description, networks = bijector, list(networks or [])
            built_once = None
        else:
            raise TypeError(f"StockFlowLayer expects a tfb.Bijector, got "
                            f"{type(bijector).__name__}")
        if built_once is None:
            built_once = _has_factory(self._description)
        self._instance, self._given_networks = None, networks
        if built_once:
            if not isinstance(bijector, tfb.Bijector):
                bijector = _rebuild(self._description, networks, lambda net: net)
            self._instance = int32_reshapes(bijector)
            networks = list(bijector._flatten(
                predicate=lambda v: isinstance(v, keras.layers.Layer), expand_composites=False))
            self._track_bijector_variables(bijector, networks)
        self.networks = networks
        sizes = {net.conditional_size for net in networks
                 if getattr(net, "conditional", False)}
        if sizes and built_once:
            raise ValueError("StockFlowLayer: a bijector that makes its own networks (such as "
                             "tfb.Glow) cannot hold a conditional network as well")
        if len(sizes) > 1:
            raise ValueError(f"StockFlowLayer: its conditional networks take contexts of "
                             f"different sizes {sorted(sizes)}; one flow has one context")
        self.context_size = sizes.pop() if sizes else None
        if not built_once:
            self._check_variables()
            with tf.init_scope():  # builds networks made lazily (real_nvp_default_template)
                context = (None if self.context_size is None
                           else tf.zeros([1, self.context_size], self.flow_dtype))
                self.bijector(context).inverse(tf.zeros((1,) + self.event_shape,
                                                        self.flow_dtype))
        self.built = True

    def _check_variables(self):
        bijector = _rebuild(self._description, self.networks, functools.partial)
        loose = [v for v in bijector.variables if isinstance(v, tf.Variable)]
        if loose:
            raise ValueError(
                f"the bijector holds a tf.Variable outside a network ({loose[0].name}): its "
                "trainable numbers must live in Keras 3 layers (the tfp_flows.compat networks "
                "or tfp_flows.layers)")

    def _track_bijector_variables(self, bijector, networks):
        owned = {id(getattr(w, "_value", w)) for net in networks for w in net.weights}
        names = set()
        for variable in bijector.variables:
            if id(variable) in owned or not isinstance(variable, tf.Variable):
                continue
            owned.add(id(variable))
            self._track_variable(_keras_view(variable, _keras_name(variable, names),
                                             variable.trainable))

    def bijector(self, context=None, training=False):
        self.check_context(context)
        if self._instance is not None:
            return self._instance

        def bind(net):
            # A new callable each call: TFP caches results per bijector arguments.
            if getattr(net, "conditional", False) and context is not None:
                return functools.partial(net, conditional_input=context)
            return functools.partial(net)

        return _rebuild(self._description, self.networks, bind)

    def _shape_bijector(self):
        return self._instance or _rebuild(self._description, self.networks, functools.partial)

    def forward_event_shape(self, shape):
        return tuple(self._shape_bijector().forward_event_shape(shape))

    def inverse_event_shape(self, shape):
        return tuple(self._shape_bijector().inverse_event_shape(shape))

    def get_config(self):
        networks = self._given_networks if self._instance is not None else self.networks
        return {**super().get_config(), "bijector": self._description,
                "event_shape": list(self.event_shape),
                "networks": [keras.saving.serialize_keras_object(n) for n in networks]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["networks"] = [keras.saving.deserialize_keras_object(n)
                              for n in config.get("networks", [])]
        return cls(**config)
