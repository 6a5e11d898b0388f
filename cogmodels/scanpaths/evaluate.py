"""Scanpath evaluation protocol: models and the leave-one-subject-out human ceiling on held-out images.

Protocol
--------
One **item** is one (test image, human subject) pair; every metric gives one
value per item, and a run reports the mean over items (with their count).

Models.  The model is fitted on the train-split images (all subjects).  On
each test image it samples ``n_samples`` scanpaths (seeded per image, so the
samples of an image do not depend on how many images are evaluated).  Each
sampled scanpath is compared with the scanpath of each human subject on that
image; the item's value is the mean over its ``n_samples`` comparisons.

Human consistency (the ceiling, model name ``another_human``).  The
"another human" model is fitted on all subjects of the test images and queried
leave-one-subject-out: for held-out subject ``s``, the scanpaths of all other
subjects on the image are compared with ``s``'s (item value: mean over the
other subjects), and the other subjects' Gaussian fixation density plays the
model density.

Scanpath metrics (:mod:`cogmodels.metrics.gaze`, all pairs of all images are
collected first and each batched metric is called once): MultiMatch (vector,
direction, length, position, duration; Jarodzka et al. 2010, Dewhurst et al.
2012), ScanMatch (Cristino et al. 2010), sequence score (Needleman-Wunsch on
grid-region strings), string edit distance (SED), DTW and discrete Frechet
distance (pixels).

Saliency metrics (:mod:`cogmodels.metrics.saliency`) of the model density
against the held-out subject ``s`` alone, so the models and the ceiling are
scored against identical targets: NSS, AUC-Judd and shuffled AUC at ``s``'s
fixations (sAUC negatives: the fixations of the other test images, seeded),
CC, KLD and SIM against ``s``'s Gaussian fixation density map (sigma
``sigma_deg``), and information gain (bits per fixation) over the centre-bias
baseline fitted on the train split (Kümmerer et al. 2015).

Geometry.  OSIE's release does not record the screen geometry.  The default
``px_per_deg = 24`` (sigma 1 deg = 24 px on the 800 x 600 images) is an
assumption, stated in every run's provenance; override ``evaluation.px_per_deg``.

Undefined values (e.g. MultiMatch of a one-fixation scanpath) are left out of
an item's mean with a warning giving the count; an item with no defined value
is NaN and is left out of the run's mean, again with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm.auto import tqdm

from cogmodels.errors import ConfigError, DataFormatError, format_problem

log = logging.getLogger(__name__)

HUMAN_CEILING = "another_human"
MULTIMATCH_DIMENSIONS = ("vector", "direction", "length", "position", "duration")
SCANPATH_METRICS = tuple(f"multimatch_{d}" for d in MULTIMATCH_DIMENSIONS) + (
    "scanmatch", "sequence_score", "edit_distance", "dtw", "frechet")
SALIENCY_METRICS = ("nss", "auc_judd", "auc_shuffled", "cc", "kld", "sim", "information_gain")
LOWER_IS_BETTER = frozenset({"edit_distance", "dtw", "frechet", "kld"})
HIGHER_IS_BETTER = {name: name not in LOWER_IS_BETTER for name in SCANPATH_METRICS + SALIENCY_METRICS}
# Protocol defaults on top of the metric functions' own: the edit distance as a fraction of the longer string,
# so that images with long and short scanpaths weigh alike.
DEFAULT_METRIC_OPTIONS = {"edit_distance": {"normalise": True}}


@dataclass
class ProtocolOptions:
    """Options of the evaluation protocol (config node ``evaluation``).

    Attributes
    ----------
    n_images : int or None
        Evaluate the first ``n_images`` test images (sorted ids); None: all.
    n_samples : int
        Scanpaths sampled per test image by a model.
    px_per_deg : float
        Pixels per degree of visual angle (OSIE: assumed 24, see module docstring).
    sigma_deg : float
        Sigma of the human fixation density maps, in degrees.
    n_examples : int
        Test images whose densities and scanpaths are stored for the figures.
    example_downsample : int
        Block size (pixels) of the stored example densities.
    saliency_block : int
        Saliency metrics are computed on maps summed over blocks of this many
        pixels squared (fixations in block units): 4 makes them 16 times cheaper
        and, with sigma 1 deg = 24 px, keeps 6 blocks per sigma.  1: full resolution.
    multimatch_grouping : dict or None
        MultiMatch simplification thresholds (None: no simplification).
    metric_options : dict of str -> dict
        Extra keyword arguments per gaze metric function (``scanmatch``, ``sequence_score``, ...).
    seed : int
    """

    n_images: int | None = None
    n_samples: int = 10
    px_per_deg: float = 24.0
    sigma_deg: float = 1.0
    n_examples: int = 4
    example_downsample: int = 4
    saliency_block: int = 4
    multimatch_grouping: dict | None = None
    metric_options: dict = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def from_config(cls, node: Mapping | None, seed: int = 0) -> "ProtocolOptions":
        """Build from a config mapping, rejecting unknown keys."""
        values = dict(node or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(format_problem("evaluation", f"keys among {sorted(known)}", f"unknown key(s) {unknown}",
                                             "check the spelling in experiments/conf/experiment/scanpath_baselines.yaml"))
        values.setdefault("seed", seed)
        options = cls(**values)
        counts = {"n_samples": options.n_samples, "n_images": options.n_images, "saliency_block": options.saliency_block,
                  "example_downsample": options.example_downsample}
        bad = {k: v for k, v in counts.items() if v is not None and (int(v) != v or v < 1)}
        if bad:
            raise ConfigError(format_problem("evaluation", "positive integers", f"{bad}", "use at least 1"))
        if not (options.px_per_deg > 0 and options.sigma_deg > 0):
            raise ConfigError(format_problem("evaluation.px_per_deg / sigma_deg", "positive numbers",
                                             f"{options.px_per_deg} / {options.sigma_deg}", "use the screen geometry"))
        return options


@dataclass
class Evaluation:
    """Per-item results of one model (or of the human ceiling).

    Attributes
    ----------
    model : str
    stimulus_id, subject : str arrays of shape (n_items,)
        The item (test image, human subject) of each value.
    values : dict of metric name -> float array of shape (n_items,)
    examples : dict of str -> array
        Arrays for the figures (example densities and scanpaths).
    """

    model: str
    stimulus_id: np.ndarray
    subject: np.ndarray
    values: dict
    examples: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Metric -> (mean over defined items, number of defined items)."""
        out = {}
        for name, item_values in self.values.items():
            defined = np.isfinite(item_values)
            if not defined.all():
                warnings.warn(f"{self.model} {name}: {int((~defined).sum())} of {defined.size} items are undefined "
                              f"(NaN) and are left out of the mean", stacklevel=2)
            out[name] = (float(item_values[defined].mean()) if defined.any() else float("nan"), int(defined.sum()))
        return out

    def rows(self, labels: Mapping) -> list[dict]:
        """Result rows: one per metric, ``labels`` (dataset, head, ...) added to each."""
        return [{**labels, "roi_or_condition": "all", "metric": name, "value": value, "n_items": n}
                for name, (value, n) in self.summary().items()]

    def items(self) -> dict:
        """Per-item arrays for items.npz (no object arrays)."""
        out = {"stimulus_id": self.stimulus_id.astype(str), "subject": self.subject.astype(str)}
        out.update({name: np.asarray(v, np.float64) for name, v in self.values.items()})
        out.update(self.examples)
        return out


# -- data helpers ----------------------------------------------------------------------------------
def _test_images(dataset, options: ProtocolOptions) -> list[str]:
    for split in ("train", "test"):
        if split not in dataset.splits:
            raise ConfigError(format_problem(f"dataset {dataset.name!r} splits", "'train' and 'test' splits by image",
                                             f"splits {sorted(dataset.splits)}", "load a dataset split by image"))
    test = sorted(dataset.splits["test"], key=str)
    return test if options.n_images is None else test[: options.n_images]


def _human_scanpaths(fixations, stimulus_ids) -> dict:
    """stimulus_id -> list of Scanpath sorted by subject (one trial per subject)."""
    by_image = {sid: [] for sid in stimulus_ids}
    for path in fixations.subset(stimulus_ids=stimulus_ids).to_scanpaths():
        by_image[path.stimulus_id].append(path)
    for sid, paths in by_image.items():
        subjects = [p.subject for p in paths]
        if len(set(subjects)) != len(subjects):
            raise DataFormatError(format_problem(f"fixations of image {sid!r}", "one free-viewing trial per subject",
                                                 f"subjects with several trials: {sorted({s for s in subjects if subjects.count(s) > 1})}",
                                                 "evaluate one trial per subject and image"))
        if len(paths) < 2:
            raise DataFormatError(format_problem(f"fixations of image {sid!r}", "scanpaths of at least 2 subjects",
                                                 f"{len(paths)}", "the leave-one-subject-out ceiling needs two or more"))
    return by_image


def _image_sizes(dataset, stimulus_ids) -> dict:
    """stimulus_id -> (width, height): recorded by the loader in the fixations, else read from the images."""
    known = dataset.fixations.image_sizes
    return {sid: known[sid] if sid in known else dataset.stimuli[sid].size for sid in stimulus_ids}


def _image_seed(options: ProtocolOptions, position: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(options.seed), int(position)]))


def _normalised_pool(humans: dict, sizes: dict) -> tuple[np.ndarray, np.ndarray]:
    """All human fixations of the test images in image-size units: (n, 2) positions and (n,) image index."""
    xy, owner = [], []
    for i, (sid, paths) in enumerate(humans.items()):
        width, height = sizes[sid]
        for p in paths:
            xy.append(p.xy / [width, height])
            owner.append(np.full(len(p), i))
    return np.concatenate(xy), np.concatenate(owner)


def block_sum(maps: np.ndarray, block: int) -> np.ndarray:
    """Sum over block x block pixels of maps of shape (..., H, W) -> (..., ceil(H / block), ceil(W / block)).

    Mass-preserving: a density stays a density.  Edges that do not fill a block are zero-padded.
    """
    if block == 1:
        return np.asarray(maps, float)
    maps = np.asarray(maps, float)
    height, width = maps.shape[-2:]
    pad = [(0, 0)] * (maps.ndim - 2) + [(0, -height % block), (0, -width % block)]
    padded = np.pad(maps, pad)
    h, w = padded.shape[-2] // block, padded.shape[-1] // block
    # One axis at a time: every block is summed in the same order, so a constant map stays exactly constant.
    return padded.reshape(*maps.shape[:-2], h, block, w, block).sum(axis=-1).sum(axis=-2)


def _pack_scanpaths(groups: list[list]) -> dict:
    """Padded arrays of scanpaths: xy (k, n, L, 2), duration (k, n, L), length (k, n); zero padding."""
    width = max((len(g) for g in groups), default=0)
    longest = max((len(p) for g in groups for p in g), default=0)
    xy = np.zeros((len(groups), width, longest, 2))
    duration = np.zeros((len(groups), width, longest))
    length = np.zeros((len(groups), width), dtype=np.int64)
    subject = np.full((len(groups), width), "", dtype=object)
    for i, group in enumerate(groups):
        for j, path in enumerate(group):
            xy[i, j, : len(path)] = path.xy
            duration[i, j, : len(path)] = path.duration
            length[i, j] = len(path)
            subject[i, j] = path.subject or ""
    return {"xy": xy, "duration": duration, "length": length, "subject": subject.astype(str)}


def _example_arrays(stimuli, example_ids, densities, scanpaths, downsample) -> dict:
    paths = stimuli.paths
    where = {sid: str(paths[stimuli.position(sid)]) if paths else "" for sid in example_ids}
    packed = _pack_scanpaths(scanpaths)
    out = {"example_stimulus_id": np.asarray(example_ids, dtype=str),
           "example_image_path": np.asarray([where[s] for s in example_ids], dtype=str),
           "example_image_size": np.asarray([stimuli[s].size for s in example_ids], dtype=np.int64),
           "example_density": block_sum(np.stack(densities), downsample).astype(np.float32) if densities else
           np.zeros((0, 0, 0), np.float32)}
    out.update({f"example_scanpath_{k}": v for k, v in packed.items()})
    return out


# -- metrics ---------------------------------------------------------------------------------------
def _mean_per_item(values: np.ndarray, item: np.ndarray, n_items: int, what: str) -> np.ndarray:
    """Mean of pair values per item, shape (n_items,); undefined pairs are left out with a warning."""
    values = np.asarray(values, float)
    defined = np.isfinite(values)
    if not defined.all():
        warnings.warn(f"{what}: {int((~defined).sum())} of {values.size} scanpath comparisons are undefined (NaN) "
                      f"and are left out of their item's mean", stacklevel=3)
    counts = np.bincount(item[defined], minlength=n_items)
    sums = np.bincount(item[defined], weights=values[defined], minlength=n_items)
    out = np.full(n_items, np.nan)
    out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    return out


class _PairBatch:
    """Scanpath pairs (predicted, human) collected over all images, scored with one call per metric."""

    def __init__(self):
        self.predicted, self.human, self.item, self.size = [], [], [], []

    def add(self, predicted: list, human, item: int, size: tuple[int, int]) -> None:
        self.predicted += list(predicted)
        self.human += [human] * len(predicted)
        self.item += [item] * len(predicted)
        self.size += [tuple(size)] * len(predicted)

    def score(self, options: ProtocolOptions, n_items: int, scanmatch_threshold: float) -> dict:
        """Metric name -> per-item mean, shape (n_items,).  Pairs are grouped by image size (screen size)."""
        item = np.asarray(self.item, dtype=np.int64)
        sizes = np.asarray(self.size, dtype=np.int64).reshape(-1, 2)
        pair_values = {name: np.full(len(item), np.nan) for name in SCANPATH_METRICS}
        for size in np.unique(sizes, axis=0):
            rows = np.flatnonzero((sizes == size).all(axis=1))
            a = [self.predicted[i] for i in rows]
            b = [self.human[i] for i in rows]
            screen = (int(size[0]), int(size[1]))
            for name, values in _gaze_metrics(a, b, screen, options, scanmatch_threshold).items():
                pair_values[name][rows] = values
        return {name: _mean_per_item(values, item, n_items, name) for name, values in pair_values.items()}


def _metric_kwargs(options: ProtocolOptions, name: str) -> dict:
    return {**DEFAULT_METRIC_OPTIONS.get(name, {}), **(options.metric_options or {}).get(name, {})}


def _gaze_metrics(a: list, b: list, screen_size: tuple[int, int], options: ProtocolOptions,
                  scanmatch_threshold: float) -> dict:
    """Every scanpath metric of the pairs (a[i], b[i]): name -> array of shape (n_pairs,).

    ``scanmatch_threshold`` (grid cells) is fixed by the protocol, not derived from the
    compared scanpaths, so every model is scored with the same substitution matrix.
    """
    from cogmodels.metrics import gaze

    out = {}
    multimatch = np.asarray(gaze.multimatch(a, b, screen_size, grouping=options.multimatch_grouping,
                                            **_metric_kwargs(options, "multimatch")))
    for k, dimension in enumerate(MULTIMATCH_DIMENSIONS):
        out[f"multimatch_{dimension}"] = multimatch[..., k]
    out["scanmatch"] = gaze.scanmatch(a, b, screen_size, **{"threshold": scanmatch_threshold,
                                                            **_metric_kwargs(options, "scanmatch")})
    for name in ("sequence_score", "edit_distance"):
        out[name] = getattr(gaze, name)(a, b, screen_size, **_metric_kwargs(options, name))
    for name in ("dtw", "frechet"):
        out[name] = getattr(gaze, name)(a, b, **_metric_kwargs(options, name))
    return {name: np.asarray(values, float) for name, values in out.items()}


def _scanmatch_threshold(train_paths: list, sizes: dict, options: ProtocolOptions) -> float:
    """ScanMatch substitution threshold (grid cells) from the train-split human scanpaths.

    Positions are scaled to a unit screen first: in grid cells this is the same for every image size.
    """
    from cogmodels.metrics import gaze

    unit = [p.xy / np.asarray(sizes[p.stimulus_id], float) for p in train_paths if len(p)]
    grid = _metric_kwargs(options, "scanmatch").get("grid", gaze.DEFAULT_GRID)
    return float(gaze.scanmatch_threshold(unit, (1.0, 1.0), grid))


def _saliency_metrics(densities: np.ndarray, humans: list, baseline: np.ndarray, negatives_xy: np.ndarray,
                      options: ProtocolOptions, rng: np.random.Generator) -> dict:
    """Saliency metrics of one image, one value per held-out subject (each metric called once on the stack).

    Every map is first summed over ``saliency_block`` x ``saliency_block`` pixel blocks and the
    fixations are expressed in blocks (see :class:`ProtocolOptions`).

    Parameters
    ----------
    densities : array of shape (n_subjects, H, W), or (H, W) shared by all subjects (a model)
    humans : list of Scanpath, length n_subjects
    baseline : array of shape (H, W)
        Centre-bias density for the information gain.
    negatives_xy : array of shape (n_negatives, 2)
        Fixations of the other test images, in this image's pixels (shuffled AUC).
    """
    from cogmodels.metrics import saliency

    block = options.saliency_block
    maps = block_sum(densities, block)
    height, width = maps.shape[-2:]
    fixations = [human.xy / block for human in humans]
    # Human density maps drawn directly on the block grid (Gaussian values at block centres).
    targets = np.stack([saliency.fixation_density(xy, (width, height), sigma_deg=options.sigma_deg,
                                                  px_per_deg=options.px_per_deg / block) for xy in fixations])
    maps = np.broadcast_to(maps, targets.shape) if maps.ndim == 2 else maps
    out = {"nss": saliency.nss(maps, fixations),
           "auc_judd": saliency.auc_judd(maps, fixations),
           "auc_shuffled": saliency.auc_shuffled(maps, fixations, negatives_xy / block, seed=rng,
                                                 **_metric_kwargs(options, "auc_shuffled")),
           "cc": saliency.cc(maps, targets),
           "kld": saliency.kld(maps, targets),
           "sim": saliency.sim(maps, targets),
           "information_gain": saliency.information_gain(maps, block_sum(baseline, block), fixations)}
    out = {name: np.asarray(values, float) for name, values in out.items()}
    constant = np.ptp(maps.reshape(len(maps), -1), axis=1) == 0
    if constant.any():
        # z-scores and correlations of a constant map are 0 / 0; rounding in the map's mean can hide that.
        warnings.warn(f"nss and cc: {int(constant.sum())} of {len(constant)} maps are constant (e.g. a uniform "
                      f"model): undefined, set to NaN", stacklevel=2)
        out["nss"][constant] = out["cc"][constant] = np.nan
    return out


# -- the protocol ----------------------------------------------------------------------------------
def _no_stage(name):
    return contextlib.nullcontext()


@dataclass
class _Reference:
    """What the protocol takes from the train split, independent of the evaluated model."""

    fixations: object  # Fixations of the train images
    baseline: object  # centre-bias model: the information-gain reference
    scanmatch_threshold: float


def _train_reference(dataset, options: ProtocolOptions) -> _Reference:
    from cogmodels.scanpaths.baselines import CenterBiasModel

    train = dataset.fixations.subset(stimulus_ids=list(dataset.splits["train"]))
    sizes = _image_sizes(dataset, train.stimulus_ids)
    return _Reference(train, CenterBiasModel(seed=options.seed).fit(train),
                      _scanmatch_threshold(train.to_scanpaths(), sizes, options))


def _run(name: str, dataset, humans: dict, options: ProtocolOptions, reference: _Reference, predict,
         stage) -> Evaluation:
    """Loop over test images: predictions, saliency metrics per image, scanpath pairs scored at the end.

    ``predict(stimulus, humans_of_image, rng, example) -> (predicted, densities, example_density, example_paths)``
    with ``predicted[j]`` the scanpaths compared with subject j and ``densities`` of shape (n_subjects, H, W)
    (or (H, W): one density for every subject).
    """
    sizes = _image_sizes(dataset, humans)
    pool_xy, pool_owner = _normalised_pool(humans, sizes)
    pairs, item_sid, item_subject = _PairBatch(), [], []
    saliency_values = {metric: [] for metric in SALIENCY_METRICS}
    example_ids, example_densities, example_paths, baselines = [], [], [], {}
    for position, (sid, paths) in enumerate(tqdm(humans.items(), desc=f"{name}: test images", unit="image")):
        stimulus = dataset.stimuli[sid]
        rng = _image_seed(options, position)
        example = position < options.n_examples
        with stage("predict"):
            predicted, densities, example_density, sampled = predict(stimulus, paths, rng, example)
        for j, human in enumerate(paths):
            pairs.add(predicted[j], human, len(item_sid), stimulus.size)
            item_sid.append(sid)
            item_subject.append(human.subject)
        negatives = pool_xy[pool_owner != position] * np.asarray(stimulus.size, float)
        with stage("saliency_metrics"):
            if stimulus.size not in baselines:  # the centre bias depends on the image size only
                baselines[stimulus.size] = reference.baseline.density(stimulus)
            values = _saliency_metrics(densities, paths, baselines[stimulus.size], negatives, options, rng)
        for metric, v in values.items():
            saliency_values[metric].append(v)
        if example:
            example_ids.append(sid)
            example_densities.append(example_density)
            example_paths.append(sampled)
    with stage("scanpath_metrics"):
        values = pairs.score(options, len(item_sid), reference.scanmatch_threshold)
    values.update({metric: np.concatenate(v) for metric, v in saliency_values.items()})
    examples = _example_arrays(dataset.stimuli, example_ids, example_densities, example_paths,
                               options.example_downsample)
    return Evaluation(name, np.asarray(item_sid, dtype=str), np.asarray(item_subject, dtype=str), values, examples)


def evaluate_model(model, dataset, options: ProtocolOptions | None = None, name: str | None = None,
                   stage=None) -> Evaluation:
    """Fit ``model`` on the train images and score its samples and density on the test images.

    Parameters
    ----------
    model : ScanpathModel
        Unfitted; it is fitted here on the train-split images (all subjects).
    dataset : Dataset
        With fixations, stimuli and "train"/"test" splits by image.
    options : ProtocolOptions, optional
    name : str, optional
        Model name in the results (default: the class name).
    stage : callable, optional
        ``stage(name)`` -> context manager that times a stage (``RunContext.stage``).

    Returns
    -------
    Evaluation
        One item per (test image, subject); see the module docstring.
    """
    options = options or ProtocolOptions()
    stage = stage or _no_stage
    name = name or type(model).__name__
    test_ids = _test_images(dataset, options)
    with stage("fit"):
        reference = _train_reference(dataset, options)
        model.fit(reference.fixations, dataset.stimuli.subset(reference.fixations.stimulus_ids))
    humans = _human_scanpaths(dataset.fixations, test_ids)

    def predict(stimulus, paths, rng, example):
        samples = model.sample(stimulus, n=options.n_samples, seed=rng)
        density = model.density(stimulus)
        return [samples] * len(paths), density, density, samples

    log.info("evaluating %s on %d test images x %d subjects, %d samples per image", name, len(humans),
             len(next(iter(humans.values()))), options.n_samples)
    return _run(name, dataset, humans, options, reference, predict, stage)


def evaluate_human_consistency(dataset, options: ProtocolOptions | None = None, model=None,
                               stage=None) -> Evaluation:
    """The human ceiling: each subject predicted by the other subjects (leave-one-subject-out).

    Parameters
    ----------
    dataset : Dataset
    options : ProtocolOptions, optional
    model : AnotherHumanModel, optional
        Default: ``AnotherHumanModel(sigma_deg, px_per_deg)`` of the options.  It is
        fitted on all subjects of the test images and queried with ``exclude_subject``.
    stage : callable, optional

    Returns
    -------
    Evaluation
        Named ``another_human``; the example densities are those of all subjects.
    """
    from cogmodels.scanpaths.baselines import AnotherHumanModel

    options = options or ProtocolOptions()
    stage = stage or _no_stage
    model = model or AnotherHumanModel(sigma_deg=options.sigma_deg, px_per_deg=options.px_per_deg)
    if not isinstance(model, AnotherHumanModel):
        raise ConfigError(format_problem("human consistency model", "an AnotherHumanModel (scanpath=another_human)",
                                         type(model).__name__, "evaluate other models with evaluate_model"))
    test_ids = _test_images(dataset, options)
    with stage("fit"):
        reference = _train_reference(dataset, options)
        model.fit(dataset.fixations.subset(stimulus_ids=test_ids))
    humans = _human_scanpaths(dataset.fixations, test_ids)

    def predict(stimulus, paths, rng, example):
        others = [model.sample(stimulus, n=len(paths) - 1, seed=rng, exclude_subject=p.subject) for p in paths]
        densities = np.stack([model.density(stimulus, exclude_subject=p.subject) for p in paths])
        return others, densities, model.density(stimulus) if example else None, paths

    log.info("human consistency (leave one subject out) on %d test images", len(humans))
    return _run(HUMAN_CEILING, dataset, humans, options, reference, predict, stage)


# -- the runner task -------------------------------------------------------------------------------
def scanpath_task(ctx):
    """Runner task ``scanpath``: evaluate one scanpath model (or the human ceiling) on a dataset's test images.

    Config keys: ``dataset`` (fixations + stimuli + train/test splits by image),
    ``scanpath`` (an instantiable model; ``name: another_human`` runs the
    leave-one-subject-out human ceiling), ``evaluation`` (:class:`ProtocolOptions`),
    ``seed``.  Rows: one per metric (mean over items, n_items); per-item arrays
    and example densities/scanpaths go to items.npz.
    """
    from hydra.utils import instantiate

    from cogmodels.runner.tasks import TaskOutput

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
    provenance = {"weights": "no learned weights (baselines fitted to the train-split fixations)",
                  "protocol": "items = (test image, subject); models fitted on train images; human ceiling "
                              "leave-one-subject-out; see cogmodels.scanpaths.evaluate",
                  "evaluation": asdict(options), "n_test_images": int(len(set(evaluation.stimulus_id))),
                  "n_items": int(len(evaluation.stimulus_id)), "n_train_images": len(dataset.splits["train"]),
                  "geometry": f"{options.px_per_deg} px/deg (assumed; the OSIE release records no screen geometry)"}
    return TaskOutput(rows=evaluation.rows(labels), items=evaluation.items(), provenance=provenance)


def latest_runs(results, experiment: str = "scanpath_baselines", where: str = "results.sqlite") -> dict:
    """Model name -> run id of its latest completed run of ``experiment`` (for the figures).

    Parameters
    ----------
    results : DataFrame
        :func:`cogmodels.runner.store.load_results` of the store.
    experiment : str
    where : str
        Name of the store, for the error message.
    """
    runs = results[results["experiment"] == experiment]
    if runs.empty:
        raise DataFormatError(format_problem(where, f"completed {experiment} runs", "none",
                                             f"run `cogmodels run -m experiment={experiment} "
                                             f"scanpath=uniform,center_bias,density_sampling,another_human` first"))
    latest = runs.sort_values("finished").groupby("head")["run_id"].last()
    return latest.to_dict()
