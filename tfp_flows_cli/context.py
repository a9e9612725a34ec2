"""Contexts of conditional flows on the command line, checked without TensorFlow: which
columns of a data file hold the context (:class:`Layout`, recorded by ``fit`` in
metrics.json and found again by ``sample`` / ``log-prob``), and the contexts given by
``--context``, ``--context-file`` or ``--label`` (:class:`ContextRequest`)."""
import json
import math
from pathlib import Path

import numpy as np

from tfp_flows_cli.errors import CLIError
from tfp_flows_cli.files import check_data_file
from tfp_flows_cli.options import given_options


class Layout:
    """Which columns of a data file (``width`` columns, header ``names`` or ``None``) are
    the context and which are ``x``: 0-based indices, the context in the order given."""

    def __init__(self, width, context, x, names=None):
        self.width, self.context, self.x = int(width), list(context), list(x)
        self.names = None if names is None else list(names)

    @classmethod
    def from_spec(cls, spec, path, names, width):
        """The layout of the table at ``path`` (header ``names``, ``width`` columns) whose
        context columns ``spec`` (from :func:`~tfp_flows_cli.options.column_list`) names,
        in the order given; ``None`` if the file cannot be read (the loader says why)."""
        option, given = "--context-columns", ",".join(map(str, spec))
        if isinstance(spec[0], str):
            if names is None:
                why = (".npy files have no column names" if Path(path).suffix.lower() == ".npy"
                       else f"{path} has no header line of column names (its first line is "
                            "numbers)")
                raise CLIError(f"{option} {given}: {why}; give 0-based column indices "
                               f"instead, e.g. {option} {max(0, (width or 2) - 1)}")
            for name in spec:
                if names.count(name) != 1:
                    raise CLIError(f"{option}: {path} has no column {name!r} (its columns: "
                                   f"{', '.join(names)})" if name not in names else
                                   f"{option}: {path} has {names.count(name)} columns named "
                                   f"{name!r}; give 0-based indices instead")
            context = [names.index(name) for name in spec]
        elif width is None:
            return None
        else:
            for i in spec:
                if not -width <= i < width:
                    raise CLIError(f"{option}: column index {i} is out of range; {path} has "
                                   f"{_count(width)} (indices 0 to {width - 1}, or -1 for the "
                                   "last)")
            context = [i % width for i in spec]
        repeated = [i for i in set(context) if context.count(i) > 1]
        if repeated:
            what = names[repeated[0]] if names else repeated[0]
            raise CLIError(f"{option} {given} names column {what!r} twice")
        if len(context) >= width:
            raise CLIError(f"--context-columns names all {width} columns of {path}; at least "
                           "one column must remain as x, the data whose density is fitted")
        x = [i for i in range(width) if i not in context]
        return cls(width, context, x, names)

    def names_of(self, indices):
        return None if self.names is None else [self.names[i] for i in indices]

    def header(self):
        """The file's names, else ``c1..cK`` (the context columns) and ``x1..xD`` (x's)."""
        header = [""] * self.width
        for kind, indices in (("c", self.context), ("x", self.x)):
            for j, i in enumerate(indices, start=1):
                header[i] = f"{kind}{j}"
        return header if self.names is None else list(self.names)

    def describe(self, indices):
        """``'dose, age'`` (names) or ``'2, 3'`` (0-based indices)."""
        return ", ".join(self.names_of(indices) or map(str, indices))

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
    if not all(isinstance(n, list) for n in names):
        return Layout(width, context, x)
    header = dict(zip(context + x, names[0] + names[1]))
    return Layout(width, context, x, [str(header[i]) for i in range(width)])


def _count(n, what="column"):
    """``'1 column'``, ``'3 columns'``."""
    return f"{n} {what}{'' if n == 1 else 's'}"


def data_layout(args, request, event_size):
    """The :class:`Layout` of ``log-prob``'s data file: ``None`` for all columns as ``x``
    (an unconditional model, or contexts from ``request`` and no recorded ``x`` names in the
    file's header); else ``--context-columns``, or the recorded columns (by name if the
    file's header has them, else by position)."""
    if request is None:
        return None
    path, recorded, context_size = args.data, request.recorded, request.k
    names, width = check_data_file(path)
    if request.given:   # x found by its recorded names among other columns, or x alone
        x = columns_named(names, None if recorded is None else recorded.names_of(recorded.x))
        return None if x is None else Layout(width, [], x, names)
    model = f"{args.model} is conditional (p(x | c): {event_size} x values given " \
            f"{context_size} context values)"
    if args.context_columns is not None:
        layout = Layout.from_spec(args.context_columns, path, names, width)
        if layout is not None and \
                (len(layout.context), len(layout.x)) != (context_size, event_size):
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


def context_request(args, config):
    """The :class:`ContextRequest` of ``sample`` / ``log-prob`` for the model whose config
    is ``config``, or ``None`` for a model without a context (which refuses the context
    options). Image models with a context take a one-hot label (``--condition-on-labels``)."""
    k = config.get("context_size")
    given = given_options(args, "context", "context_file", "label", "context_columns")
    if k is None:
        if given and config:
            raise CLIError(f"{given[0]} is for conditional models; {args.model} was fitted "
                           "without a context (no --context-columns or --condition-on-labels"
                           "), so it takes none")
        return None
    label_model = config.get("num_levels") is not None
    event = math.prod(config.get("event_shape") or [0])
    recorded = None if label_model else recorded_layout(args.model, k, event)
    return ContextRequest(args, k, label_model, recorded)


class ContextRequest:
    """The context(s) ``sample`` / ``log-prob`` were given (``--context``, ``--context-file``
    or ``--label``) for a model with ``context_size`` K, checked on construction (no
    TensorFlow needed; only ``log-prob`` of vectors may leave them to the data file);
    :meth:`load` returns float32 contexts ``[m, K]``."""

    def __init__(self, args, context_size, label_model, recorded=None):
        self.args, self.k, self.label_model = args, context_size, label_model
        self.recorded = recorded
        self.values, self.file, self.labels = args.context, args.context_file, args.label
        self.columns = None    # the columns of --context-file that hold the context
        self.file_labels = False
        k, model = self.k, args.model
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
            self._check_file(*check_data_file(self.file, what="--context-file"))
        if label_model and args.command == "log-prob":   # one label for all, or a file
            if args.context_columns is not None:
                raise CLIError(f"--context-columns applies to vector models; {model} is an "
                               "image model: give the images' labels with --label L or "
                               "--context-file LABELS.npy (one label per image)")
            if self.labels is not None and len(self.labels) > 1:
                raise CLIError(f"log-prob takes one --label for all images (got "
                               f"{len(self.labels)}); give one label per image with "
                               "--context-file LABELS.npy")
        if not self.given and (label_model or args.command == "sample"):
            raise self.missing()

    @property
    def given(self):
        return any(v is not None for v in (self.values, self.file, self.labels))

    def describe(self):
        """What the context is: ``'columns group, t of the data ...'``, ..."""
        layout = self.recorded
        if self.label_model:
            return f"the one-hot vector of a class label, 0 to {self.k - 1}"
        return (f"{self.k} comma-separated numbers" if layout is None else
                f"columns {layout.describe(layout.context)} of the data it was fitted to")

    def missing(self):
        """The error for a command given no context."""
        k = self.k
        how = (f"--context with {k} comma-separated numbers (one context) or --context-file "
               "FILE (one per row)")
        if self.label_model:
            how = (f"--label L (a class, 0 to {k - 1}) or --context-file FILE (labels, one "
                   "per row)")
        return CLIError(f"{self.args.model} is conditional, p(x | c) with a context c of {k} "
                        f"values ({self.describe()}): pass {how}")

    def _check_file(self, names, width):
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

    def load(self, n=None):
        """Float32 contexts ``[m, K]`` (for ``n`` data rows: ``n`` rows, or one for all)."""
        from tfp_flows.datasets import load_array, one_hot

        if self.labels is not None:
            return one_hot(list(self.labels), self.k)
        if self.values is not None:
            return np.asarray(self.values, np.float32)[None, :]
        try:
            table = load_array(self.file)
        except (ValueError, OSError) as err:
            raise CLIError(f"--context-file: {err}") from None
        if n is not None and len(table) not in (1, n):
            raise CLIError(f"--context-file {self.file} has {len(table)} rows and "
                           f"{self.args.data} {n}; expected one context per row, or one "
                           "for all")
        if self.file_labels:   # one class label a row
            try:
                return one_hot(table[:, 0], self.k)
            except ValueError as err:
                raise CLIError(f"--context-file {self.file}: {err} (index 0: the first "
                               "row)") from None
        # k columns, or those named (other widths were refused; load_array reads a table
        # of the width of its first line or none)
        return table if self.columns is None else table[:, self.columns]

