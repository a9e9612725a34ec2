"""Every bijector of the package (and compositions with stock TFP), ready to be checked.

Each entry builds ``(bijector, event_shape, sample_fn)`` for a dtype; ``sample_fn(shape, rng)``
draws points in the forward domain. Parameters are set to non-trivial values so that the
log-det checks mean something (an identity would pass anything).

Coverage: :class:`~tfp_flows.bijectors.Coupling` with each transform (affine, additive,
rational-quadratic) and each kind of mask (vector split, reversed split by fraction,
checkerboard, channel) and each accepted conditioner output (stacked tensor, ``(shift,
log_scale)`` tuple, bare shift, shift with a trailing axis of 1);
:class:`~tfp_flows.bijectors.MaskedAutoregressive` with affine and spline transforms and
``tfb.Invert`` of it (IAF; the inversion does not depend on the transform); ActNorm and
InvertibleLinear on vectors and images; PReLU with fixed and learnable
(:func:`~tfp_flows.bijectors.positive_variable`) slopes; Logit and its inverse; a chain with
stock TFP bijectors; the image building blocks: Squeeze and its inverse, BatchNorm with given
(running) statistics on vectors and images, and a two-scale FactorOut whose inner flow squeezes,
factors out again and ends in a coupling and an ActNorm (the event changes from a flat latent
to an image, so ``event_shape`` is the forward-domain shape).
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import bijectors as fb

tfb = tfp.bijectors

SPLINE = fb.RationalQuadratic(num_bins=4, bound=3.0)


class DenseConditioner:
    """A small fixed random MLP ``x -> params`` for any event shape.

    ``form`` is what it returns: ``"stacked"`` ``out_shape + [num_params]``, ``"tuple"``
    ``(shift, log_scale)`` (two parameters), ``"bare"`` ``out_shape`` (one parameter).
    """

    def __init__(self, in_shape, out_shape, dtype, seed, num_params=2, form="stacked"):
        rng = np.random.default_rng(seed)
        n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
        self.out_shape, self.num_params, self.form = list(out_shape), num_params, form
        self.w1 = tf.constant(rng.normal(size=(n_in, 8)) / np.sqrt(n_in), dtype)
        self.w2 = tf.constant(rng.normal(size=(8, num_params * n_out)) * 0.5, dtype)
        self.n_in = n_in

    def __call__(self, x):
        batch = tf.shape(x)[: x.shape.rank - len(self.out_shape)]
        flat = tf.reshape(x, [-1, self.n_in])
        out = tf.tanh(flat @ self.w1) @ self.w2
        out = tf.reshape(out, tf.concat([batch, self.out_shape + [self.num_params]], 0))
        if self.form == "tuple":
            return out[..., 0], out[..., 1]
        if self.form == "bare":
            return out[..., 0]
        return out


def _normal(shape, rng):
    return rng.normal(size=shape)


def _pixels(shape, rng):
    x = rng.uniform(0.0, 256.0, size=shape)
    flat = x.reshape(-1)
    flat[:2] = [0.0, 256.0][: flat.size]  # both edges of the domain
    return x


def _wide_normal(shape, rng):
    """Points inside and outside a spline's [-3, 3] interval."""
    return rng.normal(size=shape) * 2.5


# ------------------------------------------------------------------------- couplings
def _affine_half(dtype):
    return fb.Coupling(DenseConditioner([2], [2], dtype, 0)), (4,), _normal


def _affine_reverse_fraction(dtype):
    cond = DenseConditioner([1], [3], dtype, 1, form="tuple")
    bij = fb.Coupling(cond, transform=fb.Affine(log_scale_bound=2.0), fraction_masked=0.25,
                      reverse_mask=True)
    return bij, (4,), _normal


def _affine_checkerboard(dtype):
    shape = (4, 4, 2)
    cond = DenseConditioner(shape, shape, dtype, 3)
    return fb.Coupling(cond, mask=fb.checkerboard_mask(shape)), shape, _normal


def _affine_channel(dtype):
    shape = (2, 2, 4)
    cond = DenseConditioner(shape, shape, dtype, 4)
    return fb.Coupling(cond, mask=fb.channel_mask(shape, reverse=True)), shape, _normal


def _nice(dtype):
    cond = DenseConditioner([2], [2], dtype, 2, num_params=1, form="bare")
    return fb.Coupling(cond, transform="additive"), (4,), _normal


def _additive_checkerboard(dtype):
    shape = (2, 3, 2)
    cond = DenseConditioner(shape, shape, dtype, 11, num_params=1)  # [..., H, W, C, 1]
    mask = fb.checkerboard_mask(shape, reverse=True)
    return fb.Coupling(cond, transform=fb.Additive(), mask=mask), shape, _normal


def _spline_coupling(dtype):
    cond = DenseConditioner([2], [3], dtype, 9, num_params=SPLINE.num_params)
    bij = fb.Coupling(cond, transform=SPLINE, num_masked=2, reverse_mask=True)
    return bij, (5,), _wide_normal


def _spline_coupling_channel(dtype):
    shape = (2, 2, 2)
    cond = DenseConditioner(shape, shape, dtype, 13, num_params=SPLINE.num_params)
    return fb.Coupling(cond, transform=SPLINE, mask=fb.channel_mask(shape)), shape, _wide_normal


# ------------------------------------------------------------------ autoregressive
class AutoregressiveConditioner:
    """A fixed random autoregressive map: output ``i`` depends on ``y_{<i}`` only (strictly
    lower-triangular weights), ``num_params`` parameters per entry."""

    def __init__(self, size, dtype, seed, num_params=2):
        rng = np.random.default_rng(seed)
        tril = np.tril(np.ones((size, size)), -1)[..., None]
        self.w1 = tf.constant(rng.normal(size=(size, size, num_params)) * tril * 0.5, dtype)
        self.w2 = tf.constant(rng.normal(size=(size, size, num_params)) * tril * 0.5, dtype)

    def __call__(self, y):
        return (tf.einsum("...j,ijk->...ik", tf.tanh(y), self.w1)
                + tf.einsum("...j,ijk->...ik", tf.sin(y), self.w2))


def _maf(dtype):
    return fb.MaskedAutoregressive(AutoregressiveConditioner(3, dtype, 7)), (3,), _normal


def _iaf(dtype):
    maf = fb.MaskedAutoregressive(AutoregressiveConditioner(3, dtype, 8), transform="affine")
    return tfb.Invert(maf), (3,), _normal


def _spline_maf(dtype):
    cond = AutoregressiveConditioner(3, dtype, 10, num_params=SPLINE.num_params)
    return fb.MaskedAutoregressive(cond, transform=SPLINE), (3,), _wide_normal


# ------------------------------------------------------------------- per-feature maps
def _actnorm(dtype, event_ndims=1, shape=(3,)):
    rng = np.random.default_rng(5)
    loc = tf.constant(rng.normal(size=shape[-1]), dtype)
    log_scale = tf.Variable(rng.normal(size=shape[-1]) * 0.5, dtype=dtype)
    return fb.ActNorm(loc, log_scale, event_ndims=event_ndims), shape, _normal


def _actnorm_image(dtype):
    return _actnorm(dtype, event_ndims=3, shape=(2, 3, 2))


def _invertible_linear(dtype, event_ndims=1, shape=(3,)):
    rng = np.random.default_rng(6)
    size = shape[-1]
    perm, lower, upper, log_diag = fb.random_lu_init(size, seed=0, dtype=dtype.name)
    lower = tf.constant(lower + rng.normal(size=(size, size)) * 0.3, dtype)
    upper = tf.Variable(upper + rng.normal(size=(size, size)) * 0.3, dtype=dtype)
    log_diag = tf.constant(log_diag + rng.normal(size=size) * 0.3, dtype)
    bij = fb.InvertibleLinear(perm, lower, upper, log_diag, event_ndims=event_ndims)
    return bij, shape, _normal


def _invertible_linear_image(dtype):
    return _invertible_linear(dtype, event_ndims=3, shape=(2, 2, 3))


def _prelu_scalar(dtype):
    return fb.PReLU(np.asarray(0.3, dtype.as_numpy_dtype)), (3,), _normal


def _prelu_per_dim(dtype):
    return fb.PReLU(tf.constant([0.2, 1.5, 3.0], dtype)), (3,), _normal


def _prelu_learnable(dtype):
    return fb.PReLU(fb.positive_variable([0.4, 1.2, 2.5], dtype=dtype.name)), (3,), _normal


def _logit(dtype):
    del dtype  # takes the input's dtype
    return fb.Logit(max_value=256.0, alpha=0.05), (3,), _pixels


def _inverted_logit(dtype):
    del dtype
    return tfb.Invert(fb.Logit(max_value=1.0, alpha=1e-3)), (3,), _normal


# ------------------------------------------------------------------- image blocks
def _squeeze(dtype):
    del dtype  # no parameters
    return fb.Squeeze(), (4, 4, 2), _normal


def _unsqueeze(dtype):
    del dtype
    return tfb.Invert(fb.Squeeze()), (2, 2, 8), _normal


def _batch_norm(dtype, event_ndims=1, shape=(3,)):
    rng = np.random.default_rng(12)
    c = shape[-1]
    mean = tf.constant(rng.normal(size=c), dtype)
    variance = tf.constant(rng.uniform(0.3, 3.0, size=c), dtype)
    loc = tf.constant(rng.normal(size=c) * 0.5, dtype)
    log_scale = tf.Variable(rng.normal(size=c) * 0.5, dtype=dtype)
    bij = fb.BatchNorm(mean, variance, loc, log_scale, epsilon=1e-2, event_ndims=event_ndims)
    return bij, shape, _normal


def _batch_norm_image(dtype):
    return _batch_norm(dtype, event_ndims=3, shape=(2, 3, 2))


def _factor_out(dtype):
    """Data (2, 2, 4): 2 channels factored out, the 2 kept ones squeezed to (1, 1, 8), of which
    4 are factored out and 4 go through a channel coupling and an ActNorm."""
    rng = np.random.default_rng(14)
    deepest = (1, 1, 4)
    coupling = fb.Coupling(DenseConditioner(deepest, deepest, dtype, 15),
                           mask=fb.channel_mask(deepest))
    actnorm = fb.ActNorm(tf.constant(rng.normal(size=4), dtype),
                         tf.constant(rng.normal(size=4) * 0.5, dtype), event_ndims=3)
    inner = fb.FactorOut([actnorm, coupling], event_shape=(1, 1, 8), num_kept=4)
    outer = fb.FactorOut([inner, tfb.Invert(fb.Squeeze())], event_shape=(2, 2, 4))
    return outer, (16,), _normal


# --------------------------------------------------------------------- compositions
def _chain_with_stock(dtype):
    coupling, _, _ = _affine_half(dtype)
    prelu, _, _ = _prelu_scalar(dtype)
    chain = tfb.Chain([coupling, tfb.Permute([3, 2, 1, 0]), prelu,
                       tfb.Shift(tf.constant(0.5, dtype))])
    return chain, (4,), _normal


# ----------------------------------------------------------------------- conditional
class ContextConditioner(DenseConditioner):
    """:class:`DenseConditioner` whose parameters also depend on a context ``[n, 2]``."""

    def __init__(self, in_shape, out_shape, dtype, seed):
        super().__init__(in_shape, out_shape, dtype, seed)
        rng = np.random.default_rng(seed + 100)
        self.w_context = tf.constant(rng.normal(size=(2, 2 * int(np.prod(out_shape)))) * 0.5,
                                     dtype)

    def __call__(self, x, context):
        out = super().__call__(x)
        shift = tf.reshape(context @ self.w_context, tf.shape(out))
        return out + shift


def _conditional(dtype):
    """A coupling whose conditioner reads a context given at call time (the ``context``
    keyword of :data:`CALL_KWARGS`): how a conditional FlowModel reaches plain TFP."""
    conditioner = ContextConditioner([2], [2], dtype, 16)
    bijector = fb.Conditional(
        lambda c: fb.Coupling(lambda x_b: conditioner(x_b, c)), context_size=2, dtype=dtype,
        forward_min_event_ndims=1)
    return bijector, (4,), _normal


#: Keyword arguments every call of a registry bijector needs (conditional bijectors).
CALL_KWARGS = {
    "conditional_coupling": lambda dtype: {"context": tf.constant([0.7, -1.2], dtype)},
}


REGISTRY = {
    "conditional_coupling": _conditional,
    "coupling_affine_half": _affine_half,
    "coupling_affine_reverse_fraction_tuple": _affine_reverse_fraction,
    "coupling_affine_checkerboard": _affine_checkerboard,
    "coupling_affine_channel": _affine_channel,
    "coupling_additive_nice": _nice,
    "coupling_additive_checkerboard": _additive_checkerboard,
    "coupling_spline_reverse": _spline_coupling,
    "coupling_spline_channel": _spline_coupling_channel,
    "masked_autoregressive_affine": _maf,
    "inverse_autoregressive_affine": _iaf,
    "masked_autoregressive_spline": _spline_maf,
    "actnorm": _actnorm,
    "actnorm_image": _actnorm_image,
    "invertible_linear": _invertible_linear,
    "invertible_linear_image": _invertible_linear_image,
    "prelu_fixed_scalar": _prelu_scalar,
    "prelu_fixed_per_dim": _prelu_per_dim,
    "prelu_positive_variable": _prelu_learnable,
    "logit": _logit,
    "invert_logit": _inverted_logit,
    "chain_with_stock_tfp": _chain_with_stock,
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "batch_norm": _batch_norm,
    "batch_norm_image": _batch_norm_image,
    "factor_out_two_scales": _factor_out,
}
