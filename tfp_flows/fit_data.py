"""What :meth:`FlowModel.fit <tfp_flows.FlowModel.fit>` does with its data before Keras sees
it: checks (shape, finite values in the model's dtype, pixel ranges), ``tf.data`` pipelines
(integer images dequantised afresh every epoch), the validation split, sample weights, and the
rows that data-dependent initialisation sees."""
import numpy as np
import tensorflow as tf

from tfp_flows.validation import check_data, check_positive_int, check_sample_weight

__all__ = ["INIT_IMAGES", "INIT_ROWS", "as_dataset", "check_context_rows", "dequantized_dataset",
           "prepare_fit_data", "split_rows"]

#: Rows of the training data that data-dependent initialisation sees (ActNorm, standardise).
INIT_ROWS = 4096
#: Images that data-dependent initialisation sees (a batch this size goes through every
#: convolution of an image flow at once).
INIT_IMAGES = 512


def as_dataset(x, batch_size, shuffle, weight=None, context=None):
    """Rows ``x`` (and optional per-row weights and contexts) as batches; shuffled each epoch
    if asked, cached otherwise. Elements follow Keras's ``(x, y, sample_weight)`` form with the
    context in ``y``'s place (a flow has no targets; unconditional flows get an empty ``y``
    when there are weights)."""
    if context is not None:
        parts = (x, context) if weight is None else (x, context, weight.astype(x.dtype))
        data = tf.data.Dataset.from_tensor_slices(parts)
    elif weight is None:
        data = tf.data.Dataset.from_tensor_slices(x)
    else:
        empty = np.zeros((len(x), 0), x.dtype)
        data = tf.data.Dataset.from_tensor_slices((x, empty, weight.astype(x.dtype)))
    if shuffle:
        data = data.shuffle(len(x), reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    return data.prefetch(tf.data.AUTOTUNE) if shuffle else data.cache()


def dequantized_dataset(images, num_levels, batch_size=64, shuffle=True, seed=None,
                        context=None):
    r"""Batches of dequantised images :math:`x + u`, :math:`u \sim U[0, 1)^D`, with fresh noise
    (and a fresh order, with ``shuffle``) every time the dataset is iterated, i.e. every epoch
    of ``Model.fit``.

    A flow fitted to one fixed draw of ``u`` can learn that draw; fresh noise each epoch makes
    it fit the density of dequantised pixels, whose ``-log p(x + u) / (D ln 2)`` is the
    bits/dim bound (:func:`tfp_flows.training.bits_per_dim`).

    Args:
      images: integer images ``[n, H, W, C]`` (or ``[n, H, W]``) in ``[0, num_levels)``,
        checked by :func:`~tfp_flows.datasets.check_images`.
      num_levels: ``K``, the number of pixel levels.
      batch_size: images per batch (a positive integer).
      shuffle: reshuffle the images each epoch.
      seed: ``None`` or an int for the shuffle order and the noise.
      context: ``None``, or one context row per image (``[n, K]``, e.g. one-hot labels) for
        a conditional flow: the elements are then pairs ``(x + u, context)``.

    Returns:
      A ``tf.data.Dataset`` of float32 batches ``[b, H, W, C]`` with values in ``[0, K)``
      (or pairs of such a batch and its contexts).

    Example:
        >>> import numpy as np
        >>> data = dequantized_dataset(np.zeros((10, 2, 2), "uint8"), num_levels=4,
        ...                            batch_size=5)
        >>> batch = next(iter(data))
        >>> batch.shape, bool((batch.numpy() >= 0).all() and (batch.numpy() < 1).all())
        (TensorShape([5, 2, 2, 1]), True)
    """
    from tfp_flows.datasets import check_images

    x = check_images(images, num_levels=num_levels)
    batch_size = check_positive_int(batch_size, "batch_size")
    if seed is not None:
        seed = check_positive_int(seed, "seed", minimum=0)
    if context is not None:
        context = np.asarray(context)
        if context.ndim != 2 or len(context) != len(x):
            raise ValueError(f"expected one context row per image, shape [{len(x)}, K], got "
                             f"{context.shape}")
    data = tf.data.Dataset.from_tensor_slices(x if context is None else (x, context))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ceiling = np.float32(np.nextafter(np.float32(1.0), np.float32(0.0)))
    # A generator whose state advances across passes: op-level random ops would repeat the
    # same noise every epoch once a global seed is set (keras.utils.set_random_seed).
    generator = (tf.random.Generator.from_non_deterministic_state() if seed is None
                 else tf.random.Generator.from_seed(seed))

    def add_noise(batch, context=None):
        u = generator.uniform(tf.shape(batch), maxval=ceiling)
        noisy = tf.cast(batch, tf.float32) + u
        return noisy if context is None else (noisy, context)

    return data.batch(batch_size).map(add_noise).prefetch(tf.data.AUTOTUNE)


def _check_split(validation_split):
    if not 0.0 <= float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    return float(validation_split)


def split_rows(arrays, validation_split):
    """``(train, held_out)`` lists: the last ``validation_split`` of the rows of every array
    (``None`` entries stay ``None``), as Keras splits."""
    n = len(arrays[0])
    n_val = int(n * _check_split(validation_split))
    train = [a if a is None else a[: n - n_val] for a in arrays]
    held = [a if a is None else a[n - n_val:] for a in arrays] if n_val else None
    return train, held


def _integer_images(x, context, event_shape, num_levels, validation_data, validation_split,
                    batch_size, shuffle):
    from tfp_flows.datasets import check_images, dequantize

    x = check_images(x, num_levels, "fit's images")
    if x.shape[1:] != tuple(event_shape):
        raise ValueError(f"expected images of shape [n, {', '.join(map(str, event_shape))}], "
                         f"got {x.shape}")
    (x, context), held = split_rows([x, context], validation_split)
    if held is not None:
        validation_data = held[0] if context is None else tuple(held)
    if validation_data is not None and not isinstance(validation_data, tf.data.Dataset):
        if context is None and not isinstance(validation_data, tuple):
            validation_data = dequantized_dataset(validation_data, num_levels, batch_size,
                                                  shuffle=False)
        elif context is not None:
            images, val_context = validation_data
            validation_data = dequantized_dataset(images, num_levels, batch_size, shuffle=False,
                                                  context=val_context)
    first = dequantize(x[:max(batch_size, INIT_IMAGES)], seed=0, num_levels=num_levels)
    if context is not None:
        first = (first, context[:len(first)])
    data = dequantized_dataset(x, num_levels, batch_size, shuffle=shuffle, context=context)
    return data, validation_data, first


def _check_pixel_range(x, num_levels, what):
    """Float data of an image flow must be dequantised pixels in ``[0, K]``."""
    low, high = float(np.min(x)), float(np.max(x))
    if low < 0 or high > num_levels:
        raise ValueError(f"{what}: an image flow takes dequantised pixels in [0, {num_levels}) "
                         f"(or integer pixels, which fit dequantises); got values from {low:g} "
                         f"to {high:g}")


def check_context_rows(context, context_size, n, dtype, what="context"):
    """Contexts for ``n`` rows: ``[n, context_size]``, finite in ``dtype``."""
    if context_size is None:
        if context is not None:
            raise ValueError("this flow is not conditional (context_size=None), but fit got a "
                             "context; build it with context_size=K to condition on one")
        return None
    if context is None:
        raise ValueError(f"this flow is conditional: fit needs a {what} of shape "
                         f"[n, {context_size}], one row per data row; got none")
    context = check_data(context, (context_size,), what, dtype=dtype)
    if len(context) != n:
        raise ValueError(f"expected one {what} row per data row: {n} rows of data, "
                         f"{len(context)} of {what}")
    return context


def _conditional_validation(validation_data, event_shape, context_size, dtype, batch_size,
                            num_levels):
    """A conditional flow's ``validation_data``: a dataset, or an ``(x, context)`` pair."""
    if validation_data is None or isinstance(validation_data, tf.data.Dataset):
        return validation_data
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("a conditional flow's validation_data is a pair (x, context) or a "
                         f"tf.data.Dataset, got {type(validation_data).__name__}")
    x, context = validation_data
    x = check_data(x, event_shape, "validation data", dtype=dtype)
    if num_levels is not None:
        _check_pixel_range(x, num_levels, "validation data")
    context = check_context_rows(context, context_size, len(x), dtype, "validation context")
    return as_dataset(x, batch_size, shuffle=False, context=context)


def _first_rows(first, conditional):
    """The first element of a dataset as ``x`` or ``(x, context)`` rows."""
    if not isinstance(first, (tuple, list)):
        if conditional:
            raise ValueError("this flow is conditional: its tf.data.Dataset must yield pairs "
                             "(x, context) (or (x, context, sample_weight)), got single "
                             "tensors")
        return first
    if conditional:
        return first[0], first[1]
    return first[0]


def _dataset_rows(data, conditional, event_ndims, max_rows):
    """The rows of a dataset's first batches, up to ``max_rows`` (at least one batch), as
    ``x`` or ``(x, context)``: what data-dependent initialisation sees."""
    xs, contexts, count = [], [], 0
    for element in data:
        rows = _first_rows(element, conditional)
        xs.append(rows[0] if conditional else rows)
        if conditional:
            contexts.append(rows[1])
        if len(xs[-1].shape) != event_ndims + 1:   # not batched: Keras will say so
            break
        count += int(xs[-1].shape[0])
        if count >= max_rows:
            break
    x = xs[0] if len(xs) == 1 else tf.concat(xs, axis=0)[:max_rows]
    if not conditional:
        return x
    return x, (contexts[0] if len(contexts) == 1 else tf.concat(contexts, axis=0)[:max_rows])


def prepare_fit_data(x, *, event_shape, dtype, num_levels=None, batch_size=None,
                     validation_split=0.0, validation_data=None, shuffle=True,
                     sample_weight=None, context=None, context_size=None, init_rows=None):
    """Checks ``fit``'s data and turns it into what Keras's ``fit`` gets.

    Args:
      x: rows ``[n, *event_shape]`` (array-like), integer images for a model with
        ``num_levels``, or a ``tf.data.Dataset`` (of ``(x, context)`` pairs for a conditional
        model).
      event_shape, dtype, num_levels, context_size: the model's.
      batch_size, validation_split, validation_data, shuffle, sample_weight, context: as
        given to ``fit``.
      init_rows: how many rows of a ``tf.data.Dataset`` to gather for data-dependent
        initialisation (whole batches from the start, at least one; ``0``: none, when the
        model needs none). Default :data:`INIT_ROWS` for vectors, :data:`INIT_IMAGES` for
        images. Arrays give their first ``max(batch_size, INIT_ROWS)`` training rows.

    Returns:
      ``(fit_kwargs, first)``: the keyword arguments for ``keras.Model.fit`` (``x``,
      ``batch_size``, ``validation_split``, ``validation_data``, ``shuffle``,
      ``sample_weight``) and the rows data-dependent initialisation sees (``None``, rows, or
      ``(rows, contexts)`` for a conditional model). Batches carry the context in Keras's
      ``y`` slot: ``(x, context)`` or ``(x, context, sample_weight)``.
    """
    if x is None:
        raise ValueError("FlowModel.fit needs data x of shape "
                         f"[n, {', '.join(map(str, event_shape))}], got None")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    conditional = context_size is not None
    eval_batch_size = batch_size or 32
    first = None
    if isinstance(x, tf.data.Dataset):
        if sample_weight is not None:
            raise ValueError("sample_weight cannot be given with a tf.data.Dataset: "
                             "yield (x, y, weight) elements instead (y may be empty)")
        if context is not None:
            raise ValueError("with a tf.data.Dataset the contexts come from the dataset: "
                             "yield (x, context) pairs, and pass no context to fit")
        if init_rows is None:
            init_rows = INIT_IMAGES if len(event_shape) == 3 else INIT_ROWS
        first = _dataset_rows(x, conditional, len(event_shape), init_rows) if init_rows \
            else None
        shuffle = False  # a dataset shuffles itself; Keras would warn that it ignores this
    elif num_levels is not None and not tf.is_tensor(x) and np.asarray(x).dtype.kind in "iub":
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with integer images")
        context = check_context_rows(context, context_size, len(np.asarray(x)), dtype)
        x, validation_data, first = _integer_images(
            x, context, event_shape, num_levels, validation_data, validation_split,
            eval_batch_size, bool(shuffle))
        validation_split, shuffle, batch_size = 0.0, False, None
    else:
        x = check_data(x, event_shape, dtype=dtype)
        if num_levels is not None:
            _check_pixel_range(x, num_levels, "fit's data")
        context = check_context_rows(context, context_size, len(x), dtype)
        weight = None if sample_weight is None else check_sample_weight(sample_weight, len(x))
        batch_size = eval_batch_size
        (x, context, weight), held = split_rows([x, context, weight], validation_split)
        if held is not None:
            val_x, val_context, val_weight = held
            if val_weight is None and context is None:
                validation_data = val_x
            else:
                validation_data = as_dataset(val_x, eval_batch_size, False, val_weight,
                                             val_context)
        first = x[:max(batch_size, INIT_ROWS)]
        if conditional:
            first = (first, context[:len(first)])
        x = as_dataset(x, batch_size, bool(shuffle), weight, context)
        validation_split, shuffle, batch_size, sample_weight = 0.0, False, None, None
    if conditional:
        validation_data = _conditional_validation(validation_data, event_shape, context_size,
                                                  dtype, eval_batch_size, num_levels)
    elif validation_data is not None and not isinstance(validation_data,
                                                       (tf.data.Dataset, tuple)):
        validation_data = check_data(validation_data, event_shape, "validation data", dtype=dtype)
        validation_data = as_dataset(validation_data, eval_batch_size, shuffle=False)
    return dict(x=x, batch_size=batch_size, validation_split=validation_split,
                validation_data=validation_data, shuffle=shuffle,
                sample_weight=sample_weight), first
