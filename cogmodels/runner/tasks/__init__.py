"""Tasks: what one run computes, registered by name (config key ``task``).

A task is a function ``task(ctx: RunContext) -> TaskOutput``.  It reads its
config from ``ctx.cfg``, times its stages with ``ctx.stage(name)``, gets
features through ``ctx.cache`` and returns result rows, per-item arrays and
provenance; the runner stores them (see :mod:`cogmodels.runner.app`).  A new
task is one function plus one line registering it in :data:`TASKS`.

Brain tasks:

- ``encode`` (here): features -> one encoder per backbone layer fitted on the
  train split -> per-channel test r, noise ceilings and noise-normalised accuracy;
- ``fit_subject`` (:mod:`cogmodels.runner.fit_subject`): a multi-subject routing
  transformer transferred to a new subject, against a from-scratch fit.

How an encoder receives the features depends on what it reads (its
``input_kind``, see :func:`input_kind`): flat heads (ridge) get (n, C*H*W),
spatial heads (factorized readout) get (n, C, H, W), and token heads (routing
transformer) get tokens (n, H*W, C) with their grid and the channels' ROI labels.
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

INPUT_KINDS = ("flat", "spatial", "tokens")
DEFAULT_N_EXAMPLES = 4  # test images whose attention maps are stored (heads with attention_maps)
MAX_EXAMPLE_SIDE = 256  # stored example images are shrunk to at most this many pixels per side


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


# -- brain data ---------------------------------------------------------------------
def load_brain_dataset(node: DictConfig, task: str, **options):
    """Instantiate a dataset config that must hold brain responses (``options`` override its keys)."""
    dataset = instantiate(node, **options)
    if dataset.responses is None:
        raise ConfigError(format_problem(f"dataset {dataset.name!r}", f"brain responses (task={task})",
                                         "a dataset without responses", "pick a brain dataset or another task"))
    return dataset


def split_rows(dataset, split: str) -> np.ndarray:
    """Row indices (into ``dataset.stimuli``) of the stimuli of one split."""
    if split not in dataset.splits:
        raise ConfigError(format_problem(f"dataset {dataset.name!r} splits", f"a {split!r} split",
                                         f"splits {sorted(dataset.splits)}",
                                         "use a dataset with train/test splits for brain encoding"))
    return np.array([dataset.stimuli.position(sid) for sid in dataset.splits[split]], dtype=int)



def metric_rows(values: np.ndarray, responses, labels: dict, metric: str, layer: str = "") -> list[dict]:
    """Result rows of one per-channel metric: its mean over all channels ("all", first) and within each ROI
    (a channel counts in each of its ROIs).  Undefined (NaN) channels are left out of the means with a
    warning giving their count; ``n_items`` counts the defined ones."""
    from cogmodels.metrics.brain import roi_aggregate

    values = np.asarray(values, dtype=np.float64)
    undefined = np.isnan(values)
    if undefined.any():
        warnings.warn(f"{metric} {layer}: {int(undefined.sum())} of {values.size} channels are undefined (NaN, "
                      f"e.g. zero-variance responses); ROI means leave them out", stacklevel=2)
    masks = {"all": np.ones(values.size, dtype=bool), **{roi: responses.roi_mask(roi) for roi in responses.roi_names()}}
    summary = roi_aggregate(values, masks)
    return [{**labels, "layer": layer, "roi_or_condition": row.roi, "metric": metric, "value": float(row.mean),
             "n_items": int(row.n_channels - row.n_undefined)} for row in summary.itertuples()]


def channel_items(responses) -> dict:
    """Per-channel labels for items.npz: id, ROIs ("V1|early"), hemisphere and surface vertex when known."""
    channels = responses.channels
    items = {"channel_id": np.asarray(channels["id"], dtype=str),
             "rois": np.asarray(["|".join(r) for r in channels["rois"]], dtype=str),
             "hemisphere": np.asarray(channels["hemisphere"], dtype=str)}
    if "vertex" in channels.columns:
        items["vertex"] = np.asarray(channels["vertex"], dtype=np.int64)
    return items


def estimated_noise_ceiling(responses) -> np.ndarray | None:
    """Noise ceiling per channel (fraction of variance, NSD formula) from the repeats of all stimuli.

    The ceiling is a property of each channel given the repeats averaged, so all
    stimuli with repeats are used, not only the test split: a more precise estimate.
    Without repeats, a ceiling the release ships (``responses.meta["noise_ceiling"]``,
    e.g. Algonauts 2023) is used; otherwise None (and the log says so).
    """
    from cogmodels.metrics.brain import noise_ceiling

    if responses.repeats is None:
        shipped = responses.meta.get("noise_ceiling")
        if shipped is not None:
            log.info("subject %s: noise ceiling from the release (no single-trial repeats)", responses.subject)
            return np.asarray(shipped, dtype=np.float64)
        log.info("subject %s has no single-trial repeats: no noise ceiling, no normalised accuracy",
                 responses.subject)
        return None
    return noise_ceiling(responses.repeats)


def true_ceilings(dataset) -> dict:
    """The simulator's true ceilings, per channel, when the dataset knows them.

    Returns a dict with ``true_noise_ceiling`` (fraction of variance; nsd_sim) and/or
    ``true_ceiling_r`` (the largest reachable r: sqrt of the former, or the
    quickstart simulator's own ``ceiling_r``).
    """
    truth = dataset.ground_truth or {}
    out = {}
    if truth.get("noise_ceiling") is not None:
        out["true_noise_ceiling"] = np.asarray(truth["noise_ceiling"], dtype=np.float64)
        out["true_ceiling_r"] = np.sqrt(out["true_noise_ceiling"])
    elif truth.get("ceiling_r") is not None:
        out["true_ceiling_r"] = np.asarray(truth["ceiling_r"], dtype=np.float64)
    return out


def accuracy_items(y_true: np.ndarray, y_pred: np.ndarray, nc: np.ndarray | None) -> dict:
    """Per-channel test Pearson r and, given a noise ceiling, noise-normalised accuracy (Algonauts 2023)."""
    from cogmodels.metrics.brain import normalized_accuracy, pearson_r

    scores = {"pearson_r": np.asarray(pearson_r(y_true, y_pred), dtype=np.float64)}
    if nc is not None:
        scores["normalized_accuracy"] = normalized_accuracy(scores["pearson_r"], nc)
    return scores


def ceiling_outputs(dataset, labels: dict) -> tuple[dict, list[dict], np.ndarray | None]:
    """Items and rows of the estimated noise ceiling and of the true ceilings; also returns the estimate.

    Metrics: ``noise_ceiling`` (fraction of variance, from the repeats), ``noise_ceiling_r``
    (its square root), ``true_noise_ceiling`` and ``true_ceiling_r`` (simulators).
    """
    responses = dataset.responses
    nc = estimated_noise_ceiling(responses)
    items, rows = {}, []
    # noise_ceiling_r = sqrt(NC): the largest test r reachable, on the scale of pearson_r
    estimates = {"noise_ceiling": nc, "noise_ceiling_r": np.sqrt(nc)} if nc is not None else {}
    for name, values in {**estimates, **true_ceilings(dataset)}.items():
        items[name] = values
        rows += metric_rows(values, responses, labels, name)
    return items, rows, nc


# -- encoders and their inputs ----------------------------------------------------------
def input_kind(head) -> str:
    """What features an encoder reads: "flat", "spatial" or "tokens".

    Encoders declare it as a class attribute (``BaseEncoder.input_kind``); a
    head from elsewhere that does not gets flat features.
    """
    kind = getattr(type(head), "input_kind", "flat")
    if kind not in INPUT_KINDS:
        raise ConfigError(format_problem(f"{type(head).__name__}.input_kind", f"one of {INPUT_KINDS}", repr(kind),
                                         "declare what the encoder reads"))
    return kind


def head_input(fmap, kind: str, rows: np.ndarray, layer: str) -> dict:
    """Keyword arguments X (and grid) of ``fit``/``predict`` for the stimuli ``rows`` of one layer."""
    if kind == "flat":
        return {"X": np.asarray(fmap.flatten()[rows])}
    if fmap.kind == "vector":
        raise ConfigError(format_problem(f"backbone layer {layer!r}", f"a spatial or token layer ({kind} encoder)",
                                         "a pooled vector layer", "pick a layer that keeps its spatial grid"))
    if kind == "spatial":
        return {"X": np.ascontiguousarray(fmap.as_spatial()[rows])}
    return {"X": np.ascontiguousarray(fmap.as_tokens()[rows]), "grid": tuple(fmap.grid)}


def fit_head(head, fmap, rows: np.ndarray, Y: np.ndarray, channels, layer: str):
    """Fit ``head`` on the stimuli ``rows``; token heads also get the channels' ROI labels and hemispheres."""
    kind = input_kind(head)
    inputs = head_input(fmap, kind, rows, layer)
    if kind == "tokens":
        hemispheres = list(channels["hemisphere"])
        inputs.update(rois=list(channels["rois"]), hemispheres=hemispheres if any(hemispheres) else None)
    return head.fit(Y=Y[rows], **inputs)


def predict_head(head, fmap, rows: np.ndarray, layer: str) -> np.ndarray:
    """Predicted responses of shape (n_rows, n_channels)."""
    return head.predict(**head_input(fmap, input_kind(head), rows, layer))


def example_items(dataset, rows: np.ndarray) -> dict:
    """Example images and their ground-truth object boxes (simulators), for attention figures.

    Returns ``example_ids`` (n_examples,), ``example_images`` uint8 (n_examples, S, S', 3)
    (shrunk to at most MAX_EXAMPLE_SIDE pixels a side) and, when the dataset knows its
    objects, ``example_boxes`` float (n_boxes, 5) = (example index, x0, y0, x1, y1) in
    pixels of the stored images, ``example_box_category`` (n_boxes,), and the category
    ROI of each category: ``category_names`` / ``category_rois``.
    """
    from PIL import Image

    ids = [dataset.stimuli.ids[i] for i in rows]
    images = [dataset.stimuli.image(int(i)) for i in rows]
    height, width = images[0].shape[:2]
    scale = min(1.0, MAX_EXAMPLE_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = [np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR)) if img.shape[:2] != size[::-1]
               else img for img in images]
    items = {"example_ids": np.asarray(ids, dtype=str), "example_images": np.stack(resized).astype(np.uint8)}
    truth = dataset.ground_truth or {}
    objects = truth.get("objects")
    if objects is not None and "routing_rois" in truth:
        boxes, categories = [], []
        for k, (sid, img) in enumerate(zip(ids, images)):
            sx, sy = size[0] / img.shape[1], size[1] / img.shape[0]
            for obj in objects[objects["stimulus_id"] == sid].itertuples():
                boxes.append([k, obj.x0 * sx, obj.y0 * sy, obj.x1 * sx, obj.y1 * sy])
                categories.append(obj.category)
        items["example_boxes"] = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
        items["example_box_category"] = np.asarray(categories, dtype=str)
        items["category_names"] = np.asarray(truth["categories"], dtype=str)
        items["category_rois"] = np.asarray(truth["routing_rois"], dtype=str)
    return items


def attention_items(head, fmap, rows: np.ndarray, layer: str) -> dict:
    """Attention of each query over the feature grid for the example stimuli ``rows``.

    Returns ``attention@<layer>`` float32 (n_examples, n_queries, H, W), each map
    summing to 1, and ``query_names`` (n_queries,).
    """
    inputs = head_input(fmap, "tokens", rows, layer)
    maps = np.asarray(head.attention_maps(inputs["X"], grid=inputs["grid"]), dtype=np.float32)
    return {f"attention@{layer}": maps, "query_names": np.asarray(head.query_names_, dtype=str)}


# -- the encode task ------------------------------------------------------------------
def encode(ctx: RunContext) -> TaskOutput:
    """Brain encoding: features -> encoder fit on the train split -> per-channel test scores.

    Config keys: ``dataset`` (brain responses with train/test splits),
    ``backbone``, ``encoder`` (an instantiable head with fit/predict), ``seed``,
    and optionally ``encode.n_examples`` (test images whose attention maps are
    stored, for heads with ``attention_maps``; default 4).

    One encoder is fitted per backbone layer.  Per-item arrays (one value per
    channel): ``pearson_r@<layer>``, ``normalized_accuracy@<layer>`` (when the data
    have repeats), ``noise_ceiling`` (estimated from the repeats),
    ``true_noise_ceiling`` / ``true_ceiling_r`` (simulators), ``best_alpha@<layer>``
    (ridge), channel labels; attention maps and example images for routing heads.
    Rows: the mean of each per-channel metric over all channels and per ROI.
    """
    cfg = ctx.cfg
    with ctx.stage("dataset"):
        dataset = load_brain_dataset(cfg.dataset, "encode")
    with ctx.stage("backbone"):
        backbone = instantiate(cfg.backbone)
    with ctx.stage("features"):
        features = ctx.cache.features(backbone, dataset.stimuli, list(backbone.layers))
    train, test = split_rows(dataset, "train"), split_rows(dataset, "test")
    responses = dataset.responses
    Y = responses.responses
    labels = {"dataset": cfg.dataset.name, "backbone": cfg.backbone.name, "head": cfg.encoder.name,
              "subject": responses.subject}
    with ctx.stage("noise_ceiling"):
        items, rows, nc = ceiling_outputs(dataset, {**labels, "head": ""})
    items.update(channel_items(responses))
    n_examples = int((cfg.get("encode") or {}).get("n_examples", DEFAULT_N_EXAMPLES))
    examples = test[:max(0, n_examples)]
    kinds = {}
    for layer, fmap in features.items():
        log.info("encode %s/%s -> %s: %d train / %d test stimuli, %d channels, features %s", backbone.name, layer,
                 cfg.encoder.name, train.size, test.size, Y.shape[1], fmap.values.shape[1:])
        with ctx.stage(f"fit/{layer}"):
            head = fit_head(instantiate(cfg.encoder), fmap, train, Y, responses.channels, layer)
        kinds[layer] = input_kind(head)
        with ctx.stage(f"predict/{layer}"):
            prediction = predict_head(head, fmap, test, layer)
        with ctx.stage(f"score/{layer}"):
            scores = accuracy_items(Y[test], prediction, nc)
        for metric, values in scores.items():
            items[f"{metric}@{layer}"] = values
            rows += metric_rows(values, responses, labels, metric, layer)
        if hasattr(head, "best_alphas_"):
            items[f"best_alpha@{layer}"] = np.asarray(head.best_alphas_, dtype=np.float64)
        if hasattr(head, "attention_maps") and examples.size:
            with ctx.stage(f"attention/{layer}"):
                items.update(attention_items(head, fmap, examples, layer))
                items.update(example_items(dataset, examples))
    provenance = {"weights": weights_statement(backbone), "backbone_layers": list(backbone.layers),
                  "feature_shapes": {layer: list(f.values.shape) for layer, f in features.items()},
                  "n_train": int(train.size), "n_test": int(test.size), "dataset_card": str(dataset.card.name),
                  "simulated": bool(dataset.card.simulated), "encoder_input": kinds}
    return TaskOutput(rows=rows, items=items, provenance=provenance)


TASKS.register("encode", encode)
TASKS.register("fit_subject", "cogmodels.runner.fit_subject:fit_subject")
# Tasks of other families, imported only when a run asks for them.
TASKS.register("scanpath", "cogmodels.scanpaths.evaluate:scanpath_task")
