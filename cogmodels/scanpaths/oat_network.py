"""The OAT network: position encodings, the object/target encoder and the object-fixation decoder.

Written from the description in Fang et al., "OAT: Object-Level Attention
Transformer for Gaze Scanpath Prediction", ECCV 2024 (no code reused).

- **Encoder input**: one token per object, ``[W_f (f_k, s_k) ; PE(p_k)]`` (the
  projected backbone embedding of the object crop, with ``s_k`` its cosine similarity to the
  target embedding (our addition, ``target_similarity``), concatenated with a 2D
  position encoding of its centre), plus one target token ``[W_f (f_target, 1) ; e_t]``
  (a learned position slot ``e_t``; a learned "free viewing" token when the
  trial has no target).
- **Decoder input**: BOS, then for each fixated object its token
  ``[W_f f ; PE(p)]`` plus a sinusoidal order encoding of the fixation index;
  causal self-attention, cross-attention to the encoder output.
- **Output**: multi-head cross-attention scores of each decoder state (query)
  against the encoded objects plus a learned stop key (keys), averaged over
  heads: logits over ``n_objects + 1`` choices; trained with cross-entropy.

Position encodings (``position_encoding``):

- ``"sinusoidal"``: sines and cosines of x and y at geometric frequencies.
- ``"learned"``: a table of one vector per cell of a ``pe_grid`` whose cosine
  similarities are fitted to a Gaussian of the grid distance,
  ``S_ij = exp(-d_ij^2 / (2 sigma^2))`` (OAT's distance-aware encoding); the fit
  error (RMSE over all pairs) is kept in ``fit_error``.  Positions between cell
  centres are interpolated bilinearly.  The table is fitted once, before
  training, and then frozen.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def sinusoid_table(n_positions: int, dim: int) -> torch.Tensor:
    """Transformer order encoding, shape (n_positions, dim)."""
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : dim // 2]
    return table


class SinusoidalPosition2D(nn.Module):
    """2D sinusoidal encoding of positions in image units: half the dims for x, half for y.

    Parameters
    ----------
    dim : int
        Output size (a multiple of 4).
    scale : float
        Positions in [0, 1] are multiplied by ``scale`` before the sinusoids
        (wavelengths from ``2 pi / scale`` to about 2 image widths at the defaults).
    """

    def __init__(self, dim: int, scale: float = 64.0):
        super().__init__()
        if dim % 4:
            raise ValueError(f"SinusoidalPosition2D: dim must be a multiple of 4, found {dim}")
        quarter = dim // 4
        rate = torch.exp(torch.arange(quarter, dtype=torch.float32) * (-math.log(scale * 2) / max(quarter - 1, 1)))
        self.register_buffer("rate", rate * scale)
        self.fit_error = None

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        """(..., 2) positions in [0, 1] -> (..., dim)."""
        parts = []
        for axis in range(2):
            angle = pos[..., axis: axis + 1] * self.rate
            parts += [torch.sin(angle), torch.cos(angle)]
        return torch.cat(parts, dim=-1)


class LearnedGridPosition(nn.Module):
    """OAT's learned 2D encoding: one vector per grid cell, fitted so that cosine similarities follow a Gaussian
    of grid distance (see the module docstring).

    Parameters
    ----------
    dim : int
    grid : (n_rows, n_cols)
    sigma : float
        Gaussian width in grid cells.
    """

    def __init__(self, dim: int, grid=(8, 12), sigma: float = 1.0):
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))
        self.sigma = float(sigma)
        self.table = nn.Parameter(torch.zeros(self.grid[0] * self.grid[1], dim), requires_grad=False)
        self.fit_error = None

    def target_similarity(self) -> torch.Tensor:
        """The Gaussian of grid distance that the row similarities are fitted to, (n_cells, n_cells)."""
        rows, cols = self.grid
        r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
        cells = torch.stack([r.flatten(), c.flatten()], 1).float()
        d2 = ((cells[:, None] - cells[None]) ** 2).sum(-1)
        return torch.exp(-d2 / (2 * self.sigma ** 2))

    def similarity(self) -> torch.Tensor:
        """Cosine similarities of the table's rows, (n_cells, n_cells)."""
        unit = nn.functional.normalize(self.table, dim=1)
        return unit @ unit.T

    def fit(self, seed: int = 0, n_steps: int = 600, lr: float = 0.05) -> float:
        """Fit the table (Adam on the squared error of all pairs) from a seeded random start; returns the RMSE."""
        generator = torch.Generator().manual_seed(int(seed))
        table = torch.randn(self.table.shape, generator=generator).requires_grad_(True)
        target = self.target_similarity()
        optimiser = torch.optim.Adam([table], lr=lr)
        for _ in range(n_steps):
            unit = nn.functional.normalize(table, dim=1)
            loss = ((unit @ unit.T - target) ** 2).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            self.table.copy_(table.detach())
            self.fit_error = float(((self.similarity() - target) ** 2).mean().sqrt())
        return self.fit_error

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        """(..., 2) positions in [0, 1] (x, y) -> (..., dim), bilinear between cell centres."""
        rows, cols = self.grid
        fx = (pos[..., 0] * cols - 0.5).clamp(0, cols - 1)
        fy = (pos[..., 1] * rows - 0.5).clamp(0, rows - 1)
        x0, y0 = fx.floor().long(), fy.floor().long()
        x1, y1 = (x0 + 1).clamp(max=cols - 1), (y0 + 1).clamp(max=rows - 1)
        wx, wy = (fx - x0)[..., None], (fy - y0)[..., None]
        t = self.table
        return ((1 - wy) * ((1 - wx) * t[y0 * cols + x0] + wx * t[y0 * cols + x1])
                + wy * ((1 - wx) * t[y1 * cols + x0] + wx * t[y1 * cols + x1]))


class OATNetwork(nn.Module):
    """Encoder over object tokens + target token; decoder over fixated objects; cross-attention scores.

    Parameters
    ----------
    n_features : int
        Size of the object embeddings.
    d_model, d_position : int
        Token size, and the part of it taken by the position encoding.
    n_heads, n_encoder_layers, n_decoder_layers, dim_feedforward : int
    dropout : float
    position_encoding : {"learned", "sinusoidal"}
    pe_grid : (n_rows, n_cols)
        Grid of the learned encoding.
    pe_sigma : float
        Gaussian width (grid cells) of the learned encoding.
    max_length : int
        Longest decoder sequence (order encodings).
    background : bool
        Append a learned background object to every image (fixations on no object).
    target_similarity : bool
        Give each object token one more input, the cosine similarity of its embedding to the target's, add
        that similarity, times a learned gain, to the object scores, and add the similarity of the object
        fixated last, times another learned gain, to the "stop" score (our additions to the paper; the
        target token's input is 1).  With few training displays the transformer alone did not discover the
        object-target comparison, and its stop decision did not depend on whether the fixated object was
        the target (see the issue-10 notes).
    history_bias : bool
        Add two learned gains to the object scores: one for the object fixated last (refixation) and one
        for objects fixated earlier (revisits; a negative gain is inhibition of return).  Our addition to the
        paper: its decoder sees the fixation history only through self-attention, from which it learned
        inhibition of return poorly (revisits +75 % over the simulated searcher's; see the issue-10 notes).
    """

    def __init__(self, n_features: int, d_model: int = 64, d_position: int = 16, n_heads: int = 4,
                 n_encoder_layers: int = 2, n_decoder_layers: int = 2, dim_feedforward: int = 128,
                 dropout: float = 0.0, position_encoding: str = "learned", pe_grid=(8, 12), pe_sigma: float = 1.0,
                 max_length: int = 64, background: bool = False, target_similarity: bool = True,
                 history_bias: bool = True):
        super().__init__()
        self.history_bias = history_bias
        self.n_heads = n_heads
        self.background = background
        self.target_similarity = target_similarity
        # embeddings arrive standardised (OATModel); + 1 input: cosine similarity to the target embedding
        self.feature = nn.Linear(n_features + 1, d_model - d_position)
        self.position = (LearnedGridPosition(d_position, pe_grid, pe_sigma) if position_encoding == "learned"
                         else SinusoidalPosition2D(d_position))
        self.target_slot = nn.Parameter(torch.randn(d_position) * 0.1)      # position part of the target token
        self.free_view = nn.Parameter(torch.randn(d_model) * 0.1)          # target token when there is no target
        self.token_type = nn.Parameter(torch.randn(2, d_model) * 0.1)      # object / target
        self.background_token = nn.Parameter(torch.randn(d_model) * 0.1) if background else None
        layer = dict(d_model=d_model, nhead=n_heads, dim_feedforward=dim_feedforward, dropout=dropout,
                     batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer), n_encoder_layers,
                                             enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer), n_decoder_layers)
        self.bos = nn.Parameter(torch.randn(d_model) * 0.1)
        self.register_buffer("order", sinusoid_table(max_length + 1, d_model), persistent=False)
        self.stop_key = nn.Parameter(torch.randn(d_model) * 0.1)
        self.similarity_gain = nn.Parameter(torch.zeros(1))  # weight of the target similarity in the scores
        self.stop_gain = nn.Parameter(torch.zeros(1))        # weight of the last fixation's similarity in "stop"
        self.refixation_gain = nn.Parameter(torch.zeros(1))  # score bias of the object fixated last
        self.revisit_gain = nn.Parameter(torch.zeros(1))     # score bias of objects fixated before that
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)

    # -- tokens ---------------------------------------------------------------------------------
    def similarity_channel(self, features: torch.Tensor, target: torch.Tensor | None,
                           has_target: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each object embedding to the target embedding, (B, N, 1); 0 without a target
        (or with ``target_similarity=False``)."""
        if target is None or not self.target_similarity:
            return features.new_zeros(*features.shape[:-1], 1)
        cosine = nn.functional.cosine_similarity(features, target[:, None, :], dim=-1)
        return (cosine * has_target[:, None].to(cosine.dtype))[..., None]

    def object_tokens(self, features: torch.Tensor, positions: torch.Tensor, target: torch.Tensor | None = None,
                      has_target: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, F), (B, N, 2) -> (B, N', d_model); N' = N + 1 with the background object."""
        if has_target is None:
            has_target = torch.zeros(features.shape[0], dtype=torch.bool)
        similarity = self.similarity_channel(features, target, has_target)
        tokens = torch.cat([self.feature(torch.cat([features, similarity], -1)), self.position(positions)], dim=-1)
        if self.background:
            tokens = torch.cat([tokens, self.background_token.expand(tokens.shape[0], 1, -1)], dim=1)
        return tokens

    def object_similarity(self, features, target, has_target) -> torch.Tensor:
        """:meth:`similarity_channel` with a 0 row for the background object, (B, N', 1)."""
        similarity = self.similarity_channel(features, target, has_target)
        if self.background:
            similarity = torch.cat([similarity, similarity.new_zeros(similarity.shape[0], 1, 1)], dim=1)
        return similarity

    def encode(self, tokens: torch.Tensor, valid: torch.Tensor, target: torch.Tensor | None,
               has_target: torch.Tensor) -> torch.Tensor:
        """Encoder output for objects + target token, (B, N' + 1, d_model).

        ``valid`` (B, N') marks real objects; ``target`` (B, F) target embeddings; ``has_target`` (B,) bool.
        """
        batch = tokens.shape[0]
        if target is None:
            target_token = self.free_view.expand(batch, -1)
        else:
            searched = torch.cat([self.feature(torch.cat([target, torch.ones_like(target[:, :1])], -1)),
                                  self.target_slot.expand(batch, -1)], dim=-1)
            target_token = torch.where(has_target[:, None], searched, self.free_view.expand(batch, -1))
        sequence = torch.cat([tokens + self.token_type[0], (target_token + self.token_type[1])[:, None]], dim=1)
        padding = torch.cat([~valid, torch.zeros(batch, 1, dtype=torch.bool, device=valid.device)], dim=1)
        return self.encoder(sequence, src_key_padding_mask=padding)

    def decode(self, memory: torch.Tensor, tokens: torch.Tensor, valid: torch.Tensor,
               previous: torch.Tensor, similarity: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the next fixation after each prefix.

        Parameters
        ----------
        memory : (B, N' + 1, d_model) encoder output
        tokens : (B, N', d_model) object tokens (decoder inputs are gathered from them)
        valid : (B, N') bool
        previous : (B, L) int
            Fixated objects (padding: any valid index; later steps never see earlier padding
            through the causal mask, and padded targets are ignored in the loss).
        similarity : (B, N', 1), optional
            Target similarity of each object (:meth:`similarity_channel`), added to the object scores
            with a learned gain; the similarity of the object fixated last (0 before the first fixation)
            is added to the stop score with another learned gain.

        With ``history_bias``, the object fixated last and the objects fixated before it get learned score
        biases (refixation and revisit gains).

        Returns
        -------
        logits : (B, L + 1, N' + 1)
            Step ``i`` scores the fixation after ``previous[:, :i]``; the last column is "stop".
        """
        batch, length = previous.shape
        gathered = torch.gather(tokens, 1, previous[..., None].expand(-1, -1, tokens.shape[-1]))
        inputs = torch.cat([self.bos.expand(batch, 1, -1), gathered], dim=1) + self.order[: length + 1]
        causal = torch.triu(torch.ones(length + 1, length + 1, dtype=torch.bool, device=tokens.device), 1)
        padding = torch.cat([~valid, torch.zeros(batch, 1, dtype=torch.bool, device=valid.device)], dim=1)
        states = self.decoder(inputs, memory, tgt_mask=causal, memory_key_padding_mask=padding,
                              tgt_is_causal=True)
        keys = torch.cat([memory[:, :-1], self.stop_key.expand(batch, 1, -1)], dim=1)  # objects + stop
        q = self.query(states).unflatten(-1, (self.n_heads, -1)).transpose(1, 2)          # (B, h, L+1, dh)
        k = self.key(keys).unflatten(-1, (self.n_heads, -1)).transpose(1, 2)              # (B, h, N'+1, dh)
        scores = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).mean(1)              # (B, L+1, N'+1)
        if similarity is not None:
            bias = torch.cat([similarity[..., 0], similarity.new_zeros(batch, 1)], dim=1)  # stop: no bias
            scores = scores + self.similarity_gain * bias[:, None, :]
            last = torch.cat([similarity.new_zeros(batch, 1), torch.gather(similarity[..., 0], 1, previous)], 1)
            stop_bias = torch.cat([torch.zeros_like(scores[..., :-1]), (self.stop_gain * last)[..., None]], -1)
            scores = scores + stop_bias
        if self.history_bias:
            scores = scores + self.fixation_history(previous, scores.shape[-1])
        choices = torch.cat([valid, torch.ones(batch, 1, dtype=torch.bool, device=valid.device)], dim=1)
        return scores.masked_fill(~choices[:, None, :], float("-inf"))

    def fixation_history(self, previous: torch.Tensor, n_choices: int) -> torch.Tensor:
        """Score biases (B, L + 1, n_choices) from the fixations ``previous`` (B, L): at step ``i`` the object
        fixated last gets ``refixation_gain``, the objects fixated before it ``revisit_gain`` (none: 0)."""
        batch, length = previous.shape
        onehot = nn.functional.one_hot(previous, n_choices).to(self.refixation_gain.dtype)   # (B, L, C)
        zero = onehot.new_zeros(batch, 1, n_choices)
        last = torch.cat([zero, onehot], dim=1)                                               # (B, L+1, C)
        earlier = torch.cat([zero, zero, onehot[:, :-1].cumsum(1).clamp(max=1)], dim=1)[:, : length + 1]
        earlier = earlier * (1 - last)
        return self.refixation_gain * last + self.revisit_gain * earlier

    def forward(self, features, positions, valid, target, has_target, previous, index=None):
        """Logits (B, L + 1, N' + 1) for teacher forcing (see :meth:`decode`).

        ``index`` (B,) int, optional: the encoder inputs (``features`` ... ``has_target``) are given once per
        distinct display and target (U of them), and row ``b`` of ``previous`` belongs to display ``index[b]``;
        the encoder then runs U times instead of B times (scanpaths of several subjects share one encoding).
        """
        tokens = self.object_tokens(features, positions, target, has_target)
        memory = self.encode(tokens, valid, target, has_target)
        similarity = self.object_similarity(features, target, has_target)
        if index is not None:
            memory, tokens, valid, similarity = memory[index], tokens[index], valid[index], similarity[index]
        return self.decode(memory, tokens, valid, previous, similarity)


def fit_error_of(position: nn.Module) -> float | None:
    """RMSE of the learned encoding's similarity fit (None for the sinusoidal encoding)."""
    return getattr(position, "fit_error", None)


def as_tensor(array, dtype=torch.float32) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=dtype)
