"""tfp_flows: normalizing flows for TensorFlow Probability under Keras 3.

Subpackages, from the bottom up (dependencies only point down this list):

- :mod:`tfp_flows.bijectors`: ``tfb.Bijector`` subclasses (pure TensorFlow).
- :mod:`tfp_flows.nets`: Keras 3 conditioner networks (MADE, coupling MLP).
- :mod:`tfp_flows.layers`: Keras layers owning bijector weights; ``LogProb``.
- :class:`tfp_flows.FlowModel` and the builders ``maf``, ``iaf``, ``real_nvp``, ``nice``,
  ``glow``, ``nsf``.
- :mod:`tfp_flows.datasets`, :mod:`tfp_flows.plotting`, :mod:`tfp_flows.testing`.

Attributes load on first use (PEP 562), so ``import tfp_flows`` is cheap until TensorFlow is
actually needed (the ``tfp-flows --help`` command does not import it).
"""
import importlib

__version__ = "0.1.0"

_SUBMODULES = ("bijectors", "datasets", "flows", "layers", "model", "nets", "plotting",
               "testing")
_FROM_FLOWS = ("BUILDERS", "build_flow", "glow", "iaf", "maf", "nice", "nsf", "real_nvp")

__all__ = ["FlowModel", *_FROM_FLOWS, *_SUBMODULES, "__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"tfp_flows.{name}")
    if name in _FROM_FLOWS:
        return getattr(importlib.import_module("tfp_flows.flows"), name)
    if name == "FlowModel":
        return importlib.import_module("tfp_flows.model").FlowModel
    raise AttributeError(f"module 'tfp_flows' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
