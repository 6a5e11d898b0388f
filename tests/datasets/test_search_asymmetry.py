"""The search-asymmetry generator: counts, determinism, exact masks, the shipped reference, bad inputs."""

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest

from cogmodels.data import SearchTrial
from cogmodels.datasets import search_asymmetry as sa
from cogmodels.datasets import shared_data_root
from cogmodels.datasets.search_asymmetry_reference import REFERENCE
from cogmodels.errors import ConfigError, DataFormatError, ShapeError


def test_plan_follows_the_reference():
    plan = sa.trial_plan()
    assert len(plan) == 1272
    per_condition = Counter((p, c) for p, c, _, _ in plan)
    for (paradigm, condition), count in per_condition.items():
        assert count == REFERENCE["paradigm_specs"][paradigm]["trials_per_condition"]
        assert f"{paradigm}/{condition}" in REFERENCE["rt_ms"]
    assert len(per_condition) == len(REFERENCE["rt_ms"]) == 12
    sizes = Counter((p, s) for p, _, s, _ in plan if p == "t_vs_l")
    assert set(sizes.values()) == {72} and sorted(s for _, s in sizes) == [3, 6, 9]


@pytest.mark.parametrize("paradigm", list(sa.PARADIGMS))
def test_masks_are_exactly_the_target_pixels(paradigm):
    spec = sa.PARADIGMS[paradigm]
    for condition, _, _ in spec.conditions:
        set_size = max(REFERENCE["set_sizes"][paradigm])
        trial = sa.make_trial(paradigm, condition, set_size, index=1, seed=3)
        image, mask = trial.search_image[..., 0], trial.target_mask
        assert trial.search_image.shape == (spec.display_px,) * 2 + (3,)
        assert trial.target_image.shape == (spec.target_px,) * 2 + (3,)
        # the mask lies inside the target's box and covers the same number of pixels as the target image's item
        x0, y0, x1, y1 = trial.item_boxes[trial.target_index].astype(int)
        assert mask[y0:y1, x0:x1].sum() == mask.sum() > 0
        target_pixels = (trial.target_image[..., 0] != spec.background).sum()
        if spec.background == sa.WHITE:  # strokes: exactly the non-background pixels of the box
            assert mask.sum() == target_pixels == (image[y0:y1, x0:x1] != spec.background).sum()
            assert (image[mask] == sa.BLACK).all()
        else:  # shaded discs may touch the background grey inside the disc
            assert mask.sum() >= target_pixels
        assert len(trial.items) == set_size == len(trial.item_boxes)
        boxes = trial.item_boxes
        for i in range(set_size):  # items never overlap
            for j in range(i + 1, set_size):
                assert (boxes[i, 2] <= boxes[j, 0] or boxes[j, 2] <= boxes[i, 0]
                        or boxes[i, 3] <= boxes[j, 1] or boxes[j, 3] <= boxes[i, 1])


def test_same_seed_same_display_other_seed_other_display():
    a = sa.make_trial("curvature", "curve_among_lines", 16, index=2, seed=5)
    b = sa.make_trial("curvature", "curve_among_lines", 16, index=2, seed=5)
    c = sa.make_trial("curvature", "curve_among_lines", 16, index=2, seed=6)
    assert np.array_equal(a.search_image, b.search_image) and np.array_equal(a.target_mask, b.target_mask)
    assert not np.array_equal(a.search_image, c.search_image)
    # a trial does not depend on which others were generated
    small = sa.load(paradigms=["curvature"], trials_per_condition=9, seed=5)
    assert np.array_equal(small.trials[[t.id for t in small.trials].index(a.id)].search_image, a.search_image)


def test_conditions_swap_target_and_distractors():
    easy = sa.make_trial("orientation_homogeneous", "target_tilted20", 8, seed=0)
    hard = sa.make_trial("orientation_homogeneous", "target_vertical", 8, seed=0)
    for trial, target_tilted in ((easy, True), (hard, False)):
        ys, xs = np.nonzero(trial.target_mask)
        slope = np.polyfit(ys, xs, 1)[0]  # dx/dy along the bar: 0 for vertical, -tan(20) for a 20-deg bar
        assert abs(abs(slope) - np.tan(np.radians(20))) < 0.08 if target_tilted else abs(slope) < 0.05


def test_load_dataset_and_example():
    ds = sa.load(**{k: v for k, v in sa.write_example(None).items()})
    assert len(ds.trials) == 6 and len(ds.stimuli) == 6
    assert ds.stimuli.ids == [t.id for t in ds.trials]
    assert set(ds.trials.conditions()) == {"lighting/top_down", "lighting/left_right"}
    assert ds.meta["px_per_deg"] == 30.0 and ds.trials[0].px_per_deg == 30.0


@pytest.mark.shared_data
def test_shipped_reference_equals_the_shared_file():
    path = shared_data_root() / "search_asymmetry" / "human_reference.json"
    if not path.is_file():
        pytest.skip(f"shared data not found at {path} (set COGMODELS_SHARED_DATA)")
    assert json.loads(path.read_text()) == REFERENCE


def test_bad_inputs_raise_typed_errors():
    big_target = dataclasses.replace(sa.PARADIGMS["lighting"], target_px=400)
    with pytest.raises(ConfigError, match="target"):
        sa.make_trial("lighting", "top_down", 6, spec=big_target)
    with pytest.raises(ConfigError, match="set size"):
        sa.make_trial("curvature", "curve_among_lines", 37)
    with pytest.raises(ConfigError, match="set size"):
        sa.make_trial("lighting", "top_down", 5, grid=2)
    with pytest.raises(ConfigError, match="paradigms"):
        sa.load(paradigms=["colour"])
    with pytest.raises(ConfigError, match="trials_per_condition"):
        sa.load(paradigms=["lighting"], trials_per_condition=0)
    good = sa.make_trial("lighting", "top_down", 6)
    with pytest.raises(DataFormatError, match="missing"):
        SearchTrial(good.search_image, good.target_image, None, 6)
    with pytest.raises(ShapeError, match="target_image"):
        SearchTrial(good.target_image, good.search_image, good.target_mask[:31, :31], 6)
