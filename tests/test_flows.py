"""Tests for the flow builders in tfp_flows.flows (maf, iaf, real_nvp, nice, glow, nsf).

Every flow is tiny (2 layers, 8 hidden units) and trained on 500 standardised two-moons
points; each builder is trained once (``_trained``) and shared by the tests that only read it.
"""
import functools
import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_flows
from tfp_flows import BUILDERS, FlowModel, build_flow, datasets
from tfp_flows.layers import CouplingLayer, InvertibleLinearLayer, PermuteLayer

tfd = tfp.distributions

NAMES = sorted(BUILDERS) + ["nsf_ar"]  # nsf_ar: nsf(autoregressive=True)
COMMON = {"event_shape", "num_layers", "hidden_units", "activation", "permutation",
          "base_distribution", "seed", "dtype", "log_scale_bound", "standardize", "context_size", "name"}
SMALL = dict(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
X = datasets.load_toy("moons", n_train=500)[0]
EPOCHS, BATCH = 3, 100


def make(name, **kwargs):
    kwargs = {**SMALL, **kwargs}
    if name == "nsf_ar":
        return tfp_flows.nsf(autoregressive=True, **kwargs)
    return build_flow(name, **kwargs)


class _WeightsAtEpochEnd(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.numpy().copy() for w in self.model.trainable_weights])


@functools.lru_cache(maxsize=None)
def _trained(name):
    """A flow trained for EPOCHS epochs, with its weights before and after each epoch."""
    keras.utils.set_random_seed(0)
    model = make(name)
    model.compile(keras.optimizers.Adam(1e-2))
    initial = [w.numpy().copy() for w in model.trainable_weights]
    record = _WeightsAtEpochEnd()
    history = model.fit(X, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0,
                        callbacks=[record])
    return model, initial, record.weights, history.history["loss"]


@pytest.fixture(scope="module", params=NAMES)
def name(request):
    return request.param


@pytest.fixture(scope="module")
def trained(name):
    return _trained(name)


def _perturb(model, scale=0.1, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(w.numpy() + scale * rng.normal(size=w.shape).astype(w.dtype))


# ----------------------------------------------------------------------------- shapes, sampling


def test_log_prob_and_sample_shapes(name):
    model = make(name)
    assert isinstance(model, FlowModel)
    log_prob = model.log_prob(X[:7])
    assert log_prob.shape == (7,) and log_prob.dtype == tf.float32
    np.testing.assert_array_equal(model(X[:7]).numpy(), log_prob.numpy())
    samples = model.sample(5, seed=(1, 2))
    assert samples.shape == (5, 2) and samples.dtype == tf.float32
    s, lp = model.sample_and_log_prob(4, seed=(1, 2))
    assert s.shape == (4, 2) and lp.shape == (4,)


def test_sample_and_log_prob_agrees_with_log_prob(trained):
    model = trained[0]
    samples, log_prob = model.sample_and_log_prob(200, seed=(3, 4))
    np.testing.assert_allclose(log_prob.numpy(), model.log_prob(samples).numpy(),
                               rtol=1e-4, atol=1e-4)
    # The same seed gives the same samples as sample().
    np.testing.assert_allclose(samples.numpy(), model.sample(200, seed=(3, 4)).numpy(),
                               rtol=1e-6, atol=1e-6)


def test_distribution_is_a_transformed_distribution_matching_the_model(trained):
    model = trained[0]
    dist = model.distribution
    # TFP's TransformedDistribution.__new__ returns its non-CompositeTensor base class
    # ``_TransformedDistribution`` when the bijector is not a CompositeTensor.
    assert isinstance(dist, tfd.Distribution)
    assert type(dist).__module__ == tfd.TransformedDistribution.__module__
    assert type(dist).__name__ in ("TransformedDistribution", "_TransformedDistribution")
    assert isinstance(dist.distribution, tfd.Distribution)
    assert isinstance(dist.bijector, tfp.bijectors.Bijector)
    assert len(dist.bijector.bijectors) == len(model.flow_layers)
    assert dist.event_shape == (2,)
    np.testing.assert_allclose(dist.log_prob(X[:100]).numpy(), model.log_prob(X[:100]).numpy(),
                               rtol=1e-5, atol=1e-5)
    seed = (5, 6)
    np.testing.assert_allclose(dist.sample(50, seed=seed).numpy(),
                               model.sample(50, seed=seed).numpy(), rtol=1e-5, atol=1e-5)
    # The trained flow is not the base distribution any more.
    base = model.base_distribution.log_prob(X[:100]).numpy()
    assert np.abs(base - model.log_prob(X[:100]).numpy()).max() > 1e-3


# ----------------------------------------------------------------------------- training


def test_gradients_reach_every_weight(name):
    model = make(name)
    weights = model.trainable_weights
    assert weights

    def grads():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(X[:100]))
        return tape.gradient(loss, weights)

    at_init = grads()  # zero-initialised output layers: inner grads may be zero, not None
    assert all(g is not None for g in at_init)
    assert any(np.any(g.numpy() != 0) for g in at_init)
    _perturb(model)
    perturbed = grads()
    zero = [w.path for w, g in zip(weights, perturbed) if g is None or not np.any(g.numpy() != 0)]
    assert zero == []


def test_one_epoch_changes_every_weight_and_loss_goes_down(trained):
    model, initial, per_epoch, losses = trained
    after_one = per_epoch[0]
    unchanged = [w.path for w, a, b in zip(model.trainable_weights, initial, after_one)
                 if np.array_equal(a, b)]
    assert unchanged == []
    assert len(losses) == EPOCHS and np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert np.all(np.diff(losses) < 0), losses


def test_save_and_load_reproduce_log_prob_exactly(trained, tmp_path):
    model = trained[0]
    path = tmp_path / "flow.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is FlowModel and loaded is not model
    assert [type(l) for l in loaded.flow_layers] == [type(l) for l in model.flow_layers]
    np.testing.assert_array_equal(loaded.log_prob(X).numpy(), model.log_prob(X).numpy())
    np.testing.assert_array_equal(loaded.sample(20, seed=(7, 8)).numpy(),
                                  model.sample(20, seed=(7, 8)).numpy())


def test_training_continues_after_loading(tmp_path):
    model, _, _, losses = _trained("real_nvp")
    path = tmp_path / "flow.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    # The optimizer comes back with its step count and its moment estimates.
    assert int(loaded.optimizer.iterations.numpy()) == EPOCHS * len(X) // BATCH
    saved_state = [v.numpy() for v in model.optimizer.variables]
    loaded_state = [v.numpy() for v in loaded.optimizer.variables]
    assert len(saved_state) == len(loaded_state) > 1
    for saved, restored in zip(saved_state, loaded_state):
        np.testing.assert_array_equal(restored, saved)
    before = [w.numpy().copy() for w in loaded.trainable_weights]
    history = loaded.fit(X, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    assert int(loaded.optimizer.iterations.numpy()) == (EPOCHS + 1) * len(X) // BATCH
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, loaded.trainable_weights))
    # It goes on from where it was, not from scratch (a fresh flow starts near 2.8 nats).
    assert history.history["loss"][0] < losses[0]
    assert abs(history.history["loss"][0] - losses[-1]) < 0.1
    # The original model is untouched by training the loaded one.
    np.testing.assert_array_equal(keras.models.load_model(path).log_prob(X).numpy(),
                                  model.log_prob(X).numpy())


# ----------------------------------------------------------------------------- float64


def test_float64_flow(name):
    model = make(name, dtype="float64")
    assert all(w.dtype == "float64" for w in model.weights)
    x64 = X[:50].astype("float64")
    log_prob = model.log_prob(x64)
    assert log_prob.dtype == tf.float64 and log_prob.shape == (50,)
    samples, lp = model.sample_and_log_prob(10, seed=(1, 2))
    assert samples.dtype == tf.float64 and lp.dtype == tf.float64
    assert model.distribution.log_prob(x64).dtype == tf.float64
    # With the weights of the trained float32 flow it computes the same density.
    reference = _trained(name)[0]
    model.set_weights([w.astype("float64") for w in reference.get_weights()])
    np.testing.assert_allclose(model.log_prob(x64).numpy(),
                               reference.log_prob(X[:50]).numpy(), rtol=1e-5, atol=1e-5)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(x64))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None and g.dtype == tf.float64 for g in grads)


def test_float64_flow_trains():
    model = make("real_nvp", dtype="float64")
    model.compile(keras.optimizers.Adam(1e-2))
    history = model.fit(X.astype("float64"), epochs=2, batch_size=BATCH, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(w.dtype == "float64" for w in model.weights)
    assert model.log_prob(X[:5]).dtype == tf.float64


# ----------------------------------------------------------------------------- signature, errors


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_builders_share_a_keyword_only_signature(kind):
    builder = BUILDERS[kind]
    params = inspect.signature(builder).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert COMMON <= set(params)
    if kind not in ("nsf", "real_nvp", "glow"):  # those three add their own keywords
        assert set(params) == COMMON
    with pytest.raises(TypeError):
        builder(2)
    model = builder(event_shape=(2,), num_layers=1, hidden_units=[4], activation="tanh",
                    permutation=None, base_distribution="normal", seed=1, dtype="float32",
                    log_scale_bound=3.0, name="my_flow")
    assert isinstance(model, FlowModel) and model.name == "my_flow"
    assert model.event_shape == (2,)
    assert not any(isinstance(l, PermuteLayer) for l in model.flow_layers)
    assert model.log_prob(X[:3]).shape == (3,)


@pytest.mark.parametrize("kind", ["maf", "real_nvp", "nsf"])
def test_random_permutation_is_reproducible(kind):
    def perms(seed):
        model = build_flow(kind, event_shape=6, num_layers=4, hidden_units=(8,),
                           permutation="random", seed=seed)
        return [l.permutation for l in model.flow_layers if isinstance(l, PermuteLayer)]

    first = perms(3)
    assert len(first) == 3
    assert all(sorted(p) == list(range(6)) for p in first)
    assert perms(3) == first
    assert perms(4) != first
    assert len({tuple(p) for p in first}) > 1  # a fresh draw between layers


def test_unknown_flow_name_lists_the_names():
    with pytest.raises(ValueError) as info:
        build_flow("not_a_flow", event_shape=2)
    message = str(info.value)
    assert "not_a_flow" in message
    assert all(kind in message for kind in BUILDERS)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("bad", [
    dict(event_shape=0), dict(event_shape=-2), dict(event_shape=(2, 2)),
    dict(event_shape="two"), dict(event_shape=()),
    dict(num_layers=0), dict(num_layers=-1),
    dict(hidden_units=()), dict(hidden_units=(0,)), dict(hidden_units=(8, -1)),
], ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()))
def test_bad_arguments_raise_value_error(kind, bad):
    with pytest.raises(ValueError, match=list(bad)[0]):
        build_flow(kind, **{**SMALL, **bad})


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("bad, says", [
    (dict(num_layers=2.5), "num_layers must be an integer >= 1, got 2.5"),
    (dict(num_layers=True), "num_layers must be an integer >= 1, got True"),
    (dict(hidden_units="64"), "hidden_units must be a sequence of positive integers"),
    (dict(hidden_units=(8.5,)), "hidden_units must be a sequence"),
    (dict(permutation="bogus"), "permutation must be 'reverse', 'random' or a sequence"),
    (dict(permutation=[0, 0]), r"expected a permutation of range\(2\)"),
    (dict(seed="abc"), "seed must be None, an integer >= 0"),
    (dict(seed=-1), "seed must be None, an integer >= 0"),
    (dict(dtype="int32"), "dtype must be a floating-point dtype such as 'float32', got 'int32'"),
    (dict(dtype="bogus"), "dtype must be a floating-point dtype"),
    (dict(log_scale_bound=0), "log_scale_bound must be a finite number > 0, got 0"),
    (dict(log_scale_bound=float("nan")), "log_scale_bound must be a finite number > 0"),
    (dict(log_scale_bound=-1.0), "log_scale_bound must be a finite number > 0"),
    (dict(activation="not_an_activation"), "activation must be a Keras activation name"),
    (dict(base_distribution="laplace"), "base_distribution must be one of"),
], ids=lambda v: "-".join(f"{k}={w}" for k, w in v.items()) if isinstance(v, dict) else "")
def test_arguments_that_would_be_coerced_or_fail_later_fail_now(kind, bad, says):
    with pytest.raises(ValueError, match=says):
        build_flow(kind, **{**SMALL, **bad})


def test_hidden_units_int_means_one_layer():
    flow = tfp_flows.real_nvp(**{**SMALL, "hidden_units": 8})
    assert flow.flow_layers[0].hidden_units == (8,)


def test_permutation_is_checked_even_in_one_dimension():
    with pytest.raises(ValueError, match="permutation must be"):
        tfp_flows.maf(event_shape=1, num_layers=2, hidden_units=(4,), permutation="bogus")
    assert tfp_flows.maf(event_shape=1, num_layers=2, hidden_units=(4,)).log_prob(
        np.zeros((3, 1), "float32")).shape == (3,)


@pytest.mark.parametrize("kind", ["real_nvp", "nice", "glow", "nsf"])
def test_coupling_flows_on_one_dimension_say_why(kind):
    with pytest.raises(ValueError, match=r"needs at least 2 dimensions .* use maf or iaf"):
        build_flow(kind, **{**SMALL, "event_shape": 1})


@pytest.mark.parametrize("bad, says", [
    (dict(num_bins=1), "num_bins must be an integer >= 2, got 1"),
    (dict(num_bins=4.5), "num_bins must be an integer >= 2"),
    (dict(bound=0), "bound must be a finite number > 0, got 0"),
    (dict(bound=float("inf")), "bound must be a finite number > 0"),
    (dict(autoregressive="yes"), "autoregressive must be True or False"),
])
def test_spline_arguments_fail_at_construction(bad, says):
    with pytest.raises(ValueError, match=says):
        tfp_flows.nsf(**{**SMALL, **bad})


def test_every_builder_documents_every_argument():
    """Shared keywords once in the module docstring, image keywords in the image functions'
    docstrings, the rest in the builder's own (which points to the other two)."""
    from tfp_flows import flows, image_flows

    for kind, builder in BUILDERS.items():
        image = getattr(image_flows, f"{kind}_image", None)
        assert "shared keywords of :mod:`tfp_flows.flows`" in builder.__doc__
        for parameter in inspect.signature(builder).parameters:
            documented = [f"\n      {parameter}:" in builder.__doc__,
                          parameter in COMMON and f"\n  {parameter}:" in flows.__doc__,
                          image is not None and f"\n      {parameter}:" in image.__doc__]
            assert any(documented), (kind, parameter)


def test_every_default_has_one_owner():
    """The builders' and FlowModel's base default is the one of tfp_flows.base_distributions;
    the image functions have no defaults of their own for the shared keywords."""
    from tfp_flows import base_distributions, image_flows

    defaults = [inspect.signature(b).parameters["base_distribution"].default
                for b in BUILDERS.values()]
    defaults.append(inspect.signature(FlowModel).parameters["base_distribution"].default)
    assert set(defaults) == {base_distributions.DEFAULT}
    for function in (image_flows.real_nvp_image, image_flows.glow_image):
        params = inspect.signature(function).parameters
        shared = [p for p in params if p in COMMON]
        assert shared and all(params[p].default is inspect.Parameter.empty for p in shared)
    for kind, builder in BUILDERS.items():
        assert builder(event_shape=2, num_layers=1, hidden_units=(4,)).name == kind


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_the_same_seed_gives_the_same_initial_weights(kind):
    """The builders' ``seed`` fixes every random initial weight (no global seed needed)."""
    def weights(seed, context_size=None):
        flow = BUILDERS[kind](event_shape=2, num_layers=2, hidden_units=(8,), seed=seed,
                              context_size=context_size)
        return [w.numpy() for w in flow.trainable_weights]

    for context_size in (None, 2):
        first, again = weights(5, context_size), weights(5, context_size)
        assert all(np.array_equal(a, b) for a, b in zip(first, again))
        assert not all(np.array_equal(a, b) for a, b in zip(first, weights(6, context_size)))


# ----------------------------------------------------------------------------- glow (vectors)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_vector_glow_starts_from_identity_maps_with_real_nvp_masks(num_layers):
    """Each invertible linear map starts as the identity, the masks alternate, and the
    data-side coupling conditions on the first half as real_nvp's does: a random rotation
    start made glow underfit 2-D data (BENCHMARKS.md, "Glow on small 2-D data")."""
    flow = tfp_flows.glow(event_shape=3, num_layers=num_layers, hidden_units=(4,), seed=0)
    linear = [l for l in flow.flow_layers if isinstance(l, InvertibleLinearLayer)]
    assert len(linear) == num_layers
    for layer in linear:
        assert layer.initializer == "identity" and len(layer.trainable_weights) == 3
        np.testing.assert_array_equal(layer.bijector().matrix().numpy(), np.eye(3))
    masks = [l.reverse_mask for l in flow.flow_layers if isinstance(l, CouplingLayer)]
    assert masks[-1] is False  # flow_layers run base -> data: the last is on the data side
    assert all(a != b for a, b in zip(masks, masks[1:]))
    nvp = tfp_flows.real_nvp(event_shape=3, num_layers=num_layers, hidden_units=(4,), seed=0)
    assert [l for l in nvp.flow_layers if isinstance(l, CouplingLayer)][-1].reverse_mask is False

