"""Base distributions (tfp_flows.base_distributions): names, one default, distribution objects,
and saving them across processes."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_flows
from tfp_flows import FlowModel
from tfp_flows.base_distributions import (
    DEFAULT,
    STUDENT_T_DF,
    deserialize_base,
    make_base,
    serialize_base,
)
from tfp_flows.layers import CouplingLayer
from tests.processes import run_python

tfd = tfp.distributions
SMALL = dict(event_shape=2, num_layers=1, hidden_units=(8,), seed=0)
X = np.random.default_rng(0).normal(size=(50, 2)).astype("float32")


def test_named_bases():
    normal, student = make_base("normal", (2,), "float32"), make_base("student_t", (3,), "float64")
    assert normal.event_shape == (2,) and normal.dtype == tf.float32
    assert student.event_shape == (3,) and student.dtype == tf.float64
    np.testing.assert_allclose(float(student.distribution.df), STUDENT_T_DF)
    assert FlowModel([CouplingLayer((2,), hidden_units=(4,))], (2,)).base_distribution_name \
        == DEFAULT


@pytest.mark.parametrize("base", [
    tfd.Sample(tfd.Laplace(0.0, 1.0), [2]),
    tfd.Independent(tfd.StudentT(3.0, [0.0, 1.0], [1.0, 2.0]), 1),
    tfd.MultivariateNormalDiag([0.5, 0.0], [1.0, 0.5]),
])
def test_a_distribution_object_is_the_base(base):
    flow = tfp_flows.maf(**SMALL, base_distribution=base)
    assert flow.base_distribution is base and flow.base_distribution_name is None
    identity = tfp_flows.maf(**SMALL, base_distribution=base, standardize=False)  # starts as z
    np.testing.assert_allclose(identity.log_prob(X).numpy(), base.log_prob(X).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert identity.sample(4, seed=1).shape == (4, 2)


@pytest.mark.parametrize("base, says", [
    (tfd.Normal(0.0, 1.0), r"event shape \(2,\) \(the flow's latent shape\), got batch shape "
                           r"\(\) and event shape \(\); wrap it"),
    (tfd.Normal([0.0, 0.0], 1.0), r"got batch shape \(2,\)"),
    (tfd.Sample(tfd.Normal(0.0, 1.0), [3]), r"event shape \(3,\)"),
    (tfd.Sample(tfd.Normal(np.float64(0), 1.0), [2]), "dtype float64, but the flow computes in "
                                                      "float32"),
    (tfd.Sample(tfd.Normal(tf.Variable(0.0), 1.0), [2]), "holds tf.Variables"),
    ("laplace", r"base_distribution must be one of \('normal', 'student_t'\) or a "
                "tfd.Distribution"),
    (None, "base_distribution must be one of"),
])
def test_bad_bases_are_refused_when_built(base, says):
    with pytest.raises(ValueError, match=says):
        tfp_flows.maf(**SMALL, base_distribution=base)


def test_image_flow_base_must_match_the_latent_shape():
    with pytest.raises(ValueError, match=r"event shape \(64,\)"):
        tfp_flows.real_nvp(event_shape=(8, 8, 1), num_levels=4, hidden_channels=2,
                           num_blocks=0, base_distribution=tfd.Sample(tfd.Normal(0.0, 1.0),
                                                                      [8, 8, 1]))


def test_serialisation_round_trip():
    for base in ("normal", "student_t", tfd.Sample(tfd.Laplace(1.0, 2.0), [2, 3]),
                 tfd.Independent(tfd.Normal(np.zeros((2, 2)), np.ones((2, 2))), 2)):
        config = serialize_base(base)
        assert json.loads(json.dumps(config)) == config
        again = deserialize_base(config)
        if isinstance(base, str):
            assert again == base
            continue
        assert type(again) is type(base) and again.event_shape == base.event_shape
        assert again.dtype == base.dtype
        x = base.sample(3, seed=(1, 2))
        np.testing.assert_array_equal(again.log_prob(x).numpy(), base.log_prob(x).numpy())


def test_an_unsaved_family_is_refused_with_the_fix(tmp_path):
    flow = tfp_flows.maf(**SMALL, base_distribution=tfd.Sample(tfd.Uniform(-4.0, 4.0), [2]))
    assert flow.log_prob(X[:3]).shape == (3,)  # usable in this process
    with pytest.raises(ValueError, match="cannot save a flow whose base_distribution is a "
                                         "Uniform.*save_weights"):
        flow.save(tmp_path / "flow.keras")


SAVE = '''
import json, numpy as np, tensorflow_probability as tfp, tfp_flows
tfd = tfp.distributions
x = np.random.default_rng(0).normal(size=(200, 2)).astype("float32")
out = {}
bases = {"laplace": tfd.Sample(tfd.Laplace(0.0, 1.0), [2]),
         "student": tfd.Independent(tfd.StudentT(4.0, [0.0, 0.5], [1.0, 2.0]), 1),
         "named": "student_t"}
for key, base in bases.items():
    flow = tfp_flows.real_nvp(event_shape=2, num_layers=2, hidden_units=(8,), seed=0,
                              base_distribution=base)
    flow.compile("adam")
    flow.fit(x, epochs=1, verbose=0)
    flow.save(key + ".keras")
    out[key] = flow.log_prob(x[:20]).numpy().tolist()
json.dump(out, open("saved.json", "w"))
'''

LOAD = '''
import json, keras, numpy as np, tfp_flows
x = np.random.default_rng(0).normal(size=(200, 2)).astype("float32")
out = {}
for key in ("laplace", "student", "named"):
    flow = keras.models.load_model(key + ".keras")
    out[key] = {"log_prob": flow.log_prob(x[:20]).numpy().tolist(),
                "base": type(flow.base_distribution).__name__,
                "inner": type(flow.base_distribution.distribution).__name__,
                "name": flow.base_distribution_name}
json.dump(out, open("loaded.json", "w"))
'''




def test_distribution_bases_save_and_load_in_a_fresh_process(tmp_path):
    run_python(SAVE, tmp_path)
    run_python(LOAD, tmp_path)
    saved = json.loads((tmp_path / "saved.json").read_text())
    loaded = json.loads((tmp_path / "loaded.json").read_text())
    for key in saved:
        assert loaded[key]["log_prob"] == saved[key], key
    assert (loaded["laplace"]["base"], loaded["laplace"]["inner"]) == ("Sample", "Laplace")
    assert (loaded["student"]["base"], loaded["student"]["inner"]) == ("Independent", "StudentT")
    assert loaded["named"]["name"] == "student_t" and loaded["laplace"]["name"] is None


def test_a_loaded_model_keeps_its_base_in_process(tmp_path):
    base = tfd.Sample(tfd.Laplace(0.0, 1.5), [2])
    flow = tfp_flows.nsf(**SMALL, base_distribution=base)
    flow.save(tmp_path / "flow.keras")
    loaded = keras.models.load_model(tmp_path / "flow.keras")
    np.testing.assert_array_equal(loaded.log_prob(X).numpy(), flow.log_prob(X).numpy())
