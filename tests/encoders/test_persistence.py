"""Encoders save as a state dict plus a JSON config (safetensors, no pickle) and load only when their sha256 matches."""

import pickle

import numpy as np
import pytest
import torch

from cogmodels.data import make_channel_table
from cogmodels.encoders import ENCODERS, load_encoder, save_encoder
from cogmodels.encoders.persistence import checksum_path, read_encoder_config
from cogmodels.errors import DataFormatError

GRID = (3, 3)


def problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4, *GRID)).astype(np.float32)
    Y = (X.reshape(n, -1) @ rng.normal(size=(36, 3)) + rng.normal(size=(n, 3))).astype(np.float32)
    return X, Y


def inputs(kind, X):
    if kind == "flat":
        return {"X": X.reshape(len(X), -1)}
    if kind == "spatial":
        return {"X": X}
    return {"X": X.reshape(len(X), X.shape[1], -1).transpose(0, 2, 1).copy(), "grid": GRID}


TABLE = make_channel_table(3, rois=[("A",), ("B",), ("A", "B")], hemisphere=["lh", "rh", "lh"])


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch):
    """Nothing on the load path may unpickle: pickle.load(s) and torch.load are unavailable in these tests."""
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling was attempted")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)


@pytest.mark.parametrize("name", ["ridge", "factorized", "routing"])
def test_round_trip_gives_the_same_predictions_and_diagnostics(tmp_path, name):
    X, Y = problem()
    encoder = ENCODERS.create(name, **ENCODERS.example(name))
    data = inputs(encoder.input_kind, X)
    encoder.fit(data["X"], Y, channels=TABLE, grid=data.get("grid"))
    path = tmp_path / f"{name}.safetensors"
    digest = save_encoder(encoder, path, metadata={"run": "abc", "layers": ["x"]})
    assert len(digest) == 64 and checksum_path(path).read_text().split() == [digest, path.name]
    loaded, metadata = load_encoder(path, return_metadata=True)
    assert type(loaded) is type(encoder) and metadata == {"run": "abc", "layers": ["x"]}
    assert loaded.get_params() == {k: list(v) if isinstance(v, tuple) else v for k, v in encoder.get_params().items()}
    np.testing.assert_array_equal(loaded.predict(**data), encoder.predict(**data))
    for key, value in encoder.diagnostics(**data).items():
        np.testing.assert_array_equal(loaded.diagnostics(**data)[key], value)
    config = read_encoder_config(path, sha256=digest)
    assert config["encoder"] == name and config["format"] == "cogmodels-encoder/2"


def test_multi_subject_routing_and_its_transfer_round_trip(tmp_path):
    """What fit-subject stores: a fit_multi source model, and the model fit_new_subject returns."""
    X1, Y1 = problem(seed=1)
    X2, Y2 = problem(seed=2)
    tokens = {"s1": inputs("tokens", X1)["X"], "s2": inputs("tokens", X2)["X"]}
    source = ENCODERS.create("routing", **ENCODERS.example("routing"), n_runs=2)
    source.fit_multi({"s1": (tokens["s1"], Y1, TABLE), "s2": {"X": tokens["s2"], "Y": Y2, "channels": TABLE}},
                     grid=GRID)
    save_encoder(source, tmp_path / "source.safetensors")
    loaded = load_encoder(tmp_path / "source.safetensors")
    assert loaded.subjects_ == ["s1", "s2"] and len(loaded.members_) == 2
    for subject in ("s1", "s2"):
        np.testing.assert_array_equal(loaded.predict(tokens[subject], grid=GRID, subject=subject),
                                      source.predict(tokens[subject], grid=GRID, subject=subject))
    X3, Y3 = problem(seed=3)
    new = loaded.fit_new_subject(inputs("tokens", X3)["X"], Y3, channels=TABLE, grid=GRID, subject="s3")
    save_encoder(new, tmp_path / "new.safetensors")
    again = load_encoder(tmp_path / "new.safetensors")
    assert again.subjects_ == ["s3"] and again.transferred_from_ == ["s1", "s2"]
    np.testing.assert_array_equal(again.predict(inputs("tokens", X3)["X"], grid=GRID),
                                  new.predict(inputs("tokens", X3)["X"], grid=GRID))


@pytest.fixture
def saved(tmp_path):
    X, Y = problem()
    path = tmp_path / "ridge.safetensors"
    digest = save_encoder(ENCODERS.create("ridge", alphas=[1.0]).fit(X.reshape(len(X), -1), Y), path)
    return path, digest


def _assert_names(err, *parts):
    message = str(err.value)
    for part in (*parts, "expected", "found", "Fix:"):
        assert part in message, (part, message)


def test_a_changed_file_is_refused_before_anything_is_parsed(saved):
    path, digest = saved
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # same size, one coefficient changed
    path.write_bytes(bytes(data))
    with pytest.raises(DataFormatError) as err:
        load_encoder(path)
    _assert_names(err, str(path), f"sha256 {digest}", "ridge.safetensors.sha256", "nothing was loaded")
    with pytest.raises(DataFormatError, match="the expected sha256"):
        load_encoder(path, sha256=digest)


def test_an_expected_sha256_overrides_the_recorded_one(saved):
    path, digest = saved
    checksum_path(path).unlink()
    with pytest.warns(UserWarning, match="no sha256 recorded"):
        assert load_encoder(path).coef_.shape == (36, 3)
    assert load_encoder(path, sha256=digest.upper()).coef_.shape == (36, 3)
    with pytest.raises(DataFormatError, match="0" * 64):
        load_encoder(path, sha256="0" * 64)


@pytest.mark.parametrize("content, found", [
    (b"", "0 bytes"), (b"\x00garbage that is not a model at all", "no safetensors header"),
    (None, "without a cogmodels encoder config"),
])
def test_garbage_and_foreign_files_are_typed_errors(tmp_path, content, found):
    from safetensors.numpy import save

    path = tmp_path / "model.safetensors"
    path.write_bytes(content if content is not None else save({"weight": np.zeros(3, np.float32)}))
    with pytest.raises(DataFormatError) as err:
        load_encoder(path, sha256=__import__("hashlib").sha256(path.read_bytes()).hexdigest())
    _assert_names(err, str(path), "safetensors encoder file", found, "save_encoder")
    with pytest.raises(DataFormatError) as err:
        load_encoder(tmp_path / "missing.safetensors")
    _assert_names(err, "missing.safetensors", "no such file")
