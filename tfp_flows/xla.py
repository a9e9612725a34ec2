"""XLA where it was measured to win: ``FlowModel.compile``'s default ``jit_compile="auto"``.

Keras turns XLA on by itself only on GPUs. On CPUs it pays for some flows and not for others
(BENCHMARKS.md, "XLA per builder", ``benchmarks/xla_speed.py``): the training steps of
``nsf`` (about 4x), ``iaf`` and the image ``glow`` run markedly faster under XLA, those of
``maf``, ``real_nvp``, ``nice`` and the vector ``glow`` within about 20 % either way (not
worth XLA's compile time on short fits), and the image ``real_nvp`` slower. A model's
``xla_default`` (set by those three builders, saved with the model) makes ``"auto"`` turn XLA
on for it on CPUs as well. Where the choice is ours and not the user's, two things differ
from ``jit_compile=True``:

* only the training step is compiled with XLA; ``evaluate`` and ``predict`` run as Keras
  runs them without it, so their numbers never depend on a fallback;
* if XLA cannot compile the training step (an operation without an XLA kernel, e.g. a
  ``tf.numpy_function`` in a custom layer), a ``RuntimeWarning`` says so and training goes
  on without XLA. The batch that the failed call had taken is not trained on (its update
  was never computed); every later batch is, and the epoch keeps its number of steps.

XLA compiles the step once per model, which takes seconds (2 to 9 on this machine's CPU:
BENCHMARKS.md), so the default turns it on only for a fit long enough to repay that:
:data:`XLA_MIN_STEPS` planned training steps or more (``epochs`` times the steps per epoch;
a dataset of unknown length counts as long). A short fit of such a model runs without XLA.

``compile(jit_compile=False)`` skips XLA, ``True`` asks for Keras's own XLA everywhere (and
an error if it cannot compile).
"""
import warnings

import tensorflow as tf
from tensorflow.python.framework.config import is_op_determinism_enabled  # as Keras does

__all__ = ["XLA_MIN_STEPS", "XLADefault", "xla_wins"]

#: The fewest planned training steps of one ``fit`` for which the default turns XLA on (the
#: compile time, 2-9 s, is repaid after about 700 (``nsf``) to 4,000 (``iaf``) steps).
XLA_MIN_STEPS = 2000


def xla_wins(model):
    """Whether ``jit_compile="auto"`` turns XLA on for ``model`` where Keras would not: a
    model whose ``xla_default`` is set, on a machine without GPUs, outside
    ``tf.distribute`` (Keras keeps XLA off there), in float32 or float64 (mixed precision
    was not measured), with every layer supporting XLA and op determinism off (Keras's own
    conditions)."""
    return (getattr(model, "xla_default", False)
            and all(layer.supports_jit for layer in model._flatten_layers())
            and not is_op_determinism_enabled()
            and not tf.distribute.has_strategy()
            and getattr(model, "_distribute_strategy", None) is None
            and model.dtype_policy.name in ("float32", "float64")
            and not tf.config.list_physical_devices("GPU"))


def _xla_failure(error):
    """Whether ``error`` is XLA refusing to compile (not an error of the step itself)."""
    return isinstance(error, (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)) \
        and ("XLA" in str(error) or "tf2xla" in str(error))


class XLADefault:
    """Mixin before ``keras.Model`` that resolves ``jit_compile="auto"`` (see the module
    docstring). ``self._xla_by_default`` is whether the choice was ours."""

    _xla_by_default = False

    def _resolve_jit_compile(self, jit_compile, run_eagerly):
        """After Keras's ``compile``: turns XLA on where :func:`xla_wins` and the user left
        ``jit_compile="auto"``."""
        self._xla_by_default = bool(jit_compile == "auto" and not run_eagerly and
                                    not self.jit_compile and xla_wins(self))
        if self._xla_by_default:
            self._jit_compile = True

    def plan_xla(self, steps):
        """Before a ``fit`` of ``steps`` planned training steps (``None``: unknown, long):
        under the default's XLA choice, XLA for this fit if it is long enough
        (:data:`XLA_MIN_STEPS`); the training function is rebuilt when that changes."""
        if not self._xla_by_default:
            return
        wanted = steps is None or steps >= XLA_MIN_STEPS
        if bool(self._jit_compile) != wanted:
            self._jit_compile = wanted
            self.train_function = None

    def make_train_function(self, force=False):
        """Keras's training function; under our XLA default, one that falls back to no XLA
        (with a warning) if XLA cannot compile the step."""
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force=force)
        if self._xla_by_default and self.jit_compile:
            compiled = self.train_function

            def train_function(iterator):
                try:
                    return compiled(iterator)
                except tf.errors.OpError as error:
                    if not _xla_failure(error):
                        raise
                    reason = str(error).strip().splitlines()[0][:300]
                    warnings.warn(
                        f"XLA could not compile {self.name}'s training step ({reason}); "
                        "it trains without XLA from the next batch on (this one was "
                        "skipped). Pass compile(jit_compile=False) to skip XLA.",
                        RuntimeWarning, stacklevel=2)
                    self._jit_compile = self._xla_by_default = False
                    super(XLADefault, self).make_train_function(force=True)
                    # The failed call took its batch from the iterator: report this step as
                    # the metrics so far, so that the epoch keeps its number of steps.
                    return {metric.name: metric.result() for metric in self.metrics}

            self.train_function = train_function
        return self.train_function

    def _without_default_xla(self, make, force):
        if not self._xla_by_default:
            return make(force=force)
        before, self._jit_compile = self._jit_compile, False
        try:
            return make(force=force)
        finally:
            self._jit_compile = before

    def make_test_function(self, force=False):
        """Keras's ``evaluate`` function, without XLA when XLA is our choice."""
        return self._without_default_xla(super().make_test_function, force)

    def make_predict_function(self, force=False):
        """Keras's ``predict`` function, without XLA when XLA is our choice."""
        return self._without_default_xla(super().make_predict_function, force)
