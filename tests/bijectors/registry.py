"""Every bijector of the package (and compositions with stock TFP), ready to be checked.

Each entry builds ``(bijector, event_shape, sample_fn)`` for a dtype; ``sample_fn(shape, rng)``
draws points in the forward domain. Parameters are set to non-trivial values so that the
log-det checks mean something (an identity would pass anything).
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import bijectors as fb

tfb = tfp.bijectors


class DenseConditioner:
    """A small fixed random MLP ``x -> (shift, log_scale)`` for any event shape."""

    def __init__(self, in_shape, out_shape, dtype, seed, image=False):
        rng = np.random.default_rng(seed)
        n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
        self.out_shape = list(out_shape)
        self.w1 = tf.constant(rng.normal(size=(n_in, 8)) / np.sqrt(n_in), dtype)
        self.w2 = tf.constant(rng.normal(size=(8, 2 * n_out)) * 0.5, dtype)
        self.n_in = n_in

    def __call__(self, x, scale=1.0):
        batch = tf.shape(x)[: x.shape.rank - len(self.out_shape)]
        flat = tf.reshape(x, [-1, self.n_in])
        out = tf.tanh(flat @ self.w1) @ self.w2 * scale
        return tf.reshape(out, tf.concat([batch, self.out_shape + [2]], 0))


def _normal(shape, rng):
    return rng.normal(size=shape)


def _pixels(shape, rng):
    x = rng.uniform(0.0, 256.0, size=shape)
    flat = x.reshape(-1)
    flat[:2] = [0.0, 256.0][: flat.size]  # both edges of the domain
    return x


def _affine_half(dtype):
    return fb.AffineCoupling(DenseConditioner([2], [2], dtype, 0)), (4,), _normal


def _affine_reverse_fraction(dtype):
    bij = fb.AffineCoupling(DenseConditioner([1], [3], dtype, 1), fraction_masked=0.25,
                            reverse_mask=True)
    return bij, (4,), _normal


def _nice(dtype):
    return fb.AffineCoupling(DenseConditioner([2], [2], dtype, 2), shift_only=True), (4,), _normal


def _affine_checkerboard(dtype):
    shape = (4, 4, 2)
    cond = DenseConditioner(shape, shape, dtype, 3)
    return fb.AffineCoupling(cond, mask=fb.checkerboard_mask(shape)), shape, _normal


def _affine_channel(dtype):
    shape = (2, 2, 4)
    cond = DenseConditioner(shape, shape, dtype, 4)
    return fb.AffineCoupling(cond, mask=fb.channel_mask(shape, reverse=True)), shape, _normal


def _prelu_scalar(dtype):
    return fb.PReLU(alpha=0.3, dtype=dtype), (3,), _normal


def _prelu_per_dim(dtype):
    return fb.PReLU(alpha=[0.2, 1.5, 3.0], dtype=dtype), (3,), _normal


def _logit(dtype):
    del dtype  # takes the input's dtype
    return fb.Logit(max_value=256.0, alpha=0.05), (3,), _pixels


def _actnorm(dtype, event_ndims=1, shape=(3,)):
    rng = np.random.default_rng(5)
    bij = fb.ActNorm(num_features=shape[-1], event_ndims=event_ndims, data_init=False,
                     dtype=dtype)
    bij.loc.assign(rng.normal(size=shape[-1]))
    bij.log_scale.assign(rng.normal(size=shape[-1]) * 0.5)
    return bij, shape, _normal


def _actnorm_image(dtype):
    return _actnorm(dtype, event_ndims=3, shape=(2, 3, 2))


def _invertible_linear(dtype, event_ndims=1, shape=(3,)):
    rng = np.random.default_rng(6)
    bij = fb.InvertibleLinear(event_size=shape[-1], seed=0, event_ndims=event_ndims, dtype=dtype)
    bij._upper.assign(bij._upper + rng.normal(size=(shape[-1],) * 2) * 0.3)
    bij._lower.assign(bij._lower + rng.normal(size=(shape[-1],) * 2) * 0.3)
    bij._log_diag.assign(rng.normal(size=shape[-1]) * 0.3)
    return bij, shape, _normal


def _invertible_linear_image(dtype):
    return _invertible_linear(dtype, event_ndims=3, shape=(2, 2, 3))


def _chain_with_stock(dtype):
    coupling, _, _ = _affine_half(dtype)
    prelu, _, _ = _prelu_scalar(dtype)
    chain = tfb.Chain([coupling, tfb.Permute([3, 2, 1, 0]), prelu, tfb.Shift(tf.constant(0.5, dtype))])
    return chain, (4,), _normal


def _inverted_logit(dtype):
    del dtype
    return tfb.Invert(fb.Logit(max_value=1.0, alpha=1e-3)), (3,), _normal


REGISTRY = {
    "affine_coupling_half": _affine_half,
    "affine_coupling_reverse_fraction": _affine_reverse_fraction,
    "nice_additive_coupling": _nice,
    "affine_coupling_checkerboard": _affine_checkerboard,
    "affine_coupling_channel": _affine_channel,
    "prelu_scalar": _prelu_scalar,
    "prelu_per_dim": _prelu_per_dim,
    "logit": _logit,
    "actnorm": _actnorm,
    "actnorm_image": _actnorm_image,
    "invertible_linear": _invertible_linear,
    "invertible_linear_image": _invertible_linear_image,
    "chain_with_stock_tfp": _chain_with_stock,
    "invert_logit": _inverted_logit,
}


class AutoregressiveConditioner:
    """A fixed random autoregressive map (strictly lower-triangular weights)."""

    def __init__(self, size, dtype, seed):
        rng = np.random.default_rng(seed)
        tril = np.tril(np.ones((size, size)), -1)
        self.w_shift = tf.constant(rng.normal(size=(size, size)) * tril, dtype)
        self.w_scale = tf.constant(rng.normal(size=(size, size)) * tril * 0.5, dtype)

    def __call__(self, y):
        shift = tf.linalg.matvec(self.w_shift, tf.tanh(y))
        log_scale = tf.linalg.matvec(self.w_scale, tf.sin(y))
        return tf.stack([shift, log_scale], axis=-1)


def _maf(dtype):
    return fb.MaskedAutoregressive(AutoregressiveConditioner(3, dtype, 7)), (3,), _normal


def _iaf(dtype):
    return tfb.Invert(fb.MaskedAutoregressive(AutoregressiveConditioner(3, dtype, 8))), (3,), _normal


REGISTRY.update(masked_autoregressive=_maf, inverse_autoregressive=_iaf)


class SplineParams:
    """Fixed random spline parameters as a function of the conditioning input."""

    def __init__(self, n_out, count, dtype, seed, autoregressive=False):
        rng = np.random.default_rng(seed)
        self.count, self.n_out, self.autoregressive = count, n_out, autoregressive
        self.w = tf.constant(rng.normal(size=(n_out, n_out, count)) * 0.5, dtype)
        self.tril = tf.constant(np.tril(np.ones((n_out, n_out)), -1)[..., None], dtype)

    def __call__(self, x):
        if self.autoregressive:  # output i depends on x_{<i}
            return tf.einsum("...j,ijk->...ik", tf.tanh(x), self.w * self.tril)
        h = tf.tanh(tf.reduce_sum(x, -1, keepdims=True))[..., None]
        return h * self.w[0] + tf.zeros(x.shape[:-1] + [self.n_out, self.count], x.dtype)


def _spline_coupling(dtype):
    return fb.SplineCoupling(SplineParams(2, 11, dtype, 9), num_bins=4, bound=3.0), (4,), _normal


def _spline_autoregressive(dtype):
    return (fb.SplineAutoregressive(SplineParams(3, 11, dtype, 10, autoregressive=True),
                                    num_bins=4, bound=3.0), (3,), _normal)


REGISTRY.update(spline_coupling=_spline_coupling, spline_autoregressive=_spline_autoregressive)
