"""Builds tutorials 03 and 04 from the cell sources below and executes them in place.

    python tutorials/_make_03_04.py            # write both notebooks, run them, save outputs
    python tutorials/_make_03_04.py 04         # only notebook 04
    python tutorials/_make_03_04.py --no-run   # write the notebooks without outputs
    python tutorials/_make_03_04.py --timing   # also print the run time of every cell

Edit the cells here, not in the .ipynb files: the notebooks are generated. Executing them
(nbclient, the ``python3`` kernel, working directory ``tutorials/``) stores the printed
numbers and the figures, so the notebooks read well on GitHub without being run. Before
saving, TensorFlow's native start-up log lines and nbclient's timestamps are removed from
the outputs. Budget: each notebook must run in well under two minutes on two CPU cores and
stay under ~400 KB (figures at 60-70 dpi).
"""
import argparse
import os
import re
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))


def md(text):
    return ("md", text.strip("\n"))


def code(text):
    return ("code", text.strip("\n"))


SETUP = '''
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

tfd, tfb = tfp.distributions, tfp.bijectors
%matplotlib inline
plt.rcParams.update({"figure.dpi": 70, "font.size": 9})
keras.utils.set_random_seed(0)
print(f"TensorFlow {tf.__version__} | Keras {keras.__version__} | TFP {tfp.__version__} "
      f"| tfp_flows {tfp_flows.__version__}")
'''

# --------------------------------------------------------------------------------------
# Notebook 03
# --------------------------------------------------------------------------------------
NB03 = [
md(r'''
# 3 · MAF, IAF, RealNVP and NICE with Keras `fit`

Four classic normalizing flows, fitted to the two-moons data set and compared with numbers
rather than by eye. Along the way:

* why an **autoregressive** layer has a determinant you never have to compute, and how
  **MADE** turns one dense network into an autoregressive one (checked numerically);
* why **MAF** and **IAF** are one layer used in opposite directions, and what that costs:
  we time sampling and density evaluation of both;
* how **coupling** layers (**RealNVP**) and **additive** coupling (**NICE**) are cheap in both
  directions, and what NICE gives up;
* training each flow with plain `keras.Model.fit` and a validation split, then measuring
  the KL divergence of each to the *exact* density of the data;
* the classic `keras.Model(x, dist.log_prob(x))` pattern for a hand-built TFP chain, made to
  work under Keras 3 with `tfp_flows.layers.LogProb`.

The whole notebook runs on a laptop CPU in about a minute, so training runs are short; the
numbers printed below are those of short runs, and longer training improves all of them.
'''),
code(SETUP),
md(r'''
## 0 · Data with a known density

`load_toy("moons")` draws `sklearn.datasets.make_moons(1000, noise=0.05)` and standardises it,
as most flow tutorials do. It also returns `truth`: the continuous distribution the points
come from (a moon is picked, a point on it is picked uniformly, Gaussian noise is added), in
the same standardised coordinates, with an exact `log_prob` and `entropy`. That turns
"does the fit look right?" into a number. For a model density $q$,

$$\mathrm{KL}(p\,\|\,q) = \mathbb E_{x\sim p}[\log p(x) - \log q(x)]
 = \underbrace{\mathbb E_{x\sim p}[-\log q(x)]}_{\text{test NLL}} - \underbrace{H(p)}_{\text{exact entropy}} \;\ge 0,$$

and we estimate the test NLL on 20,000 fresh draws from `truth`, never seen in training.
'''),
code(r'''
x_train, truth = load_toy("moons", n_train=1000, seed=0)
x_test = truth.sample(20_000, seed=1)          # fresh draws, same (standardised) coordinates
entropy = truth.entropy()
bounds = truth.plot_bounds

print("training data:", x_train.shape, x_train.dtype,
      "| mean", x_train.mean(0).round(3), "| std", x_train.std(0).round(3))
print(f"exact entropy H(p) = {entropy:.4f} nats")
print(f"sanity check, mean -log p(x_test) under the truth itself = {-truth.log_prob(x_test).mean():.4f}")
fig = tfp_flows.plotting.plot_samples(x_train, bounds=bounds, title="two moons, standardised")
'''),
md(r'''
## 1 · One formula for every flow

A flow draws $z$ from a standard Normal and pushes it through invertible layers, $x = f(z)$.
To score a data point we run the layers backwards, $z = f^{-1}(x)$, and correct for how much
they stretch space around $x$:

$$\log p(x) = \log \mathcal N\!\left(f^{-1}(x);\,0, I\right)
 + \log\left|\det \frac{\partial f^{-1}(x)}{\partial x}\right|.$$

A general $D\times D$ determinant costs $O(D^3)$. Every flow here is built so that its
Jacobian is **triangular** (or block-triangular): then the determinant is just the product of
the diagonal, and the log-determinant a sum.

## 2 · Autoregressive layers and MADE

An affine autoregressive layer changes one coordinate at a time, with a shift $t_i$ and a
log-scale $s_i$ that may only look at the coordinates *before* it:

$$x_i = z_i\,e^{s_i(x_{<i})} + t_i(x_{<i}), \qquad i = 1,\dots,D .$$

Since nothing about coordinate $i$ depends on coordinates $j \ge i$, the Jacobian
$\partial z / \partial x$ is lower triangular with diagonal $e^{-s_i}$, so
$\log|\det \partial z/\partial x| = -\sum_i s_i$.

That asks for $D$ pairs $(t_i, s_i)$, each a function of a different prefix $x_{<i}$.
**MADE** (Germain et al., 2015) produces all of them from a *single* dense network: every
weight matrix is multiplied by a fixed 0/1 mask, built from a "degree" given to each unit, that
removes every path from input $x_j$ to output $i$ unless $x_j$ comes earlier in the order.
`tfp_flows.nets.MADE` is a Keras 3 layer. Rather than trust the masks, let us ask
TensorFlow which inputs each output actually depends on.
'''),
code(r'''
made = tfp_flows.nets.MADE(event_size=3, num_params=2, hidden_units=(16, 16),
                           zero_init_output=False)   # random output weights: every allowed link shows
x3 = tf.random.normal([1, 3], seed=0)
with tf.GradientTape() as tape:
    tape.watch(x3)
    shift = made(x3)[..., 0]                          # [1, 3]: the shift t_i of each coordinate
jac = tape.batch_jacobian(shift, x3)[0].numpy()       # jac[i, j] = d t_i / d x_j
print("made(x).shape =", made(x3).shape, "= (batch, D, [shift, log-scale])")
print("order:", made.order, "\nnon-zero d t_i / d x_j  (row i = output, column j = input):")
print((np.abs(jac) > 0).astype(int))
'''),
md(r'''
Strictly lower triangular: $t_0$ is a constant, $t_1$ sees $x_0$, $t_2$ sees $x_0, x_1$.
Wrapped in `tfp_flows.bijectors.MaskedAutoregressive`, this network becomes an invertible
layer, and the Jacobian of its density direction is triangular, so the log-determinant the
layer reports must equal the one computed from the full matrix:
'''),
code(r'''
layer = tfp_flows.bijectors.MaskedAutoregressive(made)
x_point = tf.random.normal([1, 3], seed=1)
with tf.GradientTape() as tape:
    tape.watch(x_point)
    z_point = layer.inverse(x_point)                  # density direction x -> z
J = tape.batch_jacobian(z_point, x_point)[0].numpy()
print("dz/dx =\n", J.round(3))
print(f"log|det| from the full matrix : {np.linalg.slogdet(J)[1]:+.5f}")
print(f"log|det| reported by the layer: {float(layer.inverse_log_det_jacobian(x_point, event_ndims=1)[0]):+.5f}")
'''),
md(r'''
## 3 · MAF and IAF: one layer, two directions

Read the layer in both directions.

* **Density** ($x \to z$): $z_i = (x_i - t_i(x_{<i}))\,e^{-s_i(x_{<i})}$. All of $x$ is known,
  so one MADE call gives every $(t_i, s_i)$ at once: **one pass**.
* **Sampling** ($z \to x$): $x_i$ needs $t_i(x_{<i})$, which needs $x_{i-1}$ first. MADE is
  called again after each new coordinate: **$D$ passes, one after another**.

That is the **masked autoregressive flow**, MAF (Papamakarios et al., 2017): fast density,
slow sampling. The **inverse autoregressive flow**, IAF (Kingma et al., 2016), is the same
layer turned around, `tfb.Invert(MaskedAutoregressive(...))`: its shift and scale are computed
from the latent side, so *sampling* is the single pass and the density of a given $x$ needs the
$D$-step loop. Fitting to data needs densities, so MAF is the natural choice for density
estimation; IAF shines where many samples are drawn and only their own densities are needed
(variational inference). Section 7 measures the difference.

The builders `tfp_flows.maf` and `tfp_flows.iaf` stack such layers with a permutation in
between (`permutation="reverse"`), so that every coordinate gets to condition every other.

## 4 · Coupling layers: RealNVP and NICE

A coupling layer splits the vector in two. The first part passes through unchanged and alone
drives a network that shifts and scales the second part:

$$x_{1:d} = z_{1:d}, \qquad x_{d+1:D} = z_{d+1:D}\odot e^{s(z_{1:d})} + t(z_{1:d}).$$

This is an autoregressive layer with just two blocks, so the Jacobian is block-triangular and
its log-determinant is $\sum s$. Because the conditioning part is identical on both sides, the
inverse $z_{d+1:D} = (x_{d+1:D} - t(x_{1:d}))\,e^{-s(x_{1:d})}$ is just as direct: **both
directions take one pass**. That is RealNVP (Dinh et al., 2017). The price is that each layer
leaves half the coordinates alone, so layers must alternate which half they change
(here: a permutation between layers).

**NICE** (Dinh et al., 2015) is the additive ancestor: $s \equiv 0$, a shift only. Each
coupling then has determinant 1: it moves probability mass around but cannot make any region
denser or thinner. To squeeze a standard Normal into two thin moons *something* must change
volume, so NICE ends with a learned diagonal scaling; `tfp_flows.nice` appends an ActNorm
layer (one scale and shift per coordinate) for it. That scale is the same everywhere in space,
which is the main handicap we expect to see for NICE below.
'''),
md(r'''
## 5 · Build and train the four flows with `fit`

All builders share one keyword-only signature. Each returns a `FlowModel`, a `keras.Model`
whose output is $\log p(x)$ and which trains by maximum likelihood: `compile` takes only an
optimizer, `fit` takes only the data. `validation_split=0.2` keeps the last 20 % of the
(already shuffled) training points aside, and Keras reports their loss after each epoch.

We use four layers of each kind with `tanh` conditioners: in short runs on this data set the
smooth conditioners reached a lower loss than ReLU ones (try `activation="relu"`).
'''),
code(r'''
EPOCHS, BATCH, LEARNING_RATE = 200, 64, 2e-3
common = dict(event_shape=2, num_layers=4, hidden_units=(64, 64), activation="tanh", seed=0)
builders = {"MAF": tfp_flows.maf, "IAF": tfp_flows.iaf,
            "RealNVP": tfp_flows.real_nvp, "NICE": tfp_flows.nice}

def stage_name(layer):
    """A short name for one layer of a FlowModel."""
    kind = type(layer).__name__
    if kind == "AutoregressiveLayer":
        return "IAF layer" if layer.inverse else "MAF layer"
    if kind == "AffineCouplingLayer":
        return "additive coupling" if layer.shift_only else "affine coupling"
    return kind.replace("Layer", "")

flows = {}
for name, build in builders.items():
    keras.utils.set_random_seed(0)
    flows[name] = build(**common)
    stages = [stage_name(layer) for layer in flows[name].flow_layers]
    print(f"{name:8s} {flows[name].count_params():6d} weights | base -> " + " -> ".join(stages))
'''),
code(r'''
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
'''),
md(r'''
The loss curves come straight from the Keras `History` objects. The dashed line is the exact
entropy of the data, the lowest mean NLL any model can reach *in expectation* (a finite
training set can dip below it by over-fitting).
'''),
code(r'''
fig, axes = plt.subplots(1, 4, figsize=(13, 2.8), sharey=True, dpi=60, layout="constrained")
for ax, (name, history) in zip(axes, histories.items()):
    tfp_flows.plotting.plot_loss(history, reference=entropy, reference_label="exact entropy",
                                 ax=ax, title=name)
'''),
md(r'''
### Densities

The learned densities next to the exact one (each panel has its own colour scale):
'''),
code(r'''
fig, axes = plt.subplots(1, 5, figsize=(16, 3.4), layout="constrained")
for ax, (name, flow) in zip(axes, flows.items()):
    tfp_flows.plotting.plot_density(flow, bounds=bounds, resolution=80, ax=ax, title=name,
                                    colorbar=False)
fig = tfp_flows.plotting.plot_density(truth, bounds=bounds, resolution=80, ax=axes[-1],
                                      title="exact density", colorbar=False)
'''),
md(r'''
### Layer by layer

`forward_steps(z)` returns the sample after every layer, from the base to the data side. Each
point keeps the colour of its angle in the base sample, so you can follow how the Gaussian
blob is cut and bent into two moons. (A `Permute` panel only swaps the two axes.)
'''),
code(r'''
z_base = np.random.default_rng(2).standard_normal((300, 2)).astype("float32")
n_cols = max(len(flow.flow_layers) + 1 for flow in flows.values())
fig, grid = plt.subplots(len(flows), n_cols, figsize=(1.6 * n_cols, 1.65 * len(flows)),
                         dpi=60, layout="constrained")
for row, (name, flow) in zip(grid, flows.items()):
    steps = flow.forward_steps(z_base)
    names = [f"{name}: base z"] + [stage_name(layer) for layer in flow.flow_layers]
    tfp_flows.plotting.plot_layer_grid(steps, names=names, s=2.0, axes=row[:len(steps)])
    for ax in row:
        ax.set_xticks([]); ax.set_yticks([]); ax.title.set_fontsize(8)
    for ax in row[len(steps):]:
        ax.remove()
'''),
md(r'''
## 6 · How close is each flow to the truth?

Test NLL on the 20,000 fresh draws, and the KL divergence to the exact density,
KL = test NLL − exact entropy. The ± is the Monte-Carlo standard error of the test NLL
(standard deviation of $-\log q(x)$ over the test points, divided by $\sqrt{20000}$).
'''),
code(r'''
def kl_to_truth(log_prob):
    """(test NLL, KL = test NLL - exact entropy, standard error) on x_test, in nats."""
    log_q = np.asarray(log_prob(x_test), dtype=np.float64)
    test_nll = -log_q.mean()
    return test_nll, test_nll - entropy, log_q.std() / np.sqrt(len(log_q))

results = {name: kl_to_truth(flow.log_prob) for name, flow in flows.items()}
table = ["| flow | weights | train time (s) | train NLL | val NLL | test NLL | KL to truth (nats) |",
         "|---|---:|---:|---:|---:|---:|---:|"]
for name, flow in flows.items():
    h = histories[name].history
    nll, kl, se = results[name]
    table.append(f"| {name} | {flow.count_params()} | {train_seconds[name]:.1f} | "
                 f"{h['loss'][-1]:.3f} | {h['val_loss'][-1]:.3f} | {nll:.3f} | {kl:.3f} ± {se:.3f} |")
table.append(f"| *exact density* | | | | | {entropy:.3f} | 0 |")
display(Markdown("\n".join(table)))
'''),
md(r'''
## 7 · Why MAF samples slowly and IAF evaluates slowly: a measurement

The argument of section 3 says: at event size $D$, MAF's sampling and IAF's density need $D$
network calls per layer, one after the other, while MAF's density and IAF's sampling need one.
RealNVP needs one either way. Let us time it at $D = 16$, four layers, 1,000 points, each call
compiled with `tf.function` (so we time the computation, not Python), best of several repeats.
The weights are untrained: the amount of work does not depend on their values.
'''),
code(r'''
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
'''),
md(r'''
The ratios are not exactly $D = 16$: each of the 16 sequential passes is a small matrix
product, and fixed costs (the base distribution, the permutations, launching operations) are
shared by both directions. The shape of the result is what matters: the slow direction grows
with $D$, the fast one does not.

## 8 · The classic functional pattern, under Keras 3

Many TFP tutorials build a flow by hand and train it like this:

```python
made = tfb.AutoregressiveNetwork(params=2, event_shape=[2], hidden_units=[64, 64])
dist = tfd.TransformedDistribution(base, tfb.MaskedAutoregressiveFlow(made))
x = Input(shape=(2,)); model = Model(x, dist.log_prob(x))
model.compile(optimizer, loss=lambda _, log_prob: -log_prob)
```

With TensorFlow ≥ 2.16 (`keras` is Keras 3) this breaks twice. `tfb.AutoregressiveNetwork`
is a Keras 2 (`tf_keras`) layer, which a Keras 3 model cannot hold or train. And calling a TFP
function on the symbolic `keras.Input` fails, even with a bijector that has no network at all:
'''),
code(r'''
x_in = keras.Input((2,))
plain = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(2)), tfb.Shift([0.0, 0.0]))
try:
    keras.Model(x_in, plain.log_prob(x_in))
except Exception as err:                   # what Keras 3 says
    print(f"{type(err).__name__}: {str(err).split('. ')[0]}.")
'''),
md(r'''
The fix keeps the pattern. Use `tfp_flows.nets.MADE` (a Keras 3 layer) inside
`tfp_flows.bijectors.MaskedAutoregressive` (a plain `tfb.Bijector`), chain them with ordinary
`tfb.Permute`, and wrap the distribution in `tfp_flows.layers.LogProb`, a Keras layer whose
output is `dist.log_prob(x)` and which hands the MADE weights to Keras for training. The loss
is `tfp_flows.layers.negative_log_likelihood`; Keras' `fit` wants targets when a loss is
compiled, so we pass an empty array `np.zeros((n, 0))`. Remember that `tfb.Chain` applies its
list right to left: the last bijector acts first on the base sample.
'''),
code(r'''
keras.utils.set_random_seed(0)

def maf_layer():
    return tfp_flows.bijectors.MaskedAutoregressive(
        tfp_flows.nets.MADE(event_size=2, hidden_units=(64, 64), activation="tanh"))

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
functional = kl_to_truth(dist.log_prob)    # dist itself reads the trained weights
print(f"trained in {functional_seconds:.1f} s | train NLL {history.history['loss'][-1]:.3f} | "
      f"validation NLL {history.history['val_loss'][-1]:.3f}")
print(f"KL to truth: {functional[1]:.3f} ± {functional[2]:.3f} nats "
      f"(builder MAF above: {results['MAF'][1]:.3f} ± {results['MAF'][2]:.3f})")
fig = tfp_flows.plotting.plot_samples(dist.sample(1000, seed=3).numpy(), data=x_test[:1000],
                                      bounds=bounds, title="hand-built chain: samples",
                                      data_title="fresh data")
'''),
md(r'''
The model is an ordinary Keras model: callbacks, `validation_split` and `save_weights` work.
It cannot be saved as a whole `.keras` file (a TFP distribution is not a Keras object); when
you need that, build the same flow with `tfp_flows.maf(...)`, which is a `FlowModel`.

## Summary
'''),
code(r'''
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
'''),
md(r'''
Where to go next: notebook 4 fits **Glow** (ActNorm, learned invertible linear maps, affine
couplings) to the banana distribution and checks that its latents are really Normal.
'''),
]

# --------------------------------------------------------------------------------------
# Notebook 04
# --------------------------------------------------------------------------------------
NB04 = [
md(r'''
# 4 · Glow on the banana distribution

Glow (Kingma & Dhariwal, 2018) repeats one step made of three invertible pieces: **ActNorm**,
a learned **invertible linear map** (the "invertible 1×1 convolution"), and an **affine
coupling**. Here we fit it to a two-dimensional "banana" whose density is known exactly, and
we watch training the way the Glow paper and the InvertibleNetworks.jl tutorial do, by
splitting the negative log-likelihood into its two parts. After training we ask whether the
flow really turns data into standard Normal noise (Q-Q plots, histograms, a
Kolmogorov–Smirnov statistic), look at where latent points land, and measure the KL divergence
to the true density. The notebook runs in well under a minute on a CPU.
'''),
code(SETUP),
md(r'''
## 0 · The banana

Draw $z \sim \mathcal N(0, I_2)$ and bend it:

$$x_1 = z_1, \qquad x_2 = z_2 + 4\,(z_1^2 + 1).$$

The map has Jacobian determinant 1, so the density is exact and simple,
$p(x) = \mathcal N(x_1; 0, 1)\,\mathcal N(x_2 - 4(x_1^2+1); 0, 1)$, and the entropy is that of
the 2-D standard Normal, $\log(2\pi e) \approx 2.838$ nats. `load_toy("banana")` draws the
training set and standardises it ($x_2$ has a standard deviation near 5.7); the returned
`truth` carries the same standardisation, so its entropy is lower by $\sum_i \log(\text{scale}_i)$.
'''),
code(r'''
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
'''),
md(r'''
## 1 · The objective in two parts

Write the flow's density direction as $z = f^{-1}(x)$. With a standard Normal base in $d$
dimensions the negative log-likelihood of one point is

$$-\log p(x) \;=\; \underbrace{\tfrac12\|z\|^2}_{\text{L2 part}} \;+\; \tfrac d2\log 2\pi
\;-\; \underbrace{\log\left|\det\frac{\partial z}{\partial x}\right|}_{\text{log-det part}} .$$

The L2 part alone would be minimised by sending every point to $z = 0$; the log-det part
forbids that, because squeezing space makes the log-determinant very negative. Two reference
values tell us what to expect when the fit is perfect:

* if $z$ is exactly standard Normal, $\mathbb E\big[\tfrac12\|z\|^2\big] = d/2$ ("Normal noise",
  here 1);
* the mean NLL then equals the data entropy $H$, so the mean log-det part tends to
  $\tfrac d2(1 + \log 2\pi) - H$: the entropy of the base minus that of the data, i.e. the
  log-volume the flow must create.

## 2 · The three pieces of a Glow step

1. **ActNorm**: $y = x \odot e^{s} + m$, one scale and one shift per feature,
   $\log|\det| = \sum_i s_i$. Its parameters are set from data before training: on the first
   batch, the layer's output is made zero-mean and unit-variance (like batch normalisation,
   but afterwards an ordinary trainable bijection that does not depend on the batch).
   `FlowModel.fit` does this initialisation for you.
2. **Invertible linear map**: $y = Wx$ with $W = PLU$: a fixed permutation $P$, a
   lower-triangular $L$ with ones on the diagonal, and an upper-triangular $U$ whose diagonal
   is $e^{d_i}$. Then $\log|\det W| = \sum_i d_i$ costs $O(D)$ instead of $O(D^3)$, and $W$ is
   invertible whatever the parameters are. It replaces the fixed permutations of RealNVP with
   a learned mixing of the coordinates (on images, the same matrix acts on the channels of
   every pixel: a 1×1 convolution).
3. **Affine coupling**: as in RealNVP, half the coordinates set a shift and log-scale for the
   other half; the half that is changed alternates from step to step.

Each piece is a plain TFP bijector in `tfp_flows.bijectors`; let us check their promises.
'''),
code(r'''
W0 = tfp_flows.bijectors.InvertibleLinear(event_size=3, seed=0).matrix().numpy()
print("initial W, a random rotation:\n", W0.round(3), "\nW W^T = I:", np.allclose(W0 @ W0.T, np.eye(3), atol=1e-5))

# Any values of the LU parameters give an invertible W whose log|det| is sum(log_diag):
rng = np.random.default_rng(1)
linear = tfp_flows.bijectors.InvertibleLinear(
    permutation=[2, 0, 1], lower=tf.constant(rng.normal(size=(3, 3)), tf.float32),
    upper=tf.constant(rng.normal(size=(3, 3)), tf.float32), log_diag=tf.constant([0.3, -0.2, 0.5]))
W = linear.matrix().numpy()
print(f"sum(log_diag) = {0.3 - 0.2 + 0.5:.4f} | log|det W| by NumPy = {np.linalg.slogdet(W)[1]:.4f} | "
      f"layer's log-det = {float(linear.forward_log_det_jacobian(tf.zeros([1, 3]), event_ndims=1)[0]):.4f}")

actnorm = tfp_flows.bijectors.ActNorm(num_features=2)
out = actnorm.inverse(x_train[:128]).numpy()   # the first inverse call initialises it
print("ActNorm output on its first batch: mean", out.mean(0).round(4), "std", out.std(0).round(4))
'''),
md(r'''
## 3 · Build Glow and watch the two parts while it trains

`tfp_flows.glow` stacks `num_layers` steps; `flow_layers` lists them in the sampling order
(base side first), so each step appears as coupling → linear → ActNorm.

To record the two parts we use a small Keras callback: every few parameter updates it maps the
fixed monitoring batch to the latent space with `flow.encode(x)`, which returns
$(z, \log|\det \partial z/\partial x|)$, and stores the batch means of $\tfrac12\|z\|^2$ and of
the log-determinant.
'''),
code(r'''
keras.utils.set_random_seed(0)
flow = tfp_flows.glow(event_shape=2, num_layers=6, hidden_units=(64, 64), seed=0)
print(" -> ".join(type(layer).__name__.replace("Layer", "") for layer in flow.flow_layers[:3]),
      f"... ({len(flow.flow_layers) // 3} steps, {flow.count_params()} weights)")


class NLLParts(keras.callbacks.Callback):
    """Every `every` updates: mean 0.5 ||z||^2 and mean log|det dz/dx| on a fixed batch."""

    def __init__(self, x_fixed, every=5):
        super().__init__()
        self.x_fixed = tf.constant(x_fixed)
        self.every = every
        self.updates, self.steps, self.l2, self.logdet = 0, [], [], []

    def on_train_begin(self, logs=None):
        self.encode = tf.function(self.model.encode)
        self.record()                              # after ActNorm's init, before any update

    def on_train_batch_end(self, batch, logs=None):
        self.updates += 1
        if self.updates % self.every == 0:
            self.record()

    def record(self):
        z, log_det = self.encode(self.x_fixed)
        self.steps.append(self.updates)
        self.l2.append(float(tf.reduce_mean(0.5 * tf.reduce_sum(z ** 2, axis=-1))))
        self.logdet.append(float(tf.reduce_mean(log_det)))


EPOCHS, BATCH = 10, 128
updates = EPOCHS * (int(0.9 * len(x_train)) // BATCH)        # 90 % of the data trains
schedule = keras.optimizers.schedules.CosineDecay(3e-3, decay_steps=updates, alpha=0.02)
flow.compile(optimizer=keras.optimizers.Adam(schedule))

parts = NLLParts(x_monitor, every=5)
start = time.perf_counter()
history = flow.fit(x_train, validation_split=0.1, batch_size=BATCH, epochs=EPOCHS, verbose=0,
                   callbacks=[parts])
print(f"{parts.updates} updates in {time.perf_counter() - start:.1f} s | "
      f"train NLL {history.history['loss'][-1]:.3f} | validation NLL {history.history['val_loss'][-1]:.3f}")
'''),
code(r'''
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
'''),
md(r'''
How to read it. The data were standardised, so even the untrained flow (ActNorm initialised,
the linear maps rotations) sends them to latents of unit variance: the L2 part starts near
$d/2$ and the log-det part near 0. The L2 part cannot tell a banana from a Normal blob of the
same variance; the log-det part can. The banana fills much less volume than a standard Normal
(its entropy is lower by the dashed value in the middle panel), so the map $x \to z$ must
*expand* it, and nearly all of the progress shows up as the log-det part climbing towards that
value while the L2 part stays near $d/2$. The same run as Keras sees it, per epoch:
'''),
code(r'''
fig = tfp_flows.plotting.plot_loss(history, reference=entropy, reference_label="exact entropy",
                                   title="Glow on the banana")
'''),
md(r'''
## 4 · Are the latents Normal?

If the flow fits, $z = f^{-1}(x)$ of fresh data is standard Normal. The Q-Q plots compare
sorted latents against Normal quantiles (points on the diagonal: Normal); the histograms
overlay the $\mathcal N(0,1)$ density. The Kolmogorov–Smirnov statistic is the largest gap
between the empirical and the Normal distribution function. For calibration we also compute
it for the data before the flow and for a truly Normal sample of the same size. (The first
coordinate of the banana is Normal by construction, $x_1 = z_1$; the second one is the bent,
skewed one.)
'''),
code(r'''
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
'''),
md(r'''
With 20,000 points the KS test is very sensitive: a fit short of perfect is "rejected" by
its p-value, so compare the statistics themselves. For the bent coordinate the flow should
bring the statistic from that of the raw data down towards that of the exact Normal sample.

## 5 · From latent points to the banana

Sampling runs the flow forward. Each grey line joins a latent point $z \sim \mathcal N(0,I)$ to
its image $x = f(z)$. Points near the centre of the latent cloud land in the dense bottom of
the banana; points far out along one latent direction travel up its arms. Which direction
that is, is the flow's choice: a standard Normal looks the same from every angle, so any
rotation of the latent space fits equally well.
'''),
code(r'''
z_lines = np.random.default_rng(4).standard_normal((150, 2)).astype("float32")
x_lines = flow.forward_steps(z_lines)[-1].numpy()
fig = tfp_flows.plotting.plot_latent_lines(z_lines, x_lines, n=150)
fig.set_size_inches(4.5, 4.5)
'''),
code(r'''
fig = tfp_flows.plotting.plot_density(flow, bounds=bounds, resolution=90, truth=truth,
                                      title="Glow density", truth_title="exact density")
samples = flow.sample(2000, seed=5).numpy()
fig = tfp_flows.plotting.plot_samples(samples, data=x_test[:2000], bounds=bounds,
                                      title="Glow samples", data_title="fresh data")
'''),
md(r'''
## 6 · KL divergence to the truth

On the 20,000 fresh test points, KL = test NLL − exact entropy. Its Monte-Carlo error is
that of the test NLL. Evaluating both densities at the same points gives a second estimate,
the mean of $\log p(x) - \log q(x)$, with a much smaller error because most of the
point-to-point variation cancels. When the fit is good the true KL is smaller than the
noise of the first estimate, which can then come out slightly negative.
'''),
code(r'''
log_q = flow.log_prob(x_test).numpy().astype(np.float64)
test_nll, test_nll_se = -log_q.mean(), log_q.std() / np.sqrt(len(log_q))
kl = test_nll - entropy
gap = truth.log_prob(x_test) - log_q
kl_paired, kl_paired_se = gap.mean(), gap.std() / np.sqrt(len(gap))
train_nll = -float(np.mean(flow.log_prob(x_train)))
print(f"train NLL {train_nll:.4f} | test NLL {test_nll:.4f} ± {test_nll_se:.4f} | "
      f"exact entropy {entropy:.4f}")
print(f"KL(truth || Glow) = test NLL - entropy = {kl:.4f} ± {test_nll_se:.4f} nats")
print(f"paired estimate mean(log p - log q)  = {kl_paired:.4f} ± {kl_paired_se:.4f} nats")
'''),
md(r'''
## What you should see
'''),
code(r'''
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
'''),
]

NOTEBOOKS = {
    "03": ("03_maf_iaf_realnvp_nice.ipynb", NB03),
    "04": ("04_glow_banana.ipynb", NB04),
}


_LOG_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} \d\d:\d\d:\d\d)")


def drop_native_logs(nb):
    """Removes TensorFlow's C++ start-up log lines (oneDNN, CUDA probing) from saved outputs.

    They reach the notebook through the kernel's captured stderr, and TensorFlow 2.21 prints
    them before ``TF_CPP_MIN_LOG_LEVEL`` takes effect; they say nothing about the tutorial.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stderr":
                lines = [l for l in out.text.splitlines(True) if not _LOG_LINE.match(l)]
                if not "".join(lines).strip():
                    continue
                out.text = "".join(lines)
            kept.append(out)
        cell.outputs = kept


def report_and_drop_timing(nb, verbose):
    """Prints each code cell's run time (with ``--timing``), then removes the timestamps
    nbclient stored, so that re-running the script changes only real outputs."""
    from datetime import datetime

    for i, cell in enumerate(nb.cells):
        timing = cell.metadata.pop("execution", None)
        if verbose and timing and "shell.execute_reply" in timing:
            start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            print(f"  cell {i:2d}: {(end - start).total_seconds():6.1f} s  "
                  f"{cell.source.splitlines()[0][:60]}")


def build(cells):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        nb.cells.append(new_markdown_cell(src) if kind == "md" else new_code_cell(src))
    return nb


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=sorted(NOTEBOOKS), help="03 and/or 04")
    parser.add_argument("--no-run", action="store_true", help="write without executing")
    parser.add_argument("--timing", action="store_true", help="print each cell's run time")
    args = parser.parse_args()
    for key in args.which:
        filename, cells = NOTEBOOKS[key]
        path = os.path.join(HERE, filename)
        nb = build(cells)
        if not args.no_run:
            start = time.perf_counter()
            NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=True,
                           resources={"metadata": {"path": HERE}}).execute()
            drop_native_logs(nb)
            report_and_drop_timing(nb, args.timing)
            print(f"{filename}: executed in {time.perf_counter() - start:.1f} s", flush=True)
        nbformat.write(nb, path)
        print(f"{filename}: {os.path.getsize(path) / 1024:.0f} KB", flush=True)


if __name__ == "__main__":
    sys.exit(main())
