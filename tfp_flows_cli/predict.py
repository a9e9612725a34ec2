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

The model file, the data file and ``--out`` are checked before TensorFlow is imported (an
image model's kind, shape and levels are read from its ``config.json``, a ``.npy`` file's
dtype and shape from its header).
"""
import sys
from pathlib import Path

import numpy as np

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


def _draw(model, n, seed, temperature, chunk):
    """``n`` samples, ``chunk`` at a time, as float64 [n, *event_shape]."""
    chunks, left, step = [], n, 0
    while left > 0:
        k = min(left, chunk)
        chunks.append(np.asarray(model.sample(k, seed=seed + step, temperature=temperature),
                                 dtype=np.float64))
        left -= k
        step += 1
    return np.concatenate(chunks)


def run_sample(args):
    """``tfp-flows sample MODEL.keras -n N [--out FILE.csv|FILE.npy] [--seed S]
    [--temperature T]``."""
    check_output_file(args.out, args.overwrite, protect=[args.model])
    check_model_file(args.model)
    image = _image_model(args.model)
    if image is not None and not _is_npy(args.out):
        got = "standard output" if args.out is None else f"--out {args.out}"
        raise CLIError(f"{args.model} is an image model ({shape_text(image[0])} images, "
                       f"{image[1]} levels): its samples are integer images, written with "
                       f"--out FILE.npy (CSV is for vector models), got {got}")
    quiet_tensorflow_startup()
    model = load_flow_model(args.model)
    import tensorflow as tf

    tf.random.set_seed(args.seed)
    temperature = getattr(args, "temperature", 1.0)
    levels = getattr(model, "num_levels", None)
    if levels is not None:
        if not _is_npy(args.out):   # a config.json the peek could not read
            raise CLIError(f"{args.model} is an image model: write its samples with --out "
                           "FILE.npy")
        samples = _draw(model, args.num_samples, args.seed, temperature, _IMAGE_CHUNK)
        if not np.all(np.isfinite(samples)):
            raise CLIError(f"{args.model} produced non-finite samples; is the model diverged?")
        images = to_pixels(samples, levels)
        write_bytes_atomically(args.out, npy_bytes(images), overwrite=args.overwrite)
        if not args.quiet:
            print(f"wrote {len(images)} images [{', '.join(map(str, images.shape))}] "
                  f"({images.dtype.name}, pixel values 0 to {levels - 1}) to {args.out}")
        return 0
    width = event_size(model)
    samples = _draw(model, args.num_samples, args.seed, temperature, _CHUNK)
    samples = samples.reshape(args.num_samples, width)
    if not np.all(np.isfinite(samples)):
        raise CLIError(f"{args.model} produced non-finite samples; is the model diverged?")
    if _is_npy(args.out):
        write_bytes_atomically(args.out, npy_bytes(samples), overwrite=args.overwrite)
        if not args.quiet:
            print(f"wrote {args.num_samples} samples [{args.num_samples}, {width}] "
                  f"(float64) to {args.out}")
        return 0
    header = [f"x{i + 1}" for i in range(width)]
    _emit(format_rows(samples, header), args.out, args.quiet,
          f"{args.num_samples} samples",
          args.overwrite)
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


def _image_bits(model, args, levels):
    """Per-image bits/dim (the mean over ``--draws`` dequantisations)."""
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
    return bits_per_image(model, images, levels, draws, seed, batch_size=_IMAGE_CHUNK), draws


def run_log_prob(args):
    """``tfp-flows log-prob MODEL.keras FILE [--out FILE.csv]`` (image models:
    ``[--draws N] [--seed S]``)."""
    data_path = Path(args.data)
    check_data_file(data_path)
    check_output_file(args.out, args.overwrite, protect=[args.model, args.data])
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
    quiet_tensorflow_startup()
    from tfp_flows.datasets import load_array

    model = load_flow_model(args.model)
    levels = getattr(model, "num_levels", None)
    if levels is not None:
        if image is None:   # a config.json the peek could not read
            _check_images_file(args, tuple(model.event_shape), levels)
        values, draws = _image_bits(model, args, levels)
        _check_finite(values, args, what="bits/dim", bad="inf")
        header = ["bits_per_dim"] if args.out is not None else None
        _emit(format_rows(values, header), args.out, args.quiet,
              f"bits/dim of {len(values)} images ({draws} dequantisation draws each)",
              args.overwrite)
        return 0
    width = event_size(model)
    try:
        x = load_array(data_path, expected_width=width)
    except (ValueError, OSError) as err:
        hint = f" (the model {args.model} takes rows of {width} values)"
        raise CLIError(f"{err}{hint if 'column' in str(err) else ''}") from None
    from tfp_flows.training import negative_log_likelihoods

    x = x.reshape((len(x),) + tuple(model.event_shape))
    values = -negative_log_likelihoods(model, x, batch_size=_CHUNK)
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
