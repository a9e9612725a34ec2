"""Tests for tfp_flows.plotting.images: image grids, temperatures, per-scale latents, bits/dim."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

import tfp_flows
from tfp_flows import plotting
from tfp_flows.datasets import dequantize, digits
from tfp_flows.plotting import (
    plot_bits_per_dim,
    plot_image_grid,
    plot_samples_vs_data,
    plot_scale_latents,
    plot_temperature_grid,
    split_scales,
)

K = 17


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return digits()


@pytest.fixture(scope="module")
def models(data):
    """Tiny untrained image flows, initialised from data (Real NVP's batch norm needs it)."""
    x = dequantize(data.x_train[:64], seed=0, num_levels=K)
    glow = tfp_flows.glow(event_shape=(8, 8, 1), num_levels=K, num_steps=1, hidden_channels=4,
                          seed=0)
    rnvp = tfp_flows.real_nvp(event_shape=(8, 8, 1), num_levels=K, hidden_channels=4, seed=0)
    for model in (glow, rnvp):
        model.initialize_from_data(x)
    return {"glow": glow, "real_nvp": rnvp}


class FakeModel:
    """Duck-typed image flow: records its calls, samples outside [0, K) on purpose."""

    num_levels = K

    def __init__(self):
        self.temperatures = []

    def sample(self, n, seed=None, temperature=1.0):
        self.temperatures.append(temperature)
        z = np.random.default_rng(seed).normal(size=(n, 8, 8, 1))
        return 8.5 + 12.0 * temperature * np.tanh(z)  # in (-3.5, 20.5): must be clipped


def shown(ax):
    """The tiled pixels of an image grid (NaN gaps filled in as NaN)."""
    return np.ma.filled(np.ma.asarray(ax.images[0].get_array(), dtype=float), np.nan)


def test_exported():
    for name in ("plot_image_grid", "plot_samples_vs_data", "plot_temperature_grid",
                 "plot_scale_latents", "split_scales", "plot_bits_per_dim"):
        assert name in plotting.__all__ and name in plotting.__doc__


# --- image grids ------------------------------------------------------------------------


def test_image_grid_tiles_with_gaps_and_clips_floats():
    x = np.full((5, 3, 4, 1), 5.7)
    x[0, 0, 0, 0], x[1, 0, 0, 0] = -0.6, K + 0.4  # samples slightly outside [0, K)
    fig = plot_image_grid(x, K, nrows=2)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "5 images" and "levels 0\u201316" in ax.get_xlabel()
    tiles = shown(ax)
    assert tiles.shape == (2 * 4 - 1, 3 * 5 - 1)  # 2 x 3 cells, 1-pixel gaps
    pixels = tiles[np.isfinite(tiles)]
    assert pixels.size == 5 * 12 and pixels.min() == 0 and pixels.max() == K - 1
    assert set(np.unique(pixels)) == {0.0, 5.0, 16.0}  # floored, clipped
    assert np.isnan(tiles[3]).all() and np.isnan(tiles[:, 4]).all()  # the gaps
    assert np.isnan(tiles[4:, 10:]).all()  # the empty sixth cell
    assert ax.images[0].get_clim() == (0, K - 1)


def test_image_grid_rgb_colorbar_and_given_axes():
    rgb = np.random.default_rng(0).integers(0, 256, size=(4, 5, 5, 3)).astype(np.uint8)
    fig = plot_image_grid(rgb, 256, ncols=4, colorbar=True)  # no colour bar for RGB
    assert len(fig.axes) == 1
    arr = np.asarray(fig.axes[0].images[0].get_array())
    assert arr.shape == (5, 4 * 6 - 1, 3) and 0 <= arr.min() and arr.max() <= 1
    np.testing.assert_allclose(arr[:, :5], rgb[0] / 255)
    fig = plot_image_grid(np.zeros((9, 4, 4), int), K, colorbar=True, title="t")
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "pixel level"
    fig2, ax = plt.subplots()
    assert plot_image_grid(np.zeros((20, 4, 4), int), K, nrows=2, ncols=3, ax=ax) is fig2
    assert shown(ax).shape == (9, 14)  # only the first 6 images


@pytest.mark.parametrize("images, levels, match", [
    (np.zeros((8, 8)), K, r"shape \[n, H, W\] or \[n, H, W, C\].*got shape \(8, 8\)"),
    (np.zeros((2, 8, 8, 2)), K, r"C = 1 \(grayscale\) or 3 \(RGB\)"),
    (np.full((2, 4, 4), 255), K, r"integer pixels in \[0, 16\].*to 255.*num_levels"),
    (np.full((2, 4, 4), -1), K, r"integer pixels in \[0, 16\]"),
    (np.full((2, 4, 4), 200.0), K, r"pixel values in \[0, 17\).*is num_levels right"),
    (np.full((2, 4, 4), np.nan), K, "NaN"),
    (np.zeros((2, 4, 4)), 1, "num_levels to be an integer >= 2"),
    (np.array([["a"]]), K, "hold numbers"),
])
def test_image_grid_rejects_bad_images(images, levels, match):
    with pytest.raises(ValueError, match=match):
        plot_image_grid(images, levels)


def test_image_grid_rejects_bad_grid():
    with pytest.raises(ValueError, match="nrows to be a positive integer"):
        plot_image_grid(np.zeros((4, 4, 4), int), K, nrows=0)


def test_samples_vs_data(data, models):
    samples = models["glow"].sample(9, seed=0)
    fig = plot_samples_vs_data(data.x_test, samples, K, n=9, titles=("digits", "glow"))
    assert [a.get_title() for a in fig.axes] == ["digits", "glow"]
    for ax in fig.axes:
        tiles = shown(ax)
        assert tiles.shape == (3 * 9 - 1, 3 * 9 - 1)
        assert np.nanmin(tiles) >= 0 and np.nanmax(tiles) <= K - 1
    with pytest.raises(ValueError, match="same image shape"):
        plot_samples_vs_data(data.x_test, np.zeros((4, 4, 4)), K)
    with pytest.raises(ValueError, match="two titles"):
        plot_samples_vs_data(data.x_test, samples, K, titles=("only",))
    with pytest.raises(ValueError, match="data with integer pixels in \\[0, 3\\]"):
        plot_samples_vs_data(data.x_test, samples, 4)  # num_levels mismatch


# --- temperatures -----------------------------------------------------------------------


def test_temperature_grid_rows_and_clipping():
    model = FakeModel()
    fig = plot_temperature_grid(model, temperatures=(0.0, 0.5, 1.0), n=5, seed=3)
    assert len(fig.axes) == 3
    assert [a.get_ylabel() for a in fig.axes] == ["T = 0", "T = 0.5", "T = 1"]
    assert model.temperatures == [pytest.approx(1e-6), 0.5, 1.0]
    assert "T\u00b7z" in fig.axes[-1].get_xlabel() and fig.get_suptitle()
    for ax in fig.axes:
        tiles = shown(ax)
        assert tiles.shape == (8, 5 * 9 - 1)
        assert np.nanmin(tiles) >= 0 and np.nanmax(tiles) <= K - 1
    assert np.nanmax(shown(fig.axes[2])) == K - 1  # T = 1 samples reach past K: clipped
    first = shown(fig.axes[0])
    np.testing.assert_array_equal(first[:, :8], first[:, 9:17])  # T = 0: the same image


def test_temperature_grid_real_model(models):
    fig = plot_temperature_grid(models["glow"], temperatures=(0.0, 1.0), n=3)
    assert [a.get_ylabel() for a in fig.axes] == ["T = 0", "T = 1"]


def test_temperature_grid_rejects_bad_input():
    with pytest.raises(ValueError, match=">= 0"):
        plot_temperature_grid(FakeModel(), temperatures=(-0.5,))
    with pytest.raises(ValueError, match="at least one temperature"):
        plot_temperature_grid(FakeModel(), temperatures=())
    no_levels = FakeModel()
    no_levels.num_levels = None
    with pytest.raises(ValueError, match="num_levels"):
        plot_temperature_grid(no_levels)


# --- latents per scale ------------------------------------------------------------------


@pytest.mark.parametrize("name, shapes", [
    ("real_nvp", [(4, 4, 2), (4, 4, 2)]),
    ("glow", [(4, 4, 2), (2, 2, 8)]),
])
def test_split_scales_shapes_match_the_flow(models, data, name, shapes):
    model = models[name]
    z = np.asarray(model.encode(data.x_test[:3] + 0.5)[0])
    pieces = split_scales(model, z)
    assert [p.shape for p in pieces] == [(3,) + s for s in shapes]
    assert sum(p[0].size for p in pieces) == 64
    np.testing.assert_array_equal(np.concatenate([p.reshape(3, -1) for p in pieces], 1), z)
    factored = model.flow_layers[0].bijector().split_latent(z)[0]
    np.testing.assert_array_equal(pieces[0], np.asarray(factored))


def test_split_scales_walks_nested_scales():
    model = tfp_flows.glow(event_shape=(8, 8, 1), num_levels=K, num_steps=1, hidden_channels=4,
                           num_scales=3, seed=0)
    pieces = split_scales(model, np.arange(128.0).reshape(2, 64))
    assert [p.shape[1:] for p in pieces] == [(4, 4, 2), (2, 2, 4), (1, 1, 16)]
    assert pieces[1][0, 0, 0, 0] == 32 and pieces[2][1, 0, 0, 0] == 64 + 48


def test_split_scales_duck_typed_layers():
    class Squeeze:
        def inverse_event_shape(self, shape):
            h, w, c = shape
            return (h // 2, w // 2, 4 * c)

    class Split:
        def __init__(self, event_shape, flow_layers):
            self.event_shape, self.num_kept, self.flow_layers = event_shape, 1, flow_layers

    model = type("M", (), {"flow_layers": [Split((4, 4, 2), [Squeeze()])]})()
    assert [p.shape for p in split_scales(model, np.zeros((1, 32)))] == [(1, 4, 4, 1),
                                                                         (1, 2, 2, 4)]
    with pytest.raises(ValueError, match=r"shape \[n, 32\].*got shape \(1, 30\)"):
        split_scales(model, np.zeros((1, 30)))
    with pytest.raises(ValueError, match=r"shape \[n, D\]"):
        split_scales(model, np.zeros(32))
    flat = type("F", (), {"flow_layers": [Squeeze()], "latent_shape": (6,)})()
    assert [p.shape for p in split_scales(flat, np.zeros((2, 6)))] == [(2, 6)]


def test_scale_latents_glow(models, data):
    fig = plot_scale_latents(models["glow"], data.x_test, index=2)
    image, heat, cbar = fig.axes[0], fig.axes[1:-1], fig.axes[-1]
    assert len(heat) == 2 + 8
    assert image.get_title() == "image 2"
    np.testing.assert_array_equal(shown(image), data.x_test[2, ..., 0])
    labels = [a.get_ylabel() for a in heat if a.get_ylabel()]
    assert [s.splitlines()[0] for s in labels] == ["scale 1", "scale 2 (last)"]
    assert "4\u00d74\u00d72" in labels[0] and "2\u00d72\u00d78" in labels[1]
    lo, hi = heat[0].images[0].get_clim()
    assert lo == -hi and hi > 0 and all(a.images[0].get_clim() == (lo, hi) for a in heat)
    assert cbar.get_ylabel() == "latent value z"
    z = np.asarray(models["glow"].encode(data.x_test[2:3] + 0.5)[0])
    assert hi == pytest.approx(np.abs(z).max())


def test_scale_latents_real_nvp_and_channel_cap(models, data):
    fig = plot_scale_latents(models["real_nvp"], data.x_test, max_channels=1)
    assert len(fig.axes) == 1 + 2 + 1
    assert "1 of 2 ch" in fig.axes[1].get_ylabel()


def test_scale_latents_dequantises_integers_at_bin_centres(data):
    seen = {}

    class Recorder:
        num_levels = K
        flow_layers = ()
        latent_shape = (8, 8, 1)

        def encode(self, x):
            seen["x"] = x
            return np.zeros((len(x), 64)), np.zeros(len(x))

    plot_scale_latents(Recorder(), data.x_test, index=1)
    assert seen["x"].dtype == np.float32
    np.testing.assert_array_equal(seen["x"][0], data.x_test[1] + 0.5)
    plot_scale_latents(Recorder(), data.x_test[:2] + 0.25)  # floats: as given
    np.testing.assert_array_equal(seen["x"][0], data.x_test[0] + 0.25)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_levels": 256}, "num_levels=256 does not match the model's num_levels=17"),
    ({"images": np.zeros((8, 8))}, r"shape \[n, H, W\] or \[n, H, W, C\]"),
    ({"images": np.full((1, 8, 8, 1), 40)}, r"integer pixels in \[0, 16\]"),
    ({"images": np.full((1, 8, 8, 1), 17.0)}, r"dequantised pixels\) in \[0, 17\)"),
    ({"index": 5}, r"index in \[0, 2\)"),
    ({"max_channels": 0}, "max_channels"),
])
def test_scale_latents_rejects_bad_input(models, kwargs, match):
    args = {"images": np.zeros((2, 8, 8, 1), int), **kwargs}
    with pytest.raises(ValueError, match=match):
        plot_scale_latents(models["glow"], **args)


# --- bits per dimension -----------------------------------------------------------------


def test_bits_per_dim_converts_and_draws_references():
    d = 64
    nats = np.array([3.0, 2.5, 2.25, 2.1]) * d * np.log(2)
    history = type("History", (), {"history": {"loss": list(nats),
                                               "val_loss": list(nats[1::2] + 1.0)}})()
    fig = plot_bits_per_dim(history, d, reference={"uniform": np.log2(K), "GMM-10": 2.23})
    fig.canvas.draw()
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.5, 2.25, 2.1])
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [2, 4])  # validation_freq=2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "training", "validation", "uniform (4.087)", "GMM-10 (2.230)"]
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # outside
    assert ax.get_ylabel() == "bits per dimension" and ax.get_xlabel() == "epoch"
    assert all(float(t).is_integer() for t in ax.get_xticks())
    fig = plot_bits_per_dim({"loss": [44.0]}, 64, reference=2.0, reference_label="baseline",
                            legend=None)
    assert fig.axes[0].get_legend() is None
    assert fig.axes[0].lines[-1].get_ydata()[0] == 2.0


@pytest.mark.parametrize("history, size, reference, error, match", [
    ({"loss": [1.0]}, 0, None, ValueError, "event_size"),
    ({"val_loss": [1.0]}, 64, None, ValueError, "'loss' key"),
    ([1.0, 2.0], 64, None, TypeError, "Keras History"),
    ({"loss": [1.0]}, 64, {"a": "high"}, ValueError, "reference values to be numbers"),
])
def test_bits_per_dim_rejects_bad_input(history, size, reference, error, match):
    with pytest.raises(error, match=match):
        plot_bits_per_dim(history, size, reference=reference)


def test_channel_draws_one_channel_of_images_of_any_channel_count():
    x = np.zeros((4, 3, 3, 2), dtype=int)
    x[..., 1] = 5
    fig = plot_image_grid(x, 6, nrows=1, channel=1)
    assert np.nanmax(fig.axes[0].images[0].get_array()) == 5
    with pytest.raises(ValueError, match="C = 1"):
        plot_image_grid(x, 6)
    with pytest.raises(ValueError, match="channel=2 for shape"):
        plot_samples_vs_data(x, x, 6, channel=2)
