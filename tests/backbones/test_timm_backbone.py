"""TimmBackbone: any timm name, token grids, local weights, offline hub requests."""

import hashlib
import socket

import numpy as np
import pytest
import torch

import cogmodels
from cogmodels.backbones import timm_backbone
from cogmodels.backbones.timm_backbone import TimmBackbone
from cogmodels.errors import ConfigError, DataFormatError, WeightsUnavailableError


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, size=(36, 30, 3), dtype=np.uint8) for _ in range(2)]


def _resnet18(**kw):
    return cogmodels.create_backbone("timm:resnet18", input_size=32, **kw)


def test_any_timm_name_with_spatial_and_vector_layers(images):
    backbone = _resnet18(layers=["layer2", "global_pool", "fc"])
    features = backbone.extract(images, progress=False)
    assert features["layer2"].kind == "spatial" and features["layer2"].values.shape == (2, 128, 4, 4)
    assert features["global_pool"].kind == "vector" and features["global_pool"].values.shape == (2, 512)
    assert features["fc"].values.shape == (2, 1000)
    assert backbone.weights_hash == "random-seed0"
    assert "layer4.1.conv2" in backbone.available_layers()


def test_stopping_the_forward_pass_early_does_not_change_features(images):
    backbone = _resnet18(layers=["layer1"])
    alone = backbone.extract(images, progress=False)["layer1"].values
    together = backbone.extract(images, layers=["fc", "layer1"], progress=False)["layer1"].values
    np.testing.assert_array_equal(alone, together)


def test_vit_tokens_drop_prefix_tokens(images):
    # DINOv2 with 4 registers: 1 cls + 4 register tokens precede the 2x2 patch grid.
    backbone = TimmBackbone("vit_small_patch14_reg4_dinov2", layers=["blocks.0", "patch_embed"], input_size=28)
    model = backbone.model
    assert model.num_prefix_tokens == 5
    features = backbone.extract(images, progress=False)
    block = features["blocks.0"]
    assert block.kind == "tokens" and block.grid == (2, 2) and block.values.shape == (2, 4, 384)
    with torch.no_grad():  # the same block computed by hand, prefix tokens included
        x = backbone.preprocess(images)
        expected = model.blocks[0](model.norm_pre(model._pos_embed(model.patch_embed(x))))
    np.testing.assert_allclose(block.values, expected[:, 5:].numpy(), rtol=1e-5, atol=1e-5)
    assert features["patch_embed"].values.shape == (2, 4, 384)  # no prefix tokens yet: kept whole
    assert block.as_spatial().shape == (2, 384, 2, 2)


def test_preprocessing_is_json_and_follows_the_pretrained_config():
    backbone = _resnet18()
    pre = backbone.preprocessing
    assert pre["input_size"] == [32, 32] and pre["crop"] == "none"
    assert pre["mean"] == pytest.approx([0.485, 0.456, 0.406]) and pre["interpolation"] == "bicubic"
    cropped = _resnet18(crop="center")
    assert cropped.preprocessing["crop"] == "center"
    assert cropped.fingerprint("layer4") != backbone.fingerprint("layer4")


def test_resize_without_crop_keeps_the_whole_image():
    backbone = _resnet18()
    image = np.zeros((20, 40, 3), dtype=np.uint8)
    image[:, 36:] = 255  # a bright strip at the right border
    resized = backbone.preprocess([image])[0]
    assert resized[0, :, -1].mean() > resized[0, :, 0].mean()  # still there after resizing
    centred = _resnet18(crop="center").preprocess([image])[0]
    assert torch.allclose(centred[0, :, -1], centred[0, :, 0])  # cropped away


def test_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match="resnet18"):
        cogmodels.create_backbone("timm:resnet_18")
    with pytest.raises(ConfigError, match="layer4"):
        _resnet18(layers=["layer_4"])
    with pytest.raises(ConfigError, match="crop"):
        _resnet18(crop="random")


@pytest.mark.parametrize("fmt", ["pth_state_dict", "pth_model_module", "safetensors"])
def test_local_weights_round_trip(tmp_path, images, fmt):
    source = _resnet18(seed=7)
    state = source.model.state_dict()
    if fmt == "safetensors":
        from safetensors.torch import save_file

        path = tmp_path / "weights.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    elif fmt == "pth_state_dict":
        path = tmp_path / "weights.pth"
        torch.save({"state_dict": state, "epoch": 3}, path)
    else:  # {"model": ...} written by DataParallel ("module." prefixes)
        path = tmp_path / "weights.pt"
        torch.save({"model": {f"module.{k}": v for k, v in state.items()}}, path)
    loaded = _resnet18(weights=str(path))
    assert loaded.weights_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    expected = source.extract(images, progress=False)
    found = loaded.extract(images, progress=False)
    for layer in expected:
        np.testing.assert_array_equal(found[layer].values, expected[layer].values)
    assert loaded.fingerprint("layer4") != source.fingerprint("layer4")


def test_checkpoint_without_the_head_is_accepted(tmp_path, images):
    source = _resnet18(seed=7)
    state = {k: v for k, v in source.model.state_dict().items() if not k.startswith("fc.")}
    torch.save(state, tmp_path / "trunk.pth")
    loaded = _resnet18(weights=tmp_path / "trunk.pth")
    np.testing.assert_array_equal(loaded.extract(images, progress=False)["layer4"].values,
                                  source.extract(images, progress=False)["layer4"].values)


def test_mismatched_checkpoint_keys_are_named(tmp_path):
    state = _resnet18().model.state_dict()
    state["layer9.weight"] = state.pop("layer1.0.conv1.weight")
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(DataFormatError) as err:
        _resnet18(weights=tmp_path / "bad.pth")
    message = str(err.value)
    assert "missing keys" in message and "layer1.0.conv1.weight" in message
    assert "unexpected keys" in message and "layer9.weight" in message
    assert "bad.pth" in message


def test_mismatched_shapes_are_named(tmp_path):
    state = _resnet18().model.state_dict()
    state["conv1.weight"] = torch.zeros(8, 3, 7, 7)
    torch.save(state, tmp_path / "shapes.pth")
    with pytest.raises(DataFormatError, match=r"conv1.weight \(8, 3, 7, 7\) vs \(64, 3, 7, 7\)"):
        _resnet18(weights=tmp_path / "shapes.pth")


def test_unusable_weight_files(tmp_path):
    with pytest.raises(WeightsUnavailableError, match="no such file"):
        _resnet18(weights=tmp_path / "missing.pth")
    (tmp_path / "weights.npz").write_bytes(b"x")
    with pytest.raises(DataFormatError, match="suffix"):
        _resnet18(weights=tmp_path / "weights.npz")
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError, match="unreadable"):
        _resnet18(weights=tmp_path / "broken.pth")


def _forbid_network_and_downloads(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was contacted")

    def no_download(*args, pretrained=False, **kwargs):
        if pretrained:
            raise AssertionError("timm was asked to download weights")
        return create_model(*args, **kwargs)

    create_model = timm_backbone.timm.create_model
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(timm_backbone.timm, "create_model", no_download)


def test_hub_weights_offline_fail_fast(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))  # an empty hub cache
    _forbid_network_and_downloads(monkeypatch)
    with pytest.raises(WeightsUnavailableError) as err:
        cogmodels.create_backbone("resnet50", weights="hub")
    assert "backbone.weights=/path/to/file" in str(err.value)
    assert "HF_HUB_OFFLINE" in str(err.value)


def test_hub_weights_without_network_fail_fast(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    _forbid_network_and_downloads(monkeypatch)
    probes = []

    def unreachable(address, timeout=None):
        probes.append(timeout)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(WeightsUnavailableError, match="no network") as err:
        cogmodels.create_backbone("timm:resnet18", weights="hub")
    assert "backbone.weights=/path/to/file" in str(err.value)
    assert probes and probes[0] <= 5  # one short probe, no retries


def test_vit_checkpoint_is_resampled_to_the_input_size(tmp_path, images):
    # A checkpoint saved at 56 px (4x4 position grid) loads into a 28 px model (2x2 grid):
    # timm's own checkpoint filter of the model family resamples the position embedding.
    source = TimmBackbone("vit_small_patch14_reg4_dinov2", layers=["blocks.0"], input_size=56, seed=2)
    torch.save(source.model.state_dict(), tmp_path / "vit.pth")
    loaded = TimmBackbone("vit_small_patch14_reg4_dinov2", layers=["blocks.0"], input_size=28,
                          weights=tmp_path / "vit.pth")
    assert loaded.model.pos_embed.shape[1] == 4
    np.testing.assert_array_equal(loaded.model.blocks[0].mlp.fc1.weight.detach().numpy(),
                                  source.model.blocks[0].mlp.fc1.weight.detach().numpy())
    assert loaded.extract(images, progress=False)["blocks.0"].grid == (2, 2)
