"""Conditional problems with exact conditional densities ``p(x | context)``.

Each problem is a :class:`ConditionalProblem`: a joint distribution of a variable ``x``
(the thing a conditional flow models, ``event_size`` numbers) and a ``context``
(``context_size`` numbers it is conditioned on). It can simulate pairs, evaluate the exact
``log p(x | context)``, sample ``x`` given any contexts, and measure a model by

.. math:: \\mathrm{KL} = \\frac1n \\sum_{i=1}^{n} \\mathrm{KL}\\big(p(\\cdot \\mid c_i)
          \\,\\|\\, q(\\cdot \\mid c_i)\\big)
          = \\frac1n \\sum_i \\mathbb{E}_{x \\sim p(\\cdot \\mid c_i)}
          \\big[\\log p(x \\mid c_i) - \\log q(x \\mid c_i)\\big],

estimated by Monte Carlo (:meth:`ConditionalProblem.kl_to`). Any callable
``model_log_prob(x [N, event_size], context [N, context_size]) -> [N]`` can be measured,
so a conditional flow plugs in as it is.

- :class:`LinearGaussian`: amortised posterior inference, ``x = theta``, ``context = y``.
- :class:`ConditionalMoons`: two moons, the moon label (one-hot) as context.
- :class:`ConditionalBanana`: the banana's second coordinate given its first.

Samples are float32 (what flows train on); densities are float64. Contexts must be finite
(NaN or infinite contexts raise ``ValueError``); a NaN in ``x`` gives a NaN density.
"""
import math

import numpy as np

from tfp_flows.datasets.curves import TwoMoons
from tfp_flows.datasets.toy_base import _check_positive

__all__ = ["ConditionalBanana", "ConditionalMoons", "ConditionalProblem", "LinearGaussian"]

_LOG_2PI = math.log(2.0 * math.pi)


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"expected `{name}` to be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_rows(value, name, width):
    """``value`` as float64 with last axis ``width``, or a ValueError saying what came."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != width:
        raise ValueError(f"expected `{name}` of shape [..., {width}], got shape {arr.shape}")
    return arr


class ConditionalProblem:
    """Base class: a joint distribution of ``(x, context)`` with exact ``log p(x | context)``.

    Subclasses set ``event_size`` and ``context_size`` and implement
    ``_sample_joint(n, rng) -> (x, context)``, ``_sample_given_raw(context [N, c], rng)
    -> x [N, e]`` and ``_log_prob_raw(x [N, e], context [N, c]) -> [N]`` (float64).
    """

    event_size = None
    context_size = None

    # ---- hooks ----------------------------------------------------------------------
    def _sample_joint(self, n, rng):
        raise NotImplementedError

    def _sample_given_raw(self, context, rng):
        raise NotImplementedError

    def _log_prob_raw(self, x, context):
        raise NotImplementedError

    def _check_context(self, context):
        arr = _as_rows(context, "context", self.context_size)
        bad = int(np.sum(~np.isfinite(arr)))
        if bad:
            raise ValueError(f"expected finite `context` values, got {bad} NaN or infinite")
        return arr

    # ---- public API -----------------------------------------------------------------
    def sample(self, n, seed=None):
        """Draw ``n`` pairs from the joint: ``(x [n, event_size], context [n, context_size])``,
        float32; ``seed`` is anything :func:`numpy.random.default_rng` accepts."""
        n = _check_int(n, "n", 0)
        x, context = self._sample_joint(n, np.random.default_rng(seed))
        return x.astype(np.float32), context.astype(np.float32)

    def sample_given(self, context, k, seed=None):
        """``k`` draws of ``x ~ p(. | context)`` for each context: float32 ``[..., k, event_size]``
        for ``context`` of shape ``[..., context_size]``."""
        context = self._check_context(context)
        k = _check_int(k, "k", 1)
        flat = np.repeat(context.reshape(-1, self.context_size), k, axis=0)
        x = self._sample_given_raw(flat, np.random.default_rng(seed))
        return x.reshape(context.shape[:-1] + (k, self.event_size)).astype(np.float32)

    def log_prob(self, x, context):
        """Exact ``log p(x | context)``, float64. ``x`` is ``[..., event_size]``, ``context``
        ``[..., context_size]``; the leading shapes broadcast (one context for many ``x``)."""
        x = _as_rows(x, "x", self.event_size)
        context = self._check_context(context)
        try:
            lead = np.broadcast_shapes(x.shape[:-1], context.shape[:-1])
        except ValueError:
            raise ValueError(f"expected `x` and `context` with broadcastable leading shapes, "
                             f"got {x.shape} and {context.shape}") from None
        x = np.broadcast_to(x, lead + (self.event_size,)).reshape(-1, self.event_size)
        c = np.broadcast_to(context, lead + (self.context_size,)).reshape(-1, self.context_size)
        return self._log_prob_raw(x, c).reshape(lead)

    def kl_to(self, model_log_prob, context, num_samples=1000, seed=None):
        """KL from the truth to a model, averaged over the given contexts, in nats.

        For each of the ``n`` contexts ``c_i`` (``context`` of shape ``[n, context_size]`` or
        ``[context_size]``), ``num_samples`` draws ``x ~ p(. | c_i)`` are made; all ``n *
        num_samples`` pairs go to ``model_log_prob(x, context)`` in one call (float32 arrays
        ``[N, event_size]``, ``[N, context_size]``; it must return ``N`` log-densities), and
        the estimate is the mean of ``log p(x | c) - model_log_prob(x, c)``. The contexts are
        rounded to float32 first, so truth and model see the same numbers.

        Returns:
            ``(value, std_error)``: floats; ``std_error`` is that of the mean with the
            contexts held fixed, ``sqrt(sum_i var_i / num_samples) / n``. An exact model gives
            ``(0.0, 0.0)``; a model with zero density at a sample gives ``inf``.
        """
        if not callable(model_log_prob):
            raise TypeError(f"expected `model_log_prob` to be a callable (x, context) -> "
                             f"log-densities, got {type(model_log_prob).__name__}")
        context = self._check_context(context).reshape(-1, self.context_size)
        context = context.astype(np.float32).astype(np.float64)
        n, k = len(context), _check_int(num_samples, "num_samples", 2)
        if n == 0:
            raise ValueError("expected at least one context, got an empty array")
        x = self.sample_given(context, k, seed).reshape(n * k, self.event_size)
        c = np.repeat(context, k, axis=0)
        lq = np.asarray(model_log_prob(x, c.astype(np.float32)), dtype=np.float64)
        if lq.shape != (n * k,):
            raise ValueError(f"expected `model_log_prob` to return shape ({n * k},) for "
                             f"{n * k} pairs, got shape {lq.shape}")
        diff = (self.log_prob(x, c) - lq).reshape(n, k)
        with np.errstate(invalid="ignore"):
            se = math.sqrt(np.sum(np.var(diff, axis=1, ddof=1)) / k) / n
        return float(np.mean(diff)), float(se)


class LinearGaussian(ConditionalProblem):
    """Linear-Gaussian inverse problem: amortised posterior inference in closed form.

    .. math:: \\theta \\sim N(0, I_d), \\qquad y = A\\theta + \\varepsilon, \\qquad
              \\varepsilon \\sim N(0, s^2 I_m),

    with ``s = noise_std`` and ``A`` a fixed ``[m, d]`` matrix of independent
    ``N(0, 1/d)`` entries drawn from ``seed`` (so each ``(A theta)_j`` has prior variance
    about 1, and each ``y_j`` about ``1 + s^2``). The variable modelled is ``x = theta``;
    the conditioning ``context`` is the observation ``y``. The posterior is exact:

    .. math:: p(\\theta \\mid y) = N(\\theta;\\ \\mu(y), \\Sigma), \\qquad
              \\Sigma = (I + A^\\top A / s^2)^{-1}, \\qquad \\mu(y) = \\Sigma A^\\top y / s^2,

    and its entropy ``0.5 log det(2 pi e Sigma)`` does not depend on ``y``.

    Args:
        dim: ``d``, size of ``theta`` (>= 1).
        obs_dim: ``m``, size of ``y`` (>= 1); default ``dim``.
        noise_std: ``s`` (> 0).
        seed: seed of ``A`` (anything :func:`numpy.random.default_rng` accepts).

    Example:
        >>> problem = LinearGaussian(dim=2, obs_dim=3, noise_std=0.5, seed=0)
        >>> theta, y = problem.sample(5, seed=1)
        >>> theta.shape, y.shape, theta.dtype.name
        ((5, 2), (5, 3), 'float32')
        >>> mean, cov = problem.posterior(y)
        >>> mean.shape, cov.shape
        ((5, 2), (2, 2))
        >>> problem.kl_to(problem.log_prob, y, num_samples=100, seed=2)  # exact model
        (0.0, 0.0)
    """

    def __init__(self, dim=2, obs_dim=None, noise_std=0.5, seed=0):
        self.dim = _check_int(dim, "dim", 1)
        self.obs_dim = self.dim if obs_dim is None else _check_int(obs_dim, "obs_dim", 1)
        self.noise_std = _check_positive(noise_std, "noise_std")
        self.seed = seed
        self.event_size, self.context_size = self.dim, self.obs_dim
        rng = np.random.default_rng(seed)
        self.matrix = rng.standard_normal((self.obs_dim, self.dim)) / math.sqrt(self.dim)
        s2 = self.noise_std**2
        self.posterior_precision = np.eye(self.dim) + self.matrix.T @ self.matrix / s2
        self.posterior_cov = np.linalg.inv(self.posterior_precision)
        self.posterior_cov = 0.5 * (self.posterior_cov + self.posterior_cov.T)
        self._chol = np.linalg.cholesky(self.posterior_cov)
        self._logdet_precision = np.linalg.slogdet(self.posterior_precision)[1]

    def _sample_joint(self, n, rng):
        theta = rng.standard_normal((n, self.dim))
        noise = self.noise_std * rng.standard_normal((n, self.obs_dim))
        return theta, theta @ self.matrix.T + noise

    def _mean(self, y):
        return (y @ self.matrix) @ self.posterior_cov / self.noise_std**2

    def _sample_given_raw(self, context, rng):
        z = rng.standard_normal((len(context), self.dim))
        return self._mean(context) + z @ self._chol.T

    def _log_prob_raw(self, x, context):
        r = x - self._mean(context)
        quad = np.sum((r @ self.posterior_precision) * r, axis=-1)
        return -0.5 * quad - 0.5 * self.dim * _LOG_2PI + 0.5 * self._logdet_precision

    def posterior(self, y):
        """Exact posterior ``(mean [..., d], cov [d, d])`` for ``y`` of shape ``[..., m]``."""
        return self._mean(self._check_context(y)), self.posterior_cov.copy()

    def posterior_sample(self, y, k, seed=None):
        """``k`` posterior draws per observation: float32 ``[..., k, d]`` for ``y [..., m]``
        (the same as :meth:`sample_given`)."""
        return self.sample_given(y, k, seed)

    def entropy(self):
        """Exact entropy of the posterior, ``0.5 log det(2 pi e Sigma)`` nats, for every y."""
        return 0.5 * self.dim * (1.0 + _LOG_2PI) - 0.5 * self._logdet_precision

    def __repr__(self):
        return (f"LinearGaussian(dim={self.dim}, obs_dim={self.obs_dim}, "
                f"noise_std={self.noise_std!r}, seed={self.seed!r})")


class _Moon(TwoMoons):
    """One moon of :class:`TwoMoons` (``label`` 0 outer, 1 inner): its curve, noise and
    quadrature, through the ``_curves`` hook :class:`CurveMixture` offers subclasses."""

    def __init__(self, label=0, noise=0.05, panels_per_noise=1.0, loc=None, scale=None):
        self.label = int(label)  # before super().__init__, which calls _curves
        super().__init__(noise, panels_per_noise, loc, scale)

    def _params(self):
        return {"label": self.label, **super()._params()}

    def _curves(self, t):
        return super()._curves(t)[self.label:self.label + 1]


class ConditionalMoons(ConditionalProblem):
    """Two moons with the moon as context: ``p(x | label)`` for the two halves of
    :class:`TwoMoons`.

    The label ``k`` is 0 (outer moon, ``(cos t, sin t)``) or 1 (inner moon,
    ``(1 - cos t, 0.5 - sin t)``), each with probability 1/2, and the context is its
    one-hot float vector ``[1, 0]`` or ``[0, 1]`` (:meth:`one_hot` turns labels into
    contexts). Given the moon, ``t ~ Uniform[0, pi]`` and Gaussian noise of standard
    deviation ``sigma = noise``:

    .. math:: p(x \\mid k) = \\int_0^\\pi \\frac1\\pi N(x;\\ c_k(t),\\ \\sigma^2 I)\\, dt,

    evaluated with exactly the quadrature of :class:`TwoMoons` (same nodes), so that
    ``(p(x | 0) + p(x | 1)) / 2`` is ``TwoMoons(noise).prob(x)``. The two moons are
    congruent, so both labels have the same entropy, about ``H(TwoMoons) - log 2``.

    Args:
        noise: ``sigma`` (> 0).
        loc, scale: optional standardisation of ``x`` as in :class:`ToyDistribution`
            (the context is never standardised).

    Example:
        >>> problem = ConditionalMoons(noise=0.05)
        >>> x, context = problem.sample(4, seed=0)
        >>> x.shape, context.shape, context.dtype.name
        ((4, 2), (4, 2), 'float32')
        >>> problem.one_hot([0, 1]).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        >>> round(problem.entropy(0), 3), round(problem.entropy(1), 3)
        (-0.404, -0.404)
    """

    event_size = 2
    context_size = 2

    def __init__(self, noise=0.05, loc=None, scale=None):
        self.moons = tuple(_Moon(k, noise, loc=loc, scale=scale) for k in range(2))
        self.noise = self.moons[0].noise

    @staticmethod
    def one_hot(labels):
        """Contexts for integer ``labels`` in {0, 1}: float32 of shape ``labels.shape + (2,)``."""
        arr = np.asarray(labels)
        integral = np.issubdtype(arr.dtype, np.integer) or (
            np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0))
        if not integral:
            raise ValueError(f"expected integer moon labels in {{0, 1}}, got {arr.dtype} "
                             f"values {arr.ravel()[:5].tolist()}")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(f"expected moon labels in {{0, 1}}, got values from {arr.min()} "
                             f"to {arr.max()}")
        return np.eye(2, dtype=np.float32)[arr.astype(np.int64)]

    def _check_context(self, context):
        arr = super()._check_context(context)
        if not np.all(((arr == 0) | (arr == 1)) & (arr.sum(axis=-1, keepdims=True) == 1)):
            raise ValueError("expected one-hot `context` rows ([1, 0] outer moon, [0, 1] inner "
                             "moon; see ConditionalMoons.one_hot), got other values")
        return arr

    def _sample_by_label(self, labels, rng):
        x = np.empty((len(labels), 2))
        for k, moon in enumerate(self.moons):
            mask = labels == k
            x[mask] = moon.sample(int(mask.sum()), seed=rng)
        return x

    def _sample_joint(self, n, rng):
        labels = rng.integers(0, 2, size=n)
        return self._sample_by_label(labels, rng), self.one_hot(labels)

    def _sample_given_raw(self, context, rng):
        return self._sample_by_label(np.argmax(context, axis=-1), rng)

    def _log_prob_raw(self, x, context):
        labels = np.argmax(context, axis=-1)
        out = np.empty(len(x))
        for k, moon in enumerate(self.moons):
            out[labels == k] = moon.log_prob(x[labels == k])
        return out

    def entropy(self, label):
        """Exact entropy of ``p(x | label)`` in nats (grid quadrature as for the toys)."""
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) \
                or label not in (0, 1):
            raise ValueError(f"expected a moon label 0 or 1, got {label!r}")
        return self.moons[int(label)].entropy()

    def __repr__(self):
        moon = self.moons[0]
        args = [f"noise={self.noise!r}"]
        if np.any(moon.loc != 0) or np.any(moon.scale != 1):
            args += [f"loc={np.round(moon.loc, 4).tolist()}",
                     f"scale={np.round(moon.scale, 4).tolist()}"]
        return f"ConditionalMoons({', '.join(args)})"


class ConditionalBanana(ConditionalProblem):
    """The banana of :class:`Banana` as a conditional problem: ``x2`` given ``x1``.

    .. math:: c = x_1 \\sim N(0, 1), \\qquad x_2 \\mid x_1 \\sim N\\big(4(x_1^2 + 1), 1\\big),

    the context is ``x1`` (shape ``[n, 1]``) and the variable ``x2`` (shape ``[n, 1]``). So
    ``log p(x2 | c) = log N(x2 - 4(c^2 + 1); 0, 1)`` and the conditional entropy is
    ``0.5 log(2 pi e) ~ 1.4189`` nats for every context (half of the banana's ``log(2 pi e)``).

    Example:
        >>> problem = ConditionalBanana()
        >>> x2, c = problem.sample(3, seed=0)
        >>> x2.shape, c.shape
        ((3, 1), (3, 1))
        >>> round(float(problem.log_prob([8.0], [1.0])), 4), round(problem.entropy(), 4)
        (-0.9189, 1.4189)
    """

    event_size = 1
    context_size = 1

    def _sample_joint(self, n, rng):
        c = rng.standard_normal((n, 1))
        return self._sample_given_raw(c, rng), c

    def _sample_given_raw(self, context, rng):
        return 4.0 * (context**2 + 1.0) + rng.standard_normal(context.shape)

    def _log_prob_raw(self, x, context):
        z = x[:, 0] - 4.0 * (context[:, 0] ** 2 + 1.0)
        return -0.5 * z**2 - 0.5 * _LOG_2PI

    def entropy(self):
        """Exact entropy of ``p(x2 | x1)``: ``0.5 log(2 pi e)`` nats, for every context."""
        return 0.5 * (1.0 + _LOG_2PI)

    def __repr__(self):
        return "ConditionalBanana()"
