"""Plots for normalizing flows (matplotlib only).

Every function returns the ``matplotlib.figure.Figure`` it drew on and never calls
``plt.show()``; most accept ``ax`` / ``axes`` to draw into existing axes.

Nothing here imports the model code: inputs are duck-typed.

- A *log-density* is any callable ``log_prob(x) -> [n]`` taking float32 points of shape
  ``[n, 2]`` (a ``tf.Tensor`` result is converted with ``np.asarray``), or any object with
  a ``.log_prob`` method (a flow model, a TFP distribution).
- *Samples* are array-likes of shape ``[n, 2]``.

Functions:

- :func:`plot_density`, :func:`density_grid`: density contours, model vs truth;
  :func:`data_bounds`: their window from data.
- :func:`plot_samples`: model samples against data.
- :func:`plot_layer_grid`, :func:`plot_flow_layers`, :func:`animate_layers`: a sample bent
  bijector by bijector (:func:`plot_flow_layers`: a flow model's own layers).
- :func:`plot_latent_lines`: lines from latent points to their images.
- :func:`plot_loss`, :func:`plot_nll_parts`: training curves.
- :func:`plot_latent_qq`, :func:`normal_qq`: are the latents standard Normal?
- :func:`plot_target_fit`, :func:`plot_log_weights`: a flow fitted to a target density,
  the two densities on one colour scale; its importance log-weights with ESS and k-hat.

Conditional flows ``p(x | c)`` (``log_prob(x, context=c)``, ``sample(n, context=c)``):

- :func:`plot_conditional_density`: a 2-D density given a few contexts, one panel each,
  against the exact conditional density.
- :func:`plot_conditional_samples`: samples given a few contexts against the data rows
  with the nearest contexts (:func:`spread_contexts` picks the contexts).
- :func:`plot_class_samples`: image samples of a class-conditional flow, one row per class.

Image flows (images ``[n, H, W(, C)]`` over ``num_levels`` pixel levels; float samples are
floored and clipped to ``0 .. num_levels - 1``):

- :func:`plot_image_grid`, :func:`plot_samples_vs_data`: grids of images, samples vs data.
- :func:`plot_temperature_grid`: samples at reduced temperatures, one row per temperature.
- :func:`plot_scale_latents`, :func:`split_scales`: the latents of one image, scale by scale.
- :func:`plot_bits_per_dim`: training curves in bits per dimension.
"""
from tfp_flows.plotting.animation import animate_layers
from tfp_flows.plotting.conditional import plot_class_samples, plot_conditional_density
from tfp_flows.plotting.conditional_samples import plot_conditional_samples, spread_contexts
from tfp_flows.plotting.density import data_bounds, density_grid, plot_density
from tfp_flows.plotting.images import (
    plot_image_grid,
    plot_samples_vs_data,
    plot_temperature_grid,
)
from tfp_flows.plotting.importance import plot_log_weights, plot_target_fit
from tfp_flows.plotting.latent import normal_qq, plot_latent_qq
from tfp_flows.plotting.samples import (
    plot_flow_layers,
    plot_latent_lines,
    plot_layer_grid,
    plot_samples,
)
from tfp_flows.plotting.scales import plot_scale_latents, split_scales
from tfp_flows.plotting.training import plot_bits_per_dim, plot_loss, plot_nll_parts

__all__ = [
    "animate_layers",
    "data_bounds",
    "density_grid",
    "normal_qq",
    "plot_bits_per_dim",
    "plot_class_samples",
    "plot_conditional_density",
    "plot_conditional_samples",
    "plot_density",
    "plot_flow_layers",
    "plot_image_grid",
    "plot_latent_lines",
    "plot_latent_qq",
    "plot_layer_grid",
    "plot_log_weights",
    "plot_loss",
    "plot_nll_parts",
    "plot_samples",
    "plot_samples_vs_data",
    "plot_scale_latents",
    "plot_target_fit",
    "plot_temperature_grid",
    "split_scales",
    "spread_contexts",
]
