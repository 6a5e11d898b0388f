"""The pooled-feature MLP (issue 8's non-routing nonlinear control): its pooling is what it says, and it
learns a nonlinear function of pooled features that a linear readout cannot (so it is a fair nonlinear rival
of the routing encoder; benchmarks/routing_controls.py shows it does not route)."""

import numpy as np
import pytest

from cogmodels.encoders import RidgeCV
from cogmodels.encoders.pooled_mlp import PooledMLPEncoder, pyramid_pool
from cogmodels.errors import ConfigError

FAST = dict(hidden=32, max_epochs=60, patience=8, progress=False)


def _r(a, b):
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def test_pyramid_pool_is_the_mean_over_each_block():
    X = np.random.default_rng(0).normal(size=(3, 16, 2)).astype(np.float32)  # 4 x 4 grid, 2 features
    pooled = pyramid_pool(X, (4, 4), [1, 2])
    spatial = X.reshape(3, 4, 4, 2)
    np.testing.assert_allclose(pooled[:, :2], spatial.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(pooled[:, 2:4], spatial[:, :2, :2].mean(axis=(1, 2)), rtol=1e-5)  # top-left block
    assert pooled.shape == (3, 2 * (1 + 4))


def test_learns_a_nonlinear_pooled_function_that_ridge_cannot():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 4, 6, 6)).astype(np.float32)
    drive = X[:, 0].mean(axis=(1, 2)) * 6  # unit-variance pooled feature
    Y = np.stack([drive ** 2, np.abs(drive)], 1) + 0.2 * rng.normal(size=(600, 2))
    mlp = PooledMLPEncoder(**FAST).fit(X[:450], Y[:450])
    ridge = RidgeCV(alphas=np.logspace(-1, 4, 6)).fit(X[:450].reshape(450, -1), Y[:450])
    r_mlp = _r(Y[450:], mlp.predict(X[450:]))
    r_ridge = _r(Y[450:], ridge.predict(X[450:].reshape(150, -1)))
    assert r_mlp.min() > 0.8 and (r_mlp - r_ridge).min() > 0.3


def test_bad_parameters_name_the_field():
    for params, field in ((dict(pool_grids=[0]), "pool_grids"), (dict(hidden=0), "hidden"),
                          (dict(dropout=1.0), "dropout")):
        with pytest.raises(ConfigError, match=f"encoder.{field}"):
            PooledMLPEncoder(**params).validate_params()
    with pytest.raises(ConfigError, match="pool_grids"):
        PooledMLPEncoder(pool_grids=[8], **FAST).fit(np.zeros((40, 2, 4, 4), np.float32), np.ones((40, 1)))
