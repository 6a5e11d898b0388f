"""NeVA foveation: a blur residual gated by a Gaussian fovea and a memory of past fixations.

The foveated image of NeVA (Schwinn et al. 2022) and NevaClip (Zanca et al. 2023) is::

    out = x + (blur(x) - x) * clip(1 - (memory + g), 0, 1)

with ``g`` a Gaussian of the distance from the fovea (peak 1, sigma ``sigma``),
``memory`` the decayed sum of the Gaussians of past fixations (see
:func:`update_memory`), and ``blur`` either

- ``"uniform"`` (the original): a Gaussian blur of the whole image, a
  ``size`` x ``size`` kernel of std ``blur_sigma`` pixels (41 px, sigma 10 on
  the original 224-px input), independent of the fovea, computed once per image
  by :func:`gaussian_blur`; or
- ``"eccentricity"``: blur that grows with eccentricity around the fovea, the
  Geisler & Perry (1998) pyramid of :func:`cogmodels.backbones.foveation.foveate`
  (:func:`eccentricity_blur`), differentiable in the fovea too.

Coordinates.  Fovea positions are (x, y) in [-1, 1] (``align_corners=False``:
pixel column j of W has its centre at x = (2 j + 1) / W - 1; -1 and 1 are the
image's outer edges), the coordinates of the NeVA search.  ``sigma`` is in the
same units along each axis.

Batching.  ``images`` (n, C, H, W) and ``fovea`` (n, K, 2): K candidate
positions per image, output (n, K, C, H, W).  The fovea Gaussian is separable
(outer product of a row and a column profile), so it costs O(K (H + W)) besides
the broadcast blend.  Everything is differentiable in the images, the fovea
position and the memory (the clip has zero gradient where it saturates).
The readable reference is :mod:`cogmodels.kernels.foveation_reference`; the
tests check that the two agree to 1e-6 and run ``gradcheck`` on the fovea.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cogmodels.errors import ConfigError, ShapeError, format_problem

#: The original NeVA blur: a 41 x 41 Gaussian kernel with sigma 10 pixels (on 224-px images).
NEVA_BLUR_SIZE = 41
NEVA_BLUR_SIGMA = 10.0
BLURS = ("uniform", "eccentricity")


def check_sigma(sigma, field: str = "fovea sigma") -> float:
    """A positive, finite fovea sigma, else ConfigError naming ``field``."""
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(format_problem(field, "a positive number (in [-1, 1] image coordinates)", repr(sigma),
                                         "use e.g. 0.15 (about 7 % of the image side)"))
    return value


def gaussian_kernel1d(sigma: float, size: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """Normalised 1D Gaussian of ``size`` taps (odd) and std ``sigma`` taps; shape (size,)."""
    if int(size) < 1 or int(size) % 2 == 0:
        raise ConfigError(format_problem("blur size", "an odd number of pixels >= 1", repr(size),
                                         f"use {NEVA_BLUR_SIZE} (the original)"))
    check_sigma(sigma, "blur sigma")
    half = int(size) // 2
    t = torch.arange(-half, half + 1, dtype=dtype, device=device)
    kernel = torch.exp(-t ** 2 / (2 * float(sigma) ** 2))
    return kernel / kernel.sum()


def _pad_mode(pad: int, height: int, width: int) -> str:
    return "reflect" if pad < min(height, width) else "replicate"


def gaussian_blur(images: torch.Tensor, sigma: float = NEVA_BLUR_SIGMA, size: int = NEVA_BLUR_SIZE) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders (replicated when the image is smaller than the kernel).

    Parameters
    ----------
    images : float tensor of shape (n, C, H, W)
    sigma : float
        Kernel std in pixels.
    size : int
        Odd kernel width in pixels.

    Returns
    -------
    tensor of shape (n, C, H, W)
    """
    _check_images(images)
    channels, (height, width) = images.shape[1], images.shape[-2:]
    kernel = gaussian_kernel1d(sigma, size, images.dtype, images.device)
    pad = int(size) // 2
    mode = _pad_mode(pad, height, width)
    rows = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    cols = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    out = F.conv2d(F.pad(images, (pad, pad, 0, 0), mode=mode), rows, groups=channels)
    return F.conv2d(F.pad(out, (0, 0, pad, pad), mode=mode), cols, groups=channels)


def pixel_centres(n: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """Centres of n pixels in [-1, 1] coordinates (align_corners=False); shape (n,)."""
    return (2 * torch.arange(n, dtype=dtype, device=device) + 1) / n - 1


def fovea_gaussian(fovea: torch.Tensor, height: int, width: int, sigma: float) -> torch.Tensor:
    """Gaussian windows ``g`` (peak 1) around each fovea position.

    Parameters
    ----------
    fovea : tensor of shape (..., 2)
        (x, y) in [-1, 1].
    height, width : int
    sigma : float
        Std in [-1, 1] units.

    Returns
    -------
    tensor of shape (..., H, W)
    """
    sigma = check_sigma(sigma)
    xs = pixel_centres(width, fovea.dtype, fovea.device)
    ys = pixel_centres(height, fovea.dtype, fovea.device)
    gx = torch.exp(-(xs - fovea[..., 0:1]) ** 2 / (2 * sigma ** 2))  # (..., W)
    gy = torch.exp(-(ys - fovea[..., 1:2]) ** 2 / (2 * sigma ** 2))  # (..., H)
    return gy[..., :, None] * gx[..., None, :]


def update_memory(memory: torch.Tensor | None, fovea: torch.Tensor, height: int, width: int, sigma: float,
                  forgetting: float) -> torch.Tensor:
    """Memory after a fixation: ``(1 - forgetting) * memory + g(fovea)``.

    Parameters
    ----------
    memory : tensor of shape (..., H, W) or None (no fixation yet)
    fovea : tensor of shape (..., 2)
    forgetting : float in [0, 1]
        Fraction of the memory lost at each new fixation (0: remember everything, 1: only the last one).

    Returns
    -------
    tensor of shape (..., H, W)
    """
    if not 0.0 <= float(forgetting) <= 1.0:
        raise ConfigError(format_problem("forgetting", "a fraction in [0, 1]", repr(forgetting), "use e.g. 0.1"))
    g = fovea_gaussian(fovea, height, width, sigma)
    return g if memory is None else (1 - float(forgetting)) * memory + g


def eccentricity_blur(images: torch.Tensor, fovea: torch.Tensor, px_per_deg: float, **options) -> torch.Tensor:
    """Geisler & Perry (1998) blur that grows with eccentricity from each fovea.

    Parameters
    ----------
    images : float tensor of shape (n, C, H, W)
    fovea : tensor of shape (n, K, 2), (x, y) in [-1, 1]
    px_per_deg : float
        Pixels per degree of the (n, C, H, W) images as shown (scale the display's value by H / original height).
    **options
        Passed to :func:`cogmodels.backbones.foveation.foveate` (n_levels, e2, alpha, contrast_threshold).

    Returns
    -------
    tensor of shape (n, K, C, H, W), differentiable in ``fovea``
    """
    from cogmodels.backbones.foveation import foveate

    n, k = fovea.shape[:2]
    height, width = images.shape[-2:]
    scale = torch.tensor([width, height], dtype=fovea.dtype, device=fovea.device)
    pixels = (fovea + 1) / 2 * scale - 0.5  # pixel (row i, column j) sits at (x, y) = (j, i)
    repeated = images[:, None].expand(n, k, *images.shape[1:]).reshape(n * k, *images.shape[1:])
    out = foveate(repeated, pixels.reshape(n * k, 2), px_per_deg=px_per_deg, **options)
    return out.reshape(n, k, *images.shape[1:])


def neva_foveate(images: torch.Tensor, fovea: torch.Tensor, sigma: float, memory: torch.Tensor | None = None,
                 blurred: torch.Tensor | None = None, blur: str = "uniform", blur_sigma: float = NEVA_BLUR_SIGMA,
                 blur_size: int = NEVA_BLUR_SIZE, px_per_deg: float | None = None) -> torch.Tensor:
    """NeVA foveation of n images at K fovea positions each: ``x + (blur(x) - x) * clip(1 - (memory + g), 0, 1)``.

    Parameters
    ----------
    images : float tensor of shape (n, C, H, W)
    fovea : tensor of shape (n, K, 2)
        (x, y) in [-1, 1]; the output is differentiable with respect to it.
    sigma : float
        Std of the fovea Gaussian, [-1, 1] units; ConfigError when <= 0.
    memory : tensor of shape (n, K, H, W), (n, 1, H, W) or (n, H, W), optional
        Memory of past fixations (:func:`update_memory`); None: no past fixation.
    blurred : tensor of shape (n, C, H, W) or (n, K, C, H, W), optional
        Precomputed ``blur(x)`` (e.g. :func:`gaussian_blur` once per image); default: computed here.
    blur : "uniform" or "eccentricity"
        How ``blur(x)`` is computed when ``blurred`` is None (see the module docstring).
    blur_sigma, blur_size : float, int
        The uniform blur's kernel (pixels).
    px_per_deg : float, optional
        Needed by the eccentricity blur (pixels per degree of these images).

    Returns
    -------
    tensor of shape (n, K, C, H, W)
    """
    _check_images(images)
    n, channels, height, width = images.shape
    if fovea.ndim != 3 or fovea.shape[0] != n or fovea.shape[2] != 2:
        raise ShapeError(format_problem("neva_foveate fovea", f"shape (n={n}, K, 2)", f"shape {tuple(fovea.shape)}",
                                        "pass K (x, y) positions in [-1, 1] per image"))
    if blurred is None:
        if blur == "uniform":
            blurred = gaussian_blur(images, blur_sigma, blur_size)
        elif blur == "eccentricity":
            if px_per_deg is None:
                raise ConfigError(format_problem("neva_foveate px_per_deg", "pixels per degree for blur='eccentricity'",
                                                 "None", "pass px_per_deg (or use blur='uniform')"))
            blurred = eccentricity_blur(images, fovea, px_per_deg)
        else:
            raise ConfigError(format_problem("neva_foveate blur", f"one of {BLURS}", repr(blur), "use 'uniform'"))
    if blurred.ndim == 4:
        blurred = blurred[:, None]
    if blurred.shape[0] != n or blurred.shape[-3:] != images.shape[-3:]:
        raise ShapeError(format_problem("neva_foveate blurred", f"shape (n, C, H, W) or (n, K, C, H, W) like "
                                        f"images {tuple(images.shape)}", f"shape {tuple(blurred.shape)}",
                                        "blur the same images"))
    g = fovea_gaussian(fovea, height, width, sigma)  # (n, K, H, W)
    if memory is not None:
        if memory.ndim == 3:
            memory = memory[:, None]
        g = memory + g
    mask = (1 - g).clamp(0, 1)
    x = images[:, None]
    return x + (blurred - x) * mask[:, :, None]


def _check_images(images) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        found = f"{type(images).__name__} of shape {tuple(getattr(images, 'shape', ()))}"
        raise ShapeError(format_problem("foveation images", "a float tensor of shape (n, C, H, W)", found,
                                        "convert uint8 (H, W, 3) images with torch.from_numpy(a).permute(2, 0, 1)"
                                        "[None].float() / 255"))
