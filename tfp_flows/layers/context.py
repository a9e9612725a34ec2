"""Standardising a conditional flow's context inside the model."""
import keras
import numpy as np
import tensorflow as tf

from tfp_flows.layers.base import DataInitialized
from tfp_flows.validation import check_positive_int

__all__ = ["ContextStandardization"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class ContextStandardization(DataInitialized, keras.layers.Layer):
    r"""Maps a context ``c`` (``[..., K]``) to :math:`(c - \mu) / \sigma` with a per-column
    mean and standard deviation set once from the training contexts
    (:meth:`initialize`), so that contexts far from unit scale (a simulator's observations)
    condition a flow as well as standardised ones. Columns that do not vary (``sigma = 0``)
    keep a scale of one. Both are saved, non-trainable weights; before :meth:`initialize` the
    layer is the identity. An ordinary data-initialised layer
    (:class:`~tfp_flows.layers.base.DataInitialized`).

    Args:
      context_size: ``K``, the width of a context row.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> layer = ContextStandardization(1)
        >>> layer.initialize(np.array([[10.0], [20.0]], "float32"))
        >>> layer(np.array([[10.0], [20.0]], "float32")).numpy().ravel().tolist()
        [-1.0, 1.0]
    """

    def __init__(self, context_size, **kwargs):
        kwargs["autocast"] = False  # contexts stay in the variable dtype (mixed precision)
        super().__init__(**kwargs)
        self.context_size = check_positive_int(context_size, "context_size")
        self.mean = self.add_weight(shape=(self.context_size,), initializer="zeros",
                                    autocast=False, trainable=False, name="mean")
        self.scale = self.add_weight(shape=(self.context_size,), initializer="ones",
                                     autocast=False, trainable=False, name="scale")
        self.add_initialized_flag()
        self.built = True

    def initialize(self, context):
        """Sets the mean and scale from contexts ``[n, K]`` (finite, checked by the caller).
        A column whose spread is below ``1e-12`` of its magnitude counts as constant (scale
        one): the floor is relative, so contexts at any scale standardise alike."""
        context = np.asarray(context, np.float64).reshape(-1, self.context_size)
        magnitude = np.abs(context).max(axis=0)
        unit = np.where(magnitude > 0, magnitude, 1.0)
        std = (context / unit).std(axis=0) * unit
        self.mean.assign(context.mean(axis=0).astype(self.mean.dtype))
        self.scale.assign(np.where(std > 1e-12 * unit, std, 1.0).astype(self.scale.dtype))
        self.initialized.assign(1.0)

    def call(self, context):
        context = tf.cast(context, self.dtype_policy.variable_dtype)
        return (context - tf.cast(self.mean, context.dtype)) / tf.cast(self.scale, context.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "context_size": self.context_size}
