"""MADE: a masked dense network whose outputs are autoregressive in its inputs."""

import keras
import numpy as np
import tensorflow as tf

from tfp_flows.nets.context_input import (
    batch_output_shape,
    check_context_given,
    flat_rows,
    unflatten,
)
from tfp_flows.nets.dense_stack import add_dense_stack, seeded_initializer
from tfp_flows.seeds import spawn_seeds
from tfp_flows.validation import check_event_shape, check_hidden_units, check_positive_int

__all__ = ["MADE", "make_permutation"]

_NAMED_ORDERS = ("left-to-right", "right-to-left", "random")


def make_permutation(event_size, kind="reverse", seed=None, what="permutation"):
    """A permutation of ``range(event_size)`` as an int array: ``"reverse"`` (or
    ``"right-to-left"``), ``"left-to-right"`` (the identity), ``"random"`` (drawn from
    ``seed``) or an explicit sequence (checked). The one parser of permutations: MADE's
    ``order`` and the flows' ``permutation`` (:func:`tfp_flows.layers.make_permutation`).

    Example:
        >>> make_permutation(4).tolist(), make_permutation(3, "left-to-right").tolist()
        ([3, 2, 1, 0], [0, 1, 2])
    """
    names = "'reverse', 'random' or a sequence" if what == "permutation" else \
        f"one of {_NAMED_ORDERS} or a permutation of range({event_size})"
    if isinstance(kind, str):
        if kind in ("reverse", "right-to-left"):
            return np.arange(event_size)[::-1].copy()
        if kind == "left-to-right":
            return np.arange(event_size)
        if kind == "random":
            return np.random.default_rng(seed).permutation(event_size)
        raise ValueError(f"{what} must be {names}, got {kind!r}")
    try:
        arr = np.asarray(kind, dtype=object if kind is None else None)
    except (TypeError, ValueError):  # e.g. a ragged nested list
        arr = np.empty((0, 0))
    if (arr.ndim != 1 or arr.size != event_size or not np.issubdtype(arr.dtype, np.integer)
            or not np.array_equal(np.sort(arr), np.arange(event_size))):
        raise ValueError(f"{what} must be {names}: expected a permutation of "
                         f"range({event_size}), got {kind!r}")
    return arr.astype(np.int64)


def _made_masks(order, hidden_units, num_params, context=False):
    """Builds the 0/1 masks of a MADE network (Germain et al., 2015).

    Input ``i`` gets degree ``position(i) + 1`` in ``1..D``; hidden units get
    degrees spread equally over ``1..D-1`` (TFP's ``hidden_degrees="equal"``),
    or over ``0..D-1`` when ``context``: degree-0 units see only the
    context input, so that the first variable's outputs depend on it too.
    A hidden unit of degree ``k`` may see units of degree ``<= k``; output ``i``
    may see hidden units of degree ``< degree(i)``.

    Returns:
      A list of float64 arrays of shapes ``[D, h0], [h0, h1], ..., [h_last, D*P]``.
      The output mask is repeated ``num_params`` times along its columns, so
      column ``i * num_params + p`` belongs to input ``i`` (row-major layout of
      ``[D, P]``).
    """
    d = len(order)
    input_degrees = np.empty(d, dtype=np.int64)
    input_degrees[order] = np.arange(1, d + 1)
    degrees = [input_degrees]
    for units in hidden_units:
        if context:
            spread = np.floor(np.arange(units) * d / units)
            degrees.append(spread.astype(np.int64))
            continue
        min_degree = min(int(np.min(degrees[-1])), d - 1)
        spread = np.ceil(np.arange(1, units + 1) * (d - 1) / (units + 1))
        degrees.append(np.maximum(min_degree, spread.astype(np.int64)))
    masks = [
        (d_in[:, None] <= d_out[None, :]).astype(np.float64)
        for d_in, d_out in zip(degrees[:-1], degrees[1:])
    ]
    out = (degrees[-1][:, None] < input_degrees[None, :]).astype(np.float64)
    masks.append(np.repeat(out, num_params, axis=1))
    return masks


@keras.saving.register_keras_serializable(package="tfp_flows")
class MADE(keras.layers.Layer):
    r"""Masked autoencoder for distribution estimation (Germain et al., 2015).

    A dense network ``x -> h_1 -> ... -> h_L -> y`` whose weight matrices are
    multiplied element-wise by fixed 0/1 masks so that

    .. math::

        y_{i,:} = f_i(x_{\pi_1}, \dots, x_{\pi_{k-1}}), \qquad \pi_k = i,

    i.e. output ``[..., i, :]`` depends only on inputs that come *before* ``i``
    in the autoregressive order ``pi`` (the first variable in the order gets
    outputs that are constant in ``x``). This is the conditioner of masked
    autoregressive flows (MAF / IAF): the ``num_params`` outputs for ``x_i``
    parameterise an invertible scalar transform of ``x_i``.

    Each unit gets a *degree*: input ``i`` has ``position(i) + 1`` in ``1..D``,
    hidden units get degrees spread equally over ``1..D-1`` as in TFP's
    ``AutoregressiveNetwork`` (``hidden_degrees="equal"``); with a context
    input they are spread over ``0..D-1`` instead, and degree-0 units see only
    the context, so the first variable's outputs depend on it too (in TFP's
    network they are constants). A hidden unit of degree ``k`` sees units of
    degree ``<= k``; output ``i`` sees hidden units of degree
    ``< position(i) + 1``. Masks are NumPy constants rebuilt in ``build()``
    from the order; only the order is stored in ``get_config()``. Each layer
    costs one matmul with ``kernel * mask`` (the product is skipped where a
    mask is all ones); leading batch dims are
    flattened, and the output layer's ``event_size * num_params`` units are laid
    out row-major so the final reshape to ``[..., event_size, num_params]`` is
    free.

    Args:
      event_shape: ``D`` or ``(D,)``, the number of autoregressive inputs (``x.shape[-1]``).
      num_params: number ``P`` of outputs per input.
      hidden_units: sizes of the hidden layers (may be empty). Use at least
        ``D - 1`` units per layer, else some outputs lose their dependencies.
      activation: hidden activation, anything ``keras.activations.get`` takes.
      order: ``"left-to-right"`` (``x_0`` first), ``"right-to-left"``,
        ``"random"`` (a permutation drawn from ``seed``), or an explicit
        sequence listing the variable indices in autoregressive order, e.g.
        ``[2, 0, 1]`` means ``x_2`` comes first and ``x_1`` last.
      seed: ``None`` or an integer seed for ``order="random"`` and the random initial
        weights (the same seed gives the same network).
      context_size: if given, ``call`` requires a ``context`` input of
        shape ``[..., context_size]``, connected densely (unmasked) to the
        first hidden layer (to the output layer if there are no hidden layers).
      kernel_initializer: initializer of the hidden kernels (masked entries
        start at zero).
      zero_init_output: if ``True`` (default) the output kernel(s) and bias
        start at zero, so the network outputs zeros and a new flow starts as
        the identity (with a suitable parameterisation).
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype`` ...).

    Raises:
      ValueError: if an argument is malformed, ``order`` is not a valid order,
        or ``context`` is passed / omitted against ``context_size``.

    Example:

    >>> made = MADE(event_shape=3, hidden_units=(8,))
    >>> made(tf.zeros((5, 3))).shape
    TensorShape([5, 3, 2])
    >>> MADE(event_shape=3, order="right-to-left").order
    array([2, 1, 0])
    """

    def __init__(
        self,
        event_shape,
        num_params=2,
        hidden_units=(64, 64),
        activation="relu",
        order="left-to-right",
        seed=None,
        context_size=None,
        kernel_initializer="glorot_uniform",
        zero_init_output=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        shape = check_event_shape(event_shape)
        if len(shape) != 1:
            raise ValueError(f"MADE is for vectors: event_shape must be (D,), got {shape}")
        self.event_shape = shape
        self.event_size = shape[0]
        self.num_params = check_positive_int(num_params, "num_params")
        self.hidden_units = check_hidden_units(hidden_units, allow_empty=True)
        if context_size is not None:
            context_size = check_positive_int(context_size, "context_size")
        self.context_size = context_size
        self.seed = None if seed is None else check_positive_int(seed, "seed", minimum=0)
        # One seed for the order, then one per kernel and one for the context kernel.
        self._seeds = spawn_seeds(seed, len(self.hidden_units) + 3)
        self._order = make_permutation(self.event_size, order, self._seeds[0], "`order`")
        self._order.flags.writeable = False
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.zero_init_output = bool(zero_init_output)

    @property
    def order(self):
        """The autoregressive order, a read-only int array (a permutation).

        ``order[k]`` is the index of the ``k``-th variable: output ``[..., i, :]``
        depends exactly on the inputs ``x[..., order[:k]]`` where
        ``order[k] == i``. A ``"random"`` order is drawn once, at construction.
        """
        return self._order

    def build(self, input_shape):
        if input_shape is not None and input_shape[-1] is not None:
            if int(input_shape[-1]) != self.event_size:
                raise ValueError(
                    f"MADE expects inputs with last dimension "
                    f"{self.event_size}; got input shape {tuple(input_shape)}."
                )
        masks = _made_masks(
            self._order,
            self.hidden_units,
            self.num_params,
            context=self.context_size is not None,
        )
        dtype = self.compute_dtype
        with tf.init_scope():  # Eager constants, even if first built in a graph.
            # An all-ones mask (e.g. hidden -> hidden when event_size == 2) is skipped.
            self._masks = [
                None if m.all() else tf.constant(m, dtype=dtype) for m in masks
            ]
        out_init = "zeros" if self.zero_init_output else self.kernel_initializer
        sizes = (self.event_size,) + self.hidden_units + (self.event_size * self.num_params,)

        def kernel_init(k, last):
            init = out_init if last else self.kernel_initializer
            return _masked_initializer(seeded_initializer(init, self._seeds[1 + k]), masks[k])

        self._kernels, self._biases = add_dense_stack(self, sizes, kernel_init)
        self._context_kernel = None
        if self.context_size is not None:
            init = out_init if len(sizes) == 2 else self.kernel_initializer
            self._context_kernel = self.add_weight(
                shape=(self.context_size, sizes[1]),
                initializer=seeded_initializer(init, self._seeds[-1]),
                name="context_kernel",
            )

    def call(self, x, context=None):
        check_context_given(self, context, self.context_size)
        d, p = self.event_size, self.num_params
        x, context, batch_shape = flat_rows(x, context, d, self.context_size)
        h = x
        last = len(self._kernels) - 1
        for k, (kernel, bias, mask) in enumerate(
            zip(self._kernels, self._biases, self._masks)
        ):
            h = tf.matmul(h, kernel if mask is None else kernel * mask)
            if k == 0 and context is not None:
                h = h + tf.matmul(context, self._context_kernel)
            h = tf.nn.bias_add(h, bias)
            if k != last:
                h = self.activation(h)
        return unflatten(h, batch_shape, (d, p))

    def compute_output_shape(self, x_shape, context_shape=None):
        return batch_output_shape(x_shape, context_shape, (self.event_size, self.num_params))

    def get_config(self):
        config = super().get_config()
        config.update(
            event_shape=list(self.event_shape),
            num_params=self.num_params,
            hidden_units=list(self.hidden_units),
            activation=keras.activations.serialize(self.activation),
            order=[int(i) for i in self._order],
            seed=self.seed,
            context_size=self.context_size,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            zero_init_output=self.zero_init_output,
        )
        return config


def _masked_initializer(initializer, mask):
    """Wraps ``initializer`` so that masked-out kernel entries start at zero."""
    initializer = keras.initializers.get(initializer)

    def init(shape, dtype=None):
        value = initializer(shape, dtype=dtype)
        return value * tf.constant(mask, dtype=value.dtype)

    return init
