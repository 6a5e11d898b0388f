"""Every registered scanpath model honours the contract (cogmodels.scanpaths.base), run with its example.

fit on a tiny fixation table and its stimuli (the gaze_table dataset's example); ``sample(stimulus, n=3,
seed=0)`` gives Scanpath objects inside the image with positive durations, the same for the same seed;
``density`` (where the model defines one) is an (H, W) probability map.
"""

import numpy as np
import pytest

import cogmodels
from cogmodels.data import Scanpath
from cogmodels.datasets import DATASETS
from cogmodels.errors import CogModelsError
from cogmodels.scanpaths import SCANPATH_MODELS

REGISTRY = SCANPATH_MODELS


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("gaze_table")
    return cogmodels.load_dataset("gaze_table", **DATASETS.example("gaze_table")(root))


@pytest.fixture(scope="module")
def fitted(name, data):
    model = cogmodels.create_model("scanpath", name, **(REGISTRY.example(name) or {}))
    assert model.fit(data.fixations, data.stimuli) is model
    return model, data.stimuli[0]


def _arrays(scanpath):
    return [np.asarray(getattr(scanpath, k), dtype=float) for k in ("x", "y", "t_onset", "duration")]


def test_sample_gives_scanpaths_inside_the_image(fitted):
    model, stimulus = fitted
    height, width = stimulus.image.shape[:2]
    scanpaths = model.sample(stimulus, n=3, seed=0)
    assert len(scanpaths) == 3
    for sp in scanpaths:
        assert isinstance(sp, Scanpath)
        x, y, onset, duration = _arrays(sp)
        assert len(x) >= 1
        assert np.all((x >= 0) & (x <= width)) and np.all((y >= 0) & (y <= height)), (x, y)
        assert np.all(duration > 0)
        assert np.all(np.diff(onset) >= 0)


def test_same_seed_same_scanpaths(fitted):
    model, stimulus = fitted
    first, again = model.sample(stimulus, n=3, seed=0), model.sample(stimulus, n=3, seed=0)
    for a, b in zip(first, again):
        for u, v in zip(_arrays(a), _arrays(b)):
            np.testing.assert_array_equal(u, v)


def test_sample_on_an_image_array_works_or_says_why(fitted):
    """A raw (H, W, 3) array is a valid stimulus; a model that needs the image's identity (e.g. the other
    observers of that image) must say so with a typed error, not fail raw."""
    model, stimulus = fitted
    try:
        scanpaths = model.sample(stimulus.image, n=2, seed=1)
    except CogModelsError as err:
        assert "stimulus" in str(err)
        return
    assert len(scanpaths) == 2


def test_density_is_a_probability_map(fitted):
    model, stimulus = fitted
    try:
        density = model.density(stimulus)
    except NotImplementedError:
        pytest.skip(f"{type(model).__name__} defines no fixation density")
    assert density.shape == stimulus.image.shape[:2]
    assert np.all(density >= 0) and np.isfinite(density).all()
    assert density.sum() == pytest.approx(1.0, abs=1e-6)
