"""Foveation: eccentricity-dependent blur around a fixation point.

The method of Geisler & Perry (1998, "A real-time foveated multiresolution
system for low-bandwidth video communication"): build a Gaussian pyramid of
the image, and at every pixel blend the two pyramid levels whose resolution
brackets the highest spatial frequency visible at that pixel's eccentricity.
That cutoff follows the contrast-threshold model

    f_c(e) = e2 * ln(1 / CT0) / (alpha * (e + e2))        [cycles / degree]

with e the eccentricity in degrees, e2 = 2.3 deg, alpha = 0.106 and
CT0 = 1/64 (their fits to human contrast thresholds).  Pyramid level k keeps
frequencies up to about 0.5 / 2**k cycles per pixel, so the pixel's level is
log2(0.5 / f_c(e) * px_per_deg), clipped to the pyramid.

Everything is torch and differentiable in the image and in the fixation (the
blend weights are piecewise linear in the level), which is what gradient-based
fixation search needs (NeVA / NevaClip).  numpy uint8 images are accepted too.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from cogmodels.errors import ConfigError, ShapeError, format_problem

#: Geisler & Perry (1998) contrast-threshold parameters.
E2_DEG = 2.3
ALPHA = 0.106
CONTRAST_THRESHOLD = 1 / 64
_BINOMIAL = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)  # Burt & Adelson's 5-tap pyramid filter


def cutoff_frequency(eccentricity_deg, e2: float = E2_DEG, alpha: float = ALPHA,
                     contrast_threshold: float = CONTRAST_THRESHOLD):
    """Highest visible spatial frequency (cycles/degree) at an eccentricity (degrees)."""
    return e2 * math.log(1 / contrast_threshold) / (alpha * (eccentricity_deg + e2))


def gaussian_pyramid(images: torch.Tensor, n_levels: int) -> list[torch.Tensor]:
    """Gaussian pyramid, every level upsampled back to full resolution.

    Parameters
    ----------
    images : tensor of shape (n, c, H, W)
    n_levels : int
        Level 0 is the image itself; level k is blurred and subsampled k times.

    Returns
    -------
    levels : list of n_levels tensors of shape (n, c, H, W)
    """
    height, width = images.shape[-2:]
    kernel = torch.tensor(_BINOMIAL, dtype=images.dtype, device=images.device)
    channels = images.shape[1]
    rows = kernel.view(1, 1, 1, 5).expand(channels, 1, 1, 5)
    cols = kernel.view(1, 1, 5, 1).expand(channels, 1, 5, 1)
    levels, current = [images], images
    for _ in range(1, n_levels):
        mode = "reflect" if min(current.shape[-2:]) > 2 else "replicate"
        blurred = F.conv2d(F.pad(current, (2, 2, 0, 0), mode=mode), rows, groups=channels)
        blurred = F.conv2d(F.pad(blurred, (0, 0, 2, 2), mode=mode), cols, groups=channels)
        current = blurred[..., ::2, ::2]
        levels.append(F.interpolate(current, size=(height, width), mode="bilinear", align_corners=False))
    return levels


def default_n_levels(height: int, width: int, max_levels: int = 7) -> int:
    """Levels until the coarsest is about 4 pixels on its short side (at most ``max_levels``)."""
    return int(max(1, min(max_levels, math.floor(math.log2(max(min(height, width), 4) / 4)) + 1)))


def blur_level_map(shape, fixation_xy: torch.Tensor, px_per_deg: float, n_levels: int,
                   e2: float = E2_DEG, alpha: float = ALPHA,
                   contrast_threshold: float = CONTRAST_THRESHOLD) -> torch.Tensor:
    """Continuous pyramid level of each pixel for each fixation.

    Parameters
    ----------
    shape : (H, W)
    fixation_xy : tensor of shape (n, 2)
        Fixations in pixels, origin top-left; pixel (row i, column j) is at (x, y) = (j, i).
    px_per_deg : float
    n_levels : int

    Returns
    -------
    level : tensor of shape (n, H, W), in [0, n_levels - 1]; 0 is full resolution.
    """
    height, width = shape
    y = torch.arange(height, dtype=fixation_xy.dtype, device=fixation_xy.device).view(1, -1, 1)
    x = torch.arange(width, dtype=fixation_xy.dtype, device=fixation_xy.device).view(1, 1, -1)
    dx = x - fixation_xy[:, 0].view(-1, 1, 1)
    dy = y - fixation_xy[:, 1].view(-1, 1, 1)
    eccentricity = torch.sqrt(dx ** 2 + dy ** 2 + 1e-6) / px_per_deg  # eps: finite gradient at the fixation
    cutoff_cycles_per_px = cutoff_frequency(eccentricity, e2, alpha, contrast_threshold) / px_per_deg
    return torch.log2(0.5 / cutoff_cycles_per_px).clamp(0, n_levels - 1)


def foveate(image, fixation_xy, px_per_deg: float | None = None, n_levels: int | None = None, e2: float = E2_DEG,
            alpha: float = ALPHA, contrast_threshold: float = CONTRAST_THRESHOLD, *, geometry=None):
    """Blur an image as seen while fixating ``fixation_xy`` (Geisler & Perry 1998).

    Parameters
    ----------
    image : uint8 array of shape (H, W, 3), or float tensor of shape (c, H, W) or (n, c, H, W)
    fixation_xy : array or tensor of shape (2,) or (n, 2)
        (x, y) in pixels, origin top-left.  With a batch of images, one
        fixation per image or one for all; with one image, several fixations
        give one output each.
    px_per_deg : float, optional
        Pixels per degree of visual angle of the display; default
        ``geometry.px_per_deg``.  One of the two is required (there is no
        default display): ConfigError otherwise.
    n_levels : int, optional
        Pyramid levels; default :func:`default_n_levels`.
    e2, alpha, contrast_threshold : float
        Parameters of :func:`cutoff_frequency`; a smaller ``e2`` or larger
        ``alpha`` blurs the periphery more.
    geometry : ScreenGeometry, optional
        The data's screen (e.g. ``fixations.geometry``), read when ``px_per_deg`` is None.

    Returns
    -------
    foveated : same type as ``image``
        uint8 (H, W, 3) (or (n, H, W, 3) for several fixations) for a numpy
        image; a tensor of shape (n, c, H, W) (or (c, H, W)) for a tensor,
        differentiable in the image and the fixation.
    """
    as_numpy = isinstance(image, np.ndarray)
    images, single = _as_batch(image)
    fixations = torch.as_tensor(fixation_xy, dtype=images.dtype, device=images.device)
    if fixations.ndim == 1:
        fixations = fixations[None]
    if fixations.ndim != 2 or fixations.shape[1] != 2 or images.shape[0] not in (1, fixations.shape[0]):
        raise ShapeError(format_problem("foveate fixation_xy", f"shape (2,) or (n, 2) with n = {images.shape[0]} "
                                        "images (or one image)", f"shape {tuple(fixations.shape)}",
                                        "pass one (x, y) per image"))
    if px_per_deg is None or geometry is not None:
        from cogmodels.data.geometry import resolve_px_per_deg

        px_per_deg = resolve_px_per_deg(px_per_deg, geometry, "foveate px_per_deg")
    if not px_per_deg > 0:
        raise ConfigError(format_problem("foveate px_per_deg", "a positive number of pixels per degree",
                                         repr(px_per_deg), "measure it from the screen geometry"))
    height, width = images.shape[-2:]
    n_levels = default_n_levels(height, width) if n_levels is None else int(n_levels)
    levels = gaussian_pyramid(images, n_levels)
    level = blur_level_map((height, width), fixations, px_per_deg, n_levels, e2, alpha, contrast_threshold)
    out = 0
    for k, blurred in enumerate(levels):
        weight = (1 - (level - k).abs()).clamp(min=0)  # linear blend of the two bracketing levels
        out = out + weight[:, None] * blurred
    if as_numpy:
        out = out.detach().round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        return out[0] if out.shape[0] == 1 else out
    return out[0] if single and out.shape[0] == 1 else out


def _as_batch(image) -> tuple[torch.Tensor, bool]:
    """(n, c, H, W) float tensor from a uint8 (H, W, 3) array or a (c, H, W) / (n, c, H, W) tensor."""
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ShapeError(format_problem("foveate image", "a uint8 array of shape (H, W, 3)",
                                            f"shape {image.shape}", "convert the image to RGB"))
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float(), True
    if not isinstance(image, torch.Tensor) or image.ndim not in (3, 4) or not image.is_floating_point():
        found = f"{type(image).__name__} of shape {tuple(getattr(image, 'shape', ()))}"
        raise ShapeError(format_problem("foveate image", "a float tensor (c, H, W) / (n, c, H, W) "
                                        "or a uint8 array (H, W, 3)", found, "convert the image"))
    return (image[None], True) if image.ndim == 3 else (image, False)
