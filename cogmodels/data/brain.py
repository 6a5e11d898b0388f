"""Brain responses (fMRI, SEEG, spike counts) with their channel table."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cogmodels.data.checks import check_array, check_responses, check_unique_ids
from cogmodels.errors import DataFormatError, ShapeError, format_problem

CHANNEL_COLUMNS = ("id", "hemisphere", "rois")
#: Recording modalities a BrainResponses may state.  "fmri" and "spikes" hold one response row per stimulus
#: (single trials, if any, in ``repeats``); "seeg" holds time-resolved events, which may repeat a stimulus.
MODALITIES = ("fmri", "seeg", "spikes")
#: Modalities with one row per stimulus: their stimulus ids must be unique.
PER_STIMULUS_MODALITIES = ("fmri", "spikes")


def make_channel_table(n_channels: int, rois: Sequence[Sequence[str]] | None = None,
                       hemisphere: Sequence[str] | None = None, **columns) -> pd.DataFrame:
    """Build a channel table with the required columns.

    Parameters
    ----------
    n_channels : int
    rois : sequence of sequences of str, optional
        ROI labels per channel (multi-label); default: no ROI.
    hemisphere : sequence of str, optional
        "lh" / "rh" / "" per channel.
    **columns
        Extra per-channel columns (e.g. vertex, x, y, z).
    """
    table = pd.DataFrame({
        "id": [f"ch{i:05d}" for i in range(n_channels)],
        "hemisphere": list(hemisphere) if hemisphere is not None else [""] * n_channels,
        "rois": [_roi_tuple(r, f"rois[{i}]") for i, r in enumerate(rois)] if rois is not None else [()] * n_channels,
        **columns,
    })
    return table


def _roi_tuple(value, where: str) -> tuple:
    """The ROI labels of one channel as a tuple of str: a plain string is one label ("V1" -> ("V1",))."""
    if isinstance(value, str):
        return (value,) if value else ()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    if isinstance(value, (list, tuple, np.ndarray, set, frozenset)):
        labels = tuple(sorted(value) if isinstance(value, (set, frozenset)) else value)
        if all(isinstance(label, str) and label for label in labels):
            return labels
    raise DataFormatError(format_problem(where, "the ROI labels of one channel: a tuple of names such as "
                                         "('V1', 'early'), or one name", f"{value!r} ({type(value).__name__})",
                                         "give each channel a tuple of non-empty ROI names (() for none)"))


def check_channels(channels: pd.DataFrame, n_channels: int, where: str = "channels") -> pd.DataFrame:
    """Check a channel table: required columns, one row per channel, unique ids, ROI labels as tuples of str.

    A ``rois`` entry that is one plain string (``"V1"``) is one label: it becomes ``("V1",)``
    (in a copy of the table), never the characters of the string.  Lists become tuples.
    """
    if not isinstance(channels, pd.DataFrame):
        raise DataFormatError(format_problem(where, "a pandas DataFrame", type(channels).__name__,
                                             "build it with cogmodels.data.make_channel_table"))
    missing = [c for c in CHANNEL_COLUMNS if c not in channels.columns]
    if missing:
        raise DataFormatError(format_problem(where, f"columns {list(CHANNEL_COLUMNS)}", f"no column(s) {missing}",
                                             "add them (rois holds a tuple of ROI names per channel)"))
    if len(channels) != n_channels:
        raise ShapeError(format_problem(where, f"{n_channels} rows (one per response channel)",
                                        f"{len(channels)} rows", "give one channel row per response column"))
    check_unique_ids(channels["id"], f"{where}.id")
    rois = list(channels["rois"])
    labels = [_roi_tuple(r, f"{where}.rois[{i}]") for i, r in enumerate(rois)]
    if any(type(a) is not tuple or a != b for a, b in zip(rois, labels)):
        channels = channels.copy()
        channels["rois"] = pd.Series(labels, index=channels.index, dtype=object)
    return channels


@dataclass
class BrainResponses:
    """Responses of one subject to a set of stimuli.

    Attributes
    ----------
    responses : float32 array of shape (n_stimuli, n_channels), or (n_events, n_channels, n_times) for SEEG
    stimulus_ids : list of str, length n_stimuli (or n_events)
    channels : DataFrame with columns id, hemisphere, rois (tuple of str) and optional coordinates/vertex
    subject : str
    modality : "fmri", "seeg" or "spikes" (see :data:`MODALITIES`)
        "spikes": spike counts (or rates) of single or multi units, one row per stimulus like "fmri".
    repeats : float32 array of shape (n_stimuli, n_repeats, n_channels), optional
        Single-trial responses, for noise ceilings; NaN marks a missing repeat.
    times : float array of shape (n_times,), optional (SEEG, seconds)
    """

    responses: np.ndarray
    stimulus_ids: list
    channels: pd.DataFrame
    subject: str = "sub-01"
    modality: str = "fmri"
    repeats: np.ndarray | None = None
    times: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.responses = check_responses(self.responses, f"BrainResponses({self.subject}).responses")
        n = self.responses.shape[0]
        if self.modality not in MODALITIES:
            raise DataFormatError(format_problem(
                f"BrainResponses({self.subject}).modality", f"one of {list(MODALITIES)}", repr(self.modality),
                "set modality to 'fmri' (BOLD), 'seeg' (time-resolved events) or 'spikes' (spike counts)"))
        self.stimulus_ids = [str(s) for s in self.stimulus_ids]
        if len(self.stimulus_ids) != n:
            raise ShapeError(format_problem(f"BrainResponses({self.subject}).stimulus_ids",
                                            f"{n} ids (one per response row)", f"{len(self.stimulus_ids)}",
                                            "pass the id of each response row"))
        if self.modality in PER_STIMULUS_MODALITIES:
            check_unique_ids(self.stimulus_ids, f"BrainResponses({self.subject}).stimulus_ids")
        self.channels = check_channels(self.channels, self.responses.shape[1],
                                       f"BrainResponses({self.subject}).channels")
        if self.repeats is not None:
            rep = check_array(self.repeats, f"BrainResponses({self.subject}).repeats", ndim=3, dtype="float")
            if rep.shape[0] != n or rep.shape[2] != self.responses.shape[1]:
                raise ShapeError(format_problem(
                    f"BrainResponses({self.subject}).repeats", f"shape ({n}, n_repeats, {self.responses.shape[1]})",
                    f"shape {rep.shape}", "stack single trials as (n_stimuli, n_repeats, n_channels)"))
            if np.isinf(rep).any():
                raise DataFormatError(format_problem(f"BrainResponses({self.subject}).repeats",
                                                     "finite values or NaN for missing repeats", "inf values",
                                                     "replace inf with NaN"))
            self.repeats = rep.astype(np.float32, copy=False)

    @property
    def n_channels(self) -> int:
        return self.responses.shape[1]

    def roi_names(self) -> list[str]:
        """Sorted ROI names found in the channel table."""
        return sorted({r for rois in self.channels["rois"] for r in rois})

    def roi_mask(self, roi: str) -> np.ndarray:
        """Boolean mask of shape (n_channels,) of the channels labelled ``roi``."""
        return np.array([roi in rois for rois in self.channels["rois"]], dtype=bool)

    def subset(self, stimulus_ids: Sequence[str] | None = None, channels: np.ndarray | None = None) -> "BrainResponses":
        """A copy restricted to some stimuli (in the given order) and/or channels (mask or indices)."""
        rows = slice(None)
        if stimulus_ids is not None:
            index = {s: i for i, s in enumerate(self.stimulus_ids)}
            missing = [s for s in stimulus_ids if s not in index]
            if missing:
                raise DataFormatError(format_problem(f"BrainResponses({self.subject}).subset", "known stimulus ids",
                                                     f"{len(missing)} unknown ids, e.g. {missing[:3]}",
                                                     "check the split"))
            rows = np.array([index[s] for s in stimulus_ids], dtype=int)
        cols = slice(None) if channels is None else np.asarray(channels)
        return BrainResponses(
            responses=self.responses[rows][:, cols],
            stimulus_ids=list(np.asarray(self.stimulus_ids, dtype=object)[rows]),
            channels=self.channels.iloc[cols if not isinstance(cols, slice) else slice(None)].reset_index(drop=True),
            subject=self.subject, modality=self.modality,
            repeats=None if self.repeats is None else self.repeats[rows][:, :, cols],
            times=self.times, meta=dict(self.meta))


def drop_nan_channels(responses: np.ndarray, where: str, *, drop: bool) -> tuple[np.ndarray, np.ndarray]:
    """Find channels with any NaN; drop them only when asked, with a warning giving the count.

    Returns
    -------
    responses : array with the NaN channels removed (when ``drop``)
    keep : bool array of shape (n_channels,)
    """
    bad = ~np.isfinite(responses).reshape(responses.shape[0], responses.shape[1], -1).all(axis=(0, 2))
    if bad.any():
        if not drop:
            raise DataFormatError(format_problem(
                where, "finite responses in every channel", f"NaN/inf in {int(bad.sum())} of {bad.size} channels",
                "pass drop_nan_channels=True to drop those channels (a warning will give the count)"))
        warnings.warn(f"{where}: dropped {int(bad.sum())} of {bad.size} channels containing NaN/inf "
                      f"(drop_nan_channels=True)", stacklevel=2)
    return responses[:, ~bad], ~bad
