"""Saliency-map metrics (Bylinskii et al. 2019; information gain: Kümmerer et al. 2015).

Bylinskii, Judd, Oliva, Torralba & Durand (2019), "What do different
evaluation metrics tell us about saliency models?", IEEE TPAMI 41(3). The
definitions below follow that paper's formulas:

- **NSS**: mean of the z-scored saliency map at the fixations.
- **AUC-Judd**: ROC area with thresholds at the saliency values of the
  fixated pixels. The positives are the fixations; the negatives are all
  pixels that were not fixated. Ties are exact, with no random jitter.
- **Shuffled AUC**: the positives are the fixations on this image, and the
  negatives are fixations from *other* images (centre bias cancels out). By
  default we draw ``n_splits`` seeded random subsets of negatives and average
  the exact ROC area (Mann-Whitney; ties count one half);
  ``all_negatives=True`` uses every negative once instead.
- **CC**: Pearson correlation with the fixation density map.
- **KLD**: KL(density || saliency) after normalising both to sum 1, with the
  paper's regulariser eps (default ``np.finfo(float).eps`` = 2.220446e-16).
- **SIM**: sum of the pixel-wise minimum of the two maps, each normalised to
  sum 1.
- **Information gain** (Kümmerer, Wallis & Bethge 2015, PNAS): the mean, over
  fixations, of log2(eps + p_model) - log2(eps + p_baseline), in bits per
  fixation. Both maps are normalised to sum 1 over the image.

Against pysaliency (0.2.22, the reference implementation of Kümmerer et al.;
``tests/metrics/test_saliency_vs_pysaliency.py`` checks all of this on real
OSIE maps).  NSS, CC, SIM and AUC-Judd (its ``thresholds="fixations"``,
``nonfixations="unfixated"``) are the same definitions and agree to rounding.
Three differ by a stated definition, and an option of ours gives theirs:

- shuffled AUC: pysaliency scores all negatives once, with no random
  subsets (the MIT benchmark's subsampling): ``auc_shuffled(...,
  all_negatives=True)`` is its sAUC on the same negatives;
- KLD: pysaliency's ``MIT_KLDiv`` uses the rounded eps 2.2204e-16:
  ``kld(..., eps=2.2204e-16)``;
- information gain: pysaliency takes the logarithm of the densities with no
  eps: ``information_gain(..., eps=0)``.  With our eps the gain at a fixation
  moves by less than ``eps / (p ln 2)`` bits for each map, negligible for any
  density that is not vanishingly small at the fixations.

The AUC-Judd of the MIT benchmark code adds a small random jitter to the
saliency map to break ties; neither pysaliency nor this module does.

Conventions. A saliency map is an array of shape (H, W), or a stack of shape
(n_maps, H, W). Each metric returns a float for one map, and an array of
shape (n_maps,) for a stack. Fixations ``fix`` can be given in two ways:

- as coordinates: an array of shape (n_fixations, 2) of x, y in pixels, origin
  top-left. Pixel (row, col) covers [col, col+1) x [row, row+1). For a stack,
  pass a list of such arrays.
- as a fixation map: counts or a binary map, of the same shape as the
  saliency map or stack.

Fixations are counted with multiplicity: two fixations on one pixel weigh
twice. Fixations outside the image raise an error.

Undefined values. Fixation data that is empty or wrong is a data error and
always raises. A metric that is mathematically undefined for one map raises
:class:`~cogmodels.errors.DataFormatError` for a single map. For a stack it
gives NaN for that map, with one warning stating the count and the reason.
The undefined cases are:

- NSS or CC of a constant map;
- CC against a constant density;
- KLD, SIM or information gain of a map that sums to zero.
"""

from __future__ import annotations

import warnings

import numpy as np

from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

EPS = np.finfo(float).eps  # 2.220446049250313e-16, the regulariser of Bylinskii et al. (MATLAB eps)

__all__ = ["nss", "auc_judd", "auc_shuffled", "cc", "kld", "sim", "information_gain", "fixation_map",
           "fixation_density"]


# -- inputs --------------------------------------------------------------------------------------------
def _maps(values, where: str) -> tuple[np.ndarray, bool]:
    """(n_maps, H, W) float array and whether a single (H, W) map was given."""
    array = np.asarray(values, dtype=float)
    if array.ndim not in (2, 3) or min(array.shape[-2:]) < 1:
        raise ShapeError(format_problem(where, "a map of shape (H, W) or a stack (n_maps, H, W)",
                                        f"shape {array.shape}", "pass 2-D maps"))
    if not np.isfinite(array).all():
        raise DataFormatError(format_problem(where, "finite values", f"{int((~np.isfinite(array)).sum())} NaN/inf",
                                             "replace them (e.g. np.nan_to_num) before scoring"))
    return (array[None], True) if array.ndim == 2 else (array, False)


def fixation_map(fixations_xy, image_size) -> np.ndarray:
    """Fixation counts per pixel.

    Parameters
    ----------
    fixations_xy : array of shape (n_fixations, 2)
        x, y in pixels, origin top-left; pixel (row, col) holds [col, col+1) x [row, row+1).
    image_size : (width, height)

    Returns
    -------
    counts : float array of shape (height, width)
    """
    width, height = (int(v) for v in image_size)
    xy = np.asarray(fixations_xy, dtype=float).reshape(-1, 2) if np.size(fixations_xy) else np.zeros((0, 2))
    if not np.isfinite(xy).all():
        raise DataFormatError(format_problem("fixations", "finite x, y", "NaN/inf coordinates",
                                             "drop missing fixations first"))
    col, row = np.floor(xy[:, 0]).astype(np.int64), np.floor(xy[:, 1]).astype(np.int64)
    outside = (col < 0) | (col >= width) | (row < 0) | (row >= height)
    if outside.any():
        i = int(np.argmax(outside))
        raise DataFormatError(format_problem(
            "fixations", f"x in [0, {width}) and y in [0, {height}) (inside the image)",
            f"{int(outside.sum())} outside (first: x={xy[i, 0]:g}, y={xy[i, 1]:g})",
            "clip or drop fixations outside the image"))
    return np.bincount(row * width + col, minlength=width * height).reshape(height, width).astype(float)


def _fixation_counts(fix, shape: tuple[int, int, int], single: bool, where: str = "fix") -> np.ndarray:
    """Counts of shape (n_maps, H, W) from coordinates or maps; every map needs at least one fixation."""
    n_maps, height, width = shape
    if single and not isinstance(fix, list):
        array = np.asarray(fix, dtype=float)
        if array.shape == (height, width):
            counts = array[None]
        elif array.ndim == 2 and array.shape[1] == 2 or array.size == 0:
            counts = fixation_map(array, (width, height))[None]
        else:
            raise ShapeError(format_problem(where, f"fixation coordinates (n, 2) or a map of shape {(height, width)}",
                                            f"shape {array.shape}", "pass x, y pixel coordinates"))
    elif isinstance(fix, (list, tuple)):
        if len(fix) != n_maps:
            raise ShapeError(format_problem(where, f"one fixation array per map ({n_maps})", f"{len(fix)} arrays",
                                            "pass a list with one (n_fixations, 2) array per map"))
        counts = np.stack([fixation_map(f, (width, height)) for f in fix])
    else:
        counts = np.asarray(fix, dtype=float)
        if counts.shape != shape:
            raise ShapeError(format_problem(where, f"fixation maps of shape {shape} or a list of coordinates",
                                            f"shape {counts.shape}", "match the saliency stack"))
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise DataFormatError(format_problem(where, "non-negative fixation counts", "negative or NaN values",
                                             "pass counts or a binary map"))
    empty = counts.reshape(len(counts), -1).sum(1) == 0
    if empty.any():
        raise DataFormatError(format_problem(f"{where}[{int(np.argmax(empty))}]" if not single else where,
                                             "at least one fixation per map", f"{int(empty.sum())} map(s) without",
                                             "drop images without fixations"))
    return counts


def _finish(values: np.ndarray, undefined: np.ndarray, single: bool, metric: str, reason: str):
    """Scalar for one map, array for a stack; undefined entries raise (one map) or become NaN with a warning."""
    if undefined.any():
        if single:
            raise DataFormatError(format_problem(metric, "a map for which the metric is defined", reason,
                                                 "check the map (see the saliency module docstring)"))
        warnings.warn(f"{metric}: {int(undefined.sum())} of {len(values)} map(s) undefined and set to NaN ({reason})",
                      stacklevel=3)
        values = np.where(undefined, np.nan, values)
    return float(values[0]) if single else values


def _probability(maps: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Maps divided by their sums (n_maps, H, W), and which ones sum to zero (undefined)."""
    if (maps < 0).any():
        raise DataFormatError(format_problem(where, "non-negative maps (densities)", f"min {maps.min():g}",
                                             "exponentiate log-densities, or shift the map to be >= 0"))
    total = maps.reshape(len(maps), -1).sum(1)
    zero = total == 0
    return maps / np.where(zero, 1.0, total)[:, None, None], zero


def _same_shape(first: np.ndarray, second: np.ndarray, names: str) -> None:
    if first.shape != second.shape:
        raise ShapeError(format_problem(names, "maps of the same shape", f"{first.shape} and {second.shape}",
                                        "resize the prediction to the image"))


# -- location-based metrics ----------------------------------------------------------------------------
def nss(sal, fix):
    """Normalized scanpath saliency: mean z-scored saliency at the fixations (population std, ddof=0).

    Parameters
    ----------
    sal : array of shape (H, W) or (n_maps, H, W)
    fix : fixation coordinates (n_fixations, 2), a list of them, or fixation maps (see module docstring)

    Returns
    -------
    float or array of shape (n_maps,)
    """
    maps, single = _maps(sal, "sal")
    counts = _fixation_counts(fix, maps.shape, single)
    flat = maps.reshape(len(maps), -1)
    # A constant map is detected exactly by its range: its float std can be a tiny non-zero
    # rounding residue (a normalised 600x800 uniform map has std ~4e-22), which would give garbage.
    constant = np.ptp(flat, axis=1) == 0
    std = flat.std(1)
    z = (flat - flat.mean(1, keepdims=True)) / np.where(constant, 1.0, std)[:, None]
    weights = counts.reshape(len(maps), -1)
    values = (z * weights).sum(1) / weights.sum(1)
    return _finish(values, constant, single, "nss", "constant saliency map (zero standard deviation)")


def auc_judd(sal, fix):
    """AUC-Judd: ROC area with thresholds at the fixated saliency values (Judd et al. 2009; Bylinskii et al. 2019).

    True positive rate: share of fixations at or above the threshold. False
    positive rate: share of non-fixated pixels at or above it. Points (0, 0)
    and (1, 1) close the curve; the area is the trapezoid rule. Ties are
    handled exactly, without the random jitter of the MIT benchmark code
    (pysaliency's AUC-Judd has none either and equals this one).

    Returns
    -------
    float or array of shape (n_maps,)
    """
    maps, single = _maps(sal, "sal")
    counts = _fixation_counts(fix, maps.shape, single)
    values = np.empty(len(maps))
    undefined = np.zeros(len(maps), dtype=bool)
    for k, (saliency, count) in enumerate(zip(maps.reshape(len(maps), -1), counts.reshape(len(maps), -1))):
        negatives = saliency[count == 0]
        undefined[k] = len(negatives) == 0
        values[k] = _judd_area(saliency[count > 0], count[count > 0], negatives) if len(negatives) else 0.0
    return _finish(values, undefined, single, "auc_judd", "every pixel is fixated (no negatives)")


def _judd_area(positive: np.ndarray, weight: np.ndarray, negative: np.ndarray) -> float:
    thresholds = np.unique(positive)[::-1]
    order = np.argsort(positive)
    sorted_pos, sorted_w = positive[order], np.cumsum(weight[order][::-1])[::-1]
    # Fixations (weighted) and negatives with saliency >= each threshold.
    tp = sorted_w[np.searchsorted(sorted_pos, thresholds, side="left")] / weight.sum()
    fp = (len(negative) - np.searchsorted(np.sort(negative), thresholds, side="left")) / len(negative)
    tp = np.concatenate([[0.0], tp, [1.0]])
    fp = np.concatenate([[0.0], fp, [1.0]])
    return float(np.sum(np.diff(fp) * (tp[1:] + tp[:-1]) / 2))


def auc_shuffled(sal, fix, negatives, n_splits: int = 100, seed=0, *, all_negatives: bool = False):
    """Shuffled AUC: fixations on this image against fixations from other images.

    Parameters
    ----------
    sal : array of shape (H, W) or (n_maps, H, W)
    fix : fixations of this image (coordinates, list of them, or maps)
    negatives : array of shape (n_negatives, 2), or a list of them (one per map)
        Fixation positions from other images, in this image's pixels (x, y).
    n_splits : int
        Random subsets of negatives, each as large as the positives (or all
        negatives if fewer); the AUCs are averaged.
    seed : int or numpy Generator
    all_negatives : bool
        Score every negative once, with no random subsets (``n_splits`` and
        ``seed`` are then unused): one exact ROC area, pysaliency's definition
        of sAUC with the same negatives.  Default False (the subsets).

    Returns
    -------
    float or array of shape (n_maps,)
    """
    if n_splits < 1:
        raise ConfigError(format_problem("n_splits", "a positive integer", repr(n_splits), "use e.g. 100"))
    rng = np.random.default_rng(seed)
    maps, single = _maps(sal, "sal")
    counts = _fixation_counts(fix, maps.shape, single)
    negative_sets = [negatives] if single or not isinstance(negatives, (list, tuple)) else list(negatives)
    if len(negative_sets) == 1:
        negative_sets = negative_sets * len(maps)
    values = np.empty(len(maps))
    if not np.array_equal(counts, np.round(counts)):
        raise DataFormatError(format_problem("fix", "fixation positions or whole-number fixation counts",
                                             "a map with fractional weights", "pass the fixation coordinates"))
    for k, (saliency, count) in enumerate(zip(maps, counts)):
        other = _fixation_counts(negative_sets[k], (1,) + saliency.shape, True, where="negatives")[0]
        pool = np.repeat(saliency.reshape(-1), other.reshape(-1).astype(np.int64))
        positive = np.repeat(saliency.reshape(-1), count.reshape(-1).astype(np.int64))
        if all_negatives:
            values[k] = _mann_whitney_auc(positive, pool)
            continue
        size = min(len(positive), len(pool))
        draws = np.stack([rng.choice(len(pool), size=size, replace=False) for _ in range(n_splits)])
        values[k] = np.mean([_mann_whitney_auc(positive, pool[d]) for d in draws])
    return float(values[0]) if single else values


def _mann_whitney_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(positive > negative) + P(equal) / 2, the exact area under the full ROC curve."""
    negative = np.sort(negative)
    below = np.searchsorted(negative, positive, side="left")
    equal = np.searchsorted(negative, positive, side="right") - below
    return float((below + 0.5 * equal).sum() / (len(positive) * len(negative)))


def information_gain(model, baseline, fix, *, eps: float = EPS):
    """Information gain over a baseline, in bits per fixation (Kümmerer, Wallis & Bethge 2015, PNAS).

    Derivation.  Read a saliency model as a probability distribution
    ``p_model`` over the pixels of the image, and let the fixations
    ``x_1 .. x_N`` be samples of the (unknown) fixation distribution
    ``p_data``.  The model's average log-likelihood per fixation,
    ``(1/N) sum_i log2 p_model(x_i)``, estimates ``E_data[log2 p_model]
    = -H(p_data) - KL(p_data || p_model)``.  The entropy ``H(p_data)`` is the
    same for every model and unknown, so a difference of log-likelihoods is
    what can be measured.  Against a baseline (for example a centre bias that
    knows nothing of the image) it is::

        IG = (1/N) sum_i [log2 p_model(x_i) - log2 p_baseline(x_i)]
           ~ KL(p_data || p_baseline) - KL(p_data || p_model)

    the bits per fixation by which the model is closer to the fixation
    distribution than the baseline: > 0 when the model explains the
    fixations better, 0 when no better, unbounded below.  Both maps are
    normalised to sum 1 over the image first (a probability per pixel, so
    the pixel area cancels in the difference).  ``eps`` keeps a zero density
    finite: ``log2(eps + p)``; pysaliency uses no eps (``eps=0`` here).

    Parameters
    ----------
    model : array of shape (H, W) or (n_maps, H, W)
        Non-negative density (normalised here to sum 1).
    baseline : array of shape (H, W) or (n_maps, H, W)
        The explicit baseline density, e.g. a centre bias; one map is shared by a stack.
    fix : fixations (coordinates, list of them, or maps)
        Counted with multiplicity, as everywhere in this module.
    eps : float
        Regulariser inside the logarithms (default 2.2e-16; >= 0).  With
        ``eps=0`` a zero density at a fixation gives -inf or +inf.

    Returns
    -------
    float or array of shape (n_maps,)
        ``mean_i log2(eps + p_model(x_i)) - log2(eps + p_baseline(x_i))``.
    """
    if not eps >= 0:
        raise ConfigError(format_problem("eps", "a regulariser >= 0", repr(eps), "use the default 2.2e-16 or 0"))
    maps, single = _maps(model, "model")
    base, base_single = _maps(baseline, "baseline")
    if base_single and len(maps) > 1:
        base = np.broadcast_to(base, maps.shape)
    _same_shape(maps, base, "model, baseline")
    counts = _fixation_counts(fix, maps.shape, single)
    p_model, zero_model = _probability(maps, "model")
    p_base, zero_base = _probability(base, "baseline")
    with np.errstate(divide="ignore"):  # eps = 0: a zero density is -inf, as stated
        gain = np.log2(eps + p_model) - np.log2(eps + p_base)
    weights = counts.reshape(len(maps), -1)
    values = (gain.reshape(len(maps), -1) * weights).sum(1) / weights.sum(1)
    return _finish(values, zero_model | zero_base, single, "information_gain", "a density that sums to zero")


# -- distribution-based metrics ------------------------------------------------------------------------
def cc(sal, density):
    """Pearson correlation between a saliency map and the fixation density map.

    Returns
    -------
    float or array of shape (n_maps,)
    """
    maps, single = _maps(sal, "sal")
    target, _ = _maps(density, "density")
    _same_shape(maps, target, "sal, density")
    x = maps.reshape(len(maps), -1)
    y = target.reshape(len(maps), -1)
    constant = (np.ptp(x, axis=1) == 0) | (np.ptp(y, axis=1) == 0)  # exact, see nss
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    norm = np.sqrt((x ** 2).sum(1) * (y ** 2).sum(1))
    values = (x * y).sum(1) / np.where(constant, 1.0, norm)
    return _finish(values, constant, single, "cc", "a constant map (zero variance)")


def kld(sal, density, *, eps: float = EPS):
    """KL divergence KL(density || saliency), both normalised to sum 1, regulariser eps (lower is better).

    ``sum Q * log(eps + Q / (P + eps))`` with P the normalised saliency map
    and Q the normalised density (Bylinskii et al. 2019).  pysaliency's
    ``MIT_KLDiv`` is the same with ``eps=2.2204e-16`` (the rounded MATLAB eps);
    the default here is the unrounded ``np.finfo(float).eps``.

    Parameters
    ----------
    sal, density : arrays of shape (H, W) or (n_maps, H, W)
    eps : float
        Regulariser (default 2.220446049250313e-16; > 0).

    Returns
    -------
    float or array of shape (n_maps,)
    """
    maps, single = _maps(sal, "sal")
    target, _ = _maps(density, "density")
    _same_shape(maps, target, "sal, density")
    p, zero_p = _probability(maps, "sal")
    q, zero_q = _probability(target, "density")
    if not eps > 0:
        raise ConfigError(format_problem("eps", "a regulariser > 0", repr(eps), "use the default 2.2e-16"))
    values = (q * np.log(eps + q / (p + eps))).reshape(len(maps), -1).sum(1)
    return _finish(values, zero_p | zero_q, single, "kld", "a map that sums to zero")


def sim(sal, density):
    """Similarity (histogram intersection): sum of min(P, Q), both normalised to sum 1; in [0, 1].

    Returns
    -------
    float or array of shape (n_maps,)
    """
    maps, single = _maps(sal, "sal")
    target, _ = _maps(density, "density")
    _same_shape(maps, target, "sal, density")
    p, zero_p = _probability(maps, "sal")
    q, zero_q = _probability(target, "density")
    values = np.minimum(p, q).reshape(len(maps), -1).sum(1)
    return _finish(values, zero_p | zero_q, single, "sim", "a map that sums to zero")


# -- fixation density ----------------------------------------------------------------------------------
def fixation_density(fixations_xy, image_size, sigma_deg: float = 1.0, px_per_deg: float | None = None,
                     weights=None, *, geometry=None) -> np.ndarray:
    """Fixation density map: a sum of isotropic Gaussians at the fixations, normalised to sum 1.

    Parameters
    ----------
    fixations_xy : array of shape (n_fixations, 2)
        x, y in pixels (origin top-left); sub-pixel positions are kept exactly.
    image_size : (width, height)
    sigma_deg : float
        Gaussian sigma in degrees of visual angle (1 degree is a common choice).
    px_per_deg : float, optional
        Pixels per degree; default ``geometry.px_per_deg``.  One of the two is
        required (there is no default screen): ConfigError otherwise.
    weights : array of shape (n_fixations,), optional
        E.g. fixation durations; default 1 per fixation.
    geometry : ScreenGeometry, optional
        The data's geometry (``fixations.geometry``), read when ``px_per_deg`` is None.

    Returns
    -------
    density : float array of shape (height, width)
        Evaluated at pixel centres (col + 0.5, row + 0.5); mass falling outside
        the image is dropped before the normalisation, so the map sums to 1.
    """
    from cogmodels.data.geometry import resolve_px_per_deg

    width, height = (int(v) for v in image_size)
    if px_per_deg is None or geometry is not None:
        px_per_deg = resolve_px_per_deg(px_per_deg, geometry, "fixation_density px_per_deg")
    if not (sigma_deg > 0 and px_per_deg > 0):
        raise ConfigError(format_problem("sigma_deg, px_per_deg", "positive numbers",
                                         f"{sigma_deg!r}, {px_per_deg!r}", "use the screen geometry"))
    xy = np.asarray(fixations_xy, dtype=float).reshape(-1, 2) if np.size(fixations_xy) else np.zeros((0, 2))
    if len(xy) == 0:
        raise DataFormatError(format_problem("fixations_xy", "at least one fixation", "none",
                                             "a density of no fixations is undefined; drop this image"))
    if not np.isfinite(xy).all():
        raise DataFormatError(format_problem("fixations_xy", "finite x, y", "NaN/inf", "drop missing fixations"))
    weights = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=float)
    if weights.shape != (len(xy),) or (weights < 0).any() or weights.sum() <= 0:
        raise DataFormatError(format_problem("weights", "one non-negative weight per fixation, not all zero",
                                             f"shape {weights.shape}", "pass e.g. the durations"))
    sigma = sigma_deg * px_per_deg
    # Separable: density = sum_i w_i g_y(i) g_x(i)^T, i.e. one (H, n) @ (n, W) product.
    gx = np.exp(-0.5 * ((np.arange(width) + 0.5)[None, :] - xy[:, :1]) ** 2 / sigma ** 2)
    gy = np.exp(-0.5 * ((np.arange(height) + 0.5)[None, :] - xy[:, 1:]) ** 2 / sigma ** 2)
    density = (gy * weights[:, None]).T @ gx
    total = density.sum()
    if not total > 0:
        raise DataFormatError(format_problem("fixations_xy", "fixations whose Gaussians reach the image",
                                             "all mass outside the image", "check the coordinates and sigma"))
    return density / total
