"""Builds tutorials 01 (bijector basics) and 02 (Real NVP from scratch) and executes them.

The notebooks are written from the cell sources below with ``nbformat``, then run top to
bottom in place with ``nbclient`` so that the stored outputs (numbers, figures, the GIF)
are the ones this code produces. Edit the cells here, not in the ``.ipynb`` files::

    python tutorials/_make_01_02.py              # build and execute both notebooks
    python tutorials/_make_01_02.py 02           # only tutorial 02
    python tutorials/_make_01_02.py --no-execute # write the notebooks without outputs

Machine-specific C++ log lines from TensorFlow's start-up (timestamps, "no GPU found")
are removed from the stored outputs; everything else the cells print is kept.
"""
import argparse
import re
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------
# Shared first code cell: quiet TensorFlow, small figures, fixed seeds.
# ---------------------------------------------------------------------------------------
SETUP = r'''
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
'''

# ---------------------------------------------------------------------------------------
# Tutorial 01: bijector basics
# ---------------------------------------------------------------------------------------
NB01 = [
    ("md", r'''
# Bijector basics: the change of variables, by hand and with TFP

A normalizing flow describes a complicated distribution as a simple one seen through an
invertible, differentiable map. Push draws from the simple *base* distribution forward
through the map and you get samples. Pull a data point back through it, correct for how
much the map stretches or squeezes space around that point, and you get its exact density.

This notebook builds that picture in four steps:

1. inverse-CDF sampling, the oldest flow there is;
2. TFP bijectors, and a numerical check of the change-of-variables formula with
   `tfb.NormalCDF`;
3. why stretching space lowers density: an affine bijector inside a
   `tfd.TransformedDistribution`;
4. a small *trainable* flow, the `PReLU` bijector of `tfp_flows` followed by a learned
   affine map, fitted by maximum likelihood with Keras 3's `Model.fit`.
'''),
    ("code", SETUP),
    ("md", r'''
## 1. Inverse-CDF sampling is a flow

Take the exponential distribution with rate $\lambda$. Its cumulative distribution function
$F(x) = 1 - e^{-\lambda x}$ sends each $x \ge 0$ into $[0, 1)$, and when $X$ is exponential,
$F(X)$ is uniform. Read backwards: solving $u = F(x)$ gives
$F^{-1}(u) = -\log(1 - u) / \lambda$, so uniform numbers pushed through $F^{-1}$ come out
exponential.

The two directions are the two jobs of every flow. $F$ carries data to a simple
distribution, which is how we *evaluate* data; $F^{-1}$ carries simple noise to data, which
is how we *generate* it.
'''),
    ("code", r'''
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
ax.legend()
plt.show()
print(f"sample mean {x_exp.mean():.3f} (exact 1/rate = {1 / rate:.3f}), "
      f"sample variance {x_exp.var():.3f} (exact 1/rate^2 = {1 / rate**2:.3f})")
'''),
    ("md", r'''
## 2. TFP bijectors and the change of variables

TFP packages such a map as a `tfb.Bijector`: `forward`, `inverse`, and the logarithm of the
absolute Jacobian determinant in either direction (`forward_log_det_jacobian`,
`inverse_log_det_jacobian`). `tfb.NormalCDF()` is $x \mapsto \Phi(x)$, the standard Normal
CDF: it carries Normal draws to uniform ones.

Why does a density need the Jacobian? Probability is conserved. The mass that $X$ puts on a
tiny interval $[x, x + dx]$ is the mass that $Y = f(X)$ puts on the image of that interval,
which has length $|f'(x)|\,dx$. So $p_X(x)\,dx = p_Y(f(x))\,|f'(x)|\,dx$, and in logs

$$\log p_X(x) = \log p_Y\big(f(x)\big) + \log\left|f'(x)\right| .$$

In $d$ dimensions $|f'(x)|$ becomes $|\det \partial f / \partial x|$, the factor by which $f$
scales small volumes near $x$.

With $f = \Phi$ and $Y$ uniform, the first term is $0$ on $(0, 1)$ and the second is
$\log \varphi(x)$, the Normal log-density. So "uniform log-prob of `forward(x)` plus
`forward_log_det_jacobian(x)`" must reproduce `tfd.Normal(0, 1).log_prob(x)`. Let's check.
'''),
    ("code", r'''
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
'''),
    ("md", r'''
Going the other way, `tfb.Invert(normal_cdf)` maps uniform noise to Normal draws, exactly as
$F^{-1}$ did for the exponential. `tfd.TransformedDistribution` does the bookkeeping of
the formula above for us, in both directions: sampling pushes base draws through the
bijector, `log_prob` pulls points back and adds the log-det term.
'''),
    ("code", r'''
normal_from_uniform = tfd.TransformedDistribution(uniform, tfb.Invert(normal_cdf))
np.testing.assert_allclose(normal_from_uniform.log_prob(x), normal.log_prob(x),
                           rtol=1e-5, atol=1e-6)
draws = normal_from_uniform.sample(50_000, seed=(0, 1)).numpy()  # a stateless seed
print(f"draws: mean {draws.mean():+.4f} (exact 0), standard deviation {draws.std():.4f} (exact 1)")
'''),
    ("md", r'''
## 3. Stretching space lowers density

Let $X$ be standard Normal and $Y = f(X) = 1 + 2X$. In TFP that map is
`tfb.Chain([tfb.Shift(1.0), tfb.Scale(2.0)])`; a chain applies its list *from the right*, so
the scale acts first. Each interval in $x$ becomes twice as long in $y$, the same mass is
spread over twice the length, and every density value is halved:
$\log p_Y(f(x)) = \log p_X(x) - \log 2$.

To evaluate $p_Y$ at a point $y$ we go backwards, with the inverse map and its own
log-det-Jacobian: $\log p_Y(y) = \log p_X(f^{-1}(y)) + \log|d f^{-1}/dy|$. Here
$\log|d f^{-1}/dy| = -\log 2$ everywhere. `tfd.TransformedDistribution(base, bijector)`
gives the same numbers, and since $f$ is increasing it keeps cumulative probabilities:
$P(Y \le f(x)) = P(X \le x)$.
'''),
    ("code", r'''
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
'''),
    ("code", r'''
grid = np.linspace(-4.0, 7.0, 300).astype("float32")
fig, ax = plt.subplots(figsize=(5.5, 2.8), layout="constrained")
ax.plot(grid, normal.prob(grid), label="base: N(0, 1)")
ax.plot(grid, stretched.prob(grid), label="after y = 1 + 2x")
ax.set_xlabel("value")
ax.set_ylabel("density")
ax.legend()
plt.show()
'''),
    ("md", r'''
## 4. A trainable flow, fitted with Keras 3

So far every map was fixed. A flow becomes a model when its bijectors carry trainable
parameters, chosen to maximise the log-likelihood $\sum_i \log p(x_i)$ of the data, a sum
the change-of-variables formula lets us compute exactly.

The data: 2-D Gaussian draws with mean $(1, 1)$ and variance 2 in each coordinate,
uncorrelated. The flow, in the sampling direction (base to data):

1. **`tfp_flows.bijectors.PReLU`**, elementwise $y = x$ for $x \ge 0$ and $y = \alpha x$ for
   $x < 0$. The slope $\alpha$ is learnable; it is stored as
   $\alpha = 10^{-6} + \operatorname{softplus}(r)$ with a free variable $r$, so no training
   step can make it zero or negative. Its log-det is $\log\alpha$ times the number of
   negative coordinates.
2. **An affine map** $y = S x + b$ with $S = L + V V^\top$. $L$ is lower triangular with a
   positive diagonal: `tfb.FillScaleTriL` fills it from an unconstrained trainable vector of
   $d(d+1)/2 = 3$ numbers (a `tfp.util.TransformedVariable` keeps that vector and shows us
   the matrix). $V V^\top$ is a low-rank update with a trainable $d \times r$ matrix $V$.
   `tf.linalg.LinearOperatorLowRankUpdate` represents $S$ without forming an inverse (it
   solves with the Woodbury identity and takes the determinant with the matrix determinant
   lemma), and `tfb.ScaleMatvecLinearOperator` turns the operator into a bijector.

The data really are Gaussian, so the best flow has no kink at all, $\alpha = 1$, with
$S S^\top = 2 I$ and $b = (1, 1)$. We start at $\alpha = 0.5$, $S \approx I$, $b = 0$:
training has to discover all of this.
'''),
    ("code", r'''
d, rank, n = 2, 2, 5000
true_mean, true_cov = np.ones(d), 2.0 * np.eye(d)
data = rng.multivariate_normal(true_mean, true_cov, size=n).astype("float32")

prelu = tfp_flows.bijectors.PReLU(alpha=0.5)                  # learnable slope
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
'''),
    ("md", r'''
The `tril:0` variable has three entries, not four: it is the unconstrained vector that
`FillScaleTriL` fills into the triangle. Likewise `alpha:0` holds $r$, not $\alpha$.

### The classic Keras pattern breaks under Keras 3

Older TFP tutorials fit such a distribution with a functional Keras model whose output is
`dist.log_prob` of a symbolic input. Under Keras 3 (the `keras` of TensorFlow 2.16 and
later) that line fails: a symbolic `KerasTensor` may only flow through Keras layers and
`keras.ops`, not through the TensorFlow operations inside TFP.
'''),
    ("code", r'''
x_in = keras.Input((d,))
try:
    keras.Model(x_in, dist.log_prob(x_in))
    outcome = "this Keras version accepted it"
except ValueError as err:
    outcome = f"{type(err).__name__}: {str(err).split('. ')[0]}."
print(outcome)
'''),
    ("md", r'''
### The same pattern with `tfp_flows.layers.LogProb`

`LogProb(dist)` is a Keras 3 layer whose output is `dist.log_prob(x)`. It also hands the
distribution's `tf.Variable`s (the shift, the triangle's vector, $V$ and the PReLU's $r$)
to Keras as trainable weights that share their storage, so `fit` updates the very variables
the distribution reads. The loss `negative_log_likelihood` ignores the targets and returns
$-\log p(x)$; Keras still wants one target per example, so we pass an array of width zero.
'''),
    ("code", r'''
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
'''),
    ("md", r'''
### What did it learn?

The fitted flow's mean and covariance, estimated from many of its samples, against the
truth and against the moments of the 5000 training points (a fit to finite data can only
be as close to the truth as the data are). When $\alpha \approx 1$ the affine parameters
can also be read directly: mean $\approx b$ and covariance $\approx S S^\top$.
'''),
    ("code", r'''
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
'''),
    ("code", r'''
from tfp_flows.plotting import plot_density, plot_loss

target = tfd.MultivariateNormalTriL(true_mean.astype("float32"),
                                    tf.linalg.cholesky(true_cov.astype("float32")))
fig = plt.figure(figsize=(11, 3.3), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=[1, 1.6])
plot_loss(history, reference=true_entropy, reference_label="true entropy",
          ax=left.subplots(), title="fit: mean NLL per epoch")
plot_density(dist, bounds=((-4, 6), (-4, 6)), truth=target, ax=right.subplots(1, 2),
             title="fitted flow", truth_title="true Gaussian", resolution=80)
plt.show()
'''),
    ("md", r'''
## What you should see

The numbers below are computed by the cells above.
'''),
    ("code", r'''
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
'''),
]

# ---------------------------------------------------------------------------------------
# Tutorial 02: Real NVP from scratch on two moons
# ---------------------------------------------------------------------------------------
NB02 = [
    ("md", r'''
# Real NVP from scratch on two moons

Real NVP (Dinh, Sohl-Dickstein and Bengio, 2017) is the coupling flow most later
architectures build on. Here we assemble one by hand from `tfp_flows` pieces: four affine
coupling bijectors whose shifts and scales come from small Keras networks, chained into an
ordinary `tfd.TransformedDistribution` and trained with a hand-written `tf.GradientTape`
loop. Then we build the same model the package way, a `FlowModel` trained with one call to
`fit`.

The data are scikit-learn's two moons, whose exact density we know, so "how good is the
flow" has a numerical answer: the KL divergence from the true distribution, in nats.
Finally we watch the four layers bend a cloud of Gaussian samples into the two moons.
'''),
    ("code", SETUP + r'''
from IPython.display import Image, display

from tfp_flows.bijectors import AffineCoupling, soft_clip_log_scale
from tfp_flows.datasets import load_toy
from tfp_flows.layers import AffineCouplingLayer
from tfp_flows.nets import CouplingMLP
from tfp_flows.plotting import (animate_layers, plot_density, plot_layer_grid, plot_loss,
                                plot_samples)
'''),
    ("md", r'''
## 1. Data with a known density

`load_toy("moons", n_train=1000, seed=0)` draws `make_moons(1000, noise=0.05)`,
standardises it (zero mean, unit variance per coordinate) and returns, alongside the
training points, `truth`: the exact distribution in the same standardised coordinates, with
`sample`, `log_prob` and `entropy`.

For a model density $q$, the KL divergence from the truth $p$ is

$$\mathrm{KL}(p \,\|\, q) = \mathbb{E}_{x \sim p}[-\log q(x)] - H(p),$$

the mean negative log-likelihood (NLL) on fresh data minus the true entropy. It is zero
only when $q = p$. We estimate the expectation on 20,000 fresh draws from `truth`.
'''),
    ("code", r'''
x_train, truth = load_toy("moons", n_train=1000, seed=0)
x_test = truth.sample(20_000, seed=1)
entropy = truth.entropy()
print(f"training data {x_train.shape}, test data {x_test.shape}")
print(f"true entropy H(p) = {entropy:.4f} nats; "
      f"mean NLL of the truth itself on the test set = {-truth.log_prob(x_test).mean():.4f}")
fig = plot_samples(x_train, title="training data (standardised)")
fig.set_size_inches(3.6, 3.2)
plt.show()
'''),
    ("md", r'''
## 2. One affine coupling layer

A coupling layer splits the vector into a part that stays fixed and a part that is
transformed *given* the fixed part. With a binary mask choosing the conditioning entries
$x_a$, the other entries $x_b$ get an elementwise affine map whose shift $t$ and log-scale
$s$ are computed from $x_a$ by a neural network:

$$y_a = x_a, \qquad y_b = x_b \odot \exp\big(s(x_a)\big) + t(x_a).$$

Three things make this work:

* **Cheap inverse.** $y_a = x_a$, so the network can be re-evaluated from the output:
  $x_b = \big(y_b - t(y_a)\big) \odot \exp\big(-s(y_a)\big)$. The network itself is never
  inverted, so it can be anything.
* **Cheap log-det.** The Jacobian is triangular with $1$s and $\exp(s)$ on the diagonal,
  so $\log|\det J| = \sum_b s_b(x_a)$: a sum of log-scales, no determinant to compute.
* **Bounded scales.** `AffineCoupling` soft-clips the raw log-scale to
  $B \tanh(s / B)$ (default $B = 5$): the identity near zero, never beyond $\pm B$, so a
  bad training step cannot make $\exp(s)$ overflow.

In 2-D the mask is simple: one coordinate conditions the other. `num_masked=1` makes the
first coordinate condition (the second is transformed); `reverse_mask=True` swaps the
roles. Alternating the two from layer to layer lets every coordinate be transformed.

The conditioner is a `tfp_flows.nets.CouplingMLP`, a Keras 3 layer returning shape
`[batch, 1, 2]`: for each transformed coordinate a shift and a raw log-scale. Its output
layer starts at zero, so a fresh coupling is the identity. To see a non-trivial map, the
check below uses a randomly initialised output layer and compares the layer's log-det with
the sum of clipped log-scales and with the Jacobian computed by automatic
differentiation.
'''),
    ("code", r'''
print("soft clip with B = 5:", soft_clip_log_scale(tf.constant([-50.0, -1.0, 0.0, 1.0, 50.0]),
                                                    5.0).numpy().round(4))

demo_net = CouplingMLP(output_units=1, num_params=2, hidden_units=(16,), zero_init_output=False)
demo = AffineCoupling(demo_net, num_masked=1)        # x1 conditions, x2 is transformed
x = tf.constant(x_train[:4])
y = demo.forward(x)
print("x     :", x.numpy().astype(float).round(4).tolist())
print("f(x)  :", y.numpy().astype(float).round(4).tolist(), "(first coordinate unchanged)")
np.testing.assert_allclose(demo.inverse(tf.identity(y)), x, rtol=1e-5, atol=1e-6)

shift_and_raw = demo_net(x[:, :1])                   # [4, 1, 2]: shift, raw log-scale
by_hand = tf.reduce_sum(soft_clip_log_scale(shift_and_raw[..., 1], 5.0), axis=-1)
with tf.GradientTape() as tape:
    tape.watch(x)
    # TFP bijectors cache forward(x) by input tensor; tf.identity gives a fresh tensor, so
    # the map is recomputed on the tape instead of returned from the cache.
    y_again = demo.forward(tf.identity(x))
jacobians = tape.batch_jacobian(y_again, x)           # [4, 2, 2]
autodiff = tf.math.log(tf.abs(tf.linalg.det(jacobians)))
fldj = demo.forward_log_det_jacobian(x, event_ndims=1)
print("log|det J|: bijector", fldj.numpy().round(5), " sum of log-scales",
      by_hand.numpy().round(5), " autodiff", autodiff.numpy().round(5))
np.testing.assert_allclose(fldj, by_hand, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(fldj, autodiff, rtol=1e-4, atol=1e-5)
'''),
    ("md", r'''
## 3. Four couplings, chained by hand

Four couplings with alternating masks, each with its own conditioner (three hidden layers
of 64 `tanh` units). `tfb.Chain` applies its list from the right, so we reverse the list:
`couplings[0]` acts first on base samples. On top of a standard Normal base the chain is a
`tfd.TransformedDistribution` like any other.

The trainable weights live in the Keras conditioners, not in the bijectors, so we collect
them ourselves from the layers' `trainable_weights`.
'''),
    ("code", r'''
keras.utils.set_random_seed(0)
hidden = (64, 64, 64)
conditioners = [CouplingMLP(output_units=1, num_params=2, hidden_units=hidden,
                            activation="tanh", name=f"conditioner_{i}") for i in range(4)]
for net in conditioners:
    net(tf.zeros((1, 1)))                       # build: creates the weights
couplings = [AffineCoupling(net, num_masked=1, reverse_mask=(i % 2 == 1),
                            name=f"coupling_{i}") for i, net in enumerate(conditioners)]
real_nvp = tfb.Chain(list(reversed(couplings)))
base = tfd.MultivariateNormalDiag(loc=tf.zeros(2))
nvp = tfd.TransformedDistribution(distribution=base, bijector=real_nvp)

variables = [w for net in conditioners for w in net.trainable_weights]
print(f"{len(variables)} weight tensors, {sum(int(np.prod(v.shape)) for v in variables)} numbers")
# Zero-initialised outputs: the untrained flow is the identity, so it equals its base.
np.testing.assert_allclose(nvp.log_prob(x_train[:5]), base.log_prob(x_train[:5]), rtol=1e-6)
'''),
    ("md", r'''
### Training with a hand-written loop

Maximum likelihood: minimise the mean NLL of a mini-batch, $-\frac1m\sum_i \log q(x_i)$.
`nvp.log_prob` pulls each point back through the four couplings, adds up their inverse
log-dets and evaluates the Normal base there. The step is a `tf.function`, so TensorFlow
traces it once into a graph; Adam's learning rate decays along a cosine from $2 \cdot
10^{-3}$ over the 3000 steps (300 epochs of 10 batches of 100).
'''),
    ("code", r'''
epochs, batch_size = 300, 100
steps_per_epoch = len(x_train) // batch_size
optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
    2e-3, decay_steps=epochs * steps_per_epoch, alpha=0.01))

@tf.function
def train_step(batch):
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(nvp.log_prob(batch))
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return loss

order_rng = np.random.default_rng(0)
loop_history = []
start = time.perf_counter()
for epoch in range(epochs):
    order = order_rng.permutation(len(x_train))
    losses = [train_step(x_train[order[i:i + batch_size]])
              for i in range(0, len(x_train), batch_size)]
    loop_history.append(float(np.mean(losses)))
loop_seconds = time.perf_counter() - start

loop_nll = -float(np.mean(nvp.log_prob(x_test)))
loop_kl = loop_nll - entropy
print(f"hand-written loop: {epochs} epochs in {loop_seconds:.1f} s, "
      f"final training NLL {loop_history[-1]:.4f}")
print(f"test NLL {loop_nll:.4f} nats, KL(truth || model) = {loop_nll:.4f} - {entropy:.4f} "
      f"= {loop_kl:.4f} nats")
'''),
    ("md", r'''
## 4. The package way: `FlowModel` and `fit`

`tfp_flows.layers.AffineCouplingLayer` is a Keras layer that owns a `CouplingMLP` and builds
the same `AffineCoupling` bijector from it; `tfp_flows.FlowModel` stacks such layers (in
sampling order) into a `keras.Model` whose loss is the mean NLL. No loop, no variable
collection, and the model saves to a `.keras` file.

First a check that this really is the same model: wrapping the four conditioners we just
trained in `AffineCouplingLayer`s gives a `FlowModel` whose log-densities match the
hand-built `TransformedDistribution`.
'''),
    ("code", r'''
same = tfp_flows.FlowModel(
    [AffineCouplingLayer((2,), reverse_mask=(i % 2 == 1), conditioner=net)
     for i, net in enumerate(conditioners)], event_shape=(2,))
np.testing.assert_allclose(same.log_prob(x_test[:2000]), nvp.log_prob(x_test[:2000]),
                           rtol=1e-4, atol=1e-4)
print("FlowModel around the hand-trained conditioners reproduces nvp.log_prob")
'''),
    ("md", r'''
Now a fresh model of the same architecture, trained with the same optimiser settings.
The training itself is one line. (With only ten batches per epoch, Keras's per-epoch
bookkeeping is a visible part of `fit`'s wall time here; it fades on larger data sets.)
'''),
    ("code", r'''
keras.utils.set_random_seed(0)
flow = tfp_flows.FlowModel(
    [AffineCouplingLayer((2,), reverse_mask=(i % 2 == 1), hidden_units=hidden, activation="tanh")
     for i in range(4)], event_shape=(2,))
flow.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
    2e-3, decay_steps=epochs * steps_per_epoch, alpha=0.01)))

start = time.perf_counter()
fit_history = flow.fit(x_train, batch_size=batch_size, epochs=epochs, verbose=0)
fit_seconds = time.perf_counter() - start

fit_nll = -float(np.mean(flow.log_prob(x_test)))
fit_kl = fit_nll - entropy
print(f"FlowModel.fit: {epochs} epochs in {fit_seconds:.1f} s, "
      f"final training NLL {fit_history.history['loss'][-1]:.4f}")
print(f"test NLL {fit_nll:.4f} nats, KL(truth || model) = {fit_kl:.4f} nats")
'''),
    ("code", r'''
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True, layout="constrained")
plot_loss({"loss": loop_history}, reference=entropy, reference_label="true entropy",
          ax=axes[0], title="hand-written loop")
plot_loss(fit_history, reference=entropy, reference_label="true entropy",
          ax=axes[1], title="FlowModel.fit")
axes[0].set_ylim(entropy - 0.3, max(loop_history[0], fit_history.history["loss"][0]) + 0.1)
plt.show()
'''),
    ("md", r'''
### Where the KL comes from

The KL estimate is a mean over 20,000 test points. Is the gap to the truth spread over
all of them, or caused by a few points far out in the tails of the moons' Gaussian noise,
to which a flow can give an extremely low density? The spread of the per-point NLL tells
the two apart: compare the median, the upper quantiles, and the mean without the worst 1%.
'''),
    ("code", r'''
def nll_spread(name, log_prob):
    nll = np.sort(-np.asarray(log_prob(x_test), np.float64))
    q50, q99, q999 = np.quantile(nll, [0.5, 0.99, 0.999])
    best99 = nll[: int(0.99 * len(nll))].mean()
    print(f"{name:18s} {nll.mean():7.3f} {q50:7.3f} {q99:7.2f} {q999:7.2f} {nll[-1]:9.2f} "
          f"{best99:14.3f}")
    return nll.mean(), best99, q50

print(f"{'model':18s} {'mean':>7s} {'median':>7s} {'99%':>7s} {'99.9%':>7s} {'max':>9s} "
      f"{'mean, best 99%':>14s}")
spreads = {"loop": nll_spread("hand-written loop", nvp.log_prob),
           "fit": nll_spread("FlowModel.fit", flow.log_prob),
           "truth": nll_spread("exact density", truth.log_prob)}
print(f"(true entropy {entropy:.3f} nats)")
# Part of each model's KL that the worst 1% of test points account for (relative to the
# truth's own worst 1%): the drop of the mean when they are left out, minus the truth's drop.
tail_share = {k: ((m - b) - (spreads["truth"][0] - spreads["truth"][1])) / (m - entropy)
              for k, (m, b, _) in spreads.items() if k != "truth"}
loop_median, fit_median, truth_median = (spreads[k][2] for k in ("loop", "fit", "truth"))
print("share of the KL due to the worst 1% of points: "
      + ", ".join(f"{k} {v:.0%}" for k, v in tail_share.items()))
'''),
    ("md", r'''
## 5. Densities: model against truth

Density contours of the two trained flows and of the exact two-moons density, on the same
colour scale. A flow is a continuous bijection of a Gaussian, so it cannot cut the plane
cleanly between the moons: expect thin bridges and smears of density where the truth has
none, and uneven brightness along the arcs. Mass spent off the moons is missing on them,
and that shortfall is what a positive KL measures.
'''),
    ("code", r'''
bounds = truth.plot_bounds
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharex=True, sharey=True,
                         layout="constrained")
plot_density(nvp, bounds=bounds, truth=truth, ax=[axes[0], axes[2]], resolution=90,
             title="hand-built Real NVP", truth_title="exact density", colorbar=False)
plot_density(flow, bounds=bounds, ax=axes[1], resolution=90, title="FlowModel.fit",
             colorbar=False)
plt.show()
'''),
    ("md", r'''
## 6. Layer by layer: bending a Gaussian into two moons

Draw points from the base Normal and push them through the couplings one at a time,
keeping every intermediate result. Each point keeps its colour (set by its angle in the
base sample), so you can follow it. Odd layers move the second coordinate given the first
(vertical moves); even layers move the first given the second (horizontal moves). All
panels share one frame; a few points leave it, mostly at the intermediate stages, and the
cell counts them.
`FlowModel.forward_steps(z)` returns the same list for a package model: we check it on
the `FlowModel` that wraps our hand-trained conditioners.
'''),
    ("code", r'''
z = base.sample(1000, seed=(0, 3))
steps = [z]
for coupling in couplings:
    steps.append(coupling.forward(steps[-1]))
for ours, package in zip(steps, same.forward_steps(z)):
    np.testing.assert_allclose(ours, package, rtol=1e-4, atol=1e-5)

names = ["base N(0, I)"] + [
    f"coupling {i + 1}: moves x{1 if i % 2 else 2}" for i in range(len(couplings))]
steps = [s.numpy() for s in steps]
frame = ((-3.5, 3.5), (-3.5, 3.5))                # one frame for every panel
outside = [int(np.sum(np.any(np.abs(s) > 3.5, axis=1))) for s in steps]
print("points outside the frame, per stage:", outside, f"(of {len(z)})")
fig = plot_layer_grid(steps, names=names, cols=5, s=3.0, bounds=frame)
fig.set_size_inches(13, 2.9)
plt.show()
'''),
    ("md", r'''
The same journey as an animation: points glide from each stage to the next. The GIF is
written to a temporary directory and shown once, at low resolution to keep this notebook
small.
'''),
    ("code", r'''
import tempfile
from pathlib import Path

gif_path = Path(tempfile.mkdtemp()) / "real_nvp_moons.gif"
anim_fig = animate_layers([s[:400] for s in steps], path=gif_path, fps=10, frames_per_step=5,
                          names=names, bounds=frame, s=5.0, dpi=40)
plt.close(anim_fig)                          # show the GIF, not a still frame
gif_kb = gif_path.stat().st_size / 1024
print(f"{gif_path.name}: {gif_kb:.0f} KB")
display(Image(data=gif_path.read_bytes(), format="gif"))
'''),
    ("md", r'''
## What you should see

The numbers below are computed by the cells above.
'''),
    ("code", r'''
from IPython.display import Markdown

Markdown(f"""
* **The exact density is a yardstick.** The true entropy of the standardised moons is
  {entropy:.3f} nats; a perfect model would reach that mean test NLL (KL = 0).
* **Hand-built Real NVP.** Four `AffineCoupling` bijectors with `CouplingMLP` conditioners,
  trained by a `tf.GradientTape` loop ({loop_seconds:.1f} s here), reach a test NLL of
  {loop_nll:.3f} nats, so KL(truth || model) = {loop_kl:.3f} nats.
* **Package way.** The same architecture as a `FlowModel`, trained with one `fit` call
  ({fit_seconds:.1f} s here), reaches {fit_nll:.3f} nats, KL = {fit_kl:.3f} nats. Wrapping
  the hand-trained conditioners in `AffineCouplingLayer`s reproduces the hand-built
  log-densities (to float32 round-off), so the two are one model written two ways.
* **The spread.** The worst 1% of test points (those the flow finds least likely) account for
  {tail_share["loop"]:.0%} (loop) and {tail_share["fit"]:.0%} (`fit`) of the KL. The rest
  is spread over typical points: the median test NLL is {loop_median:.3f} (loop) and
  {fit_median:.3f} (`fit`) against {truth_median:.3f} under the exact density.
* **Pictures.** Both flows put most of their mass on the two arcs, unevenly, with thin
  bridges and smears that the exact density lacks. The layer grid and the animation ({gif_kb:.0f} KB GIF) show
  the couplings alternately moving vertical and horizontal coordinates, bending the round
  Gaussian cloud into the two interleaved arcs.
* **Try it.** Change the epochs, the conditioners' width or the number of couplings
  (`tfp_flows.real_nvp(event_shape=2, num_layers=8)` builds a deeper model in one line)
  and watch the KL.
""")
'''),
]

NOTEBOOKS = {
    "01": ("01_bijector_basics.ipynb", NB01),
    "02": ("02_real_nvp_from_scratch.ipynb", NB02),
}

# Lines TensorFlow's C++ runtime writes to stderr at start-up (absl logs with timestamps,
# "no CUDA" notices): machine-specific noise, removed from the stored outputs.
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] .*"
    r"|To enable the following instructions: .*"
    r"|.*rebuild TensorFlow with the appropriate compiler flags\.)$"
)


def build(cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    for kind, source in cells:
        source = textwrap.dedent(source).strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def strip_noise(nb):
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = [l for l in out["text"].splitlines() if l and not _NOISE.match(l)]
                if not lines:
                    continue
                out["text"] = "\n".join(lines) + "\n"
            kept.append(out)
        cell["outputs"] = kept


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", help=f"notebooks to build, of {sorted(NOTEBOOKS)} "
                        "(default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write without running")
    parser.add_argument("--timeout", type=int, default=180, help="seconds per cell")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.which) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebook(s) {unknown}; expected some of {sorted(NOTEBOOKS)}")

    import nbformat
    from nbclient import NotebookClient

    for key in args.which or sorted(NOTEBOOKS):
        name, cells = NOTEBOOKS[key]
        path = HERE / name
        nb = build(cells)
        if not args.no_execute:
            start = time.perf_counter()
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                           record_timing=False,
                           resources={"metadata": {"path": str(HERE)}}).execute()
            strip_noise(nb)
            print(f"{name}: executed in {time.perf_counter() - start:.1f} s")
        nbformat.validate(nb)
        nbformat.write(nb, str(path))
        print(f"{name}: {path.stat().st_size / 1024:.0f} KB written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
