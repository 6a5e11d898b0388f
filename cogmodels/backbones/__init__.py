"""Vision backbones: a timm wrapper, a fixed Gabor filter bank and foveation transforms.

Every backbone has the same feature API (:class:`cogmodels.backbones.base.Backbone`)::

    backbone = cogmodels.create_backbone("gabor")
    features = backbone.extract(stimuli, layers=["complex"])   # {layer: FeatureMap}
"""

from __future__ import annotations

from cogmodels.registry import Registry

BACKBONES = Registry("backbone")
# Built-ins, imported lazily on first use.  A new backbone is one file plus one line here plus one YAML.
BACKBONES.register("gabor", "cogmodels.backbones.gabor:GaborBackbone")
BACKBONES.register("vgg16", "cogmodels.backbones.timm_backbone:vgg16")
BACKBONES.register("resnet50", "cogmodels.backbones.timm_backbone:resnet50")
BACKBONES.register("convnext_tiny", "cogmodels.backbones.timm_backbone:convnext_tiny")
BACKBONES.register("vit_small_patch14_dinov2", "cogmodels.backbones.timm_backbone:vit_small_patch14_dinov2")

TIMM_PREFIX = "timm:"


def create(name: str, layers=None, weights=None, seed: int = 0, **options):
    """Create a registered backbone, or any timm model as ``"timm:<model name>"``."""
    if name.startswith(TIMM_PREFIX):
        from cogmodels.backbones.timm_backbone import TimmBackbone

        return TimmBackbone(name[len(TIMM_PREFIX):], layers=layers, weights=weights, seed=seed, **options)
    return BACKBONES.create(name, layers=layers, weights=weights, seed=seed, **options)
