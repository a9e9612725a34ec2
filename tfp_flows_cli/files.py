"""Pieces shared by the ``tfp-flows`` subcommands: checking input files and models before
TensorFlow is imported, loading a model, formatting rows and pixels. The one-line errors live
in :mod:`tfp_flows_cli.errors` and the all-or-nothing output in :mod:`tfp_flows_cli.output`;
both are importable from here too.

TensorFlow and Keras are imported inside the functions that need them.
"""
import csv
import json
import math
import os
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from tfp_flows_cli.errors import (  # noqa: F401  (re-exported)
    ERROR_PREFIX,
    PROG,
    WARNING_PREFIX,
    CLIError,
    error_line,
    first_line,
    warning_line,
)
from tfp_flows_cli.output import (  # noqa: F401  (re-exported)
    OutputDir,
    check_output_file,
    npy_bytes,
    write_bytes_atomically,
    write_text_atomically,
)

#: File types ``--data`` / ``log-prob FILE`` accept (those of
#: :data:`tfp_flows.datasets.SUPPORTED_EXTENSIONS`; listed here to need no TensorFlow).
DATA_EXTENSIONS = (".csv", ".npy")

#: How long ``tfp-flows demo`` takes (said by its help, its banner and README.md). Measured
#: with ``time tfp-flows demo`` on a 2-core machine shared with other jobs: 3 min 31 s wall
#: (1 min 57 s user CPU); TensorFlow start-up, evaluation and plots are ~15 s of it.
DEMO_DURATION = "about 2 to 4 minutes on two CPU cores"

#: The members every ``.keras`` archive holds (Keras 3 saving format).
_KERAS_MEMBERS = ("config.json", "metadata.json")


def quiet_tensorflow_startup():
    """Imports TensorFlow and creates its devices with file descriptor 2 pointing to a
    temporary file, so that the C++ start-up lines ("oneDNN custom operations are on",
    "failed call to cuInit" on machines without a GPU, ...) do not reach the terminal:
    TF 2.21 prints them before its logging honours ``TF_CPP_MIN_LOG_LEVEL``. If start-up
    fails, what was captured is written to stderr before the exception propagates.

    Subcommands call it after the checks that need no TensorFlow, so that a mistyped path
    is reported at once rather than after the ~5 s TensorFlow takes to import."""
    if "tensorflow" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:
        saved = None
    with tempfile.TemporaryFile() as log:
        if saved is not None:
            os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            if saved is not None:
                os.dup2(saved, 2)
                log.seek(0)
                os.write(2, log.read())
            raise
        finally:
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)


def check_data_file(path, what="data file"):
    """Checks a ``.csv`` / ``.npy`` input without reading it all (no TensorFlow needed):
    it exists, is a non-empty file, and a CSV's first line is not a row of numbers some of
    which are nan / inf (which ``load_array`` would take for a header)."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"{what} not found: {path}")
    if path.is_dir():
        raise CLIError(f"{path} is a directory, expected a .csv or .npy file")
    if path.suffix.lower() not in DATA_EXTENSIONS:
        raise CLIError(f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; "
                       f"expected {' or '.join(DATA_EXTENSIONS)}")
    if path.suffix.lower() == ".csv":
        _check_csv_first_line(path)


def _check_csv_first_line(path):
    """A header is a first line that does not parse as numbers; ``nan,nan`` parses (nan is
    a number), so it is a data row, and a row with a value that is not finite is an error."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for fields in reader:
                if fields and any(v.strip() for v in fields):
                    break
            else:
                return
    except (UnicodeDecodeError, csv.Error, OSError):
        return   # load_array reports these with the line and column
    try:
        values = [float(v) for v in fields]
    except ValueError:
        return   # a header (or a bad row: load_array says which)
    for col, (text, value) in enumerate(zip(fields, values), start=1):
        if not math.isfinite(value):
            raise CLIError(f"{path} line {reader.line_num}, column {col}: {text.strip()!r} "
                           "is not a finite number (expected a finite number, or a header "
                           "line of column names)")


def format_rows(values, header):
    """CSV text: ``header`` then one row per entry of ``values`` ([n] or [n, d]), with 9
    significant digits (enough to read float32 values back exactly).

    Example:
        >>> print(format_rows(np.array([[1.5, -2.0]]), ["x1", "x2"]), end="")
        x1,x2
        1.5,-2
    """
    values = np.asarray(values)
    values = values.reshape(len(values), -1)
    lines = [",".join(header)] if header else []
    lines += [",".join(f"{v:.9g}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def check_model_file(path):
    """Checks a ``.keras`` file without TensorFlow: it exists, is a file named ``*.keras``,
    and is a complete zip archive holding a Keras model (CRCs checked, so a truncated or
    damaged copy is caught here and not reported by Keras as "File not found")."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"model file not found: {path}")
    if path.is_dir():
        raise CLIError(f"{path} is a directory, expected a .keras model file "
                       f"(e.g. {path / 'model.keras'})")
    if path.suffix != ".keras":
        raise CLIError(f"{path} is not a .keras model file (the name must end in .keras)")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as err:
        raise CLIError(f"cannot read model file {path}: {err.strerror or err}") from None
    corrupt = (f"{path} is a corrupt or truncated .keras model file "
               "(expected a complete zip archive as written by 'tfp-flows fit' or model.save")
    if not zipfile.is_zipfile(path):
        if magic == b"PK\x03\x04":
            raise CLIError(f"{corrupt}; got a zip archive that ends early or is damaged)")
        raise CLIError(f"{path} is not a valid .keras model: not a zip archive (a .keras "
                       "file is one, as written by 'tfp-flows fit' or model.save)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as err:
        raise CLIError(f"{corrupt}; got: {first_line(err)})") from None
    if bad is not None:
        raise CLIError(f"{corrupt}; got a damaged member {bad})")
    missing = [m for m in _KERAS_MEMBERS if m not in names]
    if missing:
        raise CLIError(f"{path} is not a valid .keras model: the zip archive has no "
                       f"{missing[0]} (expected a model written by 'tfp-flows fit' or "
                       "model.save)")


def load_flow_model(path):
    """Loads a ``.keras`` file written by ``fit``; any failure becomes a :class:`CLIError`.
    Call :func:`check_model_file` first (before TensorFlow is imported)."""
    path = Path(path)
    check_model_file(path)
    import keras

    import tfp_flows  # noqa: F401  registers the flow classes with Keras

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.models.load_model(path)
    except Exception as err:
        raise CLIError(f"{path} is not a valid .keras model: {first_line(err)}") from None
    if not (hasattr(model, "log_prob") and hasattr(model, "sample")
            and hasattr(model, "event_shape")):
        raise CLIError(f"{path} is a Keras model but not a tfp_flows flow "
                       f"(got {type(model).__name__})")
    return model


def peek_npy(path):
    """``(shape, dtype)`` of a ``.npy`` file read from its header (the data are memory-mapped,
    not read; no TensorFlow needed), or ``None`` if it is not a readable ``.npy`` array (the
    loader reports that later, with its own message)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception:   # noqa: BLE001  any failure: not ours to report here
        return None
    if not isinstance(array, np.ndarray):
        if hasattr(array, "close"):
            array.close()
        return None
    shape, dtype = tuple(array.shape), array.dtype
    del array
    return shape, dtype


def peek_model_config(path):
    """The ``config`` of the model in a ``.keras`` file (read from its ``config.json``, no
    TensorFlow needed), or ``{}`` if it cannot be read. A tfp_flows model's config holds
    ``event_shape`` and ``num_levels`` (``None`` for vector models, ``K`` for image
    models). Call :func:`check_model_file` first."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json")).get("config", {})
    except Exception:   # noqa: BLE001  load_flow_model reports a bad file
        return {}
    return config if isinstance(config, dict) else {}


def pixel_dtype(num_levels):
    """The smallest unsigned NumPy dtype holding the pixel values ``0 .. num_levels - 1``.

    Example:
        >>> pixel_dtype(256).__name__, pixel_dtype(257).__name__
        ('uint8', 'uint16')
    """
    for dtype in (np.uint8, np.uint16, np.uint32):
        if num_levels - 1 <= np.iinfo(dtype).max:
            return dtype
    return np.uint64


def to_pixels(samples, num_levels):
    """An image flow's samples ``x + u`` in ``[0, K)`` as integer pixels: floored, clipped to
    ``0 .. K-1`` (values that are not finite become 0), of dtype :func:`pixel_dtype`.

    Example:
        >>> to_pixels(np.array([-0.2, 0.7, 3.99, 4.0, np.nan]), 4).tolist()
        [0, 0, 3, 3, 0]
    """
    x = np.asarray(samples, dtype=np.float64)
    x = np.where(np.isfinite(x), x, 0.0)
    return np.clip(np.floor(x), 0, num_levels - 1).astype(pixel_dtype(num_levels))


def shape_text(shape):
    """``(8, 8, 1)`` -> ``'8x8x1'``."""
    return "x".join(str(int(s)) for s in shape)


def event_size(model):
    return int(np.prod(model.event_shape))

