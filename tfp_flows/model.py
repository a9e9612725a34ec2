"""FlowModel: a normalizing flow that is a Keras 3 model."""
import numbers

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.log_det import forward_and_log_det, inverse_and_log_det
from tfp_flows.fit_data import INIT_ROWS  # noqa: F401 (public here too)
from tfp_flows.bijectors.conditional import Conditional
from tfp_flows.layers.base import FlowLayer, chain_latent_shape, check_event_shape, layer_context
from tfp_flows.layers.context import ContextStandardization
from tfp_flows.layers.fixed import BijectorLayer
from tfp_flows.model_training import MaximumLikelihood
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


@keras.saving.register_keras_serializable(package="tfp_flows")
class FlowModel(MaximumLikelihood, keras.Model):
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
      context_size: ``None``, or ``K`` for a conditional flow :math:`p(x \mid c)` with a
        context ``c`` of ``K`` numbers per row: every method then takes ``context`` (see
        :meth:`log_prob`, :meth:`sample`, :meth:`fit`), and the conditional layers among
        ``flow_layers`` (those with a ``context_size``) must all take ``K``.
      standardize_context: put a :class:`~tfp_flows.layers.ContextStandardization` in front
        of the conditional layers, set from the training contexts when ``fit`` starts.
      **kwargs: ``keras.Model`` arguments (``name``, ``dtype``).

    Example:
        >>> from tfp_flows.layers import CouplingLayer
        >>> flow = FlowModel([CouplingLayer((2,), hidden_units=(8,))], event_shape=(2,))
        >>> flow.log_prob(np.zeros((1, 2), "float32")).numpy().round(4)   # identity at start
        array([-1.8379], dtype=float32)
    """

    def __init__(self, flow_layers, event_shape, base_distribution="normal", num_levels=None,
                 context_size=None, standardize_context=True, **kwargs):
        # Data, latents and log-densities stay in the variable dtype under a mixed-precision
        # policy (only the conditioner networks compute in float16/bfloat16).
        kwargs["autocast"] = False
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
        self.latent_shape = chain_latent_shape(layers, self.event_shape, "FlowModel")
        self.base_distribution_name = base_distribution
        self.num_levels = None if num_levels is None else check_positive_int(
            num_levels, "num_levels", minimum=2)
        self.context_size = None if context_size is None else check_positive_int(
            context_size, "context_size")
        self._check_layer_contexts(layers)
        if not isinstance(standardize_context, bool):
            raise ValueError(f"standardize_context must be True or False, got "
                             f"{standardize_context!r}")
        self.standardize_context = standardize_context
        self.context_standardization = None
        if self.context_size is not None and standardize_context:
            self.context_standardization = ContextStandardization(
                self.context_size, dtype=self.dtype_policy, name="context_standardization")
        self.built = True

    def _check_layer_contexts(self, layers):
        sizes = {layer.context_size for layer in layers} - {None}
        if self.context_size is None and sizes:
            raise ValueError(f"flow_layers include conditional layers (context_size "
                             f"{sorted(sizes)}): pass context_size to FlowModel")
        if self.context_size is not None and sizes != {self.context_size}:
            raise ValueError(
                f"FlowModel(context_size={self.context_size}) needs conditional layers that take "
                f"a context of that width; the layers take {sorted(sizes) or 'none'}")

    # ------------------------------------------------------------ distributions
    @property
    def flow_dtype(self):
        """The dtype of data, latents, log-dets and log-densities: the policy's variable dtype
        (``float32`` under ``"mixed_bfloat16"`` or ``"mixed_float16"``, where the conditioner
        networks compute in 16 bits and Keras's loss scaling expects a float32 loss)."""
        return self.dtype_policy.variable_dtype

    @property
    def event_ndims(self):
        return len(self.event_shape)

    @property
    def base_distribution(self):
        """The base distribution over ``latent_shape`` (the event shape the chain's inverse
        produces; ``event_shape`` unless a layer changes it): independent standard Normals
        (``"normal"``), or Student-t with ``STUDENT_T_DF`` degrees of freedom
        (``"student_t"``), whose heavy tails keep densities sane just outside the data."""
        zero = tf.constant(0.0, self.flow_dtype)
        if self.base_distribution_name == "student_t":
            one = tf.ones_like(zero)
            return tfd.Sample(tfd.StudentT(STUDENT_T_DF * one, zero, one), self.latent_shape)
        return tfd.Sample(tfd.Normal(zero, tf.ones_like(zero)), self.latent_shape)

    def _chain(self, context=None):
        """The flow's layers as a ``tfb.Chain`` (base to data) for a standardised ``context``."""
        return tfb.Chain([layer.bijector(context=layer_context(layer, context))
                          for layer in reversed(self.flow_layers)])

    @property
    def bijector(self):
        """The whole flow, base to data, reading the current weights, as
        ``TransformedDistribution.bijector`` is: a ``tfb.Chain``, or for a conditional flow a
        :class:`~tfp_flows.bijectors.Conditional` that takes the context as a keyword
        argument (``bijector.forward(z, context=c)``)."""
        if self.context_size is None:
            return self._chain()
        return Conditional(
            lambda c: self._chain(self._standardized(c)), self.context_size,
            forward_min_event_ndims=len(self.latent_shape),
            inverse_min_event_ndims=self.event_ndims, event_shape=self.event_shape,
            latent_shape=self.latent_shape, dtype=self.flow_dtype, name=self.name)

    @property
    def distribution(self):
        """``tfd.TransformedDistribution(base_distribution, bijector)``, for plain TFP code.
        For a conditional flow pass the context through TFP's ``bijector_kwargs``:
        ``distribution.log_prob(x, bijector_kwargs={"context": c})``,
        ``distribution.sample(n, bijector_kwargs={"context": c})`` (``c``: ``[n, K]``, or
        ``[K]`` for every row)."""
        return tfd.TransformedDistribution(self.base_distribution, self.bijector)

    # ------------------------------------------------------------ contexts
    def _check_context(self, context):
        """``context`` as a compute-dtype tensor ``[..., context_size]`` (not standardised),
        or ``None`` for an unconditional flow; a clear error for anything else."""
        if self.context_size is None:
            if context is not None:
                raise ValueError(
                    f"{self.name} is not conditional (context_size=None), but got a context of "
                    f"shape {tuple(np.shape(context))}; build the flow with context_size=K to "
                    "condition on one")
            return None
        if context is None:
            raise ValueError(f"{self.name} is conditional: pass context=c with c of shape "
                             f"[n, {self.context_size}] (one row per data row) or "
                             f"[{self.context_size}] (the same for all), got none")
        if isinstance(context, (str, bytes, dict)):
            raise ValueError(f"expected a numeric context of shape [..., {self.context_size}], "
                             f"got {type(context).__name__}")
        if not tf.is_tensor(context):
            context = np.asarray(context)
            if context.dtype == object or context.dtype.kind not in "iuf":
                raise ValueError(f"expected a numeric context, got dtype {context.dtype}")
        context = tf.cast(context, self.flow_dtype)
        if context.shape.rank == 0 or (context.shape.rank is not None and
                                       context.shape[-1] not in (None, self.context_size)):
            raise ValueError(f"{self.name} takes a context of shape [..., {self.context_size}], "
                             f"got {tuple(context.shape)}")
        if tf.executing_eagerly() and not bool(tf.reduce_all(tf.math.is_finite(context))):
            raise ValueError(f"the context has a NaN or infinite value (in "
                             f"{self.flow_dtype}); a density given a NaN context is NaN")
        return context

    def _standardized(self, context):
        """A checked context as the conditional layers see it."""
        if self.context_standardization is None:
            return context
        return self.context_standardization(context)

    def _broadcast_context(self, x, context, event_shape):
        """``x`` (``[*batch_x, *event_shape]``) and a checked context (``[*batch_c, K]``)
        broadcast to one batch shape, when both are known."""
        rank, ndims = len(x.shape), len(event_shape)
        batch_x, batch_c = tf.TensorShape(x.shape[:rank - ndims]), context.shape[:-1]
        if not (batch_x.is_fully_defined() and batch_c.is_fully_defined()):
            return x, context
        try:
            batch = tf.broadcast_static_shape(batch_x, batch_c)
        except ValueError:
            raise ValueError(
                f"data of shape {tuple(x.shape)} (batch {tuple(batch_x)}) and a context of shape "
                f"{tuple(context.shape)} (batch {tuple(batch_c)}) do not broadcast: give one "
                f"context row per data row, or one row [{self.context_size}] for all") from None
        if batch != batch_x:
            x = tf.broadcast_to(x, batch.concatenate(event_shape))
        if batch != batch_c:
            context = tf.broadcast_to(context, batch.concatenate([self.context_size]))
        return x, context

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
        x = tf.cast(x, self.flow_dtype)
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

    def encode(self, x, context=None, training=False):
        """Maps data ``[n, *event_shape]`` (with contexts ``[n, K]`` for a conditional flow) to
        the base space: ``(z, log|det dz/dx|)``."""
        h = self._cast(x)
        context = self._check_context(context)
        if context is not None:
            context = tf.reshape(self._standardized(context), [-1, self.context_size])
        total = tf.zeros(tf.shape(h)[:1], h.dtype)
        for layer in reversed(self.flow_layers):
            bijector = layer.bijector(context=layer_context(layer, context), training=training)
            h, ildj = inverse_and_log_det(bijector, h, h.shape.rank - 1)
            total += ildj
        return h, total

    def log_prob(self, x, context=None, training=False):
        """``log p(x)``, or ``log p(x | context)`` for a conditional flow, for data of shape
        ``[*batch, *event_shape]``; returns ``batch``-shaped values (e.g. a ``[100, 100, 2]``
        grid gives ``[100, 100]``).

        ``context`` (conditional flows only): ``[*batch, K]``, one row per data point, or any
        shape that broadcasts against ``batch`` (``[K]``: the same context for all points).
        ``training=True`` is what ``fit`` uses (batch statistics in batch-norm layers)."""
        if self.context_size is not None or context is not None:
            context = self._check_context(context)
            self._flatten_batch(x)  # checks the data's shape first
            if not tf.is_tensor(x):
                x = np.asarray(x)
            x, context = self._broadcast_context(x, context, self.event_shape)
        flat, batch = self._flatten_batch(x)
        z, log_det = self.encode(flat, context=context, training=training)
        log_prob = self.base_distribution.log_prob(z) + log_det
        return log_prob if batch is None else tf.reshape(log_prob, batch)

    def prob(self, x, context=None):
        """``p(x) = exp(log_prob(x))`` (``p(x | context)`` for a conditional flow) for data of
        shape ``[*batch, *event_shape]``."""
        return tf.exp(self.log_prob(x, context=context))

    def call(self, inputs, context=None, training=False):
        return self.log_prob(inputs, context=context, training=training)

    def _rows_context(self, context, n):
        """A checked, standardised context as ``n`` rows ``[n, K]`` (or ``None``)."""
        context = self._check_context(context)
        if context is None:
            return None
        context = tf.reshape(self._standardized(context), [-1, self.context_size])
        return tf.broadcast_to(context, tf.stack([n, self.context_size]))

    def forward_steps(self, z, context=None):
        """``[z, f_1(z), f_2(f_1(z)), ...]``: the sample after each layer (for plots).
        ``context``: ``[n, K]`` or ``[K]`` for a conditional flow."""
        steps = [self._cast(z, self.latent_shape)]
        context = self._rows_context(context, tf.shape(steps[0])[0])
        for layer in self.flow_layers:
            steps.append(layer.bijector(context=layer_context(layer, context))
                         .forward(steps[-1]))
        return steps

    def _sample_count(self, sample_shape):
        shape = (sample_shape,) if not isinstance(sample_shape, (tuple, list)) else sample_shape
        for n in shape:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
                raise ValueError(
                    "sample_shape must be a non-negative integer or a tuple of them, got "
                    f"{sample_shape!r}")
        return tuple(int(n) for n in shape)

    def _sample_plan(self, sample_shape, context):
        """``(shape, rows, context_rows)``: the output's leading shape ``sample_shape +
        context batch``, the number of base draws and their contexts ``[rows, K]``."""
        shape = self._sample_count(sample_shape)
        n = int(np.prod(shape)) if shape else 1
        context = self._check_context(context)
        if context is None:
            return shape, n, None
        batch = tuple(context.shape[:-1])
        if any(b is None for b in batch):
            raise ValueError(f"sample needs a context of known shape, got {context.shape}")
        m = int(np.prod(batch)) if batch else 1
        rows = tf.reshape(self._standardized(context), [1, m, self.context_size])
        rows = tf.reshape(tf.tile(rows, [n, 1, 1]), [n * m, self.context_size])
        return shape + batch, n * m, rows

    def sample(self, sample_shape=(), context=None, seed=None, temperature=1.0):
        """Samples of shape ``[*sample_shape, *event_shape]`` (``sample(500)`` gives
        ``[500, *event_shape]``); ``seed`` is ``None``, a non-negative int or a stateless pair
        ``(a, b)``; a seed gives the same samples on every call.

        ``context`` (conditional flows only): ``[m, K]`` gives ``sample_shape`` samples for
        each of the ``m`` contexts, shape ``[*sample_shape, m, *event_shape]`` (TFP's order:
        sample shape, then the contexts' batch shape); ``[K]`` gives
        ``[*sample_shape, *event_shape]``.

        ``temperature`` ``T > 0`` scales the base sample, ``z -> T z`` (Glow's reduced
        temperature: ``T < 1`` trades diversity for cleaner samples; ``T = 1`` samples the
        model itself)."""
        temperature = check_positive_float(temperature, "temperature")
        shape, n, context = self._sample_plan(sample_shape, context)
        z = self.base_distribution.sample(n, seed=_stateless_seed(seed))
        if temperature != 1.0:
            z = z * tf.constant(temperature, z.dtype)
        h = z
        for layer in self.flow_layers:
            h = layer.bijector(context=layer_context(layer, context)).forward(h)
        return tf.reshape(h, shape + self.event_shape)

    def sample_and_log_prob(self, sample_shape=(), context=None, seed=None):
        """Samples and their log-densities, in one pass through the flow (``context`` as in
        :meth:`sample`)."""
        shape, n, context = self._sample_plan(sample_shape, context)
        base = self.base_distribution
        h = base.sample(n, seed=_stateless_seed(seed))
        log_prob = base.log_prob(h)
        for layer in self.flow_layers:
            bijector = layer.bijector(context=layer_context(layer, context))
            h, fldj = forward_and_log_det(bijector, h, h.shape.rank - 1)
            log_prob -= fldj
        return tf.reshape(h, shape + self.event_shape), tf.reshape(log_prob, shape)

    # ------------------------------------------------------------ saving
    def get_config(self):
        return {
            "name": self.name,
            "flow_layers": [keras.saving.serialize_keras_object(l) for l in self.flow_layers],
            "event_shape": list(self.event_shape),
            "base_distribution": self.base_distribution_name,
            "num_levels": self.num_levels,
            "context_size": self.context_size,
            "standardize_context": self.standardize_context,
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
