"""Search-asymmetry metrics against hand-computable cases and the published human mean."""

import numpy as np
import pytest

from cogmodels.data.search import SearchResult
from cogmodels.errors import DataFormatError, ShapeError
from cogmodels.metrics import search


def test_fixations_and_rt_map():
    results = [SearchResult(np.zeros((2, 2)), True, 2), SearchResult(np.zeros((5, 2)), False, 5)]
    assert search.fixations_to_target(results).tolist() == [2, 5]
    assert np.allclose(search.rt_from_fixations([0, 2]), [376.271, 376.271 + 2 * 252.359])


def test_slopes_of_exact_lines_and_of_trial_values():
    sizes = np.array([1, 4, 8, 1, 4, 8])
    conditions = np.array(["e/a"] * 3 + ["e/b"] * 3)
    values = np.concatenate([3 + 2 * sizes[:3], 10 - 0.5 * sizes[3:]])
    assert search.slopes(values, sizes, conditions) == pytest.approx({"e/a": 2.0, "e/b": -0.5})
    # per-trial values: the slope of the means per set size (two trials per size, means 1, 2, 3 at 1, 2, 3)
    got = search.slopes([0, 2, 1, 3, 2, 4], [1, 1, 2, 2, 3, 3], ["x/y"] * 6)
    assert got["x/y"] == pytest.approx(1.0)


def test_asymmetry_index_cases():
    assert search.asymmetry_index(3.0, 1.0) == pytest.approx(0.5)
    assert search.asymmetry_index(1.0, 3.0) == pytest.approx(-0.5)
    assert search.asymmetry_index(2.0, -1.0) == pytest.approx(1.0)  # negative slope clipped to 0
    assert search.asymmetry_index(-2.0, 4.0) == pytest.approx(-1.0)
    assert search.asymmetry_index(-1.0, 0.0) == 0.0  # no asymmetry either way


def test_human_reference_gives_the_published_mean():
    table = search.asymmetry_table(search.human_slopes())
    assert table["mean"] == pytest.approx(0.564, abs=5e-4)
    assert table["polarity_matches"] == 6 and table["n_experiments"] == 6
    assert table["hard"]["t_vs_l"] == "t_vs_l/l_target"
    assert table["hard"]["orientation_homogeneous"] == "orientation_homogeneous/target_vertical"


def test_table_follows_human_hardness_and_counts_polarity():
    reference = {"a/x": 10.0, "a/y": 1.0, "b/x": 1.0, "b/y": 10.0}
    model = {"a/x": 3.0, "a/y": 1.0, "b/x": 3.0, "b/y": 1.0}  # same slopes; b's hard condition is y
    table = search.asymmetry_table(model, reference)
    assert table["index"] == pytest.approx({"a": 0.5, "b": -0.5})
    assert table["mean"] == pytest.approx(0.0) and table["polarity_matches"] == 1


def test_bad_inputs():
    with pytest.raises(ShapeError):
        search.slopes([1, 2], [1, 2, 3], ["a/b"] * 3)
    with pytest.raises(DataFormatError, match="two set sizes"):
        search.slopes([1, 2], [4, 4], ["a/b"] * 2)
    with pytest.raises(DataFormatError, match="finite"):
        search.slopes([1, np.nan], [1, 2], ["a/b"] * 2)
    with pytest.raises(DataFormatError, match="two conditions"):
        search.asymmetry_table({"a/x": 1.0}, {"a/x": 1.0, "a/y": 2.0})
    with pytest.raises(DataFormatError, match="experiment"):
        search.experiment_of("no_slash")
