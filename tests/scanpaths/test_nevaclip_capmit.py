"""experiment=nevaclip_capmit runs end to end on a CapMIT1003 copy the test writes (the loader's example layout)."""

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import cogmodels
from cogmodels.datasets import DATASETS
from cogmodels.errors import WeightsUnavailableError
from cogmodels.runner.app import config_dir, execute
from cogmodels.runner.store import load_items, load_results
from cogmodels.scanpaths.evaluate import ProtocolOptions
from cogmodels.scanpaths.nevaclip import NevaClipModel
from cogmodels.scanpaths.nevaclip_capmit import CONTROL, evaluate_captioned

SMALL = ["scanpath.image_size=32", "scanpath.steps=2", "scanpath.n_fixations=3", "scanpath.calibration_images=0",
         "evaluation.n_samples=2", "threads=1"]


@pytest.fixture(scope="module")
def capmit(tmp_path_factory):
    root = tmp_path_factory.mktemp("capmit1003")
    return DATASETS.example("capmit1003")(root)


def _compose(*overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=["experiment=nevaclip_capmit", *overrides])


def test_experiment_runs_free_viewing_offline(capmit, tmp_path):
    cfg = _compose(f"dataset.root={capmit['root']}", "dataset.test_fraction=0.5", f"output_root={tmp_path}",
                   "use_captions=false", "scanpath.objective=free_view", "scanpath.encoder=gabor", *SMALL)
    run_id = execute(cfg)
    rows = load_results(tmp_path, run_id=run_id)
    assert set(rows["head"]) == {"nevaclip", CONTROL}
    assert {"sequence_score", "multimatch_position", "scanmatch"} <= set(rows["metric"])
    items = load_items(tmp_path, run_id)
    assert items["sequence_score"].shape == items["control_sequence_score"].shape
    assert len(items["stimulus_id"]) >= 1


def test_caption_experiment_without_weights_names_the_local_file_option(capmit, tmp_path):
    cfg = _compose(f"dataset.root={capmit['root']}", "dataset.test_fraction=0.5", f"output_root={tmp_path}", *SMALL)
    with pytest.raises(WeightsUnavailableError, match="weights="):
        execute(cfg)



class _Recorder(NevaClipModel):
    def sample(self, stimulus, n=10, task=None, seed=0):
        self.tasks = getattr(self, "tasks", []) + [task]
        return super().sample(stimulus, n=n, task=task, seed=seed)


def test_each_trial_is_sampled_with_its_own_caption(capmit):
    dataset = cogmodels.load_dataset("capmit1003", **capmit)
    model = _Recorder(objective="free_view", image_size=32, steps=1, n_fixations=2, calibration_images=0)
    # a caption task on an image-only encoder is refused (no text tower) ...
    with pytest.raises(WeightsUnavailableError):
        evaluate_captioned(model, dataset, ProtocolOptions(n_samples=1))
    captions = set(dataset.fixations.trials["caption"])
    assert all(t["caption"] in captions for t in model.tasks)
    # ... and free viewing works and gives one item per test trial, with the chance control beside it
    ours, control = evaluate_captioned(model, dataset, ProtocolOptions(n_samples=1), use_captions=False)
    test = dataset.fixations.subset(stimulus_ids=list(dataset.splits["test"])).table
    assert len(ours.stimulus_id) == test.groupby(["stimulus_id", "subject", "trial"]).ngroups
    assert np.isfinite(ours.values["sequence_score"]).all() and control.model == CONTROL
