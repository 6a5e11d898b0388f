"""String and geometric scanpath metrics: edit distance, sequence score, ScanMatch, DTW, Fréchet."""

import numpy as np
import pytest

from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, DataFormatError
from cogmodels.kernels import alignment_reference as reference
from cogmodels.metrics import _scanmatch, gaze

SCREEN = (100, 100)
GRID = (2, 2)  # 50 x 50 px cells: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right
CELL = {"A": (10, 10), "B": (60, 10), "C": (10, 60), "D": (60, 60)}


def word(letters, duration=100.0):
    """A scanpath visiting the grid cells named by ``letters``."""
    xy = np.array([CELL[c] for c in letters], dtype=float).reshape(-1, 2)
    return Scanpath.from_arrays(x=xy[:, 0], y=xy[:, 1], duration=np.full(len(xy), duration))


# -- edit distance ---------------------------------------------------------------------------------------
def test_edit_distance_known_values():
    assert gaze.edit_distance(word("ABC"), word("ABD"), SCREEN, grid=GRID) == 1
    assert gaze.edit_distance(word("ABCD"), word("BCDA"), SCREEN, grid=GRID) == 2
    assert gaze.edit_distance(word("ABC"), word("ABC"), SCREEN, grid=GRID) == 0
    assert gaze.edit_distance(word("ABC"), word(""), SCREEN, grid=GRID) == 3
    assert gaze.edit_distance(word("ABC"), word("ABD"), SCREEN, grid=GRID, normalise=True) == pytest.approx(1 / 3)


def test_edit_distance_of_two_empty_scanpaths_is_zero():
    assert gaze.edit_distance(word(""), word(""), SCREEN, grid=GRID) == 0
    assert gaze.edit_distance(word(""), word(""), SCREEN, grid=GRID, normalise=True) == 0.0


def test_edit_distance_batch_matches_reference_loop():
    rng = np.random.default_rng(0)
    a = [word("".join(rng.choice(list("ABCD"), n))) for n in rng.integers(0, 12, 60)]
    b = [word("".join(rng.choice(list("ABCD"), n))) for n in rng.integers(0, 12, 60)]
    cells = {"A": 0, "B": 1, "C": 2, "D": 3}
    expected = [reference.levenshtein([cells[c] for c in _letters(p)], [cells[c] for c in _letters(q)])
                for p, q in zip(a, b)]
    assert gaze.edit_distance(a, b, SCREEN, grid=GRID).tolist() == expected


def _letters(p):
    names = {v: k for k, v in CELL.items()}
    return [names[(int(x), int(y))] for x, y in zip(p.x, p.y)]


def test_points_outside_the_screen_warn():
    outside = Scanpath.from_arrays(x=[-5.0, 50.0], y=[10.0, 120.0], duration=[100.0, 100.0])
    with pytest.warns(UserWarning, match="2 fixation"):
        assert gaze.edit_distance(outside, word("AD"), SCREEN, grid=GRID) == 0  # clipped to cells A and D


# -- sequence score --------------------------------------------------------------------------------------
def test_sequence_score_known_values():
    assert gaze.sequence_score(word("ABC"), word("ABC"), SCREEN, grid=GRID) == 1.0
    assert gaze.sequence_score(word("ABC"), word("ABD"), SCREEN, grid=GRID) == pytest.approx(2 / 3)
    assert gaze.sequence_score(word("ABCD"), word("ACBD"), SCREEN, grid=GRID) == pytest.approx(3 / 4)  # LCS 3
    # match 1, mismatch -1, gap -1: A-A, B-B, C-D = 1 (two gaps would give 0).
    assert gaze.sequence_score(word("ABC"), word("ABD"), SCREEN, grid=GRID, mismatch=-1.0,
                               gap=-1.0) == pytest.approx(1 / 3)


def test_sequence_score_empty_conventions():
    assert gaze.sequence_score(word(""), word(""), SCREEN, grid=GRID) == 1.0
    assert gaze.sequence_score(word("AB"), word(""), SCREEN, grid=GRID) == 0.0


def test_cluster_regions_are_seeded():
    rng = np.random.default_rng(1)
    paths = [Scanpath.from_arrays(x=rng.uniform(0, 800, 8), y=rng.uniform(0, 600, 8), duration=np.full(8, 200.0),
                                  stimulus_id="img") for _ in range(6)]
    first = gaze.sequence_score(paths[:3], paths[3:], n_clusters=4, seed=7)
    again = gaze.sequence_score(paths[:3], paths[3:], n_clusters=4, seed=7)
    np.testing.assert_array_equal(first, again)
    centres = gaze.cluster_centres(paths, 4, seed=7)
    assert centres.shape == (4, 2)
    # All scanpaths share one stimulus, so the per-stimulus clusters are the pooled ones.
    np.testing.assert_array_equal(first, gaze.sequence_score(paths[:3], paths[3:], centres=centres))
    with pytest.raises(ConfigError, match="at most one"):
        gaze.sequence_score(paths[:3], paths[3:], centres=centres, n_clusters=3)


def test_grid_needs_screen_size():
    with pytest.raises(ConfigError, match="screen_size"):
        gaze.edit_distance(word("AB"), word("AB"))


# -- ScanMatch -------------------------------------------------------------------------------------------
def test_scanmatch_substitution_and_temporal_bins():
    substitution = _scanmatch.substitution_matrix(GRID, 1.5)
    np.testing.assert_allclose(substitution[0], [1.5, 0.5, 0.5, 1.5 - np.sqrt(2)])
    durations = np.array([10, 24.9, 25, 74.9, 75, 100.0])
    repeats = _scanmatch.temporal_repeats(durations, np.ones(6, bool), 50.0)
    assert repeats.tolist() == [1, 1, 1, 1, 2, 2]  # nearest whole bin, halves up, at least one


def test_scanmatch_known_value():
    # "AB" vs "AC", threshold 1.5, no temporal bins: best = 1.5 (A-A) + 1.5 - sqrt(2) (B-C), over 1.5 * 2.
    score = gaze.scanmatch(word("AB"), word("AC"), SCREEN, grid=GRID, temporal_bin_ms=None, threshold=1.5)
    assert score == pytest.approx((3 - np.sqrt(2)) / 3, abs=1e-12)
    # With 100 ms fixations and 50 ms bins: "AABB" vs "AACC" gives the same normalised score.
    binned = gaze.scanmatch(word("AB"), word("AC"), SCREEN, grid=GRID, temporal_bin_ms=50.0, threshold=1.5)
    assert binned == pytest.approx(score, abs=1e-12)


def test_scanmatch_identity_range_and_empty():
    rng = np.random.default_rng(2)
    a = [word("".join(rng.choice(list("ABCD"), n)), duration=rng.uniform(50, 400)) for n in rng.integers(1, 9, 40)]
    b = [word("".join(rng.choice(list("ABCD"), n)), duration=rng.uniform(50, 400)) for n in rng.integers(1, 9, 40)]
    assert (gaze.scanmatch(a, a, SCREEN, grid=GRID, threshold=1.0) == 1.0).all()
    scores = gaze.scanmatch(a, b, SCREEN, grid=GRID, threshold=1.0)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert gaze.scanmatch(word(""), word(""), SCREEN, grid=GRID, threshold=1.0) == 1.0
    assert gaze.scanmatch(word("AB"), word(""), SCREEN, grid=GRID, threshold=1.0) == 0.0


def test_scanmatch_default_threshold_is_twice_the_amplitude_sd():
    a, b = word("ABDC"), word("DA")
    amplitudes = np.array([1.0, 1.0, 1.0, np.sqrt(2)])  # in cells: A-B, B-D, D-C, D-A
    assert gaze.scanmatch_threshold([a, b], SCREEN, GRID) == pytest.approx(2 * amplitudes.std())
    explicit = gaze.scanmatch(a, b, SCREEN, grid=GRID, threshold=2 * amplitudes.std())
    assert gaze.scanmatch(a, b, SCREEN, grid=GRID) == explicit
    with pytest.raises(ConfigError, match="threshold"):
        gaze.scanmatch(word("A"), word("B"), SCREEN, grid=GRID)  # no saccades to set it from


# -- DTW and Fréchet -------------------------------------------------------------------------------------
def _xy(points):
    return np.asarray(points, dtype=float)


def test_dtw_and_frechet_known_values():
    a = _xy([[0, 0], [1, 0], [2, 0]])
    b = _xy([[0, 1], [2, 1]])
    assert gaze.dtw(a, b) == pytest.approx(2 + np.sqrt(2), abs=1e-12)
    assert gaze.frechet(a, b) == pytest.approx(np.sqrt(2), abs=1e-12)
    assert gaze.dtw(a, a) == 0.0 and gaze.frechet(a, a) == 0.0


def test_dtw_and_frechet_batch_symmetry_and_reference():
    rng = np.random.default_rng(3)
    a = [rng.uniform(0, 800, (n, 2)) for n in rng.integers(1, 15, 40)]
    b = [rng.uniform(0, 800, (n, 2)) for n in rng.integers(1, 15, 40)]
    for name in ("dtw", "frechet"):
        ours = getattr(gaze, name)(a, b)
        np.testing.assert_allclose(ours, getattr(gaze, name)(b, a), rtol=0, atol=1e-9)
        expected = [getattr(reference, name)(np.linalg.norm(p[:, None] - q[None], axis=-1)) for p, q in zip(a, b)]
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)
    assert (gaze.frechet(a, b) <= gaze.dtw(a, b) + 1e-9).all()  # the largest step is at most the sum


def test_dtw_and_frechet_reject_empty_scanpaths():
    for name in ("dtw", "frechet"):
        with pytest.raises(DataFormatError, match="empty"):
            getattr(gaze, name)([_xy([[0, 0]]), np.zeros((0, 2))], [_xy([[1, 1]]), _xy([[1, 1]])])
