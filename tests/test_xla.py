"""compile(jit_compile="auto"): XLA for the training step of the flows whose builders measured
it faster (xla_default), on CPUs too, with a fallback."""
import types
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_flows
from tfp_flows.xla import _xla_failure, xla_wins

LEVELS = 4
TINY = dict(event_shape=(4, 4, 1), num_levels=LEVELS, hidden_channels=2, num_steps=1, seed=0)
IMAGES = np.random.default_rng(0).integers(0, LEVELS, size=(24, 4, 4, 1)).astype("int32")


@pytest.fixture
def long_fits(monkeypatch):
    """Every fit counts as long enough for XLA (the tests' fits take a few steps)."""
    monkeypatch.setattr(tfp_flows.xla, "XLA_MIN_STEPS", 0)


@pytest.fixture(scope="module")
def image_flow():
    flow = tfp_flows.glow(**TINY)
    flow.compile(keras.optimizers.Adam(1e-3))
    return flow


def test_auto_turns_xla_on_where_the_builder_measured_it_faster(image_flow):
    assert image_flow.xla_default and xla_wins(image_flow) and image_flow.jit_compile is True
    small = dict(event_shape=2, num_layers=1, hidden_units=(4,), seed=0)
    for builder, xla in (("maf", False), ("real_nvp", False), ("iaf", True), ("nsf", True)):
        vector = tfp_flows.build_flow(builder, **small)
        vector.compile()
        assert vector.xla_default is xla and vector.jit_compile is xla, builder
    mixed = tfp_flows.nsf(dtype="mixed_bfloat16", **small)   # mixed precision: not measured
    mixed.compile()
    assert mixed.xla_default and mixed.jit_compile is False
    images = tfp_flows.real_nvp(event_shape=(4, 4, 1), num_levels=LEVELS, hidden_channels=2,
                                num_blocks=0, seed=0)
    images.compile()
    assert not images.xla_default and images.jit_compile is False
    with pytest.raises(ValueError, match="xla_default must be True or False, got 1"):
        tfp_flows.FlowModel(images.flow_layers, event_shape=(4, 4, 1), num_levels=LEVELS,
                            xla_default=1)
    for value in (False, True):   # the user's choice is Keras's
        flow = tfp_flows.glow(**TINY)
        flow.compile(jit_compile=value)
        assert flow.jit_compile is value and flow._xla_by_default is False
    eager = tfp_flows.glow(**TINY)
    eager.compile(run_eagerly=True)
    assert eager.jit_compile is False


def test_default_xla_trains_and_evaluates_like_no_xla(image_flow, long_fits):
    plain = tfp_flows.glow(**TINY)
    plain.compile(keras.optimizers.Adam(1e-3), jit_compile=False)
    plain.set_weights(image_flow.get_weights())
    data = tfp_flows.datasets.dequantize(IMAGES, seed=1, num_levels=LEVELS)
    losses = [m.fit(data, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
              for m in (image_flow, plain)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
    np.testing.assert_allclose(image_flow.evaluate(data, verbose=0),
                               plain.evaluate(data, verbose=0), rtol=1e-4)
    # evaluate and predict run without XLA when XLA was the default's choice
    assert image_flow.jit_compile is True and image_flow._xla_by_default


def test_short_fits_skip_xla_long_ones_use_it(monkeypatch):
    flow = tfp_flows.glow(**TINY)
    flow.compile()
    data = tfp_flows.datasets.dequantize(IMAGES, seed=1, num_levels=LEVELS)
    flow.fit(data, batch_size=8, epochs=2, verbose=0)   # 6 steps: compiling would not pay
    assert flow.jit_compile is False and flow._xla_by_default
    monkeypatch.setattr(tfp_flows.xla, "XLA_MIN_STEPS", 6)
    flow.fit(data, batch_size=8, epochs=2, verbose=0)   # 6 steps: now long enough
    assert flow.jit_compile is True
    monkeypatch.setattr(tfp_flows.xla, "XLA_MIN_STEPS", 10**9)
    unknown = tf.data.Dataset.from_tensor_slices(data).batch(8).filter(lambda x: True)
    assert int(unknown.cardinality()) < 0
    flow.fit(unknown, epochs=1, verbose=0)              # unknown length: counts as long
    assert flow.jit_compile is True


def test_falls_back_with_a_warning_when_xla_cannot_compile(long_fits):
    flow = tfp_flows.glow(**TINY)
    flow.compile(keras.optimizers.Adam(1e-3))
    assert flow.jit_compile is True

    def compute_loss(self, **kwargs):   # an op without an XLA kernel inside the step
        loss = type(self).compute_loss(self, **kwargs)
        zero = tf.numpy_function(np.zeros_like, [loss], loss.dtype, stateful=False)
        return loss + tf.stop_gradient(tf.reshape(zero, []))

    flow.compute_loss = types.MethodType(compute_loss, flow)
    data = tfp_flows.datasets.dequantize(IMAGES, seed=1, num_levels=LEVELS)
    before = flow.get_weights()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = flow.fit(data, batch_size=8, epochs=2, verbose=0)
    messages = [str(w.message) for w in caught]
    assert any("XLA could not compile" in m and "without XLA" in m for m in messages)
    assert not any("ran out of data" in m for m in messages), messages   # both epochs ran
    assert len(history.history["loss"]) == 2
    assert flow.jit_compile is False and np.all(np.isfinite(history.history["loss"]))
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, flow.get_weights()))
    with warnings.catch_warnings():   # no second warning: it stays without XLA
        warnings.simplefilter("error", RuntimeWarning)
        flow.fit(data, batch_size=8, epochs=1, verbose=0)


def test_only_xla_refusals_fall_back():
    refusal = tf.errors.InvalidArgumentError(None, None, "Detected unsupported operations when "
                                             "trying to compile graph f on XLA_CPU_JIT: PyFunc")
    other = tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [8,2] vs. [8,3]")
    assert _xla_failure(refusal) and not _xla_failure(other)
    assert not _xla_failure(ValueError("XLA"))
