"""Invertible linear map with an LU parametrisation (Glow's invertible 1x1 convolution)."""
import numpy as np
import scipy.linalg
import tensorflow as tf

from tfp_flows.bijectors.per_feature import PerFeatureBijector, common_float_dtype
from tfp_flows.validation import check_positive_int

__all__ = ["InvertibleLinear", "random_lu_init"]


def random_lu_init(event_size, seed=None, dtype="float32"):
    """LU factors of a random orthogonal matrix, with a positive ``U`` diagonal.

    Args:
      event_size: the matrix size ``C`` (an integer >= 1).
      seed: ``None`` or an integer, for NumPy's random generator.
      dtype: the floating dtype of the returned factors.

    Returns NumPy arrays ``(permutation, lower, upper, log_diag)`` such that
    ``W = P @ (tril(lower, -1) + I) @ (triu(upper, 1) + diag(exp(log_diag)))`` is orthogonal,
    where ``P @ v == v[permutation]``. Signs of the orthogonal matrix's columns are chosen so
    that the diagonal of ``U`` is positive (flipping a column keeps it orthogonal).

    Example:
        >>> perm, lower, upper, log_diag = random_lu_init(3, seed=0)
        >>> perm.shape, lower.shape, upper.shape, log_diag.shape
        ((3,), (3, 3), (3, 3), (3,))
    """
    event_size = check_positive_int(event_size, "event_size")
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((event_size, event_size)))
    p, lower, upper = scipy.linalg.lu(q)
    signs = np.sign(np.diag(upper))
    upper = upper * signs[None, :]  # == LU of q @ diag(signs), still orthogonal
    permutation = np.argmax(p, axis=1)
    return (
        permutation.astype(np.int32),
        np.tril(lower, -1).astype(dtype),
        np.triu(upper, 1).astype(dtype),
        np.log(np.abs(np.diag(upper))).astype(dtype),
    )


class InvertibleLinear(PerFeatureBijector):
    r"""``y = W x`` on the last axis, with :math:`W = P L U`.

    :math:`P` is a fixed permutation, :math:`L` unit lower-triangular, and
    :math:`U = \mathrm{triu}(u, 1) + \mathrm{diag}(\exp(d))` upper-triangular with a
    positive-by-construction diagonal, so :math:`W` is always invertible and

    .. math:: \log|\det W| = \textstyle\sum_i d_i \;(\times\, H W \text{ for images}).

    The inverse uses two triangular solves. ``event_ndims=1`` for vectors ``[..., D]``;
    ``event_ndims=3`` applies the same matrix to the channels of every pixel of
    ``[..., H, W, C]`` (Glow's invertible 1x1 convolution).

    The bijector is a function of the factors it is given (TFP's convention): start from
    :func:`random_lu_init` (a random rotation), and pass ``tf.Variable`` s to train them in
    plain TFP code, or use :class:`tfp_flows.layers.InvertibleLinearLayer`, which owns them
    as Keras weights.

    Args:
      permutation: the fixed permutation, a sequence of ``range(C)`` (``P @ v == v[perm]``).
      lower: ``[C, C]``; only the strictly lower triangle is used (unit diagonal).
      upper: ``[C, C]``; only the strictly upper triangle is used.
      log_diag: ``[C]``, the log of ``U``'s positive diagonal.
      event_ndims: 1 (vectors) or 3 (images, the same matrix at every pixel).
      validate_args: TFP's flag (no extra checks here).
      name: the bijector's name.

    Example:
        >>> bij = InvertibleLinear(*random_lu_init(3, seed=1))
        >>> x = tf.constant([[1.0, 2.0, 3.0]])
        >>> bool(np.allclose(bij.inverse(bij.forward(x)), x, atol=1e-5))
        True
        >>> bij.forward_log_det_jacobian(x, event_ndims=1).numpy().round(5)   # a rotation
        array([0.], dtype=float32)
    """

    def __init__(self, permutation, lower, upper, log_diag, event_ndims=1, validate_args=False,
                 name="invertible_linear"):
        parameters = dict(locals())
        if event_ndims not in (1, 3):
            raise ValueError(f"event_ndims must be 1 (vectors) or 3 (images), got {event_ndims}")
        dtype = common_float_dtype(lower, upper, log_diag, name=name)
        lower, upper, log_diag = (v if tf.is_tensor(v) else tf.convert_to_tensor(v, dtype)
                                  for v in (lower, upper, log_diag))
        permutation = np.asarray(permutation, dtype=np.int32)
        size = permutation.shape[0]
        if sorted(permutation.tolist()) != list(range(size)):
            raise ValueError(f"permutation must be a permutation of range({size}), got {permutation}")
        for what, value, want in (("lower", lower, [size, size]), ("upper", upper, [size, size]),
                                  ("log_diag", log_diag, [size])):
            if not tf.TensorShape(value.shape).is_compatible_with(want):
                raise ValueError(
                    f"{what} must have shape {want} to match a permutation of {size} entries, "
                    f"got shape {tuple(value.shape)}"
                )
        self._permutation = permutation
        self._inverse_permutation = np.argsort(permutation).astype(np.int32)
        self._lower, self._upper, self._log_diag = lower, upper, log_diag
        self._size = size
        super().__init__(event_ndims, dtype, validate_args, parameters, name)

    @property
    def permutation(self):
        return self._permutation

    def _factors(self):
        eye = tf.eye(self._size, dtype=self.dtype)
        lower = tf.linalg.band_part(tf.convert_to_tensor(self._lower), -1, 0)
        lower = lower - tf.linalg.band_part(lower, 0, 0) + eye
        upper = tf.linalg.band_part(tf.convert_to_tensor(self._upper), 0, -1)
        upper = upper - tf.linalg.band_part(upper, 0, 0)
        upper = upper + tf.linalg.diag(tf.exp(tf.convert_to_tensor(self._log_diag)))
        return lower, upper

    def matrix(self):
        """The dense matrix ``W = P L U``."""
        lower, upper = self._factors()
        return tf.gather(tf.matmul(lower, upper), self._permutation)

    def _check_size(self, x):
        if x.shape[-1] is not None and x.shape[-1] != self._size:
            raise ValueError(
                f"{self.name}: expected an input whose last axis has size {self._size}, "
                f"got shape {x.shape}"
            )

    def _forward(self, x):
        self._check_size(x)
        return tf.linalg.matvec(self.matrix(), x)

    def _inverse(self, y):
        self._check_size(y)
        lower, upper = self._factors()
        shape = tf.shape(y)
        cols = tf.transpose(tf.reshape(y, [-1, self._size]))         # [D, N]
        cols = tf.gather(cols, self._inverse_permutation)             # P^T y
        cols = tf.linalg.triangular_solve(lower, cols, lower=True)
        cols = tf.linalg.triangular_solve(upper, cols, lower=False)
        return tf.reshape(tf.transpose(cols), shape)

    def _log_abs_values(self):
        return self._log_diag
