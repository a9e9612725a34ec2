"""Progress lines for long runs: :class:`ProgressPrinter`, a Keras callback that prints the
losses, the time so far and an estimate of the time left, about 20 lines per run."""
import sys
import time

import keras

__all__ = ["ProgressPrinter", "format_duration"]


def format_duration(seconds):
    """``seconds`` rounded to whole seconds, as ``42 s`` or ``3 min 05 s``.

    Example:
        >>> format_duration(41.6), format_duration(185.2)
        ('42 s', '3 min 05 s')
    """
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


class ProgressPrinter(keras.callbacks.Callback):
    """Prints a line after the first epoch, every ``every`` epochs and after the last:
    ``epoch  40/100  loss 1.2345  val_loss 1.3012  41 s elapsed  about 1 min 02 s left``.

    The time left is ``(epochs - done) * pace``, where the pace is the mean time of the
    epochs after the first (the first also traces the graphs; for a spline flow it can take
    many times longer than the others, so the first line says so instead of guessing).
    Early stopping may end the run sooner than the estimate.

    Args:
      epochs: the most epochs of the run; ``None`` (default) takes ``epochs`` of the
        ``fit`` call it is passed to.
      scale: the losses are printed times ``scale``: e.g. ``1 / (D ln 2)`` turns nats per
        image of ``D`` pixels into bits per dimension.
      unit: text after each loss (e.g. ``" bits/dim"``).
      every: epochs between two lines; ``None`` (default): ``max(1, round(epochs / 20))``,
        about 20 lines per run.
      file: where the lines go (default ``sys.stdout`` at the time of printing); each is
        flushed at once.

    Example:
        >>> import io, numpy as np, tfp_flows
        >>> from tfp_flows.training import fit_flow
        >>> flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,), seed=0)
        >>> out = io.StringIO()
        >>> history = fit_flow(flow, np.random.default_rng(0).normal(size=(64, 2)), epochs=3,
        ...                    validation_split=0.0, callbacks=[ProgressPrinter(file=out)])
        >>> print(out.getvalue(), end="")
        epoch 1/3  loss ...  (the first epoch includes set-up)
        epoch 2/3  loss ...  left
        epoch 3/3  loss ...  elapsed
    """

    def __init__(self, epochs=None, scale=1.0, unit="", every=None, file=None):
        super().__init__()
        self.scale, self.unit, self.file = float(scale), unit, file
        self._given = epochs, every
        self.epochs = self.every = self.start = self.first = None

    def on_train_begin(self, logs=None):
        epochs, every = self._given
        self.epochs = epochs or self.params.get("epochs")
        self.every = every or max(1, round(self.epochs / 20))
        self.start, self.first = time.perf_counter(), None

    def on_epoch_end(self, epoch, logs=None):
        done, epochs, now = epoch + 1, self.epochs, time.perf_counter()
        if self.first is None:
            self.first = now - self.start
        if not (done == 1 or done % self.every == 0 or done == epochs):
            return
        elapsed = now - self.start
        parts = [f"epoch {done:>{len(str(epochs))}}/{epochs}"]
        parts += [f"{key} {float(logs[key]) * self.scale:.4f}{self.unit}"
                  for key in ("loss", "val_loss") if key in (logs or {})]
        parts.append(f"{format_duration(elapsed)} elapsed")
        if done == 1 and done < epochs:
            parts.append("(the first epoch includes set-up)")
        elif done < epochs:
            pace = (elapsed - self.first) / (done - 1)
            parts.append(f"about {format_duration(pace * (epochs - done))} left")
        print("  ".join(parts), file=self.file or sys.stdout, flush=True)
