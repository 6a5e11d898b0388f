"""Task ``seeg``: time-resolved encoding of SEEG responses by vision, language and multimodal features.

Subramaniam et al. (ICML 2024), from the paper's description.  Per subject:

1. **Features per event** (image shown + caption): ``vision`` (the fixed gabor
   bank, standardised), ``language`` (the text encoder, ``hashing`` offline),
   ``concat`` (both, each block scaled by 1/sqrt(its width)), and from a
   vision-language pair (:mod:`cogmodels.backbones.vision_language`, ``contrastive``
   trained on the dataset's matched image-caption corpus, ``meta["pretrain_pairs"]``,
   or else on the events' own image-caption pairs): ``multimodal`` ([image, text,
   image * text] embeddings), ``vl_image`` (its image embedding); and the same two
   from the seeded random-init twin (``multimodal_random``, ``vl_image_random``).
2. **Encoding** (:mod:`cogmodels.encoders.time_resolved`): one ridge per
   (electrode, time bin), K folds in time order, alpha on a validation half,
   test r; one shared set of bootstrap indices; 95% CIs; BH-FDR paired tests.
3. **Sites**: integration (multimodal beats vision, language and concat), vision,
   language, responsive, none; the best model per electrode
   (:func:`cogmodels.encoders.time_resolved.integration_analysis`, the public entry
   point for a user's own data).  With a simulator's ground truth: recall and
   false-discovery proportion of integration sites, accuracy of vision/language
   labels, and whether the trained image embedding beats its random twin at the
   vision-driven sites (per site at BH-FDR, and for their mean; both over each
   site's responsive bins).

Config keys (``seeg.*``): ``subjects``, ``n_folds``, ``n_boot``, ``alphas``, ``q``,
``window`` ([start, stop] s after onset for the comparisons), ``vl`` (parameters
of the contrastive pair), ``text`` / ``text_dim``, ``image_size`` / ``pool`` (gabor).
"""

from __future__ import annotations

import logging

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf

from cogmodels.runner.tasks.base import TASKS, RunContext, TaskOutput

log = logging.getLogger(__name__)

PAPER = {"n_sites": 1090, "n_integration": 141}  # Subramaniam et al. 2024: 141 of 1,090 sites (12.9%)
DEFAULTS = {"subjects": ["01"], "n_folds": 5, "n_boot": 1000, "alphas": None, "q": 0.05, "window": [0.0, 1.6],
            "text": "hashing", "text_dim": 256, "image_size": 48, "pool": 4,
            "vl": {"dim": 16, "epochs": 300, "lr": 0.01, "temperature": 0.3, "seed": 0}}


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean(0)) / (x.std(0) + 1e-8)


def event_features(images, captions, options: dict, pairs: tuple | None = None) -> tuple[dict, dict]:
    """Every feature set of the analysis for the events (images, captions); returns (features, provenance).

    ``pairs`` = (images, captions) of a matched corpus to train the vision-language pair on; default: the
    events' own image-caption pairs.
    """
    from cogmodels.backbones.text import TEXT_ENCODERS
    from cogmodels.backbones.vision_language import ContrastivePair, image_features

    text_params = {"dim": options["text_dim"]} if options["text"] == "hashing" else {}
    vision = _standardise(image_features(images, options["image_size"], options["pool"]))
    language = _standardise(TEXT_ENCODERS.create(options["text"], **text_params).encode(captions))
    vl = dict(options["vl"])
    pair_args = dict(text=options["text"], text_dim=options["text_dim"], image_size=options["image_size"],
                     pool=options["pool"], **vl)
    train_images, train_captions = pairs if pairs is not None else (images, captions)
    trained = ContrastivePair(train=True, **pair_args).fit(train_images, train_captions)
    random = ContrastivePair(train=False, **pair_args).fit(train_images, train_captions)
    f_trained, f_random = trained.features(images, captions), random.features(images, captions)
    features = {"vision": vision, "language": language,
                "concat": np.concatenate([vision / np.sqrt(vision.shape[1]), language / np.sqrt(language.shape[1])], 1),
                "multimodal": _standardise(f_trained["multimodal"]), "vl_image": _standardise(f_trained["image"]),
                "multimodal_random": _standardise(f_random["multimodal"]),
                "vl_image_random": _standardise(f_random["image"])}
    provenance = {"vision": "gabor complex layer (fixed filters)", "language": f"text encoder {options['text']}",
                  "multimodal": trained.weights, "multimodal_random": random.weights,
                  "contrastive_loss": getattr(trained, "loss_", None), "n_training_pairs": len(train_captions),
                  "training_pairs": "events" if pairs is None else "matched corpus"}
    return features, provenance


def analyse(dataset, options: dict | None = None, seed: int = 0) -> dict:
    """The whole analysis of one subject's dataset; returns scores, labels and (simulators) recovery facts."""
    from cogmodels.encoders.time_resolved import compare, compare_population, integration_analysis

    options = {**DEFAULTS, **(options or {})}
    options["vl"] = {**DEFAULTS["vl"], **(options.get("vl") or {})}
    images = [dataset.stimuli.image(i) for i in range(len(dataset.stimuli))]
    captions = dataset.meta["captions"]
    pairs = None
    corpus = dataset.meta.get("pretrain_pairs")
    if corpus:
        from cogmodels.data.stimuli import load_image

        pairs = ([load_image(p) for p in corpus["paths"]], list(corpus["captions"]))
    features, provenance = event_features(images, captions, options, pairs)
    alphas = None if options["alphas"] is None else list(options["alphas"])
    window, q = tuple(options["window"]), float(options["q"])
    result = integration_analysis(dataset, features, window=window, q=q, n_folds=int(options["n_folds"]),
                                  n_boot=int(options["n_boot"]), alphas=alphas, seed=seed)
    scores = result.scores
    # trained vs random-init image embedding: over each electrode's responsive bins (either model's lower CI
    # bound above 0), since bins without a response add only noise to the difference
    trained_wins, _, trained_diff = compare(scores, "vl_image", "vl_image_random", window, q, responsive_only=True)
    out = {"scores": scores, "sites": {"label": result.label, "beats": result.beats, "p": result.p},
           "best_model": result.best_model, "trained_beats_random": trained_wins,
           "trained_minus_random": trained_diff, "provenance": provenance}
    truth = (dataset.ground_truth or {}).get("classes")
    if truth is not None:
        truth = np.asarray(truth)
        out["recovery"] = recovery(truth, result.label, trained_wins, trained_diff)
        if (truth == "vision").any():
            p, _ = compare_population(scores, "vl_image", "vl_image_random", truth == "vision", window,
                                      responsive_only=True)
            out["recovery"]["trained_beats_random_vision_population_p"] = p
    return out


def recovery(truth: np.ndarray, label: np.ndarray, trained_wins: np.ndarray, trained_diff: np.ndarray) -> dict:
    """Recall and false-discovery proportion of integration sites; accuracy of vision/language labels; trained vs
    random image embedding at the vision-driven sites (fraction significantly better at BH-FDR, mean r
    difference over each site's responsive bins)."""
    found, planted = label == "integration", truth == "integration"
    vision, language = truth == "vision", truth == "language"
    return {"integration_recall": float((found & planted).sum() / max(planted.sum(), 1)),
            "integration_fdp": float((found & ~planted).sum() / max(found.sum(), 1)),
            "vision_accuracy": float((label[vision] == "vision").mean()) if vision.any() else float("nan"),
            "language_accuracy": float((label[language] == "language").mean()) if language.any() else float("nan"),
            "trained_beats_random_vision": float(trained_wins[vision].mean()) if vision.any() else float("nan"),
            "trained_minus_random_r_vision": float(trained_diff[vision].mean()) if vision.any() else float("nan"),
            "n_planted_integration": int(planted.sum()), "n_found_integration": int(found.sum())}


@TASKS.register("seeg")
def seeg(ctx: RunContext) -> TaskOutput:
    """SEEG encoding per subject: vision, language, concatenated and multimodal features; integration sites.

    Rows per subject (``roi_or_condition`` = "all"): ``n_electrodes``, ``n_integration_sites``,
    ``integration_fraction``, ``n_<label>_sites``, the mean over electrodes and post-onset bins of
    each model's test r (``pearson_r``, ``layer`` = model), and with ground truth the recovery
    facts (:func:`recovery`).  Items per subject ``<name>@sub-XX``: ``r`` / ``ci_low`` / ``ci_high``
    of each model (``r@<model>@sub-XX``, (n_electrodes, n_times)), ``label``, ``best_model``,
    ``true_class``, ``channel_id``, ``x`` / ``y`` / ``z`` (mm), and ``times``.
    """
    cfg = ctx.cfg
    options = {**DEFAULTS, **OmegaConf.to_container(cfg.get("seeg") or OmegaConf.create({}), resolve=True)}
    rows, items, provenance = [], {}, {"paper": PAPER}
    for subject in options["subjects"]:
        with ctx.stage(f"dataset/sub-{subject}"):
            dataset = instantiate(cfg.dataset, subject=str(subject))
        with ctx.stage(f"analysis/sub-{subject}"):
            result = analyse(dataset, options, seed=int(cfg.seed))
        scores, label = result["scores"], result["sites"]["label"]
        key = f"sub-{subject}"
        labels = {"dataset": cfg.dataset.name, "backbone": "", "head": "time_resolved_ridge", "subject": key,
                  "roi_or_condition": "all"}
        bins = (scores.times >= options["window"][0]) & (scores.times <= options["window"][1])
        facts = {"n_electrodes": float(label.size), "n_integration_sites": float((label == "integration").sum()),
                 "integration_fraction": float((label == "integration").mean()),
                 **{f"n_{name}_sites": float((label == name).sum()) for name in ("vision", "language", "responsive")},
                 **result.get("recovery", {})}
        for metric, value in facts.items():
            rows.append({**labels, "layer": "", "metric": metric, "value": float(value), "n_items": int(label.size)})
        for model in scores.r:
            rows.append({**labels, "layer": model, "metric": "pearson_r",
                         "value": float(np.nanmean(scores.r[model][:, bins])), "n_items": int(label.size)})
            items[f"r@{model}@{key}"] = scores.r[model]
            items[f"ci_low@{model}@{key}"] = scores.low[model]
            items[f"ci_high@{model}@{key}"] = scores.high[model]
        channels = dataset.responses.channels
        items.update({f"label@{key}": label, f"best_model@{key}": result["best_model"],
                      f"channel_id@{key}": np.asarray(channels["id"], dtype=str), "times": scores.times,
                      **{f"{c}@{key}": np.asarray(channels[c], dtype=np.float64) for c in ("x", "y", "z")}})
        truth = (dataset.ground_truth or {}).get("classes")
        if truth is not None:
            items[f"true_class@{key}"] = np.asarray(truth, dtype=str)
        provenance[key] = {**result["provenance"], "bad_channels": dataset.meta.get("bad_channels", []),
                           "n_dropped_epochs": dataset.meta.get("n_dropped_epochs", 0),
                           "n_events": int(dataset.responses.responses.shape[0]), "n_test": scores.meta["n_test"]}
        log.info("seeg %s: %d of %d electrodes are integration sites %s", key, int(facts["n_integration_sites"]),
                 label.size, result.get("recovery", ""))
    provenance["simulated"] = bool(getattr(dataset.card, "simulated", False))
    return TaskOutput(rows=rows, items=items, provenance=provenance)
