"""Is the latent code standard Normal? Q-Q plots and histograms per dimension."""
import numpy as np
from scipy import stats

from tfp_flows.plotting.layout import get_axes

MAX_DEFAULT_DIMS = 16


def normal_qq(values):
    """``(theoretical, sample)`` quantiles of a 1-D sample against the standard Normal.

    The theoretical quantiles are ``scipy.stats.norm.ppf((i - 0.5) / n)`` for
    ``i = 1 .. n`` (Hazen plotting positions); the sample quantiles are the sorted values.

    Example:
    >>> import numpy as np
    >>> t, v = normal_qq([0.0, 3.0, -1.0])
    >>> v.tolist(), np.round(t, 3).tolist()
    ([-1.0, 0.0, 3.0], [-0.967, 0.0, 0.967])
    """
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    positions = (np.arange(1, v.size + 1) - 0.5) / v.size
    return stats.norm.ppf(positions), v


def plot_latent_qq(z, dims=None, bins=30, axes=None, color="tab:blue",
                   title="latent z against N(0, 1)"):
    """Q-Q plots and histograms of each latent dimension against N(0, 1).

    For each chosen dimension ``j`` there is a column of two panels: on top the sorted
    values of ``z[:, j]`` against standard Normal quantiles (see :func:`normal_qq`) with
    the line ``y = x`` (points on the line: Normal); below, a density histogram of
    ``z[:, j]`` with the N(0, 1) density overlaid as a dark line (the panel titles say
    so; no legend covers the bars). A flow that fits maps data to latents that look
    standard Normal in every dimension.

    Args:
      z: array-like ``[n, ...]`` of latents (e.g. ``model.bijector.inverse(x)``); trailing
        dimensions are flattened, a 1-D array is one dimension. At least 2 rows.
      dims: indices of the flattened dimensions to show; default all of them, which must
        be at most 16 (pass ``dims`` for wider latents, such as images).
      bins: histogram bins.
      axes: optional sequence of ``2 * len(dims)`` Axes: all Q-Q panels, then all
        histograms; a new ``2 x len(dims)`` figure if None.
      color: colour of the points and bars.
      title: figure title (set only when the figure is made here).

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on fewer than two rows, more than 16 dimensions without ``dims``, or an
        index in ``dims`` out of range.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> z = np.random.default_rng(0).normal(size=(50, 2))
    >>> fig = plot_latent_qq(z, bins=5)
    >>> len(fig.axes), fig.axes[0].get_title()
    (4, 'Q-Q plot of z[0]')
    >>> plt.close(fig)
    """
    arr = np.asarray(z, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[0] < 2:
        raise ValueError(f"expected z of shape [n, ...] with n >= 2, got {arr.shape}")
    arr = arr.reshape(arr.shape[0], -1)
    width = arr.shape[1]
    if dims is None:
        if width > MAX_DEFAULT_DIMS:
            raise ValueError(f"z has {width} dimensions; expected at most {MAX_DEFAULT_DIMS} "
                             f"to plot all, pass dims=[...] to choose some")
        dims = range(width)
    dims = [int(j) for j in dims]
    if not dims or any(not -width <= j < width for j in dims):
        raise ValueError(f"expected dims as a non-empty list of indices in [0, {width}), "
                         f"got {dims}")
    made_here = axes is None
    fig, panels = get_axes(axes, 2 * len(dims), name="axes", nrows=2, ncols=len(dims),
                           panel_size=(3.2, 3.0))
    qq_axes, hist_axes = panels[:len(dims)], panels[len(dims):]
    for j, qa, ha in zip(dims, qq_axes, hist_axes):
        col = arr[:, j]
        theory, sample = normal_qq(col)
        qa.scatter(theory, sample, s=6, color=color, linewidths=0)
        lo = min(theory[0], sample[0])
        hi = max(theory[-1], sample[-1])
        qa.plot([lo, hi], [lo, hi], color="0.3", linestyle="--", linewidth=1, label="y = x")
        qa.set_title(f"Q-Q plot of z[{j}]")
        qa.set_xlabel("N(0, 1) quantile")
        qa.set_ylabel("sample quantile")
        finite = col[np.isfinite(col)]
        ha.hist(finite, bins=bins, density=True, color=color, alpha=0.6)
        grid = np.linspace(min(-4.0, finite.min(initial=-4.0)),
                           max(4.0, finite.max(initial=4.0)), 200)
        ha.plot(grid, stats.norm.pdf(grid), color="0.2", linewidth=1.2, label="N(0, 1)")
        ha.set_title(f"histogram of z[{j}] vs N(0, 1)")
        ha.set_xlabel(f"z[{j}]")
        ha.set_ylabel("density")
    if made_here and title:
        fig.suptitle(title)
    return fig
