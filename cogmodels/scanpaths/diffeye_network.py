"""DiffEye's denoiser and its diffusion: a transformer over trajectory patches, with the CPE, DDPM and DDIM.

Denoiser (:class:`DiffEyeDenoiser`).  Input: a noisy trajectory ``x_t`` of shape
(B, L, 2) in normalised image coordinates ([-1, 1], x left to right, y top to
bottom), the diffusion step ``t`` and the image's patch features (B, C, h, w).

- **Corresponding Positional Embedding (CPE).**  At every trajectory step the
  patch feature at the step's current (noisy) gaze position is sampled
  bilinearly (``grid_sample``, border padding), projected to ``d_model`` and
  added to the step's embedding (a linear map of its (x, y)).  The network thus
  sees what lies under the gaze at each step.
- Steps are grouped into patches of ``patch`` consecutive samples (one token
  each; linear patch embedding), plus a sinusoidal time encoding and the
  embedding of the diffusion step (sinusoidal, then an MLP), added to every token.
- Transformer decoder layers (pre-norm): self-attention over the trajectory
  tokens and cross-attention to the image's patch tokens (projected features
  plus a 2D sinusoidal position encoding, average-pooled to at most
  ``memory_grid`` x ``memory_grid`` tokens to keep training cheap), which gives
  every token the whole image; the CPE keeps the full feature grid.
- Output: the predicted noise, shape (B, L, 2).

Classifier-free guidance (Ho & Salimans 2022).  In training the image condition
is replaced by a learned null feature vector (for the CPE and the patch tokens
alike) with probability ``p_uncond``; in sampling
``eps = (1 + w) eps(x, image) - w eps(x, null)`` with guidance scale ``w >= 0``
(``w = 0``: the conditional model alone).

Diffusion (:class:`Diffusion`).  Cosine noise schedule (Nichol & Dhariwal 2021)
with ``T`` steps; epsilon prediction trained with the mean squared error.
Samplers: DDPM ancestral sampling over all ``T`` steps (posterior variance
beta-tilde; Ho et al. 2020) and deterministic DDIM (eta = 0; Song et al. 2021)
over ``ddim_steps`` evenly spaced steps.  Both clip the predicted clean
trajectory to [-1, 1] at every step (the image) and use the same network, so
their outputs can be compared directly.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def sinusoidal(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal encoding of shape (*positions.shape, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=positions.device) / half)
    angles = positions.float()[..., None] * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def grid_encoding(h: int, w: int, dim: int) -> torch.Tensor:
    """2D sinusoidal encoding of an h x w grid, shape (h * w, dim): half for rows, half for columns."""
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.cat([sinusoidal(rows.flatten() * 16.0 / max(h, 1), dim // 2),
                      sinusoidal(cols.flatten() * 16.0 / max(w, 1), dim - dim // 2)], dim=-1)


def corresponding_features(features: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear sample of the feature map at each trajectory step (the CPE's lookup).

    Parameters
    ----------
    features : tensor of shape (B, C, h, w)
    xy : tensor of shape (B, L, 2), normalised coordinates in [-1, 1] (x, y); outside: the border value

    Returns
    -------
    tensor of shape (B, L, C)
    """
    sampled = nn.functional.grid_sample(features, xy[:, :, None, :], mode="bilinear", padding_mode="border",
                                        align_corners=False)  # (B, C, L, 1)
    return sampled[..., 0].transpose(1, 2)


class DiffEyeDenoiser(nn.Module):
    """Noise prediction network over fixed-length trajectories (see the module docstring).

    Parameters
    ----------
    n_features : int
        Channels C of the backbone feature map.
    n_steps : int
        Trajectory length L (a multiple of ``patch``).
    d_model, n_heads, n_layers, dim_feedforward, dropout, patch : ints / float
    memory_grid : int
        Largest side of the grid of image tokens the cross-attention sees.
    """

    def __init__(self, n_features: int, n_steps: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 3,
                 dim_feedforward: int = 128, dropout: float = 0.0, patch: int = 4, memory_grid: int = 8):
        super().__init__()
        self.memory_grid = int(memory_grid)
        self.n_steps, self.patch, self.d_model = int(n_steps), int(patch), int(d_model)
        self.null_features = nn.Parameter(torch.zeros(n_features))
        self.step_in = nn.Linear(2, d_model)
        self.cpe = nn.Linear(n_features, d_model)
        self.patch_in = nn.Linear(patch * d_model, d_model)
        self.tokens_in = nn.Linear(n_features, d_model)
        self.time_mlp = nn.Sequential(nn.Linear(d_model, d_model), nn.SiLU(), nn.Linear(d_model, d_model))
        layer = nn.TransformerDecoderLayer(d_model, n_heads, dim_feedforward, dropout, batch_first=True,
                                           norm_first=True)
        self.layers = nn.TransformerDecoder(layer, n_layers)
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, patch * 2)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.register_buffer("time_code", sinusoidal(torch.arange(n_steps // patch), d_model), persistent=False)

    def condition(self, features: torch.Tensor, uncond: torch.Tensor | None) -> torch.Tensor:
        """Features with the rows flagged in ``uncond`` (B,) replaced by the learned null condition."""
        if uncond is None or not bool(uncond.any()):
            return features
        null = self.null_features[None, :, None, None].expand_as(features)
        return torch.where(uncond[:, None, None, None], null, features)

    def image_context(self, features: torch.Tensor, uncond: torch.Tensor | None = None) -> tuple:
        """What the denoiser needs of the images, independent of ``x`` and ``t``: computed once per sampling call.

        Returns (features with the ``uncond`` rows replaced by the null condition, shape (B, C, h, w);
        cross-attention memory tokens, shape (B, m, d_model)).
        """
        features = self.condition(features, uncond)
        pooled = features
        if max(features.shape[2:]) > self.memory_grid:
            pooled = nn.functional.adaptive_avg_pool2d(
                features, (min(features.shape[2], self.memory_grid), min(features.shape[3], self.memory_grid)))
        _, c, h, w = pooled.shape
        memory = self.tokens_in(pooled.flatten(2).transpose(1, 2)) + grid_encoding(h, w, self.d_model).to(
            features.device)
        return features, memory

    def forward(self, x: torch.Tensor, t: torch.Tensor, features: torch.Tensor | None,
                uncond: torch.Tensor | None = None, context: tuple | None = None) -> torch.Tensor:
        """Predicted noise of shape (B, L, 2).

        Parameters
        ----------
        x : (B, L, 2) noisy trajectories; t : (B,) integer diffusion steps;
        features : (B, C, h, w) patch features; uncond : (B,) bool, rows that get the null condition;
        context : the :meth:`image_context` of (features, uncond), when the caller computed it already
        (the samplers do, once per call); ``features`` and ``uncond`` are then ignored.
        """
        b, length, _ = x.shape
        features, memory = context if context is not None else self.image_context(features, uncond)
        step = self.step_in(x) + self.cpe(corresponding_features(features, x))        # (B, L, d)
        tokens = self.patch_in(step.reshape(b, length // self.patch, self.patch * self.d_model))
        tokens = tokens + self.time_code[None] + self.time_mlp(sinusoidal(t, self.d_model))[:, None]
        hidden = self.layers(tokens, memory)
        return self.out(self.norm(hidden)).reshape(b, length, 2)


class Diffusion:
    """Cosine-schedule Gaussian diffusion with DDPM and DDIM samplers (see the module docstring).

    Parameters
    ----------
    n_diffusion_steps : int
        T.
    """

    def __init__(self, n_diffusion_steps: int = 1000):
        self.T = int(n_diffusion_steps)
        s = 0.008
        u = np.linspace(0, self.T, self.T + 1) / self.T
        alpha_bar = np.cos((u + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = alpha_bar / alpha_bar[0]
        betas = np.clip(1 - alpha_bar[1:] / alpha_bar[:-1], 0, 0.999)
        self.betas = torch.tensor(betas, dtype=torch.float64)
        self.alpha_bar = torch.cumprod(1 - self.betas, 0)

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        ab = self.alpha_bar.to(x0.device)[t].float()[:, None, None]
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def loss(self, network, x0, features, generator: torch.Generator, p_uncond: float) -> torch.Tensor:
        """Mean squared error of the predicted noise for random steps, noise and condition drops."""
        b = x0.shape[0]
        t = torch.randint(0, self.T, (b,), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        uncond = (torch.rand(b, generator=generator) < p_uncond).to(x0.device)
        return nn.functional.mse_loss(network(self.add_noise(x0, t, noise), t, features, uncond), noise)

    @staticmethod
    def prepared(network, features: torch.Tensor, guidance: float):
        """``eps(x, t)``: the classifier-free guided noise prediction for a fixed batch of images.

        ``(1 + w) eps(x, image) - w eps(x, null)`` with both passes in one batch (``w = 0``: one pass).  The
        image context (null-conditioned features, memory tokens) is computed here once, not at every step,
        when the network offers ``image_context``; any callable ``network(x, t, features[, uncond])`` works.
        """
        n = features.shape[0]
        if guidance == 0:
            feats, uncond = features, None
        else:
            feats = torch.cat([features, features])
            uncond = torch.cat([torch.zeros(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool)]).to(
                features.device)
        context = network.image_context(feats, uncond) if hasattr(network, "image_context") else None

        def eps(x, t):
            rows = len(feats)
            steps = torch.full((rows,), int(t), dtype=torch.long, device=x.device)
            xx = x if guidance == 0 else torch.cat([x, x])
            if context is not None:
                out = network(xx, steps, None, context=context)
            else:
                out = network(xx, steps, feats) if uncond is None else network(xx, steps, feats, uncond)
            if guidance == 0:
                return out
            cond, free = out.chunk(2)
            return (1 + guidance) * cond - guidance * free

        return eps

    @staticmethod
    def guided(network, x, t, features, guidance: float) -> torch.Tensor:
        """Classifier-free guided noise prediction at one step (see :meth:`prepared`)."""
        return Diffusion.prepared(network, features, guidance)(x, t)

    def _ddpm_coefficients(self) -> list:
        """Per step t: (alpha_bar_t, x0 and x_t weights of the posterior mean, posterior sd) as Python floats."""
        ab = self.alpha_bar.numpy()
        out = []
        for t in range(self.T):
            ab_prev, beta = (ab[t - 1] if t > 0 else 1.0), float(self.betas[t])
            out.append((float(ab[t]), math.sqrt(ab_prev) * beta / (1 - ab[t]),
                        math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab[t]),
                        math.sqrt(max(beta * (1 - ab_prev) / (1 - ab[t]), 0.0))))
        return out

    @staticmethod
    def _x0(x, eps, ab: float):
        return ((x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)).clamp(-1, 1)

    @torch.no_grad()
    def sample_ddpm(self, network, features, shape, generator: torch.Generator, guidance: float = 0.0):
        """Ancestral DDPM over all T steps; returns (B, L, 2) in [-1, 1]."""
        x = torch.randn(shape, generator=generator).to(features.device)
        eps_of = self.prepared(network, features, guidance)
        coefficients = self._ddpm_coefficients()
        for t in range(self.T - 1, -1, -1):
            ab, c0, ct, sd = coefficients[t]
            x0 = self._x0(x, eps_of(x, t), ab)
            mean = c0 * x0 + ct * x
            if t > 0:
                x = mean + sd * torch.randn(shape, generator=generator).to(x.device)
            else:
                x = mean
        return x.clamp(-1, 1)

    def ddim_schedule(self, n_steps: int) -> list[int]:
        """The ``n_steps`` diffusion steps DDIM visits, descending (evenly spaced, always ending at 0)."""
        n_steps = max(1, min(int(n_steps), self.T))
        return sorted({int(round(v)) for v in np.linspace(0, self.T - 1, n_steps)}, reverse=True)

    @torch.no_grad()
    def sample_ddim(self, network, features, shape, generator: torch.Generator, n_steps: int = 50,
                    guidance: float = 0.0, eta: float = 0.0):
        """DDIM over ``n_steps`` steps; returns (B, L, 2) in [-1, 1].

        ``eta = 0``: deterministic DDIM; ``eta = 1``: the DDPM posterior variance on the coarse schedule
        (Song et al. 2021, eq. 16).
        """
        x = torch.randn(shape, generator=generator).to(features.device)
        steps = self.ddim_schedule(n_steps)
        eps_of = self.prepared(network, features, guidance)
        for i, t in enumerate(steps):
            ab = float(self.alpha_bar[t])
            x0 = self._x0(x, eps_of(x, t), ab)
            eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
            if i + 1 < len(steps):
                ab_prev = float(self.alpha_bar[steps[i + 1]])
                sigma = eta * math.sqrt(max((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev), 0.0))
                x = math.sqrt(ab_prev) * x0 + math.sqrt(max(1 - ab_prev - sigma ** 2, 0.0)) * eps
                if eta > 0:
                    x = x + sigma * torch.randn(shape, generator=generator).to(x.device)
            else:
                x = x0
        return x.clamp(-1, 1)
