"""Coupling layers (NICE, Real NVP, neural spline couplings) as Keras flow layers."""
import keras
import tensorflow as tf

from tfp_flows.bijectors.coupling import Coupling
from tfp_flows.bijectors.masks import channel_mask, checkerboard_mask, split_sizes
from tfp_flows.bijectors.transforms import get_transform
from tfp_flows.layers.base import FlowLayer, check_event_shape
from tfp_flows.nets.coupling_mlp import CouplingMLP
from tfp_flows.validation import check_hidden_units, check_positive_int

__all__ = ["CouplingLayer"]

_MASKS = ("half", "checkerboard", "channel")


@keras.saving.register_keras_serializable(package="tfp_flows")
class CouplingLayer(FlowLayer):
    """Owns a coupling conditioner and builds a :class:`~tfp_flows.bijectors.Coupling`.

    Args:
      event_shape: the event's shape: ``(D,)`` for vectors, ``(H, W, C)`` for images.
      transform: the elementwise transform: ``"affine"`` (Real NVP, default), ``"additive"``
        (NICE), ``"rational_quadratic"``, a :class:`~tfp_flows.bijectors.Transform` or its
        config dict.
      mask: ``"half"`` (vectors: the first ``num_masked`` entries condition, half by
        default; the last ones with ``reverse_mask``), ``"checkerboard"`` or ``"channel"``
        (images).
      reverse_mask: swap the conditioning and transformed entries.
      num_masked: number of conditioning entries for ``mask="half"``.
      hidden_units: hidden sizes of the default :class:`~tfp_flows.nets.CouplingMLP`.
      activation: its hidden activation.
      seed: ``None`` or an int for its random initial weights.
      context_size: ``None`` (unconditional), or ``K``: the layer is conditional and its
        conditioner gets a context ``[..., K]`` as ``conditioner(x_b, context=c)`` (the
        default MLP concatenates it to its input).
      conditioner: a Keras layer to use instead of the default; required for image masks. It
        maps the conditioning part to parameters for the transformed part, with a trailing
        axis of ``num_params``: ``[..., d] -> [..., D - d, P]`` for vectors; for
        ``mask="checkerboard"`` ``x * mask`` ``[..., H, W, C] -> [..., H, W, C, P]``; for
        ``mask="channel"`` the ``d`` conditioning channels ``[..., H, W, d] ->
        [..., H, W, C - d, P]`` (a split of the last axis, as Glow's couplings). Its
        weights are this layer's weights and it is saved with the layer.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    The default conditioner's last layer starts at zero, so the layer starts as the identity.

    Example:
        >>> import numpy as np
        >>> layer = CouplingLayer(event_shape=(2,), hidden_units=(8,))
        >>> layer(np.ones((3, 2), "float32")).numpy().tolist()   # identity at start
        [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """

    def __init__(self, event_shape, transform="affine", mask="half", reverse_mask=False,
                 num_masked=None, hidden_units=(64, 64), activation="relu", conditioner=None,
                 context_size=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.context_size = None if context_size is None else check_positive_int(
            context_size, "context_size")
        self.event_shape = check_event_shape(event_shape)
        self.transform = get_transform(transform)
        if mask not in _MASKS:
            raise ValueError(f"mask must be one of {_MASKS}, got {mask!r}")
        self.mask_kind = mask
        self.reverse_mask = bool(reverse_mask)
        self.num_masked = None if num_masked is None else int(num_masked)
        self.hidden_units = check_hidden_units(hidden_units, allow_empty=True)
        self.activation = activation
        self.seed = seed
        self._default_conditioner = conditioner is None
        if mask == "half":
            if len(self.event_shape) != 1:
                raise ValueError(
                    f"mask='half' is for vector events, got event_shape {self.event_shape}; "
                    "use mask='checkerboard' or 'channel' for images")
            size = self.event_shape[0]
            self._split = split_sizes(size, self.num_masked, None, self.reverse_mask, self.name)
            num_cond = self._split[1] if self.reverse_mask else self._split[0]
            self._mask = None
            if conditioner is None:
                conditioner = CouplingMLP(
                    output_units=size - num_cond, num_params=self.transform.num_params,
                    hidden_units=self.hidden_units, activation=activation, seed=seed,
                    dtype=self.dtype_policy)
            build_shape = (1, num_cond)
        elif mask == "channel":
            # A split of the last axis: the conditioner sees only the conditioning channels
            # and gives parameters for the others (half the work of masking all of them).
            channels = channel_mask(self.event_shape, reverse=self.reverse_mask)[0, 0]
            num_cond = int(channels.sum())
            self._split = (num_cond, len(channels) - num_cond)
            self._mask = None
            if conditioner is None:
                raise ValueError(
                    f"mask='channel' needs a conditioner: a Keras layer mapping the "
                    f"{num_cond} conditioning channels [..., "
                    f"{', '.join(map(str, self.event_shape[:2]))}, {num_cond}] to parameters "
                    f"for the other {len(channels) - num_cond}: [..., "
                    f"{', '.join(map(str, self.event_shape[:2]))}, "
                    f"{len(channels) - num_cond}, {self.transform.num_params}]")
            build_shape = (1,) + self.event_shape[:2] + (num_cond,)
        else:
            if conditioner is None:
                raise ValueError(
                    f"mask={mask!r} needs a conditioner: a Keras layer mapping [..., "
                    f"{', '.join(map(str, self.event_shape))}] to the same shape plus "
                    f"[{self.transform.num_params}]")
            self._mask = checkerboard_mask(self.event_shape, reverse=self.reverse_mask)
            build_shape = (1,) + self.event_shape
        self.conditioner = conditioner
        # Always call the conditioner once: after from_config, Keras's build_from_config may
        # have run a user's build() (weights made there) while sub-layers that are built on
        # first call are still weightless, and loading would then find no place for them.
        if self.context_size is None:
            conditioner(tf.zeros(build_shape, self.flow_dtype))
        else:
            conditioner(tf.zeros(build_shape, self.flow_dtype),
                        context=tf.zeros((1, self.context_size), self.flow_dtype))
        self.built = True

    def bijector(self, context=None, training=False):
        conditioner = self.bound_conditioner(self.conditioner, context)
        if self.mask_kind == "channel":
            return Coupling(conditioner, transform=self.transform,
                            num_masked=self._split[0], reverse_mask=self.reverse_mask,
                            name=self.name)
        if self._mask is None:
            return Coupling(conditioner, transform=self.transform,
                            num_masked=self._split[1] if self.reverse_mask else self._split[0],
                            reverse_mask=self.reverse_mask, name=self.name)
        return Coupling(conditioner, transform=self.transform, mask=self._mask,
                        name=self.name)

    def get_config(self):
        config = {
            **super().get_config(),
            "event_shape": list(self.event_shape),
            "transform": self.transform.get_config(),
            "mask": self.mask_kind,
            "reverse_mask": self.reverse_mask,
            "num_masked": self.num_masked,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "context_size": self.context_size,
            "seed": self.seed,
        }
        if not self._default_conditioner:
            config["conditioner"] = keras.saving.serialize_keras_object(self.conditioner)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("conditioner") is not None:
            config["conditioner"] = keras.saving.deserialize_keras_object(config["conditioner"])
        return cls(**config)
