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

Scanpath metrics (:mod:`cogmodels.metrics.gaze`; all pairs of all images are
collected first and each batched metric is called once): MultiMatch (vector,
direction, length, position, duration; no simplification by default;
Jarodzka et al. 2010, Dewhurst et al. 2012), ScanMatch (Cristino et al. 2010;
its substitution threshold is fixed from the train-split human scanpaths, so
every model meets the same substitution matrix), sequence score
(Needleman-Wunsch on grid-region strings), string edit distance (SED, as a
fraction of the longer string), DTW and discrete Frechet distance (pixels).
Grids and other parameters are the metric functions' defaults unless
``metric_options`` says otherwise.

Saliency metrics (:mod:`cogmodels.metrics.saliency`) of the model density
against the held-out subject ``s`` alone, so the models and the ceiling are
scored against identical targets: NSS, AUC-Judd and shuffled AUC at ``s``'s
fixations (sAUC negatives: the fixations of all other test-split images, seeded),
CC, KLD and SIM against ``s``'s Gaussian fixation density map (sigma
``sigma_deg``), and information gain (bits per fixation) over the centre-bias
model fitted on the train split (Kümmerer et al. 2015).  Maps are summed over
``saliency_block`` x ``saliency_block`` pixel blocks first (default 4; on 8
OSIE test images every saliency metric moved by at most 0.002 against full
resolution).  NSS and CC of a constant map (the uniform model) are undefined:
NaN, with a warning.

Geometry.  The screen comes from the data: ``dataset.fixations.geometry``
(:class:`~cogmodels.data.ScreenGeometry`, set by every loader).  Its size is
the ``screen_size`` of MultiMatch, ScanMatch and the grid strings (for every
pair, whatever the image size), and its px/deg turns ``sigma_deg`` into
pixels.  ``evaluation.px_per_deg`` (default None) overrides the px/deg only.
OSIE records no geometry: its loader states an assumed 800 x 600 px screen
at 24 px/deg (sigma 1 deg = 24 px); :func:`protocol_geometry` gives the
geometry a run used, and its provenance states it.

Model-specific example arrays.  A model may define ``example_arrays(stimulus, n,
seed) -> dict[str, ndarray]``: the arrays behind ``sample(stimulus, n, seed=seed)``
(e.g. DiffEye's raw trajectories).  On the ``n_examples`` example images it is
called with a copy of the generator that ``sample`` gets, so it describes the very
draws that were scored; each key is stored in items.npz as ``example_model_<key>``,
stacked over the example images.  Models without it store nothing more.

Undefined values (e.g. MultiMatch of a one-fixation scanpath) are left out of
an item's mean with a warning giving the count; an item with no defined value
is NaN and is left out of the run's mean, again with a warning.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from cogmodels.errors import ConfigError, DataFormatError, format_problem
from cogmodels.scanpaths._scoring import (HIGHER_IS_BETTER, LOWER_IS_BETTER, MULTIMATCH_DIMENSIONS,
                                          SALIENCY_METRICS, SCANPATH_METRICS, PairBatch, block_sum,
                                          saliency_metrics, scanmatch_threshold)

log = logging.getLogger(__name__)
_no_stage = contextlib.nullcontext  # stage(name) when no RunContext times the stages

HUMAN_CEILING = "another_human"
__all__ = ["HUMAN_CEILING", "HIGHER_IS_BETTER", "LOWER_IS_BETTER", "MULTIMATCH_DIMENSIONS", "SCANPATH_METRICS",
           "SALIENCY_METRICS", "ProtocolOptions", "Evaluation", "evaluate_model", "evaluate_human_consistency",
           "latest_runs", "protocol_geometry"]


@dataclass
class ProtocolOptions:
    """Options of the evaluation protocol (config node ``evaluation``).

    Attributes
    ----------
    n_images : int or None
        Evaluate the first ``n_images`` test images (sorted ids); None: all.
    n_samples : int
        Scanpaths sampled per test image by a model.
    px_per_deg : float or None
        Overrides the px/deg of the data's geometry (None: the data's; see the module docstring).
    sigma_deg : float
        Sigma of the human fixation density maps, in degrees.
    n_examples : int
        Test images whose densities and scanpaths are stored for the figures.
    example_downsample : int
        Block size (pixels) of the stored example densities.
    saliency_block : int
        Saliency metrics are computed on maps summed over blocks of this many
        pixels squared (fixations in block units): 4 makes them 16 times cheaper
        and, with sigma 1 deg = 24 px (OSIE), keeps 6 blocks per sigma.  1: full resolution.
    multimatch_grouping : dict or None
        MultiMatch simplification thresholds (None: no simplification).
    metric_options : dict of str -> dict
        Extra keyword arguments per gaze metric function (``scanmatch``, ``sequence_score``, ...).
    seed : int
    """

    n_images: int | None = None
    n_samples: int = 10
    px_per_deg: float | None = None
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
                                             "check the spelling (see experiment/scanpath_baselines.yaml)"))
        values.setdefault("seed", seed)
        options = cls(**values)
        counts = {name: getattr(options, name) for name in
                  ("n_samples", "n_images", "saliency_block", "example_downsample")}
        bad = {k: v for k, v in counts.items() if v is not None and (int(v) != v or v < 1)}
        if bad:
            raise ConfigError(format_problem("evaluation", "positive integers", f"{bad}", "use at least 1"))
        if not ((options.px_per_deg is None or options.px_per_deg > 0) and options.sigma_deg > 0):
            raise ConfigError(format_problem("evaluation.px_per_deg / sigma_deg",
                                             "None (the data's geometry) or a positive number / a positive number",
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
    """stimulus_id -> list of Scanpath sorted by subject: one trial per subject, at least two subjects."""
    by_image = {sid: [] for sid in stimulus_ids}
    for path in fixations.subset(stimulus_ids=stimulus_ids).to_scanpaths():
        by_image[path.stimulus_id].append(path)
    for sid, paths in by_image.items():
        subjects = [p.subject for p in paths]
        if len(paths) < 2 or len(set(subjects)) != len(subjects):
            raise DataFormatError(format_problem(
                f"fixations of image {sid!r}", "one scanpath per subject, from at least 2 subjects",
                f"{len(paths)} scanpaths of subjects {subjects}", "keep one free-viewing trial per subject and image"))
    return by_image


def _image_sizes(dataset, stimulus_ids) -> dict:
    """stimulus_id -> (width, height): recorded by the loader in the fixations, else read from the images."""
    known = dataset.fixations.image_sizes
    return {sid: known[sid] if sid in known else dataset.stimuli[sid].size for sid in stimulus_ids}


def protocol_geometry(dataset, options: ProtocolOptions):
    """The ScreenGeometry a run uses: the fixations' own, with ``options.px_per_deg`` when that is set.

    Raises ConfigError when the fixations carry no geometry, or when no px/deg is known at all.
    """
    geometry = dataset.fixations.require_geometry(f"dataset {dataset.name!r} fixations")
    if options.px_per_deg is not None:
        geometry = geometry.with_px_per_deg(options.px_per_deg,
                                            source=f"px/deg from evaluation.px_per_deg; screen: {geometry.source}")
    geometry.require_px_per_deg(f"dataset {dataset.name!r} geometry (or evaluation.px_per_deg)")
    return geometry


def _image_seed(options: ProtocolOptions, position: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(options.seed), int(position)]))


def _negative_pool(dataset) -> tuple[np.ndarray, np.ndarray]:
    """Fixations of all test-split images (however many are evaluated), for the shuffled AUC.

    Returns positions in image-size units, shape (n_fixations, 2), and their stimulus ids (n_fixations,).
    """
    table = dataset.fixations.subset(stimulus_ids=list(dataset.splits["test"])).table
    sizes = _image_sizes(dataset, table["stimulus_id"].unique())
    scale = np.array([sizes[sid] for sid in table["stimulus_id"]], dtype=float).reshape(-1, 2)
    return table[["x", "y"]].to_numpy(float) / scale, table["stimulus_id"].to_numpy(str)


def _model_example_arrays(model_arrays: list[dict]) -> dict:
    """``example_model_<key>``: each key of the models' per-image example arrays stacked over the images."""
    keys = sorted({key for arrays in model_arrays for key in arrays})
    out = {}
    for key in keys:
        values = [np.asarray(arrays.get(key)) if key in arrays else None for arrays in model_arrays]
        shapes = {None if v is None else v.shape for v in values}
        if len(shapes) != 1 or None in shapes:
            found = f"shapes {[getattr(v, 'shape', None) for v in values]}"
            raise DataFormatError(format_problem(f"example_arrays()[{key!r}]", "an array of one shape on every "
                                                 "example image", found,
                                                 "return arrays of a fixed shape from example_arrays"))
        out[f"example_model_{key}"] = np.stack(values)
    return out


def _example_arrays(stimuli, ids, densities, scanpaths, downsample, model_arrays=()) -> dict:
    """Arrays for the figures: image ids, paths and sizes; densities (k, h, w) summed over ``downsample``
    pixel blocks; scanpaths zero-padded: xy (k, n, L, 2), duration (k, n, L), length (k, n), subject (k, n);
    ``example_model_<key>`` (k, ...) from the model's ``example_arrays`` (see the module docstring)."""
    n, longest = max(map(len, scanpaths), default=0), max((len(p) for g in scanpaths for p in g), default=0)
    xy, duration = np.zeros((len(ids), n, longest, 2)), np.zeros((len(ids), n, longest))
    length, subject = np.zeros((len(ids), n), dtype=np.int64), np.full((len(ids), n), "", dtype="<U32")
    for i, group in enumerate(scanpaths):
        for j, path in enumerate(group):
            xy[i, j, :len(path)], duration[i, j, :len(path)] = path.xy, path.duration
            length[i, j], subject[i, j] = len(path), path.subject or ""
    files = stimuli.paths
    return {"example_stimulus_id": np.asarray(ids, dtype=str),
            "example_image_path": np.asarray([str(files[stimuli.position(s)]) if files else "" for s in ids], str),
            "example_image_size": np.asarray([stimuli[s].size for s in ids], dtype=np.int64).reshape(-1, 2),
            "example_density": (block_sum(np.stack(densities), downsample).astype(np.float32) if densities
                                else np.zeros((0, 0, 0), np.float32)),
            "example_scanpath_xy": xy, "example_scanpath_duration": duration,
            "example_scanpath_length": length, "example_scanpath_subject": subject,
            **_model_example_arrays(list(model_arrays))}


# -- the protocol ----------------------------------------------------------------------------------
@dataclass
class _Reference:
    """What the protocol takes from the train split: its fixations, the centre-bias model (the
    information-gain reference) and the ScanMatch threshold; independent of the evaluated model."""

    fixations: object
    baseline: object
    scanmatch_threshold: float
    geometry: object


def _train_reference(dataset, options: ProtocolOptions) -> _Reference:
    from cogmodels.scanpaths.baselines import CenterBiasModel

    geometry = protocol_geometry(dataset, options)
    train = dataset.fixations.subset(stimulus_ids=list(dataset.splits["train"]))
    return _Reference(train, CenterBiasModel(seed=options.seed).fit(train),
                      scanmatch_threshold(train.to_scanpaths(), geometry.size_px, options), geometry)


def _run(name: str, dataset, humans: dict, options: ProtocolOptions, reference: _Reference, predict,
         stage) -> Evaluation:
    """Loop over test images: predictions, saliency metrics per image, scanpath pairs scored at the end.

    ``predict(stimulus, humans_of_image, rng, example) -> (predicted, densities, example_density, example_paths,
    model_arrays)`` with ``predicted[j]`` the scanpaths compared with subject j, ``densities`` of shape
    (n_subjects, H, W) (or (H, W): one density for every subject) and ``model_arrays`` the model's example
    arrays of the image (a dict; empty when there are none).
    """
    pool_xy, pool_owner = _negative_pool(dataset)
    pairs, item_sid, item_subject = PairBatch(), [], []
    saliency_values = {metric: [] for metric in SALIENCY_METRICS}
    example_ids, example_densities, example_paths, example_model, baselines = [], [], [], [], {}
    for position, (sid, paths) in enumerate(tqdm(humans.items(), desc=f"{name}: test images", unit="image")):
        stimulus = dataset.stimuli[sid]
        rng = _image_seed(options, position)
        example = position < options.n_examples
        with stage("predict"):
            predicted, densities, example_density, sampled, model_arrays = predict(stimulus, paths, rng, example)
        for j, human in enumerate(paths):
            pairs.add(predicted[j], human, len(item_sid), reference.geometry.size_px)
            item_sid.append(sid)
            item_subject.append(human.subject)
        negatives = pool_xy[pool_owner != sid] * np.asarray(stimulus.size, float)
        with stage("saliency_metrics"):
            if stimulus.size not in baselines:  # the centre bias depends on the image size only
                baselines[stimulus.size] = reference.baseline.density(stimulus)
            values = saliency_metrics(densities, paths, baselines[stimulus.size], negatives, options, rng,
                                      reference.geometry.px_per_deg)
        for metric, v in values.items():
            saliency_values[metric].append(v)
        if example:
            example_ids.append(sid)
            example_densities.append(example_density)
            example_paths.append(sampled)
            example_model.append(model_arrays)
    with stage("scanpath_metrics"):
        values = pairs.score(options, len(item_sid), reference.scanmatch_threshold)
    values.update({metric: np.concatenate(v) for metric, v in saliency_values.items()})
    examples = _example_arrays(dataset.stimuli, example_ids, example_densities, example_paths,
                               options.example_downsample, example_model)
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
    options, stage = options or ProtocolOptions(), stage or _no_stage
    name = name or type(model).__name__
    test_ids = _test_images(dataset, options)
    with stage("fit"):
        reference = _train_reference(dataset, options)
        model.fit(reference.fixations, dataset.stimuli.subset(reference.fixations.stimulus_ids))
    humans = _human_scanpaths(dataset.fixations, test_ids)

    extra = getattr(model, "example_arrays", None)

    def predict(stimulus, paths, rng, example):
        # the model's example arrays get a copy of the generator that sample() gets: the same draws
        model_arrays = dict(extra(stimulus, options.n_samples, copy.deepcopy(rng))) if example and extra else {}
        samples = model.sample(stimulus, n=options.n_samples, seed=rng)
        density = model.density(stimulus)
        return [samples] * len(paths), density, density, samples, model_arrays

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
        Default: ``AnotherHumanModel(sigma_deg, px_per_deg)`` of the options (px_per_deg
        None: the data's geometry).  It is fitted on all subjects of the test images and
        queried with ``exclude_subject``.
    stage : callable, optional

    Returns
    -------
    Evaluation
        Named ``another_human``; the example densities are those of all subjects.
    """
    from cogmodels.scanpaths.baselines import AnotherHumanModel

    options, stage = options or ProtocolOptions(), stage or _no_stage
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
        return others, densities, model.density(stimulus) if example else None, paths, {}

    log.info("human consistency (leave one subject out) on %d test images", len(humans))
    return _run(HUMAN_CEILING, dataset, humans, options, reference, predict, stage)


def latest_runs(results, experiment: str = "scanpath_baselines", where: str = "results.sqlite",
                required: tuple = ()) -> dict:
    """Model name -> id of its latest run of ``experiment`` in ``results`` (a ``load_results`` table, at ``where``).

    Raises DataFormatError, with the command that computes them, when there is no run at all or a model of
    ``required`` has none.
    """
    runs = results[results["experiment"] == experiment]
    latest = {} if runs.empty else runs.sort_values("finished").groupby("head")["run_id"].last().to_dict()
    if not latest or any(model not in latest for model in required):
        models = f" scanpath={','.join(required)}" if required else ""
        raise DataFormatError(format_problem(
            where, f"completed {experiment} runs" + (f" of {', '.join(required)}" if required else ""),
            f"runs of {sorted(latest)}" if latest else "none",
            f"run `cogmodels run -m experiment={experiment}{models}` first"))
    return latest
