"""``GlowDefaultNetwork`` and ``GlowDefaultExitNetwork``: the convolutional networks of TFP's
``tfb.Glow`` as Keras 3 layers."""
import keras

from tfp_flows.validation import check_image_shape, check_positive_int

__all__ = ["GlowDefaultExitNetwork", "GlowDefaultNetwork"]


class _ConvStack(keras.layers.Layer):
    """Convolutions built for images of ``input_shape`` at construction (as TFP's
    ``Sequential`` networks with an ``Input``), so that stock ``tfb.Glow`` sees their weights
    at once."""

    def __init__(self, input_shape, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(input_shape, type(self).__name__, "input_shape")

    def _finish(self, convs):
        self.convs = convs
        self.build((None,) + self.image_shape)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv in self.convs:
            conv.build(shape)
            shape = shape[:-1] + (conv.filters,)

    def call(self, x):
        for conv in self.convs:
            x = conv(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.convs[-1].filters,)


@keras.saving.register_keras_serializable(package="tfp_flows.compat")
class GlowDefaultNetwork(_ConvStack):
    """TFP's default Glow coupling network as a Keras 3 layer: a ``kernel_shape`` convolution
    to ``num_hidden`` channels, a 1x1 one to ``num_hidden`` (both ReLU, He-normal), and a
    ``kernel_shape`` convolution to ``2 * channels`` that starts at zero (so every coupling
    starts with the scale ``sigmoid(2)`` and no shift, as in TFP).

    Stock ``tfb.Glow`` builds one per coupling by calling ``coupling_bijector_fn(input_shape)``:
    pass this class (``coupling_bijector_fn=GlowDefaultNetwork``) or, for other sizes,
    ``functools.partial(GlowDefaultNetwork, num_hidden=64)`` (a ``lambda`` works too, but a
    :class:`~tfp_flows.compat.StockFlowLayer` saves only a class or a ``functools.partial``).

    Args:
      input_shape: ``(height, width, channels)`` of the conditioning half.
      num_hidden: channels of the two hidden convolutions.
      kernel_shape: size of the first and last convolutions' kernels.

    Example:
        >>> net = GlowDefaultNetwork((4, 4, 2), num_hidden=8)
        >>> out = net(keras.ops.ones((1, 4, 4, 2)))
        >>> tuple(out.shape), float(keras.ops.max(keras.ops.abs(out)))
        ((1, 4, 4, 4), 0.0)
    """

    def __init__(self, input_shape, num_hidden=400, kernel_shape=3, **kwargs):
        super().__init__(input_shape, **kwargs)
        self.num_hidden = check_positive_int(num_hidden, "num_hidden")
        self.kernel_shape = check_positive_int(kernel_shape, "kernel_shape")
        hidden = dict(padding="same", kernel_initializer="he_normal", activation="relu")
        self._finish([
            keras.layers.Conv2D(self.num_hidden, self.kernel_shape, name="conv_0", **hidden),
            keras.layers.Conv2D(self.num_hidden, 1, name="conv_1", **hidden),
            keras.layers.Conv2D(2 * self.image_shape[-1], self.kernel_shape, padding="same",
                                kernel_initializer="zeros", bias_initializer="zeros",
                                name="conv_2"),
        ])

    def get_config(self):
        return {**super().get_config(), "input_shape": list(self.image_shape),
                "num_hidden": self.num_hidden, "kernel_shape": self.kernel_shape}


@keras.saving.register_keras_serializable(package="tfp_flows.compat")
class GlowDefaultExitNetwork(_ConvStack):
    """TFP's default Glow exit network as a Keras 3 layer: one ``kernel_shape`` convolution to
    ``2 * output_chan`` channels that starts at zero.

    Stock ``tfb.Glow`` builds one per exit by calling
    ``exit_bijector_fn(input_shape, output_chan=...)``: pass this class
    (``exit_bijector_fn=GlowDefaultExitNetwork``).

    Args:
      input_shape: ``(height, width, channels)`` of the channels that stay in the flow.
      output_chan: number of channels that exit (the output has twice as many: scale and
        shift).
      kernel_shape: size of the convolution's kernel.

    Example:
        >>> net = GlowDefaultExitNetwork((4, 4, 2), output_chan=3)
        >>> tuple(net(keras.ops.ones((1, 4, 4, 2))).shape)
        (1, 4, 4, 6)
    """

    def __init__(self, input_shape, output_chan, kernel_shape=3, **kwargs):
        super().__init__(input_shape, **kwargs)
        self.output_chan = check_positive_int(output_chan, "output_chan")
        self.kernel_shape = check_positive_int(kernel_shape, "kernel_shape")
        self._finish([keras.layers.Conv2D(2 * self.output_chan, self.kernel_shape,
                                          padding="same", kernel_initializer="zeros",
                                          bias_initializer="zeros", name="conv_0")])

    def get_config(self):
        return {**super().get_config(), "input_shape": list(self.image_shape),
                "output_chan": self.output_chan, "kernel_shape": self.kernel_shape}
