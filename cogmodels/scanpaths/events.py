"""Fixation detection in raw gaze: I-VT and I-DT (Salvucci & Goldberg, 2000).

Salvucci, D. D. & Goldberg, J. H. (2000). Identifying fixations and saccades
in eye-tracking protocols. Proc. ETRA, 71-78.

I-VT (velocity threshold)
    A sample whose angular speed is below a threshold is a fixation sample;
    consecutive fixation samples form a fixation.  Salvucci & Goldberg give
    no number; the default of 30 deg/s and the minimum duration of 60 ms are
    those of the Tobii I-VT filter (Olsen, A., 2012, "The Tobii I-VT fixation
    filter", Tobii Technology white paper).  A sample's speed is the
    symmetric difference over a 20 ms window (:func:`angular_speed`): 20 ms
    is about the shortest saccade, the window length of the velocity filter
    of Nystrom & Holmqvist (2010, Behav. Res. Methods 42:188-204).  Point-to-
    point speeds at 1 kHz are dominated by noise (1 px of jitter per ms is
    ~20 deg/s at 50 px/deg), which breaks fixations apart.
I-DT (dispersion threshold)
    A window covering ``min_duration`` whose dispersion
    ``(max x - min x) + (max y - min y)`` is at most the threshold starts a
    fixation, which grows sample by sample while the dispersion stays below
    the threshold; otherwise the window slides by one sample.  Defaults: 1 deg
    and 100 ms, the upper and lower ends of the ranges Salvucci & Goldberg
    recommend (0.5-1 deg, 100-200 ms).

Missing data are never interpolated.  A missing sample (NaN, i.e. a blink or
track loss) or a gap in the time stamps longer than 1.5 sampling intervals
ends the current fixation; ``blink_margin`` (ms) additionally drops samples
that close to missing data (eyelid artefacts around blinks).

Positions are converted to degrees exactly (atan, see
:mod:`cogmodels.data.geometry`) when a physical :class:`ScreenGeometry` is
given (the ``geometry`` argument, else the GazeSamples' own), else linearly
with ``px_per_deg`` (from the argument or the GazeSamples, e.g. the
tracker's own resolution in the ASC END line).  The detected Fixations carry
that geometry (the argument, else the samples' common one).

Each detected fixation has x, y = mean position of its samples (pixels),
t_onset = time of its first sample and duration = last - first + one
sampling interval (ms, the convention of EyeLink's EFIX events).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cogmodels.data.gaze import FIXATION_COLUMNS, Fixations, GazeSamples
from cogmodels.data.geometry import ScreenGeometry
from cogmodels.errors import ConfigError, format_problem

IVT_THRESHOLD_DEG_S = 30.0
IVT_MIN_DURATION_MS = 60.0
VELOCITY_WINDOW_MS = 20.0
IDT_DISPERSION_DEG = 1.0
IDT_MIN_DURATION_MS = 100.0
GAP_FACTOR = 1.5  # a time step longer than this many sampling intervals is a gap


def detect_ivt(samples: GazeSamples | Sequence[GazeSamples], *, threshold: float = IVT_THRESHOLD_DEG_S,
               min_duration: float = IVT_MIN_DURATION_MS, velocity_window: float = VELOCITY_WINDOW_MS,
               geometry: ScreenGeometry | None = None, px_per_deg: float | None = None,
               blink_margin: float = 0.0, stimulus_id: str | None = None) -> Fixations:
    """I-VT: velocity-threshold fixation identification.

    Parameters
    ----------
    samples : GazeSamples or sequence of GazeSamples
    threshold : float
        Angular speed (deg/s) below which a sample belongs to a fixation.
    min_duration : float
        Shorter fixations (ms) are discarded.
    velocity_window : float
        Time span (ms) of the symmetric difference giving each sample's speed
        (see :func:`angular_speed`).
    geometry : ScreenGeometry, optional
        Exact pixel -> degree conversion.
    px_per_deg : float, optional
        Linear conversion when no geometry is given; default ``samples.px_per_deg``.
    blink_margin : float
        Samples within this many ms of missing data are dropped.
    stimulus_id : str, optional
        Stimulus id of the fixations; default the trial label.

    Returns
    -------
    Fixations
        One row per fixation (x, y in pixels; t_onset on the samples' clock
        and duration in ms) plus the columns eye and n_samples.
    """
    _check_positive(threshold=threshold, min_duration=min_duration, blink_margin=blink_margin,
                    velocity_window=velocity_window)
    params = dict(threshold=threshold, min_duration=min_duration, velocity_window=velocity_window)
    return _detect(samples, _ivt_run, params,
                   geometry, px_per_deg, blink_margin, stimulus_id)


def detect_idt(samples: GazeSamples | Sequence[GazeSamples], *, dispersion: float = IDT_DISPERSION_DEG,
               min_duration: float = IDT_MIN_DURATION_MS, geometry: ScreenGeometry | None = None,
               px_per_deg: float | None = None, blink_margin: float = 0.0,
               stimulus_id: str | None = None) -> Fixations:
    """I-DT: dispersion-threshold fixation identification.

    Parameters
    ----------
    samples : GazeSamples or sequence of GazeSamples
    dispersion : float
        Largest (max x - min x) + (max y - min y) of a fixation, in degrees.
    min_duration : float
        Duration (ms) of the initial window, i.e. the shortest fixation.
    geometry, px_per_deg, blink_margin, stimulus_id
        As in :func:`detect_ivt`.

    Returns
    -------
    Fixations
    """
    _check_positive(dispersion=dispersion, min_duration=min_duration, blink_margin=blink_margin)
    return _detect(samples, _idt_run, dict(dispersion=dispersion, min_duration=min_duration),
                   geometry, px_per_deg, blink_margin, stimulus_id)


def _check_positive(**values) -> None:
    for name, value in values.items():
        if not np.isfinite(value) or value < 0:
            raise ConfigError(format_problem(name, "a finite number >= 0", repr(value), "see the docstring defaults"))


# -- shared machinery ------------------------------------------------------------------------------
def _detect(samples, run_detector, params, geometry, px_per_deg, blink_margin, stimulus_id) -> Fixations:
    many = list(samples) if isinstance(samples, (list, tuple)) else [samples]
    labels = _trial_labels(many)
    rows = []
    for s, trial in zip(many, labels):
        interval = 1000.0 / s.sampling_rate
        deg_x, deg_y = _to_degrees(s, geometry, px_per_deg)
        for a, b in valid_runs(s, blink_margin):
            for i, j in run_detector(s.t[a:b], deg_x[a:b], deg_y[a:b], interval, **params):
                first, last = a + i, a + j  # inclusive sample indices
                rows.append(dict(stimulus_id=stimulus_id if stimulus_id is not None else trial,
                                 subject=s.subject or "", trial=trial, x=float(np.mean(s.x[first:last + 1])),
                                 y=float(np.mean(s.y[first:last + 1])), t_onset=float(s.t[first]),
                                 duration=float(s.t[last] - s.t[first] + interval), eye=s.eye,
                                 n_samples=last - first + 1))
    table = pd.DataFrame(rows, columns=[c for c in FIXATION_COLUMNS if c != "index"] + ["eye", "n_samples"])
    table.insert(3, "index", table.groupby(["stimulus_id", "subject", "trial"], sort=False).cumcount())
    return Fixations(table, kind="eye", source="detected fixations",
                     geometry=_output_geometry(many, geometry, px_per_deg))


def _output_geometry(many: list, geometry, px_per_deg) -> ScreenGeometry | None:
    """The geometry of the detected fixations: the argument, else the samples' common one (None if they differ)."""
    if geometry is not None:
        return geometry
    screens = {s.geometry for s in many}
    if len(screens) != 1 or None in screens:
        return None
    screen = screens.pop()
    if px_per_deg is not None and px_per_deg != screen.px_per_deg:
        screen = screen.with_px_per_deg(px_per_deg, source="px_per_deg argument of the event detector")
    return screen


def _trial_labels(many: list) -> list[str]:
    """Trial label per GazeSamples; the eye is appended when one trial has both eyes."""
    base = [s.trial if s.trial is not None else f"block{s.meta.get('block', 0)}" for s in many]
    eyes_of: dict = {}
    for s, label in zip(many, base):
        eyes_of.setdefault((s.subject, label), set()).add(s.eye)
    return [f"{label}/{s.eye}" if len(eyes_of[(s.subject, label)]) > 1 else label for s, label in zip(many, base)]


def _to_degrees(samples: GazeSamples, geometry, px_per_deg) -> tuple[np.ndarray, np.ndarray]:
    if geometry is None and px_per_deg is None and samples.geometry is not None and samples.geometry.is_physical:
        geometry = samples.geometry
    if geometry is not None:
        return geometry.pixels_to_degrees(samples.x, samples.y)
    ppd = px_per_deg if px_per_deg is not None else samples.px_per_deg
    if ppd is None or not np.isfinite(ppd) or ppd <= 0:
        raise ConfigError(format_problem(
            f"GazeSamples (trial {samples.trial!r}, eye {samples.eye!r}).px_per_deg",
            "a screen geometry or pixels per degree to express thresholds in degrees", repr(ppd),
            "pass geometry=ScreenGeometry(...) or px_per_deg=..."))
    return samples.x / ppd, samples.y / ppd


def valid_runs(samples: GazeSamples, blink_margin: float = 0.0) -> list[tuple[int, int]]:
    """Half-open index ranges [a, b) of consecutive usable samples.

    A run ends at a missing sample, at a time step longer than
    ``GAP_FACTOR`` sampling intervals, and (with ``blink_margin`` > 0 ms)
    this many ms before and after missing data or gaps.

    Returns
    -------
    list of (a, b)
    """
    t = samples.t
    if len(t) == 0:
        return []
    interval = 1000.0 / samples.sampling_rate
    usable = ~samples.missing
    gap_after = np.zeros(len(t), dtype=bool)
    gap_after[:-1] = np.diff(t) > GAP_FACTOR * interval
    if blink_margin > 0:
        usable &= ~_near_missing(t, samples.missing, gap_after, blink_margin, interval)
    break_before = np.concatenate([[False], gap_after[:-1]])
    starts = usable & (np.concatenate([[True], ~usable[:-1]]) | break_before)
    ends = usable & (np.concatenate([~usable[1:], [True]]) | np.concatenate([break_before[1:], [True]]))
    return [(int(a), int(b) + 1) for a, b in zip(np.flatnonzero(starts), np.flatnonzero(ends))]


def _near_missing(t, missing, gap_after, margin, interval) -> np.ndarray:
    """Samples within ``margin`` ms of missing data: NaN samples, or the samples absent in a time gap."""
    # A gap after sample i lacks the samples from t[i] + interval to t[i + 1] - interval.
    edges = np.concatenate([t[missing], t[:-1][gap_after[:-1]] + interval, t[1:][gap_after[:-1]] - interval])
    if edges.size == 0:
        return np.zeros(len(t), dtype=bool)
    edges = np.sort(edges)
    pos = np.searchsorted(edges, t)
    before = np.abs(t - edges[np.clip(pos - 1, 0, len(edges) - 1)])
    after = np.abs(edges[np.clip(pos, 0, len(edges) - 1)] - t)
    return np.minimum(before, after) <= margin


def angular_speed(t, x, y, window: float, interval: float) -> np.ndarray:
    """Speed (deg/s) of shape (n_samples,) by a symmetric difference over ``window`` ms.

    Sample i uses samples i - k and i + k with k = max(1, round(window / (2 interval))),
    so the estimate spans the same time at any sampling rate; the window is
    truncated (becomes one-sided) at the edges of a run.
    """
    n = len(t)
    k = max(1, int(round(window / (2.0 * interval))))
    lo = np.clip(np.arange(n) - k, 0, n - 1)
    hi = np.clip(np.arange(n) + k, 0, n - 1)
    return 1000.0 * np.hypot(x[hi] - x[lo], y[hi] - y[lo]) / (t[hi] - t[lo])


def _ivt_run(t, x, y, interval, *, threshold, min_duration, velocity_window):
    """(first, last) sample indices of the I-VT fixations of one gap-free run."""
    if len(t) < 2:
        return []
    speed = angular_speed(t, x, y, velocity_window, interval)
    slow = np.concatenate([[False], speed < threshold, [False]])
    starts = np.flatnonzero(~slow[:-1] & slow[1:])
    stops = np.flatnonzero(slow[:-1] & ~slow[1:]) - 1
    return [(i, j) for i, j in zip(starts, stops) if t[j] - t[i] + interval >= min_duration]


def _idt_run(t, x, y, interval, *, dispersion, min_duration):
    """(first, last) sample indices of the I-DT fixations of one gap-free run."""
    n = len(t)
    k = max(int(np.ceil(min_duration / interval - 1e-9)), 1)  # samples in the initial window
    if n < k:
        return []
    window = np.lib.stride_tricks.sliding_window_view
    initial = (window(x, k).max(1) - window(x, k).min(1)) + (window(y, k).max(1) - window(y, k).min(1))
    starts_ok = np.flatnonzero(initial <= dispersion)
    out, i = [], 0
    while True:
        nxt = np.searchsorted(starts_ok, i)
        if nxt == len(starts_ok):
            return out
        i = starts_ok[nxt]
        j = i + k - 1
        x_lo, x_hi, y_lo, y_hi = x[i:j + 1].min(), x[i:j + 1].max(), y[i:j + 1].min(), y[i:j + 1].max()
        while j + 1 < n:
            nx_lo, nx_hi = min(x_lo, x[j + 1]), max(x_hi, x[j + 1])
            ny_lo, ny_hi = min(y_lo, y[j + 1]), max(y_hi, y[j + 1])
            if (nx_hi - nx_lo) + (ny_hi - ny_lo) > dispersion:
                break
            x_lo, x_hi, y_lo, y_hi, j = nx_lo, nx_hi, ny_lo, ny_hi, j + 1
        out.append((i, j))
        i = j + 1


# -- agreement with a reference (e.g. the tracker's EFIX events) ---------------------------------------
@dataclass
class FixationAgreement:
    """Event-level agreement between detected and reference fixations.

    A detected and a reference fixation match when their time intervals
    ``[t_onset, t_onset + duration)`` have an intersection over union of at
    least ``min_iou`` (one-to-one, greedy by IoU).

    Attributes
    ----------
    n_reference, n_detected, n_matched : int
    recall : float
        Fraction of reference fixations matched ("% of tracker fixations found").
    precision : float
        Fraction of detected fixations matched.
    f1 : float
    onset_diff_ms, offset_diff_ms : arrays of shape (n_matched,)
        Detected minus reference onset / offset.
    matches : DataFrame
        One row per match: reference and detected row, iou, onset and offset differences.
    """

    n_reference: int
    n_detected: int
    n_matched: int
    onset_diff_ms: np.ndarray
    offset_diff_ms: np.ndarray
    matches: pd.DataFrame

    @property
    def recall(self) -> float:
        """n_matched / n_reference; NaN with a warning when there is no reference fixation."""
        return _ratio(self.n_matched, self.n_reference, "recall (no reference fixations)")

    @property
    def precision(self) -> float:
        """n_matched / n_detected; NaN with a warning when nothing was detected."""
        return _ratio(self.n_matched, self.n_detected, "precision (no detected fixations)")

    @property
    def f1(self) -> float:
        return _ratio(2 * self.n_matched, self.n_reference + self.n_detected, "F1 (no fixations at all)")

    def summary(self) -> dict:
        """Counts, recall/precision/F1 and median absolute onset/offset differences (ms).

        Undefined values (no fixations, no matches) are NaN, each with a warning.
        """
        def median_abs(diffs, what):
            if len(diffs):
                return float(np.median(np.abs(diffs)))
            return _ratio(0, 0, f"median {what} difference (no matched fixations)")

        return dict(n_reference=self.n_reference, n_detected=self.n_detected, n_matched=self.n_matched,
                    recall=self.recall, precision=self.precision, f1=self.f1,
                    median_abs_onset_diff_ms=median_abs(self.onset_diff_ms, "onset"),
                    median_abs_offset_diff_ms=median_abs(self.offset_diff_ms, "offset"))


def _ratio(numerator: float, denominator: float, what: str) -> float:
    if denominator == 0:
        warnings.warn(f"{what} is undefined: returning NaN", stacklevel=3)
        return float("nan")
    return numerator / denominator


def match_fixations(detected: pd.DataFrame, reference: pd.DataFrame, *, min_iou: float = 0.5) -> FixationAgreement:
    """Match two fixation lists of the same eye and recording by temporal overlap.

    Parameters
    ----------
    detected, reference : DataFrame with columns t_onset, duration (ms)
    min_iou : float
        Smallest intersection over union of a match, in (0, 1].

    Returns
    -------
    FixationAgreement
    """
    if not 0 < min_iou <= 1:
        raise ConfigError(format_problem("min_iou", "a number in (0, 1]", repr(min_iou), "use 0.5"))
    d_on, d_off = _interval(detected)
    r_on, r_off = _interval(reference)
    d_order = np.argsort(d_on, kind="stable")
    candidates = []
    for r in range(len(r_on)):
        # Fixations of one list do not overlap, so the detected ones overlapping r are contiguous in time.
        lo = np.searchsorted(d_off[d_order], r_on[r], side="right")
        hi = np.searchsorted(d_on[d_order], r_off[r], side="left")
        for d in d_order[lo:hi]:
            inter = min(r_off[r], d_off[d]) - max(r_on[r], d_on[d])
            union = (r_off[r] - r_on[r]) + (d_off[d] - d_on[d]) - inter
            if union > 0 and inter / union >= min_iou:
                candidates.append((inter / union, r, int(d)))
    pairs, used_r, used_d = [], set(), set()
    for value, r, d in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if r not in used_r and d not in used_d:
            pairs.append((r, d, value))
            used_r.add(r)
            used_d.add(d)
    pairs.sort()
    matches = pd.DataFrame([dict(reference_row=r, detected_row=d, iou=v, onset_diff_ms=d_on[d] - r_on[r],
                                 offset_diff_ms=d_off[d] - r_off[r]) for r, d, v in pairs],
                           columns=["reference_row", "detected_row", "iou", "onset_diff_ms", "offset_diff_ms"])
    return FixationAgreement(len(r_on), len(d_on), len(pairs), matches["onset_diff_ms"].to_numpy(float),
                             matches["offset_diff_ms"].to_numpy(float), matches)


def _interval(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    onset = table["t_onset"].to_numpy(float)
    return onset, onset + table["duration"].to_numpy(float)


def tracker_fixations(samples: GazeSamples) -> pd.DataFrame:
    """The tracker's own fixations (EFIX) of one GazeSamples as t_onset, duration, x, y."""
    events = samples.events if samples.events is not None else pd.DataFrame(columns=["type"])
    fix = events[events["type"] == "fixation"]
    return pd.DataFrame(dict(t_onset=fix["t_start"].to_numpy(float), duration=fix["duration"].to_numpy(float),
                             x=fix["x"].to_numpy(float), y=fix["y"].to_numpy(float)))


def compare_with_tracker(samples: GazeSamples | Sequence[GazeSamples], method: str = "ivt", *,
                         min_iou: float = 0.5, **params) -> FixationAgreement:
    """Detect fixations and compare them with the tracker's EFIX events, eye by eye.

    Parameters
    ----------
    samples : GazeSamples or sequence of GazeSamples (each with its tracker events)
    method : "ivt" or "idt"
    min_iou : float
    **params
        Passed to :func:`detect_ivt` / :func:`detect_idt`.

    Returns
    -------
    FixationAgreement
        Pooled over all GazeSamples (matches never cross eyes or trials).
    """
    detectors = {"ivt": detect_ivt, "idt": detect_idt}
    if method not in detectors:
        raise ConfigError(format_problem("method", f"one of {sorted(detectors)}", repr(method), "use 'ivt' or 'idt'"))
    many = list(samples) if isinstance(samples, (list, tuple)) else [samples]
    parts = [match_fixations(detectors[method](s, **params).table, tracker_fixations(s), min_iou=min_iou)
             for s in many]
    matches = pd.concat([p.matches.assign(segment=i) for i, p in enumerate(parts)], ignore_index=True)
    return FixationAgreement(sum(p.n_reference for p in parts), sum(p.n_detected for p in parts),
                             sum(p.n_matched for p in parts), matches["onset_diff_ms"].to_numpy(float),
                             matches["offset_diff_ms"].to_numpy(float), matches)
