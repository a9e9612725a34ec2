r"""How good is a fitted flow: mean NLL, KL to an exact density, bits per dimension.

Every function takes ``model``: a :class:`~tfp_flows.FlowModel`, or anything with a
``log_prob(x)`` method (a ``tfd.Distribution``, a toy distribution of
:mod:`tfp_flows.datasets`). All values are in nats (bits for :func:`bits_per_dim`) and come
as an :class:`Estimate`: the Monte-Carlo value and its standard error.
"""
import math
from typing import NamedTuple

import numpy as np

from tfp_flows.validation import check_positive_int

__all__ = ["Estimate", "bits_per_dim", "bits_per_image", "context_gain", "kl_to_truth",
           "mean_nll", "negative_log_likelihoods"]

#: Rows per ``log_prob`` call: large enough to be fast, small enough for any memory.
DEFAULT_BATCH_SIZE = 8192


class Estimate(NamedTuple):
    """A Monte-Carlo estimate: ``value`` and its standard error ``std_error`` (the standard
    deviation of the per-point values divided by the square root of their number). It
    unpacks as a pair: ``value, std_error = mean_nll(model, x)``."""

    value: float
    std_error: float

    def __format__(self, spec):
        spec = spec or ".4f"
        return f"{self.value:{spec}} ± {self.std_error:{spec}}"


def _estimate(values):
    values = np.asarray(values, dtype=np.float64)
    return Estimate(float(values.mean()), float(values.std() / math.sqrt(len(values))))


def _log_probs(model, x, batch_size, context=None):
    """``model.log_prob`` of the rows of ``x`` (given their contexts, or one context row
    ``[K]`` or ``[1, K]`` for all rows), ``batch_size`` at a time, as a float64 vector."""
    batch_size = check_positive_int(batch_size, "batch_size")
    n = len(x)
    if n == 0:
        raise ValueError("expected at least one row of data, got none")
    if context is None:
        chunks = [model.log_prob(x[i:i + batch_size]) for i in range(0, n, batch_size)]
    else:
        context = np.asarray(context)
        one = context.ndim == 1 or (context.ndim == 2 and len(context) == 1)
        if not one and (context.ndim != 2 or len(context) != n):
            raise ValueError(f"expected one context row per data row, shape [{n}, K], or one "
                             f"row [K] for all, got {context.shape}")
        chunks = [model.log_prob(x[i:i + batch_size],
                                 context=context if one else context[i:i + batch_size])
                  for i in range(0, n, batch_size)]
    return np.concatenate([np.asarray(c, dtype=np.float64).reshape(-1) for c in chunks])


def negative_log_likelihoods(model, x, batch_size=DEFAULT_BATCH_SIZE, context=None):
    """``-log p(x_i)`` (``-log p(x_i | c_i)`` with ``context``: one row per row of ``x``, or
    one row ``[K]`` for all) for every row of ``x``, as a float64 NumPy array, computed
    ``batch_size`` rows at a time (``model.log_prob`` in inference mode).

    Example:
        >>> import tensorflow_probability as tfp
        >>> normal = tfp.distributions.Normal(0.0, 1.0)
        >>> negative_log_likelihoods(normal, np.array([0.0, 1.0])).round(4)
        array([0.9189, 1.4189])
    """
    return -_log_probs(model, x, batch_size, context)


def mean_nll(model, x, batch_size=DEFAULT_BATCH_SIZE, context=None):
    r"""Mean negative log-likelihood of the rows of ``x``, in nats per point.

    .. math::
        \mathrm{NLL} = -\frac{1}{n} \sum_{i=1}^{n} \log p(x_i)

    with the standard error :math:`\mathrm{sd}_i(-\log p(x_i)) / \sqrt{n}`. ``log p`` is the
    model's density in the units of ``x`` (a builder's model standardises inside itself, so
    these are the data's units). On data the model was not trained on, this estimates the
    cross-entropy :math:`-E_{data}[\log p]`.

    Args:
      model: a flow, or anything with ``log_prob(x)`` returning one value per row.
      x: data of shape ``[n, *event_shape]`` (NumPy array or tensor), ``n >= 1``.
      batch_size: rows per ``log_prob`` call.
      context: for a conditional flow, the rows' contexts ``[n, K]`` (then the value is the
        mean of ``-log p(x_i | c_i)``), or one context ``[K]`` (or ``[1, K]``) for all rows.

    Returns:
      :class:`Estimate` ``(value, std_error)`` in nats. A row of zero density gives
      ``inf``.

    Example:
        >>> import tensorflow_probability as tfp
        >>> normal = tfp.distributions.Normal(0.0, 1.0)   # -log p(x) = x^2 / 2 + log(2 pi) / 2
        >>> nll = mean_nll(normal, np.array([-1.0, 1.0]))
        >>> round(nll.value, 4), nll.std_error                # 0.5 + 0.9189
        (1.4189, 0.0)
    """
    return _estimate(negative_log_likelihoods(model, x, batch_size, context))


def kl_to_truth(model, truth, num_samples=20000, seed=0, batch_size=DEFAULT_BATCH_SIZE):
    r"""KL divergence from an exact distribution to the model, in nats, by Monte Carlo.

    .. math::
        \mathrm{KL}(p^\ast \,\|\, p) = E_{x \sim p^\ast}[-\log p(x)] - H(p^\ast)
        \approx -\frac{1}{n} \sum_{i=1}^{n} \log p(x_i) - H(p^\ast),
        \quad x_i \sim p^\ast

    i.e. the mean NLL of ``num_samples`` fresh draws from the truth minus its exact entropy
    ``truth.entropy()``. The entropy is exact, so the standard error is that of the mean NLL.
    The estimate is 0 for a perfect model (up to the standard error) and does not depend on
    the coordinates, as long as ``model`` and ``truth`` share them.

    Args:
      model: a flow, or anything with ``log_prob(x)``.
      truth: the data distribution, with ``sample(n, seed=...)`` and an exact ``entropy()``
        (the toy distributions of :mod:`tfp_flows.datasets`, or a ``tfd.Distribution``).
      num_samples: number of fresh draws from ``truth`` (20,000 gives a standard error of
        about 0.01 nats for a good 2-D model).
      seed: passed to ``truth.sample``: an int for the toy distributions (the same seed
        gives the same test points); for a ``tfd.Distribution`` a pair of ints (a stateless
        seed) does that, an int seeds TensorFlow's stateful generator.
      batch_size: rows per ``log_prob`` call.

    Returns:
      :class:`Estimate` ``(value, std_error)`` in nats.

    Example:
        >>> import tensorflow_probability as tfp
        >>> tfd = tfp.distributions
        >>> truth, model = tfd.Normal(0.0, 1.0), tfd.Normal(0.0, 2.0)
        >>> kl = kl_to_truth(model, truth, num_samples=200000, seed=1)
        >>> exact = math.log(2.0) + 1 / 8 - 1 / 2     # log(s2/s1) + s1^2/(2 s2^2) - 1/2
        >>> bool(abs(kl.value - exact) < 4 * kl.std_error), round(exact, 4)
        (True, 0.3181)
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
            or num_samples < 2:
        raise ValueError(f"num_samples must be an integer >= 2, got {num_samples!r}")
    x = np.asarray(truth.sample(int(num_samples), seed=seed))
    nll = mean_nll(model, x, batch_size)
    return Estimate(nll.value - float(truth.entropy()), nll.std_error)


def conditional_kl(model, problem, context, num_samples=1000, seed=0):
    r"""Mean KL divergence from an exact conditional density to a conditional flow, over
    contexts, in nats, by Monte Carlo:

    .. math::
        \frac1m \sum_{j=1}^{m} \mathrm{KL}\big(p(\cdot \mid c_j) \,\|\,
        q(\cdot \mid c_j)\big), \quad
        \mathrm{KL}_j \approx \frac1N \sum_{i} \log p(x_{ij} \mid c_j)
        - \log q(x_{ij} \mid c_j), \quad x_{ij} \sim p(\cdot \mid c_j)

    Args:
      model: a conditional flow (``log_prob(x, context=c)``).
      problem: a :class:`~tfp_flows.datasets.ConditionalProblem` (exact ``log p(x | c)``
        and samples given ``c``).
      context: the contexts ``[m, K]`` to average over (e.g. 100 held-out ones).
      num_samples: ``N``, draws of ``x`` per context.
      seed: an int for the draws (the same seed gives the same points).

    Returns:
      :class:`Estimate` ``(value, std_error)`` in nats (the error is over contexts).

    Example:
        >>> from tfp_flows.datasets import LinearGaussian
        >>> problem = LinearGaussian(dim=2, obs_dim=2, seed=0)
        >>> class Exact:   # the exact posterior scores 0
        ...     def log_prob(self, x, context):
        ...         return problem.log_prob(x, context)
        >>> _, y = problem.sample(5, seed=1)
        >>> abs(conditional_kl(Exact(), problem, y, num_samples=50).value) < 1e-9
        True
    """
    def log_q(x, c):
        return _log_probs(model, x.astype(np.float32), 8192, c.astype(np.float32))

    value, error = problem.kl_to(log_q, context, num_samples=num_samples, seed=seed)
    return Estimate(float(value), float(error))


def bits_per_dim(model, images, num_levels, num_draws=4, seed=0,
                 batch_size=DEFAULT_BATCH_SIZE, context=None):
    r"""Bits per dimension of integer images under a density over pixel units.

    Each image :math:`x \in \{0, \dots, K-1\}^D` is dequantised to :math:`x + u`,
    :math:`u \sim U[0, 1)^D`, and scored

    .. math::
        \mathrm{bits/dim} = \frac{-\log p(x + u)}{D \ln 2}

    averaged over ``num_draws`` draws of :math:`u` per image, then over the images (the
    standard error is over images, of their per-image means). ``model.log_prob`` must be a
    density over pixel units, i.e. over :math:`[0, K)^D`: every preprocessing map inside
    the model (scaling to [0, 1], logit) contributes its log-det. A uniform density over
    the pixel cube scores exactly :math:`\log_2 K`; by Jensen's inequality the value bounds
    the discrete model's :math:`-\log_2 P(x) / D` from above.

    Args:
      model: a flow (or anything with ``log_prob``) over images of ``images.shape[1:]``;
        a model with a ``num_levels`` attribute (an image flow) must have this one.
      images: integers in ``[0, num_levels)``, shape ``[n, *event_shape]`` (checked by
        :func:`tfp_flows.datasets.check_pixels`: floats, even whole-number ones, and pixels
        outside the range are a ``ValueError``).
      num_levels: ``K``, the number of pixel levels (256 for 8-bit images).
      num_draws: dequantisation draws per image.
      seed: seed of the uniform noise (anything :func:`numpy.random.default_rng` takes).
      batch_size: images per ``log_prob`` call.
      context: for a conditional flow, one context row per image (e.g. one-hot labels), or
        one row ``[K]`` (or ``[1, K]``) for all images.

    Returns:
      :class:`Estimate` ``(value, std_error)`` in bits per dimension.

    Raises:
      ValueError: ``num_levels`` other than the model's own, or images that are not
        integer pixels in ``[0, num_levels)`` (the message names the range found).

    Example:
        >>> import tensorflow_probability as tfp
        >>> tfd = tfp.distributions
        >>> uniform = tfd.Independent(tfd.Uniform(np.zeros(3), 4.0 * np.ones(3)), 1)
        >>> images = np.array([[0, 1, 3], [2, 2, 0]])
        >>> bits_per_dim(uniform, images, num_levels=4).value   # log2(4)
        2.0
        >>> class Digits:   # stands for an image flow built for 17 levels
        ...     num_levels = 17
        >>> bits_per_dim(Digits(), images, num_levels=256)
        Traceback (most recent call last):
        ...
        ValueError: num_levels=256 does not match the model's own num_levels=17 (the pixel levels it was built for)
    """
    return _estimate(bits_per_image(model, images, num_levels, num_draws, seed, batch_size,
                                    context))


def bits_per_image(model, images, num_levels, num_draws=4, seed=0,
                   batch_size=DEFAULT_BATCH_SIZE, context=None):
    r"""Each image's bits per dimension, :math:`-\log p(x + u) / (D \ln 2)` averaged over
    ``num_draws`` draws of :math:`u \sim U[0, 1)^D`: the per-image values whose mean
    :func:`bits_per_dim` reports (same arguments).

    Returns:
      A float64 NumPy array ``[n]``.

    Example:
        >>> import tensorflow_probability as tfp
        >>> tfd = tfp.distributions
        >>> uniform = tfd.Independent(tfd.Uniform(np.zeros(2), 8.0 * np.ones(2)), 1)
        >>> bits_per_image(uniform, np.array([[0, 7], [3, 3]]), num_levels=8)
        array([3., 3.])
    """
    from tfp_flows.datasets import check_pixels, dequantize

    if isinstance(num_draws, bool) or not isinstance(num_draws, (int, np.integer)) \
            or num_draws < 1:
        raise ValueError(f"num_draws must be a positive integer, got {num_draws!r}")
    model_levels = getattr(model, "num_levels", None)
    if model_levels is not None and model_levels != num_levels:
        raise ValueError(f"num_levels={num_levels!r} does not match the model's own "
                         f"num_levels={model_levels} (the pixel levels it was built for)")
    images = np.asarray(images)
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"expected images of shape [n, *event_shape] with n >= 1, got "
                         f"shape {images.shape}")
    what = (f"bits_per_dim's images (integer pixel values in [0, {num_levels}), dequantised "
            "here)")
    images, is_integer = check_pixels(images, num_levels, what)
    if not is_integer:
        raise ValueError(f"{what}: got float pixels that are already dequantised")
    dims = int(np.prod(images.shape[1:]))
    rng = np.random.default_rng(seed)
    nll = np.mean([negative_log_likelihoods(model, dequantize(images, rng, num_levels),
                                            batch_size, context)
                   for _ in range(int(num_draws))], axis=0)
    return nll / (dims * math.log(2.0))


def context_gain(model, x, context, seed=0, batch_size=DEFAULT_BATCH_SIZE, num_levels=None,
                 num_draws=4):
    r"""How much a conditional flow uses its context: the mean NLL of the rows of ``x``
    given the contexts shuffled among the rows, minus the mean NLL given their own,

    .. math::
        \frac{1}{n} \sum_{i=1}^{n} \big(-\log p(x_i \mid c_{\pi(i)})\big)
        - \big(-\log p(x_i \mid c_i)\big)

    for one random permutation :math:`\pi` of the rows, with the standard error of these
    paired differences. About 0 for a flow that ignores its context; the more ``x``
    depends on ``c`` in the flow, the larger (the NLL given shuffled contexts is the mean
    NLL plus this gain). For the exact density, with :math:`c' = c_{\pi(i)}` taken as a
    context drawn independently of :math:`x_i`, its expectation is
    :math:`I(x; c) + E_{c'}[\mathrm{KL}(p(x) \,\|\, p(x \mid c'))] \ge I(x; c)`.

    Args:
      model: a conditional flow (``log_prob(x, context=c)``).
      x: data rows ``[n, *event_shape]``, ``n >= 1`` (held-out rows, to measure what
        generalises); integer images with ``num_levels``.
      context: their contexts ``[n, K]``.
      seed: seeds the permutation (:func:`numpy.random.default_rng`) and, for images, the
        dequantisation noise, the same draws for both terms.
      batch_size: rows per ``log_prob`` call.
      num_levels: for integer images, ``K`` pixel levels: then the terms are each image's
        bits per dimension (:func:`bits_per_image`) instead of nats per row.
      num_draws: for images, dequantisation draws per image.

    Returns:
      :class:`Estimate` ``(value, std_error)`` in nats per row (bits per dimension for
      images).

    Example:
        >>> class Shift:   # p(x | c) = N(x; c, 1)
        ...     def log_prob(self, x, context):
        ...         return -0.5 * ((x - context) ** 2).sum(-1) - 0.5 * np.log(2 * np.pi)
        >>> c = np.arange(6.0)[:, None]
        >>> gain = context_gain(Shift(), c + 0.1, c, seed=0)
        >>> bool(gain.value > 1), context_gain(Shift(), c + 0.1, np.zeros((6, 1))).value
        (True, 0.0)
    """
    context = np.asarray(context)
    if context.ndim != 2 or len(context) != len(x):
        raise ValueError(f"expected one context row per data row, shape [{len(x)}, K], got "
                         f"{context.shape}")
    shuffled = context[np.random.default_rng(seed).permutation(len(context))]
    if num_levels is None:
        def score(c):
            return negative_log_likelihoods(model, x, batch_size, c)
    else:
        def score(c):
            return bits_per_image(model, x, num_levels, num_draws, seed, batch_size, c)
    return _estimate(score(shuffled) - score(context))
