"""Trajectory comparison that :mod:`cogmodels.metrics.gaze` lacks: the time-delay embedding distance (TDE).

TDE (Wang, Freeman, Wu & Ferrera 2011, "Simulating human saccadic scanpaths on
natural images", CVPR; the scanpath-metric survey of Fahimi & Bruce 2021, whose
definition is followed here and which DeepGaze III and DiffEye report):

1. cut each sequence of points into all its windows of ``k`` consecutive points
   (the time-delay embedding: ``n - k + 1`` vectors of k points);
2. the distance between two windows is the mean Euclidean distance of their
   corresponding points;
3. for every window of ``a`` (the generated sequence), take the closest window of
   ``b`` (the human one);
4. TDE is the mean of those minima (``mode="mean"``) or their maximum
   (``mode="hausdorff"``).

It is asymmetric (``a`` generated, ``b`` reference); ``symmetric=True`` averages both
directions.  Units: those of the points (pixels).  A sequence with fewer than ``k``
points has no window: NaN with a warning (or an error, ``on_short="raise"``).

Inputs: a :class:`~cogmodels.data.Scanpath` (its fixations), an array of shape
(n_points, 2) (e.g. a raw trajectory of shape (n_steps, 2)), or equal-length lists
of them (pairwise: one value per pair).
"""

from __future__ import annotations

import warnings

import numpy as np

from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

TDE_MODES = ("mean", "hausdorff")


def _points(path, where: str) -> np.ndarray:
    arr = path.xy if isinstance(path, Scanpath) else np.asarray(path, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ShapeError(format_problem(where, "a Scanpath or an array of shape (n_points, 2)", str(arr.shape),
                                        "stack (x, y) per point"))
    if not np.isfinite(arr).all():
        raise DataFormatError(format_problem(where, "finite positions", f"{int((~np.isfinite(arr)).sum())} NaN/inf",
                                             "interpolate or drop missing samples (blinks) first"))
    return arr


def _is_single(path) -> bool:
    if isinstance(path, Scanpath):
        return True
    if isinstance(path, np.ndarray):
        return path.ndim == 2
    return len(path) > 0 and np.ndim(path[0]) == 1


def delay_embedding(points: np.ndarray, k: int) -> np.ndarray:
    """All windows of k consecutive points: shape (n_points - k + 1, k, 2)."""
    return np.lib.stride_tricks.sliding_window_view(points, (k, 2))[:, 0]


def _tde_one(a: np.ndarray, b: np.ndarray, k: int, mode: str) -> float:
    wa, wb = delay_embedding(a, k), delay_embedding(b, k)
    best = np.full(len(wa), np.inf)
    chunk = max(1, 4_000_000 // max(1, len(wb) * k))  # bounded memory for long trajectories
    for s in range(0, len(wa), chunk):
        d = np.sqrt(((wa[s:s + chunk, None] - wb[None]) ** 2).sum(-1)).mean(-1)  # (chunk, n_b)
        best[s:s + chunk] = d.min(1)
    return float(best.mean() if mode == "mean" else best.max())


def tde(a, b, k: int = 3, *, mode: str = "mean", symmetric: bool = False, on_short: str = "nan"):
    """Time-delay embedding distance between generated ``a`` and reference ``b`` (see the module docstring).

    Parameters
    ----------
    a, b : Scanpath, array of shape (n_points, 2), or equal-length lists of them
    k : int
        Points per window (>= 1).
    mode : {"mean", "hausdorff"}
    symmetric : bool
        Average of tde(a, b) and tde(b, a).
    on_short : {"nan", "raise"}
        A sequence shorter than ``k``: NaN with a warning giving the count, or DataFormatError.

    Returns
    -------
    float for one pair, array of shape (n_pairs,) for lists.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(format_problem("tde k", "an integer >= 1 (points per window)", repr(k), "use k=3"))
    if mode not in TDE_MODES:
        raise ConfigError(format_problem("tde mode", f"one of {TDE_MODES}", repr(mode), "use mode='mean'"))
    if on_short not in ("nan", "raise"):
        raise ConfigError(format_problem("tde on_short", "'nan' or 'raise'", repr(on_short), "use on_short='nan'"))
    single = _is_single(a)
    if single != _is_single(b):
        raise ShapeError(format_problem("tde(a, b)", "two sequences, or two lists of sequences",
                                        f"{type(a).__name__} and {type(b).__name__}", "pass matching forms"))
    pairs_a, pairs_b = ([a], [b]) if single else (list(a), list(b))
    if len(pairs_a) != len(pairs_b):
        raise ShapeError(format_problem("tde(a, b)", "lists of equal length (one value per pair)",
                                        f"{len(pairs_a)} and {len(pairs_b)}", "pair the sequences up"))
    out, short = np.full(len(pairs_a), np.nan), 0
    for i, (pa, pb) in enumerate(zip(pairs_a, pairs_b)):
        xa, xb = _points(pa, f"tde a[{i}]"), _points(pb, f"tde b[{i}]")
        if len(xa) < k or len(xb) < k:
            if on_short == "raise":
                raise DataFormatError(format_problem(f"tde pair {i}", f"sequences of at least k={k} points",
                                                     f"{len(xa)} and {len(xb)} points", "lower k or drop the pair"))
            short += 1
            continue
        value = _tde_one(xa, xb, k, mode)
        out[i] = 0.5 * (value + _tde_one(xb, xa, k, mode)) if symmetric else value
    if short:
        warnings.warn(f"tde: {short} of {len(out)} pairs have a sequence shorter than k={k}: NaN", stacklevel=2)
    return float(out[0]) if single else out
