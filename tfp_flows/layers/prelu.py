"""PReLU bijector with its slope as a Keras weight."""
import numbers

import keras
import numpy as np
import tensorflow as tf

from tfp_flows.bijectors.prelu import MIN_SLOPE, PReLU
from tfp_flows.layers.base import FlowLayer, check_event_shape

__all__ = ["PReLULayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class PReLULayer(FlowLayer):
    """Owns PReLU's slope as ``raw_alpha``: ``alpha = MIN_SLOPE + softplus(raw_alpha)``, so
    the slope stays strictly positive however it is trained.

    Args:
      event_shape: ``None`` for one shared slope, or the event shape for one slope per entry.
      alpha: the initial slope, a number > ``MIN_SLOPE``.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> layer = PReLULayer(alpha=0.5)
        >>> layer(np.array([[-2.0, 2.0]], "float32")).numpy()
        array([[-1.,  2.]], dtype=float32)
    """

    def __init__(self, event_shape=None, alpha=0.5, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not (
                np.isfinite(alpha) and alpha > MIN_SLOPE):
            raise ValueError(f"PReLU slope alpha must be a number > {MIN_SLOPE}, got {alpha!r}")
        self.event_shape = None if event_shape is None else check_event_shape(event_shape)
        self.initial_alpha = float(alpha)
        raw = np.log(np.expm1(self.initial_alpha - MIN_SLOPE))  # inverse softplus
        shape = () if self.event_shape is None else self.event_shape
        self.raw_alpha = self.add_weight(shape=shape, initializer=keras.initializers.Constant(raw),
                                         name="raw_alpha")
        self.built = True

    @property
    def alpha(self):
        return MIN_SLOPE + tf.nn.softplus(tf.convert_to_tensor(self.raw_alpha))

    def bijector(self, context=None, training=False):
        self.check_context(context)
        return PReLU(alpha=self.alpha, name=self.name)

    def get_config(self):
        return {**super().get_config(),
                "event_shape": None if self.event_shape is None else list(self.event_shape),
                "alpha": self.initial_alpha}
