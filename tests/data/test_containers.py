"""Containers keep data intact: order, content hashes, round trips."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cogmodels.data import Fixations, Scanpath, Stimuli, BrainResponses, make_channel_table


def test_stimuli_from_paths_loads_lazily_and_hashes_content(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (6, 9, 3), dtype=np.uint8) for _ in range(3)]
    paths = []
    for i, a in enumerate(arrays):
        paths.append(tmp_path / f"im{i}.png")
        Image.fromarray(a).save(paths[-1])
    stim = Stimuli.from_paths(["a", "b", "c"], paths)
    np.testing.assert_array_equal(stim["b"].image, arrays[1])
    assert stim[2].size == (9, 6)
    before = stim.fingerprint()
    Image.fromarray(arrays[0][::-1]).save(paths[0])
    assert Stimuli.from_paths(["a", "b", "c"], paths).fingerprint() != before
    sub = stim.subset(["c", "a"])
    assert sub.ids == ["c", "a"]


def test_missing_image_file_names_it(tmp_path):
    stim = Stimuli.from_paths(["a"], [tmp_path / "nope.jpg"])
    with pytest.raises(Exception, match="nope.jpg"):
        stim.image(0)


def test_fixations_round_trip_scanpaths():
    sps = [Scanpath.from_arrays([1, 2, 3], [4, 5, 6], duration=[100, 200, 300], stimulus_id="i1", subject="s1"),
           Scanpath.from_arrays([7], [8], duration=[50], stimulus_id="i2", subject="s1")]
    fix = Fixations.from_scanpaths(sps)
    back = fix.to_scanpaths()
    assert len(back) == 2
    np.testing.assert_array_equal(back[0].x, [1, 2, 3])
    np.testing.assert_array_equal(back[0].t_onset, [0, 100, 300])
    assert back[1].stimulus_id == "i2"


def test_brain_subset_and_rois():
    y = np.arange(12, dtype=np.float32).reshape(4, 3)
    br = BrainResponses(y, list("abcd"), make_channel_table(3, rois=[("V1",), ("V1", "FFA"), ()]))
    assert br.roi_names() == ["FFA", "V1"]
    np.testing.assert_array_equal(br.roi_mask("V1"), [True, True, False])
    sub = br.subset(["d", "a"], channels=np.array([False, True, True]))
    np.testing.assert_array_equal(sub.responses, [[10, 11], [1, 2]])
    assert list(sub.channels["rois"]) == [("V1", "FFA"), ()]
