"""Time-resolved ridge: agrees with the closed-form reference; bootstrap, BH-FDR and site labels."""

import numpy as np
import pytest

from cogmodels.encoders.time_resolved import (
    TimeResolvedRidge, compare, compare_population, integration_analysis, label_sites, reference_fit, score_models)
from cogmodels.errors import ConfigError, ShapeError
from cogmodels.metrics.stats import benjamini_hochberg, bootstrap_indices, bootstrap_pearson


@pytest.mark.parametrize("n_features", [6, 90])  # primal and kernel forms of the decomposition
def test_batched_equals_the_per_target_reference(n_features):
    rng = np.random.default_rng(n_features)
    X = rng.standard_normal((60, n_features))
    Y = (X @ rng.standard_normal((n_features, 12)) / np.sqrt(n_features) + rng.standard_normal((60, 12)))
    alphas = np.logspace(-1, 4, 6)
    fit = TimeResolvedRidge(alphas, 5).fit(X, Y.reshape(60, 3, 4))
    np.testing.assert_allclose(fit.scores_.ravel(), reference_fit(X, Y, alphas, 5), atol=1e-8)
    assert fit.predictions_.shape == (fit.test_index_.size, 3, 4)
    assert np.all(np.diff(fit.test_index_) > 0)  # test events in time order (no shuffling)


def test_benjamini_hochberg_matches_the_step_up_rule():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    rejected, adjusted = benjamini_hochberg(p, 0.05)
    assert rejected.tolist() == [True, True] + [False] * 8  # 0.039 > 3/10 * 0.05
    assert np.all(np.diff(adjusted[np.argsort(p)]) >= 0)


def test_bootstrap_indices_are_shared_and_pearson_matches_a_direct_resample():
    rng = np.random.default_rng(0)
    y, p = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    idx = bootstrap_indices(30, 5, seed=3)
    np.testing.assert_array_equal(idx, bootstrap_indices(30, 5, seed=3))
    boot = bootstrap_pearson(y, p, idx)
    direct = [np.corrcoef(y[i, 1], p[i, 1])[0, 1] for i in idx]
    np.testing.assert_allclose(boot[:, 1], direct, atol=1e-10)


def test_labels_find_the_interaction_site_and_not_the_linear_ones():
    rng = np.random.default_rng(1)
    n = 200
    a, b = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))
    Y = np.zeros((n, 3, 4))
    Y[:, 0, 2] = a[:, 0]                      # "vision" site
    Y[:, 1, 2] = b[:, 0]                      # "language" site
    Y[:, 2, 2] = a[:, 1] * b[:, 1]            # interaction: neither alone explains it
    Y += 0.5 * rng.standard_normal(Y.shape)
    features = {"vision": a, "language": b, "concat": np.c_[a, b], "multimodal": np.c_[a, b, a * b]}
    scores = score_models(features, Y, np.array([-0.2, 0.0, 0.2, 0.4]), n_boot=300, seed=0)
    labels = label_sites(scores, "vision", "language", "multimodal", "concat", window=(0.0, None))["label"]
    assert labels.tolist() == ["vision", "language", "integration"]
    # control: without the interaction term the multimodal model has no edge, so no integration site
    features["multimodal"] = np.c_[a, b, rng.standard_normal((n, 3))]
    control = score_models(features, Y, np.array([-0.2, 0.0, 0.2, 0.4]), n_boot=300, seed=0)
    assert "integration" not in label_sites(control, "vision", "language", "multimodal", "concat")["label"]


def _brief_response(rng, n=160, n_times=10, noise_b=1.5):
    """Electrode 0 responds in one bin of ten to a latent that A carries cleanly and B with noise; electrode 1
    never responds."""
    latent = rng.standard_normal((n, 2))
    A = latent + 0.1 * rng.standard_normal((n, 2))
    B = latent + noise_b * rng.standard_normal((n, 2))
    Y = rng.standard_normal((n, 2, n_times))
    Y[:, 0, 3] += 2 * latent[:, 0]
    return {"A": A, "B": B}, Y, np.arange(n_times) * 0.2


def test_compare_over_responsive_bins_finds_a_brief_advantage_and_not_an_absent_one():
    rng = np.random.default_rng(4)
    features, Y, times = _brief_response(rng)
    scores = score_models(features, Y, times, n_boot=300, seed=0)
    wins, p, diff = compare(scores, "A", "B", (0.0, None), responsive_only=True)
    assert wins.tolist() == [True, False] and diff[0] > 0.2
    assert p[1] == 1.0 and diff[1] == 0.0  # no responsive bin: no evidence either way
    p_group, d_group = compare_population(scores, "A", "B", [0], (0.0, None), responsive_only=True)
    assert p_group < 0.05 and d_group == pytest.approx(diff[0])
    # control: B carries the latent as cleanly as A, so A must not win
    features["B"] = features["A"][:, ::-1] + 0.1 * rng.standard_normal(features["A"].shape)
    control = score_models(features, Y, times, n_boot=300, seed=0)
    assert not compare(control, "A", "B", (0.0, None), responsive_only=True)[0].any()


def test_integration_analysis_takes_a_dataset_and_feature_sets():
    import pandas as pd
    from types import SimpleNamespace

    rng = np.random.default_rng(1)
    n = 200
    a, b = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))
    Y = 0.5 * rng.standard_normal((n, 3, 4))
    Y[:, 0, 2] += a[:, 0]
    Y[:, 1, 2] += b[:, 0]
    Y[:, 2, 2] += a[:, 1] * b[:, 1]
    responses = SimpleNamespace(responses=Y, times=np.array([-0.2, 0.0, 0.2, 0.4]),
                                channels=pd.DataFrame({"id": ["V1-V2", "L1-L2", "I1-I2"]}))
    dataset = SimpleNamespace(responses=responses)
    features = {"vision": a, "language": b, "multimodal": np.c_[a, b, a * b]}  # concat built from the two
    result = integration_analysis(dataset, features, window=(0.0, None), n_boot=300)
    assert result.label.tolist() == ["vision", "language", "integration"]
    assert result.integration.tolist() == [False, False, True] and result.channels.tolist() == ["V1-V2", "L1-L2",
                                                                                                  "I1-I2"]
    assert set(result.scores.r) == {"vision", "language", "multimodal", "concat"}
    assert result.scores.low["multimodal"].shape == (3, 4) and result.best_model[2] == "multimodal"
    direct = integration_analysis(responses, features, window=(0.0, None), n_boot=300)  # a BrainResponses
    np.testing.assert_array_equal(direct.scores.r["multimodal"], result.scores.r["multimodal"])
    with pytest.raises(ConfigError, match="multimodal"):
        integration_analysis(dataset, {"vision": a, "language": b})
    with pytest.raises(ShapeError, match="n_events=200"):
        integration_analysis(dataset, {**features, "vision": a[:10]})
