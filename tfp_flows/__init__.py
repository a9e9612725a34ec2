"""tfp_flows: normalizing flows for TensorFlow Probability under Keras 3.

Subpackages, from the bottom up (dependencies only point down this list):

- :mod:`tfp_flows.bijectors`: ``tfb.Bijector`` subclasses (pure TensorFlow).
- :mod:`tfp_flows.testing`: public correctness checks for any bijector.
"""
from tfp_flows import bijectors, testing

__version__ = "0.1.0"

__all__ = ["bijectors", "testing", "__version__"]
