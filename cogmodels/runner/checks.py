"""Checks a run's config before any work: runner keys, a writable output root, head parameters.

``cogmodels run`` calls :func:`preflight` on its command line before Hydra
starts (so before Hydra makes its log folder under the output root), and
:func:`~cogmodels.runner.app.execute` calls :func:`check_config` again on each
config of a sweep before its dataset is loaded.  Every failure is a typed
error (:class:`~cogmodels.errors.ConfigError`) in one line that names the key,
what was expected, what was found and the fix.

Head parameters: the head of each config node in :data:`HEAD_NODES` is created
from its config (``create_model(kind, name, **params)``, nothing is fitted) and
its ``validate_params()`` is called.  That method is part of every head
family's contract: ``BaseEncoder.validate_params``, ``ScanpathModel.validate_params``
and (search models) ``SearchModel.validate_params``; it checks the constructor
parameters without data and raises a ConfigError naming ``<node>.<param>``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from cogmodels.errors import ConfigError, format_problem

#: Config nodes that hold a model head, and the model kind of each.
HEAD_NODES = {"encoder": "encoder", "scanpath": "scanpath", "search": "search"}
CREATE_MODEL = "cogmodels.create_model"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_runner_keys(cfg: DictConfig) -> None:
    """``seed`` an integer, ``threads`` null or a positive integer, ``force`` a boolean, ``task`` registered."""
    from cogmodels.runner.tasks import TASKS

    seed = cfg.get("seed")
    if not _is_int(seed):
        raise ConfigError(format_problem("seed", "an integer (e.g. seed=0)", repr(seed), "pass seed=<integer>"))
    threads = cfg.get("threads")
    if threads is not None and not (_is_int(threads) and threads >= 1):
        raise ConfigError(format_problem("threads", "null (torch's default) or a positive integer (torch CPU "
                                         "threads)", repr(threads), "pass threads=1 (or leave it out)"))
    force = cfg.get("force", False)
    if not isinstance(force, bool):
        raise ConfigError(format_problem("force", "true or false", repr(force), "pass force=true to recompute"))
    task = str(cfg.get("task"))
    if task not in TASKS:
        raise ConfigError(format_problem("task", f"a registered task ({', '.join(TASKS.list())})", repr(task),
                                         "pick one of those, or add a module to cogmodels/runner/tasks/"))


def check_writable(folder, key: str = "output_root", create: bool = True) -> Path:
    """Prove ``folder`` writable: a probe file is written there and removed.

    With ``create`` the folder is made first; without it, a folder that does not
    exist yet is checked through its nearest existing parent (where it would be made).
    """
    folder = Path(str(folder)).expanduser()
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        target = folder
        while not target.exists() and target != target.parent:
            target = target.parent
        if not target.is_dir():
            raise NotADirectoryError(20, f"{target} is a file, not a folder")
        if not os.access(target, os.W_OK | os.X_OK):
            raise PermissionError(13, f"permission denied: {target} is read-only for this user")
        probe = target / f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(format_problem(
            f"{key}={folder}", "a folder this process can write (runs, results.sqlite, caches and Hydra's logs "
            "go there)", f"{type(err).__name__}: {err.strerror or err}",
            f"pass {key}=/a/writable/folder (or set COGMODELS_OUTPUT_ROOT); `cogmodels results --root {folder}` "
            "still reads a read-only store")) from None
    return folder


def validate_heads(cfg: DictConfig) -> None:
    """Create each model head of the config (no data, no fitting) and call its ``validate_params()``."""
    from cogmodels import create_model

    for node_name, kind in HEAD_NODES.items():
        node = cfg.get(node_name)
        if node is None or not isinstance(node, DictConfig) or node.get("_target_") != CREATE_MODEL:
            continue
        params = OmegaConf.to_container(node, resolve=True)
        for key in [k for k in params if k.startswith("_")] + ["kind", "name"]:
            params.pop(key, None)
        if str(node.get("kind")) != kind:
            raise ConfigError(format_problem(f"{node_name}.kind", repr(kind), repr(node.get("kind")),
                                             f"a {node_name} config creates a {kind} model"))
        try:
            head = create_model(kind, str(node.name), **params)
        except TypeError as err:  # an unknown or missing constructor parameter
            raise ConfigError(format_problem(f"{node_name} ({node.name})", "the constructor parameters of the "
                                             "registered class", str(err),
                                             f"check the keys of experiments/conf/{node_name}/{node.name}.yaml "
                                             "and the command line")) from None
        head.validate_params()


def check_config(cfg: DictConfig) -> None:
    """Every check that needs no data: runner keys, writable output root and cache, head parameters."""
    check_runner_keys(cfg)
    check_writable(cfg.output_root, "output_root")
    check_writable(cfg.cache_dir, "cache_dir", create=False)
    validate_heads(cfg)


def _first_of_each_sweep(overrides: list[str]) -> list[str]:
    """The overrides with every sweep (``a=1,2``, ``range(3)``) replaced by its first value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_sweep_override():
            first = next(iter(override.sweep_string_iterator()))
            out.append(f"{override.get_key_element()}={first}")
        else:
            out.append(override.input_line)
    return out


def preflight(overrides: list[str], config_dir: Path) -> None:
    """Compose the run's config (the first value of each sweep) and :func:`check_config` it, before Hydra runs.

    Hydra's own override errors are left to Hydra (which reports them); anything
    composed is checked.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        first = _first_of_each_sweep(overrides)
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = compose("config", overrides=first)
    except (HydraException, OmegaConfBaseException, ValueError):
        return  # Hydra reports its own composition errors with the full command line
    finally:
        GlobalHydra.instance().clear()
    check_config(cfg)
