"""algonauts2023: a tiny tree in the challenge layout, loading and every bad input."""

import numpy as np
import pytest
from PIL import Image

import cogmodels
from cogmodels.datasets import algonauts2023
from cogmodels.errors import ConfigError, DataFormatError, ShapeError

N_TRAIN, N_TEST = 10, 3
N_VERTICES = {"lh": 7, "rh": 5}
N_FSAVERAGE = 40  # the real mask has 163842 entries; the loader only counts the selected ones
MAPPINGS = {
    "prf-visualrois": {0: "Unknown", 1: "V1v", 2: "V1d", 3: "V2v"},
    "floc-bodies": {0: "Unknown", 1: "EBA"},
    "floc-faces": {0: "Unknown", 1: "OFA", 2: "FFA-1"},
    "floc-places": {0: "Unknown", 1: "PPA"},
    "floc-words": {0: "Unknown", 1: "VWFA-1"},
    "streams": {0: "Unknown", 1: "early", 2: "ventral"},
}


def _write_subject(root, subject="subj01", seed=0, with_test_fmri=False):
    """Write one subject in the challenge layout; returns the lh and rh training fMRI."""
    rng = np.random.default_rng(seed)
    folder = root / subject
    for split, n in (("training_split/training_images", N_TRAIN), ("test_split/test_images", N_TEST)):
        (folder / split).mkdir(parents=True)
        prefix = "train" if split.startswith("training") else "test"
        for i in range(n):
            image = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
            Image.fromarray(image).save(folder / split / f"{prefix}-{i + 1:04d}_nsd-{100 * i + 7:05d}.png")
    (folder / "training_split/training_fmri").mkdir(parents=True)
    (folder / "roi_masks").mkdir()
    fmri = {}
    for hemi, n_vertices in N_VERTICES.items():
        fmri[hemi] = rng.standard_normal((N_TRAIN, n_vertices)).astype(np.float32)
        np.save(folder / f"training_split/training_fmri/{hemi}_training_fmri.npy", fmri[hemi])
        if with_test_fmri:
            (folder / "test_split/test_fmri").mkdir(exist_ok=True)
            np.save(folder / f"test_split/test_fmri/{hemi}_test_fmri.npy",
                    rng.standard_normal((N_TEST, n_vertices)).astype(np.float32))
        space = np.zeros(N_FSAVERAGE, dtype=np.int64)
        space[np.sort(rng.choice(N_FSAVERAGE, n_vertices, replace=False))] = 1
        np.save(folder / f"roi_masks/{hemi}.all-vertices_fsaverage_space.npy", space)
        for roi_file, mapping in MAPPINGS.items():
            labels = np.zeros(n_vertices, dtype=np.int64)
            labels[: len(mapping) - 1] = np.arange(1, len(mapping))  # the first vertices get each label once
            np.save(folder / f"roi_masks/{hemi}.{roi_file}_challenge_space.npy", labels)
    for roi_file, mapping in MAPPINGS.items():
        np.save(folder / f"roi_masks/mapping_{roi_file}.npy", mapping)  # a pickled dict, as in the release
    return fmri


def test_loads_training_data_with_channels_and_splits(tmp_path):
    fmri = _write_subject(tmp_path)
    ds = cogmodels.load_dataset("algonauts2023", root=tmp_path, subject="subj01")
    responses = ds.responses
    np.testing.assert_array_equal(responses.responses, np.concatenate([fmri["lh"], fmri["rh"]], axis=1))
    assert ds.stimuli.ids[0] == "train-0001_nsd-00007" and len(ds.stimuli) == N_TRAIN
    channels = responses.channels
    assert list(channels["hemisphere"]) == ["lh"] * 7 + ["rh"] * 5
    # Multi-label across mask files: vertex 0 has label 1 of every file.
    assert channels["rois"][0] == ("V1v", "EBA", "OFA", "PPA", "VWFA-1", "early")
    assert channels["rois"][2] == ("V2v",)
    assert channels["rois"][6] == ("other",)  # in no ROI of any file: the "other" query's label (issue 7)
    space = np.load(tmp_path / "subj01/roi_masks/lh.all-vertices_fsaverage_space.npy")
    np.testing.assert_array_equal(channels["vertex"][:7], np.flatnonzero(space))
    assert responses.roi_mask("FFA-1").sum() == 2  # one per hemisphere
    assert set(ds.splits) == {"train", "val", "test"}
    assert len(ds.splits["val"]) == 1 and list(ds.splits["test"]) == list(ds.splits["val"])
    assert not set(ds.splits["train"]) & set(ds.splits["val"])
    test_stimuli = responses.meta["challenge_test_stimuli"]
    assert test_stimuli.ids == [f"test-{i + 1:04d}_nsd-{100 * i + 7:05d}" for i in range(N_TEST)]
    assert responses.meta["nsd_ids"][:2] == [7, 107]


def test_one_hemisphere_and_seeded_holdout(tmp_path):
    _write_subject(tmp_path)
    ds = algonauts2023.load(tmp_path, hemispheres=("rh",), val_fraction=0.3, seed=3)
    assert ds.responses.n_channels == N_VERTICES["rh"]
    assert set(ds.responses.channels["hemisphere"]) == {"rh"}
    again = algonauts2023.load(tmp_path, hemispheres=("rh",), val_fraction=0.3, seed=3)
    other = algonauts2023.load(tmp_path, hemispheres=("rh",), val_fraction=0.3, seed=4)
    assert list(ds.splits["val"]) == list(again.splits["val"]) and len(ds.splits["val"]) == 3
    assert list(ds.splits["val"]) != list(other.splits["val"])


def test_released_test_fmri_is_loaded_as_the_test_split(tmp_path):
    _write_subject(tmp_path, with_test_fmri=True)
    ds = algonauts2023.load(tmp_path)
    assert len(ds.stimuli) == N_TRAIN + N_TEST
    assert list(ds.splits["test"]) == [s for s in ds.stimuli.ids if s.startswith("test-")]
    assert ds.responses.meta["challenge_test_stimuli"] is None


def test_roi_mask_with_other_vertex_count_names_both_files(tmp_path):
    _write_subject(tmp_path)
    np.save(tmp_path / "subj01/roi_masks/lh.floc-faces_challenge_space.npy", np.zeros(9, dtype=np.int64))
    with pytest.raises(ShapeError, match=r"lh\.floc-faces_challenge_space\.npy vs .*lh_training_fmri\.npy"):
        algonauts2023.load(tmp_path)


def test_fsaverage_mask_with_other_vertex_count_names_both_files(tmp_path):
    _write_subject(tmp_path)
    np.save(tmp_path / "subj01/roi_masks/rh.all-vertices_fsaverage_space.npy", np.ones(3, dtype=np.int64))
    with pytest.raises(ShapeError, match=r"rh\.all-vertices_fsaverage_space\.npy vs .*rh_training_fmri\.npy"):
        algonauts2023.load(tmp_path)


def test_missing_hemisphere_file_names_it_and_the_layout(tmp_path):
    _write_subject(tmp_path)
    (tmp_path / "subj01/training_split/training_fmri/rh_training_fmri.npy").unlink()
    with pytest.raises(DataFormatError, match=r"rh_training_fmri\.npy: .*no such file.*training_fmri"):
        algonauts2023.load(tmp_path)
    assert algonauts2023.load(tmp_path, hemispheres="lh").responses.n_channels == N_VERTICES["lh"]


def test_nan_vertices_raise_unless_dropped(tmp_path):
    fmri = _write_subject(tmp_path)
    fmri["lh"][4, 3] = np.nan
    np.save(tmp_path / "subj01/training_split/training_fmri/lh_training_fmri.npy", fmri["lh"])
    with pytest.raises(DataFormatError, match=r"lh_training_fmri\.npy.*1 of 7 channels"):
        algonauts2023.load(tmp_path)
    with pytest.warns(UserWarning, match="dropped 1 of 7"):
        ds = algonauts2023.load(tmp_path, drop_nan_channels=True)
    assert ds.responses.n_channels == 11
    assert 3 not in list(ds.responses.channels["challenge_index"][:6])


def test_row_count_labels_and_options_are_checked(tmp_path):
    _write_subject(tmp_path)
    (tmp_path / "subj01/training_split/training_images/train-0001_nsd-00007.png").unlink()
    with pytest.raises(ShapeError, match=r"lh_training_fmri\.npy vs .*training_images"):
        algonauts2023.load(tmp_path)
    _write_subject(tmp_path / "b")
    np.save(tmp_path / "b/subj01/roi_masks/mapping_streams.npy", {0: "Unknown", 1: "early"})
    with pytest.raises(DataFormatError, match=r"lh\.streams_challenge_space\.npy.*not in the mapping"):
        algonauts2023.load(tmp_path / "b")
    with pytest.raises(DataFormatError, match="subj05"):
        algonauts2023.load(tmp_path / "b", subject="subj05")
    with pytest.raises(ConfigError, match="hemispheres"):
        algonauts2023.load(tmp_path / "b", hemispheres=("left",))
    with pytest.raises(ConfigError, match="root"):
        algonauts2023.load(None)
    assert algonauts2023.list_subjects(tmp_path / "b") == ["subj01"]


def test_shipped_noise_ceiling_in_percent_becomes_a_fraction_and_feeds_the_runner(tmp_path):
    """A copy in percent is read with noise_ceiling_unit="percent" (the release itself stores fractions)."""
    from cogmodels.runner.tasks import estimated_noise_ceiling

    fmri = _write_subject(tmp_path)
    rng = np.random.default_rng(5)
    shipped = {}
    for hemi in ("lh", "rh"):
        shipped[hemi] = rng.uniform(5, 80, fmri[hemi].shape[1])  # percent, as NSD reports them
        (tmp_path / "subj01/test_split/noise_ceiling").mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / f"subj01/test_split/noise_ceiling/{hemi}_noise_ceiling.npy", shipped[hemi])
    ds = algonauts2023.load(tmp_path, noise_ceiling_unit="percent")
    expected = np.concatenate([shipped["lh"], shipped["rh"]]) / 100
    np.testing.assert_allclose(ds.responses.meta["noise_ceiling"], expected)
    np.testing.assert_allclose(estimated_noise_ceiling(ds.responses), expected)


# -- issue 7 audit: bad files give typed errors that name the file, the expectation, what was found, the fix ----
def _assert_names(err, *parts):
    message = str(err.value)
    for part in (*parts, "expected", "found", "Fix:"):
        assert part in message, (part, message)


def _write_noise_ceiling(root, values):
    (root / "subj01/test_split/noise_ceiling").mkdir(parents=True, exist_ok=True)
    for hemi, nc in values.items():
        np.save(root / f"subj01/test_split/noise_ceiling/{hemi}_noise_ceiling.npy", nc)


def test_shipped_noise_ceiling_is_a_fraction_as_in_the_release(tmp_path):
    fmri = _write_subject(tmp_path)
    rng = np.random.default_rng(2)
    shipped = {hemi: rng.uniform(0.05, 0.8, fmri[hemi].shape[1]) for hemi in ("lh", "rh")}
    _write_noise_ceiling(tmp_path, shipped)
    ds = algonauts2023.load(tmp_path)
    np.testing.assert_allclose(ds.responses.meta["noise_ceiling"], np.concatenate([shipped["lh"], shipped["rh"]]))
    shipped["rh"][1] = 37.0  # percent in a fraction file: no guessing from max > 1
    _write_noise_ceiling(tmp_path, shipped)
    with pytest.raises(DataFormatError) as err:
        algonauts2023.load(tmp_path)
    _assert_names(err, "rh_noise_ceiling.npy", "fraction in [0, 1]", "37", "noise_ceiling_unit='percent'")
    with pytest.raises(ConfigError, match="noise_ceiling_unit"):
        algonauts2023.load(tmp_path, noise_ceiling_unit="permille")


@pytest.mark.parametrize("name", ["training_split/training_fmri/lh_training_fmri.npy",
                                  "roi_masks/rh.all-vertices_fsaverage_space.npy",
                                  "roi_masks/lh.floc-faces_challenge_space.npy"])
def test_a_garbage_npy_names_the_file_not_pickled_data(tmp_path, name):
    _write_subject(tmp_path)
    (tmp_path / "subj01" / name).write_bytes(b"this is not an array" * 4)
    with pytest.raises(DataFormatError) as err:
        algonauts2023.load(tmp_path)
    _assert_names(err, name.split("/")[-1], "NumPy .npy file", "bytes that are not one", "re-download")
    assert "pickled" not in str(err.value)


def test_mapping_is_read_without_unpickling_and_a_code_running_pickle_is_refused(tmp_path, monkeypatch):
    import io
    import pickle

    _write_subject(tmp_path)
    monkeypatch.setattr(pickle, "loads", None)  # no unpickling anywhere on the way
    monkeypatch.setattr(pickle, "load", None)
    assert algonauts2023.load(tmp_path).responses.roi_mask("FFA-1").sum() == 2
    monkeypatch.undo()

    ran = []

    class Payload:
        def __reduce__(self):
            return (ran.append, ("code ran",))

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False, "shape": ()})
    buffer.write(pickle.dumps(np.array(Payload(), dtype=object)))
    (tmp_path / "subj01/roi_masks/mapping_floc-faces.npy").write_bytes(buffer.getvalue())
    with pytest.raises(DataFormatError) as err:
        algonauts2023.load(tmp_path)
    assert ran == []
    _assert_names(err, "mapping_floc-faces.npy", "dict {int label: ROI name}", "mapping_<roi file>.json")


def test_non_integer_mapping_keys_name_the_entry(tmp_path):
    _write_subject(tmp_path)
    np.save(tmp_path / "subj01/roi_masks/mapping_streams.npy", {0: "Unknown", "early": 1, 2: "ventral"})
    with pytest.raises(DataFormatError) as err:
        algonauts2023.load(tmp_path)
    _assert_names(err, "mapping_streams.npy", "integer labels", "'early'", "re-download")


def test_json_mapping_next_to_the_npy_is_read_first(tmp_path):
    import json

    _write_subject(tmp_path)
    (tmp_path / "subj01/roi_masks/mapping_floc-faces.npy").write_bytes(b"garbage")
    (tmp_path / "subj01/roi_masks/mapping_floc-faces.json").write_text(
        json.dumps({"0": "Unknown", "1": "OFA", "2": "FFA-1"}))
    assert algonauts2023.load(tmp_path).responses.roi_mask("FFA-1").sum() == 2


def test_unlabelled_vertices_let_the_routing_encoder_fit_the_real_layout(tmp_path):
    """Every vertex has a label ("other" for none), so a token encoder that needs ROI labels fits."""
    from cogmodels.encoders import RoutingTransformerEncoder

    _write_subject(tmp_path)
    ds = algonauts2023.load(tmp_path)
    responses = ds.responses
    assert all(len(r) >= 1 for r in responses.channels["rois"]) and "other" in responses.roi_names()
    tokens = np.random.default_rng(0).normal(size=(N_TRAIN, 4, 3)).astype(np.float32)
    encoder = RoutingTransformerEncoder(d_model=8, max_epochs=1, validation_fraction=0.3, batch_size=4,
                                        progress=False)
    encoder.fit(tokens, responses.responses, channels=responses.channels, grid=(2, 2))
    assert "lh.other" in encoder.query_names_
