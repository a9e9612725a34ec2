"""``tfb.Bijector`` subclasses for normalizing flows (pure TensorFlow).

Each plugs into ``tfd.TransformedDistribution``, ``tfb.Chain`` and ``tfb.Invert``, works
eagerly and inside ``tf.function``, in float32 and float64.
"""
from tfp_flows.bijectors.actnorm import ActNorm, actnorm_statistics
from tfp_flows.bijectors.autoregressive import MaskedAutoregressive
from tfp_flows.bijectors.affine_coupling import AffineCoupling, soft_clip_log_scale
from tfp_flows.bijectors.fused import forward_and_log_det, inverse_and_log_det
from tfp_flows.bijectors.invertible_linear import InvertibleLinear, random_lu_init
from tfp_flows.bijectors.logit import Logit
from tfp_flows.bijectors.masks import channel_mask, checkerboard_mask, half_mask
from tfp_flows.bijectors.prelu import PReLU
from tfp_flows.bijectors.spline import (
    SplineAutoregressive,
    SplineCoupling,
    rational_quadratic_spline,
)

__all__ = [
    "ActNorm",
    "AffineCoupling",
    "InvertibleLinear",
    "Logit",
    "MaskedAutoregressive",
    "PReLU",
    "SplineAutoregressive",
    "SplineCoupling",
    "actnorm_statistics",
    "channel_mask",
    "checkerboard_mask",
    "forward_and_log_det",
    "half_mask",
    "inverse_and_log_det",
    "random_lu_init",
    "rational_quadratic_spline",
    "soft_clip_log_scale",
]
