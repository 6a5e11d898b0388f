"""ScanMatch (Cristino, Mathôt, Theeuwes & Gilchrist 2010, Behav Res Methods 42:692-700), batched.

Written from the paper's description of the method; no other implementation
was consulted. Every default below is stated, and those that are our own
choices say so. The public entry point is :func:`cogmodels.metrics.gaze.scanmatch`.

1. **Spatial binning.** The screen is cut into a grid of ``n_rows x n_cols``
   regions, and each fixation becomes the symbol of the region it falls in.
2. **Temporal binning.** Each symbol is repeated once per ``temporal_bin_ms``
   of its fixation's duration. We round to the nearest whole number of bins
   (halves round up), with at least one bin per fixation, so no fixation
   disappears (this rounding rule is ours). Our default bin is 50 ms.
   ``temporal_bin_ms=None`` switches temporal binning off.
3. **Substitution matrix.** As in the paper, it is built from the distance
   between regions and a threshold. Ours is ``S[r, s] = threshold -
   distance(r, s)``, with the distance between region centres in grid cells.
   Regions closer than ``threshold`` score positive and farther ones score
   negative. The paper ties the threshold to the spread of saccade amplitudes. Our
   default (``threshold=None``) is twice the standard deviation (ddof=0) of
   the saccade amplitudes, in grid cells, pooled over all the scanpaths in
   the call. This default is our choice; pass an explicit value, for example
   from :func:`saccade_threshold` on a whole dataset, to make scores
   comparable across calls.
4. **Alignment.** A Needleman-Wunsch global alignment with a linear gap score
   ``gap``. The default is 0: gaps cost nothing, and only the negative
   substitution scores penalise mismatches.
5. **Normalisation.** Score / (``max(S)`` x length of the longer sequence).
   With ``gap = 0`` the result lies in [0, 1], and 1 means identical
   sequences.
"""

from __future__ import annotations

import logging

import numpy as np

from cogmodels.errors import ConfigError, format_problem
from cogmodels.metrics._regions import (check_grid, check_screen, grid_codes, needleman_wunsch_codes,
                                        repeat_padded)

logger = logging.getLogger(__name__)


def substitution_matrix(grid, threshold: float) -> np.ndarray:
    """``threshold - distance`` between grid-cell centres in cell units, shape (n_regions, n_regions)."""
    n_rows, n_cols = check_grid(grid)
    row, col = np.divmod(np.arange(n_rows * n_cols), n_cols)
    distance = np.hypot(row[:, None] - row[None, :], col[:, None] - col[None, :])
    return float(threshold) - distance


def saccade_threshold(paths_xy: list[np.ndarray], screen_size, grid) -> float:
    """Twice the standard deviation of the saccade amplitudes in grid-cell units (the default threshold)."""
    width, height = check_screen(screen_size)
    n_rows, n_cols = check_grid(grid)
    steps = [np.diff(xy, axis=0) / [width / n_cols, height / n_rows] for xy in paths_xy if len(xy) >= 2]
    amplitudes = np.hypot(*np.concatenate(steps).T) if steps else np.zeros(0)
    if len(amplitudes) < 2 or amplitudes.std() == 0:
        raise ConfigError(format_problem(
            "scanmatch threshold", "at least two saccades of different amplitudes to set the default threshold",
            f"{len(amplitudes)} saccade(s)", "pass threshold= explicitly (in grid cells, e.g. 2.0)"))
    return float(2.0 * amplitudes.std())


def temporal_repeats(duration_ms: np.ndarray, valid: np.ndarray, temporal_bin_ms: float | None) -> np.ndarray:
    """Symbols per fixation: duration / bin rounded to the nearest integer (halves up), at least 1; 0 for padding."""
    if temporal_bin_ms is None:
        return valid.astype(np.int64)
    repeats = np.maximum(np.floor(duration_ms / temporal_bin_ms + 0.5).astype(np.int64), 1)
    return np.where(valid, repeats, 0)


def scanmatch_scores(batch_a, batch_b, screen_size, grid, temporal_bin_ms, threshold, gap) -> np.ndarray:
    """Normalised ScanMatch score of each pair (a[p], b[p]), shape (n_pairs,)."""
    if temporal_bin_ms is not None and not temporal_bin_ms > 0:
        raise ConfigError(format_problem("temporal_bin_ms", "a positive bin width in ms, or None",
                                         repr(temporal_bin_ms), "use e.g. 50.0"))
    if threshold is None:
        threshold = saccade_threshold(batch_a.paths_xy() + batch_b.paths_xy(), screen_size, grid)
        logger.info("scanmatch: threshold %.4g grid cells (2 x SD of %d scanpaths' saccade amplitudes)",
                    threshold, 2 * len(batch_a))
    if not threshold > 0:
        raise ConfigError(format_problem("threshold", "a positive distance in grid cells", repr(threshold),
                                         "use e.g. threshold=2.0"))
    substitution = substitution_matrix(grid, threshold)
    sequences = []
    for batch in (batch_a, batch_b):
        cells, _ = grid_codes(batch, screen_size, grid)
        repeats = temporal_repeats(batch.duration, cells >= 0, temporal_bin_ms)
        sequences.append(repeat_padded(cells, repeats))
    (codes_a, len_a), (codes_b, len_b) = sequences
    # Scores in units of max(S) = threshold, so that identical sequences give exactly 1.
    scale = substitution.max()
    unit = substitution / scale

    def score_of(a, b):
        return unit[np.maximum(a, 0)[:, :, None], np.maximum(b, 0)[:, None, :]]

    score = needleman_wunsch_codes(codes_a, len_a, codes_b, len_b, score_of, float(gap) / scale)
    longest = np.maximum(len_a, len_b)
    # Two empty scanpaths are identical: score 1 by convention (documented in gaze.scanmatch).
    return np.where(longest > 0, score / np.maximum(longest, 1), 1.0)
