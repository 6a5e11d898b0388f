"""The batched MultiMatch alignment agrees with its plain per-pair reference, ties included."""

import numpy as np
import pytest

from cogmodels.kernels import multimatch as kernel, multimatch_reference as reference


def _pack(vectors):
    """Saccade vectors of many paths -> flat dx, dy, offset, count (the kernel's input)."""
    count = np.array([len(v) for v in vectors])
    flat = np.concatenate(vectors)
    return flat[:, 0].copy(), flat[:, 1].copy(), np.cumsum(count) - count, count


def continuous(rng, n):
    return rng.uniform(-300, 300, (n, 2))


def lattice(rng, n):
    """Saccades between points of a 3 x 2 grid, 100 px apart: many exactly equal costs."""
    points = np.column_stack([rng.integers(0, 3, n + 1), rng.integers(0, 2, n + 1)]) * 100.0
    return np.diff(points, axis=0)


def repeated(rng, n):
    """Repeats of a few unit saccades: exactly tied paths nearly everywhere."""
    moves = np.array([[100.0, 0.0], [0.0, 100.0], [-100.0, 0.0], [100.0, 100.0]])
    return moves[rng.integers(0, 4, n)]


def jittered(rng, n):
    """Repeated saccades from points moved by a few ulps: costs equal only up to rounding."""
    points = np.cumsum(np.vstack([[300.0, 300.0], repeated(rng, n)]), axis=0)
    points += rng.integers(-4, 5, points.shape) * np.spacing(points)
    return np.diff(points, axis=0)


def _pairs(make, rng, n_paths=60, n_pairs=150, longest=12):
    vectors = [make(rng, int(n)) for n in rng.integers(1, longest + 1, n_paths)]
    vectors[:3] = [make(rng, 1), make(rng, 1), make(rng, 2)]         # one-saccade paths: 1 x m tables
    first, second = rng.integers(0, n_paths, n_pairs), rng.integers(0, n_paths, n_pairs)
    first[:3], second[:3] = [0, 0, 2], [1, 5, 0]
    return vectors, first, second


def _kernel_paths(vectors, first, second, **options):
    """The kernel's path of each pair (input order), as lists of (i, j) from (0, 0); and the tied flags."""
    dx, dy, offset, count = _pack(vectors)
    cells_a, cells_b, length, order, tied = kernel.align(dx, dy, offset, count, first, second, **options)
    assert sorted(order.tolist()) == list(range(len(first))) and np.all(np.diff(length) >= 0)
    paths = [None] * len(first)
    end = np.cumsum(length)
    for k, pair in enumerate(order.tolist()):
        cells = slice(end[k] - length[k], end[k])
        i, j = cells_a[cells] - offset[first[pair]], cells_b[cells] - offset[second[pair]]
        paths[pair] = list(zip(i.tolist(), j.tolist()))[::-1]
    return paths, tied


def _reference_paths(vectors, first, second):
    return [reference.alignment_path(reference.cost_matrix(vectors[p], vectors[q]))
            for p, q in zip(first.tolist(), second.tolist())]


@pytest.mark.parametrize("make", [continuous, lattice, repeated, jittered])
def test_paths_equal_the_reference(make):
    rng = np.random.default_rng(["continuous", "lattice", "repeated", "jittered"].index(make.__name__))
    vectors, first, second = _pairs(make, rng)
    paths, tied = _kernel_paths(vectors, first, second)
    expected = _reference_paths(vectors, first, second)
    for pair, (found, (distance, cells)) in enumerate(zip(paths, expected)):
        assert found == cells, f"pair {pair}"
        cost = reference.cost_matrix(vectors[first[pair]], vectors[second[pair]])
        assert distance == reference.min_cost(cost)                     # the reference is a shortest path
    if make is continuous:
        assert not tied.any()                                           # no exact ties: the fast path only
    if make in (lattice, repeated):
        assert tied.sum() > 10                                          # the test meets many ties


@pytest.mark.parametrize("make", [lattice, repeated, jittered])
def test_every_pair_the_wavefront_gets_wrong_is_marked_tied(make):
    """Without the peer's search, the wavefront differs from the reference only on pairs it marks as tied."""
    rng = np.random.default_rng(10 + ["lattice", "repeated", "jittered"].index(make.__name__))
    vectors, first, second = _pairs(make, rng)
    paths, tied = _kernel_paths(vectors, first, second, resolve_ties=False)
    expected = [cells for _, cells in _reference_paths(vectors, first, second)]
    wrong = np.array([found != cells for found, cells in zip(paths, expected)])
    assert not (wrong & ~tied).any(), f"unmarked pairs {np.flatnonzero(wrong & ~tied)}"
    if make is repeated:
        assert wrong.sum() > 5                                          # the heap order matters here


def test_near_ties_need_no_search():
    """Marking near ties too (within 1e-9) sends more pairs to the peer's search and changes no path."""
    rng = np.random.default_rng(20)
    vectors, first, second = _pairs(jittered, rng)
    exact, tied = _kernel_paths(vectors, first, second)
    loose, loosely_tied = _kernel_paths(vectors, first, second, tie_rtol=1e-9)
    assert loosely_tied.sum() > tied.sum()
    assert exact == loose


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (3, 5), (6, 2)])
def test_peer_graph_equals_the_reference_graph(shape):
    rng = np.random.default_rng(30)
    cost = rng.integers(0, 3, shape).astype(float)                      # zeros: explicit zero-weight edges
    fast, plain = kernel.peer_graph(cost), reference.alignment_graph(cost)
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(plain, name), err_msg=name)
    assert kernel.peer_path(cost).tolist() == [list(c) for c in reference.alignment_path(cost)[1]]
