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
   the cells it enters. A DP on the anti-diagonal wavefront does this
   (:func:`align`; the same recurrence as
   :func:`cogmodels.kernels.alignment.min_cost_path`, in numpy, which costs less
   than torch per operation on these small arrays).
4. **Similarities.** Along the path, for each aligned pair:
   - vector: ``|v - w|``;
   - direction: the absolute angle difference, wrapped to [0, pi];
   - length: ``|len(v) - len(w)|``;
   - position: the distance between the start points;
   - duration: ``|d_v - d_w| / max(d_v, d_w)``.
   Each dimension takes the **median** over the path. The similarity is
   ``1 - median / normaliser``, with normalisers: 2 x screen diagonal, pi,
   diagonal, diagonal and 1.

Where we differ from the peer (the first four are covered by tests):

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
* Exact ties between alignment paths: the peer breaks them in the pop order of
  scipy's Fibonacci-heap Dijkstra, which a DP cannot reproduce. Here the
  predecessor order is left, then up, then diagonal. Among the six static
  orders, this one agreed most often with the peer on 150 pairs of lattice
  scanpaths (on a 100 px grid, so many ties): 3 disagreements, against 4 to
  17 for the other orders. Ties need exactly equal path costs; they did not
  occur in the real-data benchmark (0 differences above 1e-15).
* The peer's duration threshold is in seconds (``TDur``); ours is
  ``duration_ms``. Durations are compared in ms, so 300 ms against 0.3 s
  gives the same strict comparisons for whole-millisecond durations.

**Speed.** Everything runs on flat (ragged) arrays, all pairs at once: the
saccades of all paths are concatenated (:class:`Saccades`), a simplification
pass is a few whole-array operations (:func:`merge_starts` finds the greedy
merges without a loop), the alignment runs one wavefront per bucket of
similar lengths, the backtrack walks all pairs together, and the medians sort
the paths grouped by length.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

DIMENSIONS = ("vector", "direction", "length", "position", "duration")
TIE_ORDER = ("left", "up", "diag")
# Pairs are aligned in buckets of max(n_saccades_a, n_saccades_b): each bucket pays for its own padding and
# for one pass over its diagonals, so the edges trade padding against per-diagonal overhead.
ALIGN_BUCKETS = (3, 5, 7, 9, 11, 13, 16, 20, 26, 34, 48, 64, 96, 128, 192, 256, 384, 512)


@dataclass
class Saccades:
    """The saccades of many scanpaths, concatenated: path p owns entries ``offset[p] : offset[p] + count[p]``.

    Attributes
    ----------
    start_x, start_y : float arrays of shape (n_saccades_total,)
        Start point of each saccade, in pixels.
    dx, dy : float arrays of shape (n_saccades_total,)
        Saccade vector, in pixels.
    duration : float array of shape (n_saccades_total,)
        Duration (ms) of the fixation each saccade leaves: entry k of the peer's duration list.
    count : int array of shape (n_paths,)
        Number of saccades of each path (>= 1).
    last_duration : float array of shape (n_paths,)
        The last entry of the peer's duration list (at first, the duration of the last fixation).
    duration_count : int array of shape (n_paths,)
        Length of the peer's duration list: ``count + 1``, or ``count + 2`` right after the last saccade
        was folded (quirk (a) of the module docstring). Simplification stops when it no longer changes.
    """

    start_x: np.ndarray
    start_y: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    duration: np.ndarray
    count: np.ndarray
    last_duration: np.ndarray
    duration_count: np.ndarray

    PER_SACCADE = ("start_x", "start_y", "dx", "dy", "duration")
    PER_PATH = ("count", "last_duration", "duration_count")

    @classmethod
    def from_fixations(cls, x: np.ndarray, y: np.ndarray, duration: np.ndarray, length: np.ndarray) -> "Saccades":
        """Saccades between consecutive fixations.

        Parameters
        ----------
        x, y, duration : float arrays of shape (n_fixations_total,)
            The fixations of all paths, path after path (durations in ms).
        length : int array of shape (n_paths,)
            Fixations per path, each >= 2.
        """
        last = np.cumsum(length) - 1
        leaves = np.ones(len(x), dtype=bool)        # fixations that a saccade leaves: all but the last of a path
        leaves[last] = False
        moves = leaves[:-1]
        return cls(x[leaves], y[leaves], (x[1:] - x[:-1])[moves], (y[1:] - y[:-1])[moves], duration[leaves],
                   length - 1, duration[last], length.copy())

    @property
    def offset(self) -> np.ndarray:
        """Index of the first saccade of each path, shape (n_paths,)."""
        return np.cumsum(self.count) - self.count

    def __len__(self) -> int:
        return len(self.count)

    def select(self, paths: np.ndarray) -> "Saccades":
        """The paths where the bool array ``paths`` (n_paths,) is True."""
        if paths.all():
            return self
        entries = np.repeat(paths, self.count)
        return Saccades(*(getattr(self, name)[entries] for name in self.PER_SACCADE),
                        *(getattr(self, name)[paths] for name in self.PER_PATH))

    @classmethod
    def concatenate(cls, parts: list["Saccades"]) -> "Saccades":
        """The paths of ``parts``, one after the other."""
        return cls(*(np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(cls)))

    def paths(self, start: int, stop: int) -> "Saccades":
        """Paths ``start`` to ``stop - 1``."""
        first, end = self.count[:start].sum(), self.count[:stop].sum()
        return Saccades(*(getattr(self, name)[first:end] for name in self.PER_SACCADE),
                        *(getattr(self, name)[start:stop] for name in self.PER_PATH))


# -- simplification ------------------------------------------------------------------------------------
def simplify(saccades: Saccades, direction_deg: float, duration_ms: float, amplitude_px: float) -> Saccades:
    """Repeat (direction pass, amplitude pass) until an iteration leaves the duration-list length unchanged.

    Every path runs its own number of iterations: a converged path leaves the batch.
    """
    active, converged_parts, converged_ids = saccades, [], []
    ids = np.arange(len(saccades))
    while len(ids):
        before = active.duration_count
        active = _amplitude_pass(_direction_pass(active, direction_deg, duration_ms), amplitude_px, duration_ms)
        done = active.duration_count == before
        converged_parts.append(active.select(done))
        converged_ids.append(ids[done])
        active, ids = active.select(~done), ids[~done]
    return _in_order(converged_parts, np.concatenate(converged_ids))


def _in_order(parts: list[Saccades], ids: np.ndarray) -> Saccades:
    """Concatenated ``parts`` with their paths put back in the order of the path indices ``ids``."""
    merged = Saccades.concatenate(parts)
    if (ids[1:] > ids[:-1]).all():
        return merged
    order = np.argsort(ids)
    # Each path's saccades keep their order; the paths move to where ``order`` puts them.
    entries = np.repeat(merged.offset[order] - np.cumsum(merged.count[order]) + merged.count[order],
                        merged.count[order]) + np.arange(len(merged.dx))
    return Saccades(*(getattr(merged, name)[entries] for name in Saccades.PER_SACCADE),
                    *(getattr(merged, name)[order] for name in Saccades.PER_PATH))


def merge_starts(mergeable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The peer's left-to-right greedy merging, without a loop.

    The scan merges saccade k with k + 1 when ``mergeable[k]`` and then jumps
    past both. Within a run of consecutive mergeable saccades, the 1st, 3rd,
    5th, ... therefore merge, and the saccade after a merging one is consumed.

    Parameters
    ----------
    mergeable : bool array of shape (n_saccades_total,)
        False at the last saccade of every path, so runs never cross paths.

    Returns
    -------
    merges : bool array of shape (n_saccades_total,)
        Saccades that absorb the next one.
    starts : bool array of shape (n_saccades_total,)
        Saccades that open an output saccade (those not absorbed).
    """
    index = np.arange(len(mergeable))
    run_start = np.maximum.accumulate(np.where(mergeable & ~_previous(mergeable), index, 0))
    merges = mergeable & ((index - run_start) % 2 == 0)
    return merges, ~_previous(merges)


def _previous(array: np.ndarray) -> np.ndarray:
    """The previous entry's value (False before the first)."""
    out = np.zeros_like(array)
    out[1:] = array[:-1]
    return out


def _next(array: np.ndarray) -> np.ndarray:
    """The next entry's value (0 after the last); entries of the next path are masked by the callers."""
    out = np.zeros_like(array)
    out[:-1] = array[1:]
    return out


def _direction_pass(sac: Saccades, direction_deg: float, duration_ms: float) -> Saccades:
    last = np.cumsum(sac.count) - 1
    next_dx, next_dy = _next(sac.dx), _next(sac.dy)
    mergeable = (_angle_deg(sac.dx, sac.dy, next_dx, next_dy) < direction_deg) & (_next(sac.duration) < duration_ms)
    mergeable[last] = False
    merges, starts = merge_starts(mergeable)
    return _output(sac, starts, merges, next_dx, next_dy, folded=None)


def _amplitude_pass(sac: Saccades, amplitude_px: float, duration_ms: float) -> Saccades:
    # At this pass the duration list has count + 1 entries: the direction pass always leaves it so.
    last = np.cumsum(sac.count) - 1
    next_duration = _next(sac.duration)
    next_duration[last] = sac.last_duration
    short = (np.sqrt(sac.dx ** 2 + sac.dy ** 2) < amplitude_px) \
        & ((sac.duration < duration_ms) | (next_duration < duration_ms))
    mergeable = short.copy()
    mergeable[last] = False
    merges, starts = merge_starts(mergeable)
    # The last saccade, if not absorbed and short, folds back into the previous output saccade;
    # with no previous one (a one-saccade path) it is kept, where the peer crashes.
    folded = starts[last] & short[last] & (sac.count >= 2)
    return _output(sac, starts, merges, _next(sac.dx), _next(sac.dy), folded=folded)


def _output(sac: Saccades, starts, merges, next_dx, next_dy, folded) -> Saccades:
    """The output saccades of a pass: one per start, merged ones summed; quirks (a) and (b) applied."""
    keeps = starts
    if folded is not None and folded.any():
        keeps = starts.copy()
        keeps[(np.cumsum(sac.count) - 1)[folded]] = False
    dx = np.where(merges, sac.dx + next_dx, sac.dx)[keeps]
    dy = np.where(merges, sac.dy + next_dy, sac.dy)[keeps]
    last = np.cumsum(sac.count) - 1
    count = np.diff(np.cumsum(keeps)[last], prepend=0)
    duration_count = count + 1
    if folded is not None and folded.any():
        # Quirk (a): the previous output saccade becomes input saccade n-2 + input saccade n-1,
        # and the duration list gains an entry (a step that adds no saccade).
        out_last = (np.cumsum(count) - 1)[folded]
        dx[out_last] = sac.dx[last[folded] - 1] + sac.dx[last[folded]]
        dy[out_last] = sac.dy[last[folded] - 1] + sac.dy[last[folded]]
        duration_count = duration_count + folded
    # Quirk (b): the last entry of the duration list carries over unchanged.
    return Saccades(sac.start_x[keeps], sac.start_y[keeps], dx, dy, sac.duration[keeps], count,
                    sac.last_duration, duration_count)


def _angle_deg(dx: np.ndarray, dy: np.ndarray, next_dx: np.ndarray, next_dy: np.ndarray) -> np.ndarray:
    """Angle between consecutive saccade vectors in degrees; NaN where one has zero length (never merges)."""
    dot = dx * next_dx + dy * next_dy
    norms = np.sqrt(dx ** 2 + dy ** 2) * np.sqrt(next_dx ** 2 + next_dy ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = dot / norms
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


# -- alignment -----------------------------------------------------------------------------------------
# Backtrack moves, indexed by the code stored per cell: 0 left, 1 up, 2 and 3 diagonal, 4 stay (the start).
MOVE_DI = np.array([0, 1, 1, 1, 0])      # rows (saccades of a) a move steps back
MOVE_DJ = np.array([1, 0, 1, 1, 0])      # columns (saccades of b) a move steps back


def align(a: Saccades, b: Saccades) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shortest alignment path of every pair (a[p], b[p]) through ``M[i, j] = |v_i - w_j|``.

    Returns
    -------
    cells_a, cells_b : int arrays of shape (n_cells_total,)
        Aligned saccades, as indices into the arrays of ``a`` and ``b``; each
        pair's path runs from its last cell back to (0, 0).
    length : int array of shape (n_pairs,)
        Cells on each pair's path.
    """
    offset_a, offset_b = a.offset, b.offset
    bucket = np.searchsorted(ALIGN_BUCKETS, np.maximum(a.count, b.count))
    tables, base, step_d, step_i, rank = [], np.empty(len(a), np.int64), np.empty(len(a), np.int64), \
        np.empty(len(a), np.int64), np.empty(len(a), np.int64)
    size = 0
    for value in np.unique(bucket):
        rows = np.flatnonzero(bucket == value)
        n, m = int(a.count[rows].max()), int(b.count[rows].max())
        codes = _wavefront(_columns(a, offset_a[rows], n), _columns(b, offset_b[rows], m))
        # Flat position of cell (i, j) of pair rows[t]: base + ((i + j) * n + i) * B + t.
        base[rows], step_d[rows], step_i[rows], rank[rows] = size, n * len(rows), len(rows), np.arange(len(rows))
        tables.append(codes.reshape(-1))
        size += codes.size
    return _backtrack(np.concatenate(tables), base, step_d, step_i, rank, a.count, b.count, offset_a, offset_b)


def _columns(sac: Saccades, offset: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """dx, dy of the first n saccades of the paths starting at ``offset``, shape (n, B) (batch last).

    Entries past a path's end hold other saccades' values; no valid cell reads them.
    """
    index = offset[None, :] + np.arange(n)[:, None]
    return sac.dx.take(index, mode="clip"), sac.dy.take(index, mode="clip")


def _wavefront(a_vectors, b_vectors) -> np.ndarray:
    """Fill the node-weighted shortest-path table of a bucket, one anti-diagonal at a time.

    ``T[i, j] = M[i, j] + min(T[i, j-1], T[i-1, j], T[i-1, j-1])`` with
    ``T[0, 0] = 0`` (the start cell is free). Candidates are compared as full
    sums with strict ``<`` in the order left, up, diagonal, as sequential
    relaxations would (a later one must be strictly smaller to win a tie).

    Parameters
    ----------
    a_vectors, b_vectors : pairs (dx, dy) of float arrays of shape (n, B) and (m, B)

    Returns
    -------
    codes : uint8 array of shape (n + m - 1, n, B)
        ``codes[i + j, i, t]``: the move into cell (i, j) of pair t (see MOVE_DI).
    """
    (ax, ay), (bx, by) = a_vectors, b_vectors
    n, batch = ax.shape
    m = bx.shape[0]
    # M[i, j] for all pairs, flattened to rows i * m + j: the cells of diagonal d are rows d + i * (m - 1).
    cost = np.sqrt((ax[:, None] - bx[None]) ** 2 + (ay[:, None] - by[None]) ** 2).reshape(n * m, batch)
    # table[d + 1, i + 1] = T[i, d - i]; the extra first diagonal and first row stay inf (no predecessor).
    table = np.full((n + m, n + 1, batch), np.inf)
    table[1, 1] = 0.0
    up_wins = np.zeros((n + m - 1, n, batch), dtype=bool)
    diag_wins = np.zeros_like(up_wins)
    left, up, diag = (np.empty((n, batch)) for _ in range(3))
    for d in range(1, n + m - 1):
        lo, hi = max(0, d - m + 1), min(n - 1, d)
        k = hi - lo + 1
        weight = cost[d + lo * (m - 1):d + hi * (m - 1) + 1:max(m - 1, 1)]
        np.add(table[d, lo + 1:hi + 2], weight, out=left[:k])
        np.add(table[d, lo:hi + 1], weight, out=up[:k])
        np.add(table[d - 1, lo:hi + 1], weight, out=diag[:k])
        np.less(up[:k], left[:k], out=up_wins[d, lo:hi + 1])
        np.minimum(left[:k], up[:k], out=left[:k])
        np.less(diag[:k], left[:k], out=diag_wins[d, lo:hi + 1])
        np.minimum(left[:k], diag[:k], out=table[d + 1, lo + 1:hi + 2])
    codes = up_wins.view(np.uint8) | (diag_wins.view(np.uint8) << 1)
    codes[0, 0] = 4
    return codes


def _backtrack(codes, base, step_d, step_i, rank, count_a, count_b, offset_a, offset_b):
    """Walk every pair's path back from its last cell, all pairs at once (see :func:`align`)."""
    n_pairs = len(count_a)
    # How far back in the flat table each move code goes, per pair: (d, i) -> (d-1, i), (d-1, i-1), (d-2, i-1).
    move = np.stack([step_d, step_d + step_i, 2 * step_d + step_i, 2 * step_d + step_i,
                     np.zeros_like(step_d)], 1).reshape(-1)
    pair_moves = np.arange(n_pairs) * 5
    i, j = count_a - 1, count_b - 1
    position = base + (i + j) * step_d + i * step_i + rank
    cell_a, cell_b = offset_a + i, offset_b + j
    n_steps = int((count_a + count_b).max()) - 1            # the longest possible path
    path_a = np.empty((n_pairs, n_steps), dtype=np.int64)
    path_b = np.empty_like(path_a)
    for s in range(n_steps):
        path_a[:, s], path_b[:, s] = cell_a, cell_b
        code = codes.take(position)
        position -= move.take(pair_moves + code)
        cell_a -= MOVE_DI.take(code)
        cell_b -= MOVE_DJ.take(code)
    # After reaching (0, 0) a path stays there: keep its first visit only.
    at_start = (path_a == offset_a[:, None]) & (path_b == offset_b[:, None])
    on_path = np.ones_like(at_start)
    on_path[:, 1:] = ~at_start[:, :-1]
    return path_a[on_path], path_b[on_path], on_path.sum(1)


# -- comparison ----------------------------------------------------------------------------------------
def compare(a: Saccades, b: Saccades, screen_size: tuple[float, float]) -> np.ndarray:
    """The five MultiMatch similarities of the pairs (a[p], b[p]), shape (n_pairs, 5)."""
    cells_a, cells_b, length = align(a, b)
    diagonal = float(np.hypot(*screen_size))
    normaliser = np.array([2 * diagonal, np.pi, diagonal, diagonal, 1.0])
    return 1.0 - _segment_medians(_differences(a, b, cells_a, cells_b), length).T / normaliser


def _differences(a: Saccades, b: Saccades, cells_a: np.ndarray, cells_b: np.ndarray) -> np.ndarray:
    """The five raw differences of each aligned pair of saccades, shape (5, n_cells)."""
    dx_a, dy_a, dx_b, dy_b = a.dx[cells_a], a.dy[cells_a], b.dx[cells_b], b.dy[cells_b]
    vector = np.sqrt((dx_a - dx_b) ** 2 + (dy_a - dy_b) ** 2)
    direction = np.abs(np.arctan2(dy_a, dx_a) - np.arctan2(dy_b, dx_b))
    direction = np.where(direction > np.pi, 2 * np.pi - direction, direction)
    length = np.abs(np.sqrt(dx_a ** 2 + dy_a ** 2) - np.sqrt(dx_b ** 2 + dy_b ** 2))
    position = np.sqrt((a.start_x[cells_a] - b.start_x[cells_b]) ** 2
                       + (a.start_y[cells_a] - b.start_y[cells_b]) ** 2)
    dur_a, dur_b = a.duration[cells_a], b.duration[cells_b]
    longest = np.maximum(dur_a, dur_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        duration = np.where(longest > 0, np.abs(dur_a - dur_b) / longest, 0.0)  # 0 ms vs 0 ms: identical
    return np.stack([vector, direction, length, position, duration])


def _segment_medians(values: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Median of each segment of ``length`` consecutive columns (mean of the two middle values if even).

    values : array of shape (n_values, sum(length)); returns shape (n_values, n_segments).
    Segments of equal length are sorted together, without padding.
    """
    start = np.cumsum(length) - length
    out = np.empty((len(values), len(length)))
    for size in np.unique(length):
        rows = np.flatnonzero(length == size)
        block = np.sort(values[:, start[rows, None] + np.arange(size)], axis=-1)   # (n_values, rows, size)
        out[:, rows] = (block[..., (size - 1) // 2] + block[..., size // 2]) / 2
    return out
