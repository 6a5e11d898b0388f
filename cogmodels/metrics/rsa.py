"""Representational similarity analysis (RSA): RDMs, their comparison, noise ceilings, bootstrap CIs.

Kriegeskorte, Mur & Bandettini (2008), "Representational similarity analysis -
connecting the branches of systems neuroscience", Front. Syst. Neurosci. 2:4;
noise ceiling and stimulus bootstrap after Nili et al. (2014), "A toolbox for
representational similarity analysis", PLoS Comput. Biol. 10(4): e1003553.

Public API (outside evaluations call these names)::

    rsa.rdm(X, metric="correlation")              # (n_stimuli, n_features) -> (n_stimuli, n_stimuli)
    rsa.compare(rdm_a, rdm_b, method="spearman")  # upper triangles (k=1) -> float
    rsa.noise_ceiling(rdms, method="spearman")    # (n_subjects, n, n) -> (lower, upper)
    rsa.bootstrap(model_rdms, data_rdms, ...)     # stimulus bootstrap CIs of scores and ceiling

Conventions (each checked against rsatoolbox 0.3 in ``tests/metrics/test_rsa.py``):

- ``rdm(metric="correlation")`` is ``1 - Pearson r`` between rows, as rsatoolbox's
  ``calc_rdm(method="correlation")``.  ``metric="euclidean"`` is the plain Euclidean
  distance ``||x_i - x_j||``; rsatoolbox's ``"euclidean"`` is the *squared* distance
  divided by n_features, i.e. ours squared / n_features.
- ``compare`` reads the upper triangle without the diagonal.  ``"spearman"`` is the
  Pearson r of the ranks (ties get their average rank; rsatoolbox ``"spearman"``),
  ``"pearson"`` is rsatoolbox ``"corr"``, ``"kendall_tau_a"`` is rsatoolbox ``"tau-a"``:
  (concordant - discordant pairs) / (n (n - 1) / 2), ties in the denominator.
- ``noise_ceiling``: upper bound = mean over subjects of compare(subject, pooled RDM of
  all subjects); lower bound = the same with each subject left out of the pool.  The
  pooled RDM is the one that maximises the mean comparison (Nili et al. 2014, as
  rsatoolbox's ``pool_rdm``): the mean of the ranked RDMs for ``"spearman"`` and
  ``"kendall_tau_a"``, the mean of the z-scored RDMs for ``"pearson"``.  With the plain
  mean instead the bounds differ in the 3rd decimal on the 92-image data.
- ``bootstrap`` resamples stimuli with replacement (rsatoolbox ``eval_bootstrap_pattern``):
  a resampled RDM keeps every pair of distinct stimuli once per (copy, copy) and drops
  the pairs of a stimulus with its own copies (their zero distance is trivially predicted).
  Scores are computed exactly on that expanded vector, through pair weights instead of
  copies (ranks and correlations with integer weights).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import stats

from cogmodels.data.checks import check_array
from cogmodels.errors import DataFormatError, ShapeError, format_problem

log = logging.getLogger(__name__)

METRICS = ("correlation", "euclidean")
METHODS = ("spearman", "pearson", "kendall_tau_a")
_FEATURE_BLOCK = 1 << 16  # features per block when accumulating Gram matrices in float64


# -- validators ---------------------------------------------------------------------------
def _tolerance(rdm: np.ndarray) -> float:
    scale = float(np.max(np.abs(rdm))) if rdm.size else 0.0
    return 1e-8 * max(1.0, scale)


def check_rdm(rdm, where: str = "rdm") -> np.ndarray:
    """Check one RDM: square (n, n) with n >= 3, finite, symmetric, zero diagonal.

    Returns it as float64.  Symmetry and the diagonal are checked to 1e-8 of the
    largest dissimilarity (files stored as float32 pass; a swapped triangle does not).
    """
    rdm = check_array(rdm, where, ndim=2, dtype="number").astype(np.float64)
    if rdm.shape[0] != rdm.shape[1]:
        raise ShapeError(format_problem(where, "a square RDM of shape (n_stimuli, n_stimuli)", f"shape {rdm.shape}",
                                        "build it with rsa.rdm(X) from (n_stimuli, n_features) patterns"))
    if rdm.shape[0] < 3:
        raise ShapeError(format_problem(where, "at least 3 stimuli (a 3x3 RDM has 3 pairs)", f"shape {rdm.shape}",
                                        "compare RDMs over more stimuli"))
    if not np.all(np.isfinite(rdm)):
        raise DataFormatError(format_problem(where, "finite dissimilarities", f"{int((~np.isfinite(rdm)).sum())} "
                                             "NaN/inf entries", "compute the RDM from complete patterns"))
    tol = _tolerance(rdm)
    asym = np.abs(rdm - rdm.T)
    if asym.max() > tol:
        i, j = np.unravel_index(int(np.argmax(asym)), asym.shape)
        raise DataFormatError(format_problem(
            where, "a symmetric RDM (rdm[i, j] == rdm[j, i])",
            f"rdm[{i}, {j}] = {rdm[i, j]:.6g} but rdm[{j}, {i}] = {rdm[j, i]:.6g} ({int((asym > tol).sum() // 2)} "
            "asymmetric pairs)", "symmetrise it ((rdm + rdm.T) / 2) if the asymmetry is noise, else check its source"))
    diagonal = np.abs(np.diag(rdm))
    if diagonal.max() > tol:
        i = int(np.argmax(diagonal))
        raise DataFormatError(format_problem(
            where, "zeros on the diagonal (a stimulus is not dissimilar to itself)",
            f"rdm[{i}, {i}] = {rdm[i, i]:.6g} ({int((diagonal > tol).sum())} non-zero diagonal entries)",
            "pass a dissimilarity matrix, not a similarity or correlation matrix (use 1 - r)"))
    return rdm


def check_rdms(rdms, where: str = "rdms") -> np.ndarray:
    """Check a stack of RDMs of the same size: array of shape (n_rdms, n, n); each passes :func:`check_rdm`."""
    if isinstance(rdms, (list, tuple)):
        sizes = {np.shape(r) for r in rdms}
        if len(sizes) > 1:
            raise ShapeError(format_problem(where, "RDMs of the same size (the same stimuli)",
                                            f"shapes {sorted(sizes)}", "compute every RDM over the same stimuli"))
    rdms = check_array(rdms, where, ndim=3, dtype="number")
    return np.stack([check_rdm(r, f"{where}[{k}]") for k, r in enumerate(rdms)])


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise DataFormatError(format_problem("method", f"one of {METHODS}", repr(method), "pick one of those"))
    return method


def upper(rdm: np.ndarray) -> np.ndarray:
    """Upper triangle without the diagonal (k=1), row by row: shape (..., n (n - 1) / 2)."""
    n = rdm.shape[-1]
    i, j = np.triu_indices(n, k=1)
    return rdm[..., i, j]


def square(vector, where: str = "rdm vector") -> np.ndarray:
    """The (n, n) RDM of an upper-triangle vector (row-major, k=1; MATLAB ``squareform`` order)."""
    vector = check_array(vector, where, ndim=1, dtype="number").astype(np.float64)
    n = int(round((1 + np.sqrt(1 + 8 * vector.size)) / 2))
    if n * (n - 1) // 2 != vector.size:
        raise ShapeError(format_problem(where, "n (n - 1) / 2 entries (an upper triangle)", f"{vector.size}",
                                        "pass the condensed upper triangle of a square RDM"))
    out = np.zeros((n, n))
    i, j = np.triu_indices(n, k=1)
    out[i, j] = out[j, i] = vector
    return out


# -- RDMs ---------------------------------------------------------------------------------
def rdm(X, metric: str = "correlation") -> np.ndarray:
    """Representational dissimilarity matrix of stimulus patterns.

    Parameters
    ----------
    X : array of shape (n_stimuli, n_features)
        One pattern per stimulus (e.g. flattened layer activations).
    metric : {"correlation", "euclidean"}
        ``"correlation"``: 1 - Pearson r between rows; ``"euclidean"``: the Euclidean
        distance (not squared, not divided by n_features; see the module docstring).

    Returns
    -------
    rdm : float64 array of shape (n_stimuli, n_stimuli)
        Symmetric, zeros on the diagonal.  Accumulated in float64 over feature blocks,
        so a large float32 layer is not copied whole.

    Raises
    ------
    DataFormatError
        For an unknown metric, non-finite values, or (correlation) rows with zero variance.
    """
    if metric not in METRICS:
        raise DataFormatError(format_problem("metric", f"one of {METRICS}", repr(metric), "pick one of those"))
    X = check_array(X, "X", ndim=2, dtype="number", finite=True)
    n, p = X.shape
    if n < 2 or p < 1:
        raise ShapeError(format_problem("X", "shape (n_stimuli >= 2, n_features >= 1)", f"shape {X.shape}",
                                        "pass one pattern per stimulus"))
    gram = np.zeros((n, n))
    sums = np.zeros(n)
    for start in range(0, p, _FEATURE_BLOCK):
        block = np.asarray(X[:, start:start + _FEATURE_BLOCK], dtype=np.float64)
        gram += block @ block.T
        sums += block.sum(axis=1)
    if metric == "correlation":
        mean = sums / p
        cov = gram - p * np.outer(mean, mean)  # centred cross products
        var = np.diag(cov).copy()
        # exact test for constant rows: the float variance of equal values need not be 0
        constant = np.array([np.ptp(X[i]) == 0 for i in range(n)]) if np.any(var <= 1e-12 * np.abs(gram).max()) \
            else np.zeros(n, dtype=bool)
        if constant.any():
            raise DataFormatError(format_problem(
                "X", "rows with non-zero variance (correlation distance needs it)",
                f"{int(constant.sum())} constant rows, e.g. stimulus rows {np.flatnonzero(constant)[:5].tolist()}",
                "drop those stimuli, use metric='euclidean', or pick a layer that responds to them"))
        sd = np.sqrt(var)
        out = 1.0 - cov / np.outer(sd, sd)
    else:
        sq = np.diag(gram)
        out = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * gram, 0.0))
    out = (out + out.T) / 2.0
    np.fill_diagonal(out, 0.0)
    return out


# -- comparisons --------------------------------------------------------------------------
def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
    if denom == 0:
        raise DataFormatError(format_problem("RDMs", "dissimilarities that vary across pairs",
                                             "a constant RDM (its correlation with any RDM is undefined)",
                                             "check that the RDM was computed from distinct patterns"))
    return float(np.dot(a, b) / denom)


def _tie_pairs(values: np.ndarray) -> int:
    _, counts = np.unique(values, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def _tau_a(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall tau-a = (concordant - discordant) / (n (n - 1) / 2), through scipy's exact tau-b."""
    total = a.size * (a.size - 1) // 2
    untied = np.sqrt(float(total - _tie_pairs(a)) * float(total - _tie_pairs(b)))
    if untied == 0:
        return 0.0  # one side constant: no concordant or discordant pair
    tau_b = stats.kendalltau(a, b).statistic
    return float(np.clip(tau_b * untied / total, -1.0, 1.0))


def _compare_vectors(a: np.ndarray, b: np.ndarray, method: str) -> float:
    if method == "spearman":
        return _pearson(stats.rankdata(a), stats.rankdata(b))
    if method == "pearson":
        return _pearson(a, b)
    return _tau_a(a, b)


def compare(rdm_a, rdm_b, method: str = "spearman") -> float:
    """Similarity of two RDMs over their upper triangles (k=1).

    Parameters
    ----------
    rdm_a, rdm_b : arrays of shape (n_stimuli, n_stimuli)
        Symmetric, zero diagonal, the same stimuli in the same order.
    method : {"spearman", "pearson", "kendall_tau_a"}

    Returns
    -------
    float
        The correlation, in [-1, 1].

    Raises
    ------
    ShapeError
        RDMs of different sizes.
    DataFormatError
        An RDM that is not symmetric, has a non-zero diagonal or NaN; an unknown method.
    """
    _check_method(method)
    shape_a, shape_b = np.shape(rdm_a), np.shape(rdm_b)
    if len(shape_a) == len(shape_b) == 2 and shape_a != shape_b:
        raise ShapeError(format_problem("rdm_a/rdm_b", "RDMs of the same size (the same stimuli)",
                                        f"shapes {shape_a} and {shape_b}",
                                        "compute both RDMs over the same stimuli, in the same order"))
    a, b = check_rdm(rdm_a, "rdm_a"), check_rdm(rdm_b, "rdm_b")
    return _compare_vectors(upper(a), upper(b), method)


# -- noise ceiling ------------------------------------------------------------------------
def _pool(vectors: np.ndarray, method: str) -> np.ndarray:
    """The RDM vector (n_pairs,) that maximises the mean comparison with ``vectors`` (n_rdms, n_pairs)."""
    if method == "pearson":
        z = (vectors - vectors.mean(axis=1, keepdims=True)) / vectors.std(axis=1, keepdims=True)
        return z.mean(axis=0)
    return np.mean([stats.rankdata(v) for v in vectors], axis=0)


def noise_ceiling(rdms, method: str = "spearman") -> tuple[float, float]:
    """Lower and upper bounds of the best achievable mean comparison (Nili et al. 2014).

    Parameters
    ----------
    rdms : array of shape (n_subjects, n_stimuli, n_stimuli)
        One RDM per subject (at least 2).
    method : {"spearman", "pearson", "kendall_tau_a"}

    Returns
    -------
    lower, upper : float
        ``upper`` = mean over subjects of compare(subject, pooled RDM of all subjects);
        ``lower`` = the same with the subject left out of the pool.  The pooled RDM is
        the mean of the ranked ("spearman", "kendall_tau_a") or z-scored ("pearson")
        RDMs, as rsatoolbox and Nili et al. 2014.
    """
    _check_method(method)
    rdms = check_rdms(rdms, "rdms")
    if rdms.shape[0] < 2:
        raise ShapeError(format_problem("rdms", "at least 2 subject RDMs (n_subjects, n, n)", f"shape {rdms.shape}",
                                        "a noise ceiling needs several subjects"))
    vectors = upper(rdms)
    pooled = _pool(vectors, method)
    upper_bound = np.mean([_compare_vectors(pooled, v, method) for v in vectors])
    keep = ~np.eye(len(vectors), dtype=bool)
    lower_bound = np.mean([_compare_vectors(_pool(vectors[keep[s]], method), vectors[s], method)
                           for s in range(len(vectors))])
    return float(lower_bound), float(upper_bound)


from cogmodels.metrics._rsa_bootstrap import RSABootstrap, bootstrap  # noqa: E402  (re-exported API)

__all__ = ["METHODS", "METRICS", "RSABootstrap", "bootstrap", "check_rdm", "check_rdms", "compare",
           "noise_ceiling", "rdm", "square", "upper"]
