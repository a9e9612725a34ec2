"""Which base distribution should the builders use by default: ``"normal"`` or ``"student_t"``?

Issue 18 §1: a new user's first fit is short. For each flow (``maf``, ``real_nvp``, ``nsf``;
1 and 4 layers; hidden (64, 64); the builders' other defaults), each toy set of
:func:`tfp_flows.datasets.load_toy` (1,000 standardised training points; the exact density
comes with it) and each seed, fit with :func:`tfp_flows.training.fit_flow` for a fixed small
number of epochs (its default recipe: Adam 1e-3, batch 100, 10 % validation, best weights
restored), once with each base and the same seed, then report on 20,000 fresh draws of the
truth:

    KL = mean NLL - exact entropy (nats; :func:`tfp_flows.training.kl_to_truth`),
    the worst NLL of those draws (the tail goal of BENCHMARKS.md, "Tails": < 30 nats).

The summary gives, per flow and depth, the mean KL of each base over data sets and seeds,
the paired difference (student_t - normal) with its standard error, and how many runs each
base wins. ``--images``: real_nvp and glow on digits, test bits/dim. Run from the repository
root (about 19 minutes of wall time on two busy cores at the defaults):

    nice -n 5 python benchmarks/base_default.py
    python benchmarks/base_default.py --flows maf --layers 1 --data moons --seeds 0,1,2

``--json FILE`` also writes every row.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import machine  # noqa: E402

import keras  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows.datasets import TOY_NAMES, load_toy  # noqa: E402
from tfp_flows.datasets import digits  # noqa: E402
from tfp_flows.training import bits_per_dim, fit_flow, negative_log_likelihoods  # noqa: E402

BASES = ("normal", "student_t")


def run_one(flow, layers, data, seed, base, epochs, n_train, num_test):
    x, truth = load_toy(data, n_train=n_train, seed=seed)
    keras.utils.set_random_seed(seed)
    model = tfp_flows.build_flow(flow, event_shape=2, num_layers=layers, hidden_units=(64, 64),
                                 base_distribution=base, seed=seed)
    start = time.time()
    history = fit_flow(model, x, epochs=epochs)
    test = np.asarray(truth.sample(num_test, seed=1000 + seed))
    nll = np.asarray(negative_log_likelihoods(model, test))
    nll = np.where(np.isfinite(nll), nll, np.inf)
    return {"flow": flow, "layers": layers, "data": data, "seed": seed, "base": base,
            "kl": float(np.mean(nll) - float(truth.entropy())), "worst": float(np.max(nll)),
            "best_epoch": int(history.best_epoch), "seconds": round(time.time() - start, 1)}


def run_image(flow, seed, base, epochs):
    """A small image flow on digits (8x8, 17 levels): test bits/dim."""
    data = digits()
    keras.utils.set_random_seed(seed)
    extra = dict(num_blocks=1) if flow == "real_nvp" else dict(num_steps=2)
    model = tfp_flows.build_flow(flow, event_shape=(8, 8, 1), num_levels=17, hidden_channels=16,
                                 base_distribution=base, seed=seed, **extra)
    start = time.time()
    fit_flow(model, data.x_train, epochs=epochs)
    value, error = bits_per_dim(model, data.x_test, num_levels=17)
    return {"flow": flow, "data": "digits", "seed": seed, "base": base,
            "bits_per_dim": float(value), "std_error": float(error),
            "seconds": round(time.time() - start, 1)}


def summarise(rows):
    print("\n| flow | layers | KL normal | KL student_t | paired diff (t - n) | normal wins "
          "| worst NLL normal | worst NLL student_t |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    keys = sorted({(r["flow"], r["layers"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for flow, layers in keys + [("all", "all")]:
        sel = [r for r in rows if flow == "all" or (r["flow"], r["layers"]) == (flow, layers)]
        pairs = {}
        for r in sel:
            pairs.setdefault((r["flow"], r["layers"], r["data"], r["seed"]), {})[r["base"]] = r
        pairs = [p for p in pairs.values() if len(p) == 2]
        if not pairs:
            continue
        kl = {b: np.array([p[b]["kl"] for p in pairs]) for b in BASES}
        worst = {b: max(p[b]["worst"] for p in pairs) for b in BASES}
        diff = kl["student_t"] - kl["normal"]
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        print(f"| {flow} | {layers} | {kl['normal'].mean():.3f} | {kl['student_t'].mean():.3f} "
              f"| {diff.mean():+.3f} ± {se:.3f} | {int((diff > 0).sum())}/{len(diff)} "
              f"| {worst['normal']:.1f} | {worst['student_t']:.1f} |")
    print("\nper data set (mean over flows, depths, seeds):")
    print("| data | KL normal | KL student_t | normal wins |")
    print("|---|---:|---:|---:|")
    for data in sorted({r["data"] for r in rows}):
        sel = [r for r in rows if r["data"] == data]
        by = {b: [r["kl"] for r in sel if r["base"] == b] for b in BASES}
        if len(by["normal"]) != len(by["student_t"]):
            continue
        wins = sum(t > n for n, t in zip(by["normal"], by["student_t"]))
        print(f"| {data} | {np.mean(by['normal']):.3f} | {np.mean(by['student_t']):.3f} "
              f"| {wins}/{len(by['normal'])} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flows", default="maf,real_nvp,nsf")
    parser.add_argument("--layers", default="1,4")
    parser.add_argument("--data", default=",".join(TOY_NAMES))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--num-test", type=int, default=20000)
    parser.add_argument("--images", action="store_true",
                        help="instead: real_nvp and glow on digits, test bits/dim")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    print(f"# {machine()}; epochs {args.epochs}, n_train {args.n_train}")
    rows = []
    start = time.time()
    if args.images:
        for flow in ("real_nvp", "glow"):
            for seed in [int(v) for v in args.seeds.split(",")]:
                for base in BASES:
                    rows.append(run_image(flow, seed, base, args.epochs))
                    print(json.dumps(rows[-1]), flush=True)
        print(f"\ntotal {time.time() - start:.0f} s")
        return
    for flow in args.flows.split(","):
        for layers in [int(v) for v in args.layers.split(",")]:
            for data in args.data.split(","):
                for seed in [int(v) for v in args.seeds.split(",")]:
                    for base in BASES:
                        row = run_one(flow, layers, data, seed, base, args.epochs,
                                      args.n_train, args.num_test)
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    summarise(rows)
    print(f"\ntotal {time.time() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
