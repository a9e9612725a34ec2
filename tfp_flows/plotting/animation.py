"""An animation of a sample moving through the layers of a flow."""
from matplotlib.animation import FuncAnimation, PillowWriter

from tfp_flows.plotting.layout import as_bounds, get_axes, robust_bounds, set_bounds
from tfp_flows.plotting.samples import _as_steps, _base_colors, _step_names


def _frames(count, frames_per_step):
    """``(k, t)`` per frame: between steps ``k`` and ``k + 1`` at fraction ``t`` in [0, 1)."""
    frames = [(k, j / frames_per_step) for k in range(count - 1) for j in range(frames_per_step)]
    return frames + [(count - 1, 0.0)]


def animate_layers(steps, path=None, fps=20, frames_per_step=15, names=None, bounds=None,
                   s=4.0, cmap="hsv", dpi=80, ax=None, xlabel="dimension 1",
                   ylabel="dimension 2"):
    """Animate a sample as each bijector bends it: points move from step to step.

    Frame ``j`` of the move from ``steps[k]`` to ``steps[k + 1]`` shows the linear
    interpolation ``(1 - t) * steps[k] + t * steps[k + 1]`` with ``t = j /
    frames_per_step``; a last frame shows ``steps[-1]``, so there are
    ``(len(steps) - 1) * frames_per_step + 1`` frames. Points keep their colour (their
    angle in the base sample) and the title names the current stage.

    The animation object is attached to the returned figure as ``fig.animation`` (a
    ``matplotlib.animation.FuncAnimation``). Keep a reference to it (or the figure) while
    it plays, save it to other formats with ``fig.animation.save(...)``, or show it in a
    notebook with ``IPython.display.HTML(fig.animation.to_jshtml())``.

    Args:
      steps: list of at least two array-likes ``[n, 2]`` with the same ``n``: the base
        sample then the sample after each bijector (a model's ``forward_steps(z)``).
      path: optional file name ending in ``.gif``; the animation is written there with
        the Pillow writer before returning.
      fps: frames per second (of the saved file and of the live animation).
      frames_per_step: frames spent on each bijector.
      names: one name per array in ``steps`` for the titles; default ``"base"``,
        ``"after bijector 1"``, ...
      bounds: ``((xmin, xmax), (ymin, ymax))``; default covers every step (a few far
        outliers are cut off), fixed over the whole animation so the motion is visible.
      s, cmap: marker size and colour map.
      dpi: resolution of the saved GIF.
      ax: an Axes to draw into; a new figure if None.
      xlabel, ylabel: axis labels.

    Returns:
      The ``matplotlib.figure.Figure``, with the animation as ``fig.animation``.

    Raises:
      ValueError: on fewer than two steps, mismatched shapes, ``frames_per_step < 1``,
        ``fps <= 0`` or a ``path`` that does not end in ``.gif``.

    Example:
    >>> import os, tempfile, numpy as np, matplotlib.pyplot as plt
    >>> z = np.random.default_rng(0).normal(size=(10, 2))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     fig = animate_layers([z, 2 * z], path=os.path.join(d, "flow.gif"),
    ...                          frames_per_step=2, dpi=20)
    ...     os.path.getsize(os.path.join(d, "flow.gif")) > 0
    True
    >>> type(fig.animation).__name__
    'FuncAnimation'
    >>> plt.close(fig)
    """
    arrays = _as_steps(steps, min_steps=2)
    titles = _step_names(names, len(arrays))
    frames_per_step = int(frames_per_step)
    if frames_per_step < 1:
        raise ValueError(f"expected frames_per_step >= 1, got {frames_per_step}")
    if not fps > 0:
        raise ValueError(f"expected fps > 0, got {fps}")
    if path is not None and not str(path).lower().endswith(".gif"):
        raise ValueError(f"expected a path ending in .gif, got {str(path)!r}; save other "
                         f"formats with fig.animation.save(...)")
    bounds = robust_bounds(*arrays) if bounds is None else as_bounds(bounds)

    fig, (a,) = get_axes(ax, 1, panel_size=(4.5, 4.5))
    set_bounds(a, bounds)
    a.set_xlabel(xlabel)
    a.set_ylabel(ylabel)
    scatter = a.scatter(arrays[0][:, 0], arrays[0][:, 1], s=s, c=_base_colors(arrays[0]),
                        cmap=cmap, linewidths=0)
    frames = _frames(len(arrays), frames_per_step)

    def draw(frame):
        k, t = frame
        if t == 0.0:
            pts = arrays[k]
            a.set_title(titles[k])
        else:
            pts = (1.0 - t) * arrays[k] + t * arrays[k + 1]
            a.set_title(f"{titles[k]} \u2192 {titles[k + 1]}")
        scatter.set_offsets(pts)
        return (scatter,)

    draw(frames[0])
    anim = FuncAnimation(fig, draw, frames=frames, interval=1000.0 / fps, blit=False,
                         cache_frame_data=False)
    fig.animation = anim
    if path is not None:
        anim.save(str(path), writer=PillowWriter(fps=fps), dpi=dpi)
    return fig
