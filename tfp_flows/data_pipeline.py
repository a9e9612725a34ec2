"""The steps of a fit data pipeline: rows to shuffled batches, with dequantisation of integer
images or Gaussian input noise applied to each batch, fresh every epoch."""
import numpy as np
import tensorflow as tf

from tfp_flows.validation import check_positive_int

__all__ = ["dequantize_step", "dequantized_dataset", "gaussian_step", "noise_generator",
           "pipeline"]


def noise_generator(seed):
    """A generator whose state advances batch after batch, so noise is fresh every epoch
    (op-level random ops repeat once a global seed is set). ``seed=None`` draws the seed from
    NumPy's global state, so that ``keras.utils.set_random_seed`` makes a run reproducible."""
    return tf.random.Generator.from_seed(
        int(np.random.randint(2**31 - 1)) if seed is None else seed)


def dequantize_step(generator):
    """Integer pixels ``x`` to ``x + u``, ``u ~ U[0, 1)``, strictly inside their bin: in
    float32 ``16 + u`` rounds up to 17 for ``u`` near 1, a pixel at ``K`` outside the support,
    so the sum is clamped below ``x + 1``."""
    ceiling = np.float32(np.nextafter(np.float32(1.0), np.float32(0.0)))

    def step(batch, *rest):
        pixels = tf.cast(batch, tf.float32)
        noisy = pixels + generator.uniform(tf.shape(batch), maxval=ceiling)
        noisy = tf.minimum(noisy, tf.math.nextafter(pixels + 1.0, pixels))
        return (noisy, *rest) if rest else noisy
    return step


def gaussian_step(generator, scale):
    def step(batch, *rest):
        noisy = batch + tf.cast(scale, batch.dtype) * generator.normal(tf.shape(batch),
                                                                        dtype=batch.dtype)
        return (noisy, *rest) if rest else noisy
    return step


def dequantized_dataset(images, num_levels, batch_size=64, shuffle=True, seed=None,
                        context=None):
    r"""Batches of dequantised images :math:`x + u`, :math:`u \sim U[0, 1)^D`, with fresh noise
    (and a fresh order, with ``shuffle``) every time the dataset is iterated, i.e. every epoch
    of ``Model.fit``. The same pipeline ``fit`` builds for integer images.

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
      context: ``None``, or one context row per image (``[n, K]``, e.g. one-hot labels) for
        a conditional flow: the elements are then pairs ``(x + u, context)``.

    Returns:
      A ``tf.data.Dataset`` of float32 batches ``[b, H, W, C]`` with values in ``[0, K)``
      (or pairs of such a batch and its contexts).

    Example:
        >>> data = dequantized_dataset(np.zeros((10, 2, 2), "uint8"), num_levels=4,
        ...                            batch_size=5)
        >>> batch = next(iter(data))
        >>> batch.shape, bool((batch.numpy() >= 0).all() and (batch.numpy() < 1).all())
        (TensorShape([5, 2, 2, 1]), True)
    """
    from tfp_flows.datasets import check_images

    x = check_images(images, num_levels=num_levels)
    batch_size = check_positive_int(batch_size, "batch_size")
    if seed is not None:
        seed = check_positive_int(seed, "seed", minimum=0)
    if context is not None:
        context = np.asarray(context)
        if context.ndim != 2 or len(context) != len(x):
            raise ValueError(f"expected one context row per image, shape [{len(x)}, K], got "
                             f"{context.shape}")
    generator = (tf.random.Generator.from_non_deterministic_state() if seed is None
                 else tf.random.Generator.from_seed(seed))
    return pipeline((x,) if context is None else (x, context), batch_size, shuffle,
                     dequantize_step(generator), seed=seed)


def pipeline(parts, batch_size, shuffle, step=None, seed=None):
    """Rows ``parts`` (a tuple of arrays) as batches: shuffled each epoch if asked (cached
    otherwise), then ``step`` (dequantisation or noise) applied to each batch."""
    data = tf.data.Dataset.from_tensor_slices(parts if len(parts) > 1 else parts[0])
    if shuffle:
        data = data.shuffle(len(parts[0]), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if step is None:
        return data.prefetch(tf.data.AUTOTUNE) if shuffle else data.cache()
    return data.map(step).prefetch(tf.data.AUTOTUNE)
