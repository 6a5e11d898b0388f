"""Feature cache: a hit runs no backbone forward pass; keys follow content; files are atomic."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from cogmodels.backbones.base import Backbone, FeatureMap
from cogmodels.data import Stimuli
from cogmodels.runner.cache import FeatureCache, feature_key


class SpyBackbone(Backbone):
    """A tiny deterministic backbone that counts its forward passes."""

    name = "spy"

    def __init__(self, gain=1.0):
        self.layers = ["mean", "tokens"]
        self.preprocessing = {"gain": gain}
        self.weights_hash = "fixed"
        self.forward_calls = 0

    def available_layers(self):
        return list(self.layers)

    def extract_batch(self, images, layers):
        self.forward_calls += 1
        batch = np.stack(images).astype(np.float32) * self.preprocessing["gain"]
        out = {}
        if "mean" in layers:
            out["mean"] = FeatureMap(batch.mean(axis=(1, 2))[:, :, None, None].repeat(2, 2).repeat(2, 3), "spatial")
        if "tokens" in layers:
            out["tokens"] = FeatureMap(batch[:, :2, :2].reshape(len(images), 4, 3), "tokens", (2, 2))
        return out


def _stimuli(n=5, offset=0):
    rng = np.random.default_rng(offset)
    return Stimuli.from_arrays([f"s{i}" for i in range(n)], list(rng.integers(0, 255, (n, 6, 6, 3), dtype=np.uint8)))


def test_a_hit_runs_no_forward_pass_and_memory_maps_the_same_values(tmp_path, caplog):
    backbone, stimuli = SpyBackbone(), _stimuli()
    cache = FeatureCache(tmp_path)
    first = cache.features(backbone, stimuli, batch_size=2, progress=False)
    assert backbone.forward_calls == 3 and cache.misses == 2
    with caplog.at_level(logging.INFO, logger="cogmodels.io"):
        second = FeatureCache(tmp_path).features(backbone, stimuli, progress=False)
    assert backbone.forward_calls == 3  # no new forward pass
    assert caplog.text.count("no backbone forward pass") == 2 and "feature cache hit for spy/mean" in caplog.text
    for layer in ("mean", "tokens"):
        assert isinstance(second[layer].values, np.memmap)
        np.testing.assert_array_equal(second[layer].values, first[layer].values)
        assert (second[layer].kind, second[layer].grid) == (first[layer].kind, first[layer].grid)
    sidecar = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert {"kind", "grid", "shape", "dtype", "backbone_fingerprint", "stimuli_fingerprint"} <= set(sidecar)
    assert not list(tmp_path.glob(".tmp-*"))


def test_only_missing_layers_are_extracted(tmp_path):
    backbone, stimuli = SpyBackbone(), _stimuli()
    cache = FeatureCache(tmp_path)
    cache.features(backbone, stimuli, layers=["mean"], progress=False)
    calls = backbone.forward_calls
    both = cache.features(backbone, stimuli, layers=["mean", "tokens"], progress=False)
    assert cache.hits == 1 and cache.misses == 2 and backbone.forward_calls == calls + 1
    assert list(both) == ["mean", "tokens"]


@pytest.mark.parametrize("change", ["pixels", "ids", "preprocessing", "layer"])
def test_the_key_changes_with_content_ids_preprocessing_and_layer(change):
    backbone, stimuli = SpyBackbone(), _stimuli()
    reference = feature_key(backbone, "mean", stimuli)
    if change == "pixels":
        images = [stimuli.image(i).copy() for i in range(len(stimuli))]
        images[2][0, 0, 0] ^= 1
        stimuli = Stimuli.from_arrays(stimuli.ids, images)
    elif change == "ids":
        stimuli = Stimuli.from_arrays([f"t{i}" for i in range(len(stimuli))], [s.image for s in stimuli])
    elif change == "preprocessing":
        backbone = SpyBackbone(gain=2.0)
    key = feature_key(backbone, "tokens" if change == "layer" else "mean", stimuli)
    assert key != reference


def test_a_corrupt_entry_is_extracted_again(tmp_path, caplog):
    backbone, stimuli = SpyBackbone(), _stimuli()
    cache = FeatureCache(tmp_path)
    cache.features(backbone, stimuli, layers=["mean"], progress=False)
    sidecar = next(tmp_path.glob("*.json"))
    spec = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**spec, "shape": [1, 2, 3, 4]}))
    calls = backbone.forward_calls
    with caplog.at_level(logging.WARNING):
        again = cache.features(backbone, stimuli, layers=["mean"], progress=False)
    assert backbone.forward_calls > calls and "extracting again" in caplog.text
    assert again["mean"].values.shape == (5, 3, 2, 2)


def test_the_key_changes_with_the_feature_code(tmp_path, monkeypatch):
    """Same fingerprint, different source code of the backbone class: different key."""
    import importlib.util
    import sys

    stimuli, keys, fingerprints = _stimuli(), [], []
    for k, body in enumerate(["return x", "return x * 2"]):
        path = tmp_path / f"variant{k}.py"
        path.write_text("from cogmodels.backbones.base import Backbone\n\n"
                        f"def transform(x):\n    {body}\n\n"
                        "class Variant(Backbone):\n    name = 'variant'\n    layers = ['a']\n"
                        "    preprocessing = {}\n    weights_hash = 'fixed'\n")
        spec = importlib.util.spec_from_file_location(f"variant{k}", path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        fingerprints.append(module.Variant().fingerprint("a"))
        keys.append(feature_key(module.Variant(), "a", stimuli))
    assert fingerprints[0] == fingerprints[1] and keys[0] != keys[1]
