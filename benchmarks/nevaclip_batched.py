"""NevaClip: the batched sampler against a per-image, one-chain-at-a-time loop of the same algorithm.

The reference implementation of NevaClip searches one image and one fovea at a
time.  Here every chain (n scanpaths x every image) goes through the encoder in
one forward pass per search step.  Both sides run the same code path with the
same seeds (the loop is ``sample`` per image with ``batch_size=1``); every chain
draws its starts and restarts from its own Generator, so the scanpaths must agree.

    .venv/bin/python benchmarks/nevaclip_batched.py [--images 6] [--n 15] [--threads 1]

Images: the first OSIE test images when the shared data is present, else
seeded synthetic 600 x 800 images (smoothed noise with a few textured patches).
The last line prints the throughput ratio.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import numpy as np
import torch


def synthetic_images(count: int, seed: int = 0) -> list[np.ndarray]:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        base = gaussian_filter(rng.random((600, 800, 3)), (20, 20, 0))
        base = (base - base.min()) / (np.ptp(base) + 1e-9)
        for _ in range(3):
            top, left = rng.integers(0, 500), rng.integers(0, 700)
            base[top:top + 100, left:left + 100] = rng.random((100, 100, 3))
        images.append((base * 255).astype(np.uint8))
    return images


def load_images(count: int):
    try:
        import cogmodels
        from cogmodels.scanpaths.oat_data import load_osie_id_split

        dataset = load_osie_id_split()
        ids = sorted(dataset.splits["test"], key=str)
        ids = (ids + sorted(dataset.splits["train"], key=str))[:count]  # beyond the 100 test images: train images
        return [dataset.stimuli[i] for i in ids], "OSIE test images " + ", ".join(map(str, ids)), dataset
    except Exception as err:  # no shared data: synthetic images
        logging.getLogger(__name__).info("OSIE unavailable (%s); synthetic images", err)
        return synthetic_images(count), f"{count} synthetic 600x800 images", None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--n", type=int, default=15, help="scanpaths per image")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only-batched", action="store_true",
                        help="time the batched sampler alone (the issue's budget: --images 200 --n 15 --threads 2)")
    parser.add_argument("--chunk", type=int, default=10, help="images per sample_many call")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    import cogmodels

    images, source, dataset = load_images(args.images)
    batched = cogmodels.create_model("scanpath", "nevaclip")
    looped = cogmodels.create_model("scanpath", "nevaclip", batch_size=1)
    if dataset is not None:  # scanpath lengths and durations of the OSIE training scanpaths
        train = dataset.fixations.subset(stimulus_ids=list(dataset.splits["train"]))
        batched.fit(train)
        looped.fit(train)
    seeds = list(range(len(images)))
    batched.sample(images[0], n=1, seed=0)  # build the encoder outside the timings
    looped.sample(images[0], n=1, seed=0)

    start, cpu = time.perf_counter(), time.process_time()
    fast = []
    for k in range(0, len(images), args.chunk):
        fast += batched.sample_many(images[k:k + args.chunk], n=args.n, seeds=seeds[k:k + args.chunk])
    t_batched, cpu = time.perf_counter() - start, time.process_time() - cpu
    if args.only_batched:
        fixations = sum(len(p) for paths in fast for p in paths)
        print(f"images: {source}; {args.n} scanpaths each, {fixations} fixations; torch threads {args.threads}")
        print(f"batched sampler: wall {t_batched:.1f} s, process CPU {cpu:.1f} s (machine load average "
              f"{os.getloadavg()[0]:.1f} at the end)")
        return
    start, cpu_looped = time.perf_counter(), time.process_time()
    slow = [looped.sample(image, n=args.n, seed=seed) for image, seed in zip(images, seeds)]
    t_looped, cpu_looped = time.perf_counter() - start, time.process_time() - cpu_looped

    pairs = [(a, b) for fa, sa in zip(fast, slow) for a, b in zip(fa, sa)]
    same_length = all(len(a) == len(b) for a, b in pairs)
    max_diff = max(float(np.abs(a.xy - b.xy).max()) for a, b in pairs) if same_length else float("inf")
    fixations = sum(len(a) for a, _ in pairs)
    print(f"images: {source}; {args.n} scanpaths each, {fixations} fixations; torch threads {args.threads}")
    print(f"batched (one forward pass for all {len(pairs)} chains): {t_batched:.2f} s wall, {cpu:.2f} s CPU "
          f"({fixations / t_batched:.1f} fixations/s)")
    print(f"per-image loop, one chain at a time: {t_looped:.2f} s wall, {cpu_looped:.2f} s CPU "
          f"({fixations / t_looped:.1f} fixations/s)")
    print(f"machine load average {os.getloadavg()[0]:.1f} (a shared machine inflates wall times; CPU ratio "
          f"{cpu_looped / cpu:.1f}x)")
    print(f"same scanpaths for the same seeds: {same_length and max_diff < 1e-3} (max |dx|, |dy| = {max_diff:.2e} px)")
    print(f"throughput ratio (batched / per-image loop): {t_looped / t_batched:.1f}x")


if __name__ == "__main__":
    main()
