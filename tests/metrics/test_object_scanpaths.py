"""Object-level scanpath metrics: string metrics on object IDs and behavioural statistics."""

from __future__ import annotations

import numpy as np
import pytest

from cogmodels.errors import DataFormatError, ShapeError
from cogmodels.metrics import object_scanpaths as osp


def _lcs(a, b):
    table = np.zeros((len(a) + 1, len(b) + 1), int)
    for i in range(len(a)):
        for j in range(len(b)):
            table[i + 1, j + 1] = table[i, j] + 1 if a[i] == b[j] else max(table[i, j + 1], table[i + 1, j])
    return table[-1, -1]


def _levenshtein(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_string_metrics_match_reference_on_random_object_strings():
    rng = np.random.default_rng(0)
    a = [rng.integers(0, 30, rng.integers(1, 12)) for _ in range(40)]
    b = [rng.integers(0, 30, rng.integers(1, 12)) for _ in range(40)]
    expected_score = [_lcs(x, y) / max(len(x), len(y)) for x, y in zip(a, b)]
    expected_distance = [_levenshtein(list(x), list(y)) / max(len(x), len(y)) for x, y in zip(a, b)]
    np.testing.assert_allclose(osp.sequence_score(a, b), expected_score)
    np.testing.assert_allclose(osp.edit_distance(a, b), expected_distance)
    assert osp.edit_distance([4, 7], [4, 7, 9], normalise=False) == 1
    assert osp.sequence_score([5, 6, 7], [5, 6, 7]) == 1.0
    # IDs far apart are different regions (no spatial binning)
    assert osp.sequence_score([0], [1000]) == 0.0


def test_behaviour_statistics_follow_their_definitions():
    stats = osp.behaviour([[3, 3, 5, 3, 5], [1, 2], [4]], targets=[5, 9, 4])
    np.testing.assert_array_equal(stats["target_found"], [1, 0, 1])
    np.testing.assert_array_equal(stats["length"], [5, 2, 1])
    np.testing.assert_allclose(stats["search_proportion"], [2 / 5, 1.0, 0.0])
    np.testing.assert_allclose(stats["refixation_proportion"], [1 / 4, 0, 0])
    np.testing.assert_allclose(stats["revisit_proportion"], [2 / 4, 0, 0])  # 3 at index 3, 5 at index 4


def test_behaviour_deviation_is_relative_and_zero_for_identical():
    seqs = [[1, 2, 1, 3], [2, 2, 1]]
    same = osp.behaviour_deviation(seqs, [3, 1], seqs, [3, 1])
    assert same["mean_relative_deviation"] == 0.0
    longer = osp.behaviour_deviation([[1, 2, 3, 4, 5, 6, 6, 1]], [6], [[1, 2, 6, 6, 1]], [6])
    assert longer["relative_deviation"]["length"] == pytest.approx(3 / 5)
    with pytest.warns(UserWarning, match="human mean is 0"):
        osp.behaviour_deviation([[1, 1]], [1], [[1, 2]], [1])


def test_bad_inputs():
    with pytest.raises(DataFormatError, match="object IDs"):
        osp.sequence_score([1.5, 2.0], [1, 2])
    with pytest.raises(ShapeError):
        osp.sequence_score([[1, 2]], [[1], [2]])
    with pytest.raises(DataFormatError, match="empty"):
        osp.behaviour([[]], [0])


def test_to_object_ids_uses_boxes():
    boxes = np.array([[0, 0, 10, 10], [10, 0, 20, 10]], float)
    np.testing.assert_array_equal(osp.to_object_ids(np.array([[2, 3], [15, 5], [30, 5]]), boxes), [0, 1, 1])
