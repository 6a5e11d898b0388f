"""Parameter checks of the routing transformer encoder (:meth:`RoutingTransformerEncoder.validate_params`)."""

from __future__ import annotations

from cogmodels.encoders._early_stopping import ENSEMBLE_WEIGHTINGS, LR_SCHEDULES
from cogmodels.encoders._params import (
    check_bool, check_choice, check_float, check_int, check_mapping_or_choice, check_seed, check_str_list,
    param_error)
from cogmodels.encoders._rois import QUERY_MODES
from cogmodels.encoders.routing_network import QUERY_INPUTS

# Training settings of the authors' released code (transformer_brain_encoder, utils/args.py): AdamW
# lr 5e-4, weight decay 1e-4, gradient-norm clipping at 0.1, dropout 0.1; StepLR (x0.1) every lr_drop epochs.
LR = 5e-4
WEIGHT_DECAY = 1e-4
GRAD_CLIP = 0.1
LR_DROP = 40


def validate_routing_params(encoder):
    """Check every parameter of ``encoder`` (no data needed); ConfigError naming ``encoder.<param>`` otherwise."""
    for name in ("d_model", "n_heads", "n_layers", "group_size", "batch_size", "max_epochs", "patience",
                 "n_runs", "lr_drop"):
        check_int(name, getattr(encoder, name))
    if encoder.d_model % 4 or encoder.d_model % encoder.n_heads:
        raise param_error("d_model", f"a multiple of 4 (sine-cosine position code) and of n_heads={encoder.n_heads}",
                          repr(encoder.d_model), "use e.g. d_model=64 with n_heads in (1, 2, 4, 8)")
    check_bool("self_attention", encoder.self_attention)
    check_choice("query_input", encoder.query_input, QUERY_INPUTS)
    check_bool("key_content", encoder.key_content)
    check_choice("lr_schedule", encoder.lr_schedule, LR_SCHEDULES)
    if encoder.grad_clip is not None:
        check_float("grad_clip", encoder.grad_clip, low=0.0, low_open=True, fix="use e.g. grad_clip=0.1, or null")
    check_bool("flip_augmentation", encoder.flip_augmentation)
    check_float("mlp_ratio", encoder.mlp_ratio, low=0.0, low_open=True, fix="use e.g. mlp_ratio=2")
    check_float("dropout", encoder.dropout, low=0.0, high=1.0, high_open=True, fix="use e.g. dropout=0")
    check_mapping_or_choice("query_per", encoder.query_per, QUERY_MODES)
    check_str_list("ignore_rois", encoder.ignore_rois)
    check_float("lr", encoder.lr, low=0.0, low_open=True, fix="use e.g. lr=0.01")
    check_float("weight_decay", encoder.weight_decay, low=0.0, fix="use e.g. weight_decay=0.01")
    check_float("validation_fraction", encoder.validation_fraction, low=0.0, high=1.0, low_open=True,
                high_open=True, fix="use e.g. validation_fraction=0.15")
    check_choice("ensemble_weighting", encoder.ensemble_weighting, ENSEMBLE_WEIGHTINGS)
    check_float("ensemble_temperature", encoder.ensemble_temperature, low=0.0, low_open=True,
                fix="use e.g. ensemble_temperature=0.05")
    if encoder.backbone is not None and not isinstance(encoder.backbone, str) and not hasattr(encoder.backbone, "extract"):
        raise param_error("backbone", "null, a registered backbone name or a Backbone", repr(encoder.backbone),
                          "pass e.g. backbone='gabor', or precomputed features instead of images")
    check_str_list("layers", encoder.layers, allow_none=True)
    check_seed("seed", encoder.seed)
    check_bool("progress", encoder.progress)
    return encoder
