"""PReLU bijector with its slope as a Keras weight."""
import keras
import numpy as np
import tensorflow as tf

from tfp_flows.bijectors.prelu import MIN_SLOPE, PReLU
from tfp_flows.layers.base import FlowLayer

__all__ = ["PReLULayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class PReLULayer(FlowLayer):
    """Owns PReLU's slope as ``raw_alpha``: ``alpha = MIN_SLOPE + softplus(raw_alpha)``.

    ``event_size=None`` gives one shared slope; an int gives one slope per dimension. The
    slope stays strictly positive however it is trained.

    Example:
        >>> layer = PReLULayer(alpha=0.5)
        >>> layer(np.array([[-2.0, 2.0]], "float32")).numpy()
        array([[-1.,  2.]], dtype=float32)
    """

    def __init__(self, event_size=None, alpha=0.5, **kwargs):
        super().__init__(**kwargs)
        if not np.isfinite(alpha) or alpha <= MIN_SLOPE:
            raise ValueError(f"PReLU slope alpha must be > {MIN_SLOPE}, got {alpha}")
        self.event_size = None if event_size is None else int(event_size)
        self.initial_alpha = float(alpha)
        raw = np.log(np.expm1(self.initial_alpha - MIN_SLOPE))  # inverse softplus
        shape = () if self.event_size is None else (self.event_size,)
        self.raw_alpha = self.add_weight(shape=shape, initializer=keras.initializers.Constant(raw),
                                         name="raw_alpha")
        self.built = True

    @property
    def alpha(self):
        return MIN_SLOPE + tf.nn.softplus(tf.convert_to_tensor(self.raw_alpha))

    def bijector(self):
        return PReLU(alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "alpha": self.initial_alpha}
