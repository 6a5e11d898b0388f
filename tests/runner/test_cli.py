"""The `cogmodels results` and `cogmodels figures` commands, on a small store written here."""

from __future__ import annotations

import numpy as np
import pytest

from cogmodels.errors import ConfigError
from cogmodels.runner import cli
from cogmodels.runner.figures import build_figures, discover
from cogmodels.runner.store import ResultsStore, RunRecord

ROIS = ("left_field", "central", "right_field")


def _store(root, seeds=(0, 1), backbones=("gabor",), cv_by_seed=None):
    """Quickstart-like runs: per-voxel r and ceilings in items.npz, ROI means as rows."""
    store = ResultsStore(root)
    rng = np.random.default_rng(0)
    for backbone in backbones:
        for seed in seeds:
            run_id = f"{backbone[:4]}{seed:012d}"
            ceiling = rng.uniform(0.3, 0.9, 9)
            r = ceiling - rng.uniform(0, 0.2, 9)
            rois = np.repeat(ROIS, 3)
            rows = []
            for metric, layer, values in (("pearson_r", "complex", r), ("true_ceiling_r", "", ceiling)):
                for roi in ("all", *ROIS):
                    keep = np.ones(9, bool) if roi == "all" else rois == roi
                    rows.append({"dataset": "quickstart_sim", "backbone": backbone, "layer": layer, "head": "ridge",
                                 "subject": "sim-01", "roi_or_condition": roi, "metric": metric,
                                 "value": values[keep].mean(), "n_items": int(keep.sum())})
            record = RunRecord(experiment="quickstart", task="encode", seed=seed,
                               config={"seed": seed, "encoder": {"seed": seed, "cv": (cv_by_seed or {0: 5}).get(seed, 3)}},
                               finished=f"t{seed}")
            folder = store.new_run_folder("quickstart", run_id)
            np.savez(folder / "items.npz", **{"pearson_r@complex": r, "true_ceiling_r": ceiling, "rois": rois})
            store.commit(run_id, record, folder, rows)
    return root


def test_results_prints_a_table_of_the_stored_rows(tmp_path, capsys):
    _store(tmp_path)
    assert cli.main(["results", "--root", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["run_id", "seed", "experiment"] and len(lines) == 1 + 16


def test_results_filters_and_averages_over_runs(tmp_path, capsys):
    _store(tmp_path, backbones=("gabor", "vgg16"))
    assert cli.main(["results", "--root", str(tmp_path), "--metric", "pearson_r", "--backbone", "vgg16",
                     "--where", "roi_or_condition=all"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[1:]
    assert len(rows) == 2 and all("vgg16" in r and "pearson_r" in r for r in rows)

    assert cli.main(["results", "--root", str(tmp_path), "--where", "encoder.cv=3", "--experiment", "quickstart"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 16  # the seed-1 run of each backbone

    # Seeds 0 and 1 also differ in encoder.cv: they are different configs, never pooled.
    assert cli.main(["results", "--root", str(tmp_path), "--over-runs", "--metric", "pearson_r"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "n_runs" in lines[0] and len(lines) == 1 + 16 and all(line.split()[-1] == "1" for line in lines[1:])


def test_over_runs_pools_runs_that_differ_only_in_seed(tmp_path, capsys):
    _store(tmp_path, backbones=("gabor", "vgg16"), cv_by_seed={0: 3, 1: 3})
    assert cli.main(["results", "--root", str(tmp_path), "--over-runs", "--metric", "pearson_r"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 8 and all(line.split()[-1] == "2" for line in lines[1:])


def test_results_without_a_store_says_what_to_do(tmp_path, capsys):
    assert cli.main(["results", "--root", str(tmp_path)]) == 2
    assert "cogmodels run experiment=quickstart" in capsys.readouterr().err


def test_figures_builds_the_quickstart_figure_from_the_store(tmp_path):
    assert "quickstart" in discover()
    _store(tmp_path)
    out = tmp_path / "figs"
    assert cli.main(["figures", "--only", "quickstart", "--root", str(tmp_path), "--out", str(out)]) == 0
    assert (out / "quickstart.png").stat().st_size > 10_000 and (out / "quickstart.pdf").is_file()


def test_figures_fails_clearly_without_runs_and_for_unknown_names(tmp_path):
    ResultsStore(tmp_path).mark_running("x", RunRecord(experiment="other", task="encode", config={}))
    written, failed = build_figures(tmp_path, only="fig01", out_dir=tmp_path / "figs")
    assert written == [] and "run `cogmodels run experiment=quickstart` first" in failed["quickstart"]
    with pytest.raises(ConfigError, match="--only"):
        build_figures(tmp_path, only="no_such_figure")
