"""Plain per-pair reference of :mod:`cogmodels.kernels.multimatch`: the peer's alignment path, for reading.

One pair at a time, in loops, as ``multimatch-gaze`` defines it: a node per
cell of the cost matrix, edges right, down and diagonal weighted by the cost
of the cell they enter, and scipy's Dijkstra from the first cell to the last.
The path is the chain of Dijkstra's predecessors, so it breaks ties between
equally cheap paths exactly as the peer does.  The tests check that the
batched wavefront returns the same path for every pair.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph


def cost_matrix(a, b) -> np.ndarray:
    """``M[i, j]``: the length of the difference of saccade vectors ``a[i]`` and ``b[j]``.

    ``a`` (n, 2) and ``b`` (m, 2) hold (dx, dy) per saccade.  Row by row on
    arrays, as the peer computes it: the square of a numpy array multiplies,
    while ``**`` on a numpy scalar calls ``pow``, which can round differently
    in the last bit, and the last bit decides ties.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rows = []
    for ax, ay in a:
        rows.append(np.sqrt(np.abs(ax - b[:, 0]) ** 2 + np.abs(ay - b[:, 1]) ** 2))
    return np.vstack(rows)


def alignment_graph(cost) -> sp.csr_matrix:
    """The directed graph of the peer: node i * m + j is cell (i, j) of the (n, m) cost matrix."""
    n, m = np.shape(cost)
    rows, cols, weights = [], [], []

    def edge(source, i, j):
        rows.append(source)
        cols.append(i * m + j)
        weights.append(cost[i][j])

    for i in range(n):
        for j in range(m):
            node = i * m + j
            if i == n - 1 and j == m - 1:           # the last cell: a zero-weight loop
                rows.append(node)
                cols.append(node)
                weights.append(0.0)
            elif i == n - 1:                        # last row: right only
                edge(node, i, j + 1)
            elif j == m - 1:                        # last column: down only
                edge(node, i + 1, j)
            else:                                   # right, down, diagonal
                edge(node, i, j + 1)
                edge(node, i + 1, j)
                edge(node, i + 1, j + 1)
    return sp.coo_matrix((np.asarray(weights, dtype=float), (np.asarray(rows), np.asarray(cols))),
                         shape=(n * m, n * m)).tocsr()


def alignment_path(cost) -> tuple[float, list[tuple[int, int]]]:
    """The cheapest path's cost (the start cell is free) and its cells (i, j), from (0, 0) to (n-1, m-1)."""
    n, m = np.shape(cost)
    distance, predecessor = csgraph.dijkstra(alignment_graph(cost), directed=True, indices=0,
                                             return_predecessors=True)
    node, path = n * m - 1, []
    while node >= 0:                                # the start has no predecessor (-9999)
        path.append(divmod(int(node), m))
        node = predecessor[node]
    return float(distance[n * m - 1]), path[::-1]


def min_cost(cost) -> float:
    """The cheapest path's cost by the textbook dynamic programme (no path): a check on ``alignment_path``."""
    n, m = np.shape(cost)
    total = [[math.inf] * m for _ in range(n)]
    total[0][0] = 0.0
    for i in range(n):
        for j in range(m):
            if i or j:
                best = min(total[i][j - 1] if j else math.inf, total[i - 1][j] if i else math.inf,
                           total[i - 1][j - 1] if i and j else math.inf)
                total[i][j] = best + cost[i][j]
    return total[n - 1][m - 1]
