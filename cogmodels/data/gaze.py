"""Eye-tracking containers: Scanpath, Fixations (table form) and GazeSamples (raw)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cogmodels.data.checks import check_array
from cogmodels.data.geometry import ScreenGeometry
from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

FIXATION_COLUMNS = ("stimulus_id", "subject", "trial", "index", "x", "y", "t_onset", "duration")
FIXATION_KINDS = ("eye", "click")


@dataclass
class Scanpath:
    """One trial's fixations in order.

    Attributes
    ----------
    x, y : float arrays of shape (n_fixations,)
        Pixels, origin at the top-left of the image.
    t_onset, duration : float arrays of shape (n_fixations,)
        Milliseconds.
    stimulus_id, subject, task : str or None
    """

    x: np.ndarray
    y: np.ndarray
    t_onset: np.ndarray
    duration: np.ndarray
    stimulus_id: str | None = None
    subject: str | None = None
    task: str | None = None

    def __post_init__(self):
        arrays = {}
        for name in ("x", "y", "t_onset", "duration"):
            arr = check_array(np.asarray(getattr(self, name), dtype=float), f"Scanpath.{name}", ndim=1, finite=True)
            arrays[name] = arr
        n = {len(a) for a in arrays.values()}
        if len(n) != 1:
            raise ShapeError(format_problem("Scanpath", "x, y, t_onset and duration of equal length",
                                            f"lengths { {k: len(v) for k, v in arrays.items()} }",
                                            "pass one value per fixation in every array"))
        if (arrays["duration"] < 0).any():
            raise DataFormatError(format_problem("Scanpath.duration", "non-negative durations (ms)",
                                                 f"min {arrays['duration'].min():g}", "fix the duration column"))
        for k, v in arrays.items():
            setattr(self, k, v)

    @classmethod
    def from_arrays(cls, x, y, t_onset=None, duration=None, stimulus_id=None, subject=None, task=None) -> "Scanpath":
        """Build a scanpath; missing onsets are cumulative durations, missing durations are zeros."""
        x = np.asarray(x, dtype=float)
        if duration is None:
            duration = np.zeros_like(x)
        duration = np.asarray(duration, dtype=float)
        if t_onset is None:
            t_onset = np.concatenate([[0.0], np.cumsum(duration)[:-1]]) if len(duration) else np.zeros(0)
        return cls(x, np.asarray(y, dtype=float), np.asarray(t_onset, dtype=float), duration,
                   None if stimulus_id is None else str(stimulus_id),
                   None if subject is None else str(subject), task)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def xy(self) -> np.ndarray:
        """Positions as an array of shape (n_fixations, 2)."""
        return np.stack([self.x, self.y], axis=1)


class Fixations:
    """A table of fixations, one row per fixation.

    Within a trial (stimulus_id, subject, trial) the ``index`` values are
    unique and, in index order, ``t_onset`` never decreases; a table that
    breaks either is rejected (:class:`DataFormatError` naming the trial).

    Parameters
    ----------
    table : DataFrame
        Columns stimulus_id, subject, trial, index, x, y (pixels, origin
        top-left), t_onset, duration (ms); extra columns are kept.
    trials : DataFrame, optional
        One row per (stimulus_id, subject, trial) with trial metadata: task,
        target box, ...
    geometry : ScreenGeometry, optional
        The screen the x, y pixels refer to: its size (the ``screen_size`` of
        the scanpath metrics) and, where known, pixels per degree.  Every
        loader sets it; tables built by hand may leave it None, and what then
        needs it (degrees, a screen size) raises and says so.
    image_sizes : mapping stimulus_id -> (width, height), optional
        Used to check that fixations fall inside the image.
    kind : "eye" or "click"
        Mouse clicks (e.g. CapMIT1003) are their own kind, never mixed up with eye fixations.
    clip : bool
        Clip out-of-image fixations to the image instead of raising.
    source : str
        File or dataset name used in error messages.
    """

    def __init__(self, table: pd.DataFrame, trials: pd.DataFrame | None = None,
                 image_sizes: Mapping[str, tuple[int, int]] | None = None, kind: str = "eye",
                 clip: bool = False, source: str = "fixations", geometry: ScreenGeometry | None = None):
        if geometry is not None and not isinstance(geometry, ScreenGeometry):
            raise ConfigError(format_problem(f"{source}.geometry", "a cogmodels.data.ScreenGeometry or None",
                                             type(geometry).__name__,
                                             "pass ScreenGeometry(width_px=..., height_px=..., px_per_deg=...)"))
        if kind not in FIXATION_KINDS:
            raise DataFormatError(format_problem(f"{source}.kind", f"one of {FIXATION_KINDS}", repr(kind),
                                                 "say whether these are eye fixations or clicks"))
        self.kind = kind
        self.source = source
        self.image_sizes = {str(k): (int(v[0]), int(v[1])) for k, v in (image_sizes or {}).items()}
        self.table = check_fixation_table(table, self.image_sizes, clip=clip, where=source)
        self.trials = trials
        self.geometry = geometry

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return (f"Fixations(kind={self.kind!r}, n_fixations={len(self)}, "
                f"n_stimuli={self.table['stimulus_id'].nunique()}, n_subjects={self.table['subject'].nunique()}, "
                f"geometry={self.geometry.describe() if self.geometry is not None else None!r})")

    def require_geometry(self, where: str = "fixations") -> ScreenGeometry:
        """``self.geometry``, or a :class:`ConfigError` saying how to set it."""
        if self.geometry is None:
            raise ConfigError(format_problem(
                f"{where}.geometry", "the screen geometry the fixations refer to (set by every loader)", "None",
                "build Fixations(..., geometry=ScreenGeometry(width_px=..., height_px=..., px_per_deg=...))"))
        return self.geometry

    @property
    def subjects(self) -> list[str]:
        return sorted(self.table["subject"].unique())

    @property
    def stimulus_ids(self) -> list[str]:
        return sorted(self.table["stimulus_id"].unique())

    def subset(self, stimulus_ids: Sequence[str] | None = None, subjects: Sequence[str] | None = None) -> "Fixations":
        """Rows of some stimuli and/or subjects."""
        keep = np.ones(len(self.table), dtype=bool)
        if stimulus_ids is not None:
            keep &= self.table["stimulus_id"].isin([str(s) for s in stimulus_ids]).to_numpy()
        if subjects is not None:
            keep &= self.table["subject"].isin([str(s) for s in subjects]).to_numpy()
        trials = self.trials
        if trials is not None:
            tkeep = np.ones(len(trials), dtype=bool)
            if stimulus_ids is not None:
                tkeep &= trials["stimulus_id"].isin([str(s) for s in stimulus_ids]).to_numpy()
            if subjects is not None:
                tkeep &= trials["subject"].isin([str(s) for s in subjects]).to_numpy()
            trials = trials[tkeep].reset_index(drop=True)
        return Fixations(self.table[keep].reset_index(drop=True), trials, self.image_sizes, self.kind,
                         source=self.source, geometry=self.geometry)

    def to_scanpaths(self) -> list[Scanpath]:
        """One Scanpath per (stimulus_id, subject, trial), ordered by index."""
        task_of = {}
        if self.trials is not None and "task" in self.trials.columns:
            task_of = {(r.stimulus_id, r.subject, r.trial): r.task for r in self.trials.itertuples()}
        out = []
        for (sid, subj, trial), rows in self.table.groupby(["stimulus_id", "subject", "trial"], sort=True):
            rows = rows.sort_values("index")
            out.append(Scanpath(rows["x"].to_numpy(float), rows["y"].to_numpy(float),
                                rows["t_onset"].to_numpy(float), rows["duration"].to_numpy(float),
                                sid, subj, task_of.get((sid, subj, trial))))
        return out

    @classmethod
    def from_scanpaths(cls, scanpaths: Sequence[Scanpath], **kwargs) -> "Fixations":
        """Table form of a list of scanpaths (trial numbers are assigned per stimulus and subject).

        ``kwargs`` go to the constructor (``geometry=``, ``image_sizes=``, ``kind=``, ...).
        """
        rows, counter = [], {}
        for sp in scanpaths:
            key = (sp.stimulus_id, sp.subject)
            trial = counter.get(key, 0)
            counter[key] = trial + 1
            for i in range(len(sp)):
                rows.append((sp.stimulus_id, sp.subject, trial, i, sp.x[i], sp.y[i], sp.t_onset[i], sp.duration[i]))
        return cls(pd.DataFrame(rows, columns=list(FIXATION_COLUMNS)), **kwargs)


def check_fixation_table(table: pd.DataFrame, image_sizes: Mapping[str, tuple[int, int]] | None = None,
                         *, clip: bool = False, where: str = "fixations") -> pd.DataFrame:
    """Validate a fixation table; returns a normalised copy.

    Fixations outside their image are an error, or are clipped (with a
    warning giving the count) when ``clip=True``.  Within a trial
    (stimulus_id, subject, trial), a repeated ``index`` and a ``t_onset``
    that decreases in index order are errors (never silently reordered).
    """
    if not isinstance(table, pd.DataFrame):
        raise DataFormatError(format_problem(where, "a pandas DataFrame", type(table).__name__,
                                             f"build a DataFrame with columns {list(FIXATION_COLUMNS)}"))
    missing = [c for c in FIXATION_COLUMNS if c not in table.columns]
    if missing:
        raise DataFormatError(format_problem(where, f"columns {list(FIXATION_COLUMNS)}", f"no column(s) {missing}",
                                             "rename or add them"))
    table = table.copy()
    table["stimulus_id"] = table["stimulus_id"].astype(str)
    table["subject"] = table["subject"].astype(str)
    for col in ("x", "y", "t_onset", "duration"):
        values = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataFormatError(format_problem(f"{where}.{col}", "finite numbers",
                                                 f"{int(bad.sum())} non-numeric/NaN values (first at row {int(np.argmax(bad))})",
                                                 "drop those fixations before building the table"))
        table[col] = values
    negative = table["duration"].to_numpy() < 0
    if negative.any():
        raise DataFormatError(format_problem(f"{where}.duration", "durations >= 0 ms",
                                             f"{int(negative.sum())} negative durations (first at row {int(np.argmax(negative))})",
                                             "check the units and the onset/offset columns"))
    _check_trial_order(table, where)
    if image_sizes:
        table = _check_bounds(table, image_sizes, clip=clip, where=where)
    return table.reset_index(drop=True)


def _check_trial_order(table: pd.DataFrame, where: str) -> None:
    """Unique ``index`` per trial, and ``t_onset`` non-decreasing in index order within each trial."""
    if len(table) < 2:
        return
    keys = ["stimulus_id", "subject", "trial"]
    index = pd.to_numeric(table["index"], errors="coerce").to_numpy(float)
    if not np.isfinite(index).all():
        bad = ~np.isfinite(index)
        first = int(np.argmax(bad))
        raise DataFormatError(format_problem(f"{where}.index", "fixation numbers (integers) within each trial",
                                             f"{int(bad.sum())} non-numeric values (first at row {first})",
                                             "number the fixations of each trial 0, 1, 2, ..."))
    order = table.assign(_index=index).sort_values(keys + ["_index"], kind="stable")
    same_trial = np.ones(len(order) - 1, dtype=bool)
    for key in keys:
        values = order[key].to_numpy()
        same_trial &= values[1:] == values[:-1]
    sorted_index, onset = order["_index"].to_numpy(), order["t_onset"].to_numpy(float)
    rows = order.index.to_numpy()
    duplicate = same_trial & (sorted_index[1:] == sorted_index[:-1])
    decreasing = same_trial & (onset[1:] < onset[:-1])
    checks = (  # (bad consecutive pairs, field, expected, found given (first pair i, its trial), fix); in this order
        (duplicate, f"{where}.index", "unique fixation indices within each trial (stimulus_id, subject, trial)",
         lambda i, trial: f"{int(duplicate.sum())} repeated index value(s); first: index {sorted_index[i]:g} twice "
                          f"in trial {trial} (rows {rows[i]} and {rows[i + 1]})",
         "drop duplicated rows, or give each trial its own `trial` value"),
        (decreasing, f"{where}.t_onset", "onsets that never decrease in index order within each trial",
         lambda i, trial: f"{int(decreasing.sum())} decrease(s); first in trial {trial}: index {sorted_index[i]:g} "
                          f"at {onset[i]:g} ms, then index {sorted_index[i + 1]:g} at {onset[i + 1]:g} ms (rows "
                          f"{rows[i]} and {rows[i + 1]})",
         "renumber `index` in time order, or fix the onset column (units, trial boundaries)"),
    )
    for bad, column, expected, found, fix in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFormatError(format_problem(column, expected, found(i, _trial_key(order, keys, i)), fix))


def _trial_key(order: pd.DataFrame, keys: list, i: int) -> tuple:
    values = (order[k].iloc[i] for k in keys)
    return tuple(v.item() if isinstance(v, np.generic) else v for v in values)


def _check_bounds(table, image_sizes, *, clip, where):
    sizes = table["stimulus_id"].map(lambda s: image_sizes.get(s, (np.inf, np.inf)))
    width = np.array([s[0] for s in sizes], dtype=float)
    height = np.array([s[1] for s in sizes], dtype=float)
    x, y = table["x"].to_numpy(), table["y"].to_numpy()
    outside = (x < 0) | (y < 0) | (x >= width) | (y >= height)
    if outside.any():
        i = int(np.argmax(outside))
        detail = (f"{int(outside.sum())} fixations outside their image (first: row {i}, stimulus "
                  f"{table['stimulus_id'].iloc[i]!r}, x={x[i]:g}, y={y[i]:g}, image {int(width[i])}x{int(height[i])})")
        if not clip:
            raise DataFormatError(format_problem(f"{where}.x/y", "fixations inside the image (0 <= x < width, 0 <= y < height)",
                                                 detail, "check the screen-to-image offset, or pass clip=True to clip them"))
        warnings.warn(f"{where}: clipped {detail} (clip=True)", stacklevel=3)
        table["x"] = np.clip(x, 0, width - 1e-6)
        table["y"] = np.clip(y, 0, height - 1e-6)
    return table


@dataclass
class GazeSamples:
    """Raw gaze samples of one trial (one eye).

    Attributes
    ----------
    t : float array of shape (n_samples,), ms
    x, y : float arrays of shape (n_samples,), pixels; NaN marks a missing sample (blink, track loss)
    sampling_rate : float, Hz
    px_per_deg : float, optional
        Pixels per degree for velocities in deg/s; taken from ``geometry`` when not given
        (and it must agree with it within 1 % when both are).
    eye : "L", "R" or ""
    events : DataFrame, optional; the tracker's own events (type, t_start, t_end, ...)
    messages : DataFrame, optional; (t, text)
    pupil : float array of shape (n_samples,), optional; pupil size in tracker units
    geometry : ScreenGeometry, optional
        The screen of the recording; set by the EyeLink reader (from the geometry
        given, else from DISPLAY_COORDS and the tracker's RES).
    """

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    sampling_rate: float
    px_per_deg: float | None = None
    eye: str = ""
    subject: str | None = None
    trial: str | None = None
    events: pd.DataFrame | None = None
    messages: pd.DataFrame | None = None
    pupil: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    geometry: ScreenGeometry | None = None

    def __post_init__(self):
        if self.geometry is not None:
            if not isinstance(self.geometry, ScreenGeometry):
                raise ConfigError(format_problem("GazeSamples.geometry", "a cogmodels.data.ScreenGeometry or None",
                                                 type(self.geometry).__name__, "pass ScreenGeometry(...)"))
            known = self.geometry.px_per_deg
            if self.px_per_deg is None:
                self.px_per_deg = known
            elif known is not None and abs(self.px_per_deg - known) > 0.01 * known:
                raise ConfigError(format_problem("GazeSamples.px_per_deg", f"{known:g} (from the geometry)",
                                                 repr(self.px_per_deg), "give one of px_per_deg and geometry"))
        self.t = check_array(np.asarray(self.t, dtype=float), "GazeSamples.t", ndim=1, finite=True)
        self.x = check_array(np.asarray(self.x, dtype=float), "GazeSamples.x", ndim=1)
        self.y = check_array(np.asarray(self.y, dtype=float), "GazeSamples.y", ndim=1)
        if not (len(self.t) == len(self.x) == len(self.y)):
            raise ShapeError(format_problem("GazeSamples", "t, x, y of equal length",
                                            f"{len(self.t)}, {len(self.x)}, {len(self.y)}", "pass one value per sample"))
        if len(self.t) > 1 and (np.diff(self.t) <= 0).any():
            raise DataFormatError(format_problem("GazeSamples.t", "strictly increasing timestamps",
                                                 f"{int((np.diff(self.t) <= 0).sum())} non-increasing steps",
                                                 "sort the samples and drop duplicates"))
        if not self.sampling_rate or self.sampling_rate <= 0:
            raise DataFormatError(format_problem("GazeSamples.sampling_rate", "a positive rate in Hz",
                                                 repr(self.sampling_rate), "read it from the recording header"))

    @property
    def missing(self) -> np.ndarray:
        """Boolean mask of shape (n_samples,) of missing samples."""
        return ~(np.isfinite(self.x) & np.isfinite(self.y))

    def __len__(self) -> int:
        return len(self.t)
