"""LogitLayer: the density it gives is over pixel units (its log-det is the analytic one),
samples land in (0, K), bad arguments. (Config round trip, check_bijector, context refusal:
test_registry.py.)"""
import numpy as np
import pytest

from tfp_flows import FlowModel
from tfp_flows.layers import LogitLayer


@pytest.mark.parametrize("num_levels,alpha", [(256, 0.05), (17, 1e-3)])
def test_log_prob_is_a_density_over_pixels_with_the_analytic_log_det(num_levels, alpha):
    x = np.random.default_rng(0).uniform(0.0, num_levels, size=(6, 5))
    x[0, :2] = [0.0, num_levels]  # both edges: alpha keeps everything finite
    x = x.astype("float32")
    layer = LogitLayer(num_levels=num_levels, alpha=alpha)
    p = alpha + (1.0 - 2.0 * alpha) * x.astype(np.float64) / num_levels
    logits = np.log(p) - np.log1p(-p)
    log_det = np.sum(np.log((1.0 - 2.0 * alpha) / num_levels) - np.log(p) - np.log1p(-p), -1)
    bijector = layer.bijector()
    np.testing.assert_allclose(bijector.inverse(x).numpy(), logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bijector.inverse_log_det_jacobian(x, event_ndims=1).numpy(),
                               log_det, rtol=1e-5)
    model = FlowModel([layer], event_shape=(5,))
    normal = -0.5 * np.sum(logits ** 2, -1) - 2.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(model.log_prob(x).numpy(), normal + log_det, rtol=1e-5)


def test_samples_are_pixels_in_range_widened_by_the_alpha_margin():
    model = FlowModel([LogitLayer(num_levels=4, alpha=0.1)], event_shape=(2, 2, 1))
    x = model.sample(500, seed=0).numpy()
    assert x.shape == (500, 2, 2, 1)
    margin = 0.1 * 4 / 0.8
    assert x.min() > -margin and x.max() < 4.0 + margin
    assert x.max() - x.min() > 3.0  # spread over the range, not stuck in the middle


@pytest.mark.parametrize("num_levels", [1, 0, -3, 2.5, True, "256"])
def test_num_levels_must_be_an_integer_of_at_least_two(num_levels):
    with pytest.raises(ValueError, match=r"num_levels must be an integer >= 2, got "
                                         + repr(num_levels).replace(".", r"\.")):
        LogitLayer(num_levels=num_levels)


@pytest.mark.parametrize("alpha", [0.0, 0.5, -0.1, 0.7, float("nan"), True, "0.1"])
def test_alpha_must_be_a_number_in_the_open_half_interval(alpha):
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 0\.5\), got "
                                         + repr(alpha).replace(".", r"\.")):
        LogitLayer(alpha=alpha)
