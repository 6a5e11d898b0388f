"""Brain metrics: Pearson r, NSD noise ceiling, Algonauts normalised accuracy, bootstrap CI, ROI summaries."""

import numpy as np
import pandas as pd
import pytest

from cogmodels.data import make_channel_table
from cogmodels.errors import DataFormatError, ShapeError
from cogmodels.metrics import brain
from cogmodels.metrics.brain import UndefinedMetricWarning


def test_pearson_r_matches_numpy_corrcoef():
    rng = np.random.default_rng(0)
    y_true = rng.standard_normal((40, 7))
    y_pred = y_true * rng.uniform(-1, 1, 7) + rng.standard_normal((40, 7))
    expected = [np.corrcoef(y_true[:, j], y_pred[:, j])[0, 1] for j in range(7)]
    np.testing.assert_allclose(brain.pearson_r(y_true, y_pred), expected, rtol=1e-12)
    np.testing.assert_allclose(brain.pearson_r(y_true[:, 0], y_pred[:, 0]), expected[:1], rtol=1e-12)


def test_pearson_r_accumulates_float32_in_float64():
    rng = np.random.default_rng(1)
    signal = rng.standard_normal((5000, 3))
    y_true = (1e4 + signal).astype(np.float32)  # a large offset ruins float32 sums of squares
    y_pred = (signal + rng.standard_normal((5000, 3))).astype(np.float32)
    expected = [np.corrcoef(y_true[:, j].astype(np.float64), y_pred[:, j].astype(np.float64))[0, 1]
                for j in range(3)]
    np.testing.assert_allclose(brain.pearson_r(y_true, y_pred), expected, rtol=1e-9)


def test_pearson_r_zero_variance_is_nan_with_a_count():
    rng = np.random.default_rng(2)
    y_true, y_pred = rng.standard_normal((20, 5)), rng.standard_normal((20, 5))
    y_true[:, 1] = 0.1  # constant (its float mean need not equal 0.1 exactly)
    y_pred[:, 3] = -2.0
    with pytest.warns(UndefinedMetricWarning, match="2 of 5 channels"):
        r = brain.pearson_r(y_true, y_pred)
    assert np.isnan(r[[1, 3]]).all() and np.isfinite(r[[0, 2, 4]]).all()


def test_pearson_r_bad_shapes():
    with pytest.raises(ShapeError, match="y_true/y_pred"):
        brain.pearson_r(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ShapeError, match="2 stimuli"):
        brain.pearson_r(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(DataFormatError, match="y_pred"):
        brain.pearson_r(np.ones((4, 2)), np.array([[1.0, 2], [np.nan, 1], [3, 4], [5, 6]]))


def _simulate_repeats(rng, n_stimuli=300, n_repeats=3, signal_sd=None, missing=0.0):
    """Signal (per stimulus) + independent noise (per repeat); returns repeats and the true NC."""
    signal_sd = np.linspace(0.05, 2.0, 200) if signal_sd is None else signal_sd
    signal = rng.standard_normal((n_stimuli, 1, signal_sd.size)) * signal_sd
    repeats = 3.0 + signal + rng.standard_normal((n_stimuli, n_repeats, signal_sd.size))  # noise sd 1
    if missing:
        drop = rng.random((n_stimuli, n_repeats)) < missing
        drop[:, 0] = False  # every stimulus keeps at least one repeat
        repeats[drop] = np.nan
    return repeats, signal_sd


def test_noise_ceiling_recovers_a_simulated_ceiling():
    rng = np.random.default_rng(3)
    repeats, signal_sd = _simulate_repeats(rng)
    true_nc = signal_sd ** 2 / (signal_sd ** 2 + 1 / 3)  # noise variance 1, 3 repeats averaged
    nc = brain.noise_ceiling(repeats)
    assert np.corrcoef(nc, true_nc)[0, 1] >= 0.9
    assert np.mean(np.abs(nc - true_nc)) < 0.05
    assert np.all((nc >= 0) & (nc <= 1))
    true_single = signal_sd ** 2 / (signal_sd ** 2 + 1)
    assert np.mean(np.abs(brain.noise_ceiling(repeats, n_averaged=1) - true_single)) < 0.05
    np.testing.assert_allclose(brain.ncsnr(repeats) ** 2, nc / (1 - nc) / 3, rtol=1e-9)


def test_noise_ceiling_with_missing_repeats_uses_the_nsd_mixture():
    rng = np.random.default_rng(4)
    repeats, signal_sd = _simulate_repeats(rng, n_stimuli=600, missing=0.4)
    counts = np.isfinite(repeats[:, :, 0]).sum(1)
    inverse_k = np.mean(1 / counts)
    true_nc = signal_sd ** 2 / (signal_sd ** 2 + inverse_k)
    nc = brain.noise_ceiling(repeats)
    assert np.corrcoef(nc, true_nc)[0, 1] >= 0.9
    assert np.mean(np.abs(nc - true_nc)) < 0.05


def test_noise_ceiling_undefined_channels_and_bad_input():
    rng = np.random.default_rng(5)
    repeats, _ = _simulate_repeats(rng, signal_sd=np.ones(4))
    repeats[:, 1, 2] = 5.0  # one repeat constant across stimuli: its z-score is undefined
    with pytest.warns(UndefinedMetricWarning, match="1 of 4 channels"):
        nc = brain.noise_ceiling(repeats)
    assert np.isnan(nc[2]) and np.isfinite(nc[[0, 1, 3]]).all()
    with pytest.raises(ShapeError, match="n_repeats >= 2"):
        brain.noise_ceiling(repeats[:, :1])
    bad = repeats.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(DataFormatError, match="inf"):
        brain.noise_ceiling(bad)
    with pytest.raises(DataFormatError, match="n_averaged"):
        brain.noise_ceiling(repeats[:, :, :1], n_averaged=0)


def test_normalized_accuracy_formula_and_edge_cases():
    r = np.array([0.5, -0.3, 0.9, 0.2, np.nan])
    nc = np.array([0.5, 0.5, 0.5, 0.0, 0.5])
    with pytest.warns(UndefinedMetricWarning, match="2 of 5 channels"):
        accuracy = brain.normalized_accuracy(r, nc)
    np.testing.assert_allclose(accuracy[:3], [100 * 0.25 / 0.5, 0.0, 100.0])  # negative r -> 0; cap at 100
    assert np.isnan(accuracy[3:]).all()  # nc == 0 and r NaN: undefined
    with pytest.raises(DataFormatError, match="percent"):
        brain.normalized_accuracy(np.array([0.5]), np.array([40.0]))
    with pytest.raises(ShapeError, match="r/nc"):
        brain.normalized_accuracy(np.zeros(3), np.ones(2))


def test_bootstrap_ci_covers_the_true_correlation():
    rng = np.random.default_rng(6)
    rho, n, n_channels = 0.5, 80, 300
    y_true = rng.standard_normal((n, n_channels))
    y_pred = rho * y_true + np.sqrt(1 - rho ** 2) * rng.standard_normal((n, n_channels))
    low, high = brain.bootstrap_ci(y_true, y_pred, n_boot=500, ci=0.95, seed=0)
    assert np.all(low <= high)
    coverage = np.mean((low <= rho) & (rho <= high))
    assert 0.88 <= coverage <= 0.99


def test_bootstrap_ci_fast_pearson_equals_the_generic_loop():
    rng = np.random.default_rng(7)
    y_true = rng.standard_normal((30, 5))
    y_pred = y_true + rng.standard_normal((30, 5))
    fast = brain.bootstrap_ci(y_true, y_pred, n_boot=200, seed=3, n_channels_batch=2)
    loop = brain.bootstrap_ci(y_true, y_pred, n_boot=200, seed=3, metric=lambda a, b: brain.pearson_r(a, b))
    np.testing.assert_allclose(fast, loop, rtol=1e-9)
    again = brain.bootstrap_ci(y_true, y_pred, n_boot=200, seed=3, n_channels_batch=2)
    np.testing.assert_array_equal(fast, again)


def test_bootstrap_ci_counts_undefined_resamples():
    y_true = np.array([[1.0], [2.0], [3.0]])
    y_pred = np.array([[1.0], [3.0], [2.0]])
    with pytest.warns(UndefinedMetricWarning, match="undefined in"):
        brain.bootstrap_ci(y_true, y_pred, n_boot=200, seed=0)


def test_roi_aggregate_multilabel_table_and_masks():
    values = np.array([0.1, 0.2, np.nan, 0.4, 0.8])
    table = make_channel_table(5, rois=[("V1",), ("V1", "V2"), ("V2",), ("V2", "FFA"), ()])
    summary = brain.roi_aggregate(values, table, add_all=True).set_index("roi")
    assert list(summary.columns) == ["mean", "median", "n_channels", "n_undefined"]
    assert summary.loc["V2", "n_channels"] == 3 and summary.loc["V2", "n_undefined"] == 1
    assert summary.loc["V2", "mean"] == pytest.approx(0.3)  # channel 1 counts in V1 and in V2
    assert summary.loc["V1", "median"] == pytest.approx(0.15)
    assert summary.loc["all", "n_channels"] == 5 and summary.loc["all", "mean"] == pytest.approx(0.375)
    from_masks = brain.roi_aggregate(values, {"V1": np.array([True, True, False, False, False]),
                                              "FFA": np.array([3])})
    assert isinstance(from_masks, pd.DataFrame)
    assert from_masks.set_index("roi").loc["FFA", "mean"] == pytest.approx(0.4)
    with pytest.warns(UndefinedMetricWarning, match="no defined channel"):
        brain.roi_aggregate(values, {"empty": np.array([2])})
    with pytest.raises(ShapeError, match="rois"):
        brain.roi_aggregate(values, {"V1": np.ones(3, dtype=bool)})
    with pytest.raises(DataFormatError, match="rois"):
        brain.roi_aggregate(values, table.iloc[:2])


def test_normalized_accuracy_refuses_r_beyond_one():
    """Issue 7: an r > 1 (e.g. r² in percent) used to come out as a silent 100."""
    nc = np.array([0.5, 0.9, 0.4])
    np.testing.assert_allclose(brain.normalized_accuracy(np.array([0.5, 1 + 1e-9, -0.2]), nc), [50.0, 100.0, 0.0])
    with pytest.raises(DataFormatError) as err:
        brain.normalized_accuracy(np.array([0.5, 1.2, 0.3]), nc)
    for part in ("r:", "expected Pearson r in [-1, 1]", "found 1 values outside it, e.g. r[1] = 1.2", "Fix:",
                 "not r²"):
        assert part in str(err.value)
