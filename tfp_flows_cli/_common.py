"""Pieces shared by the ``tfp-flows`` subcommands: one-line errors, all-or-nothing output
(a directory or a file appears only when complete), loading a model and its scaler.

TensorFlow and Keras are imported inside the functions that need them.
"""
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

PROG = "tfp-flows"
ERROR_PREFIX = f"{PROG}: error: "
_MAX_MESSAGE = 600


class CLIError(Exception):
    """Bad input or a failed step, reported as one ``tfp-flows: error: ...`` line."""


def error_line(message):
    """``message`` as one line (newlines folded, long messages cut) after the prefix.

    Example:
        >>> error_line("bad\\nthing")
        'tfp-flows: error: bad thing'
    """
    text = " ".join(str(message).split())
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 3] + "..."
    return ERROR_PREFIX + text


def first_line(err):
    """The first non-empty line of an exception's message (TF errors run to pages)."""
    for line in str(err).splitlines():
        if line.strip():
            return line.strip()
    return type(err).__name__


def quiet_tensorflow_startup():
    """Imports TensorFlow and creates its devices with file descriptor 2 pointing to a
    temporary file, so that the C++ start-up lines ("oneDNN custom operations are on",
    "failed call to cuInit" on machines without a GPU, ...) do not reach the terminal:
    TF 2.21 prints them before its logging honours ``TF_CPP_MIN_LOG_LEVEL``. If start-up
    fails, what was captured is written to stderr before the exception propagates."""
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


def _is_inside(path, directory):
    try:
        Path(path).resolve().relative_to(Path(directory).resolve())
        return True
    except ValueError:
        return False


class OutputDir:
    """All-or-nothing output directory.

    On construction ``final`` is checked (refused if it is a file, or a non-empty directory
    without ``overwrite``, or a directory holding one of ``protect``). Inside ``with``,
    files go into :attr:`path`, a fresh temporary directory next to ``final``;
    :meth:`commit` renames it into place (replacing ``final`` when allowed). Leaving the
    ``with`` block without a commit removes the temporary directory and any parent
    directories this object created, so a failed run leaves nothing behind.
    """

    def __init__(self, final, overwrite=False, protect=()):
        self.final = Path(final)
        self.overwrite = overwrite
        self.path = None
        self._created = []
        here = Path.cwd().resolve()
        if self.final.resolve() == here or self.final.resolve() in here.parents:
            raise CLIError(f"--out {final} is the current directory or one of its parents; "
                           "choose a new directory")
        if self.final.exists() or self.final.is_symlink():
            if not self.final.is_dir():
                raise CLIError(f"--out {final} exists and is not a directory")
            if any(self.final.iterdir()):
                if not overwrite:
                    raise CLIError(f"--out {final} exists and is not empty; pass --overwrite "
                                   "to replace it, or choose another directory")
                for item in protect:
                    if item is not None and _is_inside(item, self.final):
                        raise CLIError(f"--out {final} holds the input {item}; --overwrite "
                                       "would delete it: choose another directory")

    def __enter__(self):
        parent = self.final.absolute().parent
        missing = []
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self._created.append(folder)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-",
                                              dir=self.final.absolute().parent))
        except OSError as err:
            self._cleanup()
            raise CLIError(f"cannot create --out {self.final}: {err.strerror or err}") from None
        return self

    def commit(self):
        """Moves the finished directory into place."""
        final = self.final
        backup = None
        try:
            if final.exists():
                if any(final.iterdir()):
                    backup = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-",
                                                   dir=final.absolute().parent))
                    os.replace(final, backup / final.name)
                else:
                    final.rmdir()
            os.replace(self.path, final)
        except OSError as err:
            if backup is not None and not final.exists():
                os.replace(backup / final.name, final)
            raise CLIError(f"cannot move the results into --out {final}: "
                           f"{err.strerror or err}") from None
        finally:
            if backup is not None:
                shutil.rmtree(backup, ignore_errors=True)
        self.path = None
        self._created = []

    def _cleanup(self):
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []

    def __exit__(self, *exc):
        self._cleanup()
        return False


def check_output_file(out, overwrite, protect=()):
    """Refuses an output file that exists (without ``overwrite``), is a directory, sits in a
    missing directory, or is one of the inputs ``protect``."""
    if out is None:
        return
    out = Path(out)
    for item in protect:
        if out.exists() and Path(item).exists() and out.resolve() == Path(item).resolve():
            raise CLIError(f"--out {out} is an input of this command; choose another file")
    if out.is_dir():
        raise CLIError(f"--out {out} is a directory, expected a file name")
    if out.exists() and not overwrite:
        raise CLIError(f"--out {out} exists; pass --overwrite to replace it")
    if not out.absolute().parent.is_dir():
        raise CLIError(f"cannot write --out {out}: directory {out.absolute().parent} "
                       "does not exist")


def write_text_atomically(out, text):
    """Writes ``text`` to a temporary file next to ``out``, then renames it to ``out``."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.tmp-", dir=out.absolute().parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, out)
    except OSError as err:
        raise CLIError(f"cannot write --out {out}: {err.strerror or err}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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


def load_flow_model(path):
    """Loads a ``.keras`` file written by ``fit``; any failure becomes a :class:`CLIError`."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"model file not found: {path}")
    if path.is_dir():
        raise CLIError(f"{path} is a directory, expected a .keras model file "
                       f"(e.g. {path / 'model.keras'})")
    if path.suffix != ".keras":
        raise CLIError(f"{path} is not a .keras model file (the name must end in .keras)")
    if not zipfile.is_zipfile(path):
        raise CLIError(f"{path} is not a valid .keras model: not a zip archive (a .keras "
                       "file is one, as written by 'tfp-flows fit' or model.save)")
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


def event_size(model):
    return int(np.prod(model.event_shape))


def read_scaler(model_path, width):
    """The ``(mean, std)`` recorded by ``fit`` in metrics.json next to the model."""
    metrics = Path(model_path).parent / "metrics.json"
    if not metrics.is_file():
        raise CLIError(f"no metrics.json next to {model_path}: the scaler that maps data "
                       "units to the model's space is unknown")
    try:
        scaler = json.loads(metrics.read_text())["scaler"]
        mean = np.asarray(scaler["mean"], dtype=np.float64)
        std = np.asarray(scaler["std"], dtype=np.float64)
    except (ValueError, KeyError, TypeError):
        raise CLIError(f"{metrics} has no readable 'scaler' entry (mean, std)") from None
    if mean.shape != (width,) or std.shape != (width,) or not np.all(std > 0):
        raise CLIError(f"the scaler in {metrics} does not match the model: expected {width} "
                       f"means and positive stds, got {mean.size} and {std.size}")
    return mean, std
