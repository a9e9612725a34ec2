"""The pictures of ``tfp-flows fit``, drawn by :mod:`tfp_flows.plotting` (this module is
imported after TensorFlow) as ``{file name: figure}``."""
import math

import numpy as np

from tfp_flows import plotting
from tfp_flows.datasets import quantize

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
        bounds = truth.plot_bounds if truth is not None else plotting.data_bounds(shown)
        figures["density.png"] = plotting.plot_density(
            model, bounds=bounds, resolution=120, truth=truth, title="model density",
            truth_title="true density")
    else:
        skipped["density.png"] = "drawn for 2-D data only"
    figures["layers.png"] = plotting.plot_flow_layers(model, num_samples=1000, seed=seed)
    return figures, skipped


def _conditional(model, data, history, seed):
    """loss.png, samples.png (samples given a few test contexts against the training rows
    with the nearest contexts) and, for a 2-column x, density.png."""
    figures = {"loss.png": plotting.plot_loss(
        history, title=f"training ({model.name}, -log p(x | c))")}
    train_x, layout, wide = data.x["train"], data.layout, data.x["train"].shape[1] > 1
    shown = plotting.spread_contexts(data.c["test"], N_SHOWN_CONTEXTS)
    names = layout.names_of(layout.context)
    bounds = plotting.data_bounds(train_x, pad=0.15, tail=0.005) if wide else None
    figures["samples.png"] = plotting.plot_conditional_samples(   # 1 column: (c1, x)
        model, train_x, data.c["train"], shown, num_samples=N_SAMPLES_PER_CONTEXT, seed=seed,
        bounds=bounds, context_names=names,
        title=f"samples of p(x | c) for {len(shown)} test contexts (x1, x2)" if wide else None)
    if train_x.shape[1] == 2:
        x_names = layout.names_of(layout.x) or ["x1", "x2"]
        figures["density.png"] = plotting.plot_conditional_density(
            model, shown, bounds=bounds, resolution=80, xlabel=x_names[0],
            ylabel=x_names[1], context_names=names,
            title="model density p(x | c), 50% and 90% regions")
    return figures


def _images(model, data, history, seed, flow, test_bits):
    """loss.png (bits/dim), samples.png (a grid, or one row per class for a labelled run)
    and data_vs_samples.png (test images beside samples given their labels)."""
    k, name, shape = data.num_levels, data.spec.name, data.event_shape
    part = None if shape[-1] in (1, 3) else 0   # not grayscale or RGB: channel 0 only
    channel = "" if part is None else f", channel 1 of {shape[-1]}"
    n = GRID_COLS * GRID_COLS
    given = "" if data.num_classes is None else ", given the label"
    figures = {"loss.png": plotting.plot_bits_per_dim(
        history, event_size=math.prod(shape), title=f"training ({flow}, {name}{given})",
        reference={"uniform over the pixel levels": math.log2(k)})}
    if data.num_classes is None:
        samples = quantize(model.sample(n, seed=seed), k)
        figures["samples.png"] = plotting.plot_image_grid(
            samples, k, nrows=GRID_COLS, ncols=GRID_COLS, channel=part,
            title=f"{n} samples of {flow} ({name}{channel})")
    else:   # one sample given the label of each of the first test images
        samples = quantize(model.sample(1, context=data.c["test"][:n], seed=seed)[0], k)
        figures["samples.png"] = plotting.plot_class_samples(
            model, data.num_classes, num_per_class=GRID_COLS, seed=seed,
            title=f"samples of {flow} given the label ({name}), one row per class")
    n = min(len(samples), len(data.x["test"]))
    fig = plotting.plot_samples_vs_data(
        data.x["test"][:n], samples[:n], k, n=n, channel=part,
        titles=(f"{n} test images{channel}", f"{n} samples of {flow}{given}{channel}"))
    fig.suptitle(f"{name}: test bits/dim {test_bits:.3f} (uniform {math.log2(k):.3f})")
    figures["data_vs_samples.png"] = fig
    return figures
