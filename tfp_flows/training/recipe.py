"""The default training recipe: Adam, a learning-rate schedule, early stopping on the
validation loss with the best weights restored, and an optional wall-clock budget.

:func:`fit_flow` is what ``tfp-flows fit``, the benchmarks and the tutorials call; it is
``FlowModel.fit`` plus the callbacks every careful run of maximum likelihood wants.
"""
import math
import time

import keras
import numpy as np
import tensorflow as tf

from tfp_flows.fit_data import INIT_ROWS, as_dataset, check_context_rows, split_rows
from tfp_flows.model_training import trains_distributed
from tfp_flows.training.averaging import AveragedWeights
from tfp_flows.validation import check_data, check_positive_float, check_positive_int

__all__ = ["SCHEDULES", "SMALL_DATA", "TimeBudget", "fit_flow"]

#: Learning-rate schedules :func:`fit_flow` knows (see its docstring).
SCHEDULES = ("plateau", "cosine", "constant")

#: :func:`fit_flow` settings for small vector data sets (about a thousand rows), where the
#: error is variance (the training NLL falls below the truth's entropy): a larger rate, a
#: moving average of the weights and 3 % Gaussian input noise. On 1,000 two-moons points in
#: 60 s they took ``nsf``'s KL to the truth from 0.135 to 0.055 nats with
#: ``nsf(base_distribution="normal", bound=6)`` (BENCHMARKS.md, "Small data"). Use them as
#: ``fit_flow(flow, x, epochs=..., **SMALL_DATA)``; not the defaults, because the noise
#: smooths the density (a bias that large data sets do not need to pay).
SMALL_DATA = dict(learning_rate=3e-3, ema_momentum=0.99, input_noise=0.03)


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


def _steps_per_epoch(x, batch_size, validation_split, validation_data):
    n = len(x)
    if validation_data is None:
        n -= int(n * float(validation_split))
    return max(1, math.ceil(n / batch_size))


def _check_input_noise(input_noise):
    if input_noise is None:
        return None
    if isinstance(input_noise, bool) or not isinstance(input_noise, (int, float, np.number)) \
            or not 0 <= float(input_noise) < math.inf:
        raise ValueError(f"input_noise must be None or a finite number >= 0 (a fraction of "
                         f"each dimension's standard deviation), got {input_noise!r}")
    return float(input_noise) or None


def _noisy_training_data(model, x, context, input_noise, batch_size, validation_split,
                         validation_data, shuffle):
    """``(training batches, validation_data)`` for ``input_noise``: the held-out rows are
    split off first and stay clean; the model's data-dependent initialisation (its
    standardisation) sees clean training rows; every training batch then gets fresh
    ``N(0, (input_noise * std_d)^2)`` noise on each dimension ``d``."""
    if isinstance(x, tf.data.Dataset):
        raise ValueError("input_noise needs the data as an array (fit_flow adds the noise to "
                         "its training rows); with a tf.data.Dataset, add the noise in the "
                         "pipeline instead")
    if getattr(model, "num_levels", None) is not None:
        raise ValueError("input_noise is for vector flows: an image flow's training images "
                         "are dequantised with fresh uniform noise already")
    dtype = getattr(model, "flow_dtype", "float32")
    x = check_data(x, tuple(model.event_shape), dtype=dtype)
    context = check_context_rows(context, model.context_size, len(x), dtype)
    if validation_data is None:
        (x, context), held = split_rows([x, context], validation_split)
        if held is not None:
            validation_data = held[0] if context is None else tuple(held)
    if model.needs_data_init:
        model.initialize_from_data(x[:INIT_ROWS],
                                   None if context is None else context[:INIT_ROWS])
    scale = tf.constant(input_noise * x.std(axis=0), dtype=x.dtype)
    # A generator whose state advances batch after batch (op-level random ops would repeat
    # their noise every epoch once a global seed is set), seeded from NumPy's global state so
    # that keras.utils.set_random_seed makes the run reproducible.
    generator = tf.random.Generator.from_seed(int(np.random.randint(2**31 - 1)))

    def add_noise(batch, *rest):
        noisy = batch + scale * generator.normal(tf.shape(batch), dtype=batch.dtype)
        return (noisy, *rest) if rest else noisy

    data = as_dataset(x, batch_size, bool(shuffle), context=context)
    return data.map(add_noise), validation_data


def _averaging_callback(model):
    """Validation and early stopping on the averaged weights: one compiled swap per switch
    (:class:`AveragedWeights`), or Keras's variable-by-variable swap under ``tf.distribute``."""
    if trains_distributed(model):
        return keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
    return AveragedWeights()


def _compile(model, schedule, learning_rate, steps, ema_momentum=None):
    """Compiles ``model`` with Adam unless it is compiled already (then its optimizer and
    its state are kept: a loaded model resumes where it stopped)."""
    if getattr(model, "optimizer", None) is not None:
        if ema_momentum is not None and not getattr(model.optimizer, "use_ema", False):
            raise ValueError("ema_momentum needs an optimizer that keeps a moving average, "
                             "but the model is compiled already with use_ema=False; build a "
                             "fresh model or compile it with use_ema=True")
        if schedule == "cosine":
            raise ValueError("schedule='cosine' builds its own optimizer, but the model is "
                             "compiled already; use schedule='plateau' or 'constant' to keep "
                             "its optimizer, or build a fresh model")
        if schedule == "plateau" and isinstance(
                getattr(model.optimizer, "_learning_rate", None),
                keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError("schedule='plateau' changes the learning rate, but the model's "
                             "optimizer follows a LearningRateSchedule; use "
                             "schedule='constant' to keep that schedule")
        return
    rate = learning_rate
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps,
                                                      alpha=0.01)
    if ema_momentum is None:
        model.compile(optimizer=keras.optimizers.Adam(rate))
    else:
        model.compile(optimizer=keras.optimizers.Adam(rate, use_ema=True,
                                                      ema_momentum=ema_momentum))


def fit_flow(model, x, *, epochs, batch_size=100, learning_rate=1e-3, schedule="plateau",
             validation_split=0.1, validation_data=None, patience=30, lr_patience=10,
             lr_factor=0.5, min_learning_rate=1e-5, time_budget=None, verbose=0,
             callbacks=None, shuffle=True, ema_momentum=None, input_noise=None, context=None):
    """Fits a flow by maximum likelihood with the package's default recipe.

    What it does, in order:

    1. compiles ``model`` with ``keras.optimizers.Adam(learning_rate)`` unless it is compiled
       already (then its optimizer is kept with its state, so a loaded model resumes);
    2. holds out ``validation_split`` of ``x`` (the last rows, as Keras does: shuffle ordered
       data first), unless ``validation_data`` is given;
    3. runs ``model.fit`` for up to ``epochs`` epochs with these callbacks:

       - the learning-rate ``schedule``: ``"plateau"`` multiplies the rate by ``lr_factor``
         after ``lr_patience`` epochs without a better validation loss, down to
         ``min_learning_rate`` (``ReduceLROnPlateau``; needs no horizon, so it suits a time
         budget); ``"cosine"`` decays it to 1% of ``learning_rate`` over ``epochs`` epochs
         (``CosineDecay``; best when the run lasts the epochs asked for); ``"constant"``
         leaves it alone;
       - ``EarlyStopping(restore_best_weights=True)`` on ``val_loss``: training stops after
         ``patience`` epochs without a better validation loss (``patience=None``: never
         early), and in every case the model ends with the weights of its best epoch;
       - :class:`TimeBudget` if ``time_budget`` seconds are given;
       - then ``callbacks``.

    With ``ema_momentum`` (Polyak averaging, as Glow and Flow++ evaluate): Adam also keeps an
    exponential moving average of the weights, ``w_avg <- m w_avg + (1 - m) w`` after every
    step; validation, early stopping and the weights the model ends with use the average
    (:class:`~tfp_flows.training.AveragedWeights`, a cheaper
    ``keras.callbacks.SwapEMAWeights``). On small image sets it generalises better (see
    BENCHMARKS.md, "Image flows").

    With ``input_noise`` (a regulariser for small data sets, as in Gaussian data
    augmentation): every training batch gets fresh Gaussian noise of standard deviation
    ``input_noise`` times each dimension's standard deviation (over the training rows); the
    validation rows stay clean, and data-dependent initialisation (the builders'
    standardisation) sees clean rows. The model then fits the data smoothed by that noise, a
    bias that grows like ``input_noise**2``, so keep it small: on 1,000 two-moons points
    ``input_noise=0.03`` lowered the KL to the truth (BENCHMARKS.md, "Small data").

    With no validation rows (``validation_split=0`` and no ``validation_data``) the training
    loss is monitored instead. ``FlowModel.fit`` itself stops at a non-finite loss with a
    ``RuntimeWarning`` (that step is not applied); the best weights are then restored too.

    Why these defaults: Adam at ``1e-3`` with batches of 100 is the setting of the
    literature's toy and tabular experiments and of the tutorials; halving the rate on a
    plateau (10 epochs) lets a long run refine without a horizon; a patience of 30 epochs
    leaves room for two or three halvings before stopping; 10% of the rows are enough to
    see over-fitting on data sets of a few thousand points.

    Args:
      model: a :class:`~tfp_flows.FlowModel` (anything whose ``fit`` takes data alone).
      x: training data ``[n, *event_shape]``, in the data's own units (a builder's model
        standardises inside itself).
      epochs: the most epochs to run.
      batch_size: rows per step.
      learning_rate: Adam's (initial) learning rate.
      schedule: ``"plateau"``, ``"cosine"`` or ``"constant"`` (see above).
      validation_split: fraction in ``[0, 1)`` of ``x`` held out for ``val_loss``.
      validation_data: held-out rows; takes precedence over ``validation_split``.
      patience: early-stopping patience in epochs, or ``None`` for no early stop.
      lr_patience, lr_factor, min_learning_rate: the ``"plateau"`` schedule's settings.
      time_budget: ``None``, or seconds of wall time after which training ends.
      verbose: Keras's ``verbose`` (0 silent, 1 progress bar, 2 one line per epoch).
      callbacks: more Keras callbacks, run after the recipe's own.
      shuffle: reshuffle the training rows every epoch.
      ema_momentum: ``None`` (no averaging) or ``m`` in ``(0, 1)``: evaluate and keep the
        moving average of the weights (e.g. 0.995, an average over about 200 steps).
      input_noise: ``None`` (no noise) or ``s >= 0``: add ``N(0, (s std_d)^2)`` noise to
        the training rows, fresh every batch (see above). Needs array data, not a
        ``tf.data.Dataset``; not for image flows.
      context: for a conditional flow, one context row per row of ``x`` (``[n, K]``), split
        with ``x``; ``validation_data`` is then a pair ``(x_val, context_val)``.

    Returns:
      Keras's ``History``, with three more attributes: ``best_epoch`` (1-based number of
      the epoch whose weights the model ends with), ``seconds`` (wall time of ``fit``) and
      ``stopped_by`` (``"epochs"``, ``"early_stopping"``, ``"time_budget"`` or
      ``"non_finite_loss"``).

    Example:
        >>> import tfp_flows
        >>> x = np.random.default_rng(0).normal(size=(500, 2)).astype("float32")
        >>> flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(8,), seed=0)
        >>> history = fit_flow(flow, x, epochs=3)
        >>> sorted(history.history), history.best_epoch in (1, 2, 3)
        (['learning_rate', 'loss', 'val_loss'], True)
        >>> noisy = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(8,), seed=0)
        >>> history = fit_flow(noisy, x, epochs=2, input_noise=0.03)   # clean validation rows
        >>> len(history.history["val_loss"])
        2
        >>> small = tfp_flows.nsf(event_shape=2, num_layers=1, hidden_units=(8,), seed=0,
        ...                       base_distribution="normal")
        >>> history = fit_flow(small, x, epochs=2, **SMALL_DATA)   # for ~1,000 rows
        >>> history.best_epoch in (1, 2)
        True
    """
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    learning_rate = check_positive_float(learning_rate, "learning_rate")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    patience = None if patience is None else check_positive_int(patience, "patience")
    lr_patience = check_positive_int(lr_patience, "lr_patience")
    if not 0 < float(lr_factor) < 1:
        raise ValueError(f"lr_factor must be in (0, 1), got {lr_factor!r}")
    min_learning_rate = check_positive_float(min_learning_rate, "min_learning_rate")
    if not 0.0 <= float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    budget = None if time_budget is None else TimeBudget(time_budget)
    if ema_momentum is not None and (isinstance(ema_momentum, bool) or not isinstance(
            ema_momentum, (int, float)) or not 0.0 < float(ema_momentum) < 1.0):
        raise ValueError(f"ema_momentum must be None or a number in (0, 1), got "
                         f"{ema_momentum!r}")
    input_noise = _check_input_noise(input_noise)

    if validation_data is not None and hasattr(validation_data, "__len__") \
            and len(validation_data) == 0:
        validation_data = None   # e.g. a split that left no rows: monitor the training loss
    has_validation = validation_data is not None or int(len(x) * float(validation_split)) > 0
    monitor = "val_loss" if has_validation else "loss"

    steps = _steps_per_epoch(x, batch_size, validation_split, validation_data)
    _compile(model, schedule, learning_rate, steps * epochs, ema_momentum)
    stopper = keras.callbacks.EarlyStopping(
        monitor=monitor, patience=epochs + 1 if patience is None else patience,
        restore_best_weights=True)
    # First, so that validation and the weights early stopping keeps are the averaged ones.
    recipe = [] if ema_momentum is None else [_averaging_callback(model)]
    recipe.append(stopper)
    if schedule == "plateau":
        recipe.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=float(lr_factor), patience=lr_patience,
            min_lr=min_learning_rate))
    if budget is not None:
        recipe.append(budget)
    if input_noise is not None:
        x, validation_data = _noisy_training_data(model, x, context, input_noise, batch_size,
                                                  validation_split, validation_data, shuffle)
        context = None   # it rides in the batches now
        validation_split = 0.0   # the held-out rows were split off already
    if validation_data is not None:
        validation_split = 0.0
    start = time.perf_counter()
    extra = {} if context is None else {"context": context}
    history = model.fit(x, batch_size=batch_size, epochs=epochs, **extra,
                        validation_split=validation_split, validation_data=validation_data,
                        shuffle=shuffle, verbose=verbose,
                        callbacks=recipe + list(callbacks or []))
    history.seconds = time.perf_counter() - start
    history.best_epoch = None if stopper.best_weights is None else stopper.best_epoch + 1
    losses = history.history.get("loss", [])
    if losses and not math.isfinite(losses[-1]):
        history.stopped_by = "non_finite_loss"
    elif stopper.stopped_epoch > 0:
        history.stopped_by = "early_stopping"
    elif budget is not None and budget.stopped:
        history.stopped_by = "time_budget"
    else:
        history.stopped_by = "epochs"
    return history
