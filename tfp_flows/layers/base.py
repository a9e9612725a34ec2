"""Base class of the Keras layers that own a bijector's weights."""
import keras
import numpy as np

__all__ = ["FlowLayer", "check_event_shape"]


def check_event_shape(event_shape):
    """Returns ``event_shape`` as a tuple of positive ints, or raises ``ValueError``."""
    try:
        shape = tuple(int(s) for s in np.atleast_1d(event_shape))
    except (TypeError, ValueError):
        raise ValueError(f"event_shape must be a tuple of positive ints, got {event_shape!r}")
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"event_shape must be a tuple of positive ints, got {event_shape!r}")
    return shape


class FlowLayer(keras.layers.Layer):
    """A Keras 3 layer that owns the weights of one bijector and builds it on demand.

    TFP bijectors are ``tf.Module`` s: a Keras 3 model does not see their ``tf.Variable`` s,
    and a Keras variable handed to a stock TFP bijector at construction is read once, so no
    gradient reaches it. A ``FlowLayer`` keeps the weights (``add_weight``, or sub-layers such
    as :class:`~tfp_flows.nets.MADE`) where Keras tracks, trains and saves them, and
    :meth:`bijector` builds a fresh bijector that reads them, inside each traced call.

    Calling the layer maps base-side inputs forward: ``layer(z) == layer.bijector().forward(z)``.
    Subclasses implement :meth:`bijector`; those whose initial values come from data (ActNorm)
    set ``needs_data_init = True`` and implement ``initialize(y)`` and ``is_initialized``.
    """

    needs_data_init = False

    def bijector(self):
        """Returns a ``tfb.Bijector`` that uses this layer's current weights."""
        raise NotImplementedError

    def call(self, inputs):
        return self.bijector().forward(inputs)

    def forward_event_shape(self, shape):
        """The event shape this layer's forward map gives for base-side events ``shape``."""
        return tuple(shape)

    def inverse_event_shape(self, shape):
        """The event shape this layer's inverse gives for data-side events ``shape``."""
        return tuple(shape)

    def compute_output_shape(self, input_shape):
        return input_shape
