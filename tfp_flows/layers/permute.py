"""Fixed permutation between flow layers."""
import keras
import numpy as np
import tensorflow_probability as tfp

from tfp_flows.layers.base import FlowLayer

__all__ = ["PermuteLayer", "make_permutation"]


def make_permutation(event_size, kind="reverse", seed=None):
    """A permutation of ``range(event_size)``: ``"reverse"``, ``"random"`` (from ``seed``) or
    an explicit sequence (validated).

    Example:
        >>> make_permutation(4).tolist()
        [3, 2, 1, 0]
    """
    if isinstance(kind, str):
        if kind == "reverse":
            return np.arange(event_size)[::-1].copy()
        if kind == "random":
            return np.random.default_rng(seed).permutation(event_size)
        raise ValueError(f"permutation must be 'reverse', 'random' or a sequence, got {kind!r}")
    perm = np.asarray(kind, dtype=np.int64)
    if perm.ndim != 1 or sorted(perm.tolist()) != list(range(event_size)):
        raise ValueError(f"expected a permutation of range({event_size}), got {kind!r}")
    return perm


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
