"""``cogmodels report``: one self-contained HTML file of a store, built from the store alone."""

from __future__ import annotations

import re
import shutil

import pytest

from cogmodels.errors import CogModelsError, ConfigError, DataFormatError
from cogmodels.runner import app
from cogmodels.runner.cli import main as cli_main
from cogmodels.runner.report import build_report, figure_scripts_for, sortable_table
from cogmodels.runner.store import load_runs


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    """One completed quickstart run and one failed run (its task raised), written by the runner itself."""
    from hydra import compose, initialize_config_dir

    from tests.runner.conftest import SMALL

    root = tmp_path_factory.mktemp("report") / "out"
    with initialize_config_dir(config_dir=str(app.config_dir()), version_base="1.3"):
        good = compose("config", overrides=["experiment=quickstart", f"output_root={root}", *SMALL])
        bad = compose("config", overrides=["experiment=quickstart", f"output_root={root}", *SMALL, "seed=7"])
    app.execute(good)

    def broken_task(ctx):
        raise RuntimeError("simulated failure: the subject's responses ran out")

    real_get = app.TASKS.get
    app.TASKS.get = lambda name: broken_task
    try:
        with pytest.raises(RuntimeError, match="simulated failure"):
            app.execute(bad)
    finally:
        app.TASKS.get = real_get
    return root


def test_report_of_a_small_store_has_tables_figure_provenance_and_the_failed_run(small_store, tmp_path):
    out = tmp_path / "report.html"
    summary = build_report(small_store, out=out)
    text = out.read_text()
    runs = load_runs(small_store, status=None)
    done = runs[runs["status"] == "complete"]["run_id"].iloc[0]
    failed = runs[runs["status"] == "failed"]["run_id"].iloc[0]

    assert summary.experiments == ["quickstart"] and summary.n_runs == 1
    assert list(summary.failed) == [failed]
    assert "simulated failure: the subject" in summary.failed[failed]
    # the results table: searchable and sortable, one row per stored result
    assert 'data-search="true"' in text and 'data-sortable="true"' in text
    table = re.search(r'<table id="results-quickstart".*?</table>', text, re.S).group(0)
    from cogmodels.runner.store import load_results

    assert table.count("<tr>") - 1 == len(load_results(small_store, experiment="quickstart"))
    # the experiment's figure (fig01 quickstart), embedded as a PNG
    assert summary.figures["quickstart"] == ["quickstart"]
    figure = r'<img class="figure-img[^>]*alt="quickstart: fig01_quickstart"\s+src="data:image/png;base64,'
    assert re.search(figure, text)
    # provenance of the completed run: git sha, versions, weights, timings, config
    assert f"run {done[:8]}" in text and "fixed filters" in text and "package versions" in text
    assert "stage timings (s)" in text and "resolved config" in text and "numpy" in text
    # the failed run, with its error
    assert "failed or unfinished runs" in text and failed[:8] in text
    assert "simulated failure: the subject&#x27;s responses ran out" in text
    # self-contained: no script, stylesheet or image is fetched from elsewhere
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', text)


def test_report_can_skip_figures_and_pick_experiments(small_store, tmp_path):
    summary = build_report(small_store, experiments=["quickstart"], out=tmp_path / "r.html", figures=False)
    assert summary.figures == {} and 'class="figure-img' not in (tmp_path / "r.html").read_text()
    with pytest.raises(ConfigError, match="--experiment.*quickstart"):
        build_report(small_store, experiments=["no_such_experiment"], out=tmp_path / "r.html")


def test_missing_and_empty_stores_give_typed_errors(tmp_path):
    with pytest.raises(DataFormatError, match="no such folder"):
        build_report(tmp_path / "missing")
    (tmp_path / "nostore").mkdir()
    with pytest.raises(DataFormatError, match="results.sqlite.*no such file"):
        build_report(tmp_path / "nostore")
    from cogmodels.runner.store import ResultsStore

    store = ResultsStore(tmp_path / "empty")
    with store._connect():  # creates the schema and no runs
        pass
    with pytest.raises(DataFormatError, match="an empty store"):
        build_report(tmp_path / "empty")
    assert not (tmp_path / "empty" / "report.html").exists()


def test_cli_report_prints_the_path_and_the_failed_run(small_store, tmp_path, capsys):
    root = tmp_path / "copy"
    shutil.copytree(small_store, root)
    assert cli_main(["report", "--root", str(root), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert str(root / "report.html") in printed and (root / "report.html").is_file()
    assert "not complete: run" in printed and "simulated failure" in printed
    assert cli_main(["report", "--root", str(tmp_path / "nothing")]) == 2
    assert "error:" in capsys.readouterr().err


def test_a_completed_run_whose_folder_is_gone_is_listed(small_store, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(small_store, root)
    runs = load_runs(root)
    shutil.rmtree(root / runs["run_dir"].iloc[0])
    summary = build_report(root, out=tmp_path / "r.html", figures=False)
    assert summary.n_runs == 0 and any("run folder or items.npz is gone" in r for r in summary.failed.values())


def test_figure_scripts_are_matched_by_the_experiment_they_name(tmp_path):
    (tmp_path / "fig01_alpha.py").write_text('EXPERIMENT = "alpha"\ndef make(results, root):\n    pass\n')
    (tmp_path / "fig02_beta.py").write_text('"""Reads ``beta`` runs; not alpha_two."""\ndef make(r, s):\n    pass\n')
    assert list(figure_scripts_for("alpha", tmp_path)) == ["alpha"]
    assert list(figure_scripts_for("beta", tmp_path)) == ["beta"]
    assert figure_scripts_for("alpha_two", tmp_path) == {}


def test_sortable_table_escapes_cells():
    import pandas as pd

    text = sortable_table(pd.DataFrame({"a": ["<b>x</b>"], "v": [0.123456]}), "t")
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "0.1235" in text and "<b>x" not in text
    assert issubclass(DataFormatError, CogModelsError)
