"""OAT's training loop: tensors, display-grouped batches, a held-out validation split and early stopping.

- **Tensors** (:func:`training_tensors`): object embeddings and positions per image (padded), and per
  scanpath its image, target, fixated objects (teacher forcing) and labels (the next object, then "stop").
- **Shared encodings.**  Scanpaths of the same display and target (the subjects of one image) have the same
  encoder input.  Batches are made of whole displays in a seeded random order (:func:`display_batches`), and
  the encoder runs once per distinct (display, target) of a batch (:func:`batch_logits`); on OSIE (15
  subjects per image) that makes an epoch several times faster than encoding every scanpath.
- **Early stopping** (:func:`train`): ``validation_fraction`` of the training images (seeded) are held out;
  after each epoch their mean negative log-likelihood per decision is measured, the weights of the best
  epoch are kept, and training stops after ``patience`` epochs without improvement.  With fewer than two
  images or ``validation_fraction=0`` every epoch runs and the last weights are kept.
- **Epochs**: at most ``epochs`` (times the budget), or more when that gives fewer than ``min_steps``
  optimiser steps; AdamW with a cosine learning-rate decay over that maximum.  The scalar score gains
  (target similarity in the object and stop scores, refixation, revisit) learn ``GAIN_LR_FACTOR`` times
  faster: Adam moves a weight by about ``lr`` per step, and a gain has to reach a few units, not a few
  hundredths.

Every draw is seeded by (seed, epoch): a fit resumed from a checkpoint repeats an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

GAIN_LR_FACTOR = 25.0  # learning-rate factor of the scalar target-similarity gains (see the module docstring)


@dataclass
class Tensors:
    """Training tensors of :func:`training_tensors` (n images, m scanpaths, N objects, F features, L steps)."""

    features: torch.Tensor     # (n, N, F) standardised object embeddings (zero padding)
    positions: torch.Tensor    # (n, N, 2) object centres in image units
    valid: torch.Tensor        # (n, N') bool, real objects (+ the background object)
    target: torch.Tensor       # (m, F) standardised target embedding (zeros: free viewing)
    has_target: torch.Tensor   # (m,) bool
    previous: torch.Tensor     # (m, L) fixated objects (teacher forcing)
    labels: torch.Tensor       # (m, L + 1) next object, then stop; -100 after the end
    image: torch.Tensor        # (m,) image index
    length: np.ndarray         # (m,) fixations used
    display: np.ndarray        # (m,) id of the (image, target) pair: scanpaths with one encoder input


def training_tensors(model, data) -> Tensors:
    """Tensors of a :class:`~cogmodels.scanpaths.oat_data.TrainingSet` for ``model`` (an OATModel)."""
    n_images, n_max = len(data.features), max(len(f) for f in data.features)
    n_features = data.features[0].shape[1]
    feats, pos = np.zeros((n_images, n_max, n_features), np.float32), np.zeros((n_images, n_max, 2), np.float32)
    valid = np.zeros((n_images, n_max + (model.off_object == "background")), bool)
    for i, (f, p) in enumerate(zip(data.features, data.positions)):
        feats[i, :len(f)], pos[i, :len(p)], valid[i, :len(f)] = model._standardise(f), p, True
    valid[:, n_max:] = True  # the background object
    stop = valid.shape[1]
    length = np.minimum([len(s) for s in data.sequences], model.max_length)
    previous = np.zeros((len(data.sequences), model.max_length), np.int64)
    labels = np.full((len(data.sequences), model.max_length + 1), -100, np.int64)
    for k, seq in enumerate(data.sequences):
        seq = np.where(seq >= len(data.features[data.image_index[k]]), n_max, seq)[: model.max_length]
        previous[k, :len(seq)], labels[k, :len(seq)], labels[k, len(seq)] = seq, seq, stop
    target = model._standardise(data.target_features) * (data.target >= 0)[:, None]
    pairs = np.stack([data.image_index, data.target], 1)
    display = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1)
    return Tensors(torch.from_numpy(feats), torch.from_numpy(pos), torch.from_numpy(valid),
                   torch.from_numpy(target.astype(np.float32)), torch.from_numpy(data.target >= 0),
                   torch.from_numpy(previous), torch.from_numpy(labels),
                   torch.from_numpy(data.image_index.astype(np.int64)), length, display)


def display_batches(rows: np.ndarray, display: np.ndarray, batch_size: int, rng: np.random.Generator) -> list:
    """``rows`` in batches of ``batch_size``, ordered by display (displays and their rows in random order)."""
    rows = rng.permutation(rows)
    displays = np.unique(display[rows])
    rank = dict(zip(rng.permutation(displays).tolist(), range(len(displays))))
    rows = rows[np.argsort([rank[d] for d in display[rows].tolist()], kind="stable")]
    return [rows[b: b + batch_size] for b in range(0, len(rows), batch_size)]


def batch_logits(network, t: Tensors, rows: np.ndarray):
    """Logits (B, L + 1, N' + 1) and labels (B, L + 1) of scanpaths ``rows``; one encoding per display."""
    steps = int(t.length[rows].max())
    first, index = np.unique(t.display[rows], return_index=True, return_inverse=True)[1:]
    lead = torch.from_numpy(rows[first])          # one scanpath per distinct display of the batch
    img = t.image[lead]
    rows_t = torch.from_numpy(rows)
    logits = network(t.features[img], t.positions[img], t.valid[img], t.target[lead], t.has_target[lead],
                     t.previous[rows_t, :steps], index=torch.from_numpy(index.reshape(-1)))
    return logits, t.labels[rows_t, : steps + 1]


def nll(network, t: Tensors, rows: np.ndarray, batch_size: int = 256) -> float:
    """Mean negative log-likelihood per decision of scanpaths ``rows`` (no gradients)."""
    total, count = 0.0, 0
    with torch.no_grad():
        order = rows[np.argsort(t.display[rows], kind="stable")]
        for b in range(0, len(order), batch_size):
            logits, labels = batch_logits(network, t, order[b: b + batch_size])
            total += float(torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(),
                                                             ignore_index=-100, reduction="sum"))
            count += int((labels >= 0).sum())
    return total / max(count, 1)


def validation_split(image_index: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scanpath rows (train, validation): ``fraction`` of the images (seeded, at least one) held out."""
    images = np.unique(image_index)
    n_held = int(round(fraction * len(images)))
    if fraction > 0 and len(images) >= 2:
        n_held = min(max(n_held, 1), len(images) - 1)
    else:
        n_held = 0
    held = np.random.default_rng([int(seed), 7919]).permutation(images)[:n_held]
    is_held = np.isin(image_index, held)
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def n_epochs(model, n_scanpaths: int) -> int:
    """Most epochs of a fit on ``n_scanpaths``: ``epochs``, or enough for ``min_steps`` steps (times the budget)."""
    factor = model.budget_factor()
    batches = math.ceil(n_scanpaths / model.batch_size)
    return max(1, int(round(model.epochs * factor)), math.ceil(model.min_steps * factor / batches))


def train(model, data) -> tuple[list, list]:
    """Fit ``model.network_`` on ``data``; returns (train NLL per epoch, validation NLL per epoch).

    Leaves the network with the weights of the best validation epoch (the last epoch without validation)
    and sets ``model.best_epoch_``.
    """
    network = model.network_
    t = training_tensors(model, data)
    fit_rows, held_rows = validation_split(t.image.numpy(), float(model.validation_fraction), int(model.seed))
    most = n_epochs(model, len(fit_rows))
    gains = [network.similarity_gain, network.stop_gain, network.refixation_gain, network.revisit_gain]
    rest = [p for p in network.parameters() if all(p is not g for g in gains)]
    optimiser = torch.optim.AdamW([{"params": rest}, {"params": gains, "lr": model.lr * GAIN_LR_FACTOR}],
                                  lr=model.lr, weight_decay=model.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda e: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(e, most) / most)))
    start, history, validation, best = model._resume(data, optimiser, schedule)
    if best is None:
        best = {"epoch": -1, "nll": math.inf, "state": None}
    bar = tqdm(range(start, most), desc="OAT epochs", unit="epoch", disable=not model.progress)
    for epoch in bar:
        # stop after `patience` epochs without a better held-out NLL (never before the first epoch)
        if len(held_rows) and best["epoch"] >= 0 and epoch - best["epoch"] > int(model.patience):
            break
        with torch.random.fork_rng():  # dropout draws seeded by (seed, epoch): a resumed fit repeats them
            torch.manual_seed(int(np.random.SeedSequence([int(model.seed), epoch]).generate_state(1)[0]))
            history.append(_epoch(network, t, fit_rows, model, epoch, optimiser))
        schedule.step()
        if len(held_rows):
            network.eval()
            validation.append(nll(network, t, held_rows))
            if validation[-1] < best["nll"]:
                best = {"epoch": epoch, "nll": validation[-1], "state": copy.deepcopy(network.state_dict())}
        bar.set_postfix(nll=f"{history[-1]:.3f}", **({"val": f"{validation[-1]:.3f}"} if validation else {}))
        model._save(data, optimiser, schedule, epoch, history, validation, best)
        model._after_epoch(epoch)
    if best["state"] is not None:
        network.load_state_dict(best["state"])
        model.best_epoch_ = int(best["epoch"])
    else:
        model.best_epoch_ = len(history) - 1
    return history, validation


def _epoch(network, t: Tensors, rows: np.ndarray, model, epoch: int, optimiser) -> float:
    """One pass over ``rows`` in (seed, epoch)-seeded display batches; returns the mean NLL per decision."""
    network.train()
    rng = np.random.default_rng([int(model.seed), epoch])
    total, count = 0.0, 0
    for batch in display_batches(rows, t.display, int(model.batch_size), rng):
        logits, labels = batch_logits(network, t, batch)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100,
                                                 reduction="sum")
        decisions = int((labels >= 0).sum())
        optimiser.zero_grad()
        (loss / decisions).backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimiser.step()
        total, count = total + float(loss.detach()), count + decisions
    return total / count
