"""Evaluating and keeping the moving average of the weights during ``fit`` (Polyak averaging,
the optimizer's ``use_ema=True``), with one compiled call per swap."""
import keras
import tensorflow as tf

__all__ = ["AveragedWeights"]


def _tf_variable(variable):
    """The ``tf.Variable`` behind a Keras variable (or the variable itself)."""
    return getattr(variable, "_value", variable)


class AveragedWeights(keras.callbacks.Callback):
    """Validates with, and hands the callbacks after it, the optimizer's moving average of the
    weights; trains with the raw weights.

    It does what ``keras.callbacks.SwapEMAWeights(swap_on_epoch=True)`` does, more cheaply:
    that callback swaps the weights four times per epoch (before and after validation, at the
    end and the start of an epoch), three eager ops per variable each time, which on small
    data sets (epochs of a few steps) costs as much as the training itself. This one swaps
    twice per epoch (the averages in before validation, or at the end of an epoch without
    one; the raw weights back when the next epoch starts), all variables in one compiled
    ``tf.function``. So validation, and callbacks placed after it such as ``EarlyStopping``
    with ``restore_best_weights``, see the averaged weights, exactly as with Keras's callback.

    The model's optimizer must keep the average (``keras.optimizers.Adam(use_ema=True,
    ema_momentum=m)``); :func:`~tfp_flows.training.fit_flow` sets this up with
    ``ema_momentum=m``. Not for ``tf.distribute`` strategies (use Keras's callback there).

    Example:
        >>> import keras, numpy as np, tfp_flows
        >>> flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(8,), seed=0)
        >>> flow.compile(optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.9))
        >>> x = np.random.default_rng(0).normal(size=(200, 2)).astype("float32")
        >>> history = flow.fit(x, epochs=2, validation_split=0.1, verbose=0,
        ...                    callbacks=[AveragedWeights()])
        >>> sorted(history.history)
        ['loss', 'val_loss']
    """

    def __init__(self):
        super().__init__()
        self._averaged_in_model = False
        self._swap = self._finalize = None

    def _optimizer(self):
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        if not getattr(optimizer, "use_ema", False):
            raise ValueError("AveragedWeights needs an optimizer that keeps a moving average "
                             "of the weights (e.g. keras.optimizers.Adam(use_ema=True)); "
                             f"got {type(optimizer).__name__} with use_ema=False")
        return optimizer

    def on_train_begin(self, logs=None):
        optimizer = self._optimizer()
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        pairs = [(_tf_variable(v), _tf_variable(a)) for v, a in
                 zip(optimizer._trainable_variables, optimizer._model_variables_moving_average)]

        @tf.function(autograph=False)
        def swap():
            for variable, average in pairs:
                held = variable.read_value()
                variable.assign(average.read_value())
                average.assign(held)

        @tf.function(autograph=False)
        def finalize():
            # Both slots hold the average, so that the optimizer's finalize_variable_values at
            # the end of fit (averages -> weights) keeps it.
            for variable, average in pairs:
                average.assign(variable.read_value())

        self._swap, self._finalize = swap, finalize
        self._averaged_in_model = False

    def _average_in(self):
        if not self._averaged_in_model:
            self._swap()
            self._averaged_in_model = True

    def on_epoch_begin(self, epoch, logs=None):
        if self._averaged_in_model:
            self._swap()
            self._averaged_in_model = False

    def on_test_begin(self, logs=None):
        if self._swap is not None:   # not for evaluate() outside fit
            self._average_in()

    def on_epoch_end(self, epoch, logs=None):
        self._average_in()
        if epoch == self.params.get("epochs", 0) - 1:
            self._finalize()
