"""How a :class:`~tfp_flows.FlowModel` trains: maximum likelihood under Keras's ``fit``
(steps that refuse non-finite updates, ``(x, context)`` batches for conditional flows,
data-dependent initialisation before the first step), ``evaluate`` and ``predict``."""
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfp_flows.contexts import check_context
from tfp_flows.fit_data import adapt_fit_data
from tfp_flows.fused_adam import fuse_adam
from tfp_flows.layers.base import initialize_layers
from tfp_flows.validation import check_flag
from tfp_flows.xla import XLADefault

__all__ = ["MaximumLikelihood", "StopOnNonFinite", "VECTOR_STEPS_PER_EXECUTION", "apply_if_finite",
           "step_logs", "trains_distributed"]

#: Default ``steps_per_execution`` of a vector flow's ``compile`` (see
#: :meth:`MaximumLikelihood.compile`).
VECTOR_STEPS_PER_EXECUTION = 16


def _replica_scaled(loss):
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops ``fit`` at the first batch whose loss is not finite (that step applied no
    update, see :meth:`FlowModel.train_step`) and says what happened."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            steps = int(getattr(self.model, "steps_per_execution", 1) or 1)
            where = f"batch {batch + 1}" if steps == 1 else \
                f"one of batches {max(1, batch + 2 - steps)}-{batch + 1} (run {steps} at a time)"
            self.message = (
                f"training stopped at epoch {self.epoch + 1}, {where}: the loss or "
                "its gradients were not finite (or too large to apply). That step was not "
                "applied, so the weights are those of the last finite step. Common causes: data far from "
                "unit scale (standardise it), a learning rate too large, NaN or infinite "
                "values in a tf.data pipeline")
            self.model.stop_training = True
            warnings.warn(self.message, RuntimeWarning, stacklevel=2)


def trains_distributed(model):
    """Whether ``model`` trains under a ``tf.distribute`` strategy (one is active, or the
    model was built in a strategy's scope)."""
    return tf.distribute.has_strategy() or getattr(model, "_distribute_strategy",
                                                   None) is not None


def _multi_worker(strategy):
    """Whether ``strategy`` all-reduces across worker processes (MultiWorkerMirroredStrategy
    with a cluster in ``TF_CONFIG``)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and \
        strategy.extended._in_multi_worker_mode()


def apply_if_finite(optimizer, tape, loss, weights):
    """The update of one training step, applied only if it is safe: a step whose ``loss`` is
    not finite, or whose gradients are not finite or so large that the optimizer's update
    would overflow (global norm above ``sqrt(max float) / 10``: Adam squares them), changes
    no weight. Returns the loss to report: ``loss``, or NaN for a refused step (so that
    :class:`StopOnNonFinite` stops ``fit``). The check costs one fused reduction per
    variable (``tf.linalg.global_norm``).

    Args:
      optimizer: the compiled Keras optimizer.
      tape: the ``tf.GradientTape`` that recorded ``loss``.
      loss: the scalar loss of this replica's batch (already divided by the number of
        replicas).
      weights: the trainable weights to update.
    """
    with tape:   # recorded, so that a loss scale (mixed_float16) reaches the gradients
        scaled = optimizer.scale_loss(loss)
    grads = tape.gradient(scaled, weights)
    present = [g for g in grads if g is not None]
    finite = tf.math.is_finite(loss)
    # With loss scaling (mixed_float16) the optimizer itself skips steps whose gradients
    # overflow and lowers the scale: only the loss is checked here.
    if present and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        norm = tf.linalg.global_norm(present)
        limit = np.sqrt(np.finfo(norm.dtype.as_numpy_dtype).max) / 10.0
        finite = tf.logical_and(finite, norm < tf.constant(limit, norm.dtype))
    if tf.distribute.has_strategy() and tf.distribute.get_replica_context() is not None:
        # Under a strategy (one replica too) apply all-reduces through merge_call, which
        # cannot run inside tf.cond: every replica applies, a bad step's gradients zeroed.
        grads = [None if g is None else tf.where(finite, g, tf.zeros_like(g)) for g in grads]
        optimizer.apply(grads, weights)
    else:
        def apply():
            optimizer.apply(grads, weights)
            return tf.constant(True)
        tf.cond(finite, apply, lambda: tf.constant(False))
    return tf.where(finite, loss, tf.constant(np.nan, loss.dtype))


def step_logs(metrics):
    """What a train or test step returns: each metric's result. Across workers, Keras 3
    reduces them with ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars
    ("Invalid reduction dimension 0 for input with 0 dimensions", keras-team/keras#20585):
    there each result goes out as a vector of one, which that reduction averages back to a
    scalar."""
    logs = {m.name: m.result() for m in metrics}
    if _multi_worker(tf.distribute.get_strategy()):
        logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs


class MaximumLikelihood(XLADefault):
    """The training half of :class:`~tfp_flows.FlowModel` (a mixin before ``keras.Model``):
    ``compile`` without a loss, the steps of ``fit``/``evaluate``/``predict``, and ``fit``
    itself. It relies on the model's ``log_prob`` (through ``call``), ``flow_layers``,
    ``context_size``, ``context_standardization``, ``_as_data`` and
    ``_standardized_rows``."""

    def compile(self, optimizer="adam", loss=None, steps_per_execution=None,
                fused_optimizer=True, **kwargs):
        """``keras.Model.compile`` without a loss: a flow trains by maximum likelihood.

        ``fused_optimizer``: a Keras ``Adam`` or ``AdamW`` (the default ``"adam"`` too)
        updates each variable with one fused kernel instead of about twenty small ops, the
        same update to float tolerance (:mod:`tfp_flows.fused_adam`; state, clipping, weight
        decay, ``use_ema``, loss scaling and ``tf.distribute`` as Keras does them). ``False``
        keeps Keras's own update. Other optimizers run as they are.

        ``steps_per_execution``: batches run per call of the compiled training function
        (Keras's option). ``None`` (default) picks :data:`VECTOR_STEPS_PER_EXECUTION` for
        vector flows, whose steps take milliseconds, so that Keras's per-step work in
        Python (callbacks, logs) is paid once per 16 steps (BENCHMARKS.md, section 1), and
        1 for image flows, whose
        steps are long, and under a ``tf.distribute`` strategy.
        Callbacks' batch hooks then run after every 16 steps: a time budget or a non-finite
        loss stops training within 16 steps (a non-finite step is never applied).

        ``jit_compile``: ``"auto"`` (default) is Keras's choice (XLA on GPUs) and, on CPUs,
        XLA for the training step of the flows measured faster with it (``xla_default``:
        ``nsf``, ``iaf``, the image ``glow``) in fits long enough to repay compiling
        (:mod:`tfp_flows.xla`, with a warning and a fallback if XLA cannot compile the
        step); ``True`` or ``False`` as in Keras."""
        if loss is not None:
            raise ValueError(
                "FlowModel trains by maximum likelihood: its loss is the mean negative "
                "log-likelihood, so compile() takes no loss (got loss={!r})".format(loss))
        if steps_per_execution is None:
            # Keras 3's multi-step loop fails under tf.distribute strategies ("You must feed
            # a value for placeholder tensor"): one step per execution there.
            steps_per_execution = 1 if self.num_levels is not None or \
                trains_distributed(self) else VECTOR_STEPS_PER_EXECUTION
        check_flag(fused_optimizer, "fused_optimizer")
        super().compile(optimizer=optimizer, steps_per_execution=steps_per_execution, **kwargs)
        jit_compile = kwargs.get("jit_compile", "auto")
        self._resolve_jit_compile(jit_compile, kwargs.get("run_eagerly", False))
        # Keras saves the resolved value: keep "auto", so a loaded model resolves it anew.
        self._compile_config.config["jit_compile"] = jit_compile
        if fused_optimizer:
            fuse_adam(self.optimizer)

    def compile_from_config(self, config):
        """Restores the compiled state (optimizer included) when a saved model is loaded."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None:
            self.optimizer.build(self.trainable_variables)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean negative log-likelihood (``y_pred`` is ``log p(x)``), weighted if asked."""
        nll = -y_pred
        if sample_weight is not None:
            nll = nll * tf.cast(tf.reshape(sample_weight, tf.shape(nll)), nll.dtype)
        loss = tf.reduce_mean(nll)
        for extra in self.losses:
            loss += tf.cast(extra, loss.dtype)
        return _replica_scaled(loss)

    def _data_initialized(self):
        """The layers that initialise from data: the flow layers' and the context's
        standardisation (all :class:`~tfp_flows.layers.base.DataInitialized`)."""
        layers = [layer for layer in self.flow_layers if layer.needs_data_init]
        if self.context_standardization is not None:
            layers.append(self.context_standardization)
        return layers

    @property
    def needs_data_init(self):
        """Whether something still waits for :meth:`initialize_from_data`."""
        return any(not layer.is_initialized for layer in self._data_initialized())

    def initialize_from_data(self, x, context=None):
        """Runs data-dependent initialisation on data ``x`` (and, for a conditional flow, its
        contexts ``[n, K]``), layer by layer from the data side (Glow's ActNorm; the builders'
        standardisation; the context's standardisation). This is the one place that drives
        it: ``fit`` calls it with the first ``INIT_ROWS`` training rows (4,096; 512 images;
        of a ``tf.data.Dataset``, its first batches up to as many rows); a layer that is
        already initialised (e.g. after loading) is left alone."""
        context = check_context(context, self.context_size, self.flow_dtype, self.name)
        h = self._as_data(x)
        if not bool(tf.reduce_all(tf.math.is_finite(h))):
            row = int(tf.argmin(tf.cast(tf.reduce_all(tf.math.is_finite(
                tf.reshape(h, (tf.shape(h)[0], -1))), axis=1), tf.int32)))
            raise ValueError(
                f"data-dependent initialisation got a NaN or infinite value in row {row} of "
                "its data (the first rows given to fit): nothing was initialised or "
                "trained")
        standardization = self.context_standardization
        if standardization is not None and not standardization.is_initialized:
            standardization.initialize(context)
        initialize_layers(self.flow_layers, h, self._standardized_rows(context))

    def _unpack(self, data):
        """A batch as ``(x, context, sample_weight)``: the context rides in Keras's ``y``
        slot (``(x, context)`` or ``(x, context, sample_weight)`` elements)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if self.context_size is None:
            return x, None, sample_weight
        if y is None:
            raise ValueError(f"{self.name} is conditional: its batches must be pairs "
                             f"(x, context) with contexts of shape [n, {self.context_size}]; "
                             "got x alone")
        return x, y, sample_weight

    def train_step(self, data):
        """One step of Keras's ``fit``, except that a step whose loss is not finite, or whose
        gradients are not finite or so large that the optimizer's update would overflow
        (global norm above ``sqrt(max float) / 10``: Adam squares them), changes no weight; the
        step is reported as a non-finite loss, so that ``fit`` stops (see ``fit``). The check
        costs one fused reduction per variable (``tf.linalg.global_norm``)."""
        x, context, sample_weight = self._unpack(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, context=context, training=True)
            loss = self.compute_loss(x=x, y_pred=y_pred, sample_weight=sample_weight)
        reported = apply_if_finite(self.optimizer, tape, loss, self.trainable_weights)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(reported * replicas, sample_weight=tf.shape(x)[0])
        return step_logs(self.metrics)

    def test_step(self, data):
        """Keras's ``evaluate`` step: the mean negative log-likelihood of a batch (of
        ``(x, context)`` pairs for a conditional flow)."""
        x, context, sample_weight = self._unpack(data)
        y_pred = self(x, context=context, training=False)
        loss = self.compute_loss(x=x, y_pred=y_pred, sample_weight=sample_weight,
                                 training=False)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss * replicas, sample_weight=tf.shape(x)[0])
        return step_logs(self.metrics)

    def evaluate(self, x=None, y=None, context=None, **kwargs):
        """``keras.Model.evaluate``: the mean negative log-likelihood of ``x`` (given
        ``context``, ``[n, K]``, for a conditional flow); other arguments as Keras's."""
        if context is not None or self.context_size is not None and not isinstance(
                x, tf.data.Dataset):
            if y is not None:
                raise ValueError("FlowModel.evaluate takes no targets y; pass a conditional "
                                 "flow's context as context=")
            y = check_context(context, self.context_size, self.flow_dtype, self.name)
        return super().evaluate(x, y, **kwargs)

    def predict_step(self, data):
        """Keras's ``predict`` step: ``log p(x)`` (``log p(x | context)`` for batches of
        ``(x, context)`` pairs)."""
        if self.context_size is not None and isinstance(data, (tuple, list)) and \
                len(data) == 1 and isinstance(data[0], (tuple, list)):
            data = tuple(data[0])  # predict((x, context)): Keras passes the pair as x
        x, context, _ = self._unpack(data)
        return self(x, context=context, training=False)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, validation_split=0.0,
            validation_data=None, shuffle=True, sample_weight=None, callbacks=None,
            context=None, input_noise=None, **kwargs):
        """``keras.Model.fit`` on data ``x`` (no targets needed).

        Args:
          x: data of shape ``[n, *event_shape]`` (NumPy array, list or tensor), or a
            ``tf.data.Dataset`` of batches (elements ``x``, or Keras's ``(x, y, weight)``;
            for a conditional flow ``(x, context)`` or ``(x, context, weight)``).
          y: must be ``None``: a flow has no targets.
          batch_size: rows per step (default 32), a positive integer.
          epochs: passes over the data.
          validation_split: fraction in ``[0, 1)`` of the rows (the last ones, taken before
            shuffling, as in Keras) held out for ``val_loss``; arrays only (with a
            ``tf.data.Dataset`` pass ``validation_data``). Ignored when ``validation_data``
            is given (Keras's rule).
          validation_data: held-out data: rows, ``(x_val, context_val)`` for a conditional
            flow, or a ``tf.data.Dataset``.
          shuffle: reshuffle the training rows each epoch.
          sample_weight: one finite, non-negative weight per row of ``x``; the loss is then
            ``mean(w_i * -log p(x_i))`` over each batch (Keras's convention). Split like
            ``x`` by ``validation_split``.
          callbacks: Keras callbacks.
          context: for a conditional flow (and only then), one context row per row of
            ``x``, shape ``[n, K]``: the flow fits ``p(x | context)``. Split like ``x`` by
            ``validation_split``; ``validation_data`` is then a pair ``(x_val, context_val)``.
          input_noise: ``None``, or ``s >= 0`` (vector flows): every training batch gets
            fresh Gaussian noise ``N(0, (s std_d)^2)`` on each dimension ``d``, a regulariser
            for small data sets; validation and initialisation see clean rows.
          **kwargs: any other ``keras.Model.fit`` argument (``verbose``, ``initial_epoch``...).

        All data is checked before any work, by one adapter
        (:func:`tfp_flows.fit_data.adapt_fit_data`): shapes, finite values in the model's
        dtype; for vector data, no constant column (a point mass has no density) and no
        column whose spread overflows the dtype; for an image flow, integer pixels in
        ``[0, K)`` (dequantised afresh every epoch) or dequantised float pixels, never
        integer pixels stored as floats or pixels scaled to ``[0, 1]`` (refused, naming the
        fix); for a conditional flow, one finite context row per data row (an unconditional
        flow refuses a context, in a dataset too). Arrays are fed through ``tf.data``.
        Layers that initialise from data (ActNorm, the standardisations) see the first
        4,096 training rows (512 images; of a dataset, its first batches up to as many)
        before training starts. Training stops at the first batch whose loss is not
        finite, with a ``RuntimeWarning`` that says where; that step is not applied, so the
        weights stay those of the last finite step.

        Returns:
          Keras's ``History``.
        """
        if y is not None:
            raise ValueError("FlowModel.fit takes data x only: a flow has no targets y" + (
                "; pass a conditional flow's context as context=" if self.context_size else ""))
        data = adapt_fit_data(
            self, x, context=context, sample_weight=sample_weight, batch_size=batch_size,
            validation_split=validation_split, validation_data=validation_data,
            shuffle=shuffle, input_noise=input_noise,
            init_rows=None if self.needs_data_init else 0)
        if self.needs_data_init:
            self.initialize_from_data(*data.init)
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            # Keras would create the optimizer's slots inside the first traced step, which
            # lifts every variable out of the graph and traces the step twice: build it now.
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        callbacks = list(callbacks or []) + [StopOnNonFinite()]
        per_epoch = kwargs.get("steps_per_epoch") or int(data.train.cardinality())
        self.plan_xla(None if per_epoch < 0 else per_epoch * (epochs - kwargs.get(
            "initial_epoch", 0)))
        return super().fit(data.train, epochs=epochs, callbacks=callbacks,
                           validation_data=data.validation, shuffle=False, **kwargs)
