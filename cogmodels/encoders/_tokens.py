"""Feature inputs of the gradient-trained encoders: token grids, layers, images.

- :func:`as_token_grid` turns one layer of features (a token array with its
  grid, a spatial array or a :class:`~cogmodels.backbones.base.FeatureMap`) into
  ``(tokens, grid)``; :func:`as_token_layers` does it for one or several layers.
- :func:`looks_like_images`, :func:`image_sizes` and :func:`resolve_backbone`
  handle encoders that are given images and a backbone instead of features.
- :func:`upsample_maps` brings attention maps from the feature grid to the image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from cogmodels.data.checks import FLOAT32_MAX, check_array
from cogmodels.errors import ConfigError, ShapeError, format_problem


def _grid_tuple(grid, where: str) -> tuple[int, int]:
    try:
        height, width = (int(g) for g in grid)
    except (TypeError, ValueError):
        raise ShapeError(format_problem(where, "grid=(H, W), two positive integers", repr(grid),
                                        "pass the spatial grid of the token array, e.g. FeatureMap.grid")) from None
    if height <= 0 or width <= 0:
        raise ShapeError(format_problem(where, "a positive grid (H, W)", repr(grid), "pass the feature map's grid"))
    return height, width


def as_token_grid(X, grid=None, where: str = "X") -> tuple[np.ndarray, tuple[int, int]]:
    """Token array and grid of one layer of features.

    Parameters
    ----------
    X : FeatureMap, array of shape (n_stimuli, H*W, C) (with ``grid``) or (n_stimuli, C, H, W)
    grid : (H, W), optional
        Required for a token array; checked against a spatial array or FeatureMap.
    where : str
        Name used in error messages.

    Returns
    -------
    tokens : float32 array of shape (n_stimuli, H*W, C)
    grid : (H, W)
    """
    from cogmodels.backbones.base import FeatureMap

    if isinstance(X, FeatureMap):
        if X.kind == "vector":
            raise ShapeError(format_problem(where, "a spatial or token FeatureMap", "a pooled vector FeatureMap",
                                            "select a layer that keeps its spatial grid"))
        found = X.grid
        tokens = X.as_tokens()
    else:
        array = check_array(X, where, ndim=(3, 4), dtype="number", finite=True, non_empty=True,
                            max_abs=FLOAT32_MAX)
        if array.ndim == 4:
            found = tuple(int(s) for s in array.shape[2:])
            tokens = array.reshape(array.shape[0], array.shape[1], -1).transpose(0, 2, 1)
        else:
            if grid is None:
                raise ShapeError(format_problem(where, "grid=(H, W) for a token array of shape (n, H*W, C)",
                                                "grid=None", "pass grid=(H, W), e.g. FeatureMap.grid"))
            found = _grid_tuple(grid, f"{where} grid")
            tokens = array
    if grid is not None and _grid_tuple(grid, f"{where} grid") != tuple(found):
        raise ShapeError(format_problem(f"{where} grid", f"the grid of the features {tuple(found)}",
                                        f"grid={tuple(grid)}", "pass the grid of this feature map or omit it"))
    if found[0] * found[1] != tokens.shape[1]:
        raise ShapeError(format_problem(f"{where} grid", f"H*W equal to the {tokens.shape[1]} tokens",
                                        f"grid {tuple(found)} ({found[0] * found[1]} positions)",
                                        "pass the (H, W) the tokens were flattened from"))
    return np.ascontiguousarray(tokens, dtype=np.float32), (int(found[0]), int(found[1]))


def as_token_layers(X, grid=None, where: str = "X") -> list[tuple[str, np.ndarray, tuple[int, int]]]:
    """One or several layers of features as ``[(name, tokens, grid), ...]``.

    ``X`` is one layer (see :func:`as_token_grid`), a dict ``{layer name: layer}``
    (the output of ``Backbone.extract``) or a list of layers.  ``grid`` is one
    (H, W) for all layers, or a dict / list of grids matching ``X``.
    """
    if isinstance(X, Mapping):
        items = list(X.items())
    elif isinstance(X, (list, tuple)):
        items = [(f"layer{i}", x) for i, x in enumerate(X)]
    else:
        items = [("layer0", X)]
    if not items:
        raise ShapeError(format_problem(where, "at least one feature layer", "an empty collection",
                                        "pass the features of one or more layers"))
    layers = []
    for i, (name, layer) in enumerate(items):
        if isinstance(grid, Mapping):
            layer_grid = grid.get(name)
        elif isinstance(grid, list) and grid and not isinstance(grid[0], (int, np.integer)):
            layer_grid = grid[i]
        else:
            layer_grid = grid
        label = where if len(items) == 1 else f"{where}[{name!r}]"
        tokens, layer_grid = as_token_grid(layer, layer_grid, label)
        layers.append((str(name), tokens, layer_grid))
    n_rows = {tokens.shape[0] for _, tokens, _ in layers}
    if len(n_rows) > 1:
        raise ShapeError(format_problem(where, "the same number of stimuli in every layer",
                                        f"row counts {sorted(n_rows)}", "extract every layer for the same stimuli"))
    return layers


def looks_like_images(X) -> bool:
    """True for Stimuli, a uint8 array of shape (n, H, W, 3) or a list of uint8 (H, W, 3) images."""
    if hasattr(X, "image") and hasattr(X, "ids"):
        return True
    if isinstance(X, np.ndarray):
        return X.dtype == np.uint8 and X.ndim == 4 and X.shape[-1] == 3
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], np.ndarray):
        return X[0].dtype == np.uint8 and X[0].ndim == 3
    return False


def image_sizes(images) -> list[tuple[int, int]]:
    """(height, width) of each image of Stimuli / an image array / a list of images."""
    if hasattr(images, "image"):
        return [tuple(images.image(i).shape[:2]) for i in range(len(images))]
    return [tuple(np.asarray(img).shape[:2]) for img in images]


def resolve_backbone(backbone):
    """The backbone that turns images into features: a Backbone as is, a registered name created."""
    if backbone is None:
        raise ConfigError(format_problem("backbone", "a backbone to compute features from images", "backbone=None",
                                         "pass backbone=cogmodels.create_backbone(...), or pass precomputed "
                                         "features instead of images"))
    if isinstance(backbone, str):
        from cogmodels.backbones import create

        return create(backbone)
    return backbone


def upsample_maps(maps: torch.Tensor, sizes: Sequence[tuple[int, int]]):
    """Bilinearly upsample maps (n, K, H, W) to each image's size and renormalise each map to sum 1.

    Returns an array (n, K, H_img, W_img), or a list of (K, H_img, W_img) arrays when sizes differ.
    """
    upsampled = []
    for i, size in enumerate(sizes):
        up = F.interpolate(maps[i:i + 1], size=tuple(size), mode="bilinear", align_corners=False)[0].clamp_min(0)
        upsampled.append((up / up.sum(dim=(1, 2), keepdim=True)).numpy())
    return np.stack(upsampled) if len(set(map(tuple, sizes))) == 1 else upsampled
