"""CouplingLayer on images (checkerboard and channel masks with a conv conditioner) and with
user conditioners."""
import keras
import numpy as np
import pytest

from tests.layers.registry import IMAGE, TinyConv, _image_coupling
from tfp_flows import FlowModel
from tfp_flows.bijectors import channel_mask, checkerboard_mask
from tfp_flows.layers import CouplingLayer


@pytest.mark.parametrize("mask", ["checkerboard", "channel"])
def test_image_coupling_with_a_conv_conditioner(mask, tmp_path):
    layers = [_image_coupling(mask, seed=0), _image_coupling(mask, reverse_mask=True, seed=5)]
    model = FlowModel(layers, event_shape=IMAGE)
    conv_weights = layers[0].conditioner.conv.trainable_weights
    assert len(conv_weights) == 2
    assert all(any(w is v for v in model.trainable_weights) for w in conv_weights)
    x = np.random.default_rng(0).normal(size=(8,) + IMAGE).astype("float32")

    # The entries under the mask condition and pass through unchanged; the others move.
    make = checkerboard_mask if mask == "checkerboard" else channel_mask
    keep = make(IMAGE).astype(bool)
    y = layers[0](x).numpy()
    np.testing.assert_array_equal(y[:, keep], x[:, keep])
    assert np.abs(y[:, ~keep] - x[:, ~keep]).min() > 0

    log_prob = model.log_prob(x)
    assert log_prob.shape == (8,)
    z, log_det = model.encode(x)
    assert z.shape == (8,) + IMAGE and np.abs(log_det.numpy()).max() > 1e-2
    np.testing.assert_allclose(model.bijector.forward(z).numpy(), x, rtol=1e-4, atol=1e-5)
    samples, sample_log_prob = model.sample_and_log_prob(16, seed=(1, 2))
    assert samples.shape == (16,) + IMAGE
    np.testing.assert_allclose(sample_log_prob.numpy(), model.log_prob(samples).numpy(),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.distribution.log_prob(x).numpy(), log_prob.numpy(),
                               rtol=1e-5, atol=1e-5)

    model.save(tmp_path / "image_flow.keras")
    loaded = keras.models.load_model(tmp_path / "image_flow.keras")
    assert isinstance(loaded.flow_layers[0].conditioner, TinyConv)
    np.testing.assert_array_equal(loaded.log_prob(x).numpy(), log_prob.numpy())


def test_image_coupling_needs_a_conditioner():
    for mask in ("checkerboard", "channel"):
        with pytest.raises(ValueError, match="conditioner"):
            CouplingLayer(IMAGE, mask=mask)
    with pytest.raises(ValueError, match="mask"):
        CouplingLayer(IMAGE)  # the default half mask is for vectors
    with pytest.raises(ValueError, match="mask"):
        CouplingLayer((2,), mask="stripes")


def test_user_supplied_coupling_mlp_survives_save_and_load(tmp_path):
    """A conditioner given by the user is serialised as given, not rebuilt from defaults."""
    import tfp_flows
    from tfp_flows.nets import CouplingMLP

    net = CouplingMLP(output_units=1, num_params=2, hidden_units=(8, 8, 8), activation="tanh",
                      zero_init_output=False)
    flow = tfp_flows.FlowModel([CouplingLayer((2,), conditioner=net)], event_shape=(2,))
    x = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    flow.save(tmp_path / "f.keras")
    again = keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(flow.log_prob(x), again.log_prob(x))
    assert again.flow_layers[0].conditioner.get_config()["activation"] == "tanh"
