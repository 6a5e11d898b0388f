"""eccNET (Gupta et al., NeurIPS 2021): eccentricity-dependent pooling, top-down target modulation, WTA + IOR.

One fixation step:

1. The search image, padded by ``pad_px`` of its background colour (the
   original's 64-px "corner bias"), runs through a five-stage pyramid
   (:mod:`cogmodels.search._pyramid`: VGG-16 by default, the fixed Gabor bank
   offline).  Pooling stage l averages over windows that grow with the
   distance from the current fixation: ``rf_min + slope_l * (e - fovea)``
   (:mod:`cogmodels.search.ecc_windows`; defaults rf_min 2, slopes (0, 0,
   0.07, 0.16, 0.32), fovea 4 deg), computed by the summed-area-table kernel
   :func:`cogmodels.kernels.ecc_pool.ecc_avg_pool`.
2. Everything before the first eccentricity-dependent stage (blocks 0..2 and
   pools 1-2 with the default slopes) does not depend on the fixation and is
   computed once per trial; only the later stages run per fixation.  (The
   original re-runs the whole network on a crop centred on each fixation; a
   convolution commutes with that shift up to the stride-4 grid of pool2, so
   the difference is a sub-cell offset of the later stages.)
3. Top-down modulation (:mod:`cogmodels.search._topdown`): the target image's
   pooled maps (plain pooling) are convolved over the search maps at
   ``topdown_layers`` (default pool3, pool4, pool5), normalised, weighted,
   combined and sharpened by a difference of Gaussians.
4. The map is resized to the padded image, cropped to the display, and the
   winner-take-all loop of :class:`~cogmodels.search.base.SearchModel` picks
   the next fixation, with inhibition of return applied to the map (the
   original also erases inhibited objects from the image and re-runs the
   network; here the image and its early features stay fixed).

Ring modes (``ecc_mode``):

- ``"faithful"`` (default): the released code's rings, drawn on each pool's
  *output* grid with its *input* map's px/deg (``round(30 / 2**l)``), so rings
  sit twice as far out in degrees as the formula says;
- ``"per_pixel"``: the formula at each output pixel's true eccentricity;
- ``"none"``: rf_min pooling everywhere ("eccNET without eccentricity
  pooling"): the map no longer depends on the fixation.

Pixels per degree come from the trial (``trial.px_per_deg``), or the
``px_per_deg`` parameter when the trial has none.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cogmodels.errors import ConfigError, format_problem
from cogmodels.search import SEARCH_MODELS
from cogmodels.search import _pyramid
from cogmodels.search._topdown import attention_map
from cogmodels.search.base import SearchModel, display_background
from cogmodels.search.ecc_windows import (FOVEA_DEG, RF_MIN, RF_QUANT_DEG, SLOPES, faithful_windows, layer_deg2px,
                                          per_pixel_windows)

LAYER_NAMES = tuple(f"pool{i + 1}" for i in range(_pyramid.N_STAGES))
ECC_MODES = ("faithful", "per_pixel", "none")
WEIGHTINGS = ("max", "equal")


@SEARCH_MODELS.register("eccnet", example={"backbone": "gabor", "max_fixations": 4, "px_per_deg": 30.0})
class EccNetSearcher(SearchModel):
    """eccNET: eccentricity-dependent pooling, top-down target modulation, winner-take-all with IOR.

    Parameters
    ----------
    backbone : str
        "vgg16" (timm; also vgg11/13/19 and _bn) or "gabor" (fixed filters, offline).
    weights : None, "hub" or path
        timm backbones: a local ImageNet checkpoint, the hub, or None (seeded random init).
    seed : int
        Seed of a random initialisation.
    rf_min : int
        Smallest pooling window (input pixels of each stage).
    slopes : sequence of 5 floats
        Window growth per stage (0 = plain pooling).
    fovea_deg : float
        Fovea (diameter, degrees) inside which windows stay at rf_min.
    rf_quant_deg : float
        Ring width (diameter, degrees) of the faithful rings.
    ecc_mode : "faithful", "per_pixel" or "none"
    topdown_layers : sequence of str
        Layers among pool1..pool5 whose target-matching maps are combined.
    layer_weighting : "max" or "equal"
    dog_sigmas : (centre, surround)
        Difference-of-Gaussians sigmas, in cells of the first top-down layer's grid.
    dog_iterations : int
    pad_px : int
        Background margin around the display (pixels).
    px_per_deg : float, optional
        Used when a trial has no px_per_deg.
    gabor_options : dict, optional
        GaborBackbone parameters for backbone="gabor".
    max_fixations, ior, ior_size
        See :class:`~cogmodels.search.base.SearchModel`.
    """

    def __init__(self, backbone: str = "vgg16", weights=None, seed: int = 0, rf_min: int = RF_MIN,
                 slopes=SLOPES, fovea_deg: float = FOVEA_DEG, rf_quant_deg: float = RF_QUANT_DEG,
                 ecc_mode: str = "faithful", topdown_layers=("pool3", "pool4", "pool5"), layer_weighting: str = "max",
                 dog_sigmas=(1.0, 3.0), dog_iterations: int = 3, pad_px: int = 64, px_per_deg=None,
                 gabor_options=None, max_fixations: int = 80, ior: str = "object", ior_size=None):
        super().__init__(max_fixations=max_fixations, ior=ior, ior_size=ior_size)
        self.backbone = backbone
        self.weights = weights
        self.seed = seed
        self.rf_min = rf_min
        self.slopes = slopes
        self.fovea_deg = fovea_deg
        self.rf_quant_deg = rf_quant_deg
        self.ecc_mode = ecc_mode
        self.topdown_layers = topdown_layers
        self.layer_weighting = layer_weighting
        self.dog_sigmas = dog_sigmas
        self.dog_iterations = dog_iterations
        self.pad_px = pad_px
        self.px_per_deg = px_per_deg
        self.gabor_options = gabor_options

    # -- parameters ---------------------------------------------------------------------------
    def validate_params(self):
        super().validate_params()
        slopes = list(self.slopes) if isinstance(self.slopes, (list, tuple)) else None
        if slopes is None or len(slopes) != _pyramid.N_STAGES or not all(
                isinstance(s, (int, float)) and not isinstance(s, bool) and np.isfinite(s) and s >= 0 for s in slopes):
            raise ConfigError(format_problem("search.slopes", f"{_pyramid.N_STAGES} finite numbers >= 0, one per "
                                             "pooling stage", repr(self.slopes), "use slopes=[0, 0, 0.07, 0.16, 0.32]"))
        if isinstance(self.rf_min, bool) or not isinstance(self.rf_min, int) or self.rf_min < 1:
            raise ConfigError(format_problem("search.rf_min", "an integer >= 1", repr(self.rf_min), "use rf_min=2"))
        for name in ("fovea_deg", "rf_quant_deg"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                    or (name == "fovea_deg" and value < 0):
                raise ConfigError(format_problem(f"search.{name}", "a positive number of degrees", repr(value),
                                                 f"use {name}={FOVEA_DEG if name == 'fovea_deg' else RF_QUANT_DEG}"))
        if self.ecc_mode not in ECC_MODES:
            raise ConfigError(format_problem("search.ecc_mode", f"one of {ECC_MODES}", repr(self.ecc_mode),
                                             "use ecc_mode=faithful"))
        layers = [self.topdown_layers] if isinstance(self.topdown_layers, str) else list(self.topdown_layers or [])
        if not layers or any(layer not in LAYER_NAMES for layer in layers):
            raise ConfigError(format_problem("search.topdown_layers", f"a non-empty subset of {LAYER_NAMES}",
                                             repr(self.topdown_layers), "use topdown_layers=[pool3, pool4, pool5]"))
        if self.layer_weighting not in WEIGHTINGS:
            raise ConfigError(format_problem("search.layer_weighting", f"one of {WEIGHTINGS}",
                                             repr(self.layer_weighting), "use layer_weighting=max"))
        sigmas = list(self.dog_sigmas) if isinstance(self.dog_sigmas, (list, tuple)) else []
        if len(sigmas) != 2 or not all(isinstance(s, (int, float)) and s >= 0 for s in sigmas):
            raise ConfigError(format_problem("search.dog_sigmas", "(centre, surround) sigmas >= 0",
                                             repr(self.dog_sigmas), "use dog_sigmas=[1.0, 3.0]"))
        for name in ("dog_iterations", "pad_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(format_problem(f"search.{name}", "an integer >= 0", repr(value),
                                                 f"use the default {name}"))
        if self.px_per_deg is not None and not (isinstance(self.px_per_deg, (int, float)) and self.px_per_deg > 0):
            raise ConfigError(format_problem("search.px_per_deg", "null or a positive number", repr(self.px_per_deg),
                                             "use px_per_deg=null (read from the trial)"))
        if self.backbone != "gabor" and self.backbone not in _pyramid.VGG_NAMES:
            raise ConfigError(format_problem("search.backbone", f"'gabor' or one of {_pyramid.VGG_NAMES}",
                                             repr(self.backbone), "use backbone=gabor offline, vgg16 with weights"))
        return self

    # -- geometry ---------------------------------------------------------------------------------
    @property
    def stage_slopes(self) -> list[float]:
        return [0.0] * _pyramid.N_STAGES if self.ecc_mode == "none" else [float(s) for s in self.slopes]

    @property
    def first_ecc_stage(self) -> int:
        """First pooling stage whose windows depend on the fixation (N_STAGES when none does)."""
        return next((i for i, s in enumerate(self.stage_slopes) if s > 0), _pyramid.N_STAGES)

    @property
    def fixation_dependent(self) -> bool:  # noqa: D102 (see SearchModel)
        return self.first_ecc_stage < _pyramid.N_STAGES

    def windows(self, stage: int, out_shape, fixation, px_per_deg: float):
        """Windows of pooling ``stage`` (output grid ``out_shape``) for a fixation (x, y) in padded pixels."""
        slope = self.stage_slopes[stage]
        if slope <= 0:
            return None
        scale = 2 ** (stage + 1)  # input pixels per output pixel of this stage
        x, y = fixation
        if self.ecc_mode == "faithful":
            centre = (int(np.clip(round(y / scale), 0, out_shape[0] - 1)),
                      int(np.clip(round(x / scale), 0, out_shape[1] - 1)))
            return faithful_windows(out_shape, centre, layer_deg2px(px_per_deg, stage), self.rf_min, slope,
                                    self.fovea_deg, self.rf_quant_deg, ring_size=2 * max(out_shape))
        centre = ((y + 0.5) / scale - 0.5, (x + 0.5) / scale - 0.5)
        return per_pixel_windows(out_shape, centre, px_per_deg / 2 ** stage, 2, self.rf_min, slope, self.fovea_deg)

    # -- per trial ---------------------------------------------------------------------------------
    def _pyramid(self) -> _pyramid.Pyramid:
        if getattr(self, "_pyramid_", None) is None:
            self._pyramid_ = _pyramid.Pyramid(self.backbone, self.weights, self.seed, self.gabor_options)
        return self._pyramid_

    @property
    def weights_statement(self) -> str:
        return self._pyramid().weights_statement

    def _layers(self) -> list[int]:
        layers = [self.topdown_layers] if isinstance(self.topdown_layers, str) else list(self.topdown_layers)
        return [LAYER_NAMES.index(layer) for layer in layers]

    def _prepare(self, trial):
        px_per_deg = trial.px_per_deg or self.px_per_deg
        if px_per_deg is None:
            raise ConfigError(format_problem(f"trial {trial.id}: px_per_deg", "pixels per degree (trial or "
                                             "search.px_per_deg)", "none", "set search.px_per_deg"))
        pyramid, layers = self._pyramid(), self._layers()
        background = display_background(trial.search_image)
        pad = self.pad_px
        padded = np.empty((trial.search_image.shape[0] + 2 * pad, trial.search_image.shape[1] + 2 * pad, 3), np.uint8)
        padded[:] = background
        padded[pad:pad + trial.search_image.shape[0], pad:pad + trial.search_image.shape[1]] = trial.search_image
        _, target = _pyramid.run(pyramid, _at_least(trial.target_image, _longest_wavelength(self.gabor_options)), 0, lambda stage, shape: None,
                                 self.rf_min, keep=layers)
        first = self.first_ecc_stage
        state = {"trial": trial, "px_per_deg": float(px_per_deg), "target": target, "layers": layers,
                 "padded_shape": padded.shape[:2]}
        if first < _pyramid.N_STAGES:
            state["early"] = _pyramid.early(pyramid, padded, first, self.rf_min)
            state["first"] = first
        else:
            _, state["search"] = _pyramid.run(pyramid, padded, 0, lambda stage, shape: None, self.rf_min,
                                              keep=layers)
        return state

    def _priority(self, state, fixation):
        trial, pad = state["trial"], self.pad_px
        if "early" in state:
            here = (fixation[0] + pad, fixation[1] + pad)
            _, search = _pyramid.run(self._pyramid(), state["early"], state["first"],
                                     lambda stage, shape: self.windows(stage, shape, here, state["px_per_deg"]),
                                     self.rf_min, keep=state["layers"])
        else:
            search = state["search"]
        combined = attention_map(search, state["target"], state["layers"], self.layer_weighting,
                                 (*self.dog_sigmas, self.dog_iterations))
        full = F.interpolate(combined[None, None], size=tuple(state["padded_shape"]), mode="bilinear",
                             align_corners=False)[0, 0]
        height, width = trial.target_mask.shape
        crop = full[pad:pad + height, pad:pad + width]
        return (crop - crop.min()).numpy()


def _longest_wavelength(gabor_options) -> int:
    """Longest Gabor wavelength (px): the smallest image the bank filters with every scale."""
    scales = (gabor_options or {}).get("scales", (4.0, 8.0, 16.0))
    return int(np.ceil(max(scales)))


def _at_least(image: np.ndarray, side: int) -> np.ndarray:
    """Pad a small (target) image with its background colour to at least ``side`` px per axis, centred.

    The Gabor bank needs images at least as large as its longest wavelength (16 px), and the target
    and the display must get the same channels.
    """
    height, width = image.shape[:2]
    if height >= side and width >= side:
        return image
    out = np.empty((max(height, side), max(width, side), 3), np.uint8)
    out[:] = display_background(image)
    top, left = (out.shape[0] - height) // 2, (out.shape[1] - width) // 2
    out[top:top + height, left:left + width] = image
    return out
