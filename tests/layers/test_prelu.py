"""PReLULayer: a learnable slope that stays positive."""
import keras
import numpy as np
import pytest

from tfp_flows import FlowModel
from tfp_flows.bijectors.prelu import MIN_SLOPE
from tfp_flows.layers import PReLULayer


def test_prelu_slope_stays_positive_under_aggressive_training():
    layer = PReLULayer(alpha=0.5)
    model = FlowModel([layer], event_shape=(2,))
    assert any(w is layer.raw_alpha for w in model.trainable_weights)
    z = np.random.default_rng(0).normal(size=(400, 2)).astype("float32")
    x = np.where(z >= 0, z, 1e-4 * z)  # negative side squeezed: pushes the slope to zero
    model.compile(keras.optimizers.SGD(learning_rate=1e4))
    history = model.fit(x, epochs=3, batch_size=100, verbose=0)
    alpha = layer.alpha.numpy()
    assert np.isfinite(layer.raw_alpha.numpy()) and float(layer.raw_alpha.numpy()) < -10
    assert alpha >= MIN_SLOPE > 0 and alpha < 1e-3
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.all(np.isfinite(model.log_prob(x).numpy()))
    np.testing.assert_allclose(layer(np.array([[-1.0, 1.0]], "float32")).numpy(),
                               [[-alpha, 1.0]], rtol=1e-5)


def test_prelu_rejects_a_non_positive_slope():
    for alpha in (0.0, -1.0, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="alpha must be a number > 1e-06"):
            PReLULayer(alpha=alpha)
