"""COCO-Search18 loader on tiny JSON files in the release schema."""

import json

import numpy as np
import pytest
from PIL import Image

from cogmodels.datasets import coco_search18
from cogmodels.errors import DataFormatError


def record(name, subject, task, condition="present", bbox=(100, 200, 50, 40), n=3, split="train", seed=0):
    rng = np.random.default_rng(seed)
    xs, ys, ts = rng.uniform(0, 1680, n).round(1), rng.uniform(0, 1050, n).round(1), rng.integers(80, 400, n)
    return {"name": name, "subject": subject, "task": task, "condition": condition,
            "bbox": list(bbox) if bbox is not None else None, "X": xs.tolist(), "Y": ys.tolist(), "T": ts.tolist(),
            "length": n, "correct": 1, "RT": int(ts.sum()), "split": split}


def write_release(root, records, images, file_name="coco_search18_fixations_TP_train_split1.json"):
    root.mkdir(parents=True, exist_ok=True)
    (root / file_name).write_text(json.dumps(records))
    for task, name in images:
        folder = root / "images" / task
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (1680, 1050)).save(folder / name)


def test_loads_trials_targets_and_splits(tmp_path):
    records = [record("000001.jpg", 1, "bottle", seed=1), record("000001.jpg", 2, "bottle", seed=2),
               record("000002.jpg", 1, "potted plant", condition="absent", bbox=None, split="valid", seed=3)]
    write_release(tmp_path, records, [("bottle", "000001.jpg"), ("potted plant", "000002.jpg")])
    ds = coco_search18.load(tmp_path)
    assert ds.stimuli.ids == ["bottle/000001", "potted plant/000002"]
    assert {k: v.tolist() for k, v in ds.splits.items()} == {"train": ["bottle/000001"],
                                                             "valid": ["potted plant/000002"]}
    trials = ds.fixations.trials.set_index(["stimulus_id", "subject"])
    first = trials.loc[("bottle/000001", "1")]
    assert (first["task"], first["condition"]) == ("bottle", "present")
    assert (first["target_x"], first["target_y"], first["target_w"], first["target_h"]) == (100, 200, 50, 40)
    assert (first["screen_width_px"], first["screen_height_px"]) == (1680, 1050)
    assert np.isnan(trials.loc[("potted plant/000002", "1"), "target_w"])  # target absent: no box
    rows = ds.fixations.table.query("stimulus_id == 'bottle/000001' and subject == '2'").sort_values("index")
    np.testing.assert_allclose(rows["x"], records[1]["X"])
    np.testing.assert_allclose(rows["duration"], records[1]["T"])
    np.testing.assert_allclose(rows["t_onset"], np.concatenate([[0], np.cumsum(records[1]["T"])[:-1]]))
    tasks = {sp.stimulus_id: sp.task for sp in ds.fixations.to_scanpaths()}
    assert tasks["potted plant/000002"] == "potted plant"


def test_px_per_deg_and_missing_images(tmp_path, caplog):
    records = [record("000001.jpg", 1, "car"), record("000009.jpg", 1, "car", seed=5)]
    write_release(tmp_path, records, [("car", "000001.jpg")])
    ds = coco_search18.load(tmp_path, px_per_deg=32.0)
    assert ds.meta["missing_stimuli"] == ["car/000009"]
    assert "1 of 2 stimuli have no image file" in caplog.text
    assert ds.fixations.trials["px_per_deg"].eq(32.0).all()
    assert ds.fixations.geometry.size_px == (1680, 1050) and ds.fixations.geometry.px_per_deg == 32.0
    assert coco_search18.load(tmp_path).fixations.geometry.px_per_deg is None  # not in the release
    assert set(ds.fixations.table["stimulus_id"]) == {"car/000001"}


def test_missing_field_is_named(tmp_path):
    bad = record("000001.jpg", 1, "car")
    del bad["T"]
    write_release(tmp_path, [record("000002.jpg", 1, "car"), bad], [("car", "000001.jpg")])
    with pytest.raises(DataFormatError, match=r"split1\.json\[1\].*'T'"):
        coco_search18.load(tmp_path)


def test_inconsistent_lengths_and_bad_box(tmp_path):
    bad = record("000001.jpg", 1, "car")
    bad["Y"] = bad["Y"][:-1]
    write_release(tmp_path / "a", [bad], [("car", "000001.jpg")])
    with pytest.raises(DataFormatError, match="same size"):
        coco_search18.load(tmp_path / "a")
    box = record("000001.jpg", 1, "car", bbox=(1, 2, 3))
    write_release(tmp_path / "b", [box], [("car", "000001.jpg")])
    with pytest.raises(DataFormatError, match="bbox"):
        coco_search18.load(tmp_path / "b")


def test_bad_json_conflicting_split_and_no_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "coco_search18_fixations_TP_train_split1.json").write_text("[{")
    with pytest.raises(DataFormatError, match="valid JSON"):
        coco_search18.load(tmp_path / "a")
    records = [record("000001.jpg", 1, "car", split="train"), record("000001.jpg", 2, "car", split="valid")]
    write_release(tmp_path / "b", records, [("car", "000001.jpg")])
    with pytest.raises(DataFormatError, match="one split per image"):
        coco_search18.load(tmp_path / "b")
    (tmp_path / "c").mkdir()
    with pytest.raises(DataFormatError, match="coco_search18_fixations_"):
        coco_search18.load(tmp_path / "c")


def test_out_of_screen_fixation_needs_clip(tmp_path):
    bad = record("000001.jpg", 1, "car")
    bad["X"][0] = 1700.0
    write_release(tmp_path, [bad], [("car", "000001.jpg")])
    with pytest.raises(DataFormatError, match="outside their image"):
        coco_search18.load(tmp_path)
    with pytest.warns(UserWarning, match="clipped 1"):
        coco_search18.load(tmp_path, clip=True)
