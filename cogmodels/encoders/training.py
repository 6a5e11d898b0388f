"""Shared pieces of the gradient-trained encoders (routing transformer, factorized readout).

- :func:`as_token_layers` turns the accepted feature inputs (token arrays with
  their grid, spatial arrays, :class:`~cogmodels.backbones.base.FeatureMap`,
  several layers) into a list of ``(name, tokens, grid)``.
- :func:`validation_split` draws a seeded train/validation split.
- :func:`columnwise_r` is a torch Pearson r used as the early-stopping criterion.
- :func:`train_with_early_stopping` runs AdamW over mini-batches, keeps the
  weights of the epoch with the best validation score and restores them.
- :func:`ensemble_weights` turns members' validation r into per-channel weights.
- :func:`check_rois` / :func:`channel_query_names` validate the ROI labels of
  channels and name the query (or queries) each channel reads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from cogmodels.data.checks import check_array
from cogmodels.errors import ConfigError, DataFormatError, ShapeError, format_problem

logger = logging.getLogger(__name__)

ENSEMBLE_WEIGHTINGS = ("r_proportional", "softmax", "uniform")


# -- feature inputs --------------------------------------------------------
def _grid_tuple(grid, where: str) -> tuple[int, int]:
    try:
        height, width = (int(g) for g in grid)
    except (TypeError, ValueError):
        raise ShapeError(format_problem(where, "grid=(H, W), two positive integers", repr(grid),
                                        "pass the spatial grid of the token array, e.g. FeatureMap.grid")) from None
    if height <= 0 or width <= 0:
        raise ShapeError(format_problem(where, "a positive grid (H, W)", repr(grid), "pass the feature map's grid"))
    return height, width


def as_token_grid(X, grid=None, where: str = "X") -> tuple[np.ndarray, tuple[int, int]]:
    """Token array and grid of one layer of features.

    Parameters
    ----------
    X : FeatureMap, array of shape (n_stimuli, H*W, C) (with ``grid``) or (n_stimuli, C, H, W)
    grid : (H, W), optional
        Required for a token array; checked against a spatial array or FeatureMap.
    where : str
        Name used in error messages.

    Returns
    -------
    tokens : float32 array of shape (n_stimuli, H*W, C)
    grid : (H, W)
    """
    from cogmodels.backbones.base import FeatureMap

    if isinstance(X, FeatureMap):
        if X.kind == "vector":
            raise ShapeError(format_problem(where, "a spatial or token FeatureMap", "a pooled vector FeatureMap",
                                            "select a layer that keeps its spatial grid"))
        found = X.grid
        tokens = X.as_tokens()
    else:
        array = check_array(X, where, ndim=(3, 4), dtype="number", finite=True)
        if array.ndim == 4:
            found = tuple(int(s) for s in array.shape[2:])
            tokens = array.reshape(array.shape[0], array.shape[1], -1).transpose(0, 2, 1)
        else:
            if grid is None:
                raise ShapeError(format_problem(where, "grid=(H, W) for a token array of shape (n, H*W, C)",
                                                "grid=None", "pass grid=(H, W), e.g. FeatureMap.grid"))
            found = _grid_tuple(grid, f"{where} grid")
            tokens = array
    if grid is not None and _grid_tuple(grid, f"{where} grid") != tuple(found):
        raise ShapeError(format_problem(f"{where} grid", f"the grid of the features {tuple(found)}",
                                        f"grid={tuple(grid)}", "pass the grid of this feature map or omit it"))
    if found[0] * found[1] != tokens.shape[1]:
        raise ShapeError(format_problem(f"{where} grid", f"H*W equal to the {tokens.shape[1]} tokens",
                                        f"grid {tuple(found)} ({found[0] * found[1]} positions)",
                                        "pass the (H, W) the tokens were flattened from"))
    return np.ascontiguousarray(tokens, dtype=np.float32), (int(found[0]), int(found[1]))


def as_token_layers(X, grid=None, where: str = "X") -> list[tuple[str, np.ndarray, tuple[int, int]]]:
    """One or several layers of features as ``[(name, tokens, grid), ...]``.

    ``X`` is one layer (see :func:`as_token_grid`), a dict ``{layer name: layer}``
    (the output of ``Backbone.extract``) or a list of layers.  ``grid`` is one
    (H, W) for all layers, or a dict / list of grids matching ``X``.
    """
    if isinstance(X, Mapping):
        items = list(X.items())
    elif isinstance(X, (list, tuple)):
        items = [(f"layer{i}", x) for i, x in enumerate(X)]
    else:
        items = [("layer0", X)]
    if not items:
        raise ShapeError(format_problem(where, "at least one feature layer", "an empty collection",
                                        "pass the features of one or more layers"))
    layers = []
    for i, (name, layer) in enumerate(items):
        if isinstance(grid, Mapping):
            layer_grid = grid.get(name)
        elif isinstance(grid, list) and grid and not isinstance(grid[0], (int, np.integer)):
            layer_grid = grid[i]
        else:
            layer_grid = grid
        label = where if len(items) == 1 else f"{where}[{name!r}]"
        tokens, layer_grid = as_token_grid(layer, layer_grid, label)
        layers.append((str(name), tokens, layer_grid))
    n_rows = {tokens.shape[0] for _, tokens, _ in layers}
    if len(n_rows) > 1:
        raise ShapeError(format_problem(where, "the same number of stimuli in every layer",
                                        f"row counts {sorted(n_rows)}", "extract every layer for the same stimuli"))
    return layers


def looks_like_images(X) -> bool:
    """True for Stimuli, a uint8 array of shape (n, H, W, 3) or a list of uint8 (H, W, 3) images."""
    if hasattr(X, "image") and hasattr(X, "ids"):
        return True
    if isinstance(X, np.ndarray):
        return X.dtype == np.uint8 and X.ndim == 4 and X.shape[-1] == 3
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], np.ndarray):
        return X[0].dtype == np.uint8 and X[0].ndim == 3
    return False


def image_sizes(images) -> list[tuple[int, int]]:
    """(height, width) of each image of Stimuli / an image array / a list of images."""
    if hasattr(images, "image"):
        return [tuple(images.image(i).shape[:2]) for i in range(len(images))]
    return [tuple(np.asarray(img).shape[:2]) for img in images]


def resolve_backbone(backbone):
    """The backbone that turns images into features: a Backbone as is, a registered name created."""
    if backbone is None:
        raise ConfigError(format_problem("backbone", "a backbone to compute features from images", "backbone=None",
                                         "pass backbone=cogmodels.create_backbone(...), or pass precomputed "
                                         "features instead of images"))
    if isinstance(backbone, str):
        import cogmodels

        return cogmodels.create_backbone(backbone)
    return backbone


def upsample_maps(maps: torch.Tensor, sizes: Sequence[tuple[int, int]]):
    """Bilinearly upsample maps (n, K, H, W) to each image's size and renormalise each map to sum 1.

    Returns an array (n, K, H_img, W_img), or a list of (K, H_img, W_img) arrays when sizes differ.
    """
    upsampled = []
    for i, size in enumerate(sizes):
        up = F.interpolate(maps[i:i + 1], size=tuple(size), mode="bilinear", align_corners=False)[0].clamp_min(0)
        upsampled.append((up / up.sum(dim=(1, 2), keepdim=True)).numpy())
    return np.stack(upsampled) if len(set(map(tuple, sizes))) == 1 else upsampled


# -- splits and scores -----------------------------------------------------
def validation_split(n_samples: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n_samples)`` into (train, validation) index arrays, each sorted."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(format_problem("validation_fraction", "a number in (0, 1)", repr(fraction),
                                         "use e.g. 0.1 to hold out 10% of the training stimuli"))
    n_val = int(round(fraction * n_samples))
    if n_val < 3 or n_samples - n_val < 2:
        raise ShapeError(format_problem("X/Y rows", "enough stimuli for a validation split (>= 3 held out, >= 2 "
                                        "to train)", f"{n_samples} stimuli with validation_fraction={fraction}",
                                        "pass more stimuli or a larger validation_fraction"))
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def columnwise_r(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Pearson r per column of two tensors of shape (n_samples, n_columns); NaN where a column has no variance."""
    yt = y_true - y_true.mean(0)
    yp = y_pred - y_pred.mean(0)
    denominator = torch.sqrt((yt * yt).sum(0) * (yp * yp).sum(0))
    r = (yt * yp).sum(0) / denominator
    return torch.where(denominator > 0, r, torch.full_like(r, float("nan")))


def mean_defined(values: torch.Tensor) -> float:
    """Mean of the defined (non-NaN) entries; -inf when none is defined (never an improvement)."""
    defined = values[~torch.isnan(values)]
    return float(defined.mean()) if defined.numel() else -math.inf


def score_prediction(Y, prediction: np.ndarray) -> np.ndarray:
    """Per-channel Pearson r (cogmodels.metrics.brain.pearson_r) of Y against a prediction of the same shape."""
    from cogmodels.metrics.brain import pearson_r

    Y = check_array(Y, "Y", ndim=2, dtype="number", finite=True)
    if Y.shape != prediction.shape:
        raise ShapeError(format_problem("Y", f"shape {prediction.shape} (n_stimuli, n_channels)", f"shape {Y.shape}",
                                        "pass the responses of the same stimuli (and subject)"))
    return pearson_r(Y, prediction)


def ensemble_weights(r: np.ndarray, weighting: str, temperature: float = 0.05) -> np.ndarray:
    """Per-channel ensemble weights from the members' validation r.

    Parameters
    ----------
    r : array of shape (n_members, n_channels); NaN (undefined r) gets no weight
    weighting : {"r_proportional", "softmax", "uniform"}
        Proportional to max(r, 0) (a plain mean where no member has r > 0);
        softmax of r / ``temperature``; or equal weights.

    Returns
    -------
    weights : float32 array of shape (n_members, n_channels), each column summing to 1
    """
    r = np.nan_to_num(np.asarray(r, dtype=np.float64), nan=-np.inf)
    if weighting == "uniform" or r.shape[0] == 1:
        return np.full(r.shape, 1.0 / r.shape[0], dtype=np.float32)
    if weighting == "softmax":
        top = r.max(0, keepdims=True)
        weights = np.exp(np.where(np.isfinite(top), (r - top) / temperature, 0.0))
    elif weighting == "r_proportional":
        weights = np.clip(r, 0.0, None)
        weights[:, weights.sum(0) == 0] = 1.0
    else:
        raise ConfigError(format_problem("ensemble_weighting", f"one of {ENSEMBLE_WEIGHTINGS}", repr(weighting),
                                         "pick a weighting"))
    return (weights / weights.sum(0, keepdims=True)).astype(np.float32)


def shuffled_batches(indices: np.ndarray, batch_size: int, generator: torch.Generator) -> list[np.ndarray]:
    """Split ``indices`` into mini-batches in a random order drawn from ``generator``."""
    order = indices[torch.randperm(len(indices), generator=generator).numpy()]
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


# -- the training loop -----------------------------------------------------
@dataclass
class TrainingHistory:
    """What happened during training.

    Attributes
    ----------
    train_loss : list of float, one per epoch (mean over mini-batches)
    val_score : list of float, one per epoch (the early-stopping criterion)
    best_epoch : int, the epoch whose weights were kept (0-based)
    """

    train_loss: list = field(default_factory=list)
    val_score: list = field(default_factory=list)
    best_epoch: int = -1

    @property
    def best_score(self) -> float:
        return self.val_score[self.best_epoch] if self.best_epoch >= 0 else -math.inf


def train_with_early_stopping(module: torch.nn.Module, parameters: Iterable[torch.nn.Parameter],
                              epoch_batches: Callable[[int], Sequence], batch_loss: Callable[[object], torch.Tensor],
                              validation_score: Callable[[], float], *, lr: float, weight_decay: float,
                              max_epochs: int, patience: int, progress: bool = True,
                              desc: str = "training") -> TrainingHistory:
    """AdamW training with early stopping on a validation score; restores the best weights.

    Parameters
    ----------
    module : torch.nn.Module
        Whose ``state_dict`` is saved at the best epoch and restored at the end.
    parameters : iterable of Parameter
        The trainable parameters (frozen ones are left out, so weight decay never touches them).
    epoch_batches : callable epoch -> sequence of batches
    batch_loss : callable batch -> scalar loss tensor
    validation_score : callable () -> float
        Higher is better (e.g. mean validation r); called after every epoch in eval mode, without grad.
    lr, weight_decay : float
        AdamW settings.
    max_epochs, patience : int
        Stop after ``patience`` epochs without improvement, or after ``max_epochs``.
    """
    parameters = [p for p in parameters if p.requires_grad]
    if not parameters:
        raise ConfigError(format_problem("trainable parameters", "at least one", "none",
                                         "unfreeze the part you want to fit"))
    if max_epochs < 1 or patience < 1:
        raise ConfigError(format_problem("max_epochs/patience", "positive integers",
                                         f"max_epochs={max_epochs}, patience={patience}", "use e.g. 100 and 10"))
    from tqdm.auto import tqdm

    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    history = TrainingHistory()
    best_state = None
    bar = tqdm(range(max_epochs), desc=desc, unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        module.train()
        losses = []
        for batch in epoch_batches(epoch):
            optimizer.zero_grad(set_to_none=True)
            loss = batch_loss(batch)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        module.eval()
        with torch.no_grad():
            score = float(validation_score())
        history.train_loss.append(float(np.mean(losses)))
        history.val_score.append(score)
        if score > history.best_score:  # NaN and -inf never improve
            history.best_epoch = epoch
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        bar.set_postfix(loss=f"{history.train_loss[-1]:.4f}", val=f"{score:.4f}")
        if epoch - max(history.best_epoch, 0) >= patience:
            break
    bar.close()
    if best_state is None:
        raise ConfigError(format_problem("validation score", "a defined score in at least one epoch",
                                         "NaN/-inf in every epoch (no validation channel has variance)",
                                         "check Y: every channel is constant on the validation stimuli"))
    module.load_state_dict(best_state)
    logger.info("%s: best validation score %.4f at epoch %d of %d", desc, history.best_score,
                history.best_epoch + 1, len(history.val_score))
    return history


def feature_standardizer(arrays: Sequence[np.ndarray], rows: Sequence[np.ndarray],
                         chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale (std; 1 where the std is 0) over some rows of token arrays.

    Parameters
    ----------
    arrays : list of arrays of shape (n_stimuli_i, n_tokens, C)
    rows : list of index arrays, the rows of each array to use (e.g. the training stimuli)

    Accumulated in float64 over chunks of rows, so no full-size copy is made.
    Returns two float32 arrays of shape (C,).
    """
    n_features = arrays[0].shape[-1]
    total, total_sq, count = np.zeros(n_features), np.zeros(n_features), 0
    for tokens, index in zip(arrays, rows):
        for start in range(0, len(index), chunk):
            block = tokens[index[start:start + chunk]].reshape(-1, n_features).astype(np.float64)
            total += block.sum(0)
            total_sq += (block * block).sum(0)
            count += block.shape[0]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
    return mean.astype(np.float32), np.where(std > 1e-12, std, 1.0).astype(np.float32)


def response_standardizer(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and scale (std; 1 where the std is 0) of Y of shape (n_stimuli, n_channels), float32."""
    mean = Y.mean(0, dtype=np.float64)
    std = Y.std(0, dtype=np.float64)
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


# -- channel labels ------------------------------------------------------------
QUERY_MODES = ("roi_hemisphere", "roi", "channel_group")


def check_rois(rois, n_channels: int, where: str = "rois") -> list[tuple[str, ...]]:
    """ROI labels per channel as a list of non-empty tuples of str (length n_channels)."""
    if rois is None:
        raise ConfigError(format_problem(where, "the ROI labels of each channel", "rois=None",
                                         "pass rois=BrainResponses.channels['rois'] (a tuple of names per channel)"))
    rois = list(rois)
    if len(rois) != n_channels:
        raise ShapeError(format_problem(where, f"{n_channels} entries (one per column of Y)", f"{len(rois)} entries",
                                        "pass the ROI labels of every channel, in the column order of Y"))
    labels = []
    for i, channel in enumerate(rois):
        names = (channel,) if isinstance(channel, str) else tuple(channel)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise DataFormatError(format_problem(f"{where}[{i}]", "a non-empty tuple of ROI names", repr(channel),
                                                 "label every channel with its ROI(s), or drop unlabelled channels"))
        labels.append(names)
    return labels


def check_hemispheres(hemispheres, n_channels: int, where: str = "hemispheres") -> list[str] | None:
    """Hemisphere label per channel (list of str of length n_channels), or None."""
    if hemispheres is None:
        return None
    hemispheres = [str(h) for h in hemispheres]
    if len(hemispheres) != n_channels:
        raise ShapeError(format_problem(where, f"{n_channels} entries (one per column of Y)",
                                        f"{len(hemispheres)} entries", "pass one hemisphere per channel, or None"))
    return hemispheres


def check_query_per(query_per) -> None:
    """``query_per`` is a mode of QUERY_MODES or a dict {ROI name or "*": mode}."""
    modes = query_per.values() if isinstance(query_per, Mapping) else [query_per]
    bad = [m for m in modes if m not in QUERY_MODES]
    if bad:
        raise ConfigError(format_problem("query_per", f"one of {QUERY_MODES} or a dict {{roi: mode}}",
                                         repr(query_per), "pick how queries are assigned to channels"))


def channel_query_names(rois: Sequence[tuple[str, ...]], hemispheres: Sequence[str] | None, query_per,
                        group_size: int) -> list[list[str]]:
    """Names of the queries each channel reads.

    Modes: ``"roi"``, one query per ROI name; ``"roi_hemisphere"``, one per
    ROI and hemisphere (``"lh.FFA"``); ``"channel_group"``, one per
    consecutive group of ``group_size`` channels within an ROI and hemisphere
    (``"lh.V1#2"``).  ``query_per`` is one mode for all ROIs, or a dict
    ``{roi: mode}`` whose ``"*"`` entry (default ``"roi_hemisphere"``) covers
    the other ROIs, e.g. ``{"V1": "channel_group", "*": "roi_hemisphere"}``.
    """
    counts: dict[str, int] = {}
    names = []
    for i, channel_rois in enumerate(rois):
        hemisphere = hemispheres[i] if hemispheres is not None else ""
        keys = []
        for roi in dict.fromkeys(channel_rois):
            mode = query_per if isinstance(query_per, str) else query_per.get(roi, query_per.get("*", QUERY_MODES[0]))
            key = f"{hemisphere}.{roi}" if hemisphere and mode != "roi" else roi
            if mode == "channel_group":
                rank = counts.get(key, 0)
                counts[key] = rank + 1
                key = f"{key}#{rank // group_size}"
            keys.append(key)
        names.append(keys)
    return names
