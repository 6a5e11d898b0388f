"""DiffEye samplers: DDIM (50 steps) against DDPM (1,000 steps) on the same trained model, on OSIE test images.

For each test image both samplers draw ``--n-samples`` trajectories (same seeds); each set is scored against the
image's human scanpaths with the scanpath metrics (sequence score, DTW, TDE on the I-VT fixations) and its
dwell-time density with NSS and CC against the human fixations.

Timing.  The image's backbone features are extracted once per image (the model keeps them for the last image,
as ``sample`` and ``density`` do) and timed apart; each sampler is timed on its loop alone (wall and CPU
seconds, one torch thread by default).  The ideal ratio is the ratio of network evaluations (1000 / 50 = 20).

Metrics.  For every metric the per-image difference DDIM - DDPM is bootstrapped over images (paired, 2,000
resamples, seeded): the script prints the relative difference of the means with its 95 % CI.  With few images
the CI is wide: a difference "within 5 %" is shown only when the whole CI lies within +-5 %.

    python benchmarks/diffeye_samplers.py --checkpoint /tmp/h12/ckpt --images 30

Without ``--checkpoint`` a small model is trained first on ``--train-images`` OSIE images (``--budget``).
The machine these numbers come from may be shared: CPU seconds are printed beside wall seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

METRICS = ("sequence_score", "dtw", "tde_k2", "nss", "cc", "n_fixations")


def _score(model, trajectories, humans, stimulus, geometry):
    from cogmodels.metrics import gaze, saliency
    from cogmodels.metrics.trajectory import tde
    from cogmodels.scanpaths.diffeye_trajectories import density_from_trajectories

    paths = model.to_scanpaths(trajectories, stimulus.id)
    a = [p for p in paths for _ in humans]
    b = [h for _ in paths for h in humans]
    density = density_from_trajectories(trajectories, stimulus.size, model.density_sigma_deg * model.px_per_deg_)
    fix = np.concatenate([h.xy for h in humans])
    human_map = saliency.fixation_density(fix, stimulus.size, sigma_deg=1.0, px_per_deg=geometry.px_per_deg)
    return {"sequence_score": float(np.nanmean(gaze.sequence_score(a, b, geometry.size_px))),
            "dtw": float(np.nanmean(gaze.dtw(a, b))),
            "tde_k2": float(np.nanmean(tde(a, b, 2))),
            "nss": float(saliency.nss(density, fix)),
            "cc": float(saliency.cc(density, human_map)),
            "n_fixations": float(np.mean([len(p) for p in paths]))}


def paired_relative_ci(a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple:
    """Relative difference of the means (mean(a) - mean(b)) / |mean(b)| and its 95 % bootstrap CI over the
    paired rows (images)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(a), size=(n_boot, len(a)))
    ma, mb = a[rows].mean(axis=1), b[rows].mean(axis=1)
    rel = (ma - mb) / np.maximum(np.abs(mb), 1e-12)
    return (a.mean() - b.mean()) / max(abs(b.mean()), 1e-12), *np.percentile(rel, [2.5, 97.5])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--n-samples", type=int, default=15)
    parser.add_argument("--ddim-steps", type=int, default=50)
    parser.add_argument("--eta", type=float, default=1.0, help="DDIM eta (0: deterministic; 1: the default)")
    parser.add_argument("--train-images", type=int, default=40)
    parser.add_argument("--budget", default="small")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from cogmodels.scanpaths.diffeye import DiffEyeModel
    from cogmodels.scanpaths.oat_data import load_osie_id_split

    torch.set_num_threads(args.threads)
    dataset = load_osie_id_split(name="osie", root=None, train=[1001, 1400], test=[1401, 1500])
    geometry = dataset.fixations.geometry
    if args.checkpoint:
        model = DiffEyeModel.from_checkpoint(args.checkpoint, n_threads=args.threads, ddim_eta=args.eta)
    else:
        ids = sorted(dataset.splits["train"])[: args.train_images]
        train = dataset.fixations.subset(stimulus_ids=ids)
        model = DiffEyeModel(budget=args.budget, progress=False, n_threads=args.threads, ddim_eta=args.eta)
        model.fit(train, dataset.stimuli.subset(ids))
    test_ids = sorted(dataset.splits["test"])[: args.images]
    humans = {}
    for path in dataset.fixations.subset(stimulus_ids=test_ids).to_scanpaths():
        humans.setdefault(path.stimulus_id, []).append(path)
    timing = {"features": [0.0, 0.0], "ddim": [0.0, 0.0], "ddpm": [0.0, 0.0]}
    scores = {"ddim": [], "ddpm": []}
    for position, sid in enumerate(test_ids):
        stimulus = dataset.stimuli[sid]
        wall, cpu = time.perf_counter(), time.process_time()
        model._stimulus_features(stimulus)  # once per image, shared by both samplers (as sample/density share it)
        timing["features"][0] += time.perf_counter() - wall
        timing["features"][1] += time.process_time() - cpu
        for sampler in ("ddim", "ddpm"):
            wall, cpu = time.perf_counter(), time.process_time()
            traj = model.sample_trajectories(stimulus, args.n_samples, seed=position, sampler=sampler,
                                             steps=args.ddim_steps)
            timing[sampler][0] += time.perf_counter() - wall
            timing[sampler][1] += time.process_time() - cpu
            scores[sampler].append(_score(model, traj, humans[sid], stimulus, geometry))
        print(f"image {sid}: ddim {scores['ddim'][-1]}\n{'':>11} ddpm {scores['ddpm'][-1]}", flush=True)
    print(f"{len(test_ids)} images x {args.n_samples} trajectories of {model.n_steps} steps, "
          f"guidance {model.guidance_scale}, DDIM eta {model.ddim_eta}, {args.threads} thread(s)")
    labels = {"features": "features (once/image)", "ddim": f"DDIM {args.ddim_steps} steps",
              "ddpm": f"DDPM {model.n_diffusion_steps} steps"}
    for key, label in labels.items():
        print(f"{label:>22}: wall {timing[key][0]:8.1f} s, CPU {timing[key][1]:8.1f} s")
    worst, worst_ci = 0.0, 0.0
    for metric in METRICS:
        a = np.array([s[metric] for s in scores["ddim"]])
        b = np.array([s[metric] for s in scores["ddpm"]])
        rel, low, high = paired_relative_ci(a, b)
        if metric != "n_fixations":
            worst, worst_ci = max(worst, abs(rel)), max(worst_ci, abs(low), abs(high))
        print(f"{metric:>15}: ddim {a.mean():10.4f}  ddpm {b.mean():10.4f}  relative difference "
              f"{100 * rel:+6.1f} % (95 % CI over images [{100 * low:+.1f}, {100 * high:+.1f}] %)")
    speed_wall = timing["ddpm"][0] / max(timing["ddim"][0], 1e-9)
    speed_cpu = timing["ddpm"][1] / max(timing["ddim"][1], 1e-9)
    with_features = (timing["ddpm"][1] + timing["features"][1]) / max(timing["ddim"][1] + timing["features"][1], 1e-9)
    print(f"DDIM-{args.ddim_steps} vs DDPM-{model.n_diffusion_steps}: {speed_cpu:.1f}x faster in CPU time (wall "
          f"{speed_wall:.1f}x; {with_features:.1f}x with the features), metric means within {100 * worst:.1f} % "
          f"(all 95 % CIs within {100 * worst_ci:.1f} %), {len(test_ids)} images x {args.n_samples} samples")


if __name__ == "__main__":
    main()
