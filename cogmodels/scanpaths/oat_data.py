"""OAT's training data: scanpaths as object-ID sequences, targets as object indices, and the OSIE id-range split.

:func:`prepare` turns a Fixations table and its Stimuli into what the network
trains on (object embeddings and positions per image, one object sequence per
scanpath, the target object of each search trial), together with the
empirical pools the sampler draws from: fixation durations (ms), scanpath
lengths and the position of fixations inside their object box.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from cogmodels.errors import ConfigError, DataFormatError, format_problem
from cogmodels.scanpaths.oat_objects import (ObjectSet, annotated_objects, assign_fixations, grid_objects,
                                             match_target, off_object_warning)

log = logging.getLogger(__name__)
TARGET_COLUMNS = ("target_x", "target_y", "target_w", "target_h")


@dataclass
class SearchTask:
    """What a trial looks for: a target box in the display (x0, y0, x1, y1 px), a target image, or nothing."""

    target_box: np.ndarray | None = None
    target_image: np.ndarray | None = None

    @property
    def is_search(self) -> bool:
        return self.target_box is not None or self.target_image is not None


def parse_task(task, where: str = "task") -> SearchTask:
    """A ``sample(..., task=...)`` argument as a SearchTask.

    Accepted: None or a string (free viewing), a SearchTask, or a dict with
    ``target_box`` (x0, y0, x1, y1 px), ``target_xywh`` (x, y, w, h px) and/or
    ``target_image`` (uint8 (h, w, 3)).
    """
    if task is None or isinstance(task, str):
        return SearchTask()
    if isinstance(task, SearchTask):
        return task
    if isinstance(task, dict):
        unknown = sorted(set(task) - {"target_box", "target_xywh", "target_image"})
        if unknown:
            raise ConfigError(format_problem(where, "keys among target_box, target_xywh, target_image",
                                             f"unknown key(s) {unknown}", "pass e.g. {'target_box': (x0, y0, x1, y1)}"))
        box = task.get("target_box")
        if box is None and task.get("target_xywh") is not None:
            x, y, w, h = (float(v) for v in task["target_xywh"])
            box = (x, y, x + w, y + h)
        return SearchTask(None if box is None else np.asarray(box, float), task.get("target_image"))
    raise ConfigError(format_problem(where, "None, a string, or a dict with target_box / target_image",
                                     type(task).__name__, "pass task={'target_box': (x0, y0, x1, y1)}"))


def trial_targets(fixations) -> dict:
    """(stimulus_id, subject, trial) -> target box (x0, y0, x1, y1) from the trials table, for search trials."""
    trials = fixations.trials
    if trials is None or not set(TARGET_COLUMNS) <= set(trials.columns):
        return {}
    out = {}
    for row in trials.itertuples(index=False):
        xywh = np.array([getattr(row, c) for c in TARGET_COLUMNS], dtype=float)
        if np.isfinite(xywh).all():
            out[(str(row.stimulus_id), str(row.subject), int(row.trial))] = np.array(
                [xywh[0], xywh[1], xywh[0] + xywh[2], xywh[1] + xywh[3]])
    return out


@dataclass
class TrainingSet:
    """Scanpaths as object sequences.

    Attributes
    ----------
    image_ids : list of str, length n_images
    features : list of float32 arrays (n_objects_i, n_features)
    positions : list of float arrays (n_objects_i, 2), object centres in image units
    image_index : int array (n_scanpaths,)
    target : int array (n_scanpaths,)
        Target object of each scanpath, -1 for free viewing.
    target_features : float32 array (n_scanpaths, n_features)
        Target embeddings (zeros for free viewing).
    sequences : list of int arrays
        Fixated object of each fixation.
    durations : float array (n_fixations,) ms
    offsets : float array (n_fixations, 2)
        Fixation position inside its box, in box units ([0, 1] inside).
    n_off : int
        Fixations that fell on no object.
    """

    image_ids: list
    features: list
    positions: list
    image_index: np.ndarray
    target: np.ndarray
    target_features: np.ndarray
    sequences: list
    durations: np.ndarray
    offsets: np.ndarray
    n_off: int = 0
    meta: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Hash of the sequences, targets and embedding shapes (checkpoint compatibility)."""
        import hashlib

        h = hashlib.sha1()
        for seq in self.sequences:
            h.update(np.asarray(seq, np.int64).tobytes() + b"|")
        h.update(self.target.astype(np.int64).tobytes())
        h.update(self.image_index.astype(np.int64).tobytes())
        h.update(str([f.shape for f in self.features]).encode())
        h.update(np.round(np.concatenate([f.ravel() for f in self.features]), 4).tobytes())
        return h.hexdigest()


def objects_of(stimulus, model, objects=None) -> ObjectSet:
    """The object set of one stimulus: annotated boxes from ``objects[stimulus.id]`` or grid proposals."""
    if objects is not None:
        if stimulus.id not in objects:
            raise DataFormatError(format_problem(f"objects[{stimulus.id!r}]", "object boxes for every image",
                                                 "no entry for this image",
                                                 "pass boxes for every stimulus, or use proposals='grid'"))
        return annotated_objects(objects[stimulus.id], stimulus.size, where=f"objects[{stimulus.id!r}]")
    if model.proposals == "grid":
        return grid_objects(stimulus.size, model.grid)
    raise DataFormatError(format_problem(f"objects for image {stimulus.id!r}",
                                         f"object boxes (proposals={model.proposals!r})", "none given",
                                         "pass objects={stimulus_id: boxes} or set proposals='grid'"))


def target_features(model, image, objects: ObjectSet, object_features, task: SearchTask, where: str):
    """(target object index or -1, target embedding or None) of a task on one display."""
    index = -1
    if task.target_box is not None:
        index = match_target(task.target_box, objects, model.min_target_iou, where=where)
    if task.target_image is not None:
        from cogmodels.data import check_image

        return index, model._embedder().embed_image(check_image(task.target_image, f"{where}.target_image"))
    if index >= 0:
        return index, object_features[index]
    return -1, None


def prepare(model, fixations, stimuli, objects=None) -> TrainingSet:
    """Training set of ``model`` (an OATModel) from fixations and stimuli (see :class:`TrainingSet`)."""
    if stimuli is None:
        raise ConfigError("OATModel.fit needs the stimuli (object tokens are embeddings of the image). "
                          "Fix: call fit(fixations, stimuli).")
    targets = trial_targets(fixations)
    paths = fixations.to_scanpaths()
    trial_of = _trial_numbers(fixations)
    image_ids = sorted({p.stimulus_id for p in paths})
    missing = [sid for sid in image_ids if sid not in stimuli.ids]
    if missing:
        raise DataFormatError(format_problem("stimuli", "an image for every fixated stimulus",
                                             f"{len(missing)} missing, e.g. {missing[:3]}",
                                             "pass the Stimuli of the same dataset (dataset.stimuli)"))
    embedder = model._embedder()
    features, positions, object_sets, images = [], [], {}, {}
    for sid in tqdm(image_ids, desc="OAT object embeddings", unit="image", disable=not model.progress):
        stimulus = stimuli[sid]
        objs = objects_of(stimulus, model, objects)
        object_sets[sid] = objs
        features.append(embedder.embed(stimulus.image, objs))
        positions.append(objs.positions)
        if targets:
            images[sid] = stimulus.image
    index_of = {sid: i for i, sid in enumerate(image_ids)}
    n_features = features[0].shape[1]
    image_index, target, target_feats, sequences, offsets, durations, n_off = [], [], [], [], [], [], 0
    for k, path in enumerate(paths):
        objs = object_sets[path.stimulus_id]
        where = f"fixations of ({path.stimulus_id!r}, {path.subject!r})"
        ids, off = assign_fixations(path.xy, objs, model.off_object, where=where)
        n_off += off
        box = targets.get((path.stimulus_id, path.subject, trial_of[k]))
        index, feat = -1, None
        if box is not None:
            index, feat = target_features(model, images[path.stimulus_id], objs, features[index_of[path.stimulus_id]],
                                          SearchTask(target_box=box), where=f"target of {where}")
        image_index.append(index_of[path.stimulus_id])
        target.append(index)
        target_feats.append(np.zeros(n_features, np.float32) if feat is None else feat)
        sequences.append(ids)
        durations.append(path.duration)
        on = ids < len(objs)
        b = objs.boxes[ids[on]]
        offsets.append((path.xy[on] - b[:, :2]) / (b[:, 2:] - b[:, :2]))
    off_object_warning(n_off, len(fixations), model.off_object, "OATModel.fit")
    return TrainingSet(image_ids, features, positions, np.asarray(image_index), np.asarray(target),
                       np.stack(target_feats).astype(np.float32), sequences, np.concatenate(durations),
                       np.clip(np.concatenate(offsets), 0, 1), n_off)


def _trial_numbers(fixations) -> list:
    """Trial number of each scanpath of ``fixations.to_scanpaths()`` (same sorted group order)."""
    keys = fixations.table.groupby(["stimulus_id", "subject", "trial"], sort=True).size().index
    return [int(k[2]) for k in keys]


def load_osie_id_split(root=None, train=(1001, 1400), test=(1401, 1500), name: str = "osie", **options):
    """OSIE with a split by image-id range (default: train 1001-1400, test 1401-1500).

    ``options`` go to the OSIE loader (``cogmodels.load_dataset("osie", ...)``); its own
    seeded split is replaced.  Images of neither range are left out of both splits.
    ``name`` is accepted for the runner's dataset label and must be "osie".
    """
    from cogmodels.datasets import load as load_dataset

    if name != "osie":
        raise ConfigError(format_problem("dataset.name", "'osie' (this loader splits OSIE by id range)", repr(name),
                                         "use dataset=osie_id_split with name: osie"))

    dataset = load_dataset("osie", root=root, **options)
    ranges = {"train": train, "test": test}
    splits = {}
    for name, (low, high) in ranges.items():
        splits[name] = [sid for sid in dataset.stimuli.ids if int(low) <= int(sid) <= int(high)]
        if not splits[name]:
            raise DataFormatError(format_problem(f"osie {name} range {low}-{high}", "at least one image present",
                                                 "none", "check the range against the images in data/stimuli"))
    overlap = set(splits["train"]) & set(splits["test"])
    if overlap:
        raise ConfigError(format_problem("train/test ranges", "disjoint id ranges", f"{len(overlap)} shared ids",
                                         "use e.g. train=[1001, 1400] test=[1401, 1500]"))
    from cogmodels.data import check_splits

    dataset.splits = check_splits(splits, dataset.stimuli.ids, "osie splits (id ranges)")
    dataset.meta["split"] = f"by id range: train {train[0]}-{train[1]}, test {test[0]}-{test[1]}"
    return dataset
