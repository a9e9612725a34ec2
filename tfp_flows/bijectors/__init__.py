"""``tfb.Bijector`` subclasses for normalizing flows (pure TensorFlow).

Each plugs into ``tfd.TransformedDistribution``, ``tfb.Chain`` and ``tfb.Invert``, works
eagerly and inside ``tf.function``, in float32 and float64, and is a function of the tensors
it is given (TFP's convention): none creates variables. Couplings and autoregressive maps take
their elementwise transform (:class:`Affine`, :class:`Additive`, :class:`RationalQuadratic`)
as an argument.
"""
from tfp_flows.bijectors.actnorm import ActNorm, actnorm_statistics
from tfp_flows.bijectors.autoregressive import MaskedAutoregressive
from tfp_flows.bijectors.batch_norm import BatchNorm, batch_statistics
from tfp_flows.bijectors.conditional import Conditional
from tfp_flows.bijectors.coupling import Coupling
from tfp_flows.bijectors.factor_out import FactorOut
from tfp_flows.bijectors.fused import FusedBijector
from tfp_flows.bijectors.invertible_linear import InvertibleLinear, random_lu_init
from tfp_flows.bijectors.log_det import forward_and_log_det, inverse_and_log_det
from tfp_flows.bijectors.logit import Logit
from tfp_flows.bijectors.masks import channel_mask, checkerboard_mask, half_mask
from tfp_flows.bijectors.prelu import PReLU, positive_variable
from tfp_flows.bijectors.squeeze import (
    SQUEEZE_ORDER,
    Squeeze,
    squeezed_shape,
    unsqueezed_shape,
)
from tfp_flows.bijectors.transforms import (
    SPLINE_BOUND,
    Additive,
    Affine,
    RationalQuadratic,
    Transform,
    get_transform,
    soft_clip_log_scale,
)

__all__ = [
    "SPLINE_BOUND",
    "SQUEEZE_ORDER",
    "ActNorm",
    "Additive",
    "Affine",
    "BatchNorm",
    "Conditional",
    "Coupling",
    "FactorOut",
    "FusedBijector",
    "InvertibleLinear",
    "Logit",
    "MaskedAutoregressive",
    "PReLU",
    "RationalQuadratic",
    "Squeeze",
    "Transform",
    "actnorm_statistics",
    "batch_statistics",
    "channel_mask",
    "checkerboard_mask",
    "forward_and_log_det",
    "get_transform",
    "half_mask",
    "inverse_and_log_det",
    "positive_variable",
    "random_lu_init",
    "soft_clip_log_scale",
    "squeezed_shape",
    "unsqueezed_shape",
]
