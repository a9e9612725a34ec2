"""Training speed: steps/s of tfp_flows.maf() vs stock TFP MAF, same architecture, one run.

Both: 6 x MAF layers, MADE with hidden_units=(256, 256) and relu, reverse permutations,
event size 2, Adam(1e-3), Model.fit on standardised two moons. Stock: tfb.AutoregressiveNetwork
+ tfb.MaskedAutoregressiveFlow under tf_keras (the tutorial pattern); ours: Keras 3 fit.
Rates are medians of per-step times after warm-up; ratios > 1 mean tfp_flows is faster.

    python benchmarks/train_speed.py [--steps 300] [--rounds 2]
"""
import argparse
import json

import numpy as np

from common import (machine, step_timer, stock_distribution, stock_keras_model,
                    stock_maf_bijector, steps_per_second)

import keras  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows.datasets import load_toy  # noqa: E402

LAYERS, HIDDEN = 6, (256, 256)


def data(batch_size, steps):
    x, _ = load_toy("moons", n_train=1000, seed=0)
    reps = int(np.ceil(batch_size * steps / len(x)))
    return np.concatenate([x] * reps)[: batch_size * steps]


def rate_stock(x, batch_size):
    dist = stock_distribution(stock_maf_bijector(2, LAYERS, HIDDEN), 2)
    model = stock_keras_model(dist, 2)
    timer = step_timer(stock=True)
    model.fit(x, np.zeros((len(x), 0), np.float32), batch_size=batch_size, epochs=1,
              shuffle=False, verbose=0, callbacks=[timer])
    return steps_per_second(timer)


def rate_ours(x, batch_size, jit_compile):
    # Same architecture as the stock flow: Normal base, no standardisation layer.
    flow = tfp_flows.maf(event_shape=2, num_layers=LAYERS, hidden_units=HIDDEN, seed=0,
                         base_distribution="normal", standardize=False)
    flow.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    timer = step_timer()
    flow.fit(x, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    return steps_per_second(timer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="alternating repeats")
    args = parser.parse_args()
    print(f"# {machine()}")
    results = {}
    for batch_size in (100, 1024):
        x = data(batch_size, args.steps)
        rates = {"stock_tfp": [], "tfp_flows": [], "tfp_flows_jit": []}
        for _ in range(args.rounds):  # alternate so background load hits all alike
            rates["stock_tfp"].append(rate_stock(x, batch_size))
            rates["tfp_flows"].append(rate_ours(x, batch_size, jit_compile=False))
            rates["tfp_flows_jit"].append(rate_ours(x, batch_size, jit_compile=True))
        best = {k: max(v) for k, v in rates.items()}
        results[batch_size] = best
        print(f"batch {batch_size:5d}: stock TFP {best['stock_tfp']:7.1f} steps/s | "
              f"tfp_flows {best['tfp_flows']:7.1f} steps/s (ratio "
              f"{best['tfp_flows'] / best['stock_tfp']:.2f}) | tfp_flows jit_compile "
              f"{best['tfp_flows_jit']:7.1f} steps/s (ratio "
              f"{best['tfp_flows_jit'] / best['stock_tfp']:.2f})")
    print(json.dumps({str(k): {n: round(v, 2) for n, v in r.items()} for k, r in results.items()}))


if __name__ == "__main__":
    main()
