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
from tqdm.auto import tqdm

from cogmodels.encoders import ENCODERS
from cogmodels.encoders._params import check_bool, check_choice, check_int, check_seed, param_error
from cogmodels.encoders.base import BaseEncoder
from cogmodels.errors import ConfigError, ShapeError, format_problem

logger = logging.getLogger(__name__)

SCORINGS = ("r2", "neg_mse", "pearson_r")
METHODS = ("fused", "direct")


@ENCODERS.register("ridge", example={"alphas": [0.1, 10.0, 1000.0], "cv": 3})
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

    Diagnostics: ``best_alpha`` (n_targets,), the chosen alpha of each target.
    """

    input_kind = "flat"  # reads (n_stimuli, n_features)
    requires = frozenset()

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

    # -- parameters -----------------------------------------------------------
    def validate_params(self) -> "RidgeCV":
        """Check every parameter (no data needed); ConfigError naming ``encoder.<param>`` otherwise."""
        _check_alphas(self.alphas)
        _check_cv(self.cv)
        check_bool("fit_intercept", self.fit_intercept)
        check_choice("scoring", self.scoring, SCORINGS)
        check_bool("shuffle", self.shuffle)
        check_seed("seed", self.seed)
        _check_dtype(self.dtype)
        _check_device(self.device)
        check_int("n_targets_batch", self.n_targets_batch, allow_none=True, fix="e.g. n_targets_batch=2048")
        check_int("n_alphas_batch", self.n_alphas_batch, allow_none=True, fix="e.g. n_alphas_batch=null (all)")
        check_choice("method", self.method, METHODS)
        return self

    # -- fit ----------------------------------------------------------------
    def _fit(self, X, Y):
        import torch

        from cogmodels.encoders._ridge_solver import (
            _centre_pair, _decompose, _fold_scores_direct, _fold_scores_fused, _mean)

        alphas = _check_alphas(self.alphas)
        dtype, device = getattr(torch, _check_dtype(self.dtype)), _check_device(self.device)
        n_targets = Y.shape[-1] if Y.ndim == 2 else 1
        t_batch = max(n_targets, 1) if self.n_targets_batch is None else int(self.n_targets_batch)
        a_batch = len(alphas) if self.n_alphas_batch is None else int(self.n_alphas_batch)
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
        import torch

        from cogmodels.encoders._ridge_solver import _decompose, _mean

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

    # -- diagnostics and persistence ----------------------------------------------
    def diagnostics(self, X=None, *, grid=None) -> dict[str, np.ndarray]:
        """``best_alpha``: float64 array of shape (n_targets,), the alpha chosen for each target (X is not used)."""
        self._check_fitted()
        return {"best_alpha": np.asarray(self.best_alphas_, dtype=np.float64)}

    _ARRAYS = ("coef_", "intercept_", "best_alphas_", "alpha_scores_", "cv_scores_")

    def _fitted_state(self) -> tuple[dict, dict]:
        self._check_fitted()
        arrays = {name: np.asarray(getattr(self, name)) for name in self._ARRAYS}
        return arrays, {"n_features_in_": int(self.n_features_in_), "y_was_1d": bool(self._y_was_1d)}

    def _restore_fitted_state(self, arrays: dict, facts: dict) -> None:
        for name in self._ARRAYS:
            setattr(self, name, arrays[name])
        self.n_features_in_ = int(facts["n_features_in_"])
        self._y_was_1d = bool(facts["y_was_1d"])


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
            raise ConfigError(format_problem("encoder.cv", f"an int between 2 and n_samples={n_samples}",
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
        raise ConfigError(format_problem("encoder.cv", "an int or a list of (train, val) index arrays",
                                         f"{type(cv).__name__} ({error})", "pass cv=5 or [(train, val), ...]"))
    if not folds:
        raise ConfigError(format_problem("encoder.cv", "at least one (train, val) pair", "none", "give folds"))
    for i, (train, val) in enumerate(folds):
        where = f"encoder.cv[{i}]"
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
    """The alphas as a float64 array of shape (n_alphas,): non-empty, finite, > 0 (ConfigError otherwise)."""
    if alphas is None:
        return np.logspace(-2, 5, 15)
    fix = "use e.g. alphas=[0.01, 1, 100, 10000]; alpha=0 is unregularised least squares (use a tiny alpha)"
    try:
        array = np.atleast_1d(np.asarray(list(alphas) if not np.isscalar(alphas) else alphas, dtype=np.float64))
    except (TypeError, ValueError):
        raise param_error("alphas", "a non-empty list of finite numbers > 0", repr(alphas), fix) from None
    if array.ndim != 1 or array.size == 0:
        raise param_error("alphas", "a non-empty 1-D list of finite numbers > 0", f"shape {array.shape}", fix)
    bad = ~np.isfinite(array) | (array <= 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise param_error("alphas", "finite alphas > 0 (a non-empty 1-D list)",
                          f"{array[first]:g} (alphas[{first}] of {np.array2string(array, threshold=6)})", fix)
    return array


def _check_cv(cv) -> None:
    """``cv`` is an int >= 2 or a list of (train, val) pairs; the checks against n_samples are in make_folds."""
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, (bool, np.bool_)):
        if cv < 2:
            raise param_error("cv", "an int >= 2 (folds) or a list of (train, val) index arrays", repr(cv),
                              "use e.g. cv=5")
        return
    if isinstance(cv, (str, bytes)) or not hasattr(cv, "__iter__"):
        raise param_error("cv", "an int >= 2 or a list of (train, val) index arrays",
                          f"{cv!r} ({type(cv).__name__})", "pass cv=5 or [(train, val), ...]")


def _check_dtype(dtype) -> str:
    """``"float32"`` or ``"float64"`` (the name of the torch dtype; checked without importing torch)."""
    key = str(dtype).removeprefix("torch.").removeprefix("<class 'numpy.").removesuffix("'>")
    if key not in ("float32", "float64"):
        raise param_error("dtype", "'float32' or 'float64'", repr(dtype), "pick one")
    return key


def _check_device(device):
    """A torch device; ``"cpu"`` is checked without importing torch (so the compose-time check stays light)."""
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise param_error("device", "an available torch device", f"{device!r} (no CUDA on this machine)",
                          "use device='cpu' or device='auto'")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise param_error("device", "'cpu', 'cuda' or 'auto'", repr(device), f"pick one ({error})") from None


def _select_alphas(scores: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Index of the best mean score per target.

    Scores within ``1e-10 * (1 + |best|)`` of the best count as ties (rounding
    noise, e.g. a Pearson r that no alpha changes); ties go to the largest
    alpha, the most regularised model (himalaya breaks ties the same way).
    """
    best = scores.max(axis=0)
    tied = scores >= best - 1e-10 * (1 + np.abs(best))
    return np.where(tied, alphas[:, None], -np.inf).argmax(axis=0)
