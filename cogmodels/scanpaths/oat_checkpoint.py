"""Checkpoints of the OAT scanpath model: save after each epoch, resume after an interruption.

A checkpoint folder holds ``config.json`` (format, model parameters, a fingerprint of the
training data) and ``state.pt`` (network, optimiser and LR-schedule state dicts, the epoch,
the train and validation loss histories, the best validation epoch and its weights, and the
fitted statistics), both written atomically.  ``state.pt`` holds
tensors only and is read with ``torch.load(weights_only=True)``: loading runs no code.  A
checkpoint of other parameters or other data is not resumed (training starts afresh, with a
warning).
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import torch

from cogmodels import io as atomic
from cogmodels.errors import DataFormatError, format_problem
from cogmodels.scanpaths.oat_network import fit_error_of

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 2  # 2: validation history, best epoch and its weights, the stop gain
VOLATILE_PARAMS = ("progress", "checkpoint_dir", "n_threads")  # parameters that do not change the fitted model


def checkpoint_config(model, data) -> dict:
    """What a checkpoint must match to be resumed: format, parameters and the training data's fingerprint."""
    params = {k: v for k, v in model.get_params().items() if k not in VOLATILE_PARAMS}
    return {"format": CHECKPOINT_FORMAT, "model": "oat", "params": params, "data": data.fingerprint()}


def fitted_state(model) -> dict:
    return {"feature_mean": torch.from_numpy(model.feature_mean_), "feature_std": torch.from_numpy(model.feature_std_),
            "durations": torch.from_numpy(model.durations_), "offsets": torch.from_numpy(model.offsets_),
            "n_off_object": torch.tensor(model.n_off_object_)}


def save_checkpoint(model, data, optimiser, schedule, epoch: int, history: list, validation: list,
                    best: dict) -> None:
    """Write the state after ``epoch`` into ``model.checkpoint_dir`` (nothing when it is None).

    ``best``: {"epoch", "nll", "state"} of the best validation epoch so far (state None without validation).
    """
    if model.checkpoint_dir is None:
        return
    folder = Path(model.checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"network": model.network_.state_dict(), "optimiser": optimiser.state_dict(),
                "schedule": schedule.state_dict(), "epoch": epoch, "history": torch.tensor(history),
                "validation": torch.tensor(validation, dtype=torch.float64),
                "best_epoch": torch.tensor(int(best["epoch"])), "best_nll": torch.tensor(float(best["nll"])),
                "best_network": best["state"] if best["state"] is not None else {},
                "fitted": fitted_state(model)}, buffer)
    atomic.write_bytes(folder / "state.pt", buffer.getvalue())
    atomic.write_bytes(folder / "config.json", json.dumps(checkpoint_config(model, data), indent=1,
                                                          default=str).encode())


def resume_checkpoint(model, data, optimiser, schedule) -> tuple[int, list, list, dict | None]:
    """Restore network, optimiser and schedule from a matching checkpoint.

    Returns (next epoch, train loss history, validation loss history, best {"epoch", "nll", "state"} or None).
    """
    fresh = 0, [], [], None
    if model.checkpoint_dir is None:
        return fresh
    folder = Path(model.checkpoint_dir)
    if not (folder / "state.pt").is_file() or not (folder / "config.json").is_file():
        return fresh
    saved = json.loads((folder / "config.json").read_text())
    if saved != json.loads(json.dumps(checkpoint_config(model, data), default=str)):
        log.warning("OAT: the checkpoint in %s is of other parameters or data; training starts afresh", folder)
        return fresh
    state = torch.load(folder / "state.pt", weights_only=True)
    model.network_.load_state_dict(state["network"])
    optimiser.load_state_dict(state["optimiser"])
    schedule.load_state_dict(state["schedule"])
    log.info("OAT: resuming from %s after epoch %d", folder, int(state["epoch"]))
    best = {"epoch": int(state["best_epoch"]), "nll": float(state["best_nll"]),
            "state": state["best_network"] or None}
    return (int(state["epoch"]) + 1, [float(v) for v in state["history"]],
            [float(v) for v in state["validation"]], best)


def load_checkpoint(cls, checkpoint_dir):
    """A fitted ``cls`` (OATModel) from a checkpoint folder: the best validation epoch's weights (the last
    saved epoch's without validation)."""
    folder = Path(checkpoint_dir)
    if not (folder / "config.json").is_file() or not (folder / "state.pt").is_file():
        raise DataFormatError(format_problem(str(folder), "an OAT checkpoint folder (config.json, state.pt)",
                                             "missing files", "fit with checkpoint_dir=... first"))
    config = json.loads((folder / "config.json").read_text())
    if config.get("format") != CHECKPOINT_FORMAT or config.get("model") != "oat":
        raise DataFormatError(format_problem(str(folder / "config.json"), f"an OAT checkpoint of format "
                                             f"{CHECKPOINT_FORMAT}", repr({k: config.get(k) for k in
                                                                         ("model", "format")}), "refit"))
    model = cls(**config["params"], checkpoint_dir=str(folder), progress=False)
    state = torch.load(folder / "state.pt", weights_only=True)
    fitted = state["fitted"]
    model.feature_mean_, model.feature_std_ = fitted["feature_mean"].numpy(), fitted["feature_std"].numpy()
    model.durations_, model.offsets_ = fitted["durations"].numpy(), fitted["offsets"].numpy()
    model.n_off_object_ = int(fitted["n_off_object"])
    model.network_ = model._network(len(model.feature_mean_))
    model.network_.load_state_dict(state["best_network"] or state["network"])
    model.network_.eval()
    model.validation_history_ = [float(v) for v in state["validation"]]
    model.best_epoch_ = int(state["best_epoch"]) if state["best_network"] else int(state["epoch"])
    model.position_fit_error_ = fit_error_of(model.network_.position)
    model.history_ = [float(v) for v in state["history"]]
    model.fitted_ = True
    return model
