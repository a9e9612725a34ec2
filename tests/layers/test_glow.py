"""ActNormLayer / InvertibleLinearLayer specifics beyond the registry's shared checks: the
invertible linear map's starting matrix (``initializer``) and configs saved before it existed."""
import json

import numpy as np
import pytest

from tfp_flows.bijectors import random_lu_init
from tfp_flows.layers import InvertibleLinearLayer


def _matrix(layer):
    return layer.bijector().matrix().numpy()


@pytest.mark.parametrize("shape", [3, (2, 2, 3)])
def test_identity_start_is_the_identity_or_the_given_permutation(shape):
    layer = InvertibleLinearLayer(shape, initializer="identity")
    np.testing.assert_array_equal(_matrix(layer), np.eye(3))
    assert layer.permutation == [0, 1, 2]
    assert all(w.trainable for w in layer.weights) and len(layer.trainable_weights) == 3
    swap = InvertibleLinearLayer(shape, permutation=[2, 0, 1], initializer="identity", seed=7)
    np.testing.assert_array_equal(_matrix(swap), np.eye(3)[[2, 0, 1]])


def test_rotation_start_is_the_default_and_follows_the_seed():
    layer = InvertibleLinearLayer(3, seed=4)
    assert layer.initializer == "rotation"
    perm, lower, upper, log_diag = random_lu_init(3, seed=4)
    assert layer.permutation == perm.tolist()
    np.testing.assert_allclose(layer.lower.numpy(), lower, atol=1e-6)
    w = _matrix(layer)
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-5)
    assert not np.allclose(w, np.eye(3))


def test_unknown_initializer_says_what_is_known():
    with pytest.raises(ValueError, match=r"initializer must be one of \('rotation', "
                                         r"'identity'\), got 'eye'"):
        InvertibleLinearLayer(2, initializer="eye")


def test_config_keeps_the_initializer_and_old_configs_load_as_rotation():
    layer = InvertibleLinearLayer(2, initializer="identity")
    config = layer.get_config()
    assert config["initializer"] == "identity"
    assert InvertibleLinearLayer.from_config(json.loads(json.dumps(config))).initializer == \
        "identity"
    # A layer saved before ``initializer`` existed: its config has no such key; the weights
    # (loaded afterwards) and the saved permutation define the matrix.
    old = InvertibleLinearLayer(2, seed=1).get_config()
    del old["initializer"]
    loaded = InvertibleLinearLayer.from_config(old)
    assert loaded.initializer == "rotation" and loaded.permutation == old["permutation"]
