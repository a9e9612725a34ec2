"""Loading a user's own data from ``.csv`` or ``.npy`` files, with errors that point at the
offending line and column; :func:`format_csv` writes the CSV text that :func:`load_array`
reads back.
"""
import csv
import math
import os

import numpy as np

__all__ = ["SUPPORTED_EXTENSIONS", "format_csv", "load_array"]

SUPPORTED_EXTENSIONS = (".csv", ".npy")


def load_array(path, expected_width=None):
    """Read a numeric table from ``.csv`` (comma separated) or ``.npy`` as float32 [n, d].

    CSV: one row per line, values separated by commas; the first line may be a header of
    column names, none of which is a number, and is then skipped. Blank lines are skipped.
    NPY: a 2-D numeric array, or a 1-D array read as one column ([n, 1]) when
    ``expected_width`` is None or 1.

    Every value must be a finite number and every row must have the same width
    (``expected_width`` when given). Otherwise a ``ValueError`` names the file and the
    1-based line and column of the first problem, e.g.
    ``data.csv line 7, column 2: 'abc' is not a number``.

    Args:
        path: file path (str or path-like) ending in ``.csv`` or ``.npy``.
        expected_width: number of columns required, or None to accept any consistent width.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported extension, empty file, or a bad value / row (see above).

    Example:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "data.csv")
        >>> with open(path, "w") as f:
        ...     _ = f.write("x,y\\n1,2\\n3,4.5\\n")
        >>> load_array(path, expected_width=2)
        array([[1. , 2. ],
               [3. , 4.5]], dtype=float32)
    """
    if expected_width is not None and (
        isinstance(expected_width, bool)
        or not isinstance(expected_width, (int, np.integer))
        or expected_width < 1
    ):
        raise ValueError(
            f"expected `expected_width` to be None or a positive integer, got {expected_width!r}"
        )
    name = os.fspath(path)
    ext = os.path.splitext(name)[1].lower()
    if ext not in SUPPORTED_EXTENSIONS:
        raise ValueError(
            f"{name}: unsupported file type {ext or '(no extension)'!r}; supported: "
            f"{', '.join(SUPPORTED_EXTENSIONS)}"
        )
    if not os.path.exists(name):
        raise FileNotFoundError(f"data file not found: {name}")
    if os.path.isdir(name):
        raise ValueError(f"{name} is a directory, expected a {ext} file")
    if os.path.getsize(name) == 0:
        raise ValueError(f"{name} is empty, expected at least one row of numbers")
    if ext == ".npy":
        return _load_npy(name, expected_width)
    return _load_csv(name, expected_width)


def format_csv(values, header=None):
    """CSV text of a table that :func:`load_array` reads back: the ``header`` line (if
    given), then one line per row of ``values`` with 9 significant digits, enough to read
    float32 values back exactly.

    Args:
        values: array-like ``[n]`` (one column) or ``[n, ...]`` (each row flattened).
        header: ``None`` or the column names.

    Returns:
        The text, ending in a newline.

    Example:
        >>> print(format_csv(np.array([[1.5, -2.0]]), ["x1", "x2"]), end="")
        x1,x2
        1.5,-2
    """
    values = np.asarray(values)
    values = values.reshape(len(values), -1)
    lines = [",".join(header)] if header else []
    lines += [",".join(f"{v:.9g}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def _parse_number(text):
    """``(value, problem)``: problem is None or a description of why text is no number."""
    stripped = text.strip()
    if not stripped:
        return None, "empty value"
    try:
        value = float(stripped)
    except ValueError:
        hint = ""
        if any(sep in stripped for sep in (";", "\t", " ")):
            hint = " (values must be separated by commas)"
        return None, f"{stripped!r} is not a number{hint}"
    if not math.isfinite(value):
        return None, f"{stripped!r} is not a finite number"
    return value, None


def _is_float(text):
    """Whether ``text`` reads as a float (``nan`` and ``inf`` do: a line of them is data, and
    an invalid row, not a header)."""
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def _load_csv(name, expected_width):
    try:
        return _parse_csv(name, expected_width)
    except UnicodeDecodeError as err:
        raise ValueError(f"{name} is not a UTF-8 text file ({err.reason} at byte "
                         f"{err.start})") from None
    except csv.Error as err:
        raise ValueError(f"{name} is not a readable CSV file: {err}") from None


def _parse_csv(name, expected_width):
    rows, lines = [], []
    width = expected_width
    width_from = "expected_width"
    first = True
    with open(name, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        for fields in reader:
            line = reader.line_num
            where = f"{name} line {line}"
            if not fields or all(not v.strip() for v in fields):
                continue
            if first:
                first = False
                if all(not _is_float(v) for v in fields):  # a header: no field is a number
                    if width is None:
                        width, width_from = len(fields), f"the header on line {line}"
                    elif len(fields) != width:
                        raise ValueError(
                            f"{where}: header has {len(fields)} columns, expected {width}"
                        )
                    continue
            if width is None:
                width, width_from = len(fields), f"line {line}"
            values = []
            for col, text in enumerate(fields[:width], start=1):
                value, problem = _parse_number(text)
                if problem is not None:
                    raise ValueError(f"{where}, column {col}: {problem}")
                values.append(value)
            if len(fields) != width:
                col = min(len(fields), width) + 1
                what = "missing value" if len(fields) < width else (
                    f"extra value {fields[width].strip()!r}"
                )
                raise ValueError(
                    f"{where}, column {col}: {what} (expected {width} columns as set by "
                    f"{width_from}, got {len(fields)})"
                )
            rows.append(values)
            lines.append(line)
    if not rows:
        raise ValueError(f"{name} has no data rows (only a header or blank lines)")
    with np.errstate(over="ignore"):
        out = np.asarray(rows, dtype=np.float32)
    overflow = ~np.isfinite(out)
    if np.any(overflow):
        row, col = np.argwhere(overflow)[0]
        raise ValueError(
            f"{name} line {lines[row]}, column {col + 1}: {rows[row][col]!r} is too large "
            f"for float32"
        )
    return out


def _load_npy(name, expected_width):
    try:
        arr = np.load(name, allow_pickle=False)
    except Exception as err:  # numpy raises ValueError / EOFError / OSError here
        raise ValueError(f"{name} is not a readable .npy file: {err}") from None
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name}: expected a single array, got {type(arr).__name__}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 1:
        if expected_width not in (None, 1):
            raise ValueError(
                f"{name}: expected a 2-D array with {expected_width} columns, got a 1-D "
                f"array of shape {arr.shape}"
            )
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array [n, d], got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no data rows (array shape {arr.shape})")
    if expected_width is not None and arr.shape[1] != expected_width:
        raise ValueError(
            f"{name}: expected {expected_width} columns, got {arr.shape[1]} "
            f"(array shape {arr.shape})"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(np.float32)
    bad = ~np.isfinite(out)
    if np.any(bad):
        row, col = (int(i) + 1 for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} row {row}, column {col}: {arr[row - 1, col - 1].item()!r} is not a "
            f"finite number{' in float32' if np.isfinite(arr[row - 1, col - 1]) else ''}"
        )
    return out
