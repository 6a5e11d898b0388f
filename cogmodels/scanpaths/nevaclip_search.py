"""NevaClip's objective and its batched fixation search (the seam between the model and the encoders).

A *scene* holds a batch of images at the search resolution, each image's task
embedding and what the foveation needs; ``scene.loss(image_index, fovea, memory)``
is ``-cos(embed(foveate(image, fovea, memory)), task)`` for a batch of *chains*
(one chain = one scanpath being generated; many chains of many images share one
forward pass).

- :class:`PixelScene`: the foveated image is built in pixels by
  :func:`cogmodels.kernels.foveation.neva_foveate` and embedded by the encoder
  (any encoder; the only option for open_clip, timm and the eccentricity blur).
- :class:`GaborFeatureScene`: for the gabor encoder with the uniform blur.  The
  gabor front end (luma, resize, Gabor filtering) is linear, so the filter
  responses of ``x + (blur(x) - x) * mask`` are ``F(x) + F((blur(x) - x) * mask)``;
  this scene uses ``F(x) + F(blur(x) - x) * mask_l`` with the mask evaluated at
  each pyramid level's resolution, which is exact where the mask is constant
  over a filter's support and an approximation near the fovea's edge.  The
  complex-cell energy is then a quadratic in the mask, whose three coefficient
  maps are computed once per image, so a search step costs a few elementwise
  operations and a pooling instead of a convolution.  The tests bound the
  difference from :class:`PixelScene`.

:func:`search_fixations` is the NeVA search: ``steps`` sign-gradient steps of
``step_size`` on the fovea position in [-1, 1] coordinates (the original: 20 of
0.1), the best position seen is the fixation, and a chain whose loss has not
improved for ``patience`` steps restarts from a random position (at most
``restarts`` times).  Every random number comes from the chain's own
Generator, so a chain's result does not depend on which other chains share its batch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cogmodels.kernels.foveation import fovea_gaussian, gaussian_blur, neva_foveate

#: Restart and start positions are drawn uniformly in [-START_RANGE, START_RANGE]^2.
START_RANGE = 0.9


def memory_maps(fixations: torch.Tensor, counts: torch.Tensor, size: int, sigma: float,
                forgetting: float) -> torch.Tensor:
    """Memory of past fixations at a square resolution: ``sum_j (1 - forgetting)^(t - 1 - j) g(f_j)``.

    Parameters
    ----------
    fixations : tensor of shape (B, T, 2)
        Past fixations of each chain in [-1, 1] (rows beyond ``counts`` are ignored).
    counts : long tensor of shape (B,)
        Number of past fixations of each chain.
    size : int
    sigma, forgetting : float

    Returns
    -------
    tensor of shape (B, size, size); the recursion of :func:`cogmodels.kernels.foveation.update_memory`.
    """
    n_past = fixations.shape[1]
    if n_past == 0:
        return fixations.new_zeros(fixations.shape[0], size, size)
    ages = counts[:, None] - 1 - torch.arange(n_past, device=fixations.device)[None]  # (B, T)
    weights = torch.where(ages >= 0, (1 - forgetting) ** ages.clamp(min=0).to(fixations.dtype), 0.0)
    return (weights[..., None, None] * fovea_gaussian(fixations, size, size, sigma)).sum(1)


class PixelScene:
    """Foveate in pixels, then embed (see the module docstring).

    Parameters
    ----------
    encoder : DualEncoder
    images : tensor of shape (n, 3, S, S), float in [0, 1]
    targets : tensor of shape (n, D)
        Task embeddings.
    sigma : float
        Fovea sigma in [-1, 1] units.
    blur : "uniform" or "eccentricity"
    blur_sigma : float
        Uniform blur std in pixels of the S-px image (kernel 4 sigma + 1 wide).
    px_per_deg : float, optional
        Of the S-px image; needed by the eccentricity blur.
    """

    def __init__(self, encoder, images, targets, sigma, blur="uniform", blur_sigma=10.0, px_per_deg=None):
        self.encoder, self.images, self.sigma = encoder, images, float(sigma)
        self.targets = F.normalize(targets, dim=-1)
        self.blur, self.px_per_deg = blur, px_per_deg
        self.size = images.shape[-1]
        self.blurred = (gaussian_blur(images, blur_sigma, blur_kernel_size(blur_sigma)) if blur == "uniform"
                        else None)

    def prepare(self, index: torch.Tensor, past: torch.Tensor, counts: torch.Tensor, forgetting: float) -> dict:
        """What stays fixed while a batch of chains searches one fixation: their images, memory and targets.

        ``index`` (B,): each chain's image; ``past`` (B, T, 2) and ``counts`` (B,): its fixations so far.
        """
        return {"images": self.images[index], "targets": self.targets[index],
                "blurred": None if self.blurred is None else self.blurred[index],
                "memory": memory_maps(past, counts, self.size, self.sigma, forgetting)}

    def loss(self, state: dict, fovea: torch.Tensor) -> torch.Tensor:
        """-cos(embedding, task) of each chain, shape (B,), at fovea positions (B, 2) in [-1, 1]."""
        foveated = neva_foveate(state["images"], fovea[:, None], self.sigma, memory=state["memory"],
                                blurred=state["blurred"], blur=self.blur, px_per_deg=self.px_per_deg)[:, 0]
        embedding = self.encoder.encode_image(foveated)
        return -F.cosine_similarity(embedding, state["targets"], dim=-1)


class GaborFeatureScene:
    """The gabor encoder with the blend applied to its linear filter responses (see the module docstring)."""

    def __init__(self, encoder, images, targets, sigma, blur_sigma=10.0):
        from cogmodels.backbones.gabor import _filter, _resize

        self.encoder, self.sigma = encoder, float(sigma)
        self.targets = F.normalize(targets, dim=-1)
        backbone = encoder.backbone
        luma = torch.tensor((0.299, 0.587, 0.114), dtype=images.dtype).view(1, 3, 1, 1)
        residual = gaussian_blur(images, blur_sigma, blur_kernel_size(blur_sigma)) - images
        # Per level, the phase sums that make the energy a quadratic in the mask m (exact, not an approximation):
        # sum_p (b_p + m d_p)^2 = A + m (2 B + m C), A = sum_p b_p^2, B = sum_p b_p d_p, C = sum_p d_p^2,
        # with b = F(x) and d = F(blur(x) - x); each (n, n_orientations * n_scales_at_level, s, s).
        n_phases = len(backbone.phases)
        self.levels = []
        with torch.no_grad():
            for size, weight in backbone._levels:
                def respond(z):
                    out = _filter(_resize((z * luma).sum(1, keepdim=True), size), weight.to(images.dtype))
                    return out.view(out.shape[0], -1, n_phases, size, size)
                b, d = respond(images), respond(residual)
                self.levels.append((size, b.square().sum(2), 2 * (b * d).sum(2), d.square().sum(2)))
        self.grid = encoder.embed_grid

    def prepare(self, index, past, counts, forgetting) -> dict:
        """Per level: the chains' phase sums and unseen fraction ``1 - memory`` at that level's resolution."""
        return {"targets": self.targets[index],
                "levels": [(size, a[index], b2[index], c[index],
                            1 - memory_maps(past, counts, size, self.sigma, forgetting))
                           for size, a, b2, c in self.levels]}

    def loss(self, state, fovea):
        pooled = []
        for size, a, b2, c, unseen in state["levels"]:
            mask = (unseen - fovea_gaussian(fovea, size, size, self.sigma)).clamp(0, 1)[:, None]
            energy = (a + mask * (b2 + mask * c)).clamp(min=0).add(1e-8).sqrt()
            pooled.append(F.adaptive_avg_pool2d(energy, self.grid).flatten(1))
        return -F.cosine_similarity(torch.cat(pooled, 1), state["targets"], dim=-1)


def blur_kernel_size(blur_sigma: float) -> int:
    """Odd kernel width ~4 sigma + 1 (41 px for the original sigma of 10 px)."""
    return 2 * int(round(2 * float(blur_sigma))) + 1


def search_fixations(scene, index: torch.Tensor, past: torch.Tensor, counts: torch.Tensor, rngs: list,
                     steps: int, step_size: float, restarts: int, patience: int, forgetting: float):
    """One new fixation for each chain of a batch, by sign-gradient descent with random restarts.

    Parameters
    ----------
    scene : PixelScene or GaborFeatureScene
    index : long tensor of shape (B,)
        Image of each chain.
    past : tensor of shape (B, T, 2); counts : long tensor of shape (B,)
        The chains' fixations so far (memory).
    rngs : list of B numpy Generators
        One per chain: its start and restart positions.
    steps, step_size, restarts, patience, forgetting
        See :class:`cogmodels.scanpaths.nevaclip.NevaClipModel`.

    Returns
    -------
    best : tensor of shape (B, 2)
        The lowest-loss position visited, in [-1, 1].
    best_loss : tensor of shape (B,)
    """
    n = len(rngs)
    state = scene.prepare(index, past, counts, forgetting)
    draw = [rng.uniform(-START_RANGE, START_RANGE, 2) for rng in rngs]
    pos = torch.tensor(np.asarray(draw).reshape(n, 2), dtype=past.dtype)
    best, best_loss = pos.clone(), torch.full((n,), float("inf"), dtype=past.dtype)
    since = torch.zeros(n, dtype=torch.long)
    left = torch.full((n,), int(restarts), dtype=torch.long)
    for _ in range(int(steps)):
        pos.requires_grad_(True)
        with torch.enable_grad():
            loss = scene.loss(state, pos)
            (grad,) = torch.autograd.grad(loss.sum(), pos)
        with torch.no_grad():
            loss, pos = loss.detach(), pos.detach()
            improved = loss < best_loss
            best[improved], best_loss[improved] = pos[improved], loss[improved]
            since = torch.where(improved, 0, since + 1)
            pos = (pos - step_size * torch.sign(grad)).clamp(-1.0, 1.0)
            for i in torch.nonzero((since >= patience) & (left > 0)).flatten().tolist():
                pos[i] = torch.as_tensor(rngs[i].uniform(-START_RANGE, START_RANGE, 2), dtype=pos.dtype)
                since[i], left[i] = 0, left[i] - 1
    return best, best_loss
