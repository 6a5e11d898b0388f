"""Task ``search``: a search model on the visual-search-asymmetry displays, scored against humans.

Every trial of the dataset (``search_asymmetry``: six experiments x two
conditions x set sizes) is searched once by the model
(``searcher.search(trial, max_fixations)``).  Scoring
(:mod:`cogmodels.metrics.search`): fixations to target per trial, mapped to RT
with Gupta et al.'s affine map; per condition the RT-vs-set-size slope; per
experiment the asymmetry index with "hard" from the human slopes; the mean over
experiments and the polarity count.  Trials where the target was not found
within the budget count the budget (censored; the found rate is a row).

Rows (``roi_or_condition``, ``metric``):

- ``<experiment>/<condition>``: ``rt_slope_ms_per_item``, ``fixation_slope``,
  ``human_rt_slope_ms_per_item``, ``found_rate``;
- ``<experiment>/<condition>/n<set size>``: ``mean_rt_ms``, ``mean_fixations``,
  ``human_rt_ms`` (the shipped reference, so figures read humans from the store too);
- ``<experiment>``: ``asymmetry_index``, ``human_asymmetry_index``;
- ``all``: ``asymmetry_index_mean``, ``polarity_matches``, ``published_asymmetry_index_mean``
  (Gupta et al. 2021, when the model has a published value), ``human_asymmetry_index_mean``,
  ``found_rate``, ``seconds_per_trial``.

items.npz: per trial ``trial_id``, ``condition``, ``set_size``, ``n_fixations``,
``found``, ``seconds``, the scanpaths flattened (``fixation_x``, ``fixation_y``,
``fixation_trial``: the row of each fixation; each trial's block starts with its initial fixation), and per example trial (one per
condition, its largest set size) ``example<k>_image`` (grey, uint8, at most
``example_side`` px), ``example<k>_mask``, ``example<k>_fixations`` (in the
example image's pixels) and ``example_ids`` / ``example_scale``.

Evaluation keys (``evaluation.*``): ``paradigms`` (null: all), ``max_fixations``
(null: the model's), ``n_examples_per_condition`` (1), ``example_side`` (256).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from hydra.utils import instantiate

from cogmodels.errors import ConfigError, format_problem
from cogmodels.metrics import search as metrics
from cogmodels.runner.tasks.base import TASKS, RunContext, TaskOutput

log = logging.getLogger(__name__)

DEFAULT_OPTIONS = {"paradigms": None, "max_fixations": None, "n_examples_per_condition": 1, "example_side": 256}
#: Registered name -> key of the published indices in the reference (Gupta et al. 2021).
PUBLISHED_NAMES = {"eccnet": "eccNET", "ivsn": "IVSN", "chance": "chance", "pixel_match": "pixel_match"}


def evaluation_options(cfg, defaults: dict, example: str) -> dict:
    """The ``evaluation`` node of a search task's config over ``defaults``; unknown keys raise ConfigError
    that points to the experiment file ``example`` (shared by the ``search`` and ``object_search`` tasks)."""
    node = dict(cfg.get("evaluation") or {})
    unknown = sorted(set(node) - set(defaults))
    if unknown:
        raise ConfigError(format_problem("evaluation", f"keys among {sorted(defaults)}", f"unknown {unknown}",
                                         f"see {example}"))
    return {**defaults, **node}


def require_model(cfg, node: str, task: str, example: str) -> None:
    """ConfigError unless the config has the model node ``node`` (e.g. ``search``) that ``task`` runs."""
    if cfg.get(node) is None:
        raise ConfigError(format_problem("config", f"a `{node}` model (task={task})", f"no {node} node",
                                         f"add {node}=<name>, e.g. {example}"))


def _options(cfg) -> dict:
    options = evaluation_options(cfg, DEFAULT_OPTIONS, "experiments/conf/experiment/search_asymmetry.yaml")
    if options["paradigms"] is not None:
        options["paradigms"] = [str(p) for p in options["paradigms"]]
    return options


def _datasets(cfg, options, stage):
    """Yield the dataset one paradigm at a time when the loader takes ``paradigms`` (bounded memory)."""
    if "paradigms" not in cfg.dataset:
        with stage("dataset"):
            dataset = instantiate(cfg.dataset)
        yield dataset
        return
    from cogmodels.datasets.search_asymmetry import PARADIGMS

    for paradigm in options["paradigms"] or cfg.dataset.get("paradigms") or list(PARADIGMS):
        with stage("dataset"):  # generation only: the yield stays outside the timed block
            dataset = instantiate(cfg.dataset, paradigms=[paradigm])
        yield dataset


def _shrink(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    from PIL import Image

    scale = min(1.0, side / max(image.shape[:2]))
    if scale == 1.0:
        return image, 1.0
    size = (max(int(round(image.shape[1] * scale)), 1), max(int(round(image.shape[0] * scale)), 1))
    return np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR)), scale


@TASKS.register("search")
def search_task(ctx: RunContext) -> TaskOutput:
    """Runner task ``search`` (see the module docstring)."""
    from tqdm.auto import tqdm

    cfg = ctx.cfg
    require_model(cfg, "search", "search", "experiment=search_asymmetry search=eccnet")
    options = _options(cfg)
    name = str(cfg.search.name)
    model = instantiate(cfg.search)
    model.validate_params()
    ids, conditions, set_sizes, counts, found, seconds = [], [], [], [], [], []
    fix_x, fix_y, fix_trial, examples = [], [], [], {}
    reference = None
    for dataset in _datasets(cfg, options, ctx.stage):
        reference = dataset.meta.get("reference", reference)
        with ctx.stage("search"):
            for trial in tqdm(dataset.trials, desc=f"{name} search", unit="trial", leave=False):
                start = time.perf_counter()
                result = model.search(trial, options["max_fixations"])
                seconds.append(time.perf_counter() - start)
                row = len(ids)
                ids.append(trial.id), conditions.append(trial.condition), set_sizes.append(trial.set_size)
                counts.append(result.n_fixations), found.append(result.found)
                path = result.path  # the initial fixation first, when the searcher reports it
                fix_x += path[:, 0].tolist()
                fix_y += path[:, 1].tolist()
                fix_trial += [row] * len(path)
                key = trial.condition
                biggest = examples.get(key)
                if biggest is None or trial.set_size > biggest[0].set_size:
                    examples[key] = (trial, result)
    if not ids:
        raise ConfigError(format_problem("dataset", "at least one search trial", "none", "check evaluation.paradigms"))
    if reference is None:
        from cogmodels.datasets.search_asymmetry_reference import REFERENCE as reference
    conditions, set_sizes = np.asarray(conditions), np.asarray(set_sizes)
    counts, found = np.asarray(counts), np.asarray(found)
    mapping = reference["model_fixation_to_rt"]
    rts = metrics.rt_from_fixations(counts, mapping["slope_ms_per_fixation"], mapping["intercept_ms"])
    labels = {"dataset": str(cfg.dataset.name), "backbone": str(getattr(model, "backbone", "") or ""),
              "layer": "", "head": name, "subject": "model"}

    def row(where, metric, value, n):
        return {**labels, "roi_or_condition": where, "metric": metric, "value": float(value), "n_items": int(n)}

    rows = []
    rt_slopes = metrics.slopes(rts, set_sizes, conditions)
    fixation_slopes = metrics.slopes(counts, set_sizes, conditions)
    human = metrics.human_slopes(reference)
    for condition in sorted(rt_slopes):
        n = int((conditions == condition).sum())
        rows += [row(condition, "rt_slope_ms_per_item", rt_slopes[condition], n),
                 row(condition, "fixation_slope", fixation_slopes[condition], n),
                 row(condition, "human_rt_slope_ms_per_item", human[condition], 1),
                 row(condition, "found_rate", found[conditions == condition].mean(), n)]
        experiment = metrics.experiment_of(condition)
        for k, size in enumerate(reference["set_sizes"][experiment]):
            where = conditions == condition
            cell = where & (set_sizes == size)
            label = f"{condition}/n{size:02d}"
            rows.append(row(label, "human_rt_ms", reference["rt_ms"][condition][k], 1))
            if cell.any():
                rows += [row(label, "mean_rt_ms", rts[cell].mean(), cell.sum()),
                         row(label, "mean_fixations", counts[cell].mean(), cell.sum())]
    complete = {c: s for c, s in rt_slopes.items()
                if sum(metrics.experiment_of(o) == metrics.experiment_of(c) for o in rt_slopes) == 2}
    table = metrics.asymmetry_table(complete, human) if complete else None
    if table is not None:
        human_table = metrics.asymmetry_table({c: human[c] for c in complete}, human)
        for experiment, value in table["index"].items():
            n = int(sum(metrics.experiment_of(c) == experiment for c in conditions))
            rows += [row(experiment, "asymmetry_index", value, n),
                     row(experiment, "human_asymmetry_index", human_table["index"][experiment], 1)]
        rows += [row("all", "asymmetry_index_mean", table["mean"], table["n_experiments"]),
                 row("all", "polarity_matches", table["polarity_matches"], table["n_experiments"]),
                 row("all", "human_asymmetry_index_mean", human_table["mean"], table["n_experiments"])]
        published = reference.get("reference_results_gupta2021", {}).get("asymmetry_index_mean", {})
        if name in PUBLISHED_NAMES and PUBLISHED_NAMES[name] in published and table["n_experiments"] == 6:
            rows.append(row("all", "published_asymmetry_index_mean", published[PUBLISHED_NAMES[name]], 6))
    rows += [row("all", "found_rate", found.mean(), len(ids)),
             row("all", "seconds_per_trial", float(np.mean(seconds)), len(ids))]
    items = {"trial_id": np.asarray(ids, dtype=str), "condition": conditions.astype(str),
             "set_size": set_sizes.astype(np.int64), "n_fixations": counts.astype(np.int64),
             "found": found.astype(bool), "seconds": np.asarray(seconds), "rt_ms": rts,
             "fixation_x": np.asarray(fix_x), "fixation_y": np.asarray(fix_y),
             "fixation_trial": np.asarray(fix_trial, dtype=np.int64)}
    example_ids, scales = [], []
    for k, (condition, (trial, result)) in enumerate(sorted(examples.items())):
        image, scale = _shrink(trial.search_image[..., 0], int(options["example_side"]))
        mask, _ = _shrink(trial.target_mask.astype(np.uint8) * 255, int(options["example_side"]))
        items[f"example{k}_image"] = image.astype(np.uint8)
        items[f"example{k}_mask"] = mask > 127
        items[f"example{k}_fixations"] = result.path * scale
        example_ids.append(trial.id)
        scales.append(scale)
    items["example_ids"], items["example_scale"] = np.asarray(example_ids, dtype=str), np.asarray(scales)
    provenance = {"weights": str(model.weights_statement),
                  "protocol": "one search per trial; fixations to target (the budget when not found) -> RT by "
                              "Gupta et al.'s affine map; slopes of the mean RT per set size; asymmetry index "
                              "with hard = the larger human slope (cogmodels.metrics.search)",
                  "evaluation": options, "n_trials": len(ids),
                  "max_fixations": int(options["max_fixations"] or getattr(model, "max_fixations", 0)),
                  "not_found": int((~found).sum())}
    return TaskOutput(rows=rows, items=items, provenance=provenance)


# -- reading the store (paper figures fig30-fig33) -----------------------------------------------------------
EXPERIMENT = "search_asymmetry"
MODEL_ORDER = ("eccnet", "ivsn", "pixel_match", "chance")


def model_label(head: str, backbone: str) -> str:
    """``"eccnet (gabor)"``; baselines without a backbone keep their name."""
    return f"{head} ({backbone})" if backbone else head


def latest_search_runs(results, where: str = "results.sqlite") -> dict:
    """Model label -> id of its latest complete ``search_asymmetry`` run, models in :data:`MODEL_ORDER`."""
    runs = results[results["experiment"] == EXPERIMENT]
    if runs.empty:
        raise ConfigError(format_problem(where, f"completed {EXPERIMENT} runs", "none",
                                         f"run `cogmodels run -m experiment={EXPERIMENT} "
                                         "search=eccnet,ivsn,chance,pixel_match` first"))
    latest = runs.sort_values("finished").groupby(["head", "backbone"])["run_id"].last()
    order = {name: i for i, name in enumerate(MODEL_ORDER)}
    keys = sorted(latest.index, key=lambda k: (order.get(k[0], len(order)), k))
    return {model_label(head, backbone): latest[(head, backbone)] for head, backbone in keys}
