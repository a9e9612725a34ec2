"""Keras 3 layers used as conditioners of flows.

- :class:`MADE`: masked dense network, autoregressive in its inputs (MAF / IAF).
- :class:`CouplingMLP`: plain dense network for coupling layers (RealNVP / NICE).
- :class:`ResNet`: convolutional residual network for image couplings (Real NVP, Glow).

Each has a complete ``get_config`` (round trips through ``.keras`` files) and a
zero-initialised output layer, so a new flow starts as the identity.
"""
from tfp_flows.nets.coupling_mlp import CouplingMLP
from tfp_flows.nets.made import MADE
from tfp_flows.nets.resnet import ResNet

__all__ = ["MADE", "CouplingMLP", "ResNet"]
