"""The pictures ``tfp-flows fit`` draws for vector data and for images, with
:mod:`tfp_flows.plotting` (matplotlib is imported inside the functions). Those of
conditional vector flows are in :mod:`tfp_flows_cli.fit_conditional`."""
import math

import numpy as np

N_PLOT_SAMPLES = 2000
#: Image grids: images per row.
GRID_COLS = 8


def _plot_bounds(data):
    if data.truth is not None:
        return data.truth.plot_bounds
    lo, hi = data.train.min(axis=0), data.train.max(axis=0)
    pad = 0.1 * (hi - lo)
    return tuple((float(a - p), float(b + p)) for a, b, p in zip(lo, hi, pad))


def write_vector_plots(folder, model, data, history, seed):
    """Draws the PNGs into ``folder``; returns the names written and those skipped."""
    import matplotlib.pyplot as plt

    from tfp_flows import plotting

    written, skipped = [], {}

    def save(fig, name):
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        written.append(name)

    reference = {} if data.truth is None else dict(reference=data.truth.entropy(),
                                                   reference_label="true entropy")
    save(plotting.plot_loss(history, title=f"training ({model.name})", **reference), "loss.png")
    if data.width < 2:
        for name in ("samples.png", "density.png", "layers.png"):
            skipped[name] = "needs data with at least 2 columns"
        return written, skipped
    cols = "" if data.width == 2 else " (x1, x2)"
    shown = data.test if data.truth is not None else data.train
    samples = np.asarray(model.sample(N_PLOT_SAMPLES, seed=seed)).reshape(N_PLOT_SAMPLES, -1)
    save(plotting.plot_samples(samples[:, :2], data=shown[:N_PLOT_SAMPLES, :2],
                               title="model samples" + cols,
                               data_title=("fresh data" if data.truth is not None
                                           else "training data") + cols), "samples.png")
    if data.width == 2:
        save(plotting.plot_density(model, bounds=_plot_bounds(data), resolution=120,
                                   truth=data.truth, title="model density",
                                   truth_title="true density"), "density.png")
    else:
        skipped["density.png"] = "drawn for 2-D data only"
    z = model.base_distribution.sample(1000, seed=seed)
    steps = [np.asarray(s).reshape(1000, -1)[:, :2] for s in model.forward_steps(z)]
    names = ["base"] + [f"{i}: {type(layer).__name__.replace('Layer', '')}"
                        for i, layer in enumerate(model.flow_layers, start=1)]
    save(plotting.plot_layer_grid(steps, names=names, cols=4), "layers.png")
    return written, skipped


def _displayable(images):
    """Images the plots can show: grayscale or RGB; other channel counts show channel 0."""
    return images if images.shape[-1] in (1, 3) else images[..., :1]


def write_image_plots(folder, model, data, history, samples, test_bits, flow, seed=0):
    """loss.png (bits/dim), samples.png and data_vs_samples.png, drawn by
    :mod:`tfp_flows.plotting`; returns the names written. For a labelled run
    (``data.context``) samples.png has one row per class and ``samples`` are drawn given the
    labels of the first test images, which data_vs_samples.png shows beside them."""
    import matplotlib.pyplot as plt

    from tfp_flows import plotting

    written = []

    def save(fig, name):
        fig.savefig(folder / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(name)

    k = data.num_levels
    channel = "" if data.shape[-1] in (1, 3) else f", channel 1 of {data.shape[-1]}"
    save(plotting.plot_bits_per_dim(
        history, event_size=data.dims,
        title=f"training ({flow}, {data.spec.name}"
              f"{'' if data.context is None else ', given the label'})",
        reference={"uniform over the pixel levels": math.log2(k)}), "loss.png")
    given = ""
    if data.context is None:
        rows = math.ceil(len(samples) / GRID_COLS)
        save(plotting.plot_image_grid(_displayable(samples), k, nrows=rows, ncols=GRID_COLS,
                                      title=f"{len(samples)} samples of {flow} "
                                            f"({data.spec.name}{channel})"), "samples.png")
    else:
        given = ", given their labels"
        save(plotting.plot_class_samples(
            model, data.num_classes, num_per_class=GRID_COLS, seed=seed,
            title=f"samples of {flow} given the label ({data.spec.name}), one row per "
                  "class"), "samples.png")
    n = min(len(samples), len(data.test))
    fig = plotting.plot_samples_vs_data(
        _displayable(data.test[:n]), _displayable(samples[:n]), k, n=n,
        titles=(f"{n} test images{channel}", f"{n} samples of {flow}{given}{channel}"))
    fig.suptitle(f"{data.spec.name}: test bits/dim {test_bits:.3f} (uniform "
                 f"{math.log2(k):.3f})")
    save(fig, "data_vs_samples.png")
    return written
