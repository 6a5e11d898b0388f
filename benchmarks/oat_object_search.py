"""OAT on the object-search simulator: behavioural statistics and object-level sequence score vs baselines.

Fits OAT on the simulator's train displays and samples, on every test display,
as many scanpaths as there are simulated subjects (with the trial's target).
Compares them with the simulated searcher's scanpaths on the same displays:

- behavioural statistics (cogmodels.metrics.object_scanpaths.behaviour_deviation);
- object-level sequence score, each sampled scanpath against each searcher scanpath of the display,
  for OAT, a saliency-only baseline (density_sampling: Gabor-energy saliency + centre bias, fitted on the
  train displays; its fixations mapped to objects) and a random baseline (uniform);
- held-out log-likelihood per decision of OAT vs OAT trained with shuffled targets (control).

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/oat_object_search.py [--budget default]
The last line prints the headline ratio: OAT sequence score / best baseline sequence score.
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


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", default="default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    ds = cogmodels.load_dataset("object_search_sim", seed=args.seed)
    grid = ds.meta["grid"]
    train, test = ds.splits["train"], ds.splits["test"]
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
    ll = oat.log_likelihood(fx_test, ds.stimuli).mean()
    ll_control = control.log_likelihood(fx_test, ds.stimuli).mean()
    saliency = DensitySamplingModel(seed=args.seed).fit(fx_train, ds.stimuli)
    uniform = UniformModel().fit(fx_train, ds.stimuli)
    boxes = ds.meta["objects"]
    samples = {"oat": {}, "saliency_only": {}, "random": {}}
    for i, sid in enumerate(test):
        stim = ds.stimuli[sid]
        x, y, x1, y1 = boxes[sid][target[sid]]
        seqs, _ = oat.sample_objects(stim, n=len(subjects), task={"target_box": (x, y, x1, y1)}, seed=i)
        samples["oat"][sid] = seqs
        for name, model in (("saliency_only", saliency), ("random", uniform)):
            samples[name][sid] = [osp.to_object_ids(p, boxes[sid]) for p in model.sample(stim, n=len(subjects),
                                                                                         seed=i)]
    result = {"fit_seconds (shared 2-core machine)": round(fit_s, 1), "position_fit_rmse": oat.position_fit_error_,
              "heldout_loglik_per_decision": {"oat": float(ll), "oat_shuffled_targets": float(ll_control)}}
    human_all = [s for sid in test for s in human[sid]]
    human_targets = [target[sid] for sid in test for _ in subjects]
    for name, by_image in samples.items():
        a = [m for sid in test for m in by_image[sid] for _ in subjects]
        b = [h for sid in test for _ in by_image[sid] for h in human[sid]]
        model_all = [m for sid in test for m in by_image[sid]]
        model_targets = [target[sid] for sid in test for _ in by_image[sid]]
        result[name] = {"sequence_score": float(np.mean(osp.sequence_score(a, b))),
                        "edit_distance": float(np.mean(osp.edit_distance(a, b))),
                        **osp.behaviour_deviation(model_all, model_targets, human_all, human_targets)}
    # human ceiling: each searcher against the other searchers of the display
    a = [h for sid in test for i, h in enumerate(human[sid]) for j in range(len(subjects)) if j != i]
    b = [human[sid][j] for sid in test for i in range(len(subjects)) for j in range(len(subjects)) if j != i]
    result["searcher_vs_searcher"] = {"sequence_score": float(np.mean(osp.sequence_score(a, b)))}
    print(json.dumps(result, indent=1, default=float))
    best = max(result["saliency_only"]["sequence_score"], result["random"]["sequence_score"])
    print(f"OAT object sequence score / best baseline: {result['oat']['sequence_score'] / best:.2f}x")


if __name__ == "__main__":
    main()
