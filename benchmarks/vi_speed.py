"""Steps per CPU-second of ``fit_to_target`` against stock TFP's IAF surrogate step, measured
in alternating rounds in one process with TensorFlow on one thread (the measure of work per
step that background load moves least; issue 20's steps/s target).

Both: 4 IAF layers, MADE (64, 64), 256 draws per step, Adam 1e-3. Ours: ``fit_to_target``
with ``FlowModel.compile``'s defaults (fused Adam, 16 steps per execution, XLA for ``iaf``),
and the same with ``compile(jit_compile=False)``. Stock:
``tfb.Invert(tfb.MaskedAutoregressiveFlow(tfb.AutoregressiveNetwork))`` and the step
``tfp.vi.fit_surrogate_posterior`` runs (``monte_carlo_variational_loss``, its gradient,
tf_keras ``Adam.apply_gradients``) in one ``tf.function``. A rate is the best of the timed
epochs of 96 steps after a warm-up epoch.

    cd benchmarks && python vi_speed.py [--rounds 2] [--targets banana,funnel]
"""
import argparse
import json
import time

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

from common import epoch_timer, machine, stock_iaf_vi  # noqa: E402


import tfp_flows  # noqa: E402
from tfp_flows.datasets import BananaTarget, FunnelTarget  # noqa: E402
from tfp_flows.training import fit_to_target  # noqa: E402

LAYERS, HIDDEN, DRAWS, STEPS = 4, (64, 64), 256, 96
# The step of a long fit, which the default compiles with XLA for iaf (tfp_flows.xla): the
# benchmark times a few epochs of it, fewer than the default's XLA_MIN_STEPS.
tfp_flows.xla.XLA_MIN_STEPS = 0
TARGETS = {"banana": BananaTarget, "funnel": lambda: FunnelTarget(dim=10)}


def ours(target, epochs=4, xla=True):
    flow = tfp_flows.iaf(event_shape=target.event_shape[0], num_layers=LAYERS,
                         hidden_units=HIDDEN, seed=0)
    if not xla:   # the default compiles iaf's step with XLA (tfp_flows.xla); here without
        flow.compile(jit_compile=False)
    timer = epoch_timer(time.process_time)
    fit_to_target(flow, target, epochs=epochs, steps_per_epoch=STEPS, num_draws=DRAWS,
                  schedule="constant", seed=0, callbacks=[timer])
    return STEPS / min(timer.times[1:])


def stock(target, epochs=4):
    _, step = stock_iaf_vi(target, LAYERS, HIDDEN, DRAWS)
    times = []
    for _ in range(epochs):
        start = time.process_time()
        for _ in range(STEPS):
            step()
        times.append(time.process_time() - start)
    return STEPS / min(times[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--targets", default="banana,funnel")
    args = parser.parse_args()
    print(f"# {machine()} | clock cpu | TF threads 1 | {LAYERS} x IAF {HIDDEN}, {DRAWS} draws")
    results = {}
    for name in args.targets.split(","):
        target = TARGETS[name]()
        rates = {"stock_tfp_iaf": 0.0, "tfp_flows_iaf": 0.0, "tfp_flows_iaf_no_xla": 0.0}
        for _ in range(args.rounds):
            rates["stock_tfp_iaf"] = max(rates["stock_tfp_iaf"], stock(target))
            rates["tfp_flows_iaf"] = max(rates["tfp_flows_iaf"], ours(target))
            rates["tfp_flows_iaf_no_xla"] = max(rates["tfp_flows_iaf_no_xla"],
                                                ours(target, xla=False))
        results[name] = rates
        stock_rate = rates["stock_tfp_iaf"]
        print(f"{name:8s} steps per CPU-second: stock {stock_rate:.1f} | ours "
              f"{rates['tfp_flows_iaf']:.1f} ({rates['tfp_flows_iaf'] / stock_rate:.2f}x) | "
              f"ours without XLA {rates['tfp_flows_iaf_no_xla']:.1f} "
              f"({rates['tfp_flows_iaf_no_xla'] / stock_rate:.2f}x)", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
