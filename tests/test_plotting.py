"""Tests for tfp_flows.plotting: figures hold the right axes and the right numbers."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.animation import FuncAnimation
from matplotlib.collections import LineCollection
from PIL import Image
from scipy import stats

from tfp_flows import plotting
from tfp_flows.plotting import (
    animate_layers,
    density_grid,
    normal_qq,
    plot_density,
    plot_latent_lines,
    plot_latent_qq,
    plot_layer_grid,
    plot_loss,
    plot_nll_parts,
    plot_samples,
)

MEAN = np.array([0.5, -0.25])
COV = np.array([[1.0, 0.3], [0.3, 0.5]])


def gauss_log_prob(x):
    """A correlated Gaussian log-density with a known closed form."""
    return stats.multivariate_normal(MEAN, COV).logpdf(x)


def std_normal_log_prob(x):
    return -0.5 * np.sum(np.asarray(x, np.float64) ** 2, axis=1) - np.log(2 * np.pi)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def contour_sets(ax):
    return [c for c in ax.collections if hasattr(c, "levels")]


# --- density ---------------------------------------------------------------------------


def test_density_grid_equals_exp_log_prob_on_the_grid():
    seen = {}

    def log_prob(x):
        seen["dtype"], seen["shape"] = x.dtype, x.shape
        return gauss_log_prob(x)

    xx, yy, p = density_grid(log_prob, bounds=((-2, 3), (-1, 1)), resolution=7)
    assert seen == {"dtype": np.float32, "shape": (49, 2)}
    assert xx.shape == yy.shape == p.shape == (7, 7)
    np.testing.assert_allclose(xx[0], np.linspace(-2, 3, 7))
    np.testing.assert_allclose(yy[:, 0], np.linspace(-1, 1, 7))
    expected = stats.multivariate_normal(MEAN, COV).pdf(np.stack([xx, yy], -1))
    np.testing.assert_allclose(p, expected, rtol=1e-5)


def test_plot_density_contours_the_density():
    fig = plot_density(gauss_log_prob, resolution=12, colorbar=False, title="fit")
    (ax,) = fig.axes
    assert ax.get_title() == "fit"
    (cs,) = contour_sets(ax)
    _, _, p = density_grid(gauss_log_prob, resolution=12)
    assert cs.zmax == pytest.approx(p.max())
    assert cs.zmin == pytest.approx(p.min())
    assert cs.levels[0] == 0.0 and cs.levels[-1] == pytest.approx(p.max())
    assert ax.get_xlim() == (-3.0, 3.0)


def test_plot_density_with_truth_shares_the_colour_scale_on_request():
    fig = plot_density(gauss_log_prob, resolution=10, truth=std_normal_log_prob,
                       scale="shared")
    model_ax, truth_ax, cbar_ax = fig.axes  # two panels and one colour bar
    assert (model_ax.get_title(), truth_ax.get_title()) == ("model density", "true density")
    (cs_model,), (cs_truth,) = contour_sets(model_ax), contour_sets(truth_ax)
    np.testing.assert_array_equal(cs_model.levels, cs_truth.levels)
    peak = max(density_grid(f, resolution=10)[2].max()
               for f in (gauss_log_prob, std_normal_log_prob))
    assert cs_model.levels[-1] == pytest.approx(peak)
    assert cbar_ax.get_ylabel() == "density"


def test_plot_density_accepts_tensors_and_objects_with_log_prob():
    import tensorflow as tf

    class Model:
        def __call__(self, x):  # like keras.Model: callable, but not a log-density
            raise AssertionError("__call__ must not be used when .log_prob exists")

        def log_prob(self, x):
            return tf.reduce_sum(-0.5 * tf.square(x), axis=1) - np.log(2 * np.pi)

    fig = plot_density(Model(), resolution=6, truth=std_normal_log_prob, colorbar=False)
    (cs_model,), (cs_truth,) = (contour_sets(a) for a in fig.axes)
    assert cs_model.zmax == pytest.approx(cs_truth.zmax, rel=1e-6)


def test_plot_density_draws_into_given_axes():
    fig, (a, b) = plt.subplots(1, 2)
    assert plot_density(std_normal_log_prob, resolution=5, truth=std_normal_log_prob,
                        ax=(a, b), colorbar=False) is fig
    with pytest.raises(ValueError, match="expected ax to hold 2 matplotlib Axes, got 1"):
        plot_density(std_normal_log_prob, resolution=5, truth=std_normal_log_prob, ax=a)


def test_plot_density_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN or \\+inf values"):
        plot_density(lambda x: np.full(len(x), np.nan), resolution=4)
    with pytest.raises(ValueError, match="to return 16 values .* got an array of shape \\(3,\\)"):
        plot_density(lambda x: np.zeros(3), resolution=4)
    with pytest.raises(TypeError, match="callable log-density or an object with a .log_prob"):
        plot_density(42)
    with pytest.raises(ValueError, match="min < max"):
        plot_density(std_normal_log_prob, bounds=((1, -1), (0, 1)))
    with pytest.raises(ValueError, match="resolution >= 2"):
        plot_density(std_normal_log_prob, resolution=1)
    # -inf is a legitimate log-density (zero density outside a support)
    _, _, p = density_grid(lambda x: np.where(x[:, 0] > 0, 0.0, -np.inf), resolution=4)
    assert p.min() == 0.0 and p.max() == 1.0


# --- samples -------------------------------------------------------------------------


def test_plot_samples_panels(rng):
    samples, data = rng.normal(size=(30, 2)), rng.uniform(-1, 2, size=(40, 2))
    assert len(plot_samples(samples).axes) == 1

    fig = plot_samples(samples, data)
    data_ax, model_ax = fig.axes
    assert (data_ax.get_title(), model_ax.get_title()) == ("data", "model samples")
    np.testing.assert_allclose(model_ax.collections[0].get_offsets(), samples)
    np.testing.assert_allclose(data_ax.collections[0].get_offsets(), data)
    lo, hi = data[:, 0].min(), data[:, 0].max()
    assert model_ax.get_xlim() == data_ax.get_xlim()
    assert model_ax.get_xlim()[0] < lo and model_ax.get_xlim()[1] > hi

    fig = plot_samples(samples, data, overlay=True, bounds=((-4, 4), (-5, 5)))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "model samples"]
    assert ax.get_ylim() == (-5.0, 5.0)


def test_plot_samples_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"expected samples of shape \[n, 2\], got \(5, 3\)"):
        plot_samples(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"expected data of shape \[n, 2\], got \(4,\)"):
        plot_samples(np.zeros((5, 2)), data=np.zeros(4))


def test_plot_layer_grid(rng):
    z = rng.normal(size=(15, 2))
    steps = [z, z * 2, z + 1, np.tanh(z), z ** 3]
    fig = plot_layer_grid(steps, cols=2)
    assert len(fig.axes) == 5  # the sixth cell of the 3 x 2 grid is removed
    assert [a.get_title() for a in fig.axes] == [
        "base", "after bijector 1", "after bijector 2", "after bijector 3", "after bijector 4"]
    for ax, pts in zip(fig.axes, steps):
        np.testing.assert_allclose(ax.collections[0].get_offsets(), pts)
    # each point keeps its colour from panel to panel
    colours = [a.collections[0].get_array() for a in fig.axes]
    for c in colours[1:]:
        np.testing.assert_array_equal(c, colours[0])

    fig = plot_layer_grid(steps[:2], names=["z", "x"], bounds=((-1, 1), (-2, 2)))
    assert [a.get_title() for a in fig.axes] == ["z", "x"]
    assert fig.axes[1].get_ylim() == (-2.0, 2.0)


def test_plot_layer_grid_rejects_bad_input():
    z = np.zeros((4, 2))
    with pytest.raises(ValueError, match="expected 2 names .* got 3"):
        plot_layer_grid([z, z], names=["a", "b", "c"])
    with pytest.raises(ValueError, match="same number of points, got sizes \\[4, 3\\]"):
        plot_layer_grid([z, z[:3]])
    with pytest.raises(ValueError, match=r"expected steps\[1\] of shape \[n, 2\], got \(4, 3\)"):
        plot_layer_grid([z, np.zeros((4, 3))])


def test_plot_latent_lines(rng):
    z = rng.normal(size=(20, 2))
    x = z * [2.0, 0.5] + 1.0
    fig = plot_latent_lines(z, x, n=6)
    (ax,) = fig.axes
    assert ax.get_title() == "Transformed latent z \u2192 x"
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = lines.get_segments()
    assert len(segments) == 6
    for seg, zi, xi in zip(segments, z, x):
        np.testing.assert_allclose(seg, [zi, xi])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["latent z", "x = f(z)"]
    with pytest.raises(ValueError, match=r"same shape, got \(20, 2\) and \(19, 2\)"):
        plot_latent_lines(z, x[:19])


# --- animation -----------------------------------------------------------------------


def test_animate_layers_writes_a_gif(tmp_path, rng):
    z = rng.normal(size=(12, 2))
    steps = [z, 2 * z, z + [3.0, 0.0]]
    path = tmp_path / "flow.gif"
    fig = animate_layers(steps, path=str(path), frames_per_step=2, fps=10, dpi=20,
                         names=["z", "scaled", "shifted"])
    assert isinstance(fig.animation, FuncAnimation)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == (len(steps) - 1) * 2 + 1
    (ax,) = fig.axes
    # the last frame drawn shows the last step and its name
    np.testing.assert_allclose(ax.collections[0].get_offsets(), steps[-1])
    assert ax.get_title() == "shifted"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("dimension 1", "dimension 2")


def test_animate_layers_without_path_and_bad_input(rng):
    z = rng.normal(size=(5, 2))
    fig = animate_layers([z, -z], frames_per_step=1, dpi=20)
    assert isinstance(fig.animation, FuncAnimation)
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(), z)
    assert fig.axes[0].get_title() == "base"
    fig.set_dpi(20)
    html = fig.animation.to_jshtml()  # what a notebook shows; renders every frame
    assert html.count("data:image/png;base64") == 2
    with pytest.raises(ValueError, match="at least 2 arrays in steps, got 1"):
        animate_layers([z])
    with pytest.raises(ValueError, match="path ending in .gif, got 'out.mp4'"):
        animate_layers([z, z], path="out.mp4")
    with pytest.raises(ValueError, match="frames_per_step >= 1"):
        animate_layers([z, z], frames_per_step=0)


# --- training curves -----------------------------------------------------------------


def test_plot_loss_with_dict_and_history():
    import keras

    logs = {"loss": [3.0, 2.0, 1.5, 1.4], "val_loss": [3.2, 2.2, 1.7, 1.6]}
    history = keras.callbacks.History()
    history.history = logs
    for source in (logs, history):
        fig = plot_loss(source, reference=1.131, reference_label="true entropy")
        (ax,) = fig.axes
        assert ax.get_ylabel() == "negative log-likelihood (nats)"
        assert ax.get_xlabel() == "epoch"
        train, val, ref = ax.lines
        np.testing.assert_allclose(train.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(train.get_ydata(), logs["loss"])
        np.testing.assert_allclose(val.get_ydata(), logs["val_loss"])
        np.testing.assert_allclose(ref.get_ydata(), [1.131, 1.131])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "training", "validation", "true entropy (1.131)"]


def test_plot_loss_variants_and_errors():
    fig = plot_loss({"loss": [1.0, 0.5]})
    assert len(fig.axes[0].lines) == 1
    # fit(validation_freq=2): validation points sit at epochs 2, 4, 6
    fig = plot_loss({"loss": [6, 5, 4, 3, 2, 1], "val_loss": [5.5, 3.5, 1.5]})
    np.testing.assert_allclose(fig.axes[0].lines[1].get_xdata(), [2, 4, 6])
    with pytest.raises(ValueError, match="'loss' key, got keys \\['val_loss'\\]"):
        plot_loss({"val_loss": [1.0]})
    with pytest.raises(TypeError, match="Keras History or a dict"):
        plot_loss([1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        plot_loss({"loss": []})


def test_plot_nll_parts():
    l2, logdet, d = np.array([3.0, 1.5, 1.1]), np.array([-0.2, 0.4, 0.9]), 2
    fig = plot_nll_parts(l2, logdet, event_size=d, xlabel="epoch")
    a_l2, a_ld, a_nll = fig.axes
    np.testing.assert_allclose(a_l2.lines[0].get_ydata(), l2)
    reference = a_l2.lines[1]
    assert reference.get_linestyle() == "--"
    np.testing.assert_allclose(reference.get_ydata(), [d / 2, d / 2])
    assert [t.get_text() for t in a_l2.get_legend().get_texts()] == ["L2 part", "Normal noise"]
    np.testing.assert_allclose(a_ld.lines[0].get_ydata(), logdet)
    np.testing.assert_allclose(a_nll.lines[0].get_ydata(),
                               l2 + 0.5 * d * np.log(2 * np.pi) - logdet)
    assert a_nll.get_xlabel() == "epoch"
    assert a_l2.get_shared_x_axes().joined(a_l2, a_nll)
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        plot_nll_parts(l2, logdet[:2], event_size=d)
    with pytest.raises(ValueError, match="event_size >= 1"):
        plot_nll_parts(l2, logdet, event_size=0)


def test_nll_parts_match_a_gaussian_log_prob(rng):
    """The third panel is exactly -mean(log_prob) for a flow x = 2 z + 1 (d = 2)."""
    x = rng.normal(size=(50, 2)) * 2.0 + 1.0
    z = (x - 1.0) / 2.0
    l2 = 0.5 * np.mean(np.sum(z ** 2, axis=1))
    logdet = 2 * np.log(0.5)  # log|det dz/dx|
    fig = plot_nll_parts([l2], [logdet], event_size=2)
    nll = -np.mean(stats.multivariate_normal([1.0, 1.0], 4.0 * np.eye(2)).logpdf(x))
    assert fig.axes[2].lines[0].get_ydata()[0] == pytest.approx(nll)


# --- latent checks -------------------------------------------------------------------


def test_plot_latent_qq():
    n = 40
    exact = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    z = np.stack([exact[::-1], 2.0 * exact + 1.0], axis=1)
    fig = plot_latent_qq(z, bins=8)
    assert len(fig.axes) == 4
    assert [a.get_title() for a in fig.axes] == [
        "Q-Q plot of z[0]", "Q-Q plot of z[1]", "histogram of z[0] vs N(0, 1)",
        "histogram of z[1] vs N(0, 1)"]
    qq0, qq1, hist0, _ = fig.axes
    on_line = qq0.collections[0].get_offsets()
    np.testing.assert_allclose(on_line[:, 0], on_line[:, 1], atol=1e-12)  # Normal: y = x
    off_line = qq1.collections[0].get_offsets()
    np.testing.assert_allclose(off_line[:, 1], 2.0 * off_line[:, 0] + 1.0, atol=1e-12)
    line = qq0.lines[0]
    np.testing.assert_allclose(line.get_xdata(), line.get_ydata())
    widths = np.array([p.get_width() for p in hist0.patches])
    heights = np.array([p.get_height() for p in hist0.patches])
    assert np.sum(widths * heights) == pytest.approx(1.0)  # a density histogram
    pdf = hist0.lines[0]
    np.testing.assert_allclose(pdf.get_ydata(), stats.norm.pdf(pdf.get_xdata()))


def test_plot_latent_qq_dims_and_errors(rng):
    images = rng.normal(size=(10, 4, 5))  # flattened to 20 dimensions
    fig = plot_latent_qq(images, dims=[0, 19], bins=3)
    assert fig.axes[1].get_title() == "Q-Q plot of z[19]"
    assert len(plot_latent_qq(rng.normal(size=10), bins=3).axes) == 2
    with pytest.raises(ValueError, match="z has 20 dimensions; expected at most 16"):
        plot_latent_qq(images)
    with pytest.raises(ValueError, match="indices in \\[0, 20\\), got \\[20\\]"):
        plot_latent_qq(images, dims=[20])
    with pytest.raises(ValueError, match="n >= 2"):
        plot_latent_qq(np.zeros((1, 2)))


def test_normal_qq_positions():
    theory, sample = normal_qq([2.0, -1.0, 0.5, 0.0])
    np.testing.assert_allclose(sample, [-1.0, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(theory, stats.norm.ppf([0.125, 0.375, 0.625, 0.875]))


def test_public_api_returns_figures_and_never_shows(monkeypatch, rng):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show was called"))
    z = rng.normal(size=(6, 2))
    figures = [
        plot_density(std_normal_log_prob, resolution=4),
        plot_samples(z, z),
        plot_layer_grid([z, z]),
        plot_latent_lines(z, z),
        plot_loss({"loss": [1.0]}),
        plot_nll_parts([1.0], [0.0], event_size=2),
        plot_latent_qq(z, bins=3),
    ]
    assert all(isinstance(f, plt.Figure) for f in figures)
    assert sorted(plotting.__all__) == sorted(
        ["animate_layers", "data_bounds", "density_grid", "normal_qq", "plot_density",
         "plot_latent_lines", "plot_latent_qq", "plot_layer_grid", "plot_loss", "plot_nll_parts", "plot_samples",
         "plot_bits_per_dim", "plot_image_grid", "plot_samples_vs_data", "plot_scale_latents",
         "plot_temperature_grid", "split_scales", "plot_conditional_density",
         "plot_class_samples", "plot_target_fit", "plot_log_weights",
         "plot_conditional_samples", "spread_contexts", "plot_flow_layers"])


# --- pictures a person can read --------------------------------------------------------


def sharp_truth_log_prob(x):
    """Eight tight Gaussians on a circle (peak density about 4), like eight_gaussians."""
    x = np.asarray(x, np.float64)
    angles = np.arange(8) * np.pi / 4
    centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    sq = np.sum((x[:, None, :] - centres[None]) ** 2, axis=-1)
    sigma = 0.07
    return (np.log(np.mean(np.exp(-0.5 * sq / sigma ** 2), axis=1) + 1e-300)
            - np.log(2 * np.pi * sigma ** 2))


def broad_model_log_prob(x):
    """What a flow looks like after a short fit: a broad blob (peak density about 0.04)."""
    return std_normal_log_prob(np.asarray(x, np.float64) / 2.0) - 2 * np.log(2.0)


def colorbar_axes(fig, panels):
    return [a for a in fig.axes if a not in panels]


def significant_digits(label):
    mantissa = label.replace("\u2212", "-").lstrip("-").split("e")[0]
    digits = mantissa.replace(".", "").lstrip("0")
    return len(digits)


def test_density_panels_each_use_the_full_colour_range_by_default():
    """A broad model next to a sharp truth must not be one dark colour."""
    bounds = ((-3, 3), (-3, 3))
    fig = plot_density(broad_model_log_prob, bounds=bounds, resolution=60,
                       truth=sharp_truth_log_prob)
    model_ax, truth_ax = fig.axes[:2]
    (cs_model,), (cs_truth,) = contour_sets(model_ax), contour_sets(truth_ax)
    model_peak = density_grid(broad_model_log_prob, bounds, 60)[2].max()
    truth_peak = density_grid(sharp_truth_log_prob, bounds, 60)[2].max()
    assert model_peak < 0.05 * truth_peak  # the case that used to be all dark
    # each panel is scaled to its own maximum: the model's top colour is its own peak
    assert cs_model.levels[-1] == pytest.approx(model_peak)
    assert cs_truth.levels[-1] == pytest.approx(truth_peak)
    assert cs_model.norm is not cs_truth.norm
    assert cs_model.norm.vmax == pytest.approx(model_peak)
    # and each has its own colour bar
    bars = colorbar_axes(fig, [model_ax, truth_ax])
    assert [b.get_ylabel() for b in bars] == ["density", "density"]


def test_density_log_scale_is_shared_and_readable():
    bounds = ((-3, 3), (-3, 3))
    fig = plot_density(broad_model_log_prob, bounds=bounds, resolution=60,
                       truth=sharp_truth_log_prob, scale="log", log_range=8.0)
    model_ax, truth_ax, bar = fig.axes
    (cs_model,), (cs_truth,) = contour_sets(model_ax), contour_sets(truth_ax)
    np.testing.assert_array_equal(cs_model.levels, cs_truth.levels)
    top = np.log(density_grid(sharp_truth_log_prob, bounds, 60)[2].max())
    assert cs_model.levels[-1] == pytest.approx(top)
    assert cs_model.levels[0] == pytest.approx(top - 8.0)
    # the model panel spans a good part of the colour scale, not only its bottom colour
    assert (cs_model.zmax - cs_model.zmin) > 0.25 * 8.0
    assert cs_model.zmin >= top - 8.0 - 1e-9  # values below the floor are clipped
    assert bar.get_ylabel() == "log density"
    with pytest.raises(ValueError, match="scale to be one of"):
        plot_density(std_normal_log_prob, scale="linear")
    with pytest.raises(ValueError, match="log_range > 0"):
        plot_density(std_normal_log_prob, scale="log", log_range=0)


@pytest.mark.parametrize("scale", ["own", "shared", "log"])
def test_colour_bar_ticks_have_at_most_three_significant_digits(scale):
    # a peak of 0.0123...: contour levels at 0.000617, 0.00123, ... by default
    peaked = lambda x: std_normal_log_prob(np.asarray(x) / 3.6) - 2 * np.log(3.6)  # noqa: E731
    fig = plot_density(peaked, resolution=20, truth=std_normal_log_prob, scale=scale)
    fig.canvas.draw()
    bars = colorbar_axes(fig, fig.axes[:2])
    assert bars
    for bar in bars:
        labels = [t.get_text() for t in bar.get_yticklabels() if t.get_text()]
        assert 2 <= len(labels) <= 7, labels
        assert all(significant_digits(t) <= 3 for t in labels), labels


def test_loss_plot_of_a_short_run_has_integer_epoch_ticks():
    fig = plot_loss({"loss": [3.0, 2.5, 2.2], "val_loss": [3.1, 2.6, 2.4]})
    (ax,) = fig.axes
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_nll_parts_integer_ticks_for_whole_steps_only():
    fig = plot_nll_parts([2.0, 1.5, 1.2], [0.1, 0.2, 0.3], event_size=2)
    fig.canvas.draw()
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        assert all(float(t).is_integer() for t in ax.get_xticks() if lo <= t <= hi)
    fig = plot_nll_parts([2.0, 1.5], [0.1, 0.2], event_size=2, x=[0.0, 0.5])
    fig.canvas.draw()
    assert not all(float(t).is_integer() for t in fig.axes[2].get_xticks())


def plotted_points(ax):
    """Display coordinates of every line vertex and scatter point in ``ax``."""
    pts = [line.get_transform().transform(line.get_xydata()) for line in ax.lines]
    pts += [c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections
            if len(c.get_offsets())]
    return np.concatenate(pts)


def assert_legend_off_the_data(ax):
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent()
    assert not box.overlaps(ax.get_window_extent())  # outside the axes
    inside = [box.contains(x, y) for x, y in plotted_points(ax)]
    assert not any(inside)


def test_legends_do_not_cover_the_data(rng):
    # curves along the top of the axes, where an "upper right" legend used to sit
    fig = plot_loss({"loss": [2.8, 2.78, 2.76, 2.75, 2.75],
                     "val_loss": [2.77, 2.76, 2.74, 2.74, 2.73]},
                    reference=-0.38, reference_label="true entropy")
    assert_legend_off_the_data(fig.axes[0])
    cloud = rng.uniform(-1, 1, size=(400, 2))
    fig = plot_samples(cloud, data=cloud[::-1], overlay=True)
    assert_legend_off_the_data(fig.axes[0])
    fig = plot_latent_lines(cloud, 1.5 * cloud)
    assert_legend_off_the_data(fig.axes[0])
    fig = plot_nll_parts([1.0, 1.0, 1.0], [0.0, 0.1, 0.2], event_size=2)
    assert_legend_off_the_data(fig.axes[0])
    # a legend inside the axes remains available
    fig = plot_loss({"loss": [3.0, 2.0]}, legend="best")
    assert fig.axes[0].get_legend().get_frame().get_alpha() == pytest.approx(0.85)
    assert plot_loss({"loss": [3.0, 2.0]}, legend=None).axes[0].get_legend() is None


def test_latent_qq_histograms_have_no_legend_over_the_bars(rng):
    fig = plot_latent_qq(rng.normal(size=(200, 2)), bins=10)
    assert all(a.get_legend() is None for a in fig.axes)


def test_layer_grid_is_labelled_titled_and_on_one_range(rng):
    z = rng.normal(size=(200, 2))
    steps = [z, 0.2 * z, 3.0 * z + [5.0, 0.0], np.tanh(z), z ** 3 / 10]
    fig = plot_layer_grid(steps, cols=2)  # 3 rows x 2 columns, the last cell removed
    assert fig.get_suptitle()
    limits = {(a.get_xlim(), a.get_ylim()) for a in fig.axes}
    assert len(limits) == 1  # one shared range
    (xlim, ylim), = limits
    every = np.concatenate(steps)
    assert xlim[0] < every[:, 0].min() and xlim[1] > every[:, 0].max()
    assert ylim[0] < every[:, 1].min() and ylim[1] > every[:, 1].max()
    # x labels under each column's lowest panel, y labels on the first column
    assert [bool(a.get_xlabel()) for a in fig.axes] == [False, False, False, True, True]
    assert [bool(a.get_ylabel()) for a in fig.axes] == [True, False, True, False, True]
    assert fig.axes[-1].get_xlabel() == "dimension 1"
    assert fig.axes[0].get_ylabel() == "dimension 2"


def test_layer_grid_range_ignores_far_outliers_and_can_be_per_panel(rng):
    z = rng.normal(size=(2000, 2))
    wild = z.copy()
    wild[0] = [1e4, -1e4]
    fig = plot_layer_grid([z, wild])
    assert fig.axes[0].get_xlim()[1] < 10  # one wild point does not squash the picture
    fig = plot_layer_grid([z, 10 * z], bounds="per_panel")
    assert "each panel on its own range" in fig.get_suptitle()
    assert fig.axes[1].get_xlim()[1] > 5 * fig.axes[0].get_xlim()[1]
    with pytest.raises(ValueError, match="'per_panel', got 'auto'"):
        plot_layer_grid([z, z], bounds="auto")


def test_layer_grid_labels_the_outer_panels_of_the_callers_grid(rng):
    z = rng.normal(size=(10, 2))
    fig, grid = plt.subplots(2, 3)
    plot_layer_grid([z, z, z], axes=grid[1])
    assert [bool(a.get_xlabel()) for a in grid[1]] == [True, True, True]
    assert [bool(a.get_ylabel()) for a in grid[1]] == [True, False, False]
    assert not fig.get_suptitle()  # the caller's figure keeps its own title


def test_every_panel_has_axis_labels_and_a_title(rng):
    z = rng.normal(size=(30, 2))
    figures = {
        "density": plot_density(std_normal_log_prob, resolution=5, truth=std_normal_log_prob),
        "samples": plot_samples(z, z),
        "overlay": plot_samples(z, z, overlay=True),
        "lines": plot_latent_lines(z, 2 * z),
        "loss": plot_loss({"loss": [1.0, 0.5]}),
        "qq": plot_latent_qq(z, bins=4),
    }
    for name, fig in figures.items():
        panels = [a for a in fig.axes if a.get_title()]
        assert panels, name
        for a in panels:
            assert a.get_xlabel() and a.get_ylabel(), (name, a.get_title())
    nll = plot_nll_parts([1.0, 0.5], [0.0, 0.1], event_size=2)
    assert nll.get_suptitle() and all(a.get_ylabel() for a in nll.axes)
    assert nll.axes[-1].get_xlabel()
    assert figures["qq"].get_suptitle() == "latent z against N(0, 1)"


def test_data_bounds_pad_the_range_of_the_first_two_columns():
    x = np.array([[0.0, 10.0, 99.0], [1.0, 30.0, -99.0], [0.5, 20.0, 0.0]])
    assert plotting.data_bounds(x, pad=0.5) == ((-0.5, 1.5), (0.0, 40.0))
    lo, hi = plotting.data_bounds(np.arange(101.0)[:, None].repeat(2, 1), pad=0.0, tail=0.1)[0]
    assert (lo, hi) == pytest.approx((10.0, 90.0))
    with pytest.raises(ValueError, match="tail in"):
        plotting.data_bounds(x, tail=0.5)
