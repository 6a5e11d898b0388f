"""Generic fixation table loader and the shared loader helpers."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import cogmodels
from cogmodels.datasets import gaze_table
from cogmodels.errors import ConfigError, DataFormatError


def write_images(root, names, size=(64, 48)):
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", size).save(folder / name)


def test_standard_columns_with_defaults(tmp_path):
    write_images(tmp_path, ["a.png", "b.jpg"])
    pd.DataFrame({"stimulus_id": ["a", "a", "b", "b", "b"], "subject": [1, 1, 1, 2, 2],
                  "x": [1, 2, 3, 4, 5], "y": [5, 4, 3, 2, 1], "duration": [100, 200, 300, 150, 250]}
                 ).to_csv(tmp_path / "fixations.csv", index=False)
    ds = cogmodels.load_dataset("gaze_table", root=tmp_path, test_fraction=0.5, seed=1)
    table = ds.fixations.table
    assert ds.stimuli.ids == ["a", "b"]
    assert table["trial"].eq(0).all()
    b2 = table.query("stimulus_id == 'b' and subject == '2'")
    assert b2["index"].tolist() == [0, 1]
    assert b2["t_onset"].tolist() == [0.0, 150.0]
    assert len(ds.fixations.to_scanpaths()) == 3
    assert ds.stimuli[0].image.shape == (48, 64, 3)


def test_tsv_with_column_mapping_image_column_and_clicks(tmp_path):
    write_images(tmp_path, ["pic_01.jpg"])
    pd.DataFrame({"img": ["s1"], "file": ["pic_01.jpg"], "participant": ["p"], "fx": [10.5], "fy": [3.0],
                  "dur": [220], "onset": [40]}).to_csv(tmp_path / "fix.tsv", sep="\t", index=False)
    ds = gaze_table.load(tmp_path, fixations_file="fix.tsv", kind="click", px_per_deg=30.0,
                         columns={"img": "stimulus_id", "file": "image", "participant": "subject", "fx": "x",
                                  "fy": "y", "dur": "duration", "onset": "t_onset"})
    assert ds.fixations.kind == "click"
    assert ds.fixations.table.loc[0, ["x", "t_onset"]].tolist() == [10.5, 40.0]
    assert ds.fixations.trials["px_per_deg"].tolist() == [30.0]


def test_missing_column_and_missing_root(tmp_path):
    write_images(tmp_path, ["a.png"])
    pd.DataFrame({"stimulus_id": ["a"], "subject": [1], "x": [1], "y": [1]}).to_csv(tmp_path / "fixations.csv")
    with pytest.raises(DataFormatError, match=r"fixations\.csv.*no column\(s\) \['duration'\].*columns="):
        gaze_table.load(tmp_path)
    with pytest.raises(ConfigError, match="root"):
        gaze_table.load()
    with pytest.raises(DataFormatError, match="no such file"):
        gaze_table.load(tmp_path, fixations_file="nope.csv")


def test_missing_images_are_reported_then_dropped_or_kept(tmp_path, caplog):
    write_images(tmp_path, ["1.png"])
    pd.DataFrame({"stimulus_id": [1, 2, 3, 5], "subject": ["s"] * 4, "x": [1] * 4, "y": [1] * 4,
                  "duration": [10] * 4}).to_csv(tmp_path / "fixations.csv", index=False)
    ds = gaze_table.load(tmp_path)
    assert ds.meta["missing_stimuli"] == ["2", "3", "5"]
    assert "3 of 4 stimuli have no image file (2-3, 5)" in caplog.text
    assert set(ds.fixations.table["stimulus_id"]) == {"1"}
    kept = gaze_table.load(tmp_path, keep_missing=True)
    assert len(kept.fixations) == 4 and len(kept.stimuli) == 1


def test_non_numeric_and_out_of_image_values(tmp_path):
    write_images(tmp_path, ["a.png"])
    pd.DataFrame({"stimulus_id": ["a"], "subject": [1], "x": ["left"], "y": [1], "duration": [5]}
                 ).to_csv(tmp_path / "fixations.csv", index=False)
    with pytest.raises(DataFormatError, match=r"\.x: expected finite numbers"):
        gaze_table.load(tmp_path)
    pd.DataFrame({"stimulus_id": ["a"], "subject": [1], "x": [64.0], "y": [1], "duration": [5]}
                 ).to_csv(tmp_path / "fixations.csv", index=False)
    with pytest.raises(DataFormatError, match="outside their image"):
        gaze_table.load(tmp_path)


def test_split_by_image_is_seeded_and_complete():
    ids = [str(i) for i in range(50)]
    a = gaze_table.split_by_image(ids, 0.3, seed=7)
    assert a == gaze_table.split_by_image(list(reversed(ids)), 0.3, seed=7)  # input order does not matter
    assert a != gaze_table.split_by_image(ids, 0.3, seed=8)
    assert len(a["test"]) == 15 and sorted(a["train"] + a["test"], key=int) == ids
    assert gaze_table.split_by_image(ids, 0.0) == {"train": ids}
    with pytest.raises(ConfigError):
        gaze_table.split_by_image(ids, 1.0)


def test_describe_ids():
    assert gaze_table.describe_ids([str(i) for i in range(1501, 1701)]) == "1501-1700"
    assert gaze_table.describe_ids(["9", "1", "2", "4"]) == "1-2, 4, 9"
    text = gaze_table.describe_ids([f"img{i}" for i in range(10)], max_parts=3)
    assert text.startswith("img0, img1, img2") and "10 in all" in text


def test_cumulative_onsets_per_trial():
    table = pd.DataFrame({"stimulus_id": ["a"] * 3 + ["b"], "subject": ["s"] * 4, "trial": [0, 0, 1, 0],
                          "duration": [10, 20, 30, 40]})
    np.testing.assert_allclose(gaze_table.cumulative_onsets(table), [0, 10, 0, 0])


def test_geometry_from_the_images_or_given(tmp_path):
    write_images(tmp_path, ["a.png"])
    write_images(tmp_path, ["b.png"], size=(100, 20))
    pd.DataFrame({"stimulus_id": ["a", "b"], "subject": [1, 1], "x": [1, 2], "y": [5, 4], "duration": [100, 200]}
                 ).to_csv(tmp_path / "fixations.csv", index=False)
    geo = gaze_table.load(tmp_path, test_fraction=0.5).fixations.geometry
    assert geo.size_px == (100, 48) and geo.px_per_deg is None and "bounding box" in geo.source
    geo = gaze_table.load(tmp_path, test_fraction=0.5, px_per_deg=30.0, screen_size=(1920, 1080)).fixations.geometry
    assert geo.size_px == (1920, 1080) and geo.px_per_deg == 30.0
