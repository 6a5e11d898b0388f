"""MultiMatch (Jarodzka, Holmqvist & Nyström 2010; Dewhurst et al. 2012), batched over scanpath pairs.

The public entry point is :func:`cogmodels.metrics.gaze.multimatch`; this module
holds the algorithm.  It reproduces the numbers of the reference Python port
``multimatch-gaze`` (0.1.3; checked by black-box comparison, see
``benchmarks/multimatch_vs_peer.py``).  Its behaviour, step by step:

1. **Saccade vectors.** Saccade k goes from fixation k to fixation k + 1. It
   carries the start position of fixation k, the vector between the two
   fixations, and the duration of fixation k.  The duration of the last
   fixation is not compared.
2. **Simplification** (only when thresholds are given). Passes repeat until
   one full iteration leaves the length of the fixation-duration list unchanged.
   Each iteration runs a direction pass, then an amplitude pass. Each pass scans
   left to right; when a pair of saccades merges, the scan jumps past both.
   Comparisons are strict (``<``).
   - *Direction pass.* Saccades k and k+1 merge when the angle between them
     (``arccos`` of the normalised dot product, in degrees) is below
     ``direction_deg``, and fixation k+1 is shorter than ``duration_ms``.
   - *Amplitude pass.* Saccades k and k+1 merge when saccade k is shorter than
     ``amplitude_px``, and fixation k or fixation k+1 is shorter than
     ``duration_ms``.  The last saccade, when it meets the same test, is
     folded into the previous output saccade.
   - *Merging.* A merged saccade keeps the start point and fixation duration of
     its first part; its vector is the sum of the two parts.
   - *Peer quirks, reproduced so the numbers match.*
     (a) When the last saccade is folded, the previous output saccade keeps its
     start point, but its vector becomes the sum of the *input* saccades n-2
     and n-1.  The duration list gains the duration of fixation n-2 instead of
     losing one entry, so it can run longer than the saccades need.
     (b) Every pass then appends the last entry of its input duration list.
3. **Alignment.** ``M[i, j] = |v_i - w_j|``. The shortest right/down/diagonal
   path from (0, 0) to (n-1, m-1) is found, where a path's cost is the sum of
   the cells it enters, and where several paths are equally short, the one
   the peer's Dijkstra takes.  The kernel
   :func:`cogmodels.kernels.multimatch.align` does this for all pairs at once
   (a DP on the anti-diagonal wavefront, in numpy, which costs less than torch
   per operation on these small arrays; ties that only the peer's heap order
   decides go through the peer's own search).  Its per-pair reference is
   :mod:`cogmodels.kernels.multimatch_reference`, and the tests check that
   both choose the same path, ties included.
4. **Similarities.** Along the path, for each aligned pair:
   - vector: ``|v - w|``;
   - direction: the absolute angle difference, wrapped to [0, pi];
   - length: ``|len(v) - len(w)|``;
   - position: the distance between the start points;
   - duration: ``|d_v - d_w| / max(d_v, d_w)``.
   Each dimension takes the **median** over the path. The similarity is
   ``1 - median / normaliser``, with normalisers: 2 x screen diagonal, pi,
   diagonal, diagonal and 1.

Where we differ from the peer, and where we do not (the first five are covered by tests):

* The peer returns NaN whenever a scanpath has fewer than 3 fixations. Here,
  any scanpath with at least 2 fixations (one saccade) is compared. The
  numbers agree with the peer's own arithmetic on one-saccade paths that it
  reaches through simplification.
* The peer raises ``IndexError`` when a one-saccade path meets the amplitude
  test of its last saccade. Here that saccade is kept, since there is nothing
  to merge it into.
* The peer raises ``ValueError`` (``math domain error``) when rounding puts the
  cosine of two parallel saccades just outside [-1, 1]. Here the cosine is
  clipped.
* Where both aligned fixations last 0 ms, the peer's duration difference is
  0/0 = NaN. Here it is 0: the durations are identical.
* Ties between alignment paths: no difference. Where several paths are equally
  short (exactly, or up to rounding), the kernel takes the peer's path; its
  module docstring says how.  The tests check this on grid-quantised scanpaths
  with repeated saccades (many exact ties), and on the same scanpaths moved by
  a few ulps (costs equal only up to rounding).
* The peer's duration threshold is in seconds (``TDur``); ours is
  ``duration_ms``. Durations are compared in ms, so 300 ms against 0.3 s
  gives the same strict comparisons for whole-millisecond durations.

**Speed** (about 5 us per pair on OSIE, against about 0.8 ms for the peer;
``benchmarks/multimatch_vs_peer.py``).
All pairs of a call are done together, on flat (ragged) arrays: the saccades
of all paths are concatenated (:class:`Saccades`), and each distinct
scanpath is read and simplified once, however many pairs it is in.

- A simplification pass is a few whole-array operations: the peer's greedy
  left-to-right scan is found without a loop (:func:`greedy_merges`), and
  only cosines next to the direction threshold need the arccos
  (:func:`angle_below`). Converged paths are frozen, and leave the batch
  once they are the majority.
- The alignment runs one wavefront per bucket of similar lengths; a
  backtrack walks all pairs at once; the medians sort the paths of each
  length as one block.
- On arrays this small, numpy costs less per operation than torch; and a
  fresh temporary as large as all the cells costs page faults, so the work
  per cell writes into a few reused arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cogmodels.kernels import multimatch as multimatch_kernel
from cogmodels.metrics._paths import Ragged, Saccades

DIMENSIONS = ("vector", "direction", "length", "position", "duration")
# Cosines farther than this from cos(direction_deg) decide the direction test without the arccos.
COSINE_MARGIN = 1e-9
# Pairs compared together; bounds the memory of the alignment (its tables grow with n_pairs x path length).
CHUNK_PAIRS = 16384


@dataclass
class _Simplifying(Ragged):
    """What the simplification passes read and change, per saccade and per path.

    ``origin`` is the input saccade each output saccade starts with: a merged
    saccade keeps the start point and duration of its first part. Durations
    only enter through ``duration < duration_ms`` (``short``; ``last_short``
    for the last entry of the duration list).
    """

    origin: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    amplitude: np.ndarray
    short: np.ndarray
    count: np.ndarray
    last_short: np.ndarray
    duration_count: np.ndarray

    PER_SACCADE = ("origin", "dx", "dy", "amplitude", "short")
    PER_PATH = ("count", "last_short", "duration_count")


# -- simplification ------------------------------------------------------------------------------------
def simplify(saccades: Saccades, direction_deg: float, duration_ms: float, amplitude_px: float) -> Saccades:
    """Repeat (direction pass, amplitude pass) until an iteration leaves the duration-list length unchanged.

    Every path runs its own number of iterations. A converged path is frozen
    (it takes part in no more merges), and the frozen paths leave the batch
    once they hold most of its saccades: moving them out costs a copy of the
    whole batch, worth it only when it shrinks the batch by half or more.
    """
    active = _Simplifying(np.arange(len(saccades.dx)), saccades.dx, saccades.dy, saccades.amplitude,
                          saccades.duration < duration_ms, saccades.count, saccades.last_duration < duration_ms,
                          saccades.duration_count)
    ids = np.arange(len(saccades))
    frozen = np.zeros(len(saccades), dtype=bool)
    converged_parts, converged_ids = [], []
    while len(ids):
        before = active.duration_count
        active = _amplitude_pass(_direction_pass(active, frozen, direction_deg), frozen, amplitude_px)
        frozen = frozen | (active.duration_count == before)
        if 2 * active.count[frozen].sum() >= len(active.dx):
            converged_parts.append(active.select(frozen))
            converged_ids.append(ids[frozen])
            active, ids, frozen = active.select(~frozen), ids[~frozen], np.zeros(int((~frozen).sum()), dtype=bool)
    done = _Simplifying.concatenate(converged_parts).reorder(np.argsort(np.concatenate(converged_ids)))
    return Saccades(saccades.start_x.take(done.origin), saccades.start_y.take(done.origin), done.dx, done.dy,
                    done.amplitude, saccades.duration.take(done.origin), done.count, saccades.last_duration,
                    done.duration_count)


def greedy_merges(mergeable: np.ndarray) -> np.ndarray:
    """The peer's left-to-right greedy merging, without a loop.

    The scan merges saccade k with k + 1 when ``mergeable[k]`` and then jumps
    past both. Within a run of consecutive mergeable saccades, the 1st, 3rd,
    5th, ... therefore merge, and each absorbs the saccade after it.

    Parameters
    ----------
    mergeable : bool array of shape (n_saccades_total,)
        False at the last saccade of every path, so runs never cross paths.

    Returns
    -------
    merges : int array of shape (n_merges,)
        Increasing indices of the saccades that absorb the next one.
    """
    candidates = np.flatnonzero(mergeable)
    rank = np.arange(len(candidates))
    new_run = np.ones(len(candidates), dtype=bool)
    new_run[1:] = candidates[1:] != candidates[:-1] + 1
    run_start = np.maximum.accumulate(np.where(new_run, rank, 0))
    return candidates[(rank - run_start) % 2 == 0]


def _direction_pass(sac: _Simplifying, frozen: np.ndarray, direction_deg: float) -> _Simplifying:
    mergeable = np.zeros(len(sac.dx), dtype=bool)
    mergeable[:-1] = _turns_less_than(sac, direction_deg) & sac.short[1:]
    mergeable[sac.last] = False
    return _merged(sac, greedy_merges(_unfrozen(mergeable, sac, frozen)), frozen)


def _amplitude_pass(sac: _Simplifying, frozen: np.ndarray, amplitude_px: float) -> _Simplifying:
    # At this pass the duration list has count + 1 entries: the direction pass always leaves it so.
    last = sac.last
    next_short = np.empty_like(sac.short)               # is the fixation after each saccade short?
    next_short[:-1] = sac.short[1:]
    next_short[last] = sac.last_short
    short = (sac.amplitude < amplitude_px) & (sac.short | next_short)
    mergeable = short.copy()
    mergeable[last] = False
    merges = greedy_merges(_unfrozen(mergeable, sac, frozen))
    # The last saccade, if not absorbed and short, folds back into the previous output saccade;
    # with no previous one (a one-saccade path) it is kept, where the peer crashes.
    absorbed = np.zeros(len(sac.dx), dtype=bool)
    absorbed[merges + 1] = True
    folded = short[last] & ~absorbed[last] & (sac.count >= 2) & ~frozen
    return _merged(sac, merges, frozen, folded)


def _unfrozen(mergeable: np.ndarray, sac: _Simplifying, frozen: np.ndarray) -> np.ndarray:
    """``mergeable``, False on the saccades of frozen paths."""
    if frozen.any():
        mergeable &= ~np.repeat(frozen, sac.count)
    return mergeable


def _merged(sac: _Simplifying, merges: np.ndarray, frozen: np.ndarray,
            folded: np.ndarray | None = None) -> _Simplifying:
    """The output of a pass: saccades ``merges`` absorb the next one, the last saccades of ``folded`` paths fold.

    A merged saccade keeps the start point and duration of its first part; its
    vector is the sum of both. Quirks (a) and (b) of the module docstring apply.
    Frozen paths come out unchanged.
    """
    last = sac.last
    keep = np.ones(len(sac.dx), dtype=bool)
    keep[merges + 1] = False
    # Position of each merging saccade in the output: one entry is removed before it per earlier merge
    # (merges are at least 2 apart), and one per earlier folded path.
    target = merges - np.arange(len(merges))
    folds = folded is not None and folded.any()
    if folds:
        keep[last[folded]] = False
        path = np.repeat(np.arange(len(sac)), sac.count)       # path index of every saccade
        target -= (np.cumsum(folded) - folded).take(path.take(merges))
    out = _Simplifying(*(getattr(sac, name).compress(keep) for name in _Simplifying.PER_SACCADE),
                       np.add.reduceat(keep.view(np.uint8), sac.offset, dtype=np.int64), sac.last_short, None)
    _set_vectors(out, target, sac.dx[merges] + sac.dx[merges + 1], sac.dy[merges] + sac.dy[merges + 1])
    out.duration_count = np.where(frozen, sac.duration_count, out.count + 1)
    if folds:
        # Quirk (a): the previous output saccade becomes input saccade n-2 + input saccade n-1,
        # and the duration list gains an entry (a step that adds no saccade).
        before, lasts = out.last[folded], last[folded]
        _set_vectors(out, before, sac.dx[lasts - 1] + sac.dx[lasts], sac.dy[lasts - 1] + sac.dy[lasts])
        out.duration_count += folded
    # Quirk (b): the last entry of the duration list carries over unchanged (``last_short``).
    return out


def _set_vectors(sac: _Simplifying, index: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> None:
    sac.dx[index], sac.dy[index] = dx, dy
    sac.amplitude[index] = np.sqrt(dx ** 2 + dy ** 2)


def _turns_less_than(sac: _Simplifying, direction_deg: float) -> np.ndarray:
    """Whether the angle from saccade k to k + 1 is below ``direction_deg``, shape (n_saccades_total - 1,)."""
    dot = sac.dx[:-1] * sac.dx[1:] + sac.dy[:-1] * sac.dy[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return angle_below(dot / (sac.amplitude[:-1] * sac.amplitude[1:]), direction_deg)


def angle_below(cosine: np.ndarray, direction_deg: float) -> np.ndarray:
    """The peer's ``degrees(arccos(cosine)) < direction_deg``, without most of the arccos calls.

    Cosines clearly on one side of ``cos(direction_deg)`` are decided directly
    (arccos is decreasing); only those within COSINE_MARGIN of it go through
    the arccos, so the result is the same. NaN cosines (zero-length saccades)
    never pass.
    """
    if not 0.0 < direction_deg < 180.0:
        return _angle_deg(cosine) < direction_deg
    threshold = np.cos(np.radians(direction_deg))
    below = cosine > threshold + COSINE_MARGIN
    unsure = np.flatnonzero(np.abs(cosine - threshold) <= COSINE_MARGIN)
    below[unsure] = _angle_deg(cosine[unsure]) < direction_deg
    return below


def _angle_deg(cosine: np.ndarray) -> np.ndarray:
    """Angle in degrees from its cosine, clipped to [-1, 1] (rounding can leave parallel saccades just outside)."""
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


# -- comparison ----------------------------------------------------------------------------------------
def compare(saccades: Saccades, first: np.ndarray, second: np.ndarray,
            screen_size: tuple[float, float]) -> np.ndarray:
    """The five MultiMatch similarities of the pairs of paths (first[p], second[p]), shape (n_pairs, 5)."""
    diagonal = float(np.hypot(*screen_size))
    normaliser = np.array([2 * diagonal, np.pi, diagonal, diagonal, 1.0])
    out = np.empty((len(first), 5))
    for start in range(0, len(first), CHUNK_PAIRS):
        rows = slice(start, start + CHUNK_PAIRS)
        cells_a, cells_b, length, order, _ = multimatch_kernel.align(
            saccades.dx, saccades.dy, saccades.offset, saccades.count, first[rows], second[rows])
        medians = _path_medians(_differences(saccades, cells_a, cells_b), length)
        out[start + order] = 1.0 - medians.T / normaliser
    return out


def _differences(sac: Saccades, cells_a: np.ndarray, cells_b: np.ndarray) -> np.ndarray:
    """The five raw differences of each aligned pair of saccades, shape (5, n_cells).

    Written into the output through two scratch arrays: fresh temporaries of
    this size each cost page faults, which dominate such simple operations.
    """
    out = np.empty((5, len(cells_a)))
    vector, direction, length, position, duration = out
    a, b = np.empty(len(cells_a)), np.empty(len(cells_a))

    def gather(values):                  # values of side a in ``a``, of side b in ``b``
        np.take(values, cells_a, out=a)
        np.take(values, cells_b, out=b)
        return a, b

    def distance(x, y, result):          # sqrt((x_a - x_b) ** 2 + (y_a - y_b) ** 2), as the peer computes it
        np.subtract(*gather(x), out=result)
        np.multiply(result, result, out=result)
        np.subtract(*gather(y), out=a)
        np.multiply(a, a, out=a)
        np.sqrt(np.add(result, a, out=result), out=result)

    distance(sac.dx, sac.dy, vector)
    np.abs(np.subtract(*gather(np.arctan2(sac.dy, sac.dx)), out=direction), out=direction)
    np.minimum(direction, np.subtract(2 * np.pi, direction, out=a), out=direction)   # wrapped to [0, pi]
    np.abs(np.subtract(*gather(sac.amplitude), out=length), out=length)
    distance(sac.start_x, sac.start_y, position)
    gather(sac.duration)
    longest = np.maximum(a, b, out=duration)
    np.abs(np.subtract(a, b, out=a), out=a)
    np.divide(a, longest, out=duration, where=longest > 0)  # where both last 0 ms, 0 / 0 stays 0: identical
    return out


def _path_medians(values: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Median along each path (mean of the two middle values for an even length).

    Parameters
    ----------
    values : float array of shape (n_values, n_cells_total)
        Paths one after the other, sorted by length (``length`` is non-decreasing),
        so the paths of one length form a (n_values, n_paths_of_that_length, length) block.
        Sorted in place.
    length : int array of shape (n_paths,)

    Returns
    -------
    medians : float array of shape (n_values, n_paths)
    """
    out = np.empty((len(values), len(length)))
    sizes, counts = np.unique(length, return_counts=True)
    path = cell = 0
    for size, count in zip(sizes.tolist(), counts.tolist()):
        block = values[:, cell:cell + size * count].reshape(len(values), count, size)
        block.sort(axis=-1)
        out[:, path:path + count] = (block[..., (size - 1) // 2] + block[..., size // 2]) / 2
        path, cell = path + count, cell + size * count
    return out
