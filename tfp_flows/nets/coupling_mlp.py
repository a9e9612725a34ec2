"""A plain MLP conditioner for coupling layers (RealNVP / NICE / spline couplings)."""

import keras
import tensorflow as tf

from tfp_flows.nets.context_input import (
    batch_output_shape,
    check_context_given,
    flat_rows,
    unflatten,
)
from tfp_flows.nets.dense_stack import add_dense_stack, seeded_initializer
from tfp_flows.seeds import spawn_seeds
from tfp_flows.validation import check_hidden_units, check_positive_int

__all__ = ["CouplingMLP"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class CouplingMLP(keras.layers.Layer):
    r"""Dense conditioner for coupling layers.

    A coupling layer splits ``x = (x_a, x_b)``, keeps ``x_a`` and transforms
    ``x_b`` with parameters computed from ``x_a`` only:

    .. math::

        \theta = \mathrm{reshape}\big(W_L\,\sigma(\cdots\sigma(W_1 [x_a, c] + b_1)
        \cdots) + b_L\big) \in \mathbb{R}^{\dots \times U \times P},

    where ``c`` is an optional conditioning input concatenated to ``x_a``,
    ``U = output_units`` (usually ``dim(x_b)``) and ``P = num_params`` (e.g. 2
    for a shift and a log-scale). Output unit ``u * P + p`` holds parameter ``p``
    of coordinate ``u``, so the reshape to ``[..., U, P]`` is free. With
    ``zero_init_output`` the last layer starts at zero, so the output is zero
    and a new coupling layer starts as the identity.

    Args:
      output_units: number ``U`` of transformed coordinates.
      num_params: number ``P`` of parameters per coordinate. The output always
        has a trailing ``P`` axis, also for ``P == 1``.
      hidden_units: sizes of the hidden layers (may be empty).
      activation: hidden activation, anything ``keras.activations.get`` takes.
      zero_init_output: if ``True`` (default) the output kernel and bias start
        at zero.
      kernel_initializer: initializer of the hidden kernels.
      seed: ``None`` or an int for the random initial weights (the same seed gives the same
        network).
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype`` ...).

    The input size (and the context size, when ``context`` is passed)
    is fixed at the first call; later calls must pass (or omit) ``context``
    in the same way.

    Example:

    >>> net = CouplingMLP(output_units=2, hidden_units=(8,))
    >>> net(tf.zeros((5, 3))).shape
    TensorShape([5, 2, 2])
    >>> float(tf.reduce_max(tf.abs(net(tf.ones((5, 3))))))  # zero-initialised
    0.0
    """

    def __init__(
        self,
        output_units,
        num_params=2,
        hidden_units=(64, 64),
        activation="relu",
        zero_init_output=True,
        kernel_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.seed = None if seed is None else check_positive_int(seed, "seed", minimum=0)
        self.output_units = check_positive_int(output_units, "output_units")
        self.num_params = check_positive_int(num_params, "num_params")
        self.hidden_units = check_hidden_units(hidden_units, allow_empty=True)
        self.activation = keras.activations.get(activation)
        self.zero_init_output = bool(zero_init_output)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self._input_size = None
        self._context_size = None

    def build(self, x_shape, context_shape=None):
        if x_shape[-1] is None:
            raise ValueError(
                f"CouplingMLP needs a known last input dimension; got {tuple(x_shape)}."
            )
        self._input_size = int(x_shape[-1])
        if context_shape is not None:
            if context_shape[-1] is None:
                raise ValueError(
                    "CouplingMLP needs a known last `context` dimension; got "
                    f"{tuple(context_shape)}."
                )
            self._context_size = int(context_shape[-1])
        fan_in = self._input_size + (self._context_size or 0)
        sizes = (fan_in,) + self.hidden_units + (self.output_units * self.num_params,)

        seeds = spawn_seeds(self.seed, len(sizes) - 1)  # one per kernel

        def kernel_init(k, last):
            if last and self.zero_init_output:
                return "zeros"
            return seeded_initializer(self.kernel_initializer, seeds[k])

        self._kernels, self._biases = add_dense_stack(self, sizes, kernel_init)

    def call(self, x, context=None):
        check_context_given(self, context, self._context_size)
        x, context, batch_shape = flat_rows(x, context, self._input_size, self._context_size)
        if context is not None:
            x = tf.concat([x, context], axis=-1)
        h = x
        last = len(self._kernels) - 1
        for k, (kernel, bias) in enumerate(zip(self._kernels, self._biases)):
            h = tf.nn.bias_add(tf.matmul(h, kernel), bias)
            if k != last:
                h = self.activation(h)
        return unflatten(h, batch_shape, (self.output_units, self.num_params))

    def compute_output_shape(self, x_shape, context_shape=None):
        return batch_output_shape(x_shape, context_shape, (self.output_units, self.num_params))

    def get_config(self):
        config = super().get_config()
        config.update(
            output_units=self.output_units,
            num_params=self.num_params,
            hidden_units=list(self.hidden_units),
            activation=keras.activations.serialize(self.activation),
            zero_init_output=self.zero_init_output,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            seed=self.seed,
        )
        return config
