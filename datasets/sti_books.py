"""STI Amazon book covers: visual search for one book cover in a collage (Sattar et al. 2015; DFKI STI release).

The collages show 84 Amazon book covers (14 columns x 6 rows); six
participants searched each collage for a target cover.  This loader reads the
layout of DFKI's Search Target Inference release
(github.com/DFKI-Interactive-Machine-Learning/STI-Dataset), which OAT
(Fang et al., ECCV 2024) calls the "Amazon book cover dataset"::

    root/AmazonCovers/Amazon.json          (root/Amazon.json is accepted too)
    root/AmazonCovers/images/1.jpg ... 100.jpg

Schema of ``Amazon.json`` (from the release README and its JSON file)::

    {"1.jpg": {"fixations": {"1": [[x, y], ...], "2": [...], ...},     # per participant, pixels
               "ground_truth": [{"xmin": .., "ymin": .., "xmax": .., "ymax": ..}],   # the target box
               "size": {"width": 2559, "height": 1600},
               "target": "target_0.jpg"},                                # the searched cover (image file)
     ...}

What we found and what we assume:

- Fixations are positions only: the release has **no durations and no
  timestamps**.  Durations are 0 ms and ``t_onset`` is 0 for every fixation
  (stated in ``dataset.meta["timing"]``); duration-based metrics are
  meaningless on this dataset.
- ``ground_truth`` is a list of one box in the release; a single dict is
  accepted too.  Boxes are in image pixels, origin top-left (assumed, as the
  fixations).
- The object boxes are not in the JSON.  OAT cut the covers from binary
  masks shipped with its own copy; we assume the regular ``grid`` of covers
  (default 6 rows x 14 columns) over the image, stored in
  ``meta["objects"]`` (stimulus_id -> (84, 4) boxes), and check that the
  target box overlaps one cell by IoU >= 0.3, or warn.
- The target image file (``target``) is looked for in ``images/``,
  ``targets/`` and ``target/``; when absent, ``meta["target_images"]`` has no entry.
- ``size`` must equal the image file's size (else a DataFormatError).

Licence: the data may be used for **non-commercial scientific purposes only**
(terms of Sattar et al.); book covers are the publishers' property.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import Dataset, DatasetCard, Fixations, ScreenGeometry, Stimuli
from cogmodels.datasets import DATASETS, shared_data_root
from cogmodels.datasets.gaze_table import image_sizes, split_by_image
from cogmodels.errors import DataFormatError, format_problem

logger = logging.getLogger(__name__)
JSON_NAMES = (Path("AmazonCovers") / "Amazon.json", Path("Amazon.json"))
BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")

CARD = DatasetCard(
    name="sti_books",
    source=("https://github.com/DFKI-Interactive-Machine-Learning/STI-Dataset (annotations); images: the "
            "package linked from that README; original study: perceptualui.org/research/datasets/SearchTargets"),
    licence="non-commercial scientific use only (Sattar et al. 2015 terms); book covers (c) their publishers",
    citation=("Sattar, H., Müller, S., Fritz, M., & Bulling, A. (2015). Prediction of search targets from fixations "
              "in open-world settings. CVPR, 981-990. Stauden, S., Barz, M., & Sonntag, D. (2018). Visual search "
              "target inference using bag of deep visual words. KI 2018, 297-304."),
    expected_files=("AmazonCovers/Amazon.json", "AmazonCovers/images/1.jpg ... 100.jpg"),
    how_to_get=("git clone https://github.com/DFKI-Interactive-Machine-Learning/STI-Dataset, download the image "
                "package linked in its README into AmazonCovers/images/, and pass the clone as root"),
    terms="Non-commercial scientific use only; cite the publications above.",
)


def load(root=None, *, grid=(6, 14), clip: bool = False, test_fraction: float = 0.2, seed: int = 0,
         px_per_deg: float | None = None) -> Dataset:
    """Load the Amazon book-cover collages (see the module docstring).

    Parameters
    ----------
    root : str or Path, optional
        The STI-Dataset folder; default ``shared_data_root() / "sti_books"``.
    grid : (n_rows, n_cols)
        Assumed layout of the covers (object boxes in ``meta["objects"]``).
    clip : bool
        Clip fixations outside the image (with a warning) instead of raising.
    test_fraction, seed : float, int
        Seeded split by collage.
    px_per_deg : float, optional
        Screen geometry (not in the release).
    """
    root = Path(root) if root is not None else shared_data_root() / "sti_books"
    path = next((root / name for name in JSON_NAMES if (root / name).is_file()), None)
    if path is None:
        raise DataFormatError(format_problem(str(root), f"one of {[str(n) for n in JSON_NAMES]}", "no such file",
                                             CARD.how_to_get))
    try:
        records = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(format_problem(str(path), "a JSON object", f"unreadable JSON ({err})",
                                             "re-download Amazon.json")) from err
    if not isinstance(records, dict) or not records:
        raise DataFormatError(format_problem(str(path), "an object {image name: record}",
                                             f"{type(records).__name__} of length {len(records)}",
                                             "use the release's Amazon.json"))
    images_dir = path.parent / "images"
    rows, trial_rows, paths, targets, objects = [], [], {}, {}, {}
    for name in sorted(records, key=_natural):
        record, where = records[name], f"{path}: {name!r}"
        sid = Path(name).stem
        image_path = images_dir / name
        if not image_path.is_file():
            raise DataFormatError(format_problem(str(image_path), "the collage image", "no such file",
                                                 CARD.how_to_get))
        paths[sid] = image_path
        size = _size(record, where)
        box = _target_box(record, where)
        subjects = _field(record, "fixations", where, dict)
        for subject in sorted(subjects, key=_natural):
            xy = np.asarray(subjects[subject], dtype=float)
            if xy.size == 0:
                continue
            if xy.ndim != 2 or xy.shape[1] != 2:
                raise DataFormatError(format_problem(f"{where}.fixations[{subject!r}]", "a list of [x, y] pairs",
                                                     f"shape {xy.shape}", "repair or re-download Amazon.json"))
            rows += [(sid, str(subject), 0, i, xy[i, 0], xy[i, 1], 0.0, 0.0) for i in range(len(xy))]
            trial_rows.append((sid, str(subject), 0, "search", box[0], box[1], box[2] - box[0], box[3] - box[1],
                               str(record.get("target", ""))))
        objects[sid] = _grid_boxes(size, grid)
        _check_target_cell(box, objects[sid], where)
        target_file = next((d / str(record.get("target", "")) for d in (images_dir, path.parent / "targets",
                            path.parent / "target") if record.get("target") and (d / str(record["target"])).is_file()),
                           None)
        if target_file is not None:
            targets[sid] = target_file
        records[name]["_size"] = size
    sizes = image_sizes(paths)
    for name, record in records.items():
        sid = Path(name).stem
        if tuple(sizes[sid]) != tuple(record["_size"]):
            raise DataFormatError(format_problem(f"{path}: {name!r}.size", f"the image file's size {sizes[sid]}",
                                                 f"{record['_size']}", "check that images/ holds this release's collages"))
    table = pd.DataFrame(rows, columns=["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"])
    trials = pd.DataFrame(trial_rows, columns=["stimulus_id", "subject", "trial", "task", "target_x", "target_y",
                                               "target_w", "target_h", "target_file"])
    width, height = next(iter(sizes.values()))
    geometry = None
    if px_per_deg is not None:
        geometry = ScreenGeometry.from_px_per_deg(width, height, px_per_deg, source="collage; px/deg given to the loader")
    fixations = Fixations(table, trials=trials, image_sizes=sizes, kind="eye", clip=clip, source=str(path),
                          geometry=geometry)
    ids = sorted(paths, key=_natural)
    return Dataset("sti_books", Stimuli.from_paths(ids, [paths[i] for i in ids]), CARD, fixations=fixations,
                   splits=split_by_image(ids, test_fraction, seed),
                   meta={"objects": objects, "grid": tuple(int(v) for v in grid), "target_images": targets,
                         "timing": "no durations or timestamps in the release: duration 0 ms, t_onset 0"})


def _natural(text):
    stem = Path(str(text)).stem
    return (0, int(stem), "") if stem.isdigit() else (1, 0, str(text))


def _field(record, name, where, kind):
    if not isinstance(record, dict) or name not in record:
        found = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise DataFormatError(format_problem(where, f"a record with field {name!r}", f"fields {found}",
                                             "use the release's Amazon.json (fields fixations, ground_truth, size, "
                                             "target)"))
    value = record[name]
    if not isinstance(value, kind):
        raise DataFormatError(format_problem(f"{where}.{name}", kind.__name__, type(value).__name__,
                                             "use the release's Amazon.json"))
    return value


def _size(record, where) -> tuple[int, int]:
    size = _field(record, "size", where, dict)
    try:
        return int(size["width"]), int(size["height"])
    except (KeyError, TypeError, ValueError):
        raise DataFormatError(format_problem(f"{where}.size", "{'width': int, 'height': int}", repr(size),
                                             "repair or re-download Amazon.json")) from None


def _target_box(record, where) -> np.ndarray:
    truth = record.get("ground_truth") if isinstance(record, dict) else None
    boxes = [truth] if isinstance(truth, dict) else truth
    if not isinstance(boxes, list) or len(boxes) != 1 or not isinstance(boxes[0], dict) \
            or not set(BOX_KEYS) <= set(boxes[0]):
        raise DataFormatError(format_problem(f"{where}.ground_truth", f"one target box with keys {BOX_KEYS}",
                                             repr(truth)[:120], "repair or re-download Amazon.json"))
    box = np.array([float(boxes[0][k]) for k in BOX_KEYS])
    if not (box[2] > box[0] and box[3] > box[1]):
        raise DataFormatError(format_problem(f"{where}.ground_truth", "xmin < xmax and ymin < ymax",
                                             repr(boxes[0]), "repair the annotation"))
    return box


def _grid_boxes(size, grid) -> np.ndarray:
    from cogmodels.scanpaths.oat_objects import grid_objects

    return grid_objects(size, grid).boxes


def _check_target_cell(box, boxes, where) -> None:
    from cogmodels.scanpaths.oat_objects import box_iou

    iou = box_iou(box, boxes).max()
    if iou < 0.3:
        warnings.warn(f"{where}: the target box overlaps no cover of the assumed grid by IoU >= 0.3 (best {iou:.2f}); "
                      f"pass the collage's grid (grid=(n_rows, n_cols))", stacklevel=3)


def write_example(root) -> dict:
    """Write a tiny copy of the release layout (2 collages of 6 x 14 covers, 3 participants) under ``root``."""
    from PIL import Image

    folder = Path(root) / "AmazonCovers"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    records = {}
    for k in (1, 2):
        cells = rng.integers(0, 255, (6, 14, 3), dtype=np.uint8)
        Image.fromarray(np.kron(cells, np.ones((10, 10, 1), np.uint8))).save(folder / "images" / f"{k}.jpg")
        Image.fromarray(np.full((10, 10, 3), 128, np.uint8)).save(folder / "images" / f"target_{k}.jpg")
        row, col = int(rng.integers(6)), int(rng.integers(14))
        records[f"{k}.jpg"] = {
            "fixations": {str(s): [[float(x), float(y)] for x, y in rng.uniform([0, 0], [140, 60], (5 + s, 2))]
                          for s in (1, 2, 3)},
            "ground_truth": [{"xmin": col * 10, "ymin": row * 10, "xmax": col * 10 + 10, "ymax": row * 10 + 10}],
            "size": {"height": 60, "width": 140}, "target": f"target_{k}.jpg"}
    (folder / "Amazon.json").write_text(json.dumps(records))
    return {"root": root, "test_fraction": 0.5}


DATASETS.register("sti_books", load, example=write_example, description=__doc__)
