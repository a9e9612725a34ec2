"""A tf.data pipeline of integer images that dequantises every epoch afresh."""
import numpy as np

from tfp_flows.datasets.images import check_images
from tfp_flows.validation import check_positive_int

__all__ = ["dequantized_dataset"]


def dequantized_dataset(images, num_levels, batch_size=64, shuffle=True, seed=None):
    r"""Batches of dequantised images :math:`x + u`, :math:`u \sim U[0, 1)^D`, with fresh noise
    (and a fresh order, with ``shuffle``) every time the dataset is iterated, i.e. every epoch
    of ``Model.fit``.

    A flow fitted to one fixed draw of ``u`` can learn that draw; fresh noise each epoch makes
    it fit the density of dequantised pixels, whose ``-log p(x + u) / (D ln 2)`` is the
    bits/dim bound (:func:`tfp_flows.training.bits_per_dim`).

    Args:
      images: integer images ``[n, H, W, C]`` (or ``[n, H, W]``) in ``[0, num_levels)``,
        checked by :func:`~tfp_flows.datasets.check_images`.
      num_levels: ``K``, the number of pixel levels.
      batch_size: images per batch (a positive integer).
      shuffle: reshuffle the images each epoch.
      seed: ``None`` or an int for the shuffle order and the noise.

    Returns:
      A ``tf.data.Dataset`` of float32 batches ``[b, H, W, C]`` with values in ``[0, K)``.

    Example:
        >>> data = dequantized_dataset(np.zeros((10, 2, 2), "uint8"), num_levels=4,
        ...                            batch_size=5)
        >>> batch = next(iter(data))
        >>> batch.shape, bool((batch.numpy() >= 0).all() and (batch.numpy() < 1).all())
        (TensorShape([5, 2, 2, 1]), True)
    """
    import tensorflow as tf

    x = check_images(images, num_levels=num_levels)
    batch_size = check_positive_int(batch_size, "batch_size")
    if seed is not None:
        seed = check_positive_int(seed, "seed", minimum=0)
    data = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ceiling = np.float32(np.nextafter(np.float32(1.0), np.float32(0.0)))
    # A generator whose state advances across passes: op-level random ops would repeat the
    # same noise every epoch once a global seed is set (keras.utils.set_random_seed).
    generator = (tf.random.Generator.from_non_deterministic_state() if seed is None
                 else tf.random.Generator.from_seed(seed))

    def add_noise(batch):
        u = generator.uniform(tf.shape(batch), maxval=ceiling)
        return tf.cast(batch, tf.float32) + u

    return data.batch(batch_size).map(add_noise).prefetch(tf.data.AUTOTUNE)
