"""Eager passes that compile once used enough (tfp_flows.graph_mode): same numbers, gradients,
contexts, saving."""
import numpy as np
import pytest
import tensorflow as tf

import tfp_flows
from tfp_flows import graph_mode


@pytest.fixture
def compile_at_once(monkeypatch):
    """Every eager call compiles from the second one on (the first one is timed eagerly)."""
    monkeypatch.setattr(graph_mode, "COMPILE_AFTER_SECONDS", 0.0)


def _compiled(flow):
    return {name for name, value in flow.__dict__.get("_compiled_calls", {}).items()
            if not isinstance(value, float)}


def test_stays_eager_until_the_eager_time_is_spent(monkeypatch):
    monkeypatch.setattr(graph_mode, "COMPILE_AFTER_SECONDS", 3600.0)
    flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
    for seed in range(3):
        flow.sample(10, seed=seed)
    assert _compiled(flow) == set()
    assert 0.0 < flow.__dict__["_compiled_calls"]["_decode"] < 3600.0


def test_compiled_passes_give_the_eager_numbers(compile_at_once):
    flow = tfp_flows.real_nvp(event_shape=3, num_layers=2, hidden_units=(8,), seed=0)
    x = np.random.default_rng(0).normal(size=(50, 3)).astype("float32")
    eager = [flow.log_prob(x), flow.sample(7, seed=3), *flow.sample_and_log_prob(7, seed=3)]
    again = [flow.log_prob(x), flow.sample(7, seed=3), *flow.sample_and_log_prob(7, seed=3)]
    assert _compiled(flow) == {"_encode", "_decode", "_decode_and_log_prob"}
    for a, b in zip(eager, again):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    # a new batch size reuses the function (reduce_retracing) and still agrees
    np.testing.assert_allclose(flow.log_prob(x[:13]).numpy(), eager[0].numpy()[:13],
                               rtol=1e-5, atol=1e-5)


def test_gradients_flow_through_a_compiled_pass(compile_at_once):
    flow = tfp_flows.iaf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
    grads = []
    for _ in range(2):   # eager, then compiled
        with tf.GradientTape() as tape:
            _, log_q = flow.sample_and_log_prob(16, seed=1)
            loss = tf.reduce_mean(log_q)
        grads.append(tape.gradient(loss, flow.trainable_variables))
    assert "_decode_and_log_prob" in _compiled(flow)
    assert all(g is not None for g in grads[1])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_conditional_and_batch_norm_flows_compile(compile_at_once, tmp_path):
    rng = np.random.default_rng(0)
    flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(8,), context_size=1,
                         seed=0)
    c = rng.normal(size=(40, 1)).astype("float32")
    x = rng.normal(size=(40, 2)).astype("float32")
    flow.compile()
    flow.fit(x, context=c, epochs=1, batch_size=20, verbose=0)
    first = flow.sample(5, context=c[:2], seed=2).numpy()
    second = flow.sample(5, context=c[:2], seed=2).numpy()
    assert second.shape == (5, 2, 2) and "_decode" in _compiled(flow)
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-5)
    # a model that has compiled its passes saves and loads as before
    flow.save(tmp_path / "flow.keras")
    loaded = tfp_flows.load_model(tmp_path / "flow.keras")
    np.testing.assert_allclose(loaded.log_prob(x, context=c).numpy(),
                               flow.log_prob(x, context=c).numpy(), rtol=1e-5, atol=1e-5)

    images = tfp_flows.real_nvp(event_shape=(4, 4, 1), num_levels=4, hidden_channels=4,
                                num_blocks=1, num_scales=1, seed=0)
    pixels = rng.integers(0, 4, size=(16, 4, 4, 1))
    images.compile()
    images.fit(pixels, epochs=1, batch_size=8, verbose=0)   # batch norm: running statistics
    draws = [images.sample(3, seed=5).numpy() for _ in range(2)]
    np.testing.assert_allclose(draws[0], draws[1], rtol=1e-5, atol=1e-5)
    assert draws[1].min() >= 0 and draws[1].max() < 4


@pytest.mark.parametrize("dtype", ["float64", "mixed_bfloat16"])
def test_compiled_passes_keep_the_flows_dtype(compile_at_once, dtype):
    flow = tfp_flows.nsf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0, dtype=dtype)
    x = np.random.default_rng(0).normal(size=(20, 2))
    eager, compiled = (flow.log_prob(x) for _ in range(2))
    assert "_encode" in _compiled(flow) and compiled.dtype == flow.flow_dtype
    np.testing.assert_allclose(eager.numpy(), compiled.numpy(), rtol=1e-5, atol=1e-5)
    draws = [flow.sample(4, seed=1) for _ in range(2)]
    assert draws[1].dtype == flow.flow_dtype
    np.testing.assert_allclose(draws[0].numpy(), draws[1].numpy(), rtol=1e-5, atol=1e-5)
