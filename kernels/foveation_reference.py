"""Readable reference of :func:`cogmodels.kernels.foveation.neva_foveate`: one image and one fovea at a time.

For image i and candidate k it builds the full 2D Gaussian kernel of the blur
(not separable), the fovea Gaussian from the explicit distance of every pixel
centre to the fovea, and blends::

    out[i, k] = x + (blur(x) - x) * clip(1 - (memory[i, k] + g), 0, 1)

The tests check that the batched kernel agrees with it to 1e-6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cogmodels.kernels.foveation import NEVA_BLUR_SIGMA, NEVA_BLUR_SIZE, check_sigma


def gaussian_blur_reference(image: torch.Tensor, sigma: float = NEVA_BLUR_SIGMA,
                            size: int = NEVA_BLUR_SIZE) -> torch.Tensor:
    """Blur one (C, H, W) image with a full size x size Gaussian kernel, reflected (or replicated) borders."""
    half = size // 2
    t = torch.arange(-half, half + 1, dtype=image.dtype)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    kernel = torch.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    channels, height, width = image.shape
    mode = "reflect" if half < min(height, width) else "replicate"
    padded = F.pad(image[None], (half, half, half, half), mode=mode)
    weight = kernel[None, None].repeat(channels, 1, 1, 1)
    return F.conv2d(padded, weight, groups=channels)[0]


def fovea_gaussian_reference(fovea_xy, height: int, width: int, sigma: float) -> torch.Tensor:
    """exp(-d^2 / (2 sigma^2)) with d the distance of each pixel centre (in [-1, 1] units) to the fovea; (H, W)."""
    sigma = check_sigma(sigma)
    out = torch.zeros(height, width, dtype=fovea_xy.dtype)
    for i in range(height):
        for j in range(width):
            x, y = (2 * j + 1) / width - 1, (2 * i + 1) / height - 1
            d2 = (x - fovea_xy[0]) ** 2 + (y - fovea_xy[1]) ** 2
            out[i, j] = torch.exp(-d2 / (2 * sigma ** 2))
    return out


def neva_foveate_reference(images: torch.Tensor, fovea: torch.Tensor, sigma: float,
                           memory: torch.Tensor | None = None, blur_sigma: float = NEVA_BLUR_SIGMA,
                           blur_size: int = NEVA_BLUR_SIZE) -> torch.Tensor:
    """Uniform-blur NeVA foveation, looping over images and candidates; shapes as in ``neva_foveate``.

    images (n, C, H, W), fovea (n, K, 2), memory (n, K, H, W) or None -> (n, K, C, H, W).
    """
    n, k = fovea.shape[:2]
    height, width = images.shape[-2:]
    out = []
    for i in range(n):
        x = images[i]
        residual = gaussian_blur_reference(x, blur_sigma, blur_size) - x
        per_candidate = []
        for j in range(k):
            g = fovea_gaussian_reference(fovea[i, j], height, width, sigma)
            total = g if memory is None else memory[i, j] + g
            mask = torch.clamp(1 - total, 0, 1)
            per_candidate.append(x + residual * mask)
        out.append(torch.stack(per_candidate))
    return torch.stack(out)
