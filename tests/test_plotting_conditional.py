"""Tests for tfp_flows.plotting.conditional: densities given contexts, samples by class."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

import tfp_flows
from tfp_flows import plotting
from tfp_flows.datasets import LinearGaussian, dequantize, digits
from tfp_flows.plotting import plot_class_samples, plot_conditional_density

K = 17


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class ShiftedGaussian:
    """A duck-typed conditional model: p(x | c) = N(x; c[:2] + offset, 0.3^2 I), context_size 3.

    Records the contexts it is called with."""

    context_size = 3
    event_shape = (2,)
    scale = 0.3

    def __init__(self, offset=(0.0, 0.0)):
        self.offset = np.asarray(offset, np.float64)
        self.contexts = []

    def mean(self, c):
        return np.asarray(c, np.float64)[..., :2] + self.offset

    def log_prob(self, x, context):
        self.contexts.append(np.array(context))
        return stats.multivariate_normal(np.zeros(2), self.scale ** 2).logpdf(
            np.asarray(x, np.float64) - self.mean(context))

    def sample(self, n, context=None, seed=None):
        self.contexts.append(np.array(context))
        z = np.random.default_rng(seed).normal(size=(n, 2))
        return self.mean(context) + self.scale * z


class Blocks:
    """A duck-typed class-conditional image flow: class k gives flat images at level 4k."""

    num_levels = K
    context_size = 4

    def __init__(self, shape=(3, 5, 1)):
        self.shape = shape
        self.calls = []

    def sample(self, n, context=None, seed=None, temperature=1.0):
        self.calls.append((n, np.array(context), seed, temperature))
        level = 4.0 * np.argmax(context, axis=-1)
        return np.broadcast_to(level.reshape((1, -1) + (1,) * len(self.shape)),
                               (n, len(context)) + self.shape)


CONTEXTS = np.array([[-1.5, 1.0, 0.0], [1.0, 1.5, 0.0], [0.0, -1.5, 0.0]], np.float32)


def panels(fig):
    """The density panels (those with filled contours), not the colour bar."""
    return [a for a in fig.axes if a.get_label() != "<colorbar>"]


def line_sets(ax):
    """Unfilled contour sets of a panel."""
    return [c for c in ax.collections if hasattr(c, "levels") and not c.filled]


def filled_sets(ax):
    return [c for c in ax.collections if getattr(c, "filled", False)]


def centre_of(contour_set):
    vertices = np.concatenate([p.vertices for p in contour_set.get_paths() if len(p.vertices)])
    return vertices.mean(axis=0)


def test_exported():
    for name in ("plot_conditional_density", "plot_class_samples"):
        assert name in plotting.__all__ and name in plotting.__doc__


# --- densities given contexts -----------------------------------------------------------


def test_one_panel_per_context_with_labels_and_a_colour_bar():
    fig = plot_conditional_density(ShiftedGaussian(), CONTEXTS, resolution=40)
    axes = panels(fig)
    assert len(axes) == 3 and len(fig.axes) == 4  # three panels and one shared colour bar
    assert [a.get_title() for a in axes] == ["c = [-1.5, 1, 0]", "c = [1, 1.5, 0]",
                                             "c = [0, -1.5, 0]"]
    assert axes[0].get_ylabel() == "$x_2$" and axes[1].get_ylabel() == ""  # outer panels only
    assert all(a.get_xlabel() == "$x_1$" for a in axes)
    assert fig.axes[-1].get_ylabel() == "flow density p(x | c)"
    assert fig._suptitle.get_text() == "flow density p(x | c)"
    for a in axes:
        assert a.get_xlim() == (-3.0, 3.0) and a.get_ylim() == (-3.0, 3.0)


def test_density_follows_the_context_and_shares_one_colour_scale():
    model = ShiftedGaussian()
    fig = plot_conditional_density(model, CONTEXTS, resolution=41)
    for a, c in zip(panels(fig), CONTEXTS):
        assert len(filled_sets(a)) == 1
        (model_lines,) = line_sets(a)  # the flow's 50% and 90% regions, nothing else
        assert len(model_lines.levels) == 2
        np.testing.assert_allclose(centre_of(model_lines), c[:2], atol=0.05)
    levels = [filled_sets(a)[0].levels for a in panels(fig)]
    np.testing.assert_array_equal(levels[0], levels[1])
    # the model saw each context once per grid point, as rows [n, K]
    assert [c.shape for c in model.contexts] == [(41 * 41, 3)] * 3
    np.testing.assert_array_equal(model.contexts[1][0], CONTEXTS[1])


def test_exact_contours_are_drawn_where_the_exact_density_is():
    exact = ShiftedGaussian()
    wrong = ShiftedGaussian(offset=(0.8, 0.0))           # the "flow" misses by 0.8 in x_1
    fig = plot_conditional_density(wrong, CONTEXTS, exact_log_prob=exact, resolution=61)
    for a, c in zip(panels(fig), CONTEXTS):
        model_lines, exact_lines = line_sets(a)
        assert exact_lines.get_linestyle()[0][1] is not None  # dashed
        np.testing.assert_allclose(centre_of(exact_lines), c[:2], atol=0.05)
        np.testing.assert_allclose(centre_of(model_lines), c[:2] + [0.8, 0.0], atol=0.05)
        # the same mass fractions: for equal shapes, equal density levels
        np.testing.assert_allclose(exact_lines.levels, model_lines.levels, rtol=0.05)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["flow: 50%, 90% regions", "exact: 50%, 90% regions"]


def test_exact_as_a_plain_callable_and_a_conditional_problem():
    problem = LinearGaussian(dim=2, obs_dim=3, noise_std=0.3, seed=0)
    seen = []

    def exact(x, c):
        seen.append(c.shape)
        return problem.log_prob(x, c)

    y = problem.sample(2, seed=1)[1]
    for source in (exact, problem):
        fig = plot_conditional_density(ShiftedGaussian(), y, exact_log_prob=source,
                                       resolution=30)
        for a, mean in zip(panels(fig), problem.posterior(y)[0]):
            np.testing.assert_allclose(centre_of(line_sets(a)[1]), mean, atol=0.1)
    assert seen == [(900, 3), (900, 3)]


def test_samples_and_custom_labels():
    model = ShiftedGaussian()
    fig = plot_conditional_density(model, CONTEXTS[0], num_samples=50, seed=3, resolution=20,
                                   context_labels=["y_obs"], xlabel="a", ylabel="b",
                                   title=None, colorbar=False)
    (a,) = fig.axes
    assert a.get_title() == "y_obs" and (a.get_xlabel(), a.get_ylabel()) == ("a", "b")
    assert fig._suptitle is None
    (points,) = [c for c in a.collections if not hasattr(c, "levels")]
    assert points.get_offsets().shape == (50, 2)
    np.testing.assert_array_equal(model.contexts[-1], CONTEXTS[0])  # sample(n, context=[K])
    assert "50 flow samples per panel" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_draws_into_given_axes_and_wraps_rows():
    fig, given = plt.subplots(1, 3)
    out = plot_conditional_density(ShiftedGaussian(), CONTEXTS, axes=given, resolution=20,
                                   colorbar=False)
    assert out is fig and all(len(a.collections) > 0 for a in given)
    fig = plot_conditional_density(ShiftedGaussian(), CONTEXTS, ncols=2, resolution=20)
    axes = panels(fig)
    assert len(axes) == 3  # the empty fourth cell of the 2 x 2 grid is removed
    assert axes[0].get_xlabel() == "" and axes[1].get_xlabel() == "$x_1$"  # last row only
    assert axes[2].get_ylabel() == "$x_2$"


def test_a_real_conditional_flow():
    flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,), context_size=3, seed=0)
    fig = plot_conditional_density(flow, CONTEXTS[:2], num_samples=10, resolution=20)
    assert len(panels(fig)) == 2
    for a in panels(fig):
        assert len(line_sets(a)) == 1


@pytest.mark.parametrize("contexts, message", [
    (np.zeros((2, 2)), "takes contexts of 3 numbers"),
    (np.zeros((0, 3)), r"shape \[m, K\]"),
    (np.zeros((2, 2, 3)), r"shape \[m, K\]"),
    (np.array([[0.0, np.nan, 0.0]]), "finite"),
    (np.array([["a", "b", "c"]]), "numeric"),
])
def test_bad_contexts(contexts, message):
    with pytest.raises(ValueError, match=message):
        plot_conditional_density(ShiftedGaussian(), contexts, resolution=10)


def test_bad_arguments():
    model = ShiftedGaussian()
    with pytest.raises(ValueError, match="mass fractions"):
        plot_conditional_density(model, CONTEXTS, mass=(0.5, 1.0), resolution=10)
    with pytest.raises(ValueError, match="3 context_labels"):
        plot_conditional_density(model, CONTEXTS, context_labels=["a"], resolution=10)
    with pytest.raises(ValueError, match="num_samples"):
        plot_conditional_density(model, CONTEXTS, num_samples=-1, resolution=10)
    with pytest.raises(ValueError, match="3 matplotlib Axes"):
        plot_conditional_density(model, CONTEXTS, axes=plt.subplots(1, 2)[1], resolution=10)
    with pytest.raises(TypeError, match="exact_log_prob"):
        plot_conditional_density(model, CONTEXTS, exact_log_prob=3.0, resolution=10)
    unconditional = ShiftedGaussian()
    unconditional.context_size = None
    with pytest.raises(ValueError, match="conditional model"):
        plot_conditional_density(unconditional, CONTEXTS, resolution=10)
    three_d = ShiftedGaussian()
    three_d.event_shape = (3,)
    with pytest.raises(ValueError, match="2-D points"):
        plot_conditional_density(three_d, CONTEXTS, resolution=10)


def test_nan_density_is_reported():
    class Broken(ShiftedGaussian):
        def log_prob(self, x, context):
            return np.full(len(x), np.nan)

    with pytest.raises(ValueError, match="NaN"):
        plot_conditional_density(Broken(), CONTEXTS, resolution=10)


# --- image samples by class -------------------------------------------------------------


def test_class_samples_one_row_per_class():
    model = Blocks()
    fig = plot_class_samples(model, num_classes=4, num_per_class=6, seed=5, temperature=0.7)
    (a,) = fig.axes
    n, context, seed, temperature = model.calls[0]
    assert (n, seed, temperature) == (6, 5, 0.7)
    np.testing.assert_array_equal(context, np.eye(4))  # one-hot contexts, one per class
    tiles = np.ma.filled(np.ma.asarray(a.images[0].get_array(), dtype=float), np.nan)
    assert tiles.shape == (4 * 4 - 1, 6 * 6 - 1)  # 4 rows of 3-pixel images, 6 columns, gaps
    for k in range(4):  # row k shows class k (level 4k) in every column
        row = tiles[k * 4:k * 4 + 3]
        np.testing.assert_array_equal(row[~np.isnan(row)], 4.0 * k)
    assert [t.get_text() for t in a.get_yticklabels()] == ["0", "1", "2", "3"]
    np.testing.assert_allclose(a.get_yticks(), [1, 5, 9, 13])  # the middle of each row
    assert a.get_ylabel() == "class (one-hot context)"
    assert "6 samples per class" in a.get_xlabel() and "levels 0\u201316" in a.get_xlabel()
    assert a.get_title() == "samples by class"


def test_class_samples_names_and_given_axes():
    fig, ax = plt.subplots()
    out = plot_class_samples(Blocks(), 4, 2, class_names="abcd", ax=ax, title=None)
    assert out is fig and ax.get_title() == ""
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abcd")


def test_class_samples_bad_input():
    with pytest.raises(ValueError, match="context_size=4"):
        plot_class_samples(Blocks(), num_classes=10)
    with pytest.raises(ValueError, match="num_classes"):
        plot_class_samples(Blocks(), num_classes=0)
    with pytest.raises(ValueError, match="num_per_class"):
        plot_class_samples(Blocks(), num_classes=4, num_per_class=2.5)
    with pytest.raises(ValueError, match="4 class_names"):
        plot_class_samples(Blocks(), num_classes=4, class_names=["a"])
    no_levels = Blocks()
    no_levels.num_levels = None
    with pytest.raises(ValueError, match="num_levels"):
        plot_class_samples(no_levels, num_classes=4)
    flat = Blocks()
    flat.sample = lambda n, **kw: np.zeros((n * 4, 3, 5, 1))  # classes not on their own axis
    with pytest.raises(ValueError, match=r"shape \[8, 4, H, W"):
        plot_class_samples(flat, num_classes=4)


def test_class_samples_of_a_real_image_flow():
    data = digits()
    flow = tfp_flows.real_nvp(event_shape=(8, 8, 1), num_levels=K, context_size=10,
                              hidden_channels=4, num_blocks=1, seed=0)
    flow.initialize_from_data(dequantize(data.x_train[:64], seed=0, num_levels=K),
                              context=np.eye(10, dtype=np.float32)[data.y_train[:64]])
    fig = plot_class_samples(flow, num_classes=10, num_per_class=3)
    tiles = fig.axes[0].images[0].get_array()
    assert tiles.shape == (10 * 9 - 1, 3 * 9 - 1)


# --- samples given contexts against the nearest data rows ------------------------------


class Shift:
    """p(x | c) = N(x; c[:D] + 10, 0.1^2 I): samples far from the data, easy to tell apart."""

    context_size = 2

    def __init__(self, dim=2):
        self.dim, self.calls = dim, []

    def sample(self, n, context=None, seed=None):
        self.calls.append((n, np.array(context), seed))
        c = np.asarray(context)
        z = np.random.default_rng(seed).normal(size=(n,) + c.shape[:-1] + (self.dim,))
        return c[..., :self.dim] + 10.0 + 0.1 * z


def test_conditional_samples_one_panel_per_context_with_the_nearest_rows():
    from tfp_flows.plotting import plot_conditional_samples, spread_contexts

    c = np.repeat(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 5.0], [3.0, 0.0]]), 30, axis=0)
    x = c + 0.01 * np.random.default_rng(0).normal(size=c.shape)
    shown = spread_contexts(c, num=2)
    np.testing.assert_array_equal(shown, [[0.0, 1.0], [3.0, 0.0]])
    model = Shift()
    fig = plot_conditional_samples(model, x, c, shown, num_samples=40, num_nearest=30,
                                   seed=3, context_labels=["low", "high"], title="t")
    assert [a.get_title() for a in fig.axes] == ["low", "high"]
    assert fig._suptitle.get_text() == "t"
    n, context, seed = model.calls[0]
    assert (n, seed) == (40, 3)
    np.testing.assert_array_equal(context, shown)
    for a, c_j in zip(fig.axes, shown):
        data, samples = (col.get_offsets() for col in a.collections)
        assert len(data) == 30 and len(samples) == 40
        np.testing.assert_allclose(data.mean(axis=0), c_j, atol=0.01)   # the nearest rows
        np.testing.assert_allclose(samples.mean(axis=0), c_j + 10.0, atol=0.1)


def test_conditional_samples_of_one_column_plot_x_against_the_first_context():
    from tfp_flows.plotting import plot_conditional_samples

    c = np.linspace(0.0, 1.0, 50)[:, None] * np.ones((1, 2))
    fig = plot_conditional_samples(Shift(dim=1), c[:, :1], c, num_samples=20)
    (a,) = fig.axes
    data, samples = (col.get_offsets() for col in a.collections)
    np.testing.assert_allclose(data, np.stack([c[:20, 0], c[:20, 0]], axis=1))
    np.testing.assert_allclose(samples[:, 1], c[:20, 0] + 10.0, atol=0.5)
    assert a.get_xlabel() == "context $c_1$"


def test_conditional_samples_bad_input():
    from tfp_flows.plotting import plot_conditional_samples, spread_contexts

    c = np.zeros((10, 2))
    with pytest.raises(ValueError, match="one row per context row"):
        plot_conditional_samples(Shift(), np.zeros((9, 2)), c)
    with pytest.raises(ValueError, match="takes contexts of 2 numbers"):
        plot_conditional_samples(Shift(), np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="2 context_labels"):
        plot_conditional_samples(Shift(), np.zeros((10, 2)), c, np.ones((2, 2)),
                                 context_labels=["a"])
    with pytest.raises(ValueError, match="num_samples"):
        plot_conditional_samples(Shift(), np.zeros((10, 2)), c, num_samples=0)
    with pytest.raises(ValueError, match="num"):
        spread_contexts(c, num=0)


def test_context_names_label_the_panels():
    names = ["dose", "age", "w"]
    fig = plot_conditional_density(ShiftedGaussian(), CONTEXTS, resolution=10,
                                   context_names=names)
    assert panels(fig)[0].get_title() == "dose = -1.5, age = 1, w = 0"
    with pytest.raises(ValueError, match="expected 3 context_names"):
        plot_conditional_density(ShiftedGaussian(), CONTEXTS, resolution=10,
                                 context_names=["dose"])
