"""``tfp-flows sample`` and ``log-prob`` with a model written by ``fit`` (in the data's units;
images as integer pixels and bits/dim; conditional models with contexts from
:mod:`tfp_flows_cli.context`). Files and contexts are checked before TensorFlow is imported."""
import math
import sys
from pathlib import Path

import numpy as np

from tfp_flows_cli import files
from tfp_flows_cli.context import Layout, context_request, data_layout
from tfp_flows_cli.errors import CLIError, warning_line
from tfp_flows_cli.fit import EVAL_BATCH_SIZE, NUM_DRAWS
from tfp_flows_cli.options import given_options
from tfp_flows_cli.output import check_output_file, npy_bytes, write_text_atomically

#: Rows per ``sample`` / ``log_prob`` call for vector models (image models: as ``fit``).
_CHUNK = 65536


def _check_model(args, inputs):
    """Checks ``--out`` (not one of ``inputs``) and the model file; returns the model's config
    and, for an image model, its ``(event_shape, num_levels)`` (else ``None``)."""
    check_output_file(args.out, args.overwrite, protect=[args.model, *inputs])
    config = files.check_model_file(args.model)
    levels, shape = config.get("num_levels"), config.get("event_shape")
    if isinstance(levels, int) and isinstance(shape, list) and len(shape) == 3:
        return config, (tuple(int(s) for s in shape), levels)
    return config, None


def _is_npy(path):
    return path is not None and Path(path).suffix.lower() == ".npy"


def _emit(values, header, args, what):
    """Writes ``values`` to ``--out`` (a ``.npy`` array, or CSV text with ``header``) or
    prints them as CSV (``log-prob``: one value a line, no header); returns 0."""
    from tfp_flows.datasets import format_csv

    if args.out is None:   # log-prob prints no header
        sys.stdout.write(format_csv(values, header if args.command == "sample" else None))
        return 0
    data = npy_bytes(values) if _is_npy(args.out) else format_csv(values, header)
    write_text_atomically(args.out, data, overwrite=args.overwrite)
    if not args.quiet:
        print(f"wrote {what} to {args.out}")
    return 0


def run_sample(args):
    """``tfp-flows sample``."""
    config, image = _check_model(args, [args.context_file])
    if image is not None and not _is_npy(args.out):
        got = "standard output" if args.out is None else f"--out {args.out}"
        raise CLIError(f"{args.model} is an image model ({files.shape_text(image[0])} images, "
                       f"{image[1]} levels): its samples are integer images, written with "
                       f"--out FILE.npy (CSV is for vector models), got {got}")
    request = context_request(args, config)
    model = files.load_flow_model(args.model)
    import tensorflow as tf

    from tfp_flows.datasets import quantize
    from tfp_flows.sampling import sample_in_batches

    tf.random.set_seed(args.seed)
    contexts = None if request is None else request.load()
    n = args.num_samples
    samples = sample_in_batches(model, n, context=contexts, seed=args.seed,
                                temperature=args.temperature,
                                batch_size=_CHUNK if image is None else EVAL_BATCH_SIZE)
    _check_samples(samples, args)
    if contexts is not None:   # the n samples of context 1 first
        samples = np.swapaxes(samples, 0, 1)
    each = "" if contexts is None else f" ({n} for each of {len(contexts)} contexts)"
    if image is not None:
        data = quantize(samples.reshape((-1,) + image[0]), image[1])
        what = f"{len(data)} images [{', '.join(map(str, data.shape))}] ({data.dtype.name}, " \
               f"pixel values 0 to {image[1] - 1}){each}"
        return _emit(data, None, args, what)
    width = math.prod(model.event_shape)
    if contexts is None:
        data, header = samples.reshape(n, width), [f"x{i + 1}" for i in range(width)]
    else:   # as fitted, or (nothing recorded) the context, then x
        k = request.k
        layout = request.recorded or Layout(k + width, range(k), range(k, k + width))
        data = layout.rows(contexts, samples.reshape(len(contexts), n, width))
        header = layout.header()
    shape = f" [{', '.join(map(str, data.shape))}] (float64)" if _is_npy(args.out) else ""
    return _emit(data, header, args, f"{len(data)} samples{each}{shape}")


def _check_samples(samples, args):
    if np.all(np.isfinite(samples)):
        return
    if args.temperature > 1:
        raise CLIError(f"--temperature {args.temperature:g} gave samples beyond the float32 "
                       "range: the base samples are scaled by it, and huge temperatures "
                       "overflow; use a temperature near 1 (T < 1 for cleaner samples)")
    raise CLIError(f"{args.model} produced non-finite samples; is the model diverged?")


def _check_images_file(args, shape, levels):
    """An image model's input: a ``.npy`` of integer images of the model's shape (read from
    the header; the pixel range is checked when the file is loaded)."""
    want = f"a .npy of integer images [N, {', '.join(map(str, shape))}]"
    if shape[2] == 1:
        want += f" or [N, {shape[0]}, {shape[1]}]"
    intro = (f"{args.model} is an image model ({files.shape_text(shape)} images, {levels} "
             f"levels) and scores {want} with pixels in [0, {levels})")
    if not _is_npy(args.data):
        raise CLIError(f"{intro}; got {args.data}")
    got, dtype = files.peek_npy(args.data)
    if dtype.kind not in "iu":
        hint = ("; already dequantised float images are scored by model.log_prob in Python"
                if dtype.kind == "f" else "")
        raise CLIError(f"{intro}; got dtype {dtype} with shape {got}{hint}")
    if tuple(got[1:]) not in (tuple(shape), tuple(shape[:2]) if shape[2] == 1 else None):
        raise CLIError(f"{intro}; got shape {got}")


def run_log_prob(args):
    """``tfp-flows log-prob MODEL.keras FILE [--out FILE.csv]`` (image models:
    ``[--num-draws N] [--seed S]``)."""
    data_path = Path(args.data)
    files.check_data_file(data_path)
    config, image = _check_model(args, [args.data, args.context_file])
    if image is not None:
        _check_images_file(args, *image)
    else:
        given = given_options(args, "num_draws", "seed")
        if given:
            raise CLIError(f"{given[0]} applies to image models (the dequantisation noise); "
                           f"{args.model} is a vector model, whose log-density needs none")
    request = context_request(args, config)
    if image is None:
        layout = data_layout(args, request, math.prod(config.get("event_shape") or []))
    model = files.load_flow_model(args.model)
    if image is not None:
        return _image_log_prob(model, args, image[1], request)
    from tfp_flows.datasets import load_array
    from tfp_flows.training import negative_log_likelihoods

    width = math.prod(model.event_shape)
    expected = width if layout is None else layout.width
    try:
        x = load_array(data_path, expected_width=expected)
    except (ValueError, OSError) as err:
        what = f"rows of {width} values"
        if layout is not None and layout.context:
            what = (f"rows of {expected} values: {width} x values and {request.k} context "
                    "values")
        hint = f" (the model {args.model} takes {what})"
        raise CLIError(f"{err}{hint if 'column' in str(err) else ''}") from None
    context = request.load(len(x)) if request is not None and request.given else None
    if layout is not None:   # the file holds the contexts, or more columns than x
        context = x[:, layout.context] if layout.context else context
        x = x[:, layout.x]
    x = x.reshape((len(x),) + tuple(model.event_shape))
    values = -negative_log_likelihoods(model, x, batch_size=_CHUNK, context=context)
    _check_finite(values, args)
    return _emit(values, ["log_prob"], args, f"{len(values)} log-densities (nats)")


def _image_log_prob(model, args, levels, request):
    """Per-image bits/dim (the mean over ``--num-draws`` dequantisations), given the
    contexts of ``request`` (one row for all images, or one per image), if any."""
    from tfp_flows.datasets import load_images_npy
    from tfp_flows.training import bits_per_image

    try:
        images = load_images_npy(args.data, num_levels=levels)
    except (ValueError, OSError) as err:
        raise CLIError(f"{err} (the model {args.model} has {levels} pixel levels)") from None
    draws = NUM_DRAWS if args.num_draws is None else args.num_draws
    context = None if request is None else request.load(len(images))
    values = bits_per_image(model, images, levels, draws, args.seed or 0,
                            batch_size=EVAL_BATCH_SIZE, context=context)
    _check_finite(values, args, what="bits/dim", bad="inf")
    return _emit(values, ["bits_per_dim"], args,
                 f"bits/dim of {len(values)} images ({draws} dequantisation draws each)")


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
