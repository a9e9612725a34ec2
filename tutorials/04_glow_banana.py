# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4 · Glow on the banana distribution
#
# Glow (Kingma & Dhariwal, 2018) repeats one step made of three invertible pieces: **ActNorm**,
# a learned **invertible linear map** (the "invertible 1×1 convolution"), and an **affine
# coupling**. Here we fit it to a two-dimensional "banana" whose density is known exactly, and
# we watch training the way the Glow paper and the InvertibleNetworks.jl tutorial do, by
# splitting the negative log-likelihood into its two parts. After training we ask whether the
# flow really turns data into standard Normal noise (Q-Q plots, histograms, a
# Kolmogorov–Smirnov statistic), look at where latent points land, and measure the KL divergence
# to the true density. The notebook runs in well under a minute on a CPU.

# %%
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # keep TensorFlow's C++ start-up logs quiet

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from IPython.display import Markdown, display

import tfp_flows
import tfp_flows.plotting                  # matplotlib helpers, imported on demand
from tfp_flows.bijectors import ActNorm, InvertibleLinear, actnorm_statistics, random_lu_init
from tfp_flows.datasets import load_toy
from tfp_flows.training import mean_nll

tfd, tfb = tfp.distributions, tfp.bijectors
# %matplotlib inline
plt.rcParams.update({"figure.dpi": 70, "font.size": 9})
keras.utils.set_random_seed(0)
print(f"TensorFlow {tf.__version__} | Keras {keras.__version__} | TFP {tfp.__version__} "
      f"| tfp_flows {tfp_flows.__version__}")

# %% [markdown]
# ## 0 · The banana
#
# Draw $z \sim \mathcal N(0, I_2)$ and bend it:
#
# $$x_1 = z_1, \qquad x_2 = z_2 + 4\,(z_1^2 + 1).$$
#
# The map has Jacobian determinant 1, so the density is exact and simple,
# $p(x) = \mathcal N(x_1; 0, 1)\,\mathcal N(x_2 - 4(x_1^2+1); 0, 1)$, and the entropy is that of
# the 2-D standard Normal, $\log(2\pi e) \approx 2.838$ nats. `load_toy("banana")` draws the
# training set and standardises it ($x_2$ has a standard deviation near 5.7); the returned
# `truth` carries the same standardisation, so its entropy is lower by $\sum_i \log(\text{scale}_i)$.

# %%
x_train, truth = load_toy("banana", n_train=20_000, seed=0)
x_test = truth.sample(20_000, seed=1)      # fresh draws for testing, same coordinates
x_monitor = truth.sample(1_000, seed=2)    # a fixed batch to watch during training
entropy = truth.entropy()
bounds = truth.plot_bounds
d = x_train.shape[1]

print(truth)
print(f"entropy: raw log(2 pi e) = {np.log(2 * np.pi * np.e):.4f}, "
      f"standardised = {entropy:.4f} nats")
fig = tfp_flows.plotting.plot_samples(x_train[:2000], bounds=bounds,
                                      title="banana, standardised (2,000 of 20,000 points)")

# %% [markdown]
# ## 1 · The objective in two parts
#
# Write the flow's density direction as $z = f^{-1}(x)$. With a standard Normal base in $d$
# dimensions the negative log-likelihood of one point is
#
# $$-\log p(x) \;=\; \underbrace{\tfrac12\|z\|^2}_{\text{L2 part}} \;+\; \tfrac d2\log 2\pi
# \;-\; \underbrace{\log\left|\det\frac{\partial z}{\partial x}\right|}_{\text{log-det part}} .$$
#
# The L2 part alone would be minimised by sending every point to $z = 0$; the log-det part
# forbids that, because squeezing space makes the log-determinant very negative. Two reference
# values tell us what to expect when the fit is perfect:
#
# * if $z$ is exactly standard Normal, $\mathbb E\big[\tfrac12\|z\|^2\big] = d/2$ ("Normal noise",
#   here 1);
# * the mean NLL then equals the data entropy $H$, so the mean log-det part tends to
#   $\tfrac d2(1 + \log 2\pi) - H$: the entropy of the base minus that of the data, i.e. the
#   log-volume the flow must create.
#
# ## 2 · The three pieces of a Glow step
#
# 1. **ActNorm**: $y = x \odot e^{s} + m$, one scale and one shift per feature,
#    $\log|\det| = \sum_i s_i$. Its parameters are set from data before training: on the first
#    batch, the layer's output is made zero-mean and unit-variance (like batch normalisation,
#    but afterwards an ordinary trainable bijection that does not depend on the batch). The
#    bijector `ActNorm(loc, log_scale)` simply takes $m$ and $s$;
#    `actnorm_statistics(y)` computes the data-dependent values from a batch $y$. In a model,
#    `ActNormLayer` owns $m$ and $s$ as Keras weights and `FlowModel.fit` does this
#    initialisation for you (`FlowModel.initialize_from_data`, layer by layer from the data
#    side).
# 2. **Invertible linear map**: $y = Wx$ with $W = PLU$: a fixed permutation $P$, a
#    lower-triangular $L$ with ones on the diagonal, and an upper-triangular $U$ whose diagonal
#    is $e^{d_i}$. Then $\log|\det W| = \sum_i d_i$ costs $O(D)$ instead of $O(D^3)$, and $W$ is
#    invertible whatever the parameters are. It replaces the fixed permutations of RealNVP with
#    a learned mixing of the coordinates (on images, the same matrix acts on the channels of
#    every pixel: a 1×1 convolution). The bijector takes the four factors,
#    `InvertibleLinear(permutation, lower, upper, log_diag)`; `random_lu_init(size, seed)`
#    returns those of a random rotation, Glow's starting point for images. The vector
#    `tfp_flows.glow` used here starts every map at the identity instead and learns the
#    mixing: on 2-D data a random rotation turns the couplings away from the axes along which
#    the data are simplest, and training barely turns it back (BENCHMARKS.md, "Glow on small
#    2-D data").
# 3. **Affine coupling**: as in RealNVP, half the coordinates set a shift and log-scale for the
#    other half; the half that is changed alternates from step to step.
#
# Each piece is a plain TFP bijector in `tfp_flows.bijectors`, a function of the parameters it
# is given (it creates no variables); let us check their promises.

# %%
W0 = InvertibleLinear(*random_lu_init(3, seed=0)).matrix().numpy()
print("initial W, a random rotation:\n", W0.round(3), "\nW W^T = I:", np.allclose(W0 @ W0.T, np.eye(3), atol=1e-5))

# Any values of the LU parameters give an invertible W whose log|det| is sum(log_diag):
rng = np.random.default_rng(1)
linear = InvertibleLinear(
    permutation=[2, 0, 1], lower=tf.constant(rng.normal(size=(3, 3)), tf.float32),
    upper=tf.constant(rng.normal(size=(3, 3)), tf.float32), log_diag=tf.constant([0.3, -0.2, 0.5]))
W = linear.matrix().numpy()
print(f"sum(log_diag) = {0.3 - 0.2 + 0.5:.4f} | log|det W| by NumPy = {np.linalg.slogdet(W)[1]:.4f} | "
      f"layer's log-det = {float(linear.forward_log_det_jacobian(tf.zeros([1, 3]), event_ndims=1)[0]):.4f}")

batch = x_train[:128]
actnorm = ActNorm(*actnorm_statistics(batch))   # loc, log_scale from the first batch
out = actnorm.inverse(batch).numpy()            # density direction: data -> latent side
print("ActNorm output on the batch it was set from: mean", out.mean(0).round(4) + 0.0,  # + 0.0: no "-0."
      "std", out.std(0).round(4))

# %% [markdown]
# ## 3 · Build Glow and watch the two parts while it trains
#
# `tfp_flows.glow` stacks `num_layers` steps; `flow_layers` lists them in the sampling order
# (base side first), so each step appears as coupling → linear → ActNorm. The last layer, on
# the data side, is the builders' fixed standardisation (`standardize=True`, a non-trainable
# ActNorm named `standardize`, set from the training data by `fit`): the model takes data in
# its own units. Ours are standardised already, so it is close to the identity here.
#
# To record the two parts we use a small Keras callback: it maps the fixed monitoring batch to
# the latent space with `flow.encode(x)`, which returns $(z, \log|\det \partial z/\partial x|)$,
# and stores the batch means of $\tfrac12\|z\|^2$ and of the log-determinant. Keras calls a
# callback's batch hook once per call of the compiled training function, and a vector flow's
# `compile` runs 16 parameter updates per call (`steps_per_execution=16`, so that Keras's
# per-step Python work is paid once per 16 steps). So the hook fires every 16 updates, and the
# callback reads the true number of updates from the optimizer (`optimizer.iterations`).

# %%
keras.utils.set_random_seed(0)
# The base is the builders' default, a standard Normal, as in Glow's paper and as the checks
# of this notebook (L2 part, Q-Q plots) assume.
flow = tfp_flows.glow(event_shape=2, num_layers=6, hidden_units=(64, 64), seed=0)
print(" -> ".join(type(layer).__name__.replace("Layer", "") for layer in flow.flow_layers[:3]),
      f"... ({(len(flow.flow_layers) - 1) // 3} steps) -> {flow.flow_layers[-1].name} "
      f"| {flow.count_params()} weights")


class NLLParts(keras.callbacks.Callback):
    """Mean 0.5 ||z||^2 and mean log|det dz/dx| on a fixed batch, before training and after
    every call of the training function (`steps_per_execution` parameter updates)."""

    def __init__(self, x_fixed):
        super().__init__()
        self.x_fixed = tf.constant(x_fixed)
        self.updates, self.steps, self.l2, self.logdet = 0, [], [], []

    def on_train_begin(self, logs=None):
        self.encode = tf.function(self.model.encode)
        self.record()                              # after ActNorm's init, before any update

    def on_train_batch_end(self, batch, logs=None):
        self.record()

    def record(self):
        self.updates = int(self.model.optimizer.iterations)   # parameter updates so far
        z, log_det = self.encode(self.x_fixed)
        self.steps.append(self.updates)
        self.l2.append(float(tf.reduce_mean(0.5 * tf.reduce_sum(z ** 2, axis=-1))))
        self.logdet.append(float(tf.reduce_mean(log_det)))


EPOCHS, BATCH = 10, 128
updates = EPOCHS * (int(0.9 * len(x_train)) // BATCH)        # 90 % of the data trains
schedule = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=updates, alpha=0.02)
flow.compile(optimizer=keras.optimizers.Adam(schedule))

parts = NLLParts(x_monitor)
start = time.perf_counter()
history = flow.fit(x_train, validation_split=0.1, batch_size=BATCH, epochs=EPOCHS, verbose=0,
                   callbacks=[parts])
print(f"{parts.updates} updates in {time.perf_counter() - start:.1f} s | "
      f"train NLL {history.history['loss'][-1]:.3f} | validation NLL {history.history['val_loss'][-1]:.3f}")

# %%
logdet_limit = 0.5 * d * (1 + np.log(2 * np.pi)) - entropy
fig = tfp_flows.plotting.plot_nll_parts(parts.l2, parts.logdet, event_size=d, x=parts.steps,
                                        xlabel="parameter update")
fig.axes[1].axhline(logdet_limit, color="0.3", linestyle="--", linewidth=1,
                    label=f"H(base) - H(data) = {logdet_limit:.3f}")
fig.axes[1].legend(loc="lower right")
fig.axes[2].axhline(entropy, color="0.3", linestyle="--", linewidth=1,
                    label=f"exact entropy {entropy:.3f}")
fig.axes[2].legend(loc="upper right")
fig.set_size_inches(6.5, 5.5)

print(f"last record: L2 part {parts.l2[-1]:.3f} (Normal noise: {d / 2}), "
      f"log-det part {parts.logdet[-1]:.3f} (limit {logdet_limit:.3f})")
nll_from_parts = parts.l2[-1] + 0.5 * d * np.log(2 * np.pi) - parts.logdet[-1]
print(f"NLL from the parts {nll_from_parts:.4f} = -mean log_prob {-np.mean(flow.log_prob(x_monitor)):.4f}")

# %% [markdown]
# How to read it. The data were standardised, so even the untrained flow (ActNorm initialised,
# the linear maps the identity) sends them to latents of unit variance: the L2 part starts near
# $d/2$ and the log-det part near 0. The L2 part cannot tell a banana from a Normal blob of the
# same variance; the log-det part can. The banana fills much less volume than a standard Normal
# (its entropy is lower by the dashed value in the middle panel), so the map $x \to z$ must
# *expand* it, and nearly all of the progress shows up as the log-det part climbing towards that
# value while the L2 part stays near $d/2$. The same run as Keras sees it, per epoch:

# %%
fig = tfp_flows.plotting.plot_loss(history, reference=entropy, reference_label="exact entropy",
                                   title="Glow on the banana")

# %% [markdown]
# ## 4 · Are the latents Normal?
#
# If the flow fits, $z = f^{-1}(x)$ of fresh data is standard Normal. The Q-Q plots compare
# sorted latents against Normal quantiles (points on the diagonal: Normal); the histograms
# overlay the $\mathcal N(0,1)$ density. The Kolmogorov–Smirnov statistic is the largest gap
# between the empirical and the Normal distribution function. For calibration we also compute
# it for the data before the flow and for a truly Normal sample of the same size. (The first
# coordinate of the banana is Normal by construction, $x_1 = z_1$; the second one is the bent,
# skewed one.)

# %%
from scipy import stats

z_test = flow.encode(x_test)[0].numpy()
fig = tfp_flows.plotting.plot_latent_qq(z_test[:3000], bins=40)

normal_sample = np.random.default_rng(3).standard_normal(z_test.shape)
rows = ["| sample | dim | mean | std | KS statistic | KS p-value |", "|---|---:|---:|---:|---:|---:|"]
ks_latent = []
for label, sample in [("latent z = f⁻¹(x_test)", z_test), ("data x_test (standardised)", x_test),
                      ("exact N(0, 1) sample", normal_sample)]:
    for j in range(d):
        ks = stats.kstest(sample[:, j], "norm")
        if sample is z_test:
            ks_latent.append(ks.statistic)
        rows.append(f"| {label} | {j} | {sample[:, j].mean():+.3f} | {sample[:, j].std():.3f} | "
                    f"{ks.statistic:.4f} | {ks.pvalue:.2g} |")
display(Markdown("\n".join(rows)))
print(f"KS critical value at the 5 % level for n = {len(z_test)}: {1.358 / np.sqrt(len(z_test)):.4f}")

# %% [markdown]
# With 20,000 points the KS test is very sensitive: a fit only slightly short of perfect can
# be "rejected" by its p-value (a statistic above the critical value printed under the table),
# so compare the statistics themselves. For the bent coordinate the flow should
# bring the statistic from that of the raw data down towards that of the exact Normal sample.
#
# ## 5 · From latent points to the banana
#
# Sampling runs the flow forward. Each grey line joins a latent point $z \sim \mathcal N(0,I)$ to
# its image $x = f(z)$. Points near the centre of the latent cloud land in the dense bottom of
# the banana; points far out along one latent direction travel up its arms. Which direction
# that is, is the flow's choice: a standard Normal looks the same from every angle, so any
# rotation of the latent space fits equally well.

# %%
z_lines = np.random.default_rng(4).standard_normal((150, 2)).astype("float32")
x_lines = flow.forward_steps(z_lines)[-1].numpy()
fig = tfp_flows.plotting.plot_latent_lines(z_lines, x_lines, n=150)

# %%
fig = tfp_flows.plotting.plot_density(flow, bounds=bounds, resolution=90, truth=truth,
                                      title="Glow density", truth_title="exact density",
                                      scale="shared")   # one colour scale for both panels
samples = flow.sample(2000, seed=5).numpy()
fig = tfp_flows.plotting.plot_samples(samples, data=x_test[:2000], bounds=bounds,
                                      title="Glow samples", data_title="fresh data")

# %% [markdown]
# ## 6 · KL divergence to the truth
#
# On the 20,000 fresh test points, KL = test NLL − exact entropy
# (`tfp_flows.training.mean_nll` gives the test NLL with its standard error;
# `tfp_flows.training.kl_to_truth(flow, truth)` would draw the test points and subtract the
# entropy in one call). Its Monte-Carlo error is that of the test NLL. Evaluating both densities at the same points gives a second estimate,
# the mean of $\log p(x) - \log q(x)$, with a much smaller error because most of the
# point-to-point variation cancels. When the fit is good the true KL is smaller than the
# noise of the first estimate, which can then come out slightly negative.

# %%
test_nll, test_nll_se = mean_nll(flow, x_test)    # an Estimate: (value, standard error)
kl = test_nll - entropy
log_q = flow.log_prob(x_test).numpy().astype(np.float64)
gap = truth.log_prob(x_test) - log_q
kl_paired, kl_paired_se = gap.mean(), gap.std() / np.sqrt(len(gap))
train_nll = mean_nll(flow, x_train).value
print(f"train NLL {train_nll:.4f} | test NLL {test_nll:.4f} ± {test_nll_se:.4f} | "
      f"exact entropy {entropy:.4f}")
print(f"KL(truth || Glow) = test NLL - entropy = {kl:.4f} ± {test_nll_se:.4f} nats")
print(f"paired estimate mean(log p - log q)  = {kl_paired:.4f} ± {kl_paired_se:.4f} nats")

# %% [markdown]
# ## What you should see

# %%
display(Markdown(f"""
* **The L2 part** of the NLL settles near the Normal-noise value d/2 = {d / 2:g}
  (last record {parts.l2[-1]:.3f}), and **the log-det part** near its limit
  H(base) − H(data) = {logdet_limit:.3f} (last record {parts.logdet[-1]:.3f}). Their
  combination is the NLL: {test_nll:.3f} on 20,000 fresh points, against the exact
  entropy {entropy:.3f}.
* **The latents are close to standard Normal**: per-dimension means
  {', '.join(f'{m:+.3f}' for m in z_test.mean(0))}, standard deviations
  {', '.join(f'{s:.3f}' for s in z_test.std(0))}, KS statistics
  {', '.join(f'{k:.4f}' for k in ks_latent)} (a truly Normal sample of this size:
  {', '.join(f'{stats.kstest(normal_sample[:, j], "norm").statistic:.4f}' for j in range(d))};
  the bent coordinate of the data before the flow: {stats.kstest(x_test[:, 1], "norm").statistic:.4f}).
* **Samples and density** trace the banana, arms included.
* **KL to the exact density: {kl:.4f} ± {test_nll_se:.4f} nats** (test NLL − entropy; paired
  estimate {kl_paired:.4f} ± {kl_paired_se:.4f}) on 20,000 fresh points, after
  {parts.updates} parameter updates of a {flow.count_params()}-weight Glow.
"""))
