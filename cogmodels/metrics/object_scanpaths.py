"""Object-level scanpath metrics: string metrics on object-ID sequences and OAT's behavioural statistics.

A scanpath here is a sequence of fixated object IDs (non-negative ints), e.g.
the output of ``OATModel.sample_objects`` or fixations assigned to objects with
:func:`to_object_ids`.

- :func:`sequence_score` and :func:`edit_distance` compare object strings with
  the string metrics of :mod:`cogmodels.metrics.gaze` (the same
  Needleman-Wunsch and Levenshtein kernels): each object ID ``k`` becomes the
  point ``(k, 0)`` and the regions are the centres ``(k, 0)``, so region codes
  are exactly the object IDs.
- :func:`behaviour` gives per-scanpath behavioural statistics (Fang et al.,
  ECCV 2024, "behavioural-based metric"):

  - ``target_found``: 1 if the target object is fixated at all, else 0;
  - ``length``: number of fixations;
  - ``search_proportion``: fixations before the first target fixation, over
    the length (1 when the target is never fixated);
  - ``refixation_proportion``: fixations on the same object as the fixation
    before, over the transitions (length - 1; 0 for one fixation);
  - ``revisit_proportion``: fixations that return to an object left earlier
    (fixated before, but not immediately before), over the transitions.

- :func:`behaviour_deviation` averages each statistic over scanpaths and
  reports ``|model - human| / |human|`` per statistic and their mean (the
  mean relative deviation; statistics whose human mean is 0 are left out of
  the mean, with a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from cogmodels.errors import DataFormatError, format_problem

BEHAVIOUR_STATISTICS = ("target_found", "length", "search_proportion", "refixation_proportion",
                        "revisit_proportion")
__all__ = ["sequence_score", "edit_distance", "behaviour", "behaviour_means", "behaviour_deviation",
           "to_object_ids", "BEHAVIOUR_STATISTICS"]


def _ids(seq, where: str) -> np.ndarray:
    ids = np.asarray(seq)
    if ids.ndim != 1 or (ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0)):
        raise DataFormatError(format_problem(where, "a 1-d sequence of object IDs (integers >= 0)",
                                             f"dtype {ids.dtype}, shape {ids.shape}" + (
                                                 f", min {ids.min()}" if ids.size and ids.ndim == 1 and
                                                 np.issubdtype(ids.dtype, np.number) else ""),
                                             "map fixations to objects first (to_object_ids)"))
    return ids.astype(np.int64)


def _is_single(x) -> bool:
    """One object sequence (ints), as opposed to a list of sequences."""
    if isinstance(x, np.ndarray):
        return x.ndim == 1 and x.dtype != object
    return len(x) == 0 or np.isscalar(x[0])


def _pairs(a, b):
    from cogmodels.metrics._paths import pair_up

    a, b, single = pair_up(a, b, _is_single, "object sequences")
    a = [_ids(s, f"a[{i}]") for i, s in enumerate(a)]
    b = [_ids(s, f"b[{i}]") for i, s in enumerate(b)]
    n_objects = max([int(s.max()) + 1 for s in a + b if s.size] + [1])
    centres = np.stack([np.arange(n_objects, dtype=float), np.zeros(n_objects)], 1)
    points = [np.stack([s.astype(float), np.zeros(len(s))], 1).reshape(-1, 2) for s in a + b]
    return points[: len(a)], points[len(a):], centres, single


def sequence_score(a, b, *, match: float = 1.0, mismatch: float = 0.0, gap: float = 0.0):
    """Needleman-Wunsch score of object-ID strings over ``match x longer length`` (in [0, 1] at the defaults).

    Parameters
    ----------
    a, b : sequence of int, or lists of such sequences (compared element-wise)

    Returns
    -------
    float for one pair, array of shape (n_pairs,) for lists
    """
    from cogmodels.metrics import gaze

    pa, pb, centres, single = _pairs(a, b)
    score = gaze.sequence_score(pa, pb, centres=centres, match=match, mismatch=mismatch, gap=gap)
    return float(np.asarray(score).ravel()[0]) if single else np.asarray(score, float)


def edit_distance(a, b, *, normalise: bool = True):
    """Levenshtein distance between object-ID strings (normalised by the longer length by default).

    Returns a float for one pair, an array of shape (n_pairs,) for lists.
    """
    from cogmodels.metrics import gaze

    pa, pb, centres, single = _pairs(a, b)
    distance = gaze.edit_distance(pa, pb, centres=centres, normalise=normalise)
    return float(np.asarray(distance).ravel()[0]) if single else np.asarray(distance, float)


def behaviour(sequences, targets) -> dict:
    """Behavioural statistics of each scanpath (see the module docstring).

    Parameters
    ----------
    sequences : list of int sequences, length n_scanpaths
    targets : int or sequence of int (n_scanpaths,)
        Target object of each scanpath (-1: no target; then target_found is 0, search_proportion 1).

    Returns
    -------
    dict of statistic name -> float array of shape (n_scanpaths,)
    """
    targets = np.broadcast_to(np.asarray(targets, dtype=np.int64), (len(sequences),))
    out = {name: np.zeros(len(sequences)) for name in BEHAVIOUR_STATISTICS}
    for i, seq in enumerate(sequences):
        ids = _ids(seq, f"sequences[{i}]")
        n = len(ids)
        if n == 0:
            raise DataFormatError(format_problem(f"sequences[{i}]", "at least one fixation", "an empty scanpath",
                                                 "drop empty scanpaths before computing statistics"))
        hits = np.flatnonzero(ids == targets[i])
        out["target_found"][i] = float(hits.size > 0)
        out["length"][i] = n
        out["search_proportion"][i] = hits[0] / n if hits.size else 1.0
        if n > 1:
            same = ids[1:] == ids[:-1]
            seen_before = np.array([ids[j] in set(ids[: j - 1].tolist()) for j in range(1, n)])
            out["refixation_proportion"][i] = same.mean()
            out["revisit_proportion"][i] = (seen_before & ~same).mean()
    return out


def behaviour_means(sequences, targets) -> dict:
    """Mean of each behavioural statistic over scanpaths: name -> float."""
    return {name: float(values.mean()) for name, values in behaviour(sequences, targets).items()}


def behaviour_deviation(model_sequences, model_targets, human_sequences, human_targets) -> dict:
    """Relative deviation of a model's mean behavioural statistics from the humans'.

    Returns
    -------
    dict with ``model`` and ``human`` (name -> mean), ``relative_deviation`` (name -> |m - h| / |h|)
    and ``mean_relative_deviation`` (float, mean over statistics with a non-zero human mean).
    """
    model = behaviour_means(model_sequences, model_targets)
    human = behaviour_means(human_sequences, human_targets)
    deviation = {name: abs(model[name] - human[name]) / abs(human[name]) if human[name] != 0 else float("nan")
                 for name in BEHAVIOUR_STATISTICS}
    undefined = [name for name, v in deviation.items() if not np.isfinite(v)]
    if undefined:
        warnings.warn(f"behaviour_deviation: human mean is 0 for {undefined}; left out of the mean", stacklevel=2)
    defined = [v for v in deviation.values() if np.isfinite(v)]
    return {"model": model, "human": human, "relative_deviation": deviation,
            "mean_relative_deviation": float(np.mean(defined)) if defined else float("nan")}


def to_object_ids(scanpath, boxes, off_object: str = "nearest") -> np.ndarray:
    """Object ID of each fixation of a Scanpath (or (n, 2) array) given object boxes (n_objects, 4) in pixels.

    Fixations on no object go to the nearest box ("nearest") or raise ("raise").
    """
    from cogmodels.scanpaths.oat_objects import ObjectSet, assign_fixations

    xy = scanpath.xy if hasattr(scanpath, "xy") else np.asarray(scanpath, float)[:, :2]
    boxes = np.asarray(boxes, float)
    objects = ObjectSet(boxes, (int(boxes[:, 2].max()), int(boxes[:, 3].max())), "boxes")
    return assign_fixations(xy, objects, off_object)[0]
