"""Plots for a flow fitted to a target density: the two densities side by side, and the
importance log-weights with their effective sample size and Pareto k-hat.

Inputs are duck-typed (nothing here imports the model or the training code): a
log-density is a callable or an object with ``.log_prob``; the diagnostics are any object
with ``log_weights``, ``num_samples``, ``ess``, ``khat``, ``log_z`` and ``log_z_std_error``
(:class:`tfp_flows.training.ImportanceDiagnostics`), or a plain array of log-weights.
"""
import numpy as np
from scipy.special import logsumexp

from tfp_flows.plotting.density import density_grid, plot_density
from tfp_flows.plotting.layout import as_log_prob_fn, get_axes

__all__ = ["plot_log_weights", "plot_target_fit"]


def plot_target_fit(flow, target, bounds=None, resolution=100, scale="shared", ax=None,
                    title="flow density", target_title="target density", **kwargs):
    """The flow's density (left) and the target's (right) on one colour scale.

    A target that is not normalised (``target.normalized`` False, or a plain callable) is
    normalised on the plotted grid: :math:`p(x) = \\tilde p(x) / \\sum_{grid}\\tilde p\\,
    \\Delta A`, which is exact up to the mass outside ``bounds``; its title says so.

    Args:
        flow: the flow's log-density: a model with ``.log_prob`` or a callable
            ``[n, 2] -> [n]``.
        target: a target of :mod:`tfp_flows.datasets.targets` (its normalised
            ``log_prob``), a TFP distribution, or a callable ``log p~(x)``.
        bounds: ``((xmin, xmax), (ymin, ymax))``; None for ``target.plot_bounds``.
        resolution: grid points per axis.
        scale: colour scale, ``"shared"`` (linear, one colour bar), ``"log"`` or
            ``"own"`` (see :func:`~tfp_flows.plotting.plot_density`).
        ax: a pair of Axes, or None for a new figure.
        title, target_title: panel titles.
        **kwargs: passed to :func:`~tfp_flows.plotting.plot_density` (``levels``,
            ``cmap``, ``colorbar``, ``log_range``).

    Returns:
        The ``matplotlib.figure.Figure`` (two density panels, plus a colour bar).

    Example:
        >>> import matplotlib.pyplot as plt
        >>> from tfp_flows.datasets import BananaTarget
        >>> t = BananaTarget()
        >>> fig = plot_target_fit(t.log_prob, t.unnormalized_log_prob, bounds=t.plot_bounds,
        ...                       resolution=20)  # flow = exact density, target unnormalised
        >>> [a.get_title() for a in fig.axes[:2]]
        ['flow density', 'target density (normalised on the grid)']
        >>> plt.close(fig)
    """
    if bounds is None:
        bounds = getattr(target, "plot_bounds", None)
        if bounds is None:
            raise ValueError("expected `bounds`: the target has no plot_bounds")
    fn = as_log_prob_fn(target, "target")
    if not getattr(target, "normalized", False) and not _is_distribution(target):
        xx, yy, p = density_grid(fn, bounds, resolution)
        cell = (xx[0, 1] - xx[0, 0]) * (yy[1, 0] - yy[0, 0])
        log_z = float(np.log(np.sum(p) * cell))
        fn = _shifted(fn, log_z)
        target_title = f"{target_title} (normalised on the grid)"
    return plot_density(flow, bounds=bounds, resolution=resolution, truth=fn, ax=ax,
                        title=title, truth_title=target_title, scale=scale, **kwargs)


def _is_distribution(obj):
    return callable(getattr(obj, "log_prob", None)) and hasattr(obj, "batch_shape")


def _shifted(fn, shift):
    return lambda x: fn(x) - shift


def plot_log_weights(diagnostics, ax=None, bins=50, title=None):
    """The importance weights of draws from a flow: a histogram of
    ``log(w_i / mean(w))`` (0 = an average weight; a narrow peak at 0 means ``q ~ p``) and
    the normalised weights ``w_i / sum(w)`` sorted from the largest, on a log scale,
    against the equal share ``1 / n``.

    Args:
        diagnostics: an :class:`~tfp_flows.training.ImportanceDiagnostics` (its ESS,
            k-hat and log Z go in the title) or an array-like of log-weights ``[n]``.
        ax: a pair of Axes, or None for a new figure.
        bins: histogram bins.
        title: figure title; None for the diagnostics' summary line.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> lw = np.random.default_rng(0).normal(size=500)
        >>> fig = plot_log_weights(lw, title="weights")
        >>> [a.get_xlabel() for a in fig.axes]
        ['log(w / mean w)', 'rank of the weight (largest first)']
        >>> plt.close(fig)
    """
    log_w = getattr(diagnostics, "log_weights", diagnostics)
    lw = np.asarray(log_w, dtype=np.float64).ravel()
    lw = lw[np.isfinite(lw)]
    if lw.size < 2:
        raise ValueError(f"expected at least 2 finite log-weights, got {lw.size}")
    fig, (left, right) = get_axes(ax, 2, panel_size=(4.4, 3.4))
    relative = lw - (logsumexp(lw) - np.log(lw.size))
    lo = max(float(relative.min()), float(np.quantile(relative, 0.002)))
    hidden = int(np.sum(relative < lo))
    left.hist(relative, bins=int(bins), range=(lo, max(float(relative.max()), lo + 1e-9)),
              color="C0")
    left.axvline(0.0, color="k", lw=1, ls="--")
    left.set_xlabel("log(w / mean w)")
    if hidden:
        left.set_title(f"{hidden} draws below {lo:.3g} not shown", fontsize="small")
    left.set_ylabel("number of draws")
    share = np.sort(np.exp(lw - logsumexp(lw)))[::-1]
    rank = np.arange(1, lw.size + 1)
    right.loglog(rank, share, color="C0", label="weight share")
    right.axhline(1.0 / lw.size, color="k", lw=1, ls="--", label="equal share 1/n")
    right.set_ylim(max(float(share[-1]), 1e-3 / lw.size) / 1.5, 1.5 * float(share[0]))
    right.set_xlabel("rank of the weight (largest first)")
    right.set_ylabel("w / sum w")
    right.legend(loc="lower left", framealpha=0.85)
    if title is None:
        summary = getattr(diagnostics, "summary", None)
        title = summary() if callable(summary) else f"{lw.size} importance log-weights"
    fig.suptitle(title)
    return fig
