"""``AutoregressiveNetwork``: TFP's MADE network (``tfb.AutoregressiveNetwork``) as a Keras 3
layer, with TFP's constructor arguments, call convention, output layout and weight order."""
import numbers

import keras
import numpy as np
import tensorflow as tf

from tfp_flows.compat.common import get_activation, serialize_activation
from tfp_flows.nets.context_input import batch_output_shape, flat_rows, unflatten
from tfp_flows.nets.made import _made_masks
from tfp_flows.seeds import spawn_seeds
from tfp_flows.validation import check_event_shape, check_positive_int

__all__ = ["AutoregressiveNetwork", "input_degrees"]

_ORDERS = ("left-to-right", "right-to-left", "random")


def _rank1_size(value, name):
    shape = check_event_shape(value)
    if len(shape) != 1:
        raise ValueError(f"Parameter `{name}` must describe a rank-1 shape, such as 3 or "
                         f"(3,); got {value!r}")
    return shape[0]


def input_degrees(event_size, input_order, seed=None):
    """The degree ``1..D`` of each input, TFP's convention for ``input_order``:
    ``"left-to-right"`` gives ``[1, ..., D]``, ``"right-to-left"`` ``[D, ..., 1]``,
    ``"random"`` a permutation drawn from ``seed``, and an explicit order is a sequence of
    degrees (a permutation of ``1..D``: input ``i`` comes ``input_order[i]``-th).

    Example:
        >>> input_degrees(3, "right-to-left").tolist(), input_degrees(3, [2, 3, 1]).tolist()
        ([3, 2, 1], [2, 3, 1])
    """
    if isinstance(input_order, str):
        if input_order == "left-to-right":
            return np.arange(1, event_size + 1)
        if input_order == "right-to-left":
            return np.arange(event_size, 0, -1)
        if input_order == "random":
            return np.random.default_rng(seed).permutation(event_size) + 1
    else:
        try:
            degrees = np.asarray(input_order)
        except (TypeError, ValueError):
            degrees = np.empty(0)
        if (degrees.shape == (event_size,) and degrees.dtype.kind in "iu"
                and np.array_equal(np.sort(degrees), np.arange(1, event_size + 1))):
            return degrees.astype(np.int64)
    raise ValueError(f"input_order must be one of {_ORDERS} or a permutation of the degrees "
                     f"1..{event_size} (TFP's convention), got {input_order!r}")


def _masks(degrees, hidden_units, hidden_degrees, params, seed):
    """The 0/1 masks ``[D, h0], ..., [h_last, D * params]`` for inputs of ``degrees``:
    ``"equal"`` hidden degrees are the package's MADE masks; ``"random"`` ones are drawn from
    ``seed`` as TFP draws them (each layer's degrees in ``[min(previous), D - 1]``)."""
    if hidden_degrees == "equal":
        return _made_masks(np.argsort(degrees), hidden_units, params)
    d = len(degrees)
    rng = np.random.default_rng(seed)
    layers = [degrees]
    for units in hidden_units:
        layers.append(rng.integers(min(int(np.min(layers[-1])), d - 1), d, size=units))
    masks = [(a[:, None] <= b[None, :]).astype(np.float64) for a, b in zip(layers, layers[1:])]
    masks.append(np.repeat((layers[-1][:, None] < degrees[None, :]).astype(np.float64),
                           params, axis=1))
    return masks


@keras.saving.register_keras_serializable(package="tfp_flows.compat")
class AutoregressiveNetwork(keras.layers.Layer):
    r"""Masked autoencoder for distribution estimation (Germain et al., 2015): TFP's
    ``tfb.AutoregressiveNetwork`` as a Keras 3 layer.

    It takes ``x`` of shape ``[..., D]`` and returns ``[..., D, params]``; output
    ``[..., i, :]`` depends only on the inputs that come before ``i`` in ``input_order``, so
    it is the ``shift_and_log_scale_fn`` of stock ``tfb.MaskedAutoregressiveFlow`` (which
    unstacks the last axis into shift and log-scale). The arguments, the call
    (``net(x, conditional_input=c)`` for a conditional network, which stock MAF passes on from
    ``bijector_kwargs={"conditional_input": c}``), the masks and the order of the weights are
    TFP's: ``net.set_weights(stock_net.get_weights())`` gives the same outputs. Layer ``k``
    computes ``h_k = x_{k-1} (W_k \odot M_k) + b_k [+ c V_k]`` (``V_k`` for a conditional
    network on every layer, or on the first only with
    ``conditional_input_layers="first_layer"``), with ``activation`` between layers.

    Differences from TFP's network: the mask is applied in the forward pass (TFP applies it
    through a kernel constraint after each update; the outputs are the same); a ``"random"``
    ``input_order`` or ``hidden_degrees`` is drawn from ``seed`` (drawn once from NumPy's
    global generator when not given, like TFP) and saved, so a loaded network has the same
    masks; ``activation`` may be a ``tf.nn`` function or a name.

    Args:
      params: number of outputs per input (2 for shift and log-scale).
      event_shape: ``D`` or ``(D,)``; inferred from the first call if ``None`` (required for
        a conditional network).
      conditional: whether the network takes ``conditional_input``.
      conditional_event_shape: ``K`` or ``(K,)``, the size of ``conditional_input``
        (required with ``conditional=True``, refused otherwise).
      conditional_input_layers: ``"all_layers"`` or ``"first_layer"``.
      hidden_units: sizes of the hidden layers (``None``: no hidden layer).
      input_order: ``"left-to-right"``, ``"right-to-left"``, ``"random"`` or the degrees
        ``1..D`` of the inputs (see :func:`input_degrees`).
      hidden_degrees: ``"equal"`` or ``"random"``.
      activation: hidden activation (``None``: linear, TFP's default).
      use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
      kernel_constraint, bias_constraint: as in ``keras.layers.Dense`` (initialisers start
        masked entries at zero).
      validate_args: kept for TFP's signature (TFP's network does not use it either).
      seed: ``None`` or an integer, for ``"random"`` orders and degrees.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> import tensorflow_probability as tfp
        >>> made = AutoregressiveNetwork(params=2, hidden_units=[8])
        >>> maf = tfp.bijectors.MaskedAutoregressiveFlow(made)
        >>> made(tf.zeros([4, 3])).shape, maf.forward(tf.zeros([4, 3])).shape
        (TensorShape([4, 3, 2]), TensorShape([4, 3]))
    """

    def __init__(self, params, event_shape=None, conditional=False, conditional_event_shape=None,
                 conditional_input_layers="all_layers", hidden_units=None,
                 input_order="left-to-right", hidden_degrees="equal", activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, validate_args=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.params = check_positive_int(params, "params")
        self.event_size = None if event_shape is None else _rank1_size(event_shape,
                                                                        "event_shape")
        if not isinstance(conditional, bool):
            raise ValueError(f"conditional must be True or False, got {conditional!r}")
        self.conditional = conditional
        self.conditional_size = None
        if conditional:
            if self.event_size is None:
                raise ValueError("`event_shape` must be provided when `conditional` is True")
            if conditional_event_shape is None:
                raise ValueError(
                    "`conditional_event_shape` must be provided when `conditional` is True")
            self.conditional_size = _rank1_size(conditional_event_shape,
                                                "conditional_event_shape")
        elif conditional_event_shape is not None:
            raise ValueError("`conditional_event_shape` passed but `conditional` is set to "
                             "False")
        if conditional_input_layers not in ("all_layers", "first_layer"):
            raise ValueError("conditional_input_layers must be 'all_layers' or 'first_layer', "
                             f"got {conditional_input_layers!r}")
        self.conditional_input_layers = conditional_input_layers
        units = [] if hidden_units is None else hidden_units
        if isinstance(units, (str, bytes, numbers.Number)) or not all(
                isinstance(u, numbers.Integral) and not isinstance(u, bool) and u >= 1
                for u in units):
            raise ValueError("hidden_units must be None or a list of positive integers such "
                             f"as [64, 64], got {hidden_units!r}")
        self.hidden_units = [int(u) for u in units]
        if isinstance(input_order, str) and input_order not in _ORDERS:
            raise ValueError(f"input_order must be one of {_ORDERS} or a permutation of the "
                             f"degrees 1..D, got {input_order!r}")
        self._input_order_param = (input_order if isinstance(input_order, str)
                                   else [int(i) for i in np.asarray(input_order).ravel()])
        if self.event_size is not None and not isinstance(input_order, str):
            input_degrees(self.event_size, input_order)  # fails now, not at build
        if hidden_degrees not in ("equal", "random"):
            raise ValueError(f"hidden_degrees must be 'equal' or 'random', got "
                             f"{hidden_degrees!r}")
        self.hidden_degrees = hidden_degrees
        if seed is None and "random" in (input_order, hidden_degrees):
            seed = int(np.random.randint(0, 2**31 - 1))
        self.seed = None if seed is None else check_positive_int(seed, "seed", minimum=0)
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.validate_args = bool(validate_args)
        self.input_order = None  # the degrees of the inputs, set by build

    @property
    def event_shape(self):
        """``[D]`` (``None`` until built when not given), as TFP's property."""
        return None if self.event_size is None else [self.event_size]

    def build(self, input_shape):
        size = None if input_shape is None else input_shape[-1]
        if self.event_size is None:
            if size is None:
                raise ValueError("AutoregressiveNetwork: the last dimension of the input must "
                                 "be known, or pass `event_shape`")
            self.event_size = int(size)
        if size is not None and int(size) != self.event_size:
            raise ValueError(f"Invalid final dimension of `input_shape`. Expected "
                             f"{self.event_size}, but got {int(size)}")
        order_seed, degree_seed = spawn_seeds(self.seed, 2)
        self.input_order = input_degrees(self.event_size, self._input_order_param, order_seed)
        masks = _masks(self.input_order, self.hidden_units, self.hidden_degrees, self.params,
                       degree_seed)
        with tf.init_scope():  # eager constants, even when first built inside a graph
            self._masks = [None if m.all() else tf.constant(m, self.compute_dtype)
                           for m in masks]
        sizes = [self.event_size] + self.hidden_units + [self.event_size * self.params]
        self._kernels, self._biases, self._conditional_kernels = [], [], []
        # Created in TFP's order: kernel, bias, conditional kernel, layer by layer.
        for k, mask in enumerate(masks):
            self._kernels.append(self.add_weight(
                shape=(sizes[k], sizes[k + 1]), name=f"kernel_{k}",
                initializer=_masked(self.kernel_initializer, mask),
                regularizer=self.kernel_regularizer, constraint=self.kernel_constraint))
            self._biases.append(None if not self.use_bias else self.add_weight(
                shape=(sizes[k + 1],), name=f"bias_{k}", initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint))
            self._conditional_kernels.append(None if not self._conditions(k) else self.add_weight(
                shape=(self.conditional_size, sizes[k + 1]), name=f"conditional_kernel_{k}",
                initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint))

    def _conditions(self, k):
        return self.conditional and (self.conditional_input_layers == "all_layers" or k == 0)

    def call(self, x, conditional_input=None):
        x = tf.convert_to_tensor(x, self.compute_dtype)
        if self.conditional:
            if conditional_input is None:
                raise ValueError("`conditional_input` must be passed as a named argument: this "
                                 "network is conditional")
            conditional_input = tf.convert_to_tensor(conditional_input, self.compute_dtype)
            if conditional_input.shape[-1] not in (None, self.conditional_size):
                raise ValueError(f"`conditional_input` must have shape [..., "
                                 f"{self.conditional_size}], got {conditional_input.shape}")
        elif conditional_input is not None:
            raise ValueError("`conditional_input` passed, but this network was built with "
                             "conditional=False")
        h, c, batch = flat_rows(x, conditional_input, self.event_size, self.conditional_size)
        last = len(self._kernels) - 1
        for k, (kernel, bias, mask) in enumerate(zip(self._kernels, self._biases, self._masks)):
            h = tf.matmul(h, kernel if mask is None else kernel * mask)
            if bias is not None:
                h = tf.nn.bias_add(h, bias)
            if self._conditional_kernels[k] is not None:
                h = h + tf.matmul(c, self._conditional_kernels[k])
            if k != last:
                h = self.activation(h)
        return unflatten(h, batch, (self.event_size, self.params))

    def compute_output_shape(self, x_shape, conditional_input_shape=None):
        event = (self.event_size or x_shape[-1], self.params)
        return batch_output_shape(x_shape, conditional_input_shape, event)

    def get_config(self):
        order = (self._input_order_param if self.input_order is None
                 else [int(i) for i in self.input_order])
        ser = keras.saving.serialize_keras_object
        return {**super().get_config(), "params": self.params,
                "event_shape": self.event_shape, "conditional": self.conditional,
                "conditional_event_shape": (None if self.conditional_size is None
                                            else [self.conditional_size]),
                "conditional_input_layers": self.conditional_input_layers,
                "hidden_units": list(self.hidden_units), "input_order": order,
                "hidden_degrees": self.hidden_degrees,
                "activation": serialize_activation(self.activation, self.name),
                "use_bias": self.use_bias,
                "kernel_initializer": ser(self.kernel_initializer),
                "bias_initializer": ser(self.bias_initializer),
                "kernel_regularizer": ser(self.kernel_regularizer),
                "bias_regularizer": ser(self.bias_regularizer),
                "kernel_constraint": ser(self.kernel_constraint),
                "bias_constraint": ser(self.bias_constraint),
                "validate_args": self.validate_args, "seed": self.seed}


def _masked(initializer, mask):
    """``initializer`` with the entries ``mask`` removes starting at zero."""

    def init(shape, dtype=None):
        value = initializer(shape, dtype=dtype)
        return value * tf.constant(mask, dtype=value.dtype)

    return init
