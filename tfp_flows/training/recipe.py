"""The default training recipe: Adam, a learning-rate schedule, early stopping on the
validation loss with the best weights restored, and an optional wall-clock budget.

:func:`fit_flow` is what ``tfp-flows fit``, the benchmarks and the tutorials call; it is
``FlowModel.fit`` plus the callbacks every careful run of maximum likelihood wants.
"""
import math

import numpy as np
import tensorflow as tf

from tfp_flows.fit_data import check_input_noise, check_split
from tfp_flows.training.callbacks import (  # noqa: F401 (SCHEDULES, TimeBudget: public here)
    SCHEDULES,
    Recipe,
    TimeBudget,
    check_recipe,
    compile_with_adam,
)
from tfp_flows.validation import check_positive_int

__all__ = ["DEFAULT_VALIDATION_SPLIT", "SCHEDULES", "SMALL_DATA", "TimeBudget", "fit_flow"]

#: The fraction of array data ``fit_flow`` holds out when not told otherwise.
DEFAULT_VALIDATION_SPLIT = 0.1

#: :func:`fit_flow` settings for small vector data sets (about a thousand rows), where the
#: error is variance (the training NLL falls below the truth's entropy): a larger rate, a
#: moving average of the weights and 3 % Gaussian input noise (measured: BENCHMARKS.md,
#: "Small data"). Use them as ``fit_flow(flow, x, epochs=..., **SMALL_DATA)``; not the
#: defaults, because the noise smooths the density (a bias large data sets need not pay).
SMALL_DATA = dict(learning_rate=3e-3, ema_momentum=0.99, input_noise=0.03)


def _steps_per_epoch(x, batch_size, validation_split):
    """Training steps per epoch: of arrays from their length, of a dataset from its
    cardinality (``None`` when unknown)."""
    if isinstance(x, tf.data.Dataset):
        steps = int(x.cardinality())
        return steps if steps > 0 else None
    n = len(x)
    return max(1, math.ceil((n - int(n * validation_split)) / batch_size))


def fit_flow(model, x, *, epochs, batch_size=100, learning_rate=None, schedule="plateau",
             validation_split=None, validation_data=None, patience=30, lr_patience=10,
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
    ``input_noise`` times each dimension's standard deviation (over the first 4,096 training
    rows); the validation rows stay clean, and data-dependent initialisation (the builders'
    standardisation) sees clean rows. The model then fits the data smoothed by that noise, a
    bias that grows like ``input_noise**2``, so keep it small (BENCHMARKS.md, "Small
    data").

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
        standardises inside itself), or a ``tf.data.Dataset`` of batches (as
        :meth:`FlowModel.fit <tfp_flows.FlowModel.fit>` takes).
      epochs: the most epochs to run.
      batch_size: rows per step.
      learning_rate: Adam's (initial) learning rate for a model that ``fit_flow``
        compiles; ``None`` (default): :data:`~tfp_flows.training.DEFAULT_LEARNING_RATE` (``1e-3``). A compiled
        model keeps its optimizer: ``None`` keeps its rate, and a number that differs from
        it is refused (as ``ema_momentum`` and ``schedule="cosine"`` are), never ignored.
      schedule: ``"plateau"``, ``"cosine"`` or ``"constant"`` (see above).
      validation_split: fraction in ``[0, 1)`` of ``x`` held out for ``val_loss``.
        ``None`` (default): :data:`DEFAULT_VALIDATION_SPLIT` (0.1) of array data, and none
        of a ``tf.data.Dataset`` (Keras cannot split one: pass ``validation_data``) or when
        ``validation_data`` is given.
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
        the training rows, fresh every batch (see above); not for image flows.
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
    settings = check_recipe(epochs=epochs, schedule=schedule, learning_rate=learning_rate,
                            patience=patience, lr_patience=lr_patience, lr_factor=lr_factor,
                            min_learning_rate=min_learning_rate, ema_momentum=ema_momentum)
    batch_size = check_positive_int(batch_size, "batch_size")
    dataset = isinstance(x, tf.data.Dataset)
    if validation_split is None:
        validation_split = 0.0 if dataset or validation_data is not None else \
            DEFAULT_VALIDATION_SPLIT
    validation_split = check_split(validation_split)
    input_noise = check_input_noise(input_noise)
    if validation_data is not None and hasattr(validation_data, "__len__") \
            and len(validation_data) == 0:
        validation_data = None   # e.g. a split that left no rows: monitor the training loss
    if validation_data is not None:
        validation_split = 0.0
    has_validation = validation_data is not None or (
        not dataset and int(len(x) * validation_split) > 0)

    steps = _steps_per_epoch(x, batch_size, validation_split)
    compile_with_adam(model, schedule, settings["learning_rate"],
                      None if steps is None else steps * settings["epochs"],
                      settings["ema_momentum"])
    recipe = Recipe(model, "val_loss" if has_validation else "loss",
                    epochs=settings["epochs"], patience=settings["patience"], schedule=schedule,
                    lr_patience=settings["lr_patience"], lr_factor=settings["lr_factor"],
                    min_learning_rate=settings["min_learning_rate"], time_budget=time_budget,
                    ema_momentum=settings["ema_momentum"])
    extra = {} if context is None else {"context": context}
    if input_noise is not None:
        extra["input_noise"] = input_noise
    history = model.fit(x, batch_size=None if dataset else batch_size,
                        epochs=settings["epochs"], **extra,
                        validation_split=validation_split, validation_data=validation_data,
                        shuffle=shuffle, verbose=verbose,
                        callbacks=recipe.callbacks + list(callbacks or []))
    return recipe.finish(history)
