"""A flow printed layer by layer: what :meth:`FlowModel.summary <tfp_flows.FlowModel.summary>`
shows."""
import numpy as np

__all__ = ["flow_summary"]


def _describe(layer):
    kind = type(layer).__name__
    mask = getattr(layer, "mask_kind", None)
    if mask is not None:
        kind += f" ({mask}{', reversed' if getattr(layer, 'reverse_mask', False) else ''})"
    if getattr(layer, "context_size", None) is not None:
        kind += f" | context {layer.context_size}"
    return kind


def _lines(layers, shape, depth):
    """One line per layer, from the data side, with the event shapes it maps between; the
    sub-flow of a factor-out layer indented under it."""
    pad = "    " * depth
    for layer in reversed(list(layers)):
        out = tuple(layer.inverse_event_shape(shape))
        params = layer.count_params() if layer.built else 0
        yield f"{pad}{_describe(layer):<{52 - len(pad)}} {str(tuple(shape)):>13} -> " \
              f"{str(out):<13} {params:>9,}"
        inner = getattr(layer, "flow_layers", None)
        if inner is not None and hasattr(layer, "num_kept"):
            kept = tuple(shape[:-1]) + (layer.num_kept,)
            gone = int(np.prod(shape[:-1])) * (shape[-1] - layer.num_kept)
            yield f"{pad}    {gone} numbers go to the base; the other {kept} continue:"
            yield from _lines(inner, kept, depth + 1)
        shape = out


def flow_summary(model):
    """The layers of a :class:`~tfp_flows.FlowModel` from the data side to the base, one
    line each: the layer (coupling masks and contexts named), the event shapes it maps
    between and its number of weights; a factor-out's sub-flow indented under it; then
    the latent shape, the base distribution and the total number of weights.

    Args:
      model: a :class:`~tfp_flows.FlowModel`.

    Returns:
      The summary as one string.

    Example:
        >>> import tfp_flows
        >>> flow = tfp_flows.real_nvp(event_shape=2, num_layers=1, hidden_units=(4,))
        >>> print(flow_summary(flow))   # doctest: +ELLIPSIS
        real_nvp: data (2,) -> latent (2,)
        layer (data side first) ...
        ActNormLayer ...(2,) -> (2,)  ...
        CouplingLayer (half) ...(2,) -> (2,)  ...
        base: ... | weights: ...
    """
    header = f"{'layer (data side first)':<52} {'events in':>13} -> {'out':<13} {'weights':>9}"
    lines = [f"{model.name}: data {tuple(model.event_shape)} -> latent "
             f"{tuple(model.latent_shape)}", header, "-" * len(header)]
    lines += list(_lines(model.flow_layers, tuple(model.event_shape), 0))
    base = getattr(model, "base_distribution_name", None) or type(
        model.base_distribution).__name__
    lines.append(f"base: {base} | weights: {model.count_params():,} "
                 f"({sum(int(np.prod(w.shape)) for w in model.trainable_weights):,} trainable)")
    return "\n".join(lines)
