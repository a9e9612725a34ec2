"""Density contours of a 2-D log-density, optionally next to the true density."""
import numpy as np

from tfp_flows.plotting.layout import as_bounds, as_log_prob_fn, get_axes, style_colorbar


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


def data_bounds(x, pad=0.1, tail=0.0):
    """Plot bounds ``((xmin, xmax), (ymin, ymax))`` from data, e.g. for :func:`plot_density`
    of a flow fitted to ``x``: per axis, the range of the first two columns of ``x`` from
    their ``tail`` to their ``1 - tail`` quantile, widened by ``pad`` times its width on
    each side.

    Args:
      x: array-like ``[n, D]``, ``D >= 2`` (the first two columns are used), finite.
      pad: the margin on each side, a fraction of the range.
      tail: the fraction of the points, in ``[0, 0.5)``, that may fall outside each end of
        the range before padding (0: the full range).

    Example:
    >>> data_bounds([[0.0, 10.0], [1.0, 30.0]])
    ((-0.1, 1.1), (8.0, 32.0))
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 2 or len(x) == 0 or not np.all(np.isfinite(x[:, :2])):
        raise ValueError(f"expected finite data [n, D] with n >= 1 and D >= 2, got shape "
                         f"{x.shape}")
    if not 0 <= tail < 0.5:
        raise ValueError(f"expected tail in [0, 0.5), got {tail!r}")
    lo, hi = np.quantile(x[:, :2], [tail, 1.0 - tail], axis=0)
    return tuple((float(a - pad * (b - a)), float(b + pad * (b - a))) for a, b in zip(lo, hi))


SCALES = ("own", "shared", "log")


def plot_density(log_prob, bounds=((-3, 3), (-3, 3)), resolution=100, truth=None, ax=None,
                 title="model density", truth_title="true density", levels=20,
                 cmap="viridis", colorbar=True, scale="own", log_range=10.0):
    """Filled contours of the density ``exp(log_prob)`` on a grid.

    With ``truth`` the figure has two panels, model (left) and truth (right).

    How the colours are scaled (``scale``):

    - ``"own"`` (default): each panel is linear from 0 to its own maximum, with its own
      colour bar. This reads best in the common case: a flow early in training (or a
      weak one) is far flatter than a sharp truth such as eight Gaussians, and on a
      scale shared with the truth its whole panel is one dark colour. Compare heights
      through the two colour bars.
    - ``"shared"``: both panels linear from 0 to the larger maximum, one colour bar;
      colours compare directly, but the flatter panel may be unreadable.
    - ``"log"``: the log-density on one shared scale from ``log_range`` nats below the
      highest value to that value (lower values, ``-inf`` included, get the lowest
      colour), one colour bar. Colours compare directly and both panels stay readable;
      it also shows the tails and the mass a flow leaves between modes.

    Colour-bar ticks are round values with at most 3 significant digits.

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
      colorbar: whether to add colour bars.
      scale: ``"own"``, ``"shared"`` or ``"log"``, see above.
      log_range: with ``scale="log"``, the depth of the colour scale in nats (> 0).

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on an unknown ``scale`` or ``log_range <= 0``, and as
        :func:`density_grid`.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> gauss = lambda x: -0.5 * (x ** 2).sum(1) - np.log(2 * np.pi)
    >>> fig = plot_density(gauss, resolution=10, truth=gauss, colorbar=False)
    >>> [a.get_title() for a in fig.axes]
    ['model density', 'true density']
    >>> plt.close(fig)
    """
    if scale not in SCALES:
        raise ValueError(f"expected scale to be one of {SCALES}, got {scale!r}")
    log_range = float(log_range)
    if not log_range > 0:
        raise ValueError(f"expected log_range > 0, got {log_range}")
    sources = [(log_prob, title)] + ([] if truth is None else [(truth, truth_title)])
    fig, axes = get_axes(ax, len(sources), sharex=True, sharey=True)
    grids = [density_grid(src, bounds, resolution) for src, _ in sources]
    levels = int(levels)
    if scale == "log":
        with np.errstate(divide="ignore"):
            values = [np.log(p) for _, _, p in grids]
        top = max(float(v.max()) for v in values)
        if not np.isfinite(top):  # zero density everywhere
            top = 0.0
        floor = top - log_range
        values = [np.maximum(v, floor) for v in values]
        shared = np.linspace(floor, top, levels + 1)
        label = "log density"
    else:
        values = [p for _, _, p in grids]
        peak = max(float(p.max()) for p in values)
        shared = np.linspace(0.0, peak if peak > 0 else 1.0, levels + 1)
        label = "density"
    sets = []
    for a, (xx, yy, _), v, (_, name) in zip(axes, grids, values, sources):
        if scale == "own":
            own = float(v.max())
            panel_levels = np.linspace(0.0, own if own > 0 else 1.0, levels + 1)
        else:
            panel_levels = shared
        sets.append(a.contourf(xx, yy, v, levels=panel_levels, cmap=cmap))
        a.set_title(name)
        a.set_xlabel("$x_1$")
        a.set_ylabel("$x_2$")
        a.set_aspect("equal", adjustable="box")
    if colorbar:
        if scale == "own":
            bars = [fig.colorbar(cs, ax=a, label=label, shrink=0.9)
                    for cs, a in zip(sets, axes)]
        else:
            bars = [fig.colorbar(sets[-1], ax=axes, label=label, shrink=0.9)]
        for bar in bars:
            style_colorbar(bar)
    return fig
