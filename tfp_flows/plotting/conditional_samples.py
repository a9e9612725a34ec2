"""Samples of a conditional flow ``p(x | c)`` against data rows: given a few contexts, each
beside the rows whose contexts are nearest (:func:`plot_conditional_samples`), and the
contexts to show (:func:`spread_contexts`). The model is duck-typed as in
:mod:`tfp_flows.plotting.conditional`: ``sample(n, context=c [m, K], seed=)`` returning
``[n, m, *event_shape]`` and, where present, ``context_size``."""
import numpy as np

from tfp_flows.plotting.conditional import _as_contexts, _context_labels, _context_size
from tfp_flows.plotting.layout import get_axes, padded_bounds
from tfp_flows.plotting.samples import plot_samples

__all__ = ["plot_conditional_samples", "spread_contexts"]


def spread_contexts(contexts, num=3):
    """Up to ``num`` distinct rows of ``contexts`` spread over the range of their first
    column: with the distinct rows sorted by it, those at ``num`` evenly spaced positions
    from the first to the last (for ``num = 3``: the lowest, the middle and the highest).

    Args:
      contexts: array-like ``[n, K]`` (e.g. the test rows' contexts).
      num: how many to pick, at least 1; fewer come back when fewer are distinct.

    Returns:
      float32 array ``[min(num, distinct rows), K]``, sorted by the first column.

    Example:
        >>> spread_contexts([[5.0], [1.0], [3.0], [1.0], [4.0]]).tolist()
        [[1.0], [4.0], [5.0]]
    """
    unique = np.unique(_as_contexts(contexts, None), axis=0)
    unique = unique[np.argsort(unique[:, 0], kind="stable")]
    if isinstance(num, bool) or int(num) != num or num < 1:
        raise ValueError(f"expected num to be a positive integer, got {num!r}")
    return unique[np.unique(np.round(np.linspace(0, len(unique) - 1, int(num))).astype(int))]


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"expected {name} to be a positive integer, got {value!r}")
    return int(value)


def plot_conditional_samples(model, x, context, contexts=None, num_samples=500,
                             num_nearest=None, seed=0, bounds=None, context_labels=None,
                             axes=None, title=None, context_names=None):
    """Samples of a conditional flow against the data rows with the nearest contexts.

    With two or more columns of ``x``: one panel per context ``c_j`` of ``contexts``,
    ``num_samples`` draws of ``p(x | c_j)`` (orange) over the ``num_nearest`` rows of ``x``
    whose contexts are nearest to ``c_j`` (blue), in the first two columns. Nearness is
    the distance :math:`\\sum_k |c_{ik} - c_{jk}| / s_k`, with :math:`s_k` the standard
    deviation of context column ``k`` over the rows (1 where it is 0). Where the flow is
    right, the two clouds look alike (as far as the nearest rows share one context).

    With one column of ``x``: one panel of the first ``num_samples`` rows as points
    ``(c_1, x)``, and beside them one draw given each row's own context, ``(c_1, x~)``
    (``contexts`` and ``context_labels`` are not used).

    Args:
      model: a conditional flow: ``model.sample(n, context=c [m, K], seed=seed)`` returns
        ``[n, m, D]``; ``model.context_size``, where present, must be ``K``.
      x: the data rows, array-like ``[n, D]``.
      context: their contexts, array-like ``[n, K]``.
      contexts: the contexts ``[m, K]`` to draw samples given (one panel each); default
        :func:`spread_contexts` of ``context``.
      num_samples: draws per context (one column of ``x``: rows shown).
      num_nearest: data rows per panel; default ``max(20, n // 20)``.
      seed: the sampling seed.
      bounds: ``((xmin, xmax), (ymin, ymax))`` shared by the panels (one column of ``x``:
        of the ``(c_1, x)`` plane); default the range of all rows of ``x`` (one column:
        of the rows shown), widened by 5% on each side.
      context_labels: one panel title per context; default ``"c = [c_1, c_2, ...]"``, or
        with ``context_names`` ``"dose = c_1, age = c_2"``.
      axes: ``m`` Axes to draw into (one column of ``x``: one); a new figure if None.
      title: the figure title, set when the figure is made here; default ``"samples of
        p(x | c) given m contexts"`` (one column of ``x``: none, the panel's title says
        what it shows).
      context_names: the ``K`` names of the context's columns, for the default labels.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on ``x`` that is not ``[n, D]``, contexts that are not ``[n, K]`` and
        ``[m, K]`` (``K`` the model's ``context_size`` where it has one) or not finite,
        counts that are not positive integers, or a wrong number of labels, names or axes.

    Example:
        >>> import numpy as np, matplotlib.pyplot as plt
        >>> class Shift:  # p(x | c) = N(x; (c, c), 0.1^2 I)
        ...     context_size = 1
        ...     def sample(self, n, context=None, seed=None):
        ...         z = np.random.default_rng(seed).normal(size=(n, len(context), 2))
        ...         return np.asarray(context)[None, :, :] + 0.1 * z
        >>> c = np.repeat([[-1.0], [0.0], [2.0], [3.0]], 50, axis=0)   # 4 contexts
        >>> x = c + 0.1 * np.random.default_rng(1).normal(size=(200, 2))
        >>> fig = plot_conditional_samples(Shift(), x, c, num_samples=100)
        >>> [a.get_title() for a in fig.axes]   # spread_contexts(c): 3 of them
        ['c = [-1]', 'c = [2]', 'c = [3]']
        >>> plt.close(fig)
    """
    x = np.asarray(x, dtype=np.float64)
    context = _as_contexts(context, _context_size(model))
    if x.ndim != 2 or len(x) != len(context) or x.shape[1] == 0:
        raise ValueError(f"expected data rows x [n, D] with one row per context row "
                         f"({len(context)}), got shape {x.shape}")
    num_samples = _check_count(num_samples, "num_samples")
    if x.shape[1] == 1:
        shown_x, shown_c = x[:num_samples, 0], context[:num_samples]
        drawn = np.asarray(model.sample(1, context=shown_c, seed=seed)).reshape(-1)
        fig = plot_samples(np.stack([shown_c[:, 0], drawn], axis=1), bounds=bounds,
                           data=np.stack([shown_c[:, 0], shown_x], axis=1), overlay=True,
                           ax=axes, legend="best", data_title=f"{len(shown_x)} data rows",
                           title="one sample given each row's context")
        fig.axes[0].set(xlabel="context $c_1$", ylabel="$x$")
    else:
        contexts = _as_contexts(spread_contexts(context) if contexts is None else contexts,
                                context.shape[1])
        m = len(contexts)
        labels = _context_labels(context_labels, context_names, contexts)
        near = max(20, len(x) // 20) if num_nearest is None else _check_count(num_nearest,
                                                                              "num_nearest")
        scale = np.where(context.std(axis=0) > 0, context.std(axis=0), 1.0)
        samples = np.asarray(model.sample(num_samples, context=contexts, seed=seed))
        bounds = padded_bounds(x[:, :2]) if bounds is None else bounds
        fig, panels = get_axes(axes, m, name="axes", panel_size=(3.6, 3.6))
        for j, (a, c) in enumerate(zip(panels, contexts)):
            nearest = np.argsort(np.abs((context - c) / scale).sum(axis=1), kind="stable")
            plot_samples(samples[:, j, :2], data=x[nearest[:near], :2], bounds=bounds,
                         overlay=True, ax=a, legend="upper left" if j == 0 else None,
                         title=labels[j], data_title=f"the {near} rows with the nearest "
                                                     "contexts")
        title = f"samples of p(x | c) given {m} contexts" if title is None else title
    if axes is None and title:
        fig.suptitle(title)
    return fig
