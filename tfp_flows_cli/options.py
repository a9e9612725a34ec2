"""The options of ``tfp-flows`` and their argparse types (no TensorFlow needed): the names
``--flow``, ``--data`` and ``--schedule`` accept, and the option groups the subcommands
share. :func:`tfp_flows_cli.build_parser` puts them together."""
import argparse

from tfp_flows_cli.context import column_list, label_list, number_list

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


def number_type(parse, accept, expected):
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


positive_int = number_type(int, lambda v: v >= 1, "a positive integer")
non_negative_int = number_type(int, lambda v: v >= 0, "a non-negative integer")
level_count = number_type(int, lambda v: 2 <= v <= 2**16, "an integer from 2 to 65536")
positive_float = number_type(float, lambda v: 0 < v < float("inf"), "a positive number")
fraction = number_type(float, lambda v: 0.0 <= v < 0.5, "a number in [0, 0.5)")
#: Seeds: numpy, Keras and TensorFlow all accept 0 .. 2**31 - 1 (fit also uses seed + 1).
seed_value = number_type(int, lambda v: 0 <= v < 2**31 - 1, "an integer from 0 to 2147483646")


def hidden_units(text):
    """``"64"`` -> ``(64,)``, ``"64,64"`` -> ``(64, 64)``.

    Example:
        >>> hidden_units("32, 16")
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


def add_common(parser):
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress output (errors and the final summary only)")
    parser.add_argument("--traceback", action="store_true",
                        help="on an unexpected error, show the Python traceback")


def add_training_options(parser):
    parser.add_argument("--epochs", type=positive_int, default=100, metavar="N",
                        help="maximum number of epochs (default 100)")
    parser.add_argument("--layers", type=positive_int, default=None, metavar="N",
                        help="vector data: number of flow layers (default 4)")
    parser.add_argument("--hidden", type=hidden_units, default=None, metavar="UNITS",
                        help="vector data: hidden units of each conditioner network: 64, or a "
                             "comma list such as 64,64 for two hidden layers (default 64)")
    parser.add_argument("--batch-size", type=positive_int, default=128, metavar="N",
                        help="minibatch size (default 128)")
    parser.add_argument("--lr", type=positive_float, default=1e-3,
                        help="Adam learning rate (default 1e-3)")
    parser.add_argument("--base", choices=("student_t", "normal"), default=None,
                        help="the flow's base distribution: student_t (heavy tails: sane "
                             "densities far from the data; the default for vector data) or "
                             "normal (the default for images)")
    parser.add_argument("--schedule", choices=SCHEDULE_NAMES, default="cosine",
                        help="learning-rate schedule: cosine decay to 1%% of --lr over "
                             "--epochs; plateau, halving it after 10 epochs without a better "
                             "validation loss; or constant (default cosine)")
    parser.add_argument("--patience", type=positive_int, default=20, metavar="N",
                        help="early stopping: epochs without a better validation loss "
                             "before training stops; the best weights are kept (default 20)")
    parser.add_argument("--seed", type=seed_value, default=0, metavar="N",
                        help="random seed, 0 to 2147483646 (default 0)")
    parser.add_argument("--validation-split", type=fraction, default=0.1, metavar="FRACTION",
                        help="fraction of the training rows held out for validation and "
                             "early stopping, in [0, 0.5) (default 0.1)")
    parser.add_argument("--n-train", type=positive_int, default=None, metavar="N",
                        help="toy data: number of training points drawn (default 1000); "
                             "image data: use only the first N training images (a quick "
                             "run; the test images stay all there); not for vector files")


def add_conditional_fit_options(parser):
    group = parser.add_argument_group(
        "conditional flows", "fit p(x | c), the density of x given a context c: the model "
                             "then takes a context in 'sample' and 'log-prob'")
    group.add_argument("--context-columns", type=column_list, default=None, metavar="COLS",
                       help="a .csv / .npy file of rows: the columns that hold the context c, "
                            "as 0-based indices (2,3; -1 is the last) or, for a CSV with a "
                            "header line, names (age,dose), in the order the context takes "
                            "them; the other columns are x. metrics.json records them, and "
                            "the test NLL -log p(x | c) with the true and with shuffled "
                            "contexts")
    group.add_argument("--condition-on-labels", action="store_true",
                       help=f"image data sets with labels ({', '.join(IMAGE_DATA_NAMES)}): "
                            "fit p(image | label), the label as a one-hot context; "
                            "samples.png gets one row per class")


def add_context_options(parser, command):
    group = parser.add_argument_group(
        "conditional models", "a model fitted with --context-columns or "
                              "--condition-on-labels needs a context (and the others take "
                              "none); give at most one of these")
    one = group.add_mutually_exclusive_group()
    each = ("every row" if command == "log-prob" else "all samples")
    one.add_argument("--context", type=number_list, default=None, metavar="VALUES",
                     help=f"one context for {each}: K comma-separated numbers, in the "
                          "order of the context columns at fit time (e.g. 0.5,-1.2)")
    one.add_argument("--context-file", default=None, metavar="FILE.csv|FILE.npy",
                     help=("one context per row of FILE (or one row for all), K columns, or "
                           "a CSV whose header names the context columns among others; "
                           "FILE then holds the x columns (found by their names in its "
                           "header if it has more)" if command == "log-prob" else
                           "one context per row, K columns (or a CSV whose header names the "
                           "context columns among others): N samples for each")
                          + "; image models also take one integer class label per row")
    one.add_argument("--label", type=label_list, default=None,
                     metavar="L" if command == "log-prob" else "L[,L...]",
                     help="image models fitted with --condition-on-labels: the class, as "
                          "the one-hot context" + (
                              " (every image is scored given it)" if command == "log-prob"
                              else "; several labels give N images for each, label by "
                                   "label"))
    if command == "log-prob":
        one.add_argument("--context-columns", type=column_list, default=None,
                         metavar="COLS",
                         help="vector models: the columns of FILE that hold the context "
                              "(indices or header names, as for 'fit'); by default those "
                              "recorded in the metrics.json next to the model, found by "
                              "name in FILE's header, else by position")


def add_image_options(parser):
    group = parser.add_argument_group(
        "image options", "for image data only (digits, mnist5k, a .npy of integer images) "
                         "with --flow real_nvp or glow; the defaults are the builders'")
    group.add_argument("--num-levels", type=level_count, default=None, metavar="K",
                       help="pixel levels of a .npy image file: pixels are integers in "
                            "[0, K) (default 256; digits has 17 and mnist5k 256, fixed)")
    group.add_argument("--num-scales", type=positive_int, default=None, metavar="N",
                       help="scales of the multiscale flow; each squeeze halves the height "
                            "and width, which must then be even (default: as many as the "
                            "image size allows, at most 3)")
    group.add_argument("--hidden-channels", type=positive_int, default=None, metavar="N",
                       help="channels of the ResNet conditioners' convolutions (default 64)")
    group.add_argument("--num-blocks", type=non_negative_int, default=None, metavar="N",
                       help="residual blocks per conditioner (default: real_nvp 2, glow 0)")
    group.add_argument("--num-steps", type=positive_int, default=None, metavar="N",
                       help="glow only: steps (ActNorm, 1x1 convolution, coupling) per "
                            "scale (default 4)")
