"""Brain-encoding metrics: pure functions, one value per channel.

Channels are voxels, vertices or electrodes.  Every function is vectorised
over channels; aggregation over channels (ROIs) is a separate step
(:func:`roi_aggregate`).  Undefined values are never silently replaced:
they are NaN, and an :class:`UndefinedMetricWarning` gives their count.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cogmodels.data.checks import check_array
from cogmodels.errors import DataFormatError, ShapeError, format_problem


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for some channels; they are returned as NaN."""


def _warn_undefined(n_undefined: int, n_total: int, what: str, why: str) -> None:
    if n_undefined:
        warnings.warn(f"{what} is undefined for {n_undefined} of {n_total} channels ({why}); "
                      f"they are NaN", UndefinedMetricWarning, stacklevel=3)


def _as_2d(array, where: str) -> np.ndarray:
    array = check_array(array, where, ndim=(1, 2), dtype="number", finite=True)  # NaN in, NaN out: refuse
    return array[:, None] if array.ndim == 1 else array


def pearson_r(y_true, y_pred) -> np.ndarray:
    """Per-channel Pearson correlation between measured and predicted responses.

    Parameters
    ----------
    y_true : array of shape (n_stimuli, n_channels) or (n_stimuli,)
    y_pred : array of shape (n_stimuli, n_channels) or (n_stimuli,)

    Returns
    -------
    r : float64 array of shape (n_channels,)
        NaN where either side has zero variance (r is undefined there); an
        :class:`UndefinedMetricWarning` gives their count.
    """
    y_true, y_pred = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ShapeError(format_problem("y_true/y_pred", "arrays of the same shape (n_stimuli, n_channels)",
                                        f"{y_true.shape} and {y_pred.shape}",
                                        "predict the same stimuli and channels that you score"))
    if y_true.shape[0] < 2:
        raise ShapeError(format_problem("y_true", "at least 2 stimuli (rows)", f"{y_true.shape[0]}",
                                        "score on more stimuli"))
    # float64 accumulation: float32 sums over many stimuli lose digits
    true_c = y_true - y_true.mean(axis=0, dtype=np.float64)
    pred_c = y_pred - y_pred.mean(axis=0, dtype=np.float64)
    covariance = np.einsum("ij,ij->j", true_c, pred_c)
    norms = np.sqrt(np.einsum("ij,ij->j", true_c, true_c) * np.einsum("ij,ij->j", pred_c, pred_c))
    # exact test for constant columns: a float mean of equal values need not equal them
    undefined = (np.ptp(y_true, axis=0) == 0) | (np.ptp(y_pred, axis=0) == 0) | (norms == 0)
    _warn_undefined(int(undefined.sum()), norms.size, "Pearson r", "zero variance in y_true or y_pred")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(undefined, np.nan, covariance / np.where(undefined, 1.0, norms))
    return np.clip(r, -1.0, 1.0)


def _check_repeats(repeats) -> np.ndarray:
    repeats = check_array(repeats, "repeats", ndim=3, dtype="number").astype(np.float64)
    if repeats.shape[1] < 2:
        raise ShapeError(format_problem("repeats", "shape (n_stimuli, n_repeats >= 2, n_channels)",
                                        f"shape {repeats.shape}", "a noise ceiling needs repeated presentations"))
    if np.isinf(repeats).any():
        raise DataFormatError(format_problem("repeats", "finite values, NaN for a missing repeat",
                                             f"{int(np.isinf(repeats).sum())} inf values", "replace inf with NaN"))
    return repeats


def ncsnr(repeats) -> np.ndarray:
    """Noise-ceiling signal-to-noise ratio per channel (Allen et al. 2022, NSD).

    Each repeat is z-scored across stimuli (NSD z-scores betas per session), so
    the total variance is 1; the noise variance is the mean over stimuli of the
    variance across repeats (ddof=1), and::

        signal_sd = sqrt(max(0, 1 - noise_var));  ncsnr = signal_sd / sqrt(noise_var)

    Parameters
    ----------
    repeats : array of shape (n_stimuli, n_repeats, n_channels)
        Single-trial responses; NaN marks a missing repeat.

    Returns
    -------
    ncsnr : float64 array of shape (n_channels,)
        ``inf`` where the noise variance is 0; NaN (with an
        :class:`UndefinedMetricWarning`) where a repeat is constant across
        stimuli or no stimulus has two valid repeats.
    """
    signal_var, noise_var = _signal_noise_variances(_check_repeats(repeats))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(signal_var) / np.sqrt(noise_var)


def _signal_noise_variances(repeats):
    """Signal and noise variances (n_channels,) of z-scored repeats; NaN where undefined (warned)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are counted below
        mean = np.nanmean(repeats, axis=0, keepdims=True)
        sd = np.nanstd(repeats, axis=0, keepdims=True)
        z = (repeats - mean) / sd  # (n_stimuli, n_repeats, n_channels)
        noise_var = np.nanmean(np.nanvar(z, axis=1, ddof=1), axis=0)
    undefined = ~np.isfinite(noise_var) | np.any(~(sd > 0) & np.isfinite(sd), axis=(0, 1))
    noise_var = np.where(undefined, np.nan, noise_var)
    _warn_undefined(int(undefined.sum()), undefined.size, "The noise ceiling",
                    "a repeat constant across stimuli, or no stimulus with 2 valid repeats")
    return np.maximum(0.0, 1.0 - noise_var), noise_var


def noise_ceiling(repeats, n_averaged=None) -> np.ndarray:
    """Noise ceiling per channel, as a fraction of variance (Allen et al. 2022, NSD).

    ``NC = ncsnr**2 / (ncsnr**2 + 1/k)``: the largest fraction of the variance of
    responses averaged over ``k`` repeats that a model can explain.  Multiply by
    100 for percent, as in the NSD paper.

    Parameters
    ----------
    repeats : array of shape (n_stimuli, n_repeats, n_channels)
        Single-trial responses; NaN marks a missing repeat.
    n_averaged : int or array of shape (n_stimuli,), optional
        Repeats averaged in the responses being predicted.  Default: the valid
        repeats of each stimulus, combined as NSD does for unequal counts
        (``1/k`` replaced by the mean over stimuli of ``1/k_i``).

    Returns
    -------
    nc : float64 array of shape (n_channels,), in [0, 1]
        NaN where :func:`ncsnr` is undefined (with a warning).
    """
    repeats = _check_repeats(repeats)
    if n_averaged is None:
        counts = np.isfinite(repeats).sum(axis=1).max(axis=1)  # valid repeats per stimulus
        counts = counts[counts > 0]
    else:
        counts = np.atleast_1d(np.asarray(n_averaged, dtype=np.float64))
    if counts.size == 0 or not np.all(np.isfinite(counts)) or np.any(counts < 1):
        raise DataFormatError(format_problem("n_averaged", "repeat counts >= 1",
                                             np.array2string(counts, threshold=6),
                                             "pass the number of repeats averaged per stimulus"))
    inverse_k = float(np.mean(1.0 / counts))
    signal_var, noise_var = _signal_noise_variances(repeats)
    with np.errstate(invalid="ignore"):
        # signal / (signal + noise / k) == ncsnr^2 / (ncsnr^2 + 1/k), without inf when noise_var == 0
        return signal_var / (signal_var + noise_var * inverse_k)


#: How far past +-1 a Pearson r may be from rounding before normalized_accuracy refuses it.
R_TOLERANCE = 1e-6


def normalized_accuracy(r, nc) -> np.ndarray:
    """Noise-normalised accuracy in percent (Algonauts 2023 challenge).

    ``100 * max(r, 0)**2 / nc``, capped at 100.

    Parameters
    ----------
    r : array of shape (n_channels,)
        Pearson r between predicted and measured responses, in [-1, 1] (a value
        beyond that by more than rounding, e.g. an r² in percent, is a DataFormatError).
    nc : array of shape (n_channels,)
        Noise ceiling as a fraction in [0, 1] (see :func:`noise_ceiling`).

    Returns
    -------
    accuracy : float64 array of shape (n_channels,), in [0, 100]
        NaN where ``nc == 0`` or an input is NaN (with an :class:`UndefinedMetricWarning`).
    """
    r = check_array(r, "r", ndim=1, dtype="number").astype(np.float64)
    nc = check_array(nc, "nc", ndim=1, dtype="number").astype(np.float64)
    if r.shape != nc.shape:
        raise ShapeError(format_problem("r/nc", "the same shape (n_channels,)", f"{r.shape} and {nc.shape}",
                                        "pass one r and one noise ceiling per channel"))
    beyond = np.abs(r) > 1 + R_TOLERANCE  # NaN compares False
    if beyond.any():
        first = int(np.flatnonzero(beyond)[0])
        raise DataFormatError(format_problem(
            "r", "Pearson r in [-1, 1], one per channel",
            f"{int(beyond.sum())} values outside it, e.g. r[{first}] = {r[first]:.4g}",
            "pass the correlation itself (metrics.brain.pearson_r), not r² or a percentage"))
    r = np.clip(r, -1.0, 1.0)  # rounding noise of at most R_TOLERANCE
    if np.any(nc[np.isfinite(nc)] > 1) or np.any(nc < 0):
        raise DataFormatError(format_problem("nc", "a noise ceiling fraction in [0, 1]",
                                             f"values in [{np.nanmin(nc):.3g}, {np.nanmax(nc):.3g}]",
                                             "divide a percent noise ceiling by 100"))
    undefined = ~(nc > 0) | np.isnan(r)
    _warn_undefined(int(undefined.sum()), r.size, "The normalised accuracy", "noise ceiling 0 or NaN input")
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.minimum(100.0 * np.clip(r, 0, None) ** 2 / nc, 100.0)
    return np.where(undefined, np.nan, accuracy)


def bootstrap_ci(y_true, y_pred, n_boot: int = 1000, ci: float = 0.95, seed=0, metric=pearson_r,
                 n_channels_batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap confidence interval of a per-channel metric, resampling stimuli.

    Parameters
    ----------
    y_true, y_pred : arrays of shape (n_stimuli, n_channels)
    n_boot : int
        Bootstrap resamples (stimuli drawn with replacement).
    ci : float
        Coverage of the interval, in (0, 1).
    seed : int or numpy.random.Generator
    metric : callable ``(y_true, y_pred) -> (n_channels,)``
        :func:`pearson_r` (default) is computed for all resamples at once from
        resample counts; any other metric is called once per resample.
    n_channels_batch : int
        Channels per batch of the vectorised Pearson path (bounds memory).

    Returns
    -------
    low, high : float64 arrays of shape (n_channels,)
        Resamples where the metric is undefined are left out, with a warning
        giving their count; channels undefined in every resample are NaN.
    """
    y_true, y_pred = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ShapeError(format_problem("y_true/y_pred", "arrays of the same shape (n_stimuli, n_channels)",
                                        f"{y_true.shape} and {y_pred.shape}", "score the same stimuli and channels"))
    if not 0 < ci < 1 or int(n_boot) < 1:
        raise DataFormatError(format_problem("bootstrap_ci", "0 < ci < 1 and n_boot >= 1",
                                             f"ci={ci}, n_boot={n_boot}", "use e.g. ci=0.95, n_boot=1000"))
    rng = np.random.default_rng(seed)
    n_stimuli = y_true.shape[0]
    samples = rng.integers(0, n_stimuli, size=(int(n_boot), n_stimuli))  # (n_boot, n_stimuli)
    if metric is pearson_r:
        counts = np.zeros((int(n_boot), n_stimuli))
        np.add.at(counts, (np.arange(int(n_boot))[:, None], samples), 1.0)
        stats = np.concatenate([_weighted_pearson(counts, y_true[:, b], y_pred[:, b])
                                for b in _channel_batches(y_true.shape[1], n_channels_batch)], axis=1)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            stats = np.stack([np.asarray(metric(y_true[idx], y_pred[idx]), dtype=np.float64) for idx in samples])
    n_undefined = int(np.isnan(stats).sum())
    if n_undefined:
        warnings.warn(f"bootstrap_ci: the metric was undefined in {n_undefined} of {stats.size} "
                      f"(resample, channel) pairs; they are left out of the percentiles",
                      UndefinedMetricWarning, stacklevel=2)
    tail = 100 * (1 - ci) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channels -> NaN, counted above
        low, high = np.nanpercentile(stats, [tail, 100 - tail], axis=0)
    return low, high


def _channel_batches(n_channels: int, size: int):
    return [slice(i, i + max(1, size)) for i in range(0, n_channels, max(1, size))]


def _weighted_pearson(counts, y_true, y_pred) -> np.ndarray:
    """Pearson r of every resample at once: resample counts (n_boot, n_stimuli) as weights.

    Returns (n_boot, n_channels); NaN where a resample has zero variance.
    """
    y_true = y_true - y_true.mean(0, dtype=np.float64)  # centring keeps the weighted sums well conditioned
    y_pred = y_pred - y_pred.mean(0, dtype=np.float64)
    n = counts.sum(1, keepdims=True)
    sum_t, sum_p = counts @ y_true, counts @ y_pred
    squares_t, squares_p = counts @ y_true ** 2, counts @ y_pred ** 2
    cov = counts @ (y_true * y_pred) - sum_t * sum_p / n
    var_t, var_p = squares_t - sum_t ** 2 / n, squares_p - sum_p ** 2 / n
    # a variance that is only rounding noise of its sum of squares means a constant resample
    undefined = (var_t <= 1e-12 * squares_t) | (var_p <= 1e-12 * squares_p)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(var_t * var_p)
    return np.where(undefined, np.nan, np.clip(r, -1.0, 1.0))


def roi_aggregate(values, rois, *, add_all: bool = False) -> pd.DataFrame:
    """Summaries of a per-channel metric within ROIs; a channel in several ROIs counts in each.

    Parameters
    ----------
    values : array of shape (n_channels,)
        A per-channel metric; NaN means undefined.
    rois : DataFrame or mapping
        A channel table with a ``rois`` column (a tuple of ROI names per
        channel, see :func:`cogmodels.data.make_channel_table`), or a mapping
        ``{roi: mask}`` with boolean masks of shape (n_channels,) or index arrays.
    add_all : bool
        Also add a row ``"all"`` over every channel.

    Returns
    -------
    DataFrame with columns roi, mean, median, n_channels, n_undefined
        mean and median are over defined channels (NaN when none is defined).
    """
    values = check_array(values, "values", ndim=1, dtype="number").astype(np.float64)
    masks = _roi_masks(rois, values.size)
    if add_all:
        masks["all"] = np.ones(values.size, dtype=bool)
    rows = []
    for roi, mask in masks.items():
        selected = values[mask]
        defined = selected[~np.isnan(selected)]
        rows.append({"roi": roi, "mean": defined.mean() if defined.size else np.nan,
                     "median": np.median(defined) if defined.size else np.nan,
                     "n_channels": int(selected.size), "n_undefined": int(selected.size - defined.size)})
    empty = [row["roi"] for row in rows if row["n_channels"] == row["n_undefined"]]
    if empty:
        warnings.warn(f"roi_aggregate: {len(empty)} ROI(s) have no defined channel (e.g. {empty[:3]}); "
                      f"their mean and median are NaN", UndefinedMetricWarning, stacklevel=2)
    return pd.DataFrame(rows, columns=["roi", "mean", "median", "n_channels", "n_undefined"])


def _roi_masks(rois, n_channels: int) -> dict:
    if isinstance(rois, pd.DataFrame):
        if "rois" not in rois.columns or len(rois) != n_channels:
            raise DataFormatError(format_problem("rois", f"a channel table with a 'rois' column and {n_channels} rows",
                                                 f"columns {list(rois.columns)} and {len(rois)} rows",
                                                 "pass BrainResponses.channels for the scored channels"))
        labels = [tuple(r) for r in rois["rois"]]
        names = sorted({name for channel in labels for name in channel})
        return {name: np.array([name in channel for channel in labels], dtype=bool) for name in names}
    if not hasattr(rois, "items"):
        raise DataFormatError(format_problem("rois", "a channel table or a {roi: mask} mapping",
                                             type(rois).__name__, "build a dict of boolean masks"))
    masks = {}
    for name, mask in rois.items():
        mask = np.asarray(mask)
        if mask.dtype == bool:
            if mask.shape != (n_channels,):
                raise ShapeError(format_problem(f"rois[{name!r}]", f"a boolean mask of shape ({n_channels},)",
                                                f"shape {mask.shape}", "give one entry per channel"))
        elif np.issubdtype(mask.dtype, np.integer) and mask.ndim == 1:
            if mask.size and (mask.min() < -n_channels or mask.max() >= n_channels):
                raise ShapeError(format_problem(f"rois[{name!r}]", f"channel indices in [0, {n_channels - 1}]",
                                                f"indices in [{mask.min()}, {mask.max()}]",
                                                "index the scored channels"))
            mask = np.isin(np.arange(n_channels), np.arange(n_channels)[mask])
        else:
            raise DataFormatError(format_problem(f"rois[{name!r}]", "a boolean mask or an int index array",
                                                 f"dtype {mask.dtype}, shape {mask.shape}", "convert the mask"))
        masks[str(name)] = mask
    return masks
