"""Base class of the Keras layers that own a bijector's weights, and the layer contract."""
import functools

import keras
import tensorflow as tf

from tfp_flows.validation import check_event_shape

__all__ = ["DataInitialized", "DataInitializedLayer", "FlowLayer", "chain_latent_shape", "check_event_shape",
           "initialize_layers", "layer_context"]


class FlowLayer(keras.layers.Layer):
    """A Keras 3 layer that owns the weights of one bijector and builds it on demand.

    The layer contract:

    * :meth:`bijector` ``(context=None, training=False)`` returns a ``tfb.Bijector`` (base
      side to data side) that reads this layer's current weights. It is built inside each
      traced call, so gradients reach the weights. ``context`` is a conditioning input for
      conditional flows (layers without one refuse it); ``training`` says whether the call
      is part of a training step (batch statistics of a batch-norm layer).
    * :meth:`forward_event_shape` / :meth:`inverse_event_shape`: a layer may change the event
      shape (squeeze, factor-out) and says how; by default it keeps it.
    * :meth:`accepts_event_shape`: whether the layer acts on the events the layers on its
      data side give it; :class:`~tfp_flows.FlowModel` checks every layer when it is built.
    * ``needs_data_init``: layers whose initial values come from data (ActNorm) set it and
      implement ``initialize(y)`` (``y`` = inputs arriving from the data side) and
      ``is_initialized``; :meth:`tfp_flows.FlowModel.initialize_from_data` is the one place
      that drives it.

    Why layers: TFP bijectors are ``tf.Module`` s, so a Keras 3 model does not see their
    ``tf.Variable`` s, and a Keras variable handed to a stock TFP bijector at construction is
    read once, so no gradient reaches it. A ``FlowLayer`` keeps the weights where Keras
    tracks, trains and saves them.

    Calling the layer maps base-side inputs forward: ``layer(z) == layer.bijector().forward(z)``.
    """

    needs_data_init = False
    #: Whether the layer acts on each feature (the last axis) alike at every position (ActNorm,
    #: invertible 1x1 maps, batch norm): on images it then takes any height and width.
    per_feature = False
    #: Width of the context this layer takes (``None``: unconditional).
    context_size = None

    def __init__(self, **kwargs):
        # The flow's own numbers (data, latents, log-dets) stay in the variable dtype under a
        # mixed-precision policy: no autocasting of inputs or weights here; conditioner
        # networks compute in the policy's compute dtype.
        kwargs["autocast"] = False
        super().__init__(**kwargs)

    def add_weight(self, *args, **kwargs):
        """``keras.layers.Layer.add_weight``, except that the weight is never autocast (a
        flow's own numbers stay in the variable dtype under a mixed-precision policy) and a
        layer built ``trainable=False`` makes weights that TensorFlow sees as fixed too (so
        plain TFP code, ``tfp.vi`` included, does not train them)."""
        kwargs["autocast"] = False
        if not self.trainable:
            kwargs["trainable"] = False
        return super().add_weight(*args, **kwargs)

    @property
    def flow_dtype(self):
        """The dtype of the bijector's inputs, outputs and log-dets: the policy's variable
        dtype (``float32`` under ``"mixed_bfloat16"``; networks inside compute in
        ``bfloat16``)."""
        return self.dtype_policy.variable_dtype

    def bijector(self, context=None, training=False):
        """Returns a ``tfb.Bijector`` that uses this layer's current weights."""
        raise NotImplementedError

    def accepts_event_shape(self, shape):
        """Whether this layer can act on data-side events of ``shape`` (what the layers on its
        data side give it). A layer built for an ``event_shape`` needs exactly that one;
        a :attr:`per_feature` layer built for images takes any height and width with its
        channels."""
        expected = getattr(self, "event_shape", None)
        if expected is None:
            return True
        expected, shape = tuple(expected), tuple(shape)
        if self.per_feature and len(expected) == 3:
            return len(shape) == 3 and shape[-1] == expected[-1]
        return expected == shape

    def check_context(self, context):
        """Checks ``context`` against :attr:`context_size`: ``None`` for an unconditional
        layer; a tensor ``[..., context_size]`` for a conditional one. Raises ``ValueError``
        with what was expected and what came."""
        if self.context_size is None:
            if context is not None:
                raise ValueError(
                    f"{self.name} takes no context (it is not conditional), got one of shape "
                    f"{tuple(getattr(context, 'shape', ()))}")
            return
        if context is None:
            raise ValueError(f"{self.name} is conditional: it needs a context of shape "
                             f"[..., {self.context_size}], got none")
        width = getattr(context, "shape", (None,))[-1] if len(
            getattr(context, "shape", ())) else None
        if width is not None and width != self.context_size:
            raise ValueError(f"{self.name} takes a context of shape [..., {self.context_size}]"
                             f", got one of shape {tuple(context.shape)}")

    def bound_conditioner(self, conditioner, context):
        """``conditioner`` with ``context`` bound (after :meth:`check_context`): what a
        coupling or autoregressive bijector calls as ``conditioner(x)``."""
        self.check_context(context)
        if context is None:
            return conditioner
        return functools.partial(conditioner, context=context)

    def call(self, inputs, context=None, training=False):
        return self.bijector(context=context, training=training).forward(inputs)

    def forward_event_shape(self, shape):
        """The event shape this layer's forward map gives for base-side events ``shape``."""
        return tuple(shape)

    def inverse_event_shape(self, shape):
        """The event shape this layer's inverse gives for data-side events ``shape``."""
        return tuple(shape)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        event = self.forward_event_shape(input_shape[1:])
        return input_shape[:1] + tuple(event)


def chain_latent_shape(layers, event_shape, owner):
    """The latent event shape of ``layers`` (base-to-data order) for data events of
    ``event_shape``, walking from the data side. A ``ValueError`` names the first layer that
    was built for other events than the ones it would get (before any data arrives)."""
    shape = tuple(event_shape)
    for i in reversed(range(len(layers))):
        layer = layers[i]
        if not layer.accepts_event_shape(shape):
            raise ValueError(
                f"{owner}: flow_layers[{i}] ({layer.name}) was built for events of shape "
                f"{tuple(layer.event_shape)}, but the layers on its data side give it events "
                f"of shape {shape}")
        shape = tuple(layer.inverse_event_shape(shape))
    return shape


def layer_context(layer, context):
    """What ``layer.bijector`` gets of a flow's ``context``: the context for a conditional
    layer, ``None`` for the others (a conditional flow mixes both kinds)."""
    return context if layer.context_size is not None else None


def initialize_layers(layers, y, context=None):
    """Data-dependent initialisation of ``layers`` (base-to-data order) from data ``y``
    arriving on their data side: each layer that ``needs_data_init`` and is not initialised
    yet is initialised with what reaches it, walking from the data side (conditional layers
    on the way see ``context``, the rows' contexts). Used by
    :meth:`tfp_flows.FlowModel.initialize_from_data` and by layers that hold a sub-flow."""
    h = y
    for layer in reversed(list(layers)):
        if layer.needs_data_init and not layer.is_initialized:
            if getattr(layer, "context_size", None) is not None:
                layer.initialize(h, context=context)
            else:
                layer.initialize(h)
        h = layer.bijector(context=layer_context(layer, context)).inverse(h)
    return h


class DataInitialized:
    """A mixin for Keras layers whose values come from data (ActNorm, batch norm's running
    statistics, a context's standardisation): a saved ``initialized`` flag (create it with
    :meth:`add_initialized_flag`, after the layer's other weights) and
    :attr:`is_initialized`. :meth:`tfp_flows.FlowModel.initialize_from_data` drives every
    such layer of a model."""

    needs_data_init = True

    def add_initialized_flag(self):
        self.initialized = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                           name="initialized")

    @property
    def is_initialized(self):
        return bool(keras.ops.convert_to_numpy(self.initialized) > 0)


class DataInitializedLayer(DataInitialized, FlowLayer):
    """A flow layer whose values come from data (:class:`DataInitialized`), with
    :meth:`initial_data` to check the data :meth:`initialize` receives."""

    def initial_data(self, y):
        """``y`` as a tensor of the compute dtype, after checking it is ``[n, *event_shape]``."""
        y = tf.convert_to_tensor(y, self.flow_dtype)
        if tuple(y.shape[1:]) != self.event_shape:
            raise ValueError(f"{self.name}: expected data of shape [n, "
                             f"{', '.join(map(str, self.event_shape))}], got {tuple(y.shape)}")
        return y
