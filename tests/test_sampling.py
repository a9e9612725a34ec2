"""Tests of tfp_flows.sampling (samples in batches) and of the small helpers the command
line shares with Python users: datasets.quantize, datasets.one_hot, datasets.format_csv."""
import numpy as np
import pytest

import tfp_flows
from tfp_flows.datasets import dequantize, format_csv, load_array, one_hot, quantize
from tfp_flows.sampling import sample_in_batches


class Counter:
    """Records its calls; sample i of call s is s * 1000 + i, with the context's first value
    added: [n, *event] or [n, m, *event] as FlowModel.sample gives them."""

    def __init__(self):
        self.calls = []

    def sample(self, n, seed=None, temperature=1.0, context=None):
        self.calls.append((n, seed, None if context is None else len(context)))
        values = seed * 1000.0 + np.arange(n)
        if context is None:
            return values[:, None]
        return values[:, None, None] + np.asarray(context)[None, :, :1]


def test_sample_in_batches_seeds_each_call_and_keeps_tfp_order():
    model = Counter()
    x = sample_in_batches(model, 5, batch_size=2, seed=7)
    assert model.calls == [(2, 7, None), (2, 8, None), (1, 9, None)]
    np.testing.assert_array_equal(x[:, 0], [7000, 7001, 8000, 8001, 9000])
    model = Counter()
    contexts = np.array([[0.5], [0.25], [0.125]])
    x = sample_in_batches(model, 2, context=contexts, batch_size=4, seed=0)
    assert model.calls == [(2, 0, 2), (2, 1, 1)]    # two contexts a call (4 // 2)
    assert x.shape == (2, 3, 1) and x.dtype == np.float64
    np.testing.assert_array_equal(x[:, 2, 0], [1000.125, 1001.125])


def test_sample_in_batches_of_a_flow_matches_one_call():
    flow = tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,), seed=0)
    np.testing.assert_allclose(sample_in_batches(flow, 6, batch_size=6, seed=3),
                               np.asarray(flow.sample(6, seed=3)), rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_samples=0), "num_samples"),
    (dict(num_samples=2, batch_size=1.5), "batch_size"),
    (dict(num_samples=2, context=np.zeros((0, 1))), r"\[m, K\]"),
])
def test_sample_in_batches_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_in_batches(Counter(), **kwargs)


def test_quantize_inverts_dequantize_and_picks_the_smallest_dtype():
    x = np.random.default_rng(0).integers(0, 300, size=(4, 3, 3, 1))
    back = quantize(dequantize(x, seed=1, num_levels=300), num_levels=300)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, x)
    assert quantize([[-5.0, np.inf, 255.9]]).tolist() == [[0, 0, 255]]
    with pytest.raises(ValueError, match="num_levels"):
        quantize([1.0], num_levels=1)


def test_one_hot():
    assert one_hot(np.array([1.0, 0.0]), 2).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert one_hot(np.zeros((2, 3), int), 4).shape == (2, 3, 4)
    for labels, message in (([0, 3], "got 3 at index 1"), ([0.5], "got 0.5 at index 0"),
                            (["a"], "dtype")):
        with pytest.raises(ValueError, match=message):
            one_hot(labels, 3)
    with pytest.raises(ValueError, match="num_classes"):
        one_hot([0], 0)


def test_format_csv_is_read_back_exactly(tmp_path):
    values = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    path = tmp_path / "rows.csv"
    path.write_text(format_csv(values, ["a", "b", "c"]))
    np.testing.assert_array_equal(load_array(path), values)
    assert format_csv(np.array([1.0, 2.5])) == "1\n2.5\n"
