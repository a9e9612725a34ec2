"""Any toy set of :mod:`tfp_flows.datasets` as a target density, and the registry of
targets by name (:func:`load_target`)."""
import math

import numpy as np

from tfp_flows.datasets.targets import (
    BananaTarget,
    FunnelTarget,
    MixtureTarget,
    Target,
    _LOG_2PI,
    _gaussian_mixture_log_prob,
    _tf,
)
from tfp_flows.datasets.toy_base import ToyDistribution
from tfp_flows.datasets.toy2d import TOY_NAMES, Banana, Checkerboard, EightGaussians, _toy_class

__all__ = ["TARGET_NAMES", "ToyTarget", "load_target"]


class ToyTarget(Target):
    """Any 2-D toy distribution of :mod:`tfp_flows.datasets` as a target: its exact
    density in TensorFlow (differentiable), its sampler and entropy.

    Banana and eight Gaussians are closed forms; moons, circles and spirals use the
    Gaussian mixture of their ``quadrature_nodes()`` (the same numbers the NumPy
    ``log_prob`` sums); the checkerboard is ``-inf`` off its black squares and flat on
    them (its gradient is 0: a poor reverse-KL target). A standardisation (``loc``,
    ``scale``) of the toy object carries over.

    Args:
        toy: a :class:`~tfp_flows.datasets.ToyDistribution` or a name in ``TOY_NAMES``
            (the default-parameter, raw-coordinate distribution).
        log_normalizer: the constant added to the exact log-density to give
            ``unnormalized_log_prob`` (so ``log Z`` = this; 0 leaves it normalised).

    Example:
        >>> t = ToyTarget("moons", log_normalizer=2.0)
        >>> x = t.sample(3, seed=0)
        >>> bool(np.allclose(t.log_prob(x), t.toy.log_prob(x), atol=1e-4))
        True
        >>> bool(np.allclose(t(x), t.toy.log_prob(x) + 2.0, atol=1e-4))
        True
    """

    event_shape = (2,)

    def __init__(self, toy, log_normalizer=0.0):
        if isinstance(toy, str):
            toy = _toy_class(toy)[1]()
        if not isinstance(toy, ToyDistribution):
            raise ValueError(f"expected a ToyDistribution or one of {TOY_NAMES}, got {toy!r}")
        self.toy = toy
        self.name = toy.name
        self.log_normalizer = float(log_normalizer)
        if not math.isfinite(self.log_normalizer):
            raise ValueError(f"expected a finite log_normalizer, got {log_normalizer!r}")
        self.plot_bounds = toy.plot_bounds
        if isinstance(toy, Banana):
            self._raw = BananaTarget(curvature=4.0, offset=1.0)._unnormalized_log_prob
            self._raw_shift = -_LOG_2PI
        elif isinstance(toy, EightGaussians):
            self._raw = lambda x: _gaussian_mixture_log_prob(
                x, toy.centers, np.full(8, -math.log(8.0)), toy.std)
            self._raw_shift = 0.0
        elif isinstance(toy, Checkerboard):
            self._raw, self._raw_shift = self._checkerboard, 0.0
        elif hasattr(toy, "quadrature_nodes"):
            centres, log_w = toy.quadrature_nodes()
            self._raw = lambda x: _gaussian_mixture_log_prob(x, centres, log_w, toy.noise)
            self._raw_shift = 0.0
        else:
            raise ValueError(f"no TensorFlow density for {type(toy).__name__}")

    @staticmethod
    def _checkerboard(x):
        tf = _tf()
        inside = tf.reduce_all((x >= -2.0) & (x < 2.0), axis=-1)
        black = tf.math.floormod(tf.floor(x[..., 0]) + tf.floor(x[..., 1]), 2.0) == 0.0
        inf = tf.constant(np.inf, x.dtype)
        return tf.where(inside & black, tf.constant(-math.log(8.0), x.dtype), -inf)

    def _unnormalized_log_prob(self, x):
        loc, scale = self.toy.loc, self.toy.scale
        raw = x * scale.astype(x.dtype.as_numpy_dtype) + loc.astype(x.dtype.as_numpy_dtype)
        return (self._raw(raw) + (self._raw_shift + float(np.sum(np.log(scale)))
                                  + self.log_normalizer))

    def _sample(self, n, rng):
        return self.toy.sample(n, seed=rng)

    def _entropy(self):
        return self.toy.entropy()


TARGET_NAMES = ("funnel", "banana", "mixture", "logistic_regression") + tuple(
    f"toy_{name}" for name in TOY_NAMES)


def load_target(name, **kwargs):
    """A target by name: ``"funnel"``, ``"banana"``, ``"mixture"``,
    ``"logistic_regression"`` or ``"toy_<name>"`` for a toy set (``"toy_moons"``...).

    Args:
        name: one of ``TARGET_NAMES``.
        **kwargs: passed to the target's class (e.g. ``dim=`` for the funnel).

    Example:
        >>> load_target("funnel", dim=4).event_shape
        (4,)
        >>> load_target("toy_moons").name
        'moons'
    """
    key = str(name).strip().lower().replace("-", "_")
    if key.startswith("toy_") and key[4:] in TOY_NAMES:
        return ToyTarget(key[4:], **kwargs)
    if key == "logistic_regression":
        from tfp_flows.datasets.posteriors import LogisticRegressionTarget

        return LogisticRegressionTarget(**kwargs)
    classes = {"funnel": FunnelTarget, "banana": BananaTarget, "mixture": MixtureTarget}
    if key not in classes:
        raise ValueError(f"unknown target {name!r}; known names: {', '.join(TARGET_NAMES)}")
    return classes[key](**kwargs)
