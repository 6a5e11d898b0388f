"""Tasks: what one run computes, registered by name (config key ``task``).

A task is a function ``task(ctx: RunContext) -> TaskOutput``.  It reads its
config from ``ctx.cfg``, times its stages with ``ctx.stage(name)``, gets
features through ``ctx.cache`` and returns result rows, per-item arrays and
provenance; the runner stores them (see :mod:`cogmodels.runner.app`).  A new
task is one function plus one line registering it in :data:`TASKS`.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig

from cogmodels.errors import ConfigError, format_problem
from cogmodels.registry import Registry
from cogmodels.runner.cache import FeatureCache

log = logging.getLogger(__name__)

TASKS = Registry("task")


@dataclass
class RunContext:
    """What a task gets from the runner.

    Attributes
    ----------
    cfg : DictConfig
        The run's config (resolved values; ``hydra`` node excluded).
    cache : FeatureCache
    timings : dict of str -> float
        Seconds per stage, filled by :meth:`stage`.
    """

    cfg: DictConfig
    cache: FeatureCache
    timings: dict = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str):
        """Time a stage of the run (seconds are added to ``timings[name]``)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


@dataclass
class TaskOutput:
    """What a task returns.

    Attributes
    ----------
    rows : list of dict
        One per (dataset, backbone, layer, head, subject, roi_or_condition, metric):
        the aggregate ``value`` over ``n_items`` items (channels, scanpaths, trials).
    items : dict of str -> array
        Per-item arrays, saved as items.npz (no object arrays).
    provenance : dict
        Extra facts for meta.json, e.g. ``weights`` ("random init, seed 0", "fixed filters").
    """

    rows: list
    items: dict
    provenance: dict = field(default_factory=dict)


def weights_statement(backbone) -> str:
    """How the backbone's weights were obtained, in words, for the results."""
    statement = getattr(backbone, "weights_statement", None)
    if statement:
        return str(statement)
    weights = str(getattr(backbone, "weights_hash", "unknown"))
    if weights == "fixed":
        return "fixed filters (no learned weights)"
    if weights.startswith("random-seed"):
        return f"random init, seed {weights[len('random-seed'):]}"
    return f"weights file sha256 {weights}"


def _split_rows(dataset, split: str) -> np.ndarray:
    if split not in dataset.splits:
        raise ConfigError(format_problem(f"dataset {dataset.name!r} splits", f"a {split!r} split",
                                         f"splits {sorted(dataset.splits)}",
                                         "use a dataset with train/test splits for the encode task"))
    return np.array([dataset.stimuli.position(sid) for sid in dataset.splits[split]], dtype=int)


def roi_means(values: np.ndarray, responses, where: str) -> list[tuple[str, float, int]]:
    """Mean of per-channel ``values`` over all channels and over each ROI.

    Parameters
    ----------
    values : array of shape (n_channels,)
    responses : BrainResponses
        Gives the channel table (multi-label ROIs: a channel counts in each of its ROIs).
    where : str
        Name of the values, for the warning about undefined ones.

    Returns
    -------
    list of (roi_or_condition, mean over defined values, number of defined values);
    "all" comes first.  Undefined (NaN) values are left out with a warning giving the count.
    """
    defined = np.isfinite(values)
    if not defined.all():
        warnings.warn(f"{where}: {int((~defined).sum())} of {values.size} channels are undefined (NaN, e.g. "
                      f"zero-variance responses); ROI means leave them out", stacklevel=2)
    groups = [("all", np.ones(values.size, dtype=bool))]
    groups += [(roi, responses.roi_mask(roi)) for roi in responses.roi_names()]
    out = []
    for name, mask in groups:
        keep = mask & defined
        out.append((name, float(values[keep].mean()) if keep.any() else float("nan"), int(keep.sum())))
    return out


def encode(ctx: RunContext) -> TaskOutput:
    """Brain encoding: features -> encoder fit on the train split -> per-channel test r.

    Config keys: ``dataset`` (returns brain responses with train/test splits),
    ``backbone``, ``encoder`` (an instantiable head with fit/predict), ``seed``.
    One encoder is fitted per backbone layer.  Per-item arrays: per channel test
    Pearson r (``pearson_r@<layer>``), chosen alpha where the head has one, and
    the simulator's true ceiling r when the dataset knows it.
    """
    from cogmodels.metrics.brain import pearson_r

    cfg = ctx.cfg
    with ctx.stage("dataset"):
        dataset = instantiate(cfg.dataset)
    if dataset.responses is None:
        raise ConfigError(format_problem(f"dataset {dataset.name!r}", "brain responses (task=encode)",
                                         "a dataset without responses", "pick a brain dataset or another task"))
    with ctx.stage("backbone"):
        backbone = instantiate(cfg.backbone)
    with ctx.stage("features"):
        features = ctx.cache.features(backbone, dataset.stimuli, list(backbone.layers))
    train, test = _split_rows(dataset, "train"), _split_rows(dataset, "test")
    responses = dataset.responses
    Y = responses.responses
    labels = {"dataset": cfg.dataset.name, "backbone": cfg.backbone.name, "head": cfg.encoder.name,
              "subject": responses.subject}
    items = {"channel_id": np.asarray(responses.channels["id"], dtype=str),
             "rois": np.asarray(["|".join(r) for r in responses.channels["rois"]], dtype=str)}
    ceiling = dataset.ground_truth.get("ceiling_r")
    rows = []
    for layer, fmap in features.items():
        X = np.asarray(fmap.flatten())
        log.info("encode %s/%s -> %s: X train %s, Y train %s, %d test stimuli", backbone.name, layer,
                 cfg.encoder.name, X[train].shape, Y[train].shape, test.size)
        with ctx.stage(f"fit/{layer}"):
            head = instantiate(cfg.encoder).fit(X[train], Y[train])
        with ctx.stage(f"predict/{layer}"):
            prediction = head.predict(X[test])
        with ctx.stage(f"score/{layer}"):
            r = pearson_r(Y[test], prediction)
        items[f"pearson_r@{layer}"] = np.asarray(r, dtype=np.float64)
        if hasattr(head, "best_alphas_"):
            items[f"best_alpha@{layer}"] = np.asarray(head.best_alphas_, dtype=np.float64)
        for roi, value, n in roi_means(np.asarray(r), responses, f"test pearson_r of {layer}"):
            rows.append({**labels, "layer": layer, "roi_or_condition": roi, "metric": "pearson_r",
                         "value": value, "n_items": n})
    if ceiling is not None:
        items["true_ceiling_r"] = np.asarray(ceiling, dtype=np.float64)
        for roi, value, n in roi_means(items["true_ceiling_r"], responses, "true ceiling r"):
            rows.append({**labels, "layer": "", "roi_or_condition": roi, "metric": "true_ceiling_r",
                         "value": value, "n_items": n})
    provenance = {"weights": weights_statement(backbone), "backbone_layers": list(backbone.layers),
                  "feature_shapes": {layer: list(f.values.shape) for layer, f in features.items()},
                  "n_train": int(train.size), "n_test": int(test.size), "dataset_card": str(dataset.card.name),
                  "simulated": bool(dataset.card.simulated)}
    return TaskOutput(rows=rows, items=items, provenance=provenance)


TASKS.register("encode", encode)
# Tasks of other families, imported only when a run asks for them.
TASKS.register("scanpath", "cogmodels.scanpaths.evaluate:scanpath_task")
