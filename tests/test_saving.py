"""Saving in one process and loading in another, as users do.

Every builder, a flow whose conditioner is a user's Keras layer with a weight of its own
(``add_weight`` in ``build``, Real NVP's learned tanh scale), and a flow with fixed TFP
bijectors among its layers are trained and saved by one Python process; a second, fresh
process that imports only ``keras``, ``tfp_flows`` (and the user's module) loads each file,
must reproduce ``log_prob`` bit for bit, and must keep training from the saved optimizer state.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.processes import run_python

USER_MODULE = '''
import keras


@keras.saving.register_keras_serializable(package="user")
class TanhScaleNet(keras.layers.Layer):
    """Coupling conditioner with Real NVP's learned scale: s = scale * tanh(raw)."""

    def __init__(self, units=1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(8, activation="tanh")
        self.out = keras.layers.Dense(2 * units, kernel_initializer="zeros")

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

    def call(self, x):
        raw = keras.ops.reshape(self.out(self.hidden(x)), (-1, self.units, 2))
        return keras.ops.stack([raw[..., 0], self.scale * keras.ops.tanh(raw[..., 1])], -1)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
'''

SAVE = '''
import json, sys
import keras, numpy as np, tensorflow_probability as tfp
import tfp_flows
from tfp_flows.layers import CouplingLayer
from user_nets import TanhScaleNet

tfb = tfp.bijectors
keras.utils.set_random_seed(0)
x = tfp_flows.datasets.load_toy("moons", n_train=300)[0]
small = dict(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
flows = {name: tfp_flows.build_flow(name, **small) for name in tfp_flows.BUILDERS}
flows["nsf_ar"] = tfp_flows.nsf(autoregressive=True, **small)
flows["user_conditioner"] = tfp_flows.FlowModel(
    [CouplingLayer((2,), conditioner=TanhScaleNet(1)),
     CouplingLayer((2,), reverse_mask=True, conditioner=TanhScaleNet(1))],
    event_shape=(2,))
flows["fixed_bijectors"] = tfp_flows.FlowModel(
    [tfb.Shift([0.5, -0.5]), CouplingLayer((2,), hidden_units=(8,)),
     tfb.Chain([tfb.Scale(2.0), tfb.Permute([1, 0])])], event_shape=(2,))
out = {}
for name, flow in flows.items():
    flow.compile(keras.optimizers.Adam(1e-2))
    flow.fit(x, epochs=2, batch_size=100, verbose=0)
    flow.save(f"{name}.keras")
    out[name] = flow.log_prob(x[:20]).numpy().tolist()
np.save("x.npy", x[:20])
json.dump(out, open("saved.json", "w"))
'''

LOAD = '''
import json
import keras
import tfp_flows  # the only import a user needs (plus their own module)
import numpy as np
import user_nets  # noqa: F401  registers TanhScaleNet

x = np.load("x.npy")
out = {}
for name in json.load(open("saved.json")):
    model = keras.models.load_model(f"{name}.keras")
    xla = [model.xla_default, bool(model.jit_compile)]   # compile ran at load
    before = model.log_prob(x).numpy()
    model.fit(x, epochs=1, batch_size=10, verbose=0)  # the optimizer state came back too
    out[name] = {"log_prob": before.tolist(), "class": type(model).__name__,
                 "optimizer_steps": int(model.optimizer.iterations.numpy()),
                 "xla": xla,
                 "changed": bool(np.abs(model.log_prob(x).numpy() - before).max() > 0)}
json.dump(out, open("loaded.json", "w"))
'''


@pytest.fixture(scope="module")
def saved_and_loaded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("processes")
    (folder / "user_nets.py").write_text(USER_MODULE)
    run_python(SAVE, folder)
    run_python(LOAD, folder)
    return (json.loads((folder / "saved.json").read_text()),
            json.loads((folder / "loaded.json").read_text()))


NAMES = ["maf", "iaf", "real_nvp", "nice", "glow", "nsf", "nsf_ar", "user_conditioner",
         "fixed_bijectors"]


@pytest.mark.parametrize("name", NAMES)
def test_a_fresh_process_loads_and_reproduces_log_prob(saved_and_loaded, name):
    saved, loaded = saved_and_loaded
    assert loaded[name]["class"] == "FlowModel"
    np.testing.assert_array_equal(np.array(loaded[name]["log_prob"]), np.array(saved[name]))
    # 2 epochs x 3 batches before saving, then 2 batches after loading.
    assert loaded[name]["optimizer_steps"] == 6 + 2
    assert loaded[name]["changed"]
    # the builders' XLA choice (tfp_flows.xla) is saved and resolved again by compile
    xla = name in ("iaf", "nsf", "nsf_ar")
    assert loaded[name]["xla"] == [xla, xla]


RESUMABLE = '''
import sys, time
import keras, numpy as np
import tfp_flows

class Report(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        print(f"begin {epoch}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        print(f"end {epoch}", flush=True)
        time.sleep(0.3)  # leaves time to be killed between epochs, as a real run would

x = tfp_flows.datasets.load_toy("moons", n_train=300)[0]
flow = tfp_flows.real_nvp(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
flow.compile(keras.optimizers.Adam(1e-2))
flow.fit(x, epochs=12, batch_size=100, verbose=0,
         callbacks=[keras.callbacks.BackupAndRestore(sys.argv[1]), Report()])
flow.save(sys.argv[2])
print("finished", flush=True)
'''


def test_training_killed_with_sigkill_resumes_from_the_backup(tmp_path):
    """kill -9 during fit, then the same command again: training resumes where the backup
    left it (losing at most the epoch in progress) and finishes."""
    script = tmp_path / "train.py"
    script.write_text(RESUMABLE)
    backup, model = tmp_path / "backup", tmp_path / "model.keras"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, str(script), str(backup), str(model)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, env=env)
    finished_epochs = -1
    for line in first.stdout:
        if line.startswith("end "):
            finished_epochs = int(line.split()[1])
            if finished_epochs == 4:
                first.kill()  # SIGKILL: no clean-up of any kind
                break
    first.wait(timeout=60)
    assert first.returncode == -9 and finished_epochs == 4
    assert any(backup.iterdir()) and not model.exists()
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    begun = [int(line.split()[1]) for line in second.stdout.splitlines()
             if line.startswith("begin ")]
    assert begun and 4 <= begun[0] <= 5, begun  # resumed after the last finished epoch(s)
    assert begun[-1] == 11 and "finished" in second.stdout and model.exists()
