"""Task ``encode``: brain encoding, one encoder per backbone layer, scored per channel on the test split.

Features -> one encoder per backbone layer fitted on the train split ->
per-channel test r, noise ceilings and noise-normalised accuracy.  How an
encoder receives the features depends on what it reads (its ``input_kind``,
see :func:`~cogmodels.runner.tasks.base.input_kind`).
"""

from __future__ import annotations

import logging

import numpy as np
from hydra.utils import instantiate

from cogmodels.runner.tasks.base import (
    TASKS, RunContext, TaskOutput, accuracy_items, ceiling_outputs, channel_items, check_requirements,
    diagnostic_items, encoding_inputs, encoding_provenance, fit_and_predict, input_kind, load_brain_dataset,
    metric_rows)

log = logging.getLogger(__name__)

DEFAULT_N_EXAMPLES = 4  # test images whose per-stimulus diagnostics (attention maps) are stored
MAX_EXAMPLE_SIDE = 256  # stored example images are shrunk to at most this many pixels per side


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


# -- the encode task ------------------------------------------------------------------
@TASKS.register("encode")
def encode(ctx: RunContext) -> TaskOutput:
    """Brain encoding: features -> encoder fit on the train split -> per-channel test scores.

    Config keys: ``dataset`` (brain responses with train/test splits),
    ``backbone``, ``encoder`` (a registered encoder), ``seed``, and optionally
    ``encode.n_examples`` (test images whose per-stimulus diagnostics are stored,
    for encoders that declare ``stimulus_diagnostics``, e.g. attention maps; default 4).

    One encoder is fitted per backbone layer.  Per-item arrays (one value per
    channel): ``pearson_r@<layer>``, ``normalized_accuracy@<layer>`` (when the data
    have repeats), ``noise_ceiling`` (estimated from the repeats),
    ``true_noise_ceiling`` / ``true_ceiling_r`` (simulators), channel labels, and the
    encoder's ``diagnostics()`` (``best_alpha@<layer>`` for ridge; ``attention@<layer>``,
    ``query_names`` and the example images for the routing transformer).
    Rows: the mean of each per-channel metric over all channels and per ROI.
    """
    cfg = ctx.cfg
    with ctx.stage("dataset"):
        dataset = load_brain_dataset(cfg.dataset, "encode")
        check_requirements(instantiate(cfg.encoder), dataset)  # before any feature is computed
    inputs = encoding_inputs(ctx, dataset)
    test, labels, responses = inputs.test, inputs.labels, dataset.responses
    Y = responses.responses
    with ctx.stage("noise_ceiling"):
        items, rows, nc = ceiling_outputs(dataset, {**labels, "head": ""})
    items.update(channel_items(responses))
    n_examples = int((cfg.get("encode") or {}).get("n_examples", DEFAULT_N_EXAMPLES))
    examples = test[:max(0, n_examples)]
    kinds = {}
    for layer, fmap in inputs.features.items():
        head, prediction = fit_and_predict(ctx, "encode", inputs, layer, responses)
        kinds[layer] = input_kind(head)
        with ctx.stage(f"score/{layer}"):
            scores = accuracy_items(Y[test], prediction, nc)
        for metric, values in scores.items():
            items[f"{metric}@{layer}"] = values
            rows += metric_rows(values, responses, labels, metric, layer)
        per_stimulus = bool(type(head).stimulus_diagnostics) and examples.size > 0
        with ctx.stage(f"diagnostics/{layer}"):
            items.update(diagnostic_items(head, fmap, examples if per_stimulus else examples[:0], layer, items))
            if per_stimulus:
                items.update(example_items(dataset, examples))
    provenance = {**encoding_provenance(inputs, dataset), "simulated": bool(dataset.card.simulated),
                  "encoder_input": kinds}
    return TaskOutput(rows=rows, items=items, provenance=provenance)


