"""Argument checks shared across the package: each refuses what it cannot take exactly
(``2.5`` layers, ``"64"`` units, a ``"abc"`` seed) with a message that says what was expected
and what came, instead of coercing it. Depends on nothing else in the package."""
import math
import numbers

import numpy as np
import tensorflow as tf

__all__ = ["check_image_shape", "check_input", "FLOW_DTYPES", "MIXED_POLICIES", "check_data", "check_dtype_policy",
           "check_event_shape", "check_float_dtype", "check_fraction", "check_hidden_units",
           "check_positive_float", "check_positive_int", "check_sample_weight", "check_seed"]


def check_positive_int(value, name, minimum=1):
    """Returns ``value`` as an ``int`` if it is an integer ``>= minimum``.

    Args:
      value: the argument to check (``bool`` and floats such as ``2.0`` are refused).
      name: the argument's name, for the message.
      minimum: the smallest accepted value.

    Example:
        >>> check_positive_int(3, "num_layers")
        3
        >>> check_positive_int(2.5, "num_layers")
        Traceback (most recent call last):
        ...
        ValueError: num_layers must be an integer >= 1, got 2.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_flag(value, name):
    """Returns ``value`` if it is ``True`` or ``False`` (not ``0``, ``1`` or ``"yes"``).

    Args:
      value: the argument to check.
      name: the argument's name, for the message.

    Example:
        >>> check_flag(True, "standardize")
        True
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def check_positive_float(value, name):
    """Returns ``value`` as a ``float`` if it is a finite number ``> 0``.

    Args:
      value: the argument to check (strings and ``bool`` are refused).
      name: the argument's name, for the message.

    Example:
        >>> check_positive_float(5, "log_scale_bound")
        5.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_fraction(value, name, low=0.0, high=1.0, low_open=True, high_open=True):
    """Returns ``value`` as a ``float`` if it is a real number in the interval from ``low``
    to ``high``: Python and NumPy scalars alike (``np.float32(0.9)``), never ``bool``,
    strings or NaN.

    Args:
      value: the argument to check.
      name: the argument's name, for the message.
      low, high: the ends of the interval (default ``(0, 1)``).
      low_open, high_open: exclude that end (default both, the open interval).

    Example:
        >>> check_fraction(np.float32(0.5), "ema_momentum")
        0.5
        >>> check_fraction(0.0, "validation_split", high_open=True, low_open=False)
        0.0
        >>> check_fraction(0.5, "alpha", high=0.5)
        Traceback (most recent call last):
        ...
        ValueError: alpha must be a number in (0, 0.5), got 0.5
    """
    interval = (f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    number = float(value)
    above = number > low if low_open else number >= low
    below = number < high if high_open else number <= high
    if not (above and below):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return number


def check_hidden_units(value, name="hidden_units", allow_empty=False):
    """Returns hidden layer sizes as a tuple of positive ints (an int ``n`` means ``(n,)``).

    Args:
      value: a sequence of positive integers such as ``(64, 64)``, or one integer.
      name: the argument's name, for the message.
      allow_empty: accept ``()`` (no hidden layer).

    Example:
        >>> check_hidden_units([32, 32])
        (32, 32)
        >>> check_hidden_units("64")
        Traceback (most recent call last):
        ...
        ValueError: hidden_units must be a sequence of positive integers such as (64, 64), got '64'
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    bad = ValueError(
        f"{name} must be a sequence of positive integers such as (64, 64), got {value!r}")
    if isinstance(value, (str, bytes)):
        raise bad
    try:
        units = tuple(value)
    except TypeError:
        raise bad from None
    if (not units and not allow_empty) or any(isinstance(u, bool) or not isinstance(u, numbers.Integral) or u < 1
                        for u in units):
        raise bad
    return tuple(int(u) for u in units)


def check_seed(seed):
    """Returns ``seed`` if it is ``None``, an integer ``>= 0``, or a TFP stateless seed (two
    integers, e.g. ``(1, 2)``, or an integer tensor of shape ``[2]``).

    Example:
        >>> check_seed(0), check_seed(None), check_seed((1, 2))
        (0, None, (1, 2))
    """
    if seed is None:
        return None
    if tf.is_tensor(seed):
        if seed.dtype.is_integer and seed.shape == (2,):
            return seed
    elif isinstance(seed, (tuple, list)):
        if len(seed) == 2 and all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                  for s in seed):
            return tuple(int(s) for s in seed)
    elif not isinstance(seed, bool) and isinstance(seed, numbers.Integral) and seed >= 0:
        return int(seed)
    raise ValueError(f"seed must be None, an integer >= 0 or a pair of integers (a stateless "
                     f"seed), got {seed!r}")


#: Keras mixed-precision policies a flow accepts as its ``dtype``: the conditioner
#: networks compute in 16 bits, the flow itself (weights, log-dets, base) in float32.
MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")

#: Floating-point dtypes a flow computes in. float16 and bfloat16 are refused: TensorFlow
#: lacks kernels flows need in them (``MatrixTriangularSolve``, ``Lgamma``) and their
#: precision cannot hold a log-density; the mixed policies above give 16-bit networks.
FLOW_DTYPES = ("float32", "float64")


def check_dtype_policy(dtype, name="dtype"):
    """Returns a flow's dtype: ``None`` (Keras's global policy, ``keras.config.dtype_policy()``),
    ``"float32"``, ``"float64"``, or a mixed-precision policy name (``"mixed_float16"``,
    ``"mixed_bfloat16"``); a ``keras.DTypePolicy`` gives its name. ``"float16"`` and
    ``"bfloat16"`` (as a dtype or as Keras's global policy) are refused, pointing to the mixed
    policies (see :func:`check_float_dtype`).

    Args:
      dtype: ``None``, a dtype name, ``tf.DType``, NumPy dtype or ``keras.DTypePolicy``.
      name: the argument's name, for the message.

    Example:
        >>> check_dtype_policy("mixed_bfloat16"), check_dtype_policy(None) is None
        ('mixed_bfloat16', True)
        >>> check_dtype_policy("float16")
        Traceback (most recent call last):
        ...
        ValueError: dtype 'float16' is not supported by flows: ... use 'mixed_float16' ...
    """
    if dtype is None:
        import keras  # the global policy; imported here, as nothing else here needs Keras

        policy = keras.config.dtype_policy().name
        if policy not in MIXED_POLICIES:
            check_float_dtype(policy, "Keras's global dtype policy")
        return None
    dtype = getattr(dtype, "name", dtype) if not isinstance(dtype, (str, tf.DType)) else dtype
    if isinstance(dtype, str) and dtype in MIXED_POLICIES:
        return dtype
    return check_float_dtype(dtype, name)


def check_float_dtype(dtype, name="dtype"):
    """Returns the name of a dtype a flow computes in: ``"float32"`` or ``"float64"``.

    Any other dtype is refused up front (rather than deep inside TensorFlow): for
    ``float16`` / ``bfloat16`` the message points to the mixed-precision policy
    (``"mixed_float16"`` / ``"mixed_bfloat16"``), where the networks compute in 16 bits and
    the flow in float32.

    Args:
      dtype: a dtype name, ``tf.DType`` or NumPy dtype.
      name: the argument's name, for the message.

    Example:
        >>> check_float_dtype("float64")
        'float64'
        >>> check_float_dtype("bfloat16")
        Traceback (most recent call last):
        ...
        ValueError: dtype 'bfloat16' is not supported by flows: ... use 'mixed_bfloat16' ...
    """
    try:
        as_tf = tf.as_dtype(dtype)
    except TypeError:
        as_tf = None
    if as_tf is not None and as_tf.name in FLOW_DTYPES:
        return as_tf.name
    if as_tf is not None and as_tf.name in ("float16", "bfloat16"):
        raise ValueError(
            f"{name} {as_tf.name!r} is not supported by flows: TensorFlow lacks kernels they "
            f"need in it (MatrixTriangularSolve, Lgamma) and it cannot hold a log-density; "
            f"use 'mixed_{as_tf.name}' (networks compute in {as_tf.name}, the flow in "
            "float32), or 'float32' / 'float64'")
    got = repr(as_tf.name) if as_tf is not None else repr(dtype)
    raise ValueError(f"{name} must be a floating-point dtype such as 'float32', got {got} "
                     f"(flows compute in {' or '.join(map(repr, FLOW_DTYPES))}; a mixed-precision "
                     f"policy {MIXED_POLICIES} or None, Keras's global policy, also work)")


def check_event_shape(event_shape):
    """Returns ``event_shape`` as a tuple of positive ints, or raises ``ValueError``.

    Example:
        >>> check_event_shape(3), check_event_shape([8, 8, 1])
        ((3,), (8, 8, 1))
    """
    bad = ValueError(f"event_shape must be a positive int or a tuple of them, got {event_shape!r}")
    if isinstance(event_shape, (str, bytes, bool)):
        raise bad
    try:
        values = np.atleast_1d(event_shape)
    except (TypeError, ValueError):
        raise bad from None
    if values.ndim != 1 or not values.size or values.dtype.kind not in "iu" or (values < 1).any():
        raise bad
    return tuple(int(s) for s in values)


def check_data(x, event_shape, what="data", dtype=None):
    """Checks a NumPy-like batch and returns it as a NumPy array (cast to ``dtype`` if given).

    Raises ``ValueError`` unless ``x`` is real-valued, has shape ``[n, *event_shape]`` with
    ``n >= 1``, and is finite *in the dtype the model computes in* (a float64 value of 1e300
    is finite, but infinite once cast to float32).
    """
    if x is None or isinstance(x, (dict, str, bytes)):
        raise ValueError(f"expected {what} as an array of shape [n, "
                         f"{', '.join(map(str, event_shape))}], got {type(x).__name__}")
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise ValueError(f"expected real-valued {what}, got complex dtype {x.dtype}")
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"expected numeric {what}, got dtype {x.dtype}")
    if x.ndim != len(event_shape) + 1 or tuple(x.shape[1:]) != tuple(event_shape):
        expected = ", ".join(["n"] + [str(s) for s in event_shape])
        raise ValueError(f"expected {what} of shape [{expected}], got {x.shape}")
    if len(x) == 0:
        raise ValueError(f"expected at least one row of {what}, got shape {x.shape}")
    if dtype is not None:
        with np.errstate(over="ignore"):
            x = x.astype(dtype)
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        where = f" once cast to {x.dtype}" if dtype is not None else ""
        raise ValueError(
            f"{what} has a NaN or infinite value{where} in row {row}: {x[row].tolist()}")
    return x


def check_sample_weight(weight, n):
    """Returns per-row weights as float64, or raises ``ValueError``: they must be a 1-D array
    of ``n`` finite, non-negative numbers, not all zero."""
    weight = np.asarray(weight)
    if np.iscomplexobj(weight) or not np.issubdtype(weight.dtype, np.number):
        raise ValueError(f"sample_weight must be real numbers, got dtype {weight.dtype}")
    if weight.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), one weight per row of x, "
                         f"got {weight.shape}")
    weight = weight.astype(np.float64)
    if not np.isfinite(weight).all() or (weight < 0).any():
        row = int(np.argmax(~np.isfinite(weight) | (weight < 0)))
        raise ValueError(f"sample_weight must be finite and >= 0, got {weight[row]} in row {row}")
    if not weight.any():
        raise ValueError("sample_weight is zero everywhere: nothing would be trained")
    return weight


def check_input(x, shape, dtype, num_levels=None):
    """What a flow's methods take: ``x`` as a ``dtype`` tensor ``[*batch, *shape]``, after
    checking that it is numeric, real and ends in ``shape``; with ``num_levels`` (an image
    flow's density over dequantised pixels) integer pixels are refused, naming the fix.

    Args:
      x: array-like or tensor.
      shape: the trailing shape expected (an event or latent shape).
      dtype: the flow's dtype.
      num_levels: ``None``, or an image flow's ``K``.

    Example:
        >>> check_input(np.zeros((3, 2)), (2,), "float32").shape
        TensorShape([3, 2])
        >>> check_input(np.zeros((3, 4)), (2,), "float32")
        Traceback (most recent call last):
        ...
        ValueError: expected data of shape [..., 2], got (3, 4)
    """
    expected = ", ".join(["..."] + [str(s) for s in shape])
    if isinstance(x, (str, bytes, dict)) or x is None:
        raise ValueError(f"expected data of shape [{expected}], got {type(x).__name__}")
    if not tf.is_tensor(x):
        x = np.asarray(x)
        if x.dtype == object or x.dtype.kind in "USb":
            raise ValueError(f"expected numeric data, got dtype {x.dtype}")
    given = tf.as_dtype(x.dtype)
    if num_levels is not None and (given.is_integer or given == tf.bool):
        raise ValueError(
            f"this image flow is a density over dequantised pixels x + u in [0, "
            f"{num_levels}), u ~ U[0, 1); got {given.name} pixels. Dequantise them first "
            "(tfp_flows.datasets.dequantize), or measure bits/dim with "
            "tfp_flows.training.bits_per_dim, which does")
    if given.is_complex:
        raise ValueError(f"expected real-valued data, got complex dtype {given.name}")
    rank = len(x.shape)
    if rank < len(shape) or tuple(x.shape[rank - len(shape):]) != tuple(shape):
        raise ValueError(f"expected data of shape [{expected}], got {tuple(x.shape)}")
    return tf.cast(x, dtype)


def check_image_shape(value, owner, name="event_shape"):
    """Returns an image shape ``(height, width, channels)`` as a tuple of positive ints, or
    raises a ``ValueError`` that names ``owner`` and the argument ``name``.

    Example:
        >>> check_image_shape([8, 8, 1], "SqueezeLayer")
        (8, 8, 1)
        >>> check_image_shape(4, "SqueezeLayer")
        Traceback (most recent call last):
        ...
        ValueError: SqueezeLayer is for images: event_shape must be (height, width, channels), got (4,)
    """
    shape = check_event_shape(value)
    if len(shape) != 3:
        raise ValueError(f"{owner} is for images: {name} must be (height, width, channels), "
                         f"got {shape}")
    return shape
