"""Density contours of a 2-D log-density, optionally next to the true density."""
import numpy as np

from tfp_flows.plotting._common import as_bounds, as_log_prob_fn, get_axes


def density_grid(log_prob, bounds=((-3, 3), (-3, 3)), resolution=100):
    """Evaluate ``exp(log_prob)`` on a regular ``resolution x resolution`` grid.

    Args:
      log_prob: a callable ``f(x) -> [n]`` taking float32 points of shape ``[n, 2]``
        (it may return a ``tf.Tensor``), or an object with a ``.log_prob`` method.
      bounds: ``((xmin, xmax), (ymin, ymax))`` of the grid.
      resolution: number of grid points along each axis (at least 2).

    Returns:
      ``(xx, yy, density)``, three ``[resolution, resolution]`` float64 arrays as from
      ``np.meshgrid(xs, ys)``: ``density[i, j] = exp(log_prob([xx[i, j], yy[i, j]]))``.
      A log-density of ``-inf`` gives density 0.

    Raises:
      ValueError: when ``log_prob`` returns NaN or ``+inf`` anywhere on the grid (a
        diverged model), or returns the wrong number of values.

    Example:
    >>> import numpy as np
    >>> xx, yy, p = density_grid(lambda x: -0.5 * (x ** 2).sum(1) - np.log(2 * np.pi),
    ...                          resolution=5)
    >>> p.shape, round(float(p[2, 2]), 4)
    ((5, 5), 0.1592)
    """
    fn = as_log_prob_fn(log_prob)
    (x0, x1), (y0, y1) = as_bounds(bounds)
    resolution = int(resolution)
    if resolution < 2:
        raise ValueError(f"expected resolution >= 2, got {resolution}")
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    points = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    logp = fn(points).reshape(xx.shape)
    bad = np.isnan(logp) | (logp == np.inf)
    if bad.any():
        raise ValueError(
            f"log_prob returned {int(bad.sum())} NaN or +inf values on the "
            f"{resolution}x{resolution} grid; is the model diverged?"
        )
    return xx, yy, np.exp(logp)


def plot_density(log_prob, bounds=((-3, 3), (-3, 3)), resolution=100, truth=None, ax=None,
                 title="model density", truth_title="true density", levels=20,
                 cmap="viridis", colorbar=True):
    """Filled contours of the density ``exp(log_prob)`` on a grid.

    With ``truth`` the figure has two panels, model (left) and truth (right), drawn with
    the same contour levels (from 0 to the larger of the two maxima) so that colours
    compare directly; one colour bar serves both.

    Args:
      log_prob: the model's log-density: a callable ``f(x [n, 2] float32) -> [n]`` (a
        ``tf.Tensor`` result is fine) or an object with a ``.log_prob`` method.
      bounds: ``((xmin, xmax), (ymin, ymax))`` of the plotted square.
      resolution: grid points per axis (the log-density is called once on
        ``resolution ** 2`` points).
      truth: optional true log-density, same kinds as ``log_prob``.
      ax: an Axes (without ``truth``) or a pair of Axes (with ``truth``); new ones if None.
      title, truth_title: panel titles.
      levels: number of contour levels.
      cmap: matplotlib colour map.
      colorbar: whether to add a colour bar.

    Returns:
      The ``matplotlib.figure.Figure``.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> gauss = lambda x: -0.5 * (x ** 2).sum(1) - np.log(2 * np.pi)
    >>> fig = plot_density(gauss, resolution=10, truth=gauss, colorbar=False)
    >>> [a.get_title() for a in fig.axes]
    ['model density', 'true density']
    >>> plt.close(fig)
    """
    sources = [(log_prob, title)] + ([] if truth is None else [(truth, truth_title)])
    fig, axes = get_axes(ax, len(sources), sharex=True, sharey=True)
    grids = [density_grid(src, bounds, resolution) for src, _ in sources]
    vmax = max(float(p.max()) for _, _, p in grids)
    level_values = np.linspace(0.0, vmax if vmax > 0 else 1.0, int(levels) + 1)
    cs = None
    for a, (xx, yy, p), (_, name) in zip(axes, grids, sources):
        cs = a.contourf(xx, yy, p, levels=level_values, cmap=cmap)
        a.set_title(name)
        a.set_xlabel("$x_1$")
        a.set_ylabel("$x_2$")
        a.set_aspect("equal", adjustable="box")
    if colorbar:
        fig.colorbar(cs, ax=axes, label="density", shrink=0.9)
    return fig
