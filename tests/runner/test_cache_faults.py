"""Damaged cache files are rebuilt with a warning that names the file, never used silently, never fatal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cogmodels.io import CacheWarning, FeatureCache, load_npz_checked, save_npz
from tests.runner.test_cache import SpyBackbone, _stimuli


def _entry(tmp_path):
    backbone, stimuli = SpyBackbone(), _stimuli()
    first = FeatureCache(tmp_path).features(backbone, stimuli, layers=["mean"], progress=False)["mean"]
    return backbone, stimuli, np.array(first.values), next(tmp_path.glob("*.npy"))


def _again(tmp_path, backbone, stimuli):
    calls = backbone.forward_calls
    with pytest.warns(CacheWarning) as caught:
        fmap = FeatureCache(tmp_path).features(backbone, stimuli, layers=["mean"], progress=False)["mean"]
    assert backbone.forward_calls > calls  # extracted again
    return fmap, " ".join(str(w.message) for w in caught)


def test_a_zero_byte_array_is_extracted_again_with_a_warning_naming_it(tmp_path):
    backbone, stimuli, values, npy = _entry(tmp_path)
    npy.write_bytes(b"")
    fmap, message = _again(tmp_path, backbone, stimuli)
    np.testing.assert_array_equal(fmap.values, values)
    assert str(npy) in message and "empty file (0 bytes)" in message and "expected a .npy array" in message
    assert "Fix:" in message and "extracting again" in message
    # the rebuilt entry serves the next run without warnings or a forward pass
    calls = backbone.forward_calls
    FeatureCache(tmp_path).features(backbone, stimuli, layers=["mean"], progress=False)
    assert backbone.forward_calls == calls


def test_same_size_corruption_fails_the_checksum_and_is_extracted_again(tmp_path):
    backbone, stimuli, values, npy = _entry(tmp_path)
    size = npy.stat().st_size
    data = bytearray(npy.read_bytes())
    data[-8:] = b"\xff" * 8  # NaN bytes in the last values: same size, same header
    npy.write_bytes(bytes(data))
    assert npy.stat().st_size == size
    fmap, message = _again(tmp_path, backbone, stimuli)
    np.testing.assert_array_equal(fmap.values, values)  # the right numbers, not the damaged ones
    assert str(npy) in message and "sha256" in message and "changed on disk" in message and "Fix:" in message


def test_a_truncated_array_and_a_garbage_sidecar_are_rebuilt(tmp_path):
    backbone, stimuli, values, npy = _entry(tmp_path)
    npy.write_bytes(npy.read_bytes()[:40])
    fmap, message = _again(tmp_path, backbone, stimuli)
    np.testing.assert_array_equal(fmap.values, values)
    sidecar = npy.with_suffix(".json")
    sidecar.write_text("{not json")
    fmap, message = _again(tmp_path, backbone, stimuli)
    assert str(sidecar) in message and "expected a feature cache sidecar" in message and "JSONDecodeError" in message


def test_the_sidecar_records_the_array_checksum(tmp_path):
    from cogmodels.io import sha256_file

    _, _, _, npy = _entry(tmp_path)
    assert json.loads(npy.with_suffix(".json").read_text())["sha256"] == sha256_file(npy)


@pytest.mark.parametrize("damage", ["truncated", "zero_bytes", "flipped"])
def test_a_damaged_npz_cache_reads_as_absent_with_a_warning(tmp_path, damage):
    path = tmp_path / "sim.npz"
    save_npz(path, {"a": np.arange(1000.0), "b": np.ones((20, 20))})
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "zero_bytes":
        path.write_bytes(b"")
    else:  # same size, one member's bytes changed: its CRC fails
        changed = bytearray(data)
        changed[200] ^= 0xFF
        path.write_bytes(bytes(changed))
    with pytest.warns(CacheWarning, match="expected a complete .npz archive") as caught:
        assert load_npz_checked(path) is None
    assert str(path) in str(caught[0].message) and "Fix:" in str(caught[0].message)


def test_quickstart_sim_rebuilds_a_truncated_cache_instead_of_failing(tmp_path):
    from cogmodels.datasets import quickstart_sim

    options = {"root": tmp_path, "n_stimuli": 24, "n_channels": 6, "image_size": 32}
    first = quickstart_sim.load(**options)
    (path,) = tmp_path.glob("quickstart_sim-*.npz")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CacheWarning, match="quickstart_sim-"):
        again = quickstart_sim.load(**options)
    np.testing.assert_array_equal(again.responses.responses, first.responses.responses)
    np.testing.assert_array_equal(quickstart_sim.load(**options).responses.responses, first.responses.responses)
