"""MAF and IAF layers driven by a MADE network."""
import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.autoregressive import MaskedAutoregressive
from tfp_flows.layers.base import FlowLayer
from tfp_flows.nets.made import MADE

__all__ = ["AutoregressiveLayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class AutoregressiveLayer(FlowLayer):
    """Owns a :class:`~tfp_flows.nets.MADE` and builds a masked autoregressive bijector.

    ``inverse=False``: MAF, :class:`~tfp_flows.bijectors.MaskedAutoregressive` (one-pass
    density, sequential sampling). ``inverse=True``: IAF, ``tfb.Invert`` of it (one-pass
    sampling, sequential density). ``order`` is MADE's autoregressive order.

    Example:
        >>> import numpy as np
        >>> layer = AutoregressiveLayer(event_size=3, hidden_units=(8,))
        >>> layer(np.zeros((2, 3), "float32")).shape
        TensorShape([2, 3])
    """

    def __init__(self, event_size, hidden_units=(64, 64), activation="relu",
                 order="left-to-right", seed=None, inverse=False, log_scale_bound=5.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.event_size = int(event_size)
        self.hidden_units = tuple(int(h) for h in hidden_units)
        self.activation = activation
        self.seed = seed
        self.inverse = bool(inverse)
        self.log_scale_bound = log_scale_bound
        self.made = MADE(self.event_size, num_params=2, hidden_units=self.hidden_units,
                         activation=activation, order=order, seed=seed, dtype=self.dtype_policy)
        self.made(tf.zeros((1, self.event_size), self.compute_dtype))
        self.built = True

    @property
    def order(self):
        return self.made.order

    def bijector(self):
        maf = MaskedAutoregressive(self.made, log_scale_bound=self.log_scale_bound)
        return tfp.bijectors.Invert(maf) if self.inverse else maf

    def get_config(self):
        return {
            **super().get_config(),
            "event_size": self.event_size,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "order": [int(i) for i in self.made.order],
            "seed": self.seed,
            "inverse": self.inverse,
            "log_scale_bound": self.log_scale_bound,
        }
