"""A generic fixation table (CSV/TSV) plus a folder of images.

Layout (names configurable)::

    root/fixations.csv     one row per fixation
    root/images/<stimulus_id>.<jpg|jpeg|png|bmp>

The table has the standard columns ``stimulus_id, subject, x, y, duration``
(pixels, origin at the top-left corner of the image; ms) and optionally
``trial`` (default 0), ``index`` (default: the row order within each
trial), ``t_onset`` (default: cumulative durations) and ``image`` (the file
name of the stimulus in the images folder).  Other names are mapped with
``columns={"their_name": "standard_name"}``.  Extra columns are kept.

Screen geometry.  ``Fixations.geometry`` is a screen of ``screen_size``
(default: the images' common size, or the smallest rectangle at the origin
that holds every image when sizes differ) with ``px_per_deg`` when given
(else unknown: metrics that need degrees then ask for it).

This module also holds the helpers the eye-tracking loaders share
(seeded split by image, image sizes, missing-image reports, screen geometry).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import Dataset, DatasetCard, Fixations, ScreenGeometry, Stimuli
from cogmodels.datasets import DATASETS
from cogmodels.errors import ConfigError, DataFormatError, format_problem

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
REQUIRED_COLUMNS = ("stimulus_id", "subject", "x", "y", "duration")

CARD = DatasetCard(
    name="gaze_table",
    source="any fixation table in CSV/TSV with a folder of images",
    licence="that of the data you load",
    citation="that of the data you load",
    expected_files=("fixations.csv (or .tsv): stimulus_id, subject, x, y, duration [, trial, index, t_onset, image]",
                    "images/<stimulus_id>.jpg|jpeg|png|bmp"),
    how_to_get="Export your fixations with these columns (or map yours with columns={...}).",
)


def load(root=None, *, fixations_file: str = "fixations.csv", images_dir: str = "images",
         columns: Mapping[str, str] | None = None, sep: str | None = None, kind: str = "eye",
         clip: bool = False, keep_missing: bool = False, test_fraction: float = 0.2, seed: int = 0,
         px_per_deg: float | None = None, screen_size: tuple[int, int] | None = None) -> Dataset:
    """Load a fixation table and its images.

    Parameters
    ----------
    root : str or Path
        Folder holding the table and the images folder (required).
    fixations_file : str
        Table file, relative to root; ``.tsv``/``.tab`` files are tab-separated.
    images_dir : str
        Image folder, relative to root.
    columns : mapping, optional
        Renames from the file's column names to the standard ones.
    sep : str, optional
        Field separator; default from the file extension.
    kind : "eye" or "click"
    clip : bool
        Clip fixations outside their image (with a warning) instead of raising.
    keep_missing : bool
        Keep fixations on stimuli whose image file is missing (they are
        dropped by default, with a warning).
    test_fraction, seed : float, int
        Seeded split of the stimuli into "train" and "test" (see :func:`split_by_image`).
    px_per_deg : float, optional
        Pixels per degree of the recording screen: stored in ``fixations.geometry``
        (and in the trials table).  None: unknown.
    screen_size : (width, height), optional
        The screen the x, y pixels refer to; default: from the images (module docstring).

    Returns
    -------
    Dataset
        ``fixations.geometry`` is set; ``meta["missing_stimuli"]`` lists stimuli without an image file.
    """
    if root is None:
        raise ConfigError(format_problem("gaze_table root", "the folder holding the table and the images",
                                         "root=None", "pass root=... (see cogmodels.datasets.gaze_table.CARD)"))
    root = Path(root)
    path = root / fixations_file
    table = read_table(path, columns=columns, sep=sep)
    file_names = dict(zip(table["stimulus_id"], table["image"])) if "image" in table.columns else None
    paths = find_images(root / images_dir, table["stimulus_id"].unique(), file_names)
    table, missing = drop_missing_images(table, paths, keep_missing, where=str(path))
    sizes = image_sizes(paths)
    geometry = screen_geometry(sizes, px_per_deg, screen_size, where=str(path),
                               source="px/deg as given" if px_per_deg is not None else "px/deg not given")
    fixations = Fixations(table, trials=make_trials(table, task="free_view", px_per_deg=px_per_deg),
                          image_sizes=sizes, kind=kind, clip=clip, source=str(path), geometry=geometry)
    ids = sorted(paths)
    stimuli = Stimuli.from_paths(ids, [paths[i] for i in ids])
    return Dataset("gaze_table", stimuli, CARD, fixations=fixations,
                   splits=split_by_image(ids, test_fraction, seed),
                   meta=dict(missing_stimuli=missing))


def read_table(path: Path, *, columns: Mapping[str, str] | None = None, sep: str | None = None) -> pd.DataFrame:
    """Read a fixation table and complete the optional standard columns."""
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "a fixation table (CSV/TSV)", "no such file",
                                             "check root and fixations_file"))
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        table = pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataFormatError(format_problem(str(path), "a readable CSV/TSV table", f"a parse error ({err})",
                                             "check the separator (sep=...) and the file")) from err
    table = table.rename(columns=dict(columns or {}))
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise DataFormatError(format_problem(str(path), f"columns {list(REQUIRED_COLUMNS)}",
                                             f"no column(s) {missing}; columns are {list(table.columns)}",
                                             "rename them, or pass columns={'their_name': 'standard_name'}"))
    table["stimulus_id"] = table["stimulus_id"].astype(str)
    table["subject"] = table["subject"].astype(str)
    if "trial" not in table.columns:
        table["trial"] = 0
    if "index" not in table.columns:
        table["index"] = table.groupby(["stimulus_id", "subject", "trial"], sort=False).cumcount()
    if "t_onset" not in table.columns:
        table["t_onset"] = cumulative_onsets(table)
    return table


def cumulative_onsets(table: pd.DataFrame) -> np.ndarray:
    """Onsets (ms) as the sum of the preceding durations of the same trial (saccade times unknown)."""
    durations = pd.to_numeric(table["duration"], errors="coerce")
    grouped = durations.groupby([table["stimulus_id"], table["subject"], table["trial"]], sort=False)
    return (grouped.cumsum() - durations).to_numpy(float)


def find_images(folder: Path, stimulus_ids: Iterable[str],
                file_names: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Map each stimulus id to its image file in ``folder``; ids without a file are left out.

    ``file_names`` (stimulus id -> file name) takes precedence; otherwise the
    file is ``<id>`` or ``<id>.<ext>`` for the usual image extensions.
    """
    if not folder.is_dir():
        raise DataFormatError(format_problem(str(folder), "a folder of stimulus images", "no such folder",
                                             "check root and the images folder option"))
    found = {}
    for sid in stimulus_ids:
        if file_names and sid in file_names:
            candidates = [folder / str(file_names[sid])]
        else:
            candidates = [folder / sid] + [folder / f"{sid}{ext}" for ext in IMAGE_EXTENSIONS]
        for candidate in candidates:
            if candidate.is_file():
                found[sid] = candidate
                break
    return found


def drop_missing_images(table: pd.DataFrame, paths: Mapping[str, Path], keep_missing: bool,
                        where: str) -> tuple[pd.DataFrame, list[str]]:
    """Report stimuli without an image (warning with a count and a compact range) and drop their rows."""
    ids = table["stimulus_id"].astype(str)
    missing = sorted(set(ids) - set(paths), key=_natural_key)
    if missing:
        action = "kept (keep_missing=True)" if keep_missing else "dropped"
        message = (f"{where}: {len(missing)} of {ids.nunique()} stimuli have no image file "
                   f"({describe_ids(missing)}); their fixations are {action}")
        logger.warning(message)
        if not keep_missing:
            table = table[ids.isin(paths.keys())].reset_index(drop=True)
    return table, missing


def image_sizes(paths: Mapping[str, Path]) -> dict[str, tuple[int, int]]:
    """(width, height) of each image, read from the file headers only."""
    from PIL import Image

    sizes = {}
    for sid, path in paths.items():
        try:
            with Image.open(path) as img:
                sizes[sid] = img.size
        except OSError as err:
            raise DataFormatError(format_problem(str(path), "a readable image", f"an unreadable file ({err})",
                                                 "re-download the image")) from err
    return sizes


def make_trials(table: pd.DataFrame, task: str, px_per_deg: float | None = None, **constants) -> pd.DataFrame:
    """One row per (stimulus_id, subject, trial) with the task and constant screen geometry."""
    trials = table[["stimulus_id", "subject", "trial"]].drop_duplicates().reset_index(drop=True)
    trials["task"] = task
    for name, value in constants.items():
        trials[name] = value
    if px_per_deg is not None:
        trials["px_per_deg"] = float(px_per_deg)
    return trials


def screen_geometry(sizes: Mapping[str, tuple[int, int]], px_per_deg: float | None = None,
                    screen_size: tuple[int, int] | None = None, *, where: str = "images",
                    source: str = "") -> ScreenGeometry:
    """The screen of a fixation table: ``screen_size``, else the images' common size (or their bounding box).

    Parameters
    ----------
    sizes : mapping stimulus_id -> (width, height)
    px_per_deg : float, optional
        None: unknown (the geometry then has no degrees).
    screen_size : (width, height), optional
    where, source : str
        For the error message; where the numbers come from (kept in the geometry).
    """
    if screen_size is None:
        if not sizes:
            raise DataFormatError(format_problem(where, "at least one image, or screen_size=(width, height)",
                                                 "no image", "pass screen_size=(width, height) in pixels"))
        widths, heights = zip(*sizes.values())
        screen_size = (max(widths), max(heights))
        shared = len(set(sizes.values())) == 1
        source = ", ".join(filter(None, [f"screen = {'the images' if shared else 'bounding box of the images'}",
                                         source]))
    try:
        width, height = (int(v) for v in screen_size)
    except (TypeError, ValueError):
        raise ConfigError(format_problem("screen_size", "(width, height) in pixels", repr(screen_size),
                                         "pass e.g. screen_size=(1920, 1080)")) from None
    return ScreenGeometry(width, height, px_per_deg=px_per_deg, source=source)


def split_by_image(ids: Iterable[str], test_fraction: float = 0.2, seed: int = 0) -> dict[str, list[str]]:
    """Seeded train/test split of stimulus ids.

    The ids are sorted, shuffled with ``numpy.random.default_rng(seed)`` and
    the first ``round(test_fraction * n)`` become "test": the same ids, seed
    and fraction always give the same split.  ``test_fraction=0`` gives
    only "train".
    """
    if not 0 <= test_fraction < 1:
        raise ConfigError(format_problem("test_fraction", "a number in [0, 1)", repr(test_fraction),
                                         "use e.g. 0.2"))
    ids = sorted(set(map(str, ids)), key=_natural_key)
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = int(round(test_fraction * len(ids)))
    test = sorted((ids[i] for i in order[:n_test]), key=_natural_key)
    train = sorted((ids[i] for i in order[n_test:]), key=_natural_key)
    return {"train": train, "test": test} if test else {"train": train}


def describe_ids(ids: list[str], max_parts: int = 6) -> str:
    """Compact description of ids: numeric runs as ranges ("1501-1700"), else the first few."""
    if ids and all(i.isdigit() for i in ids):
        numbers = sorted(int(i) for i in ids)
        runs = [[numbers[0], numbers[0]]]
        for n in numbers[1:]:
            if n == runs[-1][1] + 1:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        parts = [f"{a}-{b}" if b > a else f"{a}" for a, b in runs]
        text = ", ".join(parts[:max_parts])
        return text + (f", ... ({len(parts)} ranges)" if len(parts) > max_parts else "")
    shown = ", ".join(ids[:max_parts])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > max_parts else "")


def _natural_key(text: str):
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


__all__ = ["CARD", "load", "split_by_image", "describe_ids", "image_sizes", "find_images",
           "drop_missing_images", "make_trials", "cumulative_onsets", "read_table", "screen_geometry"]


# -- conformance example ---------------------------------------------------------------
def write_example_images(folder: Path, names: Iterable[str], size: tuple[int, int] = (80, 60), seed: int = 0) -> None:
    """Write seeded random RGB images of ``size`` (width, height) named ``names`` into ``folder``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / name)


def write_example(root: Path) -> dict:
    """Write a tiny fixation table (3 images of 80 x 60, 2 subjects) and its images under ``root``.

    Returns the options of :func:`load` for it.
    """
    write_example_images(root / "images", ["a.png", "b.png", "c.png"])
    rng = np.random.default_rng(1)
    rows = [(sid, subject, x, y, d) for sid in "abc" for subject in ("s1", "s2")
            for x, y, d in zip(rng.uniform(0, 80, 4), rng.uniform(0, 60, 4), rng.integers(80, 400, 4))]
    pd.DataFrame(rows, columns=list(REQUIRED_COLUMNS)).to_csv(root / "fixations.csv", index=False)
    return {"root": root, "test_fraction": 0.34, "px_per_deg": 24.0}  # the recording lab states its px/deg


DATASETS.register("gaze_table", load, example=write_example, description=__doc__)
