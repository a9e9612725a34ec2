"""Glow's building blocks as Keras flow layers: ActNorm and the LU invertible linear map."""
import keras
import numpy as np
import tensorflow as tf

from tfp_flows.bijectors.actnorm import ActNorm, actnorm_statistics
from tfp_flows.bijectors.invertible_linear import InvertibleLinear, random_lu_init
from tfp_flows.layers.base import FlowLayer

__all__ = ["ActNormLayer", "InvertibleLinearLayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class ActNormLayer(FlowLayer):
    """Owns ActNorm's ``loc`` and ``log_scale`` (Keras weights) and a saved ``initialized`` flag.

    :class:`~tfp_flows.FlowModel` calls :meth:`initialize` with the first training batch as
    it arrives at this layer (data side), before ``fit`` starts, so the layer's latent output
    starts zero-mean and unit-variance (Glow's data-dependent initialisation).

    Example:
        >>> layer = ActNormLayer(num_features=2)
        >>> layer.initialize(np.array([[1.0, 10.0], [3.0, 30.0]], "float32"))
        >>> layer.bijector().inverse(np.array([[3.0, 30.0]], "float32")).numpy().round(3)
        array([[1., 1.]], dtype=float32)
    """

    needs_data_init = True

    def __init__(self, num_features, event_ndims=1, **kwargs):
        super().__init__(**kwargs)
        self.num_features = int(num_features)
        self.event_ndims = int(event_ndims)
        self.loc = self.add_weight(shape=(self.num_features,), initializer="zeros", name="loc")
        self.log_scale = self.add_weight(shape=(self.num_features,), initializer="zeros",
                                         name="log_scale")
        self.initialized = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                           name="initialized")
        self.built = True

    @property
    def is_initialized(self):
        return bool(keras.ops.convert_to_numpy(self.initialized) > 0)

    def initialize(self, y):
        """Sets ``loc``/``log_scale`` so this batch ``y`` maps to zero mean, unit variance."""
        loc, log_scale = actnorm_statistics(tf.cast(y, self.compute_dtype))
        self.loc.assign(loc)
        self.log_scale.assign(log_scale)
        self.initialized.assign(1.0)

    def bijector(self):
        return ActNorm(loc=self.loc.value, log_scale=self.log_scale.value,
                       event_ndims=self.event_ndims, data_init=False)

    def get_config(self):
        return {**super().get_config(), "num_features": self.num_features,
                "event_ndims": self.event_ndims}


@keras.saving.register_keras_serializable(package="tfp_flows")
class InvertibleLinearLayer(FlowLayer):
    """Owns the LU factors of :class:`~tfp_flows.bijectors.InvertibleLinear` as Keras weights.

    Starts from a random rotation drawn with ``seed``; the fixed permutation is part of the
    config, so a saved model rebuilds the same matrix.

    Example:
        >>> layer = InvertibleLinearLayer(event_size=2, seed=0)
        >>> sorted(w.name for w in layer.trainable_weights)
        ['log_diag', 'lower', 'upper']
    """

    def __init__(self, event_size, seed=None, event_ndims=1, permutation=None, **kwargs):
        super().__init__(**kwargs)
        self.event_size = int(event_size)
        self.seed = seed
        self.event_ndims = int(event_ndims)
        perm, lower, upper, log_diag = random_lu_init(self.event_size, seed)
        self.permutation = [int(i) for i in (perm if permutation is None else permutation)]
        init = lambda value: keras.initializers.Constant(np.asarray(value))  # noqa: E731
        square = (self.event_size, self.event_size)
        self.lower = self.add_weight(shape=square, initializer=init(lower), name="lower")
        self.upper = self.add_weight(shape=square, initializer=init(upper), name="upper")
        self.log_diag = self.add_weight(shape=(self.event_size,), initializer=init(log_diag),
                                        name="log_diag")
        self.built = True

    def bijector(self):
        return InvertibleLinear(permutation=self.permutation, lower=self.lower.value,
                                upper=self.upper.value, log_diag=self.log_diag.value,
                                event_ndims=self.event_ndims)

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "seed": self.seed,
                "event_ndims": self.event_ndims, "permutation": list(self.permutation)}
