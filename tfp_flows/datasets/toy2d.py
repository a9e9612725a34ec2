"""Two-dimensional toy distributions in closed form (banana, eight Gaussians, checkerboard)
and :func:`load_toy`, which builds any toy distribution by name.

Every distribution is a :class:`~tfp_flows.datasets.toy_base.ToyDistribution` (exact
``log_prob`` and ``entropy``, optional standardisation). Densities defined by an integral
over a curve (moons, circles, spirals) live in :mod:`tfp_flows.datasets.curves`.
"""
import math

import numpy as np
from scipy.special import logsumexp

from tfp_flows.datasets import curves
from tfp_flows.datasets.toy_base import (  # noqa: F401 (grid_points: re-exported)
    ToyDistribution,
    _check_positive,
    grid_points,
)

__all__ = [
    "TOY_NAMES", "Banana", "Checkerboard", "EightGaussians", "ToyDistribution", "load_toy",
]

_LOG_2PI = math.log(2.0 * math.pi)

TOY_NAMES = ("moons", "circles", "banana", "eight_gaussians", "checkerboard", "spirals")


class Banana(ToyDistribution):
    """Banana of the InvertibleNetworks.jl tutorial: ``x1 = z1``, ``x2 = z2 + 4 (z1^2 + 1)``,
    ``z ~ N(0, I)``.

    The map has unit Jacobian, so
    :math:`\\log p(x) = \\log N(x_1; 0, 1) + \\log N(x_2 - 4(x_1^2 + 1); 0, 1)` and the
    entropy equals that of ``N(0, I)``: :math:`\\log(2\\pi e) \\approx 2.8379` nats.

    Example:
        >>> round(Banana().entropy(), 4)
        2.8379
        >>> round(float(Banana().log_prob([0.0, 4.0])), 4)
        -1.8379
    """

    name = "banana"
    _raw_plot_bounds = ((-3.0, 3.0), (-1.0, 35.0))

    def _sample_raw(self, n, rng):
        z = rng.standard_normal((n, 2))
        return np.stack([z[:, 0], z[:, 1] + 4.0 * (z[:, 0] ** 2 + 1.0)], axis=-1)

    def _log_prob_raw(self, x):
        z2 = x[:, 1] - 4.0 * (x[:, 0] ** 2 + 1.0)
        return -0.5 * (x[:, 0] ** 2 + z2**2) - _LOG_2PI

    def _entropy_raw(self):
        return 1.0 + _LOG_2PI


class EightGaussians(ToyDistribution):
    """Equal mixture of 8 isotropic Gaussians with centres on a circle.

    .. math:: p(x) = \\frac18 \\sum_{k=0}^{7} N\\big(x;\\ r(\\cos\\tfrac{2\\pi k}{8},
              \\sin\\tfrac{2\\pi k}{8}),\\ \\sigma^2 I\\big)

    The log-density is closed form; the entropy is a grid quadrature of ``-p log p``.

    Args:
        radius: ``r``, distance of the centres from the origin.
        std: ``sigma``, standard deviation of each component.

    Example:
        >>> d = EightGaussians()
        >>> d.sample(4, seed=0).shape
        (4, 2)
        >>> round(d.entropy(), 3)  # ~ log 8 + log(2 pi e 0.1^2) for separated modes
        0.312
    """

    name = "eight_gaussians"

    def __init__(self, radius=2.0, std=0.1, loc=None, scale=None):
        super().__init__(loc, scale)
        self.radius = _check_positive(radius, "radius")
        self.std = _check_positive(std, "std")
        angles = 2.0 * np.pi * np.arange(8) / 8.0
        self.centers = self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        edge = self.radius + 7.0 * self.std
        self._quad_bounds = ((-edge, edge), (-edge, edge))
        self._quad_step = self.std / 2.0
        edge = self.radius + 4.0 * self.std
        self._raw_plot_bounds = ((-edge, edge), (-edge, edge))

    def _params(self):
        return {"radius": self.radius, "std": self.std}

    def _sample_raw(self, n, rng):
        k = rng.integers(0, 8, size=n)
        return self.centers[k] + self.std * rng.standard_normal((n, 2))

    def _log_prob_raw(self, x):
        d2 = np.sum((x[:, None, :] - self.centers[None]) ** 2, axis=-1)
        comp = -0.5 * d2 / self.std**2 - _LOG_2PI - 2.0 * math.log(self.std)
        return logsumexp(comp, axis=-1) - math.log(8.0)


class Checkerboard(ToyDistribution):
    """Uniform density on the 8 black squares of a 4x4 board covering ``[-2, 2]^2``.

    A unit square ``[i, i+1) x [j, j+1)`` is black when ``i + j`` is even. So
    ``p(x) = 1/8`` on black squares and 0 elsewhere (``log_prob = -inf``); the entropy is
    exactly ``log 8``. Samples are kept 1e-6 inside their square so that float32 rounding
    (also through a standardisation) never moves one onto a white square.

    Example:
        >>> d = Checkerboard()
        >>> round(d.entropy(), 4)
        2.0794
        >>> d.log_prob([[0.5, 0.5], [0.5, -0.5]])
        array([-2.07944154,        -inf])
    """

    name = "checkerboard"
    _raw_plot_bounds = ((-2.0, 2.0), (-2.0, 2.0))
    _margin = 1e-6

    def _sample_raw(self, n, rng):
        u = np.clip(rng.random((n, 2)), self._margin, 1.0 - self._margin)
        col = rng.integers(-2, 2, size=n)
        row = (col % 2) - 2 + 2 * rng.integers(0, 2, size=n)
        return np.stack([col + u[:, 0], row + u[:, 1]], axis=-1)

    def _log_prob_raw(self, x):
        inside = np.all((x >= -2.0) & (x < 2.0), axis=-1)
        black = (np.floor(x[:, 0]) + np.floor(x[:, 1])) % 2 == 0
        return np.where(inside & black, -math.log(8.0), -np.inf)

    def _entropy_raw(self):
        return math.log(8.0)


def _toy_class(name):
    classes = {
        "moons": curves.TwoMoons, "circles": curves.Circles, "banana": Banana,
        "eight_gaussians": EightGaussians, "checkerboard": Checkerboard,
        "spirals": curves.TwoSpirals,
    }
    key = str(name).strip().lower().replace("-", "_")
    if key not in classes:
        raise ValueError(f"unknown toy data set {name!r}; known names: {', '.join(TOY_NAMES)}")
    return key, classes[key]


def load_toy(name, n_train=1000, seed=0, standardize=True):
    """Training data from a named toy distribution plus the exact distribution itself.

    ``"moons"`` uses ``sklearn.datasets.make_moons(n_train, noise=0.05, random_state=seed)``
    exactly as the tutorials do; the other names (see ``TOY_NAMES``) draw
    ``truth.sample(n_train, seed=seed)`` from the default-parameter distribution.

    With ``standardize=True`` a :class:`sklearn.preprocessing.StandardScaler` is fitted on
    the training data (``loc = mean``, ``scale = std``), the data are standardised, and the
    returned ``truth`` carries the same ``loc`` / ``scale``: ``truth.sample(20000)`` gives
    fresh test data in the training coordinates and ``truth.entropy()`` the matching exact
    entropy, so ``KL = mean test NLL - truth.entropy()``.

    Returns:
        ``(x_train, truth)``: float32 array [n_train, 2] and a :class:`ToyDistribution`.

    Example:
        >>> x, truth = load_toy("moons", n_train=1000, seed=0)
        >>> x.shape, x.dtype.name
        ((1000, 2), 'float32')
        >>> round(truth.entropy(), 2)
        1.13
    """
    from sklearn.datasets import make_moons
    from sklearn.preprocessing import StandardScaler

    key, cls = _toy_class(name)
    if isinstance(n_train, bool) or not isinstance(n_train, (int, np.integer)) or n_train < 2:
        raise ValueError(f"expected `n_train` to be an integer >= 2, got {n_train!r}")
    truth = cls()
    if key == "moons":
        x = make_moons(int(n_train), noise=0.05, random_state=seed)[0]
    else:
        x = truth.sample(int(n_train), seed=seed)
    x = np.asarray(x, dtype=np.float64)
    if standardize:
        scaler = StandardScaler().fit(x)
        x = scaler.transform(x)
        truth = truth.with_standardization(scaler.mean_, scaler.scale_)
    return x.astype(np.float32), truth
