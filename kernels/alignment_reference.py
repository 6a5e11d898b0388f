"""Plain per-pair reference implementations of :mod:`cogmodels.kernels.alignment`.

Textbook double loops over one pair at a time, written for reading, not speed.
The tests check that the batched wavefront kernels return the same numbers
(exactly for integers, to 1e-9 for floats) and the benchmark shows the ratio.
"""

from __future__ import annotations

import math

import numpy as np


def levenshtein(a, b) -> int:
    """Edit distance between two symbol sequences (unit insertion, deletion and substitution costs)."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        table[i][0] = i
    for j in range(m + 1):
        table[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            table[i][j] = min(table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
                              table[i - 1][j] + 1, table[i][j - 1] + 1)
    return table[n][m]


def needleman_wunsch(substitution, gap: float) -> float:
    """Global alignment score; ``substitution`` is an (n, m) score matrix, ``gap`` the score of one gap."""
    substitution = np.asarray(substitution, dtype=float)
    n, m = substitution.shape
    table = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        table[i][0] = i * gap
    for j in range(m + 1):
        table[0][j] = j * gap
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            table[i][j] = max(table[i - 1][j - 1] + substitution[i - 1, j - 1],
                              table[i - 1][j] + gap, table[i][j - 1] + gap)
    return table[n][m]


def dtw(cost) -> float:
    """Dynamic time warping distance: smallest sum of ``cost`` (n, m) along a monotone path; inf if empty."""
    cost = np.asarray(cost, dtype=float)
    n, m = cost.shape
    table = [[math.inf] * (m + 1) for _ in range(n + 1)]
    table[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            table[i][j] = cost[i - 1, j - 1] + min(table[i - 1][j - 1], table[i - 1][j], table[i][j - 1])
    return table[n][m]


def frechet(cost) -> float:
    """Discrete Fréchet distance (Eiter & Mannila 1994) from the (n, m) matrix of point distances; inf if empty."""
    cost = np.asarray(cost, dtype=float)
    n, m = cost.shape
    table = [[math.inf] * (m + 1) for _ in range(n + 1)]
    table[0][0] = -math.inf
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            table[i][j] = max(cost[i - 1, j - 1], min(table[i - 1][j - 1], table[i - 1][j], table[i][j - 1]))
    return table[n][m]


def min_cost_path(cost, tie_order=("left", "up", "diag")):
    """Node-weighted shortest path from (0, 0) to (n-1, m-1) by right/down/diagonal steps.

    Returns the total cost of the entered cells (the start cell is free) and
    the path as a list of (i, j) from the start to the end.  Exact ties keep
    the first predecessor in ``tie_order``.
    """
    cost = np.asarray(cost, dtype=float)
    n, m = cost.shape
    total = np.full((n, m), math.inf)
    came_from = {}
    total[0, 0] = 0.0
    offsets = {"diag": (-1, -1), "up": (-1, 0), "left": (0, -1)}
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                continue
            best, best_cell = math.inf, None
            for name in tie_order:
                pi, pj = i + offsets[name][0], j + offsets[name][1]
                if pi < 0 or pj < 0:
                    continue
                value = total[pi, pj] + cost[i, j]
                if best_cell is None or value < best:
                    best, best_cell = value, (pi, pj)
            total[i, j] = best
            came_from[(i, j)] = best_cell
    path = [(n - 1, m - 1)]
    while path[-1] != (0, 0):
        path.append(came_from[path[-1]])
    return float(total[n - 1, m - 1]), path[::-1]
