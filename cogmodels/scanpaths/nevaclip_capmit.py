"""NevaClip on CapMIT1003: sampled scanpaths against each captioned trial's click sequence.

CapMIT1003 (Zanca et al. 2023, :mod:`cogmodels.datasets.capmit1003`) records,
for each (image, user) trial, a caption and the clicks that revealed a blurred
image while the user explored it.  The clicks are not eye fixations, so this
is not the eye-tracking protocol of :mod:`cogmodels.scanpaths.evaluate`
(which refuses click tables); it is the comparison of the NevaClip paper:

- one **item** per (test image, captioned trial);
- NevaClip samples ``n_samples`` scanpaths on the image, with that trial's
  caption as the task (``use_captions=True``; needs a text tower, i.e.
  ``encoder=open_clip:<model>`` with ``weights=`` a local file) or free viewing;
- each sample is compared with the trial's click sequence by every scanpath
  metric of the protocol (MultiMatch, ScanMatch, sequence score, edit
  distance, DTW, Fréchet; the same batched implementation and options);
- a **chance control** is scored the same way: uniform random positions with
  the same number of fixations as each NevaClip sample (seeded), so a model
  that ignored the image could not beat it.

The ScanMatch threshold is fixed from the train-split click sequences.
"""

from __future__ import annotations

import logging

import numpy as np
from tqdm.auto import tqdm

from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, DataFormatError, format_problem
from cogmodels.scanpaths._scoring import PairBatch, scanmatch_threshold
from cogmodels.scanpaths.evaluate import Evaluation, ProtocolOptions

log = logging.getLogger(__name__)
CONTROL = "uniform_control"


def _chance(path: Scanpath, size, rng) -> Scanpath:
    """Uniform random positions with the fixation count and durations of ``path``."""
    width, height = size
    xy = rng.random((len(path), 2)) * [width, height]
    return Scanpath.from_arrays(xy[:, 0], xy[:, 1], duration=path.duration, stimulus_id=path.stimulus_id,
                                task="chance")


def evaluate_captioned(model, dataset, options: ProtocolOptions | None = None, use_captions: bool = True,
                       stage=None) -> tuple[Evaluation, Evaluation]:
    """Score a NevaClip model (and the chance control) against CapMIT1003 click sequences.

    Parameters
    ----------
    model : NevaClipModel
        Zero-shot (not fitted); scanpath lengths are its ``n_fixations``.
    dataset : Dataset
        CapMIT1003 as loaded by ``cogmodels.load_dataset("capmit1003", root=...)``: click
        Fixations (kind "click") with a trials table holding the captions, and "train"/"test" splits.
    options : ProtocolOptions, optional
        ``n_images`` (first test images), ``n_samples``, ``seed``, ``metric_options``,
        ``multimatch_grouping``.
    use_captions : bool
        The trial's caption as the task (caption objective); False: the model's own objective.
    stage : callable, optional

    Returns
    -------
    (model_evaluation, control_evaluation) : Evaluation, Evaluation
        Items: (test image, trial); ``subject`` holds ``<user>/<trial>``.
    """
    import contextlib

    options, stage = options or ProtocolOptions(), stage or (lambda name: contextlib.nullcontext())
    clicks = dataset.fixations
    if clicks is None or "test" not in dataset.splits or "train" not in dataset.splits:
        raise ConfigError(format_problem(f"dataset {dataset.name!r}", "click sequences with train/test splits "
                                         "(CapMIT1003)", "no fixations or no splits", "use dataset.name=capmit1003"))
    trials = clicks.trials
    if use_captions and (trials is None or "caption" not in trials.columns):
        raise DataFormatError(format_problem(f"dataset {dataset.name!r} trials", "a caption per trial",
                                             "no caption column", "load CapMIT1003 through its loader"))
    geometry = clicks.require_geometry(f"dataset {dataset.name!r} clicks")
    screen = geometry.size_px
    train = clicks.subset(stimulus_ids=list(dataset.splits["train"]))
    threshold = scanmatch_threshold(train.to_scanpaths(), screen, options)
    test_ids = sorted(dataset.splits["test"], key=str)
    test_ids = test_ids if options.n_images is None else test_ids[: options.n_images]
    caption_of = ({(str(r.stimulus_id), str(r.subject), str(r.trial)): str(r.caption)
                   for r in trials.itertuples()} if use_captions else {})
    ours, chance, item_sid, item_subject = PairBatch(), PairBatch(), [], []
    table = clicks.subset(stimulus_ids=test_ids).table
    trials_of = [(key, rows.sort_values("index")) for key, rows in
                 table.groupby(["stimulus_id", "subject", "trial"], sort=True)]
    for position, ((sid, user, trial), rows) in enumerate(tqdm(trials_of, desc="nevaclip: captioned trials",
                                                                unit="trial")):
        human = Scanpath(rows["x"].to_numpy(float), rows["y"].to_numpy(float), rows["t_onset"].to_numpy(float),
                         rows["duration"].to_numpy(float), sid, user, "caption")
        stimulus = dataset.stimuli[sid]
        rng = np.random.default_rng(np.random.SeedSequence([int(options.seed), position]))
        task = None
        if use_captions:
            caption = caption_of.get((str(sid), str(user), str(trial)))
            if caption is None:
                raise DataFormatError(format_problem(f"trial {(sid, user, trial)}", "a caption in the trials table",
                                                     "none", "load CapMIT1003 through its loader"))
            task = {"caption": caption}
        with stage("predict"):
            predicted = model.sample(stimulus, n=options.n_samples, task=task, seed=rng)
        item = len(item_sid)
        ours.add(predicted, human, item, screen)
        chance.add([_chance(p, stimulus.size, rng) for p in predicted], human, item, screen)
        item_sid.append(str(human.stimulus_id))
        item_subject.append(f"{user}/{trial}")
    if not item_sid:
        raise DataFormatError(format_problem("CapMIT1003 test split", "at least one click sequence", "none",
                                             "check dataset.test_fraction and the evaluated images"))
    with stage("scanpath_metrics"):
        values = ours.score(options, len(item_sid), threshold)
        control = chance.score(options, len(item_sid), threshold)
    sid, subject = np.asarray(item_sid, str), np.asarray(item_subject, str)
    return Evaluation("nevaclip", sid, subject, values), Evaluation(CONTROL, sid, subject, control)
