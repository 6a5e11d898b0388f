"""IVSN (Zhang et al., Nat. Commun. 2018): top-down target matching on the top layer, no eccentricity pooling.

The invariant visual search network is eccNET's predecessor: the target's
top-layer features (pool5 of VGG-16; the fifth pooling stage of the Gabor
pyramid offline) are convolved over the search image's, the response map is
smoothed by the same difference of Gaussians, and a winner-take-all with
inhibition of return moves the eye.  Pooling is rf_min everywhere, so the map
does not depend on the fixation and is computed once per trial.  It is
:class:`~cogmodels.search.eccnet.EccNetSearcher` with ``ecc_mode="none"`` and
one top-down layer.
"""

from __future__ import annotations

from cogmodels.search import SEARCH_MODELS
from cogmodels.search.eccnet import EccNetSearcher


@SEARCH_MODELS.register("ivsn", example={"backbone": "gabor", "max_fixations": 4, "px_per_deg": 30.0})
class IVSNSearcher(EccNetSearcher):
    """IVSN: target matching on the top layer only, no eccentricity-dependent pooling.

    Parameters
    ----------
    backbone, weights, seed, rf_min, dog_sigmas, dog_iterations, pad_px, px_per_deg, gabor_options,
    max_fixations, ior, ior_size
        As in :class:`~cogmodels.search.eccnet.EccNetSearcher`.
    layer : str
        The top-down layer (default "pool5").
    """

    def __init__(self, backbone: str = "vgg16", weights=None, seed: int = 0, rf_min: int = 2, layer: str = "pool5",
                 dog_sigmas=(1.0, 3.0), dog_iterations: int = 3, pad_px: int = 64, px_per_deg=None,
                 gabor_options=None, max_fixations: int = 80, ior: str = "object", ior_size=None):
        super().__init__(backbone=backbone, weights=weights, seed=seed, rf_min=rf_min, ecc_mode="none",
                         topdown_layers=(layer,), dog_sigmas=dog_sigmas, dog_iterations=dog_iterations,
                         pad_px=pad_px, px_per_deg=px_per_deg, gabor_options=gabor_options,
                         max_fixations=max_fixations, ior=ior, ior_size=ior_size)
        self.layer = layer
