"""``tfp-flows fit`` and ``tfp-flows demo``: fit a flow, measure it, draw it.

A thin shell over the library: the flow is built by :func:`tfp_flows.build_flow`, trained by
:func:`tfp_flows.training.fit_flow` (the package's recipe) and measured by
:mod:`tfp_flows.training` (mean NLL, KL to the truth). This module reads the data, splits
it, and writes the results.

Data handling (the rows are given to the model as they are, in the data's units: the model
standardises them inside itself, so model.keras alone gives densities and samples in data
units):

- a toy name (``moons``, ``banana``, ...): ``load_toy(name, n_train, seed,
  standardize=False)`` gives training rows and the exact distribution ``truth`` in the same
  coordinates; the test set is 20,000 fresh draws from ``truth`` (seed ``seed + 1``), and
  ``KL(truth || model) = mean test NLL - truth.entropy()``.
- a ``.csv`` / ``.npy`` file (read by :func:`tfp_flows.datasets.load_array`): the rows are
  shuffled (``seed``) and 10% are held out as test rows.

In both cases ``--validation-split`` of the remaining rows is held out for validation and
early stopping. All NLLs are in nats per point, of the density in the data's units.

Image data (``digits``, ``mnist5k``, a ``.npy`` of integer images) go to
:mod:`tfp_flows_cli.fit_images`; options of the other kind (``--layers`` / ``--hidden`` for
images, ``--num-levels`` / ``--hidden-channels`` / ... for vectors) are refused. A file with
``--context-columns`` goes to :mod:`tfp_flows_cli.fit_conditional` (a flow ``p(x | c)``).
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from tfp_flows_cli.files import (
    DATA_EXTENSIONS,
    DEMO_DURATION,
    CLIError,
    OutputDir,
    check_data_file,
    first_line,
    quiet_tensorflow_startup,
)
from tfp_flows_cli.plots import write_vector_plots
from tfp_flows_cli.report import (
    conditional_summary,
    finite_or_none,
    image_summary,
    progress_callback,
    vector_summary,
    versions,
)

N_TRUTH_TEST = 20_000
TEST_FRACTION = 0.1
MIN_FILE_ROWS = 10
DEFAULT_N_TRAIN = 1000

#: ``tfp-flows demo``: a neural spline flow on two moons; for its wall time see
#: :data:`tfp_flows_cli.files.DEMO_DURATION`. Seed 0 reached a KL to the truth of 0.0100
#: nats in 3 min 24 s with a Normal base (0.0318 in 2 min 21 s with the Student-t default:
#: with 20,000 points the tails need no help, so the demo asks for the Normal base), data in
#: their own units since issue 9 (0.0145 before; MAF with 8
#: layers took about as long and reached 0.063, with visible bridges
#: between the moons).
DEMO_SETTINGS = dict(flow="nsf", layers=4, hidden=(64, 64), n_train=20_000, batch_size=256,
                     epochs=120, lr=3e-3, schedule="cosine", patience=200,
                     validation_split=0.1, base="normal")
#: ``tfp-flows demo --quick``: a smoke test of the whole pipeline in a few seconds.
DEMO_QUICK_SETTINGS = dict(flow="maf", layers=2, hidden=(16,), n_train=500, batch_size=128,
                           epochs=3, lr=1e-3, schedule="cosine", patience=20,
                           validation_split=0.1, base="student_t")


class Data:
    """Training / validation / test rows (data units), and what is known about them."""

    def __init__(self, name, kind, train, val, test, truth=None, path=None):
        self.name, self.kind, self.path, self.truth = name, kind, path, truth
        self.train, self.val, self.test = train, val, test

    @property
    def width(self):
        return self.train.shape[1]


def _split(x, fraction, rng, at_least_one):
    """Shuffles ``x`` and returns ``(held_out, rest)`` with ``round(fraction * n)`` held out."""
    x = x[rng.permutation(len(x))]
    k = int(round(fraction * len(x)))
    if fraction > 0 and at_least_one:
        k = max(1, k)
    return x[:k], x[k:]


def _toy_key(spec):
    from tfp_flows_cli import TOY_DATA_NAMES

    key = spec.strip().lower().replace("-", "_")
    return key if key in TOY_DATA_NAMES else None


def _is_file_spec(spec):
    path = Path(spec)
    return path.suffix.lower() in DATA_EXTENSIONS or path.exists()


def check_data(args):
    """The checks of ``--data`` that need no TensorFlow (run before importing it)."""
    from tfp_flows_cli import TOY_DATA_NAMES

    if _is_file_spec(args.data):
        check_data_file(args.data)
        if args.n_train is not None:
            raise CLIError("--n-train applies to toy data sets and image data only; all rows "
                           "of a file of vectors are used")
        return
    if _toy_key(args.data) is None:
        from tfp_flows_cli import IMAGE_DATA_NAMES

        raise CLIError(f"unknown data {args.data!r}: expected a toy data set name "
                       f"({', '.join(TOY_DATA_NAMES)}), an image data set "
                       f"({', '.join(IMAGE_DATA_NAMES)}) or a .csv / .npy file")
    if args.n_train is not None and args.n_train < 10:
        raise CLIError(f"--n-train must be at least 10, got {args.n_train}")


def load_data(args):
    """Resolves ``--data`` and returns a :class:`Data`; bad input becomes a CLIError."""
    from tfp_flows.datasets import load_array, load_toy

    check_data(args)
    spec = args.data
    path = Path(spec)
    rng = np.random.default_rng(args.seed)
    if not _is_file_spec(spec):
        key = _toy_key(spec)
        n_train = DEFAULT_N_TRAIN if args.n_train is None else args.n_train
        x, truth = load_toy(key, n_train=n_train, seed=args.seed, standardize=False)
        val, train = _split(x, args.validation_split, rng, at_least_one=True)
        test = truth.sample(N_TRUTH_TEST, seed=args.seed + 1)
        return Data(key, "toy", train, val, test, truth=truth)

    try:
        x = load_array(path).astype(np.float64)
    except (ValueError, OSError) as err:
        raise CLIError(str(err)) from None
    if len(x) < MIN_FILE_ROWS:
        raise CLIError(f"{spec} has {len(x)} rows; at least {MIN_FILE_ROWS} are needed "
                       "(10% are held out as test rows)")
    test, rest = _split(x, TEST_FRACTION, rng, at_least_one=True)
    val, train = _split(rest, args.validation_split, rng, at_least_one=True)
    mean, std = train.mean(axis=0), train.std(axis=0)
    constant = np.flatnonzero(~(std > 1e-12 * np.maximum(1.0, np.abs(mean))))
    if constant.size:
        raise CLIError(f"{spec}: column {constant[0] + 1} is constant in the training rows; "
                       "a density cannot be fitted to it (drop that column)")
    return Data(path.name, "file", train, val, test, path=path)


def _mean_nll(model, x):
    """:func:`tfp_flows.training.mean_nll`, or ``(None, None)`` for no rows."""
    from tfp_flows.training import mean_nll

    return (None, None) if len(x) == 0 else mean_nll(model, x)


def _train(model, data, args):
    """:func:`tfp_flows.training.fit_flow` with the command's settings (the validation rows
    are split off by :func:`load_data`); returns its ``History``."""
    import keras

    from tfp_flows.training import fit_flow

    progress = [] if args.quiet else [progress_callback(keras, args.epochs)]
    return fit_flow(model, data.train, epochs=args.epochs, batch_size=args.batch_size,
                    learning_rate=args.lr, schedule=args.schedule, patience=args.patience,
                    validation_split=0.0, validation_data=data.val, callbacks=progress)


#: Defaults of the vector-only options (``None`` on the command line means "not given", so
#: that they can be refused for image data).
VECTOR_DEFAULTS = dict(layers=4, hidden=(64,), base="student_t")


def with_vector_defaults(args):
    """A copy of ``args`` with the vector options that were not given set to
    :data:`VECTOR_DEFAULTS`."""
    values = dict(vars(args))
    for name, default in VECTOR_DEFAULTS.items():
        if values.get(name) is None:
            values[name] = default
    return argparse.Namespace(**values)


def fit_and_write(args, command="fit"):
    """Fits, measures and writes everything into ``args.out``; returns the metrics dict.
    ``--out``, ``--data`` and the options are checked before TensorFlow is imported. Image
    data go to :func:`tfp_flows_cli.fit_images.fit_and_write_images`."""
    from tfp_flows_cli import fit_images

    start = time.perf_counter()
    out = OutputDir(args.out, args.overwrite,
                    protect=[args.data] if Path(args.data).exists() else [])
    images = fit_images.image_spec(args)
    if images is not None:
        return fit_images.fit_and_write_images(args, images, out, start, command)
    fit_images.check_vector_options(args)
    args = with_vector_defaults(args)
    if getattr(args, "context_columns", None) is not None:
        from tfp_flows_cli.fit_conditional import fit_and_write_conditional

        return fit_and_write_conditional(args, out, start, command)
    check_data(args)
    quiet_tensorflow_startup()
    data = load_data(args)
    import keras

    from tfp_flows.flows import build_flow

    if data.width < 2 and args.flow not in ("maf", "iaf"):
        raise CLIError(f"a {args.flow} flow splits the columns into two groups and needs at "
                       f"least 2; {args.data} has 1 column: use --flow maf or iaf")
    with out:
        keras.utils.set_random_seed(args.seed)
        try:
            model = build_flow(args.flow, event_shape=data.width, num_layers=args.layers,
                               hidden_units=args.hidden, seed=args.seed,
                               base_distribution=getattr(args, "base", "student_t"))
        except ValueError as err:
            raise CLIError(f"cannot build a {args.flow} flow for {data.width}-column data: "
                           f"{first_line(err)}") from None
        fitted = _train(model, data, args)
        history = fitted.history
        train_nll, _ = _mean_nll(model, data.train)
        val_nll, _ = _mean_nll(model, data.val)
        test_nll, test_se = _mean_nll(model, data.test)
        if not all(v is None or math.isfinite(v) for v in (train_nll, val_nll, test_nll)):
            raise CLIError(f"training diverged (the NLL is not finite); try a smaller --lr "
                           f"(now {args.lr:g}) or fewer --layers")
        losses = history.get("loss", [])
        metrics = {
            "written_by": f"tfp-flows {command}",
            "data": args.data,
            "data_kind": data.kind,
            "flow": args.flow,
            "event_shape": [data.width],
            "n_rows": {"train": len(data.train), "validation": len(data.val),
                       "test": len(data.test)},
            "train_nll_nats": train_nll,
            "validation_nll_nats": val_nll,
            "test_nll_nats": test_nll,
            "test_nll_std_error_nats": test_se,
            "nll_space": "data units (the model standardises inside itself)",
        }
        if data.truth is not None:
            from tfp_flows.training import kl_to_truth

            kl = kl_to_truth(model, data.truth, num_samples=N_TRUTH_TEST, seed=args.seed + 1)
            metrics.update(kl_to_truth_nats=kl.value,
                           true_entropy_nats=float(data.truth.entropy()),
                           test_set=f"{N_TRUTH_TEST} fresh samples from the true distribution")
        else:
            metrics.update(test_set=f"{len(data.test)} held-out rows of the file")
        metrics.update({
            "epochs_run": len(losses),
            "best_epoch": fitted.best_epoch,
            "stopped_by": fitted.stopped_by,
            "stopped_on_nan": fitted.stopped_by == "non_finite_loss",
            "train_time_s": round(fitted.seconds, 3),
            "num_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "settings": {
                "data": args.data, "flow": args.flow, "epochs": args.epochs,
                "layers": args.layers, "hidden_units": list(args.hidden),
                "batch_size": args.batch_size, "lr": args.lr, "schedule": args.schedule,
                "base_distribution": getattr(args, "base", "student_t"),
                "patience": args.patience, "seed": args.seed,
                "validation_split": args.validation_split,
                "n_train": (args.n_train or DEFAULT_N_TRAIN) if data.kind == "toy" else None,
            },
            "versions": versions(),
            "history": {k: [finite_or_none(float(v)) for v in vs] for k, vs in history.items()},
        })
        model.save(out.path / "model.keras")
        written, skipped = write_vector_plots(out.path, model, data, history, args.seed)
        metrics["files"] = ["model.keras", "metrics.json"] + written
        if skipped:
            metrics["plots_skipped"] = skipped
        metrics["wall_time_s"] = round(time.perf_counter() - start, 3)
        (out.path / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False)
                                               + "\n")
        out.commit()
    return metrics


def run_fit(args):
    """``tfp-flows fit``."""
    metrics = fit_and_write(args)
    if metrics["data_kind"] == "images":
        print(image_summary(metrics, args.out))
    elif "context_columns" in metrics:
        print(conditional_summary(metrics, args.out))
    else:
        print(vector_summary(metrics, args.out))
    return 0


#: What ``tfp-flows demo`` writes; a directory holding only these, with a metrics.json
#: saying ``"written_by": "tfp-flows demo"``, is the demo's own and a new demo replaces it.
DEMO_FILES = ("model.keras", "metrics.json", "loss.png", "samples.png", "density.png",
              "layers.png")


def is_demo_output(folder):
    """True if ``folder`` is a directory a previous ``tfp-flows demo`` wrote."""
    folder = Path(folder)
    try:
        if folder.is_symlink() or not folder.is_dir():
            return False
        names = {p.name for p in folder.iterdir()}
        written_by = json.loads((folder / "metrics.json").read_text()).get("written_by")
    except (OSError, ValueError, AttributeError):
        return False
    return written_by == "tfp-flows demo" and names <= set(DEMO_FILES)


def run_demo(args):
    """``tfp-flows demo``: :data:`DEMO_SETTINGS` (or the quick ones) on two moons. A second
    run replaces the first one's output directory (see :func:`is_demo_output`)."""
    settings = DEMO_QUICK_SETTINGS if args.quick else DEMO_SETTINGS
    replaces = is_demo_output(args.out)
    fit_args = argparse.Namespace(data="moons", out=args.out,
                                  overwrite=args.overwrite or replaces,
                                  seed=args.seed, quiet=args.quiet, **settings)
    OutputDir(fit_args.out, fit_args.overwrite)   # refuse a bad --out before the banner
    if not args.quiet:
        took = "a few seconds" if args.quick else DEMO_DURATION
        print(f"tfp-flows demo: fitting a {settings['flow']} flow ({settings['layers']} "
              f"layers) to two moons ({settings['n_train']} points, up to "
              f"{settings['epochs']} epochs); {took}", flush=True)
        if replaces:
            print(f"(replacing the previous demo's {args.out}/ when done)", flush=True)
    metrics = fit_and_write(fit_args, command="demo")
    print(vector_summary(metrics, args.out))
    folder = Path(args.out)
    print(f"\nKL(true two moons || flow) = {metrics['kl_to_truth_nats']:.4f} nats "
          f"in {metrics['wall_time_s']:.0f} s.")
    print(f"Pictures: {folder / 'density.png'} (model vs true density), "
          f"{folder / 'samples.png'}, {folder / 'layers.png'}, {folder / 'loss.png'}")
    return 0
