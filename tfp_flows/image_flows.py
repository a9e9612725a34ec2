"""Multiscale image flows: Real NVP (Dinh et al. 2017) and Glow (Kingma & Dhariwal 2018).

:func:`tfp_flows.real_nvp` and :func:`tfp_flows.glow` come here when ``event_shape`` is an
image ``(H, W, C)``. Both models take **dequantised pixels** ``x + u`` in ``[0, K)`` (``K =
num_levels``) and their ``log_prob`` is a density over pixel units (a :class:`LogitLayer` on
the data side brings pixels to logits, log-det included), so ``bits/dim = -log_prob / (D ln 2)``
(:func:`tfp_flows.training.bits_per_dim`). ``fit`` on integer images dequantises each epoch
afresh.

Layer order, from the data side (the lists are reversed for :class:`FlowModel`):

* Real NVP, per scale: 3 checkerboard couplings, squeeze, 3 channel couplings, factor out half
  of the channels; the last scale: 4 checkerboard couplings. Masks alternate; each coupling's
  conditioner is a :class:`~tfp_flows.nets.ResNet` with a ``scale * tanh`` log-scale; with
  ``batch_norm`` a :class:`BatchNormLayer` follows every coupling.
* Glow, per scale: squeeze, ``num_steps`` steps of ActNorm, invertible 1x1 convolution and
  affine channel coupling (conditioner: Glow's conv 3x3, conv 1x1, zero conv 3x3, plus
  ``num_blocks`` residual blocks), then (except at the last scale) a learned prior for the half that
  is factored out (a channel coupling conditioned on the kept half) and the factor-out.
"""
import dataclasses

from tfp_flows.bijectors.logit import ALPHA  # the logit preprocessing's one default
from tfp_flows.bijectors.transforms import Affine
from tfp_flows.layers import (
    ActNormLayer,
    BatchNormLayer,
    CouplingLayer,
    FactorOutLayer,
    InvertibleLinearLayer,
    LogitLayer,
    SqueezeLayer,
)
from tfp_flows.model import FlowModel
from tfp_flows.nets.resnet import ResNet
from tfp_flows.seeds import SeedStream
from tfp_flows.validation import check_positive_int

__all__ = ["ALPHA", "default_num_scales", "glow_image", "real_nvp_image"]



def _check_image_keywords(num_levels, hidden_channels, num_blocks, alpha, **flags):
    """Checks the image keywords; returns ``num_levels``."""
    check_positive_int(hidden_channels, "hidden_channels")
    check_positive_int(num_blocks, "num_blocks", minimum=0)
    for flag, value in flags.items():
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be True or False, got {value!r}")
    if isinstance(alpha, bool) or not 0.0 < float(alpha) < 0.5:
        raise ValueError(f"alpha must be a number in (0, 0.5), got {alpha!r}")
    return check_positive_int(num_levels, "num_levels", minimum=2)


def default_num_scales(event_shape, squeeze_last=False):
    """The default number of scales: halve the height and width while both are even and (for
    Real NVP, ``squeeze_last=False``) the result is at least 4, at most twice, plus one. Glow
    (``squeeze_last=True``) squeezes at every scale: halve while even and at least 2 remain.

    Example:
        >>> default_num_scales((8, 8, 1)), default_num_scales((28, 28, 1))
        (2, 3)
        >>> default_num_scales((8, 8, 1), squeeze_last=True)
        2
    """
    h, w = event_shape[:2]
    count = 0
    smallest = 2 if squeeze_last else 4
    while count < (3 if squeeze_last else 2) and h % 2 == 0 and w % 2 == 0 and \
            min(h, w) // 2 >= smallest:
        h, w, count = h // 2, w // 2, count + 1
    return count if squeeze_last else count + 1


def _fits(shape, num_scales, glow):
    """Whether ``num_scales`` scales can be built for images of ``shape``."""
    count = num_scales if glow else num_scales - 1  # Real NVP does not squeeze its last scale
    factor = 2 ** count
    if shape[0] % factor or shape[1] % factor:
        return False
    return glow or (shape[0] // factor) * (shape[1] // factor) >= 2


def _check_num_scales(shape, num_scales, builder):
    """``num_scales`` (``None``: the default) after checking that ``shape`` allows it."""
    glow = builder == "glow"
    if not _fits(shape, 1, glow):
        if glow:
            raise ValueError(f"glow squeezes the image at every scale, so it needs an even "
                             f"height and width (the smallest image is 2x2); got event_shape "
                             f"{shape}")
        raise ValueError(f"event_shape {shape} is too small for real_nvp: a checkerboard "
                         f"coupling needs two pixels (the smallest image is 1x2 or 2x1)")
    largest = 1
    while largest < 32 and _fits(shape, largest + 1, glow):
        largest += 1
    if num_scales is None:  # at least one scale: the image fits one (checked above)
        return max(1, default_num_scales(shape, squeeze_last=glow))
    num_scales = check_positive_int(num_scales, "num_scales")
    count = num_scales if glow else num_scales - 1
    factor = 2 ** count
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"{builder} with num_scales={num_scales} squeezes {count} time(s), so the height and "
            f"width must be multiples of {factor}; got event_shape {shape}: use num_scales <= "
            f"{largest}")
    if not _fits(shape, num_scales, glow):
        raise ValueError(
            f"{builder} with num_scales={num_scales} leaves {shape[0] // factor}x"
            f"{shape[1] // factor} images for its last scale, too small for a checkerboard "
            f"coupling (it needs two pixels): use num_scales <= {largest} for event_shape "
            f"{shape}")
    return num_scales


@dataclasses.dataclass(frozen=True)
class _Couplings:
    """What every coupling of one image flow shares; ``seeds`` gives each layer its seed."""
    hidden_channels: int
    num_blocks: int
    activation: str
    log_scale_bound: float
    dtype: object
    context_size: object
    seeds: SeedStream

    def make(self, shape, mask, reverse, tanh_scale=True, pointwise=False, num_blocks=None):
        net = ResNet(num_params=2, hidden_channels=self.hidden_channels,
                     num_blocks=self.num_blocks if num_blocks is None else num_blocks,
                     activation=self.activation, log_scale_index=1 if tanh_scale else None,
                     seed=next(self.seeds), pointwise=pointwise, dtype=self.dtype)
        return CouplingLayer(shape, transform=Affine(self.log_scale_bound), mask=mask,
                             reverse_mask=reverse, conditioner=net,
                             context_size=self.context_size, dtype=self.dtype)


def _kept(squeezed):
    """The shape of the half of ``squeezed``'s channels that a factor-out keeps."""
    return squeezed[:2] + (squeezed[2] // 2,)


def _factor_out(squeezed, kept_layers, dtype):
    """Factors out half of ``squeezed``'s channels; ``kept_layers`` (data-to-base order) act
    on the kept half."""
    return FactorOutLayer(squeezed, list(reversed(kept_layers)), dtype=dtype)


def _image_model(data_to_base, *, event_shape, num_levels, alpha, base_distribution, dtype,
                 name, context_size, xla=False):
    """The FlowModel of an image flow: the logit preprocessing, then ``data_to_base``
    (``xla``: its ``xla_default``, where :mod:`tfp_flows.xla` measured XLA faster)."""
    layers = [LogitLayer(num_levels, alpha=alpha, dtype=dtype, name="logit")] + data_to_base
    return FlowModel(list(reversed(layers)), event_shape=event_shape,
                     base_distribution=base_distribution, dtype=dtype, name=name,
                     num_levels=num_levels, context_size=context_size, xla_default=xla)


def real_nvp_image(*, event_shape, activation, log_scale_bound, base_distribution, seed, dtype,
                   context_size, name, num_scales=None, num_levels=256, hidden_channels=64,
                   num_blocks=2, batch_norm=True, alpha=ALPHA):
    """Real NVP's multiscale image flow (see the module docstring), what
    :func:`tfp_flows.real_nvp` builds for ``event_shape=(H, W, C)``.

    Args:
      event_shape: ``(H, W, C)``, checked.
      activation, log_scale_bound, base_distribution, seed, dtype, context_size, name: the
        shared keywords of :mod:`tfp_flows.flows`, checked by the builder.
      num_scales: scales; each but the last halves the height and width, so they must divide
        by 2 ``num_scales - 1`` times, and the last scale needs two pixels. ``None``:
        :func:`default_num_scales`.
      num_levels: ``K``, pixel levels (256 for 8-bit images, 17 for digits): the model takes
        dequantised pixels in ``[0, K)``.
      hidden_channels: channels of the ResNet conditioners' convolutions.
      num_blocks: residual blocks per conditioner.
      batch_norm: a batch-norm layer with running statistics after every coupling.
      alpha: the logit preprocessing acts on ``alpha + (1 - 2 alpha) x / K`` (:data:`ALPHA`).
    """
    num_scales = _check_num_scales(event_shape, num_scales, "real_nvp")
    num_levels = _check_image_keywords(num_levels, hidden_channels, num_blocks, alpha,
                                       batch_norm=batch_norm)
    couplings = _Couplings(hidden_channels, num_blocks, activation, log_scale_bound, dtype,
                           context_size, SeedStream(seed))

    def alternating(event, mask, count):
        steps = []
        for i in range(count):
            steps.append(couplings.make(event, mask, i % 2 == 1))
            if batch_norm:
                steps.append(BatchNormLayer(event, dtype=dtype))
        return steps

    def scale(event, index):  # data-to-base order
        if index == num_scales - 1:
            return alternating(event, "checkerboard", 4)
        steps = alternating(event, "checkerboard", 3)
        steps.append(SqueezeLayer(event, dtype=dtype))
        squeezed = (event[0] // 2, event[1] // 2, 4 * event[2])
        steps += alternating(squeezed, "channel", 3)
        steps.append(_factor_out(squeezed, scale(_kept(squeezed), index + 1), dtype))
        return steps

    return _image_model(scale(event_shape, 0), event_shape=event_shape, num_levels=num_levels,
                        alpha=alpha, base_distribution=base_distribution, dtype=dtype,
                        name=name, context_size=context_size)


def glow_image(*, event_shape, activation, log_scale_bound, base_distribution, seed, dtype,
               context_size, name, num_scales=None, num_steps=4, num_levels=256,
               hidden_channels=64, num_blocks=0, learned_prior=True, alpha=ALPHA):
    """Glow's multiscale image flow (see the module docstring), what :func:`tfp_flows.glow`
    builds for ``event_shape=(H, W, C)``.

    Args:
      event_shape: ``(H, W, C)``, checked.
      activation, log_scale_bound, base_distribution, seed, dtype, context_size, name: the
        shared keywords of :mod:`tfp_flows.flows`, checked by the builder.
      num_scales: scales; every scale halves the height and width, so they must divide by 2
        ``num_scales`` times. ``None``: :func:`default_num_scales`.
      num_steps: steps of ActNorm, invertible 1x1 convolution and coupling per scale.
      num_levels: ``K``, pixel levels: the model takes dequantised pixels in ``[0, K)``.
      hidden_channels: channels of the conditioners' convolutions.
      num_blocks: residual blocks added to Glow's shallow conv 3x3, conv 1x1, conv 3x3
        conditioner.
      learned_prior: the factored-out half gets a Gaussian prior whose mean and scale depend
        on the kept half (a channel coupling before each split).
      alpha: the logit preprocessing's ``alpha``, as in :func:`real_nvp_image`.
    """
    num_scales = _check_num_scales(event_shape, num_scales, "glow")
    num_levels = _check_image_keywords(num_levels, hidden_channels, num_blocks, alpha,
                                       learned_prior=learned_prior)
    num_steps = check_positive_int(num_steps, "num_steps")
    couplings = _Couplings(hidden_channels, num_blocks, activation, log_scale_bound, dtype,
                           context_size, SeedStream(seed))

    def scale(event, index):  # data-to-base order
        squeezed = (event[0] // 2, event[1] // 2, 4 * event[2])
        steps = [SqueezeLayer(event, dtype=dtype)]
        for k in range(num_steps):
            steps += [
                ActNormLayer(squeezed, dtype=dtype),
                InvertibleLinearLayer(squeezed, seed=next(couplings.seeds), dtype=dtype),
                couplings.make(squeezed, "channel", k % 2 == 1, tanh_scale=False,
                               pointwise=True),
            ]
        if index == num_scales - 1:
            return steps
        if learned_prior:
            steps.append(couplings.make(squeezed, "channel", False, tanh_scale=False,
                                        num_blocks=0))
        steps.append(_factor_out(squeezed, scale(_kept(squeezed), index + 1), dtype))
        return steps

    return _image_model(scale(event_shape, 0), event_shape=event_shape, num_levels=num_levels,
                        alpha=alpha, base_distribution=base_distribution, dtype=dtype,
                        name=name, context_size=context_size, xla=True)
