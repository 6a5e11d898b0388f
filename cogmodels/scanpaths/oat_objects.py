"""Object tokens for OAT: object proposals, fixation-to-object assignment, target matching and crop embeddings.

OAT (Fang et al., ECCV 2024) works on objects, not pixels.  Where a dataset
annotates its objects (the object-search simulator, STI book collages) the
annotated boxes are the objects.  Where it does not (OSIE free viewing), the
objects are **grid cells** (``proposals="grid"``), for these reasons:

- every fixation inside the image falls in exactly one cell, so no fixation is
  dropped or re-assigned, and an image can never have zero proposals;
- the token set has a fixed size and layout, so the learned position encoding
  (a table over a grid, see :mod:`cogmodels.scanpaths.oat_network`) fits it exactly;
- saliency blobs and superpixels depend on thresholds that change the number of
  tokens per image, and leave many fixations on no object (on OSIE a large
  part of fixations lands on background, e.g. faces at a distance, text).

The cost is that a grid cell is not a semantic object: what OAT learns on
OSIE is a sequence model over image regions (see the note of issue 10).

Boxes are ``(x0, y0, x1, y1)`` in pixels, origin at the top-left image corner,
x1/y1 exclusive.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import dataclass

import numpy as np

from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

log = logging.getLogger(__name__)

OFF_OBJECT_POLICIES = ("nearest", "background", "raise")


@dataclass(frozen=True)
class ObjectSet:
    """The objects (tokens) of one image.

    Attributes
    ----------
    boxes : float array of shape (n_objects, 4)
        ``x0, y0, x1, y1`` in pixels.
    image_size : (width, height)
    source : str
        How the objects were obtained ("grid 8x12", "annotations").
    grid : (n_rows, n_cols) or None
        For grid proposals: object ``k`` is cell ``row * n_cols + col``.
    """

    boxes: np.ndarray
    image_size: tuple
    source: str
    grid: tuple | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def centres(self) -> np.ndarray:
        """Box centres in pixels, shape (n_objects, 2)."""
        return np.stack([(self.boxes[:, 0] + self.boxes[:, 2]) / 2, (self.boxes[:, 1] + self.boxes[:, 3]) / 2], 1)

    @property
    def positions(self) -> np.ndarray:
        """Box centres in image units (x / width, y / height), in [0, 1]; shape (n_objects, 2)."""
        return self.centres / np.asarray(self.image_size, float)

    def key(self) -> str:
        """Hash of the boxes (for feature caches)."""
        return hashlib.sha1(np.ascontiguousarray(self.boxes, np.float64).tobytes()).hexdigest()[:16]


def check_grid(grid, where: str = "grid") -> tuple[int, int]:
    """(n_rows, n_cols) of positive integers."""
    try:
        rows, cols = (int(v) for v in grid)
        ok = rows >= 1 and cols >= 1 and all(float(v) == int(v) for v in grid)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(format_problem(where, "(n_rows, n_cols), two positive integers", repr(grid),
                                         "pass e.g. grid=(8, 12)"))
    return rows, cols


def grid_objects(image_size, grid) -> ObjectSet:
    """Grid-cell proposals: ``n_rows x n_cols`` equal cells covering the image, row-major.

    Parameters
    ----------
    image_size : (width, height) in pixels
    grid : (n_rows, n_cols)
    """
    rows, cols = check_grid(grid)
    width, height = (float(v) for v in image_size)
    xs, ys = np.linspace(0, width, cols + 1), np.linspace(0, height, rows + 1)
    boxes = np.array([[xs[c], ys[r], xs[c + 1], ys[r + 1]] for r in range(rows) for c in range(cols)])
    return ObjectSet(boxes, (int(width), int(height)), f"grid {rows}x{cols}", (rows, cols))


def annotated_objects(boxes, image_size, where: str = "objects") -> ObjectSet:
    """Validate annotated boxes of shape (n_objects, 4) (x0, y0, x1, y1 px) into an ObjectSet.

    Raises
    ------
    DataFormatError
        Zero boxes (an image with no proposals), empty boxes or boxes outside the image.
    ShapeError
        Not an (n, 4) array.
    """
    boxes = np.asarray(boxes, dtype=float)
    if boxes.size == 0:
        raise DataFormatError(format_problem(where, "at least one object box per image", "zero proposals",
                                             "annotate the objects of this image, or use proposals='grid' "
                                             "(grid cells always cover the image)"))
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ShapeError(format_problem(where, "boxes of shape (n_objects, 4): x0, y0, x1, y1 in pixels",
                                        f"shape {boxes.shape}", "pass one row per object"))
    width, height = image_size
    bad = ~np.isfinite(boxes).all(1) | (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    bad |= (boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 2] > width + 1e-6) | (boxes[:, 3] > height + 1e-6)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFormatError(format_problem(f"{where}[{i}]", f"a non-empty box inside the {width} x {height} image "
                                             "(0 <= x0 < x1 <= width, 0 <= y0 < y1 <= height)",
                                             f"{boxes[i].tolist()} ({int(bad.sum())} bad boxes)",
                                             "fix the annotation (boxes are x0, y0, x1, y1 in pixels)"))
    return ObjectSet(boxes, (int(width), int(height)), "annotations")


# -- fixations and targets -> objects ------------------------------------------------------------------
def box_distance(xy: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Euclidean distance (px) from each point to each box (0 inside), shape (n_points, n_objects)."""
    xy = np.asarray(xy, float).reshape(-1, 2)
    dx = np.maximum(np.maximum(boxes[None, :, 0] - xy[:, None, 0], xy[:, None, 0] - boxes[None, :, 2]), 0)
    dy = np.maximum(np.maximum(boxes[None, :, 1] - xy[:, None, 1], xy[:, None, 1] - boxes[None, :, 3]), 0)
    return np.hypot(dx, dy)


def assign_fixations(xy, objects: ObjectSet, off_object: str = "nearest", where: str = "fixations"
                     ) -> tuple[np.ndarray, int]:
    """The object of each fixation.

    A fixation inside several boxes goes to the smallest of them.  A fixation on
    no object follows ``off_object``: "nearest" (the nearest box), "background"
    (index ``len(objects)``, OAT's background token) or "raise".

    Parameters
    ----------
    xy : array of shape (n_fixations, 2), pixels
    objects : ObjectSet

    Returns
    -------
    ids : int array of shape (n_fixations,)
    n_off : int
        How many fixations fell on no object (re-assigned or background).
    """
    if off_object not in OFF_OBJECT_POLICIES:
        raise ConfigError(format_problem("off_object", f"one of {OFF_OBJECT_POLICIES}", repr(off_object),
                                         "use 'nearest' (default) or 'background'"))
    xy = np.asarray(xy, float).reshape(-1, 2)
    distance = box_distance(xy, objects.boxes)
    area = (objects.boxes[:, 2] - objects.boxes[:, 0]) * (objects.boxes[:, 3] - objects.boxes[:, 1])
    inside = distance == 0
    ids = np.where(inside, area[None, :], np.inf).argmin(1) if len(xy) else np.zeros(0, np.int64)
    off = ~inside.any(1)
    if off.any():
        if off_object == "raise":
            i = int(np.argmax(off))
            raise DataFormatError(format_problem(
                f"{where}[{i}]", "fixations on an object box", f"{int(off.sum())} fixations on no object "
                f"(first at x={xy[i, 0]:.1f}, y={xy[i, 1]:.1f}, {distance[i].min():.1f} px from the nearest box)",
                "pass off_object='nearest' (assign them to the nearest object) or 'background' "
                "(a background token)"))
        ids[off] = distance[off].argmin(1) if off_object == "nearest" else len(objects)
    return ids.astype(np.int64), int(off.sum())


def box_iou(box, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (x0, y0, x1, y1) with each of ``boxes``, shape (n_objects,)."""
    box = np.asarray(box, float)
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = w * h
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return inter / np.maximum(union, 1e-12)


def match_target(box, objects: ObjectSet, min_iou: float = 0.5, where: str = "target") -> int:
    """Index of the object that is the search target: the box of largest IoU with the target box.

    Raises
    ------
    DataFormatError
        When no object overlaps the target box by at least ``min_iou`` (a target token with no
        matching object).
    """
    box = np.asarray(box, float).ravel()
    if box.shape != (4,) or not np.isfinite(box).all():
        raise DataFormatError(format_problem(where, "a target box x0, y0, x1, y1 in pixels", repr(box.tolist()),
                                             "give the target box of the trial (target_x, target_y, target_w, "
                                             "target_h in the trials table)"))
    iou = box_iou(box, objects.boxes)
    best = int(np.argmax(iou))
    if iou[best] < min_iou:
        raise DataFormatError(format_problem(
            where, f"a target box matching one object (IoU >= {min_iou})",
            f"box {np.round(box, 1).tolist()} whose best object ({best}, box "
            f"{np.round(objects.boxes[best], 1).tolist()}) has IoU {iou[best]:.2f} ({objects.source})",
            "check the target box, or use object boxes that contain the target (annotated objects, or a grid "
            "whose cells are the display's slots)"))
    return best


def off_object_warning(n_off: int, n_total: int, policy: str, where: str) -> None:
    """Warn with the count of fixations that fell on no object."""
    if n_off:
        what = "assigned to the nearest object" if policy == "nearest" else "assigned to the background token"
        warnings.warn(f"{where}: {n_off} of {n_total} fixations fell on no object and were {what} "
                      f"(off_object={policy!r})", stacklevel=3)


# -- crop embeddings -----------------------------------------------------------------------------------
class ObjectEmbedder:
    """Backbone embedding of object crops, extracted once per (image, boxes) and cached in memory.

    The embedding of a crop is the backbone's first selected layer, average-pooled
    to a ``pool x pool`` grid and flattened, concatenated with the crop's colour
    statistics (mean and standard deviation of R, G, B in [0, 1]): the default
    ``gabor`` bank sees luminance only, and colour is a strong guide of search.

    Parameters
    ----------
    backbone : str
        A registered backbone name (default ``"gabor"``: a fixed filter bank, no weights).
    backbone_options : dict, optional
        Extra options for ``cogmodels.create_backbone``; for gabor the default is
        ``image_size=crop_size, pool=pool, scales=(4, 8)``.
    crop_size : int
        Side (px) that each crop is resized to by the backbone (gabor); timm backbones use their own size.
    pool : int
        Spatial pooling grid of the crop features.
    """

    def __init__(self, backbone: str = "gabor", backbone_options: dict | None = None, crop_size: int = 32,
                 pool: int = 2):
        self.backbone = backbone
        self.backbone_options = dict(backbone_options or {})
        self.crop_size = int(crop_size)
        self.pool = int(pool)
        self._model = None
        self._cache: dict = {}

    def _backbone(self):
        if self._model is None:
            from cogmodels.backbones import create as create_backbone

            options = dict(self.backbone_options)
            if self.backbone == "gabor":
                options = {"image_size": self.crop_size, "pool": self.pool, "scales": (4.0, 8.0), **options}
            self._model = create_backbone(self.backbone, **options)
        return self._model

    def _features(self, crops: list) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        fmap = next(iter(self._backbone().extract(crops, batch_size=256, progress=False).values()))
        if fmap.kind == "vector":
            deep = fmap.values
        else:
            spatial = torch.from_numpy(np.ascontiguousarray(fmap.as_spatial()))
            deep = F.adaptive_avg_pool2d(spatial, self.pool).flatten(1).numpy()
        colour = np.stack([np.concatenate([c.reshape(-1, 3).mean(0), c.reshape(-1, 3).std(0)]) / 255.0
                           for c in crops])
        return np.concatenate([deep, colour], axis=1).astype(np.float32)

    def crops(self, image: np.ndarray, boxes: np.ndarray) -> list:
        """Pixel crops (uint8, at least 4 x 4) of ``boxes`` in ``image``."""
        height, width = image.shape[:2]
        out = []
        for x0, y0, x1, y1 in np.asarray(boxes, float):
            c0, r0 = int(np.clip(np.floor(x0), 0, width - 1)), int(np.clip(np.floor(y0), 0, height - 1))
            c1, r1 = int(np.clip(np.ceil(x1), c0 + 1, width)), int(np.clip(np.ceil(y1), r0 + 1, height))
            crop = image[r0:r1, c0:c1]
            if min(crop.shape[:2]) < 4:
                crop = np.pad(crop, ((0, max(0, 4 - crop.shape[0])), (0, max(0, 4 - crop.shape[1])), (0, 0)), "edge")
            out.append(np.ascontiguousarray(crop))
        return out

    def embed(self, image: np.ndarray, objects: ObjectSet) -> np.ndarray:
        """Embeddings of the objects of ``image``, shape (n_objects, n_features); cached by content."""
        key = (hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest(), image.shape, objects.key())
        if key not in self._cache:
            crops = self.grid_tiles(image, objects.grid) if objects.grid is not None else self.crops(image, objects.boxes)
            self._cache[key] = self._features(crops)
        return self._cache[key]

    def grid_tiles(self, image: np.ndarray, grid) -> list:
        """Crops of all grid cells at once: the image resized to (n_rows, n_cols) x crop_size, cut into tiles.

        The same as resizing each cell's crop to crop_size x crop_size (one resize instead of one per cell).
        """
        import torch
        import torch.nn.functional as F

        rows, cols = grid
        size = self.crop_size
        x = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None].float()
        x = F.interpolate(x, size=(rows * size, cols * size), mode="bilinear", antialias=True, align_corners=False)
        tiles = x[0].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        tiles = tiles.reshape(rows, size, cols, size, 3).transpose(0, 2, 1, 3, 4).reshape(rows * cols, size, size, 3)
        return [np.ascontiguousarray(t) for t in tiles]

    def embed_image(self, image: np.ndarray) -> np.ndarray:
        """Embedding of a whole image (e.g. a target image), shape (n_features,)."""
        key = (hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest(), image.shape, "whole")
        if key not in self._cache:
            self._cache[key] = self._features([np.ascontiguousarray(image)])[0]
        return self._cache[key]
