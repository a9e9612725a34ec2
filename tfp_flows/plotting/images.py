"""Image plots for image flows: grids of images, samples against data, samples by temperature.
(The latents of each scale are drawn by :mod:`tfp_flows.plotting.scales`, training curves in
bits per dimension by :mod:`tfp_flows.plotting.training`.)

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
    root_figure,
    style_colorbar,
)

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


def _channel(images, channel, name="images"):
    """``images [n, H, W, C]`` cut to ``[n, H, W, 1]``, their ``channel``; or as they are
    for ``channel=None``."""
    if channel is None:
        return images
    x = np.asarray(images)
    if x.ndim != 4 or isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) \
            or not 0 <= channel < x.shape[-1]:
        raise ValueError(f"expected channel to index the last axis of {name} [n, H, W, C], "
                         f"got channel={channel!r} for shape {x.shape}")
    return x[..., channel:channel + 1]


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
                    cmap="gray", xlabel="auto", colorbar=False, channel=None):
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
      channel: draw only this channel, in grayscale (images ``[n, H, W, C]`` of any ``C``,
        e.g. 2 or 4 channels, which are neither grayscale nor RGB); None: all.

    Returns:
      The ``matplotlib.figure.Figure``.

    Raises:
      ValueError: on a wrong rank or channel count (without ``channel``), integer pixels
        outside ``[0, K)``, floats far outside it (a wrong ``num_levels``), NaNs, a bad
        grid size or a ``channel`` the images do not have.

    Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> x = np.arange(6 * 4 * 4).reshape(6, 4, 4) % 17
    >>> fig = plot_image_grid(x, num_levels=17, nrows=2)
    >>> fig.axes[0].get_title(), fig.axes[0].images[0].get_array().shape  # 2 x 3 tiles
    ('6 images', (9, 14))
    >>> plt.close(fig)
    """
    k = _check_levels(num_levels)
    x = _as_images(_channel(images, channel), k)
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
                         axes=None, cmap="gray", channel=None):
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
      channel: draw only this channel of both (see :func:`plot_image_grid`).

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
    data = _as_images(_channel(data, channel, "data"), k, "data")[:int(n)]
    samples = _as_images(_channel(samples, channel, "samples"), k, "samples")[:int(n)]
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
