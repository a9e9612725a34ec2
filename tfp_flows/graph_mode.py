"""Eager calls of a flow's passes that turn into a ``tf.function`` once they are used a lot.

A flow called eagerly (``flow.sample(1000)``, ``flow.log_prob(x)`` in a plotting or
evaluation loop) dispatches every op from Python: for an image flow that is about a thousand
small ops per call, and most of the call's time. The same pass as a ``tf.function`` runs
1.6-10 times faster (``benchmarks/sampling_speed.py``), but tracing it costs 5-10 eager
calls, which a flow sampled once never repays. So a method decorated with
:func:`compiled_when_repeated` runs eagerly until its eager calls on that model have taken
:data:`COMPILE_AFTER_SECONDS` in all, then as one ``tf.function`` per model and method
(``reduce_retracing``, so new batch sizes do not trace again): the rent-or-buy rule, which
with the threshold near the cost of tracing (0.2-1.3 s here) spends at most about twice what
the better choice, made in hindsight, would have. Inside a ``tf.function`` (``fit``'s train
step, an exported signature) the method is inlined as before.

Example:
    >>> import tfp_flows
    >>> flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
    >>> for seed in range(3):
    ...     x = flow.sample(100, seed=seed)   # eager at first, compiled once used enough
    >>> x.shape
    TensorShape([100, 2])
"""
import functools
import time

import tensorflow as tf

__all__ = ["COMPILE_AFTER_SECONDS", "compiled_when_repeated"]

#: Seconds of eager calls of one method on one model after which it runs as a
#: ``tf.function`` (tracing costs about 0.2-1 s for the builders' flows, measured in
#: ``benchmarks/sampling_speed.py``). ``float("inf")`` keeps every call eager.
COMPILE_AFTER_SECONDS = 0.5

_STATE = "_compiled_calls"   # per model: {method name: eager seconds so far, or its function}


def compiled_when_repeated(method):
    """Decorates a model method whose arguments are tensors (or ``None`` and Python flags):
    eager calls run it eagerly until they have taken :data:`COMPILE_AFTER_SECONDS` on that
    model, then through one cached ``tf.function`` (see the module docstring)."""
    name = method.__name__

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if not tf.executing_eagerly():
            return method(self, *args, **kwargs)
        # Not a Keras-tracked attribute: neither saved nor exported with the model.
        calls = self.__dict__.setdefault(_STATE, {})
        spent = calls.get(name, 0.0)
        if isinstance(spent, float):
            if spent < COMPILE_AFTER_SECONDS:
                start = time.perf_counter()
                result = method(self, *args, **kwargs)
                calls[name] = spent + (time.perf_counter() - start)
                return result
            calls[name] = tf.function(functools.partial(method, self), reduce_retracing=True)
        return calls[name](*args, **kwargs)

    return call

