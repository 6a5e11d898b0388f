"""Time-delay embedding distance against a plain loop of its definition."""

import numpy as np
import pytest

from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, DataFormatError, ShapeError
from cogmodels.metrics.trajectory import delay_embedding, tde


def reference_tde(a, b, k, mode="mean"):
    """Literal definition: windows of k points, mean pointwise distance, closest window of b per window of a."""
    mins = []
    for i in range(len(a) - k + 1):
        best = np.inf
        for j in range(len(b) - k + 1):
            d = sum(np.hypot(a[i + m][0] - b[j + m][0], a[i + m][1] - b[j + m][1]) for m in range(k)) / k
            best = min(best, d)
        mins.append(best)
    return sum(mins) / len(mins) if mode == "mean" else max(mins)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("mode", ["mean", "hausdorff"])
def test_tde_matches_the_definition(k, mode):
    rng = np.random.default_rng(k)
    for _ in range(5):
        a, b = rng.uniform(0, 800, (rng.integers(k, 15), 2)), rng.uniform(0, 600, (rng.integers(k, 15), 2))
        assert tde(a, b, k, mode=mode) == pytest.approx(reference_tde(a, b, k, mode), rel=1e-12)


def test_tde_long_trajectories_are_chunked_exactly():
    rng = np.random.default_rng(0)
    a, b = np.cumsum(rng.normal(0, 3, (400, 2)), 0), np.cumsum(rng.normal(0, 3, (350, 2)), 0)
    assert tde(a, b, 4) == pytest.approx(reference_tde(a, b, 4), rel=1e-10)


def test_tde_is_zero_on_itself_and_asymmetric_otherwise():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 100, (8, 2))
    b = np.concatenate([a, rng.uniform(0, 100, (6, 2))])  # b contains a
    assert tde(a, a) == 0.0
    assert tde(a, b) == 0.0 and tde(b, a) > 0
    assert tde(a, b, symmetric=True) == pytest.approx(0.5 * tde(b, a))


def test_tde_pairs_scanpaths_and_short_sequences():
    rng = np.random.default_rng(2)
    paths = [Scanpath.from_arrays(*rng.uniform(0, 50, (2, n)), duration=np.full(n, 100.0)) for n in (5, 6, 2)]
    others = [rng.uniform(0, 50, (7, 2)) for _ in range(3)]
    with pytest.warns(UserWarning, match="1 of 3 pairs"):
        values = tde(paths, others, 3)
    assert values[0] == pytest.approx(reference_tde(paths[0].xy, others[0], 3))
    assert np.isnan(values[2])
    with pytest.raises(DataFormatError, match="at least k=3"):
        tde(paths[2], others[0], 3, on_short="raise")


def test_tde_bad_inputs():
    a = np.zeros((5, 2))
    with pytest.raises(ConfigError, match="k"):
        tde(a, a, 0)
    with pytest.raises(ConfigError, match="mode"):
        tde(a, a, mode="median")
    with pytest.raises(ShapeError):
        tde(np.zeros((5, 3)), a)
    with pytest.raises(DataFormatError, match="NaN"):
        tde(np.full((5, 2), np.nan), a)
    with pytest.raises(ShapeError, match="equal length"):
        tde([a, a], [a])


def test_delay_embedding_windows():
    pts = np.arange(10.0).reshape(5, 2)
    win = delay_embedding(pts, 3)
    assert win.shape == (3, 3, 2)
    np.testing.assert_array_equal(win[1], pts[1:4])
