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
   the cells it enters. A DP on the anti-diagonal wavefront does this, in
   :func:`cogmodels.kernels.alignment.min_cost_path`.
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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cogmodels.kernels.alignment import length_buckets, min_cost_path

DIMENSIONS = ("vector", "direction", "length", "position", "duration")
TIE_ORDER = ("left", "up", "diag")
SIMPLIFY_BUCKETS = (6, 10, 14, 20, 30, 50)  # saccade-count edges of the simplification buckets


CHANNELS = ("start_x", "start_y", "dx", "dy")


@dataclass
class SaccadeTable:
    """Saccades of many scanpaths, padded; one contiguous (n_paths, n_max) array per channel.

    Attributes
    ----------
    start_x, start_y : float arrays of shape (n_paths, n_max)
        Start point of each saccade, in pixels.
    dx, dy : float arrays of shape (n_paths, n_max)
        Saccade vector, in pixels.
    count : int array of shape (n_paths,)
        Number of saccades of each path.
    duration : float array of shape (n_paths, n_max + 1)
        The fixation-duration list, in ms; ``duration[p, k]`` goes with saccade k.
    duration_count : int array of shape (n_paths,)
        Length of each duration list (``count + 1`` unless quirk (a) of the module docstring applied).

    Entries past ``count`` (``duration_count``) are padding; nothing reads them.
    """

    start_x: np.ndarray
    start_y: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    count: np.ndarray
    duration: np.ndarray
    duration_count: np.ndarray

    @classmethod
    def from_fixations(cls, xy: np.ndarray, duration: np.ndarray, n_fixations: np.ndarray) -> "SaccadeTable":
        """Saccades between consecutive fixations of padded scanpaths.

        Parameters
        ----------
        xy : float array of shape (n_paths, n_max, 2)
        duration : float array of shape (n_paths, n_max), ms
        n_fixations : int array of shape (n_paths,)
        """
        if xy.shape[1] < 2:  # room for one saccade keeps the shapes uniform
            xy = np.concatenate([xy, np.zeros((len(xy), 2 - xy.shape[1], 2))], 1)
            duration = np.concatenate([duration, np.zeros((len(duration), 2 - duration.shape[1]))], 1)
        x, y = np.ascontiguousarray(xy[..., 0]), np.ascontiguousarray(xy[..., 1])
        padding = np.arange(x.shape[1] - 1)[None, :] >= (n_fixations - 1)[:, None]
        dx, dy = np.where(padding, 0.0, x[:, 1:] - x[:, :-1]), np.where(padding, 0.0, y[:, 1:] - y[:, :-1])
        return cls(x[:, :-1].copy(), y[:, :-1].copy(), dx, dy, n_fixations - 1, np.array(duration, dtype=float),
                   n_fixations.copy())

    def take(self, rows, width: int | None = None, duration_width: int | None = None) -> "SaccadeTable":
        """Rows ``rows``, cropped to ``width`` saccades and ``duration_width`` durations (contiguous copies)."""
        channels = [np.ascontiguousarray(getattr(self, c)[rows, :width]) for c in CHANNELS]
        return SaccadeTable(*channels, self.count[rows], np.ascontiguousarray(self.duration[rows, :duration_width]),
                            self.duration_count[rows])

    def put(self, rows, part: "SaccadeTable") -> None:
        """Write ``part`` (from :meth:`take`) back into rows ``rows``."""
        width, duration_width = part.dx.shape[1], part.duration.shape[1]
        for c in CHANNELS:
            getattr(self, c)[rows, :width] = getattr(part, c)
        self.duration[rows, :duration_width] = part.duration
        self.count[rows] = part.count
        self.duration_count[rows] = part.duration_count


# -- simplification ------------------------------------------------------------------------------------
def simplify(table: SaccadeTable, direction_deg: float, duration_ms: float, amplitude_px: float) -> SaccadeTable:
    """Repeat (direction pass, amplitude pass) until an iteration leaves the duration-list length unchanged.

    Paths run in buckets of similar length, so that short paths do not pay for the padding of long ones.
    """
    table = table.take(slice(None))
    bucket = np.searchsorted(SIMPLIFY_BUCKETS, table.count)
    for value in np.unique(bucket):
        rows = np.flatnonzero(bucket == value)
        while len(rows):  # iterate on the paths not yet converged
            # Only the columns still in use (duration_count >= count + 1 always).
            part = table.take(rows, int(table.count[rows].max()), int(table.duration_count[rows].max()))
            before = part.duration_count.copy()
            part = _amplitude_pass(_direction_pass(part, direction_deg, duration_ms), amplitude_px, duration_ms)
            table.put(rows, part)
            rows = rows[part.duration_count != before]
    return table


def stack(first: SaccadeTable, second: SaccadeTable) -> SaccadeTable:
    """Both tables in one, paths of ``first`` then ``second`` (to simplify both sides in one batch)."""
    width = max(first.dx.shape[1], second.dx.shape[1])

    def padded(array, size):
        return np.pad(array, [(0, 0), (0, size - array.shape[1])])

    channels = [np.concatenate([padded(getattr(first, c), width), padded(getattr(second, c), width)])
                for c in CHANNELS]
    return SaccadeTable(*channels, np.concatenate([first.count, second.count]),
                        np.concatenate([padded(first.duration, width + 1), padded(second.duration, width + 1)]),
                        np.concatenate([first.duration_count, second.duration_count]))


def split(table: SaccadeTable, n_first: int) -> tuple[SaccadeTable, SaccadeTable]:
    """Inverse of :func:`stack`."""
    return table.take(slice(0, n_first)), table.take(slice(n_first, None))


def _greedy_scan(pair_ok: np.ndarray, count: np.ndarray, last_ok: np.ndarray | None = None):
    """Left-to-right scan: a saccade that starts a merged pair consumes the next one.

    Returns ``starts`` (saccades that open an output step), ``merged`` (steps
    that swallow the next saccade) and ``folded`` (last saccades folded back),
    each a bool array of shape (n_paths, n_max).
    """
    n_paths, n_max = pair_ok.shape
    pair_ok = np.ascontiguousarray(pair_ok.T)          # one contiguous row per column k
    starts = np.empty((n_max, n_paths), dtype=bool)
    merged = np.empty_like(starts)
    free = np.ones(n_paths, dtype=bool)
    for k in range(n_max):
        np.logical_and(free, k < count, out=starts[k])
        np.logical_and(starts[k], pair_ok[k], out=merged[k])
        np.logical_not(merged[k], out=free)
    starts, merged = starts.T, merged.T
    folded = starts & last_ok if last_ok is not None else None
    return starts, merged, folded


def _next(array: np.ndarray) -> np.ndarray:
    """The next saccade's value at each position (zero after the last column)."""
    return np.concatenate([array[:, 1:], np.zeros_like(array[:, :1])], 1)


def _direction_pass(table: SaccadeTable, direction_deg: float, duration_ms: float) -> SaccadeTable:
    n_max = table.dx.shape[1]
    k = np.arange(n_max)[None, :]
    next_dx, next_dy = _next(table.dx), _next(table.dy)
    pair_ok = (k < (table.count - 1)[:, None]) & (_angle_deg(table.dx, table.dy, next_dx, next_dy) < direction_deg) \
        & (table.duration[:, 1:n_max + 1] < duration_ms)
    starts, merged, _ = _greedy_scan(pair_ok, table.count)
    dx, dy = np.where(merged, table.dx + next_dx, table.dx), np.where(merged, table.dy + next_dy, table.dy)
    return _assemble(table, starts, (table.start_x, table.start_y, dx, dy), table.duration[:, :n_max], folded=None)


def _amplitude_pass(table: SaccadeTable, amplitude_px: float, duration_ms: float) -> SaccadeTable:
    n_max = table.dx.shape[1]
    k = np.arange(n_max)[None, :]
    count = table.count[:, None]
    amplitude = np.sqrt(table.dx ** 2 + table.dy ** 2)
    short_fixation = (table.duration[:, :n_max] < duration_ms) | (table.duration[:, 1:n_max + 1] < duration_ms)
    ok = (amplitude < amplitude_px) & short_fixation & (k < count)
    # The last saccade folds back into the previous output; with no previous one it is kept (the peer crashes).
    starts, merged, folded = _greedy_scan(ok & (k < count - 1), table.count, ok & (k == count - 1) & (count >= 2))
    next_dx, next_dy = _next(table.dx), _next(table.dy)
    dx, dy = np.where(merged, table.dx + next_dx, table.dx), np.where(merged, table.dy + next_dy, table.dy)
    # A folded step adds the duration of fixation n-2 to the list (quirk (a)).
    previous = np.concatenate([table.duration[:, :1], table.duration[:, :n_max - 1]], 1)
    entries = np.where(folded, previous, table.duration[:, :n_max])
    return _assemble(table, starts, (table.start_x, table.start_y, dx, dy), entries, folded=folded)


def _compact(mask: np.ndarray, arrays, width: int) -> list[np.ndarray]:
    """Move the entries of each (n_paths, n_max) array where ``mask`` is True to the front of its row.

    Returns new zero-padded arrays of shape (n_paths, width).
    """
    n_paths = len(mask)
    source = np.flatnonzero(mask)
    destination = (np.cumsum(mask, axis=1) - 1 + (np.arange(n_paths) * width)[:, None]).reshape(-1).take(source)
    out = []
    for array in arrays:
        compacted = np.zeros(n_paths * width)
        compacted[destination] = np.ascontiguousarray(array).reshape(-1).take(source)
        out.append(compacted.reshape(n_paths, width))
    return out


def _assemble(table, starts, channels, entries, folded):
    """Compact the output steps to the left and append the last duration entry."""
    n_paths, n_max = starts.shape
    keeps = starts if folded is None else starts & ~folded
    start_x, start_y, dx, dy = _compact(keeps, channels, n_max)
    count = keeps.sum(1)
    if folded is not None and folded.any():
        # Quirk (a): the previous output saccade becomes input saccade n-2 + input saccade n-1.
        rows = np.flatnonzero(folded.any(1))
        last = table.count[rows] - 1
        dx[rows, count[rows] - 1] = table.dx[rows, last - 1] + table.dx[rows, last]
        dy[rows, count[rows] - 1] = table.dy[rows, last - 1] + table.dy[rows, last]
    (duration,) = _compact(starts, (entries,), table.duration.shape[1])
    n_steps = starts.sum(1)
    every = np.arange(n_paths)
    duration[every, n_steps] = table.duration[every, table.duration_count - 1]  # quirk (b)
    return SaccadeTable(start_x, start_y, dx, dy, count, duration, n_steps + 1)


def _angle_deg(dx: np.ndarray, dy: np.ndarray, next_dx: np.ndarray, next_dy: np.ndarray) -> np.ndarray:
    """Angle between consecutive saccade vectors in degrees; NaN where one has zero length (never merges)."""
    dot = dx * next_dx + dy * next_dy
    norms = np.sqrt(dx ** 2 + dy ** 2) * np.sqrt(next_dx ** 2 + next_dy ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = dot / norms
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


# -- comparison ----------------------------------------------------------------------------------------
def compare(a: SaccadeTable, b: SaccadeTable, screen_size: tuple[float, float]) -> np.ndarray:
    """The five MultiMatch similarities of the pairs (a[p], b[p]), shape (n_pairs, 5); every count must be >= 1."""
    out = np.empty((len(a.count), 5))
    diagonal = float(np.hypot(*screen_size))
    normaliser = np.array([2 * diagonal, np.pi, diagonal, diagonal, 1.0])
    for rows, na, nb in length_buckets(torch.from_numpy(a.count), torch.from_numpy(b.count)):
        rows = rows.numpy()
        out[rows] = 1.0 - _path_medians(a.take(rows, na, na), b.take(rows, nb, nb)) / normaliser
    return out


def _path_medians(a: SaccadeTable, b: SaccadeTable) -> np.ndarray:
    """Align each pair and take the median of the five raw differences along the path, shape (n_pairs, 5)."""
    dx = a.dx.T[:, None, :] - b.dx.T[None, :, :]           # (n, m, B): batch-last, as the kernel stores it
    dy = a.dy.T[:, None, :] - b.dy.T[None, :, :]
    cost = np.sqrt(dx ** 2 + dy ** 2)
    _, path_i, path_j = min_cost_path(torch.from_numpy(cost).permute(2, 0, 1), torch.from_numpy(a.count),
                                      torch.from_numpy(b.count), tie_order=TIE_ORDER)
    path_i, path_j = path_i.numpy(), path_j.numpy()
    on_path = path_i >= 0
    rows = np.arange(len(a.count))[:, None]
    i, j = np.where(on_path, path_i, 0), np.where(on_path, path_j, 0)

    vector = cost[i, j, rows]
    direction = np.abs(np.arctan2(a.dy, a.dx)[rows, i] - np.arctan2(b.dy, b.dx)[rows, j])
    direction = np.where(direction > np.pi, 2 * np.pi - direction, direction)
    length = np.abs(np.sqrt(a.dx ** 2 + a.dy ** 2)[rows, i] - np.sqrt(b.dx ** 2 + b.dy ** 2)[rows, j])
    position = np.sqrt((a.start_x[rows, i] - b.start_x[rows, j]) ** 2 + (a.start_y[rows, i] - b.start_y[rows, j]) ** 2)
    dur_a, dur_b = a.duration[rows, i], b.duration[rows, j]
    longest = np.maximum(dur_a, dur_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        duration = np.where(longest > 0, np.abs(dur_a - dur_b) / longest, 0.0)  # 0 ms vs 0 ms: identical
    return _masked_median(np.stack([vector, direction, length, position, duration], 1), on_path[:, None, :])


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median over the last axis of the True entries (mean of the two middle values for even counts).

    values : array of shape (n_pairs, ..., n_max); mask : bool array broadcastable to it.
    """
    mask = np.broadcast_to(mask, values.shape)
    ordered = np.sort(np.where(mask, values, np.inf), axis=-1)
    count = mask.sum(-1, keepdims=True)
    lower = np.take_along_axis(ordered, (count - 1) // 2, -1)
    upper = np.take_along_axis(ordered, count // 2, -1)
    return ((lower + upper) / 2)[..., 0]
