"""Six classic visual-search-asymmetry paradigms, drawn procedurally at 30 px/deg with exact target masks.

The displays of Gupta et al. (NeurIPS 2021), who compared eccNET with humans on
six asymmetry experiments; each experiment has two conditions that swap the
roles of target and distractors, and humans find one of the two much faster:

===========================  ==================================  ==========  ==========  ============
paradigm                     conditions (target among ...)       display px  target px   set sizes
===========================  ==================================  ==========  ==========  ============
curvature                    curve among lines / line among      339         48          8, 16, 32
                             curves
lighting                     top-lit among bottom-lit discs /    198         31          1, 6, 12
                             left-lit among right-lit
intersection                 crossing (+) among non-crossing /   615         177         3, 6, 9
                             non-crossing among crossing
t_vs_l                       T among Ls / L among Ts             615         177         3, 6, 9
orientation_homogeneous      vertical among 20 deg / 20 deg      339         69          1, 4, 8, 12
                             among vertical
orientation_heterogeneous    vertical among -20 and +20 deg /    339         69          1, 4, 8, 12
                             20 deg among 0 and 40 deg
===========================  ==================================  ==========  ==========  ============

Set sizes and trials per condition follow the shipped reference
(:mod:`cogmodels.datasets.search_asymmetry_reference`): 1,272 trials in all,
spread evenly over the set sizes.  Items sit on the smallest square grid that
holds the largest set size, one per cell, jittered uniformly within their
cell so they never overlap.  Strokes are black on white (lighting: shaded
discs on mid-grey); every item is rasterised as a binary mask (no
antialiasing), so the target mask is exactly the target's pixels.  The target
image of a trial is the target item as displayed (same rotation), centred on
a ``target_px`` canvas of the background colour.

Orientation is measured from vertical, clockwise positive (image x right, y
down).  T, L, crossing and non-crossing items take a random rotation by a
multiple of 90 degrees; curves bulge left or right at random.  The shapes of
the intersection paradigm (our reading of Wolfe & DiMase 2003): crossing = a
plus sign; non-crossing = the same two bars, the horizontal one moved beside
the vertical one with a gap of two stroke widths.  Heterogeneous orientation
distractors: for a vertical target, a random mix of -20 and +20 deg; for a
20-deg target, a mix of 0 and 40 deg (the target is then not categorically
unique, Wolfe et al. 1992).

Determinism: trial k of (paradigm, condition, set size) draws from
``numpy.random.default_rng([seed, paradigm, condition, set size, k])``, so a
trial is the same whichever subset is generated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cogmodels.data import Dataset, DatasetCard, SearchTrial, SearchTrials, Stimuli
from cogmodels.datasets import DATASETS
from cogmodels.datasets.search_asymmetry_reference import REFERENCE
from cogmodels.errors import ConfigError, format_problem

PX_PER_DEG = 30.0
WHITE, GREY, BLACK = 255, 128, 0


@dataclass(frozen=True)
class Paradigm:
    """Drawing parameters of one paradigm (sizes in pixels at 30 px/deg)."""

    name: str
    conditions: tuple  # (condition, target kind, distractor kinds)
    display_px: int
    target_px: int
    item_px: int
    stroke_px: int
    background: int


PARADIGMS = {
    "curvature": Paradigm("curvature", (("curve_among_lines", "curve", ("line",)),
                                        ("line_among_curves", "line", ("curve",))), 339, 48, 36, 4, WHITE),
    "lighting": Paradigm("lighting", (("top_down", "lit_top", ("lit_bottom",)),
                                      ("left_right", "lit_left", ("lit_right",))), 198, 31, 26, 0, GREY),
    "intersection": Paradigm("intersection", (("crossing_target", "cross", ("noncross",)),
                                              ("noncrossing_target", "noncross", ("cross",))), 615, 177, 120, 12,
                             WHITE),
    "t_vs_l": Paradigm("t_vs_l", (("t_target", "T", ("L",)), ("l_target", "L", ("T",))), 615, 177, 120, 12, WHITE),
    "orientation_homogeneous": Paradigm("orientation_homogeneous", (
        ("target_vertical", "bar0", ("bar20",)), ("target_tilted20", "bar20", ("bar0",))), 339, 69, 54, 8, WHITE),
    "orientation_heterogeneous": Paradigm("orientation_heterogeneous", (
        ("target_vertical", "bar0", ("bar-20", "bar20")), ("target_tilted20", "bar20", ("bar0", "bar40"))),
        339, 69, 54, 8, WHITE),
}

CARD = DatasetCard(
    name="search_asymmetry",
    source="procedural generator (this module) after the displays of Gupta et al. 2021 and the original studies",
    licence="MIT (generated stimuli); human reference values are published means (see citation)",
    citation=("Gupta, S. K., Zhang, M., Wu, C., Wolfe, J. M., & Kreiman, G. (2021). Visual search asymmetry: deep "
              "nets and humans share similar inherent biases. NeurIPS 34. Human RTs: Wolfe et al. 1992 (curvature, "
              "orientation); Kleffner & Ramachandran 1992 (lighting); Wolfe & DiMase 2003 (intersection, T vs L)."),
    expected_files=(),
    how_to_get="nothing to download: displays are generated; the human reference ships with the package "
               "(cogmodels.datasets.search_asymmetry_reference)",
    simulated=True,
)


# -- items ------------------------------------------------------------------------------
def _rotate(points, angle_deg: float) -> np.ndarray:
    """Rotate (x, y) points clockwise on screen (y down) by ``angle_deg``."""
    theta = math.radians(angle_deg)
    points = np.asarray(points, dtype=np.float64)
    x, y = points[..., 0], points[..., 1]
    return np.stack([x * math.cos(theta) - y * math.sin(theta), x * math.sin(theta) + y * math.cos(theta)], -1)


def _strokes(size: int, segments, width: float) -> np.ndarray:
    """Binary mask (size, size) of thick segments given as ((x0, y0), (x1, y1)) relative to the patch centre."""
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) - centre
    mask = np.zeros((size, size), bool)
    for (x0, y0), (x1, y1) in segments:
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        mask |= (xx - x0 - t * dx) ** 2 + (yy - y0 - t * dy) ** 2 <= (width / 2.0) ** 2
    return mask


def _bars(kind: str, half: float, width: float, rng) -> list:
    """Segments of a stroke item (before any rotation) and its rotation in degrees."""
    if kind.startswith("bar"):
        return [((0.0, -half), (0.0, half))], float(kind[3:])
    if kind == "line":
        return [((0.0, -half), (0.0, half))], 0.0
    if kind == "curve":
        side = 1.0 if rng.random() < 0.5 else -1.0
        t = np.linspace(-1.0, 1.0, 17)
        bulge = half / 2.0
        xs, ys = side * (bulge * (1 - t ** 2) - bulge / 2.0), t * half
        return [((xs[i], ys[i]), (xs[i + 1], ys[i + 1])) for i in range(16)], 0.0
    quarter = float(90 * rng.integers(4))
    if kind == "cross":
        return [((0.0, -half), (0.0, half)), ((-half, 0.0), (half, 0.0))], quarter
    if kind == "noncross":
        left = -half + width / 2.0
        return [((left, -half), (left, half)), ((left + 2.5 * width, 0.0), (half, 0.0))], quarter
    if kind == "T":
        return [((-half, -half), (half, -half)), ((0.0, -half), (0.0, half))], quarter
    if kind == "L":
        return [((-half, -half), (-half, half)), ((-half, half), (half, half))], quarter
    raise ValueError(kind)


def draw_item(kind: str, spec: Paradigm, rng) -> tuple[np.ndarray, np.ndarray]:
    """One item on an ``item_px`` patch.

    Returns
    -------
    mask : bool array of shape (item_px, item_px)
    value : uint8 array of shape (item_px, item_px), the item's luminance where ``mask``
    """
    size = spec.item_px
    if kind.startswith("lit_"):
        centre = (size - 1) / 2.0
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) - centre
        radius = size / 2.0
        mask = xx ** 2 + yy ** 2 <= radius ** 2
        toward = {"lit_top": -yy, "lit_bottom": yy, "lit_left": -xx, "lit_right": xx}[kind] / radius
        return mask, np.clip(np.round(GREY + 110.0 * toward), 0, 255).astype(np.uint8)
    half = (size - spec.stroke_px) / 2.0 - 1.0
    segments, angle = _bars(kind, half, spec.stroke_px, rng)
    segments = [tuple(map(tuple, _rotate(seg, angle))) for seg in segments]
    return _strokes(size, segments, spec.stroke_px), np.full((size, size), BLACK, np.uint8)


# -- displays ---------------------------------------------------------------------------
def grid_side(paradigm: str) -> int:
    """Side of the item grid: the smallest square grid holding the paradigm's largest set size."""
    return math.isqrt(max(REFERENCE["set_sizes"][paradigm]) - 1) + 1


def check_paradigm(paradigm: str) -> Paradigm:
    if paradigm not in PARADIGMS:
        raise ConfigError(format_problem("search_asymmetry.paradigms", f"names among {sorted(PARADIGMS)}",
                                         repr(paradigm), "pick paradigms from that list"))
    spec = PARADIGMS[paradigm]
    if spec.target_px > spec.display_px:
        raise ConfigError(format_problem(f"search_asymmetry.{paradigm}.target_px",
                                         f"at most the search image's {spec.display_px} px",
                                         f"a {spec.target_px}-px target", "shrink the target or enlarge the display"))
    return spec


def make_trial(paradigm: str, condition: str, set_size: int, index: int = 0, seed: int = 0,
               grid: int | None = None, spec: Paradigm | None = None) -> SearchTrial:
    """One display with its target image and exact target mask (see the module docstring).

    Parameters
    ----------
    paradigm, condition : str
        Names as in :data:`PARADIGMS` (e.g. "t_vs_l", "l_target").
    set_size : int
        Items in the display, the target included.
    index : int
        Trial number within (paradigm, condition, set size); seeds the display.
    seed : int
    grid : int, optional
        Grid side; default :func:`grid_side`.
    spec : Paradigm, optional
        Drawing parameters; default ``PARADIGMS[paradigm]``.

    Raises
    ------
    ConfigError
        Unknown paradigm or condition, a target larger than the display, items
        larger than a grid cell, or a set size the grid cannot hold.
    """
    spec = spec or check_paradigm(paradigm)
    if spec.target_px > spec.display_px:
        raise ConfigError(format_problem(f"search_asymmetry.{paradigm}.target_px",
                                         f"at most the search image's {spec.display_px} px",
                                         f"a {spec.target_px}-px target", "shrink the target or enlarge the display"))
    names = [c[0] for c in spec.conditions]
    if condition not in names:
        raise ConfigError(format_problem(f"search_asymmetry.{paradigm} condition", f"one of {names}",
                                         repr(condition), "use a condition of the reference table"))
    _, target_kind, distractor_kinds = spec.conditions[names.index(condition)]
    grid = int(grid or grid_side(paradigm))
    cell = spec.display_px / grid
    if set_size < 1 or set_size > grid * grid:
        raise ConfigError(format_problem(f"search_asymmetry.{paradigm} set size", f"1 to {grid * grid} items "
                                         f"(a {grid} x {grid} grid, one item per cell)", repr(set_size),
                                         "use a smaller set size or a larger grid"))
    if spec.item_px > cell or spec.item_px > spec.target_px:
        raise ConfigError(format_problem(f"search_asymmetry.{paradigm}.item_px",
                                         f"at most a grid cell ({cell:.1f} px) and the target image "
                                         f"({spec.target_px} px)", f"{spec.item_px} px", "draw smaller items"))
    p_index, c_index = list(PARADIGMS).index(paradigm), names.index(condition)
    rng = np.random.default_rng([int(seed), p_index, c_index, int(set_size), int(index)])
    cells = rng.choice(grid * grid, size=set_size, replace=False)
    target_slot = int(rng.integers(set_size))
    slack = int((cell - spec.item_px) // 2)
    image = np.full((spec.display_px, spec.display_px), spec.background, np.uint8)
    target_mask = np.zeros(image.shape, bool)
    centres, boxes, target_patch = [], [], None
    for slot, where in enumerate(cells):
        row, col = divmod(int(where), grid)
        jitter = rng.integers(-slack, slack + 1, size=2) if slack > 0 else np.zeros(2, int)
        x0 = int(np.clip(round((col + 0.5) * cell - spec.item_px / 2 + jitter[0]), 0, spec.display_px - spec.item_px))
        y0 = int(np.clip(round((row + 0.5) * cell - spec.item_px / 2 + jitter[1]), 0, spec.display_px - spec.item_px))
        kind = target_kind if slot == target_slot else distractor_kinds[int(rng.integers(len(distractor_kinds)))]
        mask, value = draw_item(kind, spec, rng)
        view = image[y0:y0 + spec.item_px, x0:x0 + spec.item_px]
        view[mask] = value[mask]
        if slot == target_slot:
            target_mask[y0:y0 + spec.item_px, x0:x0 + spec.item_px] = mask
            target_patch = (mask, value)
        centres.append((x0 + spec.item_px / 2.0, y0 + spec.item_px / 2.0))
        boxes.append((x0, y0, x0 + spec.item_px, y0 + spec.item_px))
    target = np.full((spec.target_px, spec.target_px), spec.background, np.uint8)
    offset = (spec.target_px - spec.item_px) // 2
    patch = target[offset:offset + spec.item_px, offset:offset + spec.item_px]
    patch[target_patch[0]] = target_patch[1][target_patch[0]]
    trial_id = f"{paradigm}/{condition}/n{set_size:02d}/{index:03d}"
    return SearchTrial(np.repeat(image[..., None], 3, axis=2), np.repeat(target[..., None], 3, axis=2), target_mask,
                       int(set_size), f"{paradigm}/{condition}", trial_id, np.asarray(centres, float),
                       meta={"paradigm": paradigm, "condition_name": condition, "grid": grid},
                       item_boxes=np.asarray(boxes, float), target_index=target_slot, px_per_deg=PX_PER_DEG)


def trial_plan(paradigms=None, trials_per_condition=None) -> list[tuple[str, str, int, int]]:
    """(paradigm, condition, set size, index) of every trial, in order.

    ``trials_per_condition`` (int, or dict paradigm -> int; default: the
    reference's) is spread over the set sizes as evenly as possible, the first
    set sizes taking any remainder.
    """
    paradigms = list(paradigms) if paradigms is not None else list(PARADIGMS)
    plan = []
    for paradigm in paradigms:
        spec = check_paradigm(paradigm)
        total = REFERENCE["paradigm_specs"][paradigm]["trials_per_condition"]
        if isinstance(trials_per_condition, dict):
            total = trials_per_condition.get(paradigm, total)
        elif trials_per_condition is not None:
            total = trials_per_condition
        if isinstance(total, bool) or int(total) != total or int(total) < 1:
            raise ConfigError(format_problem("search_asymmetry.trials_per_condition", "a positive integer",
                                             repr(total), "e.g. trials_per_condition=4"))
        sizes = REFERENCE["set_sizes"][paradigm]
        per_size = [int(total) // len(sizes) + (i < int(total) % len(sizes)) for i in range(len(sizes))]
        for condition, _, _ in spec.conditions:
            for set_size, count in zip(sizes, per_size):
                plan += [(paradigm, condition, set_size, k) for k in range(count)]
    return plan


def load(root=None, paradigms=None, trials_per_condition=None, seed: int = 0) -> Dataset:
    """Generate the displays.

    Parameters
    ----------
    root : ignored
        Nothing is read or written (accepted for the uniform loader signature).
    paradigms : list of str, optional
        Subset of :data:`PARADIGMS`; default all six.
    trials_per_condition : int or dict, optional
        Default: the reference's (90, 90, 108, 108, 120, 120: 1,272 trials).
    seed : int

    Returns
    -------
    Dataset
        ``trials`` (SearchTrials, each with its target image, exact target mask,
        item centres and boxes, px_per_deg 30), ``stimuli`` (the search images,
        ids = trial ids), ``meta["reference"]`` (the human reference table) and
        ``meta["px_per_deg"]``.
    """
    trials = SearchTrials(make_trial(p, c, s, k, seed) for p, c, s, k in trial_plan(paradigms, trials_per_condition))
    ids = [t.id for t in trials]
    return Dataset(name="search_asymmetry", stimuli=Stimuli.from_arrays(ids, [t.search_image for t in trials]),
                   card=CARD, trials=trials, splits={"test": ids}, meta={"reference": REFERENCE, "px_per_deg": PX_PER_DEG,
                                                   "paradigms": list(paradigms or PARADIGMS), "seed": int(seed)})


def write_example(root) -> dict:
    """A small, fast configuration (the generator reads no files)."""
    return {"root": root, "paradigms": ["lighting"], "trials_per_condition": 3}


DATASETS.register("search_asymmetry", load, example=write_example, description=__doc__)
