"""Figure 62 (DiffEye DDIM steps): metric quality against the number of DDIM steps.

Reads the store only: every complete ``scanpath_osie`` run of ``diffeye``, grouped by its config's
``scanpath.ddim_eta`` (one line each: 0 deterministic DDIM, 1 DDPM-like noise; runs from before the parameter
existed are eta 0) and ``scanpath.ddim_steps`` (``scanpath.sampler: ddpm`` runs are horizontal reference lines),
with the per-item arrays of each run giving the mean and a 95 % interval over (image, subject) items.
Reference lines: the latest ``uniform``, ``center_bias`` and ``another_human`` runs where present.
Sweep it with one trained network (checkpoint_dir makes the sweep train once):

    cogmodels run -m experiment=scanpath_osie scanpath=diffeye scanpath.ddim_steps=5,10,25,50 \\
        scanpath.checkpoint_dir=/path/to/ckpt

Build it with ``cogmodels figures --only diffeye_ddim_steps``.
"""

from __future__ import annotations

import numpy as np

from cogmodels.errors import DataFormatError, format_problem
from cogmodels.runner.store import load_items, load_runs
from cogmodels.scanpaths.evaluate import HUMAN_CEILING, latest_runs

EXPERIMENT = "scanpath_osie"
METRICS = ("sequence_score", "nss", "dtw", "cc")
REFERENCES = ("uniform", "center_bias", HUMAN_CEILING)


def _mean_ci(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(1.96 * values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0


def step_table(store_root) -> list[dict]:
    """One entry per complete diffeye run: sampler, steps, run_id, n_images."""
    runs = load_runs(store_root)
    out = []
    for row in runs[runs["experiment"] == EXPERIMENT].itertuples():
        scanpath = row.config.get("scanpath", {})
        if scanpath.get("name") != "diffeye":
            continue
        n_images = (row.config.get("evaluation") or {}).get("n_images")
        out.append(dict(sampler=scanpath.get("sampler", "ddim"), steps=int(scanpath.get("ddim_steps", 50)),
                        eta=float(scanpath.get("ddim_eta", 0.0)), run_id=row.run_id, n_images=n_images))
    return out


def make(results, store_root):
    """One panel per metric: mean +- 95 % CI against DDIM steps, references as horizontal lines."""
    import matplotlib.pyplot as plt

    where = f"{store_root}/results.sqlite"
    entries = step_table(store_root)
    ddim = sorted([e for e in entries if e["sampler"] == "ddim"], key=lambda e: (e["eta"], e["steps"]))
    if len({e["steps"] for e in ddim}) < 2:
        raise DataFormatError(format_problem(where, f"{EXPERIMENT} diffeye runs at >= 2 DDIM step counts",
                                             f"{sorted({e['steps'] for e in ddim})}",
                                             "sweep scanpath.ddim_steps=5,10,25,50 with one scanpath.checkpoint_dir"))
    references = {m: r for m, r in latest_runs(results, EXPERIMENT, where).items() if m in REFERENCES}
    figure, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 3.0), constrained_layout=True)
    for ax, metric in zip(axes, METRICS):
        for k, eta in enumerate(sorted({e["eta"] for e in ddim})):
            steps, means, cis = [], [], []
            for entry in (e for e in ddim if e["eta"] == eta):
                mean, ci = _mean_ci(np.asarray(load_items(store_root, entry["run_id"])[metric], float))
                steps.append(entry["steps"]), means.append(mean), cis.append(ci)
            ax.errorbar(steps, means, yerr=cis, marker="o", color=f"C{k}", label=f"DiffEye DDIM eta={eta:g}")
        for entry in (e for e in entries if e["sampler"] == "ddpm"):
            mean, _ = _mean_ci(np.asarray(load_items(store_root, entry["run_id"])[metric], float))
            ax.axhline(mean, color="C3", ls="--", lw=1, label="DiffEye DDPM (all steps)")
        for k, (model, run_id) in enumerate(sorted(references.items())):
            mean, _ = _mean_ci(np.asarray(load_items(store_root, run_id)[metric], float))
            if np.isfinite(mean):
                ax.axhline(mean, color=f"C{k + 4}", ls=":", lw=1, label=model)
        ax.set_xscale("log")
        ax.set_xlabel("DDIM steps")
        ax.set_title(metric, fontsize=9)
    axes[0].legend(fontsize=7)
    n_images = {e["n_images"] for e in ddim}
    figure.suptitle(f"DiffEye on OSIE test images ({'/'.join(map(str, sorted(n_images, key=str)))} images): "
                    f"quality against DDIM steps (mean, 95 % CI over items)", fontsize=9)
    return figure
