"""The multiscale architecture's layers: squeeze and factor-out (Real NVP, Glow)."""
import keras
import numpy as np
import tensorflow_probability as tfp

from tfp_flows.bijectors.factor_out import FactorOut
from tfp_flows.bijectors.squeeze import Squeeze, squeezed_shape, unsqueezed_shape
from tfp_flows.layers.base import FlowLayer, chain_latent_shape, initialize_layers, layer_context
from tfp_flows.validation import check_image_shape

tfb = tfp.bijectors

__all__ = ["FactorOutLayer", "SqueezeLayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class SqueezeLayer(FlowLayer):
    """Squeezes images on their way to the base: data ``(H, W, C)`` to ``(H/2, W/2, 4C)``
    (:class:`~tfp_flows.bijectors.Squeeze`); sampling undoes it. No weights.

    Args:
      event_shape: the data-side image shape ``(H, W, C)``; ``H`` and ``W`` must be even.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> layer = SqueezeLayer((8, 8, 1))
        >>> layer.inverse_event_shape((8, 8, 1)), layer.forward_event_shape((4, 4, 4))
        ((4, 4, 4), (8, 8, 1))
    """

    def __init__(self, event_shape, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_image_shape(event_shape, "SqueezeLayer")
        self.squeezed_shape = squeezed_shape(self.event_shape)  # odd sizes fail here
        self.built = True

    def bijector(self, context=None, training=False):
        self.check_context(context)
        return tfb.Invert(Squeeze(name=self.name))

    def forward_event_shape(self, shape):
        return unsqueezed_shape(shape)

    def inverse_event_shape(self, shape):
        return squeezed_shape(shape)

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape)}


@keras.saving.register_keras_serializable(package="tfp_flows")
class FactorOutLayer(FlowLayer):
    """Holds the rest of a multiscale flow: on the way to the base, the first ``num_kept``
    channels of an ``(H, W, C)`` image go on through ``flow_layers``, the others are latent
    already (:class:`~tfp_flows.bijectors.FactorOut`). The latent is flat, ``H W C`` numbers.

    Args:
      event_shape: the data-side image shape ``(H, W, C)``, ``C >= 2``.
      flow_layers: the :class:`FlowLayer` s acting on the kept channels ``(H, W, num_kept)``,
        base-to-data order, as :class:`~tfp_flows.FlowModel` takes them (another
        ``FactorOutLayer`` among them adds a scale). Their weights are this layer's weights;
        data-dependent initialisation and the ``training`` flag reach them.
      num_kept: channels that continue (default ``C // 2``).
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> from tfp_flows.layers import ActNormLayer
        >>> layer = FactorOutLayer((4, 4, 2), [ActNormLayer((4, 4, 1))])
        >>> layer.inverse_event_shape((4, 4, 2)), len(layer.trainable_weights)
        ((32,), 2)
    """

    def __init__(self, event_shape, flow_layers, num_kept=None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_image_shape(event_shape, "FactorOutLayer")
        channels = self.event_shape[-1]
        self.num_kept = channels // 2 if num_kept is None else int(num_kept)
        if not 0 < self.num_kept < channels:
            raise ValueError(
                f"FactorOutLayer needs 0 < num_kept < channels (at least 2 channels), got "
                f"num_kept={self.num_kept} for event_shape {self.event_shape}")
        layers = []
        for i, layer in enumerate(list(flow_layers)):
            if isinstance(layer, dict):
                layer = keras.saving.deserialize_keras_object(layer)
            if not isinstance(layer, FlowLayer):
                raise TypeError(f"flow_layers[{i}] must be a FlowLayer, got "
                                f"{type(layer).__name__}")
            layers.append(layer)
        self.flow_layers = layers
        self.inner_latent_shape = chain_latent_shape(
            layers, self.event_shape[:2] + (self.num_kept,), f"FactorOutLayer {self.name}")
        self.built = True

    @property
    def needs_data_init(self):
        return any(layer.needs_data_init for layer in self.flow_layers)

    @property
    def is_initialized(self):
        return all(layer.is_initialized for layer in self.flow_layers if layer.needs_data_init)

    def initialize(self, y, context=None):
        """Initialises the inner layers that need data from the kept channels of ``y``
        (conditional ones on the way see ``context``)."""
        initialize_layers(self.flow_layers, np.asarray(y)[..., :self.num_kept], context)

    @property
    def context_size(self):
        sizes = {layer.context_size for layer in self.flow_layers} - {None}
        return sizes.pop() if sizes else None

    def bijector(self, context=None, training=False):
        self.check_context(context)
        inner = [layer.bijector(context=layer_context(layer, context), training=training)
                 for layer in self.flow_layers]
        return FactorOut(inner, self.event_shape, self.num_kept, name=self.name)

    def forward_event_shape(self, shape):
        return self.event_shape

    def inverse_event_shape(self, shape):
        return (int(np.prod(self.event_shape)),)

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape),
                "num_kept": self.num_kept,
                "flow_layers": [keras.saving.serialize_keras_object(layer)
                                for layer in self.flow_layers]}
