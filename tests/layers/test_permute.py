"""PermuteLayer and make_permutation."""
import pytest

from tfp_flows.layers import PermuteLayer, make_permutation


@pytest.mark.parametrize("bad", [[0, 0, 1], [1, 2, 3], [[0, 1], [1, 0]], [0, 2]])
def test_permute_layer_rejects_a_non_permutation(bad):
    with pytest.raises(ValueError, match="permutation"):
        PermuteLayer(bad)


def test_make_permutation():
    assert make_permutation(4).tolist() == [3, 2, 1, 0]
    first = make_permutation(6, "random", seed=2).tolist()
    assert sorted(first) == list(range(6))
    assert make_permutation(6, "random", seed=2).tolist() == first
    with pytest.raises(ValueError, match="permutation"):
        make_permutation(3, "shuffle")
