"""FusedBijector: TFP's four methods defined once from the two fused maps, which
forward_and_log_det / inverse_and_log_det call directly (one pass each)."""
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijectors.helpers import RandomNet
from tfp_flows import bijectors as fb

tfb = tfp.bijectors

TFP_METHODS = ("_forward", "_inverse", "_forward_log_det_jacobian",
               "_inverse_log_det_jacobian")


class CountingScale(fb.FusedBijector):
    """y = 3 x, counting the calls of each fused map."""

    def __init__(self):
        self.calls = {"forward": 0, "inverse": 0}
        super().__init__(forward_min_event_ndims=1, name="counting_scale")

    def _forward_and_log_det(self, x):
        self.calls["forward"] += 1
        return 3.0 * x, tf.fill(tf.shape(x)[:-1], x.shape[-1] * math.log(3.0))

    def _inverse_and_log_det(self, y):
        self.calls["inverse"] += 1
        return y / 3.0, tf.fill(tf.shape(y)[:-1], -y.shape[-1] * math.log(3.0))


@pytest.mark.parametrize("cls", [fb.Coupling, fb.MaskedAutoregressive, fb.FactorOut,
                                 fb.BatchNorm])
def test_fused_bijectors_inherit_the_four_tfp_methods(cls):
    assert issubclass(cls, fb.FusedBijector)
    assert "_inverse_and_log_det" in vars(cls) and "_forward_and_log_det" in vars(cls)
    # TFP's inverse and both log-dets come from the base class, written once
    for method in TFP_METHODS[1:]:
        assert method not in vars(cls), f"{cls.__name__} redefines {method}"


def test_the_four_methods_agree_with_the_fused_maps():
    bij = CountingScale()
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(bij.forward(x), 3.0 * x.numpy())
    np.testing.assert_allclose(bij.inverse(tf.identity(3.0 * x)), x.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, 1), [2 * math.log(3.0)] * 2,
                               rtol=1e-6)
    np.testing.assert_allclose(bij.inverse_log_det_jacobian(tf.identity(x), 2),
                               -4 * math.log(3.0), rtol=1e-6)


def test_log_det_helpers_call_each_fused_map_once():
    bij = CountingScale()
    x = tf.ones([5, 2])
    y, fldj = fb.forward_and_log_det(bij, x, event_ndims=2)
    assert bij.calls == {"forward": 1, "inverse": 0}
    assert float(fldj) == pytest.approx(10 * math.log(3.0))
    z, ildj = fb.inverse_and_log_det(tfb.Invert(bij), x, event_ndims=1)  # Invert: forward
    assert bij.calls == {"forward": 2, "inverse": 0}
    np.testing.assert_allclose(z, 3.0 * np.ones([5, 2]))


def test_coupling_log_prob_path_calls_the_conditioner_once():
    net = RandomNet(1, 1)
    bij = fb.Coupling(net)
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 2)))
    value, ildj = fb.inverse_and_log_det(bij, x, event_ndims=1)
    assert net.calls == 1
    np.testing.assert_allclose(value, bij.inverse(tf.identity(x)))
    np.testing.assert_allclose(ildj, bij.inverse_log_det_jacobian(tf.identity(x), 1))


def test_a_subclass_without_the_fused_maps_says_what_is_missing():
    class Empty(fb.FusedBijector):
        def __init__(self):
            super().__init__(forward_min_event_ndims=0, name="empty")

    with pytest.raises(NotImplementedError, match="Empty must define _forward_and_log_det"):
        Empty().forward(tf.constant(1.0))
