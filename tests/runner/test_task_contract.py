"""The task contract: discovery of the task modules, encoders fed by their declarations, diagnostics as items."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cogmodels.backbones.base import FeatureMap
from cogmodels.data import make_channel_table
from cogmodels.encoders import RidgeCV, RoutingTransformerEncoder
from cogmodels.errors import ConfigError
from cogmodels.runner.tasks import TASKS
from cogmodels.runner.tasks.base import check_requirements, diagnostic_items, fit_head, input_kind


def test_every_task_module_is_discovered():
    assert {"encode", "fit_subject", "scanpath"} <= set(TASKS.list())
    assert TASKS.get("scanpath").__module__ == "cogmodels.runner.tasks.scanpath"


def test_the_runner_reads_the_declared_input_kind_and_refuses_other_heads():
    assert input_kind(RidgeCV()) == "flat" and input_kind(RoutingTransformerEncoder()) == "tokens"
    with pytest.raises(ConfigError, match="BaseEncoder"):
        input_kind(object())


def _dataset(rois):
    """What check_requirements reads of a dataset: its name and the channel table of its responses."""
    channels = make_channel_table(len(rois), rois=rois, hemisphere=["lh"] * len(rois))
    return SimpleNamespace(name="toy", responses=SimpleNamespace(channels=channels))


def test_declared_requirements_are_checked_against_the_data_before_features():
    labelled, unlabelled = _dataset([("V1",), ("V2",)]), _dataset([("V1",), ()])
    check_requirements(RoutingTransformerEncoder(), labelled)
    check_requirements(RidgeCV(), unlabelled)  # ridge needs no ROI labels
    with pytest.raises(ConfigError) as caught:
        check_requirements(RoutingTransformerEncoder(), unlabelled)
    message = str(caught.value)
    assert "channels.rois" in message and "roi_labels" in message and "1 unlabelled" in message and "Fix:" in message


def test_diagnostics_are_stored_per_layer_and_labels_once():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(20, 2, 2, 2)).astype(np.float32), rng.normal(size=(20, 3)).astype(np.float32)
    fmap = FeatureMap(X, "spatial")
    head = fit_head(RidgeCV(alphas=[0.1, 10.0], cv=2), fmap, np.arange(20), Y, None, "complex")
    items = diagnostic_items(head, fmap, np.arange(0), "complex", {})
    assert list(items) == ["best_alpha@complex"] and items["best_alpha@complex"].shape == (3,)
    np.testing.assert_array_equal(items["best_alpha@complex"], head.best_alphas_)
