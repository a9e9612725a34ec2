"""Affine (Real NVP) and additive (NICE) coupling as Keras flow layers."""
import keras
import tensorflow as tf

from tfp_flows.bijectors.affine_coupling import AffineCoupling
from tfp_flows.bijectors.masks import channel_mask, checkerboard_mask, half_mask
from tfp_flows.layers.base import FlowLayer, check_event_shape
from tfp_flows.nets.coupling_mlp import CouplingMLP

__all__ = ["AffineCouplingLayer"]

_MASKS = ("half", "checkerboard", "channel")


@keras.saving.register_keras_serializable(package="tfp_flows")
class AffineCouplingLayer(FlowLayer):
    """Owns a coupling conditioner and builds :class:`~tfp_flows.bijectors.AffineCoupling`.

    ``mask="half"`` (vectors): the first ``num_masked`` entries (half by default; the last
    ones with ``reverse_mask=True``) condition a :class:`~tfp_flows.nets.CouplingMLP` with
    ``hidden_units`` and ``activation``, zero-initialised so the layer starts as the identity.
    ``mask="checkerboard"`` or ``"channel"`` (images ``(H, W, C)``) needs a ``conditioner``
    Keras layer mapping ``[..., H, W, C]`` to ``[..., H, W, C, 2]``. ``shift_only=True`` gives
    NICE's additive coupling. The conditioner's weights are this layer's weights.

    Example:
        >>> import numpy as np
        >>> layer = AffineCouplingLayer(event_shape=(2,), hidden_units=(8,))
        >>> layer(np.ones((3, 2), "float32")).shape    # zero-initialised: the identity
        TensorShape([3, 2])
    """

    def __init__(self, event_shape, mask="half", reverse_mask=False, num_masked=None,
                 hidden_units=(64, 64), activation="relu", shift_only=False,
                 log_scale_bound=5.0, conditioner=None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = check_event_shape(event_shape)
        if mask not in _MASKS:
            raise ValueError(f"mask must be one of {_MASKS}, got {mask!r}")
        self.mask_kind = mask
        self.reverse_mask = bool(reverse_mask)
        self.num_masked = None if num_masked is None else int(num_masked)
        self.hidden_units = tuple(int(h) for h in hidden_units)
        self.activation = activation
        self.shift_only = bool(shift_only)
        self.log_scale_bound = log_scale_bound
        if mask == "half":
            if len(self.event_shape) != 1:
                raise ValueError(
                    f"mask='half' is for vector events, got event_shape {self.event_shape}; "
                    "use mask='checkerboard' or 'channel' for images")
            size = self.event_shape[0]
            self._mask = half_mask(size, self.num_masked, self.reverse_mask)
            in_units = int(self._mask.sum())
            self._default_conditioner = conditioner is None
            if conditioner is None:
                conditioner = CouplingMLP(
                    output_units=size - in_units, num_params=1 if self.shift_only else 2,
                    hidden_units=self.hidden_units, activation=activation, dtype=self.dtype_policy)
            build_shape = (1, in_units)
        else:
            self._default_conditioner = False
            if conditioner is None:
                raise ValueError(
                    f"mask={mask!r} needs a conditioner: a Keras layer mapping "
                    f"[..., {', '.join(map(str, self.event_shape))}] to the same shape plus [2]")
            make = checkerboard_mask if mask == "checkerboard" else channel_mask
            self._mask = make(self.event_shape, reverse=self.reverse_mask)
            build_shape = (1,) + self.event_shape
        self.conditioner = conditioner
        # Always call the conditioner once: after from_config, Keras's build_from_config may
        # have run a user's build() (weights made there) while sub-layers that are built on
        # first call are still weightless, and loading would then find no place for them.
        conditioner(tf.zeros(build_shape, self.compute_dtype))
        self.built = True

    def bijector(self):
        if self.mask_kind == "half":
            num_masked = int(self._mask.sum())
            return AffineCoupling(self.conditioner, num_masked=num_masked,
                                  reverse_mask=self.reverse_mask, shift_only=self.shift_only,
                                  log_scale_bound=self.log_scale_bound)
        return AffineCoupling(self.conditioner, mask=self._mask, shift_only=self.shift_only,
                              log_scale_bound=self.log_scale_bound)

    def get_config(self):
        config = {
            **super().get_config(),
            "event_shape": list(self.event_shape),
            "mask": self.mask_kind,
            "reverse_mask": self.reverse_mask,
            "num_masked": self.num_masked,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "shift_only": self.shift_only,
            "log_scale_bound": self.log_scale_bound,
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
