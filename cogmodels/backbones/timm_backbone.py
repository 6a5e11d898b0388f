"""Any timm model as a feature backbone: layer selection by module name, seeded or local weights.

Features are read with forward hooks on the named modules (names as in
``model.named_modules()``; see :meth:`TimmBackbone.available_layers`).  The
forward pass stops as soon as every requested layer has produced its output,
so early layers cost only the early part of the network.

Weights
-------
``None`` / ``"random"``
    Seeded random initialisation (``torch.manual_seed(seed)`` around
    ``timm.create_model``); ``weights_hash = "random-seed<seed>"``.
path to a file
    A local timm checkpoint (``.pth``, ``.pt``, ``.bin``: a state dict, or a
    dict wrapping it under ``"state_dict"`` or ``"model"``) or a
    ``.safetensors`` file.  ``weights_hash`` is the sha256 of the file.
``"hub"``
    Pretrained weights from the Hugging Face hub.  Offline (``HF_HUB_OFFLINE``
    or no network) this fails at once with :class:`WeightsUnavailableError`,
    unless the weights are already in the local hub cache.

Preprocessing
-------------
Mean, std, interpolation and input size come from the model's timm pretrained
config.  By default the whole image is resized to the input size (no crop, so
every pixel of the stimulus reaches the model and the aspect ratio may change);
``crop="center"`` reproduces timm's evaluation transform (resize the short side
to ``size / crop_pct``, then a centre crop).
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import math
import os
import socket
import sys
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F

import cogmodels._torchvision_compat  # noqa: F401  (must precede timm: fixes a torchvision/torch mismatch)
import timm
from cogmodels.backbones import BACKBONES
from cogmodels.backbones.base import Backbone, FeatureMap
from cogmodels.data.checks import check_image
from cogmodels.errors import ConfigError, DataFormatError, ShapeError, WeightsUnavailableError, format_problem

log = logging.getLogger(__name__)


class TimmSpec(NamedTuple):
    """One registered timm backbone: default layers, a one-line description, default constructor options
    and the (tiny) input size of its conformance example."""

    layers: list
    description: str
    options: dict = {}
    example_size: int = 64


#: The registered timm backbones, one line each: name -> (default layers, description, default options).
#: A name here is all a timm model needs (plus its YAML); any other timm model is ``"timm:<model name>"``.
#:
#: ============================  ====================================  =====================================
#: backbone                      layers                                 what they are
#: ============================  ====================================  =====================================
#: ``vgg16``                     ``features.22``, ``features.29``      ReLU after conv4_3 and after conv5_3
#: ``resnet50``                  ``layer3``, ``layer4``                 last two residual stages
#: ``convnext_tiny``             ``stages.2``, ``stages.3``             last two ConvNeXt stages
#: ``vit_small_patch14_dinov2``  ``blocks.5``, ``blocks.11``           middle and last transformer block
#: ============================  ====================================  =====================================
TIMM_BACKBONES = {
    "vgg16": TimmSpec(["features.22", "features.29"], "VGG-16 (Simonyan & Zisserman 2015) through timm"),
    "resnet50": TimmSpec(["layer3", "layer4"], "ResNet-50 (He et al. 2016) through timm"),
    "convnext_tiny": TimmSpec(["stages.2", "stages.3"], "ConvNeXt-T (Liu et al. 2022) through timm"),
    # 224 px (a 16x16 token grid, cheap on CPU) instead of the pretraining 518 px; input_size=518 for the latter
    "vit_small_patch14_dinov2": TimmSpec(["blocks.5", "blocks.11"], "DINOv2 ViT-S/14 (Oquab et al. 2024) through "
                                         "timm", {"input_size": 224}, example_size=56),
}
#: Default layers by timm architecture (also used by ``"timm:<name>"`` for these architectures).
DEFAULT_LAYERS = {name: list(spec.layers) for name, spec in TIMM_BACKBONES.items()}

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
_WEIGHTS_FIX = ("download the checkpoint on a machine with network access and pass "
                "backbone.weights=/path/to/file (a .pth/.pt/.bin or .safetensors timm checkpoint), "
                "or use backbone.weights=null for a seeded random initialisation")
# Modules whose 4-D output is channels-first even inside a channels-last (NHWC) model.
_CHANNELS_FIRST_MODULES = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.MaxPool2d, torch.nn.AvgPool2d)


class _StopForward(Exception):
    """Raised by the last hook to end the forward pass early."""


class TimmBackbone(Backbone):
    """A timm model whose intermediate outputs are the features.

    Parameters
    ----------
    model_name : str
        Any name of ``timm.list_models()``.
    layers : list of str, optional
        Module names (``model.named_modules()``).  Default: :data:`DEFAULT_LAYERS`
        for the registered backbones, else a mid and the last entry of the
        model's ``feature_info``.
    weights : None, "random", "hub" or path
        See the module docstring.
    seed : int
        Seed of the random initialisation (also used before loading weights,
        so any parameter not in the checkpoint is still reproducible).
    device : str
        Torch device, e.g. "cpu" or "cuda".
    input_size : int or (height, width), optional
        Model input size; default: the pretrained config's.  Models with a
        fixed input size (ViTs) are built for this size (position embeddings
        of a checkpoint are resampled to it).
    crop : None or "center"
        None: resize the whole image (default); "center": timm's eval crop.

    Attributes
    ----------
    model : torch.nn.Module
    preprocessing : dict
        JSON-able description of the input transform (goes into cache keys).
    weights_hash : str
    """

    def __init__(self, model_name: str, layers=None, weights=None, seed: int = 0, device: str = "cpu",
                 input_size=None, crop: str | None = None):
        if not timm.is_model(model_name):
            close = difflib.get_close_matches(model_name, timm.list_models(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(format_problem("backbone.name", "a timm model name", repr(model_name),
                                             f"pick one of timm.list_models(){hint}"))
        if crop not in (None, "center"):
            raise ConfigError(format_problem("backbone.crop", "None or 'center'", repr(crop),
                                             "use crop=None to resize the whole image"))
        self.name = model_name
        self.seed = int(seed)
        self.device = torch.device(device)
        pretrained_cfg = timm.models.get_pretrained_cfg(model_name)
        size = _input_size(input_size, pretrained_cfg)
        create_kwargs = {}
        if size is not None and pretrained_cfg is not None and pretrained_cfg.fixed_input_size:
            create_kwargs["img_size"] = size
        self.model, self.weights_hash = _build_model(model_name, weights, self.seed, create_kwargs)
        self.model.eval().to(self.device)
        self.preprocessing = _preprocessing(self.model, size, crop)
        self._module_by_name = dict(self.model.named_modules())
        self.layers = self._check_layers(layers if layers is not None else self._default_layers())

    # -- layers ---------------------------------------------------------------
    def available_layers(self) -> list[str]:
        """Names of every module of the model, in definition order."""
        return [name for name in self._module_by_name if name]

    def _default_layers(self) -> list[str]:
        architecture = self.name.split(".")[0]  # without a pretrained tag such as ".a1_in1k"
        if architecture in DEFAULT_LAYERS:
            return list(DEFAULT_LAYERS[architecture])
        info = getattr(self.model, "feature_info", None)
        names = [entry["module"] for entry in info] if info else []
        names = [n for n in names if n in self._module_by_name]
        if not names:
            raise ConfigError(format_problem(f"backbone.layers ({self.name})", "a list of module names",
                                             "None, and this model declares no feature_info to pick defaults from",
                                             "pass layers=[...] from TimmBackbone(...).available_layers()"))
        return list(dict.fromkeys([names[len(names) // 2], names[-1]]))

    def _check_layers(self, layers) -> list[str]:
        layers = [layers] if isinstance(layers, str) else list(layers)
        for layer in layers:
            if layer not in self._module_by_name or not layer:
                close = difflib.get_close_matches(str(layer), self.available_layers(), n=3)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise ConfigError(format_problem(f"backbone.layers ({self.name})", "module names of the model",
                                                 repr(layer), f"{hint}list them with available_layers()"))
        return layers

    # -- features -------------------------------------------------------------
    def preprocess(self, images) -> torch.Tensor:
        """Resize and normalise uint8 images into a batch of shape (n, 3, H, W), float32."""
        pre = self.preprocessing
        height, width = pre["input_size"]
        mean = torch.tensor(pre["mean"], dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(pre["std"], dtype=torch.float32).view(3, 1, 1)
        batch = []
        for i, image in enumerate(images):
            image = check_image(image, f"images[{i}]")
            x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
            if pre["crop"] == "center":
                x = _center_crop(x, height, width, pre["crop_pct"], pre["interpolation"])
            else:
                x = _resize(x, (height, width), pre["interpolation"])
            batch.append((x - mean) / std)
        return torch.stack(batch).to(self.device)

    def extract_batch(self, images, layers) -> dict[str, FeatureMap]:
        """Features of a batch of uint8 (H, W, 3) images; see :class:`FeatureMap` for shapes."""
        layers = self._check_layers(layers)
        x = self.preprocess(images)
        outputs: dict[str, torch.Tensor] = {}

        def make_hook(name):
            def hook(module, args, output):
                if name not in outputs:  # a module called twice keeps its first output
                    outputs[name] = output[0] if isinstance(output, (tuple, list)) else output
                if len(outputs) == len(set(layers)):
                    raise _StopForward
            return hook

        handles = [self._module_by_name[name].register_forward_hook(make_hook(name)) for name in set(layers)]
        try:
            with torch.inference_mode():
                self.model(x)
        except _StopForward:
            pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [layer for layer in layers if layer not in outputs]
        if missing:
            raise ConfigError(format_problem(f"backbone.layers ({self.name})", "modules run by the forward pass",
                                             f"{missing} produced no output", "choose other layers"))
        return {layer: self._to_feature_map(layer, outputs[layer]) for layer in layers}

    def _to_feature_map(self, layer: str, output) -> FeatureMap:
        if not isinstance(output, torch.Tensor):
            raise ShapeError(format_problem(f"layer {layer!r} of {self.name}", "a tensor output",
                                            type(output).__name__, "pick a module that returns a tensor"))
        values = output.detach().float().cpu()
        if values.ndim == 4:
            if getattr(self.model, "output_fmt", "NCHW") == "NHWC" and not isinstance(
                    self._module_by_name[layer], _CHANNELS_FIRST_MODULES):
                values = values.permute(0, 3, 1, 2)
            return FeatureMap(values.contiguous().numpy(), "spatial")
        if values.ndim == 3:
            tokens, grid = self._drop_prefix_tokens(layer, values)
            return FeatureMap(tokens.contiguous().numpy(), "tokens", grid)
        if values.ndim == 2:
            return FeatureMap(values.numpy(), "vector")
        raise ShapeError(format_problem(f"layer {layer!r} of {self.name}", "an output of rank 2, 3 or 4",
                                        f"shape {tuple(values.shape)}", "pick another layer"))

    def _drop_prefix_tokens(self, layer: str, values: torch.Tensor):
        """(n, n_prefix + H*W, C) -> (n, H*W, C) and the grid (H, W)."""
        n_prefix = int(getattr(self.model, "num_prefix_tokens", 0) or 0)
        grid = self._token_grid()
        n_tokens = values.shape[1]
        if grid is None:  # no patch embedding: assume a square grid
            side = math.isqrt(n_tokens - n_prefix) if n_tokens > n_prefix else 0
            grid = (side, side)
        n_grid = grid[0] * grid[1]
        if n_tokens == n_grid + n_prefix:
            return values[:, n_prefix:], grid
        if n_tokens == n_grid:  # e.g. the patch embedding, before prefix tokens are added
            return values, grid
        raise ShapeError(format_problem(f"layer {layer!r} of {self.name}",
                                        f"{n_prefix} prefix tokens + a {grid[0]}x{grid[1]} token grid",
                                        f"{n_tokens} tokens (shape {tuple(values.shape)})",
                                        "pick a layer whose output is a token sequence of the image grid"))

    def _token_grid(self):
        patch_embed = getattr(self.model, "patch_embed", None)
        grid = getattr(patch_embed, "grid_size", None)
        if grid is None:
            return None
        if hasattr(patch_embed, "dynamic_feat_size"):
            grid = patch_embed.dynamic_feat_size(tuple(self.preprocessing["input_size"]))
        return tuple(int(g) for g in grid)


# -- preprocessing --------------------------------------------------------------
def _input_size(input_size, pretrained_cfg):
    if input_size is None:
        return None
    size = (input_size, input_size) if np.isscalar(input_size) else tuple(input_size)
    if len(size) == 3:  # timm style (3, H, W)
        size = size[1:]
    if len(size) != 2 or min(int(s) for s in size) < 8:
        raise ConfigError(format_problem("backbone.input_size", "an int or (height, width) of at least 8 px",
                                         repr(input_size), "pass e.g. input_size=224"))
    return tuple(int(s) for s in size)


def _preprocessing(model, size, crop) -> dict:
    config = timm.data.resolve_data_config({}, model=model)
    height, width = size if size is not None else config["input_size"][1:]
    return {
        "input_size": [int(height), int(width)],
        "mean": [float(m) for m in config["mean"]],
        "std": [float(s) for s in config["std"]],
        "interpolation": str(config["interpolation"]),
        "crop": crop or "none",
        "crop_pct": float(config["crop_pct"]) if crop else 1.0,
        "resize": "whole image to input_size" if crop is None else "short side to size / crop_pct, centre crop",
    }


def _resize(x: torch.Tensor, size, interpolation: str) -> torch.Tensor:
    """Resize a (3, H, W) image in [0, 1] with antialiasing; bicubic overshoot is clipped."""
    if tuple(x.shape[1:]) == tuple(size):
        return x
    mode = interpolation if interpolation in ("bilinear", "bicubic") else "bilinear"
    return F.interpolate(x[None], size=size, mode=mode, antialias=True, align_corners=False)[0].clamp_(0.0, 1.0)


def _center_crop(x: torch.Tensor, height: int, width: int, crop_pct: float, interpolation: str) -> torch.Tensor:
    scale_size = math.floor(min(height, width) / crop_pct)
    h, w = x.shape[1:]
    new = (scale_size, round(w * scale_size / h)) if h <= w else (round(h * scale_size / w), scale_size)
    x = _resize(x, new, interpolation)
    top, left = (x.shape[1] - height) // 2, (x.shape[2] - width) // 2
    return x[:, top:top + height, left:left + width]


# -- weights --------------------------------------------------------------------
def _build_model(model_name: str, weights, seed: int, create_kwargs: dict):
    """The model in eval mode and its weights hash."""
    if weights == "hub":
        return _hub_model(model_name, seed, create_kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = timm.create_model(model_name, pretrained=False, **create_kwargs)
    if weights is None or weights == "random":
        return model, f"random-seed{seed}"
    path = Path(os.fspath(weights)).expanduser()
    if not path.is_file():
        raise WeightsUnavailableError(format_problem(
            f"backbone.weights={weights}", "None, 'random', 'hub' or a checkpoint file", "no such file", _WEIGHTS_FIX))
    load_checkpoint(model, path)
    return model, sha256_file(path)


def sha256_file(path) -> str:
    """Hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file, unwrapped from ``{"state_dict": ...}`` / ``{"model": ...}``."""
    path = Path(path)
    where = f"backbone.weights={path}"
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise DataFormatError(format_problem(where, f"a file ending in {', '.join(CHECKPOINT_SUFFIXES)}",
                                             f"suffix {path.suffix!r}",
                                             "save the state dict with torch.save or safetensors"))
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling / header errors come in many types
        raise DataFormatError(format_problem(
            where, "a readable checkpoint holding only tensors", f"an unreadable file ({type(err).__name__}: {err})",
            "if the file is trusted, re-save just its state dict: torch.save(torch.load(p, weights_only=False)"
            "['model'], 'clean.pth')")) from err
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataFormatError(format_problem(where, "a dict of parameter name -> tensor", type(state).__name__,
                                             "save model.state_dict()"))
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def load_checkpoint(model: torch.nn.Module, path) -> None:
    """Load a local checkpoint into ``model``; any key or shape mismatch is a DataFormatError.

    The model family's timm ``checkpoint_filter_fn`` is applied first when it
    has one (it converts original-release checkpoints, e.g. DINOv2, and
    resamples ViT position embeddings to the model's input size).  A checkpoint
    without the classifier head is accepted: the head is removed.
    """
    where = f"backbone.weights={path}"
    state = read_state_dict(path)
    filter_fn = getattr(sys.modules.get(type(model).__module__), "checkpoint_filter_fn", None)
    if filter_fn is not None:
        try:
            state = filter_fn(state, model)
        except Exception as err:
            raise DataFormatError(format_problem(where, f"a checkpoint of a timm {type(model).__name__}",
                                                 f"a state dict timm cannot convert ({err})",
                                                 "check that the file matches backbone.name")) from err
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    classifier = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    if missing and classifier and all(k.startswith(f"{classifier}.") for k in missing):
        log.info("%s has no classifier weights (%s); removing the model's head", path, classifier)
        model.reset_classifier(0)
        expected = model.state_dict()
        missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
                  if k in state and state[k].shape != v.shape]
    if missing or unexpected or mismatched:
        found = "; ".join(f"{label} ({len(keys)}): {keys[:5]}{' ...' if len(keys) > 5 else ''}"
                          for label, keys in [("missing keys", missing), ("unexpected keys", unexpected),
                                              ("shape mismatches (file vs model)", mismatched)] if keys)
        raise DataFormatError(format_problem(where, f"the parameters of timm model {type(model).__name__}",
                                             found, "check that backbone.name matches the checkpoint's architecture"))
    model.load_state_dict(state, strict=True)


def hub_offline() -> bool:
    """Whether the user asked huggingface_hub to stay offline."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        from huggingface_hub import constants

        endpoint = urlparse(constants.ENDPOINT)
    except ImportError:
        endpoint = urlparse("https://huggingface.co")
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _cached_hub_file(model_name: str):
    """Path of the model's pretrained file in the local hub cache, or None."""
    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None or not cfg.hf_hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    repo_id, _, revision = cfg.hf_hub_id.partition("@")
    for filename in ([cfg.hf_hub_filename] if cfg.hf_hub_filename else []) + ["model.safetensors", "pytorch_model.bin"]:
        found = try_to_load_from_cache(repo_id, filename, revision=revision or None)
        if isinstance(found, str):
            return found
    return None


def _hub_model(model_name: str, seed: int, create_kwargs: dict):
    """Pretrained model from the hub; fails fast when offline and not cached."""
    cached = _cached_hub_file(model_name)
    if cached is None:
        reason = None
        if hub_offline():
            reason = "HF_HUB_OFFLINE is set and the weights are not in the local hub cache"
        elif not _hub_reachable():
            reason = "the hub cannot be reached (no network)"
        if reason:
            raise WeightsUnavailableError(format_problem(f"backbone.weights=hub ({model_name})",
                                                         "pretrained weights from the Hugging Face hub", reason,
                                                         _WEIGHTS_FIX))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = timm.create_model(model_name, pretrained=True, **create_kwargs)
    except Exception as err:
        raise WeightsUnavailableError(format_problem(f"backbone.weights=hub ({model_name})",
                                                     "pretrained weights from the Hugging Face hub",
                                                     f"a failed download ({type(err).__name__}: {err})",
                                                     _WEIGHTS_FIX)) from err
    cached = _cached_hub_file(model_name)
    return model, (sha256_file(cached) if cached else f"hub:{model_name}")


# -- registered factories -----------------------------------------------------------
def _factory(model_name: str, defaults: dict, description: str):
    """``factory(layers=None, weights=None, seed=0, **options) -> TimmBackbone`` for one registered name."""
    def factory(layers=None, weights=None, seed: int = 0, **options) -> TimmBackbone:
        return TimmBackbone(model_name, layers=layers, weights=weights, seed=seed, **{**defaults, **options})

    factory.__name__ = factory.__qualname__ = model_name
    factory.__doc__ = f"{description}; default layers {', '.join(DEFAULT_LAYERS[model_name])}."
    return factory


for _name, _spec in TIMM_BACKBONES.items():
    BACKBONES.register(_name, _factory(_name, _spec.options, _spec.description),
                       example={"input_size": _spec.example_size})
