"""tfp_flows: normalizing flows for TensorFlow Probability under Keras 3.

Subpackages, from the bottom up (dependencies only point down this list):

- :mod:`tfp_flows.bijectors`: ``tfb.Bijector`` subclasses (pure TensorFlow).
- :mod:`tfp_flows.nets`: Keras 3 conditioner networks (MADE, coupling MLP).
- :mod:`tfp_flows.layers`: Keras layers owning bijector weights; ``LogProb``.
- :class:`tfp_flows.FlowModel` and the builders ``maf``, ``iaf``, ``real_nvp``, ``nice``,
  ``glow``, ``nsf``.
- :mod:`tfp_flows.datasets`, :mod:`tfp_flows.plotting` (imported on demand).
- :mod:`tfp_flows.testing`: public correctness checks for any bijector.
"""
from tfp_flows import bijectors, layers, nets, testing
from tfp_flows.flows import BUILDERS, build_flow, glow, iaf, maf, nice, nsf, real_nvp
from tfp_flows.model import FlowModel

__version__ = "0.1.0"

__all__ = [
    "BUILDERS",
    "FlowModel",
    "bijectors",
    "build_flow",
    "glow",
    "iaf",
    "layers",
    "maf",
    "nets",
    "nice",
    "nsf",
    "real_nvp",
    "testing",
    "__version__",
]
