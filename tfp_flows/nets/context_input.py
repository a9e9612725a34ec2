"""How a dense conditioner (MADE, coupling MLP) takes its optional context input: one check
that it came when expected, and one broadcast of data and context rows to a flat batch."""
import tensorflow as tf

__all__ = ["batch_output_shape", "check_context_given", "flat_rows", "unflatten"]


def check_context_given(net, context, context_size):
    """Refuses a context to a network built without one, and a missing one to a network
    built with one (``context_size``)."""
    name = type(net).__name__
    if context is None and context_size is not None:
        raise ValueError(f"This {name} was built with a `context` input of size "
                         f"{context_size}; pass `context=`.")
    if context is not None and context_size is None:
        raise ValueError(f"This {name} was built without a `context` input; got one. Set "
                         "`context_size` to use one.")


def flat_rows(x, context, x_size, context_size):
    """``x`` (``[*batch_x, x_size]``) and ``context`` (``[*batch_c, context_size]`` or
    ``None``) as rows ``[N, x_size]`` and ``[N, context_size]`` over their broadcast batch
    shape, and that batch shape (``None`` when ``x`` came as rows already, so the output
    stays ``[N, ...]``).

    Example:
        >>> x, c, batch = flat_rows(tf.zeros([2, 3, 4]), tf.zeros([3, 1]), 4, 1)
        >>> x.shape, c.shape, batch.numpy().tolist()
        (TensorShape([6, 4]), TensorShape([6, 1]), [2, 3])
    """
    if context is None:
        if x.shape.rank == 2:
            return x, None, None
        return tf.reshape(x, [-1, x_size]), None, tf.shape(x)[:-1]
    if x.shape.rank == 2 and context.shape.rank == 2 and x.shape[0] is not None and \
            x.shape[0] == context.shape[0]:
        return x, context, None
    batch = tf.broadcast_dynamic_shape(tf.shape(x)[:-1], tf.shape(context)[:-1])
    x = tf.reshape(tf.broadcast_to(x, tf.concat([batch, [x_size]], 0)), [-1, x_size])
    context = tf.reshape(tf.broadcast_to(context, tf.concat([batch, [context_size]], 0)),
                         [-1, context_size])
    return x, context, batch


def unflatten(h, batch, trailing):
    """Rows ``h`` (``[N, *trailing]`` values) back to ``[*batch, *trailing]`` (``[N, ...]``
    when ``batch`` is ``None``)."""
    if batch is None:
        return tf.reshape(h, [-1, *trailing])
    return tf.reshape(h, tf.concat([batch, list(trailing)], 0))


def batch_output_shape(x_shape, context_shape, trailing):
    """The static output shape ``[*batch, *trailing]`` for inputs of shapes ``x_shape`` and
    ``context_shape`` (``None`` for no context): their batch shapes broadcast (``None``
    stays unknown).

    Example:
        >>> batch_output_shape((None, 2), (1, 3), (2, 4))
        (None, 2, 4)
    """
    batch = tuple(x_shape)[:-1]
    if context_shape is not None:
        other = tuple(context_shape)[:-1]
        n = max(len(batch), len(other))
        a, b = (1,) * (n - len(batch)) + batch, (1,) * (n - len(other)) + other
        for u, v in zip(a, b):
            if u not in (1, None) and v not in (1, None) and u != v:
                raise ValueError(f"Batch shapes {a} and {b} do not broadcast.")
        batch = tuple(v if u == 1 else u if v == 1 else (u if u is not None else v)
                      for u, v in zip(a, b))
    return batch + tuple(trailing)
