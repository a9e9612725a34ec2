"""FlowModel.compile's fused Adam (issue 22 §1): the same updates as Keras's Adam and AdamW
to float tolerance, with their options; a way to turn it off; other optimizers untouched."""
import keras
import numpy as np
import pytest

import tfp_flows
from tfp_flows.fused_adam import fuse_adam, is_fused

X = np.random.default_rng(0).normal(size=(512, 2)).astype("float32")


def _trained(optimizer, fused):
    keras.utils.set_random_seed(0)
    flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(16,), seed=0)
    flow.compile(optimizer, fused_optimizer=fused)
    assert is_fused(flow.optimizer) == fused
    flow.fit(X, epochs=2, batch_size=64, shuffle=False, verbose=0)
    return [w.numpy() for w in flow.weights] + [v.numpy() for v in flow.optimizer.variables]


@pytest.mark.parametrize("make", [
    lambda: keras.optimizers.Adam(1e-2),
    lambda: keras.optimizers.AdamW(1e-2, weight_decay=0.01, use_ema=True, clipnorm=1.0),
    lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(1e-2, 5, 0.9),
                                  global_clipnorm=0.5),
])
def test_the_fused_update_equals_keras_adam(make):
    fused, plain = _trained(make(), True), _trained(make(), False)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_only_adam_and_adamw_without_amsgrad_are_fused():
    assert is_fused(fuse_adam(keras.optimizers.AdamW()))
    assert not is_fused(fuse_adam(keras.optimizers.Adam(amsgrad=True)))
    assert not is_fused(fuse_adam(keras.optimizers.RMSprop()))
    flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,))
    flow.compile()   # "adam" by name is fused too
    assert is_fused(flow.optimizer)
    with pytest.raises(ValueError, match="fused_optimizer must be True or False"):
        flow.compile(fused_optimizer="yes")


def test_two_updates_in_one_traced_function_equal_keras_adam():
    """The fused step's scalars (beta ** t) are shared by one apply's variables, never
    carried over to a second apply traced into the same function."""
    import tensorflow as tf

    results = []
    for fused in (True, False):
        weights = [keras.Variable(np.ones((3,), "float32")),
                   keras.Variable(np.zeros((2,), "float32"))]
        optimizer = keras.optimizers.Adam(0.1)
        if fused:
            fuse_adam(optimizer)
        optimizer.build(weights)

        @tf.function
        def two_steps():
            for scale in (1.0, -3.0):
                optimizer.apply([tf.fill((3,), scale), tf.fill((2,), 2.0 * scale)], weights)

        two_steps()
        two_steps()
        results.append([w.numpy() for w in weights])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
