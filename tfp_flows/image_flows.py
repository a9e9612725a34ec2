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
from tfp_flows.validation import check_event_shape, check_positive_int

__all__ = ["IMAGE_ARGS", "default_num_scales", "glow_image", "image_defaults",
           "image_shape_or_none", "real_nvp_image"]

#: The keywords only image builders take, with their documentation.
IMAGE_ARGS = """
      num_scales: (images) number of scales of the multiscale architecture; each scale but
        the last halves the height and width (Real NVP) or every scale does (Glow), so they
        must divide by ``2`` that many times. Default: :func:`default_num_scales`.
      num_levels: (images) ``K``, pixel levels (256 for 8-bit images, 17 for digits): the
        model takes dequantised pixels in ``[0, K)``.
      hidden_channels: (images) channels of the ResNet conditioners' convolutions.
      num_blocks: (images) residual blocks per conditioner (Real NVP: 2 by default; Glow: 0,
        its shallow conv 3x3, conv 1x1, conv 3x3 network).
      batch_norm: (images, Real NVP) a batch-norm layer with running statistics after every
        coupling.
      num_steps: (images, Glow) steps of ActNorm, 1x1 convolution and coupling per scale.
      learned_prior: (images, Glow) the factored-out half gets a Gaussian prior whose mean and
        scale depend on the kept half (a channel coupling before each split).
      alpha: (images) the logit preprocessing acts on ``alpha + (1 - 2 alpha) x / K``
        (default 1e-6: on digits Real NVP scored 1.97 bits/dim with it against 2.02 with
        Real NVP's CIFAR value 0.05, which squeezes the bins of black and white pixels into
        needles in logit space; BENCHMARKS.md, "Image flows")."""


#: Default ``alpha`` of the image flows' logit preprocessing (see :data:`IMAGE_ARGS`).
ALPHA = 1e-6


def image_shape_or_none(event_shape, builder, vector_args, image_args):
    """The image shape ``(H, W, C)`` of ``event_shape``, or ``None`` for vectors, after
    checking that no keyword of the other kind was given: ``vector_args`` maps names to
    ``(value, default)``, ``image_args`` names to values (``None`` when not given)."""
    shape = check_event_shape(event_shape)
    if len(shape) == 3:
        given = [k for k, (value, default) in vector_args.items() if value != default]
        if given:
            raise ValueError(
                f"{builder}: {', '.join(given)} applies to vector data, but event_shape "
                f"{shape} is an image; image flows take num_scales, hidden_channels, "
                "num_blocks (see the docstring)")
        return shape
    given = [k for k, value in image_args.items() if value is not None]
    if given:
        raise ValueError(f"{builder}: {', '.join(given)} applies to images (event_shape (H, W, "
                         f"C)), but event_shape is {shape}")
    return None


def image_defaults(image_args, **defaults):
    """``image_args`` with ``None`` replaced by the builder's defaults, checked."""
    args = {"num_scales": None, "num_levels": 256, "hidden_channels": 64, "alpha": ALPHA,
            **defaults}
    args.update({k: v for k, v in image_args.items() if v is not None})
    args["num_levels"] = check_positive_int(args["num_levels"], "num_levels", minimum=2)
    args["hidden_channels"] = check_positive_int(args["hidden_channels"], "hidden_channels")
    args["num_blocks"] = check_positive_int(args["num_blocks"], "num_blocks", minimum=0)
    if "num_steps" in args:
        args["num_steps"] = check_positive_int(args["num_steps"], "num_steps")
    for flag in ("batch_norm", "learned_prior"):
        if flag in args and not isinstance(args[flag], bool):
            raise ValueError(f"{flag} must be True or False, got {args[flag]!r}")
    if isinstance(args["alpha"], bool) or not 0.0 < float(args["alpha"]) < 0.5:
        raise ValueError(f"alpha must be a number in (0, 0.5), got {args['alpha']!r}")
    return args


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


def _check_scales(shape, num_scales, squeezes, what):
    if num_scales is None:
        num_scales = default_num_scales(shape, squeeze_last=what == "glow")
        if num_scales < 1:
            raise ValueError(f"{what} needs an even height and width to squeeze, got "
                             f"event_shape {shape}")
    num_scales = check_positive_int(num_scales, "num_scales")
    count = squeezes(num_scales)
    factor = 2 ** count
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"{what} with num_scales={num_scales} squeezes {count} time(s), so the height and "
            f"width must be multiples of {factor}; got event_shape {shape}")
    return num_scales


def _coupling(shape, mask, reverse, hidden_channels, num_blocks, activation, log_scale_bound,
              dtype, seed, tanh_scale=True, pointwise=False, context_size=None):
    net = ResNet(num_params=2, hidden_channels=hidden_channels, num_blocks=num_blocks,
                 activation=activation, log_scale_index=1 if tanh_scale else None, seed=seed,
                 pointwise=pointwise, dtype=dtype)
    return CouplingLayer(shape, transform=Affine(log_scale_bound), mask=mask,
                         reverse_mask=reverse, conditioner=net, context_size=context_size,
                         dtype=dtype)


def _seeds(seed):
    """Distinct seeds for the layers of one flow (``None`` forever without a seed)."""
    step = 0
    while True:
        yield None if seed is None else seed * 1000 + step * 10
        step += 1


def _model(data_to_base, shape, num_levels, alpha, base_distribution, dtype, name,
           context_size):
    layers = [LogitLayer(num_levels, alpha=alpha, dtype=dtype, name="logit")] + data_to_base
    return FlowModel(list(reversed(layers)), event_shape=shape,
                     base_distribution=base_distribution, dtype=dtype, name=name,
                     num_levels=num_levels, context_size=context_size)


def real_nvp_image(shape, *, num_scales, num_levels, hidden_channels, num_blocks, batch_norm,
                   activation, log_scale_bound, alpha, base_distribution, seed, dtype, name,
                   context_size=None):
    """Real NVP's multiscale image flow (see the module docstring); arguments checked by
    :func:`tfp_flows.real_nvp`."""
    num_scales = _check_scales(shape, num_scales, lambda n: n - 1, "real_nvp")
    factor = 2 ** (num_scales - 1)
    if (shape[0] // factor) * (shape[1] // factor) < 2:
        raise ValueError(
            f"real_nvp with num_scales={num_scales} leaves {shape[0] // factor}x"
            f"{shape[1] // factor} images for its last scale, too small for a checkerboard "
            f"mask (it needs two pixels); use num_scales <= {num_scales - 1} for event_shape "
            f"{shape}")
    seeds = _seeds(seed)

    def couplings(event, mask, count):
        steps = []
        for i in range(count):
            steps.append(_coupling(event, mask, i % 2 == 1, hidden_channels, num_blocks,
                                   activation, log_scale_bound, dtype, next(seeds),
                                   context_size=context_size))
            if batch_norm:
                steps.append(BatchNormLayer(event, dtype=dtype))
        return steps

    def scale(event, index):  # data-to-base order
        if index == num_scales - 1:
            return couplings(event, "checkerboard", 4)
        steps = couplings(event, "checkerboard", 3)
        steps.append(SqueezeLayer(event, dtype=dtype))
        squeezed = (event[0] // 2, event[1] // 2, 4 * event[2])
        steps += couplings(squeezed, "channel", 3)
        kept = squeezed[:2] + (squeezed[2] // 2,)
        steps.append(FactorOutLayer(squeezed, list(reversed(scale(kept, index + 1))),
                                    dtype=dtype))
        return steps

    return _model(scale(shape, 0), shape, num_levels, alpha, base_distribution, dtype,
                  name or "real_nvp", context_size)


def glow_image(shape, *, num_scales, num_steps, num_levels, hidden_channels, num_blocks,
               learned_prior, activation, log_scale_bound, alpha, base_distribution, seed,
               dtype, name, context_size=None):
    """Glow's multiscale image flow (see the module docstring); arguments checked by
    :func:`tfp_flows.glow`."""
    num_scales = _check_scales(shape, num_scales, lambda n: n, "glow")
    seeds = _seeds(seed)

    def scale(event, index):  # data-to-base order
        squeezed = (event[0] // 2, event[1] // 2, 4 * event[2])
        steps = [SqueezeLayer(event, dtype=dtype)]
        for k in range(num_steps):
            steps += [
                ActNormLayer(squeezed, dtype=dtype),
                InvertibleLinearLayer(squeezed, seed=next(seeds), dtype=dtype),
                _coupling(squeezed, "channel", k % 2 == 1, hidden_channels, num_blocks,
                          activation, log_scale_bound, dtype, next(seeds), tanh_scale=False,
                          pointwise=True, context_size=context_size),
            ]
        if index == num_scales - 1:
            return steps
        if learned_prior:
            steps.append(_coupling(squeezed, "channel", False, hidden_channels, 0, activation,
                                   log_scale_bound, dtype, next(seeds), tanh_scale=False,
                                   context_size=context_size))
        kept = squeezed[:2] + (squeezed[2] // 2,)
        steps.append(FactorOutLayer(squeezed, list(reversed(scale(kept, index + 1))),
                                    dtype=dtype))
        return steps

    return _model(scale(shape, 0), shape, num_levels, alpha, base_distribution, dtype,
                  name or "glow", context_size)
