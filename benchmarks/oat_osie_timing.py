"""OAT fit and sampling time on OSIE with the default settings (issue 10 budget: fit <= 10 min, sampling <= 2 min).

Fits OATModel() (default parameters, budget "default") on all 500 shared OSIE images x 15 subjects, then samples
15 scanpaths on each of 200 images, timing both: wall clock and the process's CPU time (user + sys), with the
load average at the start and the end.  The model trains with one torch thread (``n_threads=1``); run the script
with ``OMP_NUM_THREADS=1 MKL_NUM_THREADS=1`` so that nothing else uses a second core: then its CPU time is an
upper bound of its wall time on one idle core (a proxy where the machine is shared).  Also prints the epochs run
(early stopping) and the learned position encoding's fit error.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/oat_osie_timing.py [--budget default] [--checkpoint-dir DIR]
The last line prints the headline: fit minutes / 10 and sampling minutes / 2 (below 1 meets the budget).
"""

from __future__ import annotations

import argparse
import os
import time

import cogmodels
from cogmodels.scanpaths.oat import OATModel


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", default="default")
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--n-images", type=int, default=200)
    args = parser.parse_args(argv)
    ds = cogmodels.load_dataset("osie")
    model = OATModel(budget=args.budget, checkpoint_dir=args.checkpoint_dir)
    print(f"load average at the start: {os.getloadavg()}")
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(ds.fixations, ds.stimuli)
    fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"fit: {len(ds.stimuli)} images, {len(ds.fixations.to_scanpaths())} scanpaths, {len(model.history_)} epochs "
          f"(best held-out epoch {model.best_epoch_}) in {fit_s:.1f} s wall, {fit_cpu:.1f} s CPU "
          f"(train NLL per decision {model.history_[-1]:.3f}; held-out {model.validation_history_})")
    print(f"learned position encoding: RMSE of row similarities vs the Gaussian of grid distance "
          f"{model.position_fit_error_:.4f} (grid {model.pe_grid}, sigma {model.pe_sigma} cells, "
          f"{model.d_position} dims)")
    images = [ds.stimuli[i] for i in range(min(args.n_images, len(ds.stimuli)))]
    start, cpu = time.perf_counter(), time.process_time()
    n_fixations = sum(len(p) for i, stim in enumerate(images) for p in model.sample(stim, n=15, seed=i))
    sample_s, sample_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"sampling: 15 scanpaths on each of {len(images)} images ({n_fixations} fixations) in {sample_s:.1f} s wall, "
          f"{sample_cpu:.1f} s CPU")
    print(f"load average at the end: {os.getloadavg()}")
    print(f"fit {fit_cpu / 60:.2f} min CPU, {fit_s / 60:.2f} min wall (budget ratio {fit_cpu / 600:.2f} by CPU time); "
          f"sampling {sample_cpu / 60:.2f} min CPU, {sample_s / 60:.2f} min wall (budget ratio {sample_cpu / 120:.2f})")


if __name__ == "__main__":
    main()
