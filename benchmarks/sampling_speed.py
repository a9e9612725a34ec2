"""Eager ``sample`` and ``log_prob`` calls, as a user makes them, under three policies of
:mod:`tfp_flows.graph_mode`: always eager (``COMPILE_AFTER_SECONDS = inf``, the library
before), the default rent-or-buy rule (0.5 s of eager calls, then a ``tf.function``), and
compiling at once (``0``).

For each flow (the builders' defaults: ``maf`` and ``nsf`` on 2-D data, ``glow`` and
``real_nvp`` on 8x8x1 digit images, initialised from data) it times a run of ``--calls``
calls of ``flow.sample(--n, seed=i)`` and of ``flow.log_prob`` of ``--n`` rows, from a fresh
state (tracing included), and reports the total time of the first 1, 5 and all calls and the
steady rate (rows/s: the fastest of the last 5 calls). Policies alternate for ``--rounds``
rounds; medians.

    cd benchmarks && python sampling_speed.py
    cd benchmarks && python sampling_speed.py --flows glow_image --calls 10 --n 1000
"""
import argparse
import json
import time

import numpy as np

from common import machine

import tfp_flows  # noqa: E402
from tfp_flows import datasets, graph_mode  # noqa: E402

POLICIES = {"eager": float("inf"), "default": graph_mode.COMPILE_AFTER_SECONDS, "at_once": 0.0}
FLOWS = ("maf", "nsf", "glow_image", "real_nvp_image")


def build(name):
    """A builder's default flow and ``n``-row data source for it."""
    if name.endswith("_image"):
        digits = datasets.digits()
        flow = getattr(tfp_flows, name[:-len("_image")])(
            event_shape=(8, 8, 1), num_levels=digits.num_levels, seed=0)
        x = datasets.dequantize(np.tile(digits.x_train, (3, 1, 1, 1)), 0, digits.num_levels)
        flow.initialize_from_data(x[:512])
        return flow, x
    flow = getattr(tfp_flows, name)(event_shape=2, seed=0)
    x = datasets.load_toy("moons", 5000, seed=0)[0].astype("float32")
    flow.initialize_from_data(x)
    return flow, x


def run_calls(flow, call, calls):
    """Seconds after each of ``calls`` calls, from a fresh compile state."""
    flow.__dict__.pop("_compiled_calls", None)
    start, ends = time.perf_counter(), []
    for i in range(calls):
        np.asarray(call(i))
        ends.append(time.perf_counter() - start)
    return ends


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", default=",".join(FLOWS))
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    print(machine(), flush=True)
    results = {}
    for name in args.flows.split(","):
        flow, x = build(name)
        rows = x[: args.n]
        calls = {"sample": lambda i: flow.sample(args.n, seed=i),
                 "log_prob": lambda i: flow.log_prob(rows)}
        for kind, call in calls.items():
            times = {p: [] for p in POLICIES}
            for _ in range(args.rounds):
                for policy, seconds in POLICIES.items():
                    graph_mode.COMPILE_AFTER_SECONDS = seconds
                    times[policy].append(run_calls(flow, call, args.calls))
            for policy, runs in times.items():
                runs = np.array(runs)
                last = np.median(np.diff(runs, axis=1)[:, -5:].min(axis=1))
                row = dict(first_1=np.median(runs[:, 0]), first_5=np.median(runs[:, 4]),
                           all=np.median(runs[:, -1]), steady_rows_per_s=args.n / last)
                results[f"{name}/{kind}/{policy}"] = {k: float(v) for k, v in row.items()}
                print(f"{name:>15} {kind:>8} {policy:>8}: 1 call {row['first_1']:6.2f} s, "
                      f"5 calls {row['first_5']:6.2f} s, {args.calls} calls "
                      f"{row['all']:6.2f} s; steady {row['steady_rows_per_s']:9.0f} rows/s",
                      flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
