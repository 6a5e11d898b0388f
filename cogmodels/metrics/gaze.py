"""Scanpath similarity metrics: MultiMatch, ScanMatch, edit distance, sequence score, DTW, Fréchet.

Every function compares scanpath pairs and returns one value per pair.
``a`` and ``b`` are either two scanpaths, or two equally long sequences of
scanpaths compared element-wise (``a[i]`` with ``b[i]``). A scanpath can be:

- a :class:`cogmodels.data.Scanpath`;
- an array of shape (n_fixations, 2) holding x, y in pixels;
- an array of shape (n_fixations, 3) holding x, y and duration in ms
  (MultiMatch and ScanMatch need durations).

A single pair gives a scalar (MultiMatch: shape (5,)); sequences give arrays
of shape (n_pairs,) (MultiMatch: (n_pairs, 5)).

All pairs of a call go through one batched dynamic programme on the
anti-diagonal wavefront in :mod:`cogmodels.kernels.alignment` (MultiMatch: the
same wavefront in numpy, in :mod:`cogmodels.kernels.multimatch`).

``screen_size`` is ``(width, height)`` in pixels or a
:class:`~cogmodels.data.ScreenGeometry` (e.g. ``fixations.geometry``): the
screen the coordinates refer to, which is not always the image.

**Off-screen fixations** make MultiMatch's normalisers (the screen diagonal)
wrong, and its similarities can then fall below 0 (-3.7 was seen): by
default ``multimatch`` raises :class:`~cogmodels.errors.DataFormatError`
naming the scanpath; ``off_screen="clip"`` clips them to the screen with a
warning giving the count.

**Short and empty scanpaths** have fixed, tested behaviour, never a silent NaN:

- MultiMatch needs at least 2 fixations (one saccade) in both scanpaths.
  A shorter pair follows ``on_short``:
  - ``"raise"`` raises :class:`~cogmodels.errors.DataFormatError`; this is
    the default for a single pair;
  - ``"nan"`` gives a NaN row with one warning that states the count and the
    reason; this is the default for sequences.
- DTW and Fréchet of an empty scanpath always raise: a distance to nothing
  does not exist.
- The string metrics define the empty cases:
  - two empty scanpaths: edit distance 0 (also when normalised), sequence
    score 1 and ScanMatch 1 (identical);
  - one empty and one non-empty scanpath: edit distance equal to the other
    string's length, sequence score 0 and ScanMatch 0 (with gap = 0).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from cogmodels.data.geometry import as_screen_size
from cogmodels.errors import ConfigError, DataFormatError, format_problem
from cogmodels.kernels import alignment
from cogmodels.metrics import _multimatch, _paths, _regions, _scanmatch
from cogmodels.metrics._paths import collect, pair_batches
from cogmodels.metrics.trajectory import delay_embedding, tde  # noqa: F401  (trajectory comparison, DiffEye)

DEFAULT_GROUPING = {"direction_deg": 45.0, "duration_ms": 300.0, "amplitude_px": 147.0}
DEFAULT_GRID = (8, 12)  # (n_rows, n_cols), our default: 67 x 75 px cells on OSIE's 800 x 600 px screen
MULTIMATCH_DIMENSIONS = _multimatch.DIMENSIONS

__all__ = ["multimatch", "scanmatch", "sequence_score", "edit_distance", "dtw", "frechet",
           "scanmatch_threshold", "cluster_centres", "tde", "delay_embedding", "MULTIMATCH_DIMENSIONS",
           "DEFAULT_GROUPING"]


# -- shared checks -------------------------------------------------------------------------------------
def _short_policy(on_short, single: bool) -> str:
    policy = on_short or ("raise" if single else "nan")
    if policy not in ("raise", "nan"):
        raise ConfigError(format_problem("on_short", '"raise" or "nan"', repr(on_short),
                                         'use on_short="nan" to get NaN (with a warning) for short pairs'))
    return policy


def _handle_short(short: np.ndarray, policy: str, metric: str, reason: str, fix: str) -> None:
    if not short.any():
        return
    first = int(np.argmax(short))
    if policy == "raise":
        raise DataFormatError(format_problem(f"{metric} pair {first}", reason,
                                             f"{int(short.sum())} pair(s) that do not", fix))
    warnings.warn(f"{metric}: {int(short.sum())} of {len(short)} pair(s) are undefined and set to NaN "
                  f"(each needs {reason}; first: pair {first})", stacklevel=3)


def _check_grouping(grouping) -> dict | None:
    if grouping is None:
        return None
    if not isinstance(grouping, dict):
        raise ConfigError(format_problem("grouping", f"None or a dict with keys {sorted(DEFAULT_GROUPING)}",
                                         repr(grouping), f"pass e.g. grouping={DEFAULT_GROUPING}"))
    unknown = sorted(set(grouping) - set(DEFAULT_GROUPING))
    if unknown:
        raise ConfigError(format_problem("grouping", f"keys among {sorted(DEFAULT_GROUPING)}",
                                         f"unknown key(s) {unknown}", f"pass e.g. grouping={DEFAULT_GROUPING}"))
    return {**DEFAULT_GROUPING, **{k: float(v) for k, v in grouping.items()}}


# -- MultiMatch ----------------------------------------------------------------------------------------
def _off_screen(paths, first, second, screen, policy: str):
    """Raise (default) or clip, with a warning, fixations beyond the screen [0, width] x [0, height]."""
    if policy not in ("raise", "clip"):
        raise ConfigError(format_problem("off_screen", '"raise" or "clip"', repr(policy),
                                         'use off_screen="clip" to clip fixations to the screen'))
    width, height = screen
    tol = 1e-9 * max(width, height)  # rounding (a few ulps) is not "off the screen"
    outside = (paths.x < -tol) | (paths.x > width + tol) | (paths.y < -tol) | (paths.y > height + tol)
    if not outside.any():
        return paths
    owner = np.repeat(np.arange(len(paths.length)), paths.length)
    bad_path = np.zeros(len(paths.length), dtype=bool)
    bad_path[owner[outside]] = True
    in_a, in_b = bad_path[first], bad_path[second]
    pair = int(np.argmax(in_a | in_b))
    side = "a" if in_a[pair] else "b"
    i = int(np.argmax(outside))
    detail = (f"{int(outside.sum())} fixation(s) in {int(bad_path.sum())} scanpath(s) beyond the screen, first in "
              f"{side}[{pair}] at x={paths.x[i]:g}, y={paths.y[i]:g}")
    if policy == "raise":
        raise DataFormatError(format_problem(
            "multimatch a/b", f"fixations on the {width:g} x {height:g} px screen (0 <= x <= {width:g}, "
                              f"0 <= y <= {height:g}); beyond it the similarities leave [0, 1]",
            detail, "pass the screen the coordinates refer to (e.g. screen_size=fixations.geometry), "
                    "or off_screen='clip' to clip them to it"))
    warnings.warn(f"multimatch: clipped {detail} to the screen (off_screen='clip')", stacklevel=3)
    return type(paths)(np.clip(paths.x, 0, width), np.clip(paths.y, 0, height), paths.duration, paths.length,
                       paths.has_duration, paths.source)


def multimatch(a, b, screen_size, grouping=None, *, on_short=None, off_screen: str = "raise") -> np.ndarray:
    """MultiMatch similarities (Jarodzka et al. 2010; Dewhurst et al. 2012).

    The numbers match the ``multimatch-gaze`` package (0.1.3) to about 1e-15,
    at more than 100x its speed (``benchmarks/multimatch_vs_peer.py``): all pairs
    are done together, and each distinct Scanpath object is read and
    simplified once, however many pairs it is in. The module docstring of
    ``cogmodels.metrics._multimatch`` describes the algorithm step by step,
    and lists exactly where we differ from the peer: its NaN for scanpaths
    with 2 fixations, its crashes, and its NaN for 0 ms against 0 ms (ties
    between equally short alignment paths are resolved as the peer does; see
    ``cogmodels.kernels.multimatch``).

    Parameters
    ----------
    a, b : Scanpath (or array of shape (n_fixations, 3)), or sequences of them
        Durations are in ms.
    screen_size : (width, height) or ScreenGeometry
        In pixels; the screen diagonal normalises vector, length and position.
    grouping : None or dict
        None: no simplification.  Otherwise thresholds for the simplification, any of
        ``direction_deg`` (45.0), ``duration_ms`` (300.0), ``amplitude_px`` (147.0).
    on_short : {"raise", "nan"}, optional
        What to do with pairs where a scanpath has fewer than 2 fixations (no
        saccade); default "raise" for one pair, "nan" (with a warning) for sequences.
    off_screen : {"raise", "clip"}
        Fixations beyond the screen: raise DataFormatError (default), or clip
        them to the screen with a warning.

    Returns
    -------
    similarity : array of shape (5,) for one pair, (n_pairs, 5) for sequences
        Vector, direction, length, position, duration; 1 = identical. Each is
        in [0, 1] for fixations on the screen (the normalisers are the
        largest possible differences there).
    """
    paths, first, second, single = _paths.unique_pairs(a, b, need_duration=True)
    screen = _regions.check_screen(as_screen_size(screen_size))
    paths = _off_screen(paths, first, second, screen, off_screen)
    thresholds = _check_grouping(grouping)
    policy = _short_policy(on_short, single)
    short = np.minimum(paths.length[first], paths.length[second]) < 2
    _handle_short(short, policy, "multimatch", "at least 2 fixations (1 saccade) in both scanpaths",
                  "drop scanpaths with fewer than 2 fixations, or pass on_short='nan'")
    out = np.full((len(short), 5), np.nan)
    if not short.all():
        # Each distinct scanpath is turned into saccades (and simplified) once, however many pairs it is in.
        usable = paths.length >= 2
        saccades = _multimatch.Saccades.from_fixations(paths.x, paths.y, paths.duration, paths.length, usable)
        if thresholds is not None:
            saccades = _multimatch.simplify(saccades, thresholds["direction_deg"], thresholds["duration_ms"],
                                            thresholds["amplitude_px"])
        row = np.cumsum(usable) - 1                     # index of each usable scanpath in ``saccades``
        keep = ~short
        out[keep] = _multimatch.compare(saccades, row[first[keep]], row[second[keep]], screen)
    return out[0] if single else out


# -- ScanMatch -----------------------------------------------------------------------------------------
def scanmatch(a, b, screen_size, *, grid=DEFAULT_GRID, temporal_bin_ms: float | None = 50.0,
              threshold: float | None = None, gap: float = 0.0):
    """ScanMatch score (Cristino et al. 2010): Needleman-Wunsch on spatially and temporally binned region strings.

    Parameters
    ----------
    a, b : Scanpath (or array of shape (n_fixations, 3)), or sequences of them
    screen_size : (width, height) or ScreenGeometry
        In pixels.
    grid : (n_rows, n_cols)
        Spatial bins over the screen (default (8, 12), our choice).
    temporal_bin_ms : float or None
        Each fixation is repeated once per bin of its duration (nearest whole
        number, at least 1; default 50 ms). None: one symbol per fixation.
    threshold : float, optional
        Substitution threshold in grid cells: regions closer than this align
        with a positive score. Default: 2 x SD of the saccade amplitudes pooled
        over this call's scanpaths; see :func:`scanmatch_threshold`.
    gap : float
        Score of a gap (default 0: only negative substitution scores penalise).

    Returns
    -------
    score : float for one pair, array of shape (n_pairs,) for sequences
        ``NW score / (threshold x longer length)``; in [0, 1] for gap = 0.
        Two empty scanpaths score 1.
    """
    batch_a, batch_b, single = pair_batches(a, b, need_duration=temporal_bin_ms is not None)
    scores = _scanmatch.scanmatch_scores(batch_a, batch_b, _regions.check_screen(as_screen_size(screen_size)),
                                         _regions.check_grid(grid), temporal_bin_ms, threshold, gap)
    return float(scores[0]) if single else scores


def scanmatch_threshold(scanpaths, screen_size, grid=DEFAULT_GRID) -> float:
    """The default ScanMatch threshold from a set of scanpaths: 2 x SD of saccade amplitudes in grid cells."""
    return _scanmatch.saccade_threshold(collect(list(scanpaths), "scanpaths", False).paths_xy(),
                                        as_screen_size(screen_size), grid)


# -- string metrics ------------------------------------------------------------------------------------
def _codes(batch_a, batch_b, screen_size, grid, centres, n_clusters, seed):
    """Padded region codes of both sides, shape (n_pairs, n_max), and their lengths."""
    screen_size = as_screen_size(screen_size)
    # k-means groups: a pair's stimulus (all pairs on one image share clusters), else the pair itself.
    groups = [sid if sid is not None else ("pair", i) for i, sid in enumerate(batch_a.stimulus_id)]
    if centres is None and n_clusters is None:
        return (*_regions.grid_codes(batch_a, screen_size, grid), *_regions.grid_codes(batch_b, screen_size, grid))
    codes = _regions.region_codes(batch_a.paths_xy() + batch_b.paths_xy(), groups + groups, screen_size, grid,
                                  centres, n_clusters, seed)
    return (*_regions.pad_codes(codes[:len(batch_a)]), *_regions.pad_codes(codes[len(batch_a):]))


def edit_distance(a, b, screen_size=None, *, grid=DEFAULT_GRID, centres=None, n_clusters=None, seed=0,
                  normalise: bool = False):
    """String edit distance (Levenshtein) between the region strings of two scanpaths.

    Parameters
    ----------
    a, b : Scanpath (or array (n_fixations, 2|3)), or sequences of them
    screen_size : (width, height) or ScreenGeometry, optional
        Needed for grid regions.
    grid : (n_rows, n_cols)
        Grid regions (default); cell ``row * n_cols + col``.
    centres : array of shape (n_regions, 2), optional
        Regions are the nearest of these centres instead.
    n_clusters : int, optional
        Regions from seeded k-means on the pooled fixations of each stimulus
        (pairs whose scanpath ``a[i]`` has no stimulus_id are clustered alone).
    seed : int or numpy Generator
    normalise : bool
        Divide by the longer length (two empty strings: 0).

    Returns
    -------
    distance : int (float if normalised) for one pair, array of shape (n_pairs,) for sequences
    """
    batch_a, batch_b, single = pair_batches(a, b)
    codes_a, len_a, codes_b, len_b = _codes(batch_a, batch_b, screen_size, grid, centres, n_clusters, seed)
    distance = alignment.levenshtein(torch.from_numpy(codes_a), torch.from_numpy(codes_b),
                                     torch.from_numpy(len_a), torch.from_numpy(len_b)).numpy()
    if normalise:
        longest = np.maximum(len_a, len_b)
        distance = np.where(longest > 0, distance / np.maximum(longest, 1), 0.0)
    return distance[0].item() if single else distance


def sequence_score(a, b, screen_size=None, *, grid=DEFAULT_GRID, centres=None, n_clusters=None, seed=0,
                   match: float = 1.0, mismatch: float = 0.0, gap: float = 0.0):
    """Sequence score: Needleman-Wunsch alignment of region strings, normalised by ``match x longer length``.

    Regions as in :func:`edit_distance` (grid, given centres or seeded k-means
    per stimulus). With the defaults (match 1, mismatch 0, gap 0) the score is
    the longest common subsequence over the longer length, in [0, 1].

    Returns
    -------
    score : float for one pair, array of shape (n_pairs,) for sequences
        Two empty scanpaths score 1; one empty scanpath scores 0 (gap = 0).
    """
    if not match > 0:
        raise ConfigError(format_problem("match", "a positive score", repr(match), "use e.g. match=1.0"))
    batch_a, batch_b, single = pair_batches(a, b)
    codes_a, len_a, codes_b, len_b = _codes(batch_a, batch_b, screen_size, grid, centres, n_clusters, seed)
    def score_of(codes_a, codes_b):
        return np.where(codes_a[:, :, None] == codes_b[:, None, :], float(match), float(mismatch))

    score = _regions.needleman_wunsch_codes(codes_a, len_a, codes_b, len_b, score_of, float(gap))
    longest = np.maximum(len_a, len_b)
    score = np.where(longest > 0, score / (match * np.maximum(longest, 1)), 1.0)
    return float(score[0]) if single else score


def cluster_centres(scanpaths, n_clusters: int, seed=0) -> np.ndarray:
    """Seeded k-means centres (n_clusters, 2) of the pooled fixations, e.g. of all viewers of one image."""
    points = collect(list(scanpaths), "scanpaths", False).paths_xy()
    return _regions.kmeans(np.concatenate(points) if points else np.zeros((0, 2)), n_clusters, seed)


# -- geometric alignments ------------------------------------------------------------------------------
def _distance_batch(a, b, kernel, name: str):
    batch_a, batch_b, single = pair_batches(a, b)
    empty = np.minimum(batch_a.length, batch_b.length) == 0
    if empty.any():
        raise DataFormatError(format_problem(f"{name} pair {int(np.argmax(empty))}", "non-empty scanpaths",
                                             f"{int(empty.sum())} pair(s) with an empty scanpath",
                                             "drop empty scanpaths before comparing them"))
    values = np.empty(len(batch_a))
    # Distance matrices bucket by bucket (as the kernel runs them), so padding never fills memory.
    for rows, n, m in alignment.length_buckets(batch_a.length, batch_b.length):
        rows = rows.numpy()
        a_xy, b_xy = batch_a.xy[rows, :n].transpose(1, 2, 0), batch_b.xy[rows, :m].transpose(1, 2, 0)
        dx = a_xy[:, None, 0] - b_xy[None, :, 0]          # (n, m, B'): batch-last, as the kernel stores it
        dy = a_xy[:, None, 1] - b_xy[None, :, 1]
        cost = torch.from_numpy(np.sqrt(dx ** 2 + dy ** 2)).permute(2, 0, 1)
        values[rows] = kernel(cost, torch.from_numpy(batch_a.length[rows]),
                              torch.from_numpy(batch_b.length[rows])).numpy()
    return float(values[0]) if single else values


def dtw(a, b):
    """Dynamic time warping distance: the smallest sum of Euclidean fixation distances (px) over monotone alignments.

    Returns a float for one pair, an array of shape (n_pairs,) for sequences;
    an empty scanpath raises DataFormatError.
    """
    return _distance_batch(a, b, alignment.dtw, "dtw")


def frechet(a, b):
    """Discrete Fréchet distance (Eiter & Mannila 1994) between fixation sequences, in pixels.

    Returns a float for one pair, an array of shape (n_pairs,) for sequences;
    an empty scanpath raises DataFormatError.
    """
    return _distance_batch(a, b, alignment.frechet, "frechet")
