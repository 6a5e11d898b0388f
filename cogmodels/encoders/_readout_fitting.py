"""Input checks and persistence shared by the gradient-trained spatial readouts (factorized, pooled MLP).

- :class:`SpatialReadout` is their common base: ``fit`` validates the parameters, checks X against Y
  and the channel table, turns the tokens into the readout's inputs (``_readout_inputs``) and calls
  ``_fit``.
- :func:`check_training_params` checks the optimiser and training parameters they share, with each
  encoder's own fix hints for ``lr`` and ``weight_decay``.
- :func:`check_fit_data` checks X (a layer of spatial features) against Y and the channel table.
- :func:`check_predict_tokens` checks X at prediction time against the fitted grid and feature count.
- :func:`split_responses` draws the seeded validation split and standardises Y on the training rows.
- :func:`train_readout` trains a network on the MSE (plus an optional penalty) with early stopping.
- :func:`network_state` / :func:`restore_network_state` save and restore a fitted torch
  ``network_`` with its response standardisation, grid, feature count and training history.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F

from cogmodels.data.checks import FLOAT32_MAX, check_array
from cogmodels.encoders._early_stopping import (
    TrainingHistory, columnwise_r, mean_defined, response_standardizer, score_prediction, shuffled_batches,
    train_with_early_stopping, validation_split)
from cogmodels.encoders._params import check_bool, check_float, check_int
from cogmodels.encoders._tokens import as_token_grid
from cogmodels.encoders.base import BaseEncoder
from cogmodels.errors import ShapeError, format_problem


class SpatialReadout(BaseEncoder):
    """Base of the gradient-trained readouts of a spatial feature map (factorized, pooled MLP).

    The training parameters they share (AdamW ``lr`` and ``weight_decay``, ``batch_size``,
    ``max_epochs``, ``patience``, ``validation_fraction``, ``seed``, ``progress``) are stored by
    this ``__init__``, which a subclass's ``__init__`` calls with its own defaults.  A subclass
    defines ``_readout_inputs(tokens, grid)`` (what its network reads: the tokens themselves, or a
    pooling of them; it may refuse a grid with a ConfigError), ``_fit(inputs, Y)`` and ``predict``.

    Parameters
    ----------
    lr, weight_decay : float
        AdamW settings.
    batch_size, max_epochs, patience : int
        Mini-batch size, epoch limit, and epochs without a better validation score before stopping
        (the best weights are restored).
    validation_fraction : float
        Share of the stimuli held out (seeded) for early stopping.
    seed : int
        Seed of the validation split, the initialisation and the batch order.
    progress : bool
        Show a progress bar over epochs.
    """

    input_kind = "spatial"  # reads (n_stimuli, C, H, W) feature maps
    requires = frozenset()

    def __init__(self, lr: float, weight_decay: float, batch_size: int, max_epochs: int, patience: int,
                 validation_fraction: float, seed: int, progress: bool):
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.progress = progress

    def fit(self, X, Y, *, channels=None, grid=None):
        """Fit the readout.

        Parameters
        ----------
        X : array of shape (n_stimuli, C, H, W), or (n_stimuli, H*W, C) with ``grid``, or a FeatureMap
        Y : array of shape (n_stimuli, n_channels)
        channels : DataFrame, optional
            The channel table of Y (checked against Y; the readout does not use labels).
        grid : (H, W), optional
        """
        self.validate_params()
        tokens, grid, Y = check_fit_data(self, X, Y, channels, grid)
        inputs = self._readout_inputs(tokens, tuple(grid))
        self.grid_ = tuple(grid)
        self.n_features_ = tokens.shape[2]
        return self._fit(inputs, Y)

    def score(self, X, Y, grid=None) -> np.ndarray:
        """Per-channel Pearson r of shape (n_channels,); NaN (with a warning) where Y has no variance."""
        return score_prediction(Y, self.predict(X, grid=grid))

    def _fitted_state(self) -> tuple[dict, dict]:
        return network_state(self)


def check_training_params(encoder, lr_fix: str, weight_decay_fix: str) -> None:
    """The optimiser and training parameters the readouts share (ConfigError naming ``encoder.<param>``).

    ``lr`` > 0 and ``weight_decay`` >= 0 (their fixes, e.g. ``"use e.g. lr=0.01"``, are the encoder's own
    defaults), batch_size, max_epochs, patience, validation_fraction, seed and progress.
    """
    check_float("lr", encoder.lr, low=0.0, low_open=True, fix=lr_fix)
    check_float("weight_decay", encoder.weight_decay, low=0.0, fix=weight_decay_fix)
    for name in ("batch_size", "max_epochs", "patience"):
        check_int(name, getattr(encoder, name))
    check_float("validation_fraction", encoder.validation_fraction, low=0.0, high=1.0, low_open=True,
                high_open=True, fix="use e.g. validation_fraction=0.15")
    check_int("seed", encoder.seed, low=0, fix="set seed to a non-negative integer, e.g. 0")  # torch.manual_seed
    check_bool("progress", encoder.progress)


def check_fit_data(encoder, X, Y, channels, grid) -> tuple[np.ndarray, tuple[int, int], np.ndarray]:
    """Tokens (n, H*W, C) float32, grid (H, W) and Y (n, n_channels) float32, checked against each other.

    ``channels`` is checked against Y with the encoder's ``_check_channels``.
    """
    tokens, grid = as_token_grid(X, grid, "X")
    Y = check_array(Y, "Y", ndim=2, dtype="number", finite=True, non_empty=True,
                    max_abs=FLOAT32_MAX).astype(np.float32)
    if Y.shape[0] != tokens.shape[0]:
        raise ShapeError(format_problem("X/Y", "the same number of rows (stimuli)",
                                        f"X has {tokens.shape[0]}, Y has {Y.shape[0]}",
                                        "align features and responses on the same stimuli"))
    encoder._check_channels(channels, Y.shape[1])
    return tokens, grid, Y


def check_predict_tokens(X, grid, fitted_grid: tuple[int, int], n_features: int, fitted_on: str) -> np.ndarray:
    """Tokens (n, H*W, C) float32 of X; a ShapeError unless its grid and feature count are the fitted ones.

    A token array without ``grid`` is read on the fitted grid.  ``fitted_on`` names the model in the
    fix ("pass the feature layer the <fitted_on> was fitted on").
    """
    tokens, found = as_token_grid(X, grid if grid is not None else (fitted_grid if np.ndim(X) == 3 else None), "X")
    if found != fitted_grid or tokens.shape[2] != n_features:
        raise ShapeError(format_problem("X", f"grid {fitted_grid} with {n_features} features",
                                        f"grid {found} with {tokens.shape[2]} features",
                                        f"pass the feature layer the {fitted_on} was fitted on"))
    return tokens


def split_responses(encoder, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train and validation rows (seeded by ``encoder.seed``) and Y standardised on the training rows.

    Sets ``encoder.response_mean_`` and ``encoder.response_scale_`` (n_channels,).
    """
    train_idx, val_idx = validation_split(len(Y), encoder.validation_fraction, encoder.seed)
    encoder.response_mean_, encoder.response_scale_ = response_standardizer(Y[train_idx])
    return train_idx, val_idx, (Y - encoder.response_mean_) / encoder.response_scale_


def train_readout(encoder, network: torch.nn.Module, inputs: np.ndarray, Y: np.ndarray, train_idx: np.ndarray,
                  val_idx: np.ndarray, desc: str, penalty: Callable[[], torch.Tensor] | None = None
                  ) -> TrainingHistory:
    """Train ``network`` (inputs[rows] -> standardised Y[rows]) with AdamW and early stopping.

    The loss is the MSE plus ``penalty()`` when given; the early-stopping score is the mean validation r.
    Mini-batches are shuffled by a generator seeded with ``encoder.seed``; the optimiser settings,
    batch size, epochs, patience and progress come from the encoder's parameters.
    """
    generator = torch.Generator().manual_seed(encoder.seed)

    def batch_loss(idx):
        fit = F.mse_loss(network(torch.from_numpy(inputs[idx])), torch.from_numpy(Y[idx]))
        return fit if penalty is None else fit + penalty()

    def validation_score():
        return mean_defined(columnwise_r(torch.from_numpy(Y[val_idx]), network(torch.from_numpy(inputs[val_idx]))))

    return train_with_early_stopping(
        network, network.parameters(), lambda epoch: shuffled_batches(train_idx, encoder.batch_size, generator),
        batch_loss, validation_score, lr=encoder.lr, weight_decay=encoder.weight_decay,
        max_epochs=encoder.max_epochs, patience=encoder.patience, progress=encoder.progress, desc=desc)


def network_state(encoder) -> tuple[dict, dict]:
    """Arrays (``network.*`` weights, response mean and scale) and facts (grid, feature count, history)."""
    encoder._check_fitted("network_")
    arrays = {f"network.{k}": v.detach().cpu().numpy() for k, v in encoder.network_.state_dict().items()}
    arrays.update(response_mean=encoder.response_mean_, response_scale=encoder.response_scale_)
    history = encoder.history_
    facts = {"grid_": list(encoder.grid_), "n_features_": int(encoder.n_features_),
             "history": {"train_loss": history.train_loss, "val_score": history.val_score,
                         "best_epoch": history.best_epoch}}
    return arrays, facts


def restore_network_state(encoder, arrays: dict, facts: dict) -> dict[str, torch.Tensor]:
    """Set the encoder's grid, feature count, response standardisation and history from :func:`network_state`.

    Returns the network's state dict (tensors) for the caller to build and load its network.
    """
    encoder.grid_ = tuple(int(g) for g in facts["grid_"])
    encoder.n_features_ = int(facts["n_features_"])
    encoder.response_mean_, encoder.response_scale_ = arrays["response_mean"], arrays["response_scale"]
    encoder.history_ = TrainingHistory(**facts["history"])
    return {k.removeprefix("network."): torch.from_numpy(v.copy()) for k, v in arrays.items()
            if k.startswith("network.")}
