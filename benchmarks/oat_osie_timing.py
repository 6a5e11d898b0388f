"""OAT fit and sampling time on OSIE with the default settings (issue 10 budget: fit <= 10 min, sampling <= 2 min).

Fits OATModel() (default parameters, budget "default") on all 500 shared OSIE images x 15 subjects, then samples
15 scanpaths on each of 200 images, timing both (wall clock, one process; torch threads as the model sets them).
Also prints the learned position encoding's fit error.  The machine this runs on may be shared: say so with the
numbers.

Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/oat_osie_timing.py [--budget default] [--checkpoint-dir DIR]
The last line prints the headline: fit minutes / 10 and sampling minutes / 2 (below 1 meets the budget).
"""

from __future__ import annotations

import argparse
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
    start = time.perf_counter()
    model.fit(ds.fixations, ds.stimuli)
    fit_s = time.perf_counter() - start
    print(f"fit: {len(ds.stimuli)} images, {len(ds.fixations.to_scanpaths())} scanpaths, {len(model.history_)} epochs "
          f"in {fit_s:.1f} s (final train NLL per decision {model.history_[-1]:.3f})")
    print(f"learned position encoding: RMSE of row similarities vs the Gaussian of grid distance "
          f"{model.position_fit_error_:.4f} (grid {model.pe_grid}, sigma {model.pe_sigma} cells, "
          f"{model.d_position} dims)")
    images = [ds.stimuli[i] for i in range(min(args.n_images, len(ds.stimuli)))]
    start = time.perf_counter()
    n_fixations = sum(len(p) for i, stim in enumerate(images) for p in model.sample(stim, n=15, seed=i))
    sample_s = time.perf_counter() - start
    print(f"sampling: 15 scanpaths on each of {len(images)} images ({n_fixations} fixations) in {sample_s:.1f} s")
    print(f"fit {fit_s / 60:.2f} min (budget ratio {fit_s / 600:.2f}); sampling {sample_s / 60:.2f} min "
          f"(budget ratio {sample_s / 120:.2f})")


if __name__ == "__main__":
    main()
