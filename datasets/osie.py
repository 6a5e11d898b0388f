"""OSIE: Object and Semantic Images and Eye-tracking (Xu et al., J. Vision 2014).

700 natural images (800 x 600) free-viewed for 3 s by 15 subjects.

Release layout (github.com/NUS-VIP/predicting-human-gaze-beyond-pixels)::

    root/data/eye/fixations.mat   fixations{700}: .img ('1001.jpg'), .subjects{15}
                                  each with .fix_x, .fix_y (pixels), .fix_duration (ms)
    root/data/stimuli/1001.jpg ... 1700.jpg

Both a cell array of structs (the release) and a struct array are read.

Coordinates.  ``fix_x``/``fix_y`` are MATLAB 1-based pixel positions: the
authors' own code (``computeFixationMaps.m``) marks fixation k at
``map(round(fix_y), round(fix_x))``, i.e. pixel k is centred on k.  This
package uses continuous coordinates with the top-left image corner at (0, 0)
(pixel i spans [i, i + 1)), so the loader subtracts 0.5 (``index_base=1``;
pass ``index_base=0`` to keep the values as stored).  Measured on the
release: x in [1.2, 799.2], y in [1.2, 599.2] (so [0.7, 798.7] and
[0.7, 598.7] after the shift), 98,321 fixations, 1-22 per scanpath, no
empty scanpath, no NaN, no fixation outside the image, no zero duration
(20-1975 ms, median 190 ms; 2,601 below 50 ms are kept).  Out-of-image
fixations are therefore an error by default (``clip=False``); ``clip=True``
clips them with a warning.

Timing.  The release has durations only; ``t_onset`` is the sum of the
preceding durations of the scanpath (saccade times are not included).

Missing images.  Copies of the data may hold only part of the stimuli (the
shared copy here has 500 of 700: 1001-1500).  The loader loads the images
that exist, keeps the fixations of those only (``keep_missing=True`` keeps
all), warns with the count and ranges, and lists the missing stimulus ids in
``dataset.meta["missing_stimuli"]``.

Screen geometry (an assumption).  Neither the release (fixations.mat, the
stimuli, LICENSE) nor the data record the monitor, its size or the viewing
distance; the fixations are in image pixels.  ``fixations.geometry`` is
therefore an *assumed* screen: the 800 x 600 image area at
``ASSUMED_PX_PER_DEG = 24`` px/deg (800 px = 33.3 deg), the value this
project has used for OSIE since its scanpath baselines; it is not taken from
the paper (Xu et al. 2014 describe their EyeLink set-up; the value was not
checked against it here).  Pass ``px_per_deg=`` to use another value; the
geometry's ``source`` says which applies, and run provenance repeats it.

Splits.  A seeded split by image: the image ids present are sorted, shuffled
with ``numpy.random.default_rng(seed)``, and a ``test_fraction`` of them
(default 0.2, seed 0) form "test", the rest "train".
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from cogmodels.data import Dataset, DatasetCard, Fixations, ScreenGeometry, Stimuli
from cogmodels.datasets import DATASETS, shared_data_root
from cogmodels.datasets.gaze_table import drop_missing_images, image_sizes, make_trials, split_by_image
from cogmodels.errors import ConfigError, DataFormatError, format_problem

logger = logging.getLogger(__name__)

FIXATIONS_FILE = Path("data") / "eye" / "fixations.mat"
STIMULI_DIR = Path("data") / "stimuli"
SUBJECT_FIELDS = ("fix_x", "fix_y", "fix_duration")
SCREEN_SIZE = (800, 600)  # the image area; fixations are in image pixels
ASSUMED_PX_PER_DEG = 24.0  # not in the release: an assumption, stated in the card (module docstring)
GEOMETRY_NOTE = ("screen geometry not recorded in the release: assumed 800 x 600 px (the image) at 24 px/deg "
                 "(an assumption; pass px_per_deg= to change it)")

CARD = DatasetCard(
    name="osie",
    source="https://github.com/NUS-VIP/predicting-human-gaze-beyond-pixels (OSIE, NUS VIP lab)",
    notes=GEOMETRY_NOTE,
    licence="MIT",
    citation=("Xu, J., Jiang, M., Wang, S., Kankanhalli, M. S., & Zhao, Q. (2014). Predicting human gaze "
              "beyond pixels. Journal of Vision, 14(1):28, 1-20."),
    expected_files=(str(FIXATIONS_FILE), f"{STIMULI_DIR}/1001.jpg ... 1700.jpg (800 x 600)"),
    how_to_get=("git clone https://github.com/NUS-VIP/predicting-human-gaze-beyond-pixels and pass its folder as "
                "root (default: <shared data>/osie)."),
)


def load(root=None, *, clip: bool = False, keep_missing: bool = False, index_base: int = 1,
         test_fraction: float = 0.2, seed: int = 0, px_per_deg: float | None = None) -> Dataset:
    """Load OSIE fixations and stimuli.

    Parameters
    ----------
    root : str or Path, optional
        Dataset folder; default ``shared_data_root() / "osie"``.
    clip : bool
        Clip fixations outside the image (with a warning) instead of raising.
    keep_missing : bool
        Keep the fixations of images missing from ``data/stimuli``.
    index_base : {1, 0}
        1: the stored coordinates are MATLAB pixel positions (subtract 0.5);
        0: use them as stored.
    test_fraction, seed : float, int
        Seeded split by image (see module docstring).
    px_per_deg : float, optional
        Pixels per degree of ``fixations.geometry`` (also stored in the trials
        table); default ``ASSUMED_PX_PER_DEG`` (24, an assumption: the release
        records no geometry, see the module docstring).

    Returns
    -------
    Dataset
        stimuli (the images present), fixations (kind "eye", one trial per
        image and subject, ``geometry`` set), splits, and ``meta["missing_stimuli"]``.
    """
    if index_base not in (0, 1):
        raise ConfigError(format_problem("index_base", "0 or 1", repr(index_base),
                                         "use 1 for MATLAB coordinates (the release)"))
    root = Path(root) if root is not None else shared_data_root() / "osie"
    mat_path = root / FIXATIONS_FILE
    table = read_fixations_mat(mat_path)
    table[["x", "y"]] -= 0.5 * index_base
    stimuli_dir = root / STIMULI_DIR
    if not stimuli_dir.is_dir():
        raise DataFormatError(format_problem(str(stimuli_dir), "the folder of OSIE stimuli (1001.jpg, ...)",
                                             "no such folder", CARD.how_to_get))
    paths = {p.stem: p for p in sorted(stimuli_dir.glob("*.jpg"))}
    referenced = set(table["stimulus_id"])
    unused = sorted(set(paths) - referenced)
    if unused:
        logger.info("%s: %d images have no fixations and are left out: %s", stimuli_dir, len(unused), unused[:5])
    paths = {sid: p for sid, p in paths.items() if sid in referenced}
    table, missing = drop_missing_images(table, paths, keep_missing, where=str(root))
    trials = make_trials(table, task="free_view", px_per_deg=px_per_deg, viewing_time_ms=3000.0)
    geometry = ScreenGeometry.from_px_per_deg(
        *SCREEN_SIZE, ASSUMED_PX_PER_DEG if px_per_deg is None else px_per_deg,
        source=("assumed (OSIE records no geometry): 800 x 600 image area at 24 px/deg" if px_per_deg is None
                else "OSIE image area; px/deg given to the loader"))
    fixations = Fixations(table, trials=trials, image_sizes=image_sizes(paths), kind="eye", clip=clip,
                          source=str(mat_path), geometry=geometry)
    ids = sorted(paths, key=int)
    stimuli = Stimuli.from_paths(ids, [paths[i] for i in ids])
    return Dataset("osie", stimuli, CARD, fixations=fixations, splits=split_by_image(ids, test_fraction, seed),
                   meta=dict(missing_stimuli=missing))


def read_fixations_mat(path: Path) -> pd.DataFrame:
    """Read ``fixations.mat`` into a fixation table (coordinates as stored).

    Returns
    -------
    DataFrame with columns stimulus_id ('1001'), subject ('s01'...), trial (0),
    index, x, y, t_onset (cumulative, ms), duration (ms).
    """
    import scipy.io

    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "the OSIE fixation file", "no such file", CARD.how_to_get))
    try:
        content = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except (ValueError, TypeError, OSError, NotImplementedError) as err:
        raise DataFormatError(format_problem(str(path), "a MATLAB (v5) .mat file", f"an unreadable file ({err})",
                                             "re-download data/eye/fixations.mat")) from err
    if "fixations" not in content:
        found = [k for k in content if not k.startswith("__")]
        raise DataFormatError(format_problem(str(path), "a variable 'fixations'", f"variables {found}",
                                             "use the release's data/eye/fixations.mat"))
    columns = {name: [] for name in ("stimulus_id", "subject", "index", "x", "y", "duration")}
    for i, entry in enumerate(np.atleast_1d(content["fixations"])):
        image = _field(entry, "img", f"{path}: fixations({i + 1})")
        subjects = np.atleast_1d(_field(entry, "subjects", f"{path}: fixations({i + 1})"))
        stimulus_id = Path(str(image)).stem
        for j, subject in enumerate(subjects):
            where = f"{path}: fixations({i + 1}).subjects({j + 1})"
            x, y, duration = (_numeric(_field(subject, name, where), f"{where}.{name}") for name in SUBJECT_FIELDS)
            if not len(x) == len(y) == len(duration):
                raise DataFormatError(format_problem(where, "fix_x, fix_y and fix_duration of equal length",
                                                     f"lengths {len(x)}, {len(y)}, {len(duration)}",
                                                     "repair or re-download the file"))
            columns["stimulus_id"] += [stimulus_id] * len(x)
            columns["subject"] += [f"s{j + 1:02d}"] * len(x)
            columns["index"] += list(range(len(x)))
            columns["x"].append(x)
            columns["y"].append(y)
            columns["duration"].append(duration)
    for name in ("x", "y", "duration"):
        columns[name] = np.concatenate(columns[name]) if columns[name] else np.zeros(0)
    table = pd.DataFrame(columns)
    table.insert(2, "trial", 0)
    ends = table.groupby(["stimulus_id", "subject"], sort=False)["duration"].cumsum()
    table["t_onset"] = (ends - table["duration"]).to_numpy(float)
    return table[["stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration"]]


def _field(struct, name: str, where: str):
    """A field of a MATLAB struct loaded with struct_as_record=False."""
    if not hasattr(struct, "_fieldnames") or name not in struct._fieldnames:
        found = list(getattr(struct, "_fieldnames", [])) or type(struct).__name__
        raise DataFormatError(format_problem(where, f"a struct with field '{name}'", f"fields {found}",
                                             "use the release's data/eye/fixations.mat (fields img, subjects; "
                                             "fix_x, fix_y, fix_duration)"))
    return getattr(struct, name)


def _numeric(value, where: str) -> np.ndarray:
    array = np.atleast_1d(np.asarray(value))
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise DataFormatError(format_problem(where, "a numeric vector", f"dtype {array.dtype}",
                                             "repair or re-download the file"))
    return array.astype(float).ravel()


def write_example(root: Path) -> dict:
    """Write a tiny OSIE copy in the release layout under ``root``: 3 images of 80 x 60, 2 subjects each
    (``fixations.mat`` as a cell array of structs, as released).  Returns the options of :func:`load`."""
    import scipy.io

    from cogmodels.datasets.gaze_table import write_example_images

    names = ["1001.jpg", "1002.jpg", "1003.jpg"]
    write_example_images(root / STIMULI_DIR, names)
    rng = np.random.default_rng(1)
    cells = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        subjects = np.empty((2, 1), dtype=object)
        for j in range(2):
            subjects[j, 0] = {"fix_x": rng.uniform(1, 80, (1, 4)), "fix_y": rng.uniform(1, 60, (1, 4)),
                              "fix_duration": rng.integers(80, 400, (1, 4)).astype(np.uint16)}
        cells[i, 0] = {"img": name, "subjects": subjects}
    (root / FIXATIONS_FILE).parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(root / FIXATIONS_FILE, {"fixations": cells})
    return {"root": root, "test_fraction": 0.34}


DATASETS.register("osie", load, example=write_example, description=__doc__)
