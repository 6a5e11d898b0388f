"""pooled_paired_difference: the paired-bootstrap difference of two models pooled over cells (issue 8)."""

from __future__ import annotations

import numpy as np
import pytest

from cogmodels.errors import ConfigError, ShapeError
from cogmodels.metrics.brain import pearson_r
from cogmodels.metrics.stats import bootstrap_indices, bootstrap_pearson, pooled_paired_difference


def _cells(rng, n_cells=3, n_items=60, n_channels=5, gain=0.0):
    """Per cell: responses and the predictions of two models; model A is better by ``gain`` (signal share)."""
    out = []
    for _ in range(n_cells):
        y = rng.standard_normal((n_items, n_channels))
        noise = rng.standard_normal((n_items, n_channels))
        out.append((y, y + 2.0 * noise - gain * noise, y + 2.0 * noise + 0.3 * rng.standard_normal((n_items, n_channels))))
    return out


def _pooled(cells, n_boot=400):
    point_a, point_b, boot_a, boot_b = [], [], [], []
    concatenated = []  # the same statistic computed directly: mean over all channels of all cells
    for k, (y, a, b) in enumerate(cells):
        indices = bootstrap_indices(y.shape[0], n_boot, seed=[k, 1])
        ra, rb = bootstrap_pearson(y, a, indices), bootstrap_pearson(y, b, indices)
        point_a.append(pearson_r(y, a).mean())
        point_b.append(pearson_r(y, b).mean())
        boot_a.append(ra.mean(axis=1))
        boot_b.append(rb.mean(axis=1))
        concatenated.append(ra - rb)
    result = pooled_paired_difference(point_a, point_b, np.stack(boot_a, 1), np.stack(boot_b, 1),
                                      weights=[y.shape[1] for y, _, _ in cells])
    return result, np.concatenate(concatenated, axis=1).mean(axis=1)


def test_equals_the_mean_over_all_channels_and_finds_a_real_gain():
    rng = np.random.default_rng(0)
    cells = _cells(rng, gain=1.0)
    (diff, low, high), direct = _pooled(cells)
    expected = np.mean(np.concatenate([pearson_r(y, a) - pearson_r(y, b) for y, a, b in cells]))
    assert diff == pytest.approx(expected)
    assert (low, high) == pytest.approx(tuple(np.percentile(direct, [2.5, 97.5])))
    assert 0 < low < diff < high  # A is better: the CI excludes 0


def test_no_gain_gives_a_ci_around_zero_and_pairing_narrows_it():
    rng = np.random.default_rng(1)
    cells = _cells(rng, gain=0.0)
    (diff, low, high), _ = _pooled(cells)
    assert low < 0 < high or abs(diff) < 0.02
    # Unpaired (each model resampled on its own indices) the interval is wider: pairing removes item variance.
    point_a = [pearson_r(y, a).mean() for y, a, _ in cells]
    point_b = [pearson_r(y, b).mean() for y, _, b in cells]
    boot_a = np.stack([bootstrap_pearson(y, a, bootstrap_indices(60, 400, seed=[k, 1])).mean(1)
                       for k, (y, a, _) in enumerate(cells)], 1)
    boot_b = np.stack([bootstrap_pearson(y, b, bootstrap_indices(60, 400, seed=[k, 2])).mean(1)
                       for k, (y, _, b) in enumerate(cells)], 1)
    _, u_low, u_high = pooled_paired_difference(point_a, point_b, boot_a, boot_b)
    assert high - low < u_high - u_low


def test_bad_shapes_and_weights_are_typed_errors():
    with pytest.raises(ShapeError, match="n_cells"):
        pooled_paired_difference([0.1, 0.2], [0.1, 0.2], np.zeros((10, 3)), np.zeros((10, 3)))
    with pytest.raises(ConfigError, match="weights"):
        pooled_paired_difference([0.1], [0.2], np.zeros((10, 1)), np.zeros((10, 1)), weights=[0.0])
