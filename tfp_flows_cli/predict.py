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

The model file, the data file and ``--out`` are checked before TensorFlow is imported.
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
    quiet_tensorflow_startup,
    warning_line,
    write_text_atomically,
)

_CHUNK = 65536


def _emit(text, out, quiet, what, overwrite):
    if out is None:
        sys.stdout.write(text)
        return
    write_text_atomically(out, text, overwrite=overwrite)
    if not quiet:
        print(f"wrote {what} to {out}")


def run_sample(args):
    """``tfp-flows sample MODEL.keras -n N [--out FILE.csv] [--seed S]``."""
    check_output_file(args.out, args.overwrite, protect=[args.model])
    check_model_file(args.model)
    quiet_tensorflow_startup()
    model = load_flow_model(args.model)
    width = event_size(model)
    import tensorflow as tf

    tf.random.set_seed(args.seed)
    chunks, left, step = [], args.num_samples, 0
    while left > 0:
        n = min(left, _CHUNK)
        chunks.append(np.asarray(model.sample(n, seed=args.seed + step)).reshape(n, width))
        left -= n
        step += 1
    samples = np.concatenate(chunks).astype(np.float64)
    if not np.all(np.isfinite(samples)):
        raise CLIError(f"{args.model} produced non-finite samples; is the model diverged?")
    header = [f"x{i + 1}" for i in range(width)]
    _emit(format_rows(samples, header), args.out, args.quiet,
          f"{args.num_samples} samples",
          args.overwrite)
    return 0


def run_log_prob(args):
    """``tfp-flows log-prob MODEL.keras FILE [--out FILE.csv]``."""
    data_path = Path(args.data)
    check_data_file(data_path)
    check_output_file(args.out, args.overwrite, protect=[args.model, args.data])
    check_model_file(args.model)
    quiet_tensorflow_startup()
    from tfp_flows.datasets import load_array

    model = load_flow_model(args.model)
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


def _check_finite(values, args):
    """nan: an error; -inf (or +inf): a warning line on stderr, the values are kept."""
    nan = np.flatnonzero(np.isnan(values))
    if nan.size:
        raise CLIError(f"the model gave a nan log-density for {nan.size} of {len(values)} "
                       f"rows of {args.data} (data rows {_rows(nan)}); expected finite "
                       "values or -inf: is the model diverged?")
    inf = np.flatnonzero(~np.isfinite(values))
    if inf.size:
        print(warning_line(
            f"{inf.size} of {len(values)} rows of {args.data} "
            f"{'has' if inf.size == 1 else 'have'} log-density "
            f"{'-inf' if np.all(values[inf] < 0) else 'inf'} (data rows {_rows(inf)}): "
            "their density is outside the float32 range, e.g. rows far from the data the "
            "model was fitted to; the values are written as they are"), file=sys.stderr)
