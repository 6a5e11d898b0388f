"""Procedural scenes for the NSD-like simulator (:mod:`cogmodels.datasets.nsd_sim`).

Each scene is a textured or graded background with 1-3 objects of four
categories that drive the category-selective ROIs of the ventral stream:

* ``face``  -- an oval with two eyes, a nose and a mouth (FFA-like ROIs);
* ``body``  -- a torso with a featureless head and four limbs (EBA-like ROIs);
* ``place`` -- a house front with roof and windows, or a grating patch (PPA-like ROIs);
* ``word``  -- a horizontal string of small glyphs, on a plate or bare (VWFA-like ROIs).

Objects are drawn in order, so later objects occlude earlier ones; the label
image records which object is visible at each pixel.  Every scene has its own
seed, ``(seed, stream, index)``, so scene ``i`` of a stream is the same whatever
the number of scenes asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CATEGORIES = ("face", "body", "place", "word")
# Scene streams: each draws from its own seed sequence.
STREAMS = {"train": 0, "test": 1, "calibration": 2}

_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.88, 0.67, 0.52], [0.72, 0.52, 0.38],
                        [0.55, 0.38, 0.26], [0.38, 0.25, 0.17]], dtype=np.float32)


@dataclass
class Scene:
    """One drawn scene.

    Attributes
    ----------
    image : uint8 array of shape (S, S, 3)
    labels : int8 array of shape (S, S)
        Index of the object visible at each pixel, -1 for background.
    categories : list of str, length n_objects
    boxes : int array of shape (n_objects, 4)
        (x0, y0, x1, y1) in pixels, x1 and y1 exclusive.
    """

    image: np.ndarray
    labels: np.ndarray
    categories: list
    boxes: np.ndarray


def scene_rng(seed: int, stream: str, index: int) -> np.random.Generator:
    """The generator of one scene: independent of how many scenes are drawn."""
    return np.random.default_rng([int(seed), STREAMS[stream], int(index)])


def draw_scenes(n: int, image_size: int, seed: int, stream: str = "train", progress: bool = False) -> list[Scene]:
    """Draw scenes ``0 .. n-1`` of one stream ("train", "test" or "calibration")."""
    from tqdm.auto import tqdm

    indices = tqdm(range(n), desc=f"nsd_sim {stream} scenes", unit="scene", disable=not progress or n < 500)
    return [draw_scene(image_size, scene_rng(seed, stream, i)) for i in indices]


def draw_scene(image_size: int, rng: np.random.Generator) -> Scene:
    """Draw one scene with 1-3 objects on a random background."""
    size = int(image_size)
    canvas = _background(size, rng)
    labels = np.full((size, size), -1, dtype=np.int8)
    categories, boxes = [], []
    for _ in range(int(rng.integers(1, 4))):
        category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        box = _place_box(category, size, boxes, rng)
        alpha, colour = _DRAWERS[category](box[3] - box[1], box[2] - box[0], rng)
        x0, y0, x1, y1 = box
        patch = canvas[y0:y1, x0:x1]
        canvas[y0:y1, x0:x1] = alpha[..., None] * colour + (1 - alpha[..., None]) * patch
        labels[y0:y1, x0:x1][alpha >= 0.5] = len(categories)
        categories.append(category)
        boxes.append(box)
    image = np.clip(np.round(canvas * 255), 0, 255).astype(np.uint8)
    return Scene(image, labels, categories, np.array(boxes, dtype=int).reshape(-1, 4))


# --------------------------------------------------------------------------- backgrounds

def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A low-contrast 1/f noise texture, a colour gradient, or both; float32 (S, S, 3) in [0, 1]."""
    kind = ("noise", "gradient", "both")[int(rng.integers(3))]
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = rng.uniform(0.25, 0.75, 3)
    if kind in ("gradient", "both"):
        angle = rng.uniform(0, 2 * np.pi)
        coord = np.linspace(-0.5, 0.5, size, dtype=np.float32)
        ramp = np.cos(angle) * coord[None, :] + np.sin(angle) * coord[:, None]
        canvas += ramp[..., None] * rng.uniform(-0.5, 0.5, 3).astype(np.float32)
    if kind in ("noise", "both"):
        texture = _pink_noise(size, exponent=rng.uniform(1.0, 2.0), rng=rng)
        canvas += texture[..., None] * (0.12 * rng.uniform(0.5, 1.0, 3)).astype(np.float32)
    return np.clip(canvas, 0, 1, out=canvas)


@lru_cache(maxsize=8)
def _radial_frequency(size: int) -> np.ndarray:
    freq = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.rfftfreq(size)[None, :] ** 2)
    freq[0, 0] = 1.0
    return freq


def _pink_noise(size: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance noise with a 1/f**exponent amplitude spectrum, shape (S, S)."""
    freq = _radial_frequency(size)
    spectrum = (rng.standard_normal(freq.shape) + 1j * rng.standard_normal(freq.shape)) / freq ** exponent
    spectrum[0, 0] = 0
    noise = np.fft.irfft2(spectrum, s=(size, size))
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


# --------------------------------------------------------------------------- placement

def _place_box(category: str, size: int, boxes: list, rng: np.random.Generator, tries: int = 20) -> tuple:
    """A box (x0, y0, x1, y1) inside the image, overlapping earlier boxes by IoU < 0.25 when possible."""
    height = rng.uniform(0.28, 0.5) * size
    width = height * {"face": 0.75, "body": 0.6, "place": rng.uniform(0.8, 1.2)}.get(category, 1.0)
    if category == "word":
        height = rng.uniform(0.10, 0.16) * size
        width = min(height * 0.7 * int(rng.integers(3, 7)), 0.9 * size)
    h, w = max(int(round(height)), 6), max(int(round(width)), 6)
    box = None
    for _ in range(tries):
        x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
        box = (x0, y0, x0 + w, y0 + h)
        if all(_iou(box, other) < 0.25 for other in boxes):
            break
    return box


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


# --------------------------------------------------------------------------- shapes
# Each drawer takes the box height and width in pixels and returns
# alpha (h, w) in [0, 1] and colour (h, w, 3), in box coordinates u, v in [-1, 1].

def _box_coords(h: int, w: int):
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    return 2 * (u + 0.5) / w - 1, 2 * (v + 0.5) / h - 1


def _soft(distance: np.ndarray, pixel: float) -> np.ndarray:
    """Anti-aliased inside-mask from a signed distance (negative inside), in box units."""
    return np.clip(0.5 - distance / pixel, 0, 1)


def _ellipse(u, v, cx, cy, rx, ry, pixel):
    return _soft((np.sqrt(((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2) - 1) * min(rx, ry), pixel)


def _rectangle(u, v, cx, cy, hx, hy, pixel):
    return _soft(np.maximum(np.abs(u - cx) - hx, np.abs(v - cy) - hy), pixel)


def _segment(u, v, p, q, radius, pixel):
    """Thick line from p to q (box units)."""
    d = np.array(q, dtype=np.float32) - np.array(p, dtype=np.float32)
    t = np.clip(((u - p[0]) * d[0] + (v - p[1]) * d[1]) / float(d @ d + 1e-9), 0, 1)
    return _soft(np.hypot(u - p[0] - t * d[0], v - p[1] - t * d[1]) - radius, pixel)


def _paint(colour_layer, mask, colour):
    colour_layer += mask[..., None] * (np.asarray(colour, dtype=np.float32) - colour_layer)


def _draw_face(h, w, rng):
    u, v = _box_coords(h, w)
    pixel = 2.0 / min(h, w)
    skin = np.clip(_SKIN_TONES[rng.integers(len(_SKIN_TONES))] + rng.normal(0, 0.03, 3), 0, 1)
    colour = np.broadcast_to(skin, (h, w, 3)).astype(np.float32).copy()
    alpha = _ellipse(u, v, 0, 0, 0.95, 0.97, pixel)
    dark = rng.uniform(0.0, 0.2, 3)
    eye_y, eye_dx = rng.uniform(-0.3, -0.15), rng.uniform(0.3, 0.42)
    for side in (-1, 1):
        _paint(colour, _ellipse(u, v, side * eye_dx, eye_y, 0.16, 0.1, pixel), (0.95, 0.95, 0.95))
        _paint(colour, _ellipse(u, v, side * eye_dx, eye_y, 0.08, 0.08, pixel), dark)
        _paint(colour, _segment(u, v, (side * (eye_dx - 0.18), eye_y - 0.2), (side * (eye_dx + 0.15), eye_y - 0.22),
                                0.035, pixel), dark)
    _paint(colour, _segment(u, v, (0, eye_y + 0.15), (0, 0.2), 0.04, pixel), skin * 0.75)
    _paint(colour, _ellipse(u, v, 0, rng.uniform(0.42, 0.55), rng.uniform(0.25, 0.4), 0.08, pixel), (0.55, 0.12, 0.12))
    return alpha, colour


def _draw_body(h, w, rng):
    u, v = _box_coords(h, w)
    pixel = 2.0 / min(h, w)
    skin = np.clip(_SKIN_TONES[rng.integers(len(_SKIN_TONES))] + rng.normal(0, 0.03, 3), 0, 1)
    cloth = rng.uniform(0, 1, 3)
    colour = np.broadcast_to(skin, (h, w, 3)).astype(np.float32).copy()
    limb = 0.09
    arm_end = [(side * rng.uniform(0.7, 0.9), rng.uniform(-0.5, 0.3)) for side in (-1, 1)]
    parts = [_ellipse(u, v, 0, -0.8, 0.22, 0.17, pixel)]
    parts += [_segment(u, v, (side * 0.3, -0.5), arm_end[i], limb, pixel) for i, side in enumerate((-1, 1))]
    parts += [_segment(u, v, (side * 0.15, 0.25), (side * rng.uniform(0.2, 0.5), 0.95), limb * 1.2, pixel)
              for side in (-1, 1)]
    torso = _rectangle(u, v, 0, -0.15, 0.32, 0.4, pixel)
    _paint(colour, torso, cloth)
    alpha = np.maximum.reduce(parts + [torso])
    return alpha, colour


def _draw_place(h, w, rng):
    u, v = _box_coords(h, w)
    pixel = 2.0 / min(h, w)
    if rng.random() < 0.5:  # grating patch: a square of oriented sinusoid
        theta, cycles = rng.uniform(0, np.pi), rng.uniform(3, 7)
        phase = np.cos(np.pi * cycles * (u * np.cos(theta) + v * np.sin(theta)) + rng.uniform(0, 2 * np.pi))
        c1, c2 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        colour = (c1 + (c2 - c1) * (0.5 + 0.5 * phase)[..., None]).astype(np.float32)
        return _rectangle(u, v, 0, 0, 0.97, 0.97, pixel), colour
    wall, roof = rng.uniform(0.3, 0.9, 3), rng.uniform(0.1, 0.6, 3)
    colour = np.broadcast_to(wall, (h, w, 3)).astype(np.float32).copy()
    body = _rectangle(u, v, 0, 0.3, 0.85, 0.68, pixel)
    roof_mask = _soft(np.maximum(0.6 * np.abs(u) - 0.95 - v, v + 0.38), pixel)  # triangle above the walls
    _paint(colour, roof_mask, roof)
    n_cols, n_rows = int(rng.integers(2, 5)), int(rng.integers(1, 3))
    for col in range(n_cols):
        for row in range(n_rows):
            cx = -0.6 + 1.2 * (col + 0.5) / n_cols
            cy = 0.0 + 0.5 * (row + 0.5) / n_rows
            _paint(colour, _rectangle(u, v, cx, cy, 0.35 / n_cols, 0.12, pixel), (0.15, 0.2, 0.3))
    _paint(colour, _rectangle(u, v, rng.uniform(-0.5, 0.5), 0.8, 0.12, 0.18, pixel), roof * 0.6)
    return np.maximum(body, roof_mask), colour


# Fixed glyph alphabet: 3x5 bitmaps from a fixed seed, the same in every study.
_GLYPHS = np.random.default_rng(20230512).random((26, 5, 3)) < 0.5


def _draw_word(h, w, rng):
    ink = rng.uniform(0, 0.25, 3)
    n_glyphs = max(1, int(round(w / (0.7 * h))))
    cell_w = w / n_glyphs
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    glyph_index = np.minimum((u / cell_w).astype(int), n_glyphs - 1)
    letters = rng.integers(len(_GLYPHS), size=n_glyphs)
    # Position inside each cell, mapped to the 3x5 bitmap with a margin.
    cu = (u - glyph_index * cell_w) / cell_w
    cv = v / h
    col = np.clip(((cu - 0.15) / 0.7 * 3).astype(int), 0, 2)
    row = np.clip(((cv - 0.12) / 0.76 * 5).astype(int), 0, 4)
    inside = (cu > 0.15) & (cu < 0.85) & (cv > 0.12) & (cv < 0.88)
    strokes = (_GLYPHS[letters[glyph_index], row, col] & inside).astype(np.float32)
    if rng.random() < 0.5:  # on a light plate (a sign): the plate is the object
        paper = rng.uniform(0.8, 1.0, 3)
        colour = (paper + (ink - paper) * strokes[..., None]).astype(np.float32)
        return np.ones((h, w), dtype=np.float32), colour
    return strokes, np.broadcast_to(ink, (h, w, 3)).astype(np.float32).copy()


_DRAWERS = {"face": _draw_face, "body": _draw_body, "place": _draw_place, "word": _draw_word}


# --------------------------------------------------------------------------- masks on a feature grid

def area_weights(n_pixels: int, n_cells: int) -> np.ndarray:
    """Overlap fractions of pixels with grid cells, shape (n_cells, n_pixels); rows sum to n_pixels / n_cells."""
    edges_px = np.arange(n_pixels + 1, dtype=np.float64)
    edges_cell = np.linspace(0, n_pixels, n_cells + 1)
    lo = np.maximum(edges_cell[:-1, None], edges_px[None, :-1])
    hi = np.minimum(edges_cell[1:, None], edges_px[None, 1:])
    return np.clip(hi - lo, 0, None)


def category_maps(scene: Scene, grid: tuple[int, int]) -> np.ndarray:
    """Normalised visible-object masks per category on a feature grid.

    Returns
    -------
    maps : float32 array of shape (n_categories, H, W)
        For each category, the fraction of that category's visible pixels
        falling in each grid cell (sums to 1), or all zeros when the
        category is absent or fully occluded.
    """
    size_y, size_x = scene.labels.shape
    rows, cols = area_weights(size_y, grid[0]), area_weights(size_x, grid[1])
    maps = np.zeros((len(CATEGORIES), *grid), dtype=np.float32)
    visible = (scene.labels[None] == np.arange(len(scene.categories))[:, None, None]).astype(np.float64)
    per_object = rows @ visible @ cols.T  # (n_objects, H, W): visible pixels per grid cell
    for k, category in enumerate(CATEGORIES):
        members = [i for i, c in enumerate(scene.categories) if c == category]
        counts = per_object[members].sum(axis=0)
        if counts.sum() > 0:
            maps[k] = counts / counts.sum()
    return maps
