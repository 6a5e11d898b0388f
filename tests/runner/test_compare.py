"""`cogmodels compare`: two stores of the same runs are UNCHANGED; a changed value or item array is CHANGED."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from cogmodels.errors import DataFormatError
from cogmodels.runner import cli
from cogmodels.runner.app import execute


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from hydra import compose, initialize_config_dir

    from cogmodels.runner.app import config_dir
    from tests.runner.conftest import SMALL

    root = tmp_path_factory.mktemp("compare") / "out"
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        execute(compose("config", overrides=["experiment=quickstart", f"output_root={root}", *SMALL]))
    return root


def test_a_store_equals_its_recomputation_and_a_perturbed_copy_differs(store, tmp_path, capsys):
    again = tmp_path / "again"
    from hydra import compose, initialize_config_dir

    from cogmodels.runner.app import config_dir
    from tests.runner.conftest import SMALL

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        execute(compose("config", overrides=["experiment=quickstart", f"output_root={again}", *SMALL]))
    assert cli.main(["compare", str(store), str(again)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("UNCHANGED")

    changed = tmp_path / "changed"
    shutil.copytree(store, changed)
    with sqlite3.connect(changed / "results.sqlite") as con:
        con.execute("UPDATE results SET value = value + 1e-9 WHERE rowid = (SELECT MIN(rowid) FROM results WHERE value IS NOT NULL)")
    assert cli.main(["compare", str(store), str(changed)]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("CHANGED")
    assert cli.main(["compare", str(store), str(changed), "--tolerance", "1e-6"]) == 0

    items = next(changed.rglob("items.npz"))
    with np.load(items, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    key = next(k for k, v in arrays.items() if np.issubdtype(v.dtype, np.floating) and v.size)
    arrays[key] = arrays[key] + 1e-3
    np.savez(items, **arrays)
    assert cli.main(["compare", str(store), str(changed), "--tolerance", "1e-6"]) == 1
    assert key in capsys.readouterr().out


def test_a_folder_without_a_store_is_a_typed_error(store, tmp_path):
    from cogmodels.runner.compare import compare

    with pytest.raises(DataFormatError, match="results.sqlite.*output_root"):
        compare(store, tmp_path)
