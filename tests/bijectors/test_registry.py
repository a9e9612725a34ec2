"""check_bijector over every bijector, batch shape, dtype and execution mode."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.registry import CALL_KWARGS, REGISTRY
from tfp_flows import bijectors as fb
from tfp_flows.testing import check_bijector

BATCH_SHAPES = [(), (3,), (2, 3)]
DTYPES = [tf.float32, tf.float64]


def _leaves(bijector):
    """The bijectors inside ``bijector`` (through Chain and Invert), itself included."""
    yield bijector
    for inner in getattr(bijector, "bijectors", ()):
        yield from _leaves(inner)
    if getattr(bijector, "bijector", None) is not None:
        yield from _leaves(bijector.bijector)


def _kwargs(name, dtype):
    """What every call of registry bijector ``name`` needs (a context for conditional ones)."""
    return CALL_KWARGS[name](dtype) if name in CALL_KWARGS else {}


def test_registry_covers_every_bijector_transform_and_mask():
    seen, transforms, masks, slopes = set(), set(), set(), set()
    for make in REGISTRY.values():
        bijector, event_shape, _ = make(tf.float64)
        for leaf in _leaves(bijector):
            seen.add(type(leaf).__name__.lstrip("_"))  # TFP's _Chain, _Invert: not composite
            if isinstance(leaf, (fb.Coupling, fb.MaskedAutoregressive)):
                transforms.add((type(leaf).__name__, type(leaf.transform).__name__))
            if isinstance(leaf, fb.Coupling):
                masks.add("vector" if leaf.mask is None else f"image{leaf.mask.ndim}")
            if isinstance(leaf, fb.PReLU):
                slopes.add(type(leaf.alpha).__name__)
    public = {name for name in fb.__all__
              if isinstance(getattr(fb, name), type) and issubclass(getattr(fb, name),
                                                                    tfp.bijectors.Bijector)}
    public.discard("FusedBijector")  # an abstract base class (test_fused.py)
    assert public <= seen, public - seen
    assert {"Chain", "Permute", "Shift", "Invert"} <= seen
    kinds = {"Affine", "Additive", "RationalQuadratic"}
    assert {t for c, t in transforms if c == "Coupling"} == kinds
    assert {"Affine", "RationalQuadratic"} <= {t for c, t in transforms
                                               if c == "MaskedAutoregressive"}
    assert masks == {"vector", "image3"}
    assert "TransformedVariable" in slopes and len(slopes) >= 2


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("batch_shape", BATCH_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_check_bijector_eager(name, batch_shape, dtype):
    bijector, event_shape, sample = REGISTRY[name](dtype)
    rng = np.random.default_rng(0)
    x = tf.constant(sample(batch_shape + event_shape, rng), dtype)
    errors = check_bijector(bijector, x, event_ndims=len(event_shape), **_kwargs(name, dtype))
    assert errors["log_det_vs_jacobian"] >= 0.0


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_check_bijector_tf_function(name, dtype):
    bijector, event_shape, sample = REGISTRY[name](dtype)
    rng = np.random.default_rng(1)
    x = tf.constant(sample((2, 3) + event_shape, rng), dtype)
    check_bijector(bijector, x, event_ndims=len(event_shape), use_tf_function=True,
                   **_kwargs(name, dtype))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_plugs_into_transformed_distribution(name):
    """log_prob of a TransformedDistribution equals the change-of-variables formula."""
    bijector, event_shape, sample = REGISTRY[name](tf.float64)
    base = tfp.distributions.Sample(tfp.distributions.Normal(tf.constant(0.0, tf.float64), 1.0),
                                    event_shape)
    dist = tfp.distributions.TransformedDistribution(base, bijector)
    kwargs = _kwargs(name, tf.float64)
    z = base.sample(5, seed=7)
    y = bijector.forward(z, **kwargs)
    expected = base.log_prob(z) - bijector.forward_log_det_jacobian(
        z, event_ndims=len(event_shape), **kwargs)
    np.testing.assert_allclose(dist.log_prob(tf.identity(y), bijector_kwargs=kwargs), expected,
                               rtol=1e-6, atol=1e-8)


def test_checker_catches_a_wrong_log_det():
    """A bijector whose log-det is off must fail the check (the checker can fail)."""

    class WrongScale(tfp.bijectors.Scale):
        def _forward_log_det_jacobian(self, x):
            return super()._forward_log_det_jacobian(x) + 0.1

        def _inverse_log_det_jacobian(self, y):
            return -self._forward_log_det_jacobian(self._inverse(y))

    with pytest.raises(AssertionError, match="autodiff Jacobian"):
        check_bijector(WrongScale(tf.constant(2.0, tf.float64)), tf.ones([3], tf.float64))


def test_checker_catches_a_wrong_inverse():
    bad = tfp.bijectors.Inline(
        forward_fn=lambda x: 2.0 * x,
        inverse_fn=lambda y: y / 2.1,
        forward_log_det_jacobian_fn=lambda x: tf.math.log(2.0) * tf.ones_like(x),
        forward_min_event_ndims=0,
        is_increasing=lambda: True,
    )
    with pytest.raises(AssertionError, match="round trip"):
        check_bijector(bad, tf.constant([1.0, 2.0]))


def test_checker_catches_a_small_error_on_a_large_log_det():
    """0.15 nats wrong on a log-det near 100 (float32): a relative tolerance on the sum
    would let it pass; the checker compares log-dets near the dtype's precision."""

    class SlightlyWrongScale(tfp.bijectors.Scale):
        def _forward_log_det_jacobian(self, x):
            return super()._forward_log_det_jacobian(x) + 0.15 / 4.0  # per element, 4 elements

        def _inverse_log_det_jacobian(self, y):
            return -self._forward_log_det_jacobian(self._inverse(y))

    bijector = SlightlyWrongScale(tf.constant(np.exp(25.0), tf.float32))
    x = tf.fill([3, 4], 1e-9)
    log_det = bijector.forward_log_det_jacobian(x, event_ndims=1).numpy()
    assert np.all(np.abs(log_det - 100.0) < 1.0)
    with pytest.raises(AssertionError, match="autodiff Jacobian"):
        check_bijector(bijector, x, event_ndims=1)
    check_bijector(tfp.bijectors.Scale(tf.constant(np.exp(25.0), tf.float32)), x, event_ndims=1)


def test_checker_explains_a_log_det_not_reduced_over_the_event():
    unreduced = tfp.bijectors.Inline(
        forward_fn=lambda x: 2.0 * x,
        inverse_fn=lambda y: y / 2.0,
        forward_log_det_jacobian_fn=lambda x: tf.math.log(2.0) * tf.ones_like(x),
        inverse_log_det_jacobian_fn=lambda y: -tf.math.log(2.0) * tf.ones_like(y),
        forward_min_event_ndims=1,  # claims vector events, but returns one value per element
        is_increasing=lambda: True,
    )
    with pytest.raises(AssertionError, match=r"expected the batch shape \(3,\): is the log-det "
                                              r"summed over the event"):
        check_bijector(unreduced, tf.ones([3, 4]), event_ndims=1)
