"""Every registered encoder honours the encoder contract (cogmodels.encoders.base), run with its example.

fit(X, Y, *, channels=None, grid=None) on the features its ``input_kind`` declares, with the channel
table when it ``requires`` ROI labels; predict -> (n_stimuli, n_channels); score -> (n_channels,);
diagnostics -> plain arrays; unfitted use is a NotFittedError.
"""

import numpy as np
import pytest

import cogmodels
from cogmodels.data import make_channel_table
from cogmodels.encoders import ENCODERS
from cogmodels.errors import NotFittedError

REGISTRY = ENCODERS
N_TRAIN, N_TEST, C, GRID = 48, 12, 6, (4, 4)
ROIS = [("V1",), ("V1", "early"), ("FFA",), ("FFA",), ("PPA",)]


def _data(kind: str, seed: int = 0):
    """Features of the declared kind and responses that depend on them (linear + noise)."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    spatial = rng.standard_normal((n, C, *GRID)).astype(np.float32)
    weights = rng.standard_normal((C * GRID[0] * GRID[1], len(ROIS))).astype(np.float32) / 8
    Y = (spatial.reshape(n, -1) @ weights + 0.1 * rng.standard_normal((n, len(ROIS)))).astype(np.float32)
    X = {"flat": spatial.reshape(n, -1), "spatial": spatial,
         "tokens": spatial.reshape(n, C, -1).transpose(0, 2, 1).copy()}[kind]
    return X[:N_TRAIN], Y[:N_TRAIN], X[N_TRAIN:], Y[N_TRAIN:]


def _fit_kwargs(encoder) -> dict:
    kwargs = {"channels": make_channel_table(len(ROIS), rois=ROIS, hemisphere=["lh", "rh", "lh", "rh", "lh"])}
    if type(encoder).input_kind == "tokens":
        kwargs["grid"] = GRID
    return kwargs


@pytest.fixture
def fitted(name, example):
    encoder = cogmodels.create_model("encoder", name, **example)
    X, Y, X_test, Y_test = _data(type(encoder).input_kind)
    fit_kwargs = _fit_kwargs(encoder)
    assert encoder.fit(X, Y, **fit_kwargs) is encoder
    return encoder, X_test, Y_test, fit_kwargs


def test_declarations(name, example):
    encoder = cogmodels.create_model("encoder", name, **example)
    assert type(encoder).input_kind in ("flat", "spatial", "tokens")
    assert isinstance(type(encoder).requires, frozenset)
    assert encoder.validate_params() is encoder
    assert not [k for k in vars(encoder) if k.endswith("_") and not k.startswith("_")], "fitted state before fit"


def test_unfitted_predict_is_an_error(name, example):
    encoder = cogmodels.create_model("encoder", name, **example)
    X_test = _data(type(encoder).input_kind)[2]
    with pytest.raises(NotFittedError):
        encoder.predict(X_test) if type(encoder).input_kind != "tokens" else encoder.predict(X_test, grid=GRID)


def _predict(encoder, X):
    return encoder.predict(X, grid=GRID) if type(encoder).input_kind == "tokens" else encoder.predict(X)


def test_fit_predict_score_shapes(fitted):
    encoder, X_test, Y_test, _ = fitted
    prediction = _predict(encoder, X_test)
    assert prediction.shape == Y_test.shape
    assert np.isfinite(prediction).all()
    r = encoder.score(X_test, Y_test, grid=GRID) if type(encoder).input_kind == "tokens" else \
        encoder.score(X_test, Y_test)
    assert np.shape(r) == (Y_test.shape[1],)
    assert np.all(np.abs(r[np.isfinite(r)]) <= 1 + 1e-6)


def test_diagnostics_are_plain_arrays(fitted):
    encoder, X_test, _, _ = fitted
    kwargs = {"grid": GRID} if type(encoder).input_kind == "tokens" else {}
    diagnostics = encoder.diagnostics(X_test, **kwargs)
    assert isinstance(diagnostics, dict)
    for key, value in diagnostics.items():
        assert isinstance(value, np.ndarray) and value.dtype != object, key
    for key in type(encoder).stimulus_diagnostics:
        assert diagnostics[key].shape[0] == X_test.shape[0], key


def test_refit_with_the_same_seed_predicts_the_same(fitted, name, example):
    encoder, X_test, _, fit_kwargs = fitted
    again = cogmodels.create_model("encoder", name, **example)
    X, Y, _, _ = _data(type(again).input_kind)
    again.fit(X, Y, **fit_kwargs)
    np.testing.assert_allclose(_predict(again, X_test), _predict(encoder, X_test), rtol=1e-5, atol=1e-6)
