r"""Flow builders. All share one keyword-only signature and return a :class:`FlowModel`.

================  ===================================================================
``maf``           masked autoregressive flow: one-pass density, sequential sampling
``iaf``           inverse autoregressive flow: one-pass sampling, sequential density
``real_nvp``      affine coupling layers: one pass both ways
``nice``          additive coupling layers plus a final diagonal scale (ActNorm)
``glow``          steps of ActNorm, invertible linear (LU), affine coupling
``nsf``           neural spline flow: rational-quadratic splines, coupling or autoregressive
================  ===================================================================

``real_nvp`` and ``glow`` with an image ``event_shape=(H, W, C)`` build the multiscale image
flows of :mod:`tfp_flows.image_flows`; ``num_layers``, ``hidden_units``, ``permutation`` and
``standardize`` are then refused (they are for vectors).

Shared keywords (the same in every builder; the defaults are in the signatures):
  event_shape: the shape of one data point: an int ``D`` or ``(D,)`` for vectors (and
    ``(H, W, C)`` for the image flows of ``real_nvp`` and ``glow``).
  num_layers: number of layers (MADE layers, couplings or Glow steps; an integer >= 1).
  hidden_units: sizes of the conditioner networks' hidden layers, e.g. ``(64, 64)``.
  activation: the hidden layers' activation, any name Keras knows (``"relu"``, ``"tanh"``...).
  permutation: what sits between consecutive layers so that every dimension gets
    transformed: ``"reverse"`` (reverse the order), ``"random"`` (a fixed random permutation
    drawn from ``seed``), an explicit permutation of ``range(D)``, or ``None`` (nothing;
    coupling flows then alternate which half is transformed).
  base_distribution: the distribution of the latent ``z``: ``"normal"`` (the default:
    standard Normals, the better fit in most short fits), ``"student_t"`` (Student-t with 5
    degrees of freedom, whose heavy tails keep densities just outside the data sane: the
    robust choice for deep affine flows on multimodal data) or a ``tfd.Distribution`` over
    the latent shape, e.g. ``tfd.Sample(tfd.Laplace(0., 1.), [D])`` (:mod:`.base_distributions`).
  seed: ``None`` or an integer >= 0 for the random initial weights, masks and permutations
    (the same seed gives the same flow; every layer's seed derives from it by
    :func:`tfp_flows.seeds.spawn_seeds`, so no two seeds share initial weights).
  dtype: the dtype of weights and computation (``"float32"``, ``"float64"``), or a Keras
    mixed-precision policy (``"mixed_bfloat16"``, ``"mixed_float16"``: the conditioner
    networks compute in 16 bits, data, log-dets and log-densities stay float32). ``None``:
    Keras's global policy, ``keras.config.dtype_policy()``.
  log_scale_bound: bound ``b`` on each layer's log-scale ``s``, applied softly as
    ``b * tanh(s / b)``; keeps one step from scaling by more than ``exp(b)`` (accepted but
    unused by ``nice`` and ``nsf``, whose layers have no log-scale).
  standardize: put a fixed per-dimension standardisation ``(x - mean) / std`` inside the
    model, on the data side, set from the training data when ``fit`` starts: the model takes
    and gives data in its own units, and data far from unit scale trains as well.
  context_size: ``None``, or ``K`` for a conditional flow :math:`p(x \mid c)` with a context
    of ``K`` numbers per row, which every conditioner network also takes (standardised inside
    the model from the training contexts): ``fit(x, context=c)``, ``log_prob(x, context=c)``,
    ``sample(n, context=c)``.
  name: the model's name.
"""
import dataclasses
import inspect

import keras

from tfp_flows.base_distributions import DEFAULT as DEFAULT_BASE
from tfp_flows.base_distributions import check_base_distribution
from tfp_flows.bijectors.transforms import SPLINE_BOUND, Additive, Affine, RationalQuadratic
from tfp_flows.image_flows import glow_image, real_nvp_image
from tfp_flows.layers import (
    ActNormLayer,
    AutoregressiveLayer,
    CouplingLayer,
    InvertibleLinearLayer,
    PermuteLayer,
    make_permutation,
)
from tfp_flows.model import FlowModel
from tfp_flows.seeds import spawn_seeds
from tfp_flows.validation import (check_dtype_policy, check_event_shape, check_flag,
                                  check_hidden_units, check_positive_float,
                                  check_positive_int, check_seed)

__all__ = ["BUILDERS", "build_flow", "glow", "iaf", "maf", "nice", "nsf", "real_nvp"]

#: The shared keywords the image flows take too, and those for vectors only.
_IMAGE_SHARED = ("activation", "log_scale_bound", "base_distribution", "seed", "dtype",
                 "context_size", "name")
_VECTOR_ONLY = ("num_layers", "hidden_units", "permutation", "standardize")
#: Keywords of each builder's image flow (``None``: the image function's default).
_IMAGE_ONLY = {"real_nvp": ("num_scales", "num_levels", "hidden_channels", "num_blocks",
                            "batch_norm", "alpha"),
               "glow": ("num_scales", "num_steps", "num_levels", "hidden_channels",
                        "num_blocks", "learned_prior", "alpha")}


@dataclasses.dataclass(frozen=True)
class _Options:
    """The shared keywords of one vector build, checked; ``seeds`` has one seed per layer
    and then one per permutation, all spawned from ``seed``."""
    size: int
    num_layers: int
    hidden_units: tuple
    activation: str
    permutation: object
    base_distribution: object
    seeds: tuple
    dtype: object
    log_scale_bound: float
    standardize: bool
    context_size: object
    name: str


def _check_shared(args):
    """Checks the shared keywords that vector and image flows both take."""
    try:
        keras.activations.get(args["activation"])
    except (ValueError, TypeError):
        raise ValueError(f"activation must be a Keras activation name such as 'relu' or "
                         f"'tanh', got {args['activation']!r}") from None
    check_base_distribution(args["base_distribution"])
    check_seed(args["seed"])
    check_dtype_policy(args["dtype"])
    check_positive_float(args["log_scale_bound"], "log_scale_bound")
    if args["context_size"] is not None:
        check_positive_int(args["context_size"], "context_size")


def _given(builder, args, names):
    """Which of ``names`` differ from ``builder``'s signature defaults."""
    defaults = inspect.signature(BUILDERS[builder]).parameters
    return [name for name in names if args[name] is not defaults[name].default
            and not (type(args[name]) is type(defaults[name].default)
                     and args[name] == defaults[name].default)]


def _image_flow(builder, shape, args):
    """The keyword arguments of ``builder``'s image function after the checks: the shared
    keywords images take, and the image keywords given (the others keep their defaults)."""
    vector = _given(builder, args, _VECTOR_ONLY)
    if vector:
        raise ValueError(
            f"{builder}: {', '.join(vector)} applies to vector data, but event_shape {shape} "
            f"is an image; image flows take {', '.join(_IMAGE_ONLY[builder])} (see the "
            "docstring)")
    _check_shared(args)
    image = {k: args[k] for k in _IMAGE_ONLY[builder] if args[k] is not None}
    return dict(event_shape=shape, **{k: args[k] for k in _IMAGE_SHARED}, **image)


def _options(builder, args, shape, min_size=1):
    """The checked shared keywords of a vector build (``shape`` checked already)."""
    image = [k for k in _IMAGE_ONLY.get(builder, ()) if args[k] is not None]
    if image:
        raise ValueError(f"{builder}: {', '.join(image)} applies to images (event_shape (H, "
                         f"W, C)), but event_shape is {shape}")
    if len(shape) != 1:
        images = "; for images use real_nvp or glow" if len(shape) == 3 else ""
        raise ValueError(f"{builder} is for vector data: event_shape must be (D,), got "
                         f"{shape}{images}")
    if shape[0] < min_size:
        raise ValueError(
            f"{builder} needs at least {min_size} dimensions (a coupling layer splits the "
            f"vector in two parts), got event_shape {shape}; use maf or iaf for 1-D data")
    num_layers = check_positive_int(args["num_layers"], "num_layers")
    hidden_units = check_hidden_units(args["hidden_units"])
    _check_shared(args)
    if args["permutation"] is not None:
        make_permutation(shape[0], args["permutation"])  # raises on a bad name or sequence
    check_flag(args["standardize"], "standardize")
    return _Options(size=shape[0], num_layers=num_layers, hidden_units=hidden_units,
                    activation=args["activation"], permutation=args["permutation"],
                    base_distribution=args["base_distribution"],
                    seeds=tuple(spawn_seeds(args["seed"], 2 * num_layers)),
                    dtype=args["dtype"], log_scale_bound=args["log_scale_bound"],
                    standardize=args["standardize"], context_size=args["context_size"],
                    name=args["name"])


def _model(options, steps, last=(), xla=False):
    """The one helper that makes a vector flow, a FlowModel with ``xla_default=xla``: ``steps``
    (layers, or lists of layers) with permutations between, ``last``, the standardisation."""
    size, n = options.size, len(steps)
    layers = []
    for i, step in enumerate(steps):
        layers += step if isinstance(step, list) else [step]
        if i < n - 1 and options.permutation is not None and size > 1:
            perm = make_permutation(size, options.permutation, options.seeds[n + i])
            layers.append(PermuteLayer(perm.tolist(), dtype=options.dtype))
    layers += list(last)
    if options.standardize:
        layers.append(ActNormLayer((size,), trainable=False, dtype=options.dtype,
                                   name="standardize"))
    return FlowModel(layers, event_shape=(size,), base_distribution=options.base_distribution,
                     dtype=options.dtype, name=options.name, context_size=options.context_size,
                     xla_default=xla)


def _autoregressive_layers(options, transform, inverse=False):
    return [AutoregressiveLayer((options.size,), transform=transform,
                                hidden_units=options.hidden_units,
                                activation=options.activation, seed=options.seeds[i],
                                inverse=inverse, context_size=options.context_size,
                                dtype=options.dtype)
            for i in range(options.num_layers)]


def _coupling_layers(options, transform):
    return [CouplingLayer((options.size,), transform=transform,
                          reverse_mask=options.permutation is None and i % 2 == 1,
                          hidden_units=options.hidden_units, activation=options.activation,
                          context_size=options.context_size, seed=options.seeds[i],
                          dtype=options.dtype)
            for i in range(options.num_layers)]


def maf(*, event_shape, num_layers=5, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution=DEFAULT_BASE, seed=None, dtype=None,
        log_scale_bound=5.0, standardize=True, context_size=None, name="maf"):
    """Masked autoregressive flow (Papamakarios et al. 2017): ``num_layers`` MADE-driven
    affine layers, ``x_i = z_i exp(s_i(x_{<i})) + t_i(x_{<i})``.

    Density in one pass per layer; sampling needs ``D`` passes per layer.

    Args: the shared keywords of :mod:`tfp_flows.flows`.

    Example:
        >>> flow = maf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> flow.sample(3, seed=1).shape
        TensorShape([3, 2])
    """
    options = _options("maf", locals(), check_event_shape(event_shape))
    return _model(options, _autoregressive_layers(options, Affine(options.log_scale_bound)))


def iaf(*, event_shape, num_layers=5, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution=DEFAULT_BASE, seed=None, dtype=None,
        log_scale_bound=5.0, standardize=True, context_size=None, name="iaf"):
    """Inverse autoregressive flow (Kingma et al. 2016): the inverse of MAF's layers,
    ``x_i = z_i exp(s_i(z_{<i})) + t_i(z_{<i})``.

    Sampling in one pass per layer; density needs ``D`` passes per layer.

    Args: the shared keywords of :mod:`tfp_flows.flows`.

    Example:
        >>> import numpy as np
        >>> flow = iaf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> flow.log_prob(np.zeros((4, 2), "float32")).shape
        TensorShape([4])
    """
    options = _options("iaf", locals(), check_event_shape(event_shape))
    transform = Affine(options.log_scale_bound)
    return _model(options, _autoregressive_layers(options, transform, inverse=True), xla=True)


def real_nvp(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
             permutation="reverse", base_distribution=DEFAULT_BASE, seed=None, dtype=None,
             log_scale_bound=5.0, standardize=True, context_size=None, name="real_nvp",
             num_scales=None, num_levels=None, hidden_channels=None, num_blocks=None,
             batch_norm=None, alpha=None):
    """Real NVP (Dinh et al. 2017): affine coupling layers; the first half ``x_a`` passes
    unchanged and ``x_b = z_b exp(s(x_a)) + t(x_a)``. With ``permutation=None`` the masks
    alternate instead (``reverse_mask`` every other layer).

    With an image ``event_shape=(H, W, C)`` this is Real NVP's multiscale image flow,
    :func:`tfp_flows.image_flows.real_nvp_image` (checkerboard and channel couplings with
    ResNet conditioners, batch norm, logit preprocessing); its input is dequantised pixels in
    ``[0, num_levels)`` and ``fit`` takes integer images.

    Args (besides the shared keywords of :mod:`tfp_flows.flows`):
      num_scales, num_levels, hidden_channels, num_blocks, batch_norm, alpha: images only,
        see :func:`~tfp_flows.image_flows.real_nvp_image`; ``None`` keeps its default.

    Example:
        >>> flow = real_nvp(event_shape=2, num_layers=2, hidden_units=(8,))
        >>> len(flow.trainable_weights) > 0
        True
        >>> images = real_nvp(event_shape=(8, 8, 1), num_levels=17, hidden_channels=8, seed=0)
        >>> images.latent_shape, images.num_levels
        ((64,), 17)
    """
    args, shape = locals(), check_event_shape(event_shape)
    if len(shape) == 3:
        return real_nvp_image(**_image_flow("real_nvp", shape, args))
    options = _options("real_nvp", args, shape, min_size=2)
    return _model(options, _coupling_layers(options, Affine(options.log_scale_bound)))


def nice(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
         permutation="reverse", base_distribution=DEFAULT_BASE, seed=None, dtype=None,
         log_scale_bound=5.0, standardize=True, context_size=None, name="nice"):
    """NICE (Dinh et al. 2015): additive couplings ``x_b = z_b + t(x_a)`` (volume-preserving)
    and, on the data side, a learned diagonal scale (an ActNorm layer) so the flow can change
    volume.

    Args: the shared keywords of :mod:`tfp_flows.flows` (additive couplings have no
    log-scale to bound).

    Example:
        >>> flow = nice(event_shape=2, num_layers=2, hidden_units=(8,))
        >>> [(type(l).__name__, l.trainable) for l in flow.flow_layers[-2:]]  # scale, standardise
        [('ActNormLayer', True), ('ActNormLayer', False)]
    """
    options = _options("nice", locals(), check_event_shape(event_shape), min_size=2)
    return _model(options, _coupling_layers(options, Additive()),
                  last=[ActNormLayer((options.size,), dtype=options.dtype)])


def glow(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
         permutation=None, base_distribution=DEFAULT_BASE, seed=None, dtype=None,
         log_scale_bound=5.0, standardize=True, context_size=None, name="glow",
         num_scales=None, num_steps=None, num_levels=None, hidden_channels=None,
         num_blocks=None, learned_prior=None, alpha=None):
    """Glow (Kingma & Dhariwal 2018): each step is, from the data side, ActNorm, an
    invertible linear map (the learned generalisation of a permutation, LU-parametrised)
    and an affine coupling. ``permutation`` adds fixed permutations between steps (the
    invertible linear maps already mix dimensions, so the default is ``None``).

    For vectors the coupling masks alternate (the data-side coupling conditions on the first
    half, as in :func:`real_nvp`) and every linear map starts as the identity and learns its
    mixing: Glow's random-rotation start, kept for images, made the vector flow underfit
    small 2-D data (BENCHMARKS.md, "Glow on small 2-D data").

    With an image ``event_shape=(H, W, C)`` this is Glow's multiscale image flow,
    :func:`tfp_flows.image_flows.glow_image` (squeezes, steps with invertible 1x1
    convolutions, learned priors, factor-outs, logit preprocessing); its input is dequantised
    pixels in ``[0, num_levels)`` and ``fit`` takes integer images.

    Args (besides the shared keywords of :mod:`tfp_flows.flows`; ``num_layers`` counts
    steps):
      num_scales, num_steps, num_levels, hidden_channels, num_blocks, learned_prior, alpha:
        images only, see :func:`~tfp_flows.image_flows.glow_image`; ``None`` keeps its
        default.

    Example:
        >>> flow = glow(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> [type(l).__name__ for l in flow.flow_layers[:3]]
        ['CouplingLayer', 'InvertibleLinearLayer', 'ActNormLayer']
        >>> images = glow(event_shape=(8, 8, 1), num_levels=17, num_steps=2, hidden_channels=8)
        >>> type(images.flow_layers[0]).__name__
        'FactorOutLayer'
    """
    args, shape = locals(), check_event_shape(event_shape)
    if len(shape) == 3:
        return glow_image(**_image_flow("glow", shape, args))
    options = _options("glow", args, shape, min_size=2)
    steps = []
    for i in range(options.num_layers):
        # The data-side coupling conditions on the first half (as real_nvp's does).
        steps.append([
            CouplingLayer((options.size,), transform=Affine(options.log_scale_bound),
                          reverse_mask=(options.num_layers - 1 - i) % 2 == 1,
                          hidden_units=options.hidden_units, activation=options.activation,
                          context_size=options.context_size, seed=options.seeds[i],
                          dtype=options.dtype),
            InvertibleLinearLayer((options.size,), initializer="identity", dtype=options.dtype),
            ActNormLayer((options.size,), dtype=options.dtype),
        ])
    return _model(options, steps)


def nsf(*, event_shape, num_layers=4, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution=DEFAULT_BASE, seed=None, dtype=None,
        log_scale_bound=5.0, standardize=True, context_size=None, name="nsf", num_bins=8,
        bound=SPLINE_BOUND, autoregressive=False):
    """Neural spline flow (Durkan et al. 2019): monotone rational-quadratic splines on
    ``[-bound, bound]`` (identity outside), in coupling or autoregressive form.

    Args (besides the shared keywords of :mod:`tfp_flows.flows`; splines have no
    log-scale to bound):
      num_bins: number ``K >= 2`` of spline bins on ``[-bound, bound]``.
      bound: the splines act on ``[-bound, bound]`` (a finite number > 0) and are the
        identity outside it. 6 (in the standardised units the builders train in) beat 4 on
        small two-moons and banana sets (BENCHMARKS.md, "Small data").
      autoregressive: ``False`` for coupling layers (half the entries condition the rest),
        ``True`` for MADE-driven autoregressive layers (fast density, sequential sampling).

    Example:
        >>> import numpy as np
        >>> flow = nsf(event_shape=2, num_layers=2, hidden_units=(8,), num_bins=4)
        >>> flow.log_prob(np.zeros((2, 2), "float32")).shape
        TensorShape([2])
    """
    check_flag(autoregressive, "autoregressive")
    options = _options("nsf" if autoregressive else "nsf (coupling)", locals(),
                       check_event_shape(event_shape), min_size=1 if autoregressive else 2)
    spline = RationalQuadratic(num_bins=num_bins, bound=bound)
    if autoregressive:
        return _model(options, _autoregressive_layers(options, spline), xla=True)
    return _model(options, _coupling_layers(options, spline), xla=True)


BUILDERS = {"maf": maf, "iaf": iaf, "real_nvp": real_nvp, "nice": nice, "glow": glow, "nsf": nsf}


def build_flow(kind, **kwargs):
    """Builds a flow by name (one of :data:`BUILDERS`).

    Args:
      kind: ``"maf"``, ``"iaf"``, ``"real_nvp"``, ``"nice"``, ``"glow"`` or ``"nsf"``.
      **kwargs: the builder's keyword arguments.

    Example:
        >>> build_flow("real_nvp", event_shape=2, num_layers=2, hidden_units=(8,)).name
        'real_nvp'
    """
    if kind not in BUILDERS:
        raise ValueError(f"unknown flow {kind!r}; expected one of {sorted(BUILDERS)}")
    return BUILDERS[kind](**kwargs)
