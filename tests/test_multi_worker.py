"""FlowModel.fit under tf.distribute.MultiWorkerMirroredStrategy: two worker processes on
127.0.0.1 (TF_CONFIG), as the README's "Training on several machines" runs them."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.scripts.multi_worker_fit import fit, flat_weights

SCRIPT = Path(__file__).with_name("scripts") / "multi_worker_fit.py"
TIMEOUT = 240


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ",".join(map(str, ports))


def _start(index, ports, out, *extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    return subprocess.Popen([sys.executable, str(SCRIPT), str(index), ports, str(out),
                             *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(processes):
    for p in processes:
        try:
            _, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in processes:
                q.kill()
            pytest.fail("a worker did not finish in time")
        assert p.returncode == 0, err[-3000:]


def _kill_all(processes):
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.communicate()


def _reference(epochs):
    """The same fit in this process, one device, the same global batch."""
    flow, history = fit(tf.distribute.get_strategy(), epochs)
    return flat_weights(flow), history.history["loss"]


def _history(out, index):
    return json.loads((out / f"history{index}.json").read_text())


def test_two_workers_train_like_one_process_with_the_global_batch(tmp_path):
    ports = _free_ports(2)
    workers = [_start(i, ports, tmp_path) for i in (0, 1)]
    single, losses = _reference(2)
    _finish(workers)
    w0, w1 = (np.load(tmp_path / f"weights{i}.npy") for i in (0, 1))
    np.testing.assert_array_equal(w0, w1)  # all-reduced: the same weights everywhere
    np.testing.assert_allclose(w0, single, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(_history(tmp_path, 0)["loss"], losses, rtol=1e-5)


def test_a_one_worker_cluster_trains_like_one_process(tmp_path):
    """The multi-worker script on one machine (a cluster of one): one replica under the
    strategy, where apply inside tf.cond raised "merge_call called while defining a new
    graph" (issue 19)."""
    worker = _start(0, _free_ports(1), tmp_path)
    single, losses = _reference(2)
    _finish([worker])
    np.testing.assert_allclose(np.load(tmp_path / "weights0.npy"), single, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(_history(tmp_path, 0)["loss"], losses, rtol=1e-5)


def test_a_killed_worker_resumes_from_its_backup(tmp_path):
    """Kill worker 1 after its 2nd epoch of 5 (worker 0 then waits on it and is stopped too),
    restart both: training goes on from the last finished epoch and ends as an
    uninterrupted run does."""
    ports, backup = _free_ports(2), tmp_path / "backup"
    first = [_start(i, ports, tmp_path, "--epochs", "5", "--backup", str(backup),
                    "--pause", "1") for i in (0, 1)]
    deadline = time.time() + TIMEOUT
    while not (tmp_path / "epoch1_2").exists():
        assert time.time() < deadline and all(p.poll() is None for p in first), \
            [p.communicate()[1][-2000:] for p in first if p.poll() is not None]
        time.sleep(0.2)
    _kill_all(first[1:])
    time.sleep(1.0)
    _kill_all(first[:1])
    assert not (tmp_path / "weights0.npy").exists()
    done = {int(p.name.split("_")[1]) for p in tmp_path.glob("epoch0_*")}
    ports = _free_ports(2)
    second = [_start(i, ports, tmp_path, "--epochs", "5", "--backup", str(backup))
              for i in (0, 1)]
    single, _ = _reference(5)
    _finish(second)
    resumed = _history(tmp_path, 0)["epochs"]
    # Resumed after the last epoch both workers finished: at most the epoch in progress lost.
    assert resumed[0] >= 2 and resumed[0] >= max(done) - 1 and resumed[-1] == 4, (resumed, done)
    w0, w1 = (np.load(tmp_path / f"weights{i}.npy") for i in (0, 1))
    np.testing.assert_array_equal(w0, w1)
    np.testing.assert_allclose(w0, single, rtol=1e-4, atol=1e-5)  # as if never killed
