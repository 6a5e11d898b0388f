"""RSA stimulus bootstrap: cogmodels.metrics.rsa.bootstrap vs rsatoolbox's eval_bootstrap_pattern.

Same process, same RDMs, same stimulus draws: every layer of the Gabor backbone and of
a random-init (seeded) CNN on the 92-image set, against the 4 human-IT subject RDMs
(sessions averaged), Spearman, 1,000 bootstrap samples with the noise ceiling in each.
Both draw with ``np.random.randint`` after ``np.random.seed(0)``, so the per-sample
scores must agree (checked to 1e-10).  Prints timings and, on its last line, the ratio.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/rsa.py [--n-boot 1000] [--cnn resnet50]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np

import cogmodels
from cogmodels.datasets import kriegeskorte92
from cogmodels.metrics import rsa


def model_rdms(stimuli, cnn: str) -> tuple[list[str], np.ndarray]:
    names, rdms = [], []
    for backbone in (cogmodels.create_backbone("gabor", layers=["simple", "complex"]),
                     cogmodels.create_backbone(cnn, weights=None, seed=0)):
        features = backbone.extract(stimuli, list(backbone.layers), progress=False)
        for layer, fmap in features.items():
            names.append(f"{backbone.name}/{layer}")
            rdms.append(rsa.rdm(fmap.flatten()))
    return names, np.stack(rdms)


def subject_rdms(ds) -> np.ndarray:
    table = ds.meta["rdm_table"].set_index("name")
    names = ds.meta["rdm_groups"]["hIT"]
    subjects = dict.fromkeys(table.loc[names, "subject"])
    return np.stack([np.mean([ds.meta["rdms"][n] for n in names if table.loc[n, "subject"] == s], axis=0)
                     for s in subjects])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--cnn", default="resnet50")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from rsatoolbox.inference import eval_bootstrap_pattern
    from rsatoolbox.model import ModelFixed
    from rsatoolbox.rdm import RDMs

    ds = kriegeskorte92.load()
    names, models = model_rdms(ds.stimuli, args.cnn)
    data = subject_rdms(ds)
    n = data.shape[1]
    print(f"{len(names)} layers ({', '.join(names)}) x {len(data)} hIT subjects, {n} images, "
          f"{args.n_boot} bootstrap samples, spearman")

    np.random.seed(0)
    draws = np.stack([np.random.randint(0, n, size=n) for _ in range(args.n_boot)])
    start = time.perf_counter()
    ours = rsa.bootstrap(models, data, method="spearman", indices=draws)
    t_ours = time.perf_counter() - start

    peer_models = [ModelFixed(name, RDMs(rsa.upper(m)[None])) for name, m in zip(names, models)]
    np.random.seed(0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = eval_bootstrap_pattern(peer_models, RDMs(rsa.upper(data)), method="spearman", N=args.n_boot)
    t_peer = time.perf_counter() - start

    score_diff = np.nanmax(np.abs(ours.samples - peer.evaluations))
    ceiling_diff = np.nanmax(np.abs(ours.ceiling_samples - peer.noise_ceiling.T))
    print(f"max |difference| per sample: scores {score_diff:.2e}, noise ceiling {ceiling_diff:.2e}")
    if not (score_diff < 1e-10 and ceiling_diff < 1e-10):
        raise SystemExit("cogmodels and rsatoolbox disagree on the same draws")
    for name, score, (low, high) in zip(names, ours.scores, ours.ci):
        print(f"  {name:28s} spearman {score:.3f}  95% CI [{low:.3f}, {high:.3f}]")
    print(f"  noise ceiling lower {ours.ceiling[0]:.3f} upper {ours.ceiling[1]:.3f}")
    print(f"cogmodels {t_ours:.2f} s, rsatoolbox {t_peer:.2f} s")
    print(f"speed ratio (rsatoolbox / cogmodels): {t_peer / t_ours:.1f}x")


if __name__ == "__main__":
    main()
