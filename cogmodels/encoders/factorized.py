"""Spatial x feature factorized readout (Klindt, Ecker, Euler & Bethge 2017).

"Neural system identification for large populations separating 'what' and
'where'" (NeurIPS 2017).  Each channel reads a feature map through a spatial
mask (its receptive field, *where*) times a feature vector (*what*)::

    y_k = sum_{h, w, c} m_k[h, w] f_k[c] X[c, h, w] + b_k

which needs H*W + C weights per channel instead of the H*W*C of a full linear
readout.  The weights are fitted by gradient descent (AdamW) on the MSE plus
an L1 sparsity penalty on the mask and on the feature weights and a Laplacian
smoothness penalty on the mask; early stopping on a seeded validation split
keeps the weights with the best mean validation r.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cogmodels.encoders import ENCODERS
from cogmodels.encoders._early_stopping import feature_standardizer
from cogmodels.encoders._params import check_float
from cogmodels.encoders._readout_fitting import (
    SpatialReadout, check_predict_tokens, check_training_params, restore_network_state,
    split_responses, train_readout)

# Discrete 2D Laplacian; applied without padding so the mask border is not pulled towards zero.
LAPLACIAN_KERNEL = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


class _FactorizedNetwork(nn.Module):
    """Masks (K, H, W), feature weights (K, C) and biases (K,) on standardised tokens (B, H*W, C)."""

    def __init__(self, n_channels: int, grid: tuple[int, int], n_features: int, mean, scale):
        super().__init__()
        height, width = grid
        self.register_buffer("feature_mean", torch.from_numpy(mean))
        self.register_buffer("feature_scale", torch.from_numpy(scale))
        # Non-zero starts for both factors: with either at zero the other gets no gradient.
        self.mask = nn.Parameter(torch.randn(n_channels, height, width) / math.sqrt(height * width))
        self.features = nn.Parameter(torch.randn(n_channels, n_features) / math.sqrt(n_features))
        self.bias = nn.Parameter(torch.zeros(n_channels))

    def forward(self, tokens):  # (B, P, C) -> (B, K)
        tokens = (tokens - self.feature_mean) / self.feature_scale
        pooled = torch.einsum("bpc,kp->bkc", tokens, self.mask.flatten(1))
        return (pooled * self.features).sum(-1) + self.bias

    def penalty(self, l1_mask: float, l1_features: float, smoothness: float):
        """Regularisation summed over weights and averaged over channels."""
        total = l1_mask * self.mask.abs().sum((1, 2)).mean() + l1_features * self.features.abs().sum(1).mean()
        if smoothness and min(self.mask.shape[1:]) >= 3:
            laplacian = F.conv2d(self.mask[:, None], LAPLACIAN_KERNEL.to(self.mask)[None, None])
            total = total + smoothness * laplacian.pow(2).sum((1, 2, 3)).mean()
        return total


@ENCODERS.register("factorized", example={"max_epochs": 3, "patience": 2, "batch_size": 16, "progress": False})
class FactorizedReadout(SpatialReadout):
    """Spatial x feature factorized readout (Klindt et al. 2017).

    Parameters
    ----------
    l1_mask, l1_features : float
        L1 sparsity penalties on the spatial masks and on the feature weights.
    smoothness : float
        Penalty on the squared discrete Laplacian of each mask.
    lr, weight_decay, batch_size, max_epochs, patience, validation_fraction, seed, progress
        Training settings (AdamW, mini-batches, early stopping on a seeded validation split), as in
        every spatial readout: see :class:`~cogmodels.encoders._readout_fitting.SpatialReadout`.
        Weight decay is 0 by default here: the penalties above regularise.

    Attributes
    ----------
    mask_ : array of shape (n_channels, H, W)
        Spatial masks, in units of the standardised features.
    feature_weights_ : array of shape (n_channels, C)
    intercept_ : array of shape (n_channels,)
    grid_ : (H, W)
    history_ : TrainingHistory

    Diagnostics: ``spatial_mask`` (n_channels, H, W), each channel's mask (its receptive field).
    """

    input_kind = "spatial"  # reads (n_stimuli, C, H, W) feature maps
    requires = frozenset()

    def __init__(self, l1_mask: float = 1e-3, l1_features: float = 1e-3, smoothness: float = 1e-2,
                 lr: float = 1e-2, weight_decay: float = 0.0, batch_size: int = 64, max_epochs: int = 200,
                 patience: int = 15, validation_fraction: float = 0.15, seed: int = 0, progress: bool = True):
        self.l1_mask = l1_mask
        self.l1_features = l1_features
        self.smoothness = smoothness
        super().__init__(lr, weight_decay, batch_size, max_epochs, patience, validation_fraction, seed, progress)

    def validate_params(self) -> "FactorizedReadout":
        """Check every parameter (no data needed); ConfigError naming ``encoder.<param>`` otherwise."""
        for name in ("l1_mask", "l1_features", "smoothness"):
            check_float(name, getattr(self, name), low=0.0, fix=f"use {name}=0 to switch the penalty off")
        check_training_params(self, lr_fix="use e.g. lr=0.01", weight_decay_fix="use e.g. weight_decay=0")
        return self

    def _readout_inputs(self, tokens, grid):
        """The tokens themselves (n_stimuli, H*W, C): the masks read every position."""
        return tokens

    def _fit(self, tokens, Y):
        train_idx, val_idx, Y = split_responses(self, Y)
        mean, scale = feature_standardizer([tokens], [train_idx])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            network = _FactorizedNetwork(Y.shape[1], self.grid_, tokens.shape[2], mean, scale)
        self.history_ = train_readout(
            self, network, tokens, Y, train_idx, val_idx, "factorized readout",
            penalty=lambda: network.penalty(self.l1_mask, self.l1_features, self.smoothness))
        self._set_fitted_network(network)
        return self

    def predict(self, X, grid=None) -> np.ndarray:
        """Predicted responses of shape (n_stimuli, n_channels)."""
        self._check_fitted("network_")
        tokens = check_predict_tokens(X, grid, self.grid_, self.n_features_, "readout")
        batch = 4 * self.batch_size
        with torch.no_grad():
            self.network_.eval()
            standardized = torch.cat([self.network_(torch.from_numpy(tokens[i:i + batch]))
                                      for i in range(0, len(tokens), batch)]).numpy()
        return standardized * self.response_scale_ + self.response_mean_

    # -- diagnostics and persistence ----------------------------------------------
    def diagnostics(self, X=None, *, grid=None) -> dict[str, np.ndarray]:
        """``spatial_mask``: float32 array of shape (n_channels, H, W), each channel's mask (X is not used)."""
        self._check_fitted("network_")
        return {"spatial_mask": np.asarray(self.mask_, dtype=np.float32)}

    def _restore_fitted_state(self, arrays: dict, facts: dict) -> None:
        state = restore_network_state(self, arrays, facts)
        network = _FactorizedNetwork(state["mask"].shape[0], self.grid_, self.n_features_,
                                     state["feature_mean"].numpy(), state["feature_scale"].numpy())
        network.load_state_dict(state)
        network.eval()
        self._set_fitted_network(network)

    def _set_fitted_network(self, network) -> None:
        self.network_ = network
        self.mask_ = network.mask.detach().numpy().copy()
        self.feature_weights_ = network.features.detach().numpy().copy()
        self.intercept_ = network.bias.detach().numpy().copy()
