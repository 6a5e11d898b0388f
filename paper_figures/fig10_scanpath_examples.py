"""Figure 10 (scanpath examples): human scanpaths on OSIE test images, above a baseline's samples.

Reads the store only: the example scanpaths kept in items.npz by the latest
``scanpath_baselines`` runs of ``another_human`` (the human scanpaths) and of
``density_sampling`` (its samples, when that run exists).  The images are read
from the paths recorded in the run (else from the dataset root of the run's
config).  Build it with ``cogmodels figures --only scanpath_examples``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cogmodels.data import Scanpath
from cogmodels.data.stimuli import load_image
from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items, load_runs
from cogmodels.scanpaths.evaluate import HUMAN_CEILING, latest_runs
from cogmodels.viz.gaze import plot_scanpaths

log = logging.getLogger(__name__)
EXPERIMENT = "scanpath_baselines"
SAMPLED_MODEL = "density_sampling"
N_SUBJECTS_SHOWN = 4  # more observers clutter the panel


def unpack_scanpaths(items: dict, image: int, limit: int) -> list[Scanpath]:
    """The first ``limit`` stored example scanpaths of one image."""
    lengths = items["example_scanpath_length"][image]
    xy, duration = items["example_scanpath_xy"][image], items["example_scanpath_duration"][image]
    return [Scanpath.from_arrays(xy[j, :n, 0], xy[j, :n, 1], duration=duration[j, :n])
            for j, n in enumerate(lengths[:limit]) if n > 0]


def example_image(items: dict, image: int, config: dict):
    """The image of example ``image``: its recorded path, else <dataset root>/data/stimuli/<file>."""
    path = Path(str(items["example_image_path"][image]))
    candidates = [path]
    root = (config.get("dataset") or {}).get("root")
    if root:
        candidates.append(Path(root) / "data" / "stimuli" / path.name)
    for candidate in candidates:
        if candidate.is_file():
            return load_image(candidate)
    log.warning("image %s not found (tried %s): drawing the scanpaths without it", path.name,
                ", ".join(map(str, candidates)))
    return None


def model_examples(results, store_root, experiment: str, model: str):
    """The example items of the latest ``another_human`` and ``model`` runs of ``experiment``.

    Returns ``(runs, humans, items, images)``: run ids by model name, the two runs' items.npz, and
    the example images (one per example, None where the file is not found), loaded once.
    """
    runs = latest_runs(results, experiment, f"{store_root}/results.sqlite", required=(model, HUMAN_CEILING))
    config = load_runs(store_root).set_index("run_id")["config"][runs[HUMAN_CEILING]]
    humans, items = load_items(store_root, runs[HUMAN_CEILING]), load_items(store_root, runs[model])
    images = [example_image(humans, i, config) for i in range(len(humans["example_stimulus_id"]))]
    return runs, humans, items, images


def make(results, store_root):
    """Top row: human scanpaths (first subjects); bottom row: samples of density_sampling."""
    import matplotlib.pyplot as plt

    runs = latest_runs(results, EXPERIMENT, f"{store_root}/results.sqlite")
    if HUMAN_CEILING not in runs:
        raise DataFormatError(format_problem(f"{store_root}/results.sqlite", f"a {EXPERIMENT} run of {HUMAN_CEILING}",
                                             f"runs of {sorted(runs)}",
                                             f"run `cogmodels run experiment={EXPERIMENT} scanpath={HUMAN_CEILING}`"))
    configs = load_runs(store_root).set_index("run_id")["config"]
    shown = {"humans": runs[HUMAN_CEILING]}
    if SAMPLED_MODEL in runs:
        shown[f"{SAMPLED_MODEL} samples"] = runs[SAMPLED_MODEL]
    human_items = load_items(store_root, runs[HUMAN_CEILING])
    n_images = len(human_items["example_stimulus_id"])
    if n_images == 0:
        raise DataFormatError(format_problem(f"run {runs[HUMAN_CEILING]} items.npz", "example scanpaths",
                                             "none (evaluation.n_examples=0)", "re-run with evaluation.n_examples=4"))
    figure, axes = plt.subplots(len(shown), n_images, figsize=(3.2 * n_images, 2.5 * len(shown)),
                                constrained_layout=True, squeeze=False)
    for row, (label, run_id) in enumerate(shown.items()):
        items = human_items if run_id == runs[HUMAN_CEILING] else load_items(store_root, run_id)
        for i in range(n_images):
            image = example_image(human_items, i, configs[runs[HUMAN_CEILING]])
            paths = unpack_scanpaths(items, i, N_SUBJECTS_SHOWN)
            plot_scanpaths(image, paths, ax=axes[row, i],
                           title=f"{label}, image {items['example_stimulus_id'][i]}")
    figure.suptitle(f"OSIE test images: {N_SUBJECTS_SHOWN} scanpaths each (first fixation marked 1)", fontsize=10)
    return figure
