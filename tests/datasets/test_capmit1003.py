"""CapMIT1003 loader on a tiny SQLite database in the release schema."""

import sqlite3

import numpy as np
import pytest
from PIL import Image

from cogmodels.datasets import capmit1003
from cogmodels.errors import DataFormatError

SCHEMA = """
CREATE TABLE captions (obs_uid TEXT, usr_uid TEXT, start_time TEXT, caption TEXT, img_uid TEXT);
CREATE TABLE images (img_uid TEXT, img_path TEXT);
CREATE TABLE clicks (click_id INTEGER, obs_uid TEXT, x INTEGER, y INTEGER, click_time TEXT);
"""


def write_release(root, clicks=None, captions=None, schema=SCHEMA, image_names=("i1.jpeg", "i2.jpeg")):
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "mit1003" / "ALLSTIMULI"
    folder.mkdir(parents=True, exist_ok=True)
    for name in image_names:
        Image.new("RGB", (200, 150)).save(folder / name)
    captions = captions if captions is not None else [
        ("o1", "u1", "2022-05-03 10:00:00.000", "a dog on a sofa", "img1"),
        ("o2", "u2", "2022-05-03 11:00:00.000", "a street at night", "img1"),
        ("o3", "u1", "2022-05-03 12:00:00.000", "two cats", "img2"),
    ]
    clicks = clicks if clicks is not None else [
        (3, "o1", 120, 80, "2022-05-03 10:00:02.500"),   # out of order on purpose: click_id orders clicks
        (1, "o1", 10, 20, "2022-05-03 10:00:00.750"),
        (2, "o1", 50, 60, "2022-05-03 10:00:01.250"),
        (4, "o2", 30, 40, "2022-05-03 11:00:03.000"),
        (5, "o3", 199, 149, "2022-05-03 12:00:00.100"),
    ]
    with sqlite3.connect(root / "capmit1003.db") as db:
        db.executescript(schema)
        if "captions" in schema:
            db.executemany("INSERT INTO captions VALUES (?, ?, ?, ?, ?)", captions)
        if "images (img_uid TEXT, img_path TEXT)" in schema:
            db.executemany("INSERT INTO images VALUES (?, ?)", [("img1", "i1.jpeg"), ("img2", "i2.jpeg")])
        if "clicks (click_id INTEGER, obs_uid TEXT, x INTEGER, y INTEGER, click_time TEXT)" in schema:
            db.executemany("INSERT INTO clicks VALUES (?, ?, ?, ?, ?)", clicks)
    return root


def test_loads_clicks_as_their_own_kind(tmp_path):
    ds = capmit1003.load(write_release(tmp_path), test_fraction=0.5)
    assert ds.fixations.kind == "click"
    assert ds.stimuli.ids == ["i1", "i2"]
    table = ds.fixations.table
    o1 = table[table["trial"] == "o1"].sort_values("index")
    np.testing.assert_array_equal(o1["click_id"], [1, 2, 3])
    np.testing.assert_allclose(o1["x"], [10, 50, 120])
    np.testing.assert_allclose(o1["t_onset"], [750, 1250, 2500])
    np.testing.assert_allclose(o1["duration"], [500, 1250, 0])
    assert o1["duration_known"].tolist() == [True, True, False]
    assert set(table["subject"]) == {"u1", "u2"}
    trials = ds.fixations.trials.set_index("trial")
    assert trials.loc["o2", "caption"] == "a street at night" and trials.loc["o2", "task"] == "caption"
    assert sorted(ds.splits["train"].tolist() + ds.splits["test"].tolist()) == ["i1", "i2"]


def test_epoch_timestamps(tmp_path):
    captions = [("o1", "u1", 1651572000, "x", "img1")]
    clicks = [(1, "o1", 5, 5, 1651572000.5), (2, "o1", 6, 6, 1651572001.0)]
    ds = capmit1003.load(write_release(tmp_path, clicks=clicks, captions=captions))
    np.testing.assert_allclose(ds.fixations.table.sort_values("index")["t_onset"], [500, 1000])


def test_missing_table_or_column_is_named(tmp_path):
    no_clicks = SCHEMA.replace("CREATE TABLE clicks (click_id INTEGER, obs_uid TEXT, x INTEGER, y INTEGER, "
                               "click_time TEXT);", "")
    with pytest.raises(DataFormatError, match="a table 'clicks'"):
        capmit1003.load(write_release(tmp_path / "a", schema=no_clicks))
    renamed = SCHEMA.replace("img_path TEXT", "path TEXT")
    with pytest.raises(DataFormatError, match=r"table images.*no column\(s\) \['img_path'\]"):
        capmit1003.load(write_release(tmp_path / "b", schema=renamed))


def test_orphan_clicks_and_clicks_before_start(tmp_path):
    orphan = [(1, "nope", 5, 5, "2022-05-03 10:00:01")]
    with pytest.raises(DataFormatError, match="unknown observations"):
        capmit1003.load(write_release(tmp_path / "a", clicks=orphan))
    early = [(1, "o1", 5, 5, "2022-05-03 09:59:59")]
    with pytest.raises(DataFormatError, match="after the trial's start_time"):
        capmit1003.load(write_release(tmp_path / "b", clicks=early))
    garbage = [(1, "o1", 5, 5, "yesterday")]
    with pytest.raises(DataFormatError, match="unreadable values"):
        capmit1003.load(write_release(tmp_path / "c", clicks=garbage))


def test_click_outside_image_and_not_a_database(tmp_path):
    outside = [(1, "o1", 250, 5, "2022-05-03 10:00:01")]
    with pytest.raises(DataFormatError, match="outside their image"):
        capmit1003.load(write_release(tmp_path / "a", clicks=outside))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "capmit1003.db").write_text("not sqlite")
    with pytest.raises(DataFormatError, match="SQLite"):
        capmit1003.load(tmp_path / "b")


def test_geometry_is_the_images_bounding_box_with_unknown_degrees(tmp_path):
    geo = capmit1003.load(write_release(tmp_path), test_fraction=0.5).fixations.geometry
    assert geo.size_px == (200, 150) and not geo.has_degrees and "not recorded" in geo.source
    given = capmit1003.load(tmp_path, test_fraction=0.5, px_per_deg=35.0, screen_size=(1280, 1024)).fixations.geometry
    assert given.size_px == (1280, 1024) and given.px_per_deg == 35.0
