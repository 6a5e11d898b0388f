"""Controls that could prove the routing encoder wrong (issue 8, part 4).

On nsd_sim's category channels (FFA, EBA, PPA, VWFA), in the routing study
(``mode="routing"``: category channels route the features of their object) and
in the control study (``mode="control"``: the same channels, weights, noise and
ceilings, but every category channel pools through a fixed receptive field),
five encoders read the same Gabor "complex" features:

* ``ridge``: RidgeCV on the flattened feature grid (every fixed-RF linear readout);
* ``factorized``: the spatial x feature factorized readout (Klindt et al. 2017): one fixed RF x feature
  weights per channel, the separable structure a per-channel query can also learn;
* ``pooled_mlp``: an MLP on spatially pooled features (nonlinear, does not route);
* ``routing``: the routing transformer with its defaults (one query per ROI and hemisphere);
* ``routing_blind``: the same with content-blind attention (keys carry position only);
* ``routing_per_channel``: the same with one query per channel instead of per ROI;
* ``routing_per_channel_blind``: per-channel queries with content-blind attention.

Statistics: seeds x 4 subjects (each seed is a new study: new scenes, ROI
functions and channels).  Every comparison is a paired bootstrap over test
images: one set of resample indices per seed (the subjects of a seed share
their test images), shared by the two models; the statistic is the mean over
all category channels of all subjects and seeds of r(A) - r(B) (each cell weighted
by its channel count; ``cogmodels.metrics.stats.pooled_paired_difference``, which
figure 22 uses on the runner's store); 95% percentile CI.  Last line: the headline.

    python benchmarks/routing_controls.py                 # 3 seeds x 4 subjects, 200 train / 100 test scenes
    python benchmarks/routing_controls.py --seeds 0 --subjects subj01 --max-epochs 10   # smoke run

With ``--store DIR`` each (study, seed, subject, model)'s test responses and predictions are kept in
``DIR/<mode>-seed<k>-<subject>-<model>.npz`` and reused, so a sweep can be split over processes
(``--modes``, ``--models``) and the table printed from the store afterwards (``--table-only``).
A comparison uses the (seed, subject) cells where both of its models ran; the table says how many.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import cogmodels
from cogmodels.backbones.base import FeatureMap
from cogmodels.datasets import nsd_sim
from cogmodels.encoders import RidgeCV, RoutingTransformerEncoder
from cogmodels.encoders.pooled_mlp import PooledMLPEncoder
from cogmodels.metrics.brain import pearson_r
from cogmodels.metrics.stats import bootstrap_indices, bootstrap_pearson, pooled_paired_difference

CATEGORY = ("FFA", "EBA", "PPA", "VWFA")
MODELS = ("ridge", "factorized", "pooled_mlp", "routing", "routing_blind", "routing_per_channel",
          "routing_per_channel_blind")
NON_ROUTING = ("ridge", "factorized", "pooled_mlp")
GROUPING = ("early", "faces", "bodies", "places", "words", "ventral", "lateral")
# (A, B, what the difference measures)
COMPARISONS = (
    ("routing", "best_nonrouting", "routing vs the best non-routing model (ridge, factorized or pooled MLP, "
                                   "chosen per seed)"),
    ("routing_per_channel", "best_nonrouting", "per-channel-query routing vs the best non-routing model"),
    ("routing_per_channel", "factorized", "per-channel queries vs a fixed per-channel RF x features readout"),
    ("routing_per_channel", "routing_per_channel_blind", "per-channel queries: content-dependent vs blind attention"),
    ("routing", "routing_blind", "gain carried by content-dependent attention (routing proper)"),
    ("routing_blind", "best_nonrouting", "gain of the attention readout without routing (nonlinear readout)"),
    ("routing_per_channel", "routing", "one query per channel vs one per ROI and hemisphere"),
    ("pooled_mlp", "ridge", "nonlinear pooled readout vs linear fixed-RF readout"),
    ("routing", "ridge", "routing vs ridge (the issue 3 comparison)"),
    ("routing_blind", "ridge", "content-blind attention vs ridge (the audit's 'share that survives')"),
)


def fit_predict(name: str, X_train, Y_train, X_test, rois, hemispheres, args, seed: int) -> np.ndarray:
    """Test predictions (n_test, n_channels) of one encoder."""
    if name == "ridge":
        model = RidgeCV(alphas=np.logspace(-1, 6, 15)).fit(X_train.reshape(len(X_train), -1), Y_train)
        return model.predict(X_test.reshape(len(X_test), -1))
    common = dict(max_epochs=args.max_epochs, patience=args.patience, seed=seed, progress=False)
    if name == "factorized":
        from cogmodels.encoders import FactorizedReadout

        return FactorizedReadout(seed=seed, progress=False).fit(X_train, Y_train).predict(X_test)  # its defaults
    if name == "pooled_mlp":
        model = PooledMLPEncoder(**common).fit(X_train, Y_train)
        return model.predict(X_test)
    options = dict(common, lr=args.lr, lr_drop=args.lr_drop, ignore_rois=GROUPING)
    if name in ("routing_blind", "routing_per_channel_blind"):
        options["key_content"] = False
    if name in ("routing_per_channel", "routing_per_channel_blind"):
        options.update(query_per="channel_group", group_size=1)
    model = RoutingTransformerEncoder(**options)
    model.fit(FeatureMap(X_train, "spatial"), Y_train, rois=rois, hemispheres=hemispheres)
    return model.predict(FeatureMap(X_test, "spatial"))


def _cell_path(args, mode, seed, subject, name):
    return None if args.store is None else Path(args.store) / f"{mode}-seed{seed}-{subject}-{name}.npz"


def run_study(mode: str, seed: int, args) -> dict:
    """Per model: dict subject -> (y_test, prediction) on the category channels; 'seconds' per model."""
    out = {name: {} for name in MODELS}
    out["seconds"] = {name: 0.0 for name in MODELS}
    todo = [(s, n) for s in args.subjects for n in args.models
            if not (_cell_path(args, mode, seed, s, n) and _cell_path(args, mode, seed, s, n).is_file())]
    studies = {}
    if todo and not args.table_only:
        studies = nsd_sim.load_all(subjects=sorted({s for s, _ in todo}), n_train=args.n_train, n_test=args.n_test,
                                   image_size=args.image_size, seed=seed, mode=mode, progress=False)
    for subject in args.subjects:
        for name in MODELS:
            path = _cell_path(args, mode, seed, subject, name)
            if path is not None and path.is_file():
                with np.load(path) as stored:  # plain float arrays (no pickle)
                    out[name][subject] = (stored["y"], stored["prediction"])
                    out["seconds"][name] += float(stored["seconds"])
                continue
            if subject not in studies or name not in args.models:
                continue
            ds = studies[subject]
            X = ds.ground_truth["features"].values
            n_train = len(ds.splits["train"])
            keep = np.isin(ds.ground_truth["channel_roi"], CATEGORY)
            Y = ds.responses.responses[:, keep]
            channels = ds.responses.channels[keep]
            start = time.perf_counter()
            prediction = fit_predict(name, X[:n_train], Y[:n_train], X[n_train:], list(channels["rois"]),
                                     list(channels["hemisphere"]), args, seed)
            seconds = time.perf_counter() - start
            out["seconds"][name] += seconds
            out[name][subject] = (Y[n_train:], prediction)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(path, y=Y[n_train:], prediction=prediction, seconds=seconds)
        print(f"  {mode:<8} seed {seed} {subject}: " + "  ".join(
            f"{name} {np.mean(pearson_r(*out[name][subject])):.3f}" for name in MODELS if subject in out[name]),
            flush=True)
    return out


def paired(results: list, a: str, b: str, n_boot: int) -> tuple[float, float, float, int]:
    """Mean r(a) - r(b) over channels, subjects and seeds, its paired-bootstrap 95% CI, and the cells used."""
    point_a, point_b, boot_a, boot_b, weights = [], [], [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant resample gives NaN: left out of the CI
        for seed_index, study in enumerate(results):
            cells = [s for s in study[a] if s in study[b]]
            if not cells:
                continue
            indices = bootstrap_indices(study[a][cells[0]][0].shape[0], n_boot, seed=[seed_index, 8])
            for subject in cells:
                (y, pa), (_, pb) = study[a][subject], study[b][subject]
                point_a.append(np.nanmean(pearson_r(y, pa)))
                point_b.append(np.nanmean(pearson_r(y, pb)))
                boot_a.append(np.nanmean(bootstrap_pearson(y, pa, indices), axis=1))
                boot_b.append(np.nanmean(bootstrap_pearson(y, pb, indices), axis=1))
                weights.append(y.shape[1])
    if not point_a:
        return float("nan"), float("nan"), float("nan"), 0
    diff, low, high = pooled_paired_difference(point_a, point_b, np.stack(boot_a, axis=1), np.stack(boot_b, axis=1),
                                               weights)
    return diff, low, high, len(point_a)


def mean_r(study: dict, name: str) -> float:
    return float(np.mean([np.nanmean(pearson_r(y, p)) for y, p in study[name].values()])) if study[name] else np.nan


def with_best_nonrouting(study: dict) -> str:
    """Add 'best_nonrouting': the non-routing model with the highest mean test r in this study (seed)."""
    means = {name: mean_r(study, name) for name in NON_ROUTING}
    best = max(means, key=lambda n: -np.inf if np.isnan(means[n]) else means[n])
    study["best_nonrouting"] = study[best]
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--subjects", nargs="+", default=list(nsd_sim.SUBJECTS))
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--lr-drop", type=int, default=30)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["routing", "control"], choices=["routing", "control"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--store", default=None, help="folder of per-cell predictions (reused; see above)")
    parser.add_argument("--table-only", action="store_true", help="print the table from --store, fit nothing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print(f"nsd_sim category channels; {len(args.seeds)} seed(s) x {len(args.subjects)} subject(s); "
          f"{args.n_train} train / {args.n_test} test scenes of {args.image_size} px; routing encoders: defaults "
          f"with lr={args.lr:g}, lr_drop={args.lr_drop}, max_epochs={args.max_epochs}, patience={args.patience}")
    table = {}
    for mode in args.modes:
        results = [run_study(mode, seed, args) for seed in args.seeds]
        best = [with_best_nonrouting(study) for study in results]
        with warnings.catch_warnings():  # a model that ran on no seed has no mean (NaN)
            warnings.simplefilter("ignore", RuntimeWarning)
            means = {name: np.nanmean([mean_r(s, name) for s in results]) for name in MODELS}
        seconds = {name: sum(s["seconds"][name] for s in results) for name in MODELS}
        table[mode] = dict(means=means, best=best,
                           comparisons={(a, b): paired(results, a, b, args.n_boot) for a, b, _ in COMPARISONS})
        print(f"{mode} study, mean test r (fit time): " + "  ".join(
            f"{n} {means[n]:.3f} ({seconds[n]:.0f} s)" for n in MODELS) + f"; best non-routing per seed: {best}")
    if set(args.modes) != {"routing", "control"}:
        print(f"total {time.perf_counter() - start:.0f} s; run the other mode (or --table-only) for the table")
        return
    print(f"{'comparison A - B (mean r, 95% CI, n cells)':<50} {'routing study':>30} {'control study':>30}")
    for a, b, what in COMPARISONS:
        cells = []
        for mode in ("routing", "control"):
            diff, low, high, n = table[mode]["comparisons"][(a, b)]
            cells.append(f"{diff:+.3f} [{low:+.3f}, {high:+.3f}] n={n}")
        print(f"{a + ' - ' + b:<50} {cells[0]:>30} {cells[1]:>30}")
        print(f"    {what}")
    gain = table["routing"]["comparisons"][("routing", "best_nonrouting")][0]
    if gain > 0:
        blind = table["routing"]["comparisons"][("routing", "routing_blind")][0]
        print(f"share of routing's gain over the best non-routing model carried by content-dependent attention: "
              f"{blind / gain:.0%}; by the attention readout without routing: {1 - blind / gain:.0%}")
    over_ridge = table["routing"]["comparisons"][("routing", "ridge")][0]
    if over_ridge > 0:
        blind_ridge = table["routing"]["comparisons"][("routing_blind", "ridge")][0]
        pooled = table["routing"]["comparisons"][("pooled_mlp", "ridge")][0]
        print(f"of routing's gain over ridge: {blind_ridge / over_ridge:.0%} survives content-blind attention, "
              f"{pooled / over_ridge:.0%} is reached by the pooled MLP (a nonlinear readout that does not route)")
    print(f"total {time.perf_counter() - start:.0f} s ({args.threads} thread(s), shared machine)")
    r_diff, r_low, r_high, _ = table["routing"]["comparisons"][("routing", "best_nonrouting")]
    c_diff, c_low, c_high, _ = table["control"]["comparisons"][("routing", "best_nonrouting")]
    print(f"routing - best non-routing, category ROIs: routing study {r_diff:+.3f} [{r_low:+.3f}, {r_high:+.3f}] "
          f"({'CI excludes 0' if r_low > 0 else 'CI includes 0'}); control study {c_diff:+.3f} "
          f"[{c_low:+.3f}, {c_high:+.3f}] ({'routing still wins: CI excludes 0' if c_low > 0 else 'gain gone'})")


if __name__ == "__main__":
    main()
