"""``tfp-flows fit`` and ``demo``: one skeleton for every kind of data. Check the data and
options; build and train with :func:`tfp_flows.build_flow` and
:func:`tfp_flows.training.fit_flow`, passing only the options given (the library owns the
defaults; ``settings`` in metrics.json records the values used); measure, draw, write."""
import inspect
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from tfp_flows_cli import loaders
from tfp_flows_cli.errors import CLIError
from tfp_flows_cli.files import DEMO_DURATION, quiet_tensorflow_startup
from tfp_flows_cli.output import OutputDir, write_run
from tfp_flows_cli.report import finite_or_none, summary, versions

#: The builders' options ``fit`` passes on when given, for vector and for image data.
VECTOR_MODEL_OPTIONS = ("num_layers", "hidden_units", "base_distribution")
IMAGE_MODEL_OPTIONS = ("base_distribution", "num_scales", "hidden_channels", "num_blocks",
                       "num_steps")
#: ``fit_flow``'s options ``fit`` passes on when given.
TRAINING_OPTIONS = ("batch_size", "learning_rate", "schedule", "patience", "validation_split")
#: Image runs: dequantisation draws per image for bits/dim, images per evaluation batch.
NUM_DRAWS = 4
EVAL_BATCH_SIZE = 512

#: ``tfp-flows demo``: a neural spline flow on two moons (:data:`DEMO_DURATION`). Seed 0
#: reached a KL to the truth of 0.0107 nats in 42 s of fitting with a Normal base (earlier,
#: 0.0318 with a Student-t one: with 20,000 points the tails need no help).
DEMO_SETTINGS = dict(flow="nsf", num_layers=4, hidden_units=(64, 64), n_train=20_000,
                     batch_size=256, epochs=120, learning_rate=3e-3, schedule="cosine",
                     patience=200, validation_split=0.1, base_distribution="normal")
#: ``tfp-flows demo --quick``: a smoke test of the whole pipeline in a few seconds.
DEMO_QUICK_SETTINGS = dict(flow="maf", num_layers=2, hidden_units=(16,), n_train=500,
                           batch_size=128, epochs=3, learning_rate=1e-3, schedule="cosine",
                           patience=20, validation_split=0.1, base_distribution="student_t")


def _used(function, args, names):
    """``{name: value}`` of the options ``names`` that ``function`` takes: as given, or
    where left out ``function``'s default (a ``None`` default: the ``DEFAULT_<NAME>`` its
    package exports), as recorded in metrics.json."""
    params = inspect.signature(function).parameters
    package = sys.modules[function.__module__.rpartition(".")[0]]
    used = {}
    for name in filter(params.__contains__, names):
        default = params[name].default
        if default is None:
            default = getattr(package, f"DEFAULT_{name.upper()}", None)
        used[name] = default if getattr(args, name, None) is None else getattr(args, name)
    return used


def _measure(model, data, seed):
    """The metrics of ``model`` on each split of ``data`` (and given shuffled contexts:
    :func:`tfp_flows.training.context_gain` over the test rows)."""
    from tfp_flows.training import bits_per_dim, context_gain, kl_to_truth, mean_nll

    images = {} if data.kind != "images" else dict(
        num_levels=data.num_levels, num_draws=NUM_DRAWS, batch_size=EVAL_BATCH_SIZE)

    def score(x, c):
        if len(x) == 0:
            return None, None
        if images:
            return tuple(bits_per_dim(model, x, **images, seed=seed + 1, context=c))
        return mean_nll(model, x, context=c)

    key, se_key, shuffled_key = data.keys
    values = {s: score(data.x[s], data.c[s]) for s in loaders.SPLITS}
    metrics = {key.format(s): values[s][0] for s in loaders.SPLITS}
    metrics[se_key] = values["test"][1]
    if data.c["test"] is not None:
        gain = context_gain(model, data.x["test"], data.c["test"], seed=seed + 1, **images)
        metrics[shuffled_key] = metrics[key.format("test")] + gain.value
    if not all(v is None or math.isfinite(v) for v in metrics.values()):
        raise CLIError("training diverged (the test metrics are not finite); try a smaller "
                       "--learning-rate")
    if data.truth is not None:
        metrics.update(kl_to_truth_nats=kl_to_truth(model, data.truth, seed=seed + 1,
                                                    num_samples=loaders.N_TRUTH_TEST).value,
                       true_entropy_nats=float(data.truth.entropy()))
    return metrics


def _kind_metrics(data, history, to_bits):
    """What metrics.json says about the data's kind (``to_bits``: nats to bits/dim)."""
    if data.kind != "images":
        extra = {"nll_space": "data units (the model standardises inside itself)"}
        if data.layout is not None:
            extra.update(context_size=data.context_size, **data.layout.record(),
                         nll_definition="-log p(x | c), each row given its own context, in "
                         "nats per row; 'shuffled context': the test contexts permuted among "
                         "the test rows")
        return extra
    extra = {"num_levels": data.num_levels, "bits_per_dim_num_draws": NUM_DRAWS,
             "uniform_bits_per_dim": math.log2(data.num_levels),
             "bits_per_dim_definition": "-log p(x + u) / (D ln 2), u ~ U[0, 1)^D, averaged "
                                        "over the draws and the images; the standard error "
                                        "is over images",
             "history_bits_per_dim": {k: [finite_or_none(float(v) * to_bits) for v in
                                          history[k]] for k in ("loss", "val_loss")
                                      if k in history}}
    if data.num_classes is not None:
        extra.update(condition_on_labels=True, num_classes=data.num_classes,
                     context_size=data.num_classes)
    return extra


def fit_and_write(args, command="fit"):
    """Fits, measures and writes everything into ``args.out``; returns the metrics dict."""
    start = time.perf_counter()
    out = OutputDir(args.out, args.overwrite,
                    protect=[args.data] if Path(args.data).exists() else [])
    checked = loaders.check_data(args)
    images = isinstance(checked, loaders.ImageSpec)
    quiet_tensorflow_startup()
    import keras

    from tfp_flows.flows import BUILDERS, build_flow
    from tfp_flows.training import ProgressPrinter, fit_flow

    training = _used(fit_flow, args, TRAINING_OPTIONS)
    split = training.pop("validation_split")
    model_options = _used(BUILDERS[args.flow], args,
                          IMAGE_MODEL_OPTIONS if images else VECTOR_MODEL_OPTIONS)
    keras.utils.set_random_seed(args.seed)
    try:
        data = loaders.load_data(args, checked, split)
        to_bits = 1.0 / (math.prod(data.event_shape) * math.log(2.0)) if images else 1.0
        progress = [] if args.quiet else [ProgressPrinter(
            scale=to_bits, unit=" bits/dim" if images else "")]
        given = {n: getattr(args, n) for n in model_options if getattr(args, n) is not None}
        model = build_flow(args.flow, seed=args.seed, **data.build_kwargs(), **given)
        val, val_c = data.x["validation"], data.c["validation"]
        fitted = fit_flow(model, data.x["train"], context=data.c["train"], epochs=args.epochs,
                          validation_split=0.0, callbacks=progress,
                          validation_data=(None if len(val) == 0 else val if val_c is None
                                           else (val, val_c)), **training)
        evaluating = time.perf_counter()
        measured = _measure(model, data, args.seed)
    except ValueError as err:   # the library's messages are meant for users
        raise CLIError(str(err)) from None
    history = fitted.history
    model_options["base_distribution"] = getattr(model, "base_distribution_name", None)
    metrics = {
        "written_by": f"tfp-flows {command}", "data": args.data,
        "data_kind": data.kind, "flow": args.flow, "event_shape": list(data.event_shape),
        data.n_key: {s: len(data.x[s]) for s in loaders.SPLITS},
        **measured, **_kind_metrics(data, history, to_bits), "test_set": data.test_set,
        "epochs_run": len(history.get("loss", [])), "best_epoch": fitted.best_epoch,
        "stopped_by": fitted.stopped_by,
        "stopped_on_nan": fitted.stopped_by == "non_finite_loss",
        "train_time_s": round(fitted.seconds, 3),
        "eval_time_s": round(time.perf_counter() - evaluating, 3),
        "num_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "settings": {
            "data": args.data, "flow": args.flow, "epochs": args.epochs, **model_options,
            **training, "validation_split": split, "seed": args.seed,
            "n_train": (args.n_train or loaders.DEFAULT_N_TRAIN) if data.kind == "toy"
            else args.n_train,
            "context_columns": None if args.context_columns is None
            else list(args.context_columns),
            "condition_on_labels": args.condition_on_labels, "num_levels": data.num_levels},
        "versions": versions(),
        "history": {k: [finite_or_none(float(v)) for v in vs] for k, vs in history.items()},
    }
    from tfp_flows_cli.pictures import pictures

    figures, skipped = pictures(model, data, history, args.seed, args.flow,
                                metrics[data.keys[0].format("test")])
    if skipped:
        metrics["plots_skipped"] = skipped
    return write_run(out, model, metrics, figures, start)


def run_fit(args):
    """``tfp-flows fit``."""
    print(summary(fit_and_write(args), args.out))
    return 0


def is_demo_output(folder):
    """True if ``folder`` is a directory a previous ``tfp-flows demo`` wrote (its
    metrics.json says so, and it holds only the files that metrics.json lists)."""
    folder = Path(folder)
    try:
        if folder.is_symlink() or not folder.is_dir():
            return False
        names = {p.name for p in folder.iterdir()}
        metrics = json.loads((folder / "metrics.json").read_text())
        return metrics.get("written_by") == "tfp-flows demo" and names <= set(metrics["files"])
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return False


def run_demo(args):
    """``tfp-flows demo``: :data:`DEMO_SETTINGS` (or the quick ones) on two moons. A second
    run replaces the first one's output directory (see :func:`is_demo_output`)."""
    from tfp_flows_cli.options import build_parser

    settings = DEMO_QUICK_SETTINGS if args.quick else DEMO_SETTINGS
    replaces = is_demo_output(args.out)
    fit_args = build_parser().parse_args(["fit", "--data", "moons", "--flow", "maf",
                                          "--out", args.out])
    vars(fit_args).update(settings, seed=args.seed, quiet=args.quiet,
                          overwrite=args.overwrite or replaces)
    OutputDir(fit_args.out, fit_args.overwrite)   # refuse a bad --out before the banner
    if not args.quiet:
        took = "a few seconds" if args.quick else DEMO_DURATION
        print(f"tfp-flows demo: fitting a {settings['flow']} flow ({settings['num_layers']} "
              f"layers) to two moons ({settings['n_train']} points, up to "
              f"{settings['epochs']} epochs); {took}", flush=True)
        if replaces:
            print(f"(replacing the previous demo's {args.out}/ when done)", flush=True)
    metrics = fit_and_write(fit_args, command="demo")
    print(summary(metrics, args.out))
    folder = Path(args.out)
    print(f"\nKL(true two moons || flow) = {metrics['kl_to_truth_nats']:.4f} nats "
          f"in {metrics['wall_time_s']:.0f} s.")
    print(f"Pictures: {folder / 'density.png'} (model vs true density), "
          f"{folder / 'samples.png'}, {folder / 'layers.png'}, {folder / 'loss.png'}")
    return 0
