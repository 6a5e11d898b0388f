"""Task ``rsa``: every layer of a backbone against every RDM of a dataset, with the noise ceiling.

Model RDMs: ``rsa.rdm(features of the layer, flattened, metric)`` over the stimuli
of the chosen split.  Data RDMs, by what the dataset holds:

- RDM datasets (``meta["rdms"]``, e.g. ``kriegeskorte92``): each ROI group of
  ``meta["rdm_groups"]`` (e.g. ``hIT``: one RDM per subject and session) is one
  "ROI"; with ``rsa.average_sessions`` the sessions of a subject are averaged first
  (as Kriegeskorte et al. 2008 and Nili et al. 2014 do), so the noise ceiling is
  over subjects.  RDMs of no group (``hIT_fig1``, ``mIT_fig1``) are ROIs of their own,
  without a ceiling.
- Brain-response datasets: one RDM per ROI of the channel table (and "all"), from
  the responses to the split's stimuli (one subject: no ceiling).

Rows (``head`` = "rsa", ``roi_or_condition`` = the ROI, ``layer``):
``rsa_<method>`` (mean over the ROI's RDMs of compare(layer, RDM); ``n_items`` RDMs),
``rsa_<method>_ci_low`` / ``_ci_high`` (stimulus bootstrap), and per ROI with >= 2
RDMs ``noise_ceiling_lower`` / ``noise_ceiling_upper`` with their ``_ci_low`` /
``_ci_high`` (``layer`` = "").  Items: ``layers``, ``rois``, ``score@<roi>``
(n_layers,), ``score_per_rdm@<roi>`` (n_layers, n_rdms), ``rdm_names@<roi>``,
``samples@<roi>`` (n_boot, n_layers), ``ceiling_samples@<roi>`` (n_boot, 2) and the
model RDMs ``model_rdm@<layer>`` (float32, n_stimuli x n_stimuli).
"""

from __future__ import annotations

import logging

import numpy as np
from hydra.utils import instantiate

from cogmodels.errors import ConfigError, format_problem
from cogmodels.metrics import rsa
from cogmodels.runner.tasks.base import TASKS, RunContext, TaskOutput, split_rows, weights_statement

log = logging.getLogger(__name__)

DEFAULTS = {"metric": "correlation", "method": "spearman", "n_boot": 1000, "ci": 0.95, "average_sessions": True,
            "split": "all", "groups": None}


def options(cfg) -> dict:
    """The ``rsa`` config node over :data:`DEFAULTS` (unknown keys are an error)."""
    node = dict(cfg.get("rsa") or {})
    unknown = sorted(set(node) - set(DEFAULTS))
    if unknown:
        raise ConfigError(format_problem("rsa options", f"keys among {sorted(DEFAULTS)}", f"unknown {unknown}",
                                         "fix the spelling in the experiment's rsa: node"))
    out = {**DEFAULTS, **node}
    if out["metric"] not in rsa.METRICS:
        raise ConfigError(format_problem("rsa.metric", f"one of {rsa.METRICS}", repr(out["metric"]), "pick one"))
    if out["method"] not in rsa.METHODS:
        raise ConfigError(format_problem("rsa.method", f"one of {rsa.METHODS}", repr(out["method"]), "pick one"))
    return out


def data_rdms(dataset, rows: np.ndarray, average_sessions: bool, groups=None) -> dict:
    """ROI -> (names, RDMs of shape (n_rdms, n, n)) over the stimuli ``rows`` of the dataset."""
    rdms = (dataset.meta or {}).get("rdms")
    if rdms:
        if len(rows) != len(dataset.stimuli):
            rdms = {name: m[np.ix_(rows, rows)] for name, m in rdms.items()}
        table = dataset.meta.get("rdm_table")
        grouped = dict(dataset.meta.get("rdm_groups") or {})
        out = {}
        for roi, names in grouped.items():
            if average_sessions and table is not None and {"subject", "name"} <= set(table.columns):
                subjects = table.set_index("name").loc[names, "subject"]
                by_subject = {s: [n for n in names if subjects[n] == s] for s in dict.fromkeys(subjects)}
                out[roi] = ([f"{roi}_{s}" for s in by_subject],
                            np.stack([np.mean([rdms[n] for n in members], axis=0) for members in by_subject.values()]))
            else:
                out[roi] = (list(names), np.stack([rdms[n] for n in names]))
        in_groups = {n for names in grouped.values() for n in names}
        for name, matrix in rdms.items():
            if name not in in_groups:
                out[name] = ([name], matrix[None])
    elif dataset.responses is not None:
        responses = dataset.responses
        Y = responses.responses[rows]
        masks = {"all": np.ones(responses.n_channels, dtype=bool),
                 **{roi: responses.roi_mask(roi) for roi in responses.roi_names()}}
        out = {roi: ([f"{responses.subject}:{roi}"], rsa.rdm(Y[:, mask])[None]) for roi, mask in masks.items()
               if mask.sum() >= 1}
    else:
        raise ConfigError(format_problem(f"dataset {dataset.name!r}", "RDMs (meta['rdms']) or brain responses",
                                         "neither", "pick an RDM dataset such as kriegeskorte92, or brain data"))
    if groups is not None:
        missing = sorted(set(groups) - set(out))
        if missing:
            raise ConfigError(format_problem("rsa.groups", f"ROIs among {sorted(out)}", f"unknown {missing}",
                                             "list ROIs the dataset has, or groups: null for all"))
        out = {roi: out[roi] for roi in groups}
    return out


@TASKS.register("rsa")
def rsa_task(ctx: RunContext) -> TaskOutput:
    """RSA of each backbone layer against each ROI's RDMs, with stimulus-bootstrap CIs and the noise ceiling.

    Config keys: ``dataset``, ``backbone``, ``seed`` (seeds the bootstrap) and the
    ``rsa`` node: ``metric`` (model RDMs: "correlation" | "euclidean"), ``method``
    ("spearman" | "pearson" | "kendall_tau_a"), ``n_boot``, ``ci``, ``average_sessions``,
    ``split`` (stimuli used; "all" for kriegeskorte92), ``groups`` (ROIs to score; null: all).
    """
    cfg = ctx.cfg
    opts = options(cfg)
    with ctx.stage("dataset"):
        dataset = instantiate(cfg.dataset)
    rows_idx = split_rows(dataset, str(opts["split"]))
    with ctx.stage("data_rdms"):
        targets = data_rdms(dataset, rows_idx, bool(opts["average_sessions"]), opts["groups"])
    with ctx.stage("backbone"):
        backbone = instantiate(cfg.backbone)
    stimuli = dataset.stimuli.subset(rows_idx.tolist()) if len(rows_idx) != len(dataset.stimuli) else dataset.stimuli
    with ctx.stage("features"):
        features = ctx.cache.features(backbone, stimuli, list(backbone.layers))
    layers = list(features)
    with ctx.stage("model_rdms"):
        models = np.stack([rsa.rdm(features[layer].flatten(), opts["metric"]) for layer in layers])
    method = str(opts["method"])
    labels = {"dataset": cfg.dataset.name, "backbone": cfg.backbone.name, "head": "rsa", "subject": "group"}
    rows, items = [], {"layers": np.asarray(layers, dtype=str), "rois": np.asarray(list(targets), dtype=str)}
    for layer, matrix in zip(layers, models):
        items[f"model_rdm@{layer}"] = matrix.astype(np.float32)
    for k, (roi, (names, rdms)) in enumerate(targets.items()):
        log.info("rsa %s: %d layers of %s vs %d RDMs (%s), %d bootstraps", roi, len(layers), backbone.name,
                 len(names), method, int(opts["n_boot"]))
        with ctx.stage(f"bootstrap/{roi}"):
            result = rsa.bootstrap(models, rdms, method=method, n_boot=int(opts["n_boot"]), ci=float(opts["ci"]),
                                   seed=np.random.default_rng([int(cfg.get("seed") or 0), k]), progress=True)
        base = {**labels, "roi_or_condition": roi}
        for j, layer in enumerate(layers):
            for metric, value in ((f"rsa_{method}", result.scores[j]), (f"rsa_{method}_ci_low", result.ci[j, 0]),
                                  (f"rsa_{method}_ci_high", result.ci[j, 1])):
                rows.append({**base, "layer": layer, "metric": metric, "value": float(value), "n_items": len(names)})
        if result.ceiling is not None:
            for b, bound in enumerate(("lower", "upper")):
                for metric, value in ((f"noise_ceiling_{bound}", result.ceiling[b]),
                                      (f"noise_ceiling_{bound}_ci_low", result.ceiling_ci[b, 0]),
                                      (f"noise_ceiling_{bound}_ci_high", result.ceiling_ci[b, 1])):
                    rows.append({**base, "layer": "", "metric": metric, "value": float(value),
                                 "n_items": len(names)})
            items[f"ceiling_samples@{roi}"] = result.ceiling_samples
        items.update({f"score@{roi}": result.scores, f"score_per_rdm@{roi}": result.scores_per_rdm,
                      f"rdm_names@{roi}": np.asarray(names, dtype=str), f"samples@{roi}": result.samples})
    provenance = {"weights": weights_statement(backbone), "backbone_layers": layers,
                  "feature_shapes": {layer: list(f.values.shape) for layer, f in features.items()},
                  "n_stimuli": int(len(rows_idx)), "rsa": {k: v for k, v in opts.items() if k != "groups"},
                  "rois": {roi: list(names) for roi, (names, _) in targets.items()},
                  "dataset_card": str(dataset.card.name)}
    return TaskOutput(rows=rows, items=items, provenance=provenance)
