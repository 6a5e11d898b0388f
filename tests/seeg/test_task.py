"""The seeg task end to end on a tiny simulator run, and figures 70-72 built from its store."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from cogmodels.runner.app import config_dir, execute
from cogmodels.runner.store import load_items, load_results

pytestmark = pytest.mark.slow  # a simulation + the whole analysis: about a minute on a loaded core


@pytest.fixture(scope="module")
def seeg_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeg_task")
    overrides = ["experiment=seeg_integration", f"output_root={root}", "threads=1", "dataset.n_subjects=1",
                 "dataset.n_events=60", "dataset.n_per_class=2", "dataset.sfreq=400.0", "dataset.n_pretrain=40",
                 "dataset.tmin=-0.4", "dataset.tmax=1.2", "seeg.subjects=[\"01\"]", "seeg.n_boot=50",
                 "seeg.n_folds=3", "seeg.vl.epochs=30", "seeg.text_dim=64"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    run_id = execute(cfg)
    return root, run_id


def test_rows_and_items(seeg_store):
    root, run_id = seeg_store
    rows = load_results(root)
    rows = rows[rows["run_id"] == run_id]
    metrics = set(rows["metric"])
    assert {"n_electrodes", "n_integration_sites", "integration_recall", "integration_fdp", "pearson_r"} <= metrics
    assert rows.loc[rows["metric"] == "n_electrodes", "value"].item() == 5  # 5 shafts x 1 bipolar pair
    items = load_items(root, run_id)
    r, low, high = (items[f"{k}@multimodal@sub-01"] for k in ("r", "ci_low", "ci_high"))
    assert r.shape == (5, 8) and np.all(low <= high + 1e-12)
    assert items["true_class@sub-01"].tolist() == ["vision", "language", "integration", "noise", "noise"]
    assert set(items["label@sub-01"]) <= {"vision", "language", "integration", "responsive", "none"}


@pytest.mark.parametrize("slug", ["seeg_time_courses", "seeg_glass_brain", "seeg_integration_counts"])
def test_figures_build_from_the_store(seeg_store, slug):
    import matplotlib

    matplotlib.use("Agg")
    from cogmodels.runner.figures import load_figure_module, discover

    root, _ = seeg_store
    figure = load_figure_module(discover()[slug]).make(load_results(root), root)
    assert figure.axes
