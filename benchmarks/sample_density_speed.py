"""Sampling and density speed at event size 64: tfp_flows vs stock TFP, ratios in one run.

For maf, iaf and real_nvp (4 layers, hidden (256, 256), relu, reverse permutations) times
``sample(1024)`` and ``log_prob`` of a 1024 batch, each inside ``tf.function`` (traced once,
then the best of several timed repeats). Stock counterparts: ``tfb.MaskedAutoregressiveFlow``
with ``tfb.AutoregressiveNetwork`` (tf_keras), ``tfb.Invert`` of it, and ``tfb.RealNVP`` with a
tf_keras MLP. Ratios are stock time / tfp_flows time: > 1 means tfp_flows is faster.
Weights are perturbed away from the identity initialisation before timing.

    python benchmarks/sample_density_speed.py
"""
import json

import numpy as np
import tensorflow as tf

from common import (compare_times, machine, stock_distribution, stock_maf_bijector,
                    stock_real_nvp_bijector)

import tfp_flows  # noqa: E402

EVENT, LAYERS, HIDDEN, BATCH = 64, 4, (256, 256), 1024


def perturb(variables, seed):
    rng = np.random.default_rng(seed)
    for v in variables:
        v.assign(v + 0.01 * rng.standard_normal(tuple(v.shape)).astype(tf.as_dtype(v.dtype).as_numpy_dtype))


def stock(kind):
    if kind == "real_nvp":
        bij = stock_real_nvp_bijector(EVENT, LAYERS, HIDDEN)
    else:
        bij = stock_maf_bijector(EVENT, LAYERS, HIDDEN, inverse=kind == "iaf")
    dist = stock_distribution(bij, EVENT)
    dist.log_prob(tf.zeros([1, EVENT]))  # build the tf_keras layers
    perturb(dist.trainable_variables, 0)
    return (tf.function(lambda: dist.sample(BATCH, seed=1)),
            tf.function(lambda x: dist.log_prob(x)))


def ours(kind):
    # Same architecture as the stock flows: Normal base, no standardisation layer.
    flow = tfp_flows.build_flow(kind, event_shape=EVENT, num_layers=LAYERS, hidden_units=HIDDEN,
                                seed=0, base_distribution="normal", standardize=False)
    perturb(flow.trainable_variables, 0)
    return tf.function(lambda: flow.sample(BATCH, seed=1)), tf.function(flow.log_prob)


def main():
    print(f"# {machine()}")
    x = tf.random.stateless_normal([BATCH, EVENT], seed=[1, 2])
    results = {}
    for kind in ("maf", "iaf", "real_nvp"):
        s_sample, s_log_prob = stock(kind)
        o_sample, o_log_prob = ours(kind)
        sequential = {"maf": "sample", "iaf": "log_prob"}.get(kind)
        repeats = 3 if sequential else 7
        times = compare_times({
            "stock_sample": s_sample, "ours_sample": o_sample,
            "stock_log_prob": lambda: s_log_prob(x), "ours_log_prob": lambda: o_log_prob(x),
        }, repeats=repeats, number=1 if sequential else 3)
        results[kind] = {k: round(v * 1e3, 2) for k, v in times.items()}
        print(f"{kind:9s} sample(1024): stock {times['stock_sample'] * 1e3:8.2f} ms, "
              f"tfp_flows {times['ours_sample'] * 1e3:8.2f} ms, ratio "
              f"{times['stock_sample'] / times['ours_sample']:5.2f} | log_prob(1024): stock "
              f"{times['stock_log_prob'] * 1e3:7.2f} ms, tfp_flows "
              f"{times['ours_log_prob'] * 1e3:7.2f} ms, ratio "
              f"{times['stock_log_prob'] / times['ours_log_prob']:5.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
