"""XLA per builder and data kind: training steps/s of ``FlowModel.fit`` with
``compile(jit_compile=False)`` against ``compile(jit_compile=True)``, in one process, on
this machine's CPU (issue 22 §2: make XLA the default where it wins).

Each builder keeps its defaults (the sizes a user gets), Adam(1e-3) (fused, the
default), batches of ``--vector-batch`` rows of the standardised two moons (vector flows)
or ``--image-batch`` integer digits 8x8x1 (image flows, dequantised every epoch). A rate is
``steps / time`` of the fastest timed epoch after a warm-up epoch, best of ``--rounds``
rounds that alternate the two settings; ``first epoch`` is the warm-up epoch's time
(tracing, and for XLA compiling), which a short fit pays once. Ratios > 1: XLA is faster.

    cd benchmarks && python xla_speed.py                     # all builders, wall clock
    cd benchmarks && python xla_speed.py --clock cpu --threads 1 --builders glow_image
"""
import argparse
import json
import time
import warnings

import numpy as np

from common import epoch_timer, machine

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows import datasets  # noqa: E402
from tfp_flows.datasets import load_toy  # noqa: E402

warnings.filterwarnings("ignore", message=".*distinct rows among")
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
VECTOR = ("maf", "iaf", "real_nvp", "nice", "glow", "nsf")
IMAGE = ("real_nvp_image", "glow_image")


def build(name):
    if name in IMAGE:
        return getattr(tfp_flows, name[:-len("_image")])(
            event_shape=(8, 8, 1), num_levels=17, seed=0)
    return getattr(tfp_flows, name)(event_shape=2, seed=0)


def data(name, batch_size, steps):
    if name in IMAGE:
        x = datasets.digits().x_train
    else:
        x, _ = load_toy("moons", n_train=1000, seed=0)
    reps = int(np.ceil(batch_size * steps / len(x)))
    return np.concatenate([x] * reps)[: batch_size * steps]


def rate(name, x, batch_size, steps, clock, epochs, jit):
    flow = build(name)
    flow.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
    timer = epoch_timer(clock)
    flow.fit(x, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
             callbacks=[timer])
    return steps / min(timer.times[1:]), timer.times[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builders", default=",".join(VECTOR + IMAGE))
    parser.add_argument("--vector-batch", type=int, default=256)
    parser.add_argument("--image-batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100, help="steps per timed epoch")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit, first = warm-up")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    parser.add_argument("--threads", type=int, default=0, help="TF threads (0: TF's default)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    print(machine(), f"clock {args.clock}, threads {args.threads or 'default'}", flush=True)
    print(f"{'builder':>15} {'batch':>5} {'no XLA steps/s':>14} {'XLA steps/s':>11} "
          f"{'ratio':>6} {'first epoch s (no XLA / XLA)':>29}", flush=True)
    results = []
    for name in args.builders.split(","):
        batch = args.image_batch if name in IMAGE else args.vector_batch
        x = data(name, batch, args.steps)
        best = {False: (0.0, None), True: (0.0, None)}
        for _ in range(args.rounds):
            for jit in (False, True):
                r, first = rate(name, x, batch, args.steps, CLOCKS[args.clock], args.epochs,
                                jit)
                if r > best[jit][0]:
                    best[jit] = (r, first)
        row = dict(builder=name, batch=batch, plain=best[False][0], xla=best[True][0],
                   ratio=best[True][0] / best[False][0], first_plain=best[False][1],
                   first_xla=best[True][1])
        results.append(row)
        print(f"{name:>15} {batch:>5} {row['plain']:>14.1f} {row['xla']:>11.1f} "
              f"{row['ratio']:>6.2f} {row['first_plain']:>14.1f} / {row['first_xla']:.1f}",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=machine(), clock=args.clock, results=results), f, indent=1)


if __name__ == "__main__":
    main()
