"""tfp_flows: normalizing flows for TensorFlow Probability under Keras 3.

Subpackages, from the bottom up (dependencies only point down this list):

- :mod:`tfp_flows.bijectors`: ``tfb.Bijector`` subclasses (pure TensorFlow).
- :mod:`tfp_flows.nets`: Keras 3 conditioner networks (MADE, coupling MLP).
- :mod:`tfp_flows.layers`: Keras layers owning bijector weights; ``LogProb``.
- :class:`tfp_flows.FlowModel` and the builders ``maf``, ``iaf``, ``real_nvp``, ``nice``,
  ``glow``, ``nsf``.
- :mod:`tfp_flows.training` (the default recipe and the metrics), :mod:`tfp_flows.datasets`,
  :mod:`tfp_flows.plotting`, :mod:`tfp_flows.testing`.

``import tfp_flows`` registers every Keras class of the package, so that
``keras.models.load_model("flow.keras")`` works in a fresh process after it. The data sets,
plots, training recipe and test helpers load on first use (PEP 562): they pull in scikit-learn and matplotlib.
The ``tfp-flows`` command lives in the separate top-level package :mod:`tfp_flows_cli`, which
checks its arguments before it imports this package (and TensorFlow).
"""
import importlib

from tfp_flows import bijectors, layers, nets  # noqa: F401  (registers Keras classes)
from tfp_flows import compat  # noqa: F401  (Keras 3 drop-ins for TFP's flow networks)
from tfp_flows import flows, model  # noqa: F401
from tfp_flows.flows import BUILDERS, build_flow, glow, iaf, maf, nice, nsf, real_nvp
from tfp_flows.model import FlowModel
from tfp_flows.saving import load_model

__version__ = "0.1.0"

_LAZY_SUBMODULES = ("datasets", "plotting", "testing", "training")

__all__ = ["BUILDERS", "FlowModel", "bijectors", "build_flow", "compat", "flows", "glow",
           "iaf",
           "layers", "load_model", "maf", "model", "nets", "nice", "nsf", "real_nvp",
           *_LAZY_SUBMODULES, "__version__"]


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"tfp_flows.{name}")
    raise AttributeError(f"module 'tfp_flows' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
