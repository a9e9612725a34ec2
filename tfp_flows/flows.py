"""Flow builders. All share one keyword-only signature and return a :class:`FlowModel`.

================  ===================================================================
``maf``           masked autoregressive flow: one-pass density, sequential sampling
``iaf``           inverse autoregressive flow: one-pass sampling, sequential density
``real_nvp``      affine coupling layers: one pass both ways
``nice``          additive coupling layers plus a final diagonal scale (ActNorm)
``glow``          steps of ActNorm, invertible linear (LU), affine coupling
``nsf``           neural spline flow: rational-quadratic splines, coupling or autoregressive
================  ===================================================================

Shared keywords mean the same in every builder (each builder's docstring lists them).
"""
import keras

from tfp_flows.bijectors.transforms import Additive, Affine, RationalQuadratic
from tfp_flows.image_flows import (
    IMAGE_ARGS,
    glow_image,
    image_defaults,
    image_shape_or_none,
    real_nvp_image,
)
from tfp_flows.layers import (
    ActNormLayer,
    AutoregressiveLayer,
    CouplingLayer,
    InvertibleLinearLayer,
    PermuteLayer,
    make_permutation,
)
from tfp_flows.layers.base import check_event_shape
from tfp_flows.model import BASE_DISTRIBUTIONS, FlowModel
from tfp_flows.validation import (
    check_dtype_policy,
    check_hidden_units,
    check_positive_float,
    check_positive_int,
    check_seed,
)

__all__ = ["BUILDERS", "build_flow", "glow", "iaf", "maf", "nice", "nsf", "real_nvp"]


_COMMON_ARGS = """
    Args:
      event_shape: the shape of one data point: an int ``D`` or ``(D,)`` for vectors.
      num_layers: number of {unit}s (an integer >= 1).
      hidden_units: sizes of the conditioner networks' hidden layers, e.g. ``(64, 64)``.
      activation: the hidden layers' activation, any name Keras knows (``"relu"``,
        ``"tanh"``...).
      permutation: what sits between consecutive layers so that every dimension gets
        transformed: ``"reverse"`` (reverse the order), ``"random"`` (a fixed random
        permutation drawn from ``seed``), an explicit permutation of ``range(D)``, or ``None``
        (nothing; coupling flows then alternate which half is transformed).
      base_distribution: the distribution of the latent ``z``: ``"student_t"`` (independent
        Student-t with 5 degrees of freedom: a point far outside the training data costs
        about ``6 log|z|`` nats instead of ``|z|^2 / 2``, so densities stay sane just outside
        the data; see BENCHMARKS.md, "Tails") or ``"normal"`` (standard Normal). ``None``
        (default): ``"student_t"`` for vectors, ``"normal"`` for images.
      seed: ``None`` or an integer >= 0 for the random initial weights, masks and
        permutations (the same seed gives the same flow).
      dtype: the floating-point dtype of weights and computation (``"float32"`` or
        ``"float64"``), or a Keras mixed-precision policy (``"mixed_bfloat16"``,
        ``"mixed_float16"``): the conditioner networks then compute in 16 bits while data,
        log-dets and log-densities stay float32 (Keras's loss scaling expects a float32
        loss). ``None`` (default): Keras's global policy, ``keras.config.dtype_policy()``
        (float32 unless ``keras.mixed_precision.set_global_policy`` changed it).
      log_scale_bound: bound ``b`` on each layer's log-scale ``s``, applied softly as
        ``b * tanh(s / b)``; keeps one step from scaling by more than ``exp(b)``.
      standardize: put a fixed per-dimension standardisation ``(x - mean) / std`` inside the
        model, on the data side, set from the training data when ``fit`` starts. The model
        then takes and gives data in its own units (a saved file needs no scaler beside it),
        and data far from unit scale trains as well as standardised data.
      context_size: ``None``, or ``K`` for a conditional flow :math:`p(x \mid c)` with a
        context of ``K`` numbers per row: every conditioner network also takes the context
        (MADE and the coupling MLPs as extra inputs, the image ResNets as a per-channel bias),
        standardised inside the model from the training contexts. ``fit(x, context=c)``,
        ``log_prob(x, context=c)``, ``sample(n, context=c)``. For conditionals close to
        Gaussian (amortised posteriors) pass ``base_distribution="normal"``: affine layers
        cannot turn the default Student-t base into a Gaussian (mean KL to a linear-Gaussian
        posterior 0.080 against 0.010 nats, BENCHMARKS.md, "Conditional flows").
      name: the model's name (default: the builder's name).
"""


def _doc(unit, extra=""):
    def decorate(builder):
        builder.__doc__ = builder.__doc__.replace("{args}", _COMMON_ARGS.format(unit=unit)
                                                  .rstrip() + extra)
        return builder
    return decorate


def _image_flow(build, image, activation, base_distribution, seed, dtype, log_scale_bound,
                context_size, name, image_args):
    """An image builder of :mod:`tfp_flows.image_flows` after the shared keywords are checked
    (the base defaults to ``"normal"`` for images)."""
    base_distribution = "normal" if base_distribution is None else base_distribution
    _check_common(1, (1,), activation, None, None, base_distribution, seed, dtype,
                  log_scale_bound, context_size)
    return build(image, activation=activation, log_scale_bound=log_scale_bound,
                 base_distribution=base_distribution, seed=seed, dtype=dtype, name=name,
                 context_size=context_size, **image_args)


def _vector_base(base_distribution):
    """``None`` means the vector builders' default base, Student-t."""
    return "student_t" if base_distribution is None else base_distribution


def _vector_size(event_shape, min_size=1, what="this builder"):
    shape = check_event_shape(event_shape)
    if len(shape) != 1:
        images = "; for images use real_nvp or glow" if len(shape) == 3 else ""
        raise ValueError(f"{what} is for vector data: event_shape must be (D,), got "
                         f"{shape}{images}")
    if shape[0] < min_size:
        raise ValueError(
            f"{what} needs at least {min_size} dimensions (a coupling layer splits the vector "
            f"in two parts), got event_shape {shape}; use maf or iaf for 1-D data")
    return shape[0]


def _check_common(num_layers, hidden_units, activation=None, permutation=None, size=None,
                  base_distribution="student_t", seed=None, dtype=None, log_scale_bound=5.0,
                  context_size=None):
    """Checks the shared keywords before anything is built; returns the normalised ones."""
    num_layers = check_positive_int(num_layers, "num_layers")
    hidden = check_hidden_units(hidden_units)
    if activation is not None:
        try:
            keras.activations.get(activation)
        except (ValueError, TypeError):
            raise ValueError(f"activation must be a Keras activation name such as 'relu' or "
                             f"'tanh', got {activation!r}") from None
    if permutation is not None and size is not None:
        make_permutation(size, permutation, 0)  # raises on a bad name or sequence
    if base_distribution not in BASE_DISTRIBUTIONS:
        raise ValueError(
            f"base_distribution must be one of {BASE_DISTRIBUTIONS}, got {base_distribution!r}")
    check_seed(seed)
    check_dtype_policy(dtype)
    check_positive_float(log_scale_bound, "log_scale_bound")
    if context_size is not None:
        check_positive_int(context_size, "context_size")
    return num_layers, hidden


def _with_permutations(layers, size, permutation, seed, dtype):
    """Interleaves PermuteLayers between ``layers`` (none after the last)."""
    if permutation is None or size == 1:  # checked already; nothing to permute in 1-D
        return list(layers)
    out = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if i < len(layers) - 1:
            layer_seed = None if seed is None else seed + 1000 + i
            perm = make_permutation(size, permutation, layer_seed)
            out.append(PermuteLayer(perm.tolist(), dtype=dtype))
    return out


def _model(layers, size, base_distribution, dtype, name, default, standardize=True,
           context_size=None):
    if not isinstance(standardize, bool):
        raise ValueError(f"standardize must be True or False, got {standardize!r}")
    if standardize:
        layers = list(layers) + [ActNormLayer((size,), trainable=False, dtype=dtype,
                                              name="standardize")]
    return FlowModel(layers, event_shape=(size,), base_distribution=base_distribution,
                     dtype=dtype, name=name or default, context_size=context_size)


def _checked(event_shape, num_layers, hidden_units, activation, permutation,
             base_distribution, seed, dtype, log_scale_bound, min_size=1, what="this builder",
             context_size=None):
    size = _vector_size(event_shape, min_size, what)
    num_layers, hidden = _check_common(num_layers, hidden_units, activation, permutation, size,
                                       base_distribution, seed, dtype, log_scale_bound,
                                       context_size)
    return size, num_layers, hidden


def _autoregressive(inverse, event_shape, num_layers, hidden_units, activation, permutation,
                    base_distribution, seed, dtype, log_scale_bound, name, standardize,
                    context_size):
    base_distribution = _vector_base(base_distribution)
    size, num_layers, hidden = _checked(event_shape, num_layers, hidden_units, activation,
                                        permutation, base_distribution, seed, dtype,
                                        log_scale_bound, 1, "iaf" if inverse else "maf",
                                        context_size)
    layers = [
        AutoregressiveLayer((size,), transform=Affine(log_scale_bound), hidden_units=hidden,
                            activation=activation, seed=None if seed is None else seed + i,
                            inverse=inverse, context_size=context_size, dtype=dtype)
        for i in range(num_layers)
    ]
    layers = _with_permutations(layers, size, permutation, seed, dtype)
    return _model(layers, size, base_distribution, dtype, name, "iaf" if inverse else "maf",
                  standardize, context_size)


@_doc("MADE-driven affine layer")
def maf(*, event_shape, num_layers=5, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution=None, seed=None, dtype=None,
        log_scale_bound=5.0, standardize=True, context_size=None, name=None):
    """Masked autoregressive flow (Papamakarios et al. 2017): MADE-driven affine layers,
    ``x_i = z_i exp(s_i(x_{<i})) + t_i(x_{<i})``.

    Density in one pass per layer; sampling needs ``D`` passes per layer.
{args}

    Returns:
      A :class:`~tfp_flows.FlowModel`.

    Example:
        >>> flow = maf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> flow.sample(3, seed=1).shape
        TensorShape([3, 2])
    """
    return _autoregressive(False, event_shape, num_layers, hidden_units, activation,
                           permutation, base_distribution, seed, dtype, log_scale_bound, name,
                           standardize, context_size)


@_doc("inverse autoregressive layer")
def iaf(*, event_shape, num_layers=5, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution=None, seed=None, dtype=None,
        log_scale_bound=5.0, standardize=True, context_size=None, name=None):
    """Inverse autoregressive flow (Kingma et al. 2016): the inverse of MAF's layers,
    ``x_i = z_i exp(s_i(z_{<i})) + t_i(z_{<i})``.

    Sampling in one pass per layer; density needs ``D`` passes per layer.
{args}

    Returns:
      A :class:`~tfp_flows.FlowModel`.

    Example:
        >>> import numpy as np
        >>> flow = iaf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> flow.log_prob(np.zeros((4, 2), "float32")).shape
        TensorShape([4])
    """
    return _autoregressive(True, event_shape, num_layers, hidden_units, activation,
                           permutation, base_distribution, seed, dtype, log_scale_bound, name,
                           standardize, context_size)


def _coupling_layers(size, num_layers, hidden, activation, permutation, transform, dtype,
                     context_size=None, seed=None):
    return [
        CouplingLayer((size,), transform=transform,
                      reverse_mask=permutation is None and i % 2 == 1,
                      hidden_units=hidden, activation=activation, context_size=context_size,
                      seed=None if seed is None else seed + i, dtype=dtype)
        for i in range(num_layers)
    ]


@_doc("affine coupling layer", IMAGE_ARGS)
def real_nvp(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
             permutation="reverse", base_distribution=None, seed=None, dtype=None,
             log_scale_bound=5.0, standardize=True, context_size=None, name=None,
             num_scales=None, num_levels=None, hidden_channels=None, num_blocks=None, batch_norm=None,
             alpha=None):
    """Real NVP (Dinh et al. 2017): affine coupling layers; the first half ``x_a`` passes
    unchanged and ``x_b = z_b exp(s(x_a)) + t(x_a)``.

    With ``permutation=None`` the masks alternate instead (``reverse_mask`` every other layer).
    With an image ``event_shape=(H, W, C)`` this is Real NVP's multiscale image flow
    (:mod:`tfp_flows.image_flows`): per scale 3 checkerboard couplings, squeeze, 3 channel
    couplings and factoring out half of the channels; 4 checkerboard couplings at the last
    scale; ResNet conditioners with a ``scale * tanh`` log-scale; batch norm with running
    statistics; logit preprocessing. Its input is dequantised pixels in ``[0, num_levels)``
    and ``fit`` takes integer images. Keywords marked "(images)" are for images only, and
    ``num_layers``, ``hidden_units``, ``permutation`` and ``standardize`` for vectors only.
{args}

    Returns:
      A :class:`~tfp_flows.FlowModel`.

    Example:
        >>> flow = real_nvp(event_shape=2, num_layers=2, hidden_units=(8,))
        >>> len(flow.trainable_weights) > 0
        True
        >>> images = real_nvp(event_shape=(8, 8, 1), num_levels=17, hidden_channels=8, seed=0)
        >>> images.latent_shape, images.num_levels
        ((64,), 17)
    """
    given = dict(num_layers=(num_layers, 6), hidden_units=(hidden_units, (64, 64)),
                 permutation=(permutation, "reverse"), standardize=(standardize, True))
    image_args = dict(num_scales=num_scales, num_levels=num_levels,
                      hidden_channels=hidden_channels, num_blocks=num_blocks,
                      batch_norm=batch_norm, alpha=alpha)
    image = image_shape_or_none(event_shape, "real_nvp", given, image_args)
    if image is not None:
        return _image_flow(real_nvp_image, image, activation, base_distribution, seed, dtype,
                           log_scale_bound, context_size, name,
                           image_defaults(image_args, num_blocks=2, batch_norm=True))
    base_distribution = _vector_base(base_distribution)
    size, num_layers, hidden = _checked(event_shape, num_layers, hidden_units, activation,
                                        permutation, base_distribution, seed, dtype,
                                        log_scale_bound, 2, "real_nvp", context_size)
    layers = _coupling_layers(size, num_layers, hidden, activation, permutation,
                              Affine(log_scale_bound), dtype, context_size, seed)
    layers = _with_permutations(layers, size, permutation, seed, dtype)
    return _model(layers, size, base_distribution, dtype, name, "real_nvp", standardize,
                  context_size)


@_doc("additive coupling layer", """
      (``log_scale_bound`` is accepted for a uniform signature; additive couplings have no
      log-scale.)""")
def nice(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
         permutation="reverse", base_distribution=None, seed=None, dtype=None,
         log_scale_bound=5.0, standardize=True, context_size=None, name=None):
    """NICE (Dinh et al. 2015): additive couplings ``x_b = z_b + t(x_a)`` (volume-preserving)
    and, on the data side, a learned diagonal scale (an ActNorm layer) so the flow can change
    volume.
{args}

    Returns:
      A :class:`~tfp_flows.FlowModel`.

    Example:
        >>> flow = nice(event_shape=2, num_layers=2, hidden_units=(8,))
        >>> [(type(l).__name__, l.trainable) for l in flow.flow_layers[-2:]]  # scale, standardise
        [('ActNormLayer', True), ('ActNormLayer', False)]
    """
    base_distribution = _vector_base(base_distribution)
    size, num_layers, hidden = _checked(event_shape, num_layers, hidden_units, activation,
                                        permutation, base_distribution, seed, dtype,
                                        log_scale_bound, 2, "nice", context_size)
    layers = _coupling_layers(size, num_layers, hidden, activation, permutation, Additive(),
                              dtype, context_size, seed)
    layers = _with_permutations(layers, size, permutation, seed, dtype)
    layers.append(ActNormLayer((size,), dtype=dtype))
    return _model(layers, size, base_distribution, dtype, name, "nice", standardize,
                  context_size)


@_doc("Glow step", IMAGE_ARGS)
def glow(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
         permutation=None, base_distribution=None, seed=None, dtype=None,
         log_scale_bound=5.0, standardize=True, context_size=None, name=None, num_scales=None,
         num_steps=None,
         num_levels=None, hidden_channels=None, num_blocks=None, learned_prior=None,
         alpha=None):
    """Glow (Kingma & Dhariwal 2018): each step is, from the data side, ActNorm, an
    invertible linear map (the learned generalisation of a permutation, LU-parametrised)
    and an affine coupling. ``permutation`` adds fixed permutations between steps (the
    invertible linear maps already mix dimensions, so the default is ``None``).

    For vectors the coupling masks alternate (the data-side coupling conditions on the first
    half, as in :func:`real_nvp`) and every linear map starts as the identity and learns its
    mixing; Glow's random-rotation start, kept for images, made the vector flow underfit
    small 2-D data (moons KL 0.34 nats before, 0.15 after, real_nvp's 0.15; BENCHMARKS.md,
    "Glow on small 2-D data").

    With an image ``event_shape=(H, W, C)`` this is Glow's multiscale image flow
    (:mod:`tfp_flows.image_flows`): per scale a squeeze, ``num_steps`` steps (invertible 1x1
    convolutions, channel couplings with convolutional conditioners) and, except at the last
    scale, a learned prior and the factor-out of half of the channels; logit preprocessing.
    Its input is dequantised pixels in ``[0, num_levels)`` and ``fit`` takes integer images.
    Keywords marked "(images)" are for images only, and ``num_layers``, ``hidden_units``,
    ``permutation`` and ``standardize`` for vectors only.
{args}

    Returns:
      A :class:`~tfp_flows.FlowModel`.

    Example:
        >>> flow = glow(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> [type(l).__name__ for l in flow.flow_layers[:3]]
        ['CouplingLayer', 'InvertibleLinearLayer', 'ActNormLayer']
        >>> images = glow(event_shape=(8, 8, 1), num_levels=17, num_steps=2, hidden_channels=8)
        >>> type(images.flow_layers[0]).__name__
        'FactorOutLayer'
    """
    given = dict(num_layers=(num_layers, 6), hidden_units=(hidden_units, (64, 64)),
                 permutation=(permutation, None), standardize=(standardize, True))
    image_args = dict(num_scales=num_scales, num_steps=num_steps, num_levels=num_levels,
                      hidden_channels=hidden_channels, num_blocks=num_blocks,
                      learned_prior=learned_prior, alpha=alpha)
    image = image_shape_or_none(event_shape, "glow", given, image_args)
    if image is not None:
        return _image_flow(glow_image, image, activation, base_distribution, seed, dtype,
                           log_scale_bound, context_size, name,
                           image_defaults(image_args, num_blocks=0, num_steps=4,
                                          learned_prior=True))
    base_distribution = _vector_base(base_distribution)
    size, num_layers, hidden = _checked(event_shape, num_layers, hidden_units, activation,
                                        permutation, base_distribution, seed, dtype,
                                        log_scale_bound, 2, "glow", context_size)
    steps = []
    for i in range(num_layers):
        # The masks alternate so that the data-side coupling conditions on the first half (as
        # real_nvp's and maf's first layers do), and each linear map starts as the identity:
        # random rotations cost affine couplings much of their fit on low-dimensional data
        # and train back slowly (BENCHMARKS.md, "Glow on small 2-D data").
        steps.append([
            CouplingLayer((size,), transform=Affine(log_scale_bound),
                          reverse_mask=(num_layers - 1 - i) % 2 == 1,
                          hidden_units=hidden, activation=activation,
                          context_size=context_size, seed=None if seed is None else seed + i,
                          dtype=dtype),
            InvertibleLinearLayer((size,), initializer="identity", dtype=dtype),
            ActNormLayer((size,), dtype=dtype),
        ])
    layers = []
    for step in _with_permutations(steps, size, permutation, seed, dtype):
        layers.extend(step if isinstance(step, list) else [step])
    return _model(layers, size, base_distribution, dtype, name, "glow", standardize,
                  context_size)


@_doc("spline layer", """
      (``log_scale_bound`` is accepted for a uniform signature: splines have bounded
      derivatives by construction.)
      num_bins: number ``K >= 2`` of spline bins on ``[-bound, bound]``.
      bound: the splines act on ``[-bound, bound]`` (a finite number > 0) and are the
        identity outside it. The default 6 (in the standardised units the builders train
        in) beat 4 on small two-moons and banana sets (BENCHMARKS.md, "Small data").
      autoregressive: ``False`` for coupling layers (half the entries condition the rest),
        ``True`` for MADE-driven autoregressive layers (fast density, sequential sampling).""")
def nsf(*, event_shape, num_layers=4, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution=None, seed=None, dtype=None,
        log_scale_bound=5.0, standardize=True, context_size=None, name=None, num_bins=8,
        bound=6.0, autoregressive=False):
    """Neural spline flow (Durkan et al. 2019): monotone rational-quadratic splines on
    ``[-bound, bound]`` (identity outside), in coupling or autoregressive form.
{args}

    Returns:
      A :class:`~tfp_flows.FlowModel`.

    Example:
        >>> import numpy as np
        >>> flow = nsf(event_shape=2, num_layers=2, hidden_units=(8,), num_bins=4)
        >>> flow.log_prob(np.zeros((2, 2), "float32")).shape
        TensorShape([2])
    """
    if not isinstance(autoregressive, bool):
        raise ValueError(f"autoregressive must be True or False, got {autoregressive!r}")
    base_distribution = _vector_base(base_distribution)
    size, num_layers, hidden = _checked(event_shape, num_layers, hidden_units, activation,
                                        permutation, base_distribution, seed, dtype,
                                        log_scale_bound, 1 if autoregressive else 2,
                                        "nsf (coupling)", context_size)
    spline = RationalQuadratic(num_bins=num_bins, bound=bound)
    if autoregressive:
        layers = [
            AutoregressiveLayer((size,), transform=spline, hidden_units=hidden,
                                activation=activation, seed=None if seed is None else seed + i,
                                context_size=context_size, dtype=dtype)
            for i in range(num_layers)
        ]
    else:
        layers = _coupling_layers(size, num_layers, hidden, activation, permutation, spline,
                                  dtype, context_size, seed)
    layers = _with_permutations(layers, size, permutation, seed, dtype)
    return _model(layers, size, base_distribution, dtype, name, "nsf", standardize,
                  context_size)


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
