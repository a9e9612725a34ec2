"""Serving a flow (issue 21): flow.export writes a SavedModel whose log_prob and sample
endpoints TensorFlow alone loads and runs, in a process where tfp_flows and TensorFlow
Probability cannot be imported; TFLite converts the vector flows' log_prob."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import tfp_flows

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 2)).astype("float32")
C = RNG.normal(size=(64, 3)).astype("float32")
PIXELS = RNG.integers(0, 5, size=(16, 4, 4, 1))
TINY = dict(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)

# A fresh process that cannot import tfp_flows or TensorFlow Probability: only TensorFlow.
TF_ONLY = textwrap.dedent("""
    import json, sys
    import numpy as np

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tfp_flows", "tensorflow_probability", "tf_keras"):
                raise ImportError(f"{name} is blocked: TensorFlow alone must serve the flow")

    sys.meta_path.insert(0, Blocker())
    import tensorflow as tf

    out = {}
    for name, spec in json.load(open("cases.json")).items():
        served = tf.saved_model.load(name)
        inputs = {k: np.load(f"{name}_{k}.npy") for k in spec["inputs"]}
        out[name] = {
            "log_prob": served.log_prob(**inputs)["log_prob"].numpy().tolist(),
            "default": served.signatures["serving_default"](**{
                k: tf.constant(v) for k, v in inputs.items()})["log_prob"].numpy().tolist(),
            "samples": served.sample(num_samples=7, seed=[1, 2], **{
                k: v[:2] for k, v in inputs.items() if k == "context"})["samples"].numpy()
            .tolist(),
        }
        out[name]["again"] = served.sample(num_samples=7, seed=[1, 2], **{
            k: v[:2] for k, v in inputs.items() if k == "context"})["samples"].numpy().tolist()
    json.dump(out, open("served.json", "w"))
    print("blocked:", "tensorflow_probability" not in sys.modules)
""")


def _fitted(flow, x, **kwargs):
    """A trained flow (Keras's own export refused one even after fit): one short epoch."""
    flow.compile("adam")
    flow.fit(x, epochs=1, batch_size=32, verbose=0, **kwargs)
    return flow


def _initialized(flow, x, context=None):
    flow.initialize_from_data(x, context)
    return flow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    cases = {
        "maf": (_fitted(tfp_flows.maf(**TINY), X), {"x": X[:5]}),
        "nsf": (_initialized(tfp_flows.nsf(**TINY), X), {"x": X[:5]}),
        "conditional": (_initialized(tfp_flows.real_nvp(context_size=3, **TINY), X, C),
                        {"x": X[:5], "context": C[:5]}),
        "images": (_initialized(tfp_flows.real_nvp(event_shape=(4, 4, 1), num_levels=5,
                                                   num_scales=2, hidden_channels=4,
                                                   num_blocks=1, seed=0), PIXELS + 0.5),
                   {"x": PIXELS[:3].astype("float32") + 0.5}),
    }
    for name, (flow, inputs) in cases.items():
        flow.export(folder / name)
        for key, value in inputs.items():
            np.save(folder / f"{name}_{key}.npy", value)
    (folder / "cases.json").write_text(json.dumps(
        {name: {"inputs": sorted(inputs)} for name, (_, inputs) in cases.items()}))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", TF_ONLY], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "blocked: True" in done.stdout
    return cases, json.loads((folder / "served.json").read_text()), folder


@pytest.mark.parametrize("name", ["maf", "nsf", "conditional", "images"])
def test_tensorflow_alone_serves_log_prob_and_sample(exported, name):
    cases, served, _ = exported
    flow, inputs = cases[name]
    expected = flow.log_prob(inputs["x"], context=inputs.get("context")).numpy()
    np.testing.assert_allclose(served[name]["log_prob"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served[name]["default"], expected, rtol=1e-5, atol=1e-5)
    samples = np.asarray(served[name]["samples"])
    shape = (7, 2) + tuple(flow.event_shape) if name == "conditional" else \
        (7,) + tuple(flow.event_shape)
    assert samples.shape == shape and np.isfinite(samples).all()
    np.testing.assert_array_equal(samples, served[name]["again"])   # a seed repeats
    if name == "images":
        assert samples.min() >= 0 and samples.max() < 5


def _converter(folder, name):
    return tf.lite.TFLiteConverter.from_saved_model(str(folder / name),
                                                    signature_keys=["log_prob"])


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
def test_tflite_converts_log_prob_with_its_builtin_ops(exported):
    """MAF's, the spline flow's (its bin search is a comparison and a sum, no UpperBound)
    and Real NVP's (conditional too) log_prob convert to TFLite's built-in ops and give the
    flow's numbers."""
    cases, _, folder = exported
    for name in ("maf", "nsf", "conditional"):
        flow, inputs = cases[name]
        interpreter = tf.lite.Interpreter(model_content=_converter(folder, name).convert())
        got = interpreter.get_signature_runner("log_prob")(**inputs)["log_prob"]
        expected = flow.log_prob(inputs["x"], context=inputs.get("context"))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_export_refuses_what_it_cannot_do(tmp_path):
    flow = tfp_flows.maf(**TINY)
    with pytest.raises(ValueError, match="initialise from data"):
        flow.export(tmp_path / "unfitted")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    flow.initialize_from_data(X)
    with pytest.raises(ValueError, match="not an empty directory"):
        flow.export(tmp_path / "full")
    with pytest.raises(ValueError, match="format='tf_saved_model'"):
        flow.export(tmp_path / "lite", format="tflite")
