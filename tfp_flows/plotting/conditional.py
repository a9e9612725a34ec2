"""Plots of conditional flows ``p(x | c)``: densities given a few contexts, image samples by class.

A conditional model is duck-typed: ``log_prob(x, context=c)`` for densities,
``sample(n, context=c, seed=)`` for samples, and, where present, ``context_size``,
``event_shape`` and ``num_levels`` are checked against what is asked. A
:class:`~tfp_flows.FlowModel` built with ``context_size=K`` has all of them.
"""
import math

import numpy as np
from matplotlib.lines import Line2D

from tfp_flows.plotting.density import density_grid
from tfp_flows.plotting.images import _as_images, _check_levels, _draw_tiles, _tile_images
from tfp_flows.plotting.layout import (
    as_bounds,
    get_axes,
    label_outer_panel,
    set_bounds,
    style_colorbar,
)

MODEL_LINE_COLOR = "black"
EXACT_LINE_COLOR = "tab:red"
SAMPLE_COLOR = "tab:orange"


def _as_contexts(contexts, context_size):
    """``contexts`` as float32 ``[m, K]`` (a single ``[K]`` becomes ``m = 1``), checked."""
    c = np.asarray(contexts)
    if c.dtype == object or c.dtype.kind not in "biuf":
        raise ValueError(f"expected numeric contexts, got dtype {c.dtype}")
    c = c.astype(np.float32)
    if c.ndim == 1:
        c = c[None]
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise ValueError(f"expected contexts of shape [m, K] (one row per panel) or [K], "
                         f"with m, K >= 1, got shape {np.shape(contexts)}")
    if context_size is not None and c.shape[1] != int(context_size):
        raise ValueError(f"the model takes contexts of {int(context_size)} numbers, got "
                         f"contexts of shape {np.shape(contexts)}")
    if not np.all(np.isfinite(c)):
        raise ValueError("expected finite contexts, got a NaN or infinite value")
    return c


def _context_size(model):
    if not hasattr(model, "context_size"):
        return None
    if model.context_size is None:
        raise ValueError(f"expected a conditional model (context_size=K), got a "
                         f"{type(model).__name__} with context_size=None")
    return model.context_size


def _describe(context, names=None, digits=2, most=4):
    """A context row as a short label: ``c = [0.12, -1.3]``, or with the columns' ``names``
    ``dose = 0.12, age = -1.3`` (the first ``most`` numbers)."""
    values = [f"{v:.{digits}g}" for v in context[:most]]
    more = ", \u2026" if len(context) > most else ""
    if names is not None:
        return ", ".join(f"{n} = {v}" for n, v in zip(names, values)) + more
    return f"c = [{', '.join(values)}{more}]"


def _context_labels(labels, names, contexts):
    """One panel title per context: ``labels`` as given, or :func:`_describe` of each."""
    if names is not None and len(names) != contexts.shape[1]:
        raise ValueError(f"expected {contexts.shape[1]} context_names (one per context "
                         f"column), got {len(names)}")
    labels = [_describe(c, names) for c in contexts] if labels is None else list(labels)
    if len(labels) != len(contexts):
        raise ValueError(f"expected {len(contexts)} context_labels (one per context), got "
                         f"{len(labels)}")
    return labels


def _credible_levels(density, mass):
    """Density thresholds whose upper sets hold the fractions ``mass`` of the grid's mass
    (highest-density regions), increasing, as ``contour`` wants them."""
    p = np.sort(density.ravel())[::-1]
    total = p.sum()
    if not total > 0:
        return None
    cumulative = np.cumsum(p) / total
    index = np.minimum(np.searchsorted(cumulative, mass), len(p) - 1)
    levels = np.unique(p[index])
    return levels if len(levels) == len(mass) and levels[0] > 0 else None


def _log_prob_given(source, context, name):
    """``f(x [n, 2]) -> [n]`` for one context: ``source.log_prob(x, context=c)`` (a model or
    a :class:`~tfp_flows.datasets.ConditionalProblem`) or ``source(x, c)``, with ``c``
    repeated as ``[n, K]`` rows."""
    method = getattr(source, "log_prob", None)
    if callable(method):
        def fn(x):
            return method(x, context=np.broadcast_to(context, (len(x), len(context))))
    elif callable(source):
        def fn(x):
            return source(x, np.broadcast_to(context, (len(x), len(context))))
    else:
        raise TypeError(f"expected {name} to be a callable (x, context) -> log-densities or "
                        f"an object with .log_prob(x, context=...), got "
                        f"{type(source).__name__}")
    return fn


def plot_conditional_density(model, contexts, bounds=((-3, 3), (-3, 3)), exact_log_prob=None,
                             mass=(0.5, 0.9), num_samples=0, seed=0, resolution=80,
                             context_labels=None, ncols=None, axes=None, levels=12,
                             cmap="Blues", colorbar=True, xlabel="$x_1$", ylabel="$x_2$",
                             title="flow density p(x | c)", context_names=None):
    """A 2-D conditional density given a few contexts, one panel per context.

    Each panel shows the flow's density ``p(x | c)`` as filled contours (one colour scale
    shared by all panels, so heights compare across contexts) and, as lines, the regions of
    highest density that hold the fractions ``mass`` of it (50% and 90% by default; solid
    black). With ``exact_log_prob`` the same regions of the exact conditional density are
    drawn dashed in red on top: where the flow is right, solid and dashed lines coincide.
    Flow samples, if asked for, are orange dots.
    The regions are computed on the plotted grid, so the window must hold most of the mass.

    Args:
      model: a conditional flow over 2-D points: ``model.log_prob(x [n, 2], context=c [n,
        K])`` returning ``n`` log-densities (a ``tf.Tensor`` is fine), and with
        ``num_samples > 0``, ``model.sample(n, context=c [K], seed=seed)``.
      contexts: array-like ``[m, K]``, one panel per row (or one context ``[K]``).
      bounds: ``((xmin, xmax), (ymin, ymax))`` of every panel (all panels share axes, so a
        shift of the density with the context shows).
      exact_log_prob: optional exact ``log p(x | c)``: a callable ``f(x [n, 2], c [n, K])
        -> [n]`` or an object with ``.log_prob(x, context=c)`` such as a
        :class:`~tfp_flows.datasets.ConditionalProblem`.
      mass: fractions in ``(0, 1)`` of the probability mass that the drawn regions hold.
      num_samples: draw this many samples of the flow in each panel (0: none).
      seed: the sampling seed.
      resolution: grid points per axis (each density is called on ``resolution ** 2``
        points per panel).
      context_labels: one panel title per context (e.g. ``"y = ..."``, a class name);
        default ``"c = [c_1, c_2, ...]"`` (the first four numbers), or with
        ``context_names`` ``"dose = c_1, age = c_2"``.
      ncols: panels per row; default ``min(m, 4)``.
      axes: a sequence of ``m`` Axes to draw into; a new figure if None.
      levels: number of filled contour levels.
      cmap: colour map of the flow's density (a light one keeps the lines readable).
      colorbar: add one colour bar for all panels.
      xlabel, ylabel: axis labels (on the outer panels).
      title: figure title (set only when the figure is made here; None for none).
      context_names: the ``K`` names of the context's columns, for the default labels.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on contexts that are empty, not finite or not ``[m, K]`` (``K`` must be
        the model's ``context_size`` where it has one), a model that is not conditional or
        not 2-D, ``mass`` outside ``(0, 1)``, a wrong number of labels, names or axes, negative
        ``num_samples``, and as :func:`~tfp_flows.plotting.density_grid` (NaN densities).
      TypeError: if ``exact_log_prob`` is neither callable nor has a ``log_prob``.

    Example:
    >>> import matplotlib.pyplot as plt, tfp_flows
    >>> from tfp_flows.datasets import LinearGaussian
    >>> problem = LinearGaussian(dim=2, obs_dim=3, seed=0)
    >>> _, y = problem.sample(2, seed=1)
    >>> flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,),
    ...                      context_size=3, seed=0)     # untrained: the same for every y
    >>> fig = plot_conditional_density(flow, y, exact_log_prob=problem, resolution=30,
    ...                                context_labels=["y_1", "y_2"])
    >>> [a.get_title() for a in fig.axes[:2]], len(fig.axes)   # two panels, a colour bar
    (['y_1', 'y_2'], 3)
    >>> plt.close(fig)
    """
    contexts = _as_contexts(contexts, _context_size(model))
    event_shape = getattr(model, "event_shape", None)
    if event_shape is not None and tuple(event_shape) != (2,):
        raise ValueError(f"expected a model of 2-D points (event_shape (2,)), got event_shape "
                         f"{tuple(event_shape)}")
    m = len(contexts)
    mass = np.sort(np.asarray(mass, dtype=np.float64).reshape(-1))
    if len(mass) == 0 or not np.all((mass > 0) & (mass < 1)):
        raise ValueError(f"expected mass fractions in (0, 1), got {mass.tolist()}")
    if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 0:
        raise ValueError(f"expected num_samples to be an integer >= 0, got {num_samples!r}")
    context_labels = _context_labels(context_labels, context_names, contexts)
    bounds = as_bounds(bounds)
    ncols = min(m, 4) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"expected ncols >= 1, got {ncols}")
    made_here = axes is None
    fig, panels = get_axes(axes, m, name="axes", nrows=math.ceil(m / ncols), ncols=ncols,
                           panel_size=(3.0, 3.4), sharex=True, sharey=True)
    if made_here:  # a last row that is not full
        for extra in panels[m:]:
            extra.remove()
        panels = panels[:m]

    model_grids, exact_grids = [], []
    for c in contexts:
        model_grids.append(density_grid(_log_prob_given(model, c, "model"), bounds, resolution))
        if exact_log_prob is not None:
            exact_fn = _log_prob_given(exact_log_prob, c, "exact_log_prob")
            exact_grids.append(density_grid(exact_fn, bounds, resolution))
    peak = max(float(p.max()) for _, _, p in model_grids)
    fill_levels = np.linspace(0.0, peak if peak > 0 else 1.0, int(levels) + 1)

    for i, (a, c, label, (xx, yy, p)) in enumerate(zip(panels, contexts, context_labels,
                                                       model_grids)):
        filled = a.contourf(xx, yy, p, levels=fill_levels, cmap=cmap)
        regions = _credible_levels(p, mass)
        if regions is not None:
            a.contour(xx, yy, p, levels=regions, colors=MODEL_LINE_COLOR, linewidths=1.3)
        if exact_grids:
            exact = exact_grids[i][2]
            regions = _credible_levels(exact, mass)
            if regions is not None:
                a.contour(xx, yy, exact, levels=regions, colors=EXACT_LINE_COLOR,
                          linewidths=1.8, linestyles=[(0, (3, 2))])
        if num_samples:
            x = np.asarray(model.sample(int(num_samples), context=c, seed=seed))
            a.scatter(x[:, 0], x[:, 1], s=4, color=SAMPLE_COLOR, alpha=0.7, linewidths=0)
        set_bounds(a, bounds)
        a.set_aspect("equal", adjustable="box")
        a.set_title(label)
        if made_here:
            label_outer_panel(a, xlabel, ylabel, last_row=i >= m - ncols,
                              first_col=i % ncols == 0)
        else:
            a.set_xlabel(xlabel)
            a.set_ylabel(ylabel)

    percent = ", ".join(f"{100 * f:g}%" for f in mass)
    handles = [Line2D([], [], color=MODEL_LINE_COLOR, lw=1.3, label=f"flow: {percent} regions")]
    if exact_grids:
        handles.append(Line2D([], [], color=EXACT_LINE_COLOR, lw=1.8, ls=(0, (3, 2)),
                              label=f"exact: {percent} regions"))
    if num_samples:
        handles.append(Line2D([], [], color=SAMPLE_COLOR, marker="o", ls="", markersize=4,
                              label=f"{int(num_samples)} flow samples per panel"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    if colorbar:
        bar = fig.colorbar(filled, ax=panels, label="flow density p(x | c)", shrink=0.9)
        style_colorbar(bar)
    if made_here and title:
        fig.suptitle(title)
    return fig


def plot_class_samples(model, num_classes, num_per_class=8, seed=0, class_names=None,
                       temperature=1.0, ax=None, cmap="gray", title="samples by class"):
    """Image samples of a class-conditional flow, one row per class.

    Row ``k`` holds ``num_per_class`` draws of ``p(x | c_k)`` with the one-hot context
    ``c_k = e_k`` (class ``k`` of ``num_classes``), labelled with the class on the left.
    All rows come from one call ``model.sample(num_per_class, context=I, seed=seed)`` with
    ``I`` the ``num_classes x num_classes`` identity, so a column shares its base draws
    ``z``: the differences down a column are the context's doing alone. Pixels are floored
    and clipped to levels ``0 .. K-1`` as in :func:`~tfp_flows.plotting.plot_image_grid`.

    Args:
      model: a class-conditional image flow: ``model.sample(n, context=c [m, K], seed=,
        temperature=)`` returning ``[n, m, H, W(, C)]``, and ``model.num_levels``;
        ``model.context_size``, where present, must equal ``num_classes``.
      num_classes: ``K``, the number of classes (the width of the one-hot context).
      num_per_class: samples per class (columns).
      seed: the sampling seed.
      class_names: one row label per class; default ``0 .. K-1``.
      temperature: ``T > 0`` scales the base draws (``T < 1``: cleaner, less varied).
      ax: an Axes to draw into; a new figure if None.
      cmap: colormap of grayscale images.
      title: the panel title (None for none).

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: if ``num_classes`` or ``num_per_class`` is not a positive integer, the
        model has no ``num_levels`` or another ``context_size``, the samples do not have
        the shape ``[num_per_class, num_classes, H, W(, C)]``, or the number of class names
        is wrong.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> class Blocks:  # any object with sample(n, context=...) and num_levels
    ...     num_levels, context_size = 17, 3
    ...     def sample(self, n, context=None, seed=None, temperature=1.0):
    ...         level = 8.0 * np.argmax(context, axis=-1)        # class k: flat level 8k
    ...         return np.broadcast_to(level[None, :, None, None, None], (n, 3, 4, 4, 1))
    >>> fig = plot_class_samples(Blocks(), num_classes=3, num_per_class=5,
    ...                          class_names=["zero", "one", "two"])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['zero', 'one', 'two']
    >>> plt.close(fig)
    """
    for value, name in ((num_classes, "num_classes"), (num_per_class, "num_per_class")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"expected {name} to be a positive integer, got {value!r}")
    m, n = int(num_classes), int(num_per_class)
    k = getattr(model, "num_levels", None)
    if k is None:
        raise ValueError(f"expected an image flow with num_levels (pixel levels), got a "
                         f"{type(model).__name__} without one")
    k = _check_levels(k, "model.num_levels")
    size = getattr(model, "context_size", m)
    if size != m:
        raise ValueError(f"expected a model with one-hot contexts of num_classes={m} numbers, "
                         f"got a model with context_size={size}")
    names = [str(i) for i in range(m)] if class_names is None else [str(c) for c in class_names]
    if len(names) != m:
        raise ValueError(f"expected {m} class_names (one per class), got {len(names)}")
    x = np.asarray(model.sample(n, context=np.eye(m, dtype=np.float32), seed=seed,
                                temperature=temperature))
    if x.ndim not in (4, 5) or x.shape[:2] != (n, m):
        raise ValueError(f"expected samples of shape [{n}, {m}, H, W(, C)] from model.sample, "
                         f"got shape {x.shape}")
    by_class = np.swapaxes(x, 0, 1).reshape((m * n,) + x.shape[2:])    # row k: class k
    images = _as_images(by_class, k, "samples")
    h = images.shape[1]
    tiles = _tile_images(images, m, n)
    scale = min(7.0 / tiles.shape[1], 7.0 / tiles.shape[0], 0.12)
    fig, (a,) = get_axes(ax, 1, panel_size=(tiles.shape[1] * scale + 1.2,
                                            tiles.shape[0] * scale + 0.9))
    _draw_tiles(a, tiles, k, cmap)
    a.set_yticks([r * (h + 1) + (h - 1) / 2 for r in range(m)], labels=names)
    a.tick_params(axis="y", length=0)
    a.set_ylabel("class (one-hot context)")
    a.set_xlabel(f"{n} samples per class; a column shares its base draw z "
                 f"(levels 0\u2013{k - 1})")
    if title:
        a.set_title(title)
    return fig


__all__ = ["plot_class_samples", "plot_conditional_density"]
