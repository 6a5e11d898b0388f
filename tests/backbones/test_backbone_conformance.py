"""Every registered backbone honours the feature API (random init, its registered tiny example, default layers)."""

import numpy as np
import pytest

import cogmodels
from cogmodels.backbones import BACKBONES
from cogmodels.backbones.base import FeatureMap
from cogmodels.data import Stimuli

NAMES = cogmodels.list_backbones()  # plugins included


def _small(name) -> dict:
    """The backbone's registered example: small inputs keep this file fast on CPU."""
    return dict(BACKBONES.example(name) or {})
RANK = {"spatial": 4, "tokens": 3, "vector": 2}


def _images():
    rng = np.random.default_rng(0)
    # Two sizes: backbones must resize every image to their input.
    return [rng.integers(0, 256, size=(40, 52, 3), dtype=np.uint8),
            rng.integers(0, 256, size=(48, 48, 3), dtype=np.uint8)]


@pytest.fixture(scope="module")
def extracted():
    """name -> (backbone, features), built once per backbone."""
    cache = {}

    def get(name, seed=0):
        if (name, seed) not in cache:
            backbone = cogmodels.create_backbone(name, seed=seed, **_small(name))
            stimuli = Stimuli.from_arrays(["a", "b"], _images())
            cache[name, seed] = backbone, backbone.extract(stimuli, progress=False)
        return cache[name, seed]
    return get


def test_registry_lists_the_builtins():
    assert {"gabor", "vgg16", "resnet50", "convnext_tiny", "vit_small_patch14_dinov2"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_default_layers_give_valid_feature_maps(name, extracted):
    backbone, features = extracted(name)
    assert backbone.layers and list(features) == list(backbone.layers)
    assert set(backbone.layers) <= set(backbone.available_layers())
    for layer, fmap in features.items():
        assert isinstance(fmap, FeatureMap)
        assert fmap.values.dtype == np.float32
        assert fmap.values.ndim == RANK[fmap.kind]
        assert fmap.n_stimuli == 2
        assert np.isfinite(fmap.values).all(), layer
        assert fmap.values.std() > 0, f"{layer} is constant"
        if fmap.kind != "vector":
            assert fmap.as_tokens().shape[1] == fmap.grid[0] * fmap.grid[1]


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_features(name, extracted):
    _, first = extracted(name)
    again = cogmodels.create_backbone(name, seed=0, **_small(name))
    second = again.extract(_images(), progress=False)
    for layer in first:
        np.testing.assert_array_equal(first[layer].values, second[layer].values)


@pytest.mark.parametrize("name", NAMES)
def test_another_seed_gives_other_weights(name, extracted):
    backbone, first = extracted(name)
    if not backbone.weights_hash.startswith("random-seed"):
        pytest.skip(f"{name} has fixed weights ({backbone.weights_hash})")
    other, second = extracted(name, seed=1)
    assert other.weights_hash != backbone.weights_hash
    for layer in first:
        assert not np.allclose(first[layer].values, second[layer].values)


@pytest.mark.parametrize("name", NAMES)
def test_fingerprint_depends_on_layer_and_is_stable(name, extracted):
    backbone, _ = extracted(name)
    layers = backbone.available_layers()
    prints = {backbone.fingerprint(layer) for layer in layers[:2]}
    assert len(prints) == min(2, len(layers))
    assert backbone.fingerprint(layers[0]) == backbone.fingerprint(layers[0])
    other, _ = extracted(name, seed=1)
    if backbone.weights_hash != other.weights_hash:
        assert backbone.fingerprint(layers[0]) != other.fingerprint(layers[0])


@pytest.mark.parametrize("name", NAMES)
def test_batches_do_not_change_features(name, extracted):
    backbone, features = extracted(name)
    one_by_one = backbone.extract(_images(), batch_size=1, progress=False)
    for layer in features:
        np.testing.assert_allclose(one_by_one[layer].values, features[layer].values, rtol=1e-4, atol=1e-5)
