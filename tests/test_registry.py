"""Registry behaviour and the public API entry points."""

import subprocess
import sys

import pytest

import cogmodels
from cogmodels.errors import ConfigError, RegistryError
from cogmodels.registry import Registry


def test_register_create_list_and_suggestions():
    reg = Registry("widget")

    @reg.register("round")
    def make_round(size=1):
        return ("round", size)

    reg.register("lazy", "fractions:Fraction")
    assert reg.list() == ["lazy", "round"]
    assert reg.create("round", size=3) == ("round", 3)
    assert reg.create("lazy", numerator=1, denominator=2) == 0.5
    with pytest.raises(RegistryError, match="Did you mean 'round'"):
        reg.get("rond")


def test_import_cogmodels_imports_no_models():
    code = ("import sys, cogmodels; cogmodels.list_backbones(); cogmodels.list_datasets();"
            "print([m for m in sys.modules if m.startswith(('timm', 'torch', 'cogmodels.backbones.', "
            "'cogmodels.datasets.', 'cogmodels.encoders.'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_public_lists():
    assert {"gabor", "vgg16", "resnet50", "convnext_tiny", "vit_small_patch14_dinov2"} <= set(cogmodels.list_backbones())
    assert "ridge" in cogmodels.list_models("encoder")
    with pytest.raises(ConfigError, match="encoder"):
        cogmodels.list_models("decoder")
