"""The linear algebra of :class:`~cogmodels.encoders.ridge.RidgeCV`: one decomposition per fold, fused CV scores.

See the module docstring of :mod:`cogmodels.encoders.ridge` for the method
(eigendecomposition in primal or kernel form; CV scores of every alpha from
(k, n_targets) statistics by partial fractions; the direct reference beside it).
"""

from __future__ import annotations

import logging

import torch

logger = logging.getLogger("cogmodels.encoders.ridge")

_CLUSTER_RTOL = 1e-6  # relative eigenvalue gap below which partial fractions are not used
_BLOCK_ELEMENTS = 2 ** 24  # float64 elements per block when casting X (128 MiB)


# -- decomposition -------------------------------------------------------------------
class _Spectrum:
    """Eigendecomposition of one centred training set, ``X_c = U diag(s) V^T``.

    Attributes
    ----------
    eigenvalues : float64 tensor of shape (k,)     lambda = s**2 (numerically null ones dropped)
    left : tensor of shape (n_train, k)            U
    val_basis : tensor of shape (n_val, k)         A = X_val_c V diag(s), or None
    weights : tensor of shape (n_features, k)      V diag(s), for coefficients, or None
    gram : float64 tensor of shape (k, k)          G = A^T A (fused scoring), or None
    val_sum : float64 tensor of shape (k,)         A^T 1 (fused Pearson r), or None
    coupling : float64 tensor of shape (k, k)      H of :func:`_coupling` (fused scoring), or None
    clusters : list of index tensors               near-equal eigenvalues (fused scoring)
    """

    def __init__(self, eigenvalues, left):
        self.eigenvalues, self.left = eigenvalues, left
        self.val_basis = self.weights = self.gram = self.val_sum = self.coupling = None
        self.clusters = []


def _mean(X, idx) -> torch.Tensor:
    """Float64 column means of X[idx], shape (n_features,)."""
    return sum(X[idx[i:i + 4096]].sum(0, dtype=torch.float64) for i in range(0, len(idx), 4096)) / len(idx)


def _blocks(n: int, width: int):
    step = max(1, _BLOCK_ELEMENTS // max(width, 1))
    return [slice(i, i + step) for i in range(0, n, step)]


def _rows64(X, idx, mean, cols=slice(None)) -> torch.Tensor:
    """Centred float64 block X[idx, cols] - mean[cols]."""
    block = X[idx][:, cols].double()
    return block if mean is None else block - mean[cols]


def _self_product(block):
    return block.T @ block


def _decompose(X, train_idx, x_mean, *, val_idx=None, with_gram=False, with_weights=False) -> _Spectrum:
    """Float64 eigendecomposition of the centred X[train_idx] (primal or kernel form)."""
    n_train, n_features = len(train_idx), X.shape[1]
    dtype = X.dtype
    if n_train >= n_features:  # primal: Gram X_c^T X_c of shape (p, p)
        gram = sum(_self_product(_rows64(X, train_idx[r], x_mean)) for r in _blocks(n_train, n_features))
        eigenvalues, V = _eigh_nonnull(gram)
        s = eigenvalues.sqrt()
        left = torch.cat([(_rows64(X, train_idx[r], x_mean) @ V) / s for r in _blocks(n_train, n_features)])
        weights = V * s
        val_basis = None if val_idx is None else torch.cat(
            [_rows64(X, val_idx[r], x_mean) @ weights for r in _blocks(len(val_idx), n_features)])
    else:  # kernel: X_c X_c^T of shape (n_train, n_train); cheaper when n_train < p
        kernel = 0
        kernel_val = 0
        for c in _blocks(n_features, n_train + (0 if val_idx is None else len(val_idx))):
            train_block = _rows64(X, train_idx, x_mean, c)
            kernel = kernel + train_block @ train_block.T
            if val_idx is not None:
                kernel_val = kernel_val + _rows64(X, val_idx, x_mean, c) @ train_block.T
        eigenvalues, left = _eigh_nonnull(kernel)
        val_basis = None if val_idx is None else kernel_val @ left  # X_val_c X_c^T U = X_val_c V S
        weights = None
        if with_weights:  # V S = X_c^T U, by feature blocks
            weights = torch.cat([_rows64(X, train_idx, x_mean, c).T @ left
                                 for c in _blocks(n_features, n_train)])
    logger.debug("ridge decomposition: %s form, %d training samples x %d features, rank %d",
                 "primal" if n_train >= n_features else "kernel", n_train, n_features, eigenvalues.numel())
    spectrum = _Spectrum(eigenvalues, left.to(dtype))
    if val_basis is not None:
        spectrum.val_basis = val_basis.to(dtype)
        if with_gram:
            spectrum.gram, spectrum.val_sum = val_basis.T @ val_basis, val_basis.sum(0)
            spectrum.coupling, spectrum.clusters = _coupling(eigenvalues, spectrum.gram)
    if with_weights:
        spectrum.weights = weights.to(dtype)
    return spectrum


def _eigh_nonnull(matrix) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenpairs of a symmetric PSD matrix, without the numerically null ones (rank deficiency)."""
    eigenvalues, vectors = torch.linalg.eigh(matrix)
    tolerance = eigenvalues[-1].clamp(min=0) * matrix.shape[0] * torch.finfo(torch.float64).eps
    keep = eigenvalues > tolerance
    if not keep.any():  # X is constant: no direction to fit
        return eigenvalues[:0], vectors[:, :0]
    return eigenvalues[keep], vectors[:, keep]


def _centre_pair(Y, train_idx, val_idx, centre: bool):
    """Copies of Y[train] and Y[val], both minus the training mean when ``centre``."""
    Y_train, Y_val = Y[train_idx], Y[val_idx]
    if centre:  # in place: large fresh temporaries cost page faults
        mean = Y_train.sum(0) / len(train_idx)  # torch sums float32 by cascades: no float64 copy needed
        Y_train -= mean
        Y_val -= mean
    return Y_train, Y_val


# -- CV scoring ------------------------------------------------------------------------
def _criterion(scoring, y, sum_p, sum_pp, sum_yp):
    """Scores (n_alphas, n_targets) from float64 sufficient statistics; undefined -> 0 (count returned).

    ``y`` (n_val, n_targets) is the validation data minus the training mean; the
    sums of predictions ``p`` over validation samples are of shape (n_alphas, n_targets).
    """
    n_val = y.shape[0]
    sum_y, sum_yy = y.sum(0), (y * y).sum(0)
    if scoring == "neg_mse":
        return -(sum_yy - 2 * sum_yp + sum_pp) / n_val, 0
    constant_y = y.amax(0) == y.amin(0)  # exact test; a float variance need not be exactly 0
    var_y = (sum_yy - sum_y * sum_y / n_val).clamp(min=0)
    if scoring == "r2":
        score = 1 - (sum_yy - 2 * sum_yp + sum_pp) / torch.where(constant_y, 1.0, var_y)
        return torch.where(constant_y, 0.0, score), int(constant_y.sum())
    var_p = (sum_pp - sum_p ** 2 / n_val).clamp(min=0)
    # constant predictions: their variance is rounding noise of the sum of squares
    undefined = constant_y | (var_p <= 1e-12 * sum_pp)
    score = (sum_yp - sum_y * sum_p / n_val) / torch.where(undefined, 1.0, (var_y * var_p).sqrt())
    return torch.where(undefined, 0.0, score), int(undefined.all(0).sum())


def _fold_scores_direct(spectrum, Y_train, Y_val, alphas, scoring, a_batch):
    """Reference: form the validation predictions of each alpha batch and score them.

    Returns scores of shape (n_alphas, n_targets) and the count of undefined targets.
    """
    B = spectrum.left.T @ Y_train  # (k, t)
    y = Y_val.double()
    scores, n_undefined = [], 0
    for start in range(0, len(alphas), a_batch):
        filters = 1.0 / (spectrum.eigenvalues[None, :] + alphas[start:start + a_batch, None])  # (a, k)
        predictions = (spectrum.val_basis @ (filters.to(B.dtype)[:, :, None] * B[None])).double()  # (a, n_val, t)
        score, undefined = _criterion(scoring, y, predictions.sum(1), (predictions ** 2).sum(1),
                                      (y[None] * predictions).sum(1))
        scores.append(score)
        n_undefined = max(n_undefined, undefined)
    return torch.cat(scores), n_undefined


def _fold_scores_fused(spectrum, Y_train, Y_val, alphas, scoring, a_batch):
    """Fast: the same scores from (k, n_targets) statistics, by partial fractions (module docstring)."""
    B = (spectrum.left.T @ Y_train).double()  # (k, t)
    y = Y_val.double()
    lam, gram = spectrum.eigenvalues, spectrum.gram
    # per-alpha sums are filters @ terms: (n_alphas, k) @ (k, t), in float64
    diag_terms = gram.diagonal()[:, None] * B * B
    coupling_terms = spectrum.coupling @ B
    coupling_terms *= 2 * B
    cross_terms = (spectrum.val_basis.T @ Y_val).double()  # A^T y
    cross_terms *= B
    sum_terms = spectrum.val_sum[:, None] * B if scoring == "pearson_r" else None
    scores, n_undefined = [], 0
    for start in range(0, len(alphas), a_batch):
        filters = 1.0 / (lam[None, :] + alphas[start:start + a_batch, None])  # (a, k)
        sum_pp = (filters * filters) @ diag_terms + filters @ coupling_terms
        for members in spectrum.clusters:  # near-equal eigenvalues: their pairs directly
            weighted = filters[:, members, None] * B[None, members]  # (a, m, t)
            off_diagonal = gram[members][:, members].fill_diagonal_(0)
            sum_pp += (weighted * (off_diagonal @ weighted)).sum(1)
        sum_p = filters @ sum_terms if sum_terms is not None else None
        score, undefined = _criterion(scoring, y, sum_p, sum_pp, filters @ cross_terms)
        scores.append(score)
        n_undefined = max(n_undefined, undefined)
    return torch.cat(scores), n_undefined


def _coupling(eigenvalues, gram):
    """``H_kl = G_kl / (lambda_l - lambda_k)`` for well-separated pairs, and the near-equal clusters.

    Returns H of shape (k, k) and a list of index tensors, one per cluster of
    two or more eigenvalues whose consecutive relative gaps are below ``_CLUSTER_RTOL``.
    """
    k = eigenvalues.shape[0]
    if k == 0:
        return gram, []
    close_to_next = (eigenvalues[1:] - eigenvalues[:-1]) <= _CLUSTER_RTOL * eigenvalues[1:]
    cluster_id = torch.cat([eigenvalues.new_zeros(1, dtype=torch.long), torch.cumsum(~close_to_next, 0)])
    same_cluster = cluster_id[:, None] == cluster_id[None, :]
    gaps = eigenvalues[None, :] - eigenvalues[:, None]
    coupling = torch.where(same_cluster, 0.0, gram / torch.where(same_cluster, 1.0, gaps))
    counts = torch.bincount(cluster_id)
    clusters = [torch.nonzero(cluster_id == c).ravel() for c in torch.nonzero(counts > 1).ravel()]
    return coupling, clusters
