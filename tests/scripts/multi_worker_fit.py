"""One worker of a two-worker ``MultiWorkerMirroredStrategy`` run on 127.0.0.1, as a user runs
the same script on each machine (tests/test_multi_worker.py starts it).

Usage: ``python multi_worker_fit.py INDEX PORTS OUT [--epochs N] [--backup DIR]
[--pause SECONDS]``: worker ``INDEX`` of the cluster on ``127.0.0.1:PORT`` for each of the
comma-separated ``PORTS``. It fits a
MAF with a global batch of 64 and writes ``OUT/weights{INDEX}.npy``, the loss history in
``OUT/history{INDEX}.json`` and, after each epoch, ``OUT/epoch{INDEX}_{EPOCH}`` (``--pause``
waits that long after each epoch, so that a test can kill a worker mid-run).
"""
import argparse
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

import tfp_flows

BATCH_SIZE = 64


def data():
    return np.random.default_rng(0).normal(size=(512, 2)).astype("float32") * [1.0, 3.0] + 1.0


def fit(strategy, epochs, callbacks=()):
    """Builds the MAF inside ``strategy``'s scope and fits it; returns ``(flow, history)``."""
    with strategy.scope():
        flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(16,), seed=0)
        flow.compile(keras.optimizers.Adam(1e-2))
    history = flow.fit(data(), epochs=epochs, batch_size=BATCH_SIZE, shuffle=False, verbose=0,
                       callbacks=list(callbacks))
    return flow, history


def flat_weights(flow):
    return np.concatenate([w.numpy().ravel() for w in flow.trainable_weights])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("index", type=int)
    parser.add_argument("ports")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--backup", default=None)
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in args.ports.split(",")]},
        "task": {"type": "worker", "index": args.index}})
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            open(os.path.join(args.out, f"epoch{args.index}_{epoch + 1}"), "w").close()
            time.sleep(args.pause)

    callbacks = [Progress()]
    if args.backup:
        # Each worker keeps its own backup (the weights are the same on every worker).
        callbacks.insert(0, keras.callbacks.BackupAndRestore(
            os.path.join(args.backup, f"worker{args.index}")))
    flow, history = fit(strategy, args.epochs, callbacks)
    np.save(os.path.join(args.out, f"weights{args.index}.npy"), flat_weights(flow))
    with open(os.path.join(args.out, f"history{args.index}.json"), "w") as f:
        json.dump({"loss": history.history["loss"], "epochs": history.epoch}, f)


if __name__ == "__main__":
    main()
