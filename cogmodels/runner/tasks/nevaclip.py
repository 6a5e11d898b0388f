"""Task ``nevaclip_capmit``: NevaClip's scanpaths against CapMIT1003's captioned click sequences.

The protocol lives in :mod:`cogmodels.scanpaths.nevaclip_capmit`; this module reads the
run's config, calls it and hands the rows (NevaClip and the chance control) and the
per-item arrays to the runner.  Config: ``experiment=nevaclip_capmit``.
"""

from __future__ import annotations

from dataclasses import asdict

from hydra.utils import instantiate

from cogmodels.errors import ConfigError, format_problem
from cogmodels.runner.tasks.base import TASKS, RunContext, TaskOutput


@TASKS.register("nevaclip_capmit")
def nevaclip_capmit_task(ctx: RunContext) -> TaskOutput:
    """Runner task ``nevaclip_capmit``: NevaClip (and a chance control) against CapMIT1003 click sequences.

    Config keys: ``dataset`` (CapMIT1003 through its loader), ``scanpath`` (a nevaclip model),
    ``evaluation`` (:class:`~cogmodels.scanpaths.evaluate.ProtocolOptions`), ``use_captions``, ``seed``.
    Rows: one per (head, metric), heads ``nevaclip`` and ``uniform_control``; items.npz holds the per-item
    values of both (the control's prefixed ``control_``).
    """
    from cogmodels.scanpaths.evaluate import ProtocolOptions
    from cogmodels.scanpaths.nevaclip_capmit import evaluate_captioned

    cfg = ctx.cfg
    if cfg.get("scanpath") is None or str(cfg.scanpath.get("name")) != "nevaclip":
        raise ConfigError(format_problem("config scanpath", "a nevaclip model (task=nevaclip_capmit)",
                                         repr(cfg.get("scanpath")), "use experiment=nevaclip_capmit"))
    options = ProtocolOptions.from_config(cfg.get("evaluation"), seed=int(cfg.get("seed", 0)))
    use_captions = bool(cfg.get("use_captions", True))
    with ctx.stage("dataset"):
        dataset = instantiate(cfg.dataset)
    model = instantiate(cfg.scanpath)
    ours, control = evaluate_captioned(model, dataset, options, use_captions=use_captions, stage=ctx.stage)
    labels = {"dataset": str(cfg.dataset.name), "backbone": str(cfg.scanpath.get("encoder", "")), "layer": "",
              "subject": "all"}
    rows = ours.rows({**labels, "head": "nevaclip"}) + control.rows({**labels, "head": control.model})
    items = ours.items()
    items.update({f"control_{k}": v for k, v in control.items().items() if k not in ("stimulus_id", "subject")})
    encoder = getattr(model, "_encoder", None)
    provenance = {"weights": encoder.description if encoder is not None else "encoder not built",
                  "protocol": "items = (test image, captioned trial); n_samples NevaClip scanpaths per trial "
                              "against the trial's clicks; chance control: uniform positions, same lengths; "
                              "see cogmodels.scanpaths.nevaclip_capmit",
                  "task_embedding": "the trial's caption (text tower)" if use_captions else
                                    f"objective {cfg.scanpath.get('objective')}",
                  "evaluation": asdict(options), "n_items": int(len(ours.stimulus_id))}
    return TaskOutput(rows=rows, items=items, provenance=provenance)
