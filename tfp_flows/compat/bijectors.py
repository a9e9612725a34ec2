"""``tfp.bijectors`` with its Keras 2 networks replaced by the Keras 3 ones of
:mod:`tfp_flows.compat`: change ``tfb = tfp.bijectors`` to
``from tfp_flows.compat import bijectors as tfb`` and stock flow code builds Keras 3 networks.

Every other name is TFP's own object (``tfb.MaskedAutoregressiveFlow is
tfp.bijectors.MaskedAutoregressiveFlow``). Replaced: ``AutoregressiveNetwork``,
``real_nvp_default_template``, ``GlowDefaultNetwork``, ``GlowDefaultExitNetwork``, and
``Glow``, whose default networks become the Keras 3 ones. ``BatchNormalization`` stays TFP's
(it only takes a ``tf_keras`` layer): use :class:`tfp_flows.layers.BatchNormLayer`.

Example:
    >>> from tfp_flows.compat import bijectors as tfb
    >>> import tensorflow_probability as tfp
    >>> tfb.MaskedAutoregressiveFlow is tfp.bijectors.MaskedAutoregressiveFlow
    True
    >>> type(tfb.AutoregressiveNetwork(params=2)).__module__
    'tfp_flows.compat.autoregressive_network'
"""
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.compat.autoregressive_network import AutoregressiveNetwork
from tfp_flows.compat.glow_networks import GlowDefaultExitNetwork, GlowDefaultNetwork
from tfp_flows.compat.real_nvp_template import real_nvp_default_template

_REPLACED = ("AutoregressiveNetwork", "Glow", "GlowDefaultExitNetwork", "GlowDefaultNetwork",
             "real_nvp_default_template")


def int32_reshapes(bijector):
    """Makes the ``tfb.Reshape`` s inside ``bijector`` hold their event shapes as ``int32``,
    in place, and returns ``bijector``.

    TFP's Glow builds the reshapes of its ``Expand`` steps from NumPy ``int64`` shapes; with
    a batch size unknown when traced (``Model.fit``, ``tf.function`` with a ``None`` batch)
    ``Reshape`` then concatenates them with ``int32`` batch shapes and fails ("Tensors in
    list passed to 'values' of 'ConcatV2' Op have types [int32, int64]"). The values are the
    same; only their dtype changes.
    """
    for reshape in bijector._flatten(
            predicate=lambda v: isinstance(v, tfp.bijectors.Reshape), expand_composites=False):
        for name in ("_event_shape_in", "_event_shape_out"):
            shape = getattr(reshape, name)
            if isinstance(shape, tf.Tensor) and shape.dtype == tf.int64:
                value = tf.get_static_value(shape)
                if value is not None:
                    setattr(reshape, name, tf.constant(value, tf.int32))
    return bijector


class Glow(tfp.bijectors.Glow):
    """Stock ``tfb.Glow`` whose default ``coupling_bijector_fn`` and ``exit_bijector_fn`` are
    the Keras 3 :class:`GlowDefaultNetwork` and :class:`GlowDefaultExitNetwork` (TFP has no
    working default: it needs both), and that trains with a batch size unknown when traced
    (see :func:`int32_reshapes`). Every argument is TFP's."""

    def __init__(self, output_shape=(32, 32, 3), num_glow_blocks=3, num_steps_per_block=32,
                 coupling_bijector_fn=None, exit_bijector_fn=None, grab_after_block=None,
                 use_actnorm=True, seed=None, validate_args=False, name="glow"):
        super().__init__(
            output_shape=output_shape, num_glow_blocks=num_glow_blocks,
            num_steps_per_block=num_steps_per_block,
            coupling_bijector_fn=coupling_bijector_fn or GlowDefaultNetwork,
            exit_bijector_fn=exit_bijector_fn or GlowDefaultExitNetwork,
            grab_after_block=grab_after_block, use_actnorm=use_actnorm, seed=seed,
            validate_args=validate_args, name=name)
        int32_reshapes(self)


def __getattr__(name):
    try:
        return getattr(tfp.bijectors, name)
    except AttributeError:
        raise AttributeError(f"module 'tfp_flows.compat.bijectors' (TFP's tfp.bijectors) has no "
                             f"attribute {name!r}") from None


def __dir__():
    return sorted(set(dir(tfp.bijectors)) | set(_REPLACED))
