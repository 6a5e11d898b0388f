"""The batched wavefront alignments agree with the plain per-pair reference loops."""


import numpy as np
import pytest
import torch

from cogmodels.kernels import alignment, alignment_reference as reference

MAX_LEN = 9


def _lengths(rng, batch, low=0, high=MAX_LEN):
    """Random lengths that always include the edge cases 0 and 1."""
    lengths = rng.integers(low, high + 1, size=batch)
    lengths[: min(4, batch)] = [0, 1, 0, 1][: min(4, batch)] if low == 0 else [1, 1, 2, 1][: min(4, batch)]
    return lengths


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_levenshtein_matches_reference_exactly(rng):
    batch = 200
    len_a, len_b = _lengths(rng, batch), _lengths(rng, batch)[::-1].copy()
    a, b = rng.integers(0, 4, (batch, MAX_LEN)), rng.integers(0, 4, (batch, MAX_LEN))
    ours = alignment.levenshtein(torch.tensor(a), torch.tensor(b), torch.tensor(len_a), torch.tensor(len_b))
    expected = [reference.levenshtein(list(a[k, :len_a[k]]), list(b[k, :len_b[k]])) for k in range(batch)]
    assert ours.dtype == torch.int64
    assert ours.tolist() == expected


def test_levenshtein_known_values():
    words = [("kitten", "sitting", 3), ("flaw", "lawn", 2), ("", "abc", 3), ("", "", 0), ("abc", "abc", 0)]
    n = max(len(w) for pair in words for w in pair[:2])

    def codes(word):
        return [ord(c) for c in word] + [-1] * (n - len(word))

    ours = alignment.levenshtein(torch.tensor([codes(a) for a, _, _ in words]),
                                 torch.tensor([codes(b) for _, b, _ in words]),
                                 torch.tensor([len(a) for a, _, _ in words]),
                                 torch.tensor([len(b) for _, b, _ in words]))
    assert ours.tolist() == [d for _, _, d in words]


@pytest.mark.parametrize("name", ["dtw", "frechet"])
def test_dtw_and_frechet_match_reference(rng, name):
    batch = 200
    len_a, len_b = _lengths(rng, batch), _lengths(rng, batch)[::-1].copy()
    cost = rng.random((batch, MAX_LEN, MAX_LEN)) * 100
    ours = getattr(alignment, name)(torch.tensor(cost), torch.tensor(len_a), torch.tensor(len_b)).numpy()
    expected = np.array([getattr(reference, name)(cost[k, :len_a[k], :len_b[k]]) for k in range(batch)])
    one_empty = (len_a == 0) != (len_b == 0)
    assert np.isposinf(ours[one_empty]).all()  # no alignment exists
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)  # infinities must match too


@pytest.mark.parametrize("gap", [0.0, -0.7])
def test_needleman_wunsch_matches_reference(rng, gap):
    batch = 200
    len_a, len_b = _lengths(rng, batch), _lengths(rng, batch)[::-1].copy()
    scores = rng.normal(size=(batch, MAX_LEN, MAX_LEN))
    ours = alignment.needleman_wunsch(torch.tensor(scores), gap, torch.tensor(len_a), torch.tensor(len_b)).numpy()
    expected = [reference.needleman_wunsch(scores[k, :len_a[k], :len_b[k]], gap) for k in range(batch)]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)


def test_needleman_wunsch_per_pair_gap(rng):
    batch = 50
    len_a, len_b = _lengths(rng, batch, low=1), _lengths(rng, batch, low=1)
    scores = rng.normal(size=(batch, MAX_LEN, MAX_LEN))
    gaps = -rng.random(batch)
    ours = alignment.needleman_wunsch(torch.tensor(scores), torch.tensor(gaps), torch.tensor(len_a),
                                      torch.tensor(len_b)).numpy()
    expected = [reference.needleman_wunsch(scores[k, :len_a[k], :len_b[k]], gaps[k]) for k in range(batch)]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)


def test_known_dtw_and_frechet():
    a = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    b = np.array([[0.0, 1.0], [2.0, 1.0]])
    cost = np.linalg.norm(a[:, None] - b[None], axis=-1)
    one = torch.tensor([3]), torch.tensor([2])
    # DTW: (0,0)-(0,0) 1 + (1,0)-(0,0) sqrt2 or (1,0)-(2,1) sqrt2, + (2,0)-(2,1) 1.
    assert alignment.dtw(torch.tensor(cost[None]), *one).item() == pytest.approx(2 + np.sqrt(2), abs=1e-12)
    assert alignment.frechet(torch.tensor(cost[None]), *one).item() == pytest.approx(np.sqrt(2), abs=1e-12)


def test_long_pairs_span_several_buckets(rng):
    """Pairs of very different lengths are run in separate buckets and put back in order."""
    len_a = np.array([1, 40, 3, 17, 25, 2, 60])
    len_b = np.array([60, 2, 33, 17, 1, 9, 60])
    cost = rng.random((len(len_a), 60, 60))
    ours = alignment.dtw(torch.tensor(cost), torch.tensor(len_a), torch.tensor(len_b)).numpy()
    expected = [reference.dtw(cost[k, :len_a[k], :len_b[k]]) for k in range(len(len_a))]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)


@pytest.mark.gpu
def test_cuda_matches_cpu(rng):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    len_a, len_b = _lengths(rng, 100, low=1), _lengths(rng, 100, low=1)
    cost = torch.tensor(rng.random((100, MAX_LEN, MAX_LEN)))
    la, lb = torch.tensor(len_a), torch.tensor(len_b)
    for name in ("dtw", "frechet"):
        cpu = getattr(alignment, name)(cost, la, lb)
        gpu = getattr(alignment, name)(cost.cuda(), la.cuda(), lb.cuda()).cpu()
        torch.testing.assert_close(cpu, gpu, rtol=0, atol=1e-9)
