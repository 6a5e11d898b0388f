"""brain_folder: a generic images + responses.npy + channels.tsv layout, and its bad inputs."""

import json

import numpy as np
import pytest

import cogmodels
from cogmodels.datasets import brain_folder
from cogmodels.errors import DataFormatError, ShapeError

N_STIMULI, N_CHANNELS = 6, 4


def _write_tree(root, n_stimuli=N_STIMULI, n_channels=N_CHANNELS, seed=0):
    """A tiny brain_folder tree (the loader's own example writer); returns the responses written."""
    brain_folder.write_example(root, n_stimuli=n_stimuli, n_channels=n_channels, seed=seed)
    return np.load(root / "responses.npy")


def test_loads_tree_in_sorted_stem_order(tmp_path):
    responses = _write_tree(tmp_path)
    ds = cogmodels.load_dataset("brain_folder", root=tmp_path, subject="sub-07")
    assert ds.stimuli.ids == [f"im{i:02d}" for i in range(N_STIMULI)]
    np.testing.assert_array_equal(ds.responses.responses, responses)
    channels = ds.responses.channels
    assert list(channels["rois"]) == [("V1", "early"), ("V1", "early"), ("FFA",), ("FFA",)]
    assert list(channels["hemisphere"]) == ["lh", "rh", "lh", "rh"]
    assert list(channels["vertex"]) == [100, 101, 102, 103]
    assert ds.responses.subject == "sub-07"
    assert set(ds.splits) == {"train", "test"}
    assert not set(ds.splits["train"]) & set(ds.splits["test"])
    assert len(ds.splits["train"]) + len(ds.splits["test"]) == N_STIMULI
    assert ds.stimuli[0].image.shape == (8, 10, 3)


def test_seeded_split_is_reproducible_and_depends_on_seed(tmp_path):
    _write_tree(tmp_path, n_stimuli=20)
    a, b = brain_folder.load(tmp_path, seed=1), brain_folder.load(tmp_path, seed=1)
    c = brain_folder.load(tmp_path, seed=2)
    assert list(a.splits["test"]) == list(b.splits["test"])
    assert list(a.splits["test"]) != list(c.splits["test"])


def test_stimulus_ids_repeats_and_splits_files(tmp_path):
    responses = _write_tree(tmp_path)
    order = [f"im{i:02d}" for i in reversed(range(N_STIMULI))]
    (tmp_path / "stimulus_ids.txt").write_text("\n".join(order) + "\n")
    repeats = np.random.default_rng(1).standard_normal((N_STIMULI, 3, N_CHANNELS)).astype(np.float32)
    repeats[0, 2] = np.nan  # a missing repeat is allowed
    np.save(tmp_path / "repeats.npy", repeats)
    (tmp_path / "splits.json").write_text(json.dumps({"train": order[:4], "test": order[4:]}))
    ds = brain_folder.load(tmp_path)
    assert ds.stimuli.ids == order
    np.testing.assert_array_equal(ds.responses.responses, responses)  # rows stay in file order
    assert ds.responses.repeats.shape == (N_STIMULI, 3, N_CHANNELS)
    assert list(ds.splits["test"]) == order[4:]
    assert ds.stimuli.paths[0].stem == order[0]


def test_response_rows_must_match_images(tmp_path):
    _write_tree(tmp_path)
    np.save(tmp_path / "responses.npy", np.zeros((N_STIMULI + 1, N_CHANNELS), np.float32))
    with pytest.raises(ShapeError, match=r"responses\.npy.*images"):
        brain_folder.load(tmp_path)


def test_channel_rows_must_match_response_columns(tmp_path):
    _write_tree(tmp_path)
    np.save(tmp_path / "responses.npy", np.zeros((N_STIMULI, N_CHANNELS + 2), np.float32))
    with pytest.raises(ShapeError, match=r"channels\.tsv.*responses\.npy"):
        brain_folder.load(tmp_path)


def test_channels_tsv_needs_required_columns(tmp_path):
    _write_tree(tmp_path)
    (tmp_path / "channels.tsv").write_text("id\themisphere\n" + "".join(f"c{j}\tlh\n" for j in range(N_CHANNELS)))
    with pytest.raises(DataFormatError, match=r"channels\.tsv.*rois"):
        brain_folder.load(tmp_path)


def test_bad_hemisphere_and_duplicate_ids_name_the_column(tmp_path):
    _write_tree(tmp_path)
    text = (tmp_path / "channels.tsv").read_text()
    (tmp_path / "channels.tsv").write_text(text.replace("\tlh\t", "\tleft\t"))
    with pytest.raises(DataFormatError, match="hemisphere"):
        brain_folder.load(tmp_path)
    (tmp_path / "channels.tsv").write_text(text.replace("c1\t", "c0\t"))
    with pytest.raises(DataFormatError, match=r"channels\.tsv column id"):
        brain_folder.load(tmp_path)


def test_nan_channels_raise_unless_dropped_with_a_warning(tmp_path):
    responses = _write_tree(tmp_path)
    responses[2, 1] = np.nan
    np.save(tmp_path / "responses.npy", responses)
    np.save(tmp_path / "repeats.npy", np.zeros((N_STIMULI, 2, N_CHANNELS), np.float32))
    with pytest.raises(DataFormatError, match=r"responses\.npy.*1 of 4 channels"):
        brain_folder.load(tmp_path)
    with pytest.warns(UserWarning, match="dropped 1 of 4"):
        ds = brain_folder.load(tmp_path, drop_nan_channels=True)
    assert list(ds.responses.channels["id"]) == ["c0", "c2", "c3"]
    assert ds.responses.repeats.shape == (N_STIMULI, 2, 3)


def test_missing_files_and_bad_arrays(tmp_path):
    _write_tree(tmp_path)
    np.save(tmp_path / "responses.npy", np.zeros((N_STIMULI, N_CHANNELS), np.int64))
    with pytest.raises(DataFormatError, match=r"responses\.npy.*float"):
        brain_folder.load(tmp_path)
    (tmp_path / "responses.npy").unlink()
    with pytest.raises(DataFormatError, match=r"responses\.npy.*no such file"):
        brain_folder.load(tmp_path)
    with pytest.raises(DataFormatError, match="images"):
        brain_folder.load(tmp_path / "elsewhere")


def test_repeats_shape_and_stimulus_ids_checked(tmp_path):
    _write_tree(tmp_path)
    np.save(tmp_path / "repeats.npy", np.zeros((N_STIMULI, 2, N_CHANNELS + 1), np.float32))
    with pytest.raises(ShapeError, match=r"repeats\.npy"):
        brain_folder.load(tmp_path)
    (tmp_path / "repeats.npy").unlink()
    (tmp_path / "stimulus_ids.txt").write_text("im00\nim01\nnope\n")
    with pytest.raises(DataFormatError, match=r"stimulus_ids\.txt.*without an image"):
        brain_folder.load(tmp_path)


def test_splits_json_with_unknown_ids_names_the_file(tmp_path):
    _write_tree(tmp_path)
    (tmp_path / "splits.json").write_text(json.dumps({"train": ["im00"], "test": ["ghost"]}))
    with pytest.raises(DataFormatError, match=r"splits\.json.*unknown ids"):
        brain_folder.load(tmp_path)
    (tmp_path / "splits.json").write_text("{not json")
    with pytest.raises(DataFormatError, match=r"splits\.json.*invalid JSON"):
        brain_folder.load(tmp_path)
