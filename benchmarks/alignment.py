"""Batched wavefront alignments against a straightforward per-pair Python loop, on 10,000 scanpath pairs.

The metrics are:
- sequence score: Needleman-Wunsch on grid-region strings;
- string edit distance: Levenshtein on grid-region strings;
- DTW: sum of Euclidean fixation distances.

"Ours" is the public batched call (``cogmodels.metrics.gaze``), which
includes turning the fixations into region strings or distance matrices. The
loop does the same work one pair at a time: numpy for the regions and
distances, then the textbook double loop of
``cogmodels.kernels.alignment_reference``. The results must agree exactly for
the integer distances, and to 1e-9 for the floats. One extra row times the
DTW dynamic programme alone (kernel against the loop) on the same
precomputed distance matrices.

Data: pairs of subjects on the same OSIE image, from the shared data folder.
Without that folder, we use seeded random walks with OSIE-like lengths
(5-15 fixations on 800 x 600 px), and say so. Timings are process CPU time,
with torch on one thread.

Run:  .venv/bin/python benchmarks/alignment.py [--pairs 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.io
import torch

from cogmodels.data import Scanpath
from cogmodels.datasets import shared_data_root
from cogmodels.kernels import alignment, alignment_reference as reference
from cogmodels.metrics import gaze

SCREEN = (800, 600)
GRID = (8, 12)


def load_pairs(n_pairs: int, seed: int) -> tuple[list, list, str]:
    rng = np.random.default_rng(seed)
    path = shared_data_root() / "osie" / "data" / "eye" / "fixations.mat"
    if path.exists():
        images = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["fixations"]
        a, b = [], []
        for _ in range(n_pairs):
            image = images[rng.integers(len(images))]
            for side, k in zip((a, b), rng.choice(len(image.subjects), 2, replace=False)):
                s = image.subjects[k]
                side.append(Scanpath.from_arrays(x=np.atleast_1d(s.fix_x), y=np.atleast_1d(s.fix_y),
                                                 duration=np.atleast_1d(s.fix_duration).astype(float)))
        return a, b, f"OSIE ({path})"

    def walk(n):
        xy = np.cumsum(rng.normal(0, 120, (n, 2)), 0) + [400, 300]
        xy = np.clip(xy, 0, [799, 599])
        return Scanpath.from_arrays(x=xy[:, 0], y=xy[:, 1], duration=rng.uniform(100, 500, n))

    a = [walk(n) for n in rng.integers(5, 16, n_pairs)]
    b = [walk(n) for n in rng.integers(5, 16, n_pairs)]
    return a, b, "seeded random walks (shared OSIE data not found)"


def cells(p: Scanpath) -> list[int]:
    col = np.clip(np.floor(p.x / SCREEN[0] * GRID[1]).astype(int), 0, GRID[1] - 1)
    row = np.clip(np.floor(p.y / SCREEN[1] * GRID[0]).astype(int), 0, GRID[0] - 1)
    return list(row * GRID[1] + col)


def loop_sequence_score(a, b):
    out = []
    for p, q in zip(a, b):
        s, t = cells(p), cells(q)
        substitution = np.equal.outer(s, t).astype(float)
        out.append(reference.needleman_wunsch(substitution, 0.0) / max(len(s), len(t)))
    return np.array(out)


def loop_edit_distance(a, b):
    return np.array([reference.levenshtein(cells(p), cells(q)) for p, q in zip(a, b)])


def loop_dtw(a, b):
    return np.array([reference.dtw(np.linalg.norm(p.xy[:, None] - q.xy[None], axis=-1)) for p, q in zip(a, b)])


def dp_only(a, b):
    """The DTW dynamic programme alone on the same precomputed distance matrices: (kernel, loop) callables."""
    costs = [np.linalg.norm(p.xy[:, None] - q.xy[None], axis=-1) for p, q in zip(a, b)]
    len_a = np.array([c.shape[0] for c in costs])
    len_b = np.array([c.shape[1] for c in costs])
    padded = np.zeros((len(costs), len_a.max(), len_b.max()))
    for k, c in enumerate(costs):
        padded[k, :c.shape[0], :c.shape[1]] = c
    padded_t = torch.from_numpy(padded)
    lengths = torch.from_numpy(len_a), torch.from_numpy(len_b)
    return (lambda: alignment.dtw(padded_t, *lengths).numpy()), (lambda: np.array([reference.dtw(c) for c in costs]))


def timed(function, *args, repeats=1):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.process_time()
        result = function(*args)
        best = min(best, time.process_time() - start)
    return result, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    a, b, source = load_pairs(args.pairs, args.seed)
    print(f"{len(a)} pairs from {source}; grid {GRID[0]}x{GRID[1]} on {SCREEN[0]}x{SCREEN[1]} px; "
          "process CPU time, torch 1 thread")
    cases = [
        ("sequence score", lambda: gaze.sequence_score(a, b, SCREEN, grid=GRID), lambda: loop_sequence_score(a, b)),
        ("edit distance", lambda: gaze.edit_distance(a, b, SCREEN, grid=GRID), lambda: loop_edit_distance(a, b)),
        ("dtw", lambda: gaze.dtw(a, b), lambda: loop_dtw(a, b)),
    ]
    kernel_dtw, loop_dp = dp_only(a, b)
    print(f"{'metric':<16}{'ours (s)':>10}{'loop (s)':>10}{'ratio':>8}  {'max |ours - loop|':>18}  equal")
    ours_total = loop_total = 0.0
    all_equal = True
    for name, ours_fn, loop_fn in cases:
        ours, ours_time = timed(ours_fn, repeats=3)
        loop, loop_time = timed(loop_fn)
        diff = float(np.max(np.abs(np.asarray(ours, float) - loop)))
        equal = diff == 0 if name == "edit distance" else diff <= 1e-9
        all_equal &= equal
        ours_total += ours_time
        loop_total += loop_time
        print(f"{name:<16}{ours_time:>10.3f}{loop_time:>10.3f}{loop_time / ours_time:>7.0f}x  {diff:>18.1e}  {equal}")
    dp_values, dp_time = timed(kernel_dtw, repeats=3)
    loop_values, loop_dp_time = timed(loop_dp)
    dp_diff = float(np.max(np.abs(dp_values - loop_values)))
    print(f"{'dtw, DP only':<16}{dp_time:>10.3f}{loop_dp_time:>10.3f}{loop_dp_time / dp_time:>7.0f}x  {dp_diff:>18.1e}  "
          f"{dp_diff <= 1e-9}   (same precomputed distance matrices; not in the total)")
    print(f"alignment speedup vs per-pair Python loop: {loop_total / ours_total:.0f}x "
          f"(3 metrics, {len(a)} pairs, results {'identical' if all_equal else 'DIFFERENT'})")


if __name__ == "__main__":
    main()
