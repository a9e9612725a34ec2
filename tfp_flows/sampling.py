"""Many samples of a flow in bounded memory: :func:`sample_in_batches`. The model is
duck-typed: ``sample(n, context=, seed=, temperature=)`` as
:meth:`FlowModel.sample <tfp_flows.FlowModel.sample>` has it."""
import itertools

import numpy as np

from tfp_flows.validation import check_positive_int

__all__ = ["sample_in_batches"]


def sample_in_batches(model, num_samples, *, context=None, batch_size=65536, seed=None,
                      temperature=1.0):
    """``model.sample(num_samples, context=context, ...)`` as a NumPy array, drawn about
    ``batch_size`` samples per call so that memory stays bounded (an image flow keeps
    every layer's activations of a call).

    Each call gets its own seed, ``seed``, ``seed + 1``, ... in order (the contexts
    in blocks of ``max(1, batch_size // num_samples)``, and within a block
    ``num_samples`` in calls of at most ``batch_size``), so an integer ``seed`` gives
    the same samples every time for the same ``batch_size``; draws of one call share
    nothing with those of another.

    Args:
      model: a flow with ``sample(n, context=, seed=, temperature=)``.
      num_samples: ``n``, samples in all (with ``context``: for each context).
      context: ``None``, or contexts ``[m, K]`` of a conditional flow.
      batch_size: the most samples per call of ``model.sample``.
      seed: ``None`` (fresh randomness) or a non-negative integer.
      temperature: ``T > 0``, passed on (the base samples are scaled by ``T``).

    Returns:
      float64 array ``[n, *event_shape]``, or ``[n, m, *event_shape]`` with ``context``
      (TFP's order, as ``model.sample`` gives it).

    Raises:
      ValueError: if ``num_samples`` or ``batch_size`` is not a positive integer, or
        ``context`` is not ``[m, K]``.

    Example:
        >>> import tfp_flows
        >>> flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,),
        ...                      context_size=1, seed=0)
        >>> x = sample_in_batches(flow, 5, context=[[0.0], [1.0], [2.0]], batch_size=4,
        ...                       seed=0)
        >>> x.shape, x.dtype.name
        ((5, 3, 2), 'float64')
    """
    n = check_positive_int(num_samples, "num_samples")
    batch = check_positive_int(batch_size, "batch_size")
    if context is not None:
        context = np.asarray(context)
        if context.ndim != 2 or len(context) == 0:
            raise ValueError(f"expected contexts of shape [m, K] with m >= 1, got shape "
                             f"{context.shape}")
    per = max(1, batch // n)
    blocks = [None] if context is None else [context[i:i + per]
                                             for i in range(0, len(context), per)]
    seeds = itertools.repeat(None) if seed is None else itertools.count(int(seed))
    out = []
    for block in blocks:
        given = {} if block is None else {"context": block}
        out.append(np.concatenate([np.asarray(model.sample(
            min(batch, n - i), seed=next(seeds), temperature=temperature, **given), np.float64)
            for i in range(0, n, batch)]))
    return np.concatenate(out, axis=0 if context is None else 1)
