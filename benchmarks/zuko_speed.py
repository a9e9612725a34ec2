"""Training steps/s of zuko's MAF (PyTorch, CPU), the architecture of train_speed.py: 6
transforms, MADE hidden units (256, 256) with ReLU, Adam(1e-3), event size 2.

Run with a Python that has torch and zuko (they are not tfp_flows dependencies), e.g.

    python -m venv zuko-venv && zuko-venv/bin/pip install torch==2.13.0 zuko
    zuko-venv/bin/python zuko_speed.py --batch-size 100 --steps 300 --threads 2

It prints one JSON line: {"steps_per_second": ..., "batch_size": ..., "threads": ...}.
train_speed.py runs it for you with ``--zuko-python zuko-venv/bin/python``.
"""
import argparse
import json
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    import torch
    import zuko

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    data = torch.tensor(rng.normal(size=(args.batch_size * args.steps, 2)), dtype=torch.float32)
    flow = zuko.flows.MAF(features=2, transforms=6, hidden_features=(256, 256),
                          activation=torch.nn.ReLU)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
    times = []
    for step in range(args.steps):
        batch = data[step * args.batch_size:(step + 1) * args.batch_size]
        loss = -flow().log_prob(batch).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter())
    rate = 1.0 / float(np.median(np.diff(times[args.warmup:])))
    print(json.dumps({"steps_per_second": rate, "batch_size": args.batch_size,
                      "threads": args.threads}))


if __name__ == "__main__":
    main()
