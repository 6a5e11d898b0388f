"""COCO-Search18: goal-directed search fixations (Chen et al., Sci. Rep. 2021).

10 subjects searched for one of 18 target categories in 6,202 COCO images,
target-present (TP) and target-absent (TA).  Images were resized to
1680 x 1050 with zero padding (aspect ratio kept) and shown full screen, so
image pixels are screen pixels.

Release layout (https://sites.google.com/view/cocosearch/)::

    root/coco_search18_fixations_TP_train_split1.json       (and _validation_, TA_, ...)
    root/images/<task>/<name>                               e.g. images/bottle/000000123.jpg

Each JSON file is a list of trials with the fields
``name`` (image file), ``subject``, ``task`` (target category),
``condition`` ("present"/"absent"), ``bbox`` ([x, y, w, h] of the target,
pixels), ``X``, ``Y`` (fixation positions, pixels, including the initial
centre fixation), ``T`` (fixation durations, ms), ``length`` (number of
fixations), ``correct`` (1/0), ``RT`` (ms) and ``split`` ("train"/"valid").

Mapping.  Stimulus ids are ``<task>/<image stem>`` (an image can appear in
several tasks' folders).  The trials table has, per (stimulus, subject,
trial): task (the target category), condition, the target box
(target_x, target_y, target_w, target_h; NaN when the record has none, as in
target-absent trials), correct, rt_ms, split, and the screen geometry
(screen_width_px 1680, screen_height_px 1050, and px_per_deg when given: the
release does not contain the viewing distance).  ``fixations.geometry`` is
the 1680 x 1050 screen with ``px_per_deg`` when given, else with no
angular resolution (metrics that need degrees then ask for it).  ``t_onset`` is the sum of
the preceding durations (the release has durations only).

Splits.  The records' own ``split`` field ("train", "valid", ...); without
it, a seeded split by image (see :func:`cogmodels.datasets.gaze_table.split_by_image`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import Dataset, DatasetCard, Fixations, ScreenGeometry, Stimuli
from cogmodels.datasets import DATASETS, shared_data_root
from cogmodels.datasets.gaze_table import drop_missing_images, image_sizes, split_by_image
from cogmodels.errors import DataFormatError, format_problem

logger = logging.getLogger(__name__)

SCREEN_SIZE = (1680, 1050)
REQUIRED_FIELDS = ("name", "subject", "task", "X", "Y", "T")
FILE_PATTERN = "coco_search18_fixations_*.json"

CARD = DatasetCard(
    name="coco_search18",
    source="https://sites.google.com/view/cocosearch/ (COCO-Search18, Stony Brook University)",
    licence="CC BY 4.0 (fixations); COCO images under their own Flickr licences",
    citation=("Chen, Y., Yang, Z., Ahn, S., Samaras, D., Hoai, M., & Zelinsky, G. (2021). COCO-Search18 fixation "
              "dataset for predicting goal-directed attention control. Scientific Reports, 11, 8776."),
    expected_files=("coco_search18_fixations_TP_train_split1.json (and the other *_fixations_*.json files)",
                    "images/<task>/<name>.jpg (1680 x 1050)"),
    how_to_get=("Download the fixation JSON files and COCOSearch18-images-TP.zip / -TA.zip from the project page; "
                "put the JSON files in root and unzip the images into root/images."),
)


def load(root=None, *, files=None, images_dir: str = "images", clip: bool = False, keep_missing: bool = False,
         px_per_deg: float | None = None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Load COCO-Search18 fixations, trials and images.

    Parameters
    ----------
    root : str or Path, optional
        Dataset folder; default ``shared_data_root() / "coco_search18"``.
    files : list of str, optional
        JSON files relative to root; default every ``coco_search18_fixations_*.json``.
    images_dir : str
        Image folder relative to root, holding ``<task>/<name>``.
    clip : bool
        Clip fixations outside the 1680 x 1050 image (with a warning) instead of raising.
    keep_missing : bool
        Keep fixations on images missing from the images folder.
    px_per_deg : float, optional
        Pixels per degree, stored in ``fixations.geometry`` (and the trials table);
        None: unknown (not in the release).
    test_fraction, seed : float, int
        Seeded split by image, used only when the records have no ``split`` field.

    Returns
    -------
    Dataset
        fixations (kind "eye", ``geometry`` the 1680 x 1050 screen) with the trials table;
        ``meta["missing_stimuli"]``.
    """
    root = Path(root) if root is not None else shared_data_root() / "coco_search18"
    paths = [root / f for f in files] if files else sorted(root.glob(FILE_PATTERN))
    if not paths:
        raise DataFormatError(format_problem(str(root), f"fixation files {FILE_PATTERN}", "none",
                                             CARD.how_to_get))
    table, trials = records_to_tables([(p, r) for p in paths for r in read_records(p)])
    trials["screen_width_px"], trials["screen_height_px"] = SCREEN_SIZE
    if px_per_deg is not None:
        trials["px_per_deg"] = float(px_per_deg)
    folder = root / images_dir
    if not folder.is_dir():
        raise DataFormatError(format_problem(str(folder), "the folder of search images (<task>/<name>)",
                                             "no such folder", CARD.how_to_get))
    image_of = dict(zip(trials["stimulus_id"], trials["image_file"]))
    found = {sid: folder / name for sid, name in image_of.items() if (folder / name).is_file()}
    table, missing = drop_missing_images(table, found, keep_missing, where=str(root))
    if not keep_missing:
        trials = trials[trials["stimulus_id"].isin(found.keys())].reset_index(drop=True)
    fixations = Fixations(table, trials=trials, image_sizes=image_sizes(found), kind="eye", clip=clip,
                          source=", ".join(p.name for p in paths),
                          geometry=ScreenGeometry(*SCREEN_SIZE, px_per_deg=px_per_deg, source=(
                              "COCO-Search18 screen (images shown full screen); px/deg " +
                              ("given to the loader" if px_per_deg is not None else "not in the release"))))
    ids = sorted(found)
    logger.info("coco_search18: %d fixations in %d trials on %d images from %d file(s)", len(table), len(trials),
                len(ids), len(paths))
    stimuli = Stimuli.from_paths(ids, [found[i] for i in ids])
    return Dataset("coco_search18", stimuli, CARD, fixations=fixations,
                   splits=_splits(trials, ids, test_fraction, seed), meta=dict(missing_stimuli=missing))


def read_records(path: Path) -> list[dict]:
    """The list of trial records of one JSON file, checked for the required fields."""
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "a COCO-Search18 fixation JSON file", "no such file",
                                             CARD.how_to_get))
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(format_problem(str(path), "valid JSON", f"a parse error ({err})",
                                             "re-download the file")) from err
    if not isinstance(records, list):
        raise DataFormatError(format_problem(str(path), "a JSON list of trial records", type(records).__name__,
                                             "use the release's fixation files"))
    for i, record in enumerate(records):
        missing = [f for f in REQUIRED_FIELDS if not isinstance(record, dict) or f not in record]
        if missing:
            raise DataFormatError(format_problem(f"{path}[{i}]", f"a record with fields {list(REQUIRED_FIELDS)}",
                                                 f"no field(s) {missing}", "use the release's fixation files"))
    return records


def records_to_tables(records: list[tuple[Path, dict]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fixation table and trials table from (file, record) pairs."""
    fixation_rows, trial_rows, trial_count = [], [], {}
    for i, (path, record) in enumerate(records):
        where = f"{path.name}[{i}]"
        x, y, duration = (_vector(record[k], f"{where}.{k}") for k in ("X", "Y", "T"))
        if not len(x) == len(y) == len(duration) or int(record.get("length", len(x))) != len(x):
            raise DataFormatError(format_problem(where, "X, Y, T and length of the same size",
                                                 f"{len(x)}, {len(y)}, {len(duration)}, length={record.get('length')}",
                                                 "repair or re-download the file"))
        task, name = str(record["task"]), str(record["name"])
        stimulus_id, subject = f"{task}/{Path(name).stem}", str(record["subject"])
        trial = trial_count.get((stimulus_id, subject), 0)
        trial_count[(stimulus_id, subject)] = trial + 1
        onsets = np.concatenate([[0.0], np.cumsum(duration)[:-1]])
        fixation_rows += [(stimulus_id, subject, trial, k, x[k], y[k], onsets[k], duration[k]) for k in range(len(x))]
        trial_rows.append(dict(stimulus_id=stimulus_id, subject=subject, trial=trial, task=task,
                               condition=record.get("condition"), **_target_box(record.get("bbox"), where),
                               correct=record.get("correct"), rt_ms=record.get("RT"), split=record.get("split"),
                               image_file=f"{task}/{name}", source_file=path.name))
    columns = ["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"]
    return pd.DataFrame(fixation_rows, columns=columns), pd.DataFrame(trial_rows)


def _vector(value, where: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise DataFormatError(format_problem(where, "a list of numbers", repr(value)[:60],
                                             "repair or re-download the file")) from None
    if array.ndim != 1:
        raise DataFormatError(format_problem(where, "a flat list of numbers", f"shape {array.shape}",
                                             "repair or re-download the file"))
    return array


def _target_box(bbox, where: str) -> dict:
    if bbox is None or (isinstance(bbox, (list, tuple)) and len(bbox) == 0):
        return dict(target_x=np.nan, target_y=np.nan, target_w=np.nan, target_h=np.nan)
    box = _vector(bbox, f"{where}.bbox")
    if len(box) != 4 or (box[2:] < 0).any():
        raise DataFormatError(format_problem(f"{where}.bbox", "[x, y, w, h] with w, h >= 0", repr(list(box)),
                                             "repair or re-download the file"))
    return dict(target_x=box[0], target_y=box[1], target_w=box[2], target_h=box[3])


def _splits(trials: pd.DataFrame, ids: list[str], test_fraction: float, seed: int) -> dict:
    """The records' own split per image; a seeded split when they have none."""
    known = trials[trials["stimulus_id"].isin(ids)]
    if known["split"].isna().all():
        return split_by_image(ids, test_fraction, seed)
    labels = known.dropna(subset=["split"]).groupby("stimulus_id")["split"].unique()
    conflicting = labels[labels.map(len) > 1]
    if len(conflicting):
        raise DataFormatError(format_problem("split", "one split per image",
                                             f"{len(conflicting)} images in several splits, e.g. "
                                             f"{conflicting.index[0]!r}: {list(conflicting.iloc[0])}",
                                             "load the files of one split version (split1 or split2) at a time"))
    unlabelled = sorted(set(ids) - set(labels.index))
    if unlabelled:
        raise DataFormatError(format_problem("split", "a split label on the records of every image, or on none",
                                             f"{len(unlabelled)} images without one, e.g. {unlabelled[:3]}",
                                             "label them, or drop the split field to get a seeded split by image"))
    splits: dict[str, list[str]] = {}
    for sid, names in labels.items():
        splits.setdefault(str(names[0]), []).append(sid)
    return {name: sorted(members) for name, members in splits.items()}


def write_example(root: Path) -> dict:
    """Write a tiny COCO-Search18 copy in the release layout under ``root``: one fixation JSON file with
    4 trials (2 targets x 2 subjects, target present and absent) and their images (168 x 105, a tenth of the
    screen).  Returns the options of :func:`load`."""
    from cogmodels.datasets.gaze_table import write_example_images

    rng = np.random.default_rng(1)
    records = []
    for task, name, bbox, split in (("bottle", "000001.jpg", [10, 20, 30, 25], "train"),
                                    ("car", "000002.jpg", None, "test")):
        write_example_images(root / "images" / task, [name], size=(168, 105))
        for subject in (1, 2):
            durations = rng.integers(80, 400, 3).tolist()
            records.append({"name": name, "subject": subject, "task": task,
                            "condition": "present" if bbox else "absent", "bbox": bbox,
                            "X": rng.uniform(0, 168, 3).round(1).tolist(),
                            "Y": rng.uniform(0, 105, 3).round(1).tolist(),
                            "T": durations, "length": 3, "correct": 1, "RT": sum(durations), "split": split})
    (root / "coco_search18_fixations_TP_train_split1.json").write_text(json.dumps(records))
    return {"root": root}


DATASETS.register("coco_search18", load, example=write_example, description=__doc__)
