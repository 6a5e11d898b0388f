"""STI Amazon book covers loader, on fixtures written by the tests (the release layout)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cogmodels
from cogmodels.errors import DataFormatError


def test_example_layout_loads(tmp_path):
    from cogmodels.datasets.sti_books import write_example

    options = write_example(tmp_path)
    ds = cogmodels.load_dataset("sti_books", **options)
    records = json.loads((tmp_path / "AmazonCovers" / "Amazon.json").read_text())
    assert ds.stimuli.ids == ["1", "2"]
    table = ds.fixations.table
    for name, record in records.items():
        sid = name.split(".")[0]
        for subject, xy in record["fixations"].items():
            rows = table[(table["stimulus_id"] == sid) & (table["subject"] == subject)].sort_values("index")
            np.testing.assert_allclose(rows[["x", "y"]].to_numpy(), np.asarray(xy))
        trial = ds.fixations.trials[ds.fixations.trials["stimulus_id"] == sid].iloc[0]
        box = record["ground_truth"][0]
        assert (trial.target_x, trial.target_y, trial.target_w, trial.target_h) == (
            box["xmin"], box["ymin"], box["xmax"] - box["xmin"], box["ymax"] - box["ymin"])
        assert ds.meta["objects"][sid].shape == (84, 4)
        assert ds.meta["target_images"][sid].name == record["target"]
    assert (table["duration"] == 0).all() and "no durations" in ds.meta["timing"]
    assert "non-commercial" in ds.card.licence
    assert set(ds.splits) == {"train", "test"}


def _write(tmp_path, record):
    from cogmodels.datasets.sti_books import write_example

    write_example(tmp_path)
    path = tmp_path / "AmazonCovers" / "Amazon.json"
    records = json.loads(path.read_text())
    records["1.jpg"].update(record)
    path.write_text(json.dumps(records))


@pytest.mark.filterwarnings("ignore:.*assumed grid")
@pytest.mark.parametrize("record, match", [
    ({"ground_truth": []}, "ground_truth"),
    ({"size": {"width": 10, "height": 60}}, "size"),
    ({"fixations": {"1": [[1, 2, 3]]}}, r"\[x, y\] pairs"),
    ({"fixations": {"1": [[500, 20]]}}, "outside"),
])
def test_bad_records(tmp_path, record, match):
    _write(tmp_path, record)
    with pytest.raises(DataFormatError, match=match):
        cogmodels.load_dataset("sti_books", root=tmp_path)


def test_missing_files(tmp_path):
    with pytest.raises(DataFormatError, match="Amazon.json"):
        cogmodels.load_dataset("sti_books", root=tmp_path)
    from cogmodels.datasets.sti_books import write_example

    write_example(tmp_path)
    (tmp_path / "AmazonCovers" / "images" / "2.jpg").unlink()
    with pytest.raises(DataFormatError, match="collage image"):
        cogmodels.load_dataset("sti_books", root=tmp_path)
