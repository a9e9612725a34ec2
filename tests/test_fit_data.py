"""The fit data path (tfp_flows.fit_data.adapt_fit_data and what FlowModel.fit and fit_flow
do with it): bad or edge input gets a clear error before any work, never silently wrong
numbers (issue 19)."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_flows
from tfp_flows.fit_data import adapt_fit_data, check_spread
from tfp_flows.training import fit_flow

RNG = np.random.default_rng(0)
X = RNG.normal(size=(400, 2)).astype("float32")
TINY = dict(event_shape=2, num_layers=1, hidden_units=(8,), seed=0)
IMAGE = dict(event_shape=(4, 4, 1), num_levels=5, num_scales=2, hidden_channels=4,
             num_blocks=1, seed=0)
PIXELS = RNG.integers(0, 5, size=(64, 4, 4, 1))


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def _unchanged(model, before):
    return all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.fixture(scope="module")
def image_flow():
    flow = tfp_flows.real_nvp(**IMAGE)
    flow.initialize_from_data(PIXELS + np.float32(0.5))   # batch norm's running statistics
    return flow


# ------------------------------------------------------------------ degenerate vector data
def test_a_constant_column_is_refused_before_training_naming_it():
    flow = tfp_flows.maf(**TINY)
    flow.compile("adam")
    before = _weights(flow)
    x = X.copy()
    x[:, 1] = 3.0
    with pytest.raises(ValueError, match=r"column 1 is constant \(every row is 3\)"):
        flow.fit(x, epochs=1, verbose=0)
    copies = np.repeat(X[:1], 300, axis=0)   # one point, many times: every column constant
    with pytest.raises(ValueError, match="column 0 .* is constant"):
        flow.fit(copies, epochs=1, verbose=0)
    assert _unchanged(flow, before)


def test_mostly_repeated_rows_warn():
    x = np.concatenate([np.repeat(X[:3], 100, axis=0), X[3:50]])
    with pytest.warns(RuntimeWarning, match=r"only 50 distinct rows among 347"):
        check_spread(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_spread(X)   # distinct rows: no warning


@pytest.mark.parametrize("dtype, huge", [("float32", 1e30), ("float64", 1e200)])
def test_statistics_that_overflow_are_refused_naming_the_row(dtype, huge):
    flow = tfp_flows.maf(dtype=dtype, **TINY)
    x = X.astype(dtype)
    x[17, 0] = huge
    with pytest.raises(ValueError, match=rf"column 0 spreads too far for {dtype}.*row 17"):
        flow.fit(x, epochs=1, verbose=0)
    assert flow.needs_data_init   # refused before initialisation


@pytest.mark.parametrize("scale", [1e-4, 1e-6, 1e-30])
def test_small_scale_data_fits_as_well_as_unit_scale(scale):
    """The standardisation is scale-free: NLL converted back to unit scale matches the
    unit-scale fit (it was 4.5 / 13.5 / 124 nats against 2.7 before issue 19)."""
    def fitted_nll(s):
        keras.utils.set_random_seed(0)
        flow = tfp_flows.maf(**TINY)
        fit_flow(flow, X * np.float32(s), epochs=3, validation_split=0.0)
        return float(-np.mean(flow.log_prob(X * np.float32(s)))) - 2 * np.log(s)

    assert abs(fitted_nll(scale) - fitted_nll(1.0)) < 0.05


# ------------------------------------------------------------------ contexts in datasets
def test_an_unconditional_flow_refuses_a_context_inside_a_dataset():
    flow = tfp_flows.maf(**TINY)
    flow.compile("adam")
    before = _weights(flow)
    data = tf.data.Dataset.from_tensor_slices((X, X[:, :1])).batch(64)
    with pytest.raises(ValueError, match=r"not conditional.*yields 2-tuples.*\(None, 1\)"):
        flow.fit(data, epochs=1, verbose=0)
    assert _unchanged(flow, before)
    # Keras's (x, y, weight) form with an empty y still carries weights.
    weighted = tf.data.Dataset.from_tensor_slices(
        (X, np.zeros((len(X), 0), "float32"), np.ones(len(X), "float32"))).batch(64)
    assert np.isfinite(flow.fit(weighted, epochs=1, verbose=0).history["loss"][0])


def test_a_conditional_flow_refuses_a_dataset_of_the_wrong_context_width():
    flow = tfp_flows.maf(context_size=3, **TINY)
    data = tf.data.Dataset.from_tensor_slices((X, X)).batch(64)
    with pytest.raises(ValueError, match=r"contexts of shape \[b, 3\].*\(None, 2\)"):
        flow.fit(data, epochs=1, verbose=0)


# ------------------------------------------------------------------ fit_flow's rules
def test_fit_flow_refuses_a_learning_rate_a_compiled_model_would_ignore():
    flow = tfp_flows.maf(**TINY)
    flow.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match=r"learning_rate=0.5, but the model is compiled "
                                         r"already with learning rate 0.001"):
        fit_flow(flow, X, epochs=1, learning_rate=0.5)
    # None (the default) keeps the compiled rate; the same rate is fine.
    fit_flow(flow, X, epochs=1)
    fit_flow(flow, X, epochs=1, learning_rate=1e-3, schedule="constant")
    assert np.isclose(float(flow.optimizer.learning_rate), 1e-3)


def test_fit_flow_takes_numpy_scalars_for_its_fractions():
    flow = tfp_flows.maf(**TINY)
    history = fit_flow(flow, X, epochs=1, ema_momentum=np.float32(0.9),
                       lr_factor=np.float64(0.5), validation_split=np.float32(0.1))
    assert flow.optimizer.use_ema and len(history.history["val_loss"]) == 1


def test_fit_flow_with_a_dataset_needs_no_split_and_says_so_when_asked_for_one():
    flow = tfp_flows.maf(**TINY)
    data = tf.data.Dataset.from_tensor_slices(X).batch(100)
    history = fit_flow(flow, data, epochs=2)   # no validation by default: the loss monitored
    assert sorted(history.history) == ["learning_rate", "loss"]
    with pytest.raises(ValueError, match="validation_split needs array data.*validation_data"):
        fit_flow(flow, data, epochs=1, validation_split=0.1)
    history = fit_flow(flow, data, epochs=1, validation_data=X[:50], input_noise=0.05)
    assert np.isfinite(history.history["val_loss"][0])


# ------------------------------------------------------------------ strategies, saving
def test_a_one_replica_strategy_trains():
    """Anyone with one GPU and a strategy scope: apply must not run inside tf.cond."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        flow = tfp_flows.maf(**TINY)
        flow.compile(keras.optimizers.Adam(1e-2))
    before = _weights(flow)
    history = flow.fit(X, epochs=1, batch_size=100, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and not _unchanged(flow, before)


def test_h5_is_refused_and_load_model_says_what_is_wrong_with_a_file(tmp_path):
    flow = tfp_flows.maf(**TINY)
    with pytest.raises(ValueError, match=r"legacy HDF5 format.*'flow.keras'"):
        flow.save(tmp_path / "flow.h5")
    assert not (tmp_path / "flow.h5").exists()
    flow.save(tmp_path / "flow.keras")
    whole = (tmp_path / "flow.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty.keras").write_bytes(b"")
    (tmp_path / "text.keras").write_text("not a model")
    for name, says in [("truncated", "corrupt or truncated"), ("empty", "empty"),
                       ("text", "corrupt or truncated"), ("missing", "no such file")]:
        with pytest.raises(ValueError, match=says):
            tfp_flows.load_model(tmp_path / f"{name}.keras")
    again = tfp_flows.load_model(tmp_path / "flow.keras")
    np.testing.assert_array_equal(again.log_prob(X[:3]), flow.log_prob(X[:3]))


# ------------------------------------------------------------------ images
def test_image_flows_take_zero_images(image_flow):
    x = np.zeros((0, 4, 4, 1), "float32")
    assert image_flow.log_prob(x).shape == (0,)
    assert image_flow.sample(0).shape == (0, 4, 4, 1)
    assert image_flow.sample((0, 3)).shape == (0, 3, 4, 4, 1)
    samples, log_prob = image_flow.sample_and_log_prob(0)
    assert samples.shape == (0, 4, 4, 1) and log_prob.shape == (0,)


def test_pixels_outside_the_cube_have_zero_density_not_nan(image_flow):
    x = np.full((4, 4, 4, 1), 2.5, "float32")
    x[1, 0, 0, 0] = 5.0     # = K: outside [0, K)
    x[2, 1, 1, 0] = -0.5
    x[3, 2, 2, 0] = 17.5
    log_prob = image_flow.log_prob(x).numpy()
    assert np.isfinite(log_prob[0]) and (log_prob[1:] == -np.inf).all()


def test_summary_prints_the_flow_layer_by_layer(image_flow):
    lines = []
    image_flow.summary(print_fn=lines.append)
    text = lines[0]
    assert text.startswith("real_nvp: data (4, 4, 1) -> latent (16,)")
    assert "LogitLayer" in text and "CouplingLayer (checkerboard" in text
    assert "numbers go to the base; the other (2, 2, 2) continue:" in text
    assert f"weights: {image_flow.count_params():,}" in text


def test_adapt_fit_data_reads_no_dataset_row_when_told_none(image_flow):
    data = tf.data.Dataset.from_tensor_slices(
        PIXELS.astype("float32") + 0.5).batch(16)
    fit = adapt_fit_data(image_flow, data, init_rows=0)
    assert fit.init == (None, None) and fit.train is data


@pytest.mark.parametrize("pixels, says", [
    (PIXELS.astype("float32"), r"whole numbers.*x.astype\(\"int32\"\)"),
    (PIXELS / 4.0, r"scaled pixels.*np.rint\(x \* 4\)"),
    (PIXELS + 0.5 + 1.0, r"\[0, 5\)"),
])
def test_float_images_follow_one_rule_in_fit(pixels, says):
    """Integer pixels stored as floats, or scaled to [0, 1], were fitted as they were (loss
    143 -> -103 in one epoch, issue 19): now refused before any work, naming the fix."""
    flow = tfp_flows.real_nvp(**IMAGE)
    flow.compile("adam")
    with pytest.raises(ValueError, match=says):
        flow.fit(pixels, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=says):
        fit_flow(flow, pixels, epochs=1)
    assert flow.needs_data_init   # nothing initialised, nothing trained
    data = tf.data.Dataset.from_tensor_slices(pixels.astype("float32")).batch(16)
    with pytest.raises(ValueError, match=says):
        flow.fit(data, epochs=1, verbose=0)


def test_dequantised_pixels_stay_inside_their_bin():
    """16 + u rounds up to 17 in float32 for u near 1: a pixel at K = 17, where log_prob is
    -inf, stopped a tutorial's training; the pipeline keeps x <= x + u < x + 1."""
    from tfp_flows.data_pipeline import dequantize_step

    generator = tf.random.Generator.from_seed(0)
    # A generator whose draws are all just below 1 shows the rounding every time.
    generator.uniform = lambda shape, maxval: tf.fill(shape, tf.constant(maxval, tf.float32))
    levels = np.array([[0, 8, 16, 255]])
    noisy = dequantize_step(generator)(tf.constant(levels, tf.uint8)).numpy()
    assert (np.floor(noisy) == levels).all() and (noisy < levels + 1).all()


def test_split_rows_shuffles_all_arrays_together_with_a_seed():
    from tfp_flows.fit_data import split_rows

    x, c = np.arange(10), np.arange(10) * 10
    (train, train_c), (held, held_c) = split_rows([x, c], 0.3, shuffle_seed=0)
    order = np.random.default_rng(0).permutation(10)
    assert held.tolist() == order[7:].tolist() and (held_c == held * 10).all()
    assert (train_c == train * 10).all() and split_rows([x], 0.0, shuffle_seed=0)[1] is None
