"""FlowModel: a normalizing flow that is a Keras 3 model."""
import numbers
import warnings

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.log_det import forward_and_log_det, inverse_and_log_det
from tfp_flows.fit_data import INIT_ROWS, prepare_fit_data  # noqa: F401 (INIT_ROWS: public)
from tfp_flows.layers.base import FlowLayer, check_event_shape, initialize_layers
from tfp_flows.layers.fixed import BijectorLayer
from tfp_flows.validation import (
    check_positive_float,
    check_positive_int,
    check_seed,
)

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["FlowModel", "BASE_DISTRIBUTIONS", "STUDENT_T_DF"]

BASE_DISTRIBUTIONS = ("normal", "student_t")

#: Degrees of freedom of the ``"student_t"`` base: heavy enough that a point far outside the
#: training data costs ``~ (df + 1) log|z|`` nats instead of ``|z|^2 / 2``.
STUDENT_T_DF = 5.0



def _stateless_seed(seed):
    """A checked seed as a TFP stateless seed: an integer ``s`` becomes ``(0, s)``, so that the
    same seed gives the same samples on every call (TFP reads a bare int as a stateful seed,
    which draws anew each time)."""
    seed = check_seed(seed)
    return (0, seed) if isinstance(seed, int) else seed


def _replica_scaled(loss):
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss


class _StopOnNonFinite(keras.callbacks.Callback):
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
            self.message = (
                f"training stopped at epoch {self.epoch + 1}, batch {batch + 1}: the loss or "
                "its gradients were not finite (or too large to apply). That step was not "
                "applied, so the weights are those of the last finite step. Common causes: data far from "
                "unit scale (standardise it), a learning rate too large, NaN or infinite "
                "values in a tf.data pipeline")
            self.model.stop_training = True
            warnings.warn(self.message, RuntimeWarning, stacklevel=2)


@keras.saving.register_keras_serializable(package="tfp_flows")
class FlowModel(keras.Model):
    r"""A normalizing flow :math:`x = f_K \circ \dots \circ f_1(z)`, :math:`z \sim` base, as a
    Keras 3 model.

    .. math::
        \log p(x) = \log p_Z(f^{-1}(x)) + \log\left|\det \frac{\partial f^{-1}}{\partial x}\right|

    ``flow_layers`` are :class:`~tfp_flows.layers.FlowLayer` s in the sampling order (the first
    is applied to the base sample). ``model(x)`` returns ``log p(x)``; ``fit(x)`` minimises the
    mean negative log-likelihood (no targets, no loss to pass), with everything Keras offers:
    ``validation_split``, callbacks, ``jit_compile``, distribution strategies. The model saves
    to ``.keras`` and loads with ``keras.models.load_model``.

    ``distribution`` is a real ``tfd.TransformedDistribution`` for plain TFP code; the model's
    own ``log_prob`` and ``sample`` compute the same values with one network pass per layer.

    Args:
      flow_layers: :class:`~tfp_flows.layers.FlowLayer` s (or fixed ``tfb.Bijector`` s),
        base to data.
      event_shape: the shape of one data point.
      base_distribution: ``"normal"`` or ``"student_t"`` (see :attr:`base_distribution`).
      num_levels: ``None``, or for image flows ``K``, the number of pixel levels: the model
        is then a density over dequantised pixels in ``[0, K)``; ``fit`` takes integer images
        and dequantises them afresh each epoch, and ``log_prob`` refuses integer pixels.
      **kwargs: ``keras.Model`` arguments (``name``, ``dtype``).

    Example:
        >>> from tfp_flows.layers import CouplingLayer
        >>> flow = FlowModel([CouplingLayer((2,), hidden_units=(8,))], event_shape=(2,))
        >>> flow.log_prob(np.zeros((1, 2), "float32")).numpy().round(4)   # identity at start
        array([-1.8379], dtype=float32)
    """

    def __init__(self, flow_layers, event_shape, base_distribution="normal", num_levels=None,
                 **kwargs):
        super().__init__(**kwargs)
        layers = []
        for i, layer in enumerate(list(flow_layers)):
            if isinstance(layer, tfb.Bijector):
                layer = BijectorLayer(layer, dtype=self.dtype_policy)
            if not isinstance(layer, FlowLayer):
                raise TypeError(
                    f"flow_layers[{i}] must be a FlowLayer or a fixed tfb.Bijector, got "
                    f"{type(layer).__name__}")
            layers.append(layer)
        if base_distribution not in BASE_DISTRIBUTIONS:
            raise ValueError(
                f"base_distribution must be one of {BASE_DISTRIBUTIONS}, got {base_distribution!r}")
        self.flow_layers = layers
        self.event_shape = check_event_shape(event_shape)
        shape = self.event_shape
        for layer in reversed(layers):
            shape = tuple(layer.inverse_event_shape(shape))
        self.latent_shape = shape
        self.base_distribution_name = base_distribution
        self.num_levels = None if num_levels is None else check_positive_int(
            num_levels, "num_levels", minimum=2)
        self.built = True

    # ------------------------------------------------------------ distributions
    @property
    def event_ndims(self):
        return len(self.event_shape)

    @property
    def base_distribution(self):
        """The base distribution over ``latent_shape`` (the event shape the chain's inverse
        produces; ``event_shape`` unless a layer changes it): independent standard Normals
        (``"normal"``), or Student-t with ``STUDENT_T_DF`` degrees of freedom
        (``"student_t"``), whose heavy tails keep densities sane just outside the data."""
        zero = tf.constant(0.0, self.compute_dtype)
        if self.base_distribution_name == "student_t":
            one = tf.ones_like(zero)
            return tfd.Sample(tfd.StudentT(STUDENT_T_DF * one, zero, one), self.latent_shape)
        return tfd.Sample(tfd.Normal(zero, tf.ones_like(zero)), self.latent_shape)

    @property
    def bijector(self):
        """The whole flow as a ``tfb.Chain`` (base to data) reading the current weights, as
        ``TransformedDistribution.bijector`` is."""
        return tfb.Chain([layer.bijector() for layer in reversed(self.flow_layers)])

    @property
    def distribution(self):
        """``tfd.TransformedDistribution(base_distribution, bijector)``, for plain TFP code."""
        return tfd.TransformedDistribution(self.base_distribution, self.bijector)

    # ------------------------------------------------------------ computation
    def _cast(self, x, shape=None):
        """``x`` as a compute-dtype tensor of shape ``[n, *shape]`` (``event_shape`` by
        default); a clear error otherwise."""
        shape = self.event_shape if shape is None else shape
        if isinstance(x, (str, bytes, dict)) or x is None:
            raise ValueError(f"expected data of shape [n, {', '.join(map(str, shape))}], "
                             f"got {type(x).__name__}")
        if not tf.is_tensor(x):
            x = np.asarray(x)
            if x.dtype == object or x.dtype.kind in "USb":
                raise ValueError(f"expected numeric data, got dtype {x.dtype}")
        dtype = tf.as_dtype(x.dtype)
        if self.num_levels is not None and (dtype.is_integer or dtype == tf.bool):
            raise ValueError(
                f"this image flow is a density over dequantised pixels x + u in [0, "
                f"{self.num_levels}), u ~ U[0, 1); got {dtype.name} pixels. Dequantise them "
                "first (tfp_flows.datasets.dequantize), or measure bits/dim with "
                "tfp_flows.training.bits_per_dim, which does")
        if dtype.is_complex:
            raise ValueError(f"expected real-valued data, got complex dtype {dtype.name}")
        x = tf.cast(x, self.compute_dtype)
        if x.shape.rank is not None and (
                x.shape.rank != len(shape) + 1 or not x.shape[1:].is_compatible_with(shape)):
            expected = ", ".join(["n"] + [str(s) for s in shape])
            raise ValueError(f"expected data of shape [{expected}], got {tuple(x.shape)}")
        return x

    def _flatten_batch(self, x):
        """``x`` of shape ``[*batch, *event_shape]`` as ``[n, *event_shape]``, and ``batch``."""
        if not tf.is_tensor(x):
            x = np.asarray(x)
        rank, ndims = len(x.shape), self.event_ndims
        if rank < ndims or tuple(x.shape[rank - ndims:]) != self.event_shape:
            expected = ", ".join(["..."] + [str(s) for s in self.event_shape])
            raise ValueError(f"expected data of shape [{expected}], got {tuple(x.shape)}")
        batch = tuple(x.shape[: rank - ndims])
        if len(batch) == 1:
            return x, None
        return tf.reshape(x, (-1,) + self.event_shape), batch

    def encode(self, x, training=False):
        """Maps data ``[n, *event_shape]`` to the base space: ``(z, log|det dz/dx|)``."""
        h = self._cast(x)
        total = tf.zeros(tf.shape(h)[:1], h.dtype)
        for layer in reversed(self.flow_layers):
            bijector = layer.bijector(training=training)
            h, ildj = inverse_and_log_det(bijector, h, h.shape.rank - 1)
            total += ildj
        return h, total

    def log_prob(self, x, training=False):
        """``log p(x)`` for data of shape ``[*batch, *event_shape]``; returns ``batch``-shaped
        values (e.g. a ``[100, 100, 2]`` grid gives ``[100, 100]``). ``training=True`` is what
        ``fit`` uses (batch statistics in batch-norm layers)."""
        flat, batch = self._flatten_batch(x)
        z, log_det = self.encode(flat, training=training)
        log_prob = self.base_distribution.log_prob(z) + log_det
        return log_prob if batch is None else tf.reshape(log_prob, batch)

    def prob(self, x):
        """``p(x) = exp(log_prob(x))`` for data of shape ``[*batch, *event_shape]``."""
        return tf.exp(self.log_prob(x))

    def call(self, inputs, training=False):
        return self.log_prob(inputs, training=training)

    def forward_steps(self, z):
        """``[z, f_1(z), f_2(f_1(z)), ...]``: the sample after each layer (for plots)."""
        steps = [self._cast(z, self.latent_shape)]
        for layer in self.flow_layers:
            steps.append(layer.bijector().forward(steps[-1]))
        return steps

    def _sample_count(self, sample_shape):
        shape = (sample_shape,) if not isinstance(sample_shape, (tuple, list)) else sample_shape
        for n in shape:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
                raise ValueError(
                    "sample_shape must be a non-negative integer or a tuple of them, got "
                    f"{sample_shape!r}")
        return tuple(int(n) for n in shape)

    def sample(self, sample_shape=(), seed=None, temperature=1.0):
        """Samples of shape ``[*sample_shape, *event_shape]`` (``sample(500)`` gives
        ``[500, *event_shape]``); ``seed`` is ``None``, a non-negative int or a stateless pair
        ``(a, b)``; a seed gives the same samples on every call.

        ``temperature`` ``T > 0`` scales the base sample, ``z -> T z`` (Glow's reduced
        temperature: ``T < 1`` trades diversity for cleaner samples; ``T = 1`` samples the
        model itself)."""
        shape = self._sample_count(sample_shape)
        temperature = check_positive_float(temperature, "temperature")
        n = int(np.prod(shape)) if shape else 1
        z = self.base_distribution.sample(n, seed=_stateless_seed(seed))
        if temperature != 1.0:
            z = z * tf.constant(temperature, z.dtype)
        x = self.forward_steps(z)[-1]
        return tf.reshape(x, shape + self.event_shape)

    def sample_and_log_prob(self, sample_shape=(), seed=None):
        """Samples and their log-densities, in one pass through the flow."""
        shape = self._sample_count(sample_shape)
        n = int(np.prod(shape)) if shape else 1
        base = self.base_distribution
        h = base.sample(n, seed=_stateless_seed(seed))
        log_prob = base.log_prob(h)
        for layer in self.flow_layers:
            h, fldj = forward_and_log_det(layer.bijector(), h, h.shape.rank - 1)
            log_prob -= fldj
        return tf.reshape(h, shape + self.event_shape), tf.reshape(log_prob, shape)

    # ------------------------------------------------------------ training
    def compile(self, optimizer="adam", loss=None, **kwargs):
        """``keras.Model.compile`` without a loss: a flow trains by maximum likelihood."""
        if loss is not None:
            raise ValueError(
                "FlowModel trains by maximum likelihood: its loss is the mean negative "
                "log-likelihood, so compile() takes no loss (got loss={!r})".format(loss))
        super().compile(optimizer=optimizer, **kwargs)

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

    def initialize_from_data(self, x):
        """Runs data-dependent initialisation on data ``x``, layer by layer from the data
        side (Glow's ActNorm; the builders' standardisation). This is the one place that drives
        it: ``fit`` calls it with the first ``INIT_ROWS`` training rows (or the first batch
        of a dataset); a layer that is already initialised (e.g. after loading) is left
        alone."""
        h = self._cast(x)
        if not bool(tf.reduce_all(tf.math.is_finite(h))):
            row = int(tf.argmin(tf.cast(tf.reduce_all(tf.math.is_finite(
                tf.reshape(h, (tf.shape(h)[0], -1))), axis=1), tf.int32)))
            raise ValueError(
                f"data-dependent initialisation got a NaN or infinite value in row {row} of "
                "its data (the first rows or batch given to fit): nothing was initialised or "
                "trained")
        initialize_layers(self.flow_layers, h)

    def train_step(self, data):
        """One step of Keras's ``fit``, except that a step whose loss is not finite, or whose
        gradients are not finite or so large that the optimizer's update would overflow
        (global norm above ``sqrt(max float) / 10``: Adam squares them), changes no weight; the
        step is reported as a non-finite loss, so that ``fit`` stops (see ``fit``). The check
        costs one fused reduction per variable (``tf.linalg.global_norm``)."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
            scaled = self.optimizer.scale_loss(loss)
        weights = self.trainable_weights
        grads = tape.gradient(scaled, weights)
        present = [g for g in grads if g is not None]
        finite = tf.math.is_finite(loss)
        if present:
            norm = tf.linalg.global_norm(present)
            limit = np.sqrt(np.finfo(norm.dtype.as_numpy_dtype).max) / 10.0
            finite = tf.logical_and(finite, norm < tf.constant(limit, norm.dtype))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1 and tf.distribute.get_replica_context() is not None:
            # Every replica must call apply (it all-reduces): zero a bad replica's gradients.
            grads = [None if g is None else tf.where(finite, g, tf.zeros_like(g)) for g in grads]
            self.optimizer.apply(grads, weights)
        else:
            tf.cond(finite, lambda: self._apply(grads, weights), lambda: tf.constant(False))
        reported = tf.where(finite, loss, tf.constant(np.nan, loss.dtype)) * replicas
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(reported, sample_weight=tf.shape(x)[0])
        return {m.name: m.result() for m in self.metrics}

    def _apply(self, grads, weights):
        self.optimizer.apply(grads, weights)
        return tf.constant(True)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, validation_split=0.0,
            validation_data=None, shuffle=True, sample_weight=None, callbacks=None, **kwargs):
        """``keras.Model.fit`` on data ``x`` (no targets needed).

        Args:
          x: data of shape ``[n, *event_shape]`` (NumPy array, list or tensor), or a
            ``tf.data.Dataset`` of batches (elements ``x``, or Keras's ``(x, y, weight)``).
          y: must be ``None``: a flow has no targets.
          batch_size: rows per step (default 32), a positive integer.
          epochs: passes over the data.
          validation_split: fraction in ``[0, 1)`` of the rows (the last ones, taken before
            shuffling, as in Keras) held out for ``val_loss``.
          validation_data: held-out data (a bare array, or what Keras accepts).
          shuffle: reshuffle the training rows each epoch.
          sample_weight: one finite, non-negative weight per row of ``x``; the loss is then
            ``mean(w_i * -log p(x_i))`` over each batch (Keras's convention). Split like
            ``x`` by ``validation_split``.
          callbacks: Keras callbacks.
          **kwargs: any other ``keras.Model.fit`` argument (``verbose``, ``initial_epoch``...).

        NumPy input is checked first (shape, finite values in the model's dtype) and fed
        through ``tf.data`` (Keras's per-epoch cost for NumPy arrays and ``validation_split``
        is several times a small data set's training time). Layers that initialise from data
        (ActNorm) see the first batch before training starts. Training stops at the first
        batch whose loss is not finite, with a ``RuntimeWarning`` that says where; that step
        is not applied, so the weights stay those of the last finite step.

        Returns:
          Keras's ``History``.
        """
        if y is not None:
            raise ValueError("FlowModel.fit takes data x only: a flow has no targets y")
        fit_kwargs, first = prepare_fit_data(
            x, event_shape=self.event_shape, dtype=self.compute_dtype,
            num_levels=self.num_levels, batch_size=batch_size,
            validation_split=validation_split, validation_data=validation_data,
            shuffle=shuffle, sample_weight=sample_weight)
        if first is not None and any(layer.needs_data_init for layer in self.flow_layers):
            self.initialize_from_data(first)
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            # Keras would create the optimizer's slots inside the first traced step, which
            # lifts every variable out of the graph and traces the step twice: build it now.
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        callbacks = list(callbacks or []) + [_StopOnNonFinite()]
        return super().fit(epochs=epochs, callbacks=callbacks, **fit_kwargs, **kwargs)

    # ------------------------------------------------------------ saving
    def get_config(self):
        return {
            "name": self.name,
            "flow_layers": [keras.saving.serialize_keras_object(l) for l in self.flow_layers],
            "event_shape": list(self.event_shape),
            "base_distribution": self.base_distribution_name,
            "num_levels": self.num_levels,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["flow_layers"] = [
            keras.saving.deserialize_keras_object(c) for c in config["flow_layers"]
        ]
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)
