"""Image flows against normflows (PyTorch, CPU, 2 threads), the peer users would pick: training
and sampling images/s, and test bits/dim after the same wall-clock budget (issue 22).

For each flow of ``--flows``, on scikit-learn's 8x8 digits (17 levels, the split of
images.py), ours trains first, then normflows_images.py in its own venv (``--python``), one
after the other, each for ``--minutes``:

* glow: ``tfp_flows.glow(hidden_channels=32, num_steps=4, num_scales=2)`` against normflows'
  ``MultiscaleFlow`` of ``GlowBlock``s (2 levels of 4, 32 hidden channels);
* real_nvp: ``tfp_flows.real_nvp(hidden_channels=24, num_blocks=1, num_scales=2)`` against a
  normflows ``MultiscaleFlow`` of ``AffineCouplingBlock``s in the same layout (``ConvResidualNet``
  conditioners, 24 hidden channels, 1 residual block).

Both: logit preprocessing with alpha = 1e-6, uniform dequantisation afresh every epoch,
Adam(2e-3), batches of 64, all training images, no validation split, no moving average, no
early stopping, no schedule (ours: ``fit_flow(schedule="constant", patience=None)`` with its
``time_budget``). With ``--validation 0.1`` the last 10 % of the training images are held out
(the same images for both), each library scores them after every full epoch and ends with the
weights of its best epoch (ours: ``fit_flow``'s ``validation_data``; the rest unchanged).
Training images/s is the median over the full epochs after the first (the first, where ours
traces and compiles, is reported alone; the JSON also has
``overall_images_per_s``, all images trained over the whole budget); sampling images/s is
the median of 3 draws of 1,000 images after 5 warm-up draws (ours: by then the compiled
pass of :mod:`tfp_flows.graph_mode`); test bits/dim = ``-log p(x + u) /
(D ln 2)`` over the test images, averaged over ``--draws`` draws of ``u``. The ratio is
ours / normflows. The machine's load average is printed before each run: the numbers mean
little on a busy machine (PyTorch's two threads slow down many times when another process
competes for the cores).

    python -m venv /work/torch-venv
    /work/torch-venv/bin/pip install torch==2.13.0+cpu normflows numpy
    python benchmarks/images_vs_normflows.py --minutes 10 --json images_vs_normflows.json
    python benchmarks/images_vs_normflows.py --minutes 10 --validation 0.1     # best epochs
    python benchmarks/images_vs_normflows.py --minutes 0.5 --flows glow     # a quick check
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from common import machine
from images import ALPHAS, load

import keras  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows.training import bits_per_dim, fit_flow  # noqa: E402

#: Our settings (BENCHMARKS.md, "Image flows") and normflows_images.py's matching options.
OURS = {"glow": dict(hidden_channels=32, num_steps=4, num_scales=2),
        "real_nvp": dict(hidden_channels=24, num_blocks=1, num_scales=2)}
PEER = {"glow": ["--hidden", "32", "--steps", "4", "--levels", "2"],
        "real_nvp": ["--hidden", "24", "--blocks", "1", "--levels", "2"]}
BATCH, RATE, SAMPLES = 64, 2e-3, 1000
HERE = os.path.dirname(os.path.abspath(__file__))


class EpochTimer(keras.callbacks.Callback):
    """(batches, seconds of training) of every epoch, the last one cut short by the budget
    included; the validation pass after an epoch is not counted (nor is normflows' validation)."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.began, self.batches = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches, self.trained = self.batches + 1, time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):  # the training part: validation comes before
        self.epochs.append((self.batches, self.trained - self.began))


def ours(kind, x_train, x_test, levels, seconds, draws, seed, validation=0):
    flow = tfp_flows.build_flow(kind, event_shape=x_train.shape[1:], num_levels=levels,
                                alpha=ALPHAS["digits"], seed=seed, **OURS[kind])
    timer = EpochTimer()
    held_out = {"validation_data": x_train[len(x_train) - validation:]} if validation else \
        {"validation_split": 0.0}
    x_train = x_train[:len(x_train) - validation]
    history = fit_flow(flow, x_train, epochs=10 ** 6, batch_size=BATCH, learning_rate=RATE,
                       schedule="constant", patience=None, time_budget=seconds,
                       callbacks=[timer], **held_out)
    per_epoch = math.ceil(len(x_train) / BATCH)
    full = [len(x_train) / s for n, s in timer.epochs[1:] if n == per_epoch]
    seen = sum(len(x_train) if n == per_epoch else BATCH * n for n, _ in timer.epochs)
    test = bits_per_dim(flow, x_test, levels, num_draws=draws, seed=seed)
    for i in range(5):   # warm-up: eager calls, then (tfp_flows.graph_mode) the traced pass
        flow.sample(SAMPLES, seed=seed + 100 + i)
    rates = []
    for i in range(3):
        began = time.perf_counter()
        images = flow.sample(SAMPLES, seed=seed + i).numpy()
        rates.append(SAMPLES / (time.perf_counter() - began))
    return {"library": "tfp_flows", "flow": kind, "weights": flow.count_params(),
            "train_images_per_s": float(np.median(full)) if full else None,
            "first_epoch_s": timer.epochs[0][1], "epochs": len(timer.epochs),
            "train_seconds": history.seconds, "stopped_by": history.stopped_by,
            "validation_images": validation,
            "best_epoch": history.best_epoch if validation else None,
            "overall_images_per_s": seen / history.seconds,
            "sample_images_per_s": float(np.median(rates)),
            "samples_finite": bool(np.isfinite(images).all()),
            "test_bits_per_dim": test.value, "std_error": test.std_error}


def normflows(kind, data, python, seconds, draws, seed, validation=0, threads=2):
    command = [python, os.path.join(HERE, "normflows_images.py"), "--data", data, "--flow",
               kind, "--seconds", str(seconds), "--draws", str(draws), "--seed", str(seed),
               "--alpha", str(ALPHAS["digits"]), "--batch-size", str(BATCH),
               "--learning-rate", str(RATE), "--sample-size", str(SAMPLES),
               "--threads", str(threads), "--validation", str(validation)] + PEER[kind]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def table(results):
    head = ("| flow | library | weights | train images/s (median) | first epoch s | epochs | "
            "sample images/s | test bits/dim |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for kind, pair in results.items():
        for r in pair.values():
            lines.append(f"| {kind} | {r['library']} | {r['weights']:,} | "
                         f"{_fmt(r['train_images_per_s'], '.0f')} | {r['first_epoch_s']:.1f} | "
                         f"{r['epochs']} | {r['sample_images_per_s']:.0f} | {r['test_bits_per_dim']:.3f} "
                         f"± {r['std_error']:.3f} |")
        a, b = pair["tfp_flows"], pair["normflows"]
        train = (a["train_images_per_s"] / b["train_images_per_s"]
                 if a["train_images_per_s"] and b["train_images_per_s"] else None)
        lines.append(f"| {kind} | **ours / normflows** | {a['weights'] / b['weights']:.2f} | "
                     f"**{_fmt(train, '.2f')}** | | | "
                     f"{a['sample_images_per_s'] / b['sample_images_per_s']:.2f} | "
                     f"{a['test_bits_per_dim'] - b['test_bits_per_dim']:+.3f} (difference) |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per run")
    parser.add_argument("--flows", default="real_nvp,glow")
    parser.add_argument("--python", default="/work/torch-venv/bin/python",
                        help="a Python with torch and normflows")
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the results to this file")
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--validation", type=float, default=0.0,
                        help="fraction of the training images held out (the last ones, the "
                             "same for both); each library then ends with the weights of its "
                             "epoch with the best validation loss")
    args = parser.parse_args()
    x_train, x_test, levels = load("digits")
    seconds = args.minutes * 60.0
    validation = int(round(args.validation * len(x_train)))
    print(f"# digits: {len(x_train)} train / {len(x_test)} test images, {levels} levels; "
          f"{args.minutes:g} min per run; {machine()}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "digits.npz")
        np.savez(data, x_train=x_train, x_test=x_test, num_levels=levels)
        for kind in args.flows.split(","):
            results[kind] = {}
            for name, run in (("tfp_flows", lambda: ours(kind, x_train, x_test, levels,
                                                          seconds, args.draws, args.seed,
                                                          validation)),
                              ("normflows", lambda: normflows(kind, data, args.python, seconds,
                                                              args.draws, args.seed,
                                                              validation, args.torch_threads))):
                load_avg = os.getloadavg()[0]
                r = results[kind][name] = {**run(), "load_before": load_avg}
                print(f"{kind} {name} (load {load_avg:.1f} before): "
                      f"{_fmt(r['train_images_per_s'], '.0f')} train images/s over "
                      f"{r['epochs']} epochs (best {r['best_epoch']}), "
                      f"{r['test_bits_per_dim']:.3f} bits/dim, "
                      f"{r['weights']:,} weights", flush=True)
    versions = results[next(iter(results))]["normflows"]["versions"]
    versions.update(tfp_flows=tfp_flows.__version__, keras=keras.__version__,
                    python=sys.version.split()[0])
    print(f"\n{machine()}; " + ", ".join(f"{k} {v}" for k, v in versions.items())
          + f"; torch with {args.torch_threads} threads\n\n{table(results)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "minutes": args.minutes,
                       "validation_images": validation, "versions": versions,
                       "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
