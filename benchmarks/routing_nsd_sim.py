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


def routing_params(args) -> dict:
    """Default settings, plus one query per channel in the retinotopic ROIs (each channel has its own
    receptive field there, which one shared ROI token cannot read out) and one per ROI and hemisphere
    elsewhere."""
    return dict(query_per={**{roi: "channel_group" for roi in RETINOTOPIC}, "*": "roi_hemisphere"}, group_size=1,
                max_epochs=args.max_epochs, patience=args.patience, n_runs=args.n_runs, seed=args.seed,
                progress=True)


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
    maps = encoder.attention_maps(images)  # (n, n_queries, H_img, W_img), each map sums to 1
    out = {}
    for roi, category in CATEGORY.items():
        boxes = box_masks(ds.ground_truth["objects"], test_ids, category, maps.shape[2:])
        has = boxes.any(axis=(1, 2))
        queries = [i for i, q in enumerate(encoder.query_names_) if q.split(".")[-1] == roi]  # lh and rh
        mass = np.mean([(maps[has, q] * boxes[has]).sum(axis=(1, 2)).mean() for q in queries])
        out[roi] = (mass, boxes[has].mean())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--subject", default="subj01")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--n-runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_train, n_test = (300, 100) if args.quick else (1000, 200)
    args.max_epochs = args.max_epochs or (30 if args.quick else 100)

    ds = cogmodels.load_dataset("nsd_sim", subject=args.subject, n_train=n_train, n_test=n_test, progress=False)
    backbone = cogmodels.create_backbone("gabor")
    features = backbone.extract(ds.stimuli, layers=["complex"], progress=False)["complex"]
    index = {sid: i for i, sid in enumerate(ds.stimuli.ids)}
    train = np.array([index[s] for s in ds.splits["train"]])
    test = np.array([index[s] for s in ds.splits["test"]])
    Y = ds.responses.responses
    channels = ds.responses.channels

    start = time.perf_counter()
    ridge = RidgeCV(alphas=np.logspace(-1, 6, 15)).fit(features.flatten()[train], Y[train])
    r_ridge = pearson_r(Y[test], ridge.predict(features.flatten()[test]))
    t_ridge = time.perf_counter() - start

    start = time.perf_counter()
    encoder = RoutingTransformerEncoder(**routing_params(args), backbone=backbone, layers=["complex"])
    # Queries for the ROI of each channel.  The simulator also labels channels with groups of ROIs
    # ("early", "faces", "ventral", ...); as extra queries they would split a ROI's routing across
    # several tokens, so that no single query's attention would be the ROI's routing map.
    rois = [(name,) for name in ds.ground_truth["channel_roi"]]
    encoder.fit(FeatureMap(features.values[train], "spatial"), Y[train], rois=rois,
                hemispheres=channels["hemisphere"])
    r_routing = encoder.score(FeatureMap(features.values[test], "spatial"), Y[test])
    t_routing = time.perf_counter() - start

    roi = ds.ground_truth["channel_roi"]
    bound = np.sqrt(ds.ground_truth["noise_ceiling"])
    print(f"nsd_sim {args.subject}: {n_train} train / {n_test} test scenes, {Y.shape[1]} channels, "
          f"features {features.values.shape[1:]}; ridge {t_ridge:.1f} s, routing {t_routing:.1f} s "
          f"({len(encoder.members_[0].history.val_score)} epochs, {len(encoder.query_names_)} queries)")
    print(f"{'ROI':<6} {'n':>4} {'ridge r':>8} {'routing r':>10} {'diff':>7} {'sqrt(NC)':>9}")
    for name in (*RETINOTOPIC, *CATEGORY):
        sel = roi == name
        print(f"{name:<6} {sel.sum():>4} {r_ridge[sel].mean():>8.3f} {r_routing[sel].mean():>10.3f} "
              f"{(r_routing - r_ridge)[sel].mean():>+7.3f} {bound[sel].mean():>9.3f}")
    groups = {"retinotopic": np.isin(roi, RETINOTOPIC), "category": np.isin(roi, list(CATEGORY))}
    diffs = {g: float((r_routing - r_ridge)[sel].mean()) for g, sel in groups.items()}
    for g, sel in groups.items():
        print(f"{g:<12} ridge {r_ridge[sel].mean():.3f}  routing {r_routing[sel].mean():.3f}  diff {diffs[g]:+.3f}")

    test_images = [ds.stimuli.image(int(i)) for i in test]
    boxes = attention_in_boxes(encoder, np.stack(test_images), ds, list(np.asarray(ds.stimuli.ids)[test]))
    print(f"{'ROI':<6} {'attention in boxes':>19} {'box area (chance)':>18} {'ratio':>6}")
    for name, (mass, chance) in boxes.items():
        print(f"{name:<6} {mass:>19.3f} {chance:>18.3f} {mass / chance:>6.2f}")
    worst = min(mass / chance for mass, chance in boxes.values())
    print(f"routing - ridge mean r: category {diffs['category']:+.3f} (target >= +0.05), retinotopic "
          f"{diffs['retinotopic']:+.3f} (target >= -0.03); attention in boxes >= {worst:.2f}x chance (target 2x)")


if __name__ == "__main__":
    main()
