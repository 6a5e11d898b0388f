"""The network of the attention-routing transformer encoder (Adeli, Sun & Kriegeskorte 2025).

Learned ROI queries cross-attend over backbone tokens whose keys carry a 2D
sine-cosine position code (DETR-style); a per-channel linear readout reads the
output token of each channel's ROI(s).  The estimator around it (training,
ensembling, transfer) is :class:`cogmodels.encoders.routing.RoutingTransformerEncoder`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from cogmodels.errors import ConfigError, format_problem

def sine_cosine_position_encoding(grid: tuple[int, int], d_model: int, temperature: float = 10000.0) -> torch.Tensor:
    """2D sine-cosine position encoding of shape (H*W, d_model), as in DETR.

    Row and column coordinates are scaled to (0, 2*pi]; half of the channels
    encode the row and half the column, each as sin/cos pairs at geometrically
    spaced frequencies ``temperature ** (-k / n_freq)``.
    """
    if d_model % 4:
        raise ConfigError(format_problem("d_model", "a multiple of 4 (sin/cos for rows and columns)",
                                         repr(d_model), "use e.g. 64 or 128"))
    height, width = grid
    n_freq = d_model // 4
    freqs = temperature ** (-torch.arange(n_freq, dtype=torch.float64) / n_freq)
    rows = (torch.arange(height, dtype=torch.float64) + 1) / height * 2 * math.pi
    cols = (torch.arange(width, dtype=torch.float64) + 1) / width * 2 * math.pi

    def encode(coords):  # (L,) -> (L, 2 * n_freq)
        angles = coords[:, None] * freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    row_code = encode(rows)[:, None, :].expand(height, width, -1)
    col_code = encode(cols)[None, :, :].expand(height, width, -1)
    return torch.cat([row_code, col_code], dim=-1).reshape(height * width, d_model).float()


class DecoderLayer(nn.Module):
    """Queries: optional self-attention, cross-attention over the tokens, MLP; each with residual + LayerNorm."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: float, self_attention: bool, dropout: float):
        super().__init__()
        self.self_attention = (nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
                               if self_attention else None)
        self.norm_self = nn.LayerNorm(d_model) if self_attention else None
        self.cross_attention = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm_cross = nn.LayerNorm(d_model)
        hidden = int(round(mlp_ratio * d_model))
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, d_model))
        self.norm_mlp = nn.LayerNorm(d_model)

    def forward(self, queries, keys, values, need_weights: bool = False):
        """queries (B, Q, d), keys and values (B, N, d) -> queries (B, Q, d), attention (B, Q, N) (head mean).

        The attention is None unless ``need_weights`` (computing it disables the fused kernel).
        """
        if self.self_attention is not None:
            update, _ = self.self_attention(queries, queries, queries, need_weights=False)
            queries = self.norm_self(queries + update)
        update, attention = self.cross_attention(queries, keys, values, need_weights=need_weights,
                                                 average_attn_weights=True)
        queries = self.norm_cross(queries + update)
        return self.norm_mlp(queries + self.mlp(queries)), attention


class ChannelReadout(nn.Module):
    """Per-channel linear readout of ROI tokens: y[b, c] = sum_q M[c, q] (w_c . t[b, q]) + b_c.

    Two exact evaluations: dense (all channel x query products, masked) when
    there are few queries, or over the (channel, query) pairs of M when there
    are many (e.g. one query per channel); whichever touches fewer numbers.

    Parameters
    ----------
    membership : bool array of shape (n_channels, n_queries)
        Which query tokens each channel reads (several for multi-ROI channels).
    d_model : int
    """

    def __init__(self, membership: np.ndarray, d_model: int):
        super().__init__()
        membership = np.asarray(membership, dtype=bool)
        channels, queries = np.nonzero(membership)
        self.register_buffer("membership", torch.as_tensor(membership, dtype=torch.float32))
        self.register_buffer("pair_channel", torch.as_tensor(channels, dtype=torch.long))
        self.register_buffer("pair_query", torch.as_tensor(queries, dtype=torch.long))
        self.pairwise = len(channels) * d_model < membership.size
        self.weight = nn.Parameter(torch.randn(membership.shape[0], d_model) / math.sqrt(d_model))
        self.bias = nn.Parameter(torch.zeros(membership.shape[0]))

    def forward(self, tokens):  # (B, Q, d) -> (B, n_channels)
        if self.pairwise:
            per_pair = (tokens[:, self.pair_query] * self.weight[self.pair_channel]).sum(-1)  # (B, n_pairs)
            summed = per_pair.new_zeros(tokens.shape[0], self.weight.shape[0])
            return summed.index_add(1, self.pair_channel, per_pair) + self.bias
        per_query = torch.einsum("bqd,cd->bcq", tokens, self.weight)
        return (per_query * self.membership).sum(-1) + self.bias


class RoutingNetwork(nn.Module):
    """The routing transformer of one feature layer, with one readout per subject.

    The shared part is the input projection and the decoder layers; the
    queries are shared across subjects but may be re-fitted for a new one.
    """

    def __init__(self, n_features: int, n_queries: int, grid: tuple[int, int], *, d_model: int, n_heads: int,
                 n_layers: int, mlp_ratio: float, self_attention: bool, dropout: float):
        super().__init__()
        self.grid = tuple(grid)
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_scale", torch.ones(n_features))
        self.register_buffer("position", sine_cosine_position_encoding(self.grid, d_model))
        self.input_proj = nn.Linear(n_features, d_model)
        self.queries = nn.Parameter(torch.randn(n_queries, d_model))
        self.layers = nn.ModuleList(DecoderLayer(d_model, n_heads, mlp_ratio, self_attention, dropout)
                                    for _ in range(n_layers))
        self.readouts = nn.ModuleDict()
        self.readout_keys: dict[str, str] = {}

    def add_readout(self, subject: str, membership: np.ndarray) -> None:
        key = f"subject{len(self.readouts)}"  # ModuleDict keys cannot hold arbitrary subject names
        self.readout_keys[subject] = key
        self.readouts[key] = ChannelReadout(membership, self.queries.shape[1])

    def clear_readouts(self) -> None:
        self.readouts = nn.ModuleDict()
        self.readout_keys = {}

    def encode(self, tokens, need_weights: bool = False):
        """tokens (B, N, C) -> query tokens (B, Q, d_model), last-layer attention (B, Q, N) or None."""
        memory = self.input_proj((tokens - self.feature_mean) / self.feature_scale)
        keys = memory + self.position
        queries = self.queries.expand(tokens.shape[0], -1, -1)
        attention = None
        for i, layer in enumerate(self.layers):
            queries, attention = layer(queries, keys, memory, need_weights and i == len(self.layers) - 1)
        return queries, attention

    def forward(self, tokens, subject: str):
        """tokens (B, N, C) -> standardised predictions (B, n_channels of ``subject``)."""
        queries, _ = self.encode(tokens)
        return self.readouts[self.readout_keys[subject]](queries)
