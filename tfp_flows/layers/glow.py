"""Glow's building blocks as Keras flow layers: ActNorm and the LU invertible linear map."""
import keras
import numpy as np

from tfp_flows.bijectors.actnorm import ActNorm, actnorm_statistics
from tfp_flows.bijectors.invertible_linear import InvertibleLinear, random_lu_init
from tfp_flows.layers.base import DataInitializedLayer, FlowLayer, check_event_shape

__all__ = ["ActNormLayer", "InvertibleLinearLayer", "LINEAR_INITIALIZERS"]

#: Starting matrices :class:`InvertibleLinearLayer` knows (see its ``initializer``).
LINEAR_INITIALIZERS = ("rotation", "identity")


def per_feature_shape(event_shape, what):
    """``(event_shape, features, event_ndims)`` of a per-feature layer: vectors ``(D,)`` or
    images ``(H, W, C)`` (features on the last axis); a ``ValueError`` for other shapes."""
    shape = check_event_shape(event_shape)
    if len(shape) not in (1, 3):
        raise ValueError(f"{what} acts on vectors (D,) or images (H, W, C), got event_shape "
                         f"{shape}")
    return shape, shape[-1], len(shape)


@keras.saving.register_keras_serializable(package="tfp_flows")
class ActNormLayer(DataInitializedLayer):
    """Owns ActNorm's ``loc`` and ``log_scale`` (Keras weights) and a saved ``initialized`` flag.

    :meth:`tfp_flows.FlowModel.initialize_from_data` calls :meth:`initialize` with the
    training data as it arrives at this layer (data side), before ``fit`` starts, so the
    layer's latent output starts zero-mean and unit-variance (Glow's data-dependent
    initialisation). With ``trainable=False`` the layer is a fixed standardisation of the
    data inside the model (the builders' ``standardize=True``): a saved model then gives
    densities and samples in data units.

    Args:
      event_shape: ``(D,)`` (one scale per entry) or ``(H, W, C)`` (one per channel).
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``, ``trainable``).

    Example:
        >>> layer = ActNormLayer(event_shape=2)
        >>> layer.initialize(np.array([[1.0, 10.0], [3.0, 30.0]], "float32"))
        >>> layer.bijector().inverse(np.array([[3.0, 30.0]], "float32")).numpy().round(3)
        array([[1., 1.]], dtype=float32)
    """

    per_feature = True

    def __init__(self, event_shape, **kwargs):
        super().__init__(**kwargs)
        self.event_shape, features, self.event_ndims = per_feature_shape(event_shape,
                                                                         "ActNormLayer")
        self.loc = self.add_weight(shape=(features,), initializer="zeros", name="loc")
        self.log_scale = self.add_weight(shape=(features,), initializer="zeros",
                                         name="log_scale")
        self.add_initialized_flag()
        self.built = True

    def initialize(self, y):
        """Sets ``loc``/``log_scale`` so the batch ``y`` maps to zero mean, unit variance."""
        y = self.initial_data(y)
        loc, log_scale = actnorm_statistics(y)
        self.loc.assign(loc)
        self.log_scale.assign(log_scale)
        self.initialized.assign(1.0)

    def bijector(self, context=None, training=False):
        self.check_context(context)
        return ActNorm(loc=self.loc.value, log_scale=self.log_scale.value,
                       event_ndims=self.event_ndims, name=self.name)

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape)}


@keras.saving.register_keras_serializable(package="tfp_flows")
class InvertibleLinearLayer(FlowLayer):
    """Owns the LU factors of :class:`~tfp_flows.bijectors.InvertibleLinear` as Keras weights.

    Args:
      event_shape: ``(D,)`` (a ``D x D`` matrix) or ``(H, W, C)`` (a ``C x C`` matrix at every
        pixel: Glow's invertible 1x1 convolution).
      seed: ``None`` or an int: the starting random rotation (:func:`random_lu_init`).
      permutation: the fixed permutation of the LU factorisation (saved in the config, so a
        loaded model rebuilds the same matrix); drawn with the rotation by default, the
        identity for ``initializer="identity"``.
      initializer: the starting matrix. ``"rotation"`` (default; Glow's choice for images):
        a random rotation drawn from ``seed``. ``"identity"``: ``W = P`` exactly (``L = U = I``,
        ``log_diag = 0``), the identity or the given ``permutation``, from which training
        learns the mixing (nflows' ``LULinear(identity_init=True)``). The vector
        :func:`~tfp_flows.glow` uses it: on 2-D data a random rotation costs axis-aligned
        couplings much of their fit and trains back only slowly (BENCHMARKS.md, "Glow on
        small 2-D data").
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Example:
        >>> layer = InvertibleLinearLayer(event_shape=2, seed=0)
        >>> sorted(w.name for w in layer.trainable_weights)
        ['log_diag', 'lower', 'upper']
        >>> swap = InvertibleLinearLayer(event_shape=2, permutation=[1, 0], initializer="identity")
        >>> swap.bijector().matrix().numpy()
        array([[0., 1.],
               [1., 0.]], dtype=float32)
    """

    per_feature = True

    def __init__(self, event_shape, seed=None, permutation=None, initializer="rotation",
                 **kwargs):
        super().__init__(**kwargs)
        self.event_shape, size, self.event_ndims = per_feature_shape(event_shape,
                                                                "InvertibleLinearLayer")
        if initializer not in LINEAR_INITIALIZERS:
            raise ValueError(f"initializer must be one of {LINEAR_INITIALIZERS}, got "
                             f"{initializer!r}")
        self.seed = seed
        self.initializer = initializer
        if initializer == "rotation":
            perm, lower, upper, log_diag = random_lu_init(size, seed, dtype="float64")
        else:
            perm, lower, upper = np.arange(size), np.zeros((size, size)), np.zeros((size, size))
            log_diag = np.zeros(size)
        self.permutation = [int(i) for i in (perm if permutation is None else permutation)]
        init = lambda value: keras.initializers.Constant(np.asarray(value))  # noqa: E731
        self.lower = self.add_weight(shape=(size, size), initializer=init(lower), name="lower")
        self.upper = self.add_weight(shape=(size, size), initializer=init(upper), name="upper")
        self.log_diag = self.add_weight(shape=(size,), initializer=init(log_diag),
                                        name="log_diag")
        self.built = True

    def bijector(self, context=None, training=False):
        self.check_context(context)
        return InvertibleLinear(permutation=self.permutation, lower=self.lower.value,
                                upper=self.upper.value, log_diag=self.log_diag.value,
                                event_ndims=self.event_ndims, name=self.name)

    def get_config(self):
        return {**super().get_config(), "event_shape": list(self.event_shape), "seed": self.seed,
                "permutation": list(self.permutation), "initializer": self.initializer}
