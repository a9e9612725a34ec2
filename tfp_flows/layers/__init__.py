"""Keras 3 layers that own the weights of bijectors (see :class:`FlowLayer` for the contract),
and :class:`LogProb` for the functional ``keras.Model(x, LogProb(dist)(x))`` pattern."""
from tfp_flows.layers.autoregressive import AutoregressiveLayer
from tfp_flows.layers.base import FlowLayer, check_event_shape, initialize_layers, layer_context
from tfp_flows.layers.batch_norm import BatchNormLayer
from tfp_flows.layers.context import ContextStandardization
from tfp_flows.layers.coupling import CouplingLayer
from tfp_flows.layers.fixed import BijectorLayer
from tfp_flows.layers.glow import ActNormLayer, InvertibleLinearLayer
from tfp_flows.layers.log_prob import LogProb, negative_log_likelihood
from tfp_flows.layers.multiscale import FactorOutLayer, SqueezeLayer
from tfp_flows.layers.permute import PermuteLayer, make_permutation
from tfp_flows.layers.pixels import LogitLayer
from tfp_flows.layers.prelu import PReLULayer

__all__ = [
    "ActNormLayer",
    "AutoregressiveLayer",
    "BatchNormLayer",
    "BijectorLayer",
    "ContextStandardization",
    "CouplingLayer",
    "FactorOutLayer",
    "FlowLayer",
    "InvertibleLinearLayer",
    "LogProb",
    "LogitLayer",
    "PReLULayer",
    "PermuteLayer",
    "SqueezeLayer",
    "check_event_shape",
    "initialize_layers",
    "layer_context",
    "make_permutation",
    "negative_log_likelihood",
]
