"""The task contract: what the runner gives a task and what a task returns.

A task is one function ``task(ctx: RunContext) -> TaskOutput`` registered by
name in :data:`TASKS` (config key ``task``), in its own module of this package::

    # cogmodels/runner/tasks/seeg.py
    from cogmodels.runner.tasks.base import TASKS, RunContext, TaskOutput

    @TASKS.register("seeg")
    def seeg(ctx: RunContext) -> TaskOutput:
        ...

The modules of ``cogmodels.runner.tasks`` are imported the first time a task
is looked up or listed, so a new task is one new module and nothing else to
edit.  A task reads its config from ``ctx.cfg``, times its stages with
``ctx.stage(name)``, gets backbone features through ``ctx.cache`` and returns
result rows, per-item arrays and provenance; the runner stores them (see
:mod:`cogmodels.runner.app`).

Shared helpers for brain-data tasks live here too: loading a brain dataset,
split rows, noise ceilings, per-ROI result rows, and feeding an encoder the
features it declares it reads (``input_kind``: flat (n, C*H*W), spatial
(n, C, H, W) or tokens (n, H*W, C) with their grid and the channels' ROI labels).
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

from cogmodels.backbones.base import weights_statement  # noqa: F401  (re-exported for tasks)
from cogmodels.errors import ConfigError, format_problem
from cogmodels.registry import Registry
from cogmodels.runner.cache import FeatureCache

log = logging.getLogger(__name__)

TASKS_PACKAGE = "cogmodels.runner.tasks"
INPUT_KINDS = ("flat", "spatial", "tokens")


#: The task registry; the first lookup or listing imports every module of this package (discovery).
TASKS = Registry("task", package=TASKS_PACKAGE)



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
    """What features an encoder reads: "flat", "spatial" or "tokens" (its declared ``input_kind``)."""
    from cogmodels.encoders.base import BaseEncoder

    if not isinstance(head, BaseEncoder):
        raise ConfigError(format_problem("encoder", "an encoder (a cogmodels.encoders.base.BaseEncoder subclass "
                                         "declaring input_kind and requires)", type(head).__name__,
                                         "register the encoder as a BaseEncoder subclass"))
    return type(head).input_kind


def check_requirements(head, dataset) -> None:
    """What the encoder declares it needs (``requires``) must be in the data: ``"roi_labels"``, an ROI label
    on every channel.  A ConfigError naming the dataset and the channels otherwise, before any feature work."""
    input_kind(head)  # a BaseEncoder
    if "roi_labels" in type(head).requires:
        channels = dataset.responses.channels
        unlabelled = [str(cid) for cid, rois in zip(channels["id"], channels["rois"]) if len(rois) == 0]
        if unlabelled:
            raise ConfigError(format_problem(
                f"dataset {dataset.name!r} channels.rois", f"an ROI label on every channel ({type(head).__name__} "
                "declares requires={'roi_labels'})", f"{len(unlabelled)} unlabelled channel(s), e.g. {unlabelled[:3]}",
                "label them in the channel table (e.g. 'other'), or use an encoder without ROI queries (ridge)"))


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
    """Fit ``head`` on the stimuli ``rows`` with the one encoder call ``fit(X, Y, channels=, grid=)``."""
    inputs = head_input(fmap, input_kind(head), rows, layer)
    return head.fit(inputs["X"], Y[rows], channels=channels, grid=inputs.get("grid"))


def predict_head(head, fmap, rows: np.ndarray, layer: str) -> np.ndarray:
    """Predicted responses of shape (n_rows, n_channels)."""
    return head.predict(**head_input(fmap, input_kind(head), rows, layer))


def diagnostic_items(head, fmap, rows: np.ndarray, layer: str, items: dict) -> dict:
    """The encoder's :meth:`~cogmodels.encoders.base.BaseEncoder.diagnostics` as items.

    Numeric arrays are stored as ``<name>@<layer>``.  Label arrays (str) are
    stored once as ``<name>`` (e.g. ``query_names``), or as ``<name>@<layer>``
    when an earlier layer stored other labels under that name.  The stimuli
    ``rows`` feed the per-stimulus diagnostics the encoder declares
    (``stimulus_diagnostics``, e.g. attention maps); with no rows, none are asked.
    """
    if type(head).stimulus_diagnostics and rows.size:
        inputs = head_input(fmap, input_kind(head), rows, layer)
        values = head.diagnostics(inputs["X"], grid=inputs.get("grid"))
    else:
        values = head.diagnostics()
    out = {}
    for name, array in values.items():
        array = np.asarray(array)
        label = array.dtype.kind in "US"
        if label and (name not in items or np.array_equal(items[name], array)):
            out[name] = array
        else:
            out[f"{name}@{layer}"] = array
    return out


# -- the steps the brain-encoding tasks share (encode, encode_ci) -----------------------------
@dataclass
class EncodingInputs:
    """What a brain-encoding task has before it fits: the backbone, its features of every stimulus
    ({layer: FeatureMap}), the train and test rows, and the labels of its result rows (dataset,
    backbone, head = the encoder config's name, subject)."""

    backbone: object
    features: dict
    train: np.ndarray
    test: np.ndarray
    labels: dict


def encoding_inputs(ctx: RunContext, dataset) -> EncodingInputs:
    """Create the backbone (stage ``backbone``) and get its features of ``dataset``'s stimuli through the
    feature cache (stage ``features``); the split rows and row labels come from the dataset and the config."""
    cfg = ctx.cfg
    with ctx.stage("backbone"):
        backbone = instantiate(cfg.backbone)
    with ctx.stage("features"):
        features = ctx.cache.features(backbone, dataset.stimuli, list(backbone.layers))
    labels = {"dataset": cfg.dataset.name, "backbone": cfg.backbone.name, "head": cfg.encoder.name,
              "subject": dataset.responses.subject}
    return EncodingInputs(backbone, features, split_rows(dataset, "train"), split_rows(dataset, "test"), labels)


def fit_and_predict(ctx: RunContext, task: str, inputs: EncodingInputs, layer: str, responses):
    """Fit a new encoder of ``cfg.encoder`` on the train rows of one layer (stage ``fit/<layer>``) and
    predict the test rows (stage ``predict/<layer>``).

    Returns
    -------
    head : the fitted encoder
    prediction : array of shape (n_test, n_channels)
    """
    fmap, Y = inputs.features[layer], responses.responses
    log.info("%s %s/%s -> %s: %d train / %d test stimuli, %d channels, features %s", task, inputs.backbone.name,
             layer, ctx.cfg.encoder.name, inputs.train.size, inputs.test.size, Y.shape[1], fmap.values.shape[1:])
    with ctx.stage(f"fit/{layer}"):
        head = fit_head(instantiate(ctx.cfg.encoder), fmap, inputs.train, Y, responses.channels, layer)
    with ctx.stage(f"predict/{layer}"):
        prediction = predict_head(head, fmap, inputs.test, layer)
    return head, prediction


def encoding_provenance(inputs: EncodingInputs, dataset) -> dict:
    """The provenance every brain-encoding run records: weights, layers, feature shapes, split sizes, card."""
    return {"weights": weights_statement(inputs.backbone), "backbone_layers": list(inputs.backbone.layers),
            "feature_shapes": {layer: list(f.values.shape) for layer, f in inputs.features.items()},
            "n_train": int(inputs.train.size), "n_test": int(inputs.test.size),
            "dataset_card": str(dataset.card.name)}
