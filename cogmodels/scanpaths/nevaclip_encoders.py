"""Dual encoders for NevaClip: a differentiable image tower and, where there is one, a text tower.

NevaClip (Zanca et al. 2023) scores a foveated image by the cosine similarity
of its embedding with a task embedding.  The image tower must be
differentiable (the fixation search follows the gradient with respect to the
fovea position), so the encoders here take float tensors, not uint8 arrays.

- :class:`OpenClipEncoder` (``encoder="open_clip:<model>"``, e.g.
  ``open_clip:RN50``, the original's model): image and text towers of an
  open_clip CLIP.  Weights come from a local file only (``weights=``); a
  model config dict (``encoder_options={"config": {...}}``) builds a seeded
  random initialisation instead (used by the tests; stated in ``description``).
- :class:`BackboneEncoder` (``encoder="gabor"``, with 4 orientations unless
  ``n_orientations`` is given, or ``"timm:<name>"`` or a registered timm
  backbone name): a platform backbone with a pooled projection and no text
  tower.  gabor: the complex-cell energy of every scale and orientation,
  average-pooled to an ``embed_grid`` x ``embed_grid`` grid and
  flattened (a fixed, weight-free embedding); timm: the model's pooled
  pre-logits features.  Enough for the free-viewing and search-target
  objectives, which only compare images.

:func:`make_encoder` builds one from the model's parameters.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from cogmodels.errors import ConfigError, WeightsUnavailableError, format_problem

log = logging.getLogger(__name__)

OPEN_CLIP_PREFIX = "open_clip:"
#: CLIP's image normalisation (OpenAI's statistics), used when the model declares none.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_LUMA = (0.299, 0.587, 0.114)


class DualEncoder:
    """Interface: ``encode_image`` (differentiable) and ``encode_text`` (where ``has_text``).

    Attributes
    ----------
    input_size : int
        Side of the square image the search works on (the foveation runs at this size).
    has_text : bool
    description : str
        One line for the run's provenance (model, weights or random init).
    """

    input_size: int = 224
    has_text: bool = False
    description: str = ""

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Embeddings of float images in [0, 1], shape (n, 3, S, S) -> (n, D); differentiable."""
        raise NotImplementedError

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of captions, (len(texts), D)."""
        raise WeightsUnavailableError(format_problem(
            "NevaClip objective='caption'", "an encoder with a text tower",
            f"{self.description or type(self).__name__} (image tower only)",
            "use encoder='open_clip:RN50' with weights=/path/to/local/open_clip_RN50.safetensors "
            "(the caption objective needs CLIP's text tower; weights are read from a local file only)"))


class BackboneEncoder(DualEncoder):
    """A platform backbone as an image tower with a pooled projection (no text tower).

    Parameters
    ----------
    name : str
        "gabor", or a timm backbone ("timm:<model>" or a registered timm name).
    input_size : int
        Side of the square search image; gabor filters it at this size.
    embed_grid : int
        gabor only: side of the pooled grid of the embedding.
    weights : str, optional
        A local weights file for a timm backbone.
    seed : int
    backbone_options : dict, optional
        Extra backbone constructor options (e.g. gabor ``scales``).
    """

    def __init__(self, name: str = "gabor", input_size: int = 64, embed_grid: int = 4, weights=None, seed: int = 0,
                 backbone_options: dict | None = None):
        from cogmodels.backbones import create as create_backbone

        options = dict(backbone_options or {})
        self.name, self.embed_grid = name, int(embed_grid)
        if name == "gabor":
            options.setdefault("image_size", int(input_size))
            options.setdefault("n_orientations", 4)  # 4 instead of gabor's 8: ~4x faster search, see nevaclip.py
            options.setdefault("scales", tuple(s for s in (4.0, 8.0, 16.0) if s <= options["image_size"] / 2)
                               or (4.0,))
            self.backbone = create_backbone("gabor", weights=weights, seed=seed, **options)
            self.input_size = self.backbone.image_size
            self.description = (f"gabor filter bank ({len(self.backbone.scales)} scales x "
                                f"{self.backbone.n_orientations} orientations, {self.embed_grid}x{self.embed_grid} "
                                f"pooled energy; fixed, no weights) at {self.input_size} px")
            return
        from cogmodels.backbones.timm_backbone import TimmBackbone

        self.backbone = create_backbone(name, weights=weights, seed=seed, **options)
        if not isinstance(self.backbone, TimmBackbone):
            raise ConfigError(format_problem("NevaClip encoder", "'gabor', a timm backbone ('timm:<model>') or "
                                             "'open_clip:<model>'", repr(name),
                                             "pick a backbone with a pooled projection, e.g. encoder=gabor"))
        self.model = self.backbone.model
        pre = self.backbone.preprocessing
        self.input_size = int(input_size)
        self._size = tuple(pre["input_size"])
        self._mean = torch.tensor(pre["mean"]).view(1, 3, 1, 1)
        self._std = torch.tensor(pre["std"]).view(1, 3, 1, 1)
        self.description = f"timm {name} pooled pre-logits ({self.backbone.weights_hash})"

    def encode_image(self, images):
        if self.name == "gabor":
            return self._gabor(images)
        x = F.interpolate(images, size=self._size, mode="bilinear", align_corners=False)
        x = (x - self._mean.to(x)) / self._std.to(x)
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)

    def _gabor(self, images):
        from cogmodels.backbones.gabor import _filter, _resize

        luma = (images * torch.tensor(_LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)).sum(1, True)
        n_phases = len(self.backbone.phases)
        pooled = []
        for size, weight in self.backbone._levels:
            responses = _filter(_resize(luma, size), weight.to(images.dtype))
            n, channels, height, width = responses.shape
            by_phase = responses.view(n, channels // n_phases, n_phases, height, width)
            energy = (by_phase.square().sum(2) + 1e-8).sqrt()  # eps: a finite gradient on flat regions
            pooled.append(F.adaptive_avg_pool2d(energy, self.embed_grid).flatten(1))
        return torch.cat(pooled, 1)


class OpenClipEncoder(DualEncoder):
    """An open_clip CLIP model: image and text towers.

    Parameters
    ----------
    model_name : str
        An open_clip model name, e.g. "RN50" (the original NevaClip's).
    weights : str, optional
        Local weights file (state dict; .safetensors, .pt, .pth, .bin).  Required unless ``config`` is given.
    config : dict, optional
        An open_clip model config (embed_dim, vision_cfg, text_cfg): a seeded random initialisation
        of that architecture (tests; no weights), or the architecture that ``weights`` fit.
    seed : int
        Seed of a random initialisation.
    """

    has_text = True

    def __init__(self, model_name: str = "RN50", weights=None, config: dict | None = None, seed: int = 0):
        import cogmodels._torchvision_compat  # noqa: F401  (before open_clip imports torchvision)

        try:
            import open_clip
        except ImportError as err:
            raise WeightsUnavailableError(format_problem(
                f"NevaClip encoder=open_clip:{model_name}", "the open_clip package", "not installed",
                "pip install open-clip-torch -c constraints.txt, or use encoder=gabor (free viewing, search "
                "target)")) from err
        if weights is None and config is None:
            raise WeightsUnavailableError(format_problem(
                f"NevaClip encoder=open_clip:{model_name} weights", "a local weights file", "None (no download)",
                f"pass weights=/path/to/open_clip_{model_name}.safetensors (scanpath.weights=...), or "
                "use encoder=gabor for free viewing and search targets"))
        with torch.random.fork_rng():
            torch.manual_seed(int(seed))
            if config is not None:
                model = open_clip.CLIP(**config)
                self._tokenizer = open_clip.tokenize
                context = config.get("text_cfg", {}).get("context_length", 77)
                self._context = int(context)
            else:
                model = open_clip.create_model(model_name, pretrained=None)
                self._tokenizer = open_clip.get_tokenizer(model_name)
                self._context = None
        if weights is not None:
            from cogmodels.backbones.timm_backbone import read_state_dict, sha256_file

            state = read_state_dict(weights)
            try:
                model.load_state_dict(state, strict=True)
            except RuntimeError as err:
                raise ConfigError(format_problem(f"NevaClip weights={weights}", f"the parameters of open_clip "
                                                 f"{model_name}", str(err).splitlines()[0],
                                                 "check that encoder names the checkpoint's architecture")) from err
            source = f"weights {weights} (sha256 {sha256_file(weights)[:12]})"
        else:
            source = f"random initialisation, seed {seed} (no weights)"
            log.warning("open_clip %s: %s", model_name, source)
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        size = getattr(model.visual, "image_size", 224)
        self.input_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        cfg = getattr(model.visual, "preprocess_cfg", None) or {}
        self._mean = torch.tensor(cfg.get("mean", CLIP_MEAN)).view(1, 3, 1, 1)
        self._std = torch.tensor(cfg.get("std", CLIP_STD)).view(1, 3, 1, 1)
        self.description = f"open_clip {model_name if config is None else 'custom config'}, {source}"

    def encode_image(self, images):
        if images.shape[-1] != self.input_size or images.shape[-2] != self.input_size:
            images = F.interpolate(images, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)
        x = (images - self._mean.to(images)) / self._std.to(images)
        return self.model.encode_image(x)

    def encode_text(self, texts):
        tokens = (self._tokenizer(list(texts), context_length=self._context) if self._context
                  else self._tokenizer(list(texts)))
        with torch.no_grad():
            return self.model.encode_text(tokens)


def make_encoder(encoder: str, weights=None, options: dict | None = None, input_size: int | None = None,
                 seed: int = 0) -> DualEncoder:
    """Build the encoder named by NevaClip's ``encoder`` parameter (see the module docstring).

    ``options``: for open_clip ``{"config": {...}}``; for backbones ``embed_grid`` and any backbone
    constructor option.  ``input_size`` (None: the encoder's own) is the backbone's search size.
    """
    options = dict(options or {})
    if encoder.startswith(OPEN_CLIP_PREFIX):
        return OpenClipEncoder(encoder[len(OPEN_CLIP_PREFIX):], weights=weights, config=options.pop("config", None),
                               seed=seed)
    embed_grid = options.pop("embed_grid", 4)
    return BackboneEncoder(encoder, input_size=input_size or 64, embed_grid=embed_grid, weights=weights, seed=seed,
                           backbone_options=options)
