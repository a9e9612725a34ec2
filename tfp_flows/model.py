"""FlowModel: a normalizing flow that is a Keras 3 model."""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.fused import forward_and_log_det, inverse_and_log_det
from tfp_flows.layers.base import FlowLayer, check_event_shape

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["FlowModel", "BASE_DISTRIBUTIONS"]

BASE_DISTRIBUTIONS = ("normal",)


def _replica_scaled(loss):
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss


def check_data(x, event_shape, what="data"):
    """Raises ``ValueError`` unless ``x`` (NumPy-like) has shape ``[n, *event_shape]`` and is
    finite; returns it as a NumPy array."""
    x = np.asarray(x)
    if x.ndim != len(event_shape) + 1 or tuple(x.shape[1:]) != tuple(event_shape):
        expected = ", ".join(["n"] + [str(s) for s in event_shape])
        raise ValueError(f"expected {what} of shape [{expected}], got {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"expected numeric {what}, got dtype {x.dtype}")
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"{what} has a NaN or infinite value in row {row}: {x[row].tolist()}")
    return x


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

    Example:
        >>> from tfp_flows.layers import AffineCouplingLayer
        >>> flow = FlowModel([AffineCouplingLayer((2,), hidden_units=(8,))], event_shape=(2,))
        >>> flow.log_prob(np.zeros((1, 2), "float32")).numpy().round(4)   # identity at start
        array([-1.8379], dtype=float32)
    """

    def __init__(self, flow_layers, event_shape, base_distribution="normal", **kwargs):
        super().__init__(**kwargs)
        flow_layers = list(flow_layers)
        for layer in flow_layers:
            if not isinstance(layer, FlowLayer):
                raise TypeError(f"flow_layers must be FlowLayer instances, got {type(layer).__name__}")
        if base_distribution not in BASE_DISTRIBUTIONS:
            raise ValueError(
                f"base_distribution must be one of {BASE_DISTRIBUTIONS}, got {base_distribution!r}")
        self.flow_layers = flow_layers
        self.event_shape = check_event_shape(event_shape)
        self.base_distribution_name = base_distribution
        self.built = True

    # ------------------------------------------------------------ distributions
    @property
    def event_ndims(self):
        return len(self.event_shape)

    @property
    def base_distribution(self):
        """The base distribution: a standard Normal over ``event_shape``."""
        zero = tf.constant(0.0, self.compute_dtype)
        return tfd.Sample(tfd.Normal(zero, tf.ones_like(zero)), self.event_shape)

    def bijector(self):
        """The whole flow as a ``tfb.Chain`` (base to data), reading the current weights."""
        return tfb.Chain([layer.bijector() for layer in reversed(self.flow_layers)])

    @property
    def distribution(self):
        """``tfd.TransformedDistribution(base_distribution, bijector())``."""
        return tfd.TransformedDistribution(self.base_distribution, self.bijector())

    # ------------------------------------------------------------ computation
    def _cast(self, x):
        x = tf.cast(x, self.compute_dtype)
        if x.shape.rank is not None and not x.shape[1:].is_compatible_with(self.event_shape):
            expected = ", ".join(["n"] + [str(s) for s in self.event_shape])
            raise ValueError(f"expected data of shape [{expected}], got {tuple(x.shape)}")
        return x

    def encode(self, x):
        """Maps data to the base space: returns ``(z, log|det dz/dx|)``."""
        h = self._cast(x)
        total = tf.zeros(tf.shape(h)[:1], h.dtype)
        for layer in reversed(self.flow_layers):
            h, ildj = inverse_and_log_det(layer.bijector(), h, self.event_ndims)
            total += ildj
        return h, total

    def log_prob(self, x):
        """``log p(x)`` for a batch ``x`` of shape ``[n, *event_shape]``."""
        z, log_det = self.encode(x)
        return self.base_distribution.log_prob(z) + log_det

    def call(self, inputs, training=False):
        return self.log_prob(inputs)

    def forward_steps(self, z):
        """``[z, f_1(z), f_2(f_1(z)), ...]``: the sample after each layer (for plots)."""
        steps = [self._cast(z)]
        for layer in self.flow_layers:
            steps.append(layer.bijector().forward(steps[-1]))
        return steps

    def sample(self, n, seed=None):
        """``n`` samples from the flow, shape ``[n, *event_shape]``."""
        z = self.base_distribution.sample(int(n), seed=seed)
        return self.forward_steps(z)[-1]

    def sample_and_log_prob(self, n, seed=None):
        """``n`` samples and their log-densities, in one pass through the flow."""
        base = self.base_distribution
        h = base.sample(int(n), seed=seed)
        log_prob = base.log_prob(h)
        for layer in self.flow_layers:
            h, fldj = forward_and_log_det(layer.bijector(), h, self.event_ndims)
            log_prob -= fldj
        return h, log_prob

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
        """Runs data-dependent initialisation (ActNorm) on a batch ``x``, layer by layer from
        the data side, as Glow does. ``fit`` calls it on its first batch; a layer that is
        already initialised (e.g. after loading) is left alone."""
        h = self._cast(x)
        for layer in reversed(self.flow_layers):
            if layer.needs_data_init and not layer.is_initialized:
                layer.initialize(h)
            h = layer.bijector().inverse(h)

    def _as_dataset(self, x, batch_size, shuffle):
        data = tf.data.Dataset.from_tensor_slices(x.astype(self.compute_dtype))
        if shuffle:
            data = data.shuffle(len(x), reshuffle_each_iteration=True)
        data = data.batch(batch_size)
        return data.prefetch(tf.data.AUTOTUNE) if shuffle else data.cache()

    def fit(self, x=None, y=None, batch_size=None, validation_split=0.0, validation_data=None,
            shuffle=True, sample_weight=None, **kwargs):
        """``keras.Model.fit`` on data ``x`` (no targets needed).

        NumPy input is checked first (shape ``[n, *event_shape]``, finite values) and fed
        through ``tf.data`` (Keras's per-epoch cost for NumPy arrays and ``validation_split``
        is several times a small data set's training time); ``validation_split`` keeps Keras's
        meaning: the last fraction of ``x``, taken before shuffling. ``validation_data`` may be
        a bare array. Layers that initialise from data (ActNorm) see the first batch before
        training starts.
        """
        if y is not None:
            raise ValueError("FlowModel.fit takes data x only: a flow has no targets y")
        first = None
        eval_batch_size = int(batch_size or 32)
        if isinstance(x, (np.ndarray, list, tf.Tensor)):
            x = check_data(x, self.event_shape)
            if not 0.0 <= float(validation_split) < 1.0:
                raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
            batch_size = int(batch_size or 32)
            if sample_weight is None:
                n_val = int(len(x) * float(validation_split))
                if n_val:
                    x, validation_data = x[: len(x) - n_val], x[len(x) - n_val:]
                validation_split = 0.0
                first = x[:batch_size]
                x = self._as_dataset(x, batch_size, shuffle=bool(shuffle))
                shuffle, batch_size = False, None
            else:
                first = x[:batch_size]
        elif isinstance(x, tf.data.Dataset):
            first = next(iter(x.take(1)))
            first = first[0] if isinstance(first, (tuple, list)) else first
        if isinstance(validation_data, (np.ndarray, list, tf.Tensor)):
            validation_data = check_data(validation_data, self.event_shape, "validation data")
            validation_data = self._as_dataset(validation_data, eval_batch_size, shuffle=False)
        if first is not None and any(layer.needs_data_init for layer in self.flow_layers):
            self.initialize_from_data(first)
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            # Keras would create the optimizer's slots inside the first traced step, which
            # lifts every variable out of the graph and traces the step twice: build it now.
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        return super().fit(x, batch_size=batch_size, validation_split=validation_split,
                           validation_data=validation_data, shuffle=shuffle,
                           sample_weight=sample_weight, **kwargs)

    # ------------------------------------------------------------ saving
    def get_config(self):
        return {
            "name": self.name,
            "flow_layers": [keras.saving.serialize_keras_object(l) for l in self.flow_layers],
            "event_shape": list(self.event_shape),
            "base_distribution": self.base_distribution_name,
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
