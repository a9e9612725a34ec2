"""The ``tfp-flows`` command: fit a flow to data, sample from it, score data with it.

::

    tfp-flows fit --data moons --flow maf --out runs/moons     # model, metrics, pictures
    tfp-flows sample runs/moons/model.keras -n 1000 --out samples.csv
    tfp-flows log-prob runs/moons/model.keras samples.csv
    tfp-flows demo                                              # two moons, 1 to 2 minutes

A thin shell over :mod:`tfp_flows`: this module dispatches to :mod:`~tfp_flows_cli.fit` and
:mod:`~tfp_flows_cli.predict`. Errors are one line, ``tfp-flows: error: ...``, exit status 1
(2 for a malformed command line); a library ``ValueError`` becomes that line. File mistakes
are reported before TensorFlow is imported; this module imports neither it nor matplotlib.
"""
import importlib
import os
import sys

# Before anything imports TensorFlow: no C++ INFO/WARNING chatter for command-line users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

from tfp_flows_cli.errors import CLIError, error_line  # noqa: E402
from tfp_flows_cli.options import (  # noqa: E402
    FLOW_NAMES, IMAGE_DATA_NAMES, IMAGE_FLOW_NAMES, SCHEDULE_NAMES, TOY_DATA_NAMES, _UsageError,
    build_parser)

__all__ = ["FLOW_NAMES", "IMAGE_DATA_NAMES", "IMAGE_FLOW_NAMES", "SCHEDULE_NAMES",
           "TOY_DATA_NAMES", "build_parser", "main"]

_HANDLERS = {
    "fit": ("tfp_flows_cli.fit", "run_fit"),
    "demo": ("tfp_flows_cli.fit", "run_demo"),
    "sample": ("tfp_flows_cli.predict", "run_sample"),
    "log-prob": ("tfp_flows_cli.predict", "run_log_prob"),
}


def main(argv=None):
    """Runs ``tfp-flows`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status:
    0 on success, 1 on an error, 2 for a malformed command line."""
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    except SystemExit as stop:  # --help, --version
        return stop.code if isinstance(stop.code, int) else 0
    module, name = _HANDLERS[args.command]
    try:
        # The handler checks its files first, then imports TensorFlow.
        return getattr(importlib.import_module(module), name)(args) or 0
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
