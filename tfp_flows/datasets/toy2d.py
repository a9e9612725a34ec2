"""Two-dimensional toy distributions with exact log-densities and entropies.

Every distribution is a :class:`ToyDistribution`: it can ``sample``, evaluate its exact
``log_prob`` and report its exact ``entropy`` (nats), so the quality of a fitted flow is a
number: ``KL(truth || model) = mean(-model.log_prob(test)) - truth.entropy()``.

Each object may carry an affine standardisation ``loc``, ``scale`` (shape ``[2]``): it then
describes ``y = (x - loc) / scale`` where ``x`` follows the raw distribution, so

.. math:: \\log p_Y(y) = \\log p_X(\\mathrm{loc} + \\mathrm{scale} \\odot y)
          + \\sum_i \\log \\mathrm{scale}_i, \\qquad
          H(Y) = H(X) - \\sum_i \\log \\mathrm{scale}_i.

Densities defined by an integral over a curve (moons, circles, spirals) live in
:mod:`tfp_flows.datasets.curves`; :func:`load_toy` builds any of them by name.
"""
import math

import numpy as np
from scipy.special import logsumexp

__all__ = [
    "TOY_NAMES", "Banana", "Checkerboard", "EightGaussians", "ToyDistribution", "load_toy",
]

_LOG_2PI = math.log(2.0 * math.pi)
_ENTROPY_CACHE = {}

TOY_NAMES = ("moons", "circles", "banana", "eight_gaussians", "checkerboard", "spirals")


def _as_points(x):
    """``x`` as float64 with last axis 2, or a ValueError saying what came."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != 2:
        raise ValueError(f"expected points of shape [..., 2], got shape {arr.shape}")
    return arr


def _as_pair(value, name, positive=False):
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape == ():
        arr = np.full(2, float(arr))
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"expected `{name}` to be 2 finite numbers, got {value!r}")
    if positive and np.any(arr <= 0):
        raise ValueError(f"expected `{name}` > 0 in both coordinates, got {arr.tolist()}")
    return arr


def _check_positive(value, name):
    if not (np.isscalar(value) and np.isfinite(value) and value > 0):
        raise ValueError(f"expected `{name}` to be a positive number, got {value!r}")
    return float(value)


def grid_points(bounds, step):
    """Cell midpoints of a regular grid covering ``bounds`` = ((xmin, xmax), (ymin, ymax)).

    Returns ``(points [n, 2], cell_area)``; ``sum(p(points)) * cell_area`` is the midpoint
    rule for the integral of ``p`` over the box.

    Example:
        >>> pts, area = grid_points(((0, 1), (0, 2)), 0.5)
        >>> pts.shape, area
        ((8, 2), 0.25)
    """
    axes = []
    for lo, hi in bounds:
        num = max(1, int(math.ceil((hi - lo) / step - 1e-9)))
        h = (hi - lo) / num
        axes.append((lo + h * (np.arange(num) + 0.5), h))
    (gx, hx), (gy, hy) = axes
    xx, yy = np.meshgrid(gx, gy, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=-1), hx * hy


class ToyDistribution:
    """Base class: a 2-D distribution with exact ``log_prob`` and ``entropy``.

    Subclasses implement the raw (unstandardised) pieces ``_sample_raw(n, rng)``,
    ``_log_prob_raw(x)``, ``_params()`` and either ``_entropy_raw()`` or the grid used to
    compute it, ``_quad_bounds`` / ``_quad_step`` (entropy ``-sum p log p * cell_area``).

    Args:
        loc, scale: optional standardisation, arrays of shape [2] (``scale > 0``); the
            object then describes ``y = (x - loc) / scale``.

    Example:
        >>> raw = Banana()
        >>> std = raw.with_standardization(loc=[0.0, 8.0], scale=[1.0, 5.0])
        >>> round(std.entropy() - raw.entropy(), 4)  # -log 5
        -1.6094
        >>> y = np.array([[0.1, -0.2]])
        >>> bool(np.isclose(std.log_prob(y)[0], raw.log_prob([[0.1, 7.0]])[0] + np.log(5)))
        True
    """

    name = "toy"
    _raw_plot_bounds = ((-3.0, 3.0), (-3.0, 3.0))
    _quad_step = None

    def __init__(self, loc=None, scale=None):
        self.loc = np.zeros(2) if loc is None else _as_pair(loc, "loc")
        self.scale = np.ones(2) if scale is None else _as_pair(scale, "scale", positive=True)

    # ---- subclass hooks -------------------------------------------------------------
    def _params(self):
        return {}

    def _sample_raw(self, n, rng):
        raise NotImplementedError

    def _log_prob_raw(self, x):
        raise NotImplementedError

    def _entropy_raw(self):
        pts, area = grid_points(self._quad_bounds, self._quad_step)
        lp = self._log_prob_raw(pts)
        p = np.exp(lp)
        return float(-np.sum(np.where(p > 0, p * lp, 0.0)) * area)

    # ---- public API -----------------------------------------------------------------
    def with_standardization(self, loc, scale):
        """A new object: the same raw distribution, standardised by ``loc`` / ``scale``.

        Typically ``loc = scaler.mean_``, ``scale = scaler.scale_`` of a fitted
        :class:`sklearn.preprocessing.StandardScaler`.
        """
        return type(self)(**self._params(), loc=loc, scale=scale)

    def sample(self, n, seed=None):
        """Draw ``n`` points, float32 of shape [n, 2]; ``seed`` makes it reproducible.

        ``seed`` is anything :func:`numpy.random.default_rng` accepts (None, int, Generator).
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"expected `n` to be a non-negative integer, got {n!r}")
        x = self._sample_raw(int(n), np.random.default_rng(seed))
        return ((x - self.loc) / self.scale).astype(np.float32)

    def log_prob(self, x):
        """Exact log-density, float64 of shape ``x.shape[:-1]``, for ``x`` of shape [..., 2]."""
        y = _as_points(x)
        raw = y * self.scale + self.loc
        flat = self._log_prob_raw(raw.reshape(-1, 2))
        return flat.reshape(y.shape[:-1]) + np.sum(np.log(self.scale))

    def entropy(self):
        """Exact differential entropy ``-E[log p(y)]`` in nats (a float)."""
        key = (type(self).__name__, tuple(sorted(self._params().items())))
        if key not in _ENTROPY_CACHE:
            _ENTROPY_CACHE[key] = self._entropy_raw()
        return _ENTROPY_CACHE[key] - float(np.sum(np.log(self.scale)))

    @property
    def plot_bounds(self):
        """((xmin, xmax), (ymin, ymax)) holding nearly all the mass, in these coordinates."""
        return tuple(
            ((lo - m) / s, (hi - m) / s)
            for (lo, hi), m, s in zip(self._raw_plot_bounds, self.loc, self.scale)
        )

    def __repr__(self):
        args = [f"{k}={v!r}" for k, v in self._params().items()]
        if np.any(self.loc != 0) or np.any(self.scale != 1):
            args += [f"loc={np.round(self.loc, 4).tolist()}",
                     f"scale={np.round(self.scale, 4).tolist()}"]
        return f"{type(self).__name__}({', '.join(args)})"


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
    from tfp_flows.datasets import curves  # curves builds on this module

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
