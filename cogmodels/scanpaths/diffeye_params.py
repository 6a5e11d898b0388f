"""DiffEye's constructor-parameter checks (called by ``DiffEyeModel.validate_params`` at compose time)."""

from __future__ import annotations

import numpy as np
import torch

from cogmodels.errors import ConfigError, format_problem
from cogmodels.scanpaths.diffeye_trajectories import BLINK_POLICIES, LENGTH_POLICIES

BUDGETS = {"tiny": 0.02, "small": 0.25, "default": 1.0, "large": 3.0}
SAMPLERS = ("ddim", "ddpm")
DETECTORS = ("ivt", "idt")


def check_diffeye_params(model) -> None:
    """Raise ConfigError (field ``scanpath.<name>``) for the first bad parameter of a DiffEyeModel."""

    def bad(name, expected, fix):
        raise ConfigError(format_problem(f"scanpath.{name}", expected, repr(getattr(model, name)), fix))

    def number(name):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            bad(name, "a finite number", f"set {name} to a number")
        return float(value)

    def integer(name, low):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            bad(name, f"an integer >= {low}", f"set {name} to an integer >= {low}")

    if number("guidance_scale") < 0:
        bad("guidance_scale", "a guidance scale w >= 0 (eps = (1 + w) eps_cond - w eps_uncond; 0: no guidance)",
            "use guidance_scale: 0 (conditional only) or a positive weight such as 1.0")
    for name, allowed in (("sampler", SAMPLERS), ("event_detection", DETECTORS),
                          ("unequal_length", LENGTH_POLICIES), ("blinks", BLINK_POLICIES)):
        if getattr(model, name) not in allowed:
            bad(name, f"one of {allowed}", f"use {name}: {allowed[0]}")
    if not (isinstance(model.budget, str) and model.budget in BUDGETS) and not (
            not isinstance(model.budget, (str, bool)) and isinstance(model.budget, (int, float)) and model.budget > 0):
        bad("budget", f"one of {sorted(BUDGETS)} or a positive number", "use budget: default")
    for name, low in (("patch", 1), ("d_model", 8), ("n_heads", 1), ("n_layers", 1), ("dim_feedforward", 1),
                      ("memory_grid", 1), ("n_diffusion_steps", 2), ("ddim_steps", 1), ("epochs", 1),
                      ("batch_size", 1),
                      ("density_samples", 1), ("seed", 0)):
        integer(name, low)
    if model.n_threads is not None:
        integer("n_threads", 1)
    if model.d_model % model.n_heads or model.d_model % 2:
        bad("n_heads", f"a divisor of an even d_model={model.d_model}", "use e.g. d_model: 96, n_heads: 4")
    for name in ("sampling_rate", "duration_ms", "lr", "density_sigma_deg", "ivt_threshold"):
        if number(name) <= 0:
            bad(name, "a positive number", f"set {name} > 0")
    for name in ("jitter_deg", "drift_deg", "weight_decay"):
        if number(name) < 0:
            bad(name, "a number >= 0", f"set {name} >= 0")
    if not 0 <= number("ddim_eta") <= 1:
        bad("ddim_eta", "a number in [0, 1] (0: deterministic DDIM, 1: DDPM-like noise)", "use ddim_eta: 1.0")
    for name in ("p_uncond", "dropout", "ema_decay"):
        if not 0 <= number(name) < 1:
            bad(name, "a number in [0, 1)", f"set {name} in [0, 1)")
    if model.guidance_scale > 0 and model.p_uncond == 0:
        bad("p_uncond", "> 0 when guidance_scale > 0 (the unconditional model must be trained)",
            "use p_uncond: 0.1, or guidance_scale: 0")
    if model.n_steps < 2 * model.patch or model.n_steps % model.patch:
        raise ConfigError(format_problem("scanpath.duration_ms / sampling_rate / patch",
                                         f"n_steps = duration_ms * sampling_rate / 1000 a multiple of patch="
                                         f"{model.patch} (at least two patches)",
                                         f"n_steps = {model.duration_ms} * {model.sampling_rate} / 1000",
                                         "e.g. duration_ms: 3000, sampling_rate: 60, patch: 4 (180 steps)"))
    if model.px_per_deg is not None and not number("px_per_deg") > 0:
        bad("px_per_deg", "None (from the data) or a positive number", "drop scanpath.px_per_deg")
    if model.device != "auto":
        try:
            torch.device(model.device)
        except (RuntimeError, TypeError):
            bad("device", "'auto' or a torch device ('cpu', 'cuda', 'cuda:0')", "use device: auto")
