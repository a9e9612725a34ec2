"""FlowModel: a normalizing flow that is a Keras 3 model."""
import numbers

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.base_distributions import BASE_DISTRIBUTIONS, STUDENT_T_DF  # noqa: F401
from tfp_flows.base_distributions import DEFAULT as DEFAULT_BASE
from tfp_flows.base_distributions import (base_log_prob, deserialize_base, make_base,
                                          sample_base, serialize_base)
from tfp_flows.bijectors.log_det import forward_and_log_det, inverse_and_log_det
from tfp_flows.bijectors.conditional import Conditional
from tfp_flows.contexts import (ContextStandardization, broadcast_with_data, check_context,
                                check_layer_contexts, context_rows)
from tfp_flows.layers.base import FlowLayer, chain_latent_shape, check_event_shape, layer_context
from tfp_flows.layers.fixed import BijectorLayer
from tfp_flows.model_training import MaximumLikelihood
from tfp_flows.export import export_flow
from tfp_flows.graph_mode import compiled_when_repeated
from tfp_flows.saving import check_save_path
from tfp_flows.summary import flow_summary
from tfp_flows.validation import (check_flag, check_input, check_positive_float,
                                  check_positive_int, check_seed)

tfd = tfp.distributions
tfb = tfp.bijectors

__all__ = ["FlowModel", "BASE_DISTRIBUTIONS", "STUDENT_T_DF"]


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
      base_distribution: ``"normal"`` (default), ``"student_t"`` or a ``tfd.Distribution``
        over the latent shape (see :mod:`tfp_flows.base_distributions`).
      num_levels: ``None``, or for image flows ``K``, the number of pixel levels: the model
        is then a density over dequantised pixels in ``[0, K)``; ``fit`` takes integer images
        and dequantises them afresh each epoch, and ``log_prob`` refuses integer pixels.
      context_size: ``None``, or ``K`` for a conditional flow :math:`p(x \mid c)` with a
        context ``c`` of ``K`` numbers per row: every method then takes ``context`` (see
        :meth:`log_prob`, :meth:`sample`, :meth:`fit`), and the conditional layers among
        ``flow_layers`` (those with a ``context_size``) must all take ``K``.
      standardize_context: put a :class:`~tfp_flows.layers.ContextStandardization` in front
        of the conditional layers, set from the training contexts when ``fit`` starts.
      xla_default: whether ``compile(jit_compile="auto")`` compiles the training step with
        XLA on CPUs too (:mod:`tfp_flows.xla`); builders set it where it measured faster.
      **kwargs: ``keras.Model`` arguments (``name``, ``dtype``).

    Example:
        >>> from tfp_flows.layers import CouplingLayer
        >>> flow = FlowModel([CouplingLayer((2,), hidden_units=(8,))], event_shape=(2,))
        >>> flow.log_prob(np.zeros((1, 2), "float32")).numpy().round(4)   # identity at start
        array([-1.8379], dtype=float32)
    """

    def __init__(self, flow_layers, event_shape, base_distribution=DEFAULT_BASE, num_levels=None,
                 context_size=None, standardize_context=True, xla_default=False, **kwargs):
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
        self.flow_layers = layers
        self.event_shape = check_event_shape(event_shape)
        self.latent_shape = chain_latent_shape(layers, self.event_shape, "FlowModel")
        self._base_dist = make_base(base_distribution, self.latent_shape, self.flow_dtype)
        #: The base's name, or ``None`` for a distribution object.
        self.base_distribution_name = (base_distribution if isinstance(base_distribution, str)
                                       else None)
        self.num_levels = None if num_levels is None else check_positive_int(
            num_levels, "num_levels", minimum=2)
        self.context_size = None if context_size is None else check_positive_int(
            context_size, "context_size")
        check_layer_contexts(layers, self.context_size)
        self.standardize_context = check_flag(standardize_context, "standardize_context")
        self.xla_default = check_flag(xla_default, "xla_default")
        self.context_standardization = None
        if self.context_size is not None and standardize_context:
            self.context_standardization = ContextStandardization(
                self.context_size, dtype=self.dtype_policy, name="context_standardization")
        self.built = True

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
        produces; ``event_shape`` unless a layer changes it), a ``tfd.Distribution``: for
        ``"normal"`` independent standard Normals, for ``"student_t"`` independent Student-t
        with ``STUDENT_T_DF`` degrees of freedom, else the distribution given."""
        return self._base_dist

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
            lambda c: self._chain(self._standardized_rows(c)), self.context_size,
            forward_min_event_ndims=len(self.latent_shape),
            inverse_min_event_ndims=self.event_ndims, event_shape=self.event_shape,
            latent_shape=self.latent_shape, dtype=self.flow_dtype, name=self.name)

    @property
    def distribution(self):
        """``tfd.TransformedDistribution(base_distribution, bijector)``, for plain TFP code.
        For a conditional flow pass the context through TFP's ``bijector_kwargs``:
        ``distribution.log_prob(x, bijector_kwargs={"context": c})``,
        ``distribution.sample(n, bijector_kwargs={"context": c})`` (``c``: ``[n, K]``, or
        ``[K]`` for every row).

        It reads the model's weights at every use and lists them (as ``tf.Variable`` s) in
        its ``trainable_variables``, so it works as the surrogate of
        ``tfp.vi.fit_surrogate_posterior`` with a Keras 3 optimizer, no variables passed."""
        distribution = tfd.TransformedDistribution(self.base_distribution, self.bijector)
        # tf.Module finds the Keras variables' tf.Variables through this attribute.
        distribution._flow_variables = tuple(w.value for w in self.trainable_weights)
        return distribution

    # ------------------------------------------------------------ computation
    def _standardized_rows(self, context):
        """A checked context ``[..., K]`` as the conditional layers see it: standardised,
        as rows ``[m, K]`` (``None`` stays ``None``)."""
        if context is None:
            return None
        if self.context_standardization is not None:
            context = self.context_standardization(context)
        return tf.reshape(context, [-1, self.context_size])

    def _as_data(self, x, shape=None):
        """``x`` as a tensor ``[*batch, *shape]`` in the flow's dtype (``shape``:
        ``event_shape`` by default), checked once (:func:`~tfp_flows.validation.check_input`;
        integer pixels are refused where an image flow takes dequantised ones)."""
        shape = self.event_shape if shape is None else tuple(shape)
        return check_input(x, shape, self.flow_dtype,
                           self.num_levels if shape == self.event_shape else None)

    def _rows(self, x, shape):
        """``x`` (``[*batch, *shape]``) as ``[n, *shape]``, and ``batch``."""
        batch = x.shape[: len(x.shape) - len(shape)]
        if len(batch) == 1:
            return x, batch
        return tf.reshape(x, (-1,) + tuple(shape)), batch

    @compiled_when_repeated
    def _encode(self, h, rows, training):
        total = tf.zeros(tf.shape(h)[:1], h.dtype)
        for layer in reversed(self.flow_layers):
            bijector = layer.bijector(context=layer_context(layer, rows), training=training)
            h, ildj = inverse_and_log_det(bijector, h, h.shape.rank - 1)
            total += ildj
        return h, total

    def encode(self, x, context=None, training=False):
        """Maps data ``[n, *event_shape]`` (with contexts ``[n, K]`` for a conditional flow) to
        the base space: ``(z, log|det dz/dx|)``."""
        h = self._as_data(x)
        if len(h.shape) != self.event_ndims + 1:
            raise ValueError(f"encode takes data of shape [n, {', '.join(map(str, self.event_shape))}], "
                             f"got {tuple(h.shape)}")
        context = check_context(context, self.context_size, self.flow_dtype, self.name)
        return self._encode(h, self._standardized_rows(context), training)

    def log_prob(self, x, context=None, training=False):
        """``log p(x)``, or ``log p(x | context)`` for a conditional flow, for data of shape
        ``[*batch, *event_shape]``; returns ``batch``-shaped values (e.g. a ``[100, 100, 2]``
        grid gives ``[100, 100]``).

        ``context`` (conditional flows only): ``[*batch, K]``, one row per data point, or any
        shape that broadcasts against ``batch`` (``[K]``: the same context for all points).
        ``training=True`` is what ``fit`` uses (batch statistics in batch-norm layers).

        An image flow's density is zero outside the pixel cube ``[0, num_levels)^D``: a
        point there gets ``-inf`` (never NaN)."""
        x = self._as_data(x)
        context = check_context(context, self.context_size, self.flow_dtype, self.name)
        if context is not None:
            x, context = broadcast_with_data(x, context, self.event_ndims, self.context_size)
        flat, batch = self._rows(x, self.event_shape)
        if flat.shape[0] == 0:   # no rows: convolutions refuse empty batches
            return tf.zeros(batch, self.flow_dtype)
        z, log_det = self._encode(flat, self._standardized_rows(context), training)
        log_prob = base_log_prob(self.base_distribution, z) + log_det
        if self.num_levels is not None:
            log_prob = tf.where(self._in_pixel_cube(flat), log_prob,
                                tf.constant(-np.inf, log_prob.dtype))
        return log_prob if len(batch) == 1 else tf.reshape(log_prob, batch)

    def _in_pixel_cube(self, x):
        """Per row, whether every value lies in ``[0, num_levels)`` (the support)."""
        inside = tf.logical_and(x >= 0, x < tf.constant(self.num_levels, x.dtype))
        return tf.reduce_all(tf.reshape(inside, [tf.shape(x)[0], -1]), axis=1)

    def prob(self, x, context=None):
        """``p(x) = exp(log_prob(x))`` (``p(x | context)`` for a conditional flow) for data of
        shape ``[*batch, *event_shape]``."""
        return tf.exp(self.log_prob(x, context=context))

    def call(self, inputs, context=None, training=False):
        return self.log_prob(inputs, context=context, training=training)

    def forward_steps(self, z, context=None):
        """``[z, f_1(z), f_2(f_1(z)), ...]``: the sample after each layer (for plots).
        ``context``: ``[n, K]`` or ``[K]`` for a conditional flow."""
        z = self._as_data(z, self.latent_shape)
        if len(z.shape) != len(self.latent_shape) + 1:
            raise ValueError(f"forward_steps takes latents of shape [n, "
                             f"{', '.join(map(str, self.latent_shape))}], got {tuple(z.shape)}")
        context = check_context(context, self.context_size, self.flow_dtype, self.name)
        rows = None if context is None else context_rows(
            self._standardized_rows(context), tf.shape(z)[0], self.context_size)
        steps = [z]
        for layer in self.flow_layers:
            steps.append(layer.bijector(context=layer_context(layer, rows)).forward(steps[-1]))
        return steps

    def _sample_plan(self, sample_shape, context):
        """``(shape, rows, context_rows)``: the output's leading shape ``sample_shape +
        context batch``, the number of base draws and their contexts ``[rows, K]``."""
        shape = (sample_shape,) if not isinstance(sample_shape, (tuple, list)) else sample_shape
        for n in shape:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
                raise ValueError(
                    "sample_shape must be a non-negative integer or a tuple of them, got "
                    f"{sample_shape!r}")
        shape = tuple(int(n) for n in shape)
        n = int(np.prod(shape)) if shape else 1
        context = check_context(context, self.context_size, self.flow_dtype, self.name)
        if context is None:
            return shape, n, None
        batch = tuple(context.shape[:-1])
        if any(b is None for b in batch):
            raise ValueError(f"sample needs a context of known shape, got {context.shape}")
        m = int(np.prod(batch)) if batch else 1
        rows = tf.reshape(self._standardized_rows(context), [1, m, self.context_size])
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
        if n == 0:
            return tf.zeros(shape + self.event_shape, self.flow_dtype)
        z = sample_base(self.base_distribution, n, _stateless_seed(seed))
        if temperature != 1.0:
            z = z * tf.constant(temperature, z.dtype)
        return tf.reshape(self._decode(z, context), shape + self.event_shape)

    @compiled_when_repeated
    def _decode(self, z, rows=None):
        """Base draws ``z`` to data (``rows``: one context per draw), in the pixel cube."""
        for layer in self.flow_layers:
            z = layer.bijector(context=layer_context(layer, rows)).forward(z)
        return self._into_pixel_cube(z)

    def _into_pixel_cube(self, h):
        """Image samples inside ``[0, K)`` (float32 can round the logit's inverse to K)."""
        if self.num_levels is None:
            return h
        top = np.nextafter(np.asarray(self.num_levels, h.dtype.as_numpy_dtype), 0)
        return tf.clip_by_value(h, tf.zeros([], h.dtype), tf.constant(top, h.dtype))

    def sample_and_log_prob(self, sample_shape=(), context=None, seed=None):
        """Samples and their log-densities, in one pass through the flow (``context`` as in
        :meth:`sample`)."""
        shape, n, context = self._sample_plan(sample_shape, context)
        if n == 0:
            return (tf.zeros(shape + self.event_shape, self.flow_dtype),
                    tf.zeros(shape, self.flow_dtype))
        h, log_prob = self._decode_and_log_prob(
            sample_base(self.base_distribution, n, _stateless_seed(seed)), context)
        return tf.reshape(h, shape + self.event_shape), tf.reshape(log_prob, shape)

    @compiled_when_repeated
    def _decode_and_log_prob(self, h, rows):
        """Base draws ``h`` to data and the data's log-densities, one pass."""
        log_prob = base_log_prob(self.base_distribution, h)
        for layer in self.flow_layers:
            bijector = layer.bijector(context=layer_context(layer, rows))
            h, fldj = forward_and_log_det(bijector, h, h.shape.rank - 1)
            log_prob -= fldj
        return self._into_pixel_cube(h), log_prob

    # ------------------------------------------------------------ saving
    def save(self, filepath, overwrite=True, **kwargs):
        """``keras.Model.save`` to a ``.keras`` file, which loads in any process after
        ``import tfp_flows`` (:func:`tfp_flows.load_model` checks the file first). The
        legacy ``.h5`` format is refused: it cannot hold a flow."""
        check_save_path(filepath)
        self.get_config()   # a base that cannot be saved says so before a file is written
        return super().save(filepath, overwrite=overwrite, **kwargs)

    def export(self, filepath, format="tf_saved_model", **kwargs):
        """Writes a SavedModel with ``log_prob`` (the default) and ``sample`` endpoints that
        TensorFlow alone serves, any batch size (:func:`tfp_flows.export.export_flow`; Keras's
        own ``export`` cannot trace a flow). Only ``format="tf_saved_model"``."""
        if format != "tf_saved_model" or kwargs:
            raise ValueError(f"FlowModel.export writes a SavedModel (format='tf_saved_model') "
                             f"and takes no other option, got format={format!r}"
                             + (f" and {sorted(kwargs)}" if kwargs else ""))
        return export_flow(self, filepath)

    def summary(self, print_fn=None):
        """Prints :func:`tfp_flows.summary.flow_summary` (the layers from the data side,
        then latent shape and base) through ``print_fn`` (``print`` by default)."""
        (print_fn or print)(flow_summary(self))

    def get_config(self):
        return {
            "name": self.name,
            "flow_layers": [keras.saving.serialize_keras_object(l) for l in self.flow_layers],
            "event_shape": list(self.event_shape),
            "base_distribution": serialize_base(self._base_dist if self.base_distribution_name is None
                                                else self.base_distribution_name),
            "num_levels": self.num_levels,
            "context_size": self.context_size,
            "standardize_context": self.standardize_context,
            "xla_default": self.xla_default,
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
        if "base_distribution" in config:
            config["base_distribution"] = deserialize_base(config["base_distribution"])
        return cls(**config)
