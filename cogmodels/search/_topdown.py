"""eccNET's top-down modulation: target features as kernels over search features, per layer, then combined.

For each top-down layer the target image's pooled feature map (C, h, w) is
used as one convolution kernel over the search image's map at the same layer
(zero padding, "same" size).  Each response map is min-max normalised to
[0, 1] and weighted: by its maximum before normalisation (``"max"``, the
original's default: layers whose features match the target strongly count
more) or equally (``"equal"``).  The maps are resized (bilinear) to the
first top-down layer's grid, averaged with the normalised weights, and
sharpened by a difference of Gaussians applied ``iterations`` times
(``m <- m + G(sigma_centre) * m - G(sigma_surround) * m``, as the original).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def match(search: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-correlation of a (1, C, H, W) search map with a (1, C, h, w) target map: (H, W), "same" size."""
    kh, kw = target.shape[-2:]
    padded = F.pad(search.float(), (kw // 2, kw - 1 - kw // 2, kh // 2, kh - 1 - kh // 2))
    with torch.inference_mode():
        return F.conv2d(padded, target.float())[0, 0].double()


def _gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of an (H, W) map, replicated borders."""
    if sigma <= 0:
        return x
    radius = max(int(math.ceil(3 * sigma)), 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-t ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    y = F.pad(x[None, None], (radius, radius, radius, radius), mode="replicate")
    y = F.conv2d(y, kernel.view(1, 1, 1, -1))
    return F.conv2d(y, kernel.view(1, 1, -1, 1))[0, 0]


def difference_of_gaussians(x: torch.Tensor, sigma_centre: float, sigma_surround: float,
                            iterations: int) -> torch.Tensor:
    for _ in range(iterations):
        x = x + _gaussian(x, sigma_centre) - _gaussian(x, sigma_surround)
    return x


def attention_map(search: dict, target: dict, layers, weighting: str = "max", dog=(1.0, 3.0, 3)) -> torch.Tensor:
    """The combined top-down map (see the module docstring) on the grid of ``layers[0]``.

    Parameters
    ----------
    search, target : dict stage -> tensor (1, C, H, W)
    layers : sequence of stage indices
    weighting : "max" or "equal"
    dog : (sigma_centre, sigma_surround, iterations), sigmas in cells of the first layer's grid

    Returns
    -------
    tensor of shape (H0, W0), float64
    """
    grid = search[layers[0]].shape[-2:]
    maps, weights = [], []
    for layer in layers:
        response = match(search[layer], target[layer])
        weights.append(float(response.max()) if weighting == "max" else 1.0)
        low, high = response.min(), response.max()
        response = (response - low) / (high - low) if high > low else torch.zeros_like(response)
        if response.shape != grid:
            response = F.interpolate(response[None, None], size=tuple(grid), mode="bilinear",
                                     align_corners=False)[0, 0]
        maps.append(response)
    weights = torch.tensor(weights, dtype=torch.float64).clamp(min=0)
    weights = weights / weights.sum() if weights.sum() > 0 else torch.full_like(weights, 1 / len(weights))
    combined = sum(w * m for w, m in zip(weights, maps))
    return difference_of_gaussians(combined, float(dog[0]), float(dog[1]), int(dog[2]))
