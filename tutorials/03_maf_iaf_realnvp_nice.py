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
# # 3 · MAF, IAF, RealNVP and NICE with Keras `fit`
#
# Four classic normalizing flows, fitted to the two-moons data set and compared with numbers
# rather than by eye. Along the way:
#
# * why an **autoregressive** layer has a determinant you never have to compute, and how
#   **MADE** turns one dense network into an autoregressive one (checked numerically);
# * why **MAF** and **IAF** are one layer used in opposite directions, and what that costs:
#   we time sampling and density evaluation of both;
# * how **coupling** layers (**RealNVP**) and **additive** coupling (**NICE**) are cheap in both
#   directions, and what NICE gives up;
# * training each flow with plain `keras.Model.fit` and a validation split, then measuring
#   the KL divergence of each to the *exact* density of the data;
# * the classic `keras.Model(x, dist.log_prob(x))` pattern for a hand-built TFP chain, made to
#   work under Keras 3 with `tfp_flows.layers.LogProb`.
#
# The whole notebook runs on a laptop CPU in a minute or two, so training runs are short; the
# numbers printed below are those of short runs, and longer training improves all of them.

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
from tfp_flows.datasets import load_toy
from tfp_flows.training import kl_to_truth

tfd, tfb = tfp.distributions, tfp.bijectors
# %matplotlib inline
plt.rcParams.update({"figure.dpi": 70, "font.size": 9})
keras.utils.set_random_seed(0)
print(f"TensorFlow {tf.__version__} | Keras {keras.__version__} | TFP {tfp.__version__} "
      f"| tfp_flows {tfp_flows.__version__}")

# %% [markdown]
# ## 0 · Data with a known density
#
# `load_toy("moons")` draws `sklearn.datasets.make_moons(1000, noise=0.05)` and standardises it,
# as most flow tutorials do. It also returns `truth`: the continuous distribution the points
# come from (a moon is picked, a point on it is picked uniformly, Gaussian noise is added), in
# the same standardised coordinates, with an exact `log_prob` and `entropy`. That turns
# "does the fit look right?" into a number. For a model density $q$,
#
# $$\mathrm{KL}(p\,\|\,q) = \mathbb E_{x\sim p}[\log p(x) - \log q(x)]
#  = \underbrace{\mathbb E_{x\sim p}[-\log q(x)]}_{\text{test NLL}} - \underbrace{H(p)}_{\text{exact entropy}} \;\ge 0,$$
#
# and we estimate the test NLL on 20,000 fresh draws from `truth`, never seen in training.

# %%
x_train, truth = load_toy("moons", n_train=1000, seed=0)
x_test = truth.sample(20_000, seed=1)          # fresh draws, same (standardised) coordinates
entropy = truth.entropy()
bounds = truth.plot_bounds

print("training data:", x_train.shape, x_train.dtype,
      "| mean", x_train.mean(0).round(3), "| std", x_train.std(0).round(3))
print(f"exact entropy H(p) = {entropy:.4f} nats")
print(f"sanity check, mean -log p(x_test) under the truth itself = {-truth.log_prob(x_test).mean():.4f}")
fig = tfp_flows.plotting.plot_samples(x_train, bounds=bounds, title="two moons, standardised")

# %% [markdown]
# ## 1 · One formula for every flow
#
# A flow draws $z$ from a standard Normal and pushes it through invertible layers, $x = f(z)$.
# To score a data point we run the layers backwards, $z = f^{-1}(x)$, and correct for how much
# they stretch space around $x$:
#
# $$\log p(x) = \log \mathcal N\!\left(f^{-1}(x);\,0, I\right)
#  + \log\left|\det \frac{\partial f^{-1}(x)}{\partial x}\right|.$$
#
# A general $D\times D$ determinant costs $O(D^3)$. Every flow here is built so that its
# Jacobian is **triangular** (or block-triangular): then the determinant is just the product of
# the diagonal, and the log-determinant a sum.
#
# ## 2 · Autoregressive layers and MADE
#
# An affine autoregressive layer changes one coordinate at a time, with a shift $t_i$ and a
# log-scale $s_i$ that may only look at the coordinates *before* it:
#
# $$x_i = z_i\,e^{s_i(x_{<i})} + t_i(x_{<i}), \qquad i = 1,\dots,D .$$
#
# Since nothing about coordinate $i$ depends on coordinates $j \ge i$, the Jacobian
# $\partial z / \partial x$ is lower triangular with diagonal $e^{-s_i}$, so
# $\log|\det \partial z/\partial x| = -\sum_i s_i$.
#
# That asks for $D$ pairs $(t_i, s_i)$, each a function of a different prefix $x_{<i}$.
# **MADE** (Germain et al., 2015) produces all of them from a *single* dense network: every
# weight matrix is multiplied by a fixed 0/1 mask, built from a "degree" given to each unit, that
# removes every path from input $x_j$ to output $i$ unless $x_j$ comes earlier in the order.
# `tfp_flows.nets.MADE` is a Keras 3 layer. Rather than trust the masks, let us ask
# TensorFlow which inputs each output actually depends on.

# %%
made = tfp_flows.nets.MADE(event_shape=3, num_params=2, hidden_units=(16, 16),
                           zero_init_output=False)   # random output weights: every allowed link shows
x3 = tf.random.normal([1, 3], seed=0)
with tf.GradientTape() as tape:
    tape.watch(x3)
    shift = made(x3)[..., 0]                          # [1, 3]: the shift t_i of each coordinate
jac = tape.batch_jacobian(shift, x3)[0].numpy()       # jac[i, j] = d t_i / d x_j
print("made(x).shape =", made(x3).shape, "= (batch, D, [shift, log-scale])")
print("order:", made.order, "\nnon-zero d t_i / d x_j  (row i = output, column j = input):")
print((np.abs(jac) > 0).astype(int))

# %% [markdown]
# Strictly lower triangular: $t_0$ is a constant, $t_1$ sees $x_0$, $t_2$ sees $x_0, x_1$.
# Wrapped in `tfp_flows.bijectors.MaskedAutoregressive`, this network becomes an invertible
# layer. Its elementwise map is an argument, `transform="affine"` here (the default, the
# shift-and-scale above); `"additive"` or `RationalQuadratic(...)` (a neural spline
# autoregressive layer) plug into the same place. The Jacobian of its density direction is
# triangular, so the log-determinant the layer reports must equal the one computed from the
# full matrix:

# %%
layer = tfp_flows.bijectors.MaskedAutoregressive(made, transform="affine")
x_point = tf.random.normal([1, 3], seed=1)
with tf.GradientTape() as tape:
    tape.watch(x_point)
    z_point = layer.inverse(x_point)                  # density direction x -> z
J = tape.batch_jacobian(z_point, x_point)[0].numpy()
print("dz/dx =\n", J.round(3))
print(f"log|det| from the full matrix : {np.linalg.slogdet(J)[1]:+.5f}")
print(f"log|det| reported by the layer: {float(layer.inverse_log_det_jacobian(x_point, event_ndims=1)[0]):+.5f}")

# %% [markdown]
# ## 3 · MAF and IAF: one layer, two directions
#
# Read the layer in both directions.
#
# * **Density** ($x \to z$): $z_i = (x_i - t_i(x_{<i}))\,e^{-s_i(x_{<i})}$. All of $x$ is known,
#   so one MADE call gives every $(t_i, s_i)$ at once: **one pass**.
# * **Sampling** ($z \to x$): $x_i$ needs $t_i(x_{<i})$, which needs $x_{i-1}$ first. MADE is
#   called again after each new coordinate: **$D$ passes, one after another**.
#
# That is the **masked autoregressive flow**, MAF (Papamakarios et al., 2017): fast density,
# slow sampling. The **inverse autoregressive flow**, IAF (Kingma et al., 2016), is the same
# layer turned around, `tfb.Invert(MaskedAutoregressive(...))`: its shift and scale are computed
# from the latent side, so *sampling* is the single pass and the density of a given $x$ needs the
# $D$-step loop. Fitting to data needs densities, so MAF is the natural choice for density
# estimation; IAF shines where many samples are drawn and only their own densities are needed
# (variational inference). Section 7 measures the difference.
#
# The builders `tfp_flows.maf` and `tfp_flows.iaf` stack such layers with a permutation in
# between (`permutation="reverse"`), so that every coordinate gets to condition every other.
# In a `FlowModel` each layer is an `AutoregressiveLayer`, a Keras layer that owns the MADE
# and builds the bijector; `inverse=True` makes it an IAF layer.
#
# ## 4 · Coupling layers: RealNVP and NICE
#
# A coupling layer splits the vector in two. The first part passes through unchanged and alone
# drives a network that shifts and scales the second part:
#
# $$x_{1:d} = z_{1:d}, \qquad x_{d+1:D} = z_{d+1:D}\odot e^{s(z_{1:d})} + t(z_{1:d}).$$
#
# This is an autoregressive layer with just two blocks, so the Jacobian is block-triangular and
# its log-determinant is $\sum s$. Because the conditioning part is identical on both sides, the
# inverse $z_{d+1:D} = (x_{d+1:D} - t(x_{1:d}))\,e^{-s(x_{1:d})}$ is just as direct: **both
# directions take one pass**. That is RealNVP (Dinh et al., 2017). The price is that each layer
# leaves half the coordinates alone, so layers must alternate which half they change
# (here: a permutation between layers).
#
# **NICE** (Dinh et al., 2015) is the additive ancestor: $s \equiv 0$, a shift only. Each
# coupling then has determinant 1: it moves probability mass around but cannot make any region
# denser or thinner. To squeeze a standard Normal into two thin moons *something* must change
# volume, so NICE ends with a learned diagonal scaling; `tfp_flows.nice` appends an ActNorm
# layer (one scale and shift per coordinate) for it. That scale is the same everywhere in space,
# which is the main handicap we expect to see for NICE below.
#
# Both are the same bijector, `tfp_flows.bijectors.Coupling`, with a different elementwise
# transform: `transform="affine"` (RealNVP) or `transform="additive"` (NICE); as Keras layers,
# `tfp_flows.layers.CouplingLayer(event_shape, transform=...)`.

# %% [markdown]
# ## 5 · Build and train the four flows with `fit`
#
# All builders share one keyword-only signature. Each returns a `FlowModel`, a `keras.Model`
# whose output is $\log p(x)$ and which trains by maximum likelihood: `compile` takes only an
# optimizer, `fit` takes only the data. By default (`standardize=True`) a builder ends, on the
# data side, with a fixed standardisation: a non-trainable ActNorm layer named `standardize`
# that `fit` sets to the training data's mean and standard deviation, so a model takes data
# in its own units. Our data are standardised already, so here it is close to the identity.
# `validation_split=0.2` keeps the last 20 % of the (already shuffled) training points
# aside, and Keras reports their loss after each epoch.
#
# We use four layers of each kind with `tanh` conditioners: in short runs on this data set the
# smooth conditioners reached a lower loss than ReLU ones (try `activation="relu"`). Every
# builder's default base is the standard Normal of the papers (and of the hand-built flow in
# section 8), so the comparison is like for like; `base_distribution="student_t"` would give
# a heavy-tailed base instead, which keeps densities sane far from the data but converges
# more slowly in runs this short.

# %%
EPOCHS, BATCH, LEARNING_RATE = 150, 64, 2e-3
common = dict(event_shape=2, num_layers=4, hidden_units=(64, 64), activation="tanh", seed=0)
builders = {"MAF": tfp_flows.maf, "IAF": tfp_flows.iaf,
            "RealNVP": tfp_flows.real_nvp, "NICE": tfp_flows.nice}

def stage_name(layer):
    """A short name for one layer of a FlowModel."""
    kind = type(layer).__name__
    if kind == "AutoregressiveLayer":
        return "IAF layer" if layer.inverse else "MAF layer"
    if kind == "CouplingLayer":
        return f"{layer.transform.get_config()['kind']} coupling"
    if layer.name == "standardize":
        return "standardise"
    return kind.replace("Layer", "")

flows = {}
for name, build in builders.items():
    keras.utils.set_random_seed(0)
    flows[name] = build(**common)
    stages = [stage_name(layer) for layer in flows[name].flow_layers]
    print(f"{name:8s} {flows[name].count_params():6d} weights | base -> " + " -> ".join(stages))

# %%
histories, train_seconds = {}, {}
for name, flow in flows.items():
    keras.utils.set_random_seed(0)
    flow.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    start = time.perf_counter()
    histories[name] = flow.fit(x_train, validation_split=0.2, batch_size=BATCH,
                               epochs=EPOCHS, verbose=0)
    train_seconds[name] = time.perf_counter() - start
    h = histories[name].history
    print(f"{name:8s} {EPOCHS} epochs in {train_seconds[name]:5.1f} s | "
          f"train NLL {h['loss'][-1]:.3f} | validation NLL {h['val_loss'][-1]:.3f}")

# %% [markdown]
# The loss curves come straight from the Keras `History` objects. The dashed line is the exact
# entropy of the data, the lowest mean NLL any model can reach *in expectation* (a finite
# training set can dip below it by over-fitting).

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 2.8), sharey=True, dpi=60, layout="constrained")
for i, (ax, (name, history)) in enumerate(zip(axes, histories.items())):
    tfp_flows.plotting.plot_loss(history, reference=entropy, reference_label="exact entropy",
                                 ax=ax, title=name, legend="upper right" if i == 0 else None)
    if i:
        ax.set_ylabel("")

# %% [markdown]
# ### Densities
#
# The learned densities next to the exact one (each panel has its own colour scale):

# %%
fig, axes = plt.subplots(1, 5, figsize=(16, 3.4), layout="constrained")
for ax, (name, flow) in zip(axes, flows.items()):
    tfp_flows.plotting.plot_density(flow, bounds=bounds, resolution=80, ax=ax, title=name,
                                    colorbar=False)
fig = tfp_flows.plotting.plot_density(truth, bounds=bounds, resolution=80, ax=axes[-1],
                                      title="exact density", colorbar=False)

# %% [markdown]
# ### Layer by layer
#
# `forward_steps(z)` returns the sample after every layer, from the base to the data side. Each
# point keeps the colour of its angle in the base sample, so you can follow how the Gaussian
# blob is cut and bent into two moons. (A `Permute` panel only swaps the two axes; the last
# panel of each row is the builders' fixed standardisation.)

# %%
z_base = np.random.default_rng(2).standard_normal((300, 2)).astype("float32")
n_cols = max(len(flow.flow_layers) + 1 for flow in flows.values())
fig, grid = plt.subplots(len(flows), n_cols, figsize=(1.6 * n_cols, 1.65 * len(flows)),
                         dpi=60, layout="constrained")
for row, (name, flow) in zip(grid, flows.items()):
    steps = flow.forward_steps(z_base)
    names = [f"{name}: base z"] + [stage_name(layer) for layer in flow.flow_layers]
    tfp_flows.plotting.plot_layer_grid(steps, names=names, s=2.0, axes=row[:len(steps)],
                                       xlabel="", ylabel="")
    for ax in row:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.title.set_fontsize(8)
    for ax in row[len(steps):]:
        ax.remove()


# %% [markdown]
# ## 6 · How close is each flow to the truth?
#
# Test NLL on the 20,000 fresh draws, and the KL divergence to the exact density,
# KL = test NLL − exact entropy. `tfp_flows.training.kl_to_truth(model, truth, num_samples,
# seed)` computes exactly that: it draws `truth.sample(num_samples, seed=seed)` (with
# `seed=1`, our `x_test`), averages $-\log q(x)$ and subtracts `truth.entropy()`. It returns an
# `Estimate(value, std_error)`; the ± is the Monte-Carlo standard error of the test NLL
# (standard deviation of $-\log q(x)$ over the test points, divided by $\sqrt{20000}$).

# %%
def evaluate(model):
    """(test NLL, KL = test NLL - exact entropy, standard error) on x_test, in nats."""
    kl = kl_to_truth(model, truth, num_samples=len(x_test), seed=1)   # the points of x_test
    return kl.value + entropy, kl.value, kl.std_error

results = {name: evaluate(flow) for name, flow in flows.items()}
table = ["| flow | weights | train time (s) | train NLL | val NLL | test NLL | KL to truth (nats) |",
         "|---|---:|---:|---:|---:|---:|---:|"]
for name, flow in flows.items():
    h = histories[name].history
    nll, kl, se = results[name]
    table.append(f"| {name} | {flow.count_params()} | {train_seconds[name]:.1f} | "
                 f"{h['loss'][-1]:.3f} | {h['val_loss'][-1]:.3f} | {nll:.3f} | {kl:.3f} ± {se:.3f} |")
table.append(f"| *exact density* | | | | | {entropy:.3f} | 0 |")
display(Markdown("\n".join(table)))

# %% [markdown]
# ## 7 · Why MAF samples slowly and IAF evaluates slowly: a measurement
#
# The argument of section 3 says: at event size $D$, MAF's sampling and IAF's density need $D$
# network calls per layer, one after the other, while MAF's density and IAF's sampling need one.
# RealNVP needs one either way. Let us time it at $D = 16$, four layers, 1,000 points, each call
# compiled with `tf.function` (so we time the computation, not Python), best of several repeats.
# The weights are untrained: the amount of work does not depend on their values.

# %%
D, N, REPEATS = 16, 1000, 7
speed_flows = {name: build(event_shape=D, num_layers=4, hidden_units=(64, 64), seed=0)
               for name, build in [("MAF", tfp_flows.maf), ("IAF", tfp_flows.iaf),
                                   ("RealNVP", tfp_flows.real_nvp)]}
x_speed = tf.random.normal([N, D], seed=0)

def best_ms(fn):
    fn()                                   # first call traces the tf.function
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn().numpy()                       # .numpy() waits for the result
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)

speed = {}
for name, flow in speed_flows.items():
    sample = tf.function(lambda flow=flow: flow.sample(N, seed=1))
    log_prob = tf.function(lambda flow=flow: flow.log_prob(x_speed))
    speed[name] = {"sample": best_ms(sample), "log_prob": best_ms(log_prob)}
    print(f"{name:8s} sample({N}): {speed[name]['sample']:7.2f} ms   "
          f"log_prob({N} points): {speed[name]['log_prob']:7.2f} ms")

print(f"\nMAF: sampling is {speed['MAF']['sample'] / speed['MAF']['log_prob']:.1f}x slower than its density")
print(f"IAF: density is {speed['IAF']['log_prob'] / speed['IAF']['sample']:.1f}x slower than its sampling")
print(f"sampling, MAF / IAF: {speed['MAF']['sample'] / speed['IAF']['sample']:.1f}x")
print(f"density,  IAF / MAF: {speed['IAF']['log_prob'] / speed['MAF']['log_prob']:.1f}x")

# %% [markdown]
# The ratios are not exactly $D = 16$: each of the 16 sequential passes is a small matrix
# product, and fixed costs (the base distribution, the permutations, launching operations) are
# shared by both directions. The shape of the result is what matters: the slow direction grows
# with $D$, the fast one does not.
#
# ## 8 · The classic functional pattern, under Keras 3
#
# Many TFP tutorials build a flow by hand and train it like this:
#
# ```python
# made = tfb.AutoregressiveNetwork(params=2, event_shape=[2], hidden_units=[64, 64])
# dist = tfd.TransformedDistribution(base, tfb.MaskedAutoregressiveFlow(made))
# x = Input(shape=(2,)); model = Model(x, dist.log_prob(x))
# model.compile(optimizer, loss=lambda _, log_prob: -log_prob)
# ```
#
# With TensorFlow ≥ 2.16 (`keras` is Keras 3) this breaks twice. `tfb.AutoregressiveNetwork`
# is a Keras 2 (`tf_keras`) layer, which a Keras 3 model cannot hold or train. And calling a TFP
# function on the symbolic `keras.Input` fails, even with a bijector that has no network at all:

# %%
x_in = keras.Input((2,))
plain = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(2)), tfb.Shift([0.0, 0.0]))
try:
    keras.Model(x_in, plain.log_prob(x_in))
except Exception as err:                   # what Keras 3 says
    print(f"{type(err).__name__}: {str(err).split('. ')[0]}.")

# %% [markdown]
# The fix keeps the pattern. Use `tfp_flows.nets.MADE` (a Keras 3 layer) inside
# `tfp_flows.bijectors.MaskedAutoregressive` (a plain `tfb.Bijector`), chain them with ordinary
# `tfb.Permute`, and wrap the distribution in `tfp_flows.layers.LogProb`, a Keras layer whose
# output is `dist.log_prob(x)` and which hands the MADE weights to Keras for training. The loss
# is `tfp_flows.layers.negative_log_likelihood`; Keras' `fit` wants targets when a loss is
# compiled, so we pass an empty array `np.zeros((n, 0))`. Remember that `tfb.Chain` applies its
# list right to left: the last bijector acts first on the base sample.

# %%
keras.utils.set_random_seed(0)

def maf_layer():
    return tfp_flows.bijectors.MaskedAutoregressive(
        tfp_flows.nets.MADE(event_shape=2, hidden_units=(64, 64), activation="tanh"))

chain = tfb.Chain([maf_layer(), tfb.Permute([1, 0]), maf_layer(), tfb.Permute([1, 0]),
                   maf_layer(), tfb.Permute([1, 0]), maf_layer()])
dist = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=tf.zeros(2)), chain)

x = keras.Input((2,))
model = keras.Model(x, tfp_flows.layers.LogProb(dist)(x))
model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
              loss=tfp_flows.layers.negative_log_likelihood)
print(f"trainable weights found by Keras: {len(model.trainable_weights)} arrays, "
      f"{model.count_params()} numbers")

start = time.perf_counter()
history = model.fit(x_train, np.zeros((len(x_train), 0), "float32"), batch_size=BATCH,
                    epochs=EPOCHS, validation_split=0.2, verbose=0)
functional_seconds = time.perf_counter() - start
functional = evaluate(dist)                # dist itself reads the trained weights
print(f"trained in {functional_seconds:.1f} s | train NLL {history.history['loss'][-1]:.3f} | "
      f"validation NLL {history.history['val_loss'][-1]:.3f}")
print(f"KL to truth: {functional[1]:.3f} ± {functional[2]:.3f} nats "
      f"(builder MAF above: {results['MAF'][1]:.3f} ± {results['MAF'][2]:.3f})")
fig = tfp_flows.plotting.plot_samples(dist.sample(1000, seed=3).numpy(), data=x_test[:1000],
                                      bounds=bounds, title="hand-built chain: samples",
                                      data_title="fresh data")

# %% [markdown]
# The model is an ordinary Keras model: callbacks, `validation_split` and `save_weights` work.
# It cannot be saved as a whole `.keras` file (a TFP distribution is not a Keras object); when
# you need that, build the same flow with `tfp_flows.maf(...)`, which is a `FlowModel`.
#
# ## Summary

# %%
ranked = sorted(results, key=lambda name: results[name][1])
lines = [f"* Exact entropy of the standardised moons: **{entropy:.3f} nats**; after {EPOCHS} epochs "
         "the KL divergences to it are " + ", ".join(f"{n} **{results[n][1]:.3f}**" for n in ranked)
         + " nats (best first).",
         f"* The hand-built `keras.Model(x, LogProb(dist)(x))` MAF reached **{functional[1]:.3f}** nats, "
         f"the `tfp_flows.maf` builder with the same layers and epochs **{results['MAF'][1]:.3f}**. "
         f"The two differ only in their random initial weights and batch order, so a gap of "
         f"{abs(functional[1] - results['MAF'][1]):.2f} nats shows how much short runs vary: "
         "read small differences in the table as noise, and train longer to separate the flows.",
         f"* At event size {D}: MAF sampling took **{speed['MAF']['sample'] / speed['MAF']['log_prob']:.1f}x** "
         f"as long as its density evaluation, IAF density **{speed['IAF']['log_prob'] / speed['IAF']['sample']:.1f}x** "
         "as long as its sampling; RealNVP is fast both ways "
         f"({speed['RealNVP']['sample']:.1f} ms and {speed['RealNVP']['log_prob']:.1f} ms)."]
if ranked[-1] == "NICE":
    lines.append("* NICE, whose couplings cannot change volume, finished last, as expected.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# Where to go next: notebook 4 fits **Glow** (ActNorm, learned invertible linear maps, affine
# couplings) to the banana distribution and checks that its latents are really Normal.
