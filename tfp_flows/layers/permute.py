"""Fixed permutation between flow layers."""
import keras
import numpy as np
import tensorflow_probability as tfp

from tfp_flows.layers.base import FlowLayer
from tfp_flows.nets.made import make_permutation

__all__ = ["PermuteLayer", "make_permutation"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class PermuteLayer(FlowLayer):
    """``tfb.Permute`` of the last axis as a (weightless) flow layer.

    Example:
        >>> PermuteLayer([2, 0, 1])(np.array([[10.0, 20.0, 30.0]], "float32")).numpy()
        array([[30., 10., 20.]], dtype=float32)
    """

    def __init__(self, permutation, **kwargs):
        super().__init__(**kwargs)
        self.permutation = [int(i) for i in make_permutation(len(permutation), permutation)]
        self.built = True

    def bijector(self, context=None, training=False):
        self.check_context(context)
        return tfp.bijectors.Permute(np.asarray(self.permutation, np.int32))

    def get_config(self):
        return {**super().get_config(), "permutation": self.permutation}
