"""PixelsBackbone: grayscale pixels, resized as PIL resizes them, as one spatial layer."""

import numpy as np
import pytest
from PIL import Image

import cogmodels
from cogmodels.backbones.pixels import PixelsBackbone
from cogmodels.errors import ConfigError

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _image(shape=(112, 96, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def test_default_is_one_28_by_28_grayscale_layer():
    backbone = cogmodels.create_backbone("pixels")
    assert backbone.layers == ["pixels"] and backbone.available_layers() == ["pixels"]
    assert backbone.weights_hash == "fixed" and backbone.image_size == 28
    fmap = backbone.extract([_image(), _image(seed=1)], progress=False)["pixels"]
    assert fmap.kind == "spatial" and fmap.values.shape == (2, 1, 28, 28) and fmap.values.dtype == np.float32
    assert fmap.flatten().shape == (2, 28 * 28)


def test_values_are_luma_resized_like_pil_bilinear():
    """An independent reference: PIL's (antialiased) bilinear resize of the float luminance image."""
    image = _image()
    values = PixelsBackbone(image_size=20).extract([image], progress=False)["pixels"].values[0, 0]
    luminance = (image.astype(np.float32) / 255) @ LUMA
    expected = np.asarray(Image.fromarray(luminance.astype(np.float32), mode="F").resize((20, 20), Image.BILINEAR))
    np.testing.assert_allclose(values, expected, atol=1e-5)


def test_colour_weights_and_no_resize_at_the_native_size():
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    values = PixelsBackbone(image_size=16).extract_batch([red], ["pixels"])["pixels"].values
    np.testing.assert_allclose(values, 0.299, atol=1e-6)  # luma of pure red; a plain channel mean would give 1/3


def test_image_size_changes_the_fingerprint():
    assert PixelsBackbone(image_size=28).fingerprint("pixels") != PixelsBackbone(image_size=14).fingerprint("pixels")


@pytest.mark.parametrize("options", [{"image_size": 0}, {"image_size": 2.5}, {"weights": "/some/file.pt"},
                                     {"layers": ["complex"]}])
def test_bad_options_are_config_errors(options):
    with pytest.raises(ConfigError, match="pixels"):
        PixelsBackbone(**options)
