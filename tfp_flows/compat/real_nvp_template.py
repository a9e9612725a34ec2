"""``real_nvp_default_template``: TFP's Real NVP shift-and-log-scale MLP as a Keras 3 layer."""
import keras
import tensorflow as tf

from tfp_flows.compat.common import dense_kwargs, get_activation, serialize_activation
from tfp_flows.validation import check_positive_int

__all__ = ["RealNVPDefaultTemplate", "real_nvp_default_template"]


@keras.saving.register_keras_serializable(package="tfp_flows.compat")
class RealNVPDefaultTemplate(keras.layers.Layer):
    r"""The multi-layer perceptron of TFP's ``real_nvp_default_template`` as a Keras 3 layer:
    ``layer(x0, output_units) -> (shift, log_scale)``, each ``[..., output_units]``
    (``log_scale`` is ``None`` with ``shift_only=True``, Real NVP's additive form, NICE).

    Stock ``tfb.RealNVP(num_masked, shift_and_log_scale_fn=layer)`` calls it so. As TFP's
    template, it builds its weights on the first call (``output_units`` comes then) and
    refuses conditioning keywords; dense layer ``k`` is ``h_k = activation(h_{k-1} W_k +
    b_k)``, the last one linear with ``2 * output_units`` units (shift first, then
    log-scale); weights start as TFP's do (Glorot-uniform kernels, zero biases), not at the
    identity. Build it with :func:`real_nvp_default_template`.

    Args:
      hidden_layers: sizes of the hidden layers.
      shift_only: compute only the shift.
      activation: hidden activation (``tf.nn.relu`` by default, as TFP); ``None`` is linear.
      output_units: the number of transformed entries, if known; the first call sets it.
      dense_kwargs: ``tf.layers.dense`` keyword arguments passed to every dense layer
        (``use_bias``, ``kernel_initializer``, ``bias_initializer``, the regularisers and
        constraints).
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).
    """

    def __init__(self, hidden_layers, shift_only=False, activation="relu", output_units=None,
                 dense_kwargs=None, **kwargs):
        super().__init__(**kwargs)
        try:
            self.hidden_layers = [check_positive_int(u, "hidden_layers entries")
                                  for u in hidden_layers]
        except TypeError:
            raise ValueError(f"hidden_layers must be a list of positive integers such as "
                             f"[512, 512], got {hidden_layers!r}") from None
        if not isinstance(shift_only, bool):
            raise ValueError(f"shift_only must be True or False, got {shift_only!r}")
        self.shift_only = shift_only
        self.activation = get_activation(activation)
        self.dense_kwargs = _dense_config(dense_kwargs or {})
        self.output_units = None
        self._hidden = [keras.layers.Dense(units, activation=self.activation,
                                           name=f"dense_{k}", **self._dense_args())
                        for k, units in enumerate(self.hidden_layers)]
        self._output = None
        if output_units is not None:
            self._make_output(output_units)

    def _dense_args(self):
        return {key: keras.saving.deserialize_keras_object(value) if isinstance(value, dict)
                else value for key, value in self.dense_kwargs.items()}

    def _make_output(self, output_units):
        units = check_positive_int(output_units, "output_units")
        if self.output_units is not None:
            if units != self.output_units:
                raise ValueError(f"{self.name} was built for output_units={self.output_units}, "
                                 f"got {units}: use one template per RealNVP layer")
            return
        self.output_units = units
        self._output = keras.layers.Dense((1 if self.shift_only else 2) * units,
                                          name=f"dense_{len(self.hidden_layers)}",
                                          **self._dense_args())

    def build(self, x_shape):
        size = x_shape[-1]
        if size is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known")
        shape = (None, int(size))
        for layer in self._hidden:
            layer.build(shape)
            shape = (None, layer.units)
        if self._output is None:
            raise ValueError(f"{self.name} needs output_units to be built: call it as "
                             "fn(x, output_units)")
        self._output.build(shape)

    def __call__(self, x, output_units=None, **condition_kwargs):
        if condition_kwargs:
            raise NotImplementedError(
                "Conditioning not implemented in the default template (got "
                f"{sorted(condition_kwargs)}); use a conditional network such as "
                "tfp_flows.nets.CouplingMLP")
        if output_units is None and self.output_units is None:
            raise ValueError(f"{self.name} needs output_units on its first call: "
                             "fn(x, output_units)")
        if output_units is not None:
            self._make_output(output_units)
        return super().__call__(x)

    def call(self, x):
        x = tf.convert_to_tensor(x, self.compute_dtype)
        single = x.shape.rank == 1
        h = x[tf.newaxis] if single else x
        for layer in self._hidden:
            h = layer(h)
        h = self._output(h)
        if single:
            h = h[0]
        if self.shift_only:
            return h, None
        shift, log_scale = tf.split(h, 2, axis=-1)
        return shift, log_scale

    def compute_output_shape(self, x_shape):
        out = tuple(x_shape[:-1]) + (self.output_units,)
        return out, None if self.shift_only else out

    def get_config(self):
        return {**super().get_config(), "hidden_layers": list(self.hidden_layers),
                "shift_only": self.shift_only,
                "activation": serialize_activation(self.activation, self.name),
                "output_units": self.output_units, "dense_kwargs": self.dense_kwargs}


def _dense_config(kwargs):
    """Dense keyword arguments as saved: Keras objects by their config, values as they are."""
    out = {}
    for key, value in kwargs.items():
        if key == "use_bias" or value is None or isinstance(value, (str, dict)):
            out[key] = value
        else:
            out[key] = keras.saving.serialize_keras_object(value)
    return out


def real_nvp_default_template(hidden_layers, shift_only=False, activation=tf.nn.relu, name=None,
                              *args, **kwargs):
    """TFP's ``tfb.real_nvp_default_template`` returning a Keras 3 layer.

    The result is called as TFP's template, ``fn(x0, output_units) -> (shift, log_scale)``,
    and is the ``shift_and_log_scale_fn`` of stock ``tfb.RealNVP``; its weights are Keras
    weights (``fit`` trains them, a :class:`~tfp_flows.compat.StockFlowLayer` saves them).

    Args:
      hidden_layers: sizes of the hidden layers, e.g. ``[512, 512]``.
      shift_only: compute only the shift (``log_scale`` is ``None``; NICE).
      activation: hidden activation (``tf.nn.relu``); ``None`` is linear.
      name: the layer's name (default ``"real_nvp_default_template"``).
      *args: refused: TFP forwards them to ``tf.layers.dense`` after its keyword arguments,
        where they fail too; pass dense arguments by keyword.
      **kwargs: ``tf.layers.dense`` keyword arguments: ``use_bias``, ``kernel_initializer``,
        ``bias_initializer``, ``kernel_regularizer``, ``bias_regularizer``,
        ``activity_regularizer``, ``kernel_constraint``, ``bias_constraint``.

    Returns:
      A :class:`RealNVPDefaultTemplate`.

    Example:
        >>> import tensorflow_probability as tfp
        >>> fn = real_nvp_default_template([16, 16])
        >>> nvp = tfp.bijectors.RealNVP(num_masked=2, shift_and_log_scale_fn=fn)
        >>> nvp.forward(tf.zeros([5, 3])).shape, [tuple(w.shape) for w in fn.weights][-1]
        (TensorShape([5, 3]), (2,))
    """
    if args:
        raise TypeError("real_nvp_default_template: pass the dense-layer arguments by keyword "
                        f"(kernel_initializer=..., use_bias=...), got positional {args!r}")
    return RealNVPDefaultTemplate(hidden_layers, shift_only=shift_only, activation=activation,
                                  dense_kwargs=dense_kwargs(kwargs, "real_nvp_default_template"),
                                  name=name or "real_nvp_default_template")
