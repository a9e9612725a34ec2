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
# # 5 · Real NVP on images
#
# Real NVP (Dinh, Sohl-Dickstein & Bengio, 2017) was the first flow to model natural images
# with an exact likelihood. Its coupling layer is the one of notebooks 2 and 3; what makes it
# work on images is the machinery around it. This notebook takes the pieces one at a time, each
# with a small cell you can run on real handwritten digits, and then trains the whole model:
#
# 1. **masks**: which pixels condition and which are transformed (checkerboard, channel-wise);
# 2. **squeeze**: trading space for channels, and why its channel order matters;
# 3. the **ResNet conditioner** with Real NVP's bounded log-scale `scale * tanh(s)`;
# 4. **multiscale factor-out**: half of the variables leave for the base after each scale;
# 5. **batch normalisation** as a bijection, with running statistics;
# 6. **logit preprocessing** of dequantised pixels, and why its log-determinant is part of
#    the bits per dimension;
# 7. `tfp_flows.real_nvp` on scikit-learn's 8×8 digits: train, bits/dim against baselines,
#    samples, save and load.
#
# The data are 1,797 digits of 8×8 pixels with 17 grey levels (0–16). The notebook runs in
# about a minute and a half on a laptop CPU, so training lasts `TRAIN_SECONDS` (below); the
# numbers it prints come from that short run. `benchmarks/images.py` trains the same kind of
# model for 10 minutes (see BENCHMARKS.md) and gets further.

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
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from sklearn.mixture import GaussianMixture

import tfp_flows
import tfp_flows.plotting                  # matplotlib helpers, imported on demand
from tfp_flows.bijectors import (Affine, FactorOut, Logit, Squeeze, channel_mask,
                                 checkerboard_mask, inverse_and_log_det, soft_clip_log_scale)
from tfp_flows.bijectors.squeeze import SQUEEZE_ORDER
from tfp_flows.datasets import dequantize, digits
from tfp_flows.layers import BatchNormLayer, BijectorLayer, CouplingLayer, FactorOutLayer
from tfp_flows.nets import ResNet
from tfp_flows.training import bits_per_dim, fit_flow

tfd, tfb = tfp.distributions, tfp.bijectors
# %matplotlib inline
plt.rcParams.update({"figure.dpi": 70, "font.size": 9})
keras.utils.set_random_seed(0)
print(f"TensorFlow {tf.__version__} | Keras {keras.__version__} | TFP {tfp.__version__} "
      f"| tfp_flows {tfp_flows.__version__}")

TRAIN_SECONDS = 45        # wall-clock budget of the training run below

# %% [markdown]
# ## 0 · The data
#
# `tfp_flows.datasets.digits()` returns integer images `[n, 8, 8, 1]` with levels
# $0 \dots K-1$, $K = 17$, split 80/20 (stratified by label, `random_state=0`). A flow is a
# density over real numbers, so integer pixels are **dequantised**: $x + u$ with
# $u \sim U[0, 1)$ per pixel, which spreads each level over a unit interval of $[0, K)$.

# %%
data = digits()
K = data.num_levels
D = int(np.prod(data.x_train.shape[1:]))          # 64 numbers per image
print(f"train {data.x_train.shape} {data.x_train.dtype} | test {data.x_test.shape} | "
      f"K = {K} levels | D = {D}")
x_deq = dequantize(data.x_train[:256], seed=0, num_levels=K)       # a batch to play with
print(f"dequantised: float32 in [{x_deq.min():.3f}, {x_deq.max():.3f}]; "
      f"floor gives back the pixels: {np.array_equal(np.floor(x_deq), data.x_train[:256])}")
fig = tfp_flows.plotting.plot_image_grid(data.x_train[:40], K, nrows=4,
                                         title="training digits", colorbar=True)

# %% [markdown]
# ## 1 · Masks: checkerboard and channel-wise
#
# A coupling layer splits the pixels into two halves with a binary mask $b$: entries with
# $b = 1$ pass through unchanged and feed the conditioner, entries with $b = 0$ are scaled and
# shifted,
#
# $$y = b \odot x + (1 - b) \odot \big(x \odot e^{s(b \odot x)} + t(b \odot x)\big).$$
#
# Real NVP uses two masks. The **checkerboard** mask alternates pixels in space, so every
# transformed pixel has conditioning neighbours on all four sides. The **channel** mask
# conditions on the first half of the channels and transforms the second half; it needs
# several channels, which images get from the squeeze of the next section. `reverse=True`
# swaps the roles, and consecutive couplings alternate so that every entry is transformed.

# %%
MASK_CMAP = ListedColormap(["white", "tab:blue"])


def show_mask(ax, mask, title):
    ax.imshow(mask, cmap=MASK_CMAP, vmin=0, vmax=1)
    ax.set_xticks(np.arange(mask.shape[1]) - 0.5, minor=True)
    ax.set_yticks(np.arange(mask.shape[0]) - 0.5, minor=True)
    ax.grid(which="minor", color="0.6", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title, fontsize=9)


board = checkerboard_mask((8, 8, 1))
channels = channel_mask((4, 4, 4))
fig = plt.figure(figsize=(11, 2.9), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=[1, 1.15])
axes = left.subplots(1, 2)
show_mask(axes[0], board[..., 0], "checkerboard_mask((8, 8, 1))")
show_mask(axes[1], checkerboard_mask((8, 8, 1), reverse=True)[..., 0], "reverse=True")
axes = right.subplots(1, 4)
for c in range(4):
    show_mask(axes[c], channels[..., c], f"channel {c + 1}")
right.suptitle("channel_mask((4, 4, 4)), one panel per channel", fontsize=9)
fig.legend(handles=[Patch(facecolor="tab:blue", edgecolor="0.6", label="1: conditions, passes unchanged"),
                    Patch(facecolor="white", edgecolor="0.6", label="0: transformed")],
           loc="outside lower center", ncols=2, frameon=False)
print("checkerboard mask (channel 0):\n", board[..., 0].astype(int))
print("channel mask at one pixel:", channels[0, 0])

# %% [markdown]
# ## 2 · Squeeze: space to channels
#
# The squeeze cuts the image into 2×2 blocks and stacks each block along the channels:
# $(H, W, C) \to (H/2, W/2, 4C)$. It is a permutation of the entries, so its log-determinant is
# zero and its inverse is exact. Below, the numbers 0–15 on a 4×4 grid show where each entry
# goes; then a digit becomes four 4×4 channels, each a sub-sampled copy of it.

# %%
squeeze = Squeeze()
grid = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
squeezed_grid = squeeze.forward(grid)[0].numpy()
print("4x4 grid:\n", grid[0, ..., 0].numpy().astype(int))
for c in range(4):
    print(f"squeezed channel {c + 1} (offsets {SQUEEZE_ORDER[c]} of each 2x2 block):",
          squeezed_grid[..., c].astype(int).tolist())
print("log-det of a squeeze:", float(squeeze.forward_log_det_jacobian(grid, event_ndims=3)),
      "| exact inverse:", bool(tf.reduce_all(squeeze.inverse(squeeze.forward(grid)) == grid)))

digit = x_deq[:1]                                  # one dequantised digit [1, 8, 8, 1]
squeezed_digit = squeeze.forward(digit).numpy()    # [1, 4, 4, 4]
fig, axes = plt.subplots(1, 5, figsize=(8.5, 2.2), layout="constrained",
                         gridspec_kw={"width_ratios": [2, 1, 1, 1, 1]})
for a, image, title in zip(axes, [digit[0, ..., 0]] + [squeezed_digit[0, ..., c] for c in range(4)],
                           ["digit (8, 8, 1)"] + [f"squeezed ch {c + 1}\noffset {SQUEEZE_ORDER[c]}"
                                                  for c in range(4)]):
    a.imshow(image, cmap="gray", vmin=0, vmax=K)
    a.set_title(title, fontsize=9)
    a.set_xticks([])
    a.set_yticks([])

# %% [markdown]
# **Why the order of the four offsets matters.** `Squeeze` takes the offsets of each 2×2 block
# in the order `SQUEEZE_ORDER` = (0, 0), (1, 1), (0, 1), (1, 0): the block's diagonal first.
# Both diagonal entries have the same checkerboard colour, so the first half of the squeezed
# channels is one colour of the checkerboard and the second half the other. A squeezed
# checkerboard mask *is* a channel mask: the channel couplings after a squeeze split the
# variables the same way as the checkerboard couplings before it, the first channel coupling
# transforms what the last checkerboard coupling held fixed, and the half factored out
# afterwards (section 4) is a contiguous block of channels. TensorFlow's own
# `tf.nn.space_to_depth` reads each block row by row, (0, 0), (0, 1), (1, 0), (1, 1), and
# gives a mask that mixes the colours within each half instead.

# %%
squeezed_board = squeeze.forward(board[None])[0].numpy()
print("squeezed checkerboard, one pixel:       ", squeezed_board[0, 0])
print("channel_mask((4, 4, 4)), one pixel:     ", channels[0, 0])
print("equal everywhere:", np.array_equal(squeezed_board, channels))
print("tf.nn.space_to_depth of the board, one pixel:", tf.nn.space_to_depth(board[None], 2)[0, 0, 0].numpy())

# %% [markdown]
# ## 3 · The conditioner: a ResNet with a bounded log-scale
#
# The shift $t$ and log-scale $s$ of a coupling come from a convolutional residual network,
# `tfp_flows.nets.ResNet`, applied to $b \odot x$. For each pixel and channel it returns two
# parameters (`num_params=2`: shift, log-scale). Its last convolution starts at zero, so
# every coupling starts as the identity. Real NVP bounds the log-scale as
# $s = \text{scale}_c \cdot \tanh(\tilde s)$ with a learned `scale` per channel (starting at
# 1): an unbounded $s$ can make $e^{s}$ explode early in training. `log_scale_index=1` says
# which parameter is the log-scale. To see the bound act we give the last convolution large
# random weights (as if training had gone wild): the shifts spread widely, the log-scales
# stay in $[-1, 1]$.

# %%
x_logit = Logit(num_levels=K).forward(x_deq[:8]).numpy()   # 8 digits in logit space (section 6)
net = ResNet(num_params=2, hidden_channels=16, num_blocks=1, log_scale_index=1, seed=0)
params = net(x_logit * board)
print("parameters:", params.shape, "[n, H, W, C, (shift, log-scale)] | all zero at start:",
      float(tf.reduce_max(tf.abs(params))) == 0.0)

kernel = net.conv_out.kernel
kernel.assign(np.random.default_rng(0).normal(scale=1.0, size=kernel.shape))   # a wild net
params = net(x_logit * board).numpy()
print(f"shift t in [{params[..., 0].min():.2f}, {params[..., 0].max():.2f}] | "
      f"log-scale s = scale * tanh(.) in [{params[..., 1].min():.3f}, {params[..., 1].max():.3f}]"
      f" (scale = {net.scale.numpy()})")

# %% [markdown]
# The same network inside a `CouplingLayer` with a checkerboard mask. Going from data to base
# (the inverse), the conditioning pixels are copied and the others become
# $(x - t)\,e^{-s}$, so the log-determinant of that direction is $-\sum s$ over the
# transformed pixels. (`Affine(5.0)` soft-clips $s$ once more to $\pm 5$, a no-op here.)

# %%
coupling = CouplingLayer((8, 8, 1), transform=Affine(5.0), mask="checkerboard", conditioner=net)
bijector = coupling.bijector()
z_c = bijector.inverse(x_logit).numpy()
log_det = bijector.inverse_log_det_jacobian(x_logit, event_ndims=3).numpy()
fixed = board.astype(bool)
expected = -(soft_clip_log_scale(params[..., 1], 5.0).numpy() * (1 - board)).sum(axis=(1, 2, 3))
print(f"largest change of a conditioning pixel: {np.abs(z_c - x_logit)[:, fixed].max():.1e} | "
      f"of a transformed pixel: {np.abs(z_c - x_logit)[:, ~fixed].max():.2f}")
print("log-det (first 3 digits):", log_det[:3].round(4), "| -sum of s over transformed pixels:",
      expected[:3].round(4))

# %% [markdown]
# ## 4 · Multiscale: factor out half of the channels
#
# A Real NVP *scale* is 3 checkerboard couplings, a squeeze, 3 channel couplings; then half of
# the channels are **factored out**: they are declared latent and go straight to the base
# distribution, and the next scale works on the other half only (at half the resolution). The
# last scale is 4 checkerboard couplings. Deep layers thus act on fewer variables, and every
# scale has part of its output judged by the base directly.
#
# `tfp_flows.bijectors.FactorOut(inner, event_shape)` does this for one image shape: towards the
# base, the last `C - num_kept` channels pass unchanged, the first `num_kept` go through the
# `inner` bijectors, and the two results are concatenated into **one flat latent** (the
# factored part first). The model's base is then a single distribution over $H W C$ numbers
# and the Keras model keeps one input and one output; TFP's own `tfb.Glow` makes the same
# choice. With `inner = [tfb.Scale(2.0)]`, on a squeezed digit:

# %%
factor_out = FactorOut([tfb.Scale(2.0)], event_shape=(4, 4, 4))
z = factor_out.inverse(squeezed_digit).numpy()        # data side -> base side
factored, inner = factor_out.split_latent(z)
print(f"squeezed digit {squeezed_digit.shape} -> latent {z.shape} (flat)")
print("factored part = channels 3-4 unchanged:", np.allclose(factored, squeezed_digit[..., 2:]),
      "| inner part = channels 1-2 through Scale(2)^-1:", np.allclose(np.reshape(inner, (1, 4, 4, 2)),
                                                                     squeezed_digit[..., :2] / 2))
print(f"log-det {float(factor_out.inverse_log_det_jacobian(squeezed_digit, event_ndims=3)[0]):.4f}"
      f" = 32 log(1/2) = {32 * np.log(0.5):.4f}: only the inner bijectors count")

# %% [markdown]
# In a model, `tfp_flows.layers.FactorOutLayer(event_shape, flow_layers)` owns the layers of
# the rest of the flow (and their weights) and builds this bijector; nesting another
# `FactorOutLayer` among them adds a scale. Its latent is flat:

# %%
rest = FactorOutLayer((4, 4, 2), [CouplingLayer((4, 4, 1), mask="checkerboard",
                                                conditioner=ResNet(hidden_channels=8, num_blocks=0))])
outer = FactorOutLayer((4, 4, 4), [rest])
print("data side (4, 4, 4) -> latent", outer.inverse_event_shape((4, 4, 4)),
      "| inner weights belong to the layer:", len(outer.trainable_weights))

# %% [markdown]
# ## 5 · Batch normalisation as a bijection
#
# Real NVP also normalises the output of its couplings with a batch-norm *bijector*: per
# channel, $z = (y - \mu)/\sqrt{\sigma^2 + \epsilon}\; e^{s} + m$, whose log-determinant is
# $H W \sum_c \big(s_c - \tfrac12 \log(\sigma_c^2 + \epsilon)\big)$. Which $(\mu, \sigma^2)$?
#
# * in **training** (`fit`), those of the current batch, log-det included; each batch also
#   updates **running averages**, `moving = momentum * moving + (1 - momentum) * batch`;
# * at **inference** (`log_prob`, `evaluate`, sampling) the running averages, so a density
#   does not depend on which other images share its batch, and sampling (which has no batch of
#   data) is possible at all.
#
# `tfp_flows.layers.BatchNormLayer` owns the learned $m, s$ and the running statistics (saved
# with the model); `bijector(training=...)` builds `tfp_flows.bijectors.BatchNorm` with the
# right statistics. On one batch the two give different numbers; a batch of a single digit
# class, whose statistics are far from those of all digits, shows it most.

# %%
to_logits = Logit(num_levels=K)                   # alpha = 1e-6, as in the model (section 6)
bn = BatchNormLayer((8, 8, 1), momentum=0.9)
bn.initialize(to_logits.forward(x_deq))           # running statistics from 256 digits
batches = {"random test batch of 32": data.x_test[:32],
           "32 test images of the digit 1": data.x_test[data.y_test == 1][:32]}
gaps = {}
for label, images in batches.items():
    y = to_logits.forward(dequantize(images, seed=1, num_levels=K))
    before = float(bn.moving_mean.numpy()[0])
    z_run, ld_run = inverse_and_log_det(bn.bijector(training=False), y, 3)
    z_bat, ld_bat = inverse_and_log_det(bn.bijector(training=True), y, 3)   # updates the averages
    gaps[label] = abs(float(ld_bat[0]) - float(ld_run[0]))
    print(f"{label}:\n  log-det  running stats {float(ld_run[0]):9.3f} | batch stats "
          f"{float(ld_bat[0]):9.3f}\n  output   running stats mean {np.mean(z_run):+.3f} std "
          f"{np.std(z_run):.3f} | batch stats mean {np.mean(z_bat):+.3f} std {np.std(z_bat):.3f}")
    print(f"  running mean {before:.4f} -> {float(bn.moving_mean.numpy()[0]):.4f} after one "
          f"training-mode pass (momentum {bn.momentum})")

# %% [markdown]
# With batch statistics the batch comes out with mean 0 and standard deviation 1 whatever it
# holds; with running statistics it does not, and the log-determinants differ too. The running
# averages moved with each training-mode pass, which is why `fit` should be the only code that
# makes them. (`inverse_and_log_det` gives the latent and the log-det in one pass, which is
# how `FlowModel` calls its bijectors.)
#
# ## 6 · Logit preprocessing, and bits per dimension
#
# Coupling layers prefer unbounded inputs; pixels live in $[0, K)$. Real NVP maps them to the
# real line with a logit,
#
# $$p = \alpha + (1 - 2\alpha)\frac{x}{K}, \qquad y = \log\frac{p}{1 - p},
# \qquad \log\left|\frac{dy}{dx}\right| = \log\frac{1 - 2\alpha}{K} - \log p - \log(1 - p),$$
#
# with a small margin $\alpha$ keeping $p$ away from 0 and 1, so that the logit and its
# log-determinant stay finite at $x = 0$ and $x = K$. `tfp_flows.bijectors.Logit(num_levels=K)`
# is this map, with $\alpha = 10^{-6}$ by default, the value that
# `tfp_flows.layers.LogitLayer` and the image builders use too, so the numbers of this section
# are in the logit space of the model of section 7. (The Real NVP paper used $\alpha = 0.05$
# on natural images, MAF $10^{-6}$ on MNIST; `Logit(num_levels=K, alpha=0.05)` gives the
# former.) `LogitLayer` puts the map on the data side of a model, so that the model's
# `log_prob` is a density over **pixel units**. That is the density bits per dimension need:
#
# $$\text{bits/dim} = \frac{-\log p(x + u)}{D \ln 2}, \qquad
# \log p(x + u) = \log p_Y(y) + \sum_{i} \log\left|\frac{dy_i}{dx_i}\right| .$$
#
# The log-det term is not a detail. A density over logits is in "per logit unit"; the logit
# stretches the interval $[0, K)$ very unevenly (most digit pixels are 0, where it stretches
# most), so leaving the term out gives a number that is not a likelihood of the pixels and
# cannot be compared with anything measured in pixel space.

# %%
grid_x = np.linspace(0.0, K, 400)
fig, axes = plt.subplots(1, 3, figsize=(11, 2.9), layout="constrained")
axes[0].plot(grid_x, to_logits.forward(grid_x).numpy())
axes[0].set(title="logit map y(x)", xlabel="dequantised pixel x", ylabel="y")
axes[1].plot(grid_x, to_logits.forward_log_det_jacobian(grid_x, event_ndims=0).numpy())
axes[1].set(title="log |dy/dx| per pixel", xlabel="dequantised pixel x", ylabel="nats")
axes[2].hist(dequantize(data.x_train, seed=0, num_levels=K).ravel(), bins=np.arange(K + 1),
             color="tab:gray")
axes[2].set(title="pixels of the training digits", xlabel="dequantised pixel x", ylabel="count")
plt.show()

# %% [markdown]
# To see the difference the term makes, fit the simplest density in logit space, a
# full-covariance Gaussian (the first baseline of the table below), and score the test
# images with and without the logit's log-determinant (four draws of the dequantisation
# noise, as `bits_per_dim` does):

# %%
rng = np.random.default_rng(0)
per_bit = D * np.log(2.0)


def logits_and_log_det(images, logit=to_logits, seed=rng):
    """Dequantised images in logit space [n, D] and the logit's log-det per image."""
    x = dequantize(images, seed=seed, num_levels=K).reshape(len(images), -1).astype("float64")
    return logit.forward(x).numpy(), logit.forward_log_det_jacobian(x, event_ndims=1).numpy()


def gaussian_in_logit_space(logit=to_logits, seed=rng):
    """Fits a full-covariance Gaussian to the training images in `logit`'s space (4 draws of
    the noise) and scores the test images: bits/dim without the logit's log-det, with it, the
    log-det term (their difference), and the training logits."""
    train = np.concatenate([logits_and_log_det(data.x_train, logit, seed)[0] for _ in range(4)])
    gaussian = tfd.MultivariateNormalTriL(train.mean(0), np.linalg.cholesky(
        np.cov(train, rowvar=False) + 1e-6 * np.eye(D)))
    without, with_log_det = [], []
    for _ in range(4):                             # four dequantisation draws, as bits_per_dim
        y_test, ld_test = logits_and_log_det(data.x_test, logit, seed)
        log_p_y = gaussian.log_prob(y_test).numpy()
        without.append(-log_p_y / per_bit)
        with_log_det.append(-(log_p_y + ld_test) / per_bit)
    without, with_log_det = np.mean(without), np.mean(with_log_det)
    return without, with_log_det, with_log_det - without, train


without, gaussian_bits, log_det_term, train_logits = gaussian_in_logit_space()
print(f"Gaussian in logit space, test set: {without:.3f} bits/dim without the logit's "
      f"log-det, {gaussian_bits:.3f} with it (the honest number)")
print(f"the logit's log-det term: {log_det_term:+.3f} bits/dim")

# %% [markdown]
# Leaving the term out shifts the score by the term's full size, and which way depends on the
# preprocessing. With $\alpha = 10^{-6}$ the logit stretches the unit intervals of the many
# black pixels (and of the white ones) far more than it squeezes the middle levels (middle
# panel above): on these digits it expands space on average, so its log-det is positive,
# its term in the bits/dim (printed above) negative, and without it the Gaussian would look
# *worse* than it is. With Real NVP's $\alpha = 0.05$ the stretch at $0$ and $K$ is capped
# and the logit squeezes on average, so leaving the term out *flatters* the model. The same
# Gaussian in that logit space (its own noise draws):

# %%
without_05, gaussian_bits_05, log_det_term_05, _ = gaussian_in_logit_space(
    Logit(num_levels=K, alpha=0.05), seed=np.random.default_rng(1))
print(f"alpha = 0.05: {without_05:.3f} bits/dim without the logit's log-det, "
      f"{gaussian_bits_05:.3f} with it (log-det term {log_det_term_05:+.3f} bits/dim)")

# %% [markdown]
# Without its log-det, that Gaussian would even seem to beat the trained Real NVP of section 9,
# which it does not; with it, it scores worse than in the logit space of $\alpha = 10^{-6}$.
# Every map between the pixels and the base counts, the fixed ones included.

# %% [markdown]
# **A sanity check that needs no training.** A density that is uniform over the pixel cube
# $[0, K)^D$ gives every dequantised image $p = K^{-D}$, hence exactly $\log_2 K$ bits/dim
# (4.09 for $K = 17$): a model that scores *worse* than that has learned less than nothing.
# Build one as a flow: a standard Normal base, `tfb.NormalCDF()` to make it uniform on
# $[0, 1)$, then `tfb.Scale(K)`. `bits_per_dim` only sees `log_prob`, so it returns
# $\log_2 K$ exactly if the two log-determinants are counted, and the same check catches a
# flow whose preprocessing forgets its own. (float64 keeps $\Phi(z)$ accurate in the tails.)

# %%
uniform = tfp_flows.FlowModel(
    [BijectorLayer(tfb.NormalCDF()), BijectorLayer(tfb.Scale(np.float64(K)), dtype="float64")],
    event_shape=(8, 8, 1), num_levels=K, dtype="float64")
uniform_bits = bits_per_dim(uniform, data.x_test, K)
print(f"uniform density: {uniform_bits.value:.6f} bits/dim | log2({K}) = {np.log2(K):.6f}")

# %% [markdown]
# ## 7 · The whole model: `tfp_flows.real_nvp` for images
#
# With an image `event_shape`, `tfp_flows.real_nvp` builds all of the above: a `LogitLayer` on
# the data side, then per scale 3 checkerboard couplings, a squeeze, 3 channel couplings and a
# factor-out, and 4 checkerboard couplings at the last scale; every coupling has a ResNet
# conditioner with the `scale * tanh` log-scale and is followed by a batch-norm layer. On 8×8
# images there are two scales (8×8 and 4×4). We keep the networks small
# (`hidden_channels=32`, `num_blocks=1`) so that a short run gets somewhere.
# `flow.summary()` lists the layers from the data side to the base, with the event shapes
# each one maps between and its number of weights (a batch-norm layer's count includes its
# running statistics); the sub-flow of the factor-out is indented under it, and the last line
# names the base distribution over the flat latent.

# %%
keras.utils.set_random_seed(0)
flow = tfp_flows.real_nvp(event_shape=(8, 8, 1), num_levels=K, hidden_channels=32, num_blocks=1,
                          seed=0)

flow.summary()

# %% [markdown]
# ## 8 · Training
#
# `tfp_flows.training.fit_flow` is the package's recipe (Adam, 10 % validation split, the
# learning rate halved on plateaus, the best validation weights restored) and takes a
# wall-clock budget; for so short a run a learning rate of 2e-3 gets further than the
# default 1e-3. The model was built with `num_levels=17`, so `fit` accepts the **integer**
# images and dequantises them afresh every epoch: the flow cannot memorise one draw of the
# noise. Keras reports the loss in nats per image; `plot_bits_per_dim` (next section)
# divides it by $D \ln 2$.

# %%
history = fit_flow(flow, data.x_train, epochs=1000, batch_size=64, learning_rate=2e-3,
                   time_budget=TRAIN_SECONDS)
epochs_run = len(history.history["loss"])
print(f"{epochs_run} epochs in {history.seconds:.0f} s (stopped by {history.stopped_by}); "
      f"weights of epoch {history.best_epoch} kept")

# %% [markdown]
# ## 9 · Test bits per dimension, against baselines
#
# `bits_per_dim(flow, x_test, K)` dequantises the test images (4 draws of the noise each),
# calls `flow.log_prob`, which runs in inference mode (running batch-norm statistics), and
# returns the mean with its standard error. To know what a number is worth we fit three
# simple models on the same training images, as `benchmarks/images.py` does: the
# full-covariance Gaussian in logit space of section 6, a mixture of 10 such Gaussians
# (scikit-learn), and independent per-pixel categorical distributions (add-one smoothing),
# whose bits/dim is an exact discrete likelihood. A uniform density scores log2(17).

# %%
gmm = GaussianMixture(10, covariance_type="full", reg_covar=1e-4, random_state=0,
                      max_iter=300).fit(train_logits)
gmm_bits = np.mean([-(gmm.score_samples(y) + ld) / per_bit
                    for y, ld in (logits_and_log_det(data.x_test) for _ in range(4))])
counts = np.stack([np.bincount(pixel, minlength=K) for pixel in data.x_train.reshape(-1, D).T]) + 1.0
log_probs = np.log(counts / counts.sum(axis=1, keepdims=True))          # [D, K], add-one smoothing
categorical_bits = -np.mean(log_probs[np.arange(D), data.x_test.reshape(-1, D)].sum(axis=1)) / per_bit
BASELINES = {"full-covariance Gaussian (logit space)": gaussian_bits,
             "GMM-10 (logit space)": gmm_bits, "per-pixel categorical": categorical_bits}

test_bits = bits_per_dim(flow, data.x_test, K)
train_bits = bits_per_dim(flow, data.x_train, K)
rows = ["| model | test bits/dim |", "|---|---:|",
        f"| **Real NVP, {history.seconds:.0f} s of training** | **{test_bits.value:.3f} ± "
        f"{test_bits.std_error:.3f}** |"]
rows += [f"| {name} | {value:.2f} |" for name, value in BASELINES.items()]
rows.append(f"| uniform over the pixel cube, log2(17) | {np.log2(K):.2f} |")
display(Markdown("\n".join(rows)))
print(f"training images: {train_bits.value:.3f} bits/dim")
fig = tfp_flows.plotting.plot_bits_per_dim(
    history, D, title="Real NVP on 8x8 digits",
    reference={"uniform log2(17)": np.log2(K), "Gaussian": gaussian_bits, "GMM-10": gmm_bits})

# %% [markdown]
# The bits/dim is an upper bound on the code length of the *integer* images
# ($-\log_2 P(x)/D$ of the discrete model that integrates the density over each unit cube),
# so the flow and the per-pixel categorical are measured on the same scale.
#
# ## 10 · Samples
#
# Sampling draws $z$ from the base and runs the flow forward (batch norm with its running
# statistics, the logit inverted back to pixels). Samples are floats in about $[0, K)$; the
# plots floor and clip them to levels 0–16.

# %%
samples = flow.sample(36, seed=(1, 0)).numpy()      # a pair of integers: a stateless seed
print(f"samples {samples.shape}, values in [{samples.min():.2f}, {samples.max():.2f}]")
fig = tfp_flows.plotting.plot_samples_vs_data(data.x_test, samples, K, n=36,
                                              titles=("test digits", "Real NVP samples"))

# %% [markdown]
# ## 11 · Save, load, and the batch-norm statistics once more
#
# `flow.save` writes one `.keras` file with the weights, the running statistics and the
# architecture; `tfp_flows.load_model` rebuilds it. That is `keras.models.load_model` (which
# works too: tfp_flows registers its classes with Keras on import) after a check of the file,
# so that a missing, empty or truncated file gives an error that says so. The loaded model
# gives the same densities. On the loaded copy we also
# compare training mode (batch statistics) with inference mode (running statistics) on one
# batch of test images: the numbers differ, and only the second is the model's density.

# %%
path = os.path.join(tempfile.mkdtemp(), "real_nvp_digits.keras")
flow.save(path)
restored = tfp_flows.load_model(path)
x_batch = dequantize(data.x_test[:64], seed=2, num_levels=K)
difference = np.abs(restored.log_prob(x_batch).numpy() - flow.log_prob(x_batch).numpy()).max()
print(f"saved {os.path.getsize(path) / 1e6:.1f} MB | largest log_prob difference after loading: "
      f"{difference:.2e}")
inference = -np.mean(restored.log_prob(x_batch).numpy()) / per_bit
training_mode = -np.mean(restored.log_prob(x_batch, training=True).numpy()) / per_bit
print(f"one batch of 64 test images: {inference:.4f} bits/dim with running statistics, "
      f"{training_mode:.4f} with the batch's own")

# %% [markdown]
# ## What you should see

# %%
beaten = [name for name, value in BASELINES.items() if test_bits.value < value]
if len(beaten) == len(BASELINES):
    verdict = "it beats all three baselines"
elif beaten:
    verdict = (f"it beats {', '.join(beaten)}; a longer run (benchmarks/images.py) goes further")
else:
    verdict = "it beats none of the baselines yet; a longer run (benchmarks/images.py) goes further"
display(Markdown(f"""
* **Masks and squeeze**: a squeezed checkerboard mask equals the channel mask
  ({np.array_equal(squeezed_board, channels)}), thanks to the squeeze's channel order.
* **Factor-out**: half of the channels leave for the base at each scale; the latent is one
  flat vector of {flow.latent_shape[0]} numbers.
* **Batch norm**: batch and running statistics give different log-determinants on one batch
  ({'; '.join(f'{label}: {gap:.2f} nats apart' for label, gap in gaps.items())}).
* **Logit**: the Gaussian baseline scores {gaussian_bits:.2f} bits/dim with the
  logit's log-det and {without:.2f} without it (with α = 0.05: {gaussian_bits_05:.2f} and a
  flattering {without_05:.2f}); a uniform density scores exactly
  log2(17) = {uniform_bits.value:.4f}.
* **Real NVP** ({flow.count_params():,} weights, {epochs_run} epochs in
  {history.seconds:.0f} s): **{test_bits.value:.3f} ± {test_bits.std_error:.3f} bits/dim** on
  the test digits, well below the uniform {np.log2(K):.2f}; after this short run {verdict}.
* **Samples** have the strokes and the dark background of digits, less clean than the data
  after so short a training.
"""))
