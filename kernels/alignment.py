"""Batched dynamic-programming alignments on an anti-diagonal wavefront (torch).

The string edit distance (Levenshtein), the Needleman-Wunsch score, dynamic
time warping and the discrete Fréchet distance all fill an (n + 1) x (m + 1) table ``T`` in which ``T[i, j]`` depends only on
``T[i-1, j-1]`` (diagonal move), ``T[i-1, j]`` (up) and ``T[i, j-1]`` (left).
All cells of one anti-diagonal ``i + j = d`` are independent, so one diagonal
of a whole padded batch is computed by a handful of tensor operations.

The table is stored *skewed* and batch-last, ``S[d, i, b] = T_b[i, d - i]``,
so that the three predecessors of a diagonal are contiguous slices of the two
previous ones: ``T[i-1, j-1] = S[d-2, i-1]``, ``T[i-1, j] = S[d-1, i-1]`` and
``T[i, j-1] = S[d-1, i]``. Pairs of different lengths share the padded
tensors: a valid cell never depends on a padded one, and each pair reads its
result at ``T[n_b, m_b]``. Pairs run in buckets of similar length
(:func:`length_buckets`), so one long pair does not make the whole batch pay
for its padding.

Each public function has a plain per-pair loop beside it in
:mod:`cogmodels.kernels.alignment_reference`; the tests check that the two agree.
Tensors may live on any device; float64 is used for exactness.
"""

from __future__ import annotations

import torch

# Pairs are run in buckets of similar length (max of the two) so that padding wastes little work.
BUCKET_EDGES = (4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


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
    out = torch.empty(len(a), dtype=torch.int64, device=a.device)
    for rows, n, m in length_buckets(len_a, len_b):
        mismatch = (a[rows, :n, None] != b[rows, None, :m]).to(torch.float64)
        steps_m = torch.arange(m + 1, dtype=torch.float64, device=a.device).expand(len(rows), m + 1)
        steps_n = torch.arange(n + 1, dtype=torch.float64, device=a.device).expand(len(rows), n + 1)
        table = _wavefront(mismatch, steps_m, steps_n, gap=1.0, reduce="min")
        out[rows] = _corner(table, len_a[rows], len_b[rows]).round().to(torch.int64)
    return out


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
    batch = len(substitution)
    device = substitution.device
    gap = torch.as_tensor(gap, dtype=torch.float64, device=device).expand(batch)
    out = torch.empty(batch, dtype=torch.float64, device=device)
    for rows, n, m in length_buckets(len_a, len_b):
        block_gap = gap[rows][:, None]
        row0 = torch.arange(m + 1, dtype=torch.float64, device=device)[None, :] * block_gap
        col0 = torch.arange(n + 1, dtype=torch.float64, device=device)[None, :] * block_gap
        table = _wavefront(_block(substitution, rows, n, m), row0, col0, gap=block_gap[:, 0],
                           reduce="max")
        out[rows] = _corner(table, len_a[rows], len_b[rows])
    return out


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
    out = torch.empty(len(cost), dtype=torch.float64, device=cost.device)
    for rows, n, m in length_buckets(len_a, len_b):
        block = _block(cost, rows, n, m)
        table = _wavefront(block, *_open_corner(block, origin=0.0), gap=None, reduce="min")
        out[rows] = _corner(table, len_a[rows], len_b[rows])
    return out


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
    out = torch.empty(len(cost), dtype=torch.float64, device=cost.device)
    for rows, n, m in length_buckets(len_a, len_b):
        block = _block(cost, rows, n, m)
        table = _wavefront(block, *_open_corner(block, origin=-torch.inf), gap=None, reduce="min",
                           accumulate="max")
        out[rows] = _corner(table, len_a[rows], len_b[rows])
    return out


def _block(weights: torch.Tensor, rows: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """The bucket's weights (B', n, m) as float64; no copy when the bucket is the whole batch.

    Callers may pass a batch-last tensor, ``w.permute(2, 0, 1)`` of a contiguous (n, m, B) array: the
    skew below then reads it without a transposition.
    """
    if len(rows) == len(weights):
        return weights[:, :n, :m].to(torch.float64)
    return weights[rows, :n, :m].to(torch.float64)


def length_buckets(len_a, len_b):
    """Yield (pair indices, n, m): pairs grouped by the bucket of max(len_a, len_b), padded to the bucket's max.

    Every function of this module runs bucket by bucket, so that one long pair
    does not make the whole batch pay for its padding; callers that prepare
    the cost matrices can use the same buckets.
    """
    len_a = torch.as_tensor(len_a, dtype=torch.int64)
    len_b = torch.as_tensor(len_b, dtype=torch.int64)
    size = torch.maximum(len_a, len_b)
    bucket = torch.bucketize(size, torch.tensor(BUCKET_EDGES, dtype=torch.int64, device=size.device))
    for value in torch.unique(bucket).tolist():
        rows = torch.nonzero(bucket == value).reshape(-1)
        yield rows, int(len_a[rows].max()), int(len_b[rows].max())


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
    Cells outside the table read a zero row.
    """
    batch, n, m = weights.shape
    d = torch.arange(n + m + 1, device=weights.device)[:, None]
    i = torch.arange(n + 1, device=weights.device)[None, :]
    j = d - i
    valid = (i >= 1) & (j >= 1) & (j <= m)
    index = torch.where(valid, (i - 1) * m + (j - 1), torch.full_like(j, n * m)).reshape(-1)
    by_cell = torch.empty((n * m + 1, batch), dtype=weights.dtype, device=weights.device)
    by_cell[:n * m].view(n, m, batch).copy_(weights.permute(1, 2, 0))   # one pass; cheap if batch-last already
    by_cell[n * m] = 0
    return by_cell[index].reshape(n + m + 1, n + 1, batch)


def _wavefront(weights, row0, col0, *, gap, reduce, accumulate="add"):
    """Fill the skewed table S (n+m+1, n+1, B), S[d, i] = T[i, d-i].

    ``gap=None``: every move into a cell adds (or, for ``accumulate="max"``,
    takes the max with) that cell's weight (DTW, Fréchet);
    otherwise up/left moves add ``gap`` (edit distance, Needleman-Wunsch).
    """
    batch, n, m = weights.shape
    device = weights.device
    # Only boundary cells and computed cells are ever read, so the table needs no fill.
    table = torch.empty((n + m + 1, n + 1, batch), dtype=torch.float64, device=device)
    table[torch.arange(m + 1), 0] = row0.T.to(torch.float64)                       # T[0, j]
    table[torch.arange(n + 1), torch.arange(n + 1)] = col0.T.to(torch.float64)     # T[i, 0]
    table[0, 0] = row0[:, 0]
    skewed = _skew(weights)
    if gap is not None:
        gap = torch.as_tensor(gap, dtype=torch.float64, device=device).reshape(-1)[None, :]   # (1, B) or (1, 1)
    pick = torch.minimum if reduce == "min" else torch.maximum
    scratch = torch.empty((n + 1, batch), dtype=torch.float64, device=device)
    for d in range(2, n + m + 1):
        lo, hi = max(1, d - m), min(n, d - 1)          # rows i of the cells (i, d - i) with i, j >= 1
        k = hi - lo + 1
        w = skewed[d, lo:hi + 1]
        out = table[d, lo:hi + 1]
        diag, up, left = table[d - 2, lo - 1:hi], table[d - 1, lo - 1:hi], table[d - 1, lo:hi + 1]
        tmp = scratch[:k]
        if gap is None:                                # same weight on every move: reduce first (exact)
            pick(diag, up, out=tmp)
            pick(tmp, left, out=tmp)
            (torch.add if accumulate == "add" else torch.maximum)(tmp, w, out=out)
        else:                                          # diagonal weight vs gap
            pick(up, left, out=tmp)
            tmp.add_(gap)
            pick(diag + w, tmp, out=out)
    return table


def _corner(table: torch.Tensor, len_a: torch.Tensor, len_b: torch.Tensor) -> torch.Tensor:
    """T[b, len_a[b], len_b[b]] for every pair b."""
    len_a = len_a.to(table.device, torch.int64)
    len_b = len_b.to(table.device, torch.int64)
    return table[len_a + len_b, len_a, torch.arange(table.shape[2], device=table.device)]
