"""The registry of flow layers: every FlowLayer of the package in a small configuration,
checked the same way by tests/layers/test_registry.py (as tests/bijectors/registry.py does for
bijectors).

Some layers change the event shape (SqueezeLayer, FactorOutLayer): :func:`event_shape` is the
data-side shape a layer acts on, :func:`latent_shape` what its inverse gives (the forward
map's input); :func:`sample_input` draws base-side points, :func:`sample_data` data-side ones.
Layers with running statistics (BatchNormLayer) are built initialised from data, as ``fit``
leaves them, so that inference works."""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors import Affine, RationalQuadratic
from tfp_flows.layers import (
    ActNormLayer,
    AutoregressiveLayer,
    BatchNormLayer,
    BijectorLayer,
    CouplingLayer,
    FactorOutLayer,
    InvertibleLinearLayer,
    LogitLayer,
    PermuteLayer,
    PReLULayer,
    SqueezeLayer,
)

tfb = tfp.bijectors

IMAGE = (4, 4, 2)


@keras.saving.register_keras_serializable(package="tfp_flows_tests")
class TinyConv(keras.layers.Layer):
    """A Conv2D conditioner mapping [n, H, W, C] to [n, H, W, C, 2] (shift, log-scale); a
    channel coupling gives it the conditioning half of the channels."""

    def __init__(self, channels, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.seed = seed
        self.conv = keras.layers.Conv2D(
            2 * self.channels, 3, padding="same",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=seed),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=seed + 1))

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, x):
        out = self.conv(x)
        return tf.reshape(out, tf.concat([tf.shape(x), [2]], axis=0))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "seed": self.seed}


def _image_coupling(mask="checkerboard", reverse_mask=False, seed=0, shape=IMAGE):
    # A channel coupling's conditioner maps the conditioning half of the channels to
    # parameters for the other half (even channel counts here).
    channels = shape[-1] if mask == "checkerboard" else shape[-1] // 2
    return CouplingLayer(shape, mask=mask, reverse_mask=reverse_mask,
                         conditioner=TinyConv(channels, seed=seed))


def _batch_norm(shape):
    """Initialised from data far from zero mean and unit variance (a non-trivial map)."""
    layer = BatchNormLayer(shape, momentum=0.9)
    rng = np.random.default_rng(21)
    layer.initialize((rng.normal(size=(32,) + tuple(shape)) * 2.0 + 1.5).astype("float32"))
    return layer


def _factor_out():
    """Two scales on IMAGE (4, 4, 2): 1 channel factored out, the kept (4, 4, 1) squeezed to
    (2, 2, 4), of which 2 channels go through a channel coupling and an ActNorm."""
    deepest = (2, 2, 2)
    inner = FactorOutLayer((2, 2, 4), [ActNormLayer(deepest),
                                       _image_coupling("channel", seed=5, shape=deepest)])
    return FactorOutLayer(IMAGE, [inner, SqueezeLayer((4, 4, 1))])


LAYERS = {
    "affine_coupling": lambda: CouplingLayer((3,), hidden_units=(8,)),
    "additive_coupling_reversed": lambda: CouplingLayer(
        (3,), transform="additive", reverse_mask=True, num_masked=1, hidden_units=(8,),
        activation="tanh"),
    "checkerboard_coupling": lambda: _image_coupling(),
    "channel_coupling": lambda: _image_coupling("channel", reverse_mask=True),
    "maf": lambda: AutoregressiveLayer(3, hidden_units=(8,), order="random", seed=3),
    "iaf": lambda: AutoregressiveLayer(3, transform=Affine(2.0), hidden_units=(8,),
                                       inverse=True),
    "actnorm": lambda: ActNormLayer(3),
    "actnorm_image": lambda: ActNormLayer(IMAGE),
    "invertible_linear": lambda: InvertibleLinearLayer(3, seed=1),
    "invertible_linear_image": lambda: InvertibleLinearLayer(IMAGE, seed=2),
    "invertible_linear_identity_start": lambda: InvertibleLinearLayer(
        3, permutation=[2, 0, 1], initializer="identity"),
    "permute": lambda: PermuteLayer([2, 0, 1]),
    "prelu_shared": lambda: PReLULayer(alpha=0.7),
    "prelu_per_dim": lambda: PReLULayer(event_shape=3, alpha=0.3),
    "spline_coupling": lambda: CouplingLayer((3,), transform=RationalQuadratic(4),
                                             hidden_units=(8,), reverse_mask=True),
    "spline_autoregressive": lambda: AutoregressiveLayer(
        3, transform=RationalQuadratic(4), hidden_units=(8,), order="right-to-left"),
    "fixed_shift_scale": lambda: BijectorLayer(tfb.Chain([tfb.Shift([1.0, 2.0, 3.0]),
                                                          tfb.Scale(0.5)])),
    "squeeze": lambda: SqueezeLayer(IMAGE),
    "factor_out_two_scales": _factor_out,
    "batch_norm": lambda: _batch_norm((3,)),
    "batch_norm_image": lambda: _batch_norm(IMAGE),
    "logit": lambda: LogitLayer(num_levels=4, alpha=0.1),
}

#: Layers without trainable weights (the round-trip test cannot perturb them).
FIXED = ("permute", "fixed_shift_scale", "squeeze", "logit")


def event_shape(layer):
    """The data-side event shape a registry layer acts on."""
    shape = getattr(layer, "event_shape", None)
    return tuple(shape) if shape else (3,)


def latent_shape(layer):
    """The base-side event shape: what the layer's inverse gives for ``event_shape``."""
    return tuple(layer.inverse_event_shape(event_shape(layer)))


def sample_input(layer, n=6, seed=0):
    """Base-side points (the forward map's input)."""
    return np.random.default_rng(seed).normal(size=(n,) + latent_shape(layer)).astype("float32")


def sample_data(layer, n=6, seed=0):
    """Data-side points (the inverse's input): pixels in (0, K) for a LogitLayer."""
    rng = np.random.default_rng(seed)
    shape = (n,) + event_shape(layer)
    if isinstance(layer, LogitLayer):
        return rng.uniform(0.0, layer.num_levels, size=shape).astype("float32")
    return rng.normal(size=shape).astype("float32")


def perturb(layer, scale=0.3, seed=0):
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        w.assign(w.numpy() + scale * rng.normal(size=w.shape).astype(w.dtype))
