"""Flow builders. All share one keyword-only signature and return a :class:`FlowModel`.

================  ===================================================================
``maf``           masked autoregressive flow: one-pass density, sequential sampling
``iaf``           inverse autoregressive flow: one-pass sampling, sequential density
``real_nvp``      affine coupling layers: one pass both ways
``nice``          additive coupling layers plus a final diagonal scale (ActNorm)
``glow``          steps of ActNorm, invertible linear (LU), affine coupling
``nsf``           neural spline flow: rational-quadratic splines, coupling or autoregressive
================  ===================================================================

Shared keywords: ``event_shape`` (int or 1-tuple: vector data), ``num_layers``,
``hidden_units``, ``activation``, ``permutation`` (``"reverse"``, ``"random"`` or ``None``:
what sits between layers), ``base_distribution``, ``seed``, ``dtype``, ``log_scale_bound``,
``name``.
"""
from tfp_flows.layers import (
    ActNormLayer,
    AffineCouplingLayer,
    AutoregressiveLayer,
    InvertibleLinearLayer,
    PermuteLayer,
    make_permutation,
)
from tfp_flows.layers.base import check_event_shape
from tfp_flows.layers.spline import SplineAutoregressiveLayer, SplineCouplingLayer
from tfp_flows.model import FlowModel

__all__ = ["BUILDERS", "build_flow", "glow", "iaf", "maf", "nice", "nsf", "real_nvp"]


def _vector_size(event_shape):
    shape = check_event_shape(event_shape)
    if len(shape) != 1:
        raise ValueError(f"this builder is for vector data: event_shape must be (D,), got {shape}")
    return shape[0]


def _check_common(num_layers, hidden_units):
    if int(num_layers) < 1:
        raise ValueError(f"num_layers must be a positive integer, got {num_layers}")
    hidden = tuple(int(h) for h in hidden_units)
    if not hidden or any(h < 1 for h in hidden):
        raise ValueError(f"hidden_units must be a non-empty sequence of positive ints, got {hidden_units}")
    return int(num_layers), hidden


def _with_permutations(layers, size, permutation, seed, dtype):
    """Interleaves PermuteLayers between ``layers`` (none after the last)."""
    if permutation is None or size == 1:
        return list(layers)
    out = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if i < len(layers) - 1:
            layer_seed = None if seed is None else seed + 1000 + i
            perm = make_permutation(size, permutation, layer_seed)
            out.append(PermuteLayer(perm.tolist(), dtype=dtype))
    return out


def _model(layers, size, base_distribution, dtype, name, default):
    return FlowModel(layers, event_shape=(size,), base_distribution=base_distribution,
                     dtype=dtype, name=name or default)


def _autoregressive(inverse, event_shape, num_layers, hidden_units, activation, permutation,
                    base_distribution, seed, dtype, log_scale_bound, name):
    size = _vector_size(event_shape)
    num_layers, hidden = _check_common(num_layers, hidden_units)
    layers = [
        AutoregressiveLayer(size, hidden_units=hidden, activation=activation,
                            seed=None if seed is None else seed + i, inverse=inverse,
                            log_scale_bound=log_scale_bound, dtype=dtype)
        for i in range(num_layers)
    ]
    layers = _with_permutations(layers, size, permutation, seed, dtype)
    return _model(layers, size, base_distribution, dtype, name, "iaf" if inverse else "maf")


def maf(*, event_shape, num_layers=5, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution="normal", seed=None, dtype="float32",
        log_scale_bound=5.0, name=None):
    """Masked autoregressive flow (Papamakarios et al. 2017): MADE-driven affine layers.

    Density in one pass per layer; sampling needs ``D`` passes per layer.

    Example:
        >>> flow = maf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> flow.sample(3, seed=1).shape
        TensorShape([3, 2])
    """
    return _autoregressive(False, event_shape, num_layers, hidden_units, activation,
                           permutation, base_distribution, seed, dtype, log_scale_bound, name)


def iaf(*, event_shape, num_layers=5, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution="normal", seed=None, dtype="float32",
        log_scale_bound=5.0, name=None):
    """Inverse autoregressive flow (Kingma et al. 2016): the inverse of MAF's layers.

    Sampling in one pass per layer; density needs ``D`` passes per layer.

    Example:
        >>> import numpy as np
        >>> flow = iaf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> flow.log_prob(np.zeros((4, 2), "float32")).shape
        TensorShape([4])
    """
    return _autoregressive(True, event_shape, num_layers, hidden_units, activation,
                           permutation, base_distribution, seed, dtype, log_scale_bound, name)


def _coupling_layers(size, num_layers, hidden, activation, permutation, shift_only,
                     log_scale_bound, dtype):
    return [
        AffineCouplingLayer((size,), reverse_mask=permutation is None and i % 2 == 1,
                            hidden_units=hidden, activation=activation, shift_only=shift_only,
                            log_scale_bound=log_scale_bound, dtype=dtype)
        for i in range(num_layers)
    ]


def real_nvp(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
             permutation="reverse", base_distribution="normal", seed=None, dtype="float32",
             log_scale_bound=5.0, name=None):
    """Real NVP (Dinh et al. 2017): affine coupling layers.

    With ``permutation=None`` the masks alternate instead (``reverse_mask`` every other layer).

    Example:
        >>> flow = real_nvp(event_shape=2, num_layers=2, hidden_units=(8,))
        >>> len(flow.trainable_weights) > 0
        True
    """
    size = _vector_size(event_shape)
    num_layers, hidden = _check_common(num_layers, hidden_units)
    layers = _coupling_layers(size, num_layers, hidden, activation, permutation, False,
                              log_scale_bound, dtype)
    layers = _with_permutations(layers, size, permutation, seed, dtype)
    return _model(layers, size, base_distribution, dtype, name, "real_nvp")


def nice(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
         permutation="reverse", base_distribution="normal", seed=None, dtype="float32",
         log_scale_bound=5.0, name=None):
    """NICE (Dinh et al. 2015): additive couplings (volume-preserving) and, on the data
    side, a learned diagonal scale (an ActNorm layer) so the flow can change volume.

    Example:
        >>> flow = nice(event_shape=2, num_layers=2, hidden_units=(8,))
        >>> flow.flow_layers[-1].__class__.__name__
        'ActNormLayer'
    """
    size = _vector_size(event_shape)
    num_layers, hidden = _check_common(num_layers, hidden_units)
    layers = _coupling_layers(size, num_layers, hidden, activation, permutation, True,
                              log_scale_bound, dtype)
    layers = _with_permutations(layers, size, permutation, seed, dtype)
    layers.append(ActNormLayer(size, dtype=dtype))
    return _model(layers, size, base_distribution, dtype, name, "nice")


def glow(*, event_shape, num_layers=6, hidden_units=(64, 64), activation="relu",
         permutation=None, base_distribution="normal", seed=None, dtype="float32",
         log_scale_bound=5.0, name=None):
    """Glow (Kingma & Dhariwal 2018) for vectors: each step is, from the data side, ActNorm,
    an invertible linear map (the learned generalisation of a permutation, LU-parametrised)
    and an affine coupling. ``permutation`` adds fixed permutations between steps (the
    invertible linear maps already mix dimensions, so the default is ``None``).

    Example:
        >>> flow = glow(event_shape=2, num_layers=2, hidden_units=(8,), seed=0)
        >>> [type(l).__name__ for l in flow.flow_layers[:3]]
        ['AffineCouplingLayer', 'InvertibleLinearLayer', 'ActNormLayer']
    """
    size = _vector_size(event_shape)
    num_layers, hidden = _check_common(num_layers, hidden_units)
    steps = []
    for i in range(num_layers):
        steps.append([
            AffineCouplingLayer((size,), reverse_mask=i % 2 == 1, hidden_units=hidden,
                                activation=activation, log_scale_bound=log_scale_bound,
                                dtype=dtype),
            InvertibleLinearLayer(size, seed=None if seed is None else seed + i, dtype=dtype),
            ActNormLayer(size, dtype=dtype),
        ])
    layers = []
    for i, step in enumerate(_with_permutations(steps, size, permutation, seed, dtype)):
        layers.extend(step if isinstance(step, list) else [step])
    return _model(layers, size, base_distribution, dtype, name, "glow")


def nsf(*, event_shape, num_layers=4, hidden_units=(64, 64), activation="relu",
        permutation="reverse", base_distribution="normal", seed=None, dtype="float32",
        log_scale_bound=5.0, name=None, num_bins=8, bound=4.0, autoregressive=False):
    """Neural spline flow (Durkan et al. 2019): monotone rational-quadratic splines on
    ``[-bound, bound]`` (identity outside), with ``num_bins`` bins, in coupling form
    (``autoregressive=False``; half the entries condition the rest) or autoregressive form
    (MADE-driven; fast density, sequential sampling). ``log_scale_bound`` is unused (splines
    have bounded derivatives by construction); it is accepted for a uniform signature.

    Example:
        >>> import numpy as np
        >>> flow = nsf(event_shape=2, num_layers=2, hidden_units=(8,), num_bins=4)
        >>> flow.log_prob(np.zeros((2, 2), "float32")).shape
        TensorShape([2])
    """
    del log_scale_bound
    size = _vector_size(event_shape)
    num_layers, hidden = _check_common(num_layers, hidden_units)
    if autoregressive:
        layers = [
            SplineAutoregressiveLayer(size, num_bins=num_bins, bound=bound, hidden_units=hidden,
                                      activation=activation, seed=None if seed is None else seed + i,
                                      dtype=dtype)
            for i in range(num_layers)
        ]
    else:
        layers = [
            SplineCouplingLayer((size,), reverse_mask=permutation is None and i % 2 == 1,
                                num_bins=num_bins, bound=bound, hidden_units=hidden,
                                activation=activation, dtype=dtype)
            for i in range(num_layers)
        ]
    layers = _with_permutations(layers, size, permutation, seed, dtype)
    return _model(layers, size, base_distribution, dtype, name, "nsf")


BUILDERS = {"maf": maf, "iaf": iaf, "real_nvp": real_nvp, "nice": nice, "glow": glow, "nsf": nsf}


def build_flow(kind, **kwargs):
    """Builds a flow by name (one of :data:`BUILDERS`).

    Example:
        >>> build_flow("real_nvp", event_shape=2, num_layers=2, hidden_units=(8,)).name
        'real_nvp'
    """
    if kind not in BUILDERS:
        raise ValueError(f"unknown flow {kind!r}; expected one of {sorted(BUILDERS)}")
    return BUILDERS[kind](**kwargs)
