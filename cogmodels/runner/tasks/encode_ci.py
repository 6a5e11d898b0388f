"""Task ``encode_ci``: ``encode`` plus bootstrap CIs over test images and noise-normalised r from the repeats.

Made for recordings with single-trial repeats (``cowley_v4``): per neuron the test
Pearson r, the split-half reliability of the test images' responses (repeats of each
image split at random into two halves, ``n_splits`` seeded splits averaged) and its
Spearman-Brown correction to the full repeat count, the ceiling r = sqrt(that
reliability) and the noise-normalised r = r / ceiling r.  CIs: the test images are
resampled with replacement ``n_boot`` times (seeded); each sample recomputes every
neuron's r, reliability and normalised r and takes the mean over neurons; the
percentile interval is reported.

Why not ``encode``'s noise ceiling: the NSD formula z-scores each repeat *index*
across stimuli, which assumes a repeat index is one session; in this release a
repeat index is only a trial count (NaN-padded, 6-10 per image), and some neurons
fire no spike in every trial of a sparsely filled repeat index, so that formula is
undefined for them.  The split-half estimate needs no such assumption.

Rows (per layer; ROI "all" and each ROI): ``pearson_r``, ``normalized_r``, each with
``_ci_low`` / ``_ci_high``; (layer "") ``split_half_r``, ``reliability`` (Spearman-Brown),
``ceiling_r``.  Items: per-neuron ``pearson_r@<layer>``, ``normalized_r@<layer>``,
``split_half_r``, ``reliability``, ``ceiling_r``, bootstrap means
``boot_pearson_r@<layer>`` / ``boot_normalized_r@<layer>`` (n_boot,), the test
predictions ``prediction@<layer>`` (n_test, n_channels) float32 and ``test_ids``,
so paired comparisons between runs need no refit.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from cogmodels.errors import ConfigError, DataFormatError, format_problem
from cogmodels.runner.tasks.base import (
    TASKS, RunContext, TaskOutput, channel_items, diagnostic_items, encoding_inputs, encoding_provenance,
    fit_and_predict, input_kind, load_brain_dataset, metric_rows)

log = logging.getLogger(__name__)

DEFAULTS = {"n_boot": 1000, "ci": 0.95, "n_splits": 20}


def half_means(repeats: np.ndarray, n_splits: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """Means of two random halves of each stimulus's valid repeats.

    Parameters
    ----------
    repeats : array of shape (n_stimuli, n_repeats, n_channels), NaN for a missing repeat
        The number of valid repeats may differ between stimuli, not between channels.
    n_splits : int
    seed : int or Generator

    Returns
    -------
    a, b : float64 arrays of shape (n_splits, n_stimuli, n_channels)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    valid = np.isfinite(repeats)
    counts = valid.sum(axis=1)
    if np.any(counts != counts[:, :1]):
        raise DataFormatError(format_problem("repeats", "the same valid repeats in every channel of a stimulus",
                                             "channels with different repeat counts", "NaN-pad whole trials"))
    counts = counts[:, 0]
    if counts.min() < 2:
        raise DataFormatError(format_problem("repeats", "at least 2 repeats per test stimulus (split-half)",
                                             f"{int((counts < 2).sum())} stimuli with fewer",
                                             "score on stimuli with repeats"))
    n_stimuli = repeats.shape[0]
    a = np.empty((n_splits, n_stimuli, repeats.shape[2]))
    b = np.empty_like(a)
    for s in range(n_splits):
        for i in range(n_stimuli):
            trials = repeats[i][valid[i, :, 0]]
            order = rng.permutation(len(trials))
            half = len(trials) // 2
            a[s, i] = trials[order[:half]].mean(axis=0)
            b[s, i] = trials[order[half:]].mean(axis=0)
    return a, b


def _columns_r(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r along axis -2 (stimuli) for arrays (..., n_stimuli, n_channels); NaN where a side is constant."""
    xc = x - x.mean(axis=-2, keepdims=True)
    yc = y - y.mean(axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=-2) / np.sqrt((xc ** 2).sum(axis=-2) * (yc ** 2).sum(axis=-2))
    return np.clip(r, -1.0, 1.0)


def reliability(a: np.ndarray, b: np.ndarray, n_halves: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Split-half r (mean over splits) and its Spearman-Brown correction ``k r / (1 + (k - 1) r)``, k = n_halves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        half = np.nanmean(_columns_r(a, b), axis=-2)
    return half, n_halves * half / (1.0 + (n_halves - 1.0) * half)


def normalized_r(r: np.ndarray, sb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ceiling r = sqrt(Spearman-Brown reliability) (NaN where it is <= 0) and r / ceiling r."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ceiling = np.where(sb > 0, np.sqrt(np.clip(sb, 0, None)), np.nan)
        return ceiling, r / ceiling


def bootstrap_means(y_true, y_pred, a, b, n_boot: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """Mean over channels of r and of normalised r in ``n_boot`` resamples of the test stimuli: two (n_boot,)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = y_true.shape[0]
    mean_r, mean_norm = np.empty(n_boot), np.empty(n_boot)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(n_boot):
            idx = rng.integers(0, n, n)
            r = _columns_r(y_true[idx], y_pred[idx])
            _, sb = reliability(a[:, idx], b[:, idx])
            _, norm = normalized_r(r, sb)
            mean_r[k], mean_norm[k] = np.nanmean(r), np.nanmean(norm)
    return mean_r, mean_norm


@TASKS.register("encode_ci")
def encode_ci(ctx: RunContext) -> TaskOutput:
    """Brain encoding with bootstrap CIs over test images and split-half noise normalisation.

    Config keys: as ``encode`` (``dataset`` with repeats and train/test splits,
    ``backbone``, ``encoder``, ``seed``) and the ``encode_ci`` node: ``n_boot`` (1000),
    ``ci`` (0.95), ``n_splits`` (20 random split-halves of the repeats).
    """
    cfg = ctx.cfg
    opts = {**DEFAULTS, **dict(cfg.get("encode_ci") or {})}
    unknown = sorted(set(opts) - set(DEFAULTS))
    if unknown:
        raise ConfigError(format_problem("encode_ci options", f"keys among {sorted(DEFAULTS)}", f"unknown {unknown}",
                                         "fix the spelling"))
    seed = int(cfg.get("seed") or 0)
    with ctx.stage("dataset"):
        dataset = load_brain_dataset(cfg.dataset, "encode_ci")
    responses = dataset.responses
    if responses.repeats is None:
        raise ConfigError(format_problem(f"dataset {dataset.name!r}", "single-trial repeats (task encode_ci)",
                                         "no repeats", "use task=encode, or a session with a raw-responses file"))
    inputs = encoding_inputs(ctx, dataset)
    test, labels, Y = inputs.test, inputs.labels, responses.responses
    with ctx.stage("reliability"):
        a, b = half_means(responses.repeats[test].astype(np.float64), int(opts["n_splits"]),
                          np.random.default_rng([seed, 1]))
        half, sb = reliability(a, b)
        ceiling, _ = normalized_r(np.zeros_like(sb), sb)
    items = {**channel_items(responses), "split_half_r": half, "reliability": sb, "ceiling_r": ceiling,
             "test_ids": np.asarray([dataset.stimuli.ids[i] for i in test], dtype=str)}
    rows = []
    for metric, values in (("split_half_r", half), ("reliability", sb), ("ceiling_r", ceiling)):
        rows += metric_rows(values, responses, {**labels, "head": ""}, metric)
    q = [100 * (1 - float(opts["ci"])) / 2, 100 * (1 + float(opts["ci"])) / 2]
    kinds = {}
    for layer, fmap in inputs.features.items():
        head, prediction = fit_and_predict(ctx, "encode_ci", inputs, layer, responses)
        prediction = np.asarray(prediction, dtype=np.float64)
        kinds[layer] = input_kind(head)
        with ctx.stage(f"score/{layer}"):
            r = _columns_r(Y[test].astype(np.float64), prediction)
            _, norm = normalized_r(r, sb)
            boot_r, boot_norm = bootstrap_means(Y[test].astype(np.float64), prediction, a, b,
                                                int(opts["n_boot"]), np.random.default_rng([seed, 2]))
        items.update({f"pearson_r@{layer}": r, f"normalized_r@{layer}": norm, f"boot_pearson_r@{layer}": boot_r,
                      f"boot_normalized_r@{layer}": boot_norm, f"prediction@{layer}": prediction.astype(np.float32)})
        for metric, values, boot in (("pearson_r", r, boot_r), ("normalized_r", norm, boot_norm)):
            rows += metric_rows(values, responses, labels, metric, layer)
            low, high = np.nanpercentile(boot, q)
            rows += [{**labels, "layer": layer, "roi_or_condition": "all", "metric": f"{metric}_ci_{side}",
                      "value": float(v), "n_items": int(test.size)} for side, v in (("low", low), ("high", high))]
        items.update(diagnostic_items(head, fmap, np.array([], dtype=int), layer, items))  # e.g. best_alpha@<layer>
    provenance = {**encoding_provenance(inputs, dataset), "encoder_input": kinds, "encode_ci": opts,
                  "split": str((dataset.meta or {}).get("split", responses.meta.get("split", "")))}
    return TaskOutput(rows=rows, items=items, provenance=provenance)
