"""Tests of the spatial x feature factorized readout (Klindt et al. 2017) on a toy problem with known weights."""

import numpy as np
import pytest

from cogmodels.backbones.base import FeatureMap
from cogmodels.encoders.factorized import FactorizedReadout
from cogmodels.errors import ConfigError, NotFittedError, ShapeError

C, H, W, K = 5, 9, 9, 3
FAST = dict(max_epochs=80, patience=10, progress=False)


def gaussian_masks(centers, sigma=1.5):
    yy, xx = np.mgrid[:H, :W]
    return np.exp(-((yy - centers[:, 0, None, None]) ** 2 + (xx - centers[:, 1, None, None]) ** 2) / (2 * sigma ** 2))


def make_problem(n, seed=0, noise=0.5):
    """Spatial features (n, C, H, W) and responses (n, K) from known Gaussian masks and feature weights."""
    weights = np.random.default_rng(100)
    masks = gaussian_masks(weights.uniform(2, 6, size=(K, 2)))
    features = weights.normal(size=(K, C))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, C, H, W)).astype(np.float32)
    signal = np.einsum("nchw,khw,kc->nk", X, masks, features)
    Y = signal + noise * signal.std(0) * rng.normal(size=signal.shape)
    return X, Y.astype(np.float32), masks, features, signal


def abs_corr(a, b):
    return abs(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


@pytest.fixture(scope="module")
def fitted():
    X, Y, masks, features, _ = make_problem(500)
    return FactorizedReadout(**FAST).fit(X, Y), masks, features


def test_recovers_the_known_masks_and_feature_weights(fitted):
    model, masks, features = fitted
    assert model.mask_.shape == (K, H, W) and model.feature_weights_.shape == (K, C)
    for k in range(K):  # the factorisation is defined up to sign and scale
        assert abs_corr(model.mask_[k], masks[k]) > 0.9
        assert abs_corr(model.feature_weights_[k], features[k]) > 0.95
    X, _, _, _, signal = make_problem(200, seed=3)
    assert model.score(X, signal).min() > 0.9


def test_contract_inputs_and_registry(fitted):
    import cogmodels

    model = fitted[0]
    assert isinstance(cogmodels.create_model("encoder", "factorized"), FactorizedReadout)
    with pytest.raises(NotFittedError):
        FactorizedReadout().predict(np.zeros((2, C, H, W), np.float32))
    X, _, _, _, _ = make_problem(20, seed=5)
    tokens = FeatureMap(X, "spatial").as_tokens()
    expected = model.predict(X)
    assert expected.shape == (20, K)
    np.testing.assert_allclose(model.predict(tokens, grid=(H, W)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(FeatureMap(X, "spatial")), expected, rtol=1e-5, atol=1e-6)


def test_determinism_and_early_stopping_restores_the_best_epoch():
    X, Y, _, _, _ = make_problem(150, noise=1.5)
    first = FactorizedReadout(**FAST, lr=0.05, seed=1).fit(X, Y)
    again = FactorizedReadout(**FAST, lr=0.05, seed=1).fit(X, Y)
    np.testing.assert_array_equal(first.mask_, again.mask_)
    history = first.history_
    assert len(history.val_score) < FAST["max_epochs"]  # it stopped early
    assert len(history.val_score) == history.best_epoch + 1 + FAST["patience"]
    from cogmodels.encoders._early_stopping import validation_split

    _, val = validation_split(len(Y), first.validation_fraction, first.seed)
    r = np.array([np.corrcoef(p, y)[0, 1] for p, y in zip(first.predict(X[val]).T, Y[val].T)])
    assert r.mean() == pytest.approx(history.best_score, abs=1e-4)


def test_penalties_shape_the_mask():
    X, Y, _, _, _ = make_problem(300)
    rough = FactorizedReadout(**FAST, smoothness=0.0, l1_mask=0.0).fit(X, Y)
    smooth = FactorizedReadout(**FAST, smoothness=1.0, l1_mask=0.0).fit(X, Y)
    sparse = FactorizedReadout(**FAST, smoothness=0.0, l1_mask=0.05).fit(X, Y)

    def laplacian_energy(mask):  # scale-free: relative to the mask's own energy
        lap = mask[:, :-2, 1:-1] + mask[:, 2:, 1:-1] + mask[:, 1:-1, :-2] + mask[:, 1:-1, 2:] - 4 * mask[:, 1:-1, 1:-1]
        return (lap ** 2).sum() / (mask ** 2).sum()

    def small_share(mask):
        scaled = np.abs(mask) / np.abs(mask).max(axis=(1, 2), keepdims=True)
        return (scaled < 0.05).mean()

    assert laplacian_energy(smooth.mask_) < laplacian_energy(rough.mask_)
    assert small_share(sparse.mask_) > small_share(rough.mask_)


def test_bad_inputs_are_typed_errors(fitted):
    model = fitted[0]
    X, Y, _, _, _ = make_problem(40)
    with pytest.raises(ShapeError, match="rows"):
        FactorizedReadout(**FAST).fit(X[:-1], Y)
    with pytest.raises(ShapeError, match="grid"):
        FactorizedReadout(**FAST).fit(FeatureMap(X, "spatial").as_tokens(), Y, grid=(H, W + 1))
    with pytest.raises(ConfigError, match="l1_mask"):
        FactorizedReadout(l1_mask=-1.0).fit(X, Y)
    with pytest.raises(ShapeError, match="grid"):
        model.predict(np.zeros((3, C, H - 1, W), np.float32))


def test_a_generator_seed_is_refused_at_validation_not_in_fit():
    # torch.manual_seed takes integers: a numpy Generator used to pass validate_params and fail in fit
    import numpy as np
    import pytest

    from cogmodels.errors import ConfigError

    with pytest.raises(ConfigError, match=r"encoder\.seed.*integer.*Fix"):
        FactorizedReadout(seed=np.random.default_rng(0)).validate_params()
