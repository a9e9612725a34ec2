"""tfp_flows.compat: Keras 3 drop-ins for TFP's Keras 2 flow networks.

Outputs equal to TFP's networks (under tf_keras) with copied weights, use inside stock TFP
bijectors, training through LogProb and FlowModel, saving and loading in a fresh process,
clear errors, and the migration guide's code."""
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_flows
from tfp_flows import compat
from tfp_flows.compat import (
    AutoregressiveNetwork,
    GlowDefaultExitNetwork,
    GlowDefaultNetwork,
    StockFlowLayer,
    real_nvp_default_template,
)
from tfp_flows.layers import LogProb, negative_log_likelihood

tfb, tfd = tfp.bijectors, tfp.distributions
ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "migrating_from_tfp.md"


def _data(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def _copy_stock_made(stock, kwargs, x, c=None):
    """A compat network with the stock network's weights (same creation order) and order."""
    kwargs = dict(kwargs)
    if kwargs.get("input_order") == "random":  # TFP draws it from NumPy's global generator
        kwargs["input_order"] = [int(i) for i in stock._input_order]
    mine = AutoregressiveNetwork(stock.params, **kwargs)
    mine(x) if c is None else mine(x, conditional_input=c)
    mine.set_weights(stock.get_weights())
    return mine


# -------------------------------------------------------------- AutoregressiveNetwork
MADE_CASES = {
    "left_to_right": dict(hidden_units=[6, 5], activation="relu"),
    "right_to_left": dict(hidden_units=[7], input_order="right-to-left", activation="tanh"),
    "explicit_order": dict(hidden_units=[6, 6], input_order=[2, 4, 1, 3], activation=tf.nn.relu),
    "random_order": dict(hidden_units=[8], input_order="random", activation="elu"),
    "no_hidden_no_bias": dict(hidden_units=None, use_bias=False),
    "conditional_all_layers": dict(hidden_units=[6, 6], event_shape=4, conditional=True,
                                   conditional_event_shape=2, activation="relu"),
    "conditional_first_layer": dict(hidden_units=[6, 6], event_shape=4, conditional=True,
                                    conditional_event_shape=2, activation="relu",
                                    conditional_input_layers="first_layer"),
}


@pytest.mark.parametrize("params", [1, 3])
@pytest.mark.parametrize("case", sorted(MADE_CASES))
def test_autoregressive_network_equals_stock_with_copied_weights(case, params, rng):
    kwargs = MADE_CASES[case]
    x, c = _data(rng, 5, 4), _data(rng, 5, 2)
    cond = {"conditional_input": c} if kwargs.get("conditional") else {}
    stock = tfb.AutoregressiveNetwork(params, **kwargs)
    expected = stock(x, **cond).numpy()
    mine = _copy_stock_made(stock, kwargs, x, cond.get("conditional_input"))
    got = mine(x, **cond)
    assert got.shape == (5, 4, params)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    # The same masks as TFP's.
    for stock_mask, mask in zip(stock._masks, mine._masks):
        mask = np.ones(stock_mask.shape) if mask is None else mask.numpy()
        np.testing.assert_array_equal(mask, stock_mask.astype(float))
    # One event (no batch) and broadcast batch shapes, as TFP's call.
    one = {k: v[0] for k, v in cond.items()}
    np.testing.assert_allclose(mine(x[0], **one), stock(x[0], **one), rtol=1e-6, atol=1e-6)
    if cond:
        xb = np.broadcast_to(x[:, None], (5, 3, 4))
        np.testing.assert_allclose(mine(xb, conditional_input=c[:, None]),
                                   stock(xb, conditional_input=c[:, None]), rtol=1e-6, atol=1e-6)


def test_autoregressive_network_is_autoregressive_with_random_hidden_degrees(rng):
    net = AutoregressiveNetwork(2, hidden_units=[8, 8], input_order="random",
                                hidden_degrees="random", activation="tanh", seed=3)
    x = tf.constant(_data(rng, 1, 4))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = net(x)[0, :, 0]
    jac = tape.jacobian(y, x)[:, 0].numpy()
    degrees = net.input_order
    allowed = degrees[None, :] < degrees[:, None]
    assert np.all(jac[~allowed] == 0)
    again = AutoregressiveNetwork.from_config(net.get_config())
    again(x)
    assert [m is None for m in again._masks] == [m is None for m in net._masks]
    for a, b in zip(again._masks, net._masks):
        if a is not None:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("conditional", [False, True])
def test_stock_maf_with_compat_network_equals_stock_maf(conditional, rng):
    kwargs = dict(hidden_units=[8, 8], activation="relu", event_shape=3)
    if conditional:
        kwargs.update(conditional=True, conditional_event_shape=2)
    x, c = _data(rng, 6, 3), _data(rng, 6, 2)
    bkw = {"conditional_input": c} if conditional else {}
    stock = tfb.AutoregressiveNetwork(2, **kwargs)
    stock_maf = tfb.MaskedAutoregressiveFlow(stock)
    y = stock_maf.forward(x, **bkw).numpy()
    mine = _copy_stock_made(stock, kwargs, x, c if conditional else None)
    for w in mine.trainable_weights:  # non-zero weights: a real test of the layout
        w.assign(w + 0.1 * rng.normal(size=w.shape).astype("float32"))
    for kernel, mask in zip(mine._kernels, mine._masks):
        if mask is not None:  # TFP keeps masked entries at zero (by a kernel constraint)
            kernel.assign(kernel * mask)
    stock.set_weights(mine.get_weights())
    maf = tfb.MaskedAutoregressiveFlow(mine)
    y = stock_maf.forward(x, **bkw).numpy()
    np.testing.assert_allclose(maf.forward(x, **bkw), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(maf.inverse(y, **bkw), x, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(maf.inverse_log_det_jacobian(y, 1, **bkw),
                               stock_maf.inverse_log_det_jacobian(y, 1, **bkw), rtol=1e-5)


# --------------------------------------------------------- real_nvp_default_template
@pytest.mark.parametrize("shift_only", [False, True])
def test_real_nvp_template_equals_stock_with_copied_weights(shift_only, rng):
    x = _data(rng, 5, 2)
    stock = tfb.real_nvp_default_template([4, 5], shift_only=shift_only)
    expected = stock(x, 3)
    mine = real_nvp_default_template([4, 5], shift_only=shift_only)
    mine(x, 3)
    by_name = {v.name.split("/", 1)[1]: v.numpy() for v in stock.variables}
    names = ["dense", "dense_1", "dense_2"]
    mine.set_weights([by_name[f"{n}/{w}:0"] for n in names for w in ("kernel", "bias")])
    got = mine(x, 3)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6, atol=1e-6)
    if shift_only:
        assert got[1] is None and expected[1] is None
    else:
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6, atol=1e-6)
    single = mine(x[0], 3)
    assert single[0].shape == (3,)
    # In stock RealNVP, against the stock template.
    z = _data(rng, 5, 5)
    ours = tfb.RealNVP(num_masked=2, shift_and_log_scale_fn=mine)
    theirs = tfb.RealNVP(num_masked=2, shift_and_log_scale_fn=stock)
    np.testing.assert_allclose(ours.forward(z), theirs.forward(z), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.forward_log_det_jacobian(z, 1),
                               theirs.forward_log_det_jacobian(z, 1), rtol=1e-5, atol=1e-6)


def test_real_nvp_template_builds_lazily_and_saves():
    fn = real_nvp_default_template([4], activation=tf.nn.tanh, kernel_initializer="zeros")
    assert not fn.weights
    tfb.RealNVP(num_masked=1, shift_and_log_scale_fn=fn).forward(tf.zeros([2, 3]))
    assert [tuple(w.shape) for w in fn.weights] == [(1, 4), (4,), (4, 4), (4,)]
    config = fn.get_config()
    assert config["activation"] == "tanh" and config["output_units"] == 2
    again = type(fn).from_config(config)
    again(tf.zeros([2, 1]), 2)
    assert [tuple(w.shape) for w in again.weights] == [tuple(w.shape) for w in fn.weights]


# ------------------------------------------------------------------- Glow networks
def test_glow_networks_match_stock_shapes_zero_init_and_outputs(rng):
    x = _data(rng, 2, 4, 4, 3)
    net = GlowDefaultNetwork((4, 4, 3), num_hidden=8, kernel_shape=3)
    stock = tfb.GlowDefaultNetwork((4, 4, 3), num_hidden=8, kernel_shape=3)
    assert [tuple(w.shape) for w in net.weights] == [tuple(w.shape) for w in stock.weights]
    out = net(x)
    assert out.shape == (2, 4, 4, 6) and float(tf.reduce_max(tf.abs(out))) == 0.0
    weights = [w + 0.1 * rng.normal(size=w.shape).astype("float32")
               for w in stock.get_weights()]
    stock.set_weights(weights)
    net.set_weights(weights)
    np.testing.assert_allclose(net(x), stock(x), rtol=1e-5, atol=1e-5)

    exit_net = GlowDefaultExitNetwork((4, 4, 3), output_chan=2)
    stock_exit = tfb.GlowDefaultExitNetwork((4, 4, 3), output_chan=2)
    assert [tuple(w.shape) for w in exit_net.weights] == [tuple(w.shape)
                                                         for w in stock_exit.weights]
    out = exit_net(x)
    assert out.shape == (2, 4, 4, 4) and float(tf.reduce_max(tf.abs(out))) == 0.0


def test_stock_glow_with_compat_networks_inverts_in_a_traced_call(rng):
    glow = compat.bijectors.Glow(
        output_shape=(4, 4, 2), num_glow_blocks=2, num_steps_per_block=1,
        coupling_bijector_fn=functools.partial(GlowDefaultNetwork, num_hidden=8))
    assert isinstance(glow, tfb.Glow)
    layers = glow._flatten(predicate=lambda v: isinstance(v, keras.layers.Layer),
                           expand_composites=False)
    assert {type(layer) for layer in layers} == {GlowDefaultNetwork, GlowDefaultExitNetwork}
    x = rng.uniform(size=(3, 4, 4, 2)).astype("float32")
    # An unknown batch size (as in Model.fit): stock TFP's Glow fails here (int64 shapes).
    inverse = tf.function(glow.inverse, input_signature=[tf.TensorSpec([None, 4, 4, 2])])
    z = inverse(x)
    assert z.shape == (3, 32)
    np.testing.assert_allclose(glow.forward(z), x, rtol=1e-4, atol=1e-4)


def test_compat_bijectors_namespace_is_tfps_with_the_networks_replaced():
    ns = compat.bijectors
    assert ns.MaskedAutoregressiveFlow is tfb.MaskedAutoregressiveFlow
    assert ns.RealNVP is tfb.RealNVP and ns.Chain is tfb.Chain
    assert ns.AutoregressiveNetwork is AutoregressiveNetwork
    assert ns.real_nvp_default_template is real_nvp_default_template
    assert ns.GlowDefaultNetwork is GlowDefaultNetwork
    assert "Permute" in dir(ns) and "AutoregressiveNetwork" in dir(ns)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchBijector'"):
        ns.NoSuchBijector  # noqa: B018


# ------------------------------------------------------------ training through LogProb
def _log_prob_model(distribution, event_shape):
    inputs = keras.Input(event_shape)
    model = keras.Model(inputs, LogProb(distribution)(inputs))  # builds the networks
    model.compile(keras.optimizers.Adam(0.01), loss=negative_log_likelihood)
    return model


def _fit(model, x, epochs=3):
    history = model.fit(x, np.zeros((len(x), 0)), batch_size=64, epochs=epochs, verbose=0)
    return history.history["loss"]


def test_maf_and_real_nvp_train_through_log_prob_and_fit(rng):
    x = _data(rng, 256, 2) * [1.0, 3.0] + [0.0, 2.0]
    made = AutoregressiveNetwork(2, hidden_units=[8], activation="relu")
    template = real_nvp_default_template([8])
    bijector = tfb.Chain([tfb.MaskedAutoregressiveFlow(made), tfb.Permute([1, 0]),
                          tfb.RealNVP(num_masked=1, shift_and_log_scale_fn=template)])
    dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), [2]), bijector)
    model = _log_prob_model(dist, (2,))
    before = [w.numpy().copy() for w in made.trainable_weights + template.trainable_weights]
    assert len(model.trainable_weights) == len(before) == 8
    losses = _fit(model, x)
    assert losses[-1] < losses[0]
    after = made.trainable_weights + template.trainable_weights
    assert all(not np.array_equal(a, b.numpy()) for a, b in zip(before, after))


def test_glow_trains_through_log_prob_and_fit(rng):
    glow = compat.bijectors.Glow(
        output_shape=(4, 4, 2), num_glow_blocks=1, num_steps_per_block=1,
        coupling_bijector_fn=functools.partial(GlowDefaultNetwork, num_hidden=8))
    dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), [32]), glow)
    x = (rng.uniform(size=(128, 4, 4, 2)) * [0.2, 1.0]).astype("float32")
    losses = _fit(_log_prob_model(dist, (4, 4, 2)), x)
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


# ------------------------------------------------ FlowModel, save, fresh-process load
def _flows():
    """Small stock chains made with the compat networks, in FlowModels."""
    normal = tfd.Sample(tfd.Normal(0.0, 1.0), [2])
    maf_iaf = tfb.Chain([
        tfb.MaskedAutoregressiveFlow(AutoregressiveNetwork(2, hidden_units=[8],
                                                           activation="relu")),
        tfb.Permute([1, 0]),
        tfb.Invert(tfb.MaskedAutoregressiveFlow(AutoregressiveNetwork(
            2, hidden_units=[8], input_order="random", hidden_degrees="random"))),
    ])
    nvp = tfb.Chain([
        tfb.RealNVP(num_masked=1, shift_and_log_scale_fn=real_nvp_default_template([8])),
        tfb.Permute([1, 0]),
        tfb.RealNVP(num_masked=1, shift_and_log_scale_fn=real_nvp_default_template(
            [8], shift_only=True, activation="tanh")),
    ])
    conditional = tfb.MaskedAutoregressiveFlow(AutoregressiveNetwork(
        2, event_shape=2, conditional=True, conditional_event_shape=1, hidden_units=[8]))
    glow = compat.bijectors.Glow(
        output_shape=(4, 4, 2), num_glow_blocks=2, num_steps_per_block=1,
        coupling_bijector_fn=functools.partial(GlowDefaultNetwork, num_hidden=8), seed=1)
    return {
        "maf_iaf": tfp_flows.FlowModel([StockFlowLayer(maf_iaf, (2,))], (2,),
                                       base_distribution=normal),
        "real_nvp": tfp_flows.FlowModel([StockFlowLayer(nvp, (2,))], (2,)),
        "conditional": tfp_flows.FlowModel([StockFlowLayer(conditional, (2,))], (2,),
                                           context_size=1),
        "glow": tfp_flows.FlowModel([StockFlowLayer(glow, (4, 4, 2))], (4, 4, 2)),
    }


_LOADER = """
import json, sys
import numpy as np
import keras
import tensorflow_probability  # noqa: F401
import tfp_flows  # noqa: F401
out = {}
for name, (path, x, c) in json.loads(sys.argv[1]).items():
    flow = keras.models.load_model(path)
    kw = {} if c is None else {"context": np.asarray(c, "float32")}
    out[name] = flow.log_prob(np.asarray(x, "float32"), **kw).numpy().tolist()
    draws = flow.sample(len(x), seed=0, **kw).numpy()
    event = np.shape(x)[1:]
    assert draws.shape[-len(event):] == event and np.isfinite(draws).all(), name
print(json.dumps(out))
"""


def test_stock_flows_in_flow_models_fit_save_and_load_in_a_fresh_process(tmp_path, rng):
    data = {"maf_iaf": _data(rng, 256, 2) * [1.0, 2.0], "real_nvp": _data(rng, 256, 2) + 1.0,
            "conditional": _data(rng, 256, 2), "glow": rng.uniform(size=(64, 4, 4, 2))}
    context = rng.uniform(size=(256, 1)).astype("float32")
    data["conditional"] += 3 * context
    jobs, expected = {}, {}
    for name, flow in _flows().items():
        x = data[name].astype("float32")
        c = context if name == "conditional" else None
        kw = {} if c is None else {"context": c}
        weights = [w.numpy().copy() for w in flow.trainable_weights]
        flow.compile(keras.optimizers.Adam(0.01))
        flow.fit(x, epochs=1, batch_size=64, verbose=0, **kw)
        assert any(not np.array_equal(a, b.numpy())
                   for a, b in zip(weights, flow.trainable_weights)), name
        few = {} if c is None else {"context": c[:4]}
        expected[name] = flow.log_prob(x[:4], **few).numpy()
        assert np.isfinite(expected[name]).all(), name
        path = str(tmp_path / f"{name}.keras")
        flow.save(path)
        jobs[name] = [path, x[:4].tolist(), None if c is None else c[:4].tolist()]
    done = subprocess.run([sys.executable, "-c", _LOADER, json.dumps(jobs)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    for name, values in expected.items():
        np.testing.assert_allclose(loaded[name], values, rtol=1e-5, atol=1e-4, err_msg=name)


def test_stock_flow_layer_uses_the_networks_it_was_given(rng):
    made = AutoregressiveNetwork(2, hidden_units=[8], activation="relu")
    maf = tfb.MaskedAutoregressiveFlow(made)
    layer = StockFlowLayer(maf, (3,))
    assert layer.networks[0] is made and layer.context_size is None
    for w in made.trainable_weights:
        w.assign(0.1 * rng.normal(size=w.shape).astype("float32"))
    x = _data(rng, 4, 3)
    np.testing.assert_allclose(layer.bijector().inverse(x), maf.inverse(x), rtol=1e-6)
    # Eager calls after a weight change see the new weights (no stale TFP cache).
    x = tf.constant(x)
    first = layer.bijector().inverse(x).numpy()
    made.trainable_weights[-1].assign_add(tf.ones_like(made.trainable_weights[-1]))
    assert not np.allclose(layer.bijector().inverse(x), first)


# -------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("kwargs, match", [
    (dict(params=0), "params must be an integer >= 1"),
    (dict(params=2, conditional=True, conditional_event_shape=1), "`event_shape` must be"),
    (dict(params=2, event_shape=2, conditional=True), "`conditional_event_shape` must be"),
    (dict(params=2, conditional_event_shape=2), "`conditional` is set to False"),
    (dict(params=2, event_shape=(2, 2)), "rank-1 shape"),
    (dict(params=2, input_order="up"), "input_order must be one of"),
    (dict(params=2, event_shape=3, input_order=[0, 1, 2]), "permutation of the degrees 1..3"),
    (dict(params=2, hidden_degrees="even"), "hidden_degrees must be"),
    (dict(params=2, hidden_units=[4, 0]), "hidden_units must be"),
    (dict(params=2, event_shape=2, conditional=True, conditional_event_shape=1,
          conditional_input_layers="last"), "conditional_input_layers must be"),
    (dict(params=2, activation="no_such_activation"), "activation must be"),
])
def test_autoregressive_network_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        AutoregressiveNetwork(**kwargs)


def test_autoregressive_network_rejects_bad_calls():
    net = AutoregressiveNetwork(2, event_shape=3)
    with pytest.raises(ValueError, match="Expected 3, but got 4"):
        net(tf.zeros([1, 4]))
    with pytest.raises(ValueError, match="conditional=False"):
        net(tf.zeros([1, 3]), conditional_input=tf.zeros([1, 1]))
    cond = AutoregressiveNetwork(2, event_shape=3, conditional=True, conditional_event_shape=2)
    with pytest.raises(ValueError, match="`conditional_input` must be passed"):
        cond(tf.zeros([1, 3]))
    cond(tf.zeros([1, 3]), conditional_input=tf.zeros([1, 2]))
    with pytest.raises(ValueError, match=re.escape("shape [..., 2]")):
        cond(tf.zeros([1, 3]), conditional_input=tf.zeros([1, 5]))


def test_real_nvp_template_and_glow_networks_reject_bad_arguments():
    with pytest.raises(TypeError, match="by keyword"):
        real_nvp_default_template([4], False, tf.nn.relu, None, True)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        real_nvp_default_template([4], reuse=True)
    with pytest.raises(ValueError, match="hidden_layers"):
        real_nvp_default_template(4)
    fn = real_nvp_default_template([4])
    with pytest.raises(NotImplementedError, match="Conditioning not implemented"):
        fn(tf.zeros([1, 2]), 2, context=tf.zeros([1, 1]))
    fn(tf.zeros([1, 2]), 2)
    with pytest.raises(ValueError, match="one template per RealNVP layer"):
        fn(tf.zeros([1, 2]), 3)
    with pytest.raises(ValueError, match="is for images: input_shape must be"):
        GlowDefaultNetwork((4, 4))
    with pytest.raises(ValueError, match="output_chan must be"):
        GlowDefaultExitNetwork((4, 4, 2), output_chan=0)
    def identity(x):
        return x

    with pytest.raises(ValueError, match="cannot save the activation"):
        real_nvp_default_template([4], activation=identity).get_config()


def test_stock_flow_layer_rejects_what_it_cannot_save():
    with pytest.raises(ValueError, match="Keras 2"):  # TFP's own (tf_keras) network
        StockFlowLayer(tfb.MaskedAutoregressiveFlow(tfb.AutoregressiveNetwork(2)), (2,))
    net = AutoregressiveNetwork(2, hidden_units=[4])
    with pytest.raises(ValueError, match="Python function"):
        StockFlowLayer(tfb.MaskedAutoregressiveFlow(lambda x: net(x)), (2,))
    with pytest.raises(ValueError, match="tf.Variable"):
        StockFlowLayer(tfb.Chain([tfb.MaskedAutoregressiveFlow(net),
                                  tfb.Shift(tf.Variable([0.0, 0.0]))]), (2,))
    with pytest.raises(TypeError, match="expects a tfb.Bijector"):
        StockFlowLayer(net, (2,))
    a = AutoregressiveNetwork(2, event_shape=2, conditional=True, conditional_event_shape=1)
    b = AutoregressiveNetwork(2, event_shape=2, conditional=True, conditional_event_shape=3)
    with pytest.raises(ValueError, match="different sizes"):
        StockFlowLayer(tfb.Chain([tfb.MaskedAutoregressiveFlow(a),
                                  tfb.MaskedAutoregressiveFlow(b)]), (2,))
    layer = StockFlowLayer(tfb.MaskedAutoregressiveFlow(a), (2,))
    with pytest.raises(ValueError, match="needs a context"):
        layer.bijector()


# ------------------------------------------------------------------ the migration guide
def test_migration_guide_code_runs(tmp_path, monkeypatch):
    """Every python block of docs/migrating_from_tfp.md, in order, in one namespace."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{GUIDE.name}[{i}]", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "maf.keras").is_file()


def test_migration_guide_table_names_every_replaced_network():
    text = GUIDE.read_text()
    for name in ("AutoregressiveNetwork", "real_nvp_default_template", "GlowDefaultNetwork",
                 "GlowDefaultExitNetwork", "BatchNormalization", "StockFlowLayer", "LogProb"):
        assert name in text, name
