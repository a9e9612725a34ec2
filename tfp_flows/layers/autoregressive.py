"""Masked autoregressive (MAF) and inverse autoregressive (IAF) layers driven by MADE."""
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.autoregressive import MaskedAutoregressive
from tfp_flows.bijectors.transforms import get_transform
from tfp_flows.layers.base import FlowLayer, check_event_shape
from tfp_flows.nets.made import MADE
from tfp_flows.validation import check_hidden_units, check_positive_int

__all__ = ["AutoregressiveLayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class AutoregressiveLayer(FlowLayer):
    """Owns a :class:`~tfp_flows.nets.MADE` and builds a masked autoregressive bijector.

    Args:
      event_shape: ``(D,)`` (vectors only).
      transform: the elementwise transform (``"affine"`` as in MAF, ``"additive"``,
        ``"rational_quadratic"``, a :class:`~tfp_flows.bijectors.Transform` or its config).
      hidden_units: MADE's hidden sizes.
      activation: MADE's hidden activation.
      order: MADE's autoregressive order (``"left-to-right"``, ``"right-to-left"``,
        ``"random"`` or a permutation).
      seed: ``None`` or an int, for MADE's random order and initial weights.
      inverse: ``False``: MAF, :class:`~tfp_flows.bijectors.MaskedAutoregressive` (one-pass
        density, sequential sampling); ``True``: IAF, ``tfb.Invert`` of it (one-pass
        sampling, sequential density).
      context_size: ``None`` (unconditional), or ``K``: MADE takes a context ``[..., K]``
        (connected to every first-layer unit, so every output may depend on it).
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> layer = AutoregressiveLayer(event_shape=3, hidden_units=(8,))
        >>> layer(np.zeros((2, 3), "float32")).shape
        TensorShape([2, 3])
    """

    def __init__(self, event_shape, transform="affine", hidden_units=(64, 64),
                 activation="relu", order="left-to-right", seed=None, inverse=False,
                 context_size=None, **kwargs):
        super().__init__(**kwargs)
        self.context_size = None if context_size is None else check_positive_int(
            context_size, "context_size")
        self.event_shape = check_event_shape(event_shape)
        if len(self.event_shape) != 1:
            raise ValueError(f"AutoregressiveLayer is for vectors: event_shape must be (D,), "
                             f"got {self.event_shape}")
        size = self.event_shape[0]
        self.transform = get_transform(transform)
        self.hidden_units = check_hidden_units(hidden_units, allow_empty=True)
        self.activation = activation
        self.seed = seed
        self.inverse = bool(inverse)
        self.made = MADE(size, num_params=self.transform.num_params,
                         hidden_units=self.hidden_units, activation=activation, order=order,
                         seed=seed, context_size=self.context_size, dtype=self.dtype_policy)
        if self.context_size is None:
            self.made(tf.zeros((1, size), self.flow_dtype))
        else:
            self.made(tf.zeros((1, size), self.flow_dtype),
                      context=tf.zeros((1, self.context_size), self.flow_dtype))
        self.built = True

    @property
    def order(self):
        return self.made.order

    def bijector(self, context=None, training=False):
        made = self.bound_conditioner(self.made, context)
        maf = MaskedAutoregressive(made, transform=self.transform, name=self.name)
        return tfp.bijectors.Invert(maf) if self.inverse else maf

    def get_config(self):
        return {
            **super().get_config(),
            "event_shape": list(self.event_shape),
            "transform": self.transform.get_config(),
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "order": [int(i) for i in self.made.order],
            "seed": self.seed,
            "inverse": self.inverse,
            "context_size": self.context_size,
        }
