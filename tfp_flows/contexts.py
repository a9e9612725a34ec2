r"""A conditional flow's context, from what the user passes to what the layers see.

One owner for the three things a context goes through:

* **checking**: :func:`check_context` (a tensor ``[..., K]`` given to ``log_prob`` or
  ``sample``) and :func:`check_context_rows` (the ``[n, K]`` array given to ``fit``), each run
  once per call;
* **standardising**: :class:`~tfp_flows.layers.ContextStandardization`, a data-initialised
  layer inside the model, set from the training contexts when ``fit`` starts;
* **broadcasting**: :func:`broadcast_with_data` (data ``[*batch, *event]`` against contexts
  ``[*batch', K]``) and :func:`context_rows` (one context row per base draw).

An unconditional flow (``context_size=None``) refuses any context, and a conditional one
refuses to run without one, with a message that says which shape was expected.
"""
import numpy as np
import tensorflow as tf

from tfp_flows.layers.context import ContextStandardization
from tfp_flows.validation import check_data

__all__ = ["ContextStandardization", "broadcast_with_data", "check_context", "check_layer_contexts",
           "check_context_rows", "context_rows"]


def _not_conditional(owner, shape):
    return ValueError(
        f"{owner} is not conditional (context_size=None), but got a context of shape "
        f"{shape}; build the flow with context_size=K to condition on one")


def check_context(context, context_size, dtype, owner="this flow"):
    """``context`` as a ``dtype`` tensor ``[..., context_size]`` (not standardised), or
    ``None`` for an unconditional flow; a ``ValueError`` for anything else.

    Args:
      context: what the user passed (array-like, tensor or ``None``).
      context_size: the flow's ``K``, or ``None`` for an unconditional flow.
      dtype: the flow's dtype.
      owner: the flow's name, for the messages.

    Example:
        >>> check_context([1.0, 2.0], 2, "float32").shape
        TensorShape([2])
        >>> check_context([1.0, 2.0], None, "float32")
        Traceback (most recent call last):
        ...
        ValueError: this flow is not conditional (context_size=None), but got a context of shape (2,); build the flow with context_size=K to condition on one
    """
    if context_size is None:
        if context is not None:
            raise _not_conditional(owner, tuple(np.shape(context)))
        return None
    if context is None:
        raise ValueError(f"{owner} is conditional: pass context=c with c of shape "
                         f"[n, {context_size}] (one row per data row) or [{context_size}] "
                         "(the same for all), got none")
    if isinstance(context, (str, bytes, dict)):
        raise ValueError(f"expected a numeric context of shape [..., {context_size}], got "
                         f"{type(context).__name__}")
    if not tf.is_tensor(context):
        context = np.asarray(context)
        if context.dtype == object or context.dtype.kind not in "iuf":
            raise ValueError(f"expected a numeric context, got dtype {context.dtype}")
    context = tf.cast(context, dtype)
    if context.shape.rank == 0 or (context.shape.rank is not None and
                                   context.shape[-1] not in (None, context_size)):
        raise ValueError(f"{owner} takes a context of shape [..., {context_size}], got "
                         f"{tuple(context.shape)}")
    if tf.executing_eagerly() and not bool(tf.reduce_all(tf.math.is_finite(context))):
        raise ValueError(f"the context has a NaN or infinite value (in {context.dtype.name}); "
                         "a density given a NaN context is NaN")
    return context


def check_context_rows(context, context_size, n, dtype, what="context"):
    """Contexts for ``n`` rows of data given to ``fit``: a NumPy array ``[n, context_size]``,
    finite in ``dtype``; ``None`` for an unconditional flow.

    Args:
      context: what the user passed (array-like or ``None``).
      context_size: the flow's ``K``, or ``None``.
      n: the number of data rows.
      dtype: the flow's dtype.
      what: the argument's name, for the messages.

    Example:
        >>> check_context_rows([[1.0], [2.0]], 1, 2, "float32").shape
        (2, 1)
    """
    if context_size is None:
        if context is not None:
            raise _not_conditional("this flow", tuple(np.shape(context)))
        return None
    if context is None:
        raise ValueError(f"this flow is conditional: fit needs a {what} of shape "
                         f"[n, {context_size}], one row per data row; got none")
    context = check_data(context, (context_size,), what, dtype=dtype)
    if len(context) != n:
        raise ValueError(f"expected one {what} row per data row: {n} rows of data, "
                         f"{len(context)} of {what}")
    return context


def broadcast_with_data(x, context, event_ndims, context_size):
    """Data ``x`` (``[*batch_x, *event]``) and a checked context (``[*batch_c, K]``)
    broadcast to one batch shape, when both shapes are known statically (otherwise as
    they are: the layers broadcast at run time).

    Example:
        >>> import tensorflow as tf
        >>> x, c = broadcast_with_data(tf.zeros([4, 2]), tf.zeros([3]), 1, 3)
        >>> x.shape, c.shape
        (TensorShape([4, 2]), TensorShape([4, 3]))
    """
    rank = len(x.shape)
    event_shape = tf.TensorShape(x.shape[rank - event_ndims:])
    batch_x, batch_c = tf.TensorShape(x.shape[:rank - event_ndims]), context.shape[:-1]
    if not (batch_x.is_fully_defined() and batch_c.is_fully_defined()):
        return x, context
    try:
        batch = tf.broadcast_static_shape(batch_x, batch_c)
    except ValueError:
        raise ValueError(
            f"data of shape {tuple(x.shape)} (batch {tuple(batch_x)}) and a context of shape "
            f"{tuple(context.shape)} (batch {tuple(batch_c)}) do not broadcast: give one "
            f"context row per data row, or one row [{context_size}] for all") from None
    if batch != batch_x:
        x = tf.broadcast_to(x, batch.concatenate(event_shape))
    if batch != batch_c:
        context = tf.broadcast_to(context, batch.concatenate([context_size]))
    return x, context


def context_rows(context, n, context_size):
    """A (standardised) context ``[..., K]`` as ``n`` rows ``[n, K]``: one per base draw or
    data row (a single row ``[K]`` is repeated)."""
    context = tf.reshape(context, [-1, context_size])
    return tf.broadcast_to(context, tf.stack([n, context_size]))


def check_layer_contexts(layers, context_size):
    """Refuses a flow whose conditional layers (those with a ``context_size``) do not all
    take the flow's ``context_size`` (or that has conditional layers but no context).

    Example:
        >>> from tfp_flows.layers import CouplingLayer
        >>> check_layer_contexts([CouplingLayer((2,), context_size=3)], None)
        Traceback (most recent call last):
        ...
        ValueError: flow_layers include conditional layers (context_size [3]): pass context_size to FlowModel
    """
    sizes = {layer.context_size for layer in layers} - {None}
    if context_size is None and sizes:
        raise ValueError(f"flow_layers include conditional layers (context_size "
                         f"{sorted(sizes)}): pass context_size to FlowModel")
    if context_size is not None and sizes != {context_size}:
        raise ValueError(
            f"FlowModel(context_size={context_size}) needs conditional layers that take a "
            f"context of that width; the layers take {sorted(sizes) or 'none'}")
