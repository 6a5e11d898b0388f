"""RSA metrics: RDMs, comparisons, noise ceilings and stimulus bootstrap, checked against rsatoolbox."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cogmodels.errors import DataFormatError, ShapeError
from cogmodels.metrics import rsa
from cogmodels.metrics._rsa_bootstrap import _expanded_scores, weighted_ranks

rsatoolbox = pytest.importorskip("rsatoolbox")
from rsatoolbox.inference.bootstrap import bootstrap_sample_pattern  # noqa: E402
from rsatoolbox.inference.noise_ceiling import boot_noise_ceiling  # noqa: E402
from rsatoolbox.rdm import RDMs  # noqa: E402
from rsatoolbox.rdm import compare as rsatoolbox_compare  # noqa: E402

PEER_METHOD = {"spearman": "spearman", "pearson": "corr", "kendall_tau_a": "tau-a"}
TOL = 1e-10


def _data(seed=0, n=16, n_subjects=4, noise=2.0):
    """A true pattern set, subject RDMs = true + independent noise, and a model seeing part of the truth."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 40))
    subjects = np.stack([rsa.rdm(X + noise * rng.normal(size=X.shape)) for _ in range(n_subjects)])
    subjects[0, 1, 2] = subjects[0, 2, 1] = subjects[0, 3, 4]  # a tie, to exercise tie handling
    return X, subjects, rsa.rdm(X[:, :15])


def _peer_rdms(rdms):
    return RDMs(rsa.upper(np.asarray(rdms).reshape(-1, *np.shape(rdms)[-2:])))


def _peer_quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Noise ceiling for tau based on averaged ranks!"
        return func(*args, **kwargs)


# -- RDMs ---------------------------------------------------------------------------------
def test_rdm_matches_rsatoolbox():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 300)).astype(np.float32) * 3 + 1
    data = rsatoolbox.data.Dataset(X.astype(np.float64))
    peer_corr = rsatoolbox.rdm.calc_rdm(data, method="correlation").get_matrices()[0]
    peer_euclid = rsatoolbox.rdm.calc_rdm(data, method="euclidean").get_matrices()[0]
    assert np.abs(rsa.rdm(X) - peer_corr).max() < TOL
    # rsatoolbox's "euclidean" is the squared distance / n_features
    assert np.abs(rsa.rdm(X, metric="euclidean") ** 2 / X.shape[1] - peer_euclid).max() < TOL


def test_rdm_is_one_minus_pearson_and_blocks_do_not_change_it(monkeypatch):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 50))
    expected = 1 - np.corrcoef(X)
    np.fill_diagonal(expected, 0)
    monkeypatch.setattr(rsa, "_FEATURE_BLOCK", 7)  # several float64 accumulation blocks
    assert np.abs(rsa.rdm(X) - expected).max() < TOL
    out = rsa.rdm(X, "euclidean")
    assert np.allclose(out[1, 4], np.linalg.norm(X[1] - X[4]))


def test_rdm_rejects_constant_rows_and_unknown_metric():
    X = np.random.default_rng(0).normal(size=(5, 8))
    X[3] = 2.0
    with pytest.raises(DataFormatError, match="constant rows.*\\[3\\]"):
        rsa.rdm(X)
    assert np.isfinite(rsa.rdm(X, "euclidean")).all()
    with pytest.raises(DataFormatError, match="one of"):
        rsa.rdm(X, metric="cosine")


# -- comparisons and ceilings against rsatoolbox ---------------------------------------------
@pytest.mark.parametrize("method", list(PEER_METHOD))
def test_compare_and_noise_ceiling_match_rsatoolbox(method):
    _, subjects, model = _data()
    ours = np.array([rsa.compare(model, s, method) for s in subjects])
    theirs = _peer_quiet(rsatoolbox_compare, _peer_rdms(model), _peer_rdms(subjects), PEER_METHOD[method])[0]
    assert np.abs(ours - theirs).max() < TOL
    lower, upper = rsa.noise_ceiling(subjects, method)
    peer = _peer_quiet(boot_noise_ceiling, _peer_rdms(subjects), method=PEER_METHOD[method])
    assert abs(lower - peer[0]) < TOL and abs(upper - peer[1]) < TOL
    assert lower < upper


def test_noise_ceiling_definition_on_the_pooled_ranks():
    """Upper bound = mean r(subject, pool of all); lower = with the subject left out (Nili et al. 2014)."""
    from scipy.stats import rankdata, spearmanr

    _, subjects, _ = _data(seed=3, n_subjects=3)
    vectors = rsa.upper(subjects)
    ranks = np.array([rankdata(v) for v in vectors])
    upper = np.mean([spearmanr(ranks.mean(0), v).statistic for v in vectors])
    lower = np.mean([spearmanr(np.delete(ranks, s, 0).mean(0), vectors[s]).statistic for s in range(3)])
    assert np.allclose(rsa.noise_ceiling(subjects), (lower, upper), atol=TOL)


def test_kendall_tau_a_counts_ties_in_the_denominator():
    a = rsa.square(np.array([1.0, 2, 3, 4, 5, 6]))
    b = rsa.square(np.array([1.0, 1, 1, 2, 3, 4]))  # 3 tied pairs: 15 pairs, 12 concordant, 0 discordant
    assert rsa.compare(a, b, "kendall_tau_a") == pytest.approx(12 / 15)
    assert rsa.compare(a, a, "spearman") == pytest.approx(1.0)
    assert rsa.compare(a, rsa.square(7.0 - np.arange(1.0, 7)), "pearson") == pytest.approx(-1.0)


# -- bootstrap -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", list(PEER_METHOD))
def test_bootstrap_samples_match_rsatoolbox(method):
    """Same stimulus draws as rsatoolbox's eval_bootstrap_pattern: same scores and ceilings per sample."""
    _, subjects, model = _data(n=12, n_subjects=3)
    peer_data, peer_model = _peer_rdms(subjects), _peer_rdms(model)
    np.random.seed(4)
    draws, scores, ceilings = [], [], []
    for _ in range(4 if method == "kendall_tau_a" else 8):
        sample, pattern_idx = bootstrap_sample_pattern(peer_data)
        draws.append(pattern_idx)
        sampled_model = peer_model.subsample_pattern("index", pattern_idx)
        scores.append(np.mean(_peer_quiet(rsatoolbox_compare, sampled_model, sample, PEER_METHOD[method])))
        ceilings.append(_peer_quiet(boot_noise_ceiling, sample, method=PEER_METHOD[method]))
    result = rsa.bootstrap(model, subjects, method, indices=np.array(draws))
    assert np.abs(result.samples[:, 0] - np.array(scores)).max() < TOL
    assert np.abs(result.ceiling_samples - np.array(ceilings)).max() < TOL


def test_weighted_ranks_equal_ranks_of_the_expanded_vector():
    from scipy.stats import rankdata

    rng = np.random.default_rng(5)
    values = rng.integers(0, 6, size=30).astype(float)  # many ties
    weights = rng.integers(0, 4, size=(3, 30)).astype(float)
    ranks = weighted_ranks(values, weights)
    for b in range(3):
        expected = rankdata(np.repeat(values, weights[b].astype(int)))
        assert np.allclose(np.repeat(ranks[b], weights[b].astype(int)), expected)
    per_row = weighted_ranks(np.broadcast_to(values, (3, 30)).copy(), weights)
    keep = weights > 0
    assert np.allclose(per_row[keep], ranks[keep])


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_fast_bootstrap_path_equals_the_expanded_path(method):
    _, subjects, model = _data(seed=6, n=10, n_subjects=3)
    rng = np.random.default_rng(7)
    draws = rng.integers(0, 10, size=(5, 10))
    result = rsa.bootstrap(np.stack([model, subjects[1]]), subjects, method, indices=draws)
    i, j = np.triu_indices(10, 1)
    for b, draw in enumerate(draws):
        counts = np.bincount(draw, minlength=10).astype(float)
        expected, ceiling = _expanded_scores(rsa.upper(np.stack([model, subjects[1]])), rsa.upper(subjects),
                                             counts[i] * counts[j], method, True)
        assert np.allclose(result.samples[b], expected, atol=TOL)
        assert np.allclose(result.ceiling_samples[b], ceiling, atol=TOL)


def test_bootstrap_is_seeded_and_separates_a_true_model_from_a_wrong_one():
    X, subjects, _ = _data(seed=8, n=24, n_subjects=4, noise=1.5)
    truth = rsa.rdm(X)
    wrong = rsa.rdm(np.random.default_rng(9).normal(size=X.shape))
    first = rsa.bootstrap(np.stack([truth, wrong]), subjects, n_boot=200, seed=3)
    again = rsa.bootstrap(np.stack([truth, wrong]), subjects, n_boot=200, seed=3)
    other = rsa.bootstrap(np.stack([truth, wrong]), subjects, n_boot=200, seed=4)
    assert np.array_equal(first.samples, again.samples)
    assert not np.array_equal(first.samples, other.samples)
    assert first.ci[1, 1] < first.ci[0, 0]  # the wrong model's CI lies below the true model's
    assert first.ci[0, 0] <= first.scores[0] <= first.ci[0, 1]
    assert first.ceiling_ci.shape == (2, 2) and first.ceiling[0] < first.ceiling[1]


# -- bad inputs ------------------------------------------------------------------------------
def test_asymmetric_rdm_is_rejected_with_the_pair():
    rdm = rsa.rdm(np.random.default_rng(0).normal(size=(5, 7)))
    rdm[1, 3] += 0.5
    with pytest.raises(DataFormatError, match=r"symmetric.*rdm\[1, 3\].*Fix"):
        rsa.compare(rdm, rdm.T)
    with pytest.raises(DataFormatError, match="symmetric"):
        rsa.noise_ceiling(np.stack([rdm, rdm.T]))


def test_nonzero_diagonal_is_rejected():
    similarity = np.corrcoef(np.random.default_rng(0).normal(size=(5, 7)))  # 1 on the diagonal
    with pytest.raises(DataFormatError, match=r"zeros on the diagonal.*rdm\[0, 0\] = 1.*1 - r"):
        rsa.compare(similarity, similarity)


def test_rdms_of_different_sizes_are_rejected():
    a = rsa.rdm(np.random.default_rng(0).normal(size=(5, 7)))
    b = rsa.rdm(np.random.default_rng(1).normal(size=(6, 7)))
    with pytest.raises(ShapeError, match=r"same size.*\(5, 5\) and \(6, 6\)"):
        rsa.compare(a, b)
    with pytest.raises(ShapeError, match="same size"):
        rsa.noise_ceiling([a, b])
    with pytest.raises(ShapeError, match="same size"):
        rsa.bootstrap(a, np.stack([b, b]), n_boot=2)


def test_other_bad_inputs():
    a = rsa.rdm(np.random.default_rng(0).normal(size=(5, 7)))
    with pytest.raises(DataFormatError, match="one of"):
        rsa.compare(a, a, method="cosine")
    with pytest.raises(ShapeError, match="square"):
        rsa.compare(a[:, :4], a[:, :4])
    nan = a.copy()
    nan[0, 1] = nan[1, 0] = np.nan
    with pytest.raises(DataFormatError, match="NaN"):
        rsa.compare(nan, a)
    with pytest.raises(ShapeError, match="at least 2 subject"):
        rsa.noise_ceiling(a[None])


# -- the 92-image data ---------------------------------------------------------------------------
@pytest.mark.shared_data
def test_real_92_image_rdms_match_rsatoolbox(shared_data):
    from cogmodels.datasets import kriegeskorte92

    if not (shared_data / "rsa92").is_dir():
        pytest.skip(f"rsa92 not found under {shared_data}")
    ds = kriegeskorte92.load(root=shared_data / "rsa92")
    rdms = ds.meta["rdms"]
    subjects = np.stack([rdms[name] for name in ds.meta["rdm_groups"]["hIT"]])
    model = rdms["mIT_fig1"]
    for method, peer in PEER_METHOD.items():
        ours = [rsa.compare(model, s, method) for s in subjects]
        theirs = _peer_quiet(rsatoolbox_compare, _peer_rdms(model), _peer_rdms(subjects), peer)[0]
        assert np.abs(np.array(ours) - theirs).max() < TOL
        ceiling = rsa.noise_ceiling(subjects, method)
        assert np.abs(np.array(ceiling) - _peer_quiet(boot_noise_ceiling, _peer_rdms(subjects), method=peer)).max() \
            < TOL
