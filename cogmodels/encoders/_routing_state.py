"""The fitted state of the routing encoder: its ensemble members, and their plain-array form for saving.

:func:`routing_state` turns a fitted
:class:`~cogmodels.encoders.routing.RoutingTransformerEncoder` into plain arrays
(every member network's ``state_dict``, validation r, ensemble weights and
response scales per subject) and JSON facts (subjects, queries, grids, member
layers, seeds and readout order); :func:`restore_routing_state` rebuilds the
networks from them.  :mod:`cogmodels.encoders.persistence` writes both (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from cogmodels.encoders._early_stopping import TrainingHistory
from cogmodels.encoders.routing_network import RoutingNetwork


@dataclass
class SubjectData:
    """One subject's training data, validated and standardised."""

    name: str
    layers: list  # per feature layer: float32 tokens (n_stimuli, H*W, C)
    Y: np.ndarray  # standardised responses (n_stimuli, n_channels), float32
    query_names: list  # per channel: the names of the queries it reads
    train_idx: np.ndarray
    val_idx: np.ndarray
    y_mean: np.ndarray
    y_scale: np.ndarray


@dataclass
class Member:
    """One ensemble member: a network trained on one feature layer with one seed."""

    layer: int
    seed: int
    network: RoutingNetwork
    val_r: dict = field(default_factory=dict)  # subject -> (n_channels,) validation r
    history: TrainingHistory | None = None


_PER_SUBJECT = ("ensemble_weights_", "response_mean_", "response_scale_", "validation_r_")


def routing_state(encoder) -> tuple[dict, dict]:
    """(arrays, facts) of a fitted routing encoder; subjects are indexed by their position in ``subjects_``."""
    subjects = list(encoder.subjects_)
    arrays, members = {}, []
    for i, member in enumerate(encoder.members_):
        network = member.network
        for key, value in network.state_dict().items():
            arrays[f"member{i}.{key}"] = value.detach().cpu().numpy()
        for k, subject in enumerate(subjects):
            if subject in member.val_r:
                arrays[f"member{i}.val_r.{k}"] = np.asarray(member.val_r[subject])
        history = member.history or TrainingHistory()
        members.append({"layer": int(member.layer), "seed": int(member.seed),
                        "readouts": [[subject, key] for subject, key in network.readout_keys.items()],
                        "history": {"train_loss": history.train_loss, "val_score": history.val_score,
                                    "best_epoch": history.best_epoch}})
    for name in _PER_SUBJECT:
        for k, subject in enumerate(subjects):
            arrays[f"{name}.{k}"] = np.asarray(getattr(encoder, name)[subject])
    facts = {"subjects_": subjects, "query_names_": list(encoder.query_names_),
             "layer_names_": list(encoder.layer_names_), "grids_": [list(g) for g in encoder.grids_],
             "n_features_": [int(n) for n in encoder.n_features_], "members": members}
    if hasattr(encoder, "transferred_from_"):
        facts["transferred_from_"] = list(encoder.transferred_from_)
    return arrays, facts


def restore_routing_state(encoder, arrays: dict, facts: dict) -> None:
    """Set the fitted attributes of ``encoder`` (constructed with the saved parameters) from :func:`routing_state`."""
    subjects = list(facts["subjects_"])
    encoder.subjects_ = subjects
    encoder.query_names_ = list(facts["query_names_"])
    encoder.layer_names_ = list(facts["layer_names_"])
    encoder.grids_ = [tuple(int(g) for g in grid) for grid in facts["grids_"]]
    encoder.n_features_ = [int(n) for n in facts["n_features_"]]
    if "transferred_from_" in facts:
        encoder.transferred_from_ = list(facts["transferred_from_"])
    encoder.members_ = []
    for i, spec in enumerate(facts["members"]):
        prefix = f"member{i}."
        state = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items()
                 if k.startswith(prefix) and not k.startswith(f"{prefix}val_r.")}
        network = encoder._build_network(int(spec["layer"]))
        for subject, key in spec["readouts"]:
            network.add_readout(subject, state[f"readouts.{key}.membership"].numpy().astype(bool))
        network.load_state_dict(state, strict=True)
        network.eval()
        val_r = {subject: arrays[f"{prefix}val_r.{k}"] for k, subject in enumerate(subjects)
                 if f"{prefix}val_r.{k}" in arrays}
        encoder.members_.append(Member(int(spec["layer"]), int(spec["seed"]), network, val_r,
                                       TrainingHistory(**spec["history"])))
    for name in _PER_SUBJECT:
        setattr(encoder, name, {subject: arrays[f"{name}.{k}"] for k, subject in enumerate(subjects)})
