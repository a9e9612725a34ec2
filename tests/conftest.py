"""Shared pytest set-up: quiet TensorFlow, a headless matplotlib, two logical CPUs.

The two logical CPU devices let the MirroredStrategy tests run on a one-CPU machine;
they must be configured before TensorFlow creates its devices, hence here.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
except RuntimeError:  # devices already initialised (e.g. by a doctest import)
    pass


@pytest.fixture
def rng():
    """A seeded NumPy generator, fresh for each test."""
    return np.random.default_rng(1234)


#: Runs ``tfp_flows_cli.main`` for each command of a JSON dict ``{key: argv}`` in one fresh
#: process; prints, per command, its exit status, stderr and whether TensorFlow was imported.
_CLI_RUNNER = """
import contextlib, io, json, sys
from tfp_flows_cli import main
results = {}
for key, argv in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(argv)
    results[key] = [status, err.getvalue(), "tensorflow" in sys.modules]
print(json.dumps(results))
"""


@pytest.fixture(scope="session")
def cli_env():
    """The environment of a ``tfp-flows`` subprocess: quiet TensorFlow, headless plots."""
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")


@pytest.fixture(scope="session")
def run_cli(cli_env):
    """``run_cli(folder, {key: argv})`` runs the ``tfp-flows`` commands in one fresh process
    in ``folder`` and returns ``{key: [exit status, stderr, TensorFlow imported]}``."""
    import json
    import subprocess
    import sys

    def run(folder, commands, timeout=300):
        done = subprocess.run([sys.executable, "-c", _CLI_RUNNER, json.dumps(commands)],
                              cwd=folder, capture_output=True, text=True, timeout=timeout,
                              env=cli_env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])   # after what the commands print

    return run
