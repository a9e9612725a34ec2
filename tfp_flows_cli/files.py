"""Pieces shared by the ``tfp-flows`` subcommands: one-line errors, all-or-nothing output
(a directory or a file appears only when complete), loading a model.

TensorFlow and Keras are imported inside the functions that need them.
"""
import csv
import io
import json
import math
import os
import secrets
import shutil
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

PROG = "tfp-flows"
ERROR_PREFIX = f"{PROG}: error: "
WARNING_PREFIX = f"{PROG}: warning: "
_MAX_MESSAGE = 600

#: File types ``--data`` / ``log-prob FILE`` accept (those of
#: :data:`tfp_flows.datasets.SUPPORTED_EXTENSIONS`; listed here to need no TensorFlow).
DATA_EXTENSIONS = (".csv", ".npy")

#: How long ``tfp-flows demo`` takes (said by its help, its banner and README.md). Measured
#: with ``time tfp-flows demo`` on a 2-core machine shared with other jobs: 3 min 31 s wall
#: (1 min 57 s user CPU); TensorFlow start-up, evaluation and plots are ~15 s of it.
DEMO_DURATION = "about 2 to 4 minutes on two CPU cores"

#: The members every ``.keras`` archive holds (Keras 3 saving format).
_KERAS_MEMBERS = ("config.json", "metadata.json")


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


def warning_line(message):
    """``message`` as one ``tfp-flows: warning: ...`` line."""
    return WARNING_PREFIX + error_line(message)[len(ERROR_PREFIX):]


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


def _is_inside(path, directory):
    try:
        Path(path).resolve().relative_to(Path(directory).resolve())
        return True
    except ValueError:
        return False


def _make_unique_dir(parent, prefix):
    """Creates ``parent/prefix<random>`` with the usual permissions (``0o777`` less the
    umask, i.e. 0755 under umask 022), unlike ``tempfile.mkdtemp``, whose 0700 would end up
    on the output directory that is renamed from it."""
    for _ in range(100):
        path = Path(parent) / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name {prefix}* in {parent}")


def _identity(path):
    """``(device, inode)`` of ``path`` (not following a final symlink), or None if absent."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class OutputDir:
    """All-or-nothing output directory.

    On construction ``final`` is checked (refused if it is a file, or a non-empty directory
    without ``overwrite``, or a directory holding one of ``protect``); this needs no
    TensorFlow. Inside ``with``, files go into :attr:`path`, a fresh hidden directory next
    to ``final`` (created with the usual permissions, honouring the umask); :meth:`commit`
    renames it into place. Leaving the ``with`` block without a commit removes the
    temporary directory and any parent directories this object created, so a failed run
    leaves nothing behind.

    The commit never replaces what another process wrote meanwhile: without ``overwrite``
    it is one ``rename``, which POSIX refuses when ``final`` is a non-empty directory; with
    ``overwrite`` only the very directory seen at the start (same inode) is replaced. When
    another run got there first, :meth:`commit` raises :class:`CLIError` and this run's
    results are discarded.
    """

    def __init__(self, final, overwrite=False, protect=()):
        self.final = Path(final)
        self.overwrite = overwrite
        self.path = None
        self._created = []
        self._replace = None   # identity of the non-empty directory --overwrite replaces
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
                self._replace = _identity(self.final)

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
            self.path = _make_unique_dir(self.final.absolute().parent, f".{self.final.name}.tmp-")
        except OSError as err:
            self._cleanup()
            raise CLIError(f"cannot create --out {self.final}: {err.strerror or err}") from None
        return self

    def _conflict(self):
        return CLIError(f"--out {self.final} was written by another process while this run "
                        "was working; it was left as it is and this run's results were "
                        "discarded (use another --out)")

    def commit(self):
        """Moves the finished directory into place (see the class docstring)."""
        final = self.final
        now = _identity(final)
        try:
            if self._replace is not None and now is not None:
                if now != self._replace:
                    raise self._conflict()
                self._swap()
            else:
                os.rename(self.path, final)   # refused if final is a non-empty directory
        except OSError as err:
            if _identity(final) not in (None, self._replace):
                raise self._conflict() from None
            raise CLIError(f"cannot move the results into --out {final}: "
                           f"{err.strerror or err}") from None
        self.path = None
        self._created = []

    def _swap(self):
        """Replaces the directory found at the start by the finished one."""
        final = self.final
        backup = _make_unique_dir(final.absolute().parent, f".{final.name}.old-")
        old = backup / final.name
        os.rename(final, old)
        try:
            os.rename(self.path, final)
        except OSError:
            try:
                os.rename(old, final)       # put the old results back
            except OSError:
                raise CLIError(f"cannot move the results into --out {final}; its previous "
                               f"contents are in {old}") from None
            shutil.rmtree(backup, ignore_errors=True)
            raise
        shutil.rmtree(backup, ignore_errors=True)

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


def write_text_atomically(out, text, overwrite=False):
    """Writes ``text`` to a temporary file next to ``out`` (permissions ``0o666`` less the
    umask), then puts it in place: with ``overwrite`` by ``os.replace``; otherwise by a hard
    link, which fails if another process created ``out`` meanwhile (where links are not
    supported, by a last check and a rename)."""
    _write_atomically(out, text, overwrite)


def write_bytes_atomically(out, data, overwrite=False):
    """:func:`write_text_atomically` for ``bytes`` (e.g. a ``.npy`` file's contents)."""
    _write_atomically(out, bytes(data), overwrite)


def npy_bytes(array):
    """The contents of a ``.npy`` file holding ``array`` (no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _write_atomically(out, data, overwrite):
    out = Path(out)
    parent = out.absolute().parent
    for _ in range(100):
        tmp = parent / f".{out.name}.tmp-{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as err:
            raise CLIError(f"cannot write --out {out}: {err.strerror or err}") from None
    try:
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        else:
            with os.fdopen(fd, "w", newline="") as f:
                f.write(data)
        if overwrite:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)
            except FileExistsError:
                raise CLIError(f"--out {out} was written by another process while this run "
                               "was working; it was left as it is") from None
            except OSError:   # no hard links on this file system
                if out.exists():
                    raise CLIError(f"--out {out} was written by another process while this "
                                   "run was working; it was left as it is") from None
                os.replace(tmp, out)
    except OSError as err:
        raise CLIError(f"cannot write --out {out}: {err.strerror or err}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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

