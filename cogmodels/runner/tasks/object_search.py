"""Task ``object_search``: object-level evaluation of a scanpath model on an object-array search dataset.

The dataset (e.g. ``object_search_sim``) has object boxes per display
(``meta["objects"]``), the target box of each trial (trials table) and
"train"/"test" splits by display.  The model is fitted on the train displays;
on each test display it samples ``evaluation.n_samples`` scanpaths given the
display's target box (``task={"target_box": ...}``; models without targets
ignore it).  Fixations become object IDs (OAT samples objects directly;
other models' fixations go to the object box they fall in, or the nearest).

Metrics (:mod:`cogmodels.metrics.object_scanpaths`):

- per item (test display, subject): object-level sequence score and
  normalised edit distance of each sampled scanpath against the subject's,
  averaged over samples;
- per model: the mean behavioural statistics (target found, length, search,
  refixation and revisit proportions), their relative deviation from the
  humans' (the simulated searcher's) and the mean relative deviation.

``scanpath.name: another_human`` scores each subject against the other
subjects of the display (the ceiling).
"""

from __future__ import annotations

import numpy as np
from hydra.utils import instantiate

from cogmodels.errors import ConfigError, format_problem
from cogmodels.metrics import object_scanpaths as osp
from cogmodels.runner.tasks.base import TASKS, RunContext, TaskOutput
from cogmodels.runner.tasks.search import evaluation_options, require_model

HUMAN_CEILING = "another_human"


def _options(cfg) -> dict:
    defaults = {"n_samples": None, "n_images": None, "n_examples": 4, "seed": int(cfg.get("seed", 0))}
    return evaluation_options(cfg, defaults, "experiments/conf/experiment/scanpath_object_search.yaml")


def _human_sequences(dataset, test):
    """stimulus_id -> (subjects, object sequences, target object) from the fixations and the object boxes."""
    from cogmodels.scanpaths.oat_data import trial_targets
    from cogmodels.scanpaths.oat_objects import ObjectSet, match_target

    boxes, targets, out = dataset.meta["objects"], trial_targets(dataset.fixations), {}
    for path in dataset.fixations.subset(stimulus_ids=test).to_scanpaths():
        subjects, seqs, _ = out.setdefault(path.stimulus_id, ([], [], None))
        subjects.append(path.subject)
        seqs.append(osp.to_object_ids(path, boxes[path.stimulus_id]))
        box = targets[(path.stimulus_id, path.subject, 0)]
        objects = ObjectSet(np.asarray(boxes[path.stimulus_id], float), (0, 0), "annotations")
        out[path.stimulus_id] = (subjects, seqs, match_target(box, objects, where=f"target of {path.stimulus_id}"))
    return out


def evaluate_objects(model, name: str, dataset, options: dict, stage) -> tuple[dict, dict, dict]:
    """Rows-ready means, per-item arrays and example arrays (see the module docstring)."""
    if "objects" not in dataset.meta or dataset.fixations is None:
        raise ConfigError(format_problem(f"dataset {dataset.name!r}", "fixations and meta['objects'] (object boxes "
                                         "per display)", "a dataset without them", "use dataset=object_search_sim"))
    test = sorted(dataset.splits["test"])[: options["n_images"]]
    humans = _human_sequences(dataset, test)
    boxes = dataset.meta["objects"]
    if name != HUMAN_CEILING:
        with stage("fit"):
            train = dataset.fixations.subset(stimulus_ids=dataset.splits["train"])
            model.fit(train, dataset.stimuli)
    item_sid, item_subject, score, distance, model_seqs, model_targets, examples = [], [], [], [], [], [], []
    for position, sid in enumerate(test):
        subjects, seqs, target = humans[sid]
        n = options["n_samples"] or len(subjects)
        rng = np.random.default_rng([options["seed"], position])
        box = boxes[sid][target]
        with stage("predict"):
            if name == HUMAN_CEILING:
                sampled = None
            elif hasattr(model, "sample_objects"):
                sampled, _ = model.sample_objects(dataset.stimuli[sid], n=n, task={"target_box": box}, seed=rng)
            else:
                sampled = [osp.to_object_ids(p, boxes[sid]) for p in
                           model.sample(dataset.stimuli[sid], n=n, task={"target_box": box}, seed=rng)]
        for j, (subject, human) in enumerate(zip(subjects, seqs)):
            others = sampled if sampled is not None else [s for k, s in enumerate(seqs) if k != j]
            score.append(float(np.mean(osp.sequence_score(others, [human] * len(others)))))
            distance.append(float(np.mean(osp.edit_distance(others, [human] * len(others)))))
            item_sid.append(sid)
            item_subject.append(subject)
        generated = sampled if sampled is not None else seqs
        model_seqs += list(generated)
        model_targets += [target] * len(generated)
        if position < options["n_examples"]:
            examples.append((sid, generated, seqs, target))
    human_all = [s for sid in test for s in humans[sid][1]]
    human_targets = [humans[sid][2] for sid in test for _ in humans[sid][1]]
    deviation = osp.behaviour_deviation(model_seqs, model_targets, human_all, human_targets)
    means = {"object_sequence_score": float(np.mean(score)), "object_edit_distance": float(np.mean(distance)),
             "mean_relative_deviation": deviation["mean_relative_deviation"]}
    for stat in osp.BEHAVIOUR_STATISTICS:
        means[stat] = deviation["model"][stat]
        means[f"{stat}_relative_deviation"] = deviation["relative_deviation"][stat]
    items = {"stimulus_id": np.asarray(item_sid, str), "subject": np.asarray(item_subject, str),
             "object_sequence_score": np.asarray(score), "object_edit_distance": np.asarray(distance)}
    return means, items, _example_arrays(dataset, examples, deviation["human"])


def _example_arrays(dataset, examples, human_means) -> dict:
    """Padded (-1) example sequences, the displays, object boxes and targets, for fig40."""
    def pad(groups):
        longest = max([len(s) for g in groups for s in g] + [1])
        width = max([len(g) for g in groups] + [1])
        out = np.full((len(groups), width, longest), -1, np.int64)
        for i, g in enumerate(groups):
            for j, s in enumerate(g):
                out[i, j, :len(s)] = s
        return out

    return {"example_stimulus_id": np.asarray([e[0] for e in examples], str),
            "example_model_sequences": pad([e[1] for e in examples]),
            "example_human_sequences": pad([e[2] for e in examples]),
            "example_target": np.asarray([e[3] for e in examples], np.int64),
            "example_boxes": np.stack([np.asarray(dataset.meta["objects"][e[0]], float) for e in examples]),
            "example_image": np.stack([dataset.stimuli[e[0]].image for e in examples]),
            "human_behaviour": np.asarray([human_means[s] for s in osp.BEHAVIOUR_STATISTICS])}


@TASKS.register("object_search")
def object_search_task(ctx: RunContext) -> TaskOutput:
    """Runner task ``object_search``: object-level sequence and behavioural metrics on search displays."""
    cfg = ctx.cfg
    require_model(cfg, "scanpath", "object_search", "experiment=scanpath_object_search scanpath=oat")
    options = _options(cfg)
    with ctx.stage("dataset"):
        dataset = instantiate(cfg.dataset)
    name = str(cfg.scanpath.name)
    model = instantiate(cfg.scanpath)
    means, items, examples = evaluate_objects(model, name, dataset, options, ctx.stage)
    labels = {"dataset": str(cfg.dataset.name), "backbone": "", "layer": "", "head": name, "subject": "all",
              "roi_or_condition": "all"}
    n_items = len(items["stimulus_id"])
    rows = [{**labels, "metric": metric, "value": value, "n_items": n_items} for metric, value in means.items()]
    provenance = {"weights": "no pretrained weights; the model is fitted to the train displays' scanpaths",
                  "protocol": "items = (test display, subject); object IDs from the dataset's object boxes; "
                              "see cogmodels.runner.tasks.object_search",
                  "evaluation": options, "n_test_images": len(set(items["stimulus_id"]))}
    return TaskOutput(rows=rows, items={**items, **examples}, provenance=provenance)
