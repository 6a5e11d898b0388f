"""The network of the attention-routing transformer encoder (Adeli, Sun & Kriegeskorte 2025).

Learned ROI queries cross-attend over backbone tokens whose keys carry a 2D
sine-cosine position code (DETR-style); a per-channel linear readout reads the
output token of each channel's ROI(s).

Two switches change how the queries and keys enter the attention:

* ``query_input="detr"`` (as in DETR and the paper): the decoder's input is a
  zero tensor and the learned queries are its position term, added to the
  query side of every attention; ``"learned"``: the learned queries are the
  decoder's input itself.
* ``key_content=False`` (an ablation): the keys carry the position code only,
  so the attention cannot see image content; each query's attention map is
  then the same for every image (a learned fixed receptive field followed by
  the same nonlinear readout).  The estimator around it (training,
ensembling, transfer) is :class:`cogmodels.encoders.routing.RoutingTransformerEncoder`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from cogmodels.errors import ConfigError, format_problem

QUERY_INPUTS = ("detr", "learned")


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

    def forward(self, queries, keys, values, need_weights: bool = False, query_pos=None):
        """queries (B, Q, d), keys and values (B, N, d) -> queries (B, Q, d), attention (B, Q, N) (head mean).

        ``query_pos`` (Q, d) or (B, Q, d), optional: added to the queries on the query (and, in
        self-attention, key) side of each attention, never to the values (DETR's query position term).
        The attention is None unless ``need_weights`` (computing it disables the fused kernel).
        """
        if self.self_attention is not None:
            positioned = queries if query_pos is None else queries + query_pos
            update, _ = self.self_attention(positioned, positioned, queries, need_weights=False)
            queries = self.norm_self(queries + update)
        positioned = queries if query_pos is None else queries + query_pos
        update, attention = self.cross_attention(positioned, keys, values, need_weights=need_weights,
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
                 n_layers: int, mlp_ratio: float, self_attention: bool, dropout: float,
                 query_input: str = "learned", key_content: bool = True):
        super().__init__()
        if query_input not in QUERY_INPUTS:
            raise ConfigError(format_problem("query_input", f"one of {QUERY_INPUTS}", repr(query_input),
                                             "use query_input='detr' (zero decoder input, queries as position)"))
        self.grid = tuple(grid)
        self.query_input = query_input
        self.key_content = bool(key_content)
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
        keys = memory + self.position if self.key_content else self.position.expand(tokens.shape[0], -1, -1)
        if self.query_input == "detr":
            queries, query_pos = torch.zeros(tokens.shape[0], *self.queries.shape, dtype=memory.dtype), self.queries
        else:
            queries, query_pos = self.queries.expand(tokens.shape[0], -1, -1), None
        attention = None
        for i, layer in enumerate(self.layers):
            queries, attention = layer(queries, keys, memory, need_weights and i == len(self.layers) - 1,
                                       query_pos=query_pos)
        return queries, attention

    def forward(self, tokens, subject: str):
        """tokens (B, N, C) -> standardised predictions (B, n_channels of ``subject``)."""
        queries, _ = self.encode(tokens)
        return self.readouts[self.readout_keys[subject]](queries)


def flip_tokens(tokens: torch.Tensor, grid: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """Mirror the token grid left-right for a random half of the batch (horizontal-flip augmentation).

    tokens (B, H*W, C) -> (B, H*W, C); which rows are flipped is drawn from ``generator``.
    Flipping the feature grid stands in for flipping the image: exact for the grid
    layout, approximate for features that are not mirror-symmetric (e.g. oriented filters).
    """
    flip = torch.rand(tokens.shape[0], generator=generator) < 0.5
    if not bool(flip.any()):
        return tokens
    height, width = grid
    spatial = tokens.reshape(tokens.shape[0], height, width, tokens.shape[-1])
    mirrored = torch.where(flip[:, None, None, None], spatial.flip(2), spatial)
    return mirrored.reshape(tokens.shape)
