"""OAT on the object-search simulator: behavioural statistics and object-level sequence score vs baselines.

Simulates ``--n-displays`` displays (6 searchers each; 75 % train, 25 % test, split by display), fits OAT
(default parameters, its proposal grid = the display grid) on the train displays and samples, on every test
display, as many scanpaths as there are simulated searchers (with the trial's target).  Compares them with
the simulated searcher's scanpaths on the same displays:

- behavioural statistics (cogmodels.metrics.object_scanpaths.behaviour_deviation): target found, length,
  search / refixation / revisit proportions, each with its relative deviation from the searcher's;
- object-level sequence score, each sampled scanpath against each searcher scanpath of the display;
- controls, on the same test displays: a saliency-only baseline (density_sampling: Gabor-energy saliency +
  centre bias, fitted on the train displays; its fixations mapped to objects), a random baseline (uniform),
  OAT trained and tested with targets shuffled across displays (held-out log-likelihood per decision, its
  behaviour and sequence score), and a **searcher replicate**: the same searchers run again on the test
  displays with fresh random draws, whose deviation from the recorded searcher is the sampling noise of
  the statistics (no model can be expected to come closer than that).

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/oat_object_search.py [--n-displays 1200] [--budget default]
The last line prints the headline: the largest relative deviation of OAT's five statistics from the
searcher's (the must-show asks for <= 0.20) and OAT's sequence score over the best baseline's.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import cogmodels
from cogmodels.metrics import object_scanpaths as osp
from cogmodels.scanpaths.baselines import DensitySamplingModel, UniformModel
from cogmodels.scanpaths.oat import OATModel

N_DISPLAYS = 1200


def shuffled_targets(fixations, seed=0):
    """The same fixations with the trials' target boxes permuted across displays (the control)."""
    from cogmodels.data import Fixations

    trials = fixations.trials.copy()
    displays = trials["stimulus_id"].unique()
    perm = dict(zip(displays, np.random.default_rng(seed).permutation(displays)))
    boxes = trials.drop_duplicates("stimulus_id").set_index("stimulus_id")[["target_x", "target_y", "target_w",
                                                                            "target_h"]]
    for col in boxes.columns:
        trials[col] = trials["stimulus_id"].map(lambda s: boxes.loc[perm[s], col])
    return Fixations(fixations.table, trials=trials, image_sizes=fixations.image_sizes, kind="eye",
                     geometry=fixations.geometry)


def searcher_replicate(ds, test, seed):
    """The simulated searchers run again on the test displays with fresh draws: stimulus_id -> sequences."""
    from cogmodels.datasets.object_search_sim import search

    gt, cell = ds.ground_truth, ds.meta["cell"]
    rng = np.random.default_rng([seed, 424242])
    out = {}
    for sid in test:
        boxes = np.asarray(ds.meta["objects"][sid], float)
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        out[sid] = [np.asarray(search(rng, gt["similarity"][sid], gt["target_object"][sid], centres, cell,
                                      gt["searcher"][s])[0]) for s in sorted(gt["searcher"])]
    return out


def scores(by_image, human, target, test, subjects):
    """Sequence score / edit distance against every searcher scanpath of the display, and the behaviour."""
    a = [m for sid in test for m in by_image[sid] for _ in subjects]
    b = [h for sid in test for _ in by_image[sid] for h in human[sid]]
    model_all = [m for sid in test for m in by_image[sid]]
    model_targets = [target[sid] for sid in test for _ in by_image[sid]]
    human_all = [s for sid in test for s in human[sid]]
    human_targets = [target[sid] for sid in test for _ in subjects]
    return {"sequence_score": float(np.mean(osp.sequence_score(a, b))),
            "edit_distance": float(np.mean(osp.edit_distance(a, b))),
            **osp.behaviour_deviation(model_all, model_targets, human_all, human_targets)}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-displays", type=int, default=N_DISPLAYS)
    parser.add_argument("--budget", default="default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ds = cogmodels.load_dataset("object_search_sim", n_displays=args.n_displays, seed=args.seed)
    grid = ds.meta["grid"]
    train, test = ds.splits["train"], sorted(ds.splits["test"])
    fx_train, fx_test = ds.fixations.subset(stimulus_ids=train), ds.fixations.subset(stimulus_ids=test)
    subjects = sorted(ds.fixations.subjects)
    gt = ds.ground_truth
    human = {sid: [gt["object_sequences"][(sid, s)] for s in subjects] for sid in test}
    target = {sid: gt["target_object"][sid] for sid in test}
    params = dict(grid=grid, pe_grid=grid, budget=args.budget, seed=args.seed, progress=False)
    t0 = time.perf_counter()
    oat = OATModel(**params).fit(fx_train, ds.stimuli)
    fit_s = time.perf_counter() - t0
    control = OATModel(**params).fit(shuffled_targets(fx_train, args.seed), ds.stimuli)
    fx_test_shuffled = shuffled_targets(fx_test, args.seed + 1)
    ll = oat.log_likelihood(fx_test, ds.stimuli).mean()
    ll_control = control.log_likelihood(fx_test_shuffled, ds.stimuli).mean()
    saliency = DensitySamplingModel(seed=args.seed).fit(fx_train, ds.stimuli)
    uniform = UniformModel().fit(fx_train, ds.stimuli)
    boxes = ds.meta["objects"]
    shuffled_box = fx_test_shuffled.trials.drop_duplicates("stimulus_id").set_index("stimulus_id")
    samples = {"oat": {}, "oat_shuffled_targets": {}, "saliency_only": {}, "random": {},
               "searcher_replicate": searcher_replicate(ds, test, args.seed)}
    for i, sid in enumerate(test):
        stim = ds.stimuli[sid]
        x, y, x1, y1 = boxes[sid][target[sid]]
        samples["oat"][sid] = oat.sample_objects(stim, n=len(subjects), task={"target_box": (x, y, x1, y1)},
                                                 seed=i)[0]
        row = shuffled_box.loc[sid]
        samples["oat_shuffled_targets"][sid] = control.sample_objects(
            stim, n=len(subjects), task={"target_xywh": (row.target_x, row.target_y, row.target_w, row.target_h)},
            seed=i)[0]
        for name, model in (("saliency_only", saliency), ("random", uniform)):
            samples[name][sid] = [osp.to_object_ids(p, boxes[sid]) for p in model.sample(stim, n=len(subjects),
                                                                                         seed=i)]
    result = {"displays (train, test)": [len(train), len(test)], "searchers": len(subjects),
              "oat_fit_seconds (shared machine)": round(fit_s, 1), "oat_epochs": len(oat.history_),
              "oat_best_epoch": oat.best_epoch_, "position_fit_rmse": oat.position_fit_error_,
              "heldout_loglik_per_decision": {"oat": float(ll), "oat_shuffled_targets": float(ll_control),
                                              "chance (uniform over objects + stop)": float(
                                                  -np.log(len(boxes[test[0]]) + 1))}}
    for name, by_image in samples.items():
        result[name] = scores(by_image, human, target, test, subjects)
    # ceiling: each searcher against the other searchers of the display
    a = [h for sid in test for i, h in enumerate(human[sid]) for j in range(len(subjects)) if j != i]
    b = [human[sid][j] for sid in test for i in range(len(subjects)) for j in range(len(subjects)) if j != i]
    result["searcher_vs_searcher"] = {"sequence_score": float(np.mean(osp.sequence_score(a, b)))}
    print(json.dumps(result, indent=1, default=float))
    print(f"{'statistic':24s} {'searcher':>9s} " + " ".join(f"{n:>22s}" for n in samples))
    for stat in osp.BEHAVIOUR_STATISTICS:
        cells = [f"{result[n]['model'][stat]:9.3f} ({result[n]['relative_deviation'][stat]:6.1%})" for n in samples]
        print(f"{stat:24s} {result['oat']['human'][stat]:9.3f} " + " ".join(f"{c:>22s}" for c in cells))
    print(f"{'sequence score':24s} {result['searcher_vs_searcher']['sequence_score']:9.3f} "
          + " ".join(f"{result[n]['sequence_score']:22.3f}" for n in samples))
    worst = max(result["oat"]["relative_deviation"].values())
    best = max(result["saliency_only"]["sequence_score"], result["random"]["sequence_score"])
    print(f"OAT behaviour: largest relative deviation from the searcher {worst:.1%} (must be <= 20%; searcher "
          f"replicate {max(result['searcher_replicate']['relative_deviation'].values()):.1%}); "
          f"sequence score / best baseline {result['oat']['sequence_score'] / best:.2f}x")


if __name__ == "__main__":
    main()
