"""Tests of tfp_flows.training: the metrics on densities known exactly, and the default
recipe (schedules, early stopping with the best weights restored, time budget)."""
import math

import keras
import numpy as np
import pytest
import tensorflow_probability as tfp

import tfp_flows
from tfp_flows import FlowModel
from tfp_flows.datasets import Banana
from tfp_flows.training import (
    Estimate,
    TimeBudget,
    bits_per_dim,
    fit_flow,
    kl_to_truth,
    mean_nll,
    negative_log_likelihoods,
)

tfb, tfd = tfp.bijectors, tfp.distributions

LOC, SCALE = np.array([1.0, -2.0, 0.5]), np.array([0.5, 3.0, 1.0])


def _gaussian_flow(loc=LOC, scale=SCALE):
    """A FlowModel of fixed bijectors only: x = loc + scale * z, i.e. N(loc, diag(scale^2))."""
    return FlowModel([tfb.Scale(scale), tfb.Shift(loc)], event_shape=(len(loc),),
                     dtype="float64")


def _gaussian_log_prob(x, loc=LOC, scale=SCALE):
    z = (x - loc) / scale
    return np.sum(-0.5 * z**2 - np.log(scale) - 0.5 * math.log(2 * math.pi), axis=-1)


@pytest.fixture(scope="module")
def data():
    """500 rows of a correlated 2-D Gaussian (float32)."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 2))
    return np.stack([z[:, 0], 0.8 * z[:, 0] + 0.6 * z[:, 1]], axis=1).astype("float32")


def _tiny_flow(seed=0):
    keras.utils.set_random_seed(seed)
    return tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(8,), seed=seed)


# ------------------------------------------------------------------ metrics
def test_mean_nll_of_a_known_gaussian():
    x = np.random.default_rng(1).normal(size=(1000, 3)) * 2.0
    nll = -_gaussian_log_prob(x)
    got = mean_nll(_gaussian_flow(), x, batch_size=300)   # 4 uneven batches
    assert isinstance(got, Estimate)
    assert got.value == pytest.approx(nll.mean(), rel=1e-12)
    assert got.std_error == pytest.approx(nll.std() / math.sqrt(len(nll)), rel=1e-10)
    value, std_error = got   # unpacks as a pair
    assert (value, std_error) == tuple(got)
    np.testing.assert_allclose(negative_log_likelihoods(_gaussian_flow(), x), nll, rtol=1e-12)


def test_kl_to_truth_is_the_mean_nll_of_fresh_draws_minus_the_entropy():
    model_loc, model_scale = LOC + 0.3, SCALE * 1.5
    model = _gaussian_flow(model_loc, model_scale)
    truth = tfd.MultivariateNormalDiag(LOC, SCALE)
    kl = kl_to_truth(model, truth, num_samples=50000, seed=(1, 3))   # stateless TFP seed
    x = np.asarray(truth.sample(50000, seed=(1, 3)))
    nll = -_gaussian_log_prob(x, model_loc, model_scale)
    assert kl.value == pytest.approx(nll.mean() - float(truth.entropy()), rel=1e-10)
    assert kl.std_error == pytest.approx(nll.std() / math.sqrt(len(nll)), rel=1e-10)
    exact = float(tfd.kl_divergence(truth, tfd.MultivariateNormalDiag(model_loc, model_scale)))
    assert abs(kl.value - exact) < 4 * kl.std_error
    assert kl_to_truth(model, truth, num_samples=50000, seed=(1, 3)) == kl


def test_kl_of_a_toy_truth_to_itself_is_zero():
    truth = Banana()
    kl = kl_to_truth(truth, truth, num_samples=20000, seed=0)
    assert abs(kl.value) < 4 * kl.std_error and kl.std_error < 0.02


@pytest.mark.parametrize("num_levels", [2, 17, 256])
def test_bits_per_dim_of_the_uniform_density_over_the_pixel_cube_is_log2_k(num_levels):
    """NormalCDF then Scale(K) maps a standard Normal to Uniform[0, K)^D."""
    uniform = FlowModel([tfb.NormalCDF(), tfb.Scale(np.float64(num_levels))], event_shape=(12,),
                        dtype="float64")
    images = np.random.default_rng(2).integers(0, num_levels, size=(50, 12))
    bpd = bits_per_dim(uniform, images, num_levels, num_draws=3, seed=0)
    assert bpd.value == pytest.approx(math.log2(num_levels), abs=1e-6)
    assert bpd.std_error < 1e-6


def test_bits_per_dim_averages_the_draws_per_image():
    model = _gaussian_flow(np.full(3, 2.0), np.full(3, 1.5))
    images = np.random.default_rng(4).integers(0, 4, size=(20, 3))
    got = bits_per_dim(model, images, num_levels=4, num_draws=2, seed=7)
    rng = np.random.default_rng(7)
    draws = [images + rng.random(images.shape) for _ in range(2)]
    per_image = np.mean([-_gaussian_log_prob(d, 2.0, 1.5) for d in draws], axis=0) / (
        3 * math.log(2))
    assert got.value == pytest.approx(per_image.mean(), rel=1e-6)
    assert got.std_error == pytest.approx(per_image.std() / math.sqrt(20), rel=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda m: mean_nll(m, np.zeros((0, 3))), "at least one row"),
    (lambda m: mean_nll(m, np.zeros((2, 3)), batch_size=0), "batch_size"),
    (lambda m: kl_to_truth(m, tfd.MultivariateNormalDiag(LOC, SCALE), num_samples=1),
     "num_samples"),
    (lambda m: bits_per_dim(m, np.zeros((2, 3), int), 4, num_draws=0), "num_draws"),
    (lambda m: bits_per_dim(m, np.full((2, 3), 0.5), 4), "integer pixel values"),
    (lambda m: bits_per_dim(m, np.full((2, 3), 4), 4), "integer pixel values in [0, 4)"),
])
def test_metrics_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        call(_gaussian_flow())


# ------------------------------------------------------------------ recipe
def test_fit_flow_restores_the_best_weights_and_reports_them(data):
    flow = _tiny_flow()
    history = fit_flow(flow, data, epochs=4, batch_size=50, learning_rate=3e-3)
    val_loss = history.history["val_loss"]
    assert len(val_loss) == 4 and history.stopped_by == "epochs"
    assert history.best_epoch == int(np.argmin(val_loss)) + 1
    # The model ends with the weights of its best epoch: its validation NLL is the best one.
    assert mean_nll(flow, data[450:]).value == pytest.approx(min(val_loss), rel=1e-5)
    assert history.history["learning_rate"][0] == pytest.approx(3e-3)
    assert isinstance(flow.optimizer, keras.optimizers.Adam)
    assert history.seconds > 0
    # Compiled now: a second call keeps the optimizer and its state (resuming).
    optimizer, iterations = flow.optimizer, int(flow.optimizer.iterations)
    fit_flow(flow, data, epochs=1, batch_size=50, schedule="constant")
    assert flow.optimizer is optimizer and int(optimizer.iterations) == iterations + 9


def test_fit_flow_stops_early_when_the_validation_loss_stalls(data):
    """With a learning rate far below float32 resolution the validation loss never improves
    on the first epoch's, so training stops after ``patience`` more epochs."""
    flow = _tiny_flow()
    history = fit_flow(flow, data, epochs=50, batch_size=250, learning_rate=1e-20,
                       schedule="constant", patience=2)
    assert history.stopped_by == "early_stopping"
    assert len(history.history["loss"]) == 3 and history.best_epoch == 1
    assert "learning_rate" not in history.history   # no plateau schedule


def test_fit_flow_time_budget_and_no_validation(data):
    flow = _tiny_flow()
    history = fit_flow(flow, data, epochs=100, batch_size=50, validation_split=0.0,
                       time_budget=1e-6, patience=None)
    assert history.stopped_by == "time_budget"
    assert len(history.history["loss"]) == 1 and "val_loss" not in history.history
    assert history.best_epoch == 1


def test_fit_flow_cosine_schedule_and_validation_data(data):
    flow = _tiny_flow()
    history = fit_flow(flow, data[:400], validation_data=data[400:], epochs=2, batch_size=100,
                       schedule="cosine", learning_rate=1e-2)
    rate = flow.optimizer._learning_rate
    assert isinstance(rate, keras.optimizers.schedules.CosineDecay)
    assert rate.decay_steps == 2 * 4 and rate.alpha == 0.01
    assert len(history.history["val_loss"]) == 2
    with pytest.raises(ValueError, match="compiled already"):
        fit_flow(flow, data, epochs=1, schedule="cosine")
    with pytest.raises(ValueError, match="LearningRateSchedule"):
        fit_flow(flow, data, epochs=1, schedule="plateau")


def test_fit_flow_with_weight_averaging_keeps_the_averaged_best_weights(data):
    """With ema_momentum, validation scores the moving average of the weights, and the model
    ends with the average of its best epoch: its validation NLL is that best value (the raw
    weights of any epoch would score differently)."""
    flow = _tiny_flow()
    history = fit_flow(flow, data, epochs=4, batch_size=50, learning_rate=1e-2,
                       ema_momentum=0.9, schedule="constant")
    assert flow.optimizer.use_ema and flow.optimizer.ema_momentum == pytest.approx(0.9)
    val_loss = history.history["val_loss"]
    assert mean_nll(flow, data[450:]).value == pytest.approx(min(val_loss), rel=1e-5)
    plain = _tiny_flow()
    plain_history = fit_flow(plain, data, epochs=4, batch_size=50, learning_rate=1e-2,
                             schedule="constant")
    assert not np.allclose(val_loss, plain_history.history["val_loss"])
    with pytest.raises(ValueError, match="use_ema=False"):
        fit_flow(plain, data, epochs=1, ema_momentum=0.9)


@pytest.mark.parametrize("validation_split, patience", [(0.1, 100), (0.0, 100), (0.1, 1)])
def test_averaged_weights_match_keras_swap_ema_weights(data, validation_split, patience):
    """AveragedWeights swaps in one compiled call per switch, and twice per epoch instead of
    four times, yet validation, early stopping and the final weights are those of Keras's
    SwapEMAWeights(swap_on_epoch=True): with and without validation, and when early stopping
    ends the run before its last epoch."""
    from tfp_flows.training import AveragedWeights

    def run(averaging):
        flow = _tiny_flow(0)
        flow.compile(optimizer=keras.optimizers.Adam(1e-2, use_ema=True, ema_momentum=0.9))
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss" if validation_split else "loss", patience=patience,
            restore_best_weights=True)
        history = flow.fit(data, epochs=5, batch_size=50, validation_split=validation_split,
                           shuffle=False, verbose=0, callbacks=[averaging, stopper])
        return history.history, [w.numpy() for w in flow.weights], stopper.best_epoch

    ours = run(AveragedWeights())
    reference = run(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    assert sorted(ours[0]) == sorted(reference[0]) and ours[2] == reference[2]
    for key in ours[0]:
        np.testing.assert_allclose(ours[0][key], reference[0][key], rtol=1e-5)
    for a, b in zip(ours[1], reference[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_averaged_weights_needs_an_averaging_optimizer(data):
    from tfp_flows.training import AveragedWeights

    flow = _tiny_flow()
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="use_ema=True"):
        flow.fit(data, epochs=1, verbose=0, callbacks=[AveragedWeights()])


def test_fit_flow_input_noise_perturbs_training_rows_only(data):
    """With input_noise, every training batch gets fresh N(0, (s std_d)^2) noise; the
    held-out rows, the validation loss and the standardisation stay clean; a fixed global
    seed makes the run reproducible; the model ends with its best (clean) validation
    weights."""
    def run(noise, seed=0):
        flow = _tiny_flow(seed)
        history = fit_flow(flow, data, epochs=3, batch_size=50, learning_rate=1e-2,
                           schedule="constant", input_noise=noise)
        return flow, history

    flow, history = run(0.5)
    val_loss = history.history["val_loss"]
    assert mean_nll(flow, data[450:]).value == pytest.approx(min(val_loss), rel=1e-5)
    # The standardisation was set from the clean training rows (the first 450).
    clean = _tiny_flow()
    clean_history = fit_flow(clean, data, epochs=3, batch_size=50, learning_rate=1e-2,
                             schedule="constant")
    for noisy_weight, clean_weight in zip(flow.non_trainable_weights,
                                          clean.non_trainable_weights):
        assert np.allclose(noisy_weight.numpy(), clean_weight.numpy())
    # Noise changes training, and fresh noise each epoch: the same seed repeats it exactly.
    assert not np.allclose(history.history["loss"], clean_history.history["loss"])
    again = run(0.5)[1]
    assert np.allclose(history.history["loss"], again.history["loss"])
    assert np.allclose(run(0.0)[1].history["loss"], clean_history.history["loss"])


def test_fit_flow_input_noise_with_a_context_and_validation_data():
    rng = np.random.default_rng(1)
    c = rng.normal(size=(300, 1)).astype("float32")
    x = (c + 0.1 * rng.normal(size=(300, 2))).astype("float32")
    keras.utils.set_random_seed(0)
    flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(8,), context_size=1,
                         seed=0)
    history = fit_flow(flow, x[:200], context=c[:200], validation_data=(x[200:], c[200:]),
                       epochs=2, input_noise=0.1)
    assert len(history.history["val_loss"]) == 2
    with pytest.raises(ValueError, match="context"):
        fit_flow(flow, x, epochs=1, input_noise=0.1)
    with pytest.raises(ValueError, match="context"):
        fit_flow(_tiny_flow(), x, context=c, epochs=1, input_noise=0.1)


def test_fit_flow_input_noise_is_a_pipeline_step_for_vector_flows(data):
    """Input noise is a step on the fit data pipeline: arrays and datasets alike (a dataset
    was refused before the one fit data adapter); image flows refuse it."""
    import tensorflow as tf

    history = fit_flow(_tiny_flow(), tf.data.Dataset.from_tensor_slices(data).batch(50),
                       epochs=1, input_noise=0.1)
    assert np.isfinite(history.history["loss"][0])
    images = tfp_flows.real_nvp(event_shape=(4, 4, 1), num_levels=4, hidden_channels=4,
                                seed=0)
    with pytest.raises(ValueError, match="image flow"):
        fit_flow(images, np.zeros((10, 4, 4, 1), "uint8"), epochs=1, input_noise=0.1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=2, input_noise=-0.1), "input_noise"),
    (dict(epochs=2, input_noise="0.1"), "input_noise"),
    (dict(epochs=0), "epochs"),
    (dict(epochs=2, ema_momentum=1.0), "ema_momentum"),
    (dict(epochs=2, ema_momentum="0.9"), "ema_momentum"),
    (dict(epochs=2, schedule="linear"), "schedule"),
    (dict(epochs=2, patience=0), "patience"),
    (dict(epochs=2, lr_factor=1.0), "lr_factor"),
    (dict(epochs=2, learning_rate=-1.0), "learning_rate"),
    (dict(epochs=2, validation_split=1.0), "validation_split"),
    (dict(epochs=2, time_budget=0), "time_budget"),
])
def test_fit_flow_rejects_bad_settings(kwargs, message, data):
    with pytest.raises(ValueError, match=message):
        fit_flow(_tiny_flow(), data, **kwargs)


def test_time_budget_rejects_a_non_positive_budget():
    with pytest.raises(ValueError, match="positive number of seconds"):
        TimeBudget(-1)


# ------------------------------------------------------------------ progress lines


def test_progress_printer_prints_about_20_lines_with_the_time_left(data):
    import io

    from tfp_flows.training import ProgressPrinter, format_duration

    out = io.StringIO()
    fit_flow(_tiny_flow(), data[:64], epochs=40, batch_size=64, validation_split=0.25,
             patience=None, callbacks=[ProgressPrinter(scale=2.0, unit=" u", file=out)])
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/40"] + [f"{e}/40" for e in
                                                              range(2, 41, 2)]
    assert "(the first epoch includes set-up)" in lines[0]
    assert all("left" in line for line in lines[1:-1]) and "left" not in lines[-1]
    assert " u  val_loss " in lines[0] and "elapsed" in lines[-1]
    assert (format_duration(59.6), format_duration(61)) == ("1 min 00 s", "1 min 01 s")
