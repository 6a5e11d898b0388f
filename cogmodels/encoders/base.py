"""The sklearn-style contract shared by encoders.

``__init__`` only stores parameters; ``fit`` validates its input and then calls
``_fit``; fitted attributes end in ``_``; ``predict`` and ``score`` check that
the model is fitted.  ``score`` returns per-target Pearson r.
"""

from __future__ import annotations

import inspect

import numpy as np

from cogmodels.data.checks import check_array
from cogmodels.errors import NotFittedError, ShapeError, format_problem


class BaseEncoder:
    """Base of every encoder: parameter handling, validation and scoring.

    ``input_kind`` tells the runner which features the encoder reads:
    "flat" (n_stimuli, n_features), "spatial" (n_stimuli, C, H, W) or
    "tokens" (n_stimuli, H*W, C) with their grid.
    """

    input_kind = "flat"

    def get_params(self) -> dict:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params) -> "BaseEncoder":
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- validation -------------------------------------------------------
    @staticmethod
    def _validate_xy(X, Y=None, *, x_ndim=2):
        X = check_array(X, "X", ndim=x_ndim, dtype="number", finite=True)
        if Y is None:
            return X, None
        Y = check_array(Y, "Y", ndim=(1, 2), dtype="number", finite=True)
        if Y.shape[0] != X.shape[0]:
            raise ShapeError(format_problem("X/Y", "the same number of rows (stimuli)",
                                            f"X has {X.shape[0]}, Y has {Y.shape[0]}",
                                            "align features and responses on the same stimuli"))
        return X, Y

    def _check_fitted(self, attribute: str = "coef_") -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet. Fix: call fit(X, Y) first.")

    # -- contract ---------------------------------------------------------
    def fit(self, X, Y):
        """Fit on X of shape (n_stimuli, ...) and Y of shape (n_stimuli, n_channels)."""
        X, Y = self._validate_xy(X, Y, x_ndim=getattr(self, "_x_ndim", 2))
        return self._fit(X, Y)

    def _fit(self, X, Y):
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        raise NotImplementedError

    def score(self, X, Y) -> np.ndarray:
        """Per-target Pearson r of shape (n_channels,); NaN where a target has zero variance (undefined)."""
        from cogmodels.metrics.brain import pearson_r

        X, Y = self._validate_xy(X, Y, x_ndim=getattr(self, "_x_ndim", 2))
        return pearson_r(Y, self.predict(X))
