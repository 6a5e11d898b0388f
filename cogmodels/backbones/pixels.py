"""Grayscale pixels as features: the baseline every learned or hand-built backbone should beat.

Each image is converted to luminance (Rec. 601 luma, in [0, 1]) and resized as a whole (no crop)
to ``image_size`` x ``image_size`` with antialiased bilinear interpolation, the preprocessing of the
:mod:`gabor <cogmodels.backbones.gabor>` backbone.  The single layer ``"pixels"`` is that image,
shape (n_stimuli, 1, image_size, image_size); a linear encoder on it (``flatten()`` gives
(n_stimuli, image_size ** 2)) is the "ridge on 28x28 grayscale pixels" reference of V4 encoding.
There are no weights and no randomness.
"""

from __future__ import annotations

import numpy as np

from cogmodels.backbones import BACKBONES
from cogmodels.backbones.base import Backbone, FeatureMap
from cogmodels.backbones.gabor import luminance_images
from cogmodels.errors import ConfigError, format_problem

LAYERS = ("pixels",)


@BACKBONES.register("pixels", example={"image_size": 8},
                    description="Grayscale pixels resized to image_size x image_size (default 28); no weights")
class PixelsBackbone(Backbone):
    """Grayscale pixels, resized, as one spatial layer "pixels" (see the module docstring).

    Parameters
    ----------
    layers : list of str, optional
        ["pixels"] (the default; the only layer).
    weights : None or "fixed"
        There are no weights; anything else raises ConfigError.
    seed : int
        Accepted for a uniform backbone API; nothing is random.
    image_size : int
        Side of the square grayscale image, pixels (default 28).
    """

    name = "pixels"

    def __init__(self, layers=None, weights=None, seed: int = 0, image_size: int = 28):
        if weights not in (None, "fixed"):
            raise ConfigError(format_problem("backbone.weights (pixels)", "None or 'fixed' (pixels have no weights)",
                                             repr(weights), "drop backbone.weights for the pixels backbone"))
        if isinstance(image_size, bool) or not isinstance(image_size, (int, float, np.integer, np.floating)) \
                or not float(image_size).is_integer() or int(image_size) < 1:
            raise ConfigError(format_problem("backbone.image_size (pixels)", "an integer >= 1", repr(image_size),
                                             "set image_size to the side of the resized image, e.g. 28"))
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.weights_hash = "fixed"
        self.preprocessing = {"input_size": [self.image_size, self.image_size], "colour": "Rec.601 luma in [0, 1]",
                              "resize": "whole image, bilinear with antialiasing", "crop": "none"}
        self.layers = self._check_layers(layers if layers is not None else list(LAYERS))

    def available_layers(self) -> list[str]:
        return list(LAYERS)

    def _check_layers(self, layers) -> list[str]:
        layers = [layers] if isinstance(layers, str) else list(layers)
        unknown = [layer for layer in layers if layer not in LAYERS]
        if unknown or not layers:
            raise ConfigError(format_problem("backbone.layers (pixels)", f"a subset of {list(LAYERS)}",
                                             repr(unknown or layers), "use layers=['pixels']"))
        return layers

    def extract_batch(self, images, layers) -> dict[str, FeatureMap]:
        """Luminance of uint8 (H, W, 3) images, resized: {"pixels": spatial map (n, 1, image_size, image_size)}."""
        layers = self._check_layers(layers)
        values = luminance_images(images, self.image_size).numpy().astype(np.float32, copy=False)
        return {layer: FeatureMap(values, "spatial") for layer in layers}
