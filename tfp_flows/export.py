"""Serving a trained flow: a TensorFlow SavedModel with ``log_prob`` and ``sample``
endpoints that TensorFlow alone loads and runs (no ``tfp_flows``, no TensorFlow Probability:
the traced graphs hold only TensorFlow ops), for TF Serving, ``tf.saved_model.load`` and
TFLite.

Keras 3's own ``model.export`` cannot trace a flow (a ``FlowModel`` is never called
symbolically on a Keras input); :func:`export_flow` traces the flow's methods directly.
"""
import os

import tensorflow as tf

__all__ = ["export_flow"]


class _ServedFlow(tf.Module):
    """The flow's weights and its traced endpoints, as a ``tf.Module`` to save."""

    def __init__(self, flow):
        super().__init__(name=f"{flow.name}_served")
        # The tf.Variables behind the Keras weights: saved with the module, read by the
        # traced graphs.
        self.weights = [w.value for w in flow.weights]
        dtype = flow.flow_dtype
        event = [None, *flow.event_shape]
        count = tf.TensorSpec([], tf.int32, name="num_samples")
        seed = tf.TensorSpec([2], tf.int32, name="seed")
        conditional = flow.context_size is not None
        context = tf.TensorSpec([None, flow.context_size], dtype, name="context") \
            if conditional else None

        x_spec = tf.TensorSpec(event, dtype, name="x")
        if conditional:
            def log_prob(x, context):
                return {"log_prob": flow.log_prob(x, context=context)}

            def sample(num_samples, seed, context):
                return {"samples": _sample(flow, num_samples, seed, context)}

            self.log_prob = tf.function(log_prob, input_signature=[x_spec, context])
            self.sample = tf.function(sample, input_signature=[count, seed, context])
        else:
            def log_prob(x):
                return {"log_prob": flow.log_prob(x)}

            def sample(num_samples, seed):
                return {"samples": _sample(flow, num_samples, seed)}

            self.log_prob = tf.function(log_prob, input_signature=[x_spec])
            self.sample = tf.function(sample, input_signature=[count, seed])


def _sample(flow, n, seed, context=None):
    """``n`` draws (a scalar tensor), for a conditional flow ``n`` per context row:
    ``[n, *event_shape]`` or ``[n, m, *event_shape]``."""
    base = flow.base_distribution
    if context is None:
        return flow._decode(base.sample(n, seed=seed))
    m = tf.shape(context)[0]
    rows = flow._standardized_rows(context)
    rows = tf.reshape(tf.tile(rows[None], [n, 1, 1]), [-1, flow.context_size])
    h = flow._decode(base.sample(n * m, seed=seed), rows)
    return tf.reshape(h, tf.concat([[n, m], tf.shape(h)[1:]], 0))


def export_flow(flow, path):
    """Writes ``flow`` as a TensorFlow SavedModel at ``path`` (a directory) with endpoints:

    - ``serving_default`` and ``log_prob``: ``x`` ``[batch, *event_shape]`` (and, for a
      conditional flow, ``context`` ``[batch, K]``) to ``{"log_prob": [batch]}``;
    - ``sample``: ``num_samples`` (int32 scalar) and ``seed`` (int32 ``[2]``, a stateless
      seed: the same seed gives the same draws) (and ``context`` ``[m, K]``) to
      ``{"samples": [num_samples, *event_shape]}`` (``[num_samples, m, *event_shape]``).

    Any batch size is accepted. The SavedModel needs TensorFlow only:
    ``tf.saved_model.load(path).log_prob(x)`` or TF Serving's REST API.

    Args:
      flow: a :class:`~tfp_flows.FlowModel`, initialised (fitted or loaded).
      path: the directory to write (it must not exist, or be empty).

    Returns:
      ``path``.

    Example:
        >>> import numpy as np, tempfile, tfp_flows
        >>> flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,), seed=0)
        >>> flow.initialize_from_data(np.random.default_rng(0).normal(size=(100, 2)))
        >>> served = tf.saved_model.load(export_flow(flow, tempfile.mkdtemp() + "/flow"))
        >>> served.log_prob(np.zeros((3, 2), "float32"))["log_prob"].shape
        TensorShape([3])
        >>> served.sample(num_samples=5, seed=[1, 2])["samples"].shape
        TensorShape([5, 2])
    """
    path = os.fspath(path)
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise ValueError(f"cannot export to {path!r}: it exists and is not an empty directory")
    if flow.needs_data_init:
        raise ValueError(f"{flow.name} has layers that initialise from data and have not: fit "
                         "the flow (or call initialize_from_data) before exporting it")
    served = _ServedFlow(flow)
    signatures = {"serving_default": served.log_prob, "log_prob": served.log_prob,
                  "sample": served.sample}
    tf.saved_model.save(served, path, signatures=signatures)
    return path
