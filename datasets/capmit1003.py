"""CapMIT1003: captions and mouse clicks on MIT1003 images (Zanca et al., 2023).

Participants wrote a caption for an image they explored by clicking on a
blurred version of it; each click revealed the image around it.  The clicks
are *not* eye fixations: they load as ``Fixations(kind="click")``.

Release layout: one SQLite database plus the MIT1003 stimuli::

    root/capmit1003.db
    root/mit1003/ALLSTIMULI/<img_path>        (Judd et al. 2009, ALLSTIMULI.zip)

Schema (from the release's README and access class)::

    captions(obs_uid, usr_uid, start_time, caption, img_uid)
    images(img_uid, img_path)
    clicks(click_id, obs_uid, x, y, click_time)

``obs_uid`` identifies an image-caption pair (a trial), ``usr_uid`` a user,
``img_uid`` an image; ``click_id`` ascends with click order; ``x``, ``y``
are integer image pixel coordinates; ``start_time`` (image shown) and
``click_time`` are absolute timestamps.

Mapping.  stimulus_id = the image file stem, subject = usr_uid,
trial = obs_uid.  ``t_onset`` = click_time - start_time (ms).  A click has
no duration; ``duration`` is the interval to the next click of the trial
(the time the revealed region was on screen) and 0 for the last click,
which has ``duration_known = False``.  Assumptions (the README does not say):
clicks are 0-based pixel offsets (pixel i spans [i, i + 1)); timestamps are
ISO date-time strings, or Unix epoch numbers (read as seconds when below
1e11, else milliseconds).

Screen geometry.  The clicks are in image pixels of images of different
sizes, shown in a web application whose screen the release does not record:
``fixations.geometry`` is the smallest rectangle at the origin that holds
every image (``screen_size=`` overrides it), with ``px_per_deg`` only when
given (degrees mean little for clicks).

Splits.  A seeded split by image (see :func:`cogmodels.datasets.gaze_table.split_by_image`).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import Dataset, DatasetCard, Fixations, Stimuli
from cogmodels.datasets import DATASETS, shared_data_root
from cogmodels.datasets.gaze_table import drop_missing_images, image_sizes, screen_geometry, split_by_image
from cogmodels.errors import DataFormatError, format_problem

logger = logging.getLogger(__name__)

SCHEMA = {
    "captions": ("obs_uid", "usr_uid", "start_time", "caption", "img_uid"),
    "images": ("img_uid", "img_path"),
    "clicks": ("click_id", "obs_uid", "x", "y", "click_time"),
}

CARD = DatasetCard(
    name="capmit1003",
    source="CapMIT1003 (Zanca et al. 2023, arXiv:2305.12380); images: MIT1003 (Judd et al. 2009)",
    licence="see the CapMIT1003 release; MIT1003 images for research use",
    citation=("Zanca, D., Zugarini, A., Dietz, S., Altstidl, T. R., Ndjeuha, M. A. T., Schwinn, L., & Eskofier, B. "
              "(2023). Contrastive language-image pretrained models are zero-shot human scanpath predictors. "
              "arXiv:2305.12380. Judd, T., Ehinger, K., Durand, F., & Torralba, A. (2009). Learning to predict "
              "where humans look. ICCV."),
    expected_files=("capmit1003.db (tables captions, images, clicks)", "mit1003/ALLSTIMULI/<img_path>"),
    how_to_get=("Download capmit1003.db from the CapMIT1003 release and ALLSTIMULI.zip from the MIT1003 page "
                "(people.csail.mit.edu/tjudd/WherePeopleLook); unzip it into root/mit1003/."),
)


def load(root=None, *, db_file: str = "capmit1003.db", images_dir: str = "mit1003/ALLSTIMULI", clip: bool = False,
         keep_missing: bool = False, test_fraction: float = 0.2, seed: int = 0, px_per_deg: float | None = None,
         screen_size: tuple[int, int] | None = None) -> Dataset:
    """Load CapMIT1003 clicks (as Fixations of kind "click"), captions and images.

    Parameters
    ----------
    root : str or Path, optional
        Dataset folder; default ``shared_data_root() / "capmit1003"``.
    db_file, images_dir : str
        Database file and image folder, relative to root.
    clip : bool
        Clip clicks outside their image (with a warning) instead of raising.
    keep_missing : bool
        Keep clicks on images missing from the image folder.
    test_fraction, seed : float, int
        Seeded split by image.
    px_per_deg : float, optional
        Pixels per degree for ``fixations.geometry``; None: unknown (not in the release).
    screen_size : (width, height), optional
        The screen of ``fixations.geometry``; default: the images' bounding box.

    Returns
    -------
    Dataset
        fixations (kind "click", ``geometry`` set; trials table with the captions),
        ``meta["missing_stimuli"]``.
    """
    root = Path(root) if root is not None else shared_data_root() / "capmit1003"
    db_path = root / db_file
    captions, images, clicks = read_database(db_path)
    trials = captions.merge(images, on="img_uid", how="left", validate="many_to_one")
    unknown = trials["img_path"].isna()
    if unknown.any():
        example = trials.loc[unknown, "img_uid"].iloc[0]
        raise DataFormatError(format_problem(f"{db_path}: captions.img_uid", "ids present in images.img_uid",
                                             f"{int(unknown.sum())} unknown, e.g. {example!r}",
                                             "re-download the database"))
    trials = trials.assign(stimulus_id=trials["img_path"].map(lambda p: Path(str(p)).stem),
                           subject=trials["usr_uid"].astype(str), trial=trials["obs_uid"].astype(str),
                           task="caption")
    table = clicks_to_table(clicks, trials, str(db_path))
    folder = root / images_dir
    if not folder.is_dir():
        raise DataFormatError(format_problem(str(folder), "the MIT1003 stimuli folder", "no such folder",
                                             CARD.how_to_get))
    image_of = dict(zip(trials["stimulus_id"], trials["img_path"]))
    found = {sid: folder / str(name) for sid, name in image_of.items() if (folder / str(name)).is_file()}
    table, missing = drop_missing_images(table, found, keep_missing, where=str(root))
    if not keep_missing:
        trials = trials[trials["stimulus_id"].isin(found.keys())].reset_index(drop=True)
    trials = trials[["stimulus_id", "subject", "trial", "task", "caption", "img_uid", "obs_uid", "start_time"]]
    sizes = image_sizes(found)
    geometry = screen_geometry(sizes, px_per_deg, screen_size, where=str(root / images_dir), source=(
        "clicks in a web application whose screen is not recorded; px/deg "
        + ("given to the loader" if px_per_deg is not None else "unknown")))
    fixations = Fixations(table, trials=trials, image_sizes=sizes, kind="click", clip=clip,
                          source=str(db_path), geometry=geometry)
    ids = sorted(found)
    logger.info("capmit1003: %d clicks in %d captioned trials on %d images", len(table), len(trials), len(ids))
    stimuli = Stimuli.from_paths(ids, [found[i] for i in ids])
    return Dataset("capmit1003", stimuli, CARD, fixations=fixations,
                   splits=split_by_image(ids, test_fraction, seed), meta=dict(missing_stimuli=missing))


def read_database(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The captions, images and clicks tables, after checking the schema."""
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "the CapMIT1003 SQLite database", "no such file",
                                             CARD.how_to_get))
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            _check_schema(connection, path)
            return tuple(pd.read_sql_query(f"SELECT {', '.join(cols)} FROM {table}", connection)
                         for table, cols in SCHEMA.items())
    except sqlite3.DatabaseError as err:
        raise DataFormatError(format_problem(str(path), "an SQLite database", f"an unreadable file ({err})",
                                             "re-download capmit1003.db")) from err


def _check_schema(connection: sqlite3.Connection, path: Path) -> None:
    for table, expected in SCHEMA.items():
        found = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
        if not found:
            raise DataFormatError(format_problem(str(path), f"a table '{table}' with columns {list(expected)}",
                                                 "no such table", "use the release's capmit1003.db"))
        missing = [c for c in expected if c not in found]
        if missing:
            raise DataFormatError(format_problem(f"{path}: table {table}", f"columns {list(expected)}",
                                                 f"no column(s) {missing}; columns are {found}",
                                                 "use the release's capmit1003.db"))


def clicks_to_table(clicks: pd.DataFrame, trials: pd.DataFrame, where: str) -> pd.DataFrame:
    """Fixation-table form of the clicks: onsets from the trial start, durations to the next click."""
    clicks = clicks.assign(obs_uid=clicks["obs_uid"].astype(str))
    trials = trials.assign(obs_uid=trials["obs_uid"].astype(str))
    clicks = clicks.merge(trials[["obs_uid", "stimulus_id", "subject", "trial", "start_time"]], on="obs_uid",
                          how="left")
    orphan = clicks["stimulus_id"].isna()
    if orphan.any():
        raise DataFormatError(format_problem(f"{where}: clicks.obs_uid", "ids present in captions.obs_uid",
                                             f"{int(orphan.sum())} clicks of unknown observations, e.g. "
                                             f"{clicks.loc[orphan, 'obs_uid'].iloc[0]!r}", "re-download the database"))
    clicks = clicks.sort_values(["obs_uid", "click_id"], kind="stable").reset_index(drop=True)
    onset = (to_milliseconds(clicks["click_time"], f"{where}: clicks.click_time")
             - to_milliseconds(clicks["start_time"], f"{where}: captions.start_time"))
    if (onset < 0).any():
        i = int(np.argmax(onset < 0))
        raise DataFormatError(format_problem(f"{where}: clicks.click_time", "clicks after the trial's start_time",
                                             f"{int((onset < 0).sum())} earlier clicks (e.g. obs_uid "
                                             f"{clicks['obs_uid'].iloc[i]!r}, {onset[i]:g} ms)",
                                             "check the timestamps' time zone and units"))
    clicks["t_onset"] = onset
    following = clicks.groupby("obs_uid", sort=False)["t_onset"].shift(-1)
    clicks["duration_known"] = following.notna()
    clicks["duration"] = (following - clicks["t_onset"]).fillna(0.0)
    clicks["index"] = clicks.groupby("obs_uid", sort=False).cumcount()
    return clicks[["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration", "duration_known",
                   "click_id"]]


def to_milliseconds(values: pd.Series, where: str) -> np.ndarray:
    """Timestamps (ISO strings, or Unix epoch seconds / milliseconds) as ms since the epoch."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        seconds = numeric.to_numpy(float) < 1e11  # epoch seconds until the year 5138
        return np.where(seconds, numeric.to_numpy(float) * 1000.0, numeric.to_numpy(float))
    parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna()
    if bad.any():
        raise DataFormatError(format_problem(where, "timestamps (ISO date-time or Unix epoch)",
                                             f"{int(bad.sum())} unreadable values, e.g. {values[bad].iloc[0]!r}",
                                             "repair or re-download the database"))
    return (parsed - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy(float) * 1000.0


def write_example(root: Path) -> dict:
    """Write a tiny CapMIT1003 copy in the release layout under ``root``: ``capmit1003.db`` (tables captions,
    images, clicks: 2 images, 3 captions, 3 clicks each) and the images (80 x 60) in ``mit1003/ALLSTIMULI``.
    Returns the options of :func:`load`."""
    from cogmodels.datasets.gaze_table import write_example_images

    write_example_images(root / "mit1003" / "ALLSTIMULI", ["i1.jpeg", "i2.jpeg"])
    captions = [("o1", "u1", "a dog", "img1"), ("o2", "u2", "a street", "img1"), ("o3", "u1", "two cats", "img2")]
    rng = np.random.default_rng(1)
    with sqlite3.connect(root / "capmit1003.db") as db:
        for table, columns in SCHEMA.items():
            db.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
        db.executemany("INSERT INTO captions VALUES (?, ?, ?, ?, ?)",
                       [(o, u, "2022-05-03 10:00:00.000", text, img) for o, u, text, img in captions])
        db.executemany("INSERT INTO images VALUES (?, ?)", [("img1", "i1.jpeg"), ("img2", "i2.jpeg")])
        db.executemany("INSERT INTO clicks VALUES (?, ?, ?, ?, ?)",
                       [(3 * i + k, obs, int(rng.integers(0, 80)), int(rng.integers(0, 60)),
                         f"2022-05-03 10:00:0{k + 1}.000") for i, (obs, *_) in enumerate(captions) for k in range(3)])
    return {"root": root, "test_fraction": 0.5}


DATASETS.register("capmit1003", load, example=write_example, description=__doc__)
