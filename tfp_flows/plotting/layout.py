"""Input checks and axes handling shared by the plotting modules.

Nothing here knows about flows: a log-density is any callable (or any object with a
``log_prob`` method) that maps ``[n, 2]`` float32 points to ``n`` log-densities, and
samples are array-likes of shape ``[n, 2]``.
"""
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator


def as_log_prob_fn(log_prob, name="log_prob"):
    """Return a callable ``f(x [n, 2] float32) -> np.ndarray [n]`` from a callable or a model.

    An object with a ``log_prob`` method (a flow model, a TFP distribution) is used through
    that method, even when the object itself is callable (a Keras model's ``__call__`` does
    not, in general, return a log-density).
    """
    method = getattr(log_prob, "log_prob", None)
    fn = method if callable(method) else log_prob
    if not callable(fn):
        raise TypeError(
            f"expected {name} to be a callable log-density or an object with a "
            f".log_prob method, got {type(log_prob).__name__}"
        )

    def evaluate(x):
        out = np.asarray(fn(x), dtype=np.float64)
        if out.size != x.shape[0]:
            raise ValueError(
                f"expected {name} to return {x.shape[0]} values for points of shape "
                f"{tuple(x.shape)}, got an array of shape {out.shape}"
            )
        return out.reshape(x.shape[0])

    return evaluate


def as_points(x, name="samples", dim=2):
    """Return ``x`` as a float ``[n, dim]`` array, or raise a ValueError naming ``name``."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"expected {name} of shape [n, {dim}], got {arr.shape}")
    return arr


def as_bounds(bounds, name="bounds"):
    """Return ``((xmin, xmax), (ymin, ymax))`` as floats, checking that each min < max."""
    try:
        (x0, x1), (y0, y1) = bounds
        out = ((float(x0), float(x1)), (float(y0), float(y1)))
    except (TypeError, ValueError):
        raise ValueError(
            f"expected {name} of the form ((xmin, xmax), (ymin, ymax)), got {bounds!r}"
        ) from None
    if not (out[0][0] < out[0][1] and out[1][0] < out[1][1]):
        raise ValueError(f"expected {name} with min < max on both axes, got {bounds!r}")
    return out


def padded_bounds(*arrays, pad=0.05):
    """Bounds covering every finite point of the ``[n, 2]`` arrays, widened by ``pad``."""
    pts = np.concatenate([a for a in arrays if len(a)], axis=0) if arrays else np.zeros((0, 2))
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        return ((-1.0, 1.0), (-1.0, 1.0))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    half = np.maximum((hi - lo) * (0.5 + pad), 0.5)  # never a zero-width axis
    mid = (lo + hi) / 2
    return tuple((float(m - h), float(m + h)) for m, h in zip(mid, half))


def robust_bounds(*arrays, pad=0.05, tail=0.001):
    """Bounds covering the points of every ``[n, 2]`` array, trimming only far outliers.

    Per axis, the range from the ``tail`` to the ``1 - tail`` quantile of all points pooled
    is widened by a quarter of its width on each side; the full range of the points is
    kept when it fits inside that (the usual case), otherwise it is cut there, so that a
    handful of wild points cannot squash every other point into the middle. Then ``pad``
    is added as in :func:`padded_bounds`.
    """
    pts = np.concatenate([a for a in arrays if len(a)], axis=0) if arrays else np.zeros((0, 2))
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        return ((-1.0, 1.0), (-1.0, 1.0))
    q_lo, q_hi = np.quantile(pts, [tail, 1.0 - tail], axis=0)
    reach = 0.25 * (q_hi - q_lo)
    lo = np.maximum(pts.min(axis=0), q_lo - reach)
    hi = np.minimum(pts.max(axis=0), q_hi + reach)
    return padded_bounds(np.stack([lo, hi]), pad=pad)


def set_bounds(ax, bounds):
    """Apply ``((xmin, xmax), (ymin, ymax))`` to an Axes."""
    ax.set_xlim(*bounds[0])
    ax.set_ylim(*bounds[1])


def root_figure(ax):
    """The top-level Figure holding ``ax`` (also when ``ax`` lives in a SubFigure)."""
    try:
        return ax.get_figure(root=True)
    except TypeError:  # matplotlib < 3.10
        fig = ax.figure
        while hasattr(fig, "figure") and fig.figure is not fig and fig.figure is not None:
            fig = fig.figure
        return fig


def get_axes(ax, count, name="ax", nrows=1, ncols=None, panel_size=(4.0, 3.6), **kw):
    """Return ``(figure, [Axes] * count)``: new pyplot axes, or the caller's, checked.

    ``ax`` may be None (a new figure with ``nrows`` x ``ncols`` panels is made), a single
    Axes (only when ``count == 1``) or a sequence of ``count`` Axes.
    """
    if ax is None:
        ncols = count if ncols is None else ncols
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
            squeeze=False, **{"layout": "constrained", **kw},
        )
        return fig, list(axes.ravel())
    if isinstance(ax, Axes):
        axes = [ax]
    elif isinstance(ax, (Sequence, np.ndarray)):
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
    else:
        raise TypeError(f"expected {name} to be a matplotlib Axes or a sequence of Axes, "
                        f"got {type(ax).__name__}")
    if len(axes) != count or not all(isinstance(a, Axes) for a in axes):
        raise ValueError(f"expected {name} to hold {count} matplotlib Axes, got {len(axes)}")
    return root_figure(axes[0]), axes


def sig3(value, _pos=None):
    """A tick label with at most 3 significant digits (``0.585``, ``12.5``, ``1.2e+03``)."""
    text = f"{value:.3g}"
    return "0" if text in ("-0", "0") else text


SIG3_FORMATTER = FuncFormatter(sig3)


def style_colorbar(cbar, nbins=5):
    """At most ``nbins + 1`` round ticks on a colour bar, labelled with 3 significant digits.

    A colour bar of filled contours puts a tick on every level boundary by default
    (``0.1846, 0.3692, ...``); this replaces them with round values.
    """
    cbar.set_ticks(MaxNLocator(nbins=nbins))
    cbar.formatter = SIG3_FORMATTER
    cbar.update_ticks()
    return cbar


def integer_ticks(axis):
    """Only whole numbers as major ticks on ``axis`` (an epoch count, a step count)."""
    axis.set_major_locator(MaxNLocator(integer=True))


def place_legend(ax, loc="outside", **kw):
    """A legend that does not cover the data.

    ``loc="outside"`` (the default of every plotting function) puts it to the right of
    the axes, top-aligned, where it cannot hide a curve or a point; a constrained-layout
    figure makes room for it. Any other value is a matplotlib ``loc`` (``"best"``,
    ``"upper right"``, ...) for a legend inside the axes, drawn on a mostly opaque frame.
    ``loc=None`` draws no legend.
    """
    if loc is None:
        return None
    if loc == "outside":
        return ax.legend(**{"loc": "upper left", "bbox_to_anchor": (1.02, 1.0),
                            "borderaxespad": 0.0, **kw})
    return ax.legend(**{"loc": loc, "framealpha": 0.85, **kw})


def label_outer_panel(ax, xlabel, ylabel, last_row=None, first_col=None):
    """Set the axis labels of a grid panel on the outer edge only.

    ``last_row`` / ``first_col`` default to the panel's position in its subplot grid
    (both True for an Axes that is not part of a grid).
    """
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if last_row is None:
        last_row = spec is None or spec.is_last_row()
    if first_col is None:
        first_col = spec is None or spec.is_first_col()
    if last_row:
        ax.set_xlabel(xlabel)
    if first_col:
        ax.set_ylabel(ylabel)
