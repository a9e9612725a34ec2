"""Mixed precision: under "mixed_bfloat16" (testable on a CPU) and "mixed_float16" every builder
trains without NaN, its conditioner networks compute in 16 bits, and data, log-dets and
log-densities stay float32 (what Keras's loss scaling expects)."""
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
from tfp_flows.nets import MADE, CouplingMLP, ResNet

X = (np.random.default_rng(0).normal(size=(512, 2)) * [1.0, 3.0] + 5.0).astype("float32")
C = np.random.default_rng(1).normal(size=(512, 2)).astype("float32")


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _networks(flow):
    """The conditioner networks inside a flow's layers (through factor-outs)."""
    found = []
    for layer in flow._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, (MADE, CouplingMLP, ResNet)):
            found.append(layer)
    return found


CASES = [("mixed_bfloat16", kind) for kind in sorted(tfp_flows.BUILDERS)] + [
    ("mixed_float16", "maf"), ("mixed_float16", "glow")]   # loss scaling: a sample of two


@pytest.mark.parametrize("policy, kind", CASES, indirect=["policy"])
def test_every_builder_trains_under_a_mixed_policy(kind, policy):
    flow = tfp_flows.build_flow(kind, event_shape=2, num_layers=2, hidden_units=(16,), seed=0,
                                context_size=2)
    assert flow.dtype_policy.name == policy and flow.flow_dtype == "float32"
    networks = _networks(flow)
    assert networks and all(n.compute_dtype == policy.split("_")[1] for n in networks)
    assert {w.dtype for w in flow.weights} == {"float32"}
    flow.compile(keras.optimizers.Adam(3e-3))
    if policy == "mixed_float16":
        assert isinstance(flow.optimizer, keras.optimizers.LossScaleOptimizer)
    history = flow.fit(X, context=C, epochs=4, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    log_prob = flow.log_prob(X[:8], context=C[:8])
    assert log_prob.dtype == tf.float32 and np.all(np.isfinite(log_prob.numpy()))
    samples = flow.sample(4, context=C[:2], seed=0)
    assert samples.dtype == tf.float32 and np.all(np.isfinite(samples.numpy()))
    # The density is the float32 flow's up to 16-bit rounding inside the networks.
    twin = tfp_flows.build_flow(kind, event_shape=2, num_layers=2, hidden_units=(16,), seed=0,
                                context_size=2, dtype="float32")
    twin.set_weights(flow.get_weights())
    np.testing.assert_allclose(log_prob.numpy(), twin.log_prob(X[:8], context=C[:8]).numpy(),
                               rtol=0.05, atol=0.05)


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("kind", ["real_nvp", "glow"])
def test_image_flows_train_under_mixed_bfloat16(kind, policy):
    images = np.random.default_rng(0).integers(0, 17, size=(32, 8, 8, 1))
    small = dict(num_blocks=1) if kind == "real_nvp" else dict(num_steps=1)
    flow = tfp_flows.build_flow(kind, event_shape=(8, 8, 1), num_levels=17, hidden_channels=2,
                                seed=0, **small)
    assert all(n.compute_dtype == "bfloat16" for n in _networks(flow))
    flow.compile("adam")
    history = flow.fit(images, epochs=2, batch_size=16, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert flow.log_prob(images[:2] + 0.5).dtype == tf.float32


def test_a_mixed_flow_saves_and_loads_in_a_fresh_process(tmp_path):
    flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(16,), seed=0,
                         dtype="mixed_bfloat16")
    flow.compile("adam")
    flow.fit(X, epochs=1, verbose=0)
    flow.save(tmp_path / "flow.keras")
    np.save(tmp_path / "x.npy", X[:5])
    script = textwrap.dedent(f"""
        import json, numpy as np, keras, tfp_flows
        flow = keras.models.load_model({str(tmp_path / 'flow.keras')!r})
        made = flow.flow_layers[0].made
        print(json.dumps(dict(policy=flow.dtype_policy.name, made=made.compute_dtype,
              log_prob=flow.log_prob(np.load({str(tmp_path / 'x.npy')!r})).numpy().tolist())))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["policy"] == "mixed_bfloat16" and result["made"] == "bfloat16"
    np.testing.assert_array_equal(result["log_prob"], flow.log_prob(X[:5]).numpy())


def test_builders_follow_the_global_policy_and_refuse_unknown_ones():
    assert tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,)).dtype_policy.name == \
        "float32"
    assert tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,),
                         dtype="float64").flow_dtype == "float64"
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        tfp_flows.maf(event_shape=2, dtype="mixed_int8")
