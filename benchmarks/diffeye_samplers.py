"""DiffEye samplers: DDIM (50 steps) against DDPM (1,000 steps) on the same trained model, on OSIE test images.

For each test image both samplers draw ``--n-samples`` trajectories (same seeds); each set is scored against the
image's human scanpaths with the scanpath metrics (sequence score, DTW, TDE on the I-VT fixations) and its
dwell-time density with NSS and CC against the human fixations.  Prints wall and CPU seconds per sampler, the
speed ratio, and the relative difference of every metric's mean; the last line is the headline.

    python benchmarks/diffeye_samplers.py --checkpoint /tmp/diffeye_osie/ckpt --images 5

Without ``--checkpoint`` a small model is trained first on ``--train-images`` OSIE images (``--budget``).
The machine these numbers come from may be shared: CPU seconds are printed beside wall seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _score(model, trajectories, humans, stimulus, geometry):
    from cogmodels.metrics import gaze, saliency
    from cogmodels.metrics.trajectory import tde
    from cogmodels.scanpaths.diffeye import density_from_trajectories

    paths = model.to_scanpaths(trajectories, stimulus.id)
    a = [p for p in paths for _ in humans]
    b = [h for _ in paths for h in humans]
    density = density_from_trajectories(trajectories, stimulus.size, model.density_sigma_deg * model.px_per_deg_)
    fix = np.concatenate([h.xy for h in humans])
    human_map = saliency.fixation_density(fix, stimulus.size, sigma_deg=1.0, px_per_deg=geometry.px_per_deg)
    return {"sequence_score": float(np.nanmean(gaze.sequence_score(a, b, geometry.size_px))),
            "dtw": float(np.nanmean(gaze.dtw(a, b))),
            "tde_k2": float(np.nanmean(tde(a, b, 2))),
            "n_fixations": float(np.mean([len(p) for p in paths])),
            "nss": float(saliency.nss(density, fix)),
            "cc": float(saliency.cc(density, human_map))}


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
    timing = {"ddim": [0.0, 0.0], "ddpm": [0.0, 0.0]}
    scores = {"ddim": [], "ddpm": []}
    for position, sid in enumerate(test_ids):
        stimulus = dataset.stimuli[sid]
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
    labels = {"ddim": f"DDIM {args.ddim_steps} steps", "ddpm": f"DDPM {model.n_diffusion_steps} steps"}
    for sampler, label in labels.items():
        print(f"{label:>18}: wall {timing[sampler][0]:8.1f} s, CPU {timing[sampler][1]:8.1f} s")
    worst = 0.0
    for metric in scores["ddim"][0]:
        a = np.mean([s[metric] for s in scores["ddim"]])
        b = np.mean([s[metric] for s in scores["ddpm"]])
        rel = abs(a - b) / max(abs(b), 1e-12)
        if metric != "n_fixations":
            worst = max(worst, rel)
        print(f"{metric:>15}: ddim {a:10.4f}  ddpm {b:10.4f}  relative difference {100 * rel:5.1f} %")
    speed_wall = timing["ddpm"][0] / timing["ddim"][0]
    speed_cpu = timing["ddpm"][1] / max(timing["ddim"][1], 1e-9)
    print(f"DDIM-{args.ddim_steps} vs DDPM-{model.n_diffusion_steps}: {speed_wall:.1f}x faster (wall; CPU "
          f"{speed_cpu:.1f}x), metrics within {100 * worst:.1f} % (largest relative difference of the metric means)")


if __name__ == "__main__":
    main()
