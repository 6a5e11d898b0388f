"""Routing transformer vs RidgeCV on the NSD-like simulator (issue #3 must-show).

Both encoders read the same Gabor "complex" features (cogmodels.create_backbone("gabor"))
of the same nsd_sim training scenes and are scored (Pearson r per channel) on the
same test scenes.  Prints, per ROI: mean test r of RidgeCV (on flattened features)
and of the routing transformer, and the noise-ceiling bound sqrt(NC); then the
share of each category ROI's attention that falls inside the true boxes of its
category, against the share of the image those boxes cover (chance).

Targets: routing - ridge >= +0.05 mean r on category ROIs, >= -0.03 on
retinotopic ROIs; attention in boxes >= 2x chance.

    python benchmarks/routing_nsd_sim.py            # default study (1000 train / 200 test scenes)
    python benchmarks/routing_nsd_sim.py --quick    # 300 / 100 scenes, fewer epochs
    python benchmarks/routing_nsd_sim.py --transfer 100   # + transfer to subj02 with 100 scenes
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import cogmodels
from cogmodels.backbones.base import FeatureMap
from cogmodels.encoders import RidgeCV, RoutingTransformerEncoder
from cogmodels.metrics.brain import pearson_r

RETINOTOPIC = ("V1", "V2", "V3")
CATEGORY = {"FFA": "face", "EBA": "body", "PPA": "place", "VWFA": "word"}


LR, LR_DROP = 2e-3, 30  # the encoder's defaults (the paper's lr 5e-4, drop every 40 epochs) except these


def routing_params(max_epochs=100, patience=10, n_runs=1, seed=0, progress=True) -> dict:
    """Default settings, plus one query per channel in the retinotopic ROIs (each channel has its own
    receptive field there, which one shared ROI token cannot read out) and one per ROI and hemisphere
    elsewhere.  lr 2e-3 instead of the paper's 5e-4: with ~100 per-channel queries and a 64-wide model,
    5e-4 has not converged on V1-V3 after 100 epochs (retinotopic -0.059 vs ridge at 1000 scenes; the
    category gain held: +0.261)."""
    return dict(query_per={**{roi: "channel_group" for roi in RETINOTOPIC}, "*": "roi_hemisphere"}, group_size=1,
                max_epochs=max_epochs, patience=patience, n_runs=n_runs, seed=seed, progress=progress, lr=LR,
                lr_drop=LR_DROP)


def box_masks(objects, stimulus_ids, category, size) -> np.ndarray:
    """Boolean masks (n, H, W) of the union of the boxes of ``category`` in each stimulus."""
    masks = np.zeros((len(stimulus_ids), *size), dtype=bool)
    rows = {sid: i for i, sid in enumerate(stimulus_ids)}
    for obj in objects[objects.category == category].itertuples():
        if obj.stimulus_id in rows:
            masks[rows[obj.stimulus_id], obj.y0:obj.y1, obj.x0:obj.x1] = True
    return masks


def attention_in_boxes(encoder, images, ds, test_ids) -> dict:
    """Per category ROI: mean attention mass inside the category's boxes and the boxes' mean area share."""
    out = {}
    for roi, category in CATEGORY.items():
        queries = [q for q in encoder.query_names_ if q.split(".")[-1] == roi]  # lh and rh
        maps = encoder.attention_maps(images, queries=queries)  # (n, 2, H_img, W_img), each map sums to 1
        boxes = box_masks(ds.ground_truth["objects"], test_ids, category, maps.shape[2:])
        has = boxes.any(axis=(1, 2))
        mass = (maps[has] * boxes[has][:, None]).sum(axis=(2, 3)).mean()
        out[roi] = (mass, boxes[has].mean())
    return out


def split_rows(ds) -> tuple[np.ndarray, np.ndarray]:
    index = {sid: i for i, sid in enumerate(ds.stimuli.ids)}
    return tuple(np.array([index[s] for s in ds.splits[name]]) for name in ("train", "test"))


def grouping_labels(ds) -> tuple[str, ...]:
    """Channel labels other than the ROIs above.  The simulator also labels channels with groups of ROIs
    ("early", "faces", "ventral", ...); as extra queries they would split a ROI's routing across several
    tokens, so that no single query's attention would be the ROI's routing map: they get no query."""
    labels = {label for rois in ds.responses.channels["rois"] for label in rois}
    return tuple(sorted(labels - {*RETINOTOPIC, *CATEGORY}))


def measure(subject="subj01", n_train=1000, n_test=200, max_epochs=100, patience=10, n_runs=1, seed=0,
            progress=True) -> dict:
    """Fit RidgeCV and the routing transformer on one nsd_sim subject; test r and attention-in-boxes."""
    ds = cogmodels.load_dataset("nsd_sim", subject=subject, n_train=n_train, n_test=n_test, progress=False)
    backbone = cogmodels.create_backbone("gabor")
    features = backbone.extract(ds.stimuli, layers=["complex"], progress=False)["complex"]
    train, test = split_rows(ds)
    Y = ds.responses.responses

    start = time.perf_counter()
    ridge = RidgeCV(alphas=np.logspace(-1, 6, 15)).fit(features.flatten()[train], Y[train])
    r_ridge = pearson_r(Y[test], ridge.predict(features.flatten()[test]))
    t_ridge = time.perf_counter() - start

    start = time.perf_counter()
    params = routing_params(max_epochs, patience, n_runs, seed, progress)
    encoder = RoutingTransformerEncoder(**params, ignore_rois=grouping_labels(ds), backbone=backbone,
                                        layers=["complex"])
    encoder.fit(FeatureMap(features.values[train], "spatial"), Y[train], rois=ds.responses.channels["rois"],
                hemispheres=ds.responses.channels["hemisphere"])
    r_routing = encoder.score(FeatureMap(features.values[test], "spatial"), Y[test])
    t_routing = time.perf_counter() - start

    test_images = np.stack([ds.stimuli.image(int(i)) for i in test])
    boxes = attention_in_boxes(encoder, test_images, ds, list(np.asarray(ds.stimuli.ids)[test]))
    return dict(ds=ds, features=features, encoder=encoder, r_ridge=r_ridge, r_routing=r_routing,
                t_ridge=t_ridge, t_routing=t_routing, boxes=boxes, roi=np.asarray(ds.ground_truth["channel_roi"]))


def group_diffs(result) -> dict:
    roi = result["roi"]
    groups = {"retinotopic": np.isin(roi, RETINOTOPIC), "category": np.isin(roi, list(CATEGORY))}
    return {g: float((result["r_routing"] - result["r_ridge"])[sel].mean()) for g, sel in groups.items()}


def transfer(result, n_small: int, subject: str = "subj02", seed: int = 0) -> tuple[float, float]:
    """Mean test r on the category channels of a new subject fitted on ``n_small`` scenes:
    (transfer from the fitted encoder: readout only; from scratch)."""
    source = result["ds"]
    ds = cogmodels.load_dataset("nsd_sim", subject=subject, n_train=len(source.splits["train"]),
                                n_test=len(source.splits["test"]), progress=False)
    train, test = split_rows(ds)
    small = train[:n_small]
    keep = np.isin(np.asarray(ds.ground_truth["channel_roi"]), list(CATEGORY))
    Y = ds.responses.responses[:, keep]
    rois = list(np.asarray(ds.responses.channels["rois"], dtype=object)[keep])
    hemis = list(np.asarray(ds.responses.channels["hemisphere"])[keep])
    X = result["features"].values
    moved = result["encoder"].fit_new_subject(FeatureMap(X[small], "spatial"), Y[small], rois=rois,
                                              hemispheres=hemis, subject=subject)
    scratch = RoutingTransformerEncoder(**routing_params(100, 10, 1, seed, False), ignore_rois=grouping_labels(ds))
    scratch.fit(FeatureMap(X[small], "spatial"), Y[small], rois=rois, hemispheres=hemis)
    return tuple(float(np.mean(model.score(FeatureMap(X[test], "spatial"), Y[test]))) for model in (moved, scratch))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--subject", default="subj01")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--n-runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--transfer", type=int, default=0, metavar="N",
                        help="also transfer to subj02 with N training scenes, against training from scratch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_train, n_test = (300, 100) if args.quick else (1000, 200)
    result = measure(args.subject, n_train, n_test, args.max_epochs or (30 if args.quick else 100), args.patience,
                     args.n_runs, args.seed)

    encoder, roi, r_ridge, r_routing = result["encoder"], result["roi"], result["r_ridge"], result["r_routing"]
    bound = np.sqrt(result["ds"].ground_truth["noise_ceiling"])
    print(f"nsd_sim {args.subject}: {n_train} train / {n_test} test scenes, {len(roi)} channels, "
          f"features {result['features'].values.shape[1:]}; ridge {result['t_ridge']:.1f} s, routing "
          f"{result['t_routing']:.1f} s ({len(encoder.members_[0].history.val_score)} epochs, "
          f"{len(encoder.query_names_)} queries)")
    print(f"{'ROI':<6} {'n':>4} {'ridge r':>8} {'routing r':>10} {'diff':>7} {'sqrt(NC)':>9}")
    for name in (*RETINOTOPIC, *CATEGORY):
        sel = roi == name
        print(f"{name:<6} {sel.sum():>4} {r_ridge[sel].mean():>8.3f} {r_routing[sel].mean():>10.3f} "
              f"{(r_routing - r_ridge)[sel].mean():>+7.3f} {bound[sel].mean():>9.3f}")
    diffs = group_diffs(result)
    for group, names in (("retinotopic", RETINOTOPIC), ("category", list(CATEGORY))):
        sel = np.isin(roi, names)
        print(f"{group:<12} ridge {r_ridge[sel].mean():.3f}  routing {r_routing[sel].mean():.3f}  "
              f"diff {diffs[group]:+.3f}")
    print(f"{'ROI':<6} {'attention in boxes':>19} {'box area (chance)':>18} {'ratio':>6}")
    for name, (mass, chance) in result["boxes"].items():
        print(f"{name:<6} {mass:>19.3f} {chance:>18.3f} {mass / chance:>6.2f}")
    if args.transfer:
        moved, scratch = transfer(result, args.transfer, seed=args.seed)
        print(f"subj02 category channels, {args.transfer} training scenes: transfer r {moved:.3f}, "
              f"from scratch r {scratch:.3f}")
    worst = min(mass / chance for mass, chance in result["boxes"].values())
    print(f"routing - ridge mean r: category {diffs['category']:+.3f} (target >= +0.05), retinotopic "
          f"{diffs['retinotopic']:+.3f} (target >= -0.03); attention in boxes >= {worst:.2f}x chance (target 2x)")


if __name__ == "__main__":
    main()
