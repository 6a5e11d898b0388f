"""Brain responses from a plain folder: images, a response matrix and a channel table.

A generic layout for any image-evoked brain data set (fMRI, averaged SEEG, ...)::

    root/images/              image files (png, jpg, ...); stimulus ids are the file stems
    root/responses.npy        (n_stimuli, n_channels) float
    root/channels.tsv         columns id, hemisphere, rois (';'-separated), optional vertex, x, y, z, ...
    root/repeats.npy          optional (n_stimuli, n_repeats, n_channels) single trials, NaN = missing
    root/splits.json          optional {"train": [ids], "test": [ids], ...}
    root/stimulus_ids.txt     optional, one id per line: the stimulus of each response row

Without ``stimulus_ids.txt`` the rows follow the sorted stems of ``images/``.
Float responses and repeats are kept as float32 (the BrainResponses dtype).
Without ``splits.json`` a seeded ``train`` / ``test`` split is made (``test_fraction``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import BrainResponses, Dataset, DatasetCard, Stimuli
from cogmodels.data.brain import drop_nan_channels as _drop_nan_channels
from cogmodels.data.checks import check_splits
from cogmodels.datasets import DATASETS
from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
HEMISPHERE_VALUES = ("lh", "rh", "")
LAYOUT = ("images/, responses.npy (n_stimuli, n_channels), channels.tsv (id, hemisphere, rois), "
          "optional repeats.npy, splits.json, stimulus_ids.txt")

CARD = DatasetCard(
    name="brain_folder",
    source="a local folder in the brain_folder layout (your own data)",
    licence="that of your data",
    citation="cite the data set you load",
    expected_files=("images/<id>.<png|jpg|...>", "responses.npy", "channels.tsv", "repeats.npy (optional)",
                    "splits.json (optional)", "stimulus_ids.txt (optional)"),
    how_to_get="write the files above (see cogmodels.datasets.brain_folder) and pass root=<folder>",
)


def load(root=None, subject: str = "sub-01", modality: str = "fmri", drop_nan_channels: bool = False,
         test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Load a brain_folder data set.

    Parameters
    ----------
    root : path
        The folder (layout in the module docstring).
    subject : str
    modality : "fmri", "spikes" or "seeg"
    drop_nan_channels : bool
        Channels with NaN/inf responses raise a DataFormatError unless True;
        then they are dropped (from responses, repeats and channels) with a warning.
    test_fraction : float
        Size of the seeded test split when there is no ``splits.json``.
    seed : int

    Returns
    -------
    Dataset with ``responses.responses`` of shape (n_stimuli, n_channels).
    """
    if root is None:
        raise ConfigError(format_problem("brain_folder option root", "a folder with " + LAYOUT, "root=None",
                                         "pass root=<folder>"))
    root = Path(root)
    paths = _image_paths(root / "images")
    ids, paths = _row_order(root / "stimulus_ids.txt", paths)
    responses_file = root / "responses.npy"
    responses = _load_array(responses_file, ndim=2, shape_text="(n_stimuli, n_channels)")
    if responses.shape[0] != len(ids):
        source = "stimulus_ids.txt" if (root / "stimulus_ids.txt").is_file() else f"{root / 'images'}"
        raise ShapeError(format_problem(f"{responses_file} vs {source}", f"{len(ids)} rows (one per stimulus)",
                                        f"{responses.shape[0]} rows",
                                        "give one response row per image, ordered as the sorted image names "
                                        "or as stimulus_ids.txt"))
    channels = _channel_table(root / "channels.tsv", responses.shape[1], responses_file)
    repeats = _repeats(root / "repeats.npy", responses.shape, responses_file)
    responses, keep = _drop_nan_channels(responses, str(responses_file), drop=drop_nan_channels)
    channels = channels[keep].reset_index(drop=True)
    if repeats is not None:
        repeats = repeats[:, :, keep]
    brain = BrainResponses(responses=responses.astype(np.float32, copy=False), stimulus_ids=ids, channels=channels,
                           subject=subject, modality=modality, repeats=repeats, meta=dict(source=str(root)))
    splits = _splits(root / "splits.json", ids, test_fraction, seed)
    return Dataset(name="brain_folder", stimuli=Stimuli.from_paths(ids, paths), card=CARD, responses=brain,
                   splits=splits)


def _image_paths(folder: Path) -> dict[str, Path]:
    """Stem -> image path, sorted by stem."""
    if not folder.is_dir():
        raise DataFormatError(format_problem(str(folder), f"a folder of images ({LAYOUT})", "no such folder",
                                             "put the stimulus images in root/images/"))
    paths = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise DataFormatError(format_problem(str(folder), f"image files ({', '.join(IMAGE_SUFFIXES)})",
                                             "none", "put the stimulus images there"))
    by_stem: dict[str, Path] = {}
    for path in paths:
        if path.stem in by_stem:
            raise DataFormatError(format_problem(str(folder), "one image per stimulus id (file stem)",
                                                 f"{by_stem[path.stem].name} and {path.name}",
                                                 "remove or rename one of them"))
        by_stem[path.stem] = path
    return dict(sorted(by_stem.items()))


def _row_order(path: Path, images: dict) -> tuple[list[str], list[Path]]:
    """Stimulus ids of the response rows and their image paths."""
    if not path.is_file():
        return list(images), list(images.values())
    ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    missing = [i for i in ids if i not in images]
    if missing:
        raise DataFormatError(format_problem(str(path), "ids of images in images/ (file stems)",
                                             f"{len(missing)} ids without an image, e.g. {missing[:3]}",
                                             "add the images or fix the ids"))
    unlisted = sorted(set(images) - set(ids))
    if unlisted:
        raise DataFormatError(format_problem(str(path), "every image of images/ listed once",
                                             f"{len(unlisted)} images not listed, e.g. {unlisted[:3]}",
                                             "list them (with their response rows) or move them out of images/"))
    return ids, [images[i] for i in ids]


def _load_array(path: Path, ndim: int, shape_text: str) -> np.ndarray:
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), f"a .npy array of shape {shape_text}", "no such file",
                                             f"write it with numpy.save (layout: {LAYOUT})"))
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise DataFormatError(format_problem(str(path), "a numeric .npy array", f"an unreadable file ({err})",
                                             "save a float array with numpy.save")) from err
    if array.ndim != ndim:
        raise ShapeError(format_problem(str(path), f"shape {shape_text}", f"shape {array.shape}",
                                        "reshape it before saving"))
    if not np.issubdtype(array.dtype, np.floating):
        raise DataFormatError(format_problem(str(path), "a float array", f"dtype {array.dtype}",
                                             "save it with .astype(np.float32)"))
    return array


def _channel_table(path: Path, n_channels: int, responses_file: Path) -> pd.DataFrame:
    """channels.tsv -> channel table with rois as tuples."""
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "a tab-separated channel table with columns id, hemisphere, "
                                             "rois", "no such file", "write one row per response column"))
    table = pd.read_csv(path, sep="\t", dtype={"id": str, "hemisphere": str, "rois": str}, keep_default_na=False)
    missing = [c for c in ("id", "hemisphere", "rois") if c not in table.columns]
    if missing:
        raise DataFormatError(format_problem(str(path), "columns id, hemisphere, rois (tab-separated)",
                                             f"columns {list(table.columns)}, missing {missing}",
                                             "add the missing columns (rois may be empty)"))
    if len(table) != n_channels:
        raise ShapeError(format_problem(f"{path} vs {responses_file}",
                                        f"{n_channels} rows (one per response column)", f"{len(table)} rows",
                                        "give one channel row per column of responses.npy, in order"))
    bad = sorted(set(table["hemisphere"]) - set(HEMISPHERE_VALUES))
    if bad:
        raise DataFormatError(format_problem(f"{path} column hemisphere", "lh, rh or empty", f"values {bad[:5]}",
                                             "use lh / rh, or leave the cell empty"))
    dupes = sorted(set(table["id"][table["id"].duplicated()]))
    if dupes:
        raise DataFormatError(format_problem(f"{path} column id", "unique channel ids", f"duplicates {dupes[:5]}",
                                             "give every channel its own id"))
    table["rois"] = [tuple(r.strip() for r in cell.split(";") if r.strip()) for cell in table["rois"]]
    return table


def _repeats(path: Path, shape: tuple, responses_file: Path):
    if not path.is_file():
        return None
    repeats = _load_array(path, ndim=3, shape_text="(n_stimuli, n_repeats, n_channels)")
    if repeats.shape[0] != shape[0] or repeats.shape[2] != shape[1]:
        raise ShapeError(format_problem(f"{path} vs {responses_file}", f"shape ({shape[0]}, n_repeats, {shape[1]})",
                                        f"shape {repeats.shape}", "stack single trials per stimulus and channel"))
    if np.isinf(repeats).any():
        raise DataFormatError(format_problem(str(path), "finite values, NaN for missing repeats",
                                             f"{int(np.isinf(repeats).sum())} inf values", "replace inf with NaN"))
    return repeats.astype(np.float32, copy=False)


def _splits(path: Path, ids: list[str], test_fraction: float, seed: int) -> dict:
    if path.is_file():
        try:
            splits = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DataFormatError(format_problem(str(path), "JSON: {\"train\": [ids], \"test\": [ids]}",
                                                 f"invalid JSON ({err})", "fix the file")) from err
        if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
            raise DataFormatError(format_problem(str(path), "a JSON object of split name -> list of ids",
                                                 type(splits).__name__, "fix the file"))
        return check_splits(splits, ids, str(path))
    if not 0 < test_fraction < 1 or len(ids) < 2:
        raise ConfigError(format_problem("brain_folder option test_fraction", "a fraction in (0, 1) and >= 2 stimuli",
                                         f"{test_fraction} with {len(ids)} stimuli",
                                         "add splits.json or more stimuli"))
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = min(max(1, int(round(test_fraction * len(ids)))), len(ids) - 1)
    test = set(order[:n_test].tolist())
    logger.info("brain_folder: no splits.json; seeded split with %d test stimuli (seed=%d)", n_test, seed)
    return {"train": [s for i, s in enumerate(ids) if i not in test],
            "test": [s for i, s in enumerate(ids) if i in test]}


def write_example(root: Path, n_stimuli: int = 6, n_channels: int = 4, seed: int = 0) -> dict:
    """Write a tiny brain_folder tree under ``root`` (also the fixture of this loader's tests).

    ``n_stimuli`` images of 10 x 8 px named ``im00.jpg``, ``im01.png``, ... (suffixes alternate),
    ``responses.npy`` (n_stimuli, n_channels) float32, and ``channels.tsv`` with alternating hemispheres,
    multi-label ROIs (``V1;early`` for the first two channels, ``FFA`` after) and vertex 100 + j.
    Returns the options of :func:`load`.
    """
    from cogmodels.datasets.gaze_table import write_example_images

    write_example_images(root / "images", [f"im{i:02d}{'.png' if i % 2 else '.jpg'}" for i in range(n_stimuli)],
                         size=(10, 8), seed=seed)
    responses = np.random.default_rng(seed + 1).standard_normal((n_stimuli, n_channels)).astype(np.float32)
    np.save(root / "responses.npy", responses)
    rows = [f"c{j}\t{('lh', 'rh')[j % 2]}\t{'V1;early' if j < 2 else 'FFA'}\t{100 + j}" for j in range(n_channels)]
    (root / "channels.tsv").write_text("\n".join(["id\themisphere\trois\tvertex", *rows]) + "\n")
    return {"root": root}


DATASETS.register("brain_folder", load, example=write_example, description=__doc__)
