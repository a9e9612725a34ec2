"""Input files of ``tfp-flows`` (data files, models), checked before TensorFlow is imported;
only :func:`load_flow_model` imports it."""
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

from tfp_flows_cli.errors import CLIError, first_line

#: File types ``--data`` / ``log-prob FILE`` accept (those of
#: :data:`tfp_flows.datasets.SUPPORTED_EXTENSIONS`; listed here to need no TensorFlow).
DATA_EXTENSIONS = (".csv", ".npy")

#: How long ``tfp-flows demo`` takes (its help, its banner and README.md say so; measured
#: on an idle 2-core machine: 42 s of fitting and about a minute in all, since nsf's spline
#: traces in seconds; a busy machine takes about twice as long).
DEMO_DURATION = "about 1 to 2 minutes on two CPU cores"

#: The members every ``.keras`` archive holds (Keras 3 saving format).
_KERAS_MEMBERS = ("config.json", "metadata.json")


def quiet_tensorflow_startup():
    """Imports TensorFlow with file descriptor 2 pointing to a temporary file, so that the
    C++ start-up lines ("failed call to cuInit", ...) that TF prints before its logging
    honours ``TF_CPP_MIN_LOG_LEVEL`` do not reach the terminal (unless start-up fails)."""
    if "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            os.write(2, log.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def check_data_file(path, what="data file"):
    """Checks a ``.csv`` / ``.npy`` table without reading it all: it exists, a ``.npy`` is
    complete (:func:`peek_npy`), and a CSV's first line is not a row of numbers some of which
    are nan / inf (which ``load_array`` would take for a header). Returns ``(names, width)``:
    the CSV header (a first line with no number in it, as ``load_array`` reads it) or
    ``None``, and the number of columns (``None`` if it cannot be told: the loader says)."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"{what} not found: {path}")
    if path.is_dir():
        raise CLIError(f"{path} is a directory, expected a .csv or .npy file")
    if path.suffix.lower() not in DATA_EXTENSIONS:
        raise CLIError(f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; "
                       f"expected {' or '.join(DATA_EXTENSIONS)}")
    if path.suffix.lower() == ".npy":
        shape = peek_npy(path)[0]
        return None, (None if len(shape) > 2 else 1 if len(shape) == 1 else shape[1])
    fields, line = _first_csv_line(path)
    if fields is None:
        return None, None   # load_array reports it, with the line and column
    values = [_number(text) for text in fields]
    if None in values:   # a header (or a bad row: load_array says which)
        return (fields if values.count(None) == len(values) else None), len(fields)
    for col, (text, value) in enumerate(zip(fields, values), start=1):
        if not math.isfinite(value):
            raise CLIError(f"{path} line {line}, column {col}: {text!r} is not a finite "
                           "number (expected a finite number, or a header line of column "
                           "names)")
    return None, len(fields)


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def _first_csv_line(path):
    """``(fields, line number)`` of a CSV's first non-empty line, else ``(None, 0)``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for fields in reader:
                if fields and any(v.strip() for v in fields):
                    return [v.strip() for v in fields], reader.line_num
    except (UnicodeDecodeError, csv.Error, OSError):
        pass
    return None, 0


def check_model_file(path):
    """Checks a ``.keras`` file: a complete zip archive (CRCs checked, so that Keras does not
    report a truncated copy as "File not found") holding a Keras model. Returns the model's
    ``config`` from its ``config.json`` (``{}`` if unreadable: Keras reports it on loading):
    a tfp_flows model's has ``event_shape``, ``context_size`` and ``num_levels`` (``None``
    for vector models)."""
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"model file not found: {path}" if not path.exists() else
                       f"{path} is a directory, expected a .keras model file (e.g. "
                       f"{path / 'model.keras'})")
    if path.suffix != ".keras":
        raise CLIError(f"{path} is not a .keras model file (the name must end in .keras)")
    written = "as written by 'tfp-flows fit' or model.save"
    corrupt = f"{path} is a corrupt or truncated .keras model file (expected a complete zip " \
              f"archive {written}; got"
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise CLIError(f"{path} is not a valid .keras model: not a zip archive (a "
                               f".keras file is one, {written})")
        with zipfile.ZipFile(path) as archive:
            names, bad = set(archive.namelist()), archive.testzip()
            text = archive.read("config.json") if bad is None and "config.json" in names \
                else b"{}"
    except OSError as err:
        raise CLIError(f"cannot read model file {path}: {err.strerror or err}") from None
    except (zipfile.BadZipFile, EOFError, ValueError, RuntimeError) as err:
        raise CLIError(f"{corrupt} a zip archive that ends early or is damaged: "
                       f"{first_line(err)})") from None
    if bad is not None:
        raise CLIError(f"{corrupt} a damaged member {bad})")
    missing = [m for m in _KERAS_MEMBERS if m not in names]
    if missing:
        raise CLIError(f"{path} is not a valid .keras model: the zip archive has no "
                       f"{missing[0]} (expected a model {written})")
    try:
        config = json.loads(text).get("config", {})
    except (ValueError, AttributeError):
        return {}
    return config if isinstance(config, dict) else {}


def load_flow_model(path):
    """Imports TensorFlow and loads a ``.keras`` file checked by :func:`check_model_file`
    with :func:`tfp_flows.load_model`; any failure becomes a :class:`CLIError`."""
    quiet_tensorflow_startup()
    import tfp_flows

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = tfp_flows.load_model(path)
    except Exception as err:
        raise CLIError(f"{path} is not a valid .keras model: {first_line(err)}") from None
    if not isinstance(model, tfp_flows.FlowModel):
        raise CLIError(f"{path} is a Keras model but not a tfp_flows flow "
                       f"(got {type(model).__name__})")
    return model


def peek_npy(path):
    """``(shape, dtype)`` from a ``.npy`` file's header, if the file holds all the bytes it
    announces (else, or if it is no ``.npy`` array of numbers, a :class:`CLIError`)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version[0] == 1
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(f)
            data_bytes = os.fstat(f.fileno()).st_size - f.tell()
    except OSError as err:
        raise CLIError(f"cannot read {path}: {err.strerror or err}") from None
    except Exception:   # noqa: BLE001  numpy's ValueError, EOFError, SyntaxError, ...
        data_bytes, shape, dtype = -1, (), np.dtype("f8")
    if dtype.hasobject:
        raise CLIError(f"cannot read {path}: it holds Python objects, not an array of numbers")
    if data_bytes < math.prod(shape) * dtype.itemsize:
        raise CLIError(f"cannot read {path}: not a valid .npy file (truncated or corrupt)")
    return tuple(int(s) for s in shape), dtype


def shape_text(shape):
    """``(8, 8, 1)`` -> ``'8x8x1'``."""
    return "x".join(str(int(s)) for s in shape)

