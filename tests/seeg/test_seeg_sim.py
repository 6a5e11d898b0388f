"""The simulator's vision sites: category-driven by default, contrast-driven in the control."""

import numpy as np
import pytest

from cogmodels.datasets import seeg_sim
from cogmodels.errors import ConfigError


def _events(n=80, seed=0):
    rng = np.random.default_rng(seed)
    events = seeg_sim.events_for(n, rng)
    contrast = np.asarray([seeg_sim.grating(int(c), rng, size=16)[1] for c in events["image_category"]])
    return events, contrast


def test_default_vision_sites_follow_the_category_and_the_control_follows_contrast():
    events, contrast = _events()
    category = events["image_category"].to_numpy()
    drive = seeg_sim.drives("vision", events, contrast, np.random.default_rng(1))
    for c in range(4):  # one value per category: the image category alone
        assert np.ptp(drive[category == c]) < 1e-12
    control = seeg_sim.drives("vision", events, contrast, np.random.default_rng(1), contrast_weight=1.0,
                              category_weight=0.0)
    np.testing.assert_allclose(control, (contrast - contrast.mean()) / contrast.std(), atol=1e-12)
    assert abs(np.corrcoef(drive, contrast)[0, 1]) < 0.3  # the default carries no contrast term


def test_vision_weights_must_not_both_be_zero(tmp_path):
    with pytest.raises(ConfigError, match="category_weight"):
        seeg_sim.write_dataset(tmp_path, n_subjects=1, category_weight=0.0, contrast_weight=0.0)
    assert not any(tmp_path.iterdir())  # refused before writing anything
