"""Pooled-feature MLP readout: a nonlinear encoder that does not route (the routing encoder's ablation).

The control asked for by issue 8: a readout as nonlinear as the routing
transformer's (a hidden layer with GELU) but whose spatial pooling is fixed,
so it can never read the features of wherever an object happens to be::

    z = [mean of X over the whole grid, means of X over a 2 x 2 grid, ...]   (spatial pyramid, fixed)
    y = W2 GELU(W1 z + b1) + b2                                             (shared hidden layer)

``pool_grids`` sets the pyramid: ``[1]`` is global average pooling only,
``[1, 2]`` (default) adds the four quadrants.  Each pooled feature is
standardised on the training stimuli; the hidden layer is shared by all
channels and each channel has its own linear read of it.  Trained like the
routing encoder: MSE on standardised responses, AdamW, early stopping on the
mean validation r of a seeded validation split (best weights restored).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cogmodels.encoders import ENCODERS
from cogmodels.encoders._early_stopping import feature_standardizer
from cogmodels.encoders._params import check_float, check_int, param_error
from cogmodels.encoders._readout_fitting import (
    SpatialReadout, check_predict_tokens, check_training_params, restore_network_state,
    split_responses, train_readout)


def pyramid_pool(tokens: np.ndarray, grid: tuple[int, int], pool_grids) -> np.ndarray:
    """Average-pool tokens (n, H*W, C) over a spatial pyramid -> (n, sum_g g*g*C) float32.

    For each g in ``pool_grids`` the grid is cut into g x g near-equal blocks
    (``np.array_split`` of rows and columns) and each block's mean is taken.
    """
    n, _, c = tokens.shape
    spatial = tokens.reshape(n, grid[0], grid[1], c)
    pooled = []
    for g in pool_grids:
        for rows in np.array_split(np.arange(grid[0]), g):
            for cols in np.array_split(np.arange(grid[1]), g):
                pooled.append(spatial[:, rows][:, :, cols].mean(axis=(1, 2), dtype=np.float64))
    return np.concatenate(pooled, axis=1).astype(np.float32)


class _PooledMLP(nn.Module):
    """Standardised pooled features (B, P) -> hidden (B, D) -> channels (B, K)."""

    def __init__(self, n_inputs: int, n_channels: int, hidden: int, dropout: float, mean, scale):
        super().__init__()
        self.register_buffer("feature_mean", torch.from_numpy(mean))
        self.register_buffer("feature_scale", torch.from_numpy(scale))
        self.hidden = nn.Linear(n_inputs, hidden)
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden, n_channels)

    def forward(self, pooled):
        z = (pooled - self.feature_mean) / self.feature_scale
        return self.readout(self.dropout(F.gelu(self.hidden(z))))


@ENCODERS.register("pooled_mlp", example={"hidden": 16, "max_epochs": 3, "patience": 2, "batch_size": 16,
                                           "progress": False})
class PooledMLPEncoder(SpatialReadout):
    """MLP on spatially pooled features: a nonlinear readout that does not route (routing-encoder control).

    Parameters
    ----------
    pool_grids : list of int
        Spatial pyramid: for each g, the means over a g x g partition of the feature grid.
    hidden : int
        Width of the shared hidden layer.
    dropout : float
        Dropout on the hidden layer during training.
    lr, weight_decay, batch_size, max_epochs, patience, validation_fraction, seed, progress
        Training settings (AdamW, mini-batches, early stopping on a seeded validation split), as in
        every spatial readout: see :class:`~cogmodels.encoders._readout_fitting.SpatialReadout`.

    Attributes
    ----------
    grid_ : (H, W)
    n_features_ : int
    history_ : TrainingHistory
    network_ : the fitted torch module
    """

    input_kind = "spatial"  # reads (n_stimuli, C, H, W) feature maps
    requires = frozenset()

    def __init__(self, pool_grids=(1, 2), hidden: int = 256, dropout: float = 0.1, lr: float = 1e-3,
                 weight_decay: float = 1e-2, batch_size: int = 32, max_epochs: int = 200, patience: int = 15,
                 validation_fraction: float = 0.15, seed: int = 0, progress: bool = True):
        self.pool_grids = pool_grids
        self.hidden = hidden
        self.dropout = dropout
        super().__init__(lr, weight_decay, batch_size, max_epochs, patience, validation_fraction, seed, progress)

    def validate_params(self) -> "PooledMLPEncoder":
        """Check every parameter (no data needed); ConfigError naming ``encoder.<param>`` otherwise."""
        grids = self.pool_grids
        if isinstance(grids, (str, bytes)) or not hasattr(grids, "__len__") or not len(grids) or any(
                isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 1 for g in grids):
            raise param_error("pool_grids", "a non-empty list of integers >= 1", repr(grids),
                              "use e.g. pool_grids=[1, 2] (global mean and quadrants)")
        check_int("hidden", self.hidden)
        check_float("dropout", self.dropout, low=0.0, high=1.0, high_open=True, fix="use e.g. dropout=0.1")
        check_training_params(self, lr_fix="use e.g. lr=0.001", weight_decay_fix="use e.g. weight_decay=0.01")
        return self

    def _readout_inputs(self, tokens, grid):
        """The spatial pyramid of the tokens (n_stimuli, n_pooled * C); ConfigError for a grid finer than the map."""
        if max(self.pool_grids) > min(grid):
            raise param_error("pool_grids", f"grids no finer than the feature grid {tuple(grid)}",
                              repr(list(self.pool_grids)), f"use values <= {min(grid)}")
        return pyramid_pool(tokens, grid, self.pool_grids)

    def _fit(self, pooled, Y):
        train_idx, val_idx, Y = split_responses(self, Y)
        mean, scale = feature_standardizer([pooled[:, None, :]], [train_idx])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = _PooledMLP(pooled.shape[1], Y.shape[1], self.hidden, self.dropout, mean, scale)
        with torch.random.fork_rng(devices=[]):  # dropout draws from the global generator: seed it
            torch.manual_seed(self.seed + 1)
            self.history_ = train_readout(self, network, pooled, Y, train_idx, val_idx, "pooled MLP")
        network.eval()
        self.network_ = network
        return self

    def predict(self, X, grid=None) -> np.ndarray:
        """Predicted responses of shape (n_stimuli, n_channels)."""
        self._check_fitted("network_")
        tokens = check_predict_tokens(X, grid, self.grid_, self.n_features_, "encoder")
        pooled = pyramid_pool(tokens, self.grid_, self.pool_grids)
        with torch.no_grad():
            self.network_.eval()
            standardized = self.network_(torch.from_numpy(pooled)).numpy()
        return standardized * self.response_scale_ + self.response_mean_

    # -- diagnostics and persistence ----------------------------------------------------
    def diagnostics(self, X=None, *, grid=None) -> dict[str, np.ndarray]:
        """``pool_grids`` (n_levels,) int and ``best_epoch`` (1,) int (X is not used)."""
        self._check_fitted("network_")
        return {"pool_grids": np.asarray(list(self.pool_grids), dtype=np.int64),
                "best_epoch": np.asarray([self.history_.best_epoch], dtype=np.int64)}

    def _restore_fitted_state(self, arrays: dict, facts: dict) -> None:
        state = restore_network_state(self, arrays, facts)
        network = _PooledMLP(state["hidden.weight"].shape[1], state["readout.weight"].shape[0],
                             state["hidden.weight"].shape[0], self.dropout, state["feature_mean"].numpy(),
                             state["feature_scale"].numpy())
        network.load_state_dict(state)
        network.eval()
        self.network_ = network
