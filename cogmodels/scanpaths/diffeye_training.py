"""DiffEye training loop and checkpoints (safetensors state dicts + JSON config; never pickle).

Checkpoints.  With ``checkpoint_dir``, every epoch atomically writes

- ``state.safetensors``: the network's state dict (``network.``), its exponential
  moving average (``ema.``, when ``ema_decay > 0``), the optimiser's per-parameter
  tensors (``optimiser.<i>.<name>``) and the fitted arrays (feature statistics);
- ``config.json``: checkpoint format, the model parameters that change the
  fitted model, a fingerprint of the training data, the last finished epoch,
  the loss history and the optimiser's non-tensor state.

A later ``fit`` with the same parameters and data resumes after the last saved
epoch.  Batches, diffusion steps, noise and condition drops are drawn from
generators seeded by (seed, epoch), so a resumed fit ends with the same weights
as an uninterrupted one (on the same device).

EMA.  With ``ema_decay > 0`` an exponential moving average of the weights is
kept, with the usual warm-up ``decay_k = min(ema_decay, (1 + k) / (10 + k))`` at
optimiser step k, and the fitted network (and :meth:`DiffEyeModel.from_checkpoint`)
samples with the averaged weights; the raw weights stay in the checkpoint for resuming.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from cogmodels.errors import DataFormatError, format_problem

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = 1
STATE_FILE, CONFIG_FILE = "state.safetensors", "config.json"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def optimiser_tensors(optimiser: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimiser state dict into flat tensors and a JSON-able rest."""
    state = optimiser.state_dict()
    tensors, plain = {}, {"param_groups": state["param_groups"], "state": {}}
    for index, values in state["state"].items():
        plain["state"][str(index)] = []
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimiser.{index}.{name}"] = value.detach().cpu().contiguous()
                plain["state"][str(index)].append(name)
    return tensors, plain


def restore_optimiser(optimiser: torch.optim.Optimizer, tensors: dict, plain: dict) -> None:
    state = {int(i): {name: tensors[f"optimiser.{i}.{name}"] for name in names} for i, names in plain["state"].items()}
    optimiser.load_state_dict({"state": state, "param_groups": plain["param_groups"]})


def save_checkpoint(folder, network, optimiser, fitted: dict, config: dict, epoch: int, history: list,
                    ema: dict | None = None) -> None:
    """Write state.safetensors and config.json of one finished epoch (see the module docstring)."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors, plain = optimiser_tensors(optimiser)
    tensors.update({f"network.{k}": v.detach().cpu().contiguous() for k, v in network.state_dict().items()})
    tensors.update({f"fitted.{k}": torch.as_tensor(v).contiguous() for k, v in fitted.items()})
    if ema is not None:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.items()})
    atomic_write(folder / STATE_FILE, save(tensors))
    record = dict(config, epoch=int(epoch), history=[float(h) for h in history], optimiser=plain)
    atomic_write(folder / CONFIG_FILE, json.dumps(record, indent=1, default=str).encode())


def read_checkpoint(folder) -> tuple[dict, dict] | None:
    """(config, tensors) of a checkpoint folder, or None when it has none."""
    from safetensors.torch import load

    folder = Path(folder)
    if not (folder / STATE_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        return None
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
        tensors = load((folder / STATE_FILE).read_bytes())
    except (ValueError, OSError) as err:
        raise DataFormatError(format_problem(str(folder), "a DiffEye checkpoint (config.json, state.safetensors)",
                                             f"an unreadable file ({err})", "delete the folder and refit")) from err
    if config.get("format") != CHECKPOINT_FORMAT or config.get("model") != "diffeye":
        found = repr({k: config.get(k) for k in ("model", "format")})
        raise DataFormatError(format_problem(str(folder / CONFIG_FILE), f"a DiffEye checkpoint of format "
                                             f"{CHECKPOINT_FORMAT}", found, "refit into an empty checkpoint_dir"))
    return config, tensors


def prefixed(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def sampling_weights(tensors: dict) -> dict:
    """The network weights a checkpoint samples with: the moving average when it has one, else the raw weights."""
    return prefixed(tensors, "ema.") or prefixed(tensors, "network.")


class WeightAverage:
    """Exponential moving average of a network's floating-point state (see the module docstring)."""

    def __init__(self, network, decay: float, saved: dict | None = None):
        self.decay = float(decay)
        state = network.state_dict()
        self.names = [k for k, v in state.items() if v.dtype.is_floating_point]
        self.live = [state[k] for k in self.names]
        source = saved if saved else {k: state[k] for k in self.names}
        self.shadow = [source[k].detach().clone().to(state[k].device) for k in self.names]

    @torch.no_grad()
    def update(self, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        torch._foreach_mul_(self.shadow, decay)
        torch._foreach_add_(self.shadow, self.live, alpha=1.0 - decay)

    def state(self) -> dict:
        return dict(zip(self.names, self.shadow))

    def copy_to(self, network) -> None:
        network.load_state_dict(self.state(), strict=False)


def train(model, network, diffusion, trajectories: torch.Tensor, image_index: torch.Tensor, features: torch.Tensor,
          config: dict, fitted: dict, device: torch.device) -> list:
    """Train ``network`` on normalised trajectories; resumes from and writes checkpoints.

    Parameters
    ----------
    model : DiffEyeModel
        Supplies the hyper-parameters (epochs x budget, batch_size, lr, weight_decay, p_uncond, seed,
        checkpoint_dir, progress) and the ``_after_epoch`` hook.
    trajectories : tensor of shape (n_trajectories, n_steps, 2) in [-1, 1]
    image_index : long tensor of shape (n_trajectories,)
        Row of ``features`` of each trajectory.
    features : tensor of shape (n_images, C, h, w), standardised
    config, fitted : dict
        What the checkpoint records (parameters and data fingerprint; fitted arrays).

    Returns
    -------
    list of float: mean loss per epoch
    """
    n_epochs = model.n_epochs()
    optimiser = torch.optim.AdamW(network.parameters(), lr=float(model.lr), weight_decay=float(model.weight_decay))
    n, batch = len(trajectories), int(model.batch_size)
    per_epoch = math.ceil(n / batch)
    total = n_epochs * per_epoch
    warmup = min(200, max(1, total // 20))

    def rate(step):  # linear warm-up, then cosine decay to 10 %
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step - warmup, total) / max(total - warmup, 1)))

    start, history, saved_ema = 0, [], None
    if model.checkpoint_dir is not None:
        saved = read_checkpoint(model.checkpoint_dir)
        if saved is not None:
            record, tensors = saved
            same = {k: record.get(k) for k in config} == json.loads(json.dumps(config, default=str))
            if not same:
                log.warning("DiffEye: the checkpoint in %s is of other parameters or data; training starts afresh",
                            model.checkpoint_dir)
            else:
                network.load_state_dict(prefixed(tensors, "network."))
                restore_optimiser(optimiser, tensors, record["optimiser"])
                saved_ema = prefixed(tensors, "ema.")
                start, history = int(record["epoch"]) + 1, list(record["history"])
                log.info("DiffEye: resuming from %s after epoch %d", model.checkpoint_dir, start - 1)
    decay = float(getattr(model, "ema_decay", 0.0) or 0.0)
    ema = WeightAverage(network, decay, saved_ema) if decay > 0 else None
    if start >= n_epochs:
        if ema is not None:
            ema.copy_to(network)
        return history
    cpu, wall = time.process_time(), time.perf_counter()
    bar = tqdm(range(start, n_epochs), desc="DiffEye epochs", unit="epoch", disable=not model.progress)
    for epoch in bar:
        network.train()
        generator = torch.Generator().manual_seed(int(model.seed) * 1_000_003 + epoch)
        order = torch.from_numpy(np.random.default_rng([int(model.seed), epoch]).permutation(n))
        running = 0.0
        for b in range(per_epoch):
            step = epoch * per_epoch + b
            for group in optimiser.param_groups:
                group["lr"] = float(model.lr) * rate(step)
            rows = order[b * batch:(b + 1) * batch]
            x0 = trajectories[rows].to(device)
            loss = diffusion.loss(network, x0, features[image_index[rows]].to(device), generator,
                                  float(model.p_uncond))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
            if ema is not None:
                ema.update(step)
            running += float(loss.detach()) * len(rows)
        history.append(running / n)
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        if model.checkpoint_dir is not None:
            save_checkpoint(model.checkpoint_dir, network, optimiser, fitted, config, epoch, history,
                            None if ema is None else ema.state())
        model._after_epoch(epoch)
    if ema is not None:
        ema.copy_to(network)
    log.info("DiffEye: trained epochs %d-%d (%d optimiser steps of %d) in %.1f s CPU (process), %.1f s wall",
             start, n_epochs - 1, (n_epochs - start) * per_epoch, batch, time.process_time() - cpu,
             time.perf_counter() - wall)
    network.eval()
    return history
