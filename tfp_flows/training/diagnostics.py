"""Importance-sampling diagnostics of a flow fitted to a target density.

For draws ``x_i ~ q`` (the flow) and a target ``p~`` known up to its normaliser ``Z``, the
importance log-weights are ``log w_i = log p~(x_i) - log q(x_i)``. From them:

- Kish's effective sample size :math:`\\mathrm{ESS} = (\\sum w)^2 / \\sum w^2` (n when
  ``q = p``);
- the Pareto-smoothed importance sampling shape :math:`\\hat k` (Vehtari, Simpson, Gelman,
  Yao, Gabry 2015/2024): below 0.5 the weights' variance is finite and the estimates
  reliable; 0.5 - 0.7 usable; above 0.7 unreliable (q misses mass that p has);
- :math:`\\log \\hat Z = \\log \\frac1n \\sum w_i` with its delta-method standard error
  :math:`\\mathrm{sd}(w) / (\\sqrt n\\, \\bar w)` (``log Z = 0`` for a normalised target);
- the ELBO :math:`\\frac1n\\sum \\log w_i \\le \\log Z`; for a normalised target its
  negative is the reverse KL :math:`E_q[\\log q - \\log p]` in nats.

Everything is computed in float64 NumPy with log-sum-exp, so weights far beyond the float
range are fine.
"""
import dataclasses
import math

import numpy as np
from scipy.special import logsumexp

__all__ = ["ImportanceDiagnostics", "importance_diagnostics", "importance_log_weights",
           "pareto_khat"]


@dataclasses.dataclass(frozen=True)
class ImportanceDiagnostics:
    """What :func:`importance_diagnostics` measures (see the module docstring).

    Attributes:
        log_weights: float64 ``[n]``, the log-weights as given.
        num_samples: ``n``.
        ess: Kish effective sample size, in ``[1, n]``.
        ess_fraction: ``ess / n``.
        khat: Pareto k-hat (NaN when ``n`` is too small for a tail fit, ``-inf`` when the
            largest weights are all equal, i.e. bounded weights with no spread).
        log_z, log_z_std_error: the estimate of ``log Z`` and its standard error.
        elbo, elbo_std_error: mean log-weight and its standard error.
    """

    log_weights: np.ndarray
    num_samples: int
    ess: float
    ess_fraction: float
    khat: float
    log_z: float
    log_z_std_error: float
    elbo: float
    elbo_std_error: float

    def summary(self):
        """One line: ``ESS``, ``k-hat`` and ``log Z``, for titles and logs.

        Example:
            >>> importance_diagnostics(np.zeros(100)).summary()
            'ESS 100 / 100 (100.0%), k-hat -inf, log Z 0.000 ± 0.000'
        """
        return (f"ESS {self.ess:.0f} / {self.num_samples} ({100 * self.ess_fraction:.1f}%), "
                f"k-hat {self.khat:.2f}, log Z {self.log_z:.3f} ± {self.log_z_std_error:.3f}")


def _gpd_fit(x):
    """Zhang & Stephens (2009) posterior-mean estimate of a generalized Pareto's shape and
    scale from sorted positive exceedances ``x``, with the PSIS paper's weakly informative
    prior on the shape (10 pseudo-observations at 0.5)."""
    n = len(x)
    m = 30 + int(math.sqrt(n))
    b = 1.0 - np.sqrt(m / (np.arange(1, m + 1) - 0.5))
    b = b / (3.0 * x[int(n / 4.0 + 0.5) - 1]) + 1.0 / x[-1]
    k = np.mean(np.log1p(-b[:, None] * x), axis=1)  # [m]; the shape given each b
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lik = n * (np.log(-b / k) - k - 1.0)  # profile log-likelihood of each b
    log_lik = np.where(np.isfinite(log_lik), log_lik, -np.inf)
    weights = np.exp(log_lik - logsumexp(log_lik))
    b_post = np.sum(b * weights)
    k_post = np.mean(np.log1p(-b_post * x))
    sigma = -k_post / b_post
    return (n * k_post + 10 * 0.5) / (n + 10), sigma


def pareto_khat(log_weights):
    """The PSIS shape :math:`\\hat k` of importance weights ``exp(log_weights)``.

    A generalized Pareto is fitted (:func:`_gpd_fit`: Zhang & Stephens 2009 with the PSIS
    prior) to the exceedances ``w - u`` of the ``M = ceil(min(n / 5, 3 sqrt(n)))`` largest
    weights over the next largest one ``u``, as in Vehtari et al.'s ``psislw``. Weights
    drawn from a Pareto distribution of shape ``k`` give ``khat`` near ``k``.

    Args:
        log_weights: array-like ``[n]`` of finite log-weights (any additive constant).

    Returns:
        A float: NaN when fewer than 5 weights are in the tail (``n < 25``), ``-inf`` when
        they are all equal (no spread: bounded weights).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(pareto_khat(np.log(rng.pareto(1 / 0.5, size=4000))), 1)  # shape k = 0.5
        0.5
        >>> pareto_khat(np.zeros(100))
        -inf
    """
    lw = np.asarray(log_weights, dtype=np.float64).ravel()
    n = len(lw)
    tail = int(math.ceil(min(0.2 * n, 3.0 * math.sqrt(n))))
    if tail < 5:
        return float("nan")
    lw = np.sort(lw - lw.max())
    cutoff = lw[-tail - 1]
    x = np.exp(lw[-tail:]) - math.exp(cutoff)
    x = x[x > 0]
    if len(x) < 5:
        return float("-inf")
    return float(_gpd_fit(x)[0])


def importance_diagnostics(log_weights):
    """ESS, Pareto k-hat, ``log Z`` and ELBO from importance log-weights.

    .. math:: \\mathrm{ESS} = \\frac{(\\sum_i w_i)^2}{\\sum_i w_i^2}, \\quad
              \\log\\hat Z = \\log\\frac1n\\sum_i w_i, \\quad
              \\mathrm{se}(\\log\\hat Z) = \\frac{\\mathrm{sd}(w)}{\\sqrt n\\,\\bar w}, \\quad
              \\mathrm{ELBO} = \\frac1n\\sum_i \\log w_i.

    Args:
        log_weights: array-like ``[n]`` (n >= 2) of ``log p~(x_i) - log q(x_i)``,
            ``x_i ~ q``; ``-inf`` (a draw where the target has no mass) is allowed, NaN
            and ``+inf`` are not.

    Returns:
        An :class:`ImportanceDiagnostics`.

    Raises:
        ValueError: on fewer than 2 weights, NaN or ``+inf``, or all weights ``-inf``.

    Example:
        >>> d = importance_diagnostics(np.full(1000, 2.5))  # q = p, log Z = 2.5
        >>> d.ess, d.log_z, d.log_z_std_error
        (1000.0, 2.5, 0.0)
        >>> d = importance_diagnostics(np.log([1.0, 1.0, 1.0, 5.0]))
        >>> round(d.ess, 3), round(d.log_z, 4)  # 8^2 / 28, log(8 / 4)
        (2.286, 0.6931)
    """
    lw = np.asarray(log_weights, dtype=np.float64).ravel()
    if lw.size < 2:
        raise ValueError(f"expected at least 2 log-weights, got {lw.size}")
    if np.isnan(lw).any() or (lw == np.inf).any():
        raise ValueError(f"expected log-weights that are finite or -inf; got "
                         f"{int(np.isnan(lw).sum())} NaN and {int((lw == np.inf).sum())} +inf")
    if not np.isfinite(lw).any():
        raise ValueError("all log-weights are -inf: the flow puts no draw where the target "
                         "has mass")
    n = lw.size
    top = lw.max()
    w = np.exp(lw - top)  # in (0, 1], the largest is 1
    ess = min(max(float(np.sum(w) ** 2 / np.sum(w**2)), 1.0), float(n))
    mean_w = w.mean()
    finite = np.isfinite(lw)
    elbo = float(lw.mean()) if finite.all() else float("-inf")
    elbo_se = float(lw.std(ddof=1) / math.sqrt(n)) if finite.all() else float("nan")
    return ImportanceDiagnostics(
        log_weights=lw, num_samples=n, ess=ess, ess_fraction=ess / n,
        khat=pareto_khat(lw[finite]) if finite.sum() >= 2 else float("nan"),
        log_z=float(top + math.log(mean_w)),
        log_z_std_error=float(w.std(ddof=1) / (math.sqrt(n) * mean_w)),
        elbo=elbo, elbo_std_error=elbo_se)


def importance_log_weights(flow, target, num_samples=10000, seed=None, batch_size=10000):
    """Draws ``x ~ q`` from a flow and their log-weights ``log p~(x) - log q(x)``.

    Args:
        flow: a :class:`~tfp_flows.FlowModel` (draws and ``log q`` in one pass through
            ``sample_and_log_prob``) or a TFP distribution (``sample`` + ``log_prob``).
        target: a TF-traceable ``log p~(x)``, ``[n, *event_shape] -> [n]`` (one of
            :mod:`tfp_flows.datasets.targets`: its unnormalised ``__call__`` is used), or a
            TFP distribution (its ``log_prob``).
        num_samples: ``n``, the number of draws.
        seed: ``None``, an int ``s`` or a stateless pair ``(a, b)``; batch ``j`` draws
            with the stateless pair ``(s, j)`` (``(a, b + j)``), so a seed reproduces the
            draws for the same ``batch_size``.
        batch_size: draws per pass (bounds the memory).

    Returns:
        ``(samples, log_weights)``: NumPy arrays ``[n, *event_shape]`` and float64 ``[n]``.

    Example:
        >>> import tensorflow_probability as tfp
        >>> q = tfp.distributions.MultivariateNormalDiag([0.0, 0.0])
        >>> x, lw = importance_log_weights(q, q, num_samples=100, seed=0)
        >>> x.shape, float(np.abs(lw).max())
        ((100, 2), 0.0)
    """
    import tensorflow as tf

    from tfp_flows.training.target import resolve_target

    fn = resolve_target(target, tuple(flow.event_shape))
    n = int(num_samples)
    if n < 1 or int(batch_size) < 1:
        raise ValueError(f"expected positive num_samples and batch_size, got {num_samples!r}, "
                         f"{batch_size!r}")
    xs, lws = [], []
    for j, start in enumerate(range(0, n, int(batch_size))):
        m = min(int(batch_size), n - start)
        s = None if seed is None else (
            (int(seed), j) if np.ndim(seed) == 0 else (int(seed[0]), int(seed[1]) + j))
        if hasattr(flow, "sample_and_log_prob"):
            x, log_q = flow.sample_and_log_prob(m, seed=s)
        else:
            x = flow.sample(m, seed=None if s is None else tf.constant(s, tf.int32))
            log_q = flow.log_prob(x)
        log_p = tf.cast(fn(x), tf.float64)
        lws.append((log_p - tf.cast(log_q, tf.float64)).numpy())
        xs.append(np.asarray(x))
    return np.concatenate(xs), np.concatenate(lws)
