"""Issue 13's must-show on the SEEG simulator: planted sites recovered, and trained vs random-init weights.

For each subject, ``seeg_sim.load`` simulates a BIDS iEEG recording (seeded) with planted vision,
language, integration and noise sites, and ``cogmodels.runner.tasks.seeg.analyse`` runs the whole
analysis (features, time-resolved ridge per electrode and bin, one shared bootstrap, BH-FDR labels).
Compared with the ground truth:

* integration sites: recall (pooled over subjects; must-show >= 0.8) and false-discovery proportion
  (<= 0.1);
* vision and language sites labelled as such (>= 80 %);
* trained vs random-init image embedding of the contrastive vision-language pair at the vision-driven
  sites: per site (BH-FDR over the subject's electrodes) and for the mean over the subject's vision sites
  (one-sided paired bootstrap p), both over each site's responsive bins.  "Trained beats random" is
  claimed when the vision-site mean is significant (p < 0.05) in every subject.  The per-site test over
  every bin of the window (issue 13's first session, where bins without a response dilute the
  difference) is printed beside it.

Settings (see ``datasets/seeg_sim.py``): the default vision sites follow the image category
(``--category-weight 1 --contrast-weight 0``); the **control** is contrast-driven vision sites
(``--category-weight 0 --contrast-weight 1``), where contrastive training (which discards contrast)
should not beat its random twin; ``--contrast-weight 0.6`` with category weight 1 is the simulator's
default before issue 13's second session.  ``--twin-filters gabor`` makes the random twin a random
projection of the same frozen gabor features (instead of random filters too): an ablation.

Run: ``OMP_NUM_THREADS=1 python -P benchmarks/seeg_recovery.py --background synthetic``
(``--background real`` needs the shared sample SEEG, ``COGMODELS_SHARED_DATA``).  About 1-2 min of CPU
per subject.  The last line is the headline.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", choices=("synthetic", "real"), default="synthetic")
    parser.add_argument("--category-weight", type=float, default=1.0)
    parser.add_argument("--contrast-weight", type=float, default=0.0)
    parser.add_argument("--subjects", nargs="+", default=["01", "02", "03"])
    parser.add_argument("--n-events", type=int, default=240)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--twin-filters", choices=("random", "gabor"), default="random",
                        help="the random twin's image filters: random (default) or the fixed gabor bank")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--root", default=str(Path(tempfile.gettempdir()) / "cogmodels_seeg_recovery"),
                        help="where the simulated BIDS datasets are cached")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch

    from cogmodels.datasets import seeg_sim
    from cogmodels.encoders.time_resolved import compare
    from cogmodels.runner.tasks.seeg import DEFAULTS, analyse

    torch.set_num_threads(args.threads)
    wall, cpu = time.perf_counter(), time.process_time()
    per_subject = {}
    n_subjects = max(int(s) for s in args.subjects)
    for subject in args.subjects:
        ds = seeg_sim.load(root=args.root, subject=subject, n_subjects=n_subjects, n_events=args.n_events,
                           background=args.background, category_weight=args.category_weight,
                           contrast_weight=args.contrast_weight, seed=args.seed)
        result = analyse(ds, {"n_boot": args.n_boot, "vl": {"random_backbone": args.twin_filters == "random"}},
                         seed=args.seed)
        facts = result["recovery"]
        vision = np.asarray(ds.ground_truth["classes"]) == "vision"
        facts["n_vision"] = int(vision.sum())
        facts["n_trained_wins_vision"] = int(result["trained_beats_random"][vision].sum())
        # the same per-site test over every bin of the window (issue 13's first session): bins without a
        # response dilute the difference
        wins, _, diff = compare(result["scores"], "vl_image", "vl_image_random", tuple(DEFAULTS["window"]),
                                DEFAULTS["q"])
        facts["window_mean_wins_vision"], facts["window_mean_dr_vision"] = int(wins[vision].sum()), float(
            diff[vision].mean())
        per_subject[subject] = facts
        print(f"sub-{subject}", json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in facts.items()}),
              f"{time.perf_counter() - wall:.0f} s", flush=True)

    facts = per_subject.values()
    planted = sum(f["n_planted_integration"] for f in facts)
    found = sum(f["n_found_integration"] for f in facts)
    hits = sum(round(f["integration_recall"] * f["n_planted_integration"]) for f in facts)
    n_vision = sum(f["n_vision"] for f in facts)
    summary = {
        "integration_recall": hits / max(planted, 1), "integration_fdp": (found - hits) / max(found, 1),
        "vision_accuracy": float(np.mean([f["vision_accuracy"] for f in facts])),
        "language_accuracy": float(np.mean([f["language_accuracy"] for f in facts])),
        "trained_wins_vision": sum(f["n_trained_wins_vision"] for f in facts), "n_vision": n_vision,
        "trained_minus_random_r_vision": float(np.mean([f["trained_minus_random_r_vision"] for f in facts])),
        "population_p": [f["trained_beats_random_vision_population_p"] for f in facts],
        "window_mean_wins_vision": sum(f["window_mean_wins_vision"] for f in facts),
        "window_mean_dr_vision": float(np.mean([f["window_mean_dr_vision"] for f in facts])),
    }
    recovered = (summary["integration_recall"] >= 0.8 and summary["integration_fdp"] <= 0.1
                 and summary["vision_accuracy"] >= 0.8 and summary["language_accuracy"] >= 0.8)
    trained_wins = all(p < 0.05 for p in summary["population_p"]) and summary["trained_minus_random_r_vision"] > 0
    summary.update(recovered=recovered, trained_beats_random=trained_wins,
                   cpu_s=time.process_time() - cpu, wall_s=time.perf_counter() - wall)
    print(json.dumps(summary))
    print(f"seeg_recovery background={args.background} category_weight={args.category_weight:g} "
          f"contrast_weight={args.contrast_weight:g} twin_filters={args.twin_filters} subjects={len(per_subject)}: "
          f"integration recall {summary['integration_recall']:.2f} ({hits}/{planted}), FDP "
          f"{summary['integration_fdp']:.2f}, vision labelled {summary['vision_accuracy']:.2f}, language labelled "
          f"{summary['language_accuracy']:.2f} -> recovery {'PASS' if recovered else 'FAIL'}; trained vs random at "
          f"vision sites: dr {summary['trained_minus_random_r_vision']:+.3f}, {summary['trained_wins_vision']}/"
          f"{n_vision} sites BH-significant, vision-site mean p per subject "
          f"{', '.join(f'{p:.3f}' for p in summary['population_p'])} (all window bins: dr "
          f"{summary['window_mean_dr_vision']:+.3f}, {summary['window_mean_wins_vision']}/{n_vision}) -> "
          f"trained beats random: "
          f"{'YES' if trained_wins else 'NO'} (cpu {summary['cpu_s']:.0f} s, wall {summary['wall_s']:.0f} s)")
    return summary


if __name__ == "__main__":
    main()
