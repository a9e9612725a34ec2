"""Pixel preprocessing inside a flow: dequantised intensities to logits, log-det included."""
import keras
import tensorflow_probability as tfp

from tfp_flows.bijectors.logit import ALPHA, Logit
from tfp_flows.validation import check_fraction, check_positive_int

from tfp_flows.layers.base import FlowLayer

tfb = tfp.bijectors

__all__ = ["LogitLayer"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class LogitLayer(FlowLayer):
    r"""The data-side end of an image flow: dequantised pixels ``x + u`` in ``[0, K)`` to
    logits (:class:`~tfp_flows.bijectors.Logit`, Real NVP's preprocessing), so that the
    model's ``log_prob`` is a density over **pixel units** and

    .. math::
        \text{bits/dim} = \frac{-\log p(x + u)}{D \ln 2}

    is honest: the log-det of the scaling to ``[0, 1]`` and of the logit is part of it. On the
    way back (sampling) logits go to ``(-a, K + a)`` with ``a = alpha K / (1 - 2 alpha)``
    (``(0, K)`` widened by the ``alpha`` margin). No weights.

    Args:
      num_levels: ``K``, the number of pixel levels (256 for 8-bit images, 17 for digits).
      alpha: the logit acts on ``alpha + (1 - 2 alpha) x / K``, in ``(0, 0.5)``, which keeps
        it finite at ``0`` and ``K`` (default :data:`tfp_flows.bijectors.logit.ALPHA`,
        1e-6).
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> import numpy as np
        >>> layer = LogitLayer(num_levels=256)
        >>> layer.bijector().inverse(np.array([[128.0]], "float32")).numpy()   # mid-grey
        array([[0.]], dtype=float32)
    """

    def __init__(self, num_levels=256, alpha=ALPHA, **kwargs):
        super().__init__(**kwargs)
        self.num_levels = check_positive_int(num_levels, "num_levels", minimum=2)
        self.alpha = check_fraction(alpha, "alpha", high=0.5)
        self.built = True

    def bijector(self, context=None, training=False):
        self.check_context(context)
        return tfb.Invert(Logit(num_levels=self.num_levels, alpha=self.alpha,
                                name=self.name))

    def get_config(self):
        return {**super().get_config(), "num_levels": self.num_levels, "alpha": self.alpha}
