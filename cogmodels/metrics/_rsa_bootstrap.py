"""Stimulus bootstrap of RSA scores and noise ceilings (re-exported as ``cogmodels.metrics.rsa.bootstrap``).

A bootstrap sample draws n stimuli with replacement.  Its RDM, as rsatoolbox's
``RDMs.subsample_pattern`` builds it, holds each pair of distinct stimuli (i, j)
``c_i * c_j`` times (``c`` = copies drawn) and drops the pairs of a stimulus with its
own copies.  Instead of building that expanded vector, every statistic here is
computed on the original upper triangle with integer pair weights ``w = c_i c_j``:
ranks with ties (average rank), means, z-scores and Pearson r are the same numbers
as on the expanded vector.  :func:`_expanded_scores` computes them the direct way
(used for Kendall tau-a, and by the tests to check the weighted path).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from cogmodels.errors import DataFormatError, ShapeError, format_problem

log = logging.getLogger(__name__)

_CHUNK = 64  # bootstrap samples processed together


@dataclass
class RSABootstrap:
    """Scores of model RDMs against data RDMs, with stimulus-bootstrap CIs.

    Attributes
    ----------
    method : str
    scores : float64 array of shape (n_models,)
        Mean over data RDMs of ``compare(model, data)`` on all stimuli.
    scores_per_rdm : float64 array of shape (n_models, n_data)
    samples : float64 array of shape (n_boot, n_models)
        The mean score in each bootstrap sample (NaN for a sample with < 3 distinct stimuli).
    ci : float64 array of shape (n_models, 2)
        Percentile interval (``ci_level``) of ``samples``.
    ceiling : float64 array of shape (2,) or None
        (lower, upper) noise ceiling on all stimuli; None with one data RDM.
    ceiling_samples : float64 array of shape (n_boot, 2) or None
    ceiling_ci : float64 array of shape (2, 2) or None
        Rows lower / upper, columns CI low / high.
    ci_level : float
    seed : int or None
    """

    method: str
    scores: np.ndarray
    scores_per_rdm: np.ndarray
    samples: np.ndarray
    ci: np.ndarray
    ceiling: np.ndarray | None
    ceiling_samples: np.ndarray | None
    ceiling_ci: np.ndarray | None
    ci_level: float
    seed: int | None


def bootstrap(model_rdms, data_rdms, method: str = "spearman", n_boot: int = 1000, ci: float = 0.95, seed=0,
              indices=None, ceiling: bool = True, progress: bool = False) -> RSABootstrap:
    """Compare model RDMs with data RDMs, with CIs from resampling stimuli (Nili et al. 2014).

    Parameters
    ----------
    model_rdms : array of shape (n_models, n_stimuli, n_stimuli) or (n_stimuli, n_stimuli)
    data_rdms : array of shape (n_data, n_stimuli, n_stimuli) or (n_stimuli, n_stimuli)
        E.g. one RDM per subject.
    method : {"spearman", "pearson", "kendall_tau_a"}
        Kendall tau-a is computed per sample on the expanded vectors (slow: ~ms per pair of RDMs).
    n_boot : int
    ci : float
        Level of the percentile intervals.
    seed : int or numpy Generator
        Seeds the stimulus draws (ignored when ``indices`` is given).
    indices : int array of shape (n_boot, n_stimuli), optional
        The resampled stimulus indices, e.g. to reproduce another tool's draws.
    ceiling : bool
        Also bootstrap the noise ceiling (needs >= 2 data RDMs).
    progress : bool
        Show a tqdm bar over the samples.

    Returns
    -------
    RSABootstrap
    """
    from cogmodels.metrics import rsa

    rsa._check_method(method)
    models = _stack(model_rdms, "model_rdms")
    data = _stack(data_rdms, "data_rdms")
    if models.shape[1] != data.shape[1]:
        raise ShapeError(format_problem("model_rdms/data_rdms", "RDMs of the same size (the same stimuli)",
                                        f"{models.shape[1]}x{models.shape[1]} and {data.shape[1]}x{data.shape[1]}",
                                        "compute every RDM over the same stimuli, in the same order"))
    if not 0 < ci < 1:
        raise DataFormatError(format_problem("ci", "a level in (0, 1)", repr(ci), "use e.g. ci=0.95"))
    n = models.shape[1]
    model_vecs, data_vecs = rsa.upper(models), rsa.upper(data)
    per_rdm = np.array([[rsa._compare_vectors(m, d, method) for d in data_vecs] for m in model_vecs])
    with_ceiling = ceiling and len(data_vecs) >= 2
    full_ceiling = np.array(rsa.noise_ceiling(data, method)) if with_ceiling else None

    if indices is None:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        indices = rng.integers(0, n, size=(int(n_boot), n))
    indices = np.asarray(indices)
    if indices.ndim != 2 or indices.shape[1] != n or not np.issubdtype(indices.dtype, np.integer) \
            or indices.min() < 0 or indices.max() >= n:
        raise ShapeError(format_problem("indices", f"integer stimulus indices in [0, {n}) of shape (n_boot, {n})",
                                        f"shape {indices.shape}, dtype {indices.dtype}", "draw n indices per sample"))
    n_boot = indices.shape[0]
    samples = np.full((n_boot, len(model_vecs)), np.nan)
    ceiling_samples = np.full((n_boot, 2), np.nan) if with_ceiling else None
    i_pair, j_pair = np.triu_indices(n, k=1)
    starts = range(0, n_boot, _CHUNK)
    for start in tqdm(starts, desc=f"RSA bootstrap ({method})", disable=not progress, unit="chunk"):
        rows = slice(start, start + _CHUNK)
        counts = np.zeros((indices[rows].shape[0], n))
        np.add.at(counts, (np.arange(counts.shape[0])[:, None], indices[rows]), 1.0)
        weights = counts[:, i_pair] * counts[:, j_pair]  # (b, n_pairs) copies of each pair
        ok = (counts > 0).sum(axis=1) >= 3  # as rsatoolbox: fewer than 3 distinct stimuli -> NaN
        if not ok.any():
            continue
        w = weights[ok]
        if method == "kendall_tau_a":
            chunk, chunk_ceiling = zip(*(_expanded_scores(model_vecs, data_vecs, wb, method, with_ceiling)
                                         for wb in w))
            chunk, chunk_ceiling = np.array(chunk), np.array(chunk_ceiling)
        else:
            chunk, chunk_ceiling = _weighted_scores(model_vecs, data_vecs, w, method, with_ceiling)
        samples[np.arange(start, start + counts.shape[0])[ok]] = chunk
        if with_ceiling:
            ceiling_samples[np.arange(start, start + counts.shape[0])[ok]] = chunk_ceiling
    q = [100 * (1 - ci) / 2, 100 * (1 + ci) / 2]
    return RSABootstrap(
        method=method, scores=per_rdm.mean(axis=1), scores_per_rdm=per_rdm, samples=samples,
        ci=np.nanpercentile(samples, q, axis=0).T, ceiling=full_ceiling, ceiling_samples=ceiling_samples,
        ceiling_ci=np.nanpercentile(ceiling_samples, q, axis=0).T if with_ceiling else None, ci_level=float(ci),
        seed=None if isinstance(seed, np.random.Generator) else seed)


def _stack(rdms, where: str) -> np.ndarray:
    from cogmodels.metrics import rsa

    if np.ndim(rdms) == 2:
        return rsa.check_rdms(np.asarray(rdms)[None], where)
    return rsa.check_rdms(rdms, where)


# -- weighted statistics (pair weights = copies in the expanded bootstrap vector) ---------------
def weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties averaged) of ``values`` repeated ``weights`` times.

    Parameters
    ----------
    values : array of shape (n_pairs,) or (n_samples, n_pairs)
    weights : array of shape (n_samples, n_pairs), non-negative integers

    Returns
    -------
    ranks : float64 array of shape (n_samples, n_pairs)
        The rank each copy gets in ``scipy.stats.rankdata`` of the expanded vector
        (arbitrary where the weight is 0).
    """
    b, p = weights.shape
    if values.ndim == 1:
        order = np.broadcast_to(np.argsort(values, kind="stable"), (b, p))
        sorted_values = np.broadcast_to(values[order[0]], (b, p))
    else:
        order = np.argsort(values, axis=1, kind="stable")
        sorted_values = np.take_along_axis(values, order, axis=1)
    sorted_w = np.take_along_axis(weights, order, axis=1)
    cum = np.cumsum(sorted_w, axis=1)
    new = np.ones((b, p), dtype=bool)
    new[:, 1:] = sorted_values[:, 1:] != sorted_values[:, :-1]
    positions = np.arange(p)
    first = np.maximum.accumulate(np.where(new, positions, 0), axis=1)  # first position of each tie group
    last_flag = np.ones((b, p), dtype=bool)
    last_flag[:, :-1] = new[:, 1:]
    last = np.minimum.accumulate(np.where(last_flag, positions, p - 1)[:, ::-1], axis=1)[:, ::-1]
    before = np.take_along_axis(cum, first, axis=1) - np.take_along_axis(sorted_w, first, axis=1)
    group = np.take_along_axis(cum, last, axis=1) - before
    ranks = np.empty((b, p))
    np.put_along_axis(ranks, order, before + (group + 1.0) / 2.0, axis=1)
    return ranks


def _unit(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted centring and scaling so that Pearson r = sum of products; shape (..., b, p)."""
    total = weights.sum(axis=-1, keepdims=True)
    centred = x - (x * weights).sum(axis=-1, keepdims=True) / total
    scaled = centred * np.sqrt(weights)
    norm = np.sqrt((scaled ** 2).sum(axis=-1, keepdims=True))
    return scaled / np.where(norm == 0, np.nan, norm)


def _zscore(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=-1, keepdims=True)
    mean = (x * weights).sum(axis=-1, keepdims=True) / total
    sd = np.sqrt((((x - mean) ** 2) * weights).sum(axis=-1, keepdims=True) / total)
    return (x - mean) / sd


def _weighted_scores(model_vecs, data_vecs, w, method, with_ceiling):
    """Mean score per model (b, n_models) and the ceiling (b, 2) for Spearman / Pearson, weighted."""
    if method == "spearman":
        model_x = np.stack([weighted_ranks(v, w) for v in model_vecs])  # (M, b, p)
        data_x = np.stack([weighted_ranks(v, w) for v in data_vecs])    # (S, b, p)
    else:
        model_x = np.broadcast_to(model_vecs[:, None, :], (len(model_vecs), *w.shape))
        data_x = np.broadcast_to(data_vecs[:, None, :], (len(data_vecs), *w.shape))
    data_u = _unit(data_x, w)
    scores = np.einsum("mbp,sbp->bm", _unit(model_x, w), data_u) / len(data_vecs)
    if not with_ceiling:
        return scores, None
    # pooled RDM: mean of ranks (spearman) or of z-scores (pearson), as rsatoolbox.pool_rdm
    parts = data_x if method == "spearman" else _zscore(data_x, w)
    total = parts.sum(axis=0)
    n_data = len(data_vecs)

    def pooled_unit(pooled):
        return _unit(weighted_ranks(pooled, w) if method == "spearman" else pooled, w)

    upper = np.einsum("bp,sbp->b", pooled_unit(total / n_data), data_u) / n_data
    lower = np.mean([np.einsum("bp,bp->b", pooled_unit((total - parts[s]) / (n_data - 1)), data_u[s])
                     for s in range(n_data)], axis=0)
    return scores, np.stack([lower, upper], axis=1)


def _expanded_scores(model_vecs, data_vecs, weights, method, with_ceiling):
    """One sample the direct way: expand each pair ``weights`` times, then the plain statistics."""
    from cogmodels.metrics import rsa

    reps = weights.astype(np.int64)
    models = [np.repeat(v, reps) for v in model_vecs]
    data = np.stack([np.repeat(v, reps) for v in data_vecs])
    scores = np.array([np.mean([rsa._compare_vectors(m, d, method) for d in data]) for m in models])
    if not with_ceiling:
        return scores, np.full(2, np.nan)
    pooled = rsa._pool(data, method)
    upper = np.mean([rsa._compare_vectors(pooled, d, method) for d in data])
    keep = ~np.eye(len(data), dtype=bool)
    lower = np.mean([rsa._compare_vectors(rsa._pool(data[keep[s]], method), data[s], method)
                     for s in range(len(data))])
    return scores, np.array([lower, upper])
