"""The pictures of ``tfp-flows fit``, drawn by :mod:`tfp_flows.plotting` (this module is
imported after TensorFlow): each function returns ``{file name: figure}`` for
:func:`tfp_flows_cli.output.write_run`, and the names it skipped with the reason."""
import math

import matplotlib.pyplot as plt
import numpy as np

from tfp_flows import plotting
from tfp_flows_cli.files import to_pixels

N_PLOT_SAMPLES = 2000
#: Image grids: images per row.
GRID_COLS = 8
#: Conditional vector flows: test contexts shown, samples drawn given each.
N_SHOWN_CONTEXTS = 3
N_SAMPLES_PER_CONTEXT = 500


def pictures(model, data, history, seed, flow, test_value):
    """``({name: figure}, {skipped name: why})`` for the kind of ``data``."""
    if data.kind == "images":
        return _images(model, data, history, seed, flow, test_value), {}
    if data.layout is not None:
        return _conditional(model, data, history, seed), {}
    return _vectors(model, data, history, seed)


def _vectors(model, data, history, seed):
    truth, width = data.truth, data.event_shape[0]
    reference = {} if truth is None else dict(reference=truth.entropy(),
                                              reference_label="true entropy")
    figures = {"loss.png": plotting.plot_loss(history, title=f"training ({model.name})",
                                              **reference)}
    if width < 2:
        return figures, dict.fromkeys(("samples.png", "density.png", "layers.png"),
                                      "needs data with at least 2 columns")
    cols = "" if width == 2 else " (x1, x2)"
    shown = data.x["test"] if truth is not None else data.x["train"]
    samples = np.asarray(model.sample(N_PLOT_SAMPLES, seed=seed)).reshape(N_PLOT_SAMPLES, -1)
    figures["samples.png"] = plotting.plot_samples(
        samples[:, :2], data=shown[:N_PLOT_SAMPLES, :2], title="model samples" + cols,
        data_title=("fresh data" if truth is not None else "training data") + cols)
    skipped = {}
    if width == 2:
        bounds = truth.plot_bounds if truth is not None else _bounds(data.x["train"])
        figures["density.png"] = plotting.plot_density(
            model, bounds=bounds, resolution=120, truth=truth, title="model density",
            truth_title="true density")
    else:
        skipped["density.png"] = "drawn for 2-D data only"
    z = model.base_distribution.sample(1000, seed=seed)
    steps = [np.asarray(s).reshape(1000, -1)[:, :2] for s in model.forward_steps(z)]
    names = ["base"] + [f"{i}: {type(layer).__name__.replace('Layer', '')}"
                        for i, layer in enumerate(model.flow_layers, start=1)]
    figures["layers.png"] = plotting.plot_layer_grid(steps, names=names, cols=4)
    return figures, skipped


def _bounds(x, low=0.0, high=100.0, pad=0.1):
    lo, hi = np.percentile(x[:, :2], [low, high], axis=0)
    return tuple((float(a - pad * (b - a)), float(b + pad * (b - a))) for a, b in zip(lo, hi))


def _shown_contexts(contexts):
    """Up to :data:`N_SHOWN_CONTEXTS` distinct test contexts spread over the first context
    column (its lowest, middle and highest values)."""
    unique = np.unique(contexts, axis=0)
    unique = unique[np.argsort(unique[:, 0], kind="stable")]
    picks = np.unique(np.round(np.linspace(0, len(unique) - 1, N_SHOWN_CONTEXTS)).astype(int))
    return unique[picks]


def _context_title(layout, c):
    names = layout.names_of(layout.context) or [f"c{j + 1}" for j in range(len(c))]
    text = ", ".join(f"{n}={v:.3g}" for n, v in zip(names, c))
    return text if len(text) <= 40 else text[:37] + "..."


def _conditional(model, data, history, seed):
    """loss.png; samples.png: samples given a few test contexts against the training rows
    with the nearest contexts (a 1-column x: x against the first context column, one sample
    given each row's context); density.png for a 2-column x."""
    figures = {"loss.png": plotting.plot_loss(
        history, title=f"training ({model.name}, -log p(x | c))")}
    train_x, train_c = data.x["train"], data.c["train"]
    if train_x.shape[1] == 1:
        shown_x, shown_c = train_x[:N_SAMPLES_PER_CONTEXT], train_c[:N_SAMPLES_PER_CONTEXT]
        drawn = np.asarray(model.sample(1, context=shown_c, seed=seed)).reshape(-1)
        figures["samples.png"] = plotting.plot_samples(
            np.stack([shown_c[:, 0], drawn], axis=1), overlay=True, legend="best",
            data=np.stack([shown_c[:, 0], shown_x[:, 0]], axis=1),
            data_title=f"{len(shown_x)} training rows (context, x)",
            title="one sample given each row's context")
        return figures
    shown = _shown_contexts(data.c["test"])
    scale = np.where(train_c.std(axis=0) > 0, train_c.std(axis=0), 1.0)
    near = max(20, len(train_x) // 20)
    samples = np.asarray(model.sample(N_SAMPLES_PER_CONTEXT, context=shown, seed=seed))
    bounds = _bounds(train_x, 0.5, 99.5, pad=0.15)
    fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.6), squeeze=False)
    for j, (ax, c) in enumerate(zip(axes[0], shown)):
        nearest = np.argsort(np.abs((train_c - c) / scale).sum(axis=1), kind="stable")[:near]
        plotting.plot_samples(samples[:, j, :2], data=train_x[nearest, :2], bounds=bounds,
                              overlay=True, ax=ax, legend="upper left" if j == 0 else None,
                              title=_context_title(data.layout, c),
                              data_title=f"the {near} rows with the nearest contexts")
    fig.suptitle(f"samples of p(x | c) for {len(shown)} test contexts (x1, x2)")
    figures["samples.png"] = fig
    if train_x.shape[1] == 2:
        layout = data.layout
        x_names = layout.names_of(layout.x) or ["x1", "x2"]
        figures["density.png"] = plotting.plot_conditional_density(
            model, shown, bounds=bounds, resolution=80, xlabel=x_names[0],
            ylabel=x_names[1], context_labels=[_context_title(layout, c) for c in shown],
            title="model density p(x | c), 50% and 90% regions")
    return figures


def _displayable(images):
    """Images the plots can show: grayscale or RGB; other channel counts show channel 0."""
    return images if images.shape[-1] in (1, 3) else images[..., :1]


def _images(model, data, history, seed, flow, test_bits):
    """loss.png (bits/dim), samples.png (a grid, or one row per class for a labelled run)
    and data_vs_samples.png (test images beside samples given their labels)."""
    k, name, shape = data.num_levels, data.spec.name, data.event_shape
    channel = "" if shape[-1] in (1, 3) else f", channel 1 of {shape[-1]}"
    n = GRID_COLS * GRID_COLS
    given = "" if data.num_classes is None else ", given the label"
    figures = {"loss.png": plotting.plot_bits_per_dim(
        history, event_size=math.prod(shape), title=f"training ({flow}, {name}{given})",
        reference={"uniform over the pixel levels": math.log2(k)})}
    if data.num_classes is None:
        samples = to_pixels(model.sample(n, seed=seed), k)
        figures["samples.png"] = plotting.plot_image_grid(
            _displayable(samples), k, nrows=GRID_COLS, ncols=GRID_COLS,
            title=f"{n} samples of {flow} ({name}{channel})")
    else:   # one sample given the label of each of the first test images
        samples = to_pixels(model.sample(1, context=data.c["test"][:n], seed=seed)[0], k)
        figures["samples.png"] = plotting.plot_class_samples(
            model, data.num_classes, num_per_class=GRID_COLS, seed=seed,
            title=f"samples of {flow} given the label ({name}), one row per class")
    n = min(len(samples), len(data.x["test"]))
    fig = plotting.plot_samples_vs_data(
        _displayable(data.x["test"][:n]), _displayable(samples[:n]), k, n=n,
        titles=(f"{n} test images{channel}", f"{n} samples of {flow}{given}{channel}"))
    fig.suptitle(f"{name}: test bits/dim {test_bits:.3f} (uniform {math.log2(k):.3f})")
    figures["data_vs_samples.png"] = fig
    return figures
