"""Neural spline flow layers (coupling and autoregressive)."""
import keras
import tensorflow as tf

from tfp_flows.bijectors.masks import half_mask
from tfp_flows.bijectors.spline import SplineAutoregressive, SplineCoupling, spline_param_count
from tfp_flows.layers.base import FlowLayer, check_event_shape
from tfp_flows.nets.coupling_mlp import CouplingMLP
from tfp_flows.nets.made import MADE

__all__ = ["SplineAutoregressiveLayer", "SplineCouplingLayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class SplineCouplingLayer(FlowLayer):
    """Owns a :class:`~tfp_flows.nets.CouplingMLP` and builds a
    :class:`~tfp_flows.bijectors.SplineCoupling` (vector events; identity at start).

    Example:
        >>> import numpy as np
        >>> layer = SplineCouplingLayer((2,), num_bins=4, hidden_units=(8,))
        >>> layer(np.array([[0.5, -0.5]], "float32")).numpy().round(5)
        array([[ 0.5, -0.5]], dtype=float32)
    """

    def __init__(self, event_shape, reverse_mask=False, num_masked=None, num_bins=8, bound=4.0,
                 hidden_units=(64, 64), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_event_shape(event_shape)
        if len(self.event_shape) != 1:
            raise ValueError(f"SplineCouplingLayer is for vectors, got event_shape {self.event_shape}")
        self.reverse_mask = bool(reverse_mask)
        self.num_masked = None if num_masked is None else int(num_masked)
        self.num_bins, self.bound = int(num_bins), float(bound)
        self.hidden_units = tuple(int(h) for h in hidden_units)
        self.activation = activation
        size = self.event_shape[0]
        self._num_cond = int(half_mask(size, self.num_masked, self.reverse_mask).sum())
        self.conditioner = CouplingMLP(size - self._num_cond, num_params=spline_param_count(num_bins),
                                       hidden_units=self.hidden_units, activation=activation,
                                       dtype=self.dtype_policy)
        self.conditioner(tf.zeros((1, self._num_cond), self.compute_dtype))
        self.built = True

    def bijector(self):
        return SplineCoupling(self.conditioner, num_bins=self.num_bins, bound=self.bound,
                              num_masked=self._num_cond, reverse_mask=self.reverse_mask)

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape),
                "reverse_mask": self.reverse_mask, "num_masked": self.num_masked,
                "num_bins": self.num_bins, "bound": self.bound,
                "hidden_units": list(self.hidden_units), "activation": self.activation}


@keras.saving.register_keras_serializable(package="tfp_flows")
class SplineAutoregressiveLayer(FlowLayer):
    """Owns a :class:`~tfp_flows.nets.MADE` and builds a
    :class:`~tfp_flows.bijectors.SplineAutoregressive` (identity at start).

    Example:
        >>> import numpy as np
        >>> layer = SplineAutoregressiveLayer(2, num_bins=4, hidden_units=(8,))
        >>> layer(np.array([[0.5, -0.5]], "float32")).numpy().round(5)
        array([[ 0.5, -0.5]], dtype=float32)
    """

    def __init__(self, event_size, num_bins=8, bound=4.0, hidden_units=(64, 64),
                 activation="relu", order="left-to-right", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.event_size = int(event_size)
        self.num_bins, self.bound = int(num_bins), float(bound)
        self.hidden_units = tuple(int(h) for h in hidden_units)
        self.activation = activation
        self.seed = seed
        self.made = MADE(self.event_size, num_params=spline_param_count(num_bins),
                         hidden_units=self.hidden_units, activation=activation, order=order,
                         seed=seed, dtype=self.dtype_policy)
        self.made(tf.zeros((1, self.event_size), self.compute_dtype))
        self.built = True

    def bijector(self):
        return SplineAutoregressive(self.made, num_bins=self.num_bins, bound=self.bound)

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "num_bins": self.num_bins,
                "bound": self.bound, "hidden_units": list(self.hidden_units),
                "activation": self.activation, "order": [int(i) for i in self.made.order],
                "seed": self.seed}
