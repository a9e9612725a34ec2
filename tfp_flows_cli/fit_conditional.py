"""``tfp-flows fit --context-columns COLS``: a conditional flow ``p(x | c)`` on a .csv / .npy
file of rows, ``c`` the columns named by ``--context-columns`` and ``x`` the others.

The rows are split as for an unconditional fit (10% test rows, then ``--validation-split``
of the rest, shuffled with ``--seed``), each row keeping its context. The flow is
``tfp_flows.build_flow(flow, event_shape=D, context_size=K, ...)``: it standardises ``x``
and the contexts inside itself, so ``model.keras`` takes both in the data's units. NLLs are
``-log p(x | c)`` in nats per row, each row scored given its own context; the test NLL with
the contexts shuffled among the test rows says how much the context tells about ``x`` (no
more than the unconditional density would, if the two are equal).

Written into ``--out``: ``model.keras``; ``metrics.json`` (NLLs, ``context_columns`` and
``x_columns``, each ``{"indices": [...], "names": [...] or null}``, and ``n_columns``, which
``sample`` and ``log-prob`` read back); ``loss.png``; ``samples.png`` (for up to 3 test
contexts, model samples given the context against the training rows with the nearest
contexts; for a 1-column ``x``, x against the first context column, training rows against
one sample given each row's context); ``density.png`` for a 2-column ``x`` (the density
given those 3 contexts).
"""
import json
import math
import time
from pathlib import Path

import numpy as np

from tfp_flows_cli import fit as vector_fit
from tfp_flows_cli.context import Layout, peek_columns
from tfp_flows_cli.files import (
    CLIError,
    check_data_file,
    first_line,
    quiet_tensorflow_startup,
)
from tfp_flows_cli.report import finite_or_none, progress_callback, versions

#: Test contexts shown in samples.png / density.png.
N_SHOWN_CONTEXTS = 3
N_SAMPLES_PER_CONTEXT = 500


class ConditionalData:
    """Rows of a file split into train / validation / test, each as ``x`` and context."""

    def __init__(self, path, layout, splits):
        self.path, self.layout = path, layout
        self.x = {name: rows[:, layout.x] for name, rows in splits.items()}
        self.c = {name: rows[:, layout.context] for name, rows in splits.items()}

    @property
    def event_size(self):
        return len(self.layout.x)

    @property
    def context_size(self):
        return len(self.layout.context)


def check_conditional(args):
    """The checks of ``fit --context-columns`` that need no TensorFlow; returns the
    :class:`~tfp_flows_cli.context.Layout` of the file (``None`` if its first line cannot
    be read: the loader reports that)."""
    if not vector_fit._is_file_spec(args.data):
        raise CLIError(f"--context-columns applies to .csv / .npy files of rows; "
                       f"{args.data!r} is not one (toy data sets have no context columns)")
    check_data_file(args.data)
    if args.n_train is not None:
        raise CLIError("--n-train applies to toy data sets and image data only; all rows "
                       "of a file of vectors are used")
    names, width = peek_columns(args.data)
    layout = Layout.from_spec(args.context_columns, args.data, names, width)
    if layout is not None and len(layout.x) < 2 and args.flow not in ("maf", "iaf"):
        raise CLIError(f"a {args.flow} flow splits x into two groups and needs at least 2 "
                       f"columns; {args.data} leaves 1 column beside the context "
                       f"({layout.describe(layout.x)}): use --flow maf or iaf")
    return layout


def load_conditional(args, layout):
    """Reads and splits the rows (after TensorFlow is imported)."""
    from tfp_flows.datasets import load_array

    path = Path(args.data)
    try:
        rows = load_array(path).astype(np.float64)
    except (ValueError, OSError) as err:
        raise CLIError(str(err)) from None
    if layout is None:   # the first line could not be peeked, the loader read the file
        layout = Layout.from_spec(args.context_columns, path, None, rows.shape[1])
    if len(rows) < vector_fit.MIN_FILE_ROWS:
        raise CLIError(f"{args.data} has {len(rows)} rows; at least "
                       f"{vector_fit.MIN_FILE_ROWS} are needed (10% are held out as test "
                       "rows)")
    rng = np.random.default_rng(args.seed)
    test, rest = vector_fit._split(rows, vector_fit.TEST_FRACTION, rng, at_least_one=True)
    val, train = vector_fit._split(rest, args.validation_split, rng, at_least_one=True)
    x = train[:, layout.x]
    mean, std = x.mean(axis=0), x.std(axis=0)
    constant = np.flatnonzero(~(std > 1e-12 * np.maximum(1.0, np.abs(mean))))
    if constant.size:
        column = layout.describe([layout.x[constant[0]]])
        raise CLIError(f"{args.data}: column {column} is constant in the training rows; a "
                       "density cannot be fitted to it (drop that column, or make it a "
                       "context column)")
    return ConditionalData(path, layout, {"train": train, "validation": val, "test": test})


def _nll(model, x, c):
    from tfp_flows.training import mean_nll

    return (None, None) if len(x) == 0 else mean_nll(model, x, context=c)


def _shown_contexts(contexts):
    """Up to :data:`N_SHOWN_CONTEXTS` distinct test contexts spread over the first context
    column (its lowest, middle and highest values)."""
    unique = np.unique(contexts, axis=0)
    unique = unique[np.argsort(unique[:, 0], kind="stable")]
    picks = np.unique(np.round(np.linspace(0, len(unique) - 1, N_SHOWN_CONTEXTS)).astype(int))
    return unique[picks]


def _context_title(layout, c):
    names = layout.names_of(layout.context) or [f"c{j + 1}" for j in range(len(c))]
    text = ", ".join(f"{n}={v:.3g}" for n, v in zip(names, c))
    return text if len(text) <= 40 else text[:37] + "..."


def write_conditional_plots(folder, model, data, history, seed):
    """loss.png, samples.png and (2-column x) density.png; returns the names written."""
    import matplotlib.pyplot as plt

    from tfp_flows import plotting

    written = []

    def save(fig, name):
        fig.savefig(folder / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(name)

    layout = data.layout
    save(plotting.plot_loss(history, title=f"training ({model.name}, -log p(x | c))"),
         "loss.png")
    x_names = layout.names_of(layout.x) or [f"x{j + 1}" for j in range(data.event_size)]
    train_x, train_c = data.x["train"], data.c["train"]
    if data.event_size == 1:
        shown_x, shown_c = train_x[:N_SAMPLES_PER_CONTEXT], train_c[:N_SAMPLES_PER_CONTEXT]
        samples = np.asarray(model.sample(1, context=shown_c, seed=seed)).reshape(-1)
        c_name = (layout.names_of(layout.context) or ["c1"])[0]
        fig, ax = plt.subplots(figsize=(5.6, 3.8))
        ax.scatter(shown_c[:, 0], shown_x[:, 0], s=8, alpha=0.6, color="tab:blue",
                   label=f"{len(shown_x)} training rows", linewidths=0)
        ax.scatter(shown_c[:, 0], samples, s=8, alpha=0.6, color="tab:orange",
                   label="one sample given each row's context", linewidths=0)
        ax.set_xlabel(c_name)
        ax.set_ylabel(x_names[0])
        ax.legend(loc="best", markerscale=2)
        ax.set_title(f"{x_names[0]} given the context: data and samples")
        save(fig, "samples.png")
        return written
    shown = _shown_contexts(data.c["test"])
    scale = train_c.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    near = max(20, len(train_x) // 20)
    samples = np.asarray(model.sample(N_SAMPLES_PER_CONTEXT, context=shown, seed=seed))
    lo, hi = np.percentile(train_x[:, :2], [0.5, 99.5], axis=0)
    pad = 0.15 * (hi - lo)
    bounds = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
    fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.6), squeeze=False,
                             sharex=True, sharey=True)
    for j, (ax, c) in enumerate(zip(axes[0], shown)):
        nearest = np.argsort(np.abs((train_c - c) / scale).sum(axis=1), kind="stable")[:near]
        ax.scatter(train_x[nearest, 0], train_x[nearest, 1], s=10, alpha=0.7,
                   color="tab:blue", linewidths=0,
                   label=f"the {near} training rows with the nearest contexts")
        ax.scatter(samples[:, j, 0], samples[:, j, 1], s=4, alpha=0.4, color="tab:orange",
                   linewidths=0, label=f"{N_SAMPLES_PER_CONTEXT} samples given c")
        ax.set_title(_context_title(layout, c), fontsize=9)
        ax.set_xlim(*bounds[0])
        ax.set_ylim(*bounds[1])
        ax.set_xlabel(x_names[0])
    axes[0][0].set_ylabel(x_names[1])
    axes[0][0].legend(loc="upper left", fontsize=7, markerscale=2)
    suffix = "" if data.event_size == 2 else f" (first 2 of {data.event_size} x columns)"
    fig.suptitle(f"samples of p(x | c) for {len(shown)} test contexts{suffix}")
    save(fig, "samples.png")
    if data.event_size == 2:
        save(plotting.plot_conditional_density(
            model, shown, bounds=bounds, resolution=80,
            context_labels=[_context_title(layout, c) for c in shown],
            xlabel=x_names[0], ylabel=x_names[1],
            title="model density p(x | c), 50% and 90% regions"), "density.png")
    return written


def fit_and_write_conditional(args, out, start, command="fit"):
    """Fits ``p(x | c)`` and writes everything into ``out`` (an
    :class:`~tfp_flows_cli.output.OutputDir` already checked); returns the metrics dict."""
    layout = check_conditional(args)
    quiet_tensorflow_startup()
    data = load_conditional(args, layout)
    layout = data.layout
    import keras

    from tfp_flows.flows import build_flow
    from tfp_flows.training import fit_flow

    with out:
        keras.utils.set_random_seed(args.seed)
        try:
            model = build_flow(args.flow, event_shape=data.event_size, num_layers=args.layers,
                               hidden_units=args.hidden, seed=args.seed,
                               base_distribution=args.base, context_size=data.context_size)
        except ValueError as err:
            raise CLIError(f"cannot build a conditional {args.flow} flow for "
                           f"{data.event_size} x columns: {first_line(err)}") from None
        progress = [] if args.quiet else [progress_callback(keras, args.epochs)]
        val = (data.x["validation"], data.c["validation"])
        fitted = fit_flow(model, data.x["train"], context=data.c["train"],
                          epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                          schedule=args.schedule, patience=args.patience,
                          validation_split=0.0, validation_data=val if len(val[0]) else None,
                          callbacks=progress)
        history = fitted.history
        nll = {name: _nll(model, data.x[name], data.c[name])
               for name in ("train", "validation", "test")}
        shuffled = data.c["test"][np.random.default_rng(args.seed + 1).permutation(
            len(data.c["test"]))]
        test_shuffled, _ = _nll(model, data.x["test"], shuffled)
        values = [v for v, _ in nll.values()] + [test_shuffled]
        if not all(v is None or math.isfinite(v) for v in values):
            raise CLIError(f"training diverged (the NLL is not finite); try a smaller --lr "
                           f"(now {args.lr:g}) or fewer --layers")
        metrics = {
            "written_by": f"tfp-flows {command}",
            "data": args.data,
            "data_kind": "file",
            "flow": args.flow,
            "event_shape": [data.event_size],
            "context_size": data.context_size,
            **layout.record(),
            "n_rows": {name: len(rows) for name, rows in data.x.items()},
            "train_nll_nats": nll["train"][0],
            "validation_nll_nats": nll["validation"][0],
            "test_nll_nats": nll["test"][0],
            "test_nll_std_error_nats": nll["test"][1],
            "test_nll_shuffled_context_nats": test_shuffled,
            "nll_definition": "-log p(x | c), each row given its own context, in nats per "
                              "row, in the data's units; 'shuffled context': the test "
                              "contexts permuted among the test rows",
            "test_set": f"{len(data.x['test'])} held-out rows of the file",
            "epochs_run": len(history.get("loss", [])),
            "best_epoch": fitted.best_epoch,
            "stopped_by": fitted.stopped_by,
            "stopped_on_nan": fitted.stopped_by == "non_finite_loss",
            "train_time_s": round(fitted.seconds, 3),
            "num_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "settings": {
                "data": args.data, "flow": args.flow, "epochs": args.epochs,
                "context_columns": list(args.context_columns),
                "layers": args.layers, "hidden_units": list(args.hidden),
                "batch_size": args.batch_size, "lr": args.lr, "schedule": args.schedule,
                "base_distribution": args.base, "patience": args.patience,
                "seed": args.seed, "validation_split": args.validation_split,
            },
            "versions": versions(),
            "history": {k: [finite_or_none(float(v)) for v in vs] for k, vs in history.items()},
        }
        model.save(out.path / "model.keras")
        written = write_conditional_plots(out.path, model, data, history, args.seed)
        metrics["files"] = ["model.keras", "metrics.json"] + written
        metrics["wall_time_s"] = round(time.perf_counter() - start, 3)
        (out.path / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False)
                                               + "\n")
        out.commit()
    return metrics
