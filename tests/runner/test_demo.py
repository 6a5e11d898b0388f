"""``cogmodels demo``: runs into one store, a table per family, the report; a second run reuses everything."""

from __future__ import annotations

import re

import pytest

from cogmodels.runner.demo import FAMILIES, DemoFamily, DemoRun, _compose, family_table, run_demo
from tests.runner.conftest import SMALL

TINY = (
    DemoFamily("brain (tiny)", (DemoRun("quickstart", tuple(SMALL)),), "roi_or_condition",
               ("pearson_r", "true_ceiling_r")),
    DemoFamily("search (tiny)", (DemoRun("demo_search", ("search=chance", "dataset.paradigms=[lighting]",
                                                         "evaluation.n_examples_per_condition=0")),),
               "head", ("asymmetry_index_mean", "found_rate"), {"roi_or_condition": "all"}),
)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.title.split(":")[0])
def test_every_demo_run_composes(family, tmp_path):
    for run in family.runs:
        cfg = _compose(run.experiment, run.overrides, tmp_path)
        assert cfg.experiment_name == run.experiment and str(cfg.output_root) == str(tmp_path)


def test_demo_runs_prints_tables_and_report_then_reuses_everything(tmp_path, capsys):
    root = tmp_path / "demo"
    assert run_demo(root, families=TINY) == 0
    first = capsys.readouterr().out
    assert first.count("computed in") == 2 and "reused" not in first
    assert "== brain (tiny)" in first and "== search (tiny)" in first
    brain = first.split("== brain (tiny)")[1].split("==")[0]
    assert "pearson_r" in brain and "true_ceiling_r" in brain and re.search(r"\ball\s+-?\d\.\d{3}", brain)
    assert re.search(r"report \(\d+ figures; open it in a browser\): " + re.escape(str(root / 'report.html')), first)
    assert (root / "report.html").is_file() and "[1/2] quickstart dataset=quickstart_sim ..." in first

    assert run_demo(root, families=TINY) == 0  # second run: every run is complete in the store
    second = capsys.readouterr().out
    assert second.count("reused (run") == 2 and "computed in" not in second

    assert run_demo(root, force=True, families=TINY, report=False) == 0  # recomputed from the cached features
    forced = capsys.readouterr().out
    assert forced.count("computed in") == 2 and "feature cache: 1 hit(s), 0 miss(es)" in forced


def test_family_table_keeps_only_its_runs_and_metrics():
    import pandas as pd

    rows = pd.DataFrame({"run_id": ["a", "a", "b"], "metric": ["m1", "m2", "m1"], "value": [1.0, 2.0, 9.0],
                         "head": ["x", "x", "y"], "roi_or_condition": ["all", "all", "all"]})
    family = DemoFamily("f", (), "head", ("m2", "m1"))
    table = family_table(rows, family, ["a"])
    assert list(table.columns) == ["m2", "m1"] and list(table.index) == ["x"] and table.loc["x", "m1"] == 1.0
    assert family_table(rows, family, ["zzz"]).empty
