"""Image plots for image flows: grids of images, samples against data, samples by temperature,
the latents of each scale of a multiscale flow, and training curves in bits per dimension.

Images are array-likes ``[n, H, W]`` or ``[n, H, W, C]`` with ``C = 1`` (grayscale) or ``C = 3``
(RGB) over ``K = num_levels`` pixel levels: integer pixels in ``0 .. K-1``, or floats
(dequantised pixels ``x + u`` or model samples) that are floored and clipped to ``0 .. K-1``
for display. A model is duck-typed: ``sample(n, seed=, temperature=)``, ``encode(x)``,
``num_levels`` and ``flow_layers`` are all that is used.
"""
import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb

from tfp_flows.plotting.layout import (
    get_axes,
    place_legend,
    root_figure,
    style_colorbar,
)
from tfp_flows.plotting.training import _history_dict, plot_loss

LATENT_CMAP = "RdBu_r"
GAP_COLOR = "white"
#: ``model.sample`` refuses ``T = 0``; the base's mode is drawn at this temperature instead.
ZERO_TEMPERATURE = 1e-6


def _check_levels(num_levels, name="num_levels"):
    if isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) \
            or num_levels < 2:
        raise ValueError(f"expected {name} to be an integer >= 2, got {num_levels!r}")
    return int(num_levels)


def _as_images(images, num_levels, name="images"):
    """``images`` as floats ``[n, H, W, C]`` in ``0 .. K-1`` (floored, clipped), checked.

    Integer pixels must lie in ``[0, K)``. Float pixels (dequantised data, model samples,
    which may fall a little outside ``[0, K)``) are floored and clipped; a float outside
    ``[-K/2, 3K/2]`` or a NaN means the images are on another scale than ``num_levels``
    says and raises.
    """
    k = _check_levels(num_levels)
    x = np.asarray(images)
    if x.dtype == object or x.dtype.kind not in "biuf":
        raise ValueError(f"expected {name} to hold numbers, got dtype {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or 0 in x.shape:
        raise ValueError(f"expected {name} of shape [n, H, W] or [n, H, W, C] with C = 1 "
                         f"(grayscale) or 3 (RGB) and n, H, W >= 1, got shape {x.shape}")
    lo, hi = float(np.min(x)), float(np.max(x))
    if x.dtype.kind in "biu":
        if lo < 0 or hi > k - 1:
            raise ValueError(f"expected {name} with integer pixels in [0, {k - 1}] "
                             f"(num_levels={k}), got values from {lo:g} to {hi:g}; is "
                             f"num_levels right?")
        return x.astype(np.float64)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"expected finite {name}, got NaN or infinite pixels")
    if lo < -k / 2 or hi > 1.5 * k:
        raise ValueError(f"expected {name} with pixel values in [0, {k}) (num_levels={k}; "
                         f"samples a little outside are clipped), got values from {lo:.3g} "
                         f"to {hi:.3g}; is num_levels right?")
    return np.clip(np.floor(x), 0, k - 1).astype(np.float64)


def _grid_shape(n, nrows, ncols):
    for value, label in ((nrows, "nrows"), (ncols, "ncols")):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise ValueError(f"expected {label} to be a positive integer or None, got {value!r}")
    if nrows is None and ncols is None:
        ncols = math.ceil(math.sqrt(n))
    if ncols is None:
        ncols = math.ceil(n / nrows)
    if nrows is None:
        nrows = math.ceil(n / ncols)
    return int(nrows), int(ncols)


def _tile_images(images, nrows, ncols, gap=1):
    """One array ``[nrows (H + gap) - gap, ncols (W + gap) - gap, C]`` holding the first
    ``nrows * ncols`` images row by row; gaps and empty cells are NaN."""
    _, h, w, c = images.shape
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap, c), np.nan)
    for i, image in enumerate(images[:nrows * ncols]):
        r, col = divmod(i, ncols)
        out[r * (h + gap):r * (h + gap) + h, col * (w + gap):col * (w + gap) + w] = image
    return out


def _draw_tiles(ax, tiles, k, cmap, gap_color=GAP_COLOR):
    """``imshow`` of tiled ``0 .. K-1`` images: grayscale through ``cmap`` with NaN gaps
    in ``gap_color``, RGB scaled to ``[0, 1]``; pixel ticks off."""
    if tiles.shape[-1] == 1:
        cm = plt.get_cmap(cmap).with_extremes(bad=gap_color)
        im = ax.imshow(np.ma.masked_invalid(tiles[..., 0]), cmap=cm, vmin=0, vmax=k - 1,
                       interpolation="nearest")
    else:
        rgb = tiles / (k - 1)
        rgb[np.isnan(rgb).any(axis=-1)] = to_rgb(gap_color)
        im = ax.imshow(rgb, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def plot_image_grid(images, num_levels, nrows=None, ncols=None, ax=None, title=None,
                    cmap="gray", xlabel="auto", colorbar=False):
    """A grid of images in one axes, tiled with a 1-pixel gap.

    Pixels are shown as levels ``0 .. K-1``: integers as they are, floats (dequantised
    pixels, model samples) floored and clipped to that range, so a sample slightly outside
    ``[0, K)`` shows as black or white instead of wrapping around.

    Args:
      images: array-like ``[n, H, W]`` or ``[n, H, W, C]``, ``C = 1`` (grayscale) or ``3``
        (RGB); integer pixels in ``[0, K)`` or floats (see above). A ``tf.Tensor`` works.
      num_levels: ``K``, the number of pixel levels (17 for digits, 256 for 8-bit images).
      nrows, ncols: grid size; by default about square (``ncols = ceil(sqrt(n))``); with
        one given, the other fits all ``n`` images. Only the first ``nrows * ncols``
        images are drawn; empty cells are left blank.
      ax: an Axes to draw into; a new figure if None.
      title: panel title; default ``"{n} images"``.
      cmap: colormap of grayscale images (``"gray"``: 0 black, ``K-1`` white).
      xlabel: text under the grid; ``"auto"`` says the image size and the level range,
        None for none.
      colorbar: add a colour bar of pixel levels (grayscale only).

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on a wrong rank or channel count, integer pixels outside ``[0, K)``,
        floats far outside it (a wrong ``num_levels``), NaNs, or a bad grid size.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> x = np.arange(6 * 4 * 4).reshape(6, 4, 4) % 17
    >>> fig = plot_image_grid(x, num_levels=17, nrows=2)
    >>> fig.axes[0].get_title(), fig.axes[0].images[0].get_array().shape  # 2 x 3 tiles
    ('6 images', (9, 14))
    >>> plt.close(fig)
    """
    k = _check_levels(num_levels)
    x = _as_images(images, k)
    n, h, w, c = x.shape
    nrows, ncols = _grid_shape(n, nrows, ncols)
    tiles = _tile_images(x, nrows, ncols)
    scale = min(5.0 / tiles.shape[1], 5.0 / tiles.shape[0])  # the longer side 5 inches
    fig, (a,) = get_axes(ax, 1, panel_size=(tiles.shape[1] * scale + (1.0 if colorbar else 0.3),
                                            tiles.shape[0] * scale + 0.8))
    im = _draw_tiles(a, tiles, k, cmap)
    a.set_title(f"{n} images" if title is None else title)
    if xlabel == "auto":
        xlabel = f"{h}\u00d7{w} pixels, levels 0\u2013{k - 1}"
    if xlabel:
        a.set_xlabel(xlabel)
    if colorbar and c == 1:
        cbar = root_figure(a).colorbar(im, ax=a, shrink=0.8)
        cbar.set_label("pixel level")
        style_colorbar(cbar)
    return fig


def plot_samples_vs_data(data, samples, num_levels, n=16, titles=("data", "samples"),
                         axes=None, cmap="gray"):
    """Data images (left) and model samples (right), as two grids of ``n`` images.

    Args:
      data: images ``[m, H, W(, C)]`` (integer pixels or dequantised floats); the first
        ``n`` are drawn.
      samples: images of the same ``H, W, C``, e.g. ``model.sample(n)``; floats outside
        ``[0, K)`` are clipped.
      num_levels: ``K``, the number of pixel levels of both.
      n: images per grid (fewer if fewer are given), laid out about square.
      titles: the two panel titles.
      axes: a pair of Axes to draw into; new ones if None.
      cmap: colormap of grayscale images.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on bad images (see :func:`plot_image_grid`), different image shapes,
        ``n < 1`` or not two titles.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> data = np.random.default_rng(0).integers(0, 17, size=(20, 8, 8, 1))
    >>> fig = plot_samples_vs_data(data, data + 0.4, num_levels=17, n=9)
    >>> [a.get_title() for a in fig.axes]
    ['data', 'samples']
    >>> plt.close(fig)
    """
    k = _check_levels(num_levels)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"expected n to be a positive integer, got {n!r}")
    titles = tuple(titles)
    if len(titles) != 2:
        raise ValueError(f"expected two titles (data, samples), got {titles!r}")
    data = _as_images(data, k, "data")[:int(n)]
    samples = _as_images(samples, k, "samples")[:int(n)]
    if data.shape[1:] != samples.shape[1:]:
        raise ValueError(f"expected data and samples of the same image shape, got "
                         f"{data.shape[1:]} and {samples.shape[1:]}")
    rows, cols = _grid_shape(max(len(data), len(samples)), None, None)
    fig, (a_data, a_samples) = get_axes(axes, 2, name="axes", panel_size=(4.0, 4.3))
    for a, x, title in ((a_data, data, titles[0]), (a_samples, samples, titles[1])):
        plot_image_grid(x, k, nrows=rows, ncols=cols, ax=a, title=title, cmap=cmap)
    return fig


def plot_temperature_grid(model, temperatures=(0.0, 0.5, 0.7, 1.0), n=8, seed=0, axes=None,
                          cmap="gray", title="samples at temperature T"):
    """Samples at reduced temperatures, one row per ``T`` (the figure of the Glow paper).

    Every row draws ``model.sample(n, seed=seed, temperature=T)`` with the same seed, so
    a column shows one base draw ``z`` mapped to data as ``T z``: ``T = 0`` gives the image
    of the base's mode in every column (drawn at ``T = 1e-6``, as ``sample`` takes
    ``T > 0`` only), ``T = 1`` samples the model itself.

    Args:
      model: an image flow: ``model.sample(n, seed=, temperature=)`` returning ``[n, H,
        W, C]`` and ``model.num_levels``.
      temperatures: the temperatures, one row each, numbers ``>= 0``.
      n: samples per row.
      seed: the sampling seed shared by all rows.
      axes: a sequence of ``len(temperatures)`` Axes; a new figure if None.
      cmap: colormap of grayscale images.
      title: figure title (set only when the figure is made here).

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: if the model has no ``num_levels``, a temperature is negative or not a
        number, the list is empty, or ``n < 1``.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> class Noise:  # any object with sample() and num_levels
    ...     num_levels = 17
    ...     def sample(self, n, seed=None, temperature=1.0):
    ...         z = np.random.default_rng(seed).normal(size=(n, 8, 8, 1))
    ...         return 8.5 + 4.0 * temperature * z
    >>> fig = plot_temperature_grid(Noise(), temperatures=(0.0, 1.0), n=4)
    >>> [a.get_ylabel() for a in fig.axes]
    ['T = 0', 'T = 1']
    >>> plt.close(fig)
    """
    k = getattr(model, "num_levels", None)
    if k is None:
        raise ValueError("expected an image flow with num_levels (pixel levels), got a "
                         f"{type(model).__name__} without one")
    k = _check_levels(k, "model.num_levels")
    temps = []
    for t in temperatures:
        if isinstance(t, bool) or not isinstance(t, (int, float, np.number)) \
                or not np.isfinite(t) or t < 0:
            raise ValueError(f"expected temperatures to be finite numbers >= 0, got {t!r}")
        temps.append(float(t))
    if not temps:
        raise ValueError("expected at least one temperature")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"expected n to be a positive integer, got {n!r}")
    made_here = axes is None
    fig, rows = get_axes(axes, len(temps), name="axes", nrows=len(temps), ncols=1,
                         panel_size=(min(1.0 * n, 10.0) + 0.6, min(1.0, 10.0 / n) + 0.25))
    for i, (a, t) in enumerate(zip(rows, temps)):
        x = model.sample(int(n), seed=seed, temperature=t if t > 0 else ZERO_TEMPERATURE)
        plot_image_grid(x, k, nrows=1, ncols=int(n), ax=a, title="", cmap=cmap, xlabel=None)
        a.set_ylabel(f"T = {t:g}", rotation=0, ha="right", va="center")
    rows[-1].set_xlabel(f"each column: one base draw z, mapped as T\u00b7z "
                        f"(levels 0\u2013{k - 1}, clipped)")
    if made_here and title:
        fig.suptitle(title)
    return fig


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


def plot_bits_per_dim(history, event_size, ax=None, reference=None,
                      reference_label="reference", title="training", legend="outside"):
    """Training and validation loss in bits per dimension, per epoch.

    An image flow's loss is the mean negative log-likelihood in nats per image (over
    dequantised pixels); divided by ``D ln 2`` it is bits per dimension, the unit image
    models are compared in (a uniform density over ``K`` levels scores ``log2 K``).

    Args:
      history: a Keras ``History`` or a dict with ``'loss'`` (and optionally
        ``'val_loss'``) in nats per image, as :func:`~tfp_flows.plotting.plot_loss` reads.
      event_size: ``D = H W C``, the number of pixel values of one image.
      ax: an Axes to draw into; a new figure if None.
      reference: optional horizontal dashed lines in bits/dim: a number (labelled
        ``reference_label``) or a dict ``{label: value}``, e.g. baselines.
      reference_label: legend text of a single number ``reference``.
      title: panel title.
      legend: ``"outside"`` (right of the axes), a matplotlib ``loc``, or None.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      TypeError: if ``history`` is neither a History nor a mapping.
      ValueError: on a history without ``'loss'``, ``event_size < 1`` or a reference
        that is not a number.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> d = 64
    >>> nats = lambda bits: [b * d * np.log(2) for b in bits]
    >>> fig = plot_bits_per_dim({"loss": nats([3.5, 2.9, 2.6]), "val_loss": nats([3.2, 2.8,
    ...                          2.7])}, event_size=d, reference={"uniform": np.log2(17)})
    >>> fig.axes[0].lines[0].get_ydata().round(2).tolist()
    [3.5, 2.9, 2.6]
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['training', 'validation', 'uniform (4.087)']
    >>> plt.close(fig)
    """
    if isinstance(event_size, bool) or int(event_size) != event_size or event_size < 1:
        raise ValueError(f"expected event_size (pixels per image, H*W*C) >= 1, got "
                         f"{event_size!r}")
    logs = _history_dict(history)
    per_bit = float(event_size) * np.log(2.0)
    bits = {key: None if logs.get(key) is None else np.asarray(logs[key], np.float64) / per_bit
            for key in ("loss", "val_loss") if key in logs}
    if reference is None:
        refs = {}
    elif hasattr(reference, "items"):
        refs = dict(reference.items())
    else:
        refs = {reference_label: reference}
    try:
        refs = {str(label): float(value) for label, value in refs.items()}
    except (TypeError, ValueError):
        raise ValueError(f"expected reference values to be numbers, got {reference!r}") \
            from None
    fig, (a,) = get_axes(ax, 1, panel_size=(7.5 if legend == "outside" else 5.5, 3.8))
    plot_loss(bits, ax=a, title=title, ylabel="bits per dimension", legend=None)
    colors = ["0.3", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:gray"]
    styles = ["--", ":", "-.", (0, (5, 1))]
    for i, (label, value) in enumerate(refs.items()):
        a.axhline(value, color=colors[i % len(colors)], linestyle=styles[i % len(styles)],
                  linewidth=1.2, label=f"{label} ({value:.3f})")
    place_legend(a, legend)
    return fig
