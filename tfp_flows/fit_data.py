"""The one adapter between what users give :meth:`FlowModel.fit <tfp_flows.FlowModel.fit>`
and what Keras's ``fit`` gets.

:func:`adapt_fit_data` turns ``(x, context, sample_weight, validation)`` into one training
``tf.data`` pipeline, one validation pipeline and the rows that data-dependent
initialisation sees. Every check on the data happens here, once, before any work: shapes,
finite values in the model's dtype, pixels (integer images, or dequantised floats in
``[0, K)``), degenerate columns, contexts, weights. Dequantisation of integer images and
Gaussian input noise are steps on the training pipeline (fresh noise every epoch).
"""
import dataclasses
import types
import warnings

import numpy as np
import tensorflow as tf

from tfp_flows.contexts import check_context_rows
from tfp_flows.data_pipeline import (  # noqa: F401 (dequantized_dataset: public here too)
    dequantize_step,
    dequantized_dataset,
    gaussian_step,
    noise_generator,
    pipeline,
)
from tfp_flows.validation import (
    check_data,
    check_fraction,
    check_positive_int,
    check_sample_weight,
)

__all__ = ["FitData", "INIT_IMAGES", "INIT_ROWS", "adapt_fit_data", "check_input_noise",
           "as_dataset", "check_spread", "check_split", "prepare_fit_data",
           "dequantized_dataset", "split_rows"]

#: Rows of the training data that data-dependent initialisation sees (ActNorm, standardise).
INIT_ROWS = 4096
#: Images that data-dependent initialisation sees (a batch this size goes through every
#: convolution of an image flow at once).
INIT_IMAGES = 512


@dataclasses.dataclass
class FitData:
    """What :func:`adapt_fit_data` gives ``fit``: ``train`` and ``validation`` pipelines
    (``validation`` may be ``None``) whose elements are ``x``, ``(x, context)`` or
    ``(x, context, weight)`` (an empty ``[b, 0]`` context for an unconditional flow with
    weights), and ``init``, the ``(x, context)`` rows for data-dependent initialisation
    (``context`` is ``None`` for an unconditional flow)."""
    train: tf.data.Dataset
    validation: object
    init: tuple


def check_split(validation_split):
    """``validation_split`` as a float in ``[0, 1)``, or a ``ValueError``.

    Example:
        >>> check_split(0.1)
        0.1
    """
    return check_fraction(validation_split, "validation_split", low_open=False)


def split_rows(arrays, validation_split, shuffle_seed=None):
    """``(train, held_out)`` lists: the last ``validation_split`` of the rows of every array
    (``None`` entries stay ``None``), as Keras splits; ``held_out`` is ``None`` when no row
    is held out. With ``shuffle_seed`` (anything :func:`numpy.random.default_rng` takes),
    the rows of all arrays are first shuffled together, for ordered data.

    Example:
        >>> train, held = split_rows([np.arange(10), None], 0.2)
        >>> train[0].tolist(), held[0].tolist(), held[1]
        ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9], None)
    """
    n = len(arrays[0])
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(n)
        arrays = [a if a is None else a[order] for a in arrays]
    n_val = int(n * check_split(validation_split))
    train = [a if a is None else a[: n - n_val] for a in arrays]
    held = [a if a is None else a[n - n_val:] for a in arrays] if n_val else None
    return train, held


def check_input_noise(input_noise):
    """``input_noise`` as ``None`` (no noise) or a float ``> 0``; ``0`` means none.

    Example:
        >>> check_input_noise(0.03), check_input_noise(0)
        (0.03, None)
    """
    if input_noise is None:
        return None
    if isinstance(input_noise, bool) or not isinstance(input_noise, (int, float, np.number)) \
            or not 0 <= float(input_noise) < np.inf:
        raise ValueError(f"input_noise must be None or a finite number >= 0 (a fraction of "
                         f"each dimension's standard deviation), got {input_noise!r}")
    return float(input_noise) or None


def _elements(x, context, weight):
    """The parts of one element: ``(x,)``, ``(x, context)`` or ``(x, context, weight)``."""
    if weight is None:
        return (x,) if context is None else (x, context)
    if context is None:
        context = np.zeros((len(x), 0), x.dtype)
    return x, context, weight.astype(x.dtype)


# ---------------------------------------------------------------- checks of array data
def _float_pixels(x, num_levels, what):
    """Float data for an image flow: dequantised pixels ``x + u`` in ``[0, K)``. Refuses
    integer pixels stored as floats and pixels scaled to ``[0, 1]``, naming the fix."""
    from tfp_flows.datasets import check_pixels

    return check_pixels(x, num_levels, what)


def _check_rows(model, x, what):
    """Array data for ``model``: ``(rows, integer_images)``; vectors and float images are
    cast to the model's dtype and must be finite there."""
    if model.num_levels is not None:
        kind = np.asarray(x).dtype.kind if not tf.is_tensor(x) else (
            "i" if x.dtype.is_integer else "f")
        if kind in "iub":
            from tfp_flows.datasets import check_images

            images = check_images(np.asarray(x), model.num_levels, what)
            if images.shape[1:] != tuple(model.event_shape):
                raise ValueError(f"expected {what} of shape [n, "
                                 f"{', '.join(map(str, model.event_shape))}], got "
                                 f"{images.shape}")
            return images, True
    x = check_data(x, tuple(model.event_shape), what, dtype=model.flow_dtype)
    if model.num_levels is not None:
        _float_pixels(x, model.num_levels, what)
    return x, False


def check_spread(x, what="data"):
    """Refuses vector data that has no density to fit, before training: a column that does
    not vary is a point mass (the loss would fall without bound), and statistics that
    overflow the data's dtype would standardise every row to ``0`` or ``inf``. Warns when
    fewer than half of the rows are distinct (repeated points pull the density into spikes).

    Args:
      x: rows ``[n, D]`` (already checked finite).
      what: the data's name, for the messages.

    Example:
        >>> check_spread(np.array([[0.0, 1.0], [1.0, 1.0]]))
        Traceback (most recent call last):
        ...
        ValueError: data: column 1 is constant (every row is 1): a point mass has no density to fit; drop the column, or fit the other columns and treat it apart
    """
    flat = np.asarray(x).reshape(len(x), -1)
    if len(flat) < 2:
        return
    constant = np.flatnonzero(np.all(flat == flat[:1], axis=0))
    if constant.size:
        j = int(constant[0])
        more = f" (and {constant.size - 1} more column(s))" if constant.size > 1 else ""
        raise ValueError(
            f"{what}: column {j}{more} is constant (every row is {flat[0, j]:g}): a point "
            "mass has no density to fit; drop the column, or fit the other columns and "
            "treat it apart")
    wide = np.float64(np.finfo(flat.dtype).max) if flat.dtype.kind == "f" else np.inf
    magnitude = np.abs(flat).max(axis=0).astype(np.float64)
    spread = (flat / magnitude).astype(np.float64).std(axis=0) * magnitude
    for j in np.flatnonzero(~(spread < np.sqrt(wide))):
        row = int(np.argmax(np.abs(flat[:, j])))
        raise ValueError(
            f"{what}: column {j} spreads too far for {flat.dtype} (standard deviation "
            f"{spread[j]:.3g}, row {row} holds {flat[row, j]:.3g}): its square overflows, so "
            "no standardisation can hold it; rescale the column or drop the outlying rows")
    distinct = len(np.unique(flat, axis=0))
    if distinct < len(flat) / 2:
        warnings.warn(
            f"{what}: only {distinct} distinct rows among {len(flat)}: a density fitted to "
            "repeated points grows spikes on them without bound (for discrete data, "
            "dequantise: add uniform noise to the integers)", RuntimeWarning, stacklevel=3)


def _validation_arrays(model, validation_data):
    """A ``validation_data`` that is not a dataset: ``(x, context)`` rows, checked."""
    conditional = model.context_size is not None
    if isinstance(validation_data, (tuple, list)):
        parts = list(validation_data) + [None] * (2 - len(validation_data))
        if len(validation_data) not in (1, 2) or (not conditional and parts[1] is not None):
            pair = "(x, context)" if conditional else "x alone (a flow has no targets)"
            raise ValueError(f"validation_data must be {pair} or a tf.data.Dataset, got a "
                             f"{len(validation_data)}-tuple")
        x, context = parts
    elif conditional:
        raise ValueError("a conditional flow's validation_data is a pair (x, context) or a "
                         f"tf.data.Dataset, got {type(validation_data).__name__}")
    else:
        x, context = validation_data, None
    x, integer = _check_rows(model, x, "validation data")
    context = check_context_rows(context, model.context_size, len(x), model.flow_dtype,
                                 "validation context")
    return x, context, integer


# ---------------------------------------------------------------- tf.data input
def _check_element_spec(model, data):
    """A user's dataset yields ``x``, ``(x,)``, ``(x, context[, weight])`` for a conditional
    flow, or ``(x, y, weight)`` with an empty ``y`` for weights alone; anything else
    (a context given to an unconditional flow, targets) is refused before training."""
    spec = data.element_spec
    parts = spec if isinstance(spec, tuple) else (spec,)
    if model.context_size is None:
        extra = parts[1] if len(parts) > 1 else None
        if extra is not None and (not hasattr(extra, "shape") or
                                  extra.shape.rank is None or extra.shape[-1] != 0):
            raise ValueError(
                f"this flow is not conditional (context_size=None), but its tf.data.Dataset "
                f"yields {len(parts)}-tuples whose second part has shape "
                f"{getattr(extra, 'shape', extra)}: a flow has no targets; yield x alone "
                "(or (x, y, weight) with an empty y of shape [b, 0]), or build the flow with "
                "context_size=K to condition on a context")
        return
    context = parts[1] if len(parts) > 1 else None
    if context is None or getattr(context, "shape", None) is None:
        raise ValueError("this flow is conditional: its tf.data.Dataset must yield pairs "
                         "(x, context) (or (x, context, sample_weight)), got single tensors")
    if context.shape.rank is not None and context.shape[-1] not in (None,
                                                                     model.context_size):
        raise ValueError(f"this flow takes contexts of shape [b, {model.context_size}], but "
                         f"its dataset yields contexts of shape {context.shape}")


def _dataset_rows(model, data, max_rows):
    """``(x, context)``: the rows of a dataset's first batches, up to ``max_rows`` (at least
    one batch), for data-dependent initialisation."""
    xs, contexts, count = [], [], 0
    for element in data:
        parts = element if isinstance(element, (tuple, list)) else (element,)
        xs.append(parts[0])
        if model.context_size is not None:
            contexts.append(parts[1])
        if len(parts[0].shape) != len(model.event_shape) + 1:   # not batched: Keras says so
            break
        count += int(parts[0].shape[0])
        if count >= max_rows:
            break
    x = tf.concat(xs, axis=0)[:max_rows].numpy()
    context = tf.concat(contexts, axis=0)[:max_rows].numpy() if contexts else None
    return x, context


def _from_dataset(model, data, context, sample_weight, validation_split, init_rows):
    if sample_weight is not None:
        raise ValueError("sample_weight cannot be given with a tf.data.Dataset: yield "
                         "(x, y, weight) elements instead (y may be empty, shape [b, 0])")
    if context is not None:
        raise ValueError("with a tf.data.Dataset the contexts come from the dataset: yield "
                         "(x, context) pairs, and pass no context to fit")
    if validation_split:
        raise ValueError("validation_split needs array data (Keras cannot split a "
                         "tf.data.Dataset): pass validation_data instead")
    _check_element_spec(model, data)
    if not init_rows:
        return None, None
    x, context = _dataset_rows(model, data, init_rows)
    if model.num_levels is not None and np.isfinite(x).all():
        _float_pixels(x, model.num_levels, "the dataset's images")
    return x, context   # initialize_from_data says which row is not finite


# ---------------------------------------------------------------- the adapter
def adapt_fit_data(model, x, *, context=None, sample_weight=None, batch_size=None,
                   validation_split=0.0, validation_data=None, shuffle=True,
                   input_noise=None, init_rows=None):
    """Checks ``fit``'s data and turns it into :class:`FitData` (see the module docstring).

    Args:
      model: the :class:`~tfp_flows.FlowModel` (its ``event_shape``, ``flow_dtype``,
        ``num_levels`` and ``context_size`` say what it takes).
      x: rows ``[n, *event_shape]`` (array-like or tensor), integer images for an image
        flow (dequantised afresh every epoch) or dequantised float pixels in ``[0, K)``, or a
        ``tf.data.Dataset`` of batches (of ``(x, context)`` pairs for a conditional flow).
      context, sample_weight, batch_size, validation_split, validation_data, shuffle: as
        given to :meth:`FlowModel.fit <tfp_flows.FlowModel.fit>`.
      input_noise: ``None``, or ``s >= 0``: every training batch gets fresh
        ``N(0, (s std_d)^2)`` noise on each dimension ``d`` (``std_d`` over the rows that
        initialisation sees); validation and initialisation see clean rows.
      init_rows: how many rows data-dependent initialisation sees: ``None`` (default)
        :data:`INIT_ROWS` (vectors) or :data:`INIT_IMAGES` (images), the first training
        rows (of a dataset, its first batches, at least one); ``0``: none (a model that
        needs no initialisation; a dataset is then not read ahead of Keras).

    Returns:
      :class:`FitData` (``init`` is ``(None, None)`` with ``init_rows=0``).

    Example:
        >>> import tfp_flows
        >>> flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,))
        >>> rows = np.random.default_rng(0).normal(size=(10, 2))
        >>> data = adapt_fit_data(flow, rows, batch_size=4, validation_split=0.2)
        >>> [b.shape[0] for b in data.train], data.init[0].shape
        ([4, 4], (8, 2))
    """
    if x is None:
        raise ValueError(f"fit needs data x of shape "
                         f"[n, {', '.join(map(str, model.event_shape))}], got None")
    batch_size = 32 if batch_size is None else check_positive_int(batch_size, "batch_size")
    validation_split = check_split(validation_split)
    input_noise = check_input_noise(input_noise)
    images = model.num_levels is not None
    if input_noise is not None and images:
        raise ValueError("input_noise is for vector flows: an image flow's training images "
                         "are dequantised with fresh uniform noise already")
    if init_rows is None:
        init_rows = INIT_IMAGES if images else INIT_ROWS
    init_rows = check_positive_int(init_rows, "init_rows", minimum=0)
    if input_noise and not init_rows:   # the noise is scaled by the first rows' spread
        init_rows = INIT_IMAGES if images else INIT_ROWS
    step = None
    if isinstance(x, tf.data.Dataset):
        init_x, init_context = _from_dataset(model, x, context, sample_weight,
                                             validation_split, init_rows)
        train, validation = x, _validation(model, validation_data, batch_size)
    else:
        x, integer = _check_rows(model, x, "fit's images" if images else "data")
        context = check_context_rows(context, model.context_size, len(x), model.flow_dtype)
        weight = None if sample_weight is None else check_sample_weight(sample_weight, len(x))
        if validation_data is not None:   # Keras's rule: it takes precedence over a split
            validation_split = 0.0
        (x, context, weight), held = split_rows([x, context, weight], validation_split)
        if len(x) == 0:
            raise ValueError(f"validation_split={validation_split} leaves no training rows "
                             f"of {len(held[0])}")
        if not images:
            check_spread(x, "data")
        init_x = x[:max(init_rows, 1)]   # input noise is scaled by their spread
        init_context = None if context is None else context[:init_rows]
        if integer:
            from tfp_flows.datasets import dequantize

            init_x = dequantize(init_x, seed=0, num_levels=model.num_levels)
            step = dequantize_step(noise_generator(None))
        train = _elements(x, context, weight)
        if held is not None:
            validation = pipeline(_elements(*held), batch_size, False, step)
        else:
            validation = _validation(model, validation_data, batch_size)
    if input_noise:
        step = gaussian_step(noise_generator(None),
                              input_noise * np.asarray(init_x, np.float64).std(axis=0))
    if not isinstance(train, tf.data.Dataset):
        train = pipeline(train, batch_size, bool(shuffle), step)
    elif step is not None:
        train = train.map(step)
    return FitData(train, validation, (init_x, init_context))


def _validation(model, validation_data, batch_size):
    """``validation_data`` (held-out rows as a tuple of parts, user arrays or a dataset) as
    a pipeline; integer images are dequantised afresh each time."""
    if validation_data is None or isinstance(validation_data, tf.data.Dataset):
        return validation_data
    x, context, integer = _validation_arrays(model, validation_data)
    parts = _elements(x, context, None)
    step = dequantize_step(noise_generator(None)) if integer else None
    return pipeline(parts, batch_size, False, step)


def prepare_fit_data(x, *, event_shape, dtype, num_levels=None, batch_size=None,
                     validation_split=0.0, validation_data=None, shuffle=True,
                     sample_weight=None, context=None, context_size=None, init_rows=None):
    """Deprecated: use :func:`adapt_fit_data` (which takes the model). Returns the old
    ``(fit_kwargs, first)`` pair: Keras ``fit`` arguments and the initialisation rows."""
    warnings.warn("prepare_fit_data is deprecated and will be removed: use "
                  "tfp_flows.fit_data.adapt_fit_data(model, x, ...)", DeprecationWarning,
                  stacklevel=2)
    spec = types.SimpleNamespace(event_shape=tuple(event_shape), flow_dtype=dtype,
                                 num_levels=num_levels, context_size=context_size)
    data = adapt_fit_data(spec, x, context=context, sample_weight=sample_weight,
                          batch_size=batch_size, validation_split=validation_split,
                          validation_data=validation_data, shuffle=shuffle,
                          init_rows=init_rows)
    first = None if data.init[0] is None else (
        data.init[0] if context_size is None else data.init)
    return dict(x=data.train, batch_size=None, validation_split=0.0,
                validation_data=data.validation, shuffle=False, sample_weight=None), first


def as_dataset(x, batch_size, shuffle, weight=None, context=None):
    """Deprecated: rows as ``fit`` batches them (:func:`adapt_fit_data` builds the
    pipelines now)."""
    warnings.warn("as_dataset is deprecated and will be removed: use "
                  "tfp_flows.fit_data.adapt_fit_data(model, x, ...)", DeprecationWarning,
                  stacklevel=2)
    return pipeline(_elements(np.asarray(x), context, weight), batch_size, shuffle)
