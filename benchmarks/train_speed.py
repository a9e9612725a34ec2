"""Training speed: steps/s of tfp_flows.maf() vs stock TFP MAF (and zuko), same architecture.

All: 6 MAF layers, MADE hidden units (256, 256) with relu, reverse permutations, event size
2, Adam(1e-3), standardised two moons. Stock: tfb.AutoregressiveNetwork +
tfb.MaskedAutoregressiveFlow under tf_keras (the tutorial pattern); ours: Keras 3 ``fit`` with
``FlowModel.compile``'s defaults (16 steps per execution for vector flows, the fused Adam),
and the variants one step per execution and ``jit_compile=True``. A rate is ``steps / time`` of the fastest of
the timed epochs (after a warm-up epoch), best of ``--rounds`` alternating rounds; ratios > 1
mean tfp_flows is faster. Experiments (``--variants``): ``tfp_flows_keras_adam`` (Keras's
own Adam update instead of the fused one) and ``tfp_flows_no_guard`` (the train step without
its non-finite guard: what the guard costs).

``--clock cpu --threads 1`` measures steps per CPU-second of the process with TensorFlow on
one thread: a measure of the work per step that background load on a shared machine barely
moves (wall-clock rates there swing by 2x from run to run). ``--zuko-python PATH`` adds zuko's
MAF (PyTorch) through benchmarks/zuko_speed.py, run with that interpreter.

    python benchmarks/train_speed.py [--steps 200] [--rounds 2] [--clock wall|cpu]
        [--threads N] [--zuko-python zuko-venv/bin/python]
"""
import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from common import (epoch_timer, machine, stock_distribution, stock_keras_model,
                    stock_maf_bijector)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows import model_training  # noqa: E402
from tfp_flows.datasets import load_toy  # noqa: E402

LAYERS, HIDDEN = 6, (256, 256)
# The timed data repeat the 1,000 moons rows to fill the epochs: fit's warning about repeated
# rows is right about them, and beside the point here.
warnings.filterwarnings("ignore", message=".*distinct rows among")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def data(batch_size, steps):
    x, _ = load_toy("moons", n_train=1000, seed=0)
    reps = int(np.ceil(batch_size * steps / len(x)))
    return np.concatenate([x] * reps)[: batch_size * steps]


def rate_stock(x, batch_size, steps, clock, epochs):
    dist = stock_distribution(stock_maf_bijector(2, LAYERS, HIDDEN), 2)
    model = stock_keras_model(dist, 2)
    timer = epoch_timer(clock, tf_keras.callbacks.Callback)
    model.fit(x, np.zeros((len(x), 0), np.float32), batch_size=batch_size, epochs=epochs,
              shuffle=False, verbose=0, callbacks=[timer])
    return steps / min(timer.times[1:])


def rate_ours(x, batch_size, steps, clock, epochs, optimizer=keras.optimizers.Adam,
              **compile_kwargs):
    # Same architecture as the stock flow: Normal base, no standardisation layer.
    flow = tfp_flows.maf(event_shape=2, num_layers=LAYERS, hidden_units=HIDDEN, seed=0,
                         base_distribution="normal", standardize=False)
    flow.compile(optimizer=optimizer(1e-3), **compile_kwargs)
    timer = epoch_timer(clock)
    flow.fit(x, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
             callbacks=[timer])
    return steps / min(timer.times[1:])


def _apply_unguarded(optimizer, tape, loss, weights):
    """The update without the non-finite guard (no global norm, no ``tf.cond``)."""
    with tape:
        scaled = optimizer.scale_loss(loss)
    optimizer.apply(tape.gradient(scaled, weights), weights)
    return loss


def rate_unguarded(*args, **kwargs):
    """``rate_ours`` with ``FlowModel``'s train step applying every update unchecked: what
    the finiteness guard costs (issue 22 §3)."""
    guarded = model_training.apply_if_finite
    model_training.apply_if_finite = _apply_unguarded
    try:
        return rate_ours(*args, **kwargs)
    finally:
        model_training.apply_if_finite = guarded


def rate_zuko(python, batch_size, steps, threads):
    script = Path(__file__).with_name("zuko_speed.py")
    out = subprocess.run([python, str(script), "--batch-size", str(batch_size), "--steps",
                          str(steps), "--threads", str(threads)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["steps_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per timed epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs (the first is warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating repeats")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow intra- and inter-op threads (default: TF's choice)")
    parser.add_argument("--batch-sizes", default="100,1024")
    parser.add_argument("--variants", default=None,
                        help="comma-separated variants to time (default: stock_tfp, "
                             "tfp_flows, tfp_flows_1_step, tfp_flows_jit); stock_tfp must be "
                             "among them")
    parser.add_argument("--zuko-python", default=None,
                        help="a Python with torch and zuko, to time zuko's MAF (wall clock)")
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    clock = CLOCKS[args.clock]
    print(f"# {machine()} | clock {args.clock} | TF threads {args.threads or 'default (or as the environment says)'}")
    variants = {
        "stock_tfp": lambda x, b: rate_stock(x, b, args.steps, clock, args.epochs),
        "tfp_flows": lambda x, b: rate_ours(x, b, args.steps, clock, args.epochs),
        "tfp_flows_1_step": lambda x, b: rate_ours(x, b, args.steps, clock, args.epochs,
                                                   steps_per_execution=1),
        "tfp_flows_jit": lambda x, b: rate_ours(x, b, args.steps, clock, args.epochs,
                                                jit_compile=True),
        "tfp_flows_keras_adam": lambda x, b: rate_ours(x, b, args.steps, clock, args.epochs,
                                                       fused_optimizer=False),
        "tfp_flows_no_guard": lambda x, b: rate_unguarded(x, b, args.steps, clock,
                                                          args.epochs),
    }
    unknown = set(args.variants.split(",")) - set(variants) if args.variants else set()
    if unknown or (args.variants and "stock_tfp" not in args.variants.split(",")):
        parser.error(f"--variants: a comma-separated subset of {sorted(variants)} that "
                     f"includes stock_tfp (the reference); got {args.variants!r}")
    if args.variants:
        variants = {k: v for k, v in variants.items() if k in args.variants.split(",")}
    else:   # the experiments are not default rows
        variants = {k: v for k, v in variants.items()
                    if k not in ("tfp_flows_keras_adam", "tfp_flows_no_guard")}
    results = {}
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        x = data(batch_size, args.steps)
        rates = {name: [] for name in variants}
        if args.zuko_python:
            rates["zuko"] = []
        for _ in range(args.rounds):  # alternate so background load hits all alike
            for name, rate in variants.items():
                rates[name].append(rate(x, batch_size))
            if args.zuko_python:
                rates["zuko"].append(rate_zuko(args.zuko_python, batch_size, args.steps,
                                               args.threads or 2))
        best = {k: max(v) for k, v in rates.items()}
        results[batch_size] = best
        line = " | ".join(f"{k} {v:7.1f}" + ("" if k == "stock_tfp" else
                                              f" ({v / best['stock_tfp']:.2f}x)")
                          for k, v in best.items())
        print(f"batch {batch_size:5d} steps/s: {line}", flush=True)
        if args.zuko_python:
            note = "" if args.clock == "wall" else \
                " (zuko is timed by wall clock: compare with --clock wall only)"
            print(f"batch {batch_size:5d}: tfp_flows / zuko = "
                  f"{best['tfp_flows'] / best['zuko']:.2f}{note}", flush=True)
    print(json.dumps({str(k): {n: round(v, 2) for n, v in r.items()} for k, r in results.items()}))


if __name__ == "__main__":
    sys.exit(main())
