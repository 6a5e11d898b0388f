"""Batched MultiMatch alignment: the peer's shortest path for many scanpath pairs at once (numpy).

MultiMatch aligns the saccades of two scanpaths (vectors ``v_i``, ``w_j``)
along the cheapest right/down/diagonal path from cell (0, 0) to
(n - 1, m - 1) of ``M[i, j] = |v_i - w_j|``, where a path costs the sum of the
cells it enters.  The peer, ``multimatch-gaze``, finds it with scipy's
Dijkstra on a graph with one node per cell; this module finds the same path
with a dynamic programme on the anti-diagonal wavefront, for all pairs
together.  Its readable per-pair reference is
:mod:`cogmodels.kernels.multimatch_reference`, and the tests check that the
two return the same path for every pair, ties included.

**The recurrence.**  ``T[0, 0] = 0`` and
``T[i, j] = M[i, j] + min(T[i, j-1], T[i-1, j], T[i-1, j-1])``.  The cells of
one anti-diagonal ``i + j = d`` depend only on the two diagonals before it,
so one diagonal of a whole bucket of pairs is a handful of array operations.
In floating point this gives exactly the peer's distances: its Dijkstra sets
``dist[x] = dist[u] + M[x]`` over the same predecessors, and a rounded sum
never decreases when a term grows, so the two minima are the same numbers.

**Which path, when several are optimal.**  The peer's path is its predecessor
chain, and Dijkstra keeps as predecessor of a cell the first scanned node that
reached the cell's final distance.  It scans nodes in order of distance, so:

1. Among predecessors that reach a cell's distance, the one with the
   *smallest own distance* wins, even where the two sums are equal after
   rounding (two paths whose costs differ by about 1e-13 of their size).
   The wavefront therefore compares the predecessors' totals ``T[u]``, not
   the rounded sums ``T[u] + M[x]``: the smaller total always wins, as in the
   peer.  (Comparing the rounded sums, as a textbook DP does, takes a fixed
   direction where the sums round to the same number; the earlier kernel
   did so, and the tests' scanpaths moved by a few ulps show it differing
   from the peer there.  Issue 7's one real pair in 3,080, two paths with
   costs equal within 1e-9, is a tie of this kind or of the next.)
2. Predecessors with *exactly equal* totals are scanned in the pop order of
   scipy's Fibonacci heap, which depends on the heap's history and cannot be
   read off the table.  The wavefront marks these cells (:data:`TIE`); a pair
   whose path passes through a marked cell is a *tied pair*, and its path is
   found again by the peer's own search: scipy's Dijkstra on a graph built
   exactly as the peer builds it (:func:`peer_path`).  Elsewhere the path is
   unique in this sense, so the peer's chain is the wavefront's.

Tied pairs are rare on real data (exact equality needs repeated saccades or
mirror-symmetric configurations: none among the 5,000 OSIE pairs of
``benchmarks/multimatch_vs_peer.py``) and common on grid-quantised
scanpaths; the tests build both.

**Speed.**  Pairs run in buckets of similar length (:data:`ALIGN_BUCKETS`),
batch last, so each diagonal is a few contiguous slices; numpy costs less
than torch per operation on these small arrays.  A few scratch rows are reused
for every diagonal, because fresh temporaries cost page faults.  The
backtrack walks all pairs at once.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

# Pairs are aligned in buckets of max(n_saccades_a, n_saccades_b): each bucket pays for its own padding and
# for one pass over its diagonals, so the edges trade padding against per-diagonal overhead.
ALIGN_BUCKETS = (3, 5, 7, 9, 11, 13, 16, 20, 26, 34, 48, 64, 96, 128, 192, 256, 384, 512)
# Backtrack moves, indexed by the low bits of the code stored per cell: 0 left, 1 up, 2 and 3 diagonal,
# 4 stay (the start).
MOVE_DI = np.array([0, 1, 1, 1, 0])      # rows (saccades of a) a move steps back
MOVE_DJ = np.array([1, 0, 1, 1, 0])      # columns (saccades of b) a move steps back
MOVE_BITS = 7
# Bit of a cell's code: two of its best predecessors have exactly equal totals (the peer's heap decides).
TIE = 8


def align(dx: np.ndarray, dy: np.ndarray, offset: np.ndarray, count: np.ndarray, first: np.ndarray,
          second: np.ndarray, *, resolve_ties: bool = True, tie_rtol: float = 0.0):
    """The peer's alignment path of every pair of paths (first[p], second[p]).

    Parameters
    ----------
    dx, dy : float arrays of shape (n_saccades_total,)
        Saccade vectors of all paths, path after path.
    offset, count : int arrays of shape (n_paths,)
        Path k owns saccades ``offset[k] : offset[k] + count[k]`` (count >= 1).
    first, second : int arrays of shape (n_pairs,)
        Path indices of the two sides of each pair.
    resolve_ties : bool
        Re-run the tied pairs through :func:`peer_path` (default).  False
        returns the wavefront's own choice everywhere (for tests).
    tie_rtol : float
        Also mark as tied the cells whose two best predecessor totals differ by
        at most ``tie_rtol`` times a bound on the bucket's totals.  Default 0:
        only exact equality, which is all that the peer's choice depends on
        (module docstring); a positive value sends more pairs through the
        peer's search and, as the tests check, changes no path.

    Returns
    -------
    cells_a, cells_b : int arrays of shape (n_cells_total,)
        Aligned saccades (indices into ``dx``), pair after pair in the order
        ``order``; each pair's path runs from its last cell back to (0, 0).
    length : int array of shape (n_pairs,)
        Cells on each path, in the order ``order`` (non-decreasing).
    order : int array of shape (n_pairs,)
        The pairs sorted by path length, so that equally long paths are adjacent.
    tied : bool array of shape (n_pairs,)
        Pairs (in input order) whose path met a tie that the peer's heap order decides.
    """
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    count_a, count_b = count[first], count[second]
    offset_a, offset_b = offset[first], offset[second]
    bucket = np.searchsorted(ALIGN_BUCKETS, np.maximum(count_a, count_b))
    buckets = []
    for value in np.unique(bucket):
        rows = np.flatnonzero(bucket == value)
        buckets.append((rows, int(count_a[rows].max()), int(count_b[rows].max())))
    # One flat table of cell codes for all buckets; cell (i, j) of pair rows[t] of a bucket sits at
    # base + ((i + j) * n + i) * B + t.
    sizes = [(n + m - 1) * n * len(rows) for rows, n, m in buckets]
    codes = np.empty(sum(sizes), dtype=np.uint8)
    base, step_d, step_i, rank = (np.empty(len(first), dtype=np.int64) for _ in range(4))
    start = 0
    for (rows, n, m), size in zip(buckets, sizes):
        a_vectors = _columns(dx, dy, offset_a[rows], n, reverse=False)
        b_vectors = _columns(dx, dy, offset_b[rows], m, reverse=True)
        # Every total is at most (n + m) times the largest cost, and a cost at most |v| + |w|.
        scale = (n + m) * (np.hypot(*a_vectors).max() + np.hypot(*b_vectors).max()) if tie_rtol else 0.0
        _wavefront(a_vectors, b_vectors, codes[start:start + size].reshape(n + m - 1, n, len(rows)),
                   tie_rtol * scale)
        base[rows], step_d[rows], step_i[rows], rank[rows] = start, n * len(rows), len(rows), np.arange(len(rows))
        start += size
    width = len(dx) + 1
    path, tied = _backtrack(codes, base, step_d, step_i, rank, count_a, count_b, offset_a, offset_b, width)
    if resolve_ties:
        for p in np.flatnonzero(tied).tolist():
            a, b = slice(offset_a[p], offset_a[p] + count_a[p]), slice(offset_b[p], offset_b[p] + count_b[p])
            cells = peer_path(cost_matrix(dx[a], dy[a], dx[b], dy[b]))[::-1]
            path[p, :len(cells)] = (offset_a[p] + cells[:, 0]) * width + offset_b[p] + cells[:, 1]
            path[p, len(cells):] = offset_a[p] * width + offset_b[p]
    return (*_flatten_paths(path, offset_a * width + offset_b, width), tied)


def _columns(dx, dy, offset: np.ndarray, n: int, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    """dx, dy of the first n saccades of the paths starting at ``offset``, shape (n, B) (batch last).

    With ``reverse``, row r holds saccade n - 1 - r. Entries past a path's end
    hold other saccades' values; no valid cell reads them.
    """
    steps = np.arange(n)[::-1] if reverse else np.arange(n)
    index = offset[None, :] + steps[:, None]
    return dx.take(index, mode="clip"), dy.take(index, mode="clip")


def _wavefront(a_vectors, b_vectors, codes: np.ndarray, tolerance: float) -> None:
    """Fill the cell codes of a bucket, one anti-diagonal at a time.

    ``T[i, j] = M[i, j] + min(T[i, j-1], T[i-1, j], T[i-1, j-1])`` with
    ``T[0, 0] = 0`` (the start cell is free).  The predecessors' totals are
    compared (see the module docstring): up beats left, and diagonal beats
    the better of the two, only when strictly smaller; exactly equal best
    totals set the :data:`TIE` bit.

    Parameters
    ----------
    a_vectors : pair (dx, dy) of float arrays of shape (n, B)
    b_vectors : pair (dx, dy) of float arrays of shape (m, B), in reverse order (row r is saccade m - 1 - r)
        Reversed, the saccades j = d - i of diagonal d are a contiguous block of rows.
    codes : uint8 array of shape (n + m - 1, n, B), filled here
        ``codes[i + j, i, t]``: the move into cell (i, j) of pair t (see MOVE_DI), plus TIE.
    tolerance : float
        Totals within this (absolute) distance count as tied; 0: exactly equal only.
    """
    (ax, ay), (bx, by) = a_vectors, b_vectors
    n, batch = ax.shape
    m = bx.shape[0]
    # table[d % 3, i + 1] = T[i, d - i]: three diagonals are all the recurrence reads. Row 0 (i = -1), the
    # slot of diagonal -1, and every cell before its diagonal reaches it stay inf (no predecessor).
    table = np.full((3, n + 1, batch), np.inf)
    table[0, 1] = 0.0
    diag_wins, up_ties, diag_ties = (np.empty_like(codes) for _ in range(3))
    # Three scratch rows, reused for every diagonal (a small working set stays in cache).
    weights, bests, others = (np.empty((n, batch)) for _ in range(3))
    for d in range(1, n + m - 1):
        lo, hi = max(0, d - m + 1), min(n - 1, d)
        k = hi - lo + 1
        rows_a, rows_b, cells = slice(lo, hi + 1), slice(m - 1 - d + lo, m - d + hi), slice(lo, hi + 1)
        w, best, other = weights[:k], bests[:k], others[:k]
        np.subtract(ax[rows_a], bx[rows_b], out=w)       # w = M[i, d - i], i = lo..hi
        np.multiply(w, w, out=w)
        np.subtract(ay[rows_a], by[rows_b], out=other)
        np.multiply(other, other, out=other)
        np.sqrt(np.add(w, other, out=w), out=w)
        previous, before = table[(d - 1) % 3], table[(d - 2) % 3]
        left, up, diagonal = previous[lo + 1:hi + 2], previous[lo:hi + 1], before[lo:hi + 1]
        np.less(up, left, out=codes[d, cells])
        _tied(up, left, tolerance, up_ties[d, cells], other)
        np.minimum(left, up, out=best)
        np.less(diagonal, best, out=diag_wins[d, cells])
        _tied(diagonal, best, tolerance, diag_ties[d, cells], other)
        np.minimum(best, diagonal, out=best)
        np.add(best, w, out=table[d % 3, lo + 1:hi + 2])
    # A tie matters where both tied candidates are the best: left = up (and diagonal not better), or
    # diagonal = the better of left and up. Only computed cells are ever read.
    # In place, without temporaries as large as the table (booleans as 0/1: up > diag_wins is up and not diag).
    np.greater(up_ties, diag_wins, out=up_ties)
    up_ties |= diag_ties
    codes |= np.left_shift(up_ties, 3, out=up_ties)
    codes |= np.left_shift(diag_wins, 1, out=diag_wins)
    codes[0, 0] = 4


def _tied(first: np.ndarray, second: np.ndarray, tolerance: float, out: np.ndarray, scratch: np.ndarray) -> None:
    """``out = first == second``, or ``|first - second| <= tolerance`` for a positive tolerance."""
    if tolerance:
        np.subtract(first, second, out=scratch)
        np.less_equal(np.abs(scratch, out=scratch), tolerance, out=out)
    else:
        np.equal(first, second, out=out)


def _backtrack(codes, base, step_d, step_i, rank, count_a, count_b, offset_a, offset_b, width):
    """Walk every pair's path back from its last cell, all pairs at once.

    Returns
    -------
    path : int array of shape (n_pairs, n_steps)
        Cells ``a * width + b`` (saccade indices on each side) from the last
        cell back to the first; after reaching (0, 0) a path stays there.
    tied : bool array of shape (n_pairs,)
        Whether the path passed a cell with the TIE bit.
    """
    n_pairs = len(count_a)
    # How far back in the flat table each move code goes, per pair: (d, i) -> (d-1, i), (d-1, i-1), (d-2, i-1).
    move = np.stack([step_d, step_d + step_i, 2 * step_d + step_i, 2 * step_d + step_i,
                     np.zeros_like(step_d)], 1).reshape(-1)
    pair_moves = np.arange(n_pairs) * 5
    # A cell as one integer, saccade index on side a * width + saccade index on side b: one subtraction moves it.
    cell_move = MOVE_DI * width + MOVE_DJ
    i, j = count_a - 1, count_b - 1
    position = base + (i + j) * step_d + i * step_i + rank
    cell = (offset_a + i) * width + offset_b + j
    n_steps = int((count_a + count_b).max()) - 1            # the longest possible path
    path = np.empty((n_pairs, n_steps), dtype=np.int64)
    seen = np.zeros(n_pairs, dtype=np.uint8)
    for s in range(n_steps):
        path[:, s] = cell
        code = codes.take(position)
        seen |= code
        code &= MOVE_BITS
        position -= move.take(pair_moves + code)
        cell -= cell_move.take(code)
    return path, (seen & TIE).astype(bool)


def _flatten_paths(path: np.ndarray, start: np.ndarray, width: int):
    """(cells_a, cells_b, length, order) of :func:`align` from the padded paths of :func:`_backtrack`."""
    n_steps = path.shape[1]
    length = n_steps + 1 - (path == start[:, None]).sum(1)
    order = np.argsort(length, kind="stable")
    length = length.take(order)
    first_cell = np.cumsum(length) - length
    cells = path.take(np.repeat(order * n_steps - first_cell, length) + np.arange(int(length.sum())))
    return cells // width, cells % width, length, order


# -- the peer's search, for tied pairs -------------------------------------------------------------------
def cost_matrix(a_dx, a_dy, b_dx, b_dy) -> np.ndarray:
    """``M[i, j] = sqrt((a_dx[i] - b_dx[j]) ** 2 + (a_dy[i] - b_dy[j]) ** 2)``, shape (n, m), as the peer rounds it."""
    return np.sqrt((a_dx[:, None] - b_dx[None, :]) ** 2 + (a_dy[:, None] - b_dy[None, :]) ** 2)


def peer_graph(cost: np.ndarray) -> sp.csr_matrix:
    """The peer's alignment graph of an (n, m) cost matrix, edge for edge and in its order.

    Node ``i * m + j`` is cell (i, j).  Each node has edges right, down and
    diagonal (in that order), each weighted by the cost of the cell it enters;
    the last row has only the right edge, the last column only the down edge,
    and the last cell a zero-weight loop to itself.  The edges are listed node
    by node and go through a COO matrix into CSR, as the peer does, so that
    scipy's Dijkstra scans them in the same order.
    """
    n, m = cost.shape
    i, j = np.divmod(np.arange(n * m), m)
    node = i * m + j
    inner = (i < n - 1) & (j < m - 1)
    # Candidate edges per node, in the peer's order: right, down, diagonal.
    valid = np.stack([inner | ((i == n - 1) & (j < m - 1)), inner | ((i < n - 1) & (j == m - 1)), inner], 1)
    target = np.stack([node + 1, node + m, node + m + 1], 1)
    flat_cost = np.append(cost.reshape(-1), 0.0)                    # padded: invalid targets read the 0
    weight = flat_cost[np.where(valid, target, n * m)]
    rows, cols, weights = np.repeat(node, 3)[valid.reshape(-1)], target[valid], weight[valid]
    last = n * m - 1                                                # the loop on the last cell
    rows, cols, weights = np.append(rows, last), np.append(cols, last), np.append(weights, 0.0)
    return sp.coo_matrix((weights, (rows, cols)), shape=(n * m, n * m)).tocsr()


def peer_path(cost: np.ndarray) -> np.ndarray:
    """The peer's alignment path: scipy's Dijkstra on :func:`peer_graph`, ties broken as there.

    Returns
    -------
    cells : int array of shape (n_cells, 2)
        (i, j) from (0, 0) to (n - 1, m - 1).
    """
    n, m = cost.shape
    _, predecessors = csgraph.dijkstra(peer_graph(cost), directed=True, indices=0, return_predecessors=True)
    nodes = [n * m - 1]
    while nodes[-1] != 0:
        nodes.append(int(predecessors[nodes[-1]]))
    return np.stack(np.divmod(np.array(nodes[::-1]), m), 1)
