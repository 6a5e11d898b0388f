"""`cogmodels list`, `cogmodels card` and `cogmodels --version`."""

from __future__ import annotations

import logging

import pytest

import cogmodels
from cogmodels import catalog
from cogmodels.runner import cli


@pytest.fixture(autouse=True)
def _fresh_log_handlers(monkeypatch):
    monkeypatch.setattr(logging.getLogger(), "handlers", [])


def test_list_prints_every_registered_name_with_its_description(capsys):
    assert cli.main(["list", "encoders"]) == 0
    out = capsys.readouterr().out.splitlines()
    expected = catalog.entries("encoders")
    assert len(out) == len(expected) and {"ridge", "routing", "factorized"} <= {line.split()[0] for line in out}
    for line, (name, description) in zip(out, expected):
        assert line.startswith(name) and line.endswith(description)


def test_list_without_a_family_lists_them_all(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for family in catalog.FAMILIES:
        assert f"{family}:" in out
    assert "  quickstart " in out and "  gabor " in out


def test_card_and_unknown_names(capsys):
    assert cli.main(["card", "quickstart_sim"]) == 0
    assert capsys.readouterr().out.strip() == catalog.card("quickstart_sim").strip()
    assert cli.main(["card", "quickstart_simm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "quickstart_sim" in err and err.count("\n") == 1
    assert cli.main(["list", "encoder"]) == 2
    assert "did you mean 'encoders'" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0 and capsys.readouterr().out.strip() == f"cogmodels {cogmodels.__version__}"
