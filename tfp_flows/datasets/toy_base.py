"""The base class of the 2-D toy distributions: exact log-densities and entropies.

A :class:`ToyDistribution` can ``sample``, evaluate its exact ``log_prob`` and report its
exact ``entropy`` (nats), so the quality of a fitted flow is a number:
``KL(truth || model) = mean(-model.log_prob(test)) - truth.entropy()``.

Each object may carry an affine standardisation ``loc``, ``scale`` (shape ``[2]``): it then
describes ``y = (x - loc) / scale`` where ``x`` follows the raw distribution, so

.. math:: \\log p_Y(y) = \\log p_X(\\mathrm{loc} + \\mathrm{scale} \\odot y)
          + \\sum_i \\log \\mathrm{scale}_i, \\qquad
          H(Y) = H(X) - \\sum_i \\log \\mathrm{scale}_i.

The distributions themselves live in :mod:`tfp_flows.datasets.toy2d` (closed forms) and
:mod:`tfp_flows.datasets.curves` (integrals over curves), both built on this module.
"""
import math

import numpy as np

__all__ = ["ToyDistribution", "grid_points"]

_ENTROPY_CACHE = {}


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
        >>> from tfp_flows.datasets import Banana
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
