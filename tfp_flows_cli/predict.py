"""``tfp-flows sample`` and ``tfp-flows log-prob``: use a model written by ``fit``.

A model written by ``fit`` holds its own standardisation (a fixed layer set from the
training rows), so the model file alone is enough: ``sample`` writes samples in the units of
the data the model was fitted to, and ``log-prob`` reads rows in those units and gives the
log-density in those units.

``log-prob`` and values that are not finite: a row far outside the data the model was
fitted to can have a density below the float32 range; its log-density is printed as
``-inf`` (a true statement: numerically zero density), a warning line on stderr counts such
rows, and the exit status stays 0. A ``nan`` log-density means the model failed on a row:
that is an error (exit status 1, nothing written).

Image models (``fit`` on digits, mnist5k or a ``.npy`` of integer images; their
``config.json`` has ``num_levels`` K) are densities over dequantised pixels ``x + u`` in
``[0, K)``:

- ``sample`` writes integer images [N, H, W, C] to ``--out FILE.npy`` (required: CSV and
  standard output are for vector models), the samples floored to ``0 .. K-1``, uint8 for
  ``K <= 256`` (uint16 up to 65536);
- ``log-prob`` reads a ``.npy`` of integer images [N, H, W] or [N, H, W, C] and gives each
  image's bits per dimension, ``-log p(x + u) / (D ln 2)`` averaged over ``--draws`` draws
  of ``u ~ U[0, 1)^D`` (default 4, noise seeded by ``--seed``, default 0; the same numbers
  as :func:`tfp_flows.training.bits_per_dim`, whose value is their mean). Float images are
  refused: scoring already dequantised inputs is ``model.log_prob`` in Python. A ``+inf``
  (zero density) gets the warning line described above, a ``nan`` is an error.

Conditional models (``fit --context-columns`` or ``--condition-on-labels``; their
``config.json`` has ``context_size`` K) take contexts from ``--context``, ``--context-file``
or ``--label`` (:mod:`tfp_flows_cli.context`); models without a context refuse them.

- ``sample`` draws N samples for each context, context by context. Vector rows hold every
  column of the data the model was fitted to, in its order and under its header, the context
  columns holding the context (the layout recorded in the ``metrics.json`` next to the
  model; without it the context columns come first, ``c1..cK``, then ``x1..xD``), so that
  ``log-prob`` reads them back; ``.npy`` output is the same table as float64. Image models
  write ``[N * contexts, H, W, C]``.
- ``log-prob`` gives ``log p(x | c)``: the data file holds the context columns too (named by
  ``--context-columns``, or recorded at fit time: found by name in the file's header, else
  by position), or holds ``x`` (found by the recorded names in its header if it has more
  columns) and the contexts come from ``--context`` (one for all rows) or
  ``--context-file`` (one per row, or one for all). Image models: ``--label L``, or
  ``--context-file`` with one integer label (or one context row) per image.

The model file, the data file, the contexts and ``--out`` are checked before TensorFlow is
imported (an image model's kind, shape and levels and a model's ``context_size`` are read
from its ``config.json``, a ``.npy`` file's dtype and shape from its header, a CSV's
columns from its first line).
"""
import sys
from pathlib import Path

import numpy as np

from tfp_flows_cli.context import (
    ContextRequest,
    Layout,
    columns_named,
    data_layout,
    given_options,
    is_label_model,
    peek_columns,
    recorded_layout,
)
from tfp_flows_cli.files import (
    CLIError,
    check_data_file,
    check_model_file,
    check_output_file,
    event_size,
    format_rows,
    load_flow_model,
    npy_bytes,
    peek_model_config,
    peek_npy,
    quiet_tensorflow_startup,
    shape_text,
    to_pixels,
    warning_line,
    write_bytes_atomically,
    write_text_atomically,
)

_CHUNK = 65536
#: Images per ``sample`` / ``log_prob`` call for image models.
_IMAGE_CHUNK = 512
DEFAULT_DRAWS = 4


def _image_model(path):
    """``(event_shape, num_levels)`` of an image model read from its config.json, or
    ``None`` for a vector model (or a file Keras will reject later)."""
    config = peek_model_config(path)
    levels, shape = config.get("num_levels"), config.get("event_shape")
    if isinstance(levels, int) and isinstance(shape, list) and len(shape) == 3:
        return tuple(int(s) for s in shape), levels
    return None


def _is_npy(path):
    return path is not None and Path(path).suffix.lower() == ".npy"


def _emit(text, out, quiet, what, overwrite):
    if out is None:
        sys.stdout.write(text)
        return
    write_text_atomically(out, text, overwrite=overwrite)
    if not quiet:
        print(f"wrote {what} to {out}")


def _draw(model, n, seed, temperature, chunk, contexts=None):
    """``n`` samples, about ``chunk`` at a time, as float64 [n, *event_shape]; with
    ``contexts`` ``[m, K]``, ``n`` for each: [m, n, *event_shape]."""
    blocks = [None] if contexts is None else [
        contexts[i:i + max(1, chunk // n)] for i in range(0, len(contexts), max(1, chunk // n))]
    out, step = [], 0
    for block in blocks:
        given = {} if block is None else {"context": block}
        chunks, left = [], n
        while left > 0:
            k = min(left, chunk)
            chunks.append(np.asarray(model.sample(k, seed=seed + step, temperature=temperature,
                                                  **given), dtype=np.float64))
            left -= k
            step += 1
        draws = np.concatenate(chunks)
        out.append(draws if block is None else np.swapaxes(draws, 0, 1))
    return np.concatenate(out)


def _context_request(args, config):
    """The contexts of a conditional model's command, checked without TensorFlow (``None``
    for a model without a context, which refuses the context options)."""
    k = config.get("context_size")
    given = given_options(args)
    if k is None:
        if given and config:
            raise CLIError(f"{given[0]} is for conditional models; {args.model} was fitted "
                           "without a context (no --context-columns or --condition-on-labels"
                           "), so it takes none")
        return None
    label_model = is_label_model(config)
    event = config.get("event_shape") or []
    recorded = None if label_model else recorded_layout(args.model, k,
                                                        int(np.prod(event)) if event else 0)
    request = ContextRequest(args, k, label_model, recorded)
    request.check()
    return request


def _missing_context(args, request):
    k = request.k
    how = (f"--context with {k} comma-separated numbers (one context) or --context-file "
           "FILE (one per row)")
    if request.label_model:
        how = f"--label L (a class, 0 to {k - 1}) or --context-file FILE (labels, one per row)"
    return CLIError(f"{args.model} is conditional, p(x | c) with a context c of {k} values "
                    f"({request.describe()}): pass {how}")


def _for_each(request, n, contexts):
    """`` (3 for each of 2 contexts)``, `` (given label 3)``, ... for ``sample``'s report."""
    if contexts is None:
        return ""
    labels = request.labels
    if labels is not None:
        if len(labels) == 1:
            return f" (given label {labels[0]})"
        return f" ({n} for each of labels {', '.join(map(str, labels))})"
    if len(contexts) == 1:
        return " (given the context)"
    return f" ({n} for each of {len(contexts)} contexts)"


def _check_loaded(model, args, request):
    """The loaded model agrees with what its config.json said (it could not be read)."""
    k = getattr(model, "context_size", None)
    if (k is None) != (request is None) or (request is not None and k != request.k):
        raise CLIError(f"{args.model}: its config.json could not be read before loading; "
                       f"the model takes {'no context' if k is None else f'contexts of {k}'}"
                       ": run the command again with the matching options")


def run_sample(args):
    """``tfp-flows sample MODEL.keras -n N [--out FILE.csv|FILE.npy] [--seed S]
    [--temperature T]``."""
    inputs = [args.model] + [f for f in [getattr(args, "context_file", None)] if f]
    check_output_file(args.out, args.overwrite, protect=inputs)
    check_model_file(args.model)
    image = _image_model(args.model)
    if image is not None and not _is_npy(args.out):
        got = "standard output" if args.out is None else f"--out {args.out}"
        raise CLIError(f"{args.model} is an image model ({shape_text(image[0])} images, "
                       f"{image[1]} levels): its samples are integer images, written with "
                       f"--out FILE.npy (CSV is for vector models), got {got}")
    request = _context_request(args, peek_model_config(args.model))
    if request is not None and not request.given:
        raise _missing_context(args, request)
    quiet_tensorflow_startup()
    model = load_flow_model(args.model)
    _check_loaded(model, args, request)
    import tensorflow as tf

    tf.random.set_seed(args.seed)
    temperature = getattr(args, "temperature", 1.0)
    contexts = None if request is None else request.load()
    n = args.num_samples
    levels = getattr(model, "num_levels", None)
    if levels is not None:
        if not _is_npy(args.out):   # a config.json the peek could not read
            raise CLIError(f"{args.model} is an image model: write its samples with --out "
                           "FILE.npy")
        samples = _draw(model, n, args.seed, temperature, _IMAGE_CHUNK, contexts)
        if not np.all(np.isfinite(samples)):
            raise CLIError(f"{args.model} produced non-finite samples; is the model diverged?")
        images = to_pixels(samples.reshape((-1,) + tuple(model.event_shape)), levels)
        write_bytes_atomically(args.out, npy_bytes(images), overwrite=args.overwrite)
        if not args.quiet:
            each = _for_each(request, n, contexts)
            print(f"wrote {len(images)} images [{', '.join(map(str, images.shape))}] "
                  f"({images.dtype.name}, pixel values 0 to {levels - 1}){each} to {args.out}")
        return 0
    width = event_size(model)
    samples = _draw(model, n, args.seed, temperature, _CHUNK, contexts)
    if not np.all(np.isfinite(samples)):
        raise CLIError(f"{args.model} produced non-finite samples; is the model diverged?")
    if contexts is None:
        rows, header = samples.reshape(n, width), [f"x{i + 1}" for i in range(width)]
        what = f"{n} samples"
    else:
        layout = request.recorded or Layout.context_first(request.k, width)
        rows, header = layout.rows(contexts, samples.reshape(len(contexts), n, width)), \
            layout.header()
        what = f"{len(rows)} samples{_for_each(request, n, contexts)}"
    if _is_npy(args.out):
        write_bytes_atomically(args.out, npy_bytes(rows), overwrite=args.overwrite)
        if not args.quiet:
            print(f"wrote {what} [{', '.join(map(str, rows.shape))}] (float64) to {args.out}")
        return 0
    _emit(format_rows(rows, header), args.out, args.quiet, what, args.overwrite)
    return 0


def _check_images_file(args, shape, levels):
    """An image model's input: a ``.npy`` of integer images of the model's shape (read from
    the header; the pixel range is checked when the file is loaded)."""
    want = f"a .npy of integer images [N, {', '.join(map(str, shape))}]"
    if shape[2] == 1:
        want += f" or [N, {shape[0]}, {shape[1]}]"
    intro = (f"{args.model} is an image model ({shape_text(shape)} images, {levels} levels) "
             f"and scores {want} with pixels in [0, {levels})")
    if not _is_npy(args.data):
        raise CLIError(f"{intro}; got {args.data}")
    peek = peek_npy(args.data)
    if peek is None:
        raise CLIError(f"{intro}; {args.data} is not a readable .npy array")
    got, dtype = peek
    if dtype.kind not in "iu":
        hint = ("; already dequantised float images are scored by model.log_prob in Python"
                if dtype.kind == "f" else "")
        raise CLIError(f"{intro}; got dtype {dtype} with shape {got}{hint}")
    if tuple(got[1:]) not in (tuple(shape), tuple(shape[:2]) if shape[2] == 1 else None):
        raise CLIError(f"{intro}; got shape {got}")


def _image_bits(model, args, levels, contexts=None):
    """Per-image bits/dim (the mean over ``--draws`` dequantisations), given ``contexts``
    (one row for all images, or one per image) for a conditional model."""
    from tfp_flows.datasets import load_images_npy
    from tfp_flows.training import bits_per_image

    try:
        images = load_images_npy(args.data, num_levels=levels)
    except (ValueError, OSError) as err:
        raise CLIError(f"{err} (the model {args.model} has {levels} pixel levels)") from None
    if images.shape[1:] != tuple(model.event_shape):
        raise CLIError(f"{args.data}: expected images [N, "
                       f"{', '.join(map(str, model.event_shape))}], got {images.shape}")
    draws = DEFAULT_DRAWS if args.draws is None else args.draws
    seed = 0 if args.seed is None else args.seed
    context = None if contexts is None else _per_row(contexts, len(images), args)
    return bits_per_image(model, images, levels, draws, seed, batch_size=_IMAGE_CHUNK,
                          context=context), draws


def _per_row(contexts, n, args):
    """One context row per data row: ``contexts`` has ``n`` rows, or one for all."""
    if len(contexts) == 1:
        return np.repeat(contexts, n, axis=0)
    if len(contexts) != n:
        raise CLIError(f"--context-file {args.context_file} has {len(contexts)} rows and "
                       f"{args.data} {n}; expected one context per row, or one for all")
    return contexts


def _log_prob_plan(args, image):
    """The context request of ``log-prob`` and, where the data file holds the contexts,
    its :class:`~tfp_flows_cli.context.Layout` (both checked without TensorFlow)."""
    config = peek_model_config(args.model)
    request = _context_request(args, config)
    if request is None:
        return None, None
    if request.label_model:
        if args.context_columns is not None:
            raise CLIError(f"--context-columns applies to vector models; {args.model} is an "
                           "image model: give the images' labels with --label L or "
                           "--context-file LABELS.npy (one label per image)")
        if request.labels is not None and len(request.labels) > 1:
            raise CLIError(f"log-prob takes one --label for all images (got "
                           f"{len(request.labels)}); give one label per image with "
                           "--context-file LABELS.npy")
        if not request.given:
            raise _missing_context(args, request)
        return request, None
    if request.given:
        return request, None
    event = int(np.prod(config.get("event_shape") or [0]))
    return request, data_layout(args, args.data, request.k, event, request.recorded)


def run_log_prob(args):
    """``tfp-flows log-prob MODEL.keras FILE [--out FILE.csv]`` (image models:
    ``[--draws N] [--seed S]``)."""
    data_path = Path(args.data)
    check_data_file(data_path)
    inputs = [args.model, args.data] + [f for f in [getattr(args, "context_file", None)] if f]
    check_output_file(args.out, args.overwrite, protect=inputs)
    check_model_file(args.model)
    image = _image_model(args.model)
    if image is not None:
        _check_images_file(args, *image)
    else:
        given = [opt for opt, value in (("--draws", getattr(args, "draws", None)),
                                        ("--seed", getattr(args, "seed", None)))
                 if value is not None]
        if given:
            raise CLIError(f"{given[0]} applies to image models (the dequantisation noise); "
                           f"{args.model} is a vector model, whose log-density needs none")
    request, layout = _log_prob_plan(args, image)
    quiet_tensorflow_startup()
    from tfp_flows.datasets import load_array

    model = load_flow_model(args.model)
    _check_loaded(model, args, request)
    contexts = request.load() if request is not None and request.given else None
    levels = getattr(model, "num_levels", None)
    if levels is not None:
        if image is None:   # a config.json the peek could not read
            _check_images_file(args, tuple(model.event_shape), levels)
        values, draws = _image_bits(model, args, levels, contexts)
        _check_finite(values, args, what="bits/dim", bad="inf")
        header = ["bits_per_dim"] if args.out is not None else None
        _emit(format_rows(values, header), args.out, args.quiet,
              f"bits/dim of {len(values)} images ({draws} dequantisation draws each)",
              args.overwrite)
        return 0
    width = event_size(model)
    in_file = request is not None and contexts is None   # the file holds the contexts
    expected = (layout.width if layout is not None else None) if in_file else width
    x_named = None   # x found by the recorded names in a file that holds more columns
    if contexts is not None and request.recorded is not None:
        x_named = columns_named(peek_columns(data_path)[0],
                                request.recorded.names_of(request.recorded.x))
        expected = None if x_named is not None else expected
    try:
        x = load_array(data_path, expected_width=expected)
    except (ValueError, OSError) as err:
        what = (f"rows of {expected} values: {width} x values and {request.k} context "
                "values" if in_file else f"rows of {width} values")
        hint = f" (the model {args.model} takes {what})"
        raise CLIError(f"{err}{hint if 'column' in str(err) else ''}") from None
    context = None
    if in_file:
        if layout is None:   # the first line could not be peeked; the loader read the file
            layout = Layout.from_spec(args.context_columns, data_path, None, x.shape[1])
        x, context = x[:, layout.x], x[:, layout.context]
    elif contexts is not None:
        x = x if x_named is None else x[:, x_named]
        context = _per_row(contexts, len(x), args)
    from tfp_flows.training import negative_log_likelihoods

    x = x.reshape((len(x),) + tuple(model.event_shape))
    values = -negative_log_likelihoods(model, x, batch_size=_CHUNK, context=context)
    _check_finite(values, args)
    header = ["log_prob"] if args.out is not None else None
    _emit(format_rows(values, header), args.out, args.quiet,
          f"{len(values)} log-densities (nats)", args.overwrite)
    return 0


def _rows(index, shown=5):
    rows = ", ".join(str(i + 1) for i in index[:shown])
    return rows + (", ..." if len(index) > shown else "")


def _check_finite(values, args, what="log-density", bad="-inf"):
    """nan: an error; -inf (or +inf): a warning line on stderr, the values are kept.
    ``what`` names the values (``bits/dim`` for images, where ``bad`` is ``inf``)."""
    nan = np.flatnonzero(np.isnan(values))
    if nan.size:
        raise CLIError(f"the model gave a nan {what} for {nan.size} of {len(values)} "
                       f"rows of {args.data} (data rows {_rows(nan)}); expected finite "
                       f"values or {bad}: is the model diverged?")
    inf = np.flatnonzero(~np.isfinite(values))
    if inf.size:
        sign = ("-inf" if np.all(values[inf] < 0) else "inf")
        print(warning_line(
            f"{inf.size} of {len(values)} rows of {args.data} "
            f"{'has' if inf.size == 1 else 'have'} {what} {sign} (data rows {_rows(inf)}): "
            "their density is outside the float32 range, e.g. rows far from the data the "
            "model was fitted to; the values are written as they are"), file=sys.stderr)
