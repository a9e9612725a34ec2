"""A convolutional residual network as the conditioner of image couplings (Real NVP, Glow)."""
import keras
import tensorflow as tf

from tfp_flows.seeds import SeedStream
from tfp_flows.validation import check_positive_int

__all__ = ["ResNet"]


@keras.saving.register_keras_serializable(package="tfp_flows")
class ResNet(keras.layers.Layer):
    r"""Conditioner for image couplings: maps ``x * mask`` of shape ``[n, H, W, C]`` (and an
    optional context vector) to ``[n, H, W, C, P]`` parameters.

    .. math::
        h_0 = \mathrm{conv}_{in}(x) + W_c\,c, \qquad
        h_{b} = h_{b-1} + \mathrm{conv}_{b,2}\big(\sigma(\mathrm{conv}_{b,1}(\sigma(h_{b-1})))\big),
        \qquad \theta = \mathrm{conv}_{out}(\sigma(h_B)),

    with ``k x k`` convolutions (``same`` padding) of ``hidden_channels`` channels and
    ``conv_out`` starting at zero, so a coupling built on it starts as the identity. With
    ``pointwise=True`` a ``1 x 1`` convolution and the activation come before ``conv_out``:
    ``num_blocks=0, pointwise=True`` is Glow's network (conv 3x3, ReLU, conv 1x1, ReLU, zero
    conv 3x3), as in TFP's ``GlowDefaultNetwork``. Output
    channel ``c P + p`` holds parameter ``p`` of input channel ``c``. With
    ``log_scale_index=i`` parameter ``i`` becomes Real NVP's bounded log-scale
    ``s = scale_c \tanh(\theta_i)`` with a learned per-channel ``scale_c`` (starting at 1).

    Args:
      num_params: ``P``, parameters per entry (2 for the affine transform: shift, log-scale).
      hidden_channels: channels of the hidden convolutions.
      num_blocks: residual blocks (an integer >= 0).
      kernel_size: odd size ``k`` of the convolutions.
      activation: any Keras activation name.
      pointwise: add the ``1 x 1`` convolution before the output (Glow).
      output_channels: channels ``C'`` of the output, ``[n, H, W, C', P]`` (default: the
        input's ``C``; a channel coupling on an odd number of channels needs another).
      log_scale_index: ``None``, or which parameter is a log-scale to bound with
        ``scale * tanh`` (1 for :class:`~tfp_flows.bijectors.Affine`).
      seed: ``None`` or an int: the hidden convolutions' random initial weights.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    The input's channels (and the context's width, when a context is passed) are fixed at
    the first call.

    Example:
        >>> net = ResNet(num_params=2, hidden_channels=8, num_blocks=1)
        >>> out = net(tf.ones([3, 4, 4, 2]))
        >>> out.shape, float(tf.reduce_max(tf.abs(out)))   # zero at start
        (TensorShape([3, 4, 4, 2, 2]), 0.0)
    """

    def __init__(self, num_params=2, hidden_channels=64, num_blocks=2, kernel_size=3,
                 activation="relu", log_scale_index=None, seed=None, pointwise=False,
                 output_channels=None, **kwargs):
        super().__init__(**kwargs)
        self.num_params = check_positive_int(num_params, "num_params")
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels")
        self.num_blocks = check_positive_int(num_blocks, "num_blocks", minimum=0)
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        try:
            self.activation = keras.activations.get(activation)
        except (ValueError, TypeError):
            raise ValueError(f"activation must be a Keras activation name such as 'relu', got "
                             f"{activation!r}") from None
        self._activation_name = activation if isinstance(activation, str) else \
            keras.activations.serialize(self.activation)
        if log_scale_index is not None and not 0 <= int(log_scale_index) < self.num_params:
            raise ValueError(f"log_scale_index must be None or in [0, {self.num_params}), got "
                             f"{log_scale_index!r}")
        self.log_scale_index = None if log_scale_index is None else int(log_scale_index)
        self.seed = None if seed is None else check_positive_int(seed, "seed", minimum=0)
        if not isinstance(pointwise, bool):
            raise ValueError(f"pointwise must be True or False, got {pointwise!r}")
        self.pointwise = pointwise
        self.output_channels = (None if output_channels is None
                                else check_positive_int(output_channels, "output_channels"))
        self._channels = None
        self._context_size = None
        self._seeds = SeedStream(self.seed)  # one seed per convolution, in build order

    def _conv(self, filters, kernel_size, zeros=False):
        init = "zeros" if zeros else keras.initializers.GlorotUniform(seed=next(self._seeds))
        return keras.layers.Conv2D(filters, kernel_size, padding="same",
                                   dtype=self.dtype_policy, kernel_initializer=init)

    def build(self, x_shape, context_shape=None):
        if len(x_shape) < 4 or x_shape[-1] is None:
            raise ValueError(f"ResNet expects images [n, height, width, channels] with known "
                             f"channels, got shape {tuple(x_shape)}")
        self._channels = int(x_shape[-1])
        k, hidden = self.kernel_size, self.hidden_channels
        image = (None,) + tuple(x_shape[-3:-1])
        self.conv_in = self._conv(hidden, k)
        self.conv_in.build(image + (self._channels,))
        self.blocks = []
        for _ in range(self.num_blocks):
            first, second = self._conv(hidden, k), self._conv(hidden, k)
            first.build(image + (hidden,))
            second.build(image + (hidden,))
            self.blocks.append([first, second])
        if self.pointwise:
            self.conv_pointwise = self._conv(hidden, 1)
            self.conv_pointwise.build(image + (hidden,))
        self._out_channels = self.output_channels or self._channels
        self.conv_out = self._conv(self._out_channels * self.num_params, k, zeros=True)
        self.conv_out.build(image + (hidden,))
        if context_shape is not None:
            self._context_size = int(context_shape[-1])
            self.context_dense = keras.layers.Dense(hidden, dtype=self.dtype_policy)
            self.context_dense.build((None, self._context_size))
        if self.log_scale_index is not None:
            self.scale = self.add_weight(shape=(self._channels,), initializer="ones",
                                         name="scale")

    def call(self, x, context=None):
        if (context is None) != (self._context_size is None):
            raise ValueError(
                f"this ResNet was built {'with' if self._context_size else 'without'} a context "
                f"input; got {'none' if context is None else 'one'}")
        batch = tf.shape(x)[:-3]
        event = x.shape[-3:].as_list()
        h = tf.reshape(x, [-1] + event) if x.shape.rank != 4 else x
        h = self.conv_in(h)
        if context is not None:
            h += self.context_dense(tf.reshape(context, [-1, self._context_size]))[:, None, None]
        for first, second in self.blocks:
            h = h + second(self.activation(first(self.activation(h))))
        h = self.activation(h)
        if self.pointwise:
            h = self.activation(self.conv_pointwise(h))
        out = self.conv_out(h)
        event = event[:2] + [self._out_channels, self.num_params]
        if x.shape.rank == 4:
            out = tf.reshape(out, [-1] + event)
        else:
            out = tf.reshape(out, tf.concat([batch, event], 0))
        if self.log_scale_index is None:
            return out
        i = self.log_scale_index
        bounded = self.scale * tf.tanh(out[..., i])
        parts = tf.unstack(out, axis=-1)
        parts[i] = bounded
        return tf.stack(parts, axis=-1)

    def compute_output_shape(self, x_shape, context_shape=None):
        channels = self.output_channels or x_shape[-1]
        return tuple(x_shape[:-1]) + (channels, self.num_params)

    def get_config(self):
        return {**super().get_config(), "num_params": self.num_params,
                "hidden_channels": self.hidden_channels, "num_blocks": self.num_blocks,
                "kernel_size": self.kernel_size, "activation": self._activation_name,
                "log_scale_index": self.log_scale_index, "seed": self.seed,
                "pointwise": self.pointwise, "output_channels": self.output_channels}
