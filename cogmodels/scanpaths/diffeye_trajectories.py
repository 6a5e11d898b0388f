"""Fixed-length gaze trajectories for DiffEye: synthesis from fixations, raw samples on the model's clock.

DiffEye learns from raw gaze trajectories of a fixed number of samples.  A dataset
that has raw gaze (:class:`~cogmodels.data.GazeSamples`) gives them directly
(:func:`trajectories_from_samples`); one that has only fixations (OSIE) gives
trajectories synthesised from each scanpath (:func:`synthesize_trajectory`).

Synthesis (stated in the results of every model trained on it)
----------------------------------------------------------------
Time runs from 0 ms at ``sampling_rate`` Hz for ``n_steps`` samples.

- **Saccades** between consecutive fixations follow the main sequence:
  duration ``D = 2.2 ms/deg * A + 21 ms`` for an amplitude of ``A`` degrees
  (Carpenter 1988, *Movements of the Eyes*; Baloh et al. 1975), with the
  minimum-jerk position profile ``s(u) = 10u^3 - 15u^4 + 6u^5`` (peak speed
  1.875 A / D, e.g. 10 deg in 43 ms peaks at 436 deg/s).
- **Timing.**  A saccade ends at the next fixation's onset when the gap between
  the two fixations is at least ``D``.  Otherwise (OSIE: onsets are cumulative
  durations, without saccade time) the next fixation and all later ones are
  delayed by the missing time, so every fixation keeps its duration; the
  placed onsets are returned beside the trajectory.
- **Fixations** hold their position plus **drift**, a Brownian motion of
  ``drift_deg`` degrees standard deviation per axis after one second (restarting
  at every fixation), plus white **jitter** of ``jitter_deg`` degrees per
  sample and axis (tremor and tracker noise).  Defaults: 0.25 deg/sqrt(s) and
  0.03 deg, small against the I-VT threshold (30 deg/s).
- Before the first fixation (a non-zero first onset) gaze rests at the first
  fixation; after the last fixation ends, gaze stays on it (drift and jitter
  continue) until the end of the window, so the last fixation is cut by the window
  or lengthened to it; fixations placed after the window are cut off (counted).

Positions are clipped to the image.  :func:`recovery` runs I-VT on the
synthesised trajectories and matches the detected fixations with the placed
ones (recall, onset and position errors).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from cogmodels.data import GazeSamples, Scanpath
from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

MAIN_SEQUENCE_SLOPE_MS_PER_DEG = 2.2
MAIN_SEQUENCE_INTERCEPT_MS = 21.0
LENGTH_POLICIES = ("crop", "resample", "raise")
BLINK_POLICIES = ("raise", "interpolate")


def saccade_duration(amplitude_deg) -> np.ndarray:
    """Main-sequence saccade duration (ms) of amplitudes in degrees."""
    return MAIN_SEQUENCE_SLOPE_MS_PER_DEG * np.asarray(amplitude_deg, float) + MAIN_SEQUENCE_INTERCEPT_MS


def minimum_jerk(u) -> np.ndarray:
    """Minimum-jerk position profile on [0, 1] -> [0, 1]."""
    u = np.clip(np.asarray(u, float), 0.0, 1.0)
    return u ** 3 * (10 - 15 * u + 6 * u ** 2)


@dataclass
class SynthesisOptions:
    """How fixations become a trajectory (see the module docstring).

    Attributes
    ----------
    sampling_rate : float, Hz
    n_steps : int
        Samples per trajectory.
    px_per_deg : float
    jitter_deg : float
        White positional noise per sample and axis, degrees.
    drift_deg : float
        Brownian drift during a fixation, degrees per sqrt(second) per axis.
    """

    sampling_rate: float
    n_steps: int
    px_per_deg: float
    jitter_deg: float = 0.03
    drift_deg: float = 0.25

    def describe(self) -> str:
        return (f"trajectories synthesised from fixations: {self.n_steps} samples at {self.sampling_rate:g} Hz; "
                f"main-sequence saccades (D = {MAIN_SEQUENCE_SLOPE_MS_PER_DEG} ms/deg * A + "
                f"{MAIN_SEQUENCE_INTERCEPT_MS} ms, minimum-jerk profile), later fixations delayed when the gap is "
                f"shorter than the saccade; fixational drift {self.drift_deg} deg/sqrt(s) and jitter "
                f"{self.jitter_deg} deg per axis; {self.px_per_deg:g} px/deg")


def place_fixations(scanpath: Scanpath, px_per_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onsets (ms) of the fixations on the synthesised clock, and each saccade's start and duration.

    Returns
    -------
    onset : array of shape (n_fixations,)
    saccade_start, saccade_duration : arrays of shape (n_fixations - 1,), ms
        The saccade into fixation i + 1.
    """
    xy = scanpath.xy
    amplitude = np.hypot(*np.diff(xy, axis=0).T) / px_per_deg
    dur = saccade_duration(amplitude)
    onset = scanpath.t_onset.astype(float).copy()
    starts = np.zeros(len(dur))
    delay = 0.0
    for i in range(len(dur)):
        end_i = onset[i] + scanpath.duration[i]
        next_onset = scanpath.t_onset[i + 1] + delay
        gap = next_onset - end_i
        if gap < dur[i]:
            delay += dur[i] - gap
            next_onset = end_i + dur[i]
        starts[i] = next_onset - dur[i]
        onset[i + 1] = next_onset
    return onset, starts, dur


def synthesize_trajectory(scanpath: Scanpath, options: SynthesisOptions, rng: np.random.Generator,
                          image_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One trajectory from one scanpath.

    Parameters
    ----------
    scanpath : Scanpath
        At least one fixation; x, y in pixels, t_onset and duration in ms.
    options : SynthesisOptions
    rng : numpy Generator
    image_size : (width, height), optional
        Positions are clipped to it.

    Returns
    -------
    trajectory : array of shape (n_steps, 2), pixels
    onset : array of shape (n_fixations,)
        Onsets of the fixations as placed (ms; see :func:`place_fixations`).
    """
    if len(scanpath) == 0:
        raise DataFormatError(format_problem(f"scanpath of stimulus {scanpath.stimulus_id!r}", "at least one fixation",
                                             "none", "drop empty trials"))
    n, dt = int(options.n_steps), 1000.0 / options.sampling_rate
    t = np.arange(n) * dt
    onset, sac_start, sac_dur = place_fixations(scanpath, options.px_per_deg)
    xy = scanpath.xy
    # which fixation (or saccade into it) each sample belongs to
    k = np.clip(np.searchsorted(onset, t, side="right") - 1, 0, len(onset) - 1)
    out = xy[k].astype(float)
    drift_sigma = options.drift_deg * options.px_per_deg * np.sqrt(dt / 1000.0)
    steps = rng.normal(0.0, drift_sigma, (n, 2))
    steps[np.r_[True, k[1:] != k[:-1]]] = 0.0  # drift restarts at every fixation
    group_start = np.maximum.accumulate(np.where(np.r_[True, k[1:] != k[:-1]], np.arange(n), 0))
    walk = np.cumsum(steps, axis=0)
    out += walk - walk[group_start]
    # saccades: samples inside [start, start + D) of the saccade into fixation j+1
    for j in range(len(sac_dur)):
        inside = (t >= sac_start[j]) & (t < sac_start[j] + sac_dur[j])
        if inside.any():
            s = minimum_jerk((t[inside] - sac_start[j]) / sac_dur[j])[:, None]
            out[inside] = xy[j] + s * (xy[j + 1] - xy[j])
    out += rng.normal(0.0, options.jitter_deg * options.px_per_deg, (n, 2))
    if image_size is not None:
        out = np.clip(out, 0.0, np.asarray(image_size, float) - 1e-3)
    return out, onset


def trajectories_from_samples(samples, n_steps: int, sampling_rate: float, *, unequal_length: str = "crop",
                              blinks: str = "raise", where: str = "samples") -> tuple[np.ndarray, list[str]]:
    """Raw gaze recordings on the model's clock: an array of fixed-length trajectories.

    Each recording is linearly interpolated at ``sampling_rate`` Hz from its first
    time stamp.  Recordings rarely have exactly ``n_steps`` samples there:

    - ``unequal_length="crop"`` (default): longer ones keep their first ``n_steps``
      samples; shorter ones raise :class:`ShapeError` (pad or drop them, or resample);
    - ``"resample"``: each recording is stretched or squeezed onto ``n_steps`` samples
      (velocities change by the same factor; a warning gives the count and the range of lengths);
    - ``"raise"``: any recording of another length raises.

    Missing samples (NaN: blinks, track loss) raise :class:`DataFormatError` naming the
    recording (``blinks="raise"``, default), or are linearly interpolated with a warning
    giving the count (``blinks="interpolate"``).

    Parameters
    ----------
    samples : sequence of GazeSamples
    n_steps : int
    sampling_rate : float
    unequal_length : {"crop", "resample", "raise"}
    blinks : {"raise", "interpolate"}
    where : str
        Name used in error messages.

    Returns
    -------
    trajectories : array of shape (n_recordings, n_steps, 2), pixels
    notes : list of str
        What was resampled or interpolated (empty when nothing was).
    """
    if unequal_length not in LENGTH_POLICIES:
        raise ConfigError(format_problem("unequal_length", f"one of {LENGTH_POLICIES}", repr(unequal_length),
                                         "use 'crop'"))
    if blinks not in BLINK_POLICIES:
        raise ConfigError(format_problem("blinks", f"one of {BLINK_POLICIES}", repr(blinks), "use 'raise'"))
    out, notes, stretched, lengths, n_missing = [], [], 0, [], 0
    dt = 1000.0 / sampling_rate
    for i, s in enumerate(samples):
        if not isinstance(s, GazeSamples):
            raise DataFormatError(format_problem(f"{where}[{i}]", "cogmodels.data.GazeSamples", type(s).__name__,
                                                 "read recordings with cogmodels.data.eyelink or build GazeSamples"))
        label = f"{where}[{i}] (subject {s.subject!r}, trial {s.trial!r})"
        x, y = s.x.copy(), s.y.copy()
        missing = s.missing
        if missing.any():
            if blinks == "raise":
                raise DataFormatError(format_problem(
                    label, "gaze samples without missing values", f"{int(missing.sum())} NaN samples (blinks or "
                    f"track loss; first at t = {s.t[np.argmax(missing)]:g} ms)",
                    "drop the recording, cut it before the blink, or pass blinks='interpolate'"))
            if missing.all():
                raise DataFormatError(format_problem(label, "at least one valid sample", "all samples missing",
                                                     "drop the recording"))
            good = ~missing
            x[missing] = np.interp(s.t[missing], s.t[good], x[good])
            y[missing] = np.interp(s.t[missing], s.t[good], y[good])
            n_missing += int(missing.sum())
        clock = s.t[0] + np.arange(int(np.floor((s.t[-1] - s.t[0]) / dt + 1e-9)) + 1) * dt
        length = len(clock)
        lengths.append(length)
        if length != n_steps:
            if unequal_length == "raise" or (unequal_length == "crop" and length < n_steps):
                raise ShapeError(format_problem(
                    label, f"{n_steps} samples at {sampling_rate:g} Hz ({n_steps * dt:g} ms)",
                    f"{length} samples ({(length - 1) * dt:g} ms)",
                    "pass unequal_length='resample' (stretch onto the model's length), or drop/crop the recording"
                    + ("" if unequal_length == "raise" else "; shorter recordings cannot be cropped")))
            if unequal_length == "crop":
                clock = clock[:n_steps]
            else:
                clock = np.linspace(s.t[0], s.t[-1], n_steps)
                stretched += 1
        out.append(np.stack([np.interp(clock, s.t, x), np.interp(clock, s.t, y)], axis=1))
    if not out:
        raise DataFormatError(format_problem(where, "at least one recording", "none", "pass GazeSamples"))
    if stretched:
        notes.append(f"{stretched} of {len(out)} recordings resampled onto {n_steps} samples "
                     f"(their lengths at {sampling_rate:g} Hz: {min(lengths)}-{max(lengths)} samples)")
    if n_missing:
        notes.append(f"{n_missing} missing samples (blinks) linearly interpolated")
    for note in notes:
        warnings.warn(f"DiffEye {where}: {note}", stacklevel=3)
    return np.stack(out).astype(np.float64), notes


def check_trajectories(trajectories, where: str = "trajectories") -> np.ndarray:
    """Validate an array of trajectories of shape (n, n_steps, 2) (pixels): equal length, no NaN."""
    if isinstance(trajectories, (list, tuple)):
        lengths = sorted({len(np.asarray(t)) for t in trajectories})
        if len(lengths) > 1:
            raise ShapeError(format_problem(where, "trajectories of equal length (the model's n_steps)",
                                            f"lengths {lengths[:5]}{' ...' if len(lengths) > 5 else ''}",
                                            "resample them (trajectories_from_samples(..., unequal_length="
                                            "'resample')) or crop them to one length"))
    arr = np.asarray(trajectories, dtype=float)
    if arr.ndim != 3 or arr.shape[2] != 2:
        raise ShapeError(format_problem(where, "an array of shape (n_trajectories, n_steps, 2)", str(arr.shape),
                                        "stack (x, y) per sample"))
    bad = ~np.isfinite(arr).all(axis=2)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DataFormatError(format_problem(
            where, "finite positions in every sample", f"{int(bad.sum())} NaN/inf samples in {len(rows)} "
            f"trajectories (first: trajectory {rows[0]}, sample {int(np.argmax(bad[rows[0]]))}) - blinks?",
            "interpolate or drop them (trajectories_from_samples(..., blinks='interpolate'))"))
    return arr


def to_gaze_samples(trajectory: np.ndarray, sampling_rate: float, px_per_deg: float, trial: str = "0",
                    subject: str | None = None) -> GazeSamples:
    """A (n_steps, 2) pixel trajectory as GazeSamples (t from 0 ms), for event detection."""
    t = np.arange(len(trajectory)) * 1000.0 / sampling_rate
    return GazeSamples(t, trajectory[:, 0], trajectory[:, 1], sampling_rate, px_per_deg=px_per_deg,
                       subject=subject, trial=trial)


@dataclass
class Recovery:
    """Agreement of I-VT fixations on synthesised trajectories with the placed source fixations.

    Attributes
    ----------
    n_source : int
        Source fixations that start inside the window at least the I-VT minimum duration before its end.
    n_matched : int
        Of those, matched one-to-one by temporal overlap (IoU >= 0.5).
    recall : float
    onset_error_ms, position_error_px, duration_error_ms : arrays of shape (n_matched,)
        Detected minus placed onset; distance between positions; detected minus source duration
        (the last fixation of a trajectory, lengthened or cut by the window, is left out of the duration errors;
        its reference interval runs to the end of the window, where the synthesis holds it).
    n_cut : int
        Source fixations placed after the window (or too close to its end) and so not counted.
    resolvable : bool array of shape (n_source,)
        Source fixations I-VT can resolve in principle: at least the minimum duration long and at least
        ``min_amplitude_deg`` from both neighbours (closer fixations are one fixation to a velocity threshold).
    matched : bool array of shape (n_source,)
    """

    n_source: int
    n_matched: int
    onset_error_ms: np.ndarray
    position_error_px: np.ndarray
    duration_error_ms: np.ndarray
    n_cut: int
    resolvable: np.ndarray
    matched: np.ndarray

    @property
    def recall(self) -> float:
        return self.n_matched / self.n_source if self.n_source else float("nan")

    @property
    def recall_resolvable(self) -> float:
        """Recall among the resolvable source fixations."""
        return float(self.matched[self.resolvable].mean()) if self.resolvable.any() else float("nan")

    def summary(self) -> dict:
        return dict(n_source=self.n_source, n_matched=self.n_matched, recall=self.recall, n_cut=self.n_cut,
                    n_resolvable=int(self.resolvable.sum()), recall_resolvable=self.recall_resolvable,
                    median_abs_onset_error_ms=float(np.median(np.abs(self.onset_error_ms))),
                    p95_abs_onset_error_ms=float(np.percentile(np.abs(self.onset_error_ms), 95)),
                    median_position_error_px=float(np.median(self.position_error_px)),
                    p95_position_error_px=float(np.percentile(self.position_error_px, 95)),
                    median_abs_duration_error_ms=float(np.median(np.abs(self.duration_error_ms))))


def recovery(scanpaths, options: SynthesisOptions, seed: int = 0, image_sizes: dict | None = None,
             min_amplitude_deg: float = 1.0, **ivt_options) -> Recovery:
    """Synthesise one trajectory per scanpath, run I-VT on it and match with the placed fixations.

    Parameters
    ----------
    scanpaths : sequence of Scanpath
    options : SynthesisOptions
    seed : int
    image_sizes : dict stimulus_id -> (width, height), optional
    min_amplitude_deg : float
        Neighbour distance of a resolvable fixation (see :class:`Recovery`).
    **ivt_options
        Passed to :func:`cogmodels.scanpaths.events.detect_ivt`.

    Returns
    -------
    Recovery
    """
    import pandas as pd

    from cogmodels.scanpaths.events import IVT_MIN_DURATION_MS, detect_ivt, match_fixations

    rng = np.random.default_rng(seed)
    window = options.n_steps * 1000.0 / options.sampling_rate
    min_duration = ivt_options.get("min_duration", IVT_MIN_DURATION_MS)
    onset_err, pos_err, dur_err, n_source, n_matched, n_cut, resolvable, matched = [], [], [], 0, 0, 0, [], []
    for sp in scanpaths:
        size = None if image_sizes is None else image_sizes.get(sp.stimulus_id)
        traj, onset = synthesize_trajectory(sp, options, rng, size)
        offset = np.minimum(onset + sp.duration, window)
        offset[-1] = window  # gaze stays on the last fixation until the window ends
        last = np.zeros(len(sp), bool)
        inside = onset + min_duration <= window
        last[np.flatnonzero(inside)[-1:]] = True
        n_cut += int((~inside).sum())
        reference = pd.DataFrame(dict(t_onset=onset[inside], duration=(offset - onset)[inside]))
        detected = detect_ivt(to_gaze_samples(traj, options.sampling_rate, options.px_per_deg),
                              px_per_deg=options.px_per_deg, **ivt_options).table
        agreement = match_fixations(detected, reference)
        n_source += len(reference)
        n_matched += agreement.n_matched
        rows = agreement.matches
        src = np.flatnonzero(inside)[rows["reference_row"].to_numpy(int)]
        det = rows["detected_row"].to_numpy(int)
        onset_err.append(agreement.onset_diff_ms)
        pos_err.append(np.hypot(detected["x"].to_numpy()[det] - sp.x[src], detected["y"].to_numpy()[det] - sp.y[src]))
        gaps = np.hypot(*np.diff(sp.xy, axis=0).T) / options.px_per_deg
        apart = np.minimum(np.r_[np.inf, gaps], np.r_[gaps, np.inf]) >= min_amplitude_deg
        resolvable.append((apart & (sp.duration >= min_duration))[inside])
        hit = np.zeros(len(sp), bool)
        hit[src] = True
        matched.append(hit[inside])
        keep = ~last[src]
        dur_err.append(detected["duration"].to_numpy()[det][keep] - sp.duration[src][keep])
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0))
    return Recovery(n_source, n_matched, cat(onset_err), cat(pos_err), cat(dur_err), n_cut,
                    cat(resolvable).astype(bool), cat(matched).astype(bool))


def density_from_trajectories(trajectories: np.ndarray, size: tuple[int, int], sigma_px: float,
                              uniform_mix: float = 0.01) -> np.ndarray:
    """Dwell-time density of shape (height, width): all gaze samples of (n, n_steps, 2) pixel trajectories,
    histogrammed per pixel, Gaussian-smoothed (``sigma_px``), normalised and mixed with ``uniform_mix`` uniform."""
    width, height = size
    xy = np.asarray(trajectories, float).reshape(-1, 2)
    hist = np.zeros((height, width))
    np.add.at(hist, (np.clip(xy[:, 1].astype(int), 0, height - 1), np.clip(xy[:, 0].astype(int), 0, width - 1)), 1)
    density = gaussian_filter(hist, sigma_px, mode="constant")
    density = density / max(density.sum(), 1e-12)
    return (1 - uniform_mix) * density + uniform_mix / density.size
