"""Resampling statistics shared by every model of an analysis: one set of bootstrap indices, paired tests, BH-FDR.

The bootstrap here differs from :func:`cogmodels.metrics.brain.bootstrap_ci` in one
way only: the resample indices are drawn once (:func:`bootstrap_indices`) and
passed to every model, so that the per-resample scores of two models are paired
(the same events in each resample) and their differences can be tested.  The
per-resample Pearson r reuses the vectorised weighted form of ``metrics.brain``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import ConfigError, ShapeError, format_problem
from cogmodels.metrics.brain import _weighted_pearson


def bootstrap_indices(n_items: int, n_boot: int = 1000, seed=0) -> np.ndarray:
    """Resample indices of shape (n_boot, n_items), drawn with replacement (store them; share them across models)."""
    if int(n_boot) < 1 or int(n_items) < 2:
        raise ConfigError(format_problem("bootstrap", "n_boot >= 1 and at least 2 items",
                                         f"n_boot={n_boot}, n_items={n_items}", "use e.g. n_boot=1000"))
    return np.random.default_rng(seed).integers(0, int(n_items), size=(int(n_boot), int(n_items)))


def bootstrap_pearson(y_true, y_pred, indices: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Pearson r of every resample and target.

    Parameters
    ----------
    y_true, y_pred : arrays of shape (n_items, n_targets)
    indices : int array of shape (n_boot, n_items), from :func:`bootstrap_indices`
    batch : int
        Targets per batch (bounds memory).

    Returns
    -------
    float64 array of shape (n_boot, n_targets); NaN where a resample is constant.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 2 or indices.shape[1] != y_true.shape[0]:
        raise ShapeError(format_problem("bootstrap_pearson", "y_true, y_pred (n_items, n_targets) and indices "
                                        "(n_boot, n_items)", f"{y_true.shape}, {y_pred.shape}, {indices.shape}",
                                        "score the same items in the same order"))
    counts = np.zeros((indices.shape[0], y_true.shape[0]))
    np.add.at(counts, (np.arange(indices.shape[0])[:, None], indices), 1.0)
    return np.concatenate([_weighted_pearson(counts, y_true[:, i:i + batch], y_pred[:, i:i + batch])
                           for i in range(0, y_true.shape[1], batch)], axis=1)


def percentile_ci(stats: np.ndarray, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the first axis (resamples), NaN resamples left out: (low, high)."""
    tail = 100 * (1 - ci) / 2
    with np.errstate(all="ignore"):
        low, high = np.nanpercentile(stats, [tail, 100 - tail], axis=0)
    return low, high


def pooled_paired_difference(point_a, point_b, boot_a, boot_b, weights=None,
                             ci: float = 0.95) -> tuple[float, float, float]:
    """Difference A - B of two models' scores pooled over cells, with its paired-bootstrap CI.

    A cell is one scored unit, e.g. one subject of one simulated study.  Within a cell both
    models were scored on the same resamples of its test items (indices from
    :func:`bootstrap_indices`, shared by the two models), so the per-resample differences
    are paired.  The pooled statistic is the weighted mean over cells of A - B; its
    percentile interval over resamples is the CI (resamples are taken jointly across cells:
    resample k of every cell forms pooled resample k).

    Parameters
    ----------
    point_a, point_b : arrays of shape (n_cells,)
        Each cell's score on its whole test set (e.g. mean test r over channels).
    boot_a, boot_b : arrays of shape (n_boot, n_cells)
        The same scores on each resample.
    weights : array of shape (n_cells,), optional
        Weight of each cell (e.g. its number of channels, which makes the statistic the mean
        over all channels of all cells); default equal weights.
    ci : float
        Coverage of the percentile interval.

    Returns
    -------
    difference, low, high : float
        NaN resamples (a constant resample) are left out of the interval.
    """
    point_a, point_b = np.asarray(point_a, dtype=np.float64), np.asarray(point_b, dtype=np.float64)
    boot_a, boot_b = np.asarray(boot_a, dtype=np.float64), np.asarray(boot_b, dtype=np.float64)
    n_cells = point_a.shape[0] if point_a.ndim == 1 else -1
    weights = np.ones(max(n_cells, 0)) if weights is None else np.asarray(weights, dtype=np.float64)
    if (point_a.ndim != 1 or point_b.shape != point_a.shape or boot_a.ndim != 2 or boot_b.shape != boot_a.shape
            or boot_a.shape[1] != n_cells or weights.shape != point_a.shape or n_cells < 1):
        raise ShapeError(format_problem(
            "pooled_paired_difference", "point_a, point_b, weights (n_cells,) and boot_a, boot_b (n_boot, n_cells)",
            f"{point_a.shape}, {point_b.shape}, {weights.shape}, {boot_a.shape}, {boot_b.shape}",
            "pass one column per cell, both models scored on the same resamples"))
    if not 0 < ci < 1:
        raise ConfigError(format_problem("pooled_paired_difference ci", "a coverage in (0, 1)", repr(ci),
                                         "use ci=0.95"))
    if not (np.isfinite(point_a).all() and np.isfinite(point_b).all()):
        raise ConfigError(format_problem("pooled_paired_difference point_a/point_b", "a finite score per cell",
                                         f"NaN or inf in cells {np.flatnonzero(~np.isfinite(point_a - point_b))}",
                                         "leave out cells whose score is undefined before pooling"))
    if np.any(weights < 0) or not weights.sum() > 0:
        raise ConfigError(format_problem("pooled_paired_difference weights", "non-negative with a positive sum",
                                         f"{weights}", "weight cells by e.g. their number of channels"))
    weights = weights / weights.sum()
    low, high = percentile_ci(((boot_a - boot_b) @ weights)[:, None], ci)
    return float((point_a - point_b) @ weights), float(low[0]), float(high[0])


def paired_bootstrap_p(stats_a: np.ndarray, stats_b: np.ndarray) -> np.ndarray:
    """One-sided p of "A beats B": (1 + #resamples with A - B <= 0) / (1 + n_boot), over the first axis.

    ``stats_a`` and ``stats_b`` are per-resample scores on the same resamples, shape (n_boot, ...).
    """
    diff = np.asarray(stats_a) - np.asarray(stats_b)
    not_better = np.sum(~(diff > 0), axis=0)  # NaN counts against A
    return (1.0 + not_better) / (1.0 + diff.shape[0])


def benjamini_hochberg(p_values, q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg (1995) step-up FDR control.

    Parameters
    ----------
    p_values : array of shape (n_tests,)
    q : float
        False discovery rate.

    Returns
    -------
    rejected : bool array of shape (n_tests,)
    adjusted : array of shape (n_tests,), BH-adjusted p values (monotone, capped at 1)
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if not 0 < q < 1 or np.any((p < 0) | (p > 1) | ~np.isfinite(p)):
        raise ConfigError(format_problem("benjamini_hochberg", "0 < q < 1 and p values in [0, 1]",
                                         f"q={q}, p in [{np.nanmin(p) if p.size else '-'}, "
                                         f"{np.nanmax(p) if p.size else '-'}]", "pass finite p values"))
    n = p.size
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    adjusted_sorted = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    adjusted = np.empty(n)
    adjusted[order] = adjusted_sorted
    passing = np.flatnonzero(p[order] <= q * np.arange(1, n + 1) / n)
    rejected = np.zeros(n, dtype=bool)
    if passing.size:
        rejected[order[:passing[-1] + 1]] = True
    return rejected, adjusted
