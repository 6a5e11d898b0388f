"""Batched dynamic-programming alignments on an anti-diagonal wavefront (torch).

The string edit distance (Levenshtein), the Needleman-Wunsch score, dynamic
time warping, the discrete Fréchet distance and the MultiMatch shortest path
all fill an (n + 1) x (m + 1) table ``T`` in which ``T[i, j]`` depends only on
``T[i-1, j-1]`` (diagonal move), ``T[i-1, j]`` (up) and ``T[i, j-1]`` (left).
All cells of one anti-diagonal ``i + j = d`` are independent, so one diagonal
of a whole padded batch is computed by a handful of tensor operations.

The table is stored *skewed*, ``S[:, d, i] = T[:, i, d - i]``, so that the
three predecessors of a diagonal are plain slices of the two previous ones:
``T[i-1, j-1] = S[d-2, i-1]``, ``T[i-1, j] = S[d-1, i-1]``, ``T[i, j-1] = S[d-1, i]``.
Pairs of different lengths share the padded tensors: a valid cell never
depends on a padded one, and each pair reads its result at ``T[n_b, m_b]``.

Each public function has a plain per-pair loop beside it in
:mod:`cogmodels.kernels.alignment_reference`; the tests check that the two agree.
Tensors may live on any device; float64 is used for exactness.
"""

from __future__ import annotations

import torch

MOVES = ("diag", "up", "left")  # pointer codes 0, 1, 2


def levenshtein(a: torch.Tensor, b: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    """String edit distance (insertions, deletions and substitutions cost 1).

    Parameters
    ----------
    a : integer tensor of shape (B, n)
        Symbol codes, padded; only ``a[k, :len_a[k]]`` is read.
    b : integer tensor of shape (B, m)
    len_a, len_b : integer tensors of shape (B,)

    Returns
    -------
    distance : int64 tensor of shape (B,)
    """
    mismatch = (a[:, :, None] != b[:, None, :]).to(torch.float64)
    n, m = mismatch.shape[1:]
    row0 = torch.arange(m + 1, dtype=torch.float64, device=a.device).expand(len(a), m + 1)
    col0 = torch.arange(n + 1, dtype=torch.float64, device=a.device).expand(len(a), n + 1)
    table = _wavefront(mismatch, row0, col0, gap=1.0, reduce="min")
    return _corner(table, len_a, len_b).round().to(torch.int64)


def needleman_wunsch(substitution: torch.Tensor, gap, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    """Needleman-Wunsch global alignment score (maximised).

    Parameters
    ----------
    substitution : float tensor of shape (B, n, m)
        Score of aligning symbol i of ``a`` with symbol j of ``b``.
    gap : float or float tensor of shape (B,)
        Score of a gap (usually <= 0), linear in the gap length.
    len_a, len_b : integer tensors of shape (B,)

    Returns
    -------
    score : float64 tensor of shape (B,)
    """
    substitution = substitution.to(torch.float64)
    batch, n, m = substitution.shape
    gap = torch.as_tensor(gap, dtype=torch.float64, device=substitution.device).expand(batch)
    steps_m = torch.arange(m + 1, dtype=torch.float64, device=substitution.device)
    steps_n = torch.arange(n + 1, dtype=torch.float64, device=substitution.device)
    row0 = steps_m[None, :] * gap[:, None]
    col0 = steps_n[None, :] * gap[:, None]
    table = _wavefront(substitution, row0, col0, gap=gap[:, None], reduce="max")
    return _corner(table, len_a, len_b)


def dtw(cost: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    """Dynamic time warping: the smallest sum of ``cost`` along a monotone path from (0, 0) to (n-1, m-1).

    Parameters
    ----------
    cost : float tensor of shape (B, n, m)
        Local cost, e.g. the Euclidean distance between element i of ``a`` and j of ``b``.
    len_a, len_b : integer tensors of shape (B,)

    Returns
    -------
    distance : float64 tensor of shape (B,)
        ``inf`` where a sequence is empty.
    """
    row0, col0 = _open_corner(cost, origin=0.0)
    return _corner(_wavefront(cost.to(torch.float64), row0, col0, gap=None, reduce="min"), len_a, len_b)


def frechet(cost: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    """Discrete Fréchet distance (Eiter & Mannila 1994): the smallest, over monotone couplings, largest ``cost``.

    Parameters
    ----------
    cost : float tensor of shape (B, n, m)
    len_a, len_b : integer tensors of shape (B,)

    Returns
    -------
    distance : float64 tensor of shape (B,)
        ``inf`` where a sequence is empty.
    """
    row0, col0 = _open_corner(cost, origin=-torch.inf)
    table = _wavefront(cost.to(torch.float64), row0, col0, gap=None, reduce="min", accumulate="max")
    return _corner(table, len_a, len_b)


def min_cost_path(cost: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor,
                  tie_order: tuple[str, str, str] = ("left", "up", "diag")):
    """Node-weighted shortest path through a cost matrix, with the path itself (MultiMatch alignment).

    The path runs from cell (0, 0) to (n-1, m-1) by right, down and diagonal
    steps; its length is the sum of the costs of the cells it enters (the start
    cell is free), as in a Dijkstra search where an edge weighs its target node.

    Parameters
    ----------
    cost : float tensor of shape (B, n, m)
    len_a, len_b : integer tensors of shape (B,), all >= 1
    tie_order : permutation of ("diag", "up", "left")
        Where predecessors tie exactly, the first one in this order is kept
        (a later one must be strictly smaller to replace it).

    Returns
    -------
    total : float64 tensor of shape (B,)
    path_i, path_j : int64 tensors of shape (B, n + m - 1)
        Cells on each path, from the end back to (0, 0); -1 after the path ends.
    """
    cost = cost.to(torch.float64)
    batch = len(cost)
    # T[0, 0] = -cost[0, 0] makes the first cell free, exactly: -c + c == 0.
    row0, col0 = _open_corner(cost, origin=0.0)
    row0 = row0.clone()
    col0 = col0.clone()
    row0[:, 0] = -cost[:, 0, 0]
    col0[:, 0] = -cost[:, 0, 0]
    table, pointers = _wavefront(cost, row0, col0, gap=None, reduce="min", tie_order=tie_order)
    total = _corner(table, len_a, len_b)
    path_i, path_j = _backtrack(pointers, tie_order, len_a.to(cost.device), len_b.to(cost.device), batch)
    return total, path_i, path_j


# -- the wavefront -------------------------------------------------------------------------------------
def _open_corner(cost: torch.Tensor, origin: float):
    """Boundaries for DTW-like tables: T[0, 0] = origin, the rest of row 0 and column 0 unreachable (inf)."""
    batch, n, m = cost.shape
    row0 = torch.full((batch, m + 1), torch.inf, dtype=torch.float64, device=cost.device)
    col0 = torch.full((batch, n + 1), torch.inf, dtype=torch.float64, device=cost.device)
    row0[:, 0] = origin
    col0[:, 0] = origin
    return row0, col0


def _skew(weights: torch.Tensor) -> torch.Tensor:
    """W (B, n, m) -> S (n + m + 1, n + 1, B) with S[d, i] = W[:, i-1, d-i-1], the weight of entering T[i, d-i].

    The batch is the last (contiguous) axis, so every diagonal slice ``S[d, lo:hi]`` is one contiguous block.
    """
    batch, n, m = weights.shape
    d = torch.arange(n + m + 1, device=weights.device)[:, None]
    i = torch.arange(n + 1, device=weights.device)[None, :]
    j = d - i
    valid = ((i >= 1) & (j >= 1) & (j <= m)).reshape(-1)
    flat = torch.where(valid, ((i - 1) * m + (j - 1)).reshape(-1), torch.zeros_like(valid, dtype=torch.int64))
    if n * m == 0:
        return torch.zeros(n + m + 1, n + 1, batch, dtype=weights.dtype, device=weights.device)
    gathered = weights.reshape(batch, n * m).T[flat]                       # (D * I, B)
    gathered = torch.where(valid[:, None], gathered, torch.zeros_like(gathered))
    return gathered.reshape(n + m + 1, n + 1, batch).contiguous()


def _wavefront(weights, row0, col0, *, gap, reduce, accumulate="add", tie_order=None):
    """Fill the skewed table S (n+m+1, n+1, B), S[d, i] = T[i, d-i].

    ``gap=None``: every move into a cell adds (or, for ``accumulate="max"``,
    takes the max with) that cell's weight (DTW, Fréchet, MultiMatch);
    otherwise up/left moves add ``gap`` (edit distance, Needleman-Wunsch).
    With ``tie_order`` the chosen moves are returned too, as indices into
    ``tie_order`` (int8, same shape); candidates are compared as full sums,
    so a later move must be strictly better to win a tie.
    """
    batch, n, m = weights.shape
    device = weights.device
    fill = torch.inf if reduce == "min" else -torch.inf
    table = torch.full((n + m + 1, n + 1, batch), fill, dtype=torch.float64, device=device)
    table[torch.arange(m + 1), 0] = row0.T.to(torch.float64)                       # T[0, j]
    table[torch.arange(n + 1), torch.arange(n + 1)] = col0.T.to(torch.float64)     # T[i, 0]
    table[0, 0] = row0[:, 0]
    skewed = _skew(weights)
    if gap is not None:
        gap = torch.as_tensor(gap, dtype=torch.float64, device=device).reshape(-1)[None, :]   # (1, B) or (1, 1)
    pick = torch.minimum if reduce == "min" else torch.maximum
    pointers = None
    if tie_order is not None:
        pointers = torch.full(table.shape, -1, dtype=torch.int8, device=device)
        candidates = torch.empty((3, n + 1, batch), dtype=torch.float64, device=device)
        source = {"diag": (2, -1), "up": (1, -1), "left": (1, 0)}                    # (d offset, i offset)
    scratch = torch.empty((n + 1, batch), dtype=torch.float64, device=device)
    for d in range(2, n + m + 1):
        lo, hi = max(1, d - m), min(n, d - 1)          # rows i of the cells (i, d - i) with i, j >= 1
        k = hi - lo + 1
        w = skewed[d, lo:hi + 1]
        diag, up, left = table[d - 2, lo - 1:hi], table[d - 1, lo - 1:hi], table[d - 1, lo:hi + 1]
        out = table[d, lo:hi + 1]
        if tie_order is not None:                      # full sums, compared in tie order (MultiMatch)
            for slot, name in enumerate(tie_order):
                dd, di = source[name]
                torch.add(table[d - dd, lo + di:hi + 1 + di], w, out=candidates[slot, :k])
            first, second, third = candidates[0, :k], candidates[1, :k], candidates[2, :k]
            tmp = scratch[:k]
            torch.minimum(first, second, out=tmp)
            torch.minimum(tmp, third, out=out)
            # The first candidate (in tie order) that attains the minimum wins, as with strict "<" updates.
            pointers[d, lo:hi + 1] = torch.where(first == out, 0, torch.where(second == out, 1, 2))
        elif gap is None:                              # same weight on every move: reduce first (exact)
            tmp = scratch[:k]
            pick(diag, up, out=tmp)
            pick(tmp, left, out=tmp)
            (torch.add if accumulate == "add" else torch.maximum)(tmp, w, out=out)
        else:                                          # diagonal weight vs gap
            tmp = scratch[:k]
            pick(up, left, out=tmp)
            tmp.add_(gap)
            pick(diag + w, tmp, out=out)
    return (table, pointers) if tie_order is not None else table


def _corner(table: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    """T[b, len_a[b], len_b[b]] for every pair b."""
    len_a = len_a.to(table.device, torch.int64)
    len_b = len_b.to(table.device, torch.int64)
    return table[len_a + len_b, len_a, torch.arange(table.shape[2], device=table.device)]


def _backtrack(pointers, tie_order, len_a, len_b, batch):
    """Follow the pointers from T[n, m] back to T[1, 1]; returns 0-based cells (B, n + m - 1), -1 padded."""
    n = pointers.shape[1] - 1
    m = pointers.shape[0] - 1 - n
    steps = max(n + m - 1, 1)
    rows = torch.arange(batch, device=pointers.device)
    step_i = torch.tensor([MOVES.index(name) != 2 for name in tie_order], device=pointers.device)  # diag, up
    step_j = torch.tensor([MOVES.index(name) != 1 for name in tie_order], device=pointers.device)  # diag, left
    i, j = len_a.to(torch.int64).clone(), len_b.to(torch.int64).clone()
    path_i = torch.full((batch, steps), -1, dtype=torch.int64, device=pointers.device)
    path_j = torch.full_like(path_i, -1)
    active = (i >= 1) & (j >= 1)
    for s in range(steps):
        if not bool(active.any()):
            break
        path_i[:, s] = torch.where(active, i - 1, path_i[:, s])
        path_j[:, s] = torch.where(active, j - 1, path_j[:, s])
        chosen = pointers[(i + j).clamp(max=n + m), i.clamp(max=n), rows].to(torch.int64).clamp(min=0)
        active = active & ~((i == 1) & (j == 1))
        i = torch.where(active & step_i[chosen], i - 1, i)
        j = torch.where(active & step_j[chosen], j - 1, j)
    return path_i, path_j
