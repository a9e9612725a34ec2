"""Keras 3 layers that own the weights of bijectors (see :class:`FlowLayer`), and
:class:`LogProb` for the functional ``keras.Model(x, LogProb(dist)(x))`` pattern."""
from tfp_flows.layers.autoregressive import AutoregressiveLayer
from tfp_flows.layers.base import FlowLayer
from tfp_flows.layers.coupling import AffineCouplingLayer
from tfp_flows.layers.glow import ActNormLayer, InvertibleLinearLayer
from tfp_flows.layers.log_prob import LogProb, negative_log_likelihood
from tfp_flows.layers.permute import PermuteLayer, make_permutation
from tfp_flows.layers.prelu import PReLULayer
from tfp_flows.layers.spline import SplineAutoregressiveLayer, SplineCouplingLayer

__all__ = [
    "ActNormLayer",
    "AffineCouplingLayer",
    "AutoregressiveLayer",
    "FlowLayer",
    "InvertibleLinearLayer",
    "LogProb",
    "PReLULayer",
    "PermuteLayer",
    "SplineAutoregressiveLayer",
    "SplineCouplingLayer",
    "make_permutation",
    "negative_log_likelihood",
]
