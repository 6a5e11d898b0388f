"""Scoring for the scanpath evaluation protocol (:mod:`cogmodels.scanpaths.evaluate`).

Calls the metric functions of :mod:`cogmodels.metrics.gaze` (scanpath pairs,
batched: one call per metric for all pairs of a run) and
:mod:`cogmodels.metrics.saliency` (one call per metric per image, on the stack of
the held-out subjects' maps), and averages pair values into per-item values.
"""

from __future__ import annotations

import warnings

import numpy as np

from cogmodels.metrics.gaze import MULTIMATCH_DIMENSIONS
SCANPATH_METRICS = tuple(f"multimatch_{d}" for d in MULTIMATCH_DIMENSIONS) + (
    "scanmatch", "sequence_score", "edit_distance", "dtw", "frechet")
SALIENCY_METRICS = ("nss", "auc_judd", "auc_shuffled", "cc", "kld", "sim", "information_gain")
LOWER_IS_BETTER = frozenset({"edit_distance", "dtw", "frechet", "kld"})
HIGHER_IS_BETTER = {name: name not in LOWER_IS_BETTER for name in SCANPATH_METRICS + SALIENCY_METRICS}
# Protocol defaults on top of the metric functions' own: the edit distance as a fraction of the longer string,
# so that images with long and short scanpaths weigh alike.
DEFAULT_METRIC_OPTIONS = {"edit_distance": {"normalise": True}}


def block_sum(maps: np.ndarray, block: int) -> np.ndarray:
    """Sums over block x block pixels: (..., H, W) -> (..., ceil(H / block), ceil(W / block)), zero-padded edges."""
    maps = np.asarray(maps, float)
    if block == 1:
        return maps
    height, width = maps.shape[-2:]
    pad = [(0, 0)] * (maps.ndim - 2) + [(0, -height % block), (0, -width % block)]
    padded = np.pad(maps, pad)
    h, w = padded.shape[-2] // block, padded.shape[-1] // block
    # One axis at a time: every block is summed in the same order, so a constant map stays exactly constant.
    return padded.reshape(*maps.shape[:-2], h, block, w, block).sum(axis=-1).sum(axis=-2)


def mean_per_item(values: np.ndarray, item: np.ndarray, n_items: int, what: str) -> np.ndarray:
    """Mean of pair values per item, shape (n_items,); undefined pairs are left out with a warning."""
    values = np.asarray(values, float)
    defined = np.isfinite(values)
    if not defined.all():
        warnings.warn(f"{what}: {int((~defined).sum())} of {values.size} scanpath comparisons are undefined (NaN) "
                      f"and are left out of their item's mean", stacklevel=3)
    counts = np.bincount(item[defined], minlength=n_items)
    sums = np.bincount(item[defined], weights=values[defined], minlength=n_items)
    out = np.full(n_items, np.nan)
    out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    return out


class PairBatch:
    """Scanpath pairs (predicted, human) collected over all images, scored with one call per metric."""

    def __init__(self):
        self.predicted, self.human, self.item, self.size = [], [], [], []

    def add(self, predicted: list, human, item: int, size: tuple[int, int]) -> None:
        """Pairs (predicted[k], human) of one item; ``size`` is the screen (width, height) they are scored on."""
        self.predicted += list(predicted)
        self.human += [human] * len(predicted)
        self.item += [item] * len(predicted)
        self.size += [tuple(size)] * len(predicted)

    def score(self, options, n_items: int, threshold: float) -> dict:
        """Metric name -> per-item mean, shape (n_items,).  Pairs are grouped by screen size."""
        item = np.asarray(self.item, dtype=np.int64)
        sizes = np.asarray(self.size, dtype=np.int64).reshape(-1, 2)
        pair_values = {name: np.full(len(item), np.nan) for name in SCANPATH_METRICS}
        for size in np.unique(sizes, axis=0):
            rows = np.flatnonzero((sizes == size).all(axis=1))
            a = [self.predicted[i] for i in rows]
            b = [self.human[i] for i in rows]
            screen = (int(size[0]), int(size[1]))
            for name, values in _gaze_metrics(a, b, screen, options, threshold).items():
                pair_values[name][rows] = values
        return {name: mean_per_item(values, item, n_items, name) for name, values in pair_values.items()}


def _metric_kwargs(options, name: str) -> dict:
    return {**DEFAULT_METRIC_OPTIONS.get(name, {}), **(options.metric_options or {}).get(name, {})}


def _gaze_metrics(a: list, b: list, screen_size: tuple[int, int], options, threshold: float) -> dict:
    """Every scanpath metric of the pairs (a[i], b[i]): name -> array of shape (n_pairs,).

    The ScanMatch ``threshold`` (grid cells) is fixed by the protocol, not derived from the
    compared scanpaths, so every model is scored with the same substitution matrix.
    """
    from cogmodels.metrics import gaze

    out = {}
    multimatch = np.asarray(gaze.multimatch(a, b, screen_size, grouping=options.multimatch_grouping,
                                            **_metric_kwargs(options, "multimatch")))
    for k, dimension in enumerate(MULTIMATCH_DIMENSIONS):
        out[f"multimatch_{dimension}"] = multimatch[..., k]
    out["scanmatch"] = gaze.scanmatch(a, b, screen_size, **{"threshold": threshold,
                                                            **_metric_kwargs(options, "scanmatch")})
    for name in ("sequence_score", "edit_distance"):
        out[name] = getattr(gaze, name)(a, b, screen_size, **_metric_kwargs(options, name))
    for name in ("dtw", "frechet"):
        out[name] = getattr(gaze, name)(a, b, **_metric_kwargs(options, name))
    return {name: np.asarray(values, float) for name, values in out.items()}


def scanmatch_threshold(train_paths: list, screen_size: tuple[int, int], options) -> float:
    """ScanMatch substitution threshold (grid cells) from the train-split human scanpaths.

    Positions are scaled to a unit screen first (the grid cells of ``screen_size``).
    """
    from cogmodels.metrics import gaze

    unit = [p.xy / np.asarray(screen_size, float) for p in train_paths if len(p)]
    grid = _metric_kwargs(options, "scanmatch").get("grid", gaze.DEFAULT_GRID)
    return float(gaze.scanmatch_threshold(unit, (1.0, 1.0), grid))


def saliency_metrics(densities: np.ndarray, humans: list, baseline: np.ndarray, negatives_xy: np.ndarray,
                     options, rng: np.random.Generator, px_per_deg: float) -> dict:
    """Saliency metrics of one image, one value per held-out subject (each metric called once on the stack).

    Every map is first summed over ``saliency_block`` x ``saliency_block`` pixel blocks and the
    fixations are expressed in blocks (see :class:`~cogmodels.scanpaths.evaluate.ProtocolOptions`).

    Parameters
    ----------
    densities : array of shape (n_subjects, H, W), or (H, W) shared by all subjects (a model)
    humans : list of Scanpath, length n_subjects
    baseline : array of shape (H, W)
        Centre-bias density for the information gain.
    negatives_xy : array of shape (n_negatives, 2)
        Fixations of the other test images, in this image's pixels (shuffled AUC).
    px_per_deg : float
        Of the run's screen geometry (:func:`~cogmodels.scanpaths.evaluate.protocol_geometry`).
    """
    from cogmodels.metrics import saliency

    block = options.saliency_block
    maps = block_sum(densities, block)
    height, width = maps.shape[-2:]
    fixations = [human.xy / block for human in humans]
    # Human density maps drawn directly on the block grid (Gaussian values at block centres).
    targets = np.stack([saliency.fixation_density(xy, (width, height), sigma_deg=options.sigma_deg,
                                                  px_per_deg=px_per_deg / block) for xy in fixations])
    maps = np.broadcast_to(maps, targets.shape) if maps.ndim == 2 else maps
    out = {"nss": saliency.nss(maps, fixations),
           "auc_judd": saliency.auc_judd(maps, fixations),
           "auc_shuffled": saliency.auc_shuffled(maps, fixations, negatives_xy / block, seed=rng,
                                                 **_metric_kwargs(options, "auc_shuffled")),
           "cc": saliency.cc(maps, targets),
           "kld": saliency.kld(maps, targets),
           "sim": saliency.sim(maps, targets),
           "information_gain": saliency.information_gain(maps, block_sum(baseline, block), fixations)}
    # NSS and CC of a constant map (the uniform model) come back NaN with a warning from the metrics.
    return {name: np.asarray(values, float) for name, values in out.items()}
