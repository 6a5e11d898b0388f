"""The one encoder contract: declarations, fit(X, Y, *, channels, grid), validate_params, diagnostics; RidgeCV bad input."""

import numpy as np
import pandas as pd
import pytest

from cogmodels.data import make_channel_table
from cogmodels.encoders import ENCODERS, FactorizedReadout, RidgeCV, RoutingTransformerEncoder
from cogmodels.encoders.base import INPUT_KINDS, REQUIREMENTS, BaseEncoder
from cogmodels.errors import ConfigError, DataFormatError, ShapeError

BUILT_IN = {"ridge": RidgeCV, "factorized": FactorizedReadout, "routing": RoutingTransformerEncoder}


def _assert_names(err, *parts):
    message = str(err.value)
    for part in (*parts, "expected", "found", "Fix:"):
        assert part in message, (part, message)


def spatial_problem(n=60, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4, 3, 3)).astype(np.float32)
    Y = (X.reshape(n, -1) @ rng.normal(size=(36, channels))).astype(np.float32)
    table = make_channel_table(channels, rois=[("A",), ("B",), ("A", "B")][:channels], hemisphere=["lh"] * channels)
    return X, Y, table


def inputs(kind, X):
    if kind == "flat":
        return {"X": X.reshape(len(X), -1)}
    if kind == "spatial":
        return {"X": X}
    return {"X": X.reshape(len(X), X.shape[1], -1).transpose(0, 2, 1).copy(), "grid": X.shape[2:]}


def test_every_encoder_declares_what_it_reads_and_needs():
    assert {name: (cls.input_kind, cls.requires, cls.stimulus_diagnostics) for name, cls in BUILT_IN.items()} == {
        "ridge": ("flat", frozenset(), frozenset()),
        "factorized": ("spatial", frozenset(), frozenset()),
        "routing": ("tokens", frozenset({"roi_labels"}), frozenset({"attention"}))}
    for name, cls in BUILT_IN.items():
        assert ENCODERS.get(name) is cls and ENCODERS.example(name)
        assert cls.input_kind in INPUT_KINDS and cls.requires <= set(REQUIREMENTS)
    with pytest.raises(ConfigError, match="input_kind"):
        type("Bad", (BaseEncoder,), {"input_kind": "pixels"})
    with pytest.raises(ConfigError, match="requires"):
        type("Bad", (BaseEncoder,), {"requires": frozenset({"eye_positions"})})


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_one_fit_call_and_diagnostics_for_every_encoder(name):
    cls = BUILT_IN[name]
    X, Y, table = spatial_problem()
    encoder = ENCODERS.create(name, **ENCODERS.example(name))
    assert encoder.validate_params() is encoder
    data = inputs(cls.input_kind, X)
    assert encoder.fit(data["X"], Y, channels=table, grid=data.get("grid")) is encoder
    assert encoder.predict(**data).shape == Y.shape
    diagnostics = encoder.diagnostics(**data)
    assert diagnostics and all(isinstance(v, np.ndarray) and v.dtype != object for v in diagnostics.values())
    for key in cls.stimulus_diagnostics:
        assert diagnostics[key].shape[0] == len(X)
    without_x = encoder.diagnostics()
    assert set(without_x) == set(diagnostics) - cls.stimulus_diagnostics
    expected = {"ridge": {"best_alpha": (3,)}, "factorized": {"spatial_mask": (3, 3, 3)},
                "routing": {"query_names": (2,), "attention": (60, 2, 3, 3)}}[name]
    assert {k: v.shape for k, v in diagnostics.items()} == expected
    with pytest.raises(ShapeError, match="channels"):  # the table must describe the columns of Y
        ENCODERS.create(name, **ENCODERS.example(name)).fit(data["X"], Y, channels=table.iloc[:2],
                                                             grid=data.get("grid"))


def test_routing_reads_roi_labels_from_the_channel_table_and_requires_them():
    X, Y, table = spatial_problem()
    data = inputs("tokens", X)
    encoder = RoutingTransformerEncoder(**ENCODERS.example("routing")).fit(data["X"], Y, channels=table,
                                                                            grid=data["grid"])
    assert encoder.query_names_ == ["lh.A", "lh.B"]
    with pytest.raises(ConfigError) as err:
        RoutingTransformerEncoder(**ENCODERS.example("routing")).fit(data["X"], Y, grid=data["grid"])
    _assert_names(err, "rois", "ROI labels")
    with pytest.raises(ConfigError, match="either a channel table or rois"):
        RoutingTransformerEncoder().fit(data["X"], Y, channels=table, rois=list(table["rois"]), grid=data["grid"])


@pytest.mark.parametrize("name, params, field, parts", [
    ("ridge", {"alphas": [0, 1]}, "alphas", ("finite alphas > 0", "found 0 (alphas[0]", "alpha=0")),
    ("ridge", {"cv": 1}, "cv", ("int >= 2",)),
    ("ridge", {"scoring": "auc"}, "scoring", ("one of",)),
    ("ridge", {"n_alphas_batch": 0}, "n_alphas_batch", ("integer >= 1",)),
    ("ridge", {"fit_intercept": "yes"}, "fit_intercept", ("true or false",)),
    ("factorized", {"lr": 0}, "lr", ("> 0",)),
    ("factorized", {"validation_fraction": 1.5}, "validation_fraction", ("< 1",)),
    ("factorized", {"patience": 0}, "patience", ("integer >= 1",)),
    ("routing", {"n_heads": 3}, "d_model", ("multiple of 4", "n_heads=3")),
    ("routing", {"dropout": 1.0}, "dropout", ("< 1",)),
    ("routing", {"query_per": {"V1": "pixel"}}, "query_per", ("roi_hemisphere",)),
    ("routing", {"ensemble_weighting": "max"}, "ensemble_weighting", ("r_proportional",)),
    ("routing", {"layers": "blocks.3"}, "layers", ("list of names",)),
])
def test_validate_params_needs_no_data_and_names_the_config_field(name, params, field, parts):
    encoder = ENCODERS.create(name, **params)
    with pytest.raises(ConfigError) as err:
        encoder.validate_params()
    _assert_names(err, f"encoder.{field}:", *parts)
    with pytest.raises(ConfigError, match=f"encoder.{field}"):  # fit checks the same first
        encoder.fit(np.zeros((10, 4)), np.zeros((10, 2)))


# -- RidgeCV bad input (issue 7 audit) ----------------------------------------------------
def _ridge_data(n=30, p=4):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, p))
    return X, X @ rng.normal(size=(p, 3)) + rng.normal(size=(n, 3))


def test_ridge_refuses_x_with_no_features():
    X, Y = _ridge_data()
    with pytest.raises(ShapeError) as err:
        RidgeCV().fit(X[:, :0], Y)
    _assert_names(err, "X:", "non-empty", "shape (30, 0)", "layer selection")


def test_ridge_refuses_values_beyond_float32():
    X, Y = _ridge_data()
    X[3, 1] = 1e200
    with pytest.raises(DataFormatError) as err:
        RidgeCV().fit(X, Y)
    _assert_names(err, "X:", "|x| <= 3.4e+38", "up to 1e+200", "(3, 1)", "rescale")
    X[3, 1] = 0.0
    Y[0, 0] = -1e60
    with pytest.raises(DataFormatError, match="Y: expected values with"):
        RidgeCV().fit(X, Y)


def test_ridge_refuses_complex_x_instead_of_dropping_the_imaginary_part():
    X, Y = _ridge_data()
    with pytest.raises(DataFormatError) as err:
        RidgeCV().fit(X + 1j * X, Y)
    _assert_names(err, "X:", "real values", "complex128", "np.real(x)")
    with pytest.raises(DataFormatError, match="complex"):
        RidgeCV(alphas=[1.0]).fit(X, Y).predict(X.astype(np.complex64))


def test_channel_table_is_checked_against_y():
    X, Y = _ridge_data()
    table = make_channel_table(3, rois=[("A",)] * 3)
    assert RidgeCV(alphas=[1.0]).fit(X, Y, channels=table).coef_.shape == (4, 3)
    with pytest.raises(ShapeError, match="channels"):
        RidgeCV(alphas=[1.0]).fit(X, Y, channels=table.iloc[:2])
    with pytest.raises(DataFormatError, match="channels"):
        RidgeCV(alphas=[1.0]).fit(X, Y, channels=pd.DataFrame({"id": ["a", "b", "c"]}))
