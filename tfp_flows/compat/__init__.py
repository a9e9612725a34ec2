"""Keras 3 drop-ins for TensorFlow Probability's Keras 2 flow networks.

Stock TFP flow code runs under Keras 3 with one import changed
(``from tfp_flows.compat import bijectors as tfb``, or the classes below by name):

- :class:`AutoregressiveNetwork`: ``tfb.AutoregressiveNetwork`` (MADE) for
  ``tfb.MaskedAutoregressiveFlow``, conditional too;
- :func:`real_nvp_default_template`: the ``shift_and_log_scale_fn`` of ``tfb.RealNVP``;
- :class:`GlowDefaultNetwork`, :class:`GlowDefaultExitNetwork`: ``tfb.Glow``'s networks;
- :class:`StockFlowLayer`: a stock bijector built with them as a flow layer of
  :class:`tfp_flows.FlowModel`, which trains with ``fit`` and saves to ``.keras``.

Train them in ``keras.Model(x, tfp_flows.layers.LogProb(dist)(x))`` (the classic pattern)
or in a ``FlowModel``. See ``docs/migrating_from_tfp.md``.
"""
from tfp_flows.compat import bijectors
from tfp_flows.compat.autoregressive_network import AutoregressiveNetwork
from tfp_flows.compat.glow_networks import GlowDefaultExitNetwork, GlowDefaultNetwork
from tfp_flows.compat.real_nvp_template import RealNVPDefaultTemplate, real_nvp_default_template
from tfp_flows.compat.stock_flow import StockFlowLayer

__all__ = ["AutoregressiveNetwork", "GlowDefaultExitNetwork", "GlowDefaultNetwork",
           "RealNVPDefaultTemplate", "StockFlowLayer", "bijectors", "real_nvp_default_template"]
