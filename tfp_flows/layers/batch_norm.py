"""Real NVP's batch normalisation as a flow layer: batch statistics in training, running
averages at inference, all of it saved."""
import numbers

import keras
import tensorflow as tf

from tfp_flows.bijectors.batch_norm import BatchNorm, batch_statistics
from tfp_flows.layers.base import DataInitializedLayer
from tfp_flows.layers.glow import per_feature_shape
from tfp_flows.validation import check_positive_float

__all__ = ["BatchNormLayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class BatchNormLayer(DataInitializedLayer):
    r"""Owns a :class:`~tfp_flows.bijectors.BatchNorm`'s learned ``loc``/``log_scale`` and its
    running statistics (non-trainable Keras weights, saved with the model).

    * ``bijector(training=True)`` (what ``fit`` uses) normalises with the statistics of the
      batch it sees, takes its log-det from them, and updates the running averages:
      ``moving = momentum * moving + (1 - momentum) * batch``.
    * ``bijector(training=False)`` (``log_prob``, ``evaluate``, ``predict``, sampling) uses
      the running averages.

    The running statistics start from data: :meth:`tfp_flows.FlowModel.initialize_from_data`
    (called by ``fit``) sets them from the first training rows. Asking for inference before
    any statistics exist is a ``ValueError`` (eagerly; an ``InvalidArgumentError`` inside a
    compiled function).

    Args:
      event_shape: ``(D,)`` (statistics per entry) or ``(H, W, C)`` (per channel).
      momentum: weight of the old running average in each update, in ``[0, 1)``.
      epsilon: added to the variance.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> layer = BatchNormLayer(event_shape=2)
        >>> layer.initialize(np.array([[1.0, 10.0], [3.0, 30.0]], "float32"))
        >>> layer.moving_mean.numpy().tolist()
        [2.0, 20.0]
    """

    per_feature = True

    def __init__(self, event_shape, momentum=0.95, epsilon=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.event_shape, features, self.event_ndims = per_feature_shape(event_shape,
                                                                         "BatchNormLayer")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or \
                not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.epsilon = check_positive_float(epsilon, "epsilon")
        self.loc = self.add_weight(shape=(features,), initializer="zeros", name="loc")
        self.log_scale = self.add_weight(shape=(features,), initializer="zeros",
                                         name="log_scale")
        self.moving_mean = self.add_weight(shape=(features,), initializer="zeros",
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=(features,), initializer="ones",
                                               trainable=False, name="moving_variance")
        self.add_initialized_flag()
        self.built = True

    def initialize(self, y):
        """Sets the running statistics to those of ``y`` (data arriving at this layer)."""
        y = self.initial_data(y)
        mean, variance = batch_statistics(y)
        self.moving_mean.assign(mean)
        self.moving_variance.assign(variance)
        self.initialized.assign(1.0)

    def _update(self, mean, variance):
        keep = self.momentum
        self.moving_mean.assign(keep * self.moving_mean + (1.0 - keep) * mean)
        self.moving_variance.assign(keep * self.moving_variance + (1.0 - keep) * variance)
        self.initialized.assign(1.0)

    def _running_statistics(self):
        message = (f"{self.name}: a batch-norm layer has no running statistics yet: fit the "
                   "model (or call FlowModel.initialize_from_data) before log_prob, evaluate "
                   "or sampling")
        if tf.executing_eagerly():
            if not self.is_initialized:
                raise ValueError(message)
            return self.moving_mean.value, self.moving_variance.value
        check = tf.debugging.assert_positive(self.initialized.value, message=message)
        with tf.control_dependencies([check]):
            return tf.identity(self.moving_mean.value), self.moving_variance.value

    def bijector(self, context=None, training=False):
        self.check_context(context)
        if training:
            return BatchNorm(None, None, self.loc.value, self.log_scale.value,
                             epsilon=self.epsilon, event_ndims=self.event_ndims,
                             on_batch_statistics=self._update, name=self.name)
        mean, variance = self._running_statistics()
        return BatchNorm(mean, variance, self.loc.value, self.log_scale.value,
                         epsilon=self.epsilon, event_ndims=self.event_ndims, name=self.name)

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape),
                "momentum": self.momentum, "epsilon": self.epsilon}
