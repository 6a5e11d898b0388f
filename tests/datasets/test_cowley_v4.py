"""cowley_v4: a tiny session in the release layout, loading, splits, repeats, bad inputs, and the real copy."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

import cogmodels
from cogmodels.datasets import cowley_v4
from cogmodels.errors import ConfigError, DataFormatError, ShapeError


@pytest.fixture
def session(tmp_path):
    options = cowley_v4.write_example(tmp_path, session="000001", n_neurons=4, n_images=12)
    return tmp_path, options


def test_example_loads_with_column_k_as_image_k(session):
    root, options = session
    ds = cogmodels.load_dataset("cowley_v4", **options)
    average = np.load(root / "responses_repeat_averaged" / "responses_000001.npy")  # (n_neurons, n_images)
    raw = np.load(root / "responses_raw" / "responses_000001.npy")
    assert ds.responses.responses.shape == (12, 4)
    assert np.allclose(ds.responses.responses, average.T)
    assert np.allclose(ds.responses.repeats, np.transpose(raw, (1, 2, 0)), equal_nan=True)
    assert np.isnan(ds.responses.repeats).any()  # NaN padding kept, not dropped
    assert ds.stimuli.ids[0] == "000001-image0001" and ds.stimuli.ids[-1] == "000001-image0012"
    with zipfile.ZipFile(root / "images" / "images_000001.zip") as archive:
        third = np.asarray(Image.open(io.BytesIO(archive.read("image0003.jpg"))).convert("RGB"))
    assert np.array_equal(ds.stimuli.image(2), third)
    assert all(rois == ("V4",) for rois in ds.responses.channels["rois"])
    assert ds.responses.modality == "spikes"
    assert ds.responses.subset(ds.splits["test"]).modality == "spikes"
    assert cogmodels.load_dataset("cowley_v4", **options).card.licence.startswith("GPL-3.0")


def test_zip_order_does_not_decide_the_columns(tmp_path):
    """Images stored out of order in the zip are still matched by their number."""
    options = cowley_v4.write_example(tmp_path, n_images=6)
    path = tmp_path / "images" / "images_000001.zip"
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(files, reverse=True):
            archive.writestr(name, files[name])
    ds = cowley_v4.load(**options)
    assert ds.stimuli.ids == [f"000001-image{k:04d}" for k in range(1, 7)]
    assert np.array_equal(ds.stimuli.image(0), np.asarray(Image.open(io.BytesIO(files["image0001.jpg"]))))


def test_splits_are_seeded_disjoint_and_stated(session):
    _, options = session
    a = cowley_v4.load(**options, seed=1)
    b = cowley_v4.load(**options, seed=1)
    c = cowley_v4.load(**options, seed=2, test_fraction=0.5)
    assert list(a.splits["test"]) == list(b.splits["test"])
    assert set(a.splits["train"]).isdisjoint(a.splits["test"])
    assert len(a.splits["train"]) + len(a.splits["test"]) == 12
    assert len(c.splits["test"]) == 6
    assert "default_rng(1)" in a.responses.meta["split"]


def test_session_without_raw_file_has_no_repeats(tmp_path):
    options = cowley_v4.write_example(tmp_path, raw=False)
    ds = cowley_v4.load(**options)
    assert ds.responses.repeats is None and ds.responses.meta["has_raw"] is False
    with_raw = cowley_v4.write_example(tmp_path / "b")
    assert cowley_v4.load(**with_raw, repeats=False).responses.repeats is None


def test_zip_with_a_different_image_count_than_response_columns(tmp_path):
    options = cowley_v4.write_example(tmp_path, n_images=10)
    average = np.load(tmp_path / "responses_repeat_averaged" / "responses_000001.npy")
    np.save(tmp_path / "responses_repeat_averaged" / "responses_000001.npy", average[:, :9])
    with pytest.raises(DataFormatError, match=r"one image per response column \(9 columns\).*10 images in the zip"):
        cowley_v4.load(**options)


def test_raw_file_of_another_session_is_a_shape_error(tmp_path):
    options = cowley_v4.write_example(tmp_path, n_images=10)
    raw = np.load(tmp_path / "responses_raw" / "responses_000001.npy")
    np.save(tmp_path / "responses_raw" / "responses_000001.npy", raw[:, :8])
    with pytest.raises(ShapeError, match="same session"):
        cowley_v4.load(**options)


def test_missing_files_name_the_path_and_the_fix(tmp_path):
    options = cowley_v4.write_example(tmp_path)
    with pytest.raises(DataFormatError, match=r"images_999999\.zip.*no such file.*sessions with images here: "
                                              r"\['000001'\].*Fix: pass root="):
        cowley_v4.load(root=tmp_path, session="999999")
    (tmp_path / "responses_repeat_averaged" / "responses_000001.npy").unlink()
    with pytest.raises(DataFormatError, match=r"responses_repeat_averaged/responses_000001\.npy.*no such file"):
        cowley_v4.load(**options)


def test_gap_in_image_numbers_and_bad_options(tmp_path):
    options = cowley_v4.write_example(tmp_path, n_images=5)
    path = tmp_path / "images" / "images_000001.zip"
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist() if name != "image0003.jpg"}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(DataFormatError, match=r"no gap.*missing numbers \[3\]"):
        cowley_v4.load(**options)
    with pytest.raises(ConfigError, match="test_fraction"):
        cowley_v4.load(**options, test_fraction=1.5)


@pytest.mark.shared_data
def test_real_session_210325(shared_data):
    root = shared_data / "cowley_v4"
    if not root.is_dir():
        pytest.skip(f"cowley_v4 not found under {shared_data}")
    ds = cowley_v4.load(root=root, session="210325")
    assert ds.responses.responses.shape == (640, 50) and ds.responses.modality == "spikes"
    assert ds.responses.repeats.shape == (640, 10, 50)
    assert ds.stimuli.image(0).shape == (112, 112, 3)
    counts = np.isfinite(ds.responses.repeats).sum(axis=1)
    assert counts.min() >= 6 and counts.max() == 10
    assert np.allclose(np.nanmean(ds.responses.repeats, axis=1), ds.responses.responses, atol=1e-5)
    assert len(ds.splits["test"]) == 128
