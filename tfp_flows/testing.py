"""Public correctness checks for any ``tfb.Bijector`` (this package's or stock TFP's).

:func:`check_bijector` verifies, with messages that say what differed and by how much:

* round trips both ways with TFP's cache broken by ``tf.identity``:
  ``inverse(forward(x)) == x`` and ``forward(inverse(y)) == y``;
* ``forward_log_det_jacobian(x) == -inverse_log_det_jacobian(forward(x))``;
* the log-det equals ``log|det J|`` of the Jacobian from ``tf.GradientTape.batch_jacobian``;
* every output is finite;
* output shapes: ``forward`` gives ``forward_event_shape``, log-dets have the batch shape;
* :func:`~tfp_flows.bijectors.forward_and_log_det` / ``inverse_and_log_det`` (the fused
  one-pass paths that :class:`~tfp_flows.FlowModel` uses) agree with the plain calls.
"""
import numpy as np
import tensorflow as tf

from tfp_flows.bijectors.log_det import forward_and_log_det, inverse_and_log_det

__all__ = ["check_bijector", "default_tolerances", "log_det_tolerances"]


def default_tolerances(dtype):
    """``(rtol, atol)`` used by :func:`check_bijector` for a dtype: tight for float64.

    Example:
        >>> default_tolerances(tf.float64)
        (1e-05, 1e-08)
    """
    return (1e-5, 1e-8) if tf.as_dtype(dtype) == tf.float64 else (2e-3, 2e-4)


def log_det_tolerances(dtype, event_size):
    """``(rtol, atol)`` for comparing log-dets of events of ``event_size`` numbers.

    A log-det is a sum over the event, so it can be large (hundreds of nats for an image)
    while each term is accurate: a relative tolerance on the sum would accept errors that
    grow with the size of the log-det (``2e-3 * 100 = 0.2`` nats). Log-dets are therefore
    compared with a relative tolerance near the dtype's precision and an absolute one that
    grows like ``sqrt(event_size)`` (rounding errors of a sum of independent terms).

    Example:
        >>> log_det_tolerances(tf.float32, 4)
        (1e-05, 0.0004)
    """
    scale = float(np.sqrt(max(int(event_size), 1)))
    if tf.as_dtype(dtype) == tf.float64:
        return 1e-7, 1e-8 * scale
    return 1e-5, 2e-4 * scale


def _fail(what, got, want, rtol, atol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    err = np.abs(got - want)
    worst = np.unravel_index(np.argmax(err - rtol * np.abs(want)), err.shape) if err.size else ()
    raise AssertionError(
        f"{what}: max abs difference {err.max():.3g} (at index {tuple(int(i) for i in worst)}: "
        f"{got[worst]!r} vs {want[worst]!r}); tolerance rtol={rtol:g}, atol={atol:g}"
    )


def _assert_close(what, got, want, rtol, atol):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape} differs from expected {want.shape}")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        _fail(what, got, want, rtol, atol)


def _broadcastable(shape, batch_shape):
    try:
        return tf.broadcast_static_shape(tf.TensorShape(shape), batch_shape) == batch_shape
    except ValueError:
        return False


def _assert_finite(what, value):
    value = np.asarray(value)
    if not np.all(np.isfinite(value)):
        bad = np.argwhere(~np.isfinite(value))[0]
        raise AssertionError(
            f"{what} is not finite at index {tuple(int(i) for i in bad)}: "
            f"{value[tuple(bad)]!r}"
        )


def _log_abs_det_jacobian(bijector, x, event_ndims, kwargs):
    rank = x.shape.rank
    batch_shape = x.shape[: rank - event_ndims]
    event_shape = x.shape[rank - event_ndims:]
    n = int(np.prod(batch_shape.as_list())) if batch_shape.rank else 1
    e = int(np.prod(event_shape.as_list())) if event_ndims else 1
    flat = tf.reshape(x, [n, e])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(flat)
        y = bijector.forward(tf.reshape(flat, tf.shape(x)), **kwargs)
        y_flat = tf.reshape(y, [n, -1])
    jac = tape.batch_jacobian(y_flat, flat, experimental_use_pfor=False)
    if jac.shape[1] != jac.shape[2]:
        raise AssertionError(
            f"the Jacobian is {jac.shape[1]}x{jac.shape[2]}: the bijector changes the event "
            "size, pass check_jacobian=False"
        )
    _, log_abs_det = tf.linalg.slogdet(jac)
    return tf.reshape(log_abs_det, batch_shape)


def check_bijector(bijector, x, event_ndims=None, rtol=None, atol=None,
                   use_tf_function=False, check_jacobian=True, **kwargs):
    """Checks that ``bijector`` is a correct bijection with a correct log-det at ``x``.

    Args:
      bijector: any ``tfb.Bijector``.
      x: points in the forward domain, shape ``batch_shape + event_shape``.
      event_ndims: number of trailing axes of ``x`` that form one event (default: the
        bijector's ``forward_min_event_ndims``).
      rtol, atol: tolerances (default :func:`default_tolerances` of the bijector's dtype).
      use_tf_function: run every bijector call inside ``tf.function`` (graph mode).
      check_jacobian: compare the log-det with ``log|det|`` of the autodiff Jacobian.
      **kwargs: passed to every bijector call (conditioning inputs).

    Returns:
      A dict of the largest absolute errors found (``round_trip_x``, ``round_trip_y``,
      ``fldj_vs_ildj``, ``log_det_vs_jacobian``), all within tolerance.

    Raises:
      AssertionError: naming the failed property, the largest difference and where.

    Example:
        >>> import tensorflow_probability as tfp
        >>> errors = check_bijector(tfp.bijectors.Exp(), tf.constant([[0.5, -1.0]], tf.float64),
        ...                         event_ndims=1)
        >>> sorted(errors)
        ['fldj_vs_ildj', 'log_det_vs_jacobian', 'round_trip_x', 'round_trip_y']
    """
    dtype = bijector.dtype or tf.convert_to_tensor(x).dtype
    x = tf.convert_to_tensor(x, dtype=dtype)
    if x.shape.rank is None:
        raise ValueError("check_bijector needs an input of known rank")
    if event_ndims is None:
        event_ndims = bijector.forward_min_event_ndims
    if x.shape.rank < event_ndims:
        raise ValueError(f"x has rank {x.shape.rank}, fewer than event_ndims={event_ndims}")
    default_rtol, default_atol = default_tolerances(dtype)
    rtol_given, atol_given = rtol is not None, atol is not None
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol

    def run(fn, *args):
        return tf.function(fn)(*args) if use_tf_function else fn(*args)

    fwd = lambda t: bijector.forward(t, **kwargs)  # noqa: E731
    inv = lambda t: bijector.inverse(t, **kwargs)  # noqa: E731
    y = run(fwd, x)
    _assert_finite("forward(x)", y)
    expected_event = bijector.forward_event_shape(x.shape)
    if not y.shape.is_compatible_with(expected_event):
        raise AssertionError(f"forward(x) has shape {y.shape}, expected {expected_event}")

    x_back = run(lambda t: inv(tf.identity(t)), y)
    _assert_finite("inverse(forward(x))", x_back)
    _assert_close("round trip inverse(forward(x)) vs x", x_back, x, rtol, atol)
    y_back = run(lambda t: fwd(tf.identity(inv(tf.identity(t)))), y)
    _assert_close("round trip forward(inverse(y)) vs y", y_back, y, rtol, atol)

    fldj = run(lambda t: bijector.forward_log_det_jacobian(t, event_ndims=event_ndims, **kwargs), x)
    # A bijector may change the number of event axes (a flat latent to an image): the
    # inverse's log-det counts y's own event axes.
    y_event_ndims = int(bijector.forward_event_ndims(event_ndims))
    ildj = run(
        lambda t: bijector.inverse_log_det_jacobian(tf.identity(t), event_ndims=y_event_ndims,
                                                    **kwargs),
        y,
    )
    _assert_finite("forward_log_det_jacobian(x)", fldj)
    _assert_finite("inverse_log_det_jacobian(y)", ildj)
    batch_shape = x.shape[: x.shape.rank - event_ndims]
    try:
        batch_shape = tf.broadcast_static_shape(
            batch_shape, bijector.experimental_batch_shape(x_event_ndims=event_ndims))
    except (NotImplementedError, ValueError, TypeError):
        pass
    for what, value in (("forward_log_det_jacobian(x)", fldj),
                        ("inverse_log_det_jacobian(y)", ildj)):
        if not _broadcastable(value.shape, batch_shape):
            raise AssertionError(
                f"{what} has shape {value.shape}, expected the batch shape {batch_shape}: is "
                f"the log-det summed over the event (event_ndims={event_ndims})?")
    fldj_full = tf.broadcast_to(fldj, batch_shape)
    event_size = int(np.prod(x.shape[x.shape.rank - event_ndims:].as_list() or [1]))
    ld_rtol, ld_atol = log_det_tolerances(dtype, event_size)
    if rtol_given:
        ld_rtol = rtol
    if atol_given:
        ld_atol = atol
    errors = {
        "round_trip_x": float(np.max(np.abs(x_back - x), initial=0.0)),
        "round_trip_y": float(np.max(np.abs(y_back - y), initial=0.0)),
    }
    _assert_close("forward_log_det_jacobian(x) vs -inverse_log_det_jacobian(y)",
                  fldj_full, -tf.broadcast_to(ildj, batch_shape), ld_rtol, ld_atol)
    errors["fldj_vs_ildj"] = float(np.max(np.abs(fldj + ildj), initial=0.0))

    # The fused one-pass helpers fall back to the plain calls, so this holds for any bijector.
    y_fused, fldj_fused = run(lambda t: forward_and_log_det(bijector, t, event_ndims, **kwargs), x)
    _assert_close("fused forward vs forward", y_fused, y, rtol, atol)
    _assert_close("fused forward log-det vs forward_log_det_jacobian",
                  tf.broadcast_to(fldj_fused, batch_shape), fldj_full, ld_rtol, ld_atol)
    x_fused, ildj_fused = run(
        lambda t: inverse_and_log_det(bijector, t, y_event_ndims, **kwargs), y)
    _assert_close("fused inverse vs inverse", x_fused, x_back, rtol, atol)
    _assert_close("fused inverse log-det vs inverse_log_det_jacobian",
                  tf.broadcast_to(ildj_fused, batch_shape),
                  tf.broadcast_to(ildj, batch_shape), ld_rtol, ld_atol)

    if check_jacobian:
        log_det = _log_abs_det_jacobian(bijector, x, event_ndims, kwargs)
        _assert_close("forward_log_det_jacobian vs log|det| of the autodiff Jacobian",
                      fldj_full, tf.broadcast_to(log_det, batch_shape), ld_rtol, ld_atol)
        errors["log_det_vs_jacobian"] = float(np.max(np.abs(fldj_full - log_det), initial=0.0))
    return errors
