"""The command line of ``tfp-flows``: :func:`build_parser`, its option groups and argparse
types (no TensorFlow needed). Options carry the library's names (``--num-layers`` is the
builders' ``num_layers``, ``--learning-rate`` is ``fit_flow``'s ``learning_rate``); an option
left out is not passed, so the library's default applies. The old spellings in
:data:`RENAMED` still work, with a deprecation note on stderr."""
import argparse
import math
import re
import sys

from tfp_flows_cli.errors import PROG, warning_line
from tfp_flows_cli.files import DEMO_DURATION
from tfp_flows_cli.report import package_version

#: Flow names accepted by ``--flow`` (the keys of :data:`tfp_flows.flows.BUILDERS`; listed
#: here so that building the parser needs no TensorFlow).
FLOW_NAMES = ("maf", "iaf", "real_nvp", "nice", "glow", "nsf")
#: Learning-rate schedules (those of :data:`tfp_flows.training.SCHEDULES`).
SCHEDULE_NAMES = ("cosine", "plateau", "constant")
#: Toy data set names (those of :data:`tfp_flows.datasets.TOY_NAMES`).
TOY_DATA_NAMES = ("moons", "circles", "banana", "eight_gaussians", "checkerboard", "spirals")
#: Image data sets: :func:`tfp_flows.datasets.digits` and :func:`~tfp_flows.datasets.mnist5k`.
IMAGE_DATA_NAMES = ("digits", "mnist5k")
#: The flows that have a multiscale image version (``event_shape=(H, W, C)``).
IMAGE_FLOW_NAMES = ("real_nvp", "glow")
#: Deprecated spellings (one release) -> the library's names.
RENAMED = {"--layers": "--num-layers", "--hidden": "--hidden-units", "--lr": "--learning-rate",
           "--base": "--base-distribution", "--draws": "--num-draws"}


def number_type(parse, accept, expected, many=False):
    """An argparse ``type``: a value (or with ``many``, comma-separated values) that
    ``parse`` reads and ``accept`` accepts.

    Example:
        >>> hidden_units("32, 16"), column_list("2,-1"), column_list("age, dose")
        ((32, 16), (2, -1), ('age', 'dose'))
    """

    def convert(text):
        try:
            values = tuple(parse(part.strip()) for part in text.split(",") if many or part)
        except ValueError:
            values = ()
        if len(values) != (len(text.split(",")) if many else 1) or not all(map(accept, values)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return values if many else values[0]

    return convert


positive_int = number_type(int, lambda v: v >= 1, "a positive integer")
non_negative_int = number_type(int, lambda v: v >= 0, "a non-negative integer")
level_count = number_type(int, lambda v: 2 <= v <= 2**16, "an integer from 2 to 65536")
positive_float = number_type(float, lambda v: 0 < v < math.inf, "a positive number")
fraction = number_type(float, lambda v: 0.0 <= v < 0.5, "a number in [0, 0.5)")
#: Seeds: numpy, Keras and TensorFlow all accept 0 .. 2**31 - 1 (fit also uses seed + 1).
seed_value = number_type(int, lambda v: 0 <= v < 2**31 - 1, "an integer from 0 to 2147483646")
hidden_units = number_type(int, lambda v: v >= 1, "positive integers separated by commas "
                           "(e.g. 64 or 64,64)", many=True)
number_list = number_type(float, math.isfinite, "finite numbers separated by commas (e.g. "
                          "0.5,1.2)", many=True)
label_list = number_type(int, lambda v: v >= 0, "a class label, a non-negative integer (or "
                         "several separated by commas)", many=True)


def column_list(text):
    """``--context-columns``: 0-based indices ``(2, 3)`` or header names ``('age', 'dose')``."""
    items = [part.strip() for part in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"expected column names or 0-based column indices "
                                         f"separated by commas (e.g. 2,3 or age,dose), got "
                                         f"{text!r}")
    indices = [int(i) if i.lstrip("+-").isdigit() else None for i in items]
    if None not in indices:
        return tuple(indices)
    if any(i is not None for i in indices):
        raise argparse.ArgumentTypeError(f"expected either column names or column indices, "
                                         f"got a mix: {text!r}")
    return tuple(items)


def given_options(args, *names):
    """The options (``--context-file``) of the attributes ``names`` (``context_file``) that
    the command line gave (absent from ``args`` or ``None``: not given)."""
    return [f"--{name.replace('_', '-')}" for name in names
            if getattr(args, name, None) is not None]


class _Store(argparse.Action):
    """``store``, with a one-line note on stderr when a deprecated spelling is used."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string in RENAMED:
            print(warning_line(f"{option_string} is deprecated; use {RENAMED[option_string]}"),
                  file=sys.stderr)
        setattr(namespace, self.dest, values)


def _add(parser, name, help, **kwargs):
    """An option ``name`` and, if it was renamed, its old spelling as a deprecated alias."""
    old = [o for o, new in RENAMED.items() if new == name]
    if old:
        help += f" ({old[0]}: deprecated spelling)"
    parser.add_argument(name, *old, action=_Store, help=help, **kwargs)


class _UsageError(Exception):
    """A malformed command line (argparse's complaint, kept to one line)."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read "--learning-rate -1e-3", "--context -0.5,2" and "--context-columns -1" as
        # (bad) values, not as options: argparse's own pattern knows no exponents or lists.
        number = r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
        self._negative_number_matcher = re.compile(rf"^-{number[2:]}(,\s*{number})*$")

    def error(self, message):
        command = self.prog[len(PROG):].strip()
        where = f"{command}: " if command else ""
        raise _UsageError(f"{where}{message} (see '{self.prog} --help')")


def _add_seed(parser, default=0, help="random seed, 0 to 2147483646 (default 0)"):
    parser.add_argument("--seed", type=seed_value, default=default, metavar="N", help=help)


def add_fit_options(parser):
    """fit_flow's, the builders' and the data's options: left out, the library's defaults
    apply (``--epochs``: 100)."""
    parser.add_argument("--epochs", type=positive_int, default=100, metavar="N",
                        help="maximum number of epochs (default 100)")
    for name, kind, metavar, text in [
            ("--num-layers", positive_int, "N", "vector data: number of flow layers"),
            ("--hidden-units", hidden_units, "UNITS", "vector data: hidden units of each "
             "conditioner network, e.g. 64 or 64,64 for two hidden layers"),
            ("--batch-size", positive_int, "N", "minibatch size"),
            ("--learning-rate", positive_float, "RATE", "Adam's learning rate"),
            ("--schedule", None, None, "learning-rate schedule"),
            ("--patience", positive_int, "N", "early stopping: epochs without a better "
             "validation loss; the best weights are kept"),
            ("--validation-split", fraction, "FRACTION", "fraction of the training rows "
             "held out for validation, in [0, 0.5)"),
            ("--base-distribution", None, None, "the flow's base distribution")]:
        choices = {"--schedule": SCHEDULE_NAMES,
                   "--base-distribution": ("student_t", "normal")}.get(name)
        _add(parser, name, type=kind, metavar=metavar, choices=choices,
             help=f"{text} (default: the library's)")
    _add_seed(parser)
    parser.add_argument("--n-train", type=positive_int, default=None, metavar="N",
                        help="toy data: training points drawn (default 1000); image data: use "
                             "only the first N training images; not for vector files")
    group = parser.add_argument_group("conditional flows", "fit p(x | c), the density of x "
                                      "given a context c")
    group.add_argument("--context-columns", type=column_list, default=None, metavar="COLS",
                       help="a .csv / .npy file of rows: the columns that hold the context c, "
                            "as 0-based indices (2,3; -1 is the last) or header names "
                            "(age,dose); the other columns are x")
    group.add_argument("--condition-on-labels", action="store_true",
                       help=f"{' or '.join(IMAGE_DATA_NAMES)}: fit p(image | label), the "
                            "label as a one-hot context")
    group = parser.add_argument_group("image options", "image data with --flow real_nvp or "
                                      "glow only; the defaults are the builders'")
    for name, kind, text in [
            ("--num-levels", level_count, "pixel levels K of a .npy image file (default "
             "256; digits has 17, mnist5k 256)"),
            ("--num-scales", positive_int, "scales of the multiscale flow"),
            ("--hidden-channels", positive_int, "channels of the ResNet conditioners"),
            ("--num-blocks", non_negative_int, "residual blocks per conditioner"),
            ("--num-steps", positive_int, "glow only: steps per scale")]:
        group.add_argument(name, type=kind, default=None, metavar="N", help=text)


def add_context_options(parser, command):
    group = parser.add_argument_group(
        "conditional models", "a model fitted with --context-columns or "
                              "--condition-on-labels needs a context; give at most one of")
    one = group.add_mutually_exclusive_group()
    log_prob = command == "log-prob"
    one.add_argument("--context", type=number_list, default=None, metavar="VALUES",
                     help="one context for all: K comma-separated numbers, in the order of "
                          "the context columns at fit time (e.g. 0.5,-1.2)")
    one.add_argument("--context-file", default=None, metavar="FILE.csv|FILE.npy",
                     help="one context per row (or one row for all): K columns, or a CSV "
                          "whose header names the context columns among others; image "
                          "models also take one integer class label per row")
    one.add_argument("--label", type=label_list, default=None, metavar="L",
                     help="image models fitted with --condition-on-labels: the class, as the "
                          "one-hot context" + ("" if log_prob else "; L,L,... for several"))
    if log_prob:
        one.add_argument("--context-columns", type=column_list, default=None, metavar="COLS",
                         help="vector models: the columns of FILE that hold the context; by "
                              "default those recorded in metrics.json next to the model")


FIT_DESCRIPTION = (
    "Fit a flow by maximum likelihood (tfp_flows.training.fit_flow) and write into --out: "
    "model.keras (densities and samples in data units), metrics.json and pictures. Vector "
    "data: NLL in nats (toy data: the KL to the exact density), loss.png, samples.png, "
    "density.png, layers.png. Image data (digits, mnist5k, a .npy of integer images; --flow "
    "real_nvp or glow): bits per dimension with its standard error, loss.png, samples.png, "
    "data_vs_samples.png. --context-columns: a conditional flow p(x | c), also measured "
    "given shuffled contexts; --condition-on-labels: samples.png has one row per class.")
SAMPLE_DESCRIPTION = (
    "Draw samples from a model written by 'fit', in the data's units: CSV (header x1,x2,..., "
    "or the fitted file's header for a conditional model; without its metrics.json c1..cK "
    "then x1..xD) or a float64 .npy. Image models: --out FILE.npy, integer images "
    "[N, H, W, C]. Conditional models: N samples for each context, context by context.")
LOG_PROB_DESCRIPTION = (
    "The log-density in nats of each row of FILE (log p(x | c) for a conditional model: FILE "
    "holds the context columns, or the contexts come from --context, --context-file or "
    "--label). Image models: bits per dimension of each image of a .npy of integer images, "
    "averaged over --num-draws dequantisations; float images: use model.log_prob in Python.")


def build_parser():
    """The ``argparse`` parser of ``tfp-flows`` (no TensorFlow needed)."""
    version = package_version("tfp_flows") or "unknown (not installed)"
    parser = _Parser(prog=PROG, description="Fit normalizing flows (TensorFlow Probability, "
                     "Keras 3) to data, sample from them and score data with them.",
                     epilog=f"Run '{PROG} COMMAND --help' for the options of a command.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = commands.add_parser("fit", description=FIT_DESCRIPTION,
                              help="fit a flow to a data set; write model, metrics, pictures")
    fit.add_argument("--data", required=True, metavar="NAME|FILE",
                     help=f"a toy data set ({', '.join(TOY_DATA_NAMES)}: exact density known, "
                          "test data drawn fresh), a .csv / .npy file of rows (10%% held out "
                          f"as test rows), an image data set ({', '.join(IMAGE_DATA_NAMES)}) "
                          "or a .npy file of integer images [N, H, W] or [N, H, W, C]")
    fit.add_argument("--flow", required=True, choices=FLOW_NAMES,
                     help=f"flow architecture (images: {' or '.join(IMAGE_FLOW_NAMES)})")
    add_fit_options(fit)
    fit.add_argument("--out", required=True, metavar="DIR", help="output directory")

    sample = commands.add_parser("sample", description=SAMPLE_DESCRIPTION,
                                 help="draw samples from a fitted model into a CSV or NPY file")
    sample.add_argument("model", metavar="MODEL.keras", help="a model written by 'fit'")
    sample.add_argument("-n", "--num-samples", type=positive_int, default=1000, metavar="N",
                        help="number of samples (default 1000)")
    sample.add_argument("--out", metavar="FILE.csv|FILE.npy",
                        help="output file: .npy for a NumPy array (required for image "
                             "models), otherwise CSV (default: CSV to standard output)")
    _add_seed(sample)
    sample.add_argument("--temperature", type=positive_float, default=1.0, metavar="T",
                        help="scale the base sample z by T, a finite positive number (Glow's "
                             "reduced temperature: T < 1 gives cleaner, less varied samples; "
                             "default 1, the model itself; huge T overflows float32)")
    add_context_options(sample, "sample")

    log_prob = commands.add_parser("log-prob", description=LOG_PROB_DESCRIPTION,
                                   help="log-density of each row (bits/dim of each image)")
    log_prob.add_argument("model", metavar="MODEL.keras", help="a model written by 'fit'")
    log_prob.add_argument("data", metavar="FILE", help="a .csv or .npy file, one point per "
                          "row; for image models a .npy of integer images")
    log_prob.add_argument("--out", metavar="FILE.csv", help="write a CSV with header log_prob "
                          "(image models: bits_per_dim) instead of printing the values")
    _add(log_prob, "--num-draws", type=positive_int, metavar="N",
         help="image models: dequantisation draws per image (default 4)")
    _add_seed(log_prob, None, "image models: seed of the dequantisation noise (default 0)")
    add_context_options(log_prob, "log-prob")

    demo = commands.add_parser(
        "demo", help=f"fit a flow to two moons ({DEMO_DURATION})",
        description="Fit a neural spline flow (nsf: 4 spline coupling layers) to 20,000 "
                    "points of two moons, then print the KL divergence to the exact density "
                    f"and where the pictures are. Takes {DEMO_DURATION}. A second run "
                    "replaces the first one's output directory.")
    demo.add_argument("--out", default="demo_output", metavar="DIR",
                      help="output directory (default ./demo_output)")
    demo.add_argument("--quick", action="store_true",
                      help="a few seconds' version with tiny settings (a smoke test)")
    _add_seed(demo)
    for command in (fit, sample, log_prob, demo):   # the options every command ends with
        command.add_argument("--overwrite", action="store_true",
                             help="replace --out if it exists (a directory: and is not empty)")
        command.add_argument("-q", "--quiet", action="store_true",
                             help="no progress output (errors and the final summary only)")
        command.add_argument("--traceback", action="store_true",
                             help="on an unexpected error, show the Python traceback")
    return parser
