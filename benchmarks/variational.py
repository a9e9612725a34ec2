"""Fitting flows to densities (issue 20): exact reverse KL after a time budget, log Z error,
steps per second against stock TFP's IAF surrogate, and NeuTra HMC against plain NUTS.

For each target (banana, funnel d = 10, mixture of 8 Gaussians: known normalisers) and each
flow (iaf, maf, real_nvp, nsf), ``fit_to_target`` runs for ``--budget`` seconds; the reverse
KL ``E_q[log q - log p]`` and the log Z estimate come from 20,000 fresh draws
(``tfp_flows.training.importance_diagnostics``). In the same run, stock TFP's IAF surrogate
(``tfb.Invert(tfb.MaskedAutoregressiveFlow(tfb.AutoregressiveNetwork(...)))``, trained by
``tfp.vi.fit_surrogate_posterior`` with a tf_keras Adam: TFP's VI tutorial pattern) gets the
same budget, draws per step and layers. Ratios > 1 mean tfp_flows is faster.

normflows (PyTorch, in its own Python: ``--normflows-python``, not a dependency): per target,
normflows_vi.py fits normflows' counterpart of our iaf (``--normflows-flows``; its
``MaskedAffineAutoregressive``, whose sampling is the one-pass direction, on its trainable
``DiagGaussian`` base, MADE 64 x 64, 4 layers) by ``NormalizingFlow.reverse_kld`` for the
same budget and draws per step, Adam at our default rate with our plateau schedule; it first
checks its torch densities against ours on 100 points. The ratios are ours / normflows for
steps/s and normflows / ours for the KL reached (> 1: we reached a lower KL); its KL,
log Z error, ESS and k-hat come from its 20,000 log-weights through the same diagnostics.

NeuTra: NUTS in the base space of an IAF fitted to the funnel and to eight schools
(``TransformedTransitionKernel`` with ``flow.bijector``) against plain NUTS on the target
itself; effective samples (TFP's ``effective_sample_size``, minimum over coordinates) per
gradient evaluation (leapfrog steps, burn-in excluded).

    python benchmarks/variational.py [--budget 60] [--flows iaf,maf,real_nvp,nsf]
        [--targets banana,funnel,mixture] [--neutra-draws 2000]
        [--normflows-python /work/torch-venv/bin/python] [--normflows-flows iaf,maf,real_nvp]
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np

from common import epoch_timer, machine, stock_iaf_vi

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from tensorflow_probability.python.internal import unnest  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows.datasets import BananaTarget, FunnelTarget, MixtureTarget  # noqa: E402
from tfp_flows.training import (  # noqa: E402
    DEFAULT_LEARNING_RATE,
    JointTarget,
    fit_to_target,
    importance_diagnostics,
    importance_log_weights,
)

tfd, tfb = tfp.distributions, tfp.bijectors
LAYERS, HIDDEN, DRAWS = 4, (64, 64), 256
TARGETS = {"banana": lambda: BananaTarget(), "funnel": lambda: FunnelTarget(dim=10),
           "mixture": lambda: MixtureTarget()}


def quality(flow_or_dist, target, seed=123):
    """Exact reverse KL (nats) and the log Z estimate's error, from 20,000 draws."""
    _, log_w = importance_log_weights(flow_or_dist, target, num_samples=20000, seed=seed)
    extra = {}
    if isinstance(target, MixtureTarget):
        x = flow_or_dist.sample(20000, seed=seed)
        extra["modes_with_mass"] = int((target.mode_masses(np.asarray(x)) > 0.02).sum())
    return dict(**log_weight_quality(log_w, target), **extra)


def log_weight_quality(log_w, target):
    diag = importance_diagnostics(log_w)
    return dict(kl=target.log_normalizer - diag.elbo, log_z_error=diag.log_z -
                target.log_normalizer, ess_fraction=diag.ess_fraction, khat=diag.khat)


def ours(name, target, budget, seed=0):
    """A builder's flow fitted for ``budget`` seconds; steps/s is the steady rate (median
    epoch after the first, which traces)."""
    size = target.event_shape[0]
    flow = tfp_flows.build_flow(name, event_shape=size, num_layers=LAYERS, hidden_units=HIDDEN,
                                base_distribution="normal", seed=seed)
    timer = epoch_timer()
    fit_to_target(flow, target, epochs=100000, steps_per_epoch=50, num_draws=DRAWS,
                  time_budget=budget, seed=seed, callbacks=[timer])
    steps = int(flow.optimizer.iterations.numpy())
    rate = 50 / float(np.median(timer.times[1:] or timer.times))
    return dict(steps_per_s=rate, steps=steps, **quality(flow, target))


def stock_iaf(target, budget, seed=0):
    """TFP's VI tutorial surrogate and step (``common.stock_iaf_vi``), looped until the
    budget is spent (calling ``fit_surrogate_posterior`` itself in chunks would retrace at
    every call); steps/s is the rate after the first 20 steps (tracing)."""
    tf.random.set_seed(seed)
    surrogate, step = stock_iaf_vi(target, LAYERS, HIDDEN, DRAWS)
    start, steps = time.perf_counter(), 0
    warm, warm_steps = start, 0   # if the budget ends before 20 steps: the rate from the start
    while time.perf_counter() - start < budget:
        step()
        steps += 1
        if steps == 20:
            warm, warm_steps = time.perf_counter(), steps
    rate = (steps - warm_steps) / (time.perf_counter() - warm)
    return dict(steps_per_s=rate, steps=steps, **quality(surrogate, target))


def normflows(python, flow, target_name, target, budget, seed=0):
    """normflows_vi.py in ``python`` (normflows' reverse KL, see the module docstring); it
    refuses to train unless its torch log-densities match ours on 100 points (50 exact
    draws, 50 wide Normal ones) handed on stdin."""
    rng = np.random.default_rng(seed)
    points = np.concatenate([target.sample(50, seed=seed),
                             3.0 * rng.standard_normal((50,) + target.event_shape)])
    log_p = target.unnormalized_log_prob(points.astype(np.float64)).numpy()
    command = [python, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "normflows_vi.py"),
               "--target", target_name, "--flow", flow, "--seconds", str(budget),
               "--layers", str(LAYERS), "--hidden", ",".join(map(str, HIDDEN)),
               "--draws", str(DRAWS), "--learning-rate", str(DEFAULT_LEARNING_RATE),
               "--threads", "2", "--seed", str(seed), "--check-stdin", "--log-weights"]
    out = subprocess.run(command, input=json.dumps(dict(points=points.tolist(),
                                                         log_prob=log_p.tolist())),
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    log_w = np.asarray(r.pop("log_w"))
    if np.isfinite(log_w).all():  # else keep its own numbers (k-hat NaN)
        r.update(log_weight_quality(log_w, target))
    return dict(r, khat=r.get("khat", float("nan")))


def nuts_ess_per_gradient(log_prob, init, num_draws, seed, bijector=None):
    """NUTS (in the base space of ``bijector`` if given), step size adapted during the
    burn-in: ``(min ESS over coordinates, gradient evaluations, ESS per gradient)``."""
    kernel = tfp.mcmc.NoUTurnSampler(log_prob, step_size=0.1)
    if bijector is not None:
        kernel = tfp.mcmc.TransformedTransitionKernel(kernel, bijector=bijector)
    kernel = tfp.mcmc.DualAveragingStepSizeAdaptation(kernel,
                                                      num_adaptation_steps=num_draws // 2)

    @tf.function
    def run():
        return tfp.mcmc.sample_chain(
            num_draws, current_state=init, kernel=kernel, num_burnin_steps=num_draws // 2,
            trace_fn=lambda _, r: unnest.get_innermost(r, "leapfrogs_taken"), seed=(seed, 1))

    draws, leapfrogs = run()
    ess = float(tf.reduce_min(tfp.mcmc.effective_sample_size(draws)))
    gradients = float(tf.reduce_sum(leapfrogs))
    return dict(ess=ess, gradients=gradients, ess_per_gradient=ess / gradients)


def eight_schools():
    """TFP's eight schools model (centred), pinned to its data, as a flat target."""
    y = np.array([28, 8, -3, 7, -1, 1, 18, 12], np.float32)
    sigma = np.array([15, 10, 16, 11, 9, 11, 10, 18], np.float32)
    model = tfd.JointDistributionNamed(dict(
        mu=tfd.Normal(0.0, 5.0), tau=tfd.HalfCauchy(0.0, 5.0),
        theta=lambda mu, tau: tfd.Sample(tfd.Normal(mu, tau), 8),
        y=lambda theta: tfd.Independent(tfd.Normal(theta, sigma), 1)))
    return JointTarget(model.experimental_pin(y=y))


def neutra(target, budget, num_draws, seed=0):
    """NeuTra: an IAF fitted to ``target`` for ``budget`` seconds, then NUTS in its base
    space, against plain NUTS on the target (both from 0, step sizes adapted)."""
    size = target.event_shape[0]
    flow = tfp_flows.iaf(event_shape=size, num_layers=LAYERS, hidden_units=HIDDEN,
                         base_distribution="normal", seed=seed)
    fit_to_target(flow, target, epochs=100000, steps_per_epoch=50, num_draws=DRAWS,
                  time_budget=budget, seed=seed)
    log_prob = target.unnormalized_log_prob if hasattr(target, "unnormalized_log_prob") \
        else target.log_prob
    plain = nuts_ess_per_gradient(log_prob, tf.zeros(size), num_draws, seed)
    transported = nuts_ess_per_gradient(log_prob, tf.zeros(size), num_draws, seed,
                                        bijector=flow.bijector)
    return dict(plain_nuts=plain, neutra=transported,
                ratio=transported["ess_per_gradient"] / plain["ess_per_gradient"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per fit")
    parser.add_argument("--flows", default="iaf,maf,real_nvp,nsf")
    parser.add_argument("--targets", default="banana,funnel,mixture")
    parser.add_argument("--stock", default="yes", choices=("yes", "no"))
    parser.add_argument("--neutra-draws", type=int, default=2000, help="0: skip NeuTra")
    parser.add_argument("--normflows-python", default=None,
                        help="a Python with torch and normflows (default: skip normflows)")
    parser.add_argument("--normflows-flows", default="iaf", help="of iaf, maf, real_nvp")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    print(f"# {machine()} | budget {args.budget:g} s per fit | {LAYERS} layers x "
          f"{HIDDEN}, {DRAWS} draws per step")
    results = {}
    for target_name in args.targets.split(","):
        target = TARGETS[target_name]()
        row = {}
        for name in args.flows.split(","):
            row[name] = ours(name, target, args.budget)
        if args.stock == "yes":
            row["stock_tfp_iaf"] = stock_iaf(target, args.budget)
        for name in args.normflows_flows.split(",") if args.normflows_python else ():
            peer = row[f"normflows_{name}"] = normflows(args.normflows_python, name,
                                                        target_name, target, args.budget)
            if name in row:
                peer["ours_over_normflows_steps_per_s"] = (row[name]["steps_per_s"] /
                                                           peer["steps_per_s"])
                peer["normflows_over_ours_kl"] = peer["kl"] / row[name]["kl"]
        results[target_name] = row
        for name, r in row.items():
            extra = f" | modes {r['modes_with_mass']}/8" if "modes_with_mass" in r else ""
            print(f"{target_name:8s} {name:14s} KL {r['kl']:.4f} | log Z error "
                  f"{r['log_z_error']:+.4f} | ESS {100 * r['ess_fraction']:.1f}% | k-hat "
                  f"{r['khat']:.2f} | {r['steps_per_s']:.1f} steps/s{extra}")
        if "iaf" in row and "stock_tfp_iaf" in row:
            print(f"{target_name:8s} iaf / stock IAF steps/s: "
                  f"{row['iaf']['steps_per_s'] / row['stock_tfp_iaf']['steps_per_s']:.2f}x")
        for name, r in row.items():
            if "normflows_over_ours_kl" in r:
                print(f"{target_name:8s} {name[10:]} / normflows {name[10:]}: steps/s "
                      f"{r['ours_over_normflows_steps_per_s']:.2f}x | KL normflows / ours "
                      f"{r['normflows_over_ours_kl']:.2f}x (normflows: {r['weights']:,} weights)")
    if args.neutra_draws:
        for name, target in (("funnel", FunnelTarget(dim=10)),
                             ("eight_schools", eight_schools())):
            n = results[f"neutra_{name}"] = neutra(target, args.budget, args.neutra_draws)
            print(f"NeuTra {name}: ESS/gradient {n['neutra']['ess_per_gradient']:.4f} "
                  f"against plain NUTS {n['plain_nuts']['ess_per_gradient']:.4f} "
                  f"({n['ratio']:.1f}x; ESS {n['neutra']['ess']:.0f} vs "
                  f"{n['plain_nuts']['ess']:.0f} of {args.neutra_draws} draws)")
    print(json.dumps(results, default=float))


if __name__ == "__main__":
    main()
