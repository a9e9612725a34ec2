r"""Adam and AdamW with one fused kernel per variable.

Keras 3's Adam updates each variable with about twenty small operations (cast, power,
two moment updates, the step); a flow with a hundred weight arrays spends much of a short
training step there. TensorFlow's ``ResourceApplyAdam`` kernel does the same update,

.. math::
    m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad
    v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \quad
    \theta \leftarrow \theta - \eta \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
                               \frac{m}{\sqrt{v} + \epsilon},

in one. :func:`fuse_adam` makes an optimizer use it for its per-variable step and changes
nothing else: it stays the user's Keras ``Adam``/``AdamW`` object, with its state variables
(saved and loaded with the model), clipping, AdamW's decoupled weight decay, ``use_ema``,
loss scaling (``LossScaleOptimizer`` wraps it) and ``tf.distribute`` handled by Keras's own
``apply`` around the fused step.
"""
import types
import weakref

import keras
import tensorflow as tf

__all__ = ["fuse_adam", "is_fused"]


def _fused_update_step(self, gradient, variable, learning_rate):
    """Keras's ``Adam.update_step`` as one ``ResourceApplyAdam`` (dense gradients)."""
    if isinstance(gradient, tf.IndexedSlices):
        return type(self).update_step(self, gradient, variable, learning_rate)
    dtype = variable.dtype
    index = self._get_variable_index(variable)

    def handle(v):
        return getattr(v, "_value", v).handle   # a Keras variable wraps a tf.Variable

    tf.raw_ops.ResourceApplyAdam(
        var=handle(variable), m=handle(self._momentums[index]),
        v=handle(self._velocities[index]), **_step_scalars(self, learning_rate, dtype, index),
        grad=tf.cast(gradient, dtype), use_locking=False)


def _step_scalars(self, learning_rate, dtype, index):
    """The kernel's scalar arguments (``beta1_power = beta_1 ** t``, ...): computed once per
    ``apply`` and dtype in a traced step (Keras passes every variable's update the same
    ``learning_rate``; a variable ``index`` seen again means a new ``apply`` in the same
    graph), not once per variable; afresh in eager mode."""
    graph = tf.compat.v1.get_default_graph()
    cache = self.__dict__.get("_fused_scalars")
    if tf.executing_eagerly() or cache is None or cache.graph() is not graph or \
            cache.learning_rate != id(learning_rate) or index in cache.indices:
        cache = self.__dict__["_fused_scalars"] = types.SimpleNamespace(
            graph=weakref.ref(graph),   # weak: a finished trace's graph can go
            learning_rate=id(learning_rate), indices=set(), by_dtype={})
    cache.indices.add(index)
    if dtype not in cache.by_dtype:
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        cache.by_dtype[dtype] = dict(
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype))
    return cache.by_dtype[dtype]


def _inner(optimizer):
    return optimizer.inner_optimizer if isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer) else optimizer


def fuse_adam(optimizer):
    """Makes a Keras ``Adam`` or ``AdamW`` (also inside a ``LossScaleOptimizer``) update
    each variable with one fused kernel; any other optimizer, and ``amsgrad=True``, is
    returned as it is. Returns the same object.

    Args:
      optimizer: a Keras optimizer instance.

    Example:
        >>> adam = fuse_adam(keras.optimizers.Adam(1e-3))
        >>> is_fused(adam), is_fused(fuse_adam(keras.optimizers.SGD()))
        (True, False)
    """
    inner = _inner(optimizer)
    if type(inner) in (keras.optimizers.Adam, keras.optimizers.AdamW) and \
            not inner.amsgrad and keras.backend.backend() == "tensorflow":
        inner.update_step = types.MethodType(_fused_update_step, inner)
    return optimizer


def is_fused(optimizer):
    """Whether ``optimizer`` updates with the fused kernel (see :func:`fuse_adam`)."""
    step = getattr(_inner(optimizer), "update_step", None)
    return getattr(step, "__func__", None) is _fused_update_step
