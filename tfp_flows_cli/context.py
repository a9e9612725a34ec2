"""Contexts of conditional flows on the command line, read and checked without TensorFlow.

- ``fit --context-columns 2,3`` (or ``age,dose``, names of a CSV header): the columns of a
  data file that hold the context ``c``; the others are ``x``, and the flow is
  ``p(x | c)``. :class:`Layout` says which column is which; ``fit`` records it in
  ``metrics.json`` (``context_columns``, ``x_columns``, ``n_columns``), where ``sample`` and
  ``log-prob`` find it again (:func:`recorded_layout`).
- ``--context 0.5,1.2``: one context typed in; ``--context-file C.csv|C.npy``: one context
  per row (a file of exactly K columns, or one with a header naming the recorded context
  columns among others); ``--label 3``: the one-hot context of class 3, for image models
  fitted with ``--condition-on-labels``. :class:`ContextRequest` checks them before
  TensorFlow is imported and loads them after.

Columns are 0-based indices (``-1`` is the last) or, for a CSV whose first line is a
header (no field a number), column names; a context keeps the order in which its columns
were named.
"""
import argparse
import csv
import json
from pathlib import Path

import numpy as np

from tfp_flows_cli.files import CLIError, check_data_file, peek_npy

#: The options that give a context to ``sample`` / ``log-prob``: attribute -> option.
CONTEXT_OPTIONS = {"context": "--context", "context_file": "--context-file",
                   "label": "--label", "context_columns": "--context-columns"}


# ------------------------------------------------------------------ argparse types
def _int_or_none(text):
    try:
        return int(text)
    except ValueError:
        return None


def column_list(text):
    """``--context-columns``: ``"2,3"`` -> ``(2, 3)``; ``"age, dose"`` -> ``('age', 'dose')``.

    Example:
        >>> column_list("2,-1"), column_list("age, dose")
        ((2, -1), ('age', 'dose'))
    """
    items = [part.strip() for part in text.split(",")]
    if not text.strip() or not all(items):
        raise argparse.ArgumentTypeError(
            f"expected column names or 0-based column indices separated by commas (e.g. 2,3 "
            f"or age,dose), got {text!r}")
    indices = [_int_or_none(item) for item in items]
    if all(i is not None for i in indices):
        return tuple(indices)
    if any(i is not None for i in indices):
        raise argparse.ArgumentTypeError(
            f"expected either column names or column indices, got a mix: {text!r}")
    return tuple(items)


def number_list(text):
    """``--context``: ``"0.5, -1.2"`` -> ``(0.5, -1.2)``, finite numbers only."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(
            f"expected finite numbers separated by commas (e.g. 0.5,1.2), got {text!r}")
    return values


def label_list(text):
    """``--label``: ``"3"`` -> ``(3,)``; ``"0,1,2"`` -> ``(0, 1, 2)``."""
    labels = tuple(_int_or_none(part.strip()) for part in text.split(","))
    if not labels or any(v is None or v < 0 for v in labels):
        raise argparse.ArgumentTypeError(
            f"expected a class label, a non-negative integer (or several separated by "
            f"commas), got {text!r}")
    return labels


# ------------------------------------------------------------------ files and columns
def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def peek_columns(path):
    """``(names, width)`` of a ``.csv`` / ``.npy`` table, read from its first line or header:
    ``names`` is the CSV header (a first line with no number in it, as
    :func:`tfp_flows.datasets.load_array` reads it) or ``None``; ``width`` is ``None`` if
    it cannot be told (the loader reports such a file later)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        peek = peek_npy(path)
        if peek is None or len(peek[0]) not in (1, 2):
            return None, None
        return None, 1 if len(peek[0]) == 1 else int(peek[0][1])
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for fields in csv.reader(f):
                if fields and any(v.strip() for v in fields):
                    break
            else:
                return None, None
    except (UnicodeDecodeError, csv.Error, OSError):
        return None, None
    names = [v.strip() for v in fields]
    if not any(_is_number(v) for v in names):
        return names, len(names)
    return None, len(names)


def resolve_columns(spec, path, names, width, option="--context-columns"):
    """The 0-based indices of the columns ``spec`` (from :func:`column_list`) names in the
    table at ``path``, in the order given; a :class:`CLIError` says what is wrong."""
    given = ",".join(map(str, spec))
    if isinstance(spec[0], str):
        if names is None:
            why = (".npy files have no column names" if Path(path).suffix.lower() == ".npy"
                   else f"{path} has no header line of column names (its first line is "
                        "numbers)")
            raise CLIError(f"{option} {given}: {why}; give 0-based column indices instead, "
                           f"e.g. {option} {max(0, (width or 2) - 1)}")
        indices = []
        for name in spec:
            found = [i for i, n in enumerate(names) if n == name]
            if not found:
                raise CLIError(f"{option}: {path} has no column {name!r} (its columns: "
                               f"{', '.join(names)})")
            if len(found) > 1:
                raise CLIError(f"{option}: {path} has {len(found)} columns named {name!r}; "
                               f"give 0-based indices instead")
            indices.append(found[0])
    else:
        if width is None:
            return None   # an unreadable file: the loader says why
        indices = []
        for i in spec:
            if not -width <= i < width:
                raise CLIError(f"{option}: column index {i} is out of range; {path} has "
                               f"{width} column{'s' if width != 1 else ''} (indices 0 to "
                               f"{width - 1}, or -1 for the last)")
            indices.append(i % width)
    repeated = [i for i in set(indices) if indices.count(i) > 1]
    if repeated:
        what = names[repeated[0]] if names else repeated[0]
        raise CLIError(f"{option} {given} names column {what!r} twice")
    return indices


class Layout:
    """Which columns of a data file are the context and which are ``x``.

    ``context`` and ``x`` are 0-based indices (the context in the order given, ``x`` in
    file order), ``width`` the file's number of columns and ``names`` its header (or
    ``None``)."""

    def __init__(self, width, context, x, names=None):
        self.width, self.context, self.x = int(width), list(context), list(x)
        self.names = None if names is None else list(names)

    @classmethod
    def from_spec(cls, spec, path, names, width):
        """The layout of a data file whose context columns ``spec`` names."""
        context = resolve_columns(spec, path, names, width)
        if context is None:
            return None
        if len(context) >= width:
            raise CLIError(f"--context-columns names all {width} columns of {path}; at least "
                           "one column must remain as x, the data whose density is fitted")
        x = [i for i in range(width) if i not in context]
        return cls(width, context, x, names)

    @classmethod
    def context_first(cls, context_size, event_size):
        """The layout ``sample`` writes when nothing is recorded: context, then ``x``."""
        k = context_size
        return cls(k + event_size, range(k), range(k, k + event_size))

    def names_of(self, indices):
        return None if self.names is None else [self.names[i] for i in indices]

    def header(self):
        """The file's names, or ``c1..cK`` at the context columns and ``x1..xD`` at the
        others."""
        if self.names is not None:
            return list(self.names)
        header = [""] * self.width
        for kind, indices in (("c", self.context), ("x", self.x)):
            for j, i in enumerate(indices, start=1):
                header[i] = f"{kind}{j}"
        return header

    def describe(self, indices):
        """``'dose, age'`` (names) or ``'2, 3'`` (0-based indices)."""
        shown = self.names_of(indices) or [str(i) for i in indices]
        return ", ".join(shown)

    def record(self):
        """What ``fit`` writes into metrics.json."""
        return {"context_columns": {"indices": self.context,
                                    "names": self.names_of(self.context)},
                "x_columns": {"indices": self.x, "names": self.names_of(self.x)},
                "n_columns": self.width}

    def rows(self, contexts, samples):
        """Rows in this layout: ``contexts`` ``[m, K]`` and ``samples`` ``[m, n, D]`` give
        ``[m * n, width]``, the ``n`` samples of context 1 first."""
        m, n = samples.shape[:2]
        out = np.empty((m * n, self.width), dtype=np.float64)
        out[:, self.context] = np.repeat(np.asarray(contexts, np.float64), n, axis=0)
        out[:, self.x] = samples.reshape(m * n, -1)
        return out


def recorded_layout(model_path, context_size, event_size):
    """The :class:`Layout` that ``fit`` recorded in the ``metrics.json`` next to
    ``model_path``, or ``None`` (no such file, or one about another model)."""
    try:
        metrics = json.loads((Path(model_path).parent / "metrics.json").read_text())
        width = int(metrics["n_columns"])
        context = [int(i) for i in metrics["context_columns"]["indices"]]
        x = [int(i) for i in metrics["x_columns"]["indices"]]
        names = metrics["context_columns"]["names"], metrics["x_columns"]["names"]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if (len(context), len(x)) != (context_size, event_size) or \
            sorted(context + x) != list(range(width)):
        return None
    header = None
    if all(isinstance(n, list) for n in names):
        header = [""] * width
        for indices, labels in zip((context, x), names):
            for i, label in zip(indices, labels):
                header[i] = str(label)
    return Layout(width, context, x, header)


def _count(n, what="column"):
    """``'1 column'``, ``'3 columns'``."""
    return f"{n} {what}{'' if n == 1 else 's'}"


def data_layout(args, path, context_size, event_size, recorded):
    """Which columns of ``log-prob``'s data file are the context: ``--context-columns``
    if given, else the recorded columns (by name if the file has them in its header, else
    by position); checked before TensorFlow is imported."""
    names, width = peek_columns(path)
    model = f"{args.model} is conditional (p(x | c): {event_size} x values given " \
            f"{context_size} context values)"
    if args.context_columns is not None:
        layout = Layout.from_spec(args.context_columns, path, names, width)
        if layout is None:
            return None
        if len(layout.context) != context_size or len(layout.x) != event_size:
            raise CLIError(f"{model}; --context-columns names {_count(len(layout.context))} "
                           f"of {path} and leaves {_count(len(layout.x))}")
        return layout
    if recorded is None:
        raise CLIError(f"{model}: name the context columns of {path} with --context-columns "
                       "(no metrics.json from 'tfp-flows fit' next to the model records "
                       "them), or pass the contexts with --context or --context-file")
    context = columns_named(names, recorded.names_of(recorded.context))
    x = columns_named(names, recorded.names_of(recorded.x))
    if context is not None and x is not None:
        return Layout(width, context, x, names)
    if width is None or width == recorded.width:
        return Layout(recorded.width, recorded.context, recorded.x, names)
    fitted = (f"columns {recorded.describe(recorded.context)} hold the context and "
              f"{recorded.describe(recorded.x)} the x values, {recorded.width} columns in all")
    if width == event_size:
        raise CLIError(f"{model}; {path} has {width} columns, the x values alone: pass their "
                       "contexts with --context (one for all rows) or --context-file (one "
                       f"per row), or give a file as fitted ({fitted})")
    raise CLIError(f"{model}; {path} has {width} columns, but in the data it was fitted to "
                   f"{fitted}; name them with --context-columns if they moved")


def columns_named(names, wanted):
    """The indices of the columns ``wanted`` (names, in that order) in a header ``names``,
    or ``None`` if either is missing or a wanted name is absent or not unique.

    Example:
        >>> columns_named(["t", "x1", "group"], ["group", "t"])
        [2, 0]
    """
    if names is None or wanted is None or not all(names.count(n) == 1 for n in wanted):
        return None
    return [names.index(n) for n in wanted]


def is_label_model(config):
    """Whether a model config (``config.json``) is an image model with a context: the CLI
    makes those with ``fit --condition-on-labels`` (a one-hot label)."""
    return config.get("num_levels") is not None and config.get("context_size") is not None


class ContextRequest:
    """The context(s) ``sample`` / ``log-prob`` were given: ``--context``, ``--context-file``
    or ``--label``, for a model with ``context_size`` K.

    :meth:`check` (no TensorFlow) refuses what can be told from the command line and the
    file's first line; :meth:`load` (after TensorFlow is imported: the loader lives in
    :mod:`tfp_flows.datasets`) returns float32 contexts ``[m, K]``."""

    def __init__(self, args, context_size, label_model, recorded=None):
        self.args, self.k, self.label_model, self.recorded = args, context_size, label_model, \
            recorded
        self.values = getattr(args, "context", None)
        self.file = getattr(args, "context_file", None)
        self.labels = getattr(args, "label", None)
        self.columns = None    # the columns of --context-file that hold the context
        self.file_labels = False

    @property
    def given(self):
        return any(v is not None for v in (self.values, self.file, self.labels))

    def check(self):
        k, model = self.k, self.args.model
        if self.labels is not None:
            if not self.label_model:
                raise CLIError(f"--label applies to image models fitted with "
                               f"--condition-on-labels; {model} takes a context of {k} "
                               "numbers: pass it with --context or --context-file")
            bad = [v for v in self.labels if v >= k]
            if bad:
                raise CLIError(f"--label {bad[0]}: {model} knows {k} classes, labels 0 to "
                               f"{k - 1}")
        if self.values is not None and len(self.values) != k:
            raise CLIError(f"--context has {_count(len(self.values), 'value')}; {model} takes "
                           f"a context of {k} ({self.describe()})")
        if self.file is not None:
            check_data_file(self.file, what="--context-file")
            self._check_file()

    def describe(self):
        """What the context is: ``'columns group, t'``, ``'one-hot labels'``, ..."""
        layout = self.recorded
        if self.label_model:
            return f"the one-hot vector of a class label, 0 to {self.k - 1}"
        if layout is not None:
            return f"columns {layout.describe(layout.context)} of the data it was fitted to"
        return f"{self.k} comma-separated numbers"

    def _check_file(self):
        names, width = peek_columns(self.file)
        recorded = self.recorded
        wanted = None if recorded is None else recorded.names_of(recorded.context)
        self.columns = columns_named(names, wanted)
        if self.columns is not None or width is None or width == self.k:
            return
        if width == 1 and self.label_model and self.k > 1:
            self.file_labels = True
            return
        labels = " or 1 column of class labels" if self.label_model else ""
        named = (f", or a header naming the context columns {', '.join(wanted)}"
                 if wanted else "")
        raise CLIError(f"--context-file {self.file} has {width} columns; {self.args.model} "
                       f"takes contexts of {self.k} values: expected {self.k} columns"
                       f"{labels}{named}")

    def load(self):
        """Float32 contexts ``[m, K]`` (call :meth:`check` first)."""
        k = self.k
        if self.labels is not None:
            return np.eye(k, dtype=np.float32)[list(self.labels)]
        if self.values is not None:
            return np.asarray(self.values, np.float32)[None, :]
        from tfp_flows.datasets import load_array

        try:
            table = load_array(self.file)
        except (ValueError, OSError) as err:
            raise CLIError(f"--context-file: {err}") from None
        if self.file_labels:
            labels = table[:, 0]
            bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= k))
            if bad.size:
                raise CLIError(f"--context-file {self.file}: row {bad[0] + 1} holds "
                               f"{labels[bad[0]]:g}, expected a class label, an integer from "
                               f"0 to {k - 1}")
            return np.eye(k, dtype=np.float32)[labels.astype(np.int64)]
        if self.columns is not None:
            return table[:, self.columns]
        if table.shape[1] != k:
            raise CLIError(f"--context-file {self.file} has {table.shape[1]} columns; "
                           f"{self.args.model} takes contexts of {k} values")
        return table


def given_options(args):
    """The context options given on the command line, as their option names."""
    return [flag for name, flag in CONTEXT_OPTIONS.items()
            if getattr(args, name, None) is not None]
