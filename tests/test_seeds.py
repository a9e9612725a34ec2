"""One seed stream (tfp_flows.seeds): a builder's seed fixes its flow, and different seeds share
no random initial weight and no random permutation (issue 18 §5, issue 19 silent 7)."""
import numpy as np
import pytest

import tfp_flows
from tfp_flows.layers import PermuteLayer
from tfp_flows.seeds import SeedStream, spawn_seeds

VECTOR = ["maf", "iaf", "real_nvp", "nice", "glow", "nsf", "nsf_ar"]
IMAGE = ["real_nvp_image", "glow_image"]


def build(kind, seed, **kwargs):
    if kind == "nsf_ar":
        return tfp_flows.nsf(event_shape=3, num_layers=3, hidden_units=(8,), seed=seed,
                             autoregressive=True, **kwargs)
    if kind.endswith("_image"):
        extra = dict(num_blocks=0) if kind == "real_nvp_image" else dict(num_steps=2)
        return tfp_flows.build_flow(kind[:-6], event_shape=(4, 4, 1), num_levels=4,
                                    hidden_channels=4, seed=seed, **extra)
    return tfp_flows.build_flow(kind, event_shape=3, num_layers=3, hidden_units=(8,), seed=seed,
                                **kwargs)


def random_arrays(kind, seed):
    """The weights of ``build(kind, seed)`` that are drawn at random: those that differ between
    two unseeded builds (zeros, ones and identities are the same by design)."""
    fresh = [[w.numpy() for w in build(kind, None).weights] for _ in range(2)]
    drawn = [not np.array_equal(a, b) for a, b in zip(*fresh)]
    arrays = [w.numpy() for w in build(kind, seed).weights]
    assert len(arrays) == len(drawn) and any(drawn)
    return [a for a, d in zip(arrays, drawn) if d]


@pytest.mark.parametrize("kind", VECTOR + IMAGE)
def test_the_same_seed_gives_the_same_flow_and_different_seeds_share_no_array(kind):
    first, again, other = random_arrays(kind, 0), random_arrays(kind, 0), random_arrays(kind, 1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    shared = [(i, j) for i, a in enumerate(first) for j, b in enumerate(other)
              if a.shape == b.shape and np.array_equal(a, b)]
    assert shared == []


@pytest.mark.parametrize("kind", ["maf", "real_nvp", "nsf"])
def test_layer_k_plus_1_of_seed_0_is_not_layer_k_of_seed_1(kind):
    """The old ``seed + i`` scheme gave exactly this equality."""
    def layers(seed):
        flow = build(kind, seed)
        return [[w.numpy() for w in layer.trainable_weights]
                for layer in flow.flow_layers if layer.trainable_weights]

    zero, one = layers(0), layers(1)
    for k in range(len(zero) - 1):
        pairs = zip(zero[k + 1], one[k])
        assert not all(np.array_equal(a, b) for a, b in pairs), k


@pytest.mark.parametrize("kind", ["maf", "iaf", "real_nvp", "nice", "nsf"])
def test_random_permutations_differ_between_seeds(kind):
    def perms(seed):
        flow = tfp_flows.build_flow(kind, event_shape=8, num_layers=4, hidden_units=(8,),
                                    permutation="random", seed=seed)
        return [tuple(l.permutation) for l in flow.flow_layers if isinstance(l, PermuteLayer)]

    zero, one = perms(0), perms(1)
    assert len(zero) == 3 and perms(0) == zero
    assert set(zero).isdisjoint(one)  # the old seed + 1000 + i scheme shared two of three


def test_made_random_order_and_weights_come_from_independent_seeds():
    from tfp_flows.nets import MADE

    made = MADE(6, hidden_units=(8, 8), order="random", seed=3)
    again = MADE(6, hidden_units=(8, 8), order="random", seed=3)
    np.testing.assert_array_equal(made.order, again.order)
    for m in (made, again):
        m(np.zeros((1, 6), "float32"))
    for a, b in zip(made.weights, again.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other = MADE(6, hidden_units=(8, 8), order="random", seed=4)
    other(np.zeros((1, 6), "float32"))
    assert not np.array_equal(made.weights[2].numpy(), other.weights[2].numpy())


def test_seed_stream_and_spawn_agree():
    stream = SeedStream(5)
    assert [next(stream) for _ in range(4)] == spawn_seeds(5, 4)
    assert spawn_seeds(None, 3) == [None] * 3
