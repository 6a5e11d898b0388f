"""Ridge regression with one alpha per target, chosen by K-fold cross-validation.

The model (per target ``y``, with centred ``X`` and ``y`` when ``fit_intercept``)::

    w(alpha) = (X^T X + alpha I)^-1 X^T y

How it is computed
------------------
*One decomposition per fold serves every alpha.*  The centred training features
are written ``X_c = U diag(s) V^T`` with ``lambda = s**2``; it is obtained from
the eigendecomposition of the Gram matrix ``X_c^T X_c`` (primal, when
``n_train >= n_features``) or of the kernel ``X_c X_c^T`` (dual, when
``n_train < n_features``), in float64.  Validation predictions are then::

    Y_val_hat(alpha) = A diag(f(alpha)) B,   f_k(alpha) = 1 / (lambda_k + alpha)
    A = X_val_c V diag(s)   (n_val, k)        B = U^T Y_train_c   (k, n_targets)

*Fused scoring by partial fractions* (``method="fused"``, default).  R², MSE
and Pearson r on a validation fold need only the sums ``sum(y * y_hat)``,
``sum(y_hat)`` and ``sum(y_hat**2)``.  The first two are ``f(alpha)``-weighted
sums of cheap (k, n_targets) arrays.  The third is a quadratic form
``b^T F G F b`` with ``G = A^T A``; the identity, for ``lambda_k != lambda_l``::

    f_k(alpha) f_l(alpha) = (f_k(alpha) - f_l(alpha)) / (lambda_l - lambda_k)

turns it into ``sum_k f_k (G_kk f_k b_k**2 + 2 b_k (H b)_k)`` with
``H_kl = G_kl / (lambda_l - lambda_k)``: one (k, k) product per fold and target
batch, shared by all alphas, instead of one (n_val, k) product per alpha.  It is
evaluated in float64; eigenvalues closer than a relative ``1e-6`` (where the
identity would cancel badly) are grouped and their pairs summed directly.  No
(n_alphas, n_val, n_targets) array is ever built.  ``method="direct"`` is the
readable reference: it forms the validation predictions of each alpha batch and
scores them; the tests check that both agree.

*Refit* on all samples uses one more decomposition; each target gets its own
filter ``s / (lambda + alpha_t)``, so targets need no grouping by alpha.

References: Hoerl & Kennard (1970) for ridge; the same K-fold, per-target alpha
search as himalaya's ``RidgeCV`` (Dupré la Tour et al. 2022, NeuroImage).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from tqdm.auto import tqdm

from cogmodels.encoders.base import BaseEncoder
from cogmodels.errors import ConfigError, ShapeError, format_problem

logger = logging.getLogger(__name__)

SCORINGS = ("r2", "neg_mse", "pearson_r")
METHODS = ("fused", "direct")
_CLUSTER_RTOL = 1e-6  # relative eigenvalue gap below which partial fractions are not used
_BLOCK_ELEMENTS = 2 ** 24  # float64 elements per block when casting X (128 MiB)


class RidgeCV(BaseEncoder):
    """Ridge regression with a per-target alpha chosen by K-fold cross-validation.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default ``np.logspace(-2, 5, 15)``
        Positive regularisation strengths to search.
    cv : int or list of (train, val) index arrays, default 5
        An int gives contiguous K folds (no shuffling unless ``shuffle``), as
        himalaya and scikit-learn's ``KFold`` do.  A list gives the folds.
    fit_intercept : bool, default True
        Centre X and Y (per fold during CV) and fit an intercept.
    scoring : {"r2", "neg_mse", "pearson_r"}, default "r2"
        CV criterion per target, computed on each validation fold and averaged
        over folds.  Note: himalaya's default is ``l2_neg_loss`` (our
        ``"neg_mse"``); ``"r2"`` is scale-free across folds.  A fold where R² or
        r is undefined (constant data) scores 0, as in himalaya, with a warning.
    shuffle : bool, default False
        Shuffle samples before making K folds (``cv`` int only).
    seed : int, default 0
        Seed of the shuffle.
    dtype : {"float32", "float64"}, default "float32"
        Precision of the large products; decompositions are always float64.
    device : {"cpu", "cuda", "auto"}, default "cpu"
        Torch device; "auto" picks CUDA when available.
    n_targets_batch : int, default 2048
        Targets processed together (bounds memory: about 0.1 MB per target
        for 4000 samples and 768 features in float32).
    n_alphas_batch : int or None, default None (all)
        Alphas processed together (bounds memory of ``method="direct"``).
    method : {"fused", "direct"}, default "fused"
        CV scoring algorithm (see the module docstring); same results.

    Attributes
    ----------
    best_alphas_ : array of shape (n_targets,)
    coef_ : array of shape (n_features, n_targets)
    intercept_ : array of shape (n_targets,)
    alpha_scores_ : array of shape (n_alphas, n_targets)
        Mean CV score of each alpha (rows follow ``alphas``).
    cv_scores_ : array of shape (n_targets,)
        Mean CV score of the chosen alpha.
    """

    def __init__(self, alphas=None, cv=5, fit_intercept=True, scoring="r2", shuffle=False, seed=0,
                 dtype="float32", device="cpu", n_targets_batch=2048, n_alphas_batch=None, method="fused"):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.shuffle = shuffle
        self.seed = seed
        self.dtype = dtype
        self.device = device
        self.n_targets_batch = n_targets_batch
        self.n_alphas_batch = n_alphas_batch
        self.method = method

    # -- fit ----------------------------------------------------------------
    def _fit(self, X, Y):
        alphas = _check_alphas(self.alphas)
        dtype, device = _check_dtype(self.dtype), _check_device(self.device)
        for name, allowed in (("scoring", SCORINGS), ("method", METHODS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(format_problem(f"RidgeCV.{name}", f"one of {allowed}",
                                                 repr(getattr(self, name)), f"pick one of {allowed}"))
        t_batch = _check_batch(self.n_targets_batch, "n_targets_batch", Y.shape[-1] if Y.ndim == 2 else 1)
        a_batch = _check_batch(self.n_alphas_batch, "n_alphas_batch", len(alphas))
        self._y_was_1d = Y.ndim == 1
        Y = Y[:, None] if Y.ndim == 1 else Y
        folds = make_folds(X.shape[0], self.cv, shuffle=self.shuffle, seed=self.seed)

        X_t = torch.as_tensor(np.ascontiguousarray(X)).to(device=device, dtype=dtype)
        Y_t = torch.as_tensor(np.ascontiguousarray(Y)).to(dtype)  # stays on CPU; batches move
        scores = np.zeros((len(alphas), Y.shape[1]))
        n_undefined = 0
        score_fold = _fold_scores_fused if self.method == "fused" else _fold_scores_direct
        alphas_t = torch.as_tensor(alphas, dtype=torch.float64, device=device)
        batches = [slice(i, i + t_batch) for i in range(0, Y.shape[1], t_batch)]
        logger.info("RidgeCV: %d samples x %d features -> %d targets; %d alphas, %d folds, %s scoring (%s), %s on %s",
                    X.shape[0], X.shape[1], Y.shape[1], len(alphas), len(folds), self.scoring, self.method,
                    self.dtype, device)
        progress = tqdm(total=len(folds) * len(batches), desc="RidgeCV folds x target batches",
                        disable=None, leave=False)
        for train, val in folds:
            train_t = torch.as_tensor(train, device=device)
            val_t = torch.as_tensor(val, device=device)
            x_mean = _mean(X_t, train_t) if self.fit_intercept else None
            spectrum = _decompose(X_t, train_t, x_mean, val_idx=val_t, with_gram=self.method == "fused")
            for batch in batches:
                Y_b = Y_t[:, batch].to(device)
                Y_train, Y_val = _centre_pair(Y_b, train_t, val_t, self.fit_intercept)
                fold_scores, undefined = score_fold(spectrum, Y_train, Y_val, alphas_t, self.scoring, a_batch)
                scores[:, batch] += fold_scores.cpu().numpy() / len(folds)
                n_undefined += undefined
                progress.update()
        progress.close()
        if n_undefined:
            warnings.warn(f"RidgeCV: the {self.scoring} CV criterion was undefined (constant validation data "
                          f"or constant predictions) for {n_undefined} (fold, target) pairs; they scored 0 "
                          f"for every alpha, as in himalaya", UserWarning, stacklevel=3)

        best = _select_alphas(scores, alphas)
        self.alpha_scores_ = scores
        self.best_alphas_ = alphas[best]
        self.cv_scores_ = scores[best, np.arange(Y.shape[1])]
        self.coef_, self.intercept_ = self._refit(X_t, Y_t, self.best_alphas_, batches, device)
        self.n_features_in_ = X.shape[1]
        return self

    def _refit(self, X_t, Y_t, best_alphas, batches, device):
        """Coefficients on all samples: one decomposition, a per-target spectral filter."""
        all_idx = torch.arange(X_t.shape[0], device=device)
        x_mean = _mean(X_t, all_idx) if self.fit_intercept else None
        spectrum = _decompose(X_t, all_idx, x_mean, with_weights=True)
        alphas_t = torch.as_tensor(best_alphas, dtype=torch.float64, device=device)
        coef = np.empty((X_t.shape[1], Y_t.shape[1]), dtype=np.dtype(str(X_t.dtype).removeprefix("torch.")))
        intercept = np.zeros(Y_t.shape[1])
        for batch in batches:
            Y_b = Y_t[:, batch].to(device)
            y_mean = Y_b.sum(0).double() / Y_b.shape[0] if self.fit_intercept else None
            Y_c = Y_b - y_mean.to(Y_b.dtype) if self.fit_intercept else Y_b
            filters = 1.0 / (spectrum.eigenvalues[:, None] + alphas_t[None, batch])  # (k, t_batch)
            coef_b = spectrum.weights @ (filters.to(Y_b.dtype) * (spectrum.left.T @ Y_c))
            coef[:, batch] = coef_b.cpu().numpy()
            if self.fit_intercept:
                intercept[batch] = (y_mean - x_mean @ coef_b.double()).cpu().numpy()
        return coef, intercept

    # -- predict --------------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        """Predictions of shape (n_stimuli, n_targets) ((n_stimuli,) if fitted on a 1-D Y)."""
        self._check_fitted()
        X, _ = self._validate_xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ShapeError(format_problem("X", f"{self.n_features_in_} features (as in fit)",
                                            f"{X.shape[1]}", "extract the same features as for fitting"))
        Y_hat = X.astype(self.coef_.dtype, copy=False) @ self.coef_ + self.intercept_.astype(self.coef_.dtype)
        return Y_hat[:, 0] if self._y_was_1d else Y_hat


# -- folds and parameter checks ----------------------------------------------------
def make_folds(n_samples: int, cv=5, *, shuffle: bool = False, seed=0) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold (train, val) index pairs.

    Parameters
    ----------
    n_samples : int
    cv : int or sequence of (train, val) index arrays
        An int gives contiguous folds whose sizes differ by at most one (the
        first ``n_samples % cv`` folds are one larger), as scikit-learn's KFold.
    shuffle : bool
        Permute samples first (``cv`` int only).
    seed : int or numpy.random.Generator
        Seed of the permutation.

    Returns
    -------
    folds : list of (train, val) int64 arrays
    """
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if not 2 <= cv <= n_samples:
            raise ConfigError(format_problem("RidgeCV.cv", f"an int between 2 and n_samples={n_samples}",
                                             repr(cv), "use fewer folds or more samples"))
        order = np.random.default_rng(seed).permutation(n_samples) if shuffle else np.arange(n_samples)
        sizes = np.full(cv, n_samples // cv) + (np.arange(cv) < n_samples % cv)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        return [(np.sort(np.concatenate([order[:lo], order[hi:]])), np.sort(order[lo:hi]))
                for lo, hi in zip(bounds[:-1], bounds[1:])]
    try:
        folds = [(np.asarray(train, dtype=np.int64).ravel(), np.asarray(val, dtype=np.int64).ravel())
                 for train, val in cv]
    except (TypeError, ValueError) as error:
        raise ConfigError(format_problem("RidgeCV.cv", "an int or a list of (train, val) index arrays",
                                         f"{type(cv).__name__} ({error})", "pass cv=5 or [(train, val), ...]"))
    if not folds:
        raise ConfigError(format_problem("RidgeCV.cv", "at least one (train, val) pair", "none", "give folds"))
    for i, (train, val) in enumerate(folds):
        where = f"RidgeCV.cv[{i}]"
        for name, idx, least in (("train", train, 1), ("val", val, 2)):
            if idx.size < least or idx.min() < 0 or idx.max() >= n_samples:
                found = f"{idx.size} indices" + (f" in [{idx.min()}, {idx.max()}]" if idx.size else "")
                raise ConfigError(format_problem(f"{where}.{name}",
                                                 f"at least {least} indices in [0, {n_samples - 1}]", found,
                                                 "build folds on the rows of X"))
        if np.intersect1d(train, val).size:
            raise ConfigError(format_problem(where, "disjoint train and val indices",
                                             f"{np.intersect1d(train, val).size} shared", "fix the split"))
    return folds


def _check_alphas(alphas) -> np.ndarray:
    alphas = np.logspace(-2, 5, 15) if alphas is None else np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ConfigError(format_problem("RidgeCV.alphas", "a non-empty 1-D array of finite alphas > 0",
                                         f"{np.array2string(alphas, threshold=6)}",
                                         "use e.g. np.logspace(-2, 5, 15); alpha=0 is unregularised least squares"))
    return alphas


def _check_dtype(dtype) -> torch.dtype:
    table = {"float32": torch.float32, "float64": torch.float64}
    key = str(dtype).removeprefix("torch.").removeprefix("<class 'numpy.").removesuffix("'>")
    if key not in table:
        raise ConfigError(format_problem("RidgeCV.dtype", "'float32' or 'float64'", repr(dtype), "pick one"))
    return table[key]


def _check_device(device) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(format_problem("RidgeCV.device", "an available torch device", f"{device!r} (no CUDA)",
                                         "use device='cpu' or device='auto'"))
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(format_problem("RidgeCV.device", "'cpu', 'cuda' or 'auto'", repr(device), str(error)))


def _check_batch(value, name: str, total: int) -> int:
    if value is None:
        return max(total, 1)
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ConfigError(format_problem(f"RidgeCV.{name}", "a positive int or None", repr(value), "e.g. 4096"))
    return int(value)


def _select_alphas(scores: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Index of the best mean score per target.

    Scores within ``1e-10 * (1 + |best|)`` of the best count as ties (rounding
    noise, e.g. a Pearson r that no alpha changes); ties go to the largest
    alpha, the most regularised model (himalaya breaks ties the same way).
    """
    best = scores.max(axis=0)
    tied = scores >= best - 1e-10 * (1 + np.abs(best))
    return np.where(tied, alphas[:, None], -np.inf).argmax(axis=0)


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
