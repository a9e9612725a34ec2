"""``--data`` of ``tfp-flows fit`` for vectors: its kind (a toy set, whose exact density
gives the KL to the truth on 20,000 fresh test rows; a ``.csv`` / ``.npy`` of rows, 10% held
out as test rows; with ``--context-columns``, rows of ``x`` and contexts ``c``), its checks
before TensorFlow is imported, and the split into :class:`Data` (validation rows by
:func:`tfp_flows.fit_data.split_rows`, as ``fit_flow`` splits). Rows keep the data's units."""
from pathlib import Path

import numpy as np

from tfp_flows_cli.context import Layout, peek_columns
from tfp_flows_cli.errors import CLIError
from tfp_flows_cli.files import DATA_EXTENSIONS, check_data_file, peek_npy
from tfp_flows_cli.options import IMAGE_DATA_NAMES, TOY_DATA_NAMES

SPLITS = ("train", "validation", "test")
N_TRUTH_TEST = 20_000
TEST_FRACTION = 0.1
MIN_ROWS = 10
DEFAULT_N_TRAIN = 1000
#: Image-only options of ``fit``: attribute name -> option.
IMAGE_OPTIONS = {"num_levels": "--num-levels", "num_scales": "--num-scales",
                 "hidden_channels": "--hidden-channels", "num_blocks": "--num-blocks",
                 "num_steps": "--num-steps"}
#: The metrics.json keys of a vector run: a split's NLL, the test NLL's standard error,
#: and the test NLL given shuffled contexts.
NLL_KEYS = ("{}_nll_nats", "test_nll_std_error_nats", "test_nll_shuffled_context_nats")


class Data:
    """Rows to fit and measure: ``x[split]`` and ``c[split]`` (contexts, or ``None``) for
    each split of :data:`SPLITS`, and what is known about them (``truth``, ``layout``,
    ``num_levels``, ...)."""

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
        """What the builder is told about the data."""
        return {"event_shape": self.event_shape, "context_size": self.context_size,
                "num_levels": self.num_levels}


def split(arrays, fraction, seed=None):
    """``(kept, held)``: :func:`tfp_flows.fit_data.split_rows` of ``arrays`` (shuffled
    together with ``seed`` first, if given); ``held`` holds empty arrays for no rows."""
    from tfp_flows.fit_data import split_rows

    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(arrays[0]))
        arrays = [None if a is None else a[order] for a in arrays]
    kept, held = split_rows(arrays, fraction)
    return kept, held or [None if a is None else a[:0] for a in arrays]


def is_file(spec):
    path = Path(spec)
    return path.suffix.lower() in DATA_EXTENSIONS or path.exists()


def check_vectors(args):
    """The checks of vector ``--data`` that need no TensorFlow; returns the file's
    :class:`Layout` for ``--context-columns`` (``None`` otherwise)."""
    if getattr(args, "condition_on_labels", False):
        raise CLIError(f"--condition-on-labels applies to image data sets with labels "
                       f"({', '.join(IMAGE_DATA_NAMES)}); {args.data} is vector data: name "
                       "its context columns with --context-columns")
    _refuse_image_options(args)
    if not is_file(args.data):
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
    check_data_file(args.data)
    if args.n_train is not None:
        raise CLIError("--n-train applies to toy data sets and image data only; all rows "
                       "of a file of vectors are used")
    names, width = peek_columns(args.data)
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
    given = [option for name, option in IMAGE_OPTIONS.items()
             if getattr(args, name, None) is not None]
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


def load_vectors(args, layout, validation_split):
    """Reads and splits the rows (after TensorFlow is imported); returns a :class:`Data`."""
    from tfp_flows.datasets import load_array, load_toy

    if not is_file(args.data):
        key = args.data.strip().lower().replace("-", "_")
        x, truth = load_toy(key, n_train=args.n_train or DEFAULT_N_TRAIN, seed=args.seed,
                            standardize=False)
        (train,), (val,) = split([x], validation_split)
        test = truth.sample(N_TRUTH_TEST, seed=args.seed + 1)
        return Data("toy", {"train": train, "validation": val, "test": test}, truth=truth,
                    test_set=f"{N_TRUTH_TEST} fresh samples from the true distribution")
    try:
        rows = load_array(args.data).astype(np.float64)
    except (ValueError, OSError) as err:
        raise CLIError(str(err)) from None
    if len(rows) < MIN_ROWS:
        raise CLIError(f"{args.data} has {len(rows)} rows; at least {MIN_ROWS} are needed "
                       "(10% are held out as test rows)")
    (rest,), (test,) = split([rows], TEST_FRACTION, seed=args.seed)
    (train,), (val,) = split([rest], validation_split)
    rows = {"train": train, "validation": val, "test": test}
    test_set = f"{len(test)} held-out rows of the file"
    if args.context_columns is None:
        return Data("file", rows, test_set=test_set)
    if layout is None:   # the first line could not be peeked; the loader read the file
        layout = Layout.from_spec(args.context_columns, args.data, None, train.shape[1])
    return Data("file", {s: r[:, layout.x] for s, r in rows.items()},
                {s: r[:, layout.context] for s, r in rows.items()}, layout=layout,
                test_set=test_set)
