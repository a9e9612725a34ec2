"""The latents of a multiscale image flow, scale by scale: :func:`split_scales` cuts the flat
latent by the factor-out layers, :func:`plot_scale_latents` draws them for one image."""
import matplotlib.pyplot as plt
import numpy as np

from tfp_flows.plotting.images import _as_images, _check_levels, _draw_tiles
from tfp_flows.plotting.layout import get_axes, style_colorbar

LATENT_CMAP = "RdBu_r"


def _is_factor_out(layer):
    return all(hasattr(layer, a) for a in ("event_shape", "num_kept", "flow_layers"))


def split_scales(model, z):
    """A multiscale flow's flat latents ``z`` split into one array per scale.

    The latent of a multiscale flow lists each scale's factored-out part in order, the
    last scale last. This walks the factor-out layers (``model.flow_layers[0]``, then its
    ``flow_layers[0]``, ...; any layer with ``event_shape``, ``num_kept`` and
    ``flow_layers``) and cuts ``z`` by their shapes: a factor-out layer over ``(h, w, c)``
    keeps ``num_kept`` channels and factors out ``h w (c - num_kept)`` latents, shaped
    ``[n, h, w, c - num_kept]``; the last piece takes the shape the innermost layers give
    the kept channels (their ``inner_latent_shape``). A flow without factor-out layers
    gives one piece shaped like ``model.latent_shape``.

    Args:
      model: a flow with ``flow_layers`` (base-to-data order), e.g. :func:`tfp_flows.glow`
        or :func:`tfp_flows.real_nvp` for images.
      z: latents ``[n, D]`` (``model.encode(x)[0]``), numpy or a ``tf.Tensor``.

    Returns:
      A list of numpy arrays ``[n, h, w, c]``, the scales from the first factored out
      (the finest) to the last; their sizes add up to ``D``.

    Raises:
      ValueError: if ``z`` is not ``[n, D]`` with ``D`` the size the layers expect.

    Example:
    >>> import numpy as np, tfp_flows
    >>> model = tfp_flows.glow(event_shape=(8, 8, 1), num_levels=17, num_steps=1,
    ...                        hidden_channels=4, seed=0)
    >>> [p.shape for p in split_scales(model, np.zeros((3, 64)))]
    [(3, 4, 4, 2), (3, 2, 2, 8)]
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"expected latents z of shape [n, D], got shape {z.shape}")
    layers = list(getattr(model, "flow_layers", []))
    layer = layers[0] if layers and _is_factor_out(layers[0]) else None
    if layer is None:
        shape = tuple(getattr(model, "latent_shape", (z.shape[1],)))
    else:
        shape = tuple(layer.event_shape)
    if z.shape[1] != int(np.prod(shape)):
        raise ValueError(f"expected latents z of shape [n, {int(np.prod(shape))}] for this "
                         f"flow, got shape {z.shape}")
    pieces, rest = [], z
    while layer is not None:
        h, w, c = (int(s) for s in layer.event_shape)
        kept = int(layer.num_kept)
        size = h * w * (c - kept)
        pieces.append(rest[:, :size].reshape(len(z), h, w, c - kept))
        rest = rest[:, size:]
        inner = list(layer.flow_layers)
        if inner and _is_factor_out(inner[0]):
            layer = inner[0]
            continue
        shape = getattr(layer, "inner_latent_shape", None)
        if shape is None:
            shape = (h, w, kept)
            for sub in reversed(inner):
                shape = tuple(sub.inverse_event_shape(shape))
        layer = None
    pieces.append(rest.reshape((len(z),) + tuple(int(s) for s in shape)))
    return pieces


def _model_images(model, images, num_levels):
    """The model's ``K`` and ``images`` as float32 pixels in ``[0, K)``: integer pixels
    dequantised at the middle of their bin (``x + 0.5``), floats as given."""
    model_k = getattr(model, "num_levels", None)
    if num_levels is None and model_k is None:
        raise ValueError("expected num_levels, or a model with a num_levels attribute")
    if num_levels is not None and model_k is not None and int(num_levels) != int(model_k):
        raise ValueError(f"num_levels={num_levels} does not match the model's "
                         f"num_levels={model_k}")
    k = _check_levels(model_k if num_levels is None else num_levels)
    x = np.asarray(images)
    _as_images(x, k)  # checks rank, channels and range
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype.kind in "biu":
        return k, x.astype(np.float32) + np.float32(0.5)
    if np.min(x) < 0 or np.max(x) >= k:
        raise ValueError(f"expected float images (dequantised pixels) in [0, {k}), got "
                         f"values from {np.min(x):.3g} to {np.max(x):.3g}")
    return k, x.astype(np.float32)


def plot_scale_latents(model, images, num_levels=None, index=0, axes=None, max_channels=8,
                       cmap="gray", latent_cmap=LATENT_CMAP):
    """What a multiscale flow makes of one image: its latents, scale by scale.

    The image (left), then one row per scale: the channels factored out at that scale
    (the finest first) and, in the last row, the latent of the last scale, each channel a
    small heat map. All heat maps share one diverging colour scale centred at 0 (blue
    negative, red positive) with a colour bar; a trained flow's latents look like standard
    Normal noise, so values far beyond +-3 or visible image structure mean it has not
    (yet) learned to decorrelate that scale.

    Args:
      model: a multiscale image flow (duck-typed: ``encode(x) -> (z, log_det)`` with ``z``
        flat ``[n, D]``, ``flow_layers`` as :func:`split_scales` walks them, and
        ``num_levels``).
      images: images ``[n, H, W(, C)]``: integer pixels (dequantised here as ``x + 0.5``)
        or dequantised floats in ``[0, K)``.
      num_levels: ``K``; default ``model.num_levels`` (a different value raises).
      index: which of the images to show.
      axes: a sequence of ``1 + m`` Axes: the image, then the ``m`` heat maps row by row;
        a new figure if None.
      max_channels: at most this many channels per scale are drawn (the row label says
        how many there are).
      cmap: colormap of a grayscale image.
      latent_cmap: the diverging colormap of the latents.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on bad images (wrong rank, out of range), a ``num_levels`` mismatch, an
        ``index`` out of range, or latents that do not split into image-shaped scales.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt, tfp_flows
    >>> model = tfp_flows.glow(event_shape=(8, 8, 1), num_levels=17, num_steps=1,
    ...                        hidden_channels=4, seed=0)
    >>> x = np.random.default_rng(0).integers(0, 17, size=(2, 8, 8, 1))
    >>> fig = plot_scale_latents(model, x, index=1, max_channels=4)
    >>> len(fig.axes)  # the image, 2 + 4 channel maps, the colour bar
    8
    >>> [a.get_ylabel().splitlines()[0] for a in fig.axes if a.get_ylabel()]
    ['scale 1', 'scale 2 (last)', 'latent value z']
    >>> plt.close(fig)
    """
    k, x = _model_images(model, images, num_levels)
    if isinstance(index, bool) or int(index) != index or not -len(x) <= index < len(x):
        raise ValueError(f"expected index in [0, {len(x)}), got {index!r}")
    if isinstance(max_channels, bool) or int(max_channels) != max_channels or max_channels < 1:
        raise ValueError(f"expected max_channels to be a positive integer, got {max_channels!r}")
    index = int(index) % len(x)
    image = x[index][None]
    z = model.encode(image)[0]
    scales = split_scales(model, z)
    if any(p.ndim != 4 for p in scales):
        raise ValueError(f"expected image-shaped latents per scale, got shapes "
                         f"{[p.shape[1:] for p in scales]}; is this a multiscale image flow?")
    shown = [min(p.shape[-1], int(max_channels)) for p in scales]
    width = max(shown)
    made_here = axes is None
    if made_here:
        fig = plt.figure(figsize=(2.2 + 1.25 * width + 0.9, 0.5 + 1.45 * len(scales)),
                         layout="constrained")
        grid = fig.add_gridspec(len(scales), 1 + width, width_ratios=[1.6] + [1] * width)
        panels = [fig.add_subplot(grid[:, 0])]
        panels += [fig.add_subplot(grid[r, 1 + j]) for r, m in enumerate(shown)
                   for j in range(m)]
    else:
        fig, panels = get_axes(axes, 1 + sum(shown), name="axes")
    _draw_tiles(panels[0], np.floor(image[0]), k, cmap)
    panels[0].set_title(f"image {index}")
    panels[0].set_xlabel(f"{image.shape[1]}\u00d7{image.shape[2]}, levels 0\u2013{k - 1}")
    values = np.concatenate([p[0, ..., :m].ravel() for p, m in zip(scales, shown)])
    vmax = float(np.max(np.abs(values))) or 1.0
    heat = iter(panels[1:])
    for r, (piece, m) in enumerate(zip(scales, shown)):
        h, w, c = piece.shape[1:]
        last = r == len(scales) - 1
        for j in range(m):
            a = next(heat)
            im = a.imshow(piece[0, ..., j], cmap=latent_cmap, vmin=-vmax, vmax=vmax,
                          interpolation="nearest")
            a.set_xticks([])
            a.set_yticks([])
            a.set_title(f"ch {j + 1}", fontsize="small")
            if j == 0:
                what = "last latent" if last else "factored out"
                more = f"\n{m} of {c} ch" if m < c else ""
                a.set_ylabel(f"scale {r + 1}{' (last)' if last else ''}\n{what}\n"
                             f"{h}\u00d7{w}\u00d7{c}{more}", fontsize="small")
    cbar = fig.colorbar(im, ax=panels[1:], shrink=0.9, aspect=25)
    cbar.set_label("latent value z")
    style_colorbar(cbar)
    if made_here:
        fig.suptitle("latents of one image, scale by scale")
    return fig
