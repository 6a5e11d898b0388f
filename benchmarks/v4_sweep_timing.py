"""CPU time of the full ``v4_encoding`` sweep (issue #8: "runs in under 20 minutes on 2 CPU cores").

Runs every cell of the sweep (backbones gabor, resnet50, vgg16, vit_small_patch14_dinov2 at 112 px,
random init, seed 0; encoders ridge, factorized, routing_v4) as its own ``cogmodels run`` process,
one after the other, each with one torch thread and one BLAS/OpenMP thread, into one results store.
Per run it records the user+sys CPU time of the process (``resource.getrusage(RUSAGE_CHILDREN)``),
its wall time and the load average, then prints a table and the total.

Why CPU time: on a shared machine the wall time of a job is inflated by the other jobs; the CPU time
of a single-threaded job is an upper bound of its wall time on one idle core (a proxy, not a wall
measurement).  The cells are independent (they share only the feature cache, which the first cell of
each backbone fills), so on 2 idle cores the joblib launcher's 2 jobs need about half the total,
plus the imbalance of the last job::

    cogmodels run -m hydra/launcher=joblib threads=1 experiment=v4_encoding backbone=gabor \\
        encoder=routing_v4,factorized,ridge
    cogmodels run -m hydra/launcher=joblib threads=1 experiment=v4_encoding ++backbone.input_size=112 \\
        encoder=routing_v4,factorized,ridge backbone=resnet50,vgg16,vit_small_patch14_dinov2

Each run here is a fresh process, so the total includes the imports (torch, timm, hydra) of every
run, which the joblib workers pay only once: another reason the total is an upper bound.

    python benchmarks/v4_sweep_timing.py --root /tmp/v4_store          # the whole sweep (~15-25 CPU-min)
    python benchmarks/v4_sweep_timing.py --root /tmp/v4_store --backbones gabor --encoders ridge

The last line prints the total CPU time against the budget of 2 cores x 20 min = 40 CPU-min.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BACKBONES = ("gabor", "resnet50", "vgg16", "vit_small_patch14_dinov2")
ENCODERS = ("ridge", "factorized", "routing_v4")
BUDGET_CPU_MIN = 2 * 20.0


def cell_command(backbone: str, encoder: str, root: Path, extra: list[str]) -> list[str]:
    """The ``cogmodels run`` command line of one cell (single-threaded)."""
    cli = Path(sys.executable).with_name("cogmodels")  # the console script of this environment
    cmd = [str(cli), "run", "experiment=v4_encoding", f"backbone={backbone}",
           f"encoder={encoder}", "threads=1", f"output_root={root}"]
    if backbone != "gabor":
        cmd.append("backbone.input_size=112")  # the images are 112 px (timm's default 224 would upsample, 4x cost)
    return cmd + list(extra)


def run_cell(cmd: list[str], log_path: Path) -> dict:
    """Run one cell; its CPU (user+sys, s), wall (s), load averages at start and end, and exit code."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    with open(log_path, "w") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "wall": wall, "load_start": load_start, "load_end": os.getloadavg()[0], "code": code}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="results store (output_root) of the sweep")
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS))
    parser.add_argument("--extra", nargs="*", default=[], help="more overrides for every run (key=value)")
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    logs = args.root / "timing_logs"
    logs.mkdir(exist_ok=True)
    rows = []
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    for backbone in args.backbones:
        for encoder in args.encoders:
            cmd = cell_command(backbone, encoder, args.root, args.extra)
            out = run_cell(cmd, logs / f"{backbone}__{encoder}.log")
            rows.append((backbone, encoder, out))
            print(f"{backbone:26s} {encoder:11s} cpu {out['cpu']:7.1f} s  wall {out['wall']:7.1f} s  "
                  f"load {out['load_start']:.1f}->{out['load_end']:.1f}  exit {out['code']}", flush=True)
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    failed = [f"{b}/{e}" for b, e, out in rows if out["code"]]
    if failed:
        print(f"FAILED runs (see {logs}): {failed}")
    total_cpu = sum(out["cpu"] for _, _, out in rows) / 60
    total_wall = sum(out["wall"] for _, _, out in rows) / 60
    print(f"v4_encoding sweep, {len(rows)} runs single-threaded: total CPU {total_cpu:.1f} min (wall {total_wall:.1f} "
          f"min on this machine); 2 idle cores need about {total_cpu / 2:.1f} min; budget 40 CPU-min: "
          f"{total_cpu / BUDGET_CPU_MIN:.2f}x of it")


if __name__ == "__main__":
    main()
