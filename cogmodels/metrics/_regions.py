"""Fixations to region strings: a screen grid, given cluster centres, or seeded k-means.

Used by the string-based scanpath metrics (edit distance, sequence score,
ScanMatch) in :mod:`cogmodels.metrics.gaze`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from cogmodels.errors import ConfigError, ShapeError, format_problem
from cogmodels.kernels.alignment import length_buckets, needleman_wunsch


def check_grid(grid, where: str = "grid") -> tuple[int, int]:
    """Validate ``grid = (n_rows, n_cols)``, both positive integers."""
    try:
        n_rows, n_cols = (int(v) for v in grid)
    except (TypeError, ValueError):
        raise ConfigError(format_problem(where, "a pair (n_rows, n_cols) of positive integers", repr(grid),
                                         "pass e.g. grid=(8, 12)")) from None
    if n_rows < 1 or n_cols < 1 or (n_rows, n_cols) != tuple(grid):
        raise ConfigError(format_problem(where, "a pair (n_rows, n_cols) of positive integers", repr(grid),
                                         "pass e.g. grid=(8, 12)"))
    return n_rows, n_cols


def check_screen(screen_size, where: str = "screen_size") -> tuple[float, float]:
    """Validate ``screen_size = (width, height)`` in pixels, both positive and finite."""
    try:
        width, height = (float(v) for v in screen_size)
    except (TypeError, ValueError):
        raise ConfigError(format_problem(where, "a pair (width, height) in pixels", repr(screen_size),
                                         "pass e.g. screen_size=(800, 600)")) from None
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise ConfigError(format_problem(where, "positive finite (width, height) in pixels", repr(screen_size),
                                         "pass e.g. screen_size=(800, 600)"))
    return width, height


def grid_cells(xy: np.ndarray, screen_size, grid) -> np.ndarray:
    """Row-major grid cell of each point.

    Parameters
    ----------
    xy : array of shape (n_points, 2)
        Pixels, origin top-left.
    screen_size : (width, height)
    grid : (n_rows, n_cols)

    Returns
    -------
    cells : int array of shape (n_points,)
        ``row * n_cols + col``.  Points outside the screen go to the nearest
        border cell, with a warning giving their count.
    """
    width, height = check_screen(screen_size)
    n_rows, n_cols = check_grid(grid)
    col = np.floor(xy[:, 0] / width * n_cols).astype(np.int64)
    row = np.floor(xy[:, 1] / height * n_rows).astype(np.int64)
    outside = (col < 0) | (col >= n_cols) | (row < 0) | (row >= n_rows)
    if outside.any():
        warnings.warn(f"grid regions: {int(outside.sum())} fixation(s) outside the {width:g} x {height:g} screen "
                      "were assigned to the nearest border cell", stacklevel=3)
    return np.clip(row, 0, n_rows - 1) * n_cols + np.clip(col, 0, n_cols - 1)


def nearest_centre(xy: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean; ties go to the lower index), shape (n_points,)."""
    centres = np.asarray(centres, dtype=float)
    if centres.ndim != 2 or centres.shape[1] != 2 or len(centres) == 0:
        raise ShapeError(format_problem("centres", "an array of shape (n_regions, 2) with n_regions >= 1",
                                        f"shape {centres.shape}", "pass the (x, y) region centres in pixels"))
    distance = ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    return np.argmin(distance, axis=1) if len(xy) else np.zeros(0, dtype=np.int64)


def kmeans(points: np.ndarray, n_clusters: int, seed=0, n_iter: int = 100) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007).

    Parameters
    ----------
    points : array of shape (n_points, 2)
    n_clusters : int
        Clipped to the number of distinct points.
    seed : int or numpy Generator

    Returns
    -------
    centres : array of shape (n_clusters, 2)
    """
    rng = np.random.default_rng(seed)
    points = np.asarray(points, dtype=float)
    if len(points) == 0:
        raise ShapeError(format_problem("kmeans points", "at least one fixation", "none",
                                        "cluster a non-empty set of fixations"))
    k = int(min(n_clusters, len(np.unique(points, axis=0))))
    if k < 1:
        raise ConfigError(format_problem("n_clusters", "a positive integer", repr(n_clusters), "use n_clusters >= 1"))
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        nearest = ((points[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1).min(1)
        centres.append(points[rng.choice(len(points), p=nearest / nearest.sum())])
    centres = np.asarray(centres)
    for _ in range(n_iter):
        label = nearest_centre(points, centres)
        updated = np.array([points[label == c].mean(0) if (label == c).any() else centres[c] for c in range(k)])
        if np.array_equal(updated, centres):
            break
        centres = updated
    return centres


def region_codes(paths_xy: list[np.ndarray], groups: list, screen_size, grid, centres, n_clusters,
                 seed) -> list[np.ndarray]:
    """Region string of each scanpath (a list of int arrays), from one of the three region sources.

    With ``n_clusters``, k-means runs once per group on the pooled fixations
    of the group's scanpaths (``groups[p]`` is the group key of path p, e.g.
    its stimulus), seeded by ``seed``.
    """
    given = sum(v is not None for v in (centres, n_clusters))
    if given > 1:
        raise ConfigError(format_problem("regions", "at most one of centres / n_clusters",
                                         "both", "pass centres=(k, 2) array OR n_clusters=k"))
    if centres is not None:
        return [nearest_centre(xy, centres) for xy in paths_xy]
    if n_clusters is not None:
        codes = [None] * len(paths_xy)
        members_of: dict = {}
        for p, key in enumerate(groups):
            members_of.setdefault(key, []).append(p)
        for members in members_of.values():
            pooled = np.concatenate([paths_xy[p] for p in members])
            found = kmeans(pooled, n_clusters, seed) if len(pooled) else np.zeros((1, 2))
            for p in members:
                codes[p] = nearest_centre(paths_xy[p], found)
        return codes
    if screen_size is None:
        raise ConfigError(format_problem("screen_size", "(width, height) in pixels for grid regions", "None",
                                         "pass screen_size, or centres= / n_clusters= for cluster regions"))
    return [grid_cells(xy, screen_size, grid) for xy in paths_xy]


def grid_codes(batch, screen_size, grid) -> tuple[np.ndarray, np.ndarray]:
    """Grid cells of a padded :class:`~cogmodels.metrics._paths.PathBatch`.

    Returns codes of shape (n_paths, n_max), padded with -1, and the lengths (n_paths,).
    """
    valid = np.arange(batch.xy.shape[1])[None, :] < batch.length[:, None]
    codes = np.full(valid.shape, -1, dtype=np.int64)
    codes[valid] = grid_cells(batch.xy[valid], screen_size, grid)
    return codes, batch.length.copy()


def repeat_padded(codes: np.ndarray, repeats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Repeat each valid code ``repeats`` times (0 for padding), re-padded with -1; returns codes and lengths."""
    length = repeats.sum(1)
    flat = np.repeat(codes.reshape(-1), repeats.reshape(-1))
    out = np.full((len(codes), max(int(length.max(initial=0)), 1)), -1, dtype=np.int64)
    rows = np.repeat(np.arange(len(codes)), length)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(length) - length, length)
    out[rows, cols] = flat
    return out, length


def pad_codes(codes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Left-aligned int array of shape (n_sequences, max_length) padded with -1, and the lengths."""
    lengths = np.array([len(c) for c in codes], dtype=np.int64)
    out = np.full((len(codes), max(int(lengths.max(initial=0)), 1)), -1, dtype=np.int64)
    for row, c in enumerate(codes):
        out[row, :len(c)] = c
    return out, lengths


def needleman_wunsch_codes(codes_a, len_a, codes_b, len_b, score_of, gap: float) -> np.ndarray:
    """Needleman-Wunsch score of each pair of padded region strings, shape (n_pairs,).

    ``score_of(a, b)`` maps codes (B', n) and (B', m) to substitution scores
    (B', n, m). The scores are built bucket by bucket, as the kernel runs them,
    so one long string never makes the whole batch allocate its padding.
    """
    out = np.empty(len(codes_a))
    for rows, n, m in length_buckets(len_a, len_b):
        rows = rows.numpy()
        scores = score_of(codes_a[rows, :max(n, 1)], codes_b[rows, :max(m, 1)])
        out[rows] = needleman_wunsch(torch.from_numpy(scores), gap, torch.from_numpy(len_a[rows]),
                                     torch.from_numpy(len_b[rows])).numpy()
    return out
