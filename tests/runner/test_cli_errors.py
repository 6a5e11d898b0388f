"""Command-line typos and typed errors inside `cogmodels run`: one line naming the key, the expectation, what was
found and the fix, before any data is loaded; the traceback only with --verbose (issue 7)."""

from __future__ import annotations

import logging

import pytest

from cogmodels.errors import ConfigError, DataFormatError
from cogmodels.runner import cli
from cogmodels.runner.app import typed_error
from cogmodels.runner.checks import check_runner_keys, validate_heads

SMALL = ["experiment=quickstart", "dataset=quickstart_sim", "dataset.n_stimuli=40", "dataset.n_channels=6",
         "dataset.image_size=32", "encoder.cv=3", "threads=1"]


@pytest.fixture(autouse=True)
def _fresh_log_handlers(monkeypatch):
    """cli.main's logging.basicConfig binds a handler to the stderr of its first caller; start clean."""
    monkeypatch.setattr(logging.getLogger(), "handlers", [])


def _one_line_error(capsys, argv, *names):
    capsys.readouterr()
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if not line.startswith("INFO ")]  # fit-subject logs its command
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for name in names:
        assert name in err, (name, err)
    assert "expected" in err and "found" in err and "Fix:" in err, err
    return err


@pytest.mark.parametrize("override, key, found", [("threads=-1", "threads", "-1"), ("threads=abc", "threads", "'abc'"),
                                                  ("seed=abc", "seed", "'abc'"), ("seed=1.5", "seed", "1.5"),
                                                  ("force=maybe", "force", "'maybe'")])
def test_runner_key_typos_are_one_line_errors_before_any_work(override, key, found, tmp_path, capsys):
    root = tmp_path / "out"
    err = _one_line_error(capsys, ["run", *SMALL, f"output_root={root}", override], key, found)
    assert f"{key}:" in err
    assert not (root / "hydra").exists() and not (root / "datasets").exists()  # nothing ran, no Hydra log folder


def test_bad_head_parameters_fail_at_compose_time_before_any_data(tmp_path, capsys, monkeypatch):
    from cogmodels.datasets import quickstart_sim

    def no_data(**kwargs):
        raise AssertionError("the dataset was loaded")

    monkeypatch.setattr(quickstart_sim, "load", no_data)
    root = tmp_path / "out"
    _one_line_error(capsys, ["run", *SMALL, f"output_root={root}", "encoder.alphas=[0,1]"], "encoder.alphas")
    assert not (root / "hydra").exists() and not (root / "datasets").exists()
    _one_line_error(capsys, ["run", *SMALL, f"output_root={root}", "encoder.cv=1"], "encoder.cv")


def test_an_unknown_head_parameter_is_a_config_error(compose_config):
    from omegaconf import OmegaConf

    cfg = compose_config()
    OmegaConf.set_struct(cfg, False)
    cfg.encoder.n_folds = 3
    with pytest.raises(ConfigError) as caught:
        validate_heads(cfg)
    assert "encoder (ridge)" in str(caught.value) and "n_folds" in str(caught.value)


def test_verbose_shows_the_traceback(tmp_path):
    with pytest.raises(ConfigError, match="threads"):
        cli.main(["run", *SMALL, f"output_root={tmp_path}", "threads=0", "--verbose"])


def test_runner_keys_are_checked_in_execute_too(compose_config):
    from omegaconf import OmegaConf

    cfg = compose_config()
    OmegaConf.set_struct(cfg, False)
    cfg.task = "encod"
    with pytest.raises(ConfigError, match="task: expected a registered task"):
        check_runner_keys(cfg)


def test_a_typed_error_wrapped_by_hydra_is_found():
    from hydra.errors import InstantiationException

    cause = DataFormatError("x.npy: expected a, found b. Fix: c.")
    try:
        try:
            raise cause
        except DataFormatError as err:
            raise InstantiationException("Error in call to target") from err
    except InstantiationException as wrapped:
        assert typed_error(wrapped) is cause
    assert typed_error(ValueError("raw")) is None


def test_fit_subject_n_train_typo_is_one_line(capsys, tmp_path):
    err = _one_line_error(capsys, ["fit-subject", "--subject", "subj04", "--n-train", "abc",
                                   "--output-root", str(tmp_path)], "--n-train", "'abc'")
    assert "50,100,300" in err
    _one_line_error(capsys, ["fit-subject", "--subject", "subj04", "--n-train", "10,-5"], "--n-train")


@pytest.mark.parametrize("content", [b"", b"not a model at all" * 10, b"\x80\x04K\x01."])
def test_fit_subject_model_pointing_at_a_garbage_file_is_one_line(content, capsys, tmp_path):
    garbage = tmp_path / "model.safetensors"
    garbage.write_bytes(content)
    err = _one_line_error(capsys, ["fit-subject", "--model", str(garbage), "--subject", "subj04", "--n-train", "10",
                                   "--output-root", str(tmp_path / "out"), "dataset.n_train=40", "dataset.n_test=10",
                                   "dataset.channels_per_roi=2", "dataset.image_size=64"], str(garbage))
    assert "save_encoder" in err or "safetensors" in err
