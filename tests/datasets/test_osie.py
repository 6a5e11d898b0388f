"""OSIE loader: a tiny fixations.mat in the release layout, bad inputs, and the real shared copy."""

import logging

import numpy as np
import pytest
import scipy.io
from PIL import Image

from cogmodels.datasets import osie, shared_data_root
from cogmodels.errors import DataFormatError

W, H = 80, 60  # small images keep the test fast; the loader reads sizes from the files


def subject(x, y, d):
    return {"fix_x": np.atleast_2d(np.asarray(x, float)), "fix_y": np.atleast_2d(np.asarray(y, float)),
            "fix_duration": np.atleast_2d(np.asarray(d, np.uint16))}


def write_release(root, scanpaths, images_present, layout="cell"):
    """fixations{i}.img / .subjects{j}.fix_x ... as in the OSIE release (a cell array of structs)."""
    names = sorted(scanpaths)
    if layout == "cell":
        fixations = np.empty((len(names), 1), dtype=object)
        for i, name in enumerate(names):
            subjects = np.empty((len(scanpaths[name]), 1), dtype=object)
            for j, sp in enumerate(scanpaths[name]):
                subjects[j, 0] = subject(*sp)
            fixations[i, 0] = {"img": name, "subjects": subjects}
    else:  # a struct array fixations(n) with fields img, subjects
        fixations = np.zeros((1, len(names)), dtype=[("img", object), ("subjects", object)])
        for i, name in enumerate(names):
            subjects = np.empty((len(scanpaths[name]), 1), dtype=object)
            for j, sp in enumerate(scanpaths[name]):
                subjects[j, 0] = subject(*sp)
            fixations[0, i] = (name, subjects)
    (root / "data" / "eye").mkdir(parents=True)
    (root / "data" / "stimuli").mkdir(parents=True)
    scipy.io.savemat(root / "data" / "eye" / "fixations.mat", {"fixations": fixations})
    for name in images_present:
        Image.new("RGB", (W, H), (100, 120, 140)).save(root / "data" / "stimuli" / name)


def tiny_scanpaths():
    rng = np.random.default_rng(0)
    out = {}
    for name in ("1001.jpg", "1002.jpg", "1003.jpg", "1004.jpg"):
        paths = []
        for _ in range(3):
            n = int(rng.integers(2, 6))
            paths.append((rng.uniform(1, W, n).round(1), rng.uniform(1, H, n).round(1), rng.integers(50, 400, n)))
        out[name] = paths
    return out


@pytest.mark.parametrize("layout", ["cell", "struct"])
def test_loads_release_layout_and_reports_missing_images(tmp_path, caplog, layout):
    scanpaths = tiny_scanpaths()
    write_release(tmp_path, scanpaths, ["1001.jpg", "1002.jpg"], layout=layout)
    with caplog.at_level(logging.WARNING):
        ds = osie.load(tmp_path, test_fraction=0.5)
    assert ds.stimuli.ids == ["1001", "1002"]
    assert ds.meta["missing_stimuli"] == ["1003", "1004"]
    assert "2 of 4 stimuli have no image file (1003-1004)" in caplog.text
    table = ds.fixations.table
    assert set(table["stimulus_id"]) == {"1001", "1002"}
    assert ds.fixations.subjects == ["s01", "s02", "s03"]
    assert ds.fixations.kind == "eye"
    # Coordinates: MATLAB 1-based pixel positions shifted by -0.5; onsets are cumulative durations.
    x, y, d = scanpaths["1002.jpg"][1]
    rows = table[(table["stimulus_id"] == "1002") & (table["subject"] == "s02")].sort_values("index")
    np.testing.assert_allclose(rows["x"], x - 0.5)
    np.testing.assert_allclose(rows["y"], y - 0.5)
    np.testing.assert_allclose(rows["duration"], d)
    np.testing.assert_allclose(rows["t_onset"], np.concatenate([[0], np.cumsum(d)[:-1]]))
    assert sorted(ds.splits["train"].tolist() + ds.splits["test"].tolist()) == ["1001", "1002"]
    assert ds.fixations.trials["task"].eq("free_view").all()


def test_keep_missing_and_index_base(tmp_path):
    scanpaths = tiny_scanpaths()
    write_release(tmp_path, scanpaths, ["1001.jpg"])
    ds = osie.load(tmp_path, keep_missing=True, index_base=0)
    assert set(ds.fixations.table["stimulus_id"]) == {"1001", "1002", "1003", "1004"}
    x = scanpaths["1001.jpg"][0][0]
    first = ds.fixations.table.query("stimulus_id == '1001' and subject == 's01'").sort_values("index")
    np.testing.assert_allclose(first["x"], x)


def test_split_is_seeded_and_deterministic(tmp_path):
    names = [f"{1001 + i}.jpg" for i in range(20)]
    scanpaths = {n: [([10.0], [10.0], [100])] for n in names}
    write_release(tmp_path, scanpaths, names)
    a = osie.load(tmp_path, seed=3).splits
    b = osie.load(tmp_path, seed=3).splits
    c = osie.load(tmp_path, seed=4).splits
    assert a["test"].tolist() == b["test"].tolist()
    assert a["test"].tolist() != c["test"].tolist()
    assert len(a["test"]) == 4 and not set(a["test"]) & set(a["train"])


def test_missing_field_names_file_and_field(tmp_path):
    (tmp_path / "data" / "eye").mkdir(parents=True)
    (tmp_path / "data" / "stimuli").mkdir(parents=True)
    subjects = np.empty((1, 1), dtype=object)
    subjects[0, 0] = {"fix_x": np.array([[1.0]]), "fix_y": np.array([[1.0]])}  # no fix_duration
    fixations = np.empty((1, 1), dtype=object)
    fixations[0, 0] = {"img": "1001.jpg", "subjects": subjects}
    scipy.io.savemat(tmp_path / "data" / "eye" / "fixations.mat", {"fixations": fixations})
    with pytest.raises(DataFormatError, match=r"fixations\.mat.*fix_duration"):
        osie.load(tmp_path)


def test_missing_variable_and_unequal_lengths(tmp_path):
    (tmp_path / "data" / "eye").mkdir(parents=True)
    scipy.io.savemat(tmp_path / "data" / "eye" / "fixations.mat", {"fix": np.zeros(3)})
    with pytest.raises(DataFormatError, match="variable 'fixations'"):
        osie.load(tmp_path)
    other = tmp_path / "other"
    write_release(other, {"1001.jpg": [([1.0, 2.0], [1.0], [100, 100])]}, ["1001.jpg"])
    with pytest.raises(DataFormatError, match="equal length"):
        osie.load(other)


def test_out_of_image_fixations_error_or_clip(tmp_path):
    write_release(tmp_path, {"1001.jpg": [([10.0, W + 30.0], [10.0, 20.0], [100, 200])]}, ["1001.jpg"])
    with pytest.raises(DataFormatError, match="outside their image"):
        osie.load(tmp_path)
    with pytest.warns(UserWarning, match="clipped 1 fixations outside"):
        ds = osie.load(tmp_path, clip=True)
    assert ds.fixations.table["x"].max() < W


@pytest.fixture
def shared_osie():
    root = shared_data_root() / "osie"
    if not (root / "data" / "eye" / "fixations.mat").is_file():
        pytest.skip(f"shared OSIE data not found at {root} (set COGMODELS_SHARED_DATA)")
    return root


@pytest.mark.shared_data
def test_real_osie(shared_osie, caplog):
    with caplog.at_level(logging.WARNING):
        ds = osie.load(shared_osie)
    assert len(ds.stimuli) == 500
    missing = ds.meta["missing_stimuli"]
    assert len(missing) == 200 and missing[0] == "1501" and missing[-1] == "1700"
    assert "200 of 700 stimuli have no image file (1501-1700)" in caplog.text
    table = ds.fixations.table
    assert ds.fixations.subjects == [f"s{i:02d}" for i in range(1, 16)]
    per_scanpath = table.groupby(["stimulus_id", "subject"]).size()
    assert len(per_scanpath) == 500 * 15  # every subject saw every image
    assert 5 <= per_scanpath.mean() <= 15
    assert 150 <= table["duration"].median() <= 300 and table["duration"].min() > 0
    viewing = table.groupby(["stimulus_id", "subject"])["duration"].sum()
    assert viewing.median() < 3000  # 3 s presentations
    assert table["x"].between(0, 800).all() and table["y"].between(0, 600).all()
    assert set(map(len, (ds.splits["train"], ds.splits["test"]))) == {400, 100}


def test_geometry_is_the_stated_assumption_unless_given(tmp_path):
    write_release(tmp_path, tiny_scanpaths(), ["1001.jpg", "1002.jpg"])
    geo = osie.load(tmp_path, test_fraction=0.5).fixations.geometry
    assert geo.size_px == osie.SCREEN_SIZE == (800, 600) and geo.px_per_deg == osie.ASSUMED_PX_PER_DEG == 24.0
    assert "assumed" in geo.source and "24 px/deg" in osie.CARD.notes and "assum" in osie.CARD.notes
    given = osie.load(tmp_path, test_fraction=0.5, px_per_deg=30.0).fixations.geometry
    assert given.px_per_deg == 30.0 and "given" in given.source
