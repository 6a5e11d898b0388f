"""Window sizes of eccentricity-dependent pooling (eccNET, Gupta et al. 2021), for :func:`ecc_avg_pool`.

A pooling layer ``l`` averages each output pixel over a square window whose
side grows with eccentricity::

    window = rf_min + round(slope_l * px_per_deg * (e - fovea))     (e >= fovea, else rf_min)

in pixels of the layer's *input* map, where ``e`` and ``fovea`` are measured
the way the original measures them: as ring *diameters* in degrees (twice the
eccentricity; the fovea is a 4-degree-wide disc).  Defaults follow the
original: rf_min 2, slopes (0, 0, 0.07, 0.16, 0.32), fovea 4 deg, one ring per
degree of diameter (``rf_quant``).

Two ways to lay the rings on a layer's output grid:

``"faithful"`` (:func:`faithful_windows`)
    What the released Keras code does.  Each layer draws its rings on the
    pool's *output* grid but with the px/deg of its *input* map
    (``deg2px = round(30 / 2**l)`` for layer l = 0..4 at 30 px/deg), so every
    ring lies twice as far out (in degrees) as intended: radius
    ``round(fovea * deg2px / 2)`` output pixels for the fovea, then one ring
    every ``round(rf_quant * deg2px / 2)`` output pixels, each ring taking the
    window of its outer radius, the last ring everything beyond.  Rings are
    skimage ``disk`` sets (distance strictly below the radius) around
    ``(int(out / 2), int(out / 2))`` of the square, zero-padded canvas centred
    on the fixation; here the centre is the fixation's output pixel.
``"per_pixel"`` (:func:`per_pixel_windows`)
    The formula at each output pixel's true eccentricity (output distance x
    stride / input px/deg), without ring quantisation.

:func:`original_mask_bytes` counts the float32 per-channel ring masks the
original keeps as constants (one (out, out, C) array per ring).
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: eccNET defaults (Gupta et al. 2021, released code).
RF_MIN = 2
SLOPES = (0.0, 0.0, 0.07, 0.16, 0.32)
FOVEA_DEG = 4.0
RF_QUANT_DEG = 1.0


def layer_deg2px(px_per_deg: float, layer: int) -> int:
    """px/deg of the *input* map of pooling layer ``layer`` (0-based) as the original rounds it."""
    return int(round(px_per_deg / 2 ** layer))


def original_rings(out_size: int, deg2px: int, rf_min: int = RF_MIN, slope: float = 0.0,
                   fovea: float = FOVEA_DEG, rf_quant: float = RF_QUANT_DEG) -> tuple[list[int], list[int]]:
    """Ring outer radii (output pixels) and window sizes of one layer, as the original builds them.

    Returns
    -------
    radii : list of int
        Outer radius of each ring; the last entry is the outer ring (everything
        beyond the previous radius), given as the radius the loop stopped at.
    windows : list of int
        Window side (input pixels) of each ring.
    """
    ecc = int(round(fovea * deg2px / 2))
    if ecc > out_size / 2:
        return [2 * out_size], [rf_min]
    step = int(round(rf_quant * deg2px / 2))
    radii, windows = [ecc], [rf_min]
    ecc += step
    while ecc < out_size / 2:
        radii.append(ecc)
        windows.append(rf_min + int(round(slope * (ecc * 2 - fovea * deg2px))))
        ecc += step
    radii.append(ecc)
    windows.append(rf_min + int(round(slope * (ecc * 2 - fovea * deg2px))))
    return radii, windows


def faithful_windows(out_shape: tuple[int, int], centre: tuple[int, int], deg2px: int, rf_min: int = RF_MIN,
                     slope: float = 0.0, fovea: float = FOVEA_DEG, rf_quant: float = RF_QUANT_DEG,
                     ring_size: int | None = None) -> torch.Tensor:
    """The original's ring windows on an output grid (see the module docstring).

    Parameters
    ----------
    out_shape : (out_h, out_w)
        The pool's output grid.
    centre : (row, col)
        Output pixel of the fixation.
    deg2px : int
        px/deg of the pool's *input* map (:func:`layer_deg2px`).
    ring_size : int, optional
        Side of the square canvas the original draws its rings for (default
        ``max(out_shape)``); it sets where the ring loop stops.

    Returns
    -------
    windows : int64 tensor of shape out_shape
    """
    radii, sizes = original_rings(ring_size or max(out_shape), deg2px, rf_min, slope, fovea, rf_quant)
    rows = torch.arange(out_shape[0])[:, None] - int(centre[0])
    cols = torch.arange(out_shape[1])[None, :] - int(centre[1])
    dist2 = rows * rows + cols * cols
    ring = torch.zeros(out_shape, dtype=torch.int64)
    for radius in radii[:-1]:  # ring index = number of inner disks the pixel lies outside of
        ring += (dist2 >= radius * radius).to(torch.int64)
    return torch.tensor(sizes, dtype=torch.int64)[ring]


def per_pixel_windows(out_shape: tuple[int, int], centre: tuple[float, float], px_per_deg_in: float,
                      stride: int = 2, rf_min: int = RF_MIN, slope: float = 0.0,
                      fovea: float = FOVEA_DEG) -> torch.Tensor:
    """Windows from each output pixel's true eccentricity, no rings (see the module docstring).

    Parameters
    ----------
    out_shape : (out_h, out_w)
    centre : (row, col)
        Fixation in output-grid pixels (may be fractional).
    px_per_deg_in : float
        px/deg of the pool's input map.
    stride : int
        The pool's stride (output pixel = stride input pixels).

    Returns
    -------
    windows : int64 tensor of shape out_shape
    """
    rows = torch.arange(out_shape[0], dtype=torch.float64)[:, None] - float(centre[0])
    cols = torch.arange(out_shape[1], dtype=torch.float64)[None, :] - float(centre[1])
    diameter_deg = 2.0 * torch.sqrt(rows * rows + cols * cols) * stride / px_per_deg_in
    grow = torch.round(slope * px_per_deg_in * (diameter_deg - fovea).clamp(min=0.0))
    return (rf_min + grow).to(torch.int64).clamp(min=1)


def original_mask_bytes(input_size: int, channels, px_per_deg: float, slopes=SLOPES, rf_min: int = RF_MIN,
                        fovea: float = FOVEA_DEG, rf_quant: float = RF_QUANT_DEG, stride: int = 2,
                        layers=None) -> dict[int, int]:
    """Bytes of the original's float32 per-channel ring masks, per pooling layer.

    Layer l pools a map of side ``s_l`` (``s_0 = input_size``, ``s_{l+1} =
    ceil(s_l / stride)``) with ``channels[l]`` channels; its output side is
    ``int((s_l + 1) / stride)`` and it keeps one (out, out, C) float32 mask per
    ring of :func:`original_rings` (the released model makes every one of the
    five layers a ring-pooling layer, the ones with slope 0 included).
    """
    sizes, side = [], int(input_size)
    for _ in channels:
        sizes.append(side)
        side = math.ceil(side / stride)
    out = {}
    for layer, (side, n_channels) in enumerate(zip(sizes, channels)):
        if layers is not None and layer not in layers:
            continue
        out_side = int((side + 1) / stride)
        radii, _ = original_rings(out_side, layer_deg2px(px_per_deg, layer), rf_min, slopes[layer], fovea, rf_quant)
        out[layer] = len(radii) * out_side * out_side * int(n_channels) * 4
    return out


def pool_input_sizes(input_size: int, n_layers: int = 5, stride: int = 2) -> list[int]:
    """Sides of the maps entering each pooling layer (TF "same" pooling halves them, rounding up)."""
    sizes, side = [], int(input_size)
    for _ in range(n_layers):
        sizes.append(side)
        side = math.ceil(side / stride)
    return sizes


def distinct_windows(windows: torch.Tensor) -> np.ndarray:
    """Sorted distinct window sizes of a window map."""
    return np.unique(windows.cpu().numpy())
