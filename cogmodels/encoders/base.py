"""The one contract every encoder follows.

sklearn-style: ``__init__`` only stores parameters; ``fit`` validates its
parameters (:meth:`BaseEncoder.validate_params`) and its input, then calls
``_fit``; fitted attributes end in ``_``; ``predict`` and ``score`` check that
the model is fitted; ``score`` returns per-channel Pearson r.

What the runner reads (it never probes with ``hasattr``):

``input_kind`` (class attribute)
    The features ``fit``/``predict`` take: ``"flat"`` (n_stimuli, n_features),
    ``"spatial"`` (n_stimuli, C, H, W) or ``"tokens"`` (n_stimuli, H*W, C) with
    ``grid=(H, W)``.
``requires`` (class attribute, a frozenset)
    What ``fit`` needs besides X and Y: ``"roi_labels"`` means the ``channels``
    table must label every channel with its ROI(s).  Empty for ridge.
``stimulus_diagnostics`` (class attribute, a frozenset)
    The keys of :meth:`BaseEncoder.diagnostics` that hold one entry per stimulus
    of the ``X`` given (e.g. the routing encoder's ``"attention"``); empty when
    the diagnostics need no ``X``.
``fit(X, Y, *, channels=None, grid=None)``
    The same call for every encoder; ``channels`` is the channel table of ``Y``
    (``BrainResponses.channels``), ``grid`` the (H, W) of a token array.
``diagnostics(X=None, *, grid=None) -> dict[str, np.ndarray]``
    What is worth storing beside the scores.
``validate_params()``
    Checks every constructor parameter; called at the start of ``fit`` and by
    the runner when a config is composed, before any data is loaded.
"""

from __future__ import annotations

import inspect
from typing import ClassVar

import numpy as np

from cogmodels.data.checks import FLOAT32_MAX, check_array
from cogmodels.errors import ConfigError, NotFittedError, ShapeError, format_problem

INPUT_KINDS = ("flat", "spatial", "tokens")
#: Requirement names an encoder may declare in ``requires``.
REQUIREMENTS = ("roi_labels",)


class BaseEncoder:
    """Base of every encoder: parameters, declarations, validation and scoring (see the module docstring)."""

    input_kind: ClassVar[str] = "flat"
    requires: ClassVar[frozenset] = frozenset()
    stimulus_diagnostics: ClassVar[frozenset] = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.input_kind not in INPUT_KINDS:
            raise ConfigError(format_problem(f"{cls.__name__}.input_kind", f"one of {INPUT_KINDS}",
                                             repr(cls.input_kind), "declare what the encoder reads"))
        for name in ("requires", "stimulus_diagnostics"):
            if not isinstance(getattr(cls, name), frozenset):
                raise ConfigError(format_problem(f"{cls.__name__}.{name}", "a frozenset of str",
                                                 repr(getattr(cls, name)), f"declare {name} = frozenset({{...}})"))
        unknown = sorted(cls.requires - set(REQUIREMENTS))
        if unknown:
            raise ConfigError(format_problem(f"{cls.__name__}.requires", f"names from {REQUIREMENTS}",
                                             f"unknown {unknown}", "declare only requirements the runner knows"))

    # -- parameters -------------------------------------------------------
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

    def validate_params(self) -> "BaseEncoder":
        """Check every constructor parameter; raise a ConfigError naming ``encoder.<param>``.

        Needs no data: the runner calls it when a config is composed. Returns self.
        """
        raise NotImplementedError(f"{type(self).__name__} must define validate_params()")

    # -- validation -------------------------------------------------------
    @staticmethod
    def _validate_xy(X, Y=None):
        X = check_array(X, "X", ndim=2, dtype="number", finite=True, non_empty=True, max_abs=FLOAT32_MAX)
        if Y is None:
            return X, None
        Y = check_array(Y, "Y", ndim=(1, 2), dtype="number", finite=True, non_empty=True, max_abs=FLOAT32_MAX)
        if Y.shape[0] != X.shape[0]:
            raise ShapeError(format_problem("X/Y", "the same number of rows (stimuli)",
                                            f"X has {X.shape[0]}, Y has {Y.shape[0]}",
                                            "align features and responses on the same stimuli"))
        return X, Y

    def _check_channels(self, channels, n_channels: int):
        """The channel table of Y (or None), checked; a ConfigError when ``requires`` needs one and none is given."""
        if channels is None:
            if "roi_labels" in self.requires:
                raise ConfigError(format_problem("channels", f"the channel table of Y ({type(self).__name__} "
                                                 "needs the ROI labels of each channel)", "channels=None",
                                                 "pass channels=BrainResponses.channels"))
            return None
        from cogmodels.data.brain import check_channels

        return check_channels(channels, n_channels, "channels")

    def _check_fitted(self, attribute: str = "coef_") -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet. Fix: call fit(X, Y) first.")

    # -- contract ---------------------------------------------------------
    def fit(self, X, Y, *, channels=None, grid=None):
        """Fit on flat X of shape (n_stimuli, n_features) and Y of shape (n_stimuli, n_channels).

        ``channels`` (the channel table of Y) is checked against Y; ``grid`` is not used by flat encoders.
        """
        self.validate_params()
        X, Y = self._validate_xy(X, Y)
        self._check_channels(channels, 1 if Y.ndim == 1 else Y.shape[1])
        return self._fit(X, Y)

    def _fit(self, X, Y):
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        raise NotImplementedError

    def score(self, X, Y) -> np.ndarray:
        """Per-target Pearson r of shape (n_channels,); NaN where a target has zero variance (undefined)."""
        from cogmodels.metrics.brain import pearson_r

        X, Y = self._validate_xy(X, Y)
        return pearson_r(Y, self.predict(X))

    def diagnostics(self, X=None, *, grid=None) -> dict[str, np.ndarray]:
        """Arrays worth storing beside the scores, by name (the runner stores them as ``<name>@<layer>``).

        Parameters
        ----------
        X : features of some stimuli (as for ``predict``), optional
            Used only for the keys in ``stimulus_diagnostics`` (one entry per stimulus of X).
        grid : (H, W), optional
            The grid of a token array X.

        Returns
        -------
        dict of str -> ndarray (plain numeric or str arrays, no objects)
        """
        raise NotImplementedError(f"{type(self).__name__} must define diagnostics()")

    # -- persistence (cogmodels.encoders.persistence) -----------------------
    def _fitted_state(self) -> tuple[dict, dict]:
        """The fitted state as (arrays: dict of str -> ndarray, facts: JSON-serialisable dict)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved: it defines no _fitted_state()")

    def _restore_fitted_state(self, arrays: dict, facts: dict) -> None:
        """Set the fitted attributes from what :meth:`_fitted_state` returned."""
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded: it defines no _restore_fitted_state()")
