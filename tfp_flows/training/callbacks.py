"""The parts of a training recipe that :func:`~tfp_flows.training.fit_flow` (maximum
likelihood on data) and :func:`~tfp_flows.training.fit_to_target` (reverse KL to a density)
share: compiling with Adam (or keeping a compiled optimizer), the learning-rate schedule,
early stopping with the best weights restored, a moving average of the weights, a
wall-clock budget, and what stopped the run."""
import math
import time

import keras
import numpy as np

from tfp_flows.model_training import trains_distributed
from tfp_flows.training.averaging import AveragedWeights
from tfp_flows.validation import check_fraction, check_positive_float, check_positive_int

__all__ = ["DEFAULT_LEARNING_RATE", "SCHEDULES", "Recipe", "TimeBudget", "compile_with_adam"]

#: Learning-rate schedules the recipe knows (see :func:`~tfp_flows.training.fit_flow`).
SCHEDULES = ("plateau", "cosine", "constant")


class TimeBudget(keras.callbacks.Callback):
    """Ends ``fit`` once ``seconds`` of wall time have passed since training began (checked
    after every batch, or every ``steps_per_execution`` batches, so a run overshoots by at
    most that many steps and one validation pass).

    Example:
        >>> TimeBudget(60).seconds
        60.0
    """

    def __init__(self, seconds):
        super().__init__()
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.number)) \
                or not 0 < seconds < math.inf:
            raise ValueError(f"time_budget must be a positive number of seconds, got "
                             f"{seconds!r}")
        self.seconds = float(seconds)
        self.start = None
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.stopped = False

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.stopped = True
            self.model.stop_training = True


def _averaging_callback(model):
    """Validation and early stopping on the averaged weights: one compiled swap per switch
    (:class:`AveragedWeights`), or Keras's variable-by-variable swap under ``tf.distribute``."""
    if trains_distributed(model):
        return keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
    return AveragedWeights()


#: Adam's learning rate for a model that ``fit_flow`` compiles itself.
DEFAULT_LEARNING_RATE = 1e-3


def _check_compiled(optimizer, schedule, learning_rate, ema_momentum):
    """A compiled model keeps its optimizer and its state (a loaded model resumes): an
    option that would need another optimizer is refused, never silently ignored."""
    fresh = "build a fresh model, or compile it yourself with what you want"
    if ema_momentum is not None and not getattr(optimizer, "use_ema", False):
        raise ValueError("ema_momentum needs an optimizer that keeps a moving average, but "
                         f"the model is compiled already with use_ema=False; {fresh}")
    if schedule == "cosine":
        raise ValueError("schedule='cosine' builds its own optimizer, but the model is "
                         "compiled already; use schedule='plateau' or 'constant' to keep its "
                         f"optimizer, or {fresh}")
    follows_schedule = isinstance(getattr(optimizer, "_learning_rate", None),
                                  keras.optimizers.schedules.LearningRateSchedule)
    if schedule == "plateau" and follows_schedule:
        raise ValueError("schedule='plateau' changes the learning rate, but the model's "
                         "optimizer follows a LearningRateSchedule; use schedule='constant' "
                         "to keep that schedule")
    if learning_rate is not None:
        current = None if follows_schedule else float(
            keras.ops.convert_to_numpy(optimizer.learning_rate))
        if current is None or not np.isclose(current, learning_rate, rtol=1e-6, atol=0):
            raise ValueError(
                f"learning_rate={learning_rate:g}, but the model is compiled already with "
                f"learning rate {'a schedule' if current is None else f'{current:.6g}'}, and "
                "fit_flow keeps a compiled model's optimizer and its state; pass "
                "learning_rate=None to keep it, set model.optimizer.learning_rate first, "
                f"or {fresh}")


def compile_with_adam(model, schedule, learning_rate, steps, ema_momentum=None):
    """Compiles ``model`` with Adam unless it is compiled already (then its optimizer and
    its state are kept: a loaded model resumes where it stopped, and an option that would
    need another optimizer is refused).

    Args:
      model: a Keras model.
      schedule: one of :data:`SCHEDULES`.
      learning_rate: ``None`` (:data:`DEFAULT_LEARNING_RATE`) or a positive number.
      steps: the run's total number of steps (for ``"cosine"``), or ``None`` if unknown.
      ema_momentum: ``None``, or the momentum of Adam's moving average of the weights.
    """
    if getattr(model, "optimizer", None) is not None:
        _check_compiled(model.optimizer, schedule, learning_rate, ema_momentum)
        return
    rate = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
    if schedule == "cosine":
        if steps is None:
            raise ValueError("schedule='cosine' needs the number of steps per epoch, but the "
                             "dataset's length is unknown; use schedule='plateau', or "
                             "give the dataset a length (tf.data.experimental.assert_cardinality)")
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps, alpha=0.01)
    if ema_momentum is None:
        model.compile(optimizer=keras.optimizers.Adam(rate))
    else:
        model.compile(optimizer=keras.optimizers.Adam(rate, use_ema=True,
                                                      ema_momentum=ema_momentum))




class Recipe:
    """The callbacks of a recipe, in the order they must run, and what stopped the run.

    Args:
      model: the model ``fit`` trains (for the moving-average swap's flavour).
      monitor: the logged quantity to watch (``"val_loss"`` or ``"loss"``).
      epochs: the most epochs of the run.
      patience: early-stopping patience in epochs, or ``None`` (never early).
      schedule: one of :data:`SCHEDULES`; ``"plateau"`` adds ``ReduceLROnPlateau``.
      lr_patience, lr_factor, min_learning_rate: the plateau schedule's settings.
      time_budget: ``None``, or seconds of wall time after which training ends.
      ema_momentum: ``None``, or validate and keep the moving average of the weights.

    Example:
        >>> recipe = Recipe(keras.Sequential(), "loss", epochs=5, patience=None,
        ...                 schedule="constant", time_budget=30)
        >>> [type(c).__name__ for c in recipe.callbacks]
        ['EarlyStopping', 'TimeBudget']
    """

    def __init__(self, model, monitor, *, epochs, patience, schedule, lr_patience=10,
                 lr_factor=0.5, min_learning_rate=1e-5, time_budget=None, ema_momentum=None):
        self.budget = None if time_budget is None else TimeBudget(time_budget)
        self.stopper = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=epochs + 1 if patience is None else patience,
            restore_best_weights=True)
        # First, so that validation and the weights early stopping keeps are the averaged ones.
        self.callbacks = [] if ema_momentum is None else [_averaging_callback(model)]
        self.callbacks.append(self.stopper)
        if schedule == "plateau":
            self.callbacks.append(keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, factor=float(lr_factor), patience=lr_patience,
                min_lr=min_learning_rate))
        if self.budget is not None:
            self.callbacks.append(self.budget)
        self.start = time.perf_counter()

    def finish(self, history):
        """Adds ``seconds``, ``best_epoch`` and ``stopped_by`` to Keras's ``History``."""
        history.seconds = time.perf_counter() - self.start
        stopper = self.stopper
        history.best_epoch = None if stopper.best_weights is None else stopper.best_epoch + 1
        losses = history.history.get("loss", [])
        if losses and not math.isfinite(losses[-1]):
            history.stopped_by = "non_finite_loss"
        elif stopper.stopped_epoch > 0:
            history.stopped_by = "early_stopping"
        elif self.budget is not None and self.budget.stopped:
            history.stopped_by = "time_budget"
        else:
            history.stopped_by = "epochs"
        return history


def check_recipe(*, epochs, schedule, learning_rate, patience, lr_patience, lr_factor,
                 min_learning_rate, ema_momentum):
    """The recipe's settings, checked and normalised (a ``ValueError`` names a bad one)."""
    epochs = check_positive_int(epochs, "epochs")
    if learning_rate is not None:
        learning_rate = check_positive_float(learning_rate, "learning_rate")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    return dict(
        epochs=epochs, schedule=schedule, learning_rate=learning_rate,
        patience=None if patience is None else check_positive_int(patience, "patience"),
        lr_patience=check_positive_int(lr_patience, "lr_patience"),
        lr_factor=check_fraction(lr_factor, "lr_factor"),
        min_learning_rate=check_positive_float(min_learning_rate, "min_learning_rate"),
        ema_momentum=None if ema_momentum is None else check_fraction(ema_momentum,
                                                                      "ema_momentum"))
