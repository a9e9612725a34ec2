"""Target densities for fitting a flow to a density (variational inference): Neal's funnel,
a banana, a ring of well-separated Gaussians and any toy set, each with a known normaliser.

A *target* is an object with

- ``unnormalized_log_prob(x)``: TensorFlow, traceable inside ``tf.function`` and
  differentiable in ``x``; points ``[..., *event_shape]`` (float32 or float64, the result
  has the same dtype) to log-densities ``[...]``. This is the ``log p~(x)`` to train on;
  calling the target, ``target(x)``, is the same, so a target can be passed wherever a
  ``target_log_prob_fn`` is expected.
- ``log_normalizer``: the exact :math:`\\log Z = \\log \\int \\exp(\\log \\tilde p(x))\\,dx`
  of that unnormalised log-density (``None`` where unknown). It is deliberately not 0 for
  the funnel, the banana and the mixture (their ``p~`` drops the Gaussian constants), so
  an importance-sampling estimate of ``log Z`` has a non-trivial right answer.
- ``log_prob(x)``: the normalised log-density ``log p~(x) - log Z`` when ``normalized`` is
  True; equal to ``unnormalized_log_prob`` when it is False (no known normaliser).
- ``sample(n, seed=None)``: ``n`` exact independent draws as a float32 NumPy array
  ``[n, *event_shape]`` (``seed``: anything :func:`numpy.random.default_rng` accepts).
- ``entropy()``: the exact differential entropy in nats, where known. With the normalised
  ``log_prob`` the reverse KL of a flow ``q`` is then exact:
  :math:`KL(q\\|p) = E_q[\\log q(x) - \\log p(x)]`.
- ``event_shape`` (a tuple) and, for 2-D targets, ``plot_bounds``.

The module itself needs only NumPy (like the rest of :mod:`tfp_flows.datasets`); the
TensorFlow densities import TensorFlow when first called.
A realistic posterior without a known normaliser (Bayesian logistic regression with a cached
NUTS reference) lives in :mod:`tfp_flows.datasets.posteriors`.

Example:
    >>> t = FunnelTarget(dim=3)
    >>> x = t.sample(4, seed=0)
    >>> x.shape, x.dtype.name
    ((4, 3), 'float32')
    >>> bool(np.allclose(t(x) - t.log_normalizer, t.log_prob(x)))
    True
"""
import math

import numpy as np

from tfp_flows.datasets.toy_base import _check_positive, grid_points

__all__ = ["BananaTarget", "FunnelTarget", "MixtureTarget", "Target"]

_LOG_2PI = math.log(2.0 * math.pi)


def _tf():
    import tensorflow as tf  # deferred: importing TensorFlow takes seconds

    return tf


def _check_count(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"expected `n` to be a non-negative integer, got {n!r}")
    return int(n)


def _gaussian_mixture_log_prob(x, centres, log_weights, std):
    """``log sum_m exp(log_weights[m]) N(x; centres[m], std^2 I)`` in TF, ``x [..., D]``."""
    tf = _tf()
    c = tf.constant(centres, x.dtype)
    d2 = tf.reduce_sum(tf.square(x[..., None, :] - c), axis=-1)
    comp = tf.constant(log_weights, x.dtype) - 0.5 * d2 / std**2
    dim = centres.shape[-1]
    return tf.reduce_logsumexp(comp, axis=-1) - dim * (0.5 * _LOG_2PI + math.log(std))


class Target:
    """Base class of the targets (see the module docstring for the contract).

    Subclasses set ``event_shape``, ``log_normalizer`` (None if unknown) and implement
    ``_unnormalized_log_prob(x)`` for a float tensor ``x [..., *event_shape]``, optionally
    ``_sample(n, rng)`` and ``_entropy()``.

    Example:
        >>> t = BananaTarget()
        >>> t.normalized, t.event_shape, round(t.log_normalizer, 4)  # log(2 pi)
        (True, (2,), 1.8379)
    """

    name = "target"
    event_shape = ()
    log_normalizer = None

    @property
    def normalized(self):
        """Whether ``log_prob`` is normalised (the normaliser is known)."""
        return self.log_normalizer is not None

    def _as_points(self, x):
        tf = _tf()
        x = tf.convert_to_tensor(x)
        if not x.dtype.is_floating:
            x = tf.cast(x, tf.float32)
        k = len(self.event_shape)
        if x.shape.rank is not None and (
                x.shape.rank < k or tuple(x.shape[x.shape.rank - k:]) != self.event_shape):
            want = ", ".join(map(str, self.event_shape))
            raise ValueError(f"expected points of shape [..., {want}] for {self.name}, got "
                             f"shape {tuple(x.shape)}")
        return x

    def unnormalized_log_prob(self, x):
        """``log p~(x)``, a tensor of shape ``x.shape[:-1]`` (the dtype of ``x``).

        Args:
            x: points ``[..., *event_shape]``, float32 or float64 (a tensor or an array).

        Example:
            >>> BananaTarget().unnormalized_log_prob(np.array([[0.0, -1.0]])).numpy()
            array([-0.])
        """
        return self._unnormalized_log_prob(self._as_points(x))

    def __call__(self, x):
        """``unnormalized_log_prob(x)``: a target is a ``target_log_prob_fn``."""
        return self.unnormalized_log_prob(x)

    def log_prob(self, x):
        """``log p~(x) - log Z`` (normalised) when known, else ``log p~(x)``.

        Args:
            x: points ``[..., *event_shape]``, float32 or float64.

        Example:
            >>> round(float(FunnelTarget(dim=2, scale=1.0).log_prob([0.0, 0.0])), 4)
            -1.8379
        """
        out = self.unnormalized_log_prob(x)
        if self.log_normalizer is None:
            return out
        return out - _tf().constant(self.log_normalizer, out.dtype)

    def sample(self, n, seed=None):
        """``n`` exact draws, float32 ``[n, *event_shape]``.

        Args:
            n: number of draws (a non-negative integer).
            seed: anything :func:`numpy.random.default_rng` accepts; a seed repeats draws.

        Example:
            >>> FunnelTarget(dim=3).sample(2, seed=0).shape
            (2, 3)
        """
        n = _check_count(n)
        out = self._sample(n, np.random.default_rng(seed))
        return np.asarray(out, dtype=np.float32).reshape((n,) + self.event_shape)

    def _sample(self, n, rng):
        raise NotImplementedError(f"{self.name} has no exact sampler")

    def entropy(self):
        """Exact differential entropy of the normalised density, in nats (a float).

        Example:
            >>> round(BananaTarget().entropy(), 4)  # log(2 pi e)
            2.8379
        """
        return self._entropy()

    def _entropy(self):
        raise NotImplementedError(f"the entropy of {self.name} is not known")


class FunnelTarget(Target):
    """Neal's funnel in ``dim`` dimensions: ``v ~ N(0, scale^2)`` (the first coordinate),
    ``x_i | v ~ N(0, exp(v))`` for the other ``dim - 1`` (variance ``exp(v)``).

    .. math:: \\log \\tilde p(v, x) = -\\frac{v^2}{2\\,\\mathrm{scale}^2}
              - \\frac{e^{-v}}{2}\\sum_i x_i^2 - \\frac{(\\mathrm{dim}-1)\\,v}{2},
              \\qquad \\log Z = \\tfrac12\\log(2\\pi\\,\\mathrm{scale}^2)
              + \\tfrac{\\mathrm{dim}-1}{2}\\log 2\\pi,

    and the entropy is :math:`\\tfrac12\\log(2\\pi e\\,\\mathrm{scale}^2)
    + \\tfrac{\\mathrm{dim}-1}{2}\\log(2\\pi e)` (as ``E[v] = 0``).

    Args:
        dim: total dimension (>= 2), ``v`` included; 10 is Neal's.
        scale: standard deviation of ``v`` (> 0).

    Example:
        >>> t = FunnelTarget()
        >>> t.event_shape, round(t.log_normalizer, 4), round(t.entropy(), 4)
        ((10,), 10.288, 15.288)
        >>> float(t.log_prob(np.zeros((1, 10)))[0]) == -t.log_normalizer
        True
    """

    name = "funnel"

    def __init__(self, dim=10, scale=3.0):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2:
            raise ValueError(f"expected `dim` to be an integer >= 2, got {dim!r}")
        self.dim = int(dim)
        self.scale = _check_positive(scale, "scale")
        self.event_shape = (self.dim,)
        self.log_normalizer = (0.5 * (_LOG_2PI + 2.0 * math.log(self.scale))
                               + 0.5 * (self.dim - 1) * _LOG_2PI)

    def _unnormalized_log_prob(self, x):
        tf = _tf()
        v = x[..., 0]
        rest = tf.reduce_sum(tf.square(x[..., 1:]), axis=-1)
        return (-0.5 * tf.square(v) / self.scale**2 - 0.5 * rest * tf.exp(-v)
                - 0.5 * (self.dim - 1) * v)

    def _sample(self, n, rng):
        v = self.scale * rng.standard_normal(n)
        rest = np.exp(0.5 * v)[:, None] * rng.standard_normal((n, self.dim - 1))
        return np.concatenate([v[:, None], rest], axis=1)

    def _entropy(self):
        return self.log_normalizer + 0.5 * self.dim


class BananaTarget(Target):
    """A banana: ``x1 = z1``, ``x2 = z2 + curvature * (z1^2 + offset)``, ``z ~ N(0, I)``.

    The default (``curvature=1, offset=-1``) is centred (``E[x] = 0``, ``Var x2 = 3``), a
    bend a flow fits to a small reverse KL; ``BananaTarget(curvature=4, offset=1)`` is the
    DESIGN.md / InvertibleNetworks.jl banana (:class:`~tfp_flows.datasets.Banana`), whose
    ``x2`` spans about [3, 40] with conditional spread 1, much harder to fit from a
    standard Normal base. The map has unit Jacobian, so

    .. math:: \\log \\tilde p(x) = -\\tfrac12 x_1^2
              - \\tfrac12\\big(x_2 - c\\,(x_1^2 + o)\\big)^2, \\qquad
              \\log Z = \\log 2\\pi, \\qquad H = \\log(2\\pi e).

    Args:
        curvature: ``c``, the bend (any finite number; 0 gives ``N(0, I)``).
        offset: ``o``, the shift of ``x2`` in units of ``curvature``.

    Example:
        >>> t = BananaTarget()
        >>> round(t.entropy(), 4), t.plot_bounds
        (2.8379, ((-3.5, 3.5), (-4.0, 8.25)))
        >>> round(float(t.log_prob([[0.0, -1.0]])[0]), 4)  # -log(2 pi)
        -1.8379
    """

    name = "banana"
    event_shape = (2,)
    log_normalizer = _LOG_2PI

    def __init__(self, curvature=1.0, offset=-1.0):
        self.curvature = float(curvature)
        self.offset = float(offset)
        if not (math.isfinite(self.curvature) and math.isfinite(self.offset)):
            raise ValueError(f"expected finite curvature and offset, got {curvature!r}, "
                             f"{offset!r}")
        ends = sorted([self.curvature * self.offset, self.curvature * (6.25 + self.offset)])
        self.plot_bounds = ((-3.5, 3.5), (ends[0] - 3.0, ends[1] + 3.0))

    def _unnormalized_log_prob(self, x):
        tf = _tf()
        x1 = x[..., 0]
        z2 = x[..., 1] - self.curvature * (tf.square(x1) + self.offset)
        return -0.5 * (tf.square(x1) + tf.square(z2))

    def _sample(self, n, rng):
        z = rng.standard_normal((n, 2))
        return np.stack([z[:, 0], z[:, 1] + self.curvature * (z[:, 0] ** 2 + self.offset)], 1)

    def _entropy(self):
        return 1.0 + _LOG_2PI


class MixtureTarget(Target):
    """Equal mixture of ``num_modes`` isotropic 2-D Gaussians with centres on a circle
    (angles ``2 pi k / num_modes``): a multimodal target on which reverse-KL fits tend to
    drop modes; :meth:`mode_masses` reports how much of a sample lands near each mode.

    .. math:: \\log \\tilde p(x) = \\log\\sum_{k} \\exp\\Big(-\\frac{|x - c_k|^2}
              {2\\sigma^2}\\Big), \\qquad \\log Z = \\log(K\\, 2\\pi\\sigma^2).

    With the defaults (radius 5, std 0.5) neighbouring centres are 7.7 standard
    deviations apart. The entropy is a midpoint-rule grid quadrature of ``-p log p``
    (step ``std / 4``).

    Args:
        num_modes: ``K`` (>= 1).
        radius: distance of the centres from the origin (> 0).
        std: ``sigma``, standard deviation of each mode (> 0).

    Example:
        >>> t = MixtureTarget()
        >>> round(t.log_normalizer, 4), round(t.entropy(), 3)  # ~ log 8 + log(2 pi e / 4)
        (2.531, 3.531)
        >>> t.mode_masses(t.centres[[0, 0, 1, 3]] + 0.1).tolist()
        [0.5, 0.25, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0]
    """

    name = "mixture"
    event_shape = (2,)

    def __init__(self, num_modes=8, radius=5.0, std=0.5):
        if (isinstance(num_modes, bool) or not isinstance(num_modes, (int, np.integer))
                or num_modes < 1):
            raise ValueError(f"expected `num_modes` to be a positive integer, got {num_modes!r}")
        self.num_modes = int(num_modes)
        self.radius = _check_positive(radius, "radius")
        self.std = _check_positive(std, "std")
        angles = 2.0 * np.pi * np.arange(self.num_modes) / self.num_modes
        self.centres = self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        self.log_normalizer = math.log(self.num_modes) + _LOG_2PI + 2.0 * math.log(self.std)
        edge = self.radius + 4.0 * self.std
        self.plot_bounds = ((-edge, edge), (-edge, edge))
        self._entropy_value = None

    def _unnormalized_log_prob(self, x):
        log_w = np.zeros(self.num_modes)
        return (_gaussian_mixture_log_prob(x, self.centres, log_w, self.std)
                + self.log_normalizer - math.log(self.num_modes))

    def _sample(self, n, rng):
        k = rng.integers(0, self.num_modes, size=n)
        return self.centres[k] + self.std * rng.standard_normal((n, 2))

    def _entropy(self):
        if self._entropy_value is None:
            edge = self.radius + 8.0 * self.std
            pts, area = grid_points(((-edge, edge), (-edge, edge)), self.std / 4.0)
            lp = np.asarray(self.log_prob(pts))
            self._entropy_value = float(-np.sum(np.exp(lp) * lp) * area)
        return self._entropy_value

    def mode_masses(self, samples, within=3.0):
        """Fraction of ``samples`` closer than ``within * std`` to each centre.

        Args:
            samples: array-like ``[n, 2]`` (a flow's draws).
            within: the radius around each centre, in units of ``std`` (> 0). At the
                default 3, an exact sample puts ``(1 - exp(-4.5)) / K`` = 0.9889 / K near
                each mode.

        Returns:
            float64 array ``[num_modes]``; its sum is the fraction near any mode (a
            mode with 0 was dropped by the fit).

        Example:
            >>> t = MixtureTarget(num_modes=4)
            >>> t.mode_masses(np.repeat(t.centres[:2], [3, 1], axis=0)).tolist()
            [0.75, 0.25, 0.0, 0.0]
        """
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"expected samples of shape [n, 2], got {x.shape}")
        within = _check_positive(within, "within")
        d = np.linalg.norm(x[:, None, :] - self.centres[None], axis=-1)
        nearest = np.argmin(d, axis=1)
        near = d[np.arange(len(x)), nearest] < within * self.std
        counts = np.bincount(nearest[near], minlength=self.num_modes)
        return counts / max(len(x), 1)
