"""Vision backbones: a timm wrapper, a fixed Gabor filter bank and foveation transforms.

Every backbone has the same feature API (:class:`cogmodels.backbones.base.Backbone`)::

    backbone = cogmodels.create_backbone("gabor")
    features = backbone.extract(stimuli, layers=["complex"])   # {layer: FeatureMap}
"""

from __future__ import annotations

from cogmodels.registry import Registry

#: Backbones register where they are defined (``@BACKBONES.register(name, example=...)``, or the table of
#: timm models in :mod:`cogmodels.backbones.timm_backbone`); the modules of this folder are imported on first
#: use, and plugins come in through the ``cogmodels.backbones`` entry-point group.
BACKBONES = Registry("backbone", package=__name__, entry_point_group="cogmodels.backbones")

TIMM_PREFIX = "timm:"


def create(name: str, layers=None, weights=None, seed: int = 0, **options):
    """Create a registered backbone, or any timm model as ``"timm:<model name>"``."""
    if name.startswith(TIMM_PREFIX):
        from cogmodels.backbones.timm_backbone import TimmBackbone

        return TimmBackbone(name[len(TIMM_PREFIX):], layers=layers, weights=weights, seed=seed, **options)
    return BACKBONES.create(name, layers=layers, weights=weights, seed=seed, **options)
