"""Object-array visual search simulator: shelf displays of drawn objects and a seeded human-like searcher.

Ground truth for object-level scanpath models (OAT).  Each display is a shelf
of ``grid = (n_rows, n_cols)`` slots of ``cell`` x ``cell`` pixels, one object
per slot, drawn procedurally from three features: shape (circle, square,
triangle, diamond, cross), colour (6 hues) and pattern (plain / striped).  One
object is the target; every distractor shares ``k`` of the 3 features with it,
``k`` drawn from ``similarity_weights`` (k = 0, 1, 2), so its similarity to the
target is ``k / 3`` (graded similarity).  No distractor equals the target.

The searcher (per subject a seeded parameter set) fixates objects:

1. The first fixation lands on the object nearest the display centre.
2. On the target it detects it with probability ``p_detect``; after a
   detection it refixates the target with probability ``p_verify`` and stops
   (found).  After ``max_fixations`` fixations it stops (not found).
3. Otherwise, with probability ``p_refixate`` it refixates the current object.
4. Otherwise the next object is drawn from a softmax over the other objects of
   ``beta * similarity - gamma * distance (cells) + log(ior if visited)``
   plus Gaussian noise (``noise``): similarity guidance, proximity, and
   inhibition of return (visited objects keep a ``ior`` weight, so revisits
   are rare but possible).

Fixation positions are the slot centre plus Gaussian scatter (0.12 cell,
kept in the slot); durations are ``80 + Gamma(4, 50)`` ms.  Subjects differ by
``beta`` (x [0.8, 1.2]) and ``gamma`` (x [0.8, 1.2]).

Returned Dataset: stimuli (the displays), fixations (kind "eye"; trials table
with task "search", the target box target_x/y/w/h, target_object, found),
trials (SearchTrials: display, target image, target mask), splits by display
("train"/"test"), ``meta["objects"]`` (stimulus_id -> slot boxes (n, 4)),
``meta["grid"]``, and ``ground_truth``: per display the target object and
similarities; per scanpath the object sequence; the searcher parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cogmodels.data import Dataset, DatasetCard, Fixations, ScreenGeometry, SearchTrial, SearchTrials, Stimuli
from cogmodels.datasets import DATASETS
from cogmodels.datasets.gaze_table import split_by_image
from cogmodels.errors import ConfigError, format_problem

SHAPES = ("circle", "square", "triangle", "diamond", "cross")
COLOURS = ((220, 50, 47), (38, 139, 210), (133, 153, 0), (181, 137, 0), (108, 113, 196), (42, 161, 152))
PATTERNS = ("plain", "striped")
BACKGROUND, SHELF = (235, 232, 225), (120, 90, 60)
PX_PER_DEG = 32.0  # simulated screen: 64-px slots are 2 deg

CARD = DatasetCard(
    name="object_search_sim",
    source="built-in simulator (datasets/object_search_sim.py)",
    licence="same as cogmodels",
    citation=("Simulator for OAT (Fang et al., ECCV 2024); searcher after guided search (Wolfe 1994) with "
              "inhibition of return (Klein 2000)."),
    how_to_get="nothing to download: load('object_search_sim', n_displays=..., seed=...)",
    simulated=True,
)


def _check(name, value, ok, expected, fix):
    if not ok:
        raise ConfigError(format_problem(f"object_search_sim.{name}", expected, repr(value), fix))


def draw_object(canvas: np.ndarray, box, shape: int, colour: int, pattern: int) -> None:
    """Draw one object into ``canvas`` (uint8 (H, W, 3), in place) inside ``box`` (x0, y0, x1, y1)."""
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = (int(v) for v in box)
    size = x1 - x0
    tile = Image.new("RGB", (size, y1 - y0), BACKGROUND)
    draw = ImageDraw.Draw(tile)
    m, c = int(0.18 * size), size / 2
    fill = COLOURS[colour]
    name = SHAPES[shape]
    if name == "circle":
        draw.ellipse([m, m, size - m, size - m], fill=fill)
    elif name == "square":
        draw.rectangle([m, m, size - m, size - m], fill=fill)
    elif name == "triangle":
        draw.polygon([(c, m), (size - m, size - m), (m, size - m)], fill=fill)
    elif name == "diamond":
        draw.polygon([(c, m), (size - m, c), (c, size - m), (m, c)], fill=fill)
    else:
        w = int(0.2 * size)
        draw.rectangle([c - w / 2, m, c + w / 2, size - m], fill=fill)
        draw.rectangle([m, c - w / 2, size - m, c + w / 2], fill=fill)
    if PATTERNS[pattern] == "striped":
        mask = np.asarray(tile).copy()
        shape_pixels = (mask != np.array(BACKGROUND)).any(-1)
        rows = (np.arange(mask.shape[0]) // max(2, size // 16)) % 2 == 0
        mask[shape_pixels & rows[:, None]] = 255
        tile = Image.fromarray(mask)
    canvas[y0:y1, x0:x1] = np.asarray(tile)


def _display(rng, n_objects, similarity_weights):
    """Target features (3,), object features (n, 3), target slot, similarities (n,)."""
    target = np.array([rng.integers(len(SHAPES)), rng.integers(len(COLOURS)), rng.integers(len(PATTERNS))])
    sizes = np.array([len(SHAPES), len(COLOURS), len(PATTERNS)])
    features = np.zeros((n_objects, 3), int)
    shared = rng.choice(3, size=n_objects, p=np.asarray(similarity_weights) / np.sum(similarity_weights))
    for i, k in enumerate(shared):
        keep = rng.permutation(3)[:k]
        for f in range(3):
            features[i, f] = target[f] if f in keep else (target[f] + rng.integers(1, sizes[f])) % sizes[f]
    slot = int(rng.integers(n_objects))
    features[slot] = target
    similarity = (features == target).sum(1) / 3.0
    return target, features, slot, similarity


def search(rng, similarity, target, centres, cell, params) -> tuple[list, bool]:
    """One simulated scanpath as object indices (see the module docstring), and whether the target was found."""
    n = len(similarity)
    middle = centres.mean(0)
    current = int(np.argmin(np.hypot(*(centres - middle).T)))
    sequence, visited = [current], np.zeros(n, bool)
    visited[current] = True
    while len(sequence) < params["max_fixations"]:
        if current == target and rng.random() < params["p_detect"]:
            if rng.random() < params["p_verify"] and len(sequence) < params["max_fixations"]:
                sequence.append(current)
            return sequence, True
        if rng.random() < params["p_refixate"]:
            sequence.append(current)
            continue
        distance = np.hypot(*(centres - centres[current]).T) / cell
        priority = (params["beta"] * similarity - params["gamma"] * distance + np.log(np.where(visited, params["ior"], 1.0))
                    + params["noise"] * rng.standard_normal(n))
        priority[current] = -np.inf
        p = np.exp(priority - priority.max())
        current = int(rng.choice(n, p=p / p.sum()))
        visited[current] = True
        sequence.append(current)
    return sequence, False


def load(root=None, *, n_displays: int = 120, n_subjects: int = 6, grid=(4, 8), cell: int = 64,
         similarity_weights=(0.45, 0.35, 0.2), beta: float = 4.0, gamma: float = 0.7, ior: float = 0.25,
         noise: float = 0.3, p_detect: float = 0.8, p_verify: float = 0.5, p_refixate: float = 0.1,
         max_fixations: int = 14, test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Simulate object-array search displays and the searcher's scanpaths (see the module docstring).

    Parameters
    ----------
    root : ignored (nothing is read)
    n_displays, n_subjects : int
        Each subject searches every display once.
    grid : (n_rows, n_cols)
        Shelf slots; set size n_rows * n_cols.
    cell : int
        Slot side in pixels.
    similarity_weights : 3 floats
        Probabilities that a distractor shares 0, 1 or 2 features with the target.
    beta, gamma, ior, noise, p_detect, p_verify, p_refixate, max_fixations
        Searcher parameters (module docstring).
    test_fraction, seed : float, int
        Split by display; every random draw comes from ``seed``.
    """
    rows, cols = (int(v) for v in grid)
    _check("grid", grid, rows >= 1 and cols >= 2, "(n_rows, n_cols) with at least 2 slots", "use grid=(4, 8)")
    _check("cell", cell, int(cell) >= 16, "a slot side >= 16 px", "use cell=64")
    _check("n_displays", n_displays, int(n_displays) >= 2, "at least 2 displays", "use n_displays=120")
    _check("n_subjects", n_subjects, int(n_subjects) >= 1, "at least 1 subject", "use n_subjects=6")
    _check("max_fixations", max_fixations, int(max_fixations) >= 2, "an integer >= 2", "use max_fixations=20")
    for name, value in (("p_detect", p_detect), ("p_verify", p_verify), ("p_refixate", p_refixate), ("ior", ior)):
        _check(name, value, 0 <= value <= 1, "a probability in [0, 1]", f"set {name} in [0, 1]")
    _check("similarity_weights", similarity_weights, len(similarity_weights) == 3 and min(similarity_weights) >= 0
           and sum(similarity_weights) > 0, "3 non-negative weights (0, 1, 2 shared features)", "use (0.45, 0.35, 0.2)")
    cell, n_objects = int(cell), rows * cols
    width, height = cols * cell, rows * cell
    boxes = np.array([[c * cell, r * cell, (c + 1) * cell, (r + 1) * cell] for r in range(rows) for c in range(cols)],
                     float)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    root_seq = np.random.SeedSequence(int(seed))
    display_seed, subject_seed, search_seed = root_seq.spawn(3)
    subject_rng = np.random.default_rng(subject_seed)
    subjects = {f"sim{s + 1:02d}": dict(beta=beta * subject_rng.uniform(0.8, 1.2), gamma=gamma * subject_rng.uniform(0.8, 1.2),
                                       ior=ior, noise=noise, p_detect=p_detect, p_verify=p_verify,
                                       p_refixate=p_refixate, max_fixations=int(max_fixations))
                for s in range(int(n_subjects))}
    rng, search_rng = np.random.default_rng(display_seed), np.random.default_rng(search_seed)
    ids, images, trials, rows_out, trial_rows = [], [], SearchTrials(), [], []
    truth = {"target_object": {}, "similarity": {}, "object_sequences": {}, "found": {}, "searcher": subjects}
    for d in range(int(n_displays)):
        sid = f"d{d:04d}"
        target_features, features, slot, similarity = _display(rng, n_objects, similarity_weights)
        canvas = np.zeros((height, width, 3), np.uint8)
        canvas[:] = BACKGROUND
        for k in range(n_objects):
            draw_object(canvas, boxes[k], *features[k])
        for r in range(1, rows + 1):  # shelf boards under each row
            canvas[max(0, r * cell - 3): r * cell] = SHELF
        target_image = np.zeros((cell, cell, 3), np.uint8)
        draw_object(target_image, (0, 0, cell, cell), *target_features)
        mask = np.zeros((height, width), bool)
        x0, y0, x1, y1 = boxes[slot].astype(int)
        mask[y0:y1, x0:x1] = True
        trials.append(SearchTrial(canvas, target_image, mask, n_objects, "object_array", sid, centres.copy(),
                                  meta={"target_features": target_features.tolist()}))
        ids.append(sid)
        images.append(canvas)
        truth["target_object"][sid], truth["similarity"][sid] = slot, similarity
        for subject, params in subjects.items():
            sequence, found = search(search_rng, similarity, slot, centres, cell, params)
            truth["object_sequences"][(sid, subject)] = np.asarray(sequence)
            truth["found"][(sid, subject)] = found
            xy = centres[sequence] + search_rng.normal(0, 0.12 * cell, (len(sequence), 2))
            xy = np.clip(xy, boxes[sequence, :2] + 0.5, boxes[sequence, 2:] - 0.5)
            duration = 80 + search_rng.gamma(4.0, 50.0, len(sequence))
            onset = np.concatenate([[0.0], np.cumsum(duration)[:-1]])
            rows_out += [(sid, subject, 0, i, xy[i, 0], xy[i, 1], onset[i], duration[i]) for i in range(len(sequence))]
            trial_rows.append((sid, subject, 0, "search", "object_array", x0, y0, x1 - x0, y1 - y0, slot, found,
                               PX_PER_DEG))
    table = pd.DataFrame(rows_out, columns=["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"])
    trials_table = pd.DataFrame(trial_rows, columns=["stimulus_id", "subject", "trial", "task", "condition", "target_x",
                                                     "target_y", "target_w", "target_h", "target_object", "found",
                                                     "px_per_deg"])
    geometry = ScreenGeometry.from_px_per_deg(width, height, PX_PER_DEG, source="simulated display (2 deg slots)")
    fixations = Fixations(table, trials=trials_table, image_sizes={sid: (width, height) for sid in ids}, kind="eye",
                          source="object_search_sim", geometry=geometry)
    return Dataset("object_search_sim", Stimuli.from_arrays(ids, images), CARD, fixations=fixations, trials=trials,
                   splits=split_by_image(ids, test_fraction, seed), ground_truth=truth,
                   meta={"objects": {sid: boxes.copy() for sid in ids}, "grid": (rows, cols), "cell": cell})


def write_example(root) -> dict:
    """A small, fast configuration of the simulator (it reads and writes no files)."""
    return {"n_displays": 6, "n_subjects": 2, "grid": (2, 4), "cell": 32}


DATASETS.register("object_search_sim", load, example=write_example, description=__doc__)
