"""Five-stage feature pyramids for eccNET: a block of layers, then a pooling stage, five times.

``pool{l+1}`` (l = 0..4) is the output of pooling stage l, which follows block
l.  Pooling is TF-"same" average pooling with stride 2: ``rf_min`` everywhere
(plain), or one window per output pixel (eccentricity-dependent, through
:func:`cogmodels.kernels.ecc_pool.ecc_avg_pool`).

Backbones
---------
``"gabor"`` (offline default)
    Block 0 is the fixed Gabor bank's complex-cell energy
    (:class:`~cogmodels.backbones.gabor.GaborBackbone`, 8 orientations x
    wavelengths 4, 8, 16 px = 24 channels) at the image's own resolution;
    blocks 1-4 are identities.  The "pyramid" is therefore the energy maps
    pooled five times; the eccentricity-dependent stages blur them more with
    distance from the fixation, exactly as they blur VGG maps.  There are no
    learned features on top, so paradigms whose targets differ from the
    distractors only in the arrangement of the same oriented strokes (T vs L,
    intersection) can only be told apart by the spatial layout of the energy.
timm VGG (``"vgg16"``, ``"vgg11"``, ``"vgg13"``, ``"vgg19"``, also ``_bn`` variants)
    Block l is ``model.features`` between the (l-1)-th and l-th MaxPool2d; the
    max pools are replaced by the average pooling above, as in eccNET.  Inputs
    are normalised with the model's mean/std at their native resolution (no
    resize: the displays are at 30 px/deg as the original's).  Weights: a
    local timm checkpoint (``weights=/path``), ``"hub"``, or a seeded random
    initialisation (``weights=None``, stated in results).
"""

from __future__ import annotations

import numpy as np
import torch

from cogmodels.errors import ConfigError, format_problem
from cogmodels.kernels.ecc_pool import ecc_avg_pool
from cogmodels.kernels.ecc_pool_reference import tf_same_avg_pool

N_STAGES = 5
VGG_NAMES = ("vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn")


class Pyramid:
    """Blocks and pooling of one backbone (see the module docstring).

    Parameters
    ----------
    backbone : str
    weights : None, "hub" or path
        timm backbones only.
    seed : int
    gabor_options : dict, optional
        Extra GaborBackbone parameters (n_orientations, scales, bandwidth).
    """

    def __init__(self, backbone: str = "gabor", weights=None, seed: int = 0, gabor_options=None):
        self.backbone = backbone
        self.gabor_options = dict(gabor_options or {})
        self._gabor = {}
        if backbone == "gabor":
            self.weights_statement = "fixed filters (no learned weights)"
            self.blocks = None
        elif backbone in VGG_NAMES:
            from cogmodels.backbones.timm_backbone import TimmBackbone
            from cogmodels.backbones.base import weights_statement

            timm_backbone = TimmBackbone(backbone, weights=weights, seed=seed)
            self.weights_statement = weights_statement(timm_backbone)
            pre = timm_backbone.preprocessing
            self.mean = torch.tensor(pre["mean"]).view(1, 3, 1, 1)
            self.std = torch.tensor(pre["std"]).view(1, 3, 1, 1)
            self.blocks = _vgg_blocks(timm_backbone.model)
        else:
            raise ConfigError(format_problem("search.backbone", f"'gabor' or a timm VGG ({', '.join(VGG_NAMES)})",
                                             repr(backbone), "use backbone=gabor offline or backbone=vgg16"))

    # -- block 0 and the rest --------------------------------------------------------------
    def _gabor_energy(self, image: np.ndarray, grid: int | None = None) -> torch.Tensor:
        """Complex-cell energy (1, C, grid, grid); grid defaults to the image side."""
        from cogmodels.backbones.gabor import GaborBackbone

        side = image.shape[0]
        grid = int(grid or side)
        if image.shape[0] != image.shape[1]:
            raise ConfigError(format_problem("search image", "a square image (the gabor pyramid)",
                                             f"shape {image.shape[:2]}", "pad the display to a square"))
        if (side, grid) not in self._gabor:
            options = {"n_orientations": 8, "scales": (4.0, 8.0, 16.0), **self.gabor_options}
            options["scales"] = tuple(s for s in options["scales"] if s <= side) or (min(options["scales"]),)
            self._gabor[side, grid] = GaborBackbone(layers=["complex"], image_size=side, pool=grid, **options)
        values = self._gabor[side, grid].extract_batch([image], ["complex"])["complex"].values
        return torch.from_numpy(values)

    def block(self, stage: int, x):
        """Block ``stage`` applied to x (stage 0 takes a uint8 (H, W, 3) image)."""
        if self.blocks is None:
            return self._gabor_energy(x) if stage == 0 else x
        if stage == 0:
            x = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float().div_(255.0)
            x = (x - self.mean) / self.std
        with torch.inference_mode():
            return self.blocks[stage](x)


def pool(x: torch.Tensor, windows: torch.Tensor | None, rf_min: int) -> torch.Tensor:
    """One pooling stage: plain TF-"same" rf_min pooling, or eccentricity-dependent with ``windows``."""
    if windows is None or bool((windows == windows.reshape(-1)[0]).all()):
        size = rf_min if windows is None else int(windows.reshape(-1)[0])
        return tf_same_avg_pool(x, size, 2)
    return ecc_avg_pool(x, windows, 2)


def _gabor_shortcut(pyramid: Pyramid, image, rf_min: int, stages: int):
    """Gabor energy average-pooled straight to the grid after ``stages`` (<= 2) plain pooling stages.

    The Gabor pyramid's blocks 1-4 are identities, so the plain pools 1-2 only
    average the energy: the bank's own area pooling to that grid gives the
    same maps (up to the border cells of odd sizes) without the full-resolution
    copies.  Returns None when it does not apply (VGG, rf_min != 2).
    """
    if pyramid.blocks is not None or rf_min != 2 or stages < 1:
        return None
    stages = min(stages, 2)
    grid = image.shape[0]
    for _ in range(stages):
        grid = -(-grid // 2)
    return pyramid._gabor_energy(image, grid), stages


def run(pyramid: Pyramid, x, first: int, windows_for, rf_min: int, keep=()) -> tuple[torch.Tensor, dict]:
    """Run pooling stages ``first``..4 (stage ``first``'s block already applied to ``x`` when first > 0).

    Parameters
    ----------
    x : image (first == 0) or the map entering pooling stage ``first``
    windows_for : callable (stage, out_shape) -> windows tensor or None
    keep : stage indices whose pooled outputs are returned

    Returns
    -------
    last map, {stage: pooled output} for the stages in ``keep``
    """
    kept = {}
    if first == 0:
        shortcut = _gabor_shortcut(pyramid, x, rf_min, min(keep, default=N_STAGES)) if all(
            windows_for(stage, (1, 1)) is None for stage in range(2)) else None
        x, first = shortcut if shortcut is not None else (pyramid.block(0, x), 0)
    for stage in range(first, N_STAGES):
        if stage > first:
            x = pyramid.block(stage, x)
        out_shape = (-(-x.shape[-2] // 2), -(-x.shape[-1] // 2))
        x = pool(x, windows_for(stage, out_shape), rf_min)
        if stage in keep:
            kept[stage] = x
    return x, kept


def early(pyramid: Pyramid, image: np.ndarray, until: int, rf_min: int) -> torch.Tensor:
    """The map entering pooling stage ``until`` (blocks 0..until and plain pooling stages 0..until-1)."""
    shortcut = _gabor_shortcut(pyramid, image, rf_min, until)
    x, done = shortcut if shortcut is not None else (pyramid.block(0, image), 0)
    for stage in range(done, until):
        x = pool(x, None, rf_min)
        x = pyramid.block(stage + 1, x)
    return x


def _vgg_blocks(model) -> list:
    """``model.features`` cut at its MaxPool2d layers: five Sequential blocks."""
    features = getattr(model, "features", None)
    if features is None:
        raise ConfigError(format_problem("search.backbone", "a VGG with a `features` Sequential",
                                         type(model).__name__, "use a timm VGG"))
    blocks, current = [], []
    for module in features:
        if isinstance(module, torch.nn.MaxPool2d):
            blocks.append(torch.nn.Sequential(*current).eval())
            current = []
        else:
            current.append(module)
    if len(blocks) != N_STAGES:
        raise ConfigError(format_problem("search.backbone", f"{N_STAGES} max-pooling stages", f"{len(blocks)}",
                                         "use a VGG"))
    return blocks
