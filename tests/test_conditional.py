"""Conditional flows p(x | context) through FlowModel: every builder, every way Keras trains
(validation split of both arrays, tf.data pairs, weights, evaluate, predict), the plain TFP
route, saving in one process and loading in another, images conditioned on labels, and the
errors for a missing, wrong or NaN context."""
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_flows
from tfp_flows.datasets import ConditionalMoons, LinearGaussian
from tfp_flows.training import bits_per_dim, conditional_kl, dequantized_dataset, mean_nll

SMALL = dict(num_layers=2, hidden_units=(16,), seed=0)
RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 2)).astype("float32")
C = RNG.normal(size=(300, 3)).astype("float32")


def _flow(kind="maf", **kwargs):
    return tfp_flows.build_flow(kind, event_shape=2, context_size=3, **{**SMALL, **kwargs})


def _weights(model):
    return [w.numpy().copy() for w in model.trainable_weights]


@pytest.fixture(scope="module")
def moons_flow():
    """A MAF fitted to the two moons given the moon label (a few seconds)."""
    problem = ConditionalMoons()
    x, c = problem.sample(2000, seed=0)
    flow = tfp_flows.maf(event_shape=2, context_size=2, num_layers=3, hidden_units=(32, 32),
                         seed=0)
    flow.compile(keras.optimizers.Adam(3e-3))
    flow.fit(x, context=c, epochs=15, batch_size=100, verbose=0)
    return flow, problem


# ------------------------------------------------------------------ every builder
@pytest.mark.parametrize("kind", sorted(tfp_flows.BUILDERS))
def test_every_builder_is_conditional_with_context_size(kind):
    flow = _flow(kind)
    assert flow.context_size == 3
    before = _weights(flow)
    flow.compile("adam")
    flow.fit(X, context=C, epochs=1, batch_size=100, verbose=0)
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, flow.trainable_weights))
    log_prob = flow.log_prob(X[:5], context=C[:5])
    assert log_prob.shape == (5,) and np.all(np.isfinite(log_prob.numpy()))
    # The plain TFP route computes the same density.
    tfp_log_prob = flow.distribution.log_prob(X[:5], bijector_kwargs={"context": C[:5]})
    np.testing.assert_allclose(tfp_log_prob.numpy(), log_prob.numpy(), rtol=1e-5, atol=1e-5)
    # Samples: sample shape, then one per context row.
    assert flow.sample(4, context=C[:3], seed=1).shape == (4, 3, 2)
    assert flow.sample(4, context=C[0], seed=1).shape == (4, 2)
    x, lp = flow.sample_and_log_prob(3, context=C[:2], seed=2)
    np.testing.assert_allclose(flow.log_prob(x, context=C[:2]).numpy(), lp.numpy(),
                               rtol=1e-4, atol=1e-3)


def test_the_context_broadcasts_against_the_data_batch():
    flow = _flow("real_nvp")
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-2, 2, 5)), -1)
    values = flow.log_prob(grid.astype("float32"), context=C[0])
    assert values.shape == (5, 7)
    np.testing.assert_allclose(values.numpy()[1], flow.log_prob(
        grid[1].astype("float32"), context=np.repeat(C[:1], 7, 0)).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="do not broadcast"):
        flow.log_prob(X[:4], context=C[:3])


def test_a_seed_gives_the_same_conditional_samples():
    flow = _flow()
    a = flow.sample(5, context=C[:2], seed=7).numpy()
    np.testing.assert_array_equal(a, flow.sample(5, context=C[:2], seed=7).numpy())
    assert not np.allclose(a[:, 0], a[:, 1])  # different contexts, different samples


# ------------------------------------------------------------------ it learns the context
def test_a_fitted_flow_uses_the_context(moons_flow):
    flow, problem = moons_flow
    x, c = problem.sample(500, seed=1)
    right = flow.log_prob(x, context=c).numpy()
    wrong = flow.log_prob(x, context=c[:, ::-1]).numpy()
    assert right.mean() > wrong.mean() + 2.0  # nats: the moons barely overlap
    kl = conditional_kl(flow, problem, np.eye(2, dtype="float32"), num_samples=2000, seed=0)
    pooled = mean_nll(flow, x, context=c)
    assert 0.0 <= kl.value < 0.5, kl
    assert np.isfinite(pooled.value)


def test_samples_given_a_label_lie_on_that_moon(moons_flow):
    flow, problem = moons_flow
    samples = flow.sample(400, context=np.eye(2, dtype="float32"), seed=0).numpy()
    own = [problem.log_prob(samples[:, k], np.tile(np.eye(2)[k], (400, 1))) for k in (0, 1)]
    other = [problem.log_prob(samples[:, k], np.tile(np.eye(2)[1 - k], (400, 1)))
             for k in (0, 1)]
    for k in (0, 1):
        assert np.median(own[k]) > np.median(other[k]) + 2.0


def test_linear_gaussian_posterior_is_learned_quickly():
    problem = LinearGaussian(dim=2, obs_dim=2, noise_std=0.5, seed=0)
    theta, y = problem.sample(4000, seed=1)
    flow = tfp_flows.real_nvp(event_shape=2, context_size=2, num_layers=4,
                              hidden_units=(32, 32), seed=0)
    flow.compile(keras.optimizers.Adam(2e-3))
    _, held_out = problem.sample(50, seed=2)
    prior_kl = conditional_kl(_Prior(), problem, held_out, num_samples=500)
    flow.fit(theta, context=y, epochs=10, batch_size=128, verbose=0)
    kl = conditional_kl(flow, problem, held_out, num_samples=500)
    assert kl.value < 0.1 < prior_kl.value, (kl, prior_kl)


class _Prior:
    """N(0, I) for every context: what a flow that ignores the observation can at best do."""

    def log_prob(self, x, context):
        return -0.5 * np.sum(x ** 2, axis=-1) - np.log(2 * np.pi)


# ------------------------------------------------------------------ everything Keras offers
def test_validation_split_splits_data_and_context_alike():
    flow = _flow()
    flow.compile("adam")
    history = flow.fit(X, context=C, epochs=1, batch_size=50, validation_split=0.2, verbose=0)
    held = flow.evaluate(X[240:], context=C[240:], verbose=0, batch_size=50)
    assert history.history["val_loss"][-1] == pytest.approx(held, rel=1e-5)
    # The held-out rows with other contexts score differently: the pairing was kept.
    assert flow.evaluate(X[240:], context=C[:60], verbose=0) != pytest.approx(held, rel=1e-5)


def test_validation_data_is_a_pair_and_weights_and_predict_work():
    flow = _flow()
    flow.compile("adam")
    weight = np.linspace(0.0, 2.0, 250)
    history = flow.fit(X[:250], context=C[:250], sample_weight=weight, epochs=1,
                       validation_data=(X[250:], C[250:]), verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(
        flow.evaluate(X[250:], context=C[250:], verbose=0), rel=1e-5)
    predicted = flow.predict((X[:7], C[:7]), verbose=0)
    np.testing.assert_allclose(predicted, flow.log_prob(X[:7], context=C[:7]).numpy(),
                               rtol=1e-5)


def test_a_dataset_of_pairs_trains_like_arrays():
    data = tf.data.Dataset.from_tensor_slices((X, C)).batch(100)
    flow, twin = _flow(), _flow()
    for model in (flow, twin):  # a dataset's first batch would set the context's scale
        model.initialize_from_data(X, C)
    flow.compile(keras.optimizers.SGD(0.01))
    twin.compile(keras.optimizers.SGD(0.01))
    flow.fit(data, epochs=1, verbose=0)
    twin.fit(X, context=C, batch_size=100, shuffle=False, epochs=1, verbose=0)
    for a, b in zip(flow.trainable_weights, twin.trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    weighted = tf.data.Dataset.from_tensor_slices((X, C, np.ones(300, "float32"))).batch(100)
    flow.fit(weighted, epochs=1, verbose=0)


def test_a_dataset_initialises_from_as_many_rows_as_arrays_do():
    """The standardisations (data and context) see the dataset's first batches up to
    INIT_ROWS rows, as arrays give their first rows, not just the first batch of 100."""
    shifted = C + np.linspace(0.0, 30.0, len(C))[:, None].astype("float32")  # drifts by row
    data = tf.data.Dataset.from_tensor_slices((X, shifted)).batch(100)
    flow, twin = _flow(), _flow()
    flow.compile("adam")
    twin.compile("adam")
    flow.fit(data, epochs=1, verbose=0)
    twin.fit(X, context=shifted, batch_size=100, shuffle=False, epochs=1, verbose=0)
    for model in (flow, twin):
        assert model.context_standardization.is_initialized
    np.testing.assert_allclose(
        flow.context_standardization.mean.numpy(),
        np.mean(shifted, axis=0), rtol=1e-5)
    for a, b in zip(flow.non_trainable_weights, twin.non_trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)


def test_fit_flow_and_callbacks_take_a_context():
    from tfp_flows.training import fit_flow

    flow = _flow()
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(logs))
    history = fit_flow(flow, X, context=C, epochs=2, batch_size=100, callbacks=[callback])
    assert len(seen) == 2 and "val_loss" in seen[-1]
    assert history.stopped_by == "epochs"


def test_the_context_is_standardised_inside_the_model():
    """Contexts on a scale of thousands train like standardised ones."""
    flow = _flow()
    flow.compile(keras.optimizers.SGD(0.01))
    flow.fit(X, context=1000.0 + 500.0 * C, epochs=1, batch_size=100, shuffle=False,
             verbose=0)
    twin = _flow(standardize=True)
    twin.compile(keras.optimizers.SGD(0.01))
    twin.fit(X, context=C, epochs=1, batch_size=100, shuffle=False, verbose=0)
    standardization = flow.context_standardization
    np.testing.assert_allclose(standardization.mean.numpy(), 1000 + 500 * C.mean(0), rtol=1e-4)
    np.testing.assert_allclose(flow.log_prob(X[:5], context=1000.0 + 500.0 * C[:5]).numpy(),
                               twin.log_prob(X[:5], context=C[:5]).numpy(), rtol=1e-3,
                               atol=1e-3)


def test_float64_conditional_flow():
    flow = _flow(dtype="float64")
    flow.compile("adam")
    flow.fit(X.astype("float64"), context=C.astype("float64"), epochs=1, verbose=0)
    assert flow.log_prob(X[:3], context=C[:3]).dtype == tf.float64
    assert flow.sample(2, context=C[:2]).dtype == tf.float64


# ------------------------------------------------------------------ images given labels
def test_class_conditional_image_flow_trains_and_scores_given_labels():
    from tfp_flows.datasets import digits

    data = digits()
    images, labels = data.x_train, data.y_train
    images, labels = images[:96], labels[:96]
    one_hot = np.eye(10, dtype="float32")[labels]
    flow = tfp_flows.real_nvp(event_shape=(8, 8, 1), num_levels=17, context_size=10,
                              hidden_channels=4, num_blocks=1, seed=0)
    flow.compile("adam")
    flow.fit(images, context=one_hot, epochs=1, batch_size=32, validation_split=0.25,
             verbose=0)
    bits = bits_per_dim(flow, images[:16], 17, num_draws=1, context=one_hot[:16])
    assert 0 < bits.value < 10
    samples = flow.sample(2, context=np.eye(10, dtype="float32")[:3], seed=0)
    assert samples.shape == (2, 3, 8, 8, 1)
    data = dequantized_dataset(images[:8], 17, batch_size=4, context=one_hot[:8])
    x, c = next(iter(data))
    assert x.shape == (4, 8, 8, 1) and c.shape == (4, 10)


# ------------------------------------------------------------------ across processes
def test_a_saved_conditional_flow_loads_and_trains_on_in_a_fresh_process(tmp_path):
    flow = _flow("glow")
    flow.compile("adam")
    flow.fit(X, context=5.0 * C, epochs=1, verbose=0)
    path = tmp_path / "flow.keras"
    flow.save(path)
    np.save(tmp_path / "x.npy", X[:6])
    np.save(tmp_path / "c.npy", 5.0 * C[:6])
    script = textwrap.dedent(f"""
        import json, numpy as np, keras
        import tfp_flows
        flow = keras.models.load_model({str(path)!r})
        x, c = np.load({str(tmp_path / 'x.npy')!r}), np.load({str(tmp_path / 'c.npy')!r})
        before = flow.log_prob(x, context=c).numpy().tolist()
        tfp_route = flow.distribution.log_prob(x, bijector_kwargs={{"context": c}}).numpy()
        flow.fit(np.tile(x, (20, 1)), context=np.tile(c, (20, 1)), epochs=1, verbose=0)
        try:
            flow.log_prob(x)
            missing = None
        except ValueError as error:
            missing = str(error)
        print(json.dumps(dict(before=before, tfp=tfp_route.tolist(), missing=missing,
                              context_size=flow.context_size,
                              after=flow.log_prob(x, context=c).numpy().tolist())))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    expected = flow.log_prob(X[:6], context=5.0 * C[:6]).numpy()
    np.testing.assert_array_equal(result["before"], expected)
    np.testing.assert_allclose(result["tfp"], expected, rtol=1e-5)
    assert result["context_size"] == 3
    assert "is conditional" in result["missing"]
    assert not np.allclose(result["after"], expected)  # it trained on after loading


# ------------------------------------------------------------------ bad input
def test_fit_refuses_bad_contexts_before_training():
    flow = _flow()
    flow.compile("adam")
    before = _weights(flow)
    bad_nan = C.copy()
    bad_nan[7, 1] = np.nan
    cases = [
        (dict(), r"conditional: fit needs a context of shape \[n, 3\]"),
        (dict(context=C[:, :2]), r"context of shape \[n, 3\], got \(300, 2\)"),
        (dict(context=C[:200]), "one context row per data row: 300 rows of data, 200"),
        (dict(context=bad_nan), "context has a NaN or infinite value.* row 7"),
        (dict(context=C, validation_data=X[:10]), r"validation_data is a pair \(x, context\)"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            flow.fit(X, epochs=1, verbose=0, **kwargs)
    with pytest.raises(ValueError, match="pass a conditional flow's context as context="):
        flow.fit(X, C, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"must yield pairs \(x, context\)"):
        flow.fit(tf.data.Dataset.from_tensor_slices(X).batch(10), epochs=1, verbose=0)
    for a, b in zip(before, flow.trainable_weights):
        np.testing.assert_array_equal(a, b.numpy())


def test_log_prob_and_sample_refuse_bad_contexts():
    flow = _flow()
    with pytest.raises(ValueError, match=r"is conditional: pass context=c .*\[n, 3\]"):
        flow.log_prob(X[:2])
    with pytest.raises(ValueError, match="is conditional"):
        flow.sample(3)
    with pytest.raises(ValueError, match=r"takes a context of shape \[\.\.\., 3\], got \(2, 4\)"):
        flow.log_prob(X[:2], context=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        flow.sample(2, context=[np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="numeric context"):
        flow.log_prob(X[:2], context=np.array([["a", "b", "c"]] * 2))
    with pytest.raises(ValueError, match="bijector_kwargs"):
        flow.distribution.log_prob(X[:2])


def test_an_unconditional_flow_refuses_a_context():
    flow = tfp_flows.maf(event_shape=2, **SMALL)
    message = "not conditional"
    with pytest.raises(ValueError, match=message):
        flow.log_prob(X[:2], context=C[:2])
    with pytest.raises(ValueError, match=message):
        flow.sample(2, context=C[:2])
    with pytest.raises(ValueError, match=message):
        flow.compile("adam") or flow.fit(X, context=C, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=message):
        flow.evaluate(X, context=C, verbose=0)


def test_builders_check_context_size():
    for bad in (0, -1, 2.5, "3", True):
        with pytest.raises(ValueError, match="context_size"):
            tfp_flows.maf(event_shape=2, context_size=bad)
    with pytest.raises(ValueError, match="context_size"):
        tfp_flows.glow(event_shape=(8, 8, 1), num_levels=17, context_size=0)
