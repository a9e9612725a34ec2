"""Tails: the worst test NLL of every builder, beside its mean (issue 8, section 4).

A density model must not assign absurd densities just outside its training data: one test
point with an NLL of 10^5 nats ruins a mean. For each builder (at its defaults unless builder
keywords are given) and each data set (moons: 1,000 points; banana: 10,000 points, both
standardised as in ``load_toy``), train for a fixed number of epochs with Adam(1e-3), batch
100, a 10 % validation split and the best-validation weights restored, then evaluate on
20,000 fresh draws of the exact distribution:

    mean NLL, KL = mean NLL - exact entropy, 99.9th percentile NLL, worst NLL,
    the number of points over ``--limit`` (30 nats), and the worst point itself with its
    true log-density, the latent norm |z| and the log-det there (NLL = -log N(z) - log det,
    so one sees whether the flow threw the point far out or squeezed volume).

Goal: worst NLL < 30 nats for every builder on both sets. Run from the repository root or
from ``benchmarks/``:

    python benchmarks/tails.py                                   # all builders, defaults
    python benchmarks/tails.py --flows maf,iaf --activation tanh --log-scale-bound 3
    python benchmarks/tails.py --flows nsf --bound 6 --seeds 0,1,2
    python benchmarks/tails.py --kw num_layers=8 --kw hidden_units=128,128

``--json FILE`` also writes every row as JSON.
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
from tfp_flows.datasets import load_toy  # noqa: E402
from tfp_flows.training import negative_log_likelihoods  # noqa: E402

N_TRAIN = {"moons": 1000, "banana": 10000}
EPOCHS = {"moons": 200, "banana": 30}
N_TEST = 20000
FLOWS = ("maf", "iaf", "real_nvp", "nice", "glow", "nsf")


def _value(text):
    """A --kw value: int, float, None/True/False, a comma list of ints (a tuple) or text."""
    lowered = text.strip().lower()
    if lowered in ("none", "true", "false"):
        return {"none": None, "true": True, "false": False}[lowered]
    if "," in text:
        return tuple(_value(part) for part in text.split(","))
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def builder_kwargs(args, kind):
    """The builder keywords given on the command line (none: the builder's defaults)."""
    kwargs = {}
    if args.activation is not None:
        kwargs["activation"] = args.activation
    if args.log_scale_bound is not None and kind != "nsf":
        kwargs["log_scale_bound"] = args.log_scale_bound
    if kind == "nsf":
        if args.bound is not None:
            kwargs["bound"] = args.bound
        if args.num_bins is not None:
            kwargs["num_bins"] = args.num_bins
    if args.base is not None:
        kwargs["base_distribution"] = args.base
    for item in args.kw:
        key, _, text = item.partition("=")
        kwargs[key.strip()] = _value(text)
    return kwargs


def parse_epochs(text):
    """``200`` (every set) or ``moons:200,banana:30``."""
    if ":" not in text:
        return {name: int(text) for name in N_TRAIN}
    epochs = dict(EPOCHS)
    for item in text.split(","):
        name, _, value = item.partition(":")
        epochs[name.strip()] = int(value)
    return epochs


def train(kind, x, epochs, seed, kwargs):
    keras.utils.set_random_seed(seed)
    flow = tfp_flows.build_flow(kind, event_shape=2, seed=seed, **kwargs)
    flow.compile(optimizer=keras.optimizers.Adam(1e-3))
    best = keras.callbacks.EarlyStopping(patience=10**6, restore_best_weights=True)
    start = time.perf_counter()
    history = flow.fit(x, batch_size=100, epochs=epochs, validation_split=0.1, verbose=0,
                       callbacks=[best])
    val = np.asarray(history.history["val_loss"], np.float64)
    return flow, time.perf_counter() - start, int(np.nanargmin(val)) + 1, float(np.nanmin(val))


def evaluate(flow, truth, seed, limit):
    """Per-point test NLL on 20,000 fresh draws and the anatomy of the worst point."""
    x_test = np.asarray(truth.sample(N_TEST, seed=seed + 1), np.float32)
    nll = negative_log_likelihoods(flow, x_test)
    bad = ~np.isfinite(nll)
    nll_finite = np.where(bad, np.inf, nll)
    worst = int(np.argmax(nll_finite))
    z, log_det = flow.encode(x_test[worst:worst + 1])
    mean = float(np.mean(nll))
    return {
        "mean_nll": mean,
        "kl": mean - float(truth.entropy()),
        "p999_nll": float(np.percentile(nll_finite, 99.9)),
        "worst_nll": float(nll_finite[worst]),
        "n_over_limit": int(np.sum(nll_finite > limit)),
        "n_nonfinite": int(np.sum(bad)),
        "worst_x": [round(float(v), 3) for v in x_test[worst]],
        "worst_true_nll": float(-np.asarray(truth.log_prob(x_test[worst:worst + 1]))[0]),
        "worst_z_norm": float(np.linalg.norm(np.asarray(z)[0])),
        "worst_log_det": float(np.asarray(log_det)[0]),
    }


HEADER = (f"| {'flow':8s} | {'data':6s} | seed | ep (best) | {'KL':>7s} | {'mean NLL':>8s} | "
          f"{'p99.9 NLL':>9s} | {'worst NLL':>10s} | >lim | worst x | true NLL | z norm | log det |")


def row(r):
    return (f"| {r['flow']:8s} | {r['data']:6s} | {r['seed']:4d} | {r['epochs']:3d} ({r['best_epoch']:3d}) | "
            f"{r['kl']:7.3f} | {r['mean_nll']:8.3f} | {r['p999_nll']:9.2f} | "
            f"{r['worst_nll']:10.4g} | {r['n_over_limit']:4d} | "
            f"({r['worst_x'][0]:.2f}, {r['worst_x'][1]:.2f}) | {r['worst_true_nll']:8.2f} | "
            f"{r['worst_z_norm']:.3g} | {r['worst_log_det']:.3g} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", default=",".join(FLOWS))
    parser.add_argument("--data", default="moons,banana")
    parser.add_argument("--epochs", default="moons:200,banana:30",
                        help="N for every set, or moons:N,banana:M")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--limit", type=float, default=30.0, help="worst-NLL goal in nats")
    parser.add_argument("--activation", default=None)
    parser.add_argument("--log-scale-bound", type=float, default=None,
                        help="affine flows only (nsf ignores it)")
    parser.add_argument("--bound", type=float, default=None, help="nsf spline interval")
    parser.add_argument("--num-bins", type=int, default=None, help="nsf bins")
    parser.add_argument("--kw", action="append", default=[],
                        help="any builder keyword, key=value (repeatable), e.g. num_layers=8")
    parser.add_argument("--base", default=None, choices=("normal", "student_t"),
                        help="the builders' base_distribution")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    epochs = parse_epochs(args.epochs)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"# {machine()}; Adam(1e-3), batch 100, val 10 %, best weights; "
          f"test {N_TEST} fresh draws; limit {args.limit:g} nats")
    print(f"# {' '.join(sys.argv)}")
    rows = []
    for data in args.data.split(","):
        for seed in seeds:
            x, truth = load_toy(data, n_train=N_TRAIN[data], seed=seed)
            print(f"## {data} seed {seed}: {len(x)} points, {epochs[data]} epochs, "
                  f"entropy {truth.entropy():.4f}, "
                  f"train range x1 [{x[:, 0].min():.2f}, {x[:, 0].max():.2f}] "
                  f"x2 [{x[:, 1].min():.2f}, {x[:, 1].max():.2f}]", flush=True)
            for kind in args.flows.split(","):
                kwargs = builder_kwargs(args, kind)
                flow, seconds, best_epoch, best_val = train(kind, x, epochs[data], seed, kwargs)
                r = {"flow": kind, "data": data, "seed": seed, "epochs": epochs[data],
                     "best_epoch": best_epoch, "best_val_nll": best_val,
                     "train_seconds": round(seconds, 1),
                     "kwargs": {k: v for k, v in kwargs.items()},
                     **evaluate(flow, truth, seed, args.limit)}
                rows.append(r)
                ok = "ok" if r["worst_nll"] < args.limit else "FAIL"
                print(f"{kind:8s} {data:6s} seed {seed}: KL {r['kl']:.3f}  p99.9 "
                      f"{r['p999_nll']:.2f}  worst {r['worst_nll']:.4g} [{ok}]  "
                      f"({seconds:.0f} s, best epoch {best_epoch}) {kwargs or ''}", flush=True)
    print()
    print(HEADER)
    print("|" + "|".join("---" for _ in HEADER.split("|")[1:-1]) + "|")
    for r in rows:
        print(row(r))
    print()
    print("| flow | data | mean KL | max p99.9 | max worst NLL | seeds failing |")
    print("|---|---|---:|---:|---:|---:|")
    for kind in args.flows.split(","):
        for data in args.data.split(","):
            group = [r for r in rows if r["flow"] == kind and r["data"] == data]
            fails = sum(r["worst_nll"] >= args.limit for r in group)
            print(f"| {kind} | {data} | {np.mean([r['kl'] for r in group]):.3f} | "
                  f"{max(r['p999_nll'] for r in group):.2f} | "
                  f"{max(r['worst_nll'] for r in group):.4g} | {fails}/{len(group)} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=str)


if __name__ == "__main__":
    main()
