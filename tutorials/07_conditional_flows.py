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
# # 7 · Conditional flows: amortised posteriors and class-conditional digits
#
# Every flow so far modelled one density $p(x)$. A **conditional flow** models a family of
# densities $p(x \mid c)$, one for every value of a *context* $c$: the parameters of a
# simulator given an observation, a digit given its class, the next frame given the last.
# The change is small. The base stays $\mathcal N(0, I)$; the bijector becomes a function
# of $c$ as well, $x = f(z; c)$, and for every fixed $c$ it is an ordinary invertible map of
# $x$, so the change of variables holds as before:
#
# $$\log p(x \mid c) = \log \mathcal N\big(f^{-1}(x; c);\, 0, I\big)
#   + \log\left|\det \frac{\partial f^{-1}(x; c)}{\partial x}\right| .$$
#
# The Jacobian is taken with respect to $x$ only. The context is never transformed, so it
# needs no inverse and can be anything numeric: an observation vector, a one-hot label. In
# `tfp_flows`, `context_size=K` in any builder (`maf`, `iaf`, `real_nvp`, `nice`, `glow`,
# `nsf`) feeds the context into **every conditioner** of the flow: the MADE network of each
# autoregressive layer, the MLP of each vector coupling, the ResNet of each image coupling.
# The shifts and scales, and hence the whole map, then move with $c$.
#
# This notebook does two things with it:
#
# 1. **Amortised posterior inference.** Simulate pairs $(\theta, y)$ from a linear-Gaussian
#    model, fit $p(\theta \mid y)$ once, then get the posterior of *any* new observation
#    with one network call, and check it against the exact posterior.
# 2. **Class-conditional digits.** A Real NVP on 8×8 digits with the one-hot label as
#    context: bits per dimension with the right and a wrong label, the flow as a
#    classifier, and samples of each class.
#
# Along the way: the shapes of contexts, samples and densities; the errors you get when the
# context is missing; the plain TFP route (`model.distribution` with `bijector_kwargs`);
# saving and loading. The notebook runs in about a minute and a half on a laptop CPU, so
# training runs are short and the numbers are those of short runs.

# %%
import os
import tempfile
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
from tfp_flows.datasets import LinearGaussian, dequantize, digits, one_hot
from tfp_flows.training import bits_per_dim, conditional_kl, fit_flow

# %matplotlib inline
plt.rcParams.update({"figure.dpi": 70, "font.size": 9})
keras.utils.set_random_seed(0)
print(f"TensorFlow {tf.__version__} | Keras {keras.__version__} | TFP {tfp.__version__} "
      f"| tfp_flows {tfp_flows.__version__}")
start = time.time()

DIGITS_EPOCHS = 10        # the digits run (part 2): about 30 s on a laptop CPU ...
DIGITS_SECONDS = 45       # ... and never more than this, on a slow or busy machine

# %% [markdown]
# # Part 1 · Amortised posterior inference
#
# ## 1 · A problem with an exact posterior
#
# `tfp_flows.datasets.LinearGaussian` is the textbook inverse problem: a parameter
# $\theta \in \mathbb R^2$ with prior $\mathcal N(0, I)$, and an observation
# $y \in \mathbb R^3$ of it through a fixed matrix $A$ with Gaussian noise,
#
# $$\theta \sim \mathcal N(0, I_2), \qquad y = A\theta + \varepsilon, \qquad
#   \varepsilon \sim \mathcal N(0, s^2 I_3), \quad s = 0.3 .$$
#
# Its posterior is Gaussian and known in closed form,
# $p(\theta \mid y) = \mathcal N\big(\mu(y), \Sigma\big)$ with
# $\Sigma = (I + A^\top A / s^2)^{-1}$ and $\mu(y) = \Sigma A^\top y / s^2$, which is what
# makes it a good test: the flow never sees this formula, only simulated pairs, and we can
# measure how far it lands from it. This is *simulation-based inference* in its simplest
# form: whenever you can simulate $(\theta, y)$ you can train $p(\theta \mid y)$, even when
# the likelihood has no formula. Because the network learns the map $y \mapsto
# p(\cdot \mid y)$ for all $y$ at once, the cost of training is paid once (**amortised**)
# and each new observation costs one forward pass.

# %%
problem = LinearGaussian(dim=2, obs_dim=3, noise_std=0.3, seed=0)
theta, y = problem.sample(20_000, seed=1)             # simulated pairs: what the flow learns from
_, y_test = problem.sample(200, seed=2)               # held-out observations
post_mean, post_cov = problem.posterior(y_test[:1])
print(f"theta {theta.shape}, y {y.shape} ({theta.dtype})")
print("A =\n", problem.matrix.round(3))
print(f"exact posterior of the first held-out y: mean {post_mean[0].round(3)}, "
      f"std {np.sqrt(np.diag(post_cov)).round(3)}, "
      f"correlation {post_cov[0, 1] / np.sqrt(post_cov[0, 0] * post_cov[1, 1]):.3f}")
print(f"posterior entropy (the same for every y): {problem.entropy():.4f} nats")

# %% [markdown]
# ## 2 · A conditional flow, and its shapes
#
# `tfp_flows.maf(event_shape=2, context_size=3)` is a masked autoregressive flow over
# $\theta$ whose MADE networks take the 3 numbers of $y$ as an extra input, connected to
# their first hidden layer (the autoregressive masks apply to $\theta$ only: every output
# may depend on all of $y$). The weights named `context` below are those connections: one
# per autoregressive layer. The model also standardises the contexts with the mean and
# standard deviation of the training contexts (`context_standardization`, set when `fit`
# starts and saved with the model), so raw observations on any scale can go in.
#
# One choice matters here: the base. The builders' default, a standard Normal, is the right
# one for this Gaussian posterior. A heavy-tailed base (`base_distribution="student_t"`,
# which keeps the density sane just outside the data) would not be: the affine maps of a MAF
# cannot turn a Student-t into a Gaussian, since the first coordinate of a MAF is an affine
# map of one base coordinate, and an affine map of a Student-t is a Student-t. Its best fit
# has the right centre and too much spread (the variance of a Student-t with 5 degrees of
# freedom is 5/3 of its squared scale).

# %%
flow = tfp_flows.maf(event_shape=2, num_layers=4, hidden_units=(32, 32), context_size=3,
                     seed=0)
print(f"context_size = {flow.context_size} | {flow.count_params():,} weights")
print("weights that see the context:",
      [w.path for w in flow.weights if "context" in w.path and "standardization" not in w.path])

# %% [markdown]
# Every method of the model takes `context=`. The context has shape `[*batch, K]`, one row per
# data point, or any shape that broadcasts against the data's batch; in particular a single
# context `[K]` conditions every point on the same $y$. Sampling follows TFP's order (sample
# shape first, then the contexts' batch):
#
# | call | context | result |
# |---|---|---|
# | `log_prob(x [n, 2], context=c)` | `[n, 3]` or `[3]` | `[n]` |
# | `log_prob(grid [100, 100, 2], context=c)` | `[3]` | `[100, 100]` |
# | `sample(n, context=c)` | `[m, 3]` | `[n, m, 2]` |
# | `sample(n, context=c)` | `[3]` | `[n, 2]` |

# %%
grid = np.stack(np.meshgrid(np.linspace(-3, 3, 100), np.linspace(-3, 3, 100)), axis=-1)
print("log_prob(theta[:5], context=y[:5]):    ", flow.log_prob(theta[:5], context=y[:5]).shape)
print("log_prob(theta[:5], context=y[0]):     ", flow.log_prob(theta[:5], context=y[0]).shape)
print("log_prob(grid [100, 100, 2], context=y[0]):", flow.log_prob(grid, context=y[0]).shape)
print("sample(7, context=y[:4]):              ", flow.sample(7, context=y[:4]).shape)
print("sample(7, context=y[0]):               ", flow.sample(7, context=y[0]).shape)

# %% [markdown]
# A conditional flow has no density without a context, so a missing or malformed one is an
# error that says what was expected, not a silent broadcast:

# %%
def show_error(call):
    try:
        call()
    except ValueError as error:
        print(f"ValueError: {error}\n")


show_error(lambda: flow.log_prob(theta[:5]))                        # no context
show_error(lambda: flow.log_prob(theta[:5], context=y[:5, :2]))     # 2 numbers, not 3
show_error(lambda: flow.log_prob(theta[:5], context=y[:4]))         # 4 rows for 5 points
show_error(lambda: flow.distribution.log_prob(theta[:5]))           # the TFP route, no context
show_error(lambda: flow.fit(theta[:100]))                           # fit without a context
unconditional = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(8,), seed=0)
show_error(lambda: unconditional.log_prob(theta[:5], context=y[:5]))   # a context it cannot use

# %% [markdown]
# ## 3 · Training: `fit(theta, context=y)`
#
# Maximum likelihood on the pairs: the loss is the mean of $-\log p(\theta_i \mid y_i)$. In
# expectation over the simulator this is the posterior's entropy plus the KL divergence from
# the exact posterior to the flow, averaged over $y$; so minimising it fits the posterior for
# every $y$ at once. `FlowModel.fit` is Keras's `fit` with the context as a keyword;
# `validation_split` holds out the last 10 % of both arrays together.

# %%
flow.compile(optimizer=keras.optimizers.Adam(2e-3))
t0 = time.time()
history = flow.fit(theta, context=y, epochs=12, batch_size=256, validation_split=0.1,
                   verbose=0)
fit_seconds = time.time() - t0
print(f"{len(history.history['loss'])} epochs in {fit_seconds:.0f} s | validation NLL "
      f"{history.history['val_loss'][-1]:.4f} nats | posterior entropy {problem.entropy():.4f}")
fig = tfp_flows.plotting.plot_loss(history, title="MAF p(\u03b8 | y): negative log-likelihood",
                                   reference=problem.entropy(),
                                   reference_label="posterior entropy")

# %% [markdown]
# ## 4 · Posteriors of new observations
#
# To see the posterior move with the data, take four parameter values $\theta^\*$, simulate
# one observation of each ($y = A\theta^\* + \varepsilon$), and ask the flow for
# $p(\theta \mid y)$. `plot_conditional_density` draws one panel per observation: the flow's
# density in colour (one colour scale for all panels), its regions of highest density holding
# 50 % and 90 % of the mass as black lines, the same regions of the exact posterior dashed in
# red, and 150 samples of the flow. The star marks $\theta^\*$.

# %%
theta_star = np.array([[-1.5, 1.0], [1.2, 1.5], [0.0, -1.5], [1.5, -0.5]], np.float32)
noise = problem.noise_std * np.random.default_rng(3).standard_normal((4, 3))
y_obs = (theta_star @ problem.matrix.T + noise).astype(np.float32)
fig = tfp_flows.plotting.plot_conditional_density(
    flow, y_obs, bounds=((-3.5, 3.5), (-3.5, 3.5)), exact_log_prob=problem, num_samples=150,
    context_labels=[f"y from \u03b8* = ({a:g}, {b:g})" for a, b in theta_star],
    xlabel=r"$\theta_1$", ylabel=r"$\theta_2$", title="posterior p(\u03b8 | y): flow vs exact")
for ax, (a, b) in zip(fig.axes, theta_star):
    ax.plot(a, b, marker="*", markersize=12, color="gold", markeredgecolor="black")

# %% [markdown]
# The flow has learnt how the posterior moves with $y$: its 50 % regions sit on the exact
# ones, for observations it never saw. Each posterior lies near its $\theta^\*$ but not on
# it, as the exact posterior does: one noisy observation cannot pin $\theta$ down, and the
# prior pulls the estimate toward 0. All posteriors are tilted ellipses of the same shape:
# with three noisy linear views of two numbers, one direction of $\theta$ is known better
# than the other. The flow's 90 % regions lie close to the exact ones, a little wider along
# the long axis. The moments of 5,000 flow samples against the exact ones, for each
# observation, and the KL divergence from the exact posterior to the flow's (next section),
# with the distance of the exact posterior mean from the prior mean 0:

# %%
exact_means, exact_cov = problem.posterior(y_obs)
print(f"exact posterior covariance (every y): {exact_cov.round(3).tolist()}")
for i, (star, mean) in enumerate(zip(theta_star, exact_means)):
    samples = flow.sample(5000, context=y_obs[i], seed=4).numpy()
    kl_i = conditional_kl(flow, problem, y_obs[i:i + 1], num_samples=2000).value
    print(f"theta* = ({star[0]:g}, {star[1]:g}): mean flow {samples.mean(0).round(2)} exact "
          f"{mean.round(2)} (|mean| {np.linalg.norm(mean):.2f}) | cov flow "
          f"{np.cov(samples, rowvar=False).round(3).tolist()} | KL {kl_i:.3f} nats")

# %% [markdown]
# The means agree to within a quarter of a posterior standard deviation, whatever the
# observation (the largest gap, under 0.2, is in the poorly determined coordinate
# $\theta_2$); the variance of the well-determined $\theta_1$ agrees to a few per cent,
# while that of $\theta_2$ is 10-30 % too large, which is most of the remaining KL. It is
# the typical error of a short maximum-likelihood fit: the loss is the KL divergence *from*
# the truth *to* the flow, which punishes a flow that misses mass far more than one that
# spreads it, so an unfinished fit errs on the wide side. (With
# `base_distribution="student_t"` instead of the default Normal base, the same fit ends at
# 0.04-0.08 nats for these four observations, about 0.04 on average, with every variance
# 15-45 % too large: the tails of a Student-t survive the affine maps.)

# %% [markdown]
# ## 5 · One number for the fit: mean KL over held-out observations
#
# `conditional_kl(model, problem, contexts)` estimates
# $\frac1m\sum_j \mathrm{KL}\big(p(\cdot \mid y_j)\,\|\,q(\cdot \mid y_j)\big)$ by drawing
# 1,000 exact posterior samples for each of the 200 held-out observations: 0 for a perfect
# flow. For scale, ignoring the observation altogether (answering with the prior
# $\mathcal N(0, I)$) costs the mean of the closed-form KL between two Gaussians,
# $\tfrac12\big(\operatorname{tr}\Sigma + \lVert\mu(y)\rVert^2 - 2 - \log\det\Sigma\big)$.

# %%
kl = conditional_kl(flow, problem, y_test, num_samples=1000)
means, cov = problem.posterior(y_test)
kl_prior = np.mean(0.5 * (np.trace(cov) + np.sum(means ** 2, axis=1) - 2
                          - np.linalg.slogdet(cov)[1]))
print(f"mean KL(exact posterior || flow) over 200 held-out y: {kl.value:.4f} "
      f"\u00b1 {kl.std_error:.4f} nats")
print(f"mean KL(exact posterior || prior), the cost of ignoring y:  {kl_prior:.4f} nats")

# %% [markdown]
# ## 6 · The plain TFP route
#
# `flow.distribution` is an ordinary `tfd.TransformedDistribution` whose bijector is
# conditional; TFP passes the context to it through `bijector_kwargs`. This is the same
# density, for code that works with TFP distributions rather than with the Keras model:

# %%
dist = flow.distribution
lp_tfp = dist.log_prob(theta[:1000], bijector_kwargs={"context": y[:1000]})
lp_model = flow.log_prob(theta[:1000], context=y[:1000])
print(type(dist).__name__, "| largest |difference| of log_prob:",
      float(tf.reduce_max(tf.abs(lp_tfp - lp_model))))
draws = dist.sample(3, bijector_kwargs={"context": y_obs[0]}, seed=5)
print("dist.sample(3, bijector_kwargs={'context': y_obs[0]}):", draws.shape)

# %% [markdown]
# ## 7 · Save and load
#
# The `.keras` file holds the networks, the context standardisation and the architecture;
# `tfp_flows.load_model` (`keras.models.load_model` after a check of the file) rebuilds a
# model with the same conditional densities.

# %%
path = os.path.join(tempfile.mkdtemp(), "posterior_maf.keras")
flow.save(path)
restored = tfp_flows.load_model(path)
difference = np.abs(restored.log_prob(theta[:1000], context=y[:1000]).numpy()
                    - lp_model.numpy()).max()
print(f"saved {os.path.getsize(path) / 1e3:.0f} kB | context_size {restored.context_size} | "
      f"largest log_prob difference after loading: {difference:.2e}")

# %% [markdown]
# # Part 2 · Class-conditional digits
#
# ## 8 · A Real NVP that knows the label
#
# The same argument turns the image Real NVP of notebook 5 into a model of $p(x \mid
# \text{digit})$: the context is the label as a one-hot vector of 10 numbers
# (`tfp_flows.datasets.one_hot`). In each coupling's ResNet a dense layer maps the context
# to one number per hidden channel, added to the first feature map at every pixel, so every
# coupling of both scales knows which digit it is drawing. We keep the network small and train for `DIGITS_EPOCHS` epochs only (about
# half a minute; `DIGITS_SECONDS` caps it on a busy machine) with `fit_flow`, the package's
# recipe (best validation weights kept), which passes the context to `fit`. The integer
# images are dequantised afresh every epoch, as in notebook 5.

# %%
data = digits()
K = data.num_levels
D = int(np.prod(data.x_train.shape[1:]))

c_train, c_test = one_hot(data.y_train, 10), one_hot(data.y_test, 10)
print(f"images {data.x_train.shape}, contexts {c_train.shape}; first labels {data.y_train[:5]} ->\n"
      f"{c_train[:2]}")
keras.utils.set_random_seed(0)
digit_flow = tfp_flows.real_nvp(event_shape=(8, 8, 1), num_levels=K, context_size=10,
                                hidden_channels=32, num_blocks=1, seed=0)
digit_history = fit_flow(digit_flow, data.x_train, context=c_train, epochs=DIGITS_EPOCHS,
                         batch_size=64, learning_rate=2e-3, time_budget=DIGITS_SECONDS)
print(f"{digit_flow.count_params():,} weights | {len(digit_history.history['loss'])} epochs in "
      f"{digit_history.seconds:.0f} s (stopped by {digit_history.stopped_by}); weights of "
      f"epoch {digit_history.best_epoch} kept")

# %% [markdown]
# ## 9 · Does the label matter? Bits per dimension, right and wrong
#
# `bits_per_dim(model, images, K, context=c)` scores each test image given its context. With
# the true labels we get the model's test bits/dim; with every label shifted by one
# (a 3 scored as a 4, ...) the same images should become far less likely.

# %%
right = bits_per_dim(digit_flow, data.x_test, K, context=c_test)
wrong = bits_per_dim(digit_flow, data.x_test, K, context=one_hot((data.y_test + 1) % 10, 10))
print(f"test bits/dim with the true label:    {right.value:.3f} \u00b1 {right.std_error:.3f}")
print(f"test bits/dim with a wrong label:     {wrong.value:.3f} \u00b1 {wrong.std_error:.3f}")
print(f"uniform over the pixel cube, log2(17): {np.log2(K):.3f}")

# %% [markdown]
# How much *better* can the true label make the score? Not much, and that is a law, not a
# weakness of the model. The ten conditionals define an unconditional density, the mixture
# $p(x) = \frac1{10}\sum_k p(x \mid k)$ (the classes are about equally frequent), and
# $p(x) \ge \frac1{10}\, p(x \mid y)$ for the true label $y$: knowing the label saves at most
# $\log_2 10 = 3.3$ bits per image, $3.3 / 64 = 0.052$ bits per dimension. (Notebook 5's
# unconditional Real NVP scored about 2.05 bits/dim after a run of similar length but about
# twice as many epochs: the label does not make up for this model's shorter training.) A
# wrong label has no such bound: it can cost any amount.
#
# **The flow as a classifier.** With a uniform prior over the 10 classes, Bayes' rule gives
# $p(\text{digit} \mid x) \propto p(x \mid \text{digit})$: score each test image under all ten
# contexts and take the most likely. Nothing in training asked the flow to classify. The
# same ten scores give the mixture's bits/dim, $-\log_2 \frac1{10}\sum_k p(x \mid k) / D$
# (one draw of the dequantisation noise here, so it differs a little from `bits_per_dim`'s
# four draws).

# %%
x_test = dequantize(data.x_test, seed=0, num_levels=K)
scores = np.stack([digit_flow.log_prob(x_test, context=np.eye(10, dtype=np.float32)[k]).numpy()
                   for k in range(10)], axis=1)                     # [n_test, 10]
predicted = scores.argmax(axis=1)
accuracy = np.mean(predicted == data.y_test)
confusion = np.zeros((10, 10), int)
np.add.at(confusion, (data.y_test, predicted), 1)
per_bit = D * np.log(2.0)
mixture_bits = -np.mean(tf.reduce_logsumexp(scores, axis=1).numpy() - np.log(10.0)) / per_bit
true_bits = -np.mean(scores[np.arange(len(scores)), data.y_test]) / per_bit
print(f"test accuracy of argmax_k log p(x | k): {accuracy:.1%} ({len(x_test)} images)")
print(f"bits/dim, same noise draw: true label {true_bits:.3f} | the mixture p(x), no label "
      f"{mixture_bits:.3f} | difference {mixture_bits - true_bits:.3f} "
      f"(at most log2(10)/{D} = {np.log2(10) / D:.3f})")
fig, ax = plt.subplots(figsize=(4.6, 3.8), layout="constrained")
im = ax.imshow(confusion, cmap="Blues")
for (i, j), count in np.ndenumerate(confusion):
    if count:
        ax.text(j, i, count, ha="center", va="center", fontsize=7,
                color="white" if count > confusion.max() / 2 else "black")
ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit (most likely context)",
       ylabel="true digit", title="the flow as a classifier: test confusion matrix")
cbar = fig.colorbar(im, ax=ax, label="test images")

# %% [markdown]
# ## 10 · Samples of each class
#
# `plot_class_samples(model, num_classes=10, num_per_class=10)` draws all rows with one call,
# `model.sample(10, context=I_10)`, so each column uses the same base draws $z$ for every
# class: down a column only the context changes. On the right, the same draws at temperature
# $T = 0.7$ ($z \to 0.7 z$, Glow's trick for cleaner samples).

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 5.6), layout="constrained")
tfp_flows.plotting.plot_class_samples(digit_flow, 10, 10, seed=1, ax=axes[0],
                                      title="samples by class, T = 1")
tfp_flows.plotting.plot_class_samples(digit_flow, 10, 10, seed=1, temperature=0.7, ax=axes[1],
                                      title="the same base draws at T = 0.7")
axes[1].set_ylabel("")
print(f"notebook ran in {time.time() - start:.0f} s")

# %% [markdown]
# After so short a training run the samples are blurry and some are hard to read; a longer
# run (see `benchmarks/images.py` for the unconditional model) sharpens them. But each row
# is recognisably its class, and at $T = 0.7$ most rows are clean: the context steers the
# whole flow.
#
# ## What you should see

# %%
display(Markdown(f"""
* **Shapes**: `log_prob` of a `[100, 100, 2]` grid with one context `[3]` gives `[100, 100]`;
  `sample(n, context=[m, 3])` gives `[n, m, 2]`. Leaving out the context, or giving the wrong
  width or number of rows, raises a `ValueError` that says what was expected.
* **Amortised posterior** ({len(history.history['loss'])} epochs, {fit_seconds:.0f} s): the
  flow's posteriors move with the observation as the exact ones do, for observations it never
  saw: the means are right, the spread a little too wide after so short a run. Mean KL over
  200 held-out observations **{kl.value:.3f} ± {kl.std_error:.3f} nats**, against
  {kl_prior:.2f} nats for answering with the prior.
* **Plain TFP**: `flow.distribution.log_prob(x, bijector_kwargs={{"context": y}})` equals
  `flow.log_prob(x, context=y)`; the model saves and loads with the same densities
  (difference {difference:.1e}).
* **Class-conditional digits** ({digit_history.seconds:.0f} s of training): **{right.value:.3f}**
  bits/dim with the true label, {wrong.value:.3f} with a wrong one, {mixture_bits:.3f} for the
  mixture over the ten labels (a label can save at most {np.log2(10) / D:.3f} bits/dim); as a
  classifier the flow gets **{accuracy:.1%}** of the test digits right without being trained
  to classify; the samples are blurry, but each row is of its class.
"""))
