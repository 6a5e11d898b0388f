"""Shared helpers of the runner tests: a small composed config."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from cogmodels.runner.app import config_dir

# A quickstart small enough for a unit test (a few seconds on one core).
SMALL = ["dataset=quickstart_sim",
         "dataset.n_stimuli=60", "dataset.n_channels=12", "dataset.image_size=32", "encoder.cv=3", "threads=1"]


@pytest.fixture
def compose_config(tmp_path):
    """compose_config(*overrides) -> DictConfig of experiment=quickstart under tmp_path/out."""

    def compose_(*overrides):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return compose("config", overrides=["experiment=quickstart", f"output_root={tmp_path / 'out'}",
                                                 *SMALL, *overrides])

    return compose_
