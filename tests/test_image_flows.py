"""Image flows end to end: the builders' architecture, training on integer images with fresh
dequantisation, honest bits/dim, the plain TFP route, and save/load across processes."""
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_flows
from tfp_flows import FlowModel, datasets
from tfp_flows.image_flows import default_num_scales
from tfp_flows.layers import (
    BatchNormLayer,
    BijectorLayer,
    CouplingLayer,
    FactorOutLayer,
    LogitLayer,
    SqueezeLayer,
)
from tfp_flows.training import bits_per_dim, dequantized_dataset
from tests.processes import run_python

tfb, tfd = tfp.bijectors, tfp.distributions

LEVELS = 17
TINY = dict(event_shape=(8, 8, 1), num_levels=LEVELS, hidden_channels=4, seed=0)


@pytest.fixture(scope="module")
def digits():
    data = datasets.digits()
    return data.x_train[:96], data.x_test[:32]


@pytest.fixture(scope="module")
def trained(digits):
    """A tiny Real NVP and a tiny Glow, each fitted for two epochs on 96 digits."""
    x_train, _ = digits
    flows = {"real_nvp": tfp_flows.real_nvp(num_blocks=0, **TINY),
             "glow": tfp_flows.glow(num_steps=1, **TINY)}
    for flow in flows.values():
        flow.compile(keras.optimizers.Adam(1e-3))
        flow.fit(x_train, batch_size=32, epochs=2, verbose=0)
    return flows


def _kinds(layers):
    return [type(layer).__name__ for layer in layers]


# ----------------------------------------------------------------------------- architecture
def test_real_nvp_follows_dinh_et_al():
    flow = tfp_flows.real_nvp(num_blocks=1, **TINY)
    data_side = list(reversed(flow.flow_layers))
    assert isinstance(data_side[0], LogitLayer) and data_side[0].num_levels == LEVELS
    couplings = [l for l in data_side if isinstance(l, CouplingLayer)]
    # scale 1: 3 checkerboard, squeeze, 3 channel, factor out
    assert [c.mask_kind for c in couplings] == ["checkerboard"] * 3 + ["channel"] * 3
    assert [c.reverse_mask for c in couplings] == [False, True, False] * 2
    assert _kinds(data_side[1:7]) == ["CouplingLayer", "BatchNormLayer"] * 3
    assert isinstance(data_side[7], SqueezeLayer)
    factor = data_side[-1]
    assert isinstance(factor, FactorOutLayer) and factor.event_shape == (4, 4, 4)
    inner = [l for l in reversed(factor.flow_layers) if isinstance(l, CouplingLayer)]
    assert [c.mask_kind for c in inner] == ["checkerboard"] * 4  # the last scale
    assert inner[0].event_shape == (4, 4, 2)
    assert flow.latent_shape == (64,) and flow.base_distribution_name == "normal"
    net = couplings[0].conditioner
    assert type(net).__name__ == "ResNet" and net.log_scale_index == 1  # scale * tanh


def test_glow_squeezes_steps_and_splits_with_a_learned_prior():
    flow = tfp_flows.glow(num_steps=2, **TINY)
    data_side = list(reversed(flow.flow_layers))
    assert _kinds(data_side[:9]) == ["LogitLayer", "SqueezeLayer"] + [
        "ActNormLayer", "InvertibleLinearLayer", "CouplingLayer"] * 2 + ["CouplingLayer"]
    prior = data_side[8]
    assert prior.mask_kind == "channel" and not prior.reverse_mask  # kept half conditions
    factor = data_side[9]
    assert isinstance(factor, FactorOutLayer) and factor.num_kept == 2
    inner = list(reversed(factor.flow_layers))
    assert isinstance(inner[0], SqueezeLayer) and inner[0].event_shape == (4, 4, 2)
    assert not any(isinstance(l, FactorOutLayer) for l in inner)  # two scales for 8x8
    no_prior = tfp_flows.glow(num_steps=1, learned_prior=False, **TINY)
    assert sum(isinstance(l, CouplingLayer) for l in no_prior.flow_layers) == 1


def test_default_number_of_scales():
    assert default_num_scales((8, 8, 1)) == 2
    assert default_num_scales((28, 28, 1)) == 3
    assert default_num_scales((32, 32, 3), squeeze_last=True) == 3
    assert default_num_scales((28, 28, 1), squeeze_last=True) == 2
    small = dict(event_shape=(4, 4, 3), num_levels=4, hidden_channels=2, num_blocks=0,
                 batch_norm=False)
    assert tfp_flows.real_nvp(**small).latent_shape == (4, 4, 3)  # one scale: no factor-out
    assert tfp_flows.real_nvp(num_scales=2, **small).latent_shape == (48,)


def test_every_weight_gets_a_gradient(digits):
    x = datasets.dequantize(digits[0][:8], 0, LEVELS)
    for flow in (tfp_flows.real_nvp(num_blocks=1, **TINY), tfp_flows.glow(num_steps=1, **TINY)):
        flow.initialize_from_data(x)
        for w in flow.trainable_weights:  # away from the zero-initialised identity
            w.assign(w + 0.01 * tf.random.stateless_normal(w.shape, [1, 2], dtype=w.dtype))
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(flow.log_prob(x, training=True))
        grads = tape.gradient(loss, flow.trainable_weights)
        assert [w.path for w, g in zip(flow.trainable_weights, grads)
                if g is None or not np.any(g.numpy())] == []


# ----------------------------------------------------------------------------- training
def test_fit_on_integer_images_trains_and_uses_running_statistics(trained, digits):
    flow = trained["real_nvp"]
    batch_norms = [w for l in flow.flow_layers[0].flow_layers if isinstance(l, BatchNormLayer)
                   for w in (l.moving_mean,)]
    assert batch_norms and all(np.any(w.numpy() != 0) for w in batch_norms)
    x = datasets.dequantize(digits[1], 1, LEVELS)
    train_mode = flow.log_prob(x, training=True).numpy()
    infer_mode = flow.log_prob(x).numpy()
    assert np.all(np.isfinite(infer_mode)) and not np.allclose(train_mode, infer_mode)


def test_fit_dequantises_afresh_each_epoch_and_validates(digits):
    flow = tfp_flows.glow(num_steps=1, **TINY)
    flow.compile(keras.optimizers.Adam(1e-3))
    seen = []
    history = flow.fit(digits[0], batch_size=96, epochs=2, validation_split=0.25, verbose=0)
    assert set(history.history) >= {"loss", "val_loss"}
    assert np.all(np.isfinite(history.history["val_loss"]))
    keras.utils.set_random_seed(0)  # a global seed must not freeze the noise
    data = dequantized_dataset(digits[0], LEVELS, batch_size=96, shuffle=False)
    for batch in (next(iter(data)), next(iter(data))):
        seen.append(batch.numpy())
        np.testing.assert_array_equal(np.floor(batch.numpy()), digits[0].astype("float32"))
    assert not np.array_equal(seen[0], seen[1])  # new noise on every pass
    again = dequantized_dataset(digits[0], LEVELS, batch_size=96, shuffle=False, seed=4)
    same = dequantized_dataset(digits[0], LEVELS, batch_size=96, shuffle=False, seed=4)
    np.testing.assert_array_equal(next(iter(again)).numpy(), next(iter(same)).numpy())


def test_fit_refuses_bad_pixels_before_training(digits):
    flow = tfp_flows.real_nvp(num_blocks=0, **TINY)
    flow.compile("adam")
    before = [w.numpy().copy() for w in flow.weights]
    bad = digits[0].copy()
    bad[3, 2, 2, 0] = LEVELS
    with pytest.raises(ValueError, match=r"\[0, 17\), got values up to 17 in image 3"):
        flow.fit(bad, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"shape \[n, 8, 8, 1\]"):
        flow.fit(np.zeros((4, 4, 4, 1), "int32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"dequantised pixels in \[0, 17\).*down to -0\.5"):
        flow.fit(digits[0].astype("float32") - 0.5, epochs=1, verbose=0)  # centred pixels
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, flow.weights))


def test_log_prob_refuses_integer_pixels(trained, digits):
    with pytest.raises(ValueError, match="dequantised pixels"):
        trained["glow"].log_prob(digits[1])


def test_bits_per_dim_of_the_uniform_density_is_log2_k():
    """A flow whose density is exactly uniform over the pixel cube: Normal base, NormalCDF to
    [0, 1], scale by K. The model, the dequantisation and the metric together must give
    log2(K) bits/dim, to float precision."""
    k = 17
    uniform = FlowModel([BijectorLayer(tfb.NormalCDF()),
                         BijectorLayer(tfb.Scale(np.float64(k)), dtype="float64")],
                        event_shape=(4, 4, 1), num_levels=k, dtype="float64",
                        base_distribution="normal")
    images = np.random.default_rng(0).integers(0, k, size=(50, 4, 4, 1))
    value, error = bits_per_dim(uniform, images, num_levels=k, num_draws=3)
    assert value == pytest.approx(math.log2(k), abs=1e-9) and error < 1e-9


def test_bits_per_dim_counts_the_logit_log_det(trained, digits):
    """log p(x) over pixels = log p(logit(x)) over logits + log|d logit / dx|."""
    flow = trained["real_nvp"]
    assert isinstance(flow.flow_layers[-1], LogitLayer)
    over_logits = FlowModel(flow.flow_layers[:-1], event_shape=(8, 8, 1))  # shared weights
    x = datasets.dequantize(digits[1], 3, LEVELS)
    logit = flow.flow_layers[-1].bijector()
    y = logit.inverse(x)
    log_det = logit.inverse_log_det_jacobian(x, event_ndims=3).numpy()
    assert np.abs(log_det).mean() > 1  # a term that matters
    np.testing.assert_allclose(flow.log_prob(x).numpy(),
                               over_logits.log_prob(y).numpy() + log_det, rtol=1e-5, atol=1e-3)


def test_plain_tfp_distribution_matches_the_model(trained, digits):
    x = datasets.dequantize(digits[1][:6], 2, LEVELS)
    for flow in trained.values():
        np.testing.assert_allclose(flow.distribution.log_prob(x).numpy(),
                                   flow.log_prob(x).numpy(), rtol=1e-4, atol=1e-3)
        samples, log_prob = flow.sample_and_log_prob(5, seed=3)
        assert samples.shape == (5, 8, 8, 1)
        np.testing.assert_allclose(log_prob.numpy(), flow.log_prob(samples).numpy(),
                                   rtol=1e-4, atol=1e-2)


def test_sampling_and_temperature(trained):
    flow = trained["glow"]
    cold = flow.sample(4, seed=5, temperature=1e-4).numpy()
    assert cold.shape == (4, 8, 8, 1)
    assert np.abs(cold - cold[:1]).max() < 0.05  # all near the image of z = 0
    warm = flow.sample(4, seed=5).numpy()
    assert np.abs(warm - warm[:1]).max() > 0.5
    with pytest.raises(ValueError, match="temperature"):
        flow.sample(2, temperature=0.0)


def test_float64_image_flow_trains(digits):
    flow = tfp_flows.glow(num_steps=1, learned_prior=False, dtype="float64",
                          **{**TINY, "seed": 1})
    flow.compile(keras.optimizers.Adam(1e-3))
    history = flow.fit(digits[0][:64], batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(w.dtype == "float64" for w in flow.weights)
    assert flow.log_prob(datasets.dequantize(digits[1][:2], 0, LEVELS)).dtype == tf.float64


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kind, bad, says", [
    ("real_nvp", dict(hidden_units=(8,)), "hidden_units applies to vector data"),
    ("glow", dict(num_layers=3), "num_layers applies to vector data"),
    ("real_nvp", dict(num_scales=5), "multiples of 16"),
    ("real_nvp", dict(num_scales=4), "too small for a checkerboard.*use num_scales <= 3"),
    ("glow", dict(num_scales=4), "use num_scales <= 3"),
    ("real_nvp", dict(event_shape=(1, 1, 1)),
     r"event_shape \(1, 1, 1\) is too small for real_nvp.*the smallest image is 1x2 or 2x1"),
    ("glow", dict(event_shape=(1, 1, 1)), "even height and width.*the smallest image is 2x2"),
    ("glow", dict(event_shape=(2, 6, 1), num_scales=2), "multiples of 4.*num_scales <= 1"),
    ("glow", dict(num_scales=4), "multiples of 16"),
    ("real_nvp", dict(num_levels=1), "num_levels"),
    ("glow", dict(num_steps=0), "num_steps"),
    ("real_nvp", dict(batch_norm="yes"), "batch_norm must be True or False"),
    ("real_nvp", dict(alpha=0.5), "alpha"),
    ("glow", dict(hidden_channels=2.5), "hidden_channels"),
])
def test_bad_image_arguments(kind, bad, says):
    with pytest.raises(ValueError, match=says):
        tfp_flows.build_flow(kind, **{**TINY, **bad})


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 3, 2), (2, 2, 1), (3, 5, 1)])
def test_shape_messages_never_ask_for_fewer_than_one_scale(shape):
    for kind in ("real_nvp", "glow"):
        try:
            flow = tfp_flows.build_flow(kind, event_shape=shape, num_levels=4,
                                        hidden_channels=2)
        except ValueError as error:
            assert "num_scales <= 0" not in str(error) and "smallest image" in str(error)
        else:
            assert flow.event_shape == shape


def test_image_arguments_on_vectors_and_odd_images_are_refused():
    with pytest.raises(ValueError, match="num_levels applies to images"):
        tfp_flows.real_nvp(event_shape=(4,), num_levels=17)
    with pytest.raises(ValueError, match="even height and width"):
        tfp_flows.glow(event_shape=(7, 8, 1), num_levels=17)
    with pytest.raises(ValueError, match="real_nvp or glow"):
        tfp_flows.maf(event_shape=(8, 8, 1))


# ----------------------------------------------------------------------------- processes
SAVE = '''
import json, keras, numpy as np
import tfp_flows
from tfp_flows import datasets
data = datasets.digits()
x = data.x_train[:64]
out = {}
for kind, extra in [("real_nvp", dict(num_blocks=0)), ("glow", dict(num_steps=1))]:
    flow = tfp_flows.build_flow(kind, event_shape=(8, 8, 1), num_levels=17, hidden_channels=4,
                                seed=0, **extra)
    flow.compile(keras.optimizers.Adam(1e-3))
    flow.fit(x, batch_size=32, epochs=1, verbose=0)
    flow.save(kind + ".keras")
    probe = datasets.dequantize(data.x_test[:8], 0, 17)
    np.save("probe.npy", probe)
    out[kind] = {"log_prob": flow.log_prob(probe).numpy().tolist(),
                 "sample": flow.sample(3, seed=7).numpy().tolist()}
json.dump(out, open("saved.json", "w"))
'''

LOAD = '''
import json, keras, numpy as np
import tfp_flows
probe = np.load("probe.npy")
out = {}
for kind in ("real_nvp", "glow"):
    flow = keras.models.load_model(kind + ".keras")
    before = flow.log_prob(probe).numpy()
    out[kind] = {"log_prob": before.tolist(), "sample": flow.sample(3, seed=7).numpy().tolist(),
                 "num_levels": flow.num_levels}
    flow.fit(tfp_flows.datasets.digits().x_train[64:128], batch_size=32, epochs=1, verbose=0)
    out[kind]["changed"] = bool(np.abs(flow.log_prob(probe).numpy() - before).max() > 0)
json.dump(out, open("loaded.json", "w"))
'''




def test_image_flows_save_and_load_in_a_fresh_process(tmp_path):
    run_python(SAVE, tmp_path)
    run_python(LOAD, tmp_path)
    saved = json.loads((tmp_path / "saved.json").read_text())
    loaded = json.loads((tmp_path / "loaded.json").read_text())
    for kind in ("real_nvp", "glow"):
        assert loaded[kind]["log_prob"] == saved[kind]["log_prob"]  # running stats included
        assert loaded[kind]["sample"] == saved[kind]["sample"]
        assert loaded[kind]["num_levels"] == 17 and loaded[kind]["changed"]
