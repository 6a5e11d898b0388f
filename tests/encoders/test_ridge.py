"""RidgeCV: agreement with closed-form ridge, alpha selection, batching, precision, bad input."""

import warnings

import numpy as np
import pytest

from cogmodels.encoders import ENCODERS, RidgeCV
from cogmodels.encoders.ridge import make_folds
from cogmodels.errors import ConfigError, DataFormatError, NotFittedError, ShapeError

ALPHAS = np.logspace(-3, 4, 10)


def _closed_form_cv(X, Y, alphas, folds, scoring="r2", intercept=True):
    """Per-target ridge by explicit solves: mean CV score of shape (n_alphas, n_targets)."""
    scores = np.zeros((len(alphas), Y.shape[1]))
    for train, val in folds:
        x_mean = X[train].mean(0) if intercept else 0.0
        y_mean = Y[train].mean(0) if intercept else 0.0
        Xc, Yc = X[train] - x_mean, Y[train] - y_mean
        for i, alpha in enumerate(alphas):
            W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc)
            pred, true = (X[val] - x_mean) @ W + y_mean, Y[val]
            if scoring == "r2":
                score = 1 - ((true - pred) ** 2).sum(0) / ((true - true.mean(0)) ** 2).sum(0)
            elif scoring == "neg_mse":
                score = -((true - pred) ** 2).mean(0)
            else:
                score = np.array([np.corrcoef(true[:, j], pred[:, j])[0, 1] for j in range(Y.shape[1])])
            scores[i] += score / len(folds)
    return scores


def _closed_form_coef(X, Y, alphas_per_target):
    x_mean, y_mean = X.mean(0), Y.mean(0)
    Xc = X - x_mean
    coef = np.stack([np.linalg.solve(Xc.T @ Xc + a * np.eye(X.shape[1]), Xc.T @ (Y[:, j] - y_mean[j]))
                     for j, a in enumerate(alphas_per_target)], axis=1)
    return coef, y_mean - x_mean @ coef


def _problem(n, p, t=6, seed=0, offset=3.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    W = rng.standard_normal((p, t)) * np.logspace(-2, 0.5, t)
    return X, X @ W + rng.standard_normal((n, t)) + offset


@pytest.mark.parametrize("n, p", [(60, 8), (24, 40)], ids=["primal", "kernel(p>n)"])
@pytest.mark.parametrize("scoring", ["r2", "neg_mse", "pearson_r"])
@pytest.mark.parametrize("method", ["fused", "direct"])
def test_matches_closed_form_ridge(n, p, scoring, method):
    X, Y = _problem(n, p)
    folds = make_folds(n, 4)
    model = RidgeCV(alphas=ALPHAS, cv=4, scoring=scoring, method=method, dtype="float64").fit(X, Y)
    expected = _closed_form_cv(X, Y, ALPHAS, folds, scoring)
    np.testing.assert_allclose(model.alpha_scores_, expected, rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(model.best_alphas_, ALPHAS[expected.argmax(0)])
    coef, intercept = _closed_form_coef(X, Y, model.best_alphas_)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.intercept_, intercept, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(model.predict(X), X @ coef + intercept, rtol=1e-7, atol=1e-8)


def test_recovers_the_optimal_alpha_regime():
    # w ~ N(0, tau^2), unit noise: the Bayes-optimal ridge penalty is 1 / tau^2
    rng = np.random.default_rng(1)
    n, p, per_regime = 300, 30, 40
    taus = np.repeat([1.0, 0.03], per_regime)
    X = rng.standard_normal((n, p))
    Y = X @ (rng.standard_normal((p, taus.size)) * taus) + rng.standard_normal((n, taus.size))
    model = RidgeCV(alphas=np.logspace(-3, 6, 19), cv=5).fit(X, Y)
    chosen = np.log10(model.best_alphas_)
    assert abs(np.median(chosen[:per_regime]) - 0.0) <= 1.0  # optimum alpha = 1
    assert abs(np.median(chosen[per_regime:]) - np.log10(1 / 0.03 ** 2)) <= 1.0  # optimum ~1111


def test_intercept_is_fitted_and_optional():
    X, Y = _problem(80, 5, offset=50.0)
    with_intercept = RidgeCV(alphas=ALPHAS, dtype="float64").fit(X, Y)
    assert np.all(np.abs(with_intercept.predict(X).mean(0) - Y.mean(0)) < 1e-8)
    # without intercept on pre-centred data: the same coefficients (one alpha, so the same choice)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    plain = RidgeCV(alphas=[10.0], fit_intercept=False, dtype="float64").fit(Xc, Yc)
    centred = RidgeCV(alphas=[10.0], dtype="float64").fit(X, Y)
    assert np.all(plain.intercept_ == 0)
    np.testing.assert_allclose(plain.coef_, centred.coef_, rtol=1e-10)
    # with a huge offset and no intercept, the fit is visibly worse than with one
    no_intercept = RidgeCV(alphas=ALPHAS, fit_intercept=False, dtype="float64").fit(X, Y)
    assert np.all(no_intercept.cv_scores_ < with_intercept.cv_scores_)


def test_float32_agrees_with_float64():
    X, Y = _problem(200, 20, t=30)
    m64 = RidgeCV(alphas=ALPHAS, dtype="float64").fit(X, Y)
    m32 = RidgeCV(alphas=ALPHAS, dtype="float32").fit(X.astype(np.float32), Y.astype(np.float32))
    assert m32.coef_.dtype == np.float32 and m64.coef_.dtype == np.float64
    np.testing.assert_allclose(m32.alpha_scores_, m64.alpha_scores_, atol=1e-5)
    same = m32.best_alphas_ == m64.best_alphas_
    assert same.mean() >= 0.9
    np.testing.assert_allclose(m32.coef_[:, same], m64.coef_[:, same], atol=1e-4 * np.abs(m64.coef_).max())


@pytest.mark.parametrize("method", ["fused", "direct"])
def test_batching_does_not_change_results(method):
    X, Y = _problem(90, 12, t=11)
    reference = RidgeCV(alphas=ALPHAS, method=method, dtype="float64").fit(X, Y)
    for t_batch, a_batch in [(1, 1), (4, 3), (5, None), (None, 7)]:
        model = RidgeCV(alphas=ALPHAS, method=method, dtype="float64",
                        n_targets_batch=t_batch, n_alphas_batch=a_batch).fit(X, Y)
        np.testing.assert_array_equal(model.best_alphas_, reference.best_alphas_)
        np.testing.assert_allclose(model.alpha_scores_, reference.alpha_scores_, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-12, atol=1e-12)


def _ill_conditioned_designs(rng):
    n = 120
    power_law = rng.standard_normal((n, 40)) * np.logspace(0, -5, 40)  # eigenvalues over 10 decades
    duplicated = rng.standard_normal((n, 10))
    duplicated = np.hstack([duplicated, duplicated[:, :4]])  # exactly rank deficient
    one_hot = np.eye(6)[np.arange(n) % 6]  # balanced categories: exactly equal eigenvalues
    wide = rng.standard_normal((n, 30)) @ rng.standard_normal((30, 300))  # p > n, rank 30
    return {"power_law": power_law, "duplicated": duplicated, "one_hot": one_hot, "wide_low_rank": wide}


@pytest.mark.parametrize("scoring", ["r2", "pearson_r"])
def test_fused_matches_direct_on_degenerate_spectra(scoring):
    rng = np.random.default_rng(2)
    alphas = np.logspace(-8, 8, 17)
    for name, X in _ill_conditioned_designs(rng).items():
        Y = X @ rng.standard_normal((X.shape[1], 5)) + 0.5 * rng.standard_normal((X.shape[0], 5))
        fused = RidgeCV(alphas=alphas, scoring=scoring, dtype="float64").fit(X, Y)
        direct = RidgeCV(alphas=alphas, scoring=scoring, dtype="float64", method="direct").fit(X, Y)
        np.testing.assert_allclose(fused.alpha_scores_, direct.alpha_scores_, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(fused.coef_, direct.coef_, rtol=1e-9, atol=1e-9, err_msg=name)


def test_make_folds_are_contiguous_kfold_and_seeded():
    folds = make_folds(11, 3)
    assert [len(val) for _, val in folds] == [4, 4, 3]
    np.testing.assert_array_equal(np.concatenate([val for _, val in folds]), np.arange(11))
    for train, val in folds:
        np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(11))
    sklearn = pytest.importorskip("sklearn.model_selection")
    for (train, val), (sk_train, sk_val) in zip(make_folds(23, 5), sklearn.KFold(5).split(np.zeros(23))):
        np.testing.assert_array_equal(train, sk_train)
        np.testing.assert_array_equal(val, sk_val)
    a, b = make_folds(20, 4, shuffle=True, seed=3), make_folds(20, 4, shuffle=True, seed=3)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, make_folds(20, 4, shuffle=True, seed=4)))


def test_explicit_folds_and_one_dimensional_target():
    X, Y = _problem(40, 4, t=1)
    folds = [(np.arange(20, 40), np.arange(20)), (np.arange(20), np.arange(20, 40))]
    model = RidgeCV(alphas=ALPHAS, cv=folds, dtype="float64").fit(X, Y[:, 0])
    assert model.predict(X).shape == (40,)
    np.testing.assert_allclose(model.alpha_scores_, _closed_form_cv(X, Y, ALPHAS, folds), rtol=1e-8)
    assert model.score(X, Y[:, 0]).shape == (1,)


def test_constant_target_warns_and_predicts_its_mean():
    X, Y = _problem(50, 5, t=3)
    Y[:, 1] = 7.0
    with pytest.warns(UserWarning, match="undefined"):
        model = RidgeCV(alphas=ALPHAS).fit(X, Y)
    np.testing.assert_allclose(model.predict(X)[:, 1], 7.0, atol=1e-5)


def test_registered_and_contract():
    assert isinstance(ENCODERS.create("ridge", alphas=[1.0]), RidgeCV)
    model = RidgeCV(alphas=[1.0, 10.0], cv=3)
    assert model.get_params()["cv"] == 3 and "RidgeCV(" in repr(model)
    with pytest.raises(NotFittedError):
        model.predict(np.zeros((3, 2)))


@pytest.mark.parametrize("params, match", [
    (dict(alphas=[1.0, 0.0]), "alphas"), (dict(alphas=[-1.0]), "alphas"), (dict(alphas=[np.nan]), "alphas"),
    (dict(cv=1), "cv"), (dict(cv=100), "cv"), (dict(cv=[(np.arange(10), np.arange(5, 20))]), "cv"),
    (dict(cv=[(np.arange(5), np.arange(30, 40))]), "cv"), (dict(cv="five"), "cv"),
    (dict(scoring="auc"), "scoring"), (dict(method="magic"), "method"), (dict(dtype="float16"), "dtype"),
    (dict(n_targets_batch=0), "n_targets_batch"),
])
def test_bad_parameters_raise_config_errors(params, match):
    X, Y = _problem(30, 4)
    with pytest.raises(ConfigError, match=match):
        RidgeCV(**params).fit(X, Y)


def test_bad_data_raises_typed_errors():
    X, Y = _problem(30, 4)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(DataFormatError, match="X"):
        RidgeCV().fit(X_nan, Y)
    Y_inf = Y.copy()
    Y_inf[0, 0] = np.inf
    with pytest.raises(DataFormatError, match="Y"):
        RidgeCV().fit(X, Y_inf)
    with pytest.raises(ShapeError, match="rows"):
        RidgeCV().fit(X, Y[:-1])
    model = RidgeCV(alphas=[1.0]).fit(X, Y)
    with pytest.raises(ShapeError, match="features"):
        model.predict(X[:, :3])


def test_unavailable_cuda_is_a_config_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    X, Y = _problem(30, 4)
    with pytest.raises(ConfigError, match="cuda"):
        RidgeCV(device="cuda").fit(X, Y)


def test_agrees_with_himalaya_when_installed():
    himalaya = pytest.importorskip("himalaya.ridge")
    from himalaya.backend import set_backend

    set_backend("numpy", on_error="warn")
    X, Y = _problem(100, 10, t=8)
    folds = make_folds(100, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = himalaya.RidgeCV(alphas=ALPHAS, fit_intercept=True, cv=folds).fit(X, Y)
    # himalaya's default criterion is the negative MSE (l2_neg_loss)
    ours = RidgeCV(alphas=ALPHAS, cv=folds, scoring="neg_mse", dtype="float64").fit(X, Y)
    np.testing.assert_allclose(ours.best_alphas_, np.asarray(peer.best_alphas_))
    np.testing.assert_allclose(ours.coef_, np.asarray(peer.coef_), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, np.asarray(peer.intercept_), rtol=1e-6, atol=1e-8)
