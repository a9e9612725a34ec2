"""Training curves: the loss per epoch, and the negative log-likelihood split in parts."""
from collections.abc import Mapping

import numpy as np

from tfp_flows.plotting.layout import get_axes, integer_ticks, place_legend

NLL_LABEL = "negative log-likelihood (nats)"


def _as_curve(values, name):
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"expected {name} as a non-empty 1-D sequence, got shape {arr.shape}")
    return arr


def _history_dict(history):
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(f"expected a Keras History or a dict of loss lists, "
                        f"got {type(history).__name__}")
    if "loss" not in logs:
        raise ValueError(f"expected the history to have a 'loss' key, got keys {sorted(logs)}")
    return logs


def plot_loss(history, reference=None, reference_label="reference", ax=None,
              title="training", ylabel=NLL_LABEL, logy=False, legend="outside"):
    """Training and validation loss per epoch.

    The epoch axis has whole-number ticks only; the legend sits to the right of the axes
    (``legend="outside"``) so it never hides the curves.

    Args:
      history: a Keras ``History`` (what ``Model.fit`` returns; its ``.history`` dict is
        read) or a plain dict with a ``'loss'`` list and optionally ``'val_loss'``. When
        ``val_loss`` is shorter than ``loss`` (``fit(validation_freq=k)``) its points are
        placed at epochs ``k, 2k, ...`` with ``k = len(loss) // len(val_loss)``.
      reference: optional number drawn as a dashed horizontal line, e.g. the true entropy
        of the data (the lowest mean NLL any model can reach on it).
      reference_label: legend text of that line (its value is appended).
      ax: an Axes to draw into; a new figure if None.
      title: panel title.
      ylabel: y-axis label, by default ``"negative log-likelihood (nats)"``.
      logy: logarithmic y axis.
      legend: ``"outside"`` (right of the axes), a matplotlib ``loc`` such as ``"best"``
        for a legend inside, or None for none.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      TypeError: if ``history`` is neither a History nor a mapping.
      ValueError: if it has no ``'loss'`` key or a curve is not a non-empty 1-D list.

    Example:
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_loss({"loss": [3.0, 2.5, 2.2], "val_loss": [3.1, 2.6, 2.4]},
    ...                 reference=2.0, reference_label="true entropy")
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['training', 'validation', 'true entropy (2.000)']
    >>> plt.close(fig)
    """
    logs = _history_dict(history)
    loss = _as_curve(logs["loss"], "history['loss']")
    # room on the right for the legend outside the axes
    fig, (a,) = get_axes(ax, 1, panel_size=(7.5 if legend == "outside" else 5.5, 3.8))
    epochs = np.arange(1, loss.size + 1)
    a.plot(epochs, loss, label="training", color="tab:blue")
    if logs.get("val_loss") is not None:
        val = _as_curve(logs["val_loss"], "history['val_loss']")
        if val.size > loss.size:
            raise ValueError(f"expected at most {loss.size} val_loss values (one per epoch), "
                             f"got {val.size}")
        every = loss.size // val.size
        a.plot(np.arange(1, val.size + 1) * every, val, label="validation", color="tab:orange",
               marker="o" if every > 1 else None, markersize=3)
    if reference is not None:
        reference = float(reference)
        a.axhline(reference, color="0.3", linestyle="--", linewidth=1,
                  label=f"{reference_label} ({reference:.3f})")
    if logy:
        a.set_yscale("log")
    a.set_xlabel("epoch")
    integer_ticks(a.xaxis)
    a.set_ylabel(ylabel)
    a.set_title(title)
    place_legend(a, legend)
    return fig


def plot_nll_parts(l2, logdet, *, event_size, x=None, xlabel="step", axes=None,
                   title="negative log-likelihood in parts", legend="outside"):
    """The negative log-likelihood of a flow split into its parts, in three panels.

    For a flow ``x = f(z)`` with a standard Normal base in ``d = event_size`` dimensions,
    ``-log p(x) = 0.5 * ||z||^2 + (d / 2) * log(2 * pi) - log|det dz/dx|``. The panels,
    sharing the x axis, show (as in the Glow paper's training plots):

    1. the L2 part ``l2`` = batch mean of ``0.5 * ||z||^2``, with a dashed line at
       ``d / 2`` labelled "Normal noise": its value when the latents ``z = f^{-1}(x)`` are
       exactly standard Normal;
    2. the log-det part ``logdet`` = batch mean of ``log|det dz/dx|``, the inverse
       log-det-Jacobian (TFP's ``inverse_log_det_jacobian`` at the data), which is what
       raises the likelihood;
    3. the full objective ``l2 + (d / 2) * log(2 * pi) - logdet``, the mean negative
       log-likelihood in nats; this equals ``-mean(model.log_prob(x))`` (it is NOT the
       constant-free ``l2 - logdet``).

    Args:
      l2: 1-D sequence, the L2 part per step or per epoch.
      logdet: 1-D sequence of the same length, the log-det part.
      event_size: ``d``, the number of dimensions of one example (e.g. 2, or 784 for
        28x28 images).
      x: optional x values (steps or epochs); default ``1 .. len(l2)``. Whole-number x
        values get whole-number ticks.
      xlabel: label of the shared x axis.
      axes: optional sequence of three Axes; a new figure if None.
      title: figure title (set only when the figure is made here).
      legend: where the first panel's legend goes: ``"outside"`` (right of the axes), a
        matplotlib ``loc``, or None.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: if the inputs are not 1-D, their lengths differ, or ``event_size < 1``.

    Example:
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_nll_parts([2.0, 1.2, 1.0], [0.1, 0.5, 0.6], event_size=2)
    >>> len(fig.axes), fig.axes[0].lines[1].get_ydata()[0]  # the d/2 reference line
    (3, 1.0)
    >>> plt.close(fig)
    """
    l2 = _as_curve(l2, "l2")
    logdet = _as_curve(logdet, "logdet")
    if l2.size != logdet.size:
        raise ValueError(f"expected l2 and logdet of the same length, got {l2.size} and "
                         f"{logdet.size}")
    d = int(event_size)
    if d < 1:
        raise ValueError(f"expected event_size >= 1, got {event_size}")
    steps = np.arange(1, l2.size + 1) if x is None else _as_curve(x, "x")
    if steps.size != l2.size:
        raise ValueError(f"expected x of length {l2.size}, got {steps.size}")
    made_here = axes is None
    fig, panels = get_axes(axes, 3, name="axes", nrows=3, ncols=1,
                           panel_size=(7.5 if legend == "outside" else 6.0, 2.2),
                           sharex=True)
    nll = l2 + 0.5 * d * np.log(2 * np.pi) - logdet
    a_l2, a_ld, a_nll = panels
    a_l2.plot(steps, l2, color="tab:blue", label="L2 part")
    a_l2.axhline(d / 2, color="0.3", linestyle="--", linewidth=1, label="Normal noise")
    a_l2.set_ylabel("L2: 0.5 ||z||$^2$\n(nats)")
    place_legend(a_l2, legend)
    a_ld.plot(steps, logdet, color="tab:green")
    a_ld.set_ylabel("log |det dz/dx|\n(nats)")
    a_nll.plot(steps, nll, color="tab:red")
    a_nll.set_ylabel("NLL (nats)")
    a_nll.set_xlabel(xlabel)
    if np.all(steps == np.round(steps)):
        for a in panels:
            integer_ticks(a.xaxis)
    if made_here:
        fig.suptitle(title)
    return fig


def plot_bits_per_dim(history, event_size, ax=None, reference=None,
                      reference_label="reference", title="training", legend="outside"):
    """Training and validation loss in bits per dimension, per epoch.

    An image flow's loss is the mean negative log-likelihood in nats per image (over
    dequantised pixels); divided by ``D ln 2`` it is bits per dimension, the unit image
    models are compared in (a uniform density over ``K`` levels scores ``log2 K``).

    Args:
      history: a Keras ``History`` or a dict with ``'loss'`` (and optionally
        ``'val_loss'``) in nats per image, as :func:`~tfp_flows.plotting.plot_loss` reads.
      event_size: ``D = H W C``, the number of pixel values of one image.
      ax: an Axes to draw into; a new figure if None.
      reference: optional horizontal dashed lines in bits/dim: a number (labelled
        ``reference_label``) or a dict ``{label: value}``, e.g. baselines.
      reference_label: legend text of a single number ``reference``.
      title: panel title.
      legend: ``"outside"`` (right of the axes), a matplotlib ``loc``, or None.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      TypeError: if ``history`` is neither a History nor a mapping.
      ValueError: on a history without ``'loss'``, ``event_size < 1`` or a reference
        that is not a number.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> d = 64
    >>> nats = lambda bits: [b * d * np.log(2) for b in bits]
    >>> fig = plot_bits_per_dim({"loss": nats([3.5, 2.9, 2.6]), "val_loss": nats([3.2, 2.8,
    ...                          2.7])}, event_size=d, reference={"uniform": np.log2(17)})
    >>> fig.axes[0].lines[0].get_ydata().round(2).tolist()
    [3.5, 2.9, 2.6]
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['training', 'validation', 'uniform (4.087)']
    >>> plt.close(fig)
    """
    if isinstance(event_size, bool) or int(event_size) != event_size or event_size < 1:
        raise ValueError(f"expected event_size (pixels per image, H*W*C) >= 1, got "
                         f"{event_size!r}")
    logs = _history_dict(history)
    per_bit = float(event_size) * np.log(2.0)
    bits = {key: None if logs.get(key) is None else np.asarray(logs[key], np.float64) / per_bit
            for key in ("loss", "val_loss") if key in logs}
    if reference is None:
        refs = {}
    elif hasattr(reference, "items"):
        refs = dict(reference.items())
    else:
        refs = {reference_label: reference}
    try:
        refs = {str(label): float(value) for label, value in refs.items()}
    except (TypeError, ValueError):
        raise ValueError(f"expected reference values to be numbers, got {reference!r}") \
            from None
    fig, (a,) = get_axes(ax, 1, panel_size=(7.5 if legend == "outside" else 5.5, 3.8))
    plot_loss(bits, ax=a, title=title, ylabel="bits per dimension", legend=None)
    colors = ["0.3", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:gray"]
    styles = ["--", ":", "-.", (0, (5, 1))]
    for i, (label, value) in enumerate(refs.items()):
        a.axhline(value, color=colors[i % len(colors)], linestyle=styles[i % len(styles)],
                  linewidth=1.2, label=f"{label} ({value:.3f})")
    place_legend(a, legend)
    return fig
