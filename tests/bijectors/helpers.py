"""Small fixed conditioners and distributions shared by the bijector behaviour tests."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def std_normal(event_shape, dtype=tf.float32):
    """A standard normal base over ``event_shape``."""
    return tfd.Sample(tfd.Normal(tf.constant(0.0, dtype), tf.constant(1.0, dtype)), event_shape)


class RandomNet:
    """Fixed random map ``x_b [..., d] -> [..., n, num_params]``; counts its calls and keeps
    its inputs. ``stacked=False`` returns the affine tuple ``(shift, log_scale)``."""

    def __init__(self, d, n, seed=0, dtype=tf.float64, stacked=True, num_params=2):
        rng = np.random.default_rng(seed)
        self.w = tf.constant(rng.normal(size=(d, num_params * n)) * 0.5, dtype)
        self.n, self.num_params, self.stacked = n, num_params, stacked
        self.calls, self.inputs = 0, []

    def __call__(self, x_b):
        self.calls += 1
        self.inputs.append(x_b)
        out = tf.tanh(tf.linalg.matvec(self.w, x_b, transpose_a=True))
        out = tf.reshape(out, tf.concat([tf.shape(x_b)[:-1], [self.n, self.num_params]], 0))
        return out if self.stacked else (out[..., 0], out[..., 1])


class LinearAutoregressive:
    """``shift = W y`` with strictly lower-triangular ``W`` (output ``i`` sees ``y_{<i}``),
    optional ``log_scale = V tanh(y)``; counts its calls. With ``log_scale`` off the forward
    map is linear: ``y = (I - W)^{-1} z``."""

    def __init__(self, size, seed=0, dtype=tf.float64, scale=True):
        rng = np.random.default_rng(seed)
        tril = np.tril(np.ones((size, size)), -1)
        self.w = rng.normal(size=(size, size)) * tril * 0.3
        self.v = rng.normal(size=(size, size)) * tril * 0.3 * float(scale)
        self.tw, self.tv = tf.constant(self.w, dtype), tf.constant(self.v, dtype)
        self.calls = 0

    def __call__(self, y, context=None):
        self.calls += 1
        shift = tf.linalg.matvec(self.tw, y)
        if context is not None:
            shift = shift + context
        return tf.stack([shift, tf.linalg.matvec(self.tv, tf.tanh(y))], axis=-1)
