"""Baseline searchers: chance (random item order) and pixel match (template matching on luminance).

Both use the shared winner-take-all loop with inhibition of return and the
stop rule of :class:`~cogmodels.search.base.SearchModel`; their priority maps
do not depend on the fixation.
"""

from __future__ import annotations

import hashlib

import numpy as np
from cogmodels.errors import ConfigError, format_problem
from cogmodels.search import SEARCH_MODELS
from cogmodels.search.base import SearchModel

_LUMA = np.array([0.299, 0.587, 0.114])


def trial_rng(seed: int, trial_id: str) -> np.random.Generator:
    """A generator seeded by the model seed and the trial id (same trial, same draws, in any order)."""
    digest = int.from_bytes(hashlib.sha1(str(trial_id).encode()).digest()[:8], "little")
    return np.random.default_rng([int(seed), digest])


@SEARCH_MODELS.register("chance", example={"max_fixations": 10})
class ChanceSearcher(SearchModel):
    """Chance: fixates the display's items in a random order (random pixels when the trial has no items).

    Each item gets a uniform random priority over its box (the background
    gets none), drawn from a generator seeded by ``seed`` and the trial id,
    so the order is random but reproducible.

    Parameters
    ----------
    seed : int
    max_fixations, ior, ior_size
        See :class:`~cogmodels.search.base.SearchModel`.
    """

    fixation_dependent = False

    def __init__(self, seed: int = 0, max_fixations: int = 80, ior: str = "object", ior_size=None):
        super().__init__(max_fixations=max_fixations, ior=ior, ior_size=ior_size)
        self.seed = seed

    def validate_params(self):
        super().validate_params()
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ConfigError(format_problem("search.seed", "an integer", repr(self.seed), "e.g. seed=0"))
        return self

    def _priority(self, trial, fixation):
        rng = trial_rng(self.seed, trial.id)
        height, width = trial.target_mask.shape
        if trial.item_boxes is None:
            return rng.random((height, width))
        priority = np.zeros((height, width))
        for (x0, y0, x1, y1), value in zip(trial.item_boxes.astype(int), rng.random(len(trial.item_boxes)) + 1.0):
            x0, y0 = max(x0, 0), max(y0, 0)
            # a shallow tent on top of the item's value: the winner is the item's centre, not its corner
            ty = 1.0 - np.abs(np.linspace(-1, 1, y1 - y0))
            tx = 1.0 - np.abs(np.linspace(-1, 1, x1 - x0))
            priority[y0:y1, x0:x1] = value + 1e-6 * np.minimum(ty[:, None], tx[None, :])
        return priority


@SEARCH_MODELS.register("pixel_match", example={"max_fixations": 10})
class PixelMatchSearcher(SearchModel):
    """Pixel match: normalised cross-correlation of the target image with the search image (luminance).

    The priority of a pixel is the Pearson correlation between the target
    image and the search-image window of the same size centred on it (zero
    where the window has no contrast), computed once per trial.

    Parameters
    ----------
    max_fixations, ior, ior_size
        See :class:`~cogmodels.search.base.SearchModel`.
    """

    fixation_dependent = False

    def __init__(self, max_fixations: int = 80, ior: str = "object", ior_size=None):
        super().__init__(max_fixations=max_fixations, ior=ior, ior_size=ior_size)

    def _priority(self, trial, fixation):
        return normalised_cross_correlation(_luminance(trial.search_image), _luminance(trial.target_image))


def _luminance(image: np.ndarray) -> np.ndarray:
    return image[..., :3].astype(np.float64) @ _LUMA / 255.0


def normalised_cross_correlation(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Pearson r of ``template`` (h, w) with every same-size window of ``image`` (H, W), "same" size output.

    Windows reaching past the border see zeros; windows with no variance get 0.
    """
    from scipy.signal import fftconvolve

    h, w = template.shape
    t = template - template.mean()
    t_norm = np.sqrt((t ** 2).sum())
    if t_norm == 0:
        return np.zeros_like(image)
    padded = np.pad(image, ((h // 2, h - 1 - h // 2), (w // 2, w - 1 - w // 2)))
    ones = np.ones((h, w))
    cross = fftconvolve(padded, (t / t_norm)[::-1, ::-1], mode="valid")
    total = fftconvolve(padded, ones, mode="valid")
    squares = fftconvolve(padded ** 2, ones, mode="valid")
    spread = np.sqrt(np.clip(squares - total ** 2 / (h * w), 0, None))
    return np.where(spread > 1e-6, cross / np.maximum(spread, 1e-6), 0.0)
