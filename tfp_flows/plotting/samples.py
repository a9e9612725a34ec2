"""Scatter plots of samples: model against data, layer by layer, latent to data lines."""
import numpy as np
from matplotlib.collections import LineCollection

from tfp_flows.plotting.layout import (
    as_bounds,
    as_points,
    get_axes,
    label_outer_panel,
    padded_bounds,
    place_legend,
    robust_bounds,
    set_bounds,
)

MODEL_COLOR = "tab:orange"
DATA_COLOR = "tab:blue"


def plot_samples(samples, data=None, bounds=None, overlay=False, ax=None, s=4.0, alpha=0.5,
                 title="model samples", data_title="data", legend="outside"):
    """Scatter plot of model samples, optionally against data.

    Without ``data``: one panel. With ``data``: two panels, data (left) and model samples
    (right), on the same limits; or, with ``overlay=True``, one panel with both point
    clouds and a legend (to the right of the axes, off the points).

    Args:
      samples: array-like ``[n, 2]`` drawn from the model.
      data: optional array-like ``[m, 2]`` of training or test points.
      bounds: ``((xmin, xmax), (ymin, ymax))``. If None and ``data`` is given, the range of
        the data plus 5% on each side (a few wild model samples then do not squash the
        picture); if None without data, matplotlib's autoscaling.
      overlay: draw data and samples in one panel.
      ax: an Axes, or a pair of Axes for the two-panel layout; new ones if None.
      s, alpha: marker size and opacity.
      title, data_title: titles of the model and data panels (``title`` alone when
        overlaid).
      legend: where the overlay's legend goes: ``"outside"`` (right of the axes), a
        matplotlib ``loc`` such as ``"best"``, or None for none.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: if ``samples`` or ``data`` is not of shape ``[n, 2]``.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> fig = plot_samples(np.zeros((5, 2)))
    >>> len(fig.axes)
    1
    >>> plt.close(fig)
    """
    samples = as_points(samples, "samples")
    data = None if data is None else as_points(data, "data")
    if bounds is not None:
        bounds = as_bounds(bounds)
    elif data is not None:
        bounds = padded_bounds(data)
    two_panels = data is not None and not overlay
    wide = overlay and data is not None and legend == "outside"  # room for the legend
    fig, axes = get_axes(ax, 2 if two_panels else 1, sharex=True, sharey=True,
                         panel_size=(5.6 if wide else 4.0, 3.6))
    if data is None:
        panels = [(axes[0], [(samples, MODEL_COLOR, None)], title)]
    elif overlay:
        panels = [(axes[0], [(data, DATA_COLOR, data_title),
                             (samples, MODEL_COLOR, title)], title)]
    else:
        panels = [(axes[0], [(data, DATA_COLOR, None)], data_title),
                  (axes[1], [(samples, MODEL_COLOR, None)], title)]
    for a, clouds, name in panels:
        for pts, color, label in clouds:
            a.scatter(pts[:, 0], pts[:, 1], s=s, alpha=alpha, color=color, label=label,
                      linewidths=0)
        if len(clouds) > 1:
            place_legend(a, legend, markerscale=3)
        a.set_title(name)
        a.set_xlabel("$x_1$")
        a.set_ylabel("$x_2$")
        if bounds is not None:
            set_bounds(a, bounds)
    return fig


def _as_steps(steps, min_steps=1):
    """Check a list of ``[n, 2]`` arrays with one common ``n``."""
    arrays = [as_points(x, f"steps[{i}]") for i, x in enumerate(steps)]
    if len(arrays) < min_steps:
        raise ValueError(f"expected at least {min_steps} arrays in steps, got {len(arrays)}")
    sizes = {len(a) for a in arrays}
    if len(sizes) > 1:
        raise ValueError(f"expected every array in steps to hold the same number of "
                         f"points, got sizes {[len(a) for a in arrays]}")
    return arrays


def _step_names(names, count):
    if names is None:
        return ["base"] + [f"after bijector {i}" for i in range(1, count)]
    names = [str(n) for n in names]
    if len(names) != count:
        raise ValueError(f"expected {count} names (one per array in steps), got {len(names)}")
    return names


def _base_colors(base):
    """Colour values that follow each point through the layers: its base angle."""
    return np.arctan2(base[:, 1], base[:, 0])


def plot_layer_grid(steps, names=None, bounds=None, cols=4, s=4.0, cmap="hsv",
                    color_by_base=True, axes=None,
                    title="a base sample bent layer by layer, from base to data",
                    xlabel="dimension 1", ylabel="dimension 2"):
    """A grid of scatter plots, one per stage of a flow: the base sample bent layer by layer.

    Every panel shows the same ``n`` points after one more bijector. By default all
    panels share one range (that of all the stages together, see ``bounds``), so a layer
    that shrinks or stretches the sample shows as such; a point keeps its colour (its
    angle in the base sample) from panel to panel.

    Args:
      steps: list of array-likes ``[n, 2]`` with the same ``n``: the base sample, then the
        sample after each bijector (as a model's ``forward_steps(z)`` returns them).
      names: one title per array; default ``"base"``, ``"after bijector 1"``, ...
      bounds: ``((xmin, xmax), (ymin, ymax))`` shared by every panel; None (default) for
        one shared range covering the points of every stage (a few far outliers are cut
        off); ``"per_panel"`` to let each panel scale to its own points, which the figure
        title then says.
      cols: panels per row; the grid has ``ceil(len(steps) / cols)`` rows and unused
        cells are removed, so the figure has exactly ``len(steps)`` axes.
      s: marker size.
      cmap, color_by_base: colour each point by its angle in the base sample, so a point
        keeps its colour from panel to panel; with ``color_by_base=False`` one colour.
      axes: optional sequence of ``len(steps)`` Axes to draw into.
      title: figure title (set only when the figure is made here).
      xlabel, ylabel: axis labels, set on the bottom panel of each column and on the
        first column (the outer panels of the caller's grid when ``axes`` is given).

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on mismatched arrays or names, ``cols < 1`` or bad ``bounds``.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> z = np.random.default_rng(0).normal(size=(20, 2))
    >>> fig = plot_layer_grid([z, 2 * z, z ** 3], names=["z", "scale", "cube"], cols=2)
    >>> [a.get_title() for a in fig.axes]
    ['z', 'scale', 'cube']
    >>> fig.axes[0].get_xlim() == fig.axes[1].get_xlim()  # one shared range
    True
    >>> plt.close(fig)
    """
    arrays = _as_steps(steps)
    titles = _step_names(names, len(arrays))
    cols = int(cols)
    if cols < 1:
        raise ValueError(f"expected cols >= 1, got {cols}")
    per_panel = isinstance(bounds, str)
    if per_panel and bounds != "per_panel":
        raise ValueError(f"expected bounds as ((xmin, xmax), (ymin, ymax)), None or "
                         f"'per_panel', got {bounds!r}")
    if bounds is None:
        bounds = robust_bounds(*arrays)
    elif not per_panel:
        bounds = as_bounds(bounds)
    made_here = axes is None
    if made_here:
        ncols = min(cols, len(arrays))
        nrows = -(-len(arrays) // ncols)
        share = {} if per_panel else {"sharex": True, "sharey": True}
        fig, grid = get_axes(None, nrows * ncols, nrows=nrows, ncols=ncols,
                             panel_size=(3.0, 3.0), **share)
        for extra in grid[len(arrays):]:
            extra.remove()
        grid = grid[:len(arrays)]
        for i, a in enumerate(grid):
            below = i + ncols < len(arrays)  # another panel under this one
            label_outer_panel(a, xlabel, ylabel, last_row=not below, first_col=i % ncols == 0)
            if below and not per_panel:
                a.tick_params(labelbottom=False)
            if i % ncols and not per_panel:
                a.tick_params(labelleft=False)
        if title:
            fig.suptitle(title + ("; each panel on its own range" if per_panel else ""))
    else:
        fig, grid = get_axes(axes, len(arrays), name="axes")
        for a in grid:
            label_outer_panel(a, xlabel, ylabel)
    colors = _base_colors(arrays[0]) if color_by_base else None
    for a, pts, name in zip(grid, arrays, titles):
        if colors is None:
            a.scatter(pts[:, 0], pts[:, 1], s=s, color=MODEL_COLOR, linewidths=0)
        else:
            a.scatter(pts[:, 0], pts[:, 1], s=s, c=colors, cmap=cmap, linewidths=0)
        a.set_title(name)
        if not per_panel:
            set_bounds(a, bounds)
    return fig


def plot_flow_layers(model, num_samples=1000, seed=0, cols=4, **kwargs):
    """A flow model's base sample bent layer by layer: :func:`plot_layer_grid` of
    ``model.forward_steps(z)`` for ``z`` drawn from its base distribution, one panel per
    layer titled ``"i: <layer class>"`` (``Layer`` dropped from the name). Events of more
    than two numbers are flattened and show their first two.

    Args:
      model: a flow with ``base_distribution``, ``forward_steps(z)`` (the base sample, then
        the sample after each layer) and ``flow_layers``, as a
        :class:`~tfp_flows.FlowModel` has them.
      num_samples: points drawn from the base.
      seed: the seed of the base draw.
      cols: panels per row.
      **kwargs: passed on to :func:`plot_layer_grid` (``bounds``, ``s``, ``title``, ...).

    Returns:
      The ``matplotlib.figure.Figure``.

    Example:
    >>> import matplotlib.pyplot as plt, tfp_flows
    >>> flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(4,), seed=0)
    >>> fig = plot_flow_layers(flow, num_samples=50)
    >>> [a.get_title() for a in fig.axes][:2]
    ['base', '1: Autoregressive']
    >>> plt.close(fig)
    """
    z = model.base_distribution.sample(num_samples, seed=seed)
    steps = [np.asarray(x).reshape(num_samples, -1)[:, :2] for x in model.forward_steps(z)]
    names = ["base"] + [f"{i}: {type(layer).__name__.replace('Layer', '')}"
                        for i, layer in enumerate(model.flow_layers, start=1)]
    return plot_layer_grid(steps, names=names, cols=cols, **kwargs)


def plot_latent_lines(z, x, n=150, ax=None, s=6.0, title="Transformed latent z \u2192 x",
                      z_color=DATA_COLOR, x_color=MODEL_COLOR, line_alpha=0.3,
                      legend="outside", xlabel="dimension 1", ylabel="dimension 2"):
    """Lines from latent points ``z_i`` to their images ``x_i = f(z_i)``.

    The picture of the Glow tutorial: the first ``n`` pairs, each joined by a grey line,
    latent points in ``z_color`` and their images in ``x_color``, with a legend to the
    right of the axes. Both clouds live in the same 2-D space, hence one pair of axes.

    Args:
      z: array-like ``[m, 2]`` of latent (base) points.
      x: array-like ``[m, 2]`` of the same points after the flow (same row order).
      n: how many pairs to draw (the first ``n``; all if fewer).
      ax: an Axes to draw into; a new figure if None.
      s: marker size.
      title: panel title.
      z_color, x_color, line_alpha: colours of the two clouds and opacity of the lines.
      legend: ``"outside"`` (right of the axes), a matplotlib ``loc``, or None.
      xlabel, ylabel: axis labels.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: if ``z`` or ``x`` is not ``[m, 2]`` or their shapes differ.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> z = np.random.default_rng(0).normal(size=(10, 2))
    >>> fig = plot_latent_lines(z, z + 3.0, n=4)
    >>> len(fig.axes[0].collections)  # the lines and two scatters
    3
    >>> plt.close(fig)
    """
    z = as_points(z, "z")
    x = as_points(x, "x")
    if z.shape != x.shape:
        raise ValueError(f"expected z and x of the same shape, got {z.shape} and {x.shape}")
    n = int(n)
    if n < 1:
        raise ValueError(f"expected n >= 1, got {n}")
    z, x = z[:n], x[:n]
    fig, (a,) = get_axes(ax, 1, panel_size=(6.2 if legend == "outside" else 5.0, 4.5))
    a.add_collection(LineCollection(np.stack([z, x], axis=1), colors="0.5",
                                    alpha=line_alpha, linewidths=0.8))
    a.scatter(z[:, 0], z[:, 1], s=s, color=z_color, label="latent z", zorder=3)
    a.scatter(x[:, 0], x[:, 1], s=s, color=x_color, label="x = f(z)", zorder=3)
    a.autoscale_view()
    place_legend(a, legend, markerscale=1.5)
    a.set_title(title)
    a.set_xlabel(xlabel)
    a.set_ylabel(ylabel)
    return fig
