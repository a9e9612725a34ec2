"""Tests for FlowModel with Keras features: validation, callbacks, jit, progress bar,
distribution strategies, data-dependent initialisation, input checks."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_flows
from tfp_flows import FlowModel, datasets
from tfp_flows.layers import ActNormLayer, CouplingLayer, FactorOutLayer, SqueezeLayer

X = datasets.load_toy("moons", n_train=500)[0]
X_OTHER = datasets.load_toy("moons", n_train=500, seed=1, standardize=False)[0] * 3.0 + 1.0
SMALL = dict(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
BATCH = 100


def _mean_nll(model, x):
    return float(-np.mean(model.log_prob(x).numpy()))


@pytest.fixture(scope="module")
def flow():
    """A compiled real_nvp flow (no permutations: flow_layers == num_layers), shared by the
    tests below that only need a working model; each of them trains it a little further."""
    model = tfp_flows.real_nvp(permutation=None, **SMALL)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(X, epochs=1, batch_size=BATCH, verbose=0)
    return model


def _glow():
    return tfp_flows.glow(**SMALL)


# ----------------------------------------------------------------------------- validation


def test_validation_split_gives_val_loss(flow):
    history = flow.fit(X, validation_split=0.2, epochs=2, batch_size=BATCH, shuffle=False,
                       verbose=0).history
    assert len(history["val_loss"]) == 2 and np.all(np.isfinite(history["val_loss"]))
    # Keras holds out the last 20%; val_loss is their mean NLL after the last epoch.
    np.testing.assert_allclose(history["val_loss"][-1], _mean_nll(flow, X[400:]), rtol=1e-5)


def test_validation_data_as_a_bare_array(flow):
    history = flow.fit(X[:400], validation_data=X[400:], epochs=1, batch_size=BATCH,
                       verbose=0).history
    assert len(history["val_loss"]) == 1
    np.testing.assert_allclose(history["val_loss"][0], _mean_nll(flow, X[400:]), rtol=1e-5)


def test_evaluate_returns_mean_nll(flow):
    np.testing.assert_allclose(flow.evaluate(X, batch_size=BATCH, verbose=0), _mean_nll(flow, X),
                               rtol=1e-5)


# ----------------------------------------------------------------------------- callbacks


def test_early_stopping_stops(flow):
    # No epoch can improve by 1e9 nats: training stops after patience + 1 epochs.
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e9, patience=1)
    history = flow.fit(X, validation_split=0.2, epochs=10, batch_size=BATCH, verbose=0,
                       callbacks=[stop])
    assert history.epoch == [0, 1]
    assert stop.stopped_epoch == 1


def test_model_checkpoint_writes_a_loadable_keras_file(flow, tmp_path):
    path = tmp_path / "checkpoint.keras"
    flow.fit(X, epochs=2, batch_size=BATCH, verbose=0,
             callbacks=[keras.callbacks.ModelCheckpoint(str(path))])
    assert path.exists()
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, FlowModel)
    # Saved at the end of the last epoch: the current weights.
    np.testing.assert_array_equal(loaded.log_prob(X).numpy(), flow.log_prob(X).numpy())


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_an_interrupted_fit(flow, tmp_path):
    backup_dir = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="interrupted"):
        flow.fit(X, epochs=4, batch_size=BATCH, verbose=0,
                 callbacks=[keras.callbacks.BackupAndRestore(str(backup_dir)), _Interrupt(1)])
    assert any(backup_dir.iterdir())
    saved = [w.numpy().copy() for w in flow.trainable_weights]
    for w in flow.trainable_weights:  # spoil the weights: the backup must restore them
        w.assign(w.numpy() + 1.0)
    restored = []

    class _Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            restored.extend(w.numpy().copy() for w in self.model.trainable_weights)

    try:
        history = flow.fit(X, epochs=4, batch_size=BATCH, verbose=0, callbacks=[
            keras.callbacks.BackupAndRestore(str(backup_dir)), _Record()])
    finally:
        # Keras 3 leaves the restored start epoch on the model (``_initial_epoch``), so a
        # later fit(epochs=1) of this shared model would run no epoch at all.
        flow._initial_epoch = None
    assert history.epoch == [2, 3]  # resumes after the two finished epochs
    for a, b in zip(saved, restored):
        np.testing.assert_array_equal(a, b)
    assert not backup_dir.exists() or not any(backup_dir.iterdir())  # deleted when done


def test_progress_bar(flow, capsys):
    flow.fit(X, epochs=1, batch_size=BATCH, verbose=1)
    out = capsys.readouterr().out
    assert "5/5" in out and "loss:" in out


# ----------------------------------------------------------------------------- jit


def test_jit_compile_trains_like_jit_off():
    reference = tfp_flows.real_nvp(**SMALL)
    jitted = tfp_flows.real_nvp(**SMALL)
    rng = np.random.default_rng(0)
    weights = [w + 0.1 * rng.normal(size=w.shape).astype(w.dtype) for w in reference.get_weights()]
    reference.set_weights(weights)
    jitted.set_weights(weights)
    # The reference runs eagerly: no tf.function, no XLA (and no second trace to pay for).
    reference.compile(keras.optimizers.Adam(1e-2), jit_compile=False, run_eagerly=True)
    jitted.compile(keras.optimizers.Adam(1e-2), jit_compile=True)
    assert jitted.jit_compile is True and reference.jit_compile is False
    fits = [m.fit(X, epochs=2, batch_size=BATCH, shuffle=False, verbose=0).history["loss"]
            for m in (reference, jitted)]
    np.testing.assert_allclose(fits[1], fits[0], rtol=1e-4)
    np.testing.assert_allclose(jitted.log_prob(X).numpy(), reference.log_prob(X).numpy(),
                               rtol=1e-4, atol=1e-4)
    assert np.abs(jitted.log_prob(X).numpy() - tfp_flows.real_nvp(**SMALL).log_prob(X).numpy()
                  ).max() > 1e-2  # it did train


# ----------------------------------------------------------------------------- forward, encode


def test_forward_steps(flow):
    z = flow.base_distribution.sample(50, seed=(1, 2))
    steps = flow.forward_steps(z)
    # num_layers couplings, then the builder's standardisation layer (data side).
    assert len(steps) == SMALL["num_layers"] + 2 == len(flow.flow_layers) + 1
    assert flow.flow_layers[-1].name == "standardize" and not flow.flow_layers[-1].trainable
    np.testing.assert_array_equal(steps[0].numpy(), z.numpy())
    for layer, before, after in zip(flow.flow_layers, steps[:-1], steps[1:]):
        np.testing.assert_allclose(after.numpy(), layer(before).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(steps[-1].numpy(), flow.bijector.forward(z).numpy(),
                               rtol=1e-6, atol=1e-6)
    assert not np.allclose(steps[-1].numpy(), z.numpy(), atol=1e-3)  # trained: not identity


def test_encode_is_consistent_with_log_prob(flow):
    x = X[:50]
    z, log_det = flow.encode(x)
    assert z.shape == (50, 2) and log_det.shape == (50,)
    bijector = flow.bijector
    np.testing.assert_allclose(z.numpy(), bijector.inverse(x).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_det.numpy(),
                               bijector.inverse_log_det_jacobian(x, event_ndims=1).numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(flow.log_prob(x).numpy(),
                               (flow.base_distribution.log_prob(z) + log_det).numpy(), rtol=1e-6)
    np.testing.assert_allclose(bijector.forward(z).numpy(), x, rtol=1e-4, atol=1e-5)
    assert np.abs(log_det.numpy()).max() > 1e-3


# ----------------------------------------------------------------------------- strategy


def test_mirrored_strategy_trains_like_one_device():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        mirrored = tfp_flows.real_nvp(**SMALL)
        mirrored.compile(keras.optimizers.SGD(0.1))
    single = tfp_flows.real_nvp(**SMALL)
    single.compile(keras.optimizers.SGD(0.1), run_eagerly=True)
    rng = np.random.default_rng(0)
    weights = [w + 0.1 * rng.normal(size=w.shape).astype(w.dtype) for w in mirrored.get_weights()]
    mirrored.set_weights(weights)
    single.set_weights(weights)
    # One full batch per step: both see the same data, so the updates must agree.
    losses = mirrored.fit(X, epochs=3, batch_size=len(X), shuffle=False, verbose=0).history["loss"]
    reference = single.fit(X, epochs=3, batch_size=len(X), shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(losses, reference, rtol=1e-5)
    assert losses[-1] < losses[0]
    for a, b in zip(mirrored.get_weights(), single.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- ActNorm init


def _actnorm_inputs(model, x):
    """The input of each ActNorm layer (data side first) when x enters the flow."""
    h, inputs = tf.convert_to_tensor(x), []
    for layer in reversed(model.flow_layers):
        if isinstance(layer, ActNormLayer):
            inputs.append((layer, h))
        h = layer.bijector().inverse(h)
    return inputs


def _assert_standardised(layer, h):
    out = layer.bijector().inverse(h).numpy()
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-3)


def test_initialize_from_data_standardises_every_actnorm():
    model = _glow()
    actnorms = [l for l in model.flow_layers if isinstance(l, ActNormLayer)]
    # one per glow step, and the builder's standardisation on the data side
    assert len(actnorms) == 3 and not any(l.is_initialized for l in actnorms)
    assert actnorms[-1].name == "standardize" and not actnorms[-1].trainable_weights
    model.initialize_from_data(X_OTHER[:BATCH])
    assert all(l.is_initialized for l in actnorms)
    for layer, h in _actnorm_inputs(model, X_OTHER[:BATCH]):
        _assert_standardised(layer, h)


def test_fit_initialises_actnorm_and_a_loaded_model_keeps_its_values(tmp_path):
    model = _glow()
    model.compile("adam")
    model.fit(X_OTHER, epochs=0, batch_size=BATCH, verbose=0)  # initialises, trains nothing
    first = model.flow_layers[-1]
    assert isinstance(first, ActNormLayer) and first.is_initialized
    # Initialised from the first INIT_ROWS training rows: here all 500.
    for layer, h in _actnorm_inputs(model, X_OTHER):
        _assert_standardised(layer, h)
    first.loc.assign(first.loc.numpy() + 0.5)  # as if trained
    values = [(l.loc.numpy().copy(), l.log_scale.numpy().copy())
              for l in model.flow_layers if isinstance(l, ActNormLayer)]
    model.save(tmp_path / "glow.keras")
    loaded = keras.models.load_model(tmp_path / "glow.keras")
    loaded_actnorms = [l for l in loaded.flow_layers if isinstance(l, ActNormLayer)]
    assert all(l.is_initialized for l in loaded_actnorms)
    loaded.fit(X, epochs=0, batch_size=BATCH, verbose=0)  # other data: must not re-initialise
    for layer, (loc, log_scale) in zip(loaded_actnorms, values):
        np.testing.assert_array_equal(layer.loc.numpy(), loc)
        np.testing.assert_array_equal(layer.log_scale.numpy(), log_scale)
    # ...whereas a layer that is not initialised yet does take the new data.
    fresh = _glow()
    fresh.compile("adam")
    fresh.fit(X, epochs=0, batch_size=BATCH, verbose=0)
    assert not np.allclose(fresh.flow_layers[-1].loc.numpy(), values[0][0])


def test_fit_initialises_actnorm_from_a_dataset():
    model = _glow()
    model.compile("adam")
    data = tf.data.Dataset.from_tensor_slices(X_OTHER).batch(50)
    model.fit(data, epochs=0, shuffle=False, verbose=0)
    # Its first batches up to INIT_ROWS rows: here all 500, not only the first batch of 50.
    for layer, h in _actnorm_inputs(model, X_OTHER):
        _assert_standardised(layer, h)


# ----------------------------------------------------------------------------- bad input


def test_nan_in_data_names_the_row():
    model = tfp_flows.real_nvp(**SMALL)
    model.compile("adam")
    bad = X[:20].copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        model.fit(bad, epochs=1, verbose=0)
    bad[7, 1] = np.inf
    with pytest.raises(ValueError, match="row 7"):
        model.fit(bad, epochs=1, verbose=0)


def test_wrong_width_is_rejected():
    model = tfp_flows.real_nvp(**SMALL)
    model.compile("adam")
    wide = np.zeros((10, 3), "float32")
    with pytest.raises(ValueError, match=r"expected data of shape \[n, 2\], got \(10, 3\)"):
        model.fit(wide, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"expected data of shape \[\.\.\., 2\], got \(10, 3\)"):
        model.log_prob(wide)
    with pytest.raises(ValueError, match=r"expected data of shape \[n, 2\]"):
        model.fit(np.zeros(10, "float32"), epochs=1, verbose=0)


def test_targets_and_losses_are_rejected():
    model = tfp_flows.real_nvp(**SMALL)
    with pytest.raises(ValueError, match="loss"):
        model.compile("adam", loss="mse")
    model.compile("adam")
    with pytest.raises(ValueError, match="targets"):
        model.fit(X, X, epochs=1, verbose=0)


def test_flow_layers_must_be_flow_layers():
    with pytest.raises(TypeError, match="Dense"):
        FlowModel([CouplingLayer((2,), hidden_units=(4,)), keras.layers.Dense(2)],
                  event_shape=(2,))
    with pytest.raises(ValueError, match="base_distribution"):
        FlowModel([CouplingLayer((2,), hidden_units=(4,))], event_shape=(2,),
                  base_distribution="laplace")


# ----------------------------------------------------------------------------- TFP habits


def test_log_prob_and_prob_on_any_leading_batch_shape(flow):
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-1, 1, 5)), -1)
    assert grid.shape == (5, 7, 2)
    log_prob = flow.log_prob(grid.astype("float32"))
    assert log_prob.shape == (5, 7)
    flat = flow.log_prob(grid.reshape(-1, 2).astype("float32")).numpy()
    np.testing.assert_array_equal(log_prob.numpy().ravel(), flat)
    # atol: float32 flushes densities below ~1e-38 (subnormal) to zero in prob, not in exp.
    np.testing.assert_allclose(flow.prob(grid.astype("float32")).numpy(), np.exp(log_prob),
                               rtol=1e-6, atol=1e-30)
    assert flow.log_prob(np.zeros(2, "float32")).shape == ()  # one point, no batch
    with pytest.raises(ValueError, match=r"expected data of shape \[\.\.\., 2\]"):
        flow.log_prob(np.zeros((4, 3), "float32"))


def test_bijector_is_a_property_like_transformed_distribution(flow):
    import tensorflow_probability as tfp
    bijector = flow.bijector
    # TFP returns its private _Chain for bijectors that are not composite tensors.
    assert isinstance(bijector, tfp.bijectors.Bijector) and "Chain" in type(bijector).__name__
    assert len(bijector.bijectors) == len(flow.flow_layers)
    z = flow.base_distribution.sample(10, seed=(3, 4))
    np.testing.assert_allclose(bijector.forward(z).numpy(), flow.sample_and_log_prob(
        10, seed=(3, 4))[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(flow.distribution.log_prob(X[:5]).numpy(),
                               flow.log_prob(X[:5]).numpy(), rtol=1e-5, atol=1e-5)


def test_fixed_tfp_bijectors_are_layers():
    import tensorflow_probability as tfp
    tfb = tfp.bijectors
    coupling = CouplingLayer((2,), hidden_units=(4,))
    model = FlowModel([tfb.Shift([1.0, -1.0]), coupling, tfb.Scale(2.0)], event_shape=(2,))
    x = X[:6]
    # identity coupling: x = 2 (z + shift)  =>  log p(x) = log N(x/2 - shift) - 2 log 2
    expected = tfp.distributions.MultivariateNormalDiag(tf.zeros(2)).log_prob(
        x / 2.0 - np.array([1.0, -1.0], "float32")) - 2 * np.log(2.0)
    np.testing.assert_allclose(model.log_prob(x).numpy(), expected.numpy(), rtol=1e-5)
    assert model.sample(3, seed=0).shape == (3, 2)
    with pytest.raises(ValueError, match="is a tf.Variable .* holds constants only"):
        FlowModel([tfb.Shift(tf.Variable([0.0, 0.0]))], event_shape=(2,))


def test_sample_shape_and_bad_counts(flow):
    assert flow.sample((3, 4), seed=0).shape == (3, 4, 2)
    assert flow.sample(0, seed=0).shape == (0, 2)
    samples, log_prob = flow.sample_and_log_prob((2, 3), seed=0)
    assert samples.shape == (2, 3, 2) and log_prob.shape == (2, 3)
    for bad in (2.5, -1, "3", True):
        with pytest.raises(ValueError, match="sample_shape must be a non-negative integer"):
            flow.sample(bad)
    with pytest.raises(ValueError, match="seed must be None"):
        flow.sample(3, seed="abc")


# ----------------------------------------------------------------------------- sample_weight


def test_sample_weight_weights_the_loss_like_repeated_rows():
    """Integer weights w train like the rows repeated w times: with full-batch SGD the
    gradients differ only by the denominator (n vs sum(w)), which the learning rate absorbs."""
    x = X[:200]
    w = np.random.default_rng(0).integers(0, 3, size=len(x)).astype("float32")
    repeated = np.repeat(x, w.astype(int), axis=0)
    weighted, plain = tfp_flows.real_nvp(**SMALL), tfp_flows.real_nvp(**SMALL)
    start = [v + 0.1 * np.random.default_rng(1).normal(size=v.shape).astype("float32")
             for v in weighted.get_weights()]
    weighted.set_weights(start)
    plain.set_weights(start)
    weighted.compile(keras.optimizers.SGD(0.1))
    plain.compile(keras.optimizers.SGD(float(0.1 * w.sum() / len(x))))
    history = weighted.fit(x, sample_weight=w, batch_size=len(x), epochs=3, shuffle=False,
                           verbose=0).history["loss"]
    plain.fit(repeated, batch_size=len(repeated), epochs=3, shuffle=False, verbose=0)
    for a, b in zip(weighted.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    unweighted = tfp_flows.real_nvp(**SMALL)
    unweighted.set_weights(start)
    unweighted.compile(keras.optimizers.SGD(0.1))
    other = unweighted.fit(x, batch_size=len(x), epochs=3, shuffle=False, verbose=0)
    assert not np.allclose(history, other.history["loss"])  # the weights were not ignored


@pytest.mark.parametrize("weight, says", [
    (np.ones(7), r"sample_weight must have shape \(20,\)"),
    (np.ones((20, 2)), r"sample_weight must have shape \(20,\)"),
    (np.r_[np.ones(19), np.nan], "must be finite and >= 0, got nan in row 19"),
    (np.r_[-1.0, np.ones(19)], "must be finite and >= 0, got -1.0 in row 0"),
    (np.zeros(20), "zero everywhere"),
])
def test_bad_sample_weights_are_refused(weight, says):
    model = tfp_flows.real_nvp(**SMALL)
    model.compile("adam")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=says):
        model.fit(X[:20], sample_weight=weight, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- non-finite


@pytest.mark.parametrize("kind", ["maf", "real_nvp"])
def test_training_that_diverges_stops_with_finite_weights(kind):
    # No standardisation and a Gaussian base: the loss overflows on data at this scale.
    model = tfp_flows.build_flow(kind, standardize=False, base_distribution="normal", **SMALL)
    model.compile(keras.optimizers.Adam(1e-2))
    huge = X * 1e7  # far from unit scale: the loss overflows at once or within steps
    with pytest.warns(RuntimeWarning, match="training stopped at epoch .* not finite"):
        history = model.fit(huge, epochs=20, batch_size=BATCH, verbose=0)
    assert len(history.epoch) < 20
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_data_far_from_unit_scale_trains_with_the_default_standardisation():
    model = tfp_flows.maf(**SMALL)
    model.compile(keras.optimizers.Adam(1e-2))
    scaled = X * 1e7 + 3e7
    history = model.fit(scaled, epochs=5, batch_size=BATCH, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
    # the density is in data units: standardised log p minus log of the scale per dimension
    unit = tfp_flows.maf(**SMALL)
    unit.set_weights(model.get_weights()[:-3] + unit.get_weights()[-3:])  # same flow, no scaling
    loc, log_scale = model.flow_layers[-1].loc.numpy(), model.flow_layers[-1].log_scale.numpy()
    z = (scaled[:10] - loc) / np.exp(log_scale)
    np.testing.assert_allclose(model.log_prob(scaled[:10]).numpy(),
                               unit.log_prob(z.astype("float32")).numpy() - log_scale.sum(),
                               rtol=1e-4)
    samples = model.sample(2000, seed=0).numpy()
    assert abs(samples.mean() - scaled.mean()) < 0.2 * scaled.std()


def test_nan_inside_a_tf_data_pipeline_stops_at_that_batch():
    bad = X[:100].copy()
    bad[73, 0] = np.nan  # second batch of 50
    data = tf.data.Dataset.from_tensor_slices(bad).batch(50)
    for steps, where in ((1, "batch 2"), (None, r"one of batches 1-16 \(run 16 at a time\)")):
        model = tfp_flows.real_nvp(**SMALL)
        # Initialised already, so fit reads nothing ahead (initialisation would see row 73
        # among its first rows and refuse before training: the test below).
        model.initialize_from_data(X[:100])
        model.compile(keras.optimizers.Adam(1e-2), steps_per_execution=steps)
        with pytest.warns(RuntimeWarning, match=f"training stopped at epoch 1, {where}:"):
            history = model.fit(data, epochs=3, verbose=0)
        assert history.epoch == [0]
        assert all(np.isfinite(w).all() for w in model.get_weights())


def test_nan_in_the_first_batch_of_a_dataset_stops_before_anything():
    model = tfp_flows.real_nvp(**SMALL)
    model.compile(keras.optimizers.Adam(1e-2))
    before = [w.copy() for w in model.get_weights()]
    bad = X[:100].copy()
    bad[3, 0] = np.nan
    data = tf.data.Dataset.from_tensor_slices(bad).batch(50)
    with pytest.raises(ValueError, match="NaN or infinite value in row 3 .* nothing was"):
        model.fit(data, epochs=3, verbose=0)
    # Initialisation reads the first batches up to INIT_ROWS rows: row 73, in the second
    # batch, is refused before any training too.
    bad = X[:100].copy()
    bad[73, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite value in row 73 .* nothing was"):
        model.fit(tf.data.Dataset.from_tensor_slices(bad).batch(50), epochs=3, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_dataset_initialises_from_its_first_batches_and_only_when_needed():
    """ActNorm and the standardisation see up to INIT_ROWS rows of a dataset (its first
    batches, as arrays give their first rows); a model that needs no initialisation reads
    none of the dataset before Keras does."""
    from tfp_flows.fit_data import adapt_fit_data

    data = tf.data.Dataset.from_tensor_slices(X).batch(50)
    model, twin = tfp_flows.glow(**SMALL), tfp_flows.glow(**SMALL)
    model.compile("adam")
    twin.compile("adam")
    model.fit(data, epochs=1, verbose=0)
    twin.fit(X, batch_size=50, shuffle=False, epochs=1, verbose=0)
    for a, b in zip(model.weights, twin.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    first, _ = adapt_fit_data(model, data, init_rows=120).init
    assert first.shape == (120, 2)
    np.testing.assert_allclose(first, X[:120])
    none, _ = adapt_fit_data(model, data, init_rows=0).init
    assert none is None


@pytest.mark.parametrize("layers, event_shape, says", [
    (lambda: [ActNormLayer((3,))], (2,), r"flow_layers\[0\] \(act_norm.*\) was built for "
                                           r"events of shape \(3,\).* give it events of shape "
                                           r"\(2,\)"),
    (lambda: [CouplingLayer((3,), hidden_units=(4,)), ActNormLayer((2,))], (2,),
     r"flow_layers\[0\] \(coupling.*\(3,\).*\(2,\)"),
    (lambda: [ActNormLayer((4, 4, 2))], (4, 4, 3), r"\(4, 4, 2\).*\(4, 4, 3\)"),
    (lambda: [SqueezeLayer((4, 4, 1))], (8, 8, 1), r"\(4, 4, 1\).*\(8, 8, 1\)"),
    (lambda: [FactorOutLayer((4, 4, 2), [ActNormLayer((4, 4, 3))])], (4, 4, 2),
     r"FactorOutLayer .*flow_layers\[0\].*\(4, 4, 3\).*\(4, 4, 1\)"),
])
def test_a_layer_built_for_other_events_is_refused_when_the_flow_is_built(layers, event_shape,
                                                                           says):
    with pytest.raises(ValueError, match=says):
        FlowModel(layers(), event_shape=event_shape)


def test_per_channel_layers_take_any_image_size_with_their_channels():
    from tfp_flows.layers import InvertibleLinearLayer

    flow = FlowModel([ActNormLayer((4, 4, 3)), InvertibleLinearLayer((4, 4, 3), seed=0)],
                     event_shape=(8, 8, 3))
    assert flow.latent_shape == (8, 8, 3)
    assert flow.log_prob(np.zeros((2, 8, 8, 3), "float32")).shape == (2,)


def test_data_is_checked_in_the_dtype_the_model_computes_in():
    model = tfp_flows.real_nvp(**SMALL)
    model.compile("adam")
    big = X[:20].astype("float64")
    big[5, 0] = 1e300  # finite in float64, infinite in float32
    with pytest.raises(ValueError, match="once cast to float32 in row 5"):
        model.fit(big, epochs=1, verbose=0)


@pytest.mark.parametrize("data, says", [
    (None, "needs data x"),
    ({"x": X}, "got dict"),
    ("moons", "got str"),
    (X[:0], "at least one row"),
    (X[:10].astype(complex), "real-valued"),
    (np.array([["a", "b"]] * 3), "numeric"),
])
def test_bad_data_is_refused_with_a_clear_message(data, says):
    model = tfp_flows.real_nvp(**SMALL)
    model.compile("adam")
    with pytest.raises(ValueError, match=says):
        model.fit(data, epochs=1, verbose=0)


def test_complex_input_to_log_prob_is_refused():
    model = tfp_flows.real_nvp(**SMALL)
    with pytest.raises(ValueError, match="real-valued"):
        model.log_prob(X[:3].astype(complex))


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, "32"])
def test_bad_batch_size_is_refused(batch_size):
    model = tfp_flows.real_nvp(**SMALL)
    model.compile("adam")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        model.fit(X, batch_size=batch_size, epochs=1, verbose=0)


def test_the_same_seed_gives_the_same_samples_on_every_call():
    """An int seed means the same draw each time (TFP alone would read it as a stateful seed
    and draw anew); pairs are TFP stateless seeds; None draws anew."""
    flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,), seed=0)
    first = flow.sample(5, seed=8).numpy()
    np.testing.assert_array_equal(flow.sample(5, seed=8).numpy(), first)
    assert not np.array_equal(flow.sample(5, seed=9).numpy(), first)
    np.testing.assert_array_equal(flow.sample(5, seed=(1, 2)).numpy(),
                                  flow.sample(5, seed=(1, 2)).numpy())
    x, log_prob = flow.sample_and_log_prob(5, seed=8)
    np.testing.assert_array_equal(x.numpy(), first)
    assert not np.array_equal(flow.sample(5).numpy(), flow.sample(5).numpy())


def test_compile_picks_steps_per_execution_by_kind_of_flow():
    vector = tfp_flows.maf(**SMALL)
    vector.compile("adam")
    assert vector.steps_per_execution == 16
    vector.compile("adam", steps_per_execution=3)
    assert vector.steps_per_execution == 3
    images = tfp_flows.glow(event_shape=(4, 4, 1), num_levels=4, num_steps=1, hidden_channels=2)
    images.compile("adam")
    assert images.steps_per_execution == 1
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        distributed = tfp_flows.maf(**SMALL)
        distributed.compile("adam")
    assert distributed.steps_per_execution == 1
