"""Training pieces of the gradient-trained encoders (routing transformer, factorized readout).

- :func:`validation_split` draws a seeded train/validation split.
- :func:`columnwise_r` is a torch Pearson r used as the early-stopping criterion.
- :func:`train_with_early_stopping` runs AdamW over mini-batches, keeps the
  weights of the epoch with the best validation score and restores them.
- :func:`ensemble_weights` turns members' validation r into per-channel weights.
- :func:`feature_standardizer` / :func:`response_standardizer` give per-feature and
  per-channel means and scales.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from cogmodels.data.checks import FLOAT32_MAX, check_array
from cogmodels.errors import ConfigError, ShapeError, format_problem

logger = logging.getLogger(__name__)

ENSEMBLE_WEIGHTINGS = ("r_proportional", "softmax", "uniform")
LR_SCHEDULES = ("none", "step", "cosine")


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

    Y = check_array(Y, "Y", ndim=2, dtype="number", finite=True, non_empty=True,
                    max_abs=FLOAT32_MAX)
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
                              desc: str = "training", clip_norm: float | None = None, lr_schedule: str = "none",
                              lr_drop: int = 10) -> TrainingHistory:
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
    clip_norm : float, optional
        Clip the global gradient norm of ``parameters`` to this value before each step (None: no clipping).
    lr_schedule : {"none", "step", "cosine"}
        Constant learning rate; x0.1 every ``lr_drop`` epochs (torch StepLR, as in DETR); or cosine
        annealing from ``lr`` to 0 over ``max_epochs``.  Stepped once per epoch.
    lr_drop : int
        Epochs between the drops of the "step" schedule.
    """
    parameters = [p for p in parameters if p.requires_grad]
    if not parameters:
        raise ConfigError(format_problem("trainable parameters", "at least one", "none",
                                         "unfreeze the part you want to fit"))
    if max_epochs < 1 or patience < 1:
        raise ConfigError(format_problem("max_epochs/patience", "positive integers",
                                         f"max_epochs={max_epochs}, patience={patience}", "use e.g. 100 and 10"))
    from tqdm.auto import tqdm

    if lr_schedule not in LR_SCHEDULES or lr_drop < 1:
        raise ConfigError(format_problem("lr_schedule/lr_drop", f"one of {LR_SCHEDULES} and lr_drop >= 1",
                                         f"lr_schedule={lr_schedule!r}, lr_drop={lr_drop}",
                                         "use e.g. lr_schedule='step' with lr_drop=10"))
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    scheduler = None
    if lr_schedule == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=lr_drop, gamma=0.1)
    elif lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs)
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
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
            optimizer.step()
            losses.append(float(loss.detach()))
        if scheduler is not None:
            scheduler.step()
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
