"""Search models: the search() contract, WTA + IOR + stop rule, eccNET's pooling geometry, baselines, errors."""

import math

import numpy as np
import pytest

import cogmodels
from cogmodels.data.search import SearchResult
from cogmodels.datasets.search_asymmetry import make_trial
from cogmodels.errors import ConfigError, DataFormatError
from cogmodels.search import SEARCH_MODELS
from cogmodels.search.base import SearchModel
from cogmodels.search.ecc_windows import (SLOPES, faithful_windows, layer_deg2px, original_mask_bytes,
                                          original_rings, per_pixel_windows)


@pytest.fixture(scope="module")
def trials():
    return {"lighting": make_trial("lighting", "top_down", 12, 0),
            "orientation": [make_trial("orientation_homogeneous", "target_tilted20", 12, k) for k in range(4)]}


def _check_result(result, trial, budget):
    assert isinstance(result, SearchResult)
    assert result.fixations.shape == (result.n_fixations, 2) and result.path.shape == (result.n_fixations + 1, 2)
    height, width = trial.target_mask.shape
    assert tuple(result.start) == ((width - 1) / 2, (height - 1) / 2)
    assert 1 <= result.n_fixations <= budget
    if result.found:
        x, y = result.fixations[-1].astype(int)
        half = max(trial.target_image.shape[:2]) // 4
        x0, y0, x1, y1 = trial.target_box
        assert x0 - half <= x <= x1 + half and y0 - half <= y <= y1 + half
    else:
        assert result.n_fixations == budget


@pytest.mark.parametrize("name", ["eccnet", "ivsn", "chance", "pixel_match"])
def test_every_searcher_follows_the_contract(name, trials):
    params = dict(SEARCH_MODELS.example(name)) if hasattr(SEARCH_MODELS, "example") else {}
    params = params or ({"backbone": "gabor", "max_fixations": 4} if name in ("eccnet", "ivsn") else {})
    searcher = cogmodels.create_model("search", name, **params)
    assert searcher.validate_params() is searcher
    trial = trials["lighting"]
    _check_result(searcher.search(trial), trial, searcher.max_fixations)
    _check_result(searcher.search(trial, max_fixations=2), trial, 2)


class _Scripted(SearchModel):
    """Priority = a fixed order of the items (target last), for testing the shared loop."""

    fixation_dependent = False

    def _priority(self, trial, fixation):
        priority = np.zeros(trial.target_mask.shape)
        order = [i for i in range(len(trial.item_boxes)) if i != trial.target_index] + [trial.target_index]
        for rank, i in enumerate(order):
            x0, y0, x1, y1 = trial.item_boxes[i].astype(int)
            priority[y0:y1, x0:x1] = len(order) - rank + 0.5
            priority[(y0 + y1) // 2, (x0 + x1) // 2] += 0.25  # the item's centre wins within its box
        return priority


def test_object_ior_visits_each_item_once_and_stops_on_the_target(trials):
    trial = make_trial("t_vs_l", "t_target", 9, 2)
    result = _Scripted(ior="object").search(trial)
    assert result.found and result.n_fixations == 9
    assert len({tuple(f) for f in result.fixations}) == 9
    assert not _Scripted(ior="object", max_fixations=5).search(trial).found


def test_square_and_grid_ior_also_reach_the_target():
    trial = make_trial("t_vs_l", "t_target", 9, 2)
    grid = _Scripted(ior="grid").search(trial)  # one item per cell: each cell once, the target's last
    assert grid.found and grid.n_fixations == 9
    square = _Scripted(ior="square").search(trial)  # squares smaller than an item: several per distractor
    assert square.found and square.n_fixations > 9


def test_eccnet_finds_a_popout_target_faster_than_chance(trials):
    eccnet = cogmodels.create_model("search", "eccnet", backbone="gabor", max_fixations=20)
    chance = cogmodels.create_model("search", "chance", max_fixations=20)
    ecc = [eccnet.search(t).n_fixations for t in trials["orientation"]]
    rand = [chance.search(t).n_fixations for t in trials["orientation"]]
    assert np.mean(ecc) < np.mean(rand)
    assert max(ecc) <= 2  # a 20-deg bar among verticals pops out of the Gabor maps


def test_eccnet_early_stages_run_once_per_trial_and_windows_follow_the_eye(trials, monkeypatch):
    searcher = cogmodels.create_model("search", "eccnet", backbone="gabor", max_fixations=3)
    pyramid = searcher._pyramid()
    calls = []
    original = pyramid._gabor_energy
    monkeypatch.setattr(pyramid, "_gabor_energy", lambda *a, **k: calls.append(1) or original(*a, **k))
    chance_order = _Scripted(max_fixations=3)
    trial = make_trial("lighting", "top_down", 12, 5)
    result = searcher.search(trial)
    assert len(calls) == 2  # the search image once and the target once, whatever the fixations
    assert result.n_fixations >= 1 and chance_order.validate_params()
    a = searcher.windows(2, (40, 40), (10.0, 10.0), 30.0)
    b = searcher.windows(2, (40, 40), (300.0, 300.0), 30.0)
    assert a[1, 1] == 2 and b[37, 37] == 2 and a[37, 37] > 2 and b[1, 1] > 2
    assert searcher.windows(0, (40, 40), (10.0, 10.0), 30.0) is None  # slope 0: plain pooling
    flat = cogmodels.create_model("search", "eccnet", backbone="gabor", ecc_mode="none")
    assert not flat.fixation_dependent and searcher.fixation_dependent


def test_faithful_rings_follow_the_original_schedule():
    # pool3 of a 1358-px input: 340-px map, output 170, px/deg round(30/4) = 8 (of the input map)
    radii, sizes = original_rings(170, layer_deg2px(30, 2), slope=SLOPES[2])
    assert radii[0] == 16 and np.all(np.diff(radii) == 4) and radii[-1] >= 85
    assert sizes[0] == 2 and sizes[1:] == [2 + int(round(0.07 * (2 * r - 4 * 8))) for r in radii[1:]]
    windows = faithful_windows((170, 170), (85, 85), 8, slope=0.07)
    assert windows[85, 85] == 2 and windows[85, 85 + 15] == 2 and windows[85, 85 + 16] == sizes[1]
    assert windows[0, 0] == sizes[-1]
    # the original's five layers keep 4.1 GiB of float32 per-channel masks at this input
    total = sum(original_mask_bytes(1358, (64, 128, 256, 512, 512), px_per_deg=30.0).values())
    assert total / 2 ** 30 == pytest.approx(4.098, abs=1e-3)
    pool5 = original_mask_bytes(1358, (64, 128, 256, 512, 512), px_per_deg=30.0, layers=[4])[4]
    assert pool5 == 19 * 43 * 43 * 512 * 4
    # per-pixel mode: true eccentricity, twice as far out per output pixel as the faithful rings
    pp = per_pixel_windows((170, 170), (85.0, 85.0), 30 / 4, 2, slope=0.07)
    assert pp[85, 85] == 2 and pp[85, 85 + 20] == 2 + round(0.07 * 7.5 * (2 * 40 / 7.5 - 4))


def test_pixel_match_finds_an_exact_copy_and_chance_is_seeded(trials):
    trial = trials["lighting"]
    assert cogmodels.create_model("search", "pixel_match").search(trial).n_fixations == 1
    a = cogmodels.create_model("search", "chance", seed=1).search(trial).fixations
    b = cogmodels.create_model("search", "chance", seed=1).search(trial).fixations
    c = cogmodels.create_model("search", "chance", seed=2).search(trial).fixations
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("name,params,field", [
    ("eccnet", {"slopes": [0, 0, -0.1, 0, 0]}, "slopes"),
    ("eccnet", {"slopes": [0.1, 0.2]}, "slopes"),
    ("eccnet", {"ecc_mode": "rings"}, "ecc_mode"),
    ("eccnet", {"topdown_layers": ["conv3"]}, "topdown_layers"),
    ("eccnet", {"backbone": "resnet50"}, "backbone"),
    ("eccnet", {"rf_min": 0}, "rf_min"),
    ("ivsn", {"layer": "pool9"}, "topdown_layers"),
    ("chance", {"ior": "cell"}, "ior"),
    ("pixel_match", {"max_fixations": 0}, "max_fixations"),
])
def test_bad_parameters_raise_config_errors(name, params, field):
    searcher = cogmodels.create_model("search", name, **params)
    with pytest.raises(ConfigError, match=f"search.{field}"):
        searcher.validate_params()


def test_bad_trial_is_a_typed_error(trials):
    with pytest.raises(DataFormatError, match="SearchTrial"):
        cogmodels.create_model("search", "chance").search(trials["lighting"].search_image)
