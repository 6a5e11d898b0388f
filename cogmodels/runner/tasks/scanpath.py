"""Task ``scanpath``: evaluate one scanpath model (or the human ceiling) on a dataset's test images.

The protocol itself (items, metrics, the leave-one-subject-out human ceiling)
lives in :mod:`cogmodels.scanpaths.evaluate`; this module only reads the run's
config, calls it and hands the rows and per-item arrays to the runner.
"""

from __future__ import annotations

from dataclasses import asdict

from hydra.utils import instantiate

from cogmodels.errors import ConfigError, format_problem
from cogmodels.runner.tasks.base import TASKS, RunContext, TaskOutput


@TASKS.register("scanpath")
def scanpath_task(ctx: RunContext) -> TaskOutput:
    """Runner task ``scanpath``: evaluate one scanpath model (or the human ceiling) on a dataset's test images.

    Config keys: ``dataset`` (fixations + stimuli + train/test splits by image),
    ``scanpath`` (an instantiable model; ``name: another_human`` runs the
    leave-one-subject-out human ceiling), ``evaluation`` (:class:`ProtocolOptions`),
    ``seed``.  Rows: one per metric (mean over items, n_items); per-item arrays
    and example densities/scanpaths go to items.npz.
    """
    from cogmodels.scanpaths.evaluate import (
        HUMAN_CEILING, ProtocolOptions, evaluate_human_consistency, evaluate_model, protocol_geometry)

    cfg = ctx.cfg
    if cfg.get("scanpath") is None:
        raise ConfigError(format_problem("config", "a `scanpath` model (task=scanpath)", "no scanpath node",
                                         "add scanpath=<name>, e.g. experiment=scanpath_baselines scanpath=uniform"))
    options = ProtocolOptions.from_config(cfg.get("evaluation"), seed=int(cfg.get("seed", 0)))
    with ctx.stage("dataset"):
        dataset = instantiate(cfg.dataset)
    if dataset.fixations is None:
        raise ConfigError(format_problem(f"dataset {dataset.name!r}", "eye fixations (task=scanpath)",
                                         "a dataset without fixations", "pick an eye-tracking dataset, e.g. osie"))
    name = str(cfg.scanpath.name)
    model = instantiate(cfg.scanpath)
    if name == HUMAN_CEILING:
        evaluation = evaluate_human_consistency(dataset, options, model=model, stage=ctx.stage)
    else:
        evaluation = evaluate_model(model, dataset, options, name=name, stage=ctx.stage)
    labels = {"dataset": str(cfg.dataset.name), "backbone": "", "layer": "", "head": name, "subject": "all"}
    fitted = ("the test images' other observers (leave one subject out)" if name == HUMAN_CEILING
              else "the train-split fixations")
    provenance = {"weights": f"no network weights; the model is fitted to {fitted}",
                  "protocol": "items = (test image, subject); models fitted on train images; human ceiling "
                              "leave-one-subject-out; see cogmodels.scanpaths.evaluate",
                  "evaluation": asdict(options), "n_test_images": int(len(set(evaluation.stimulus_id))),
                  "n_items": int(len(evaluation.stimulus_id)), "n_train_images": len(dataset.splits["train"]),
                  "geometry": protocol_geometry(dataset, options).describe()}
    return TaskOutput(rows=evaluation.rows(labels), items=evaluation.items(), provenance=provenance)
