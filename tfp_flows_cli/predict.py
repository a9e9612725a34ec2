"""``tfp-flows sample`` and ``tfp-flows log-prob``: use a model written by ``fit``.

A model written by ``fit`` lives in the standardised space of its data (zero mean, unit
variance per column of the training rows). ``sample`` writes samples in that space unless
``--unscale`` maps them back (``x = z * std + mean``, with the scaler in metrics.json);
``log-prob`` reads rows in that space unless ``--data-units`` standardises them first and
adds ``-sum(log std)``, the log-Jacobian of the standardisation, so the result is the
log-density in data units.
"""
import sys
from pathlib import Path

import numpy as np

from tfp_flows_cli._common import (
    CLIError,
    check_output_file,
    event_size,
    format_rows,
    load_flow_model,
    read_scaler,
    write_text_atomically,
)

_CHUNK = 65536


def _emit(text, out, quiet, what):
    if out is None:
        sys.stdout.write(text)
        return
    write_text_atomically(out, text)
    if not quiet:
        print(f"wrote {what} to {out}")


def run_sample(args):
    """``tfp-flows sample MODEL.keras -n N [--out FILE.csv] [--seed S] [--unscale]``."""
    check_output_file(args.out, args.overwrite, protect=[args.model])
    model = load_flow_model(args.model)
    width = event_size(model)
    scaler = read_scaler(args.model, width) if args.unscale else None
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
    if scaler is not None:
        mean, std = scaler
        samples = samples * std + mean
    header = [f"x{i + 1}" for i in range(width)]
    _emit(format_rows(samples, header), args.out, args.quiet,
          f"{args.num_samples} samples ({'data units' if scaler else 'model space'})")
    return 0


def run_log_prob(args):
    """``tfp-flows log-prob MODEL.keras FILE [--out FILE.csv] [--data-units]``."""
    from tfp_flows.datasets import load_array

    data_path = Path(args.data)
    if not data_path.exists():
        raise CLIError(f"data file not found: {args.data}")
    check_output_file(args.out, args.overwrite, protect=[args.model, args.data])
    model = load_flow_model(args.model)
    width = event_size(model)
    try:
        x = load_array(data_path, expected_width=width)
    except (ValueError, OSError) as err:
        hint = f" (the model {args.model} takes rows of {width} values)"
        raise CLIError(f"{err}{hint if 'column' in str(err) else ''}") from None
    log_det = 0.0
    if args.data_units:
        mean, std = read_scaler(args.model, width)
        x = ((x - mean) / std).astype(np.float32)
        log_det = -float(np.sum(np.log(std)))
    x = x.reshape((len(x),) + tuple(model.event_shape))
    values = np.concatenate([
        np.asarray(model.log_prob(x[i:i + _CHUNK]), dtype=np.float64)
        for i in range(0, len(x), _CHUNK)
    ]) + log_det
    header = ["log_prob"] if args.out is not None else None
    _emit(format_rows(values, header), args.out, args.quiet,
          f"{len(values)} log-densities (nats)")
    return 0
