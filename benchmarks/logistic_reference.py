"""Regenerate the cached NUTS reference of the logistic-regression posterior.

    nice -n 5 python benchmarks/logistic_reference.py [--out PATH] [--chains 4]
        [--draws 2000] [--warmup 1000] [--keep 2000] [--seed 0] [--is-samples 200000]

Writes ``tfp_flows/datasets/data/logistic_regression_reference.npz`` (read by
``tfp_flows.datasets.posteriors.logistic_regression_reference``): posterior mean and
standard deviation per coordinate over all draws, ``--keep`` evenly thinned draws, split
R-hat and effective sample size per coordinate (Geyer's initial positive sequence; it
can exceed the number of draws when NUTS draws are anti-correlated), and the run's
settings and measures, the log-evidence estimate below included.

Sampler: TFP's ``NoUTurnSampler`` (float64, XLA-compiled), step size tuned by
``DualAveragingStepSizeAdaptation`` over 80% of the warm-up (target acceptance 0.8). The
chains run in a whitened space ``theta = theta_map + L z`` where ``L L^T`` is the inverse
Hessian of the negative log posterior at its mode (a fixed dense mass matrix, as Stan's
would be after adaptation); a fixed linear reparameterisation leaves the posterior exact.
Chains start from ``z ~ N(0, I)``, i.e. over-dispersed around the Laplace approximation.

The log evidence ``log p(y | X)`` (the target's unknown log Z) is then estimated by
importance sampling with a multivariate t proposal (10 degrees of freedom) fitted to the
NUTS draws, and stored with its standard error, ESS and k-hat.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

from tfp_flows.datasets.posteriors import REFERENCE_FILE, LogisticRegressionTarget  # noqa: E402


def laplace(target):
    """Mode and Cholesky factor of the inverse Hessian of the negative log posterior."""
    x, y, s2 = target.features, target.labels, target.prior_scale**2
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)

    def neg(theta):
        eta = design @ theta
        value = -np.sum(y * eta - np.logaddexp(0.0, eta)) + 0.5 * theta @ theta / s2
        grad = -design.T @ (y - 1.0 / (1.0 + np.exp(-eta))) + theta / s2
        return value, grad

    res = scipy.optimize.minimize(neg, np.zeros(design.shape[1]), jac=True, method="BFGS",
                                  options={"gtol": 1e-10, "maxiter": 10000})
    p = 1.0 / (1.0 + np.exp(-design @ res.x))
    hessian = design.T @ (design * (p * (1 - p))[:, None]) + np.eye(design.shape[1]) / s2
    return res.x, np.linalg.cholesky(np.linalg.inv(hessian))


def run(chains, draws, warmup, seed):
    target = LogisticRegressionTarget()
    mode, chol = laplace(target)
    mode_t, chol_t = tf.constant(mode), tf.constant(chol)

    def whitened_log_prob(z):
        return target.unnormalized_log_prob(mode_t + tf.linalg.matvec(chol_t, z))

    nuts = tfp.mcmc.NoUTurnSampler(whitened_log_prob, step_size=tf.constant(0.5, tf.float64))
    kernel = tfp.mcmc.DualAveragingStepSizeAdaptation(
        nuts, num_adaptation_steps=int(0.8 * warmup), target_accept_prob=0.8)

    @tf.function(jit_compile=True)
    def sample(init, seed):
        return tfp.mcmc.sample_chain(
            num_results=draws, num_burnin_steps=warmup, current_state=init, kernel=kernel,
            seed=seed,
            trace_fn=lambda _, pkr: (pkr.inner_results.has_divergence,
                                     pkr.inner_results.leapfrogs_taken,
                                     pkr.new_step_size))

    rng = np.random.default_rng(seed)
    init = tf.constant(rng.standard_normal((chains, len(mode))))
    start = time.perf_counter()
    z, (divergent, leapfrogs, step) = sample(init, tf.constant([seed, 1], tf.int32))
    seconds = time.perf_counter() - start
    theta = mode + np.einsum("ij,dcj->dci", chol, z.numpy())  # [draws, chains, 31]
    return theta, {
        "divergences": int(np.sum(divergent.numpy())),
        "mean_leapfrogs": float(np.mean(leapfrogs.numpy())),
        "step_size": float(np.asarray(step.numpy()).ravel()[-1]),
        "seconds": seconds,
    }


def log_evidence(target, flat, num_samples, seed, df=10.0):
    """Importance-sampling estimate of ``log p(y | X)`` (the target's log Z) with a
    multivariate t proposal (``df`` degrees of freedom) fitted to the NUTS draws; returns
    ``(log Z, standard error, ESS fraction, k-hat)``."""
    from scipy import stats

    from tfp_flows.training import importance_diagnostics

    proposal = stats.multivariate_t(loc=flat.mean(0), shape=np.cov(flat.T), df=df,
                                    seed=np.random.default_rng(seed))
    x = proposal.rvs(num_samples)
    log_p = np.concatenate([target(tf.constant(x[i:i + 20000])).numpy()
                            for i in range(0, num_samples, 20000)])
    d = importance_diagnostics(log_p - proposal.logpdf(x))
    return d.log_z, d.log_z_std_error, d.ess_fraction, d.khat


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=REFERENCE_FILE)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--keep", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--is-samples", type=int, default=200000,
                   help="importance draws for the log-evidence estimate")
    args = p.parse_args(argv)
    theta, info = run(args.chains, args.draws, args.warmup, args.seed)
    states = tf.constant(theta)
    rhat = tfp.mcmc.potential_scale_reduction(states, split_chains=True).numpy()
    ess = tfp.mcmc.effective_sample_size(  # Geyer's initial positive sequence, as Stan
        states, cross_chain_dims=1, filter_beyond_positive_pairs=True).numpy()
    flat = theta.transpose(1, 0, 2).reshape(-1, theta.shape[-1])  # chain after chain
    every = max(1, len(flat) // args.keep)
    log_z, log_z_se, ess_fraction, khat = log_evidence(LogisticRegressionTarget(), flat,
                                                       args.is_samples, args.seed)
    info.update(log_evidence=log_z, log_evidence_std_error=log_z_se,
                log_evidence_ess_fraction=ess_fraction, log_evidence_khat=khat)
    info.update(chains=args.chains, draws=args.draws, warmup=args.warmup, seed=args.seed,
                thinned_every=every, tensorflow=tf.__version__,
                tensorflow_probability=tfp.__version__)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(
        args.out, mean=flat.mean(0), std=flat.std(0, ddof=1),
        draws=flat[::every][:args.keep].astype(np.float32), rhat=rhat, ess=ess,
        **{f"info_{k}": np.asarray(v) for k, v in info.items()})
    print(f"wrote {args.out}: {args.chains} chains x {args.draws} draws after {args.warmup} "
          f"warm-up in {info['seconds']:.1f} s; step size {info['step_size']:.3f}, "
          f"{info['mean_leapfrogs']:.1f} leapfrogs per draw, {info['divergences']} divergences; "
          f"R-hat max {rhat.max():.4f}, ESS min {ess.min():.0f} / median {np.median(ess):.0f}; "
          f"log evidence {log_z:.4f} +- {log_z_se:.4f} (importance sampling, ESS "
          f"{100 * ess_fraction:.1f}%, k-hat {khat:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
