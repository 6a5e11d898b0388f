"""Preprocessing of intracranial (SEEG/ECoG) recordings: re-referencing, filtering, high gamma, epochs in time bins.

Every step is a pure function on a (n_channels, n_samples) float64 array in volts
(or any unit); :func:`preprocess` chains them in the usual order and returns a
report of what each step did, and :func:`epoch_bins` cuts epochs around event
onsets and averages them over fixed windows into time bins.

Steps (all optional, in this order)
-----------------------------------
1. **Re-referencing** (:func:`rereference`): ``"none"``; ``"average"`` (common
   average over the good contacts); ``"bipolar"`` (each contact minus the next one
   on its shaft, ``L'1 - L'2``; a pair is named ``"L'1-L'2"`` and placed at the
   midpoint of its contacts); ``"laplacian"`` (each contact minus the mean of its
   neighbours along its shaft, ``L'2 - (L'1 + L'3) / 2``; an end contact minus its
   one neighbour).  Shafts come from contact names: a name ending in digits is
   ``<shaft><number>`` (``L'12`` -> shaft ``L'``, number 12); neighbours are
   consecutive numbers.
2. **Notch** at line frequency and harmonics (:func:`notch`), and an optional
   **band-pass** (:func:`bandpass`); both MNE FIR filters (zero phase).
3. **High-gamma envelope** (:func:`high_gamma`): the band (default 70-150 Hz) is
   split into ``n_subbands`` equal sub-bands; each is band-passed, its analytic
   amplitude (Hilbert) divided by its mean over time, and the sub-bands averaged:
   an envelope in units of "times the mean amplitude" that does not favour the
   lowest sub-band, whose power is largest (1/f).
4. **z-scoring** per channel over the whole recording (:func:`zscore`).
5. **Despiking** (:func:`despike`): samples more than ``threshold`` robust SDs
   (1.4826 x median absolute deviation) from the channel median are clipped to
   that bound; the count of clipped samples is reported.  Default threshold 8.

A band that needs a sampling rate above the recording's is a DataFormatError
naming the band, the Nyquist frequency and the fix (a lower band or no high gamma).
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from cogmodels.errors import ConfigError, DataFormatError, format_problem

log = logging.getLogger(__name__)

REFERENCES = ("none", "average", "bipolar", "laplacian")
_CONTACT = re.compile(r"^(?P<shaft>.*?\D)(?P<number>\d+)$")


# -- contacts and shafts -------------------------------------------------------------
def parse_contact(name: str) -> tuple[str, int] | None:
    """``(shaft, number)`` of a contact name such as ``"L'12"`` -> ``("L'", 12)``; None if it ends in no digits."""
    match = _CONTACT.match(str(name))
    if match is None:
        return None
    return match.group("shaft"), int(match.group("number"))


def shaft_neighbours(names) -> dict[str, list[int]]:
    """For each contact, the indices (into ``names``) of its neighbours along its shaft (numbers +-1)."""
    where = {}
    for i, name in enumerate(names):
        parsed = parse_contact(name)
        if parsed is not None:
            where[parsed] = i
    out = {}
    for i, name in enumerate(names):
        parsed = parse_contact(name)
        if parsed is None:
            out[name] = []
            continue
        shaft, number = parsed
        out[name] = [where[(shaft, n)] for n in (number - 1, number + 1) if (shaft, n) in where]
    return out


def rereference(data: np.ndarray, names, method: str = "none", positions: np.ndarray | None = None):
    """Re-reference contacts (see the module docstring).

    Parameters
    ----------
    data : array of shape (n_channels, n_samples)
    names : sequence of str, length n_channels
    method : {"none", "average", "bipolar", "laplacian"}
    positions : array of shape (n_channels, 3), optional
        Contact coordinates; bipolar pairs get the midpoint.

    Returns
    -------
    data : array of shape (n_out, n_samples)
    names : list of str, length n_out (bipolar: ``"A1-A2"``)
    positions : array of shape (n_out, 3) or None
    """
    names = [str(n) for n in names]
    if method not in REFERENCES:
        raise ConfigError(format_problem("preprocessing.reference", f"one of {REFERENCES}", repr(method),
                                         "pick one"))
    if method == "none":
        return data, names, positions
    if method == "average":
        return data - data.mean(0, keepdims=True), names, positions
    if method == "laplacian":
        neighbours = shaft_neighbours(names)
        lonely = [n for n in names if not neighbours[n]]
        if lonely:
            raise DataFormatError(format_problem(
                "reference='laplacian'", "every contact with a neighbour on its shaft (names like L'1, L'2)",
                f"{len(lonely)} contact(s) without one, e.g. {lonely[:3]}",
                "drop them, or use reference='average' or 'bipolar'"))
        out = np.stack([data[i] - data[neighbours[n]].mean(0) for i, n in enumerate(names)])
        return out, names, positions
    index = {parse_contact(n): i for i, n in enumerate(names) if parse_contact(n) is not None}
    pairs = [(i, index[(s, k + 1)]) for (s, k), i in sorted(index.items(), key=lambda kv: kv[1])
             if (s, k + 1) in index]
    if not pairs:
        raise DataFormatError(format_problem("reference='bipolar'", "contacts with consecutive numbers on a shaft",
                                             f"none among {names[:5]}...", "use reference='average'"))
    first, second = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    new_positions = None if positions is None else (positions[first] + positions[second]) / 2
    return data[first] - data[second], [f"{names[a]}-{names[b]}" for a, b in pairs], new_positions


# -- filters -----------------------------------------------------------------------
def check_band(sfreq: float, band, what: str) -> tuple[float, float]:
    """A (low, high) band in Hz that the sampling rate can carry (high below Nyquist); DataFormatError otherwise."""
    low, high = (float(b) for b in band)
    if not 0 <= low < high:
        raise ConfigError(format_problem(what, "a band (low, high) in Hz with 0 <= low < high", f"{band}",
                                         "e.g. (70, 150)"))
    nyquist = sfreq / 2
    if high >= nyquist:
        raise DataFormatError(format_problem(
            what, f"a band below the Nyquist frequency {nyquist:g} Hz (sampling rate {sfreq:g} Hz)",
            f"{low:g}-{high:g} Hz: a sampling rate above {2 * high:g} Hz is needed",
            f"lower the band (high < {nyquist:g} Hz) or set high_gamma=false for this recording"))
    return low, high


def notch(data: np.ndarray, sfreq: float, freqs) -> np.ndarray:
    """Remove line noise at ``freqs`` (Hz; those at or above Nyquist are skipped) with MNE's FIR notch."""
    import mne

    freqs = [float(f) for f in np.atleast_1d(freqs) if float(f) < sfreq / 2]
    if not freqs:
        return data
    return mne.filter.notch_filter(data, sfreq, freqs, verbose="error")


def bandpass(data: np.ndarray, sfreq: float, band, what: str = "preprocessing.band") -> np.ndarray:
    """Zero-phase FIR band-pass (MNE) of each channel."""
    import mne

    low, high = check_band(sfreq, band, what)
    return mne.filter.filter_data(data, sfreq, low if low > 0 else None, high, verbose="error")


def high_gamma(data: np.ndarray, sfreq: float, band=(70.0, 150.0), n_subbands: int = 4) -> np.ndarray:
    """High-gamma envelope: mean over sub-bands of the mean-normalised Hilbert amplitude, shape as ``data``."""
    from scipy.fft import next_fast_len
    from scipy.signal import hilbert

    low, high = check_band(sfreq, band, "preprocessing.high_gamma_band")
    edges = np.linspace(low, high, int(n_subbands) + 1)
    envelope = np.zeros_like(data, dtype=np.float64)
    n = data.shape[-1]
    n_fft = next_fast_len(n)  # zero-padded: an FFT of a length with large prime factors is very slow
    for lo, hi in zip(edges[:-1], edges[1:]):
        band_passed = bandpass(data, sfreq, (lo, hi), "preprocessing.high_gamma_band")
        amplitude = np.abs(hilbert(band_passed, N=n_fft, axis=-1)[..., :n])
        envelope += amplitude / np.maximum(amplitude.mean(-1, keepdims=True), np.finfo(float).tiny)
    return envelope / len(edges[:-1])


def zscore(data: np.ndarray) -> np.ndarray:
    """Per-channel z-score over time; a constant channel is a DataFormatError naming it by index."""
    sd = data.std(-1, keepdims=True)
    flat = np.flatnonzero(sd[:, 0] == 0)
    if flat.size:
        raise DataFormatError(format_problem("recording", "channels that vary over time",
                                             f"{flat.size} constant channel(s), indices {flat[:5].tolist()}",
                                             "mark them bad in channels.tsv (status=bad)"))
    return (data - data.mean(-1, keepdims=True)) / sd


def despike(data: np.ndarray, threshold: float = 8.0) -> tuple[np.ndarray, int]:
    """Clip samples beyond ``threshold`` robust SDs of each channel's median; returns (data, n_clipped)."""
    if not threshold > 0:
        raise ConfigError(format_problem("preprocessing.despike_threshold", "a number > 0 (robust SDs)",
                                         repr(threshold), "e.g. 8, or null to skip despiking"))
    median = np.median(data, -1, keepdims=True)
    spread = 1.4826 * np.median(np.abs(data - median), -1, keepdims=True)
    spread = np.where(spread > 0, spread, data.std(-1, keepdims=True))
    low, high = median - threshold * spread, median + threshold * spread
    n_clipped = int(((data < low) | (data > high)).sum())
    return np.clip(data, low, high), n_clipped


# -- the chain -----------------------------------------------------------------------
@dataclass
class Preprocessing:
    """Options of :func:`preprocess` (see the module docstring for each step).

    Attributes
    ----------
    reference : {"none", "average", "bipolar", "laplacian"}
    notch_freqs : list of float
        Line frequency and harmonics to remove (Hz); empty: no notch.
    band : (low, high) or None
        Band-pass before the envelope (Hz).
    high_gamma : bool
    high_gamma_band : (low, high)
    n_subbands : int
    zscore : bool
    despike_threshold : float or None
        Robust SDs; None: no despiking.
    """

    reference: str = "bipolar"
    notch_freqs: list = field(default_factory=lambda: [50.0, 100.0, 150.0])
    band: tuple | None = None
    high_gamma: bool = True
    high_gamma_band: tuple = (70.0, 150.0)
    n_subbands: int = 4
    zscore: bool = True
    despike_threshold: float | None = 8.0


def preprocess(data: np.ndarray, sfreq: float, names, options: Preprocessing, positions=None):
    """Run the chain; returns (data (n_out, n_samples), names, positions, report dict)."""
    if options.high_gamma:  # fail before any filtering
        check_band(sfreq, options.high_gamma_band, "preprocessing.high_gamma_band")
    report = {"options": asdict(options), "sfreq": float(sfreq), "n_input_channels": len(names)}
    data, names, positions = rereference(np.asarray(data, dtype=np.float64), names, options.reference, positions)
    if options.notch_freqs:
        data = notch(data, sfreq, options.notch_freqs)
    if options.band is not None:
        data = bandpass(data, sfreq, options.band)
    if options.high_gamma:
        data = high_gamma(data, sfreq, options.high_gamma_band, options.n_subbands)
    if options.zscore:
        data = zscore(data)
    report["n_clipped"] = 0
    if options.despike_threshold is not None:
        data, report["n_clipped"] = despike(data, options.despike_threshold)
        if report["n_clipped"]:
            log.info("despiking clipped %d of %d samples beyond %g robust SDs", report["n_clipped"], data.size,
                     options.despike_threshold)
    report["n_output_channels"] = len(names)
    return data, names, positions, report


# -- epochs ---------------------------------------------------------------------------
def epoch_bins(data: np.ndarray, sfreq: float, onsets, tmin: float = -2.0, tmax: float = 4.5,
               bin_width: float = 0.2, where: str = "events.tsv onset"):
    """Epochs around event onsets, averaged over windows of ``bin_width`` seconds.

    Parameters
    ----------
    data : array of shape (n_channels, n_samples), time 0 at sample 0
    sfreq : float
    onsets : array of shape (n_events,), seconds from the start of the recording
    tmin, tmax : float
        Epoch window relative to each onset, cut into bins of ``bin_width`` from ``tmin`` (so that the onset is
        a bin edge when ``tmin`` is a multiple of ``bin_width``).  When the window is not a whole number of
        bins, the remainder becomes a last, shorter bin that ends at ``tmax`` if it is at least half a bin wide
        (and is left out otherwise, with a log message): the default -2.0 to 4.5 s in 0.2 s bins gives 32 bins
        of 0.2 s (-2.0 to 4.4 s) and a 33rd of 0.1 s (4.4 to 4.5 s, centre 4.45 s), so the bins reach +4.5 s.
    bin_width : float

    Returns
    -------
    epochs : float32 array of shape (n_kept, n_channels, n_times)
    times : array of shape (n_times,), centre of each bin relative to onset (s)
    kept : int array of the indices (into ``onsets``) of the kept events
    n_dropped : int
        Epochs that overlap a recording edge, dropped with a warning giving their count.

    Raises
    ------
    DataFormatError
        An onset outside the recording (before 0 or after its end).
    """
    onsets = np.asarray(onsets, dtype=np.float64)
    n_samples = data.shape[-1]
    duration = n_samples / sfreq
    outside = np.flatnonzero(~np.isfinite(onsets) | (onsets < 0) | (onsets >= duration))
    if outside.size:
        raise DataFormatError(format_problem(
            where, f"onsets inside the recording (0 to {duration:g} s)",
            f"{outside.size} event(s) outside it, e.g. row {int(outside[0])} at {onsets[outside[0]]:g} s",
            "check the events file belongs to this recording (same run) and its onsets are in seconds"))
    per_bin = int(round(bin_width * sfreq))
    total = int(round((tmax - tmin) * sfreq))  # samples in the epoch window
    n_bins = total // per_bin if per_bin >= 1 else 0  # whole bins
    if n_bins < 1:
        raise ConfigError(format_problem("epochs", "tmax - tmin of at least one bin of >= 1 sample",
                                         f"tmin={tmin}, tmax={tmax}, bin_width={bin_width}, sfreq={sfreq}",
                                         "e.g. tmin=-2.0, tmax=4.5, bin_width=0.2"))
    offsets = per_bin * np.arange(n_bins + 1)  # bin edges in samples from the epoch start
    remainder = total - n_bins * per_bin
    if 2 * remainder >= per_bin:  # a last, shorter bin that ends at tmax
        offsets = np.r_[offsets, total]
    elif remainder:
        log.info("epochs: the last %.3g s of the window (%g to %g s) are less than half a bin and are left out",
                 remainder / sfreq, tmin + n_bins * per_bin / sfreq, tmax)
    starts = np.round((onsets + tmin) * sfreq).astype(np.int64)
    inside = (starts >= 0) & (starts + offsets[-1] <= n_samples)
    n_dropped = int((~inside).sum())
    if n_dropped:
        warnings.warn(f"{n_dropped} of {onsets.size} epochs overlap a recording edge ({tmin:g} to {tmax:g} s "
                      f"around onset) and were dropped", UserWarning, stacklevel=2)
    kept = np.flatnonzero(inside)
    cumulative = np.concatenate([np.zeros((data.shape[0], 1)), np.cumsum(data, axis=-1, dtype=np.float64)], -1)
    edges = starts[kept, None] + offsets[None, :]  # (n_kept, n_bins + 1)
    sums = cumulative[:, edges[:, 1:]] - cumulative[:, edges[:, :-1]]  # (n_channels, n_kept, n_bins)
    epochs = (sums / np.diff(offsets)).transpose(1, 0, 2).astype(np.float32)
    times = tmin + (offsets[:-1] + offsets[1:]) / 2 / sfreq
    return epochs, times, kept, n_dropped
