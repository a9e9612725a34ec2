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
# # Bijector basics: the change of variables, by hand and with TFP
#
# A normalizing flow describes a complicated distribution as a simple one seen through an
# invertible, differentiable map. Push draws from the simple *base* distribution forward
# through the map and you get samples. Pull a data point back through it, correct for how
# much the map stretches or squeezes space around that point, and you get its exact density.
#
# This notebook builds that picture in four steps:
#
# 1. inverse-CDF sampling, the oldest flow there is;
# 2. TFP bijectors, and a numerical check of the change-of-variables formula with
#    `tfb.NormalCDF`;
# 3. why stretching space lowers density: an affine bijector inside a
#    `tfd.TransformedDistribution`;
# 4. a small *trainable* flow, the `PReLU` bijector of `tfp_flows` followed by a learned
#    affine map, fitted by maximum likelihood with Keras 3's `Model.fit`.

# %%
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ start-up chatter

import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_flows

tfd, tfb = tfp.distributions, tfp.bijectors
plt.rcParams.update({"figure.dpi": 70, "savefig.dpi": 70})
keras.utils.set_random_seed(0)  # seeds Python, NumPy and TensorFlow
print(f"TensorFlow {tf.__version__}, TFP {tfp.__version__}, Keras {keras.__version__} "
      f"(backend: {keras.backend.backend()}), tfp_flows {tfp_flows.__version__}")

# %% [markdown]
# ## 1. Inverse-CDF sampling is a flow
#
# Take the exponential distribution with rate $\lambda$. Its cumulative distribution function
# $F(x) = 1 - e^{-\lambda x}$ sends each $x \ge 0$ into $[0, 1)$, and when $X$ is exponential,
# $F(X)$ is uniform. Read backwards: solving $u = F(x)$ gives
# $F^{-1}(u) = -\log(1 - u) / \lambda$, so uniform numbers pushed through $F^{-1}$ come out
# exponential.
#
# The two directions are the two jobs of every flow. $F$ carries data to a simple
# distribution, which is how we *evaluate* data; $F^{-1}$ carries simple noise to data, which
# is how we *generate* it.

# %%
rate = 0.5
rng = np.random.default_rng(0)
u = rng.uniform(size=20_000)
x_exp = -np.log1p(-u) / rate            # F^{-1}(u), written with log1p for accuracy near 0

grid = np.linspace(0.0, 12.0, 300)
exact = tfd.Exponential(rate=rate).prob(grid).numpy()
fig, ax = plt.subplots(figsize=(5.5, 3.0), layout="constrained")
ax.hist(x_exp, bins=60, range=(0, 12), density=True, alpha=0.5, label=r"$-\log(1-u)/\lambda$")
ax.plot(grid, exact, "k", lw=1.5, label=r"density $\lambda e^{-\lambda x}$")
ax.set_xlabel("x")
ax.set_ylabel("density")
ax.set_title(f"inverse-CDF sampling of the exponential distribution, rate {rate}")
ax.legend()
plt.show()
print(f"sample mean {x_exp.mean():.3f} (exact 1/rate = {1 / rate:.3f}), "
      f"sample variance {x_exp.var():.3f} (exact 1/rate^2 = {1 / rate**2:.3f})")

# %% [markdown]
# ## 2. TFP bijectors and the change of variables
#
# TFP packages such a map as a `tfb.Bijector`: `forward`, `inverse`, and the logarithm of the
# absolute Jacobian determinant in either direction (`forward_log_det_jacobian`,
# `inverse_log_det_jacobian`). `tfb.NormalCDF()` is $x \mapsto \Phi(x)$, the standard Normal
# CDF: it carries Normal draws to uniform ones.
#
# Why does a density need the Jacobian? Probability is conserved. The mass that $X$ puts on a
# tiny interval $[x, x + dx]$ is the mass that $Y = f(X)$ puts on the image of that interval,
# which has length $|f'(x)|\,dx$. So $p_X(x)\,dx = p_Y(f(x))\,|f'(x)|\,dx$, and in logs
#
# $$\log p_X(x) = \log p_Y\big(f(x)\big) + \log\left|f'(x)\right| .$$
#
# In $d$ dimensions $|f'(x)|$ becomes $|\det \partial f / \partial x|$, the factor by which $f$
# scales small volumes near $x$.
#
# With $f = \Phi$ and $Y$ uniform, the first term is $0$ on $(0, 1)$ and the second is
# $\log \varphi(x)$, the Normal log-density. So "uniform log-prob of `forward(x)` plus
# `forward_log_det_jacobian(x)`" must reproduce `tfd.Normal(0, 1).log_prob(x)`. Let's check.

# %%
x = tf.constant([-2.5, -1.0, 0.0, 0.5, 2.01])
normal_cdf = tfb.NormalCDF()
uniform = tfd.Uniform(low=0.0, high=1.0)
normal = tfd.Normal(loc=0.0, scale=1.0)

u_of_x = normal_cdf.forward(x)
log_det = normal_cdf.forward_log_det_jacobian(x, event_ndims=0)
via_flow = uniform.log_prob(u_of_x) + log_det
direct = normal.log_prob(x)

print(f"{'x':>6} {'Phi(x)':>8} {'log U(Phi(x))':>14} {'fldj(x)':>10} {'sum':>10} {'Normal':>10}")
for row in zip(x.numpy(), u_of_x.numpy(), uniform.log_prob(u_of_x).numpy(), log_det.numpy(),
               via_flow.numpy(), direct.numpy()):
    print("{:6.2f} {:8.4f} {:14.4f} {:10.6f} {:10.6f} {:10.6f}".format(*row))
np.testing.assert_allclose(via_flow, direct, rtol=1e-5, atol=1e-6)

# %% [markdown]
# Going the other way, `tfb.Invert(normal_cdf)` maps uniform noise to Normal draws, exactly as
# $F^{-1}$ did for the exponential. `tfd.TransformedDistribution` does the bookkeeping of
# the formula above for us, in both directions: sampling pushes base draws through the
# bijector, `log_prob` pulls points back and adds the log-det term.

# %%
normal_from_uniform = tfd.TransformedDistribution(uniform, tfb.Invert(normal_cdf))
np.testing.assert_allclose(normal_from_uniform.log_prob(x), normal.log_prob(x),
                           rtol=1e-5, atol=1e-6)
draws = normal_from_uniform.sample(50_000, seed=(0, 1)).numpy()  # a stateless seed
print(f"draws: mean {draws.mean():+.4f} (exact 0), standard deviation {draws.std():.4f} (exact 1)")

# %% [markdown]
# ## 3. Stretching space lowers density
#
# Let $X$ be standard Normal and $Y = f(X) = 1 + 2X$. In TFP that map is
# `tfb.Chain([tfb.Shift(1.0), tfb.Scale(2.0)])`; a chain applies its list *from the right*, so
# the scale acts first. Each interval in $x$ becomes twice as long in $y$, the same mass is
# spread over twice the length, and every density value is halved:
# $\log p_Y(f(x)) = \log p_X(x) - \log 2$.
#
# To evaluate $p_Y$ at a point $y$ we go backwards, with the inverse map and its own
# log-det-Jacobian: $\log p_Y(y) = \log p_X(f^{-1}(y)) + \log|d f^{-1}/dy|$. Here
# $\log|d f^{-1}/dy| = -\log 2$ everywhere. `tfd.TransformedDistribution(base, bijector)`
# gives the same numbers, and since $f$ is increasing it keeps cumulative probabilities:
# $P(Y \le f(x)) = P(X \le x)$.

# %%
affine = tfb.Chain([tfb.Shift(1.0), tfb.Scale(2.0)])   # y = 1 + 2 x
x = tf.constant([0.0, 0.5, 1.0])
y = affine.forward(x)
by_hand = normal.log_prob(affine.inverse(y)) + affine.inverse_log_det_jacobian(y, event_ndims=0)
stretched = tfd.TransformedDistribution(distribution=normal, bijector=affine)

print(f"{'x':>5} {'y = f(x)':>9} {'log p_X(x)':>11} {'log p_Y(y) by hand':>19} "
      f"{'TransformedDist.':>17} {'difference':>11}")
for xi, yi, lx, ly, lt in zip(x.numpy(), y.numpy(), normal.log_prob(x).numpy(),
                              by_hand.numpy(), stretched.log_prob(y).numpy()):
    print(f"{xi:5.2f} {yi:9.2f} {lx:11.6f} {ly:19.6f} {lt:17.6f} {ly - lx:11.6f}")
print(f"-log 2 = {-np.log(2.0):.6f}")
np.testing.assert_allclose(stretched.log_prob(y), by_hand, rtol=1e-6)
np.testing.assert_allclose(by_hand - normal.log_prob(x), -np.log(2.0), rtol=1e-6)

print("\nCDF of X at x:", normal.cdf(x).numpy().round(7))
print("CDF of Y at y:", stretched.cdf(y).numpy().round(7))
np.testing.assert_allclose(stretched.cdf(y), normal.cdf(x), rtol=1e-6)

# %%
grid = np.linspace(-4.0, 7.0, 300).astype("float32")
fig, ax = plt.subplots(figsize=(5.5, 2.8), layout="constrained")
ax.plot(grid, normal.prob(grid), label="base: N(0, 1)")
ax.plot(grid, stretched.prob(grid), label="after y = 1 + 2x")
ax.set_xlabel("value")
ax.set_ylabel("density")
ax.set_title("stretching by 2 halves the density")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. A trainable flow, fitted with Keras 3
#
# So far every map was fixed. A flow becomes a model when its bijectors carry trainable
# parameters, chosen to maximise the log-likelihood $\sum_i \log p(x_i)$ of the data, a sum
# the change-of-variables formula lets us compute exactly.
#
# The data: 2-D Gaussian draws with mean $(1, 1)$ and variance 2 in each coordinate,
# uncorrelated. The flow, in the sampling direction (base to data):
#
# 1. **`tfp_flows.bijectors.PReLU`**, elementwise $y = x$ for $x \ge 0$ and $y = \alpha x$ for
#    $x < 0$. Its log-det is $\log\alpha$ times the number of negative coordinates. Like every
#    TFP bijector it is a function of the parameters it is given: `PReLU(alpha=0.5)` has a
#    *fixed* slope. To learn the slope we pass a variable instead,
#    `tfp_flows.bijectors.positive_variable(0.5)`: a `tfp.util.TransformedVariable` that
#    stores $\alpha = 10^{-6} + \operatorname{softplus}(r)$ with a free variable $r$, so no
#    training step can make the slope zero or negative.
# 2. **An affine map** $y = S x + b$ with $S = L + V V^\top$. $L$ is lower triangular with a
#    positive diagonal: `tfb.FillScaleTriL` fills it from an unconstrained trainable vector of
#    $d(d+1)/2 = 3$ numbers (a `tfp.util.TransformedVariable` keeps that vector and shows us
#    the matrix). $V V^\top$ is a low-rank update with a trainable $d \times r$ matrix $V$.
#    `tf.linalg.LinearOperatorLowRankUpdate` represents $S$ without forming an inverse (it
#    solves with the Woodbury identity and takes the determinant with the matrix determinant
#    lemma), and `tfb.ScaleMatvecLinearOperator` turns the operator into a bijector.
#
# The data really are Gaussian, so the best flow has no kink at all, $\alpha = 1$, with
# $S S^\top = 2 I$ and $b = (1, 1)$. We start at $\alpha = 0.5$, $S \approx I$, $b = 0$:
# training has to discover all of this.

# %%
d, rank, n = 2, 2, 5000
true_mean, true_cov = np.ones(d), 2.0 * np.eye(d)
data = rng.multivariate_normal(true_mean, true_cov, size=n).astype("float32")

alpha_var = tfp_flows.bijectors.positive_variable(0.5)       # alpha = 1e-6 + softplus(r)
prelu = tfp_flows.bijectors.PReLU(alpha=alpha_var)            # learnable slope
tril = tfp.util.TransformedVariable(tf.eye(d), bijector=tfb.FillScaleTriL(), name="tril")
V = tf.Variable(0.1 * rng.standard_normal((d, rank)).astype("float32"), name="V")
shift = tf.Variable(tf.zeros(d), name="shift")
scale = tf.linalg.LinearOperatorLowRankUpdate(
    tf.linalg.LinearOperatorLowerTriangular(tril), u=V)      # S = L + V V^T

flow = tfb.Chain([tfb.Shift(shift), tfb.ScaleMatvecLinearOperator(scale), prelu])
dist = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=tf.zeros(d)), flow)

for v in dist.trainable_variables:
    print(f"{v.name:10s} shape {tuple(v.shape)}")
print("initial slope alpha =", float(tf.convert_to_tensor(prelu.alpha)))
print("initial S =\n", scale.to_dense().numpy().round(3))

# %% [markdown]
# The `tril:0` variable has three entries, not four: it is the unconstrained vector that
# `FillScaleTriL` fills into the triangle. Likewise `alpha:0`, the variable inside `positive_variable`, holds $r$, not $\alpha$.
#
# ### The classic Keras pattern breaks under Keras 3
#
# Older TFP tutorials fit such a distribution with a functional Keras model whose output is
# `dist.log_prob` of a symbolic input. Under Keras 3 (the `keras` of TensorFlow 2.16 and
# later) that line fails: a symbolic `KerasTensor` may only flow through Keras layers and
# `keras.ops`, not through the TensorFlow operations inside TFP.

# %%
x_in = keras.Input((d,))
try:
    keras.Model(x_in, dist.log_prob(x_in))
    outcome = "this Keras version accepted it"
except ValueError as err:
    outcome = f"{type(err).__name__}: {str(err).split('. ')[0]}."
print(outcome)

# %% [markdown]
# ### The same pattern with `tfp_flows.layers.LogProb`
#
# `LogProb(dist)` is a Keras 3 layer whose output is `dist.log_prob(x)`. It also hands the
# distribution's `tf.Variable`s (the shift, the triangle's vector, $V$ and the PReLU's $r$)
# to Keras as trainable weights that share their storage, so `fit` updates the very variables
# the distribution reads. The loss `negative_log_likelihood` ignores the targets and returns
# $-\log p(x)$; Keras still wants one target per example, so we pass an array of width zero.

# %%
x_in = keras.Input((d,))
model = keras.Model(x_in, tfp_flows.layers.LogProb(dist)(x_in))
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.05),
              loss=tfp_flows.layers.negative_log_likelihood)
print("Keras sees:", [w.name for w in model.trainable_weights])

nll_before = -float(np.mean(dist.log_prob(data)))
start = time.perf_counter()
history = model.fit(data, np.zeros((n, 0), "float32"), batch_size=500, epochs=40, verbose=0)
fit_seconds = time.perf_counter() - start
nll_after = -float(np.mean(dist.log_prob(data)))
true_entropy = float(tfd.MultivariateNormalTriL(
    true_mean.astype("float32"), tf.linalg.cholesky(true_cov.astype("float32"))).entropy())

print(f"fit: {len(history.history['loss'])} epochs in {fit_seconds:.1f} s")
print(f"mean NLL on the training data: {nll_before:.4f} before, {nll_after:.4f} after; "
      f"entropy of the true distribution {true_entropy:.4f}")
# The model's output is the flow's log-density, computed with the trained variables:
np.testing.assert_allclose(model(data[:5]), dist.log_prob(data[:5]), rtol=1e-5)

# %% [markdown]
# ### What did it learn?
#
# The fitted flow's mean and covariance, estimated from many of its samples, against the
# truth and against the moments of the 5000 training points (a fit to finite data can only
# be as close to the truth as the data are). When $\alpha \approx 1$ the affine parameters
# can also be read directly: mean $\approx b$ and covariance $\approx S S^\top$.

# %%
alpha = float(tf.convert_to_tensor(prelu.alpha))
samples = dist.sample(200_000, seed=(1, 2)).numpy()
flow_mean, flow_cov = samples.mean(axis=0), np.cov(samples, rowvar=False)
S = scale.to_dense().numpy()
b = shift.numpy()

def show(name, mean, cov):
    mean, cov = np.asarray(mean, np.float64), np.asarray(cov, np.float64)
    print(f"{name:24s} mean {mean.round(3).tolist()}   cov {cov.round(3).tolist()}")

show("truth", true_mean, true_cov)
show("training data", data.mean(axis=0), np.cov(data, rowvar=False))
show("fitted flow (samples)", flow_mean, flow_cov)
show("parameters (b, S S^T)", b, S @ S.T)
print(f"learned PReLU slope alpha = {alpha:.4f} (started at 0.5; 1 means no kink)")

np.testing.assert_allclose(flow_mean, true_mean, atol=0.1)
np.testing.assert_allclose(flow_cov, true_cov, atol=0.2)
assert abs(alpha - 1.0) < 0.1, alpha

# %%
from tfp_flows.plotting import plot_density, plot_loss

target = tfd.MultivariateNormalTriL(true_mean.astype("float32"),
                                    tf.linalg.cholesky(true_cov.astype("float32")))
fig = plt.figure(figsize=(11, 3.3), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=[1, 1.6])
plot_loss(history, reference=true_entropy, reference_label="true entropy",
          ax=left.subplots(), title="fit: mean NLL per epoch", legend="upper right")
plot_density(dist, bounds=((-4, 6), (-4, 6)), truth=target, ax=right.subplots(1, 2),
             title="fitted flow", truth_title="true Gaussian", resolution=80,
             scale="shared")                 # one colour scale: colours compare directly
plt.show()

# %% [markdown]
# ## What you should see
#
# The numbers below are computed by the cells above.

# %%
from IPython.display import Markdown

max_err = float(np.max(np.abs(via_flow - direct)))
Markdown(f"""
* **Inverse CDF.** The histogram of $-\\log(1-u)/\\lambda$ follows the exponential density;
  the sample mean is {x_exp.mean():.3f} against $1/\\lambda$ = {1 / rate:.3f}.
* **Change of variables.** Uniform log-prob of `NormalCDF().forward(x)` plus
  `forward_log_det_jacobian` equals the Normal log-density at every test point (largest
  difference {max_err:.1e}).
* **Stretching.** Doubling the scale lowers every log-density by
  {-float(np.mean(by_hand - normal.log_prob(x))):.4f} = log 2, while the CDF of the
  transformed distribution at $f(x)$ equals the base CDF at $x$.
* **Keras 3.** `keras.Model(x, dist.log_prob(x))` fails; with `LogProb` the same model
  trains with `fit` ({len(history.history['loss'])} epochs, {fit_seconds:.1f} s here). The
  training NLL fell from {nll_before:.3f} to {nll_after:.3f} nats (the true entropy is
  {true_entropy:.3f}).
* **Learned parameters.** The flow's mean is {flow_mean.astype(float).round(3).tolist()} (truth
  [1, 1]); its covariance is {flow_cov.round(3).tolist()} (truth 2 I). The PReLU slope
  went from 0.5 to {alpha:.3f}: the fit all but removed the kink, as it should for Gaussian
  data.
""")
