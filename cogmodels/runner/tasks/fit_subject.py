"""Fit a trained multi-subject encoder to a new subject (task ``fit_subject``).

``cogmodels fit-subject`` and ``cogmodels run experiment=fmri_new_subject`` run
this task.  It follows the new-subject recipe of Adeli, Sun & Kriegeskorte
(2025) for the attention-routing transformer: what is shared across subjects
(input projection, decoder layers, and the ROI queries unless
``transfer.train_queries``) stays frozen, and only the new subject's
per-channel readout is fitted (:meth:`RoutingTransformerEncoder.fit_new_subject`).

One run:

1. **Source model.** ``transfer.source`` names a run folder or a model file of a
   trained multi-subject encoder.  When it is null, the model is trained here on
   ``transfer.source_subjects`` (the same dataset config with ``dataset.subject``
   replaced, all of their training images) and kept in the model store
   ``<output_root>/models/<key>.pt``; the key hashes the source data (features
   cache keys, responses, channels), the backbone, the encoder config and the
   encoder code, so every run of an ``n_train`` sweep reuses one source model.
2. **New subject.** ``dataset`` (with its ``subject``) gives the new subject's
   data in any layout (nsd_sim, algonauts2023, brain_folder).  ``transfer.n_train``
   training images are drawn as the first n of a seeded permutation (nested
   subsets, so a learning curve compares like with like).
3. **Transfer vs scratch vs ridge.** The transferred encoder, a from-scratch
   encoder (the ``encoder`` config, fitted on the same images) and, with
   ``transfer.ridge``, a RidgeCV on the flattened features of every layer (same
   images) are scored on the test split: per-channel Pearson r and, with
   repeats, noise-normalised accuracy, with a bootstrap CI of each head's mean r
   over resamples of the test images (the same resamples for every head, so
   differences between heads are paired).  Rows: head ``transfer``
   (``transfer+queries``), ``scratch`` and ``ridge``; a sweep over
   ``transfer.n_train`` gives the three learning curves (figure 5).

Images the subjects share: when the source model is trained here, every image
of the new subject's test split (matched by content hash, so the same picture
under another id counts) is removed from the source subjects' training images,
so the new subject's test images are unseen by every part of the transferred
model.  ``provenance["source_excluded"]`` gives the count per source subject.
A source model loaded from ``transfer.source`` cannot be checked this way (its
training images are not stored); the run log says so.

meta.json names the model files (``source_model``, ``transferred_model``) with
their sha256, so a run folder can be the ``transfer.source`` of a later run.
Model files are written by :func:`cogmodels.encoders.persistence.save_encoder`
(safetensors state dict plus JSON config, never a pickle) with the training
spec as metadata; loading checks the file's sha256 (the one the run recorded,
else ``<file>.sha256``) before it reads anything.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import OmegaConf

from cogmodels.errors import ConfigError, DataFormatError, format_problem
from cogmodels.metrics.stats import bootstrap_indices, bootstrap_pearson, percentile_ci
from cogmodels.runner.cache import feature_key, implementation_hash
from cogmodels.runner.tasks.base import (
    TASKS, RunContext, TaskOutput, accuracy_items, ceiling_outputs, channel_items, load_brain_dataset, metric_rows,
    split_rows, weights_statement)

log = logging.getLogger(__name__)

MODELS_DIR = "models"
DEFAULT_N_BOOT = 1000  # resamples of the new subject's test images (bootstrap CIs of each head's mean r)
MODEL_SUFFIX = ".safetensors"
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")  # torch.save (zip) and plain pickle files


# -- model files ----------------------------------------------------------------------
def save_model(encoder, path: Path, spec: dict) -> dict:
    """Write ``encoder`` to ``path`` with :func:`~cogmodels.encoders.persistence.save_encoder`, ``spec`` as its
    metadata; returns the spec with the file's sha256 added."""
    from cogmodels.encoders.persistence import save_encoder

    digest = save_encoder(encoder, path, metadata=spec)
    log.info("saved encoder (%s) to %s", spec.get("role", "model"), path)
    return {**spec, "sha256": digest}


def load_model(path, sha256: str | None = None) -> tuple[object, dict]:
    """Load an encoder saved by :func:`save_model`, after checking its sha256.

    Parameters
    ----------
    path : path of the model file
    sha256 : str, optional
        The sha256 a run recorded for it; default: the one in ``<file>.sha256``.

    Returns
    -------
    encoder, spec : the encoder and its training spec (with the file's ``sha256``)
    """
    from cogmodels.encoders.persistence import checksum_path, load_encoder

    path = Path(path)
    _refuse_pickle(path)
    encoder, spec = load_encoder(path, sha256, return_metadata=True)
    record = checksum_path(path)
    spec["sha256"] = sha256 or (record.read_text().split()[0] if record.is_file() else None)
    _check_transferable(encoder, str(path))
    return encoder, spec


def _refuse_pickle(path: Path) -> None:
    """A DataFormatError for a torch.save / pickle file (old model files): they are never loaded."""
    if not path.is_file():
        return
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(_PICKLE_MAGIC):
        raise DataFormatError(format_problem(
            str(path), "an encoder file written by save_encoder (safetensors + JSON config)",
            "a torch.save pickle (a pickled encoder or a bare state_dict; loading a pickle can run code, and "
            "it may name code that is gone), which cogmodels never loads",
            "train the source model again with this version (rerun its training run, or delete the old "
            "file from the model store)"))


def check_model_file(source) -> Path:
    """Resolve ``source`` (a model file or a run folder) and check its file without building the encoder:
    not a pickle, sha256 as recorded, a cogmodels encoder header.  Returns the model file."""
    from cogmodels.encoders.persistence import read_encoder_config

    path, recorded = resolve_model(source)
    _refuse_pickle(path)
    read_encoder_config(path, recorded)
    return path


def resolve_model(source) -> tuple[Path, str | None]:
    """The model file of ``source`` (a model file, or a run folder whose meta.json names one) and the sha256
    recorded for it (None for a file given directly: its ``<file>.sha256`` is checked)."""
    source = Path(str(source)).expanduser()
    if source.is_file():
        return source, None
    if source.is_dir():
        meta_path = source / "meta.json"
        if meta_path.is_file():
            entry = json.loads(meta_path.read_text()).get("source_model") or {}
            candidates = [Path(p) for p in (entry.get("file"), entry.get("file_absolute")) if p]
            candidates = [p if p.is_absolute() else source.parents[2] / p for p in candidates]  # runs/<exp>/<id>
            for candidate in candidates:
                if candidate.is_file():
                    return candidate, entry.get("sha256")
            raise DataFormatError(format_problem(
                f"{meta_path} source_model", "the path of an existing model file",
                f"{[str(c) for c in candidates] or 'no source_model entry'}",
                "pass the model file itself, or rerun the training run (its model store was moved or deleted)"))
    raise DataFormatError(format_problem("transfer.source", "a model file or a run folder holding meta.json",
                                         f"{source} (no such file or folder)",
                                         f"pass outputs/runs/fmri_new_subject/<run_id> or a model {MODEL_SUFFIX} "
                                         "file"))


def resolve_model_file(source) -> Path:
    """The model file of ``source`` (see :func:`resolve_model`)."""
    return resolve_model(source)[0]


def _check_transferable(encoder, where: str) -> None:
    from cogmodels.encoders.routing import RoutingTransformerEncoder

    if not isinstance(encoder, RoutingTransformerEncoder):
        raise ConfigError(format_problem(where, "a fitted multi-subject encoder with fit_new_subject "
                                         "(e.g. the routing transformer)", type(encoder).__name__,
                                         "train encoder=routing on several subjects (experiment=fmri_new_subject)"))


# -- data ---------------------------------------------------------------------------
def layer_inputs(features: dict, rows: np.ndarray) -> dict:
    """Features of the stimuli ``rows``, as a dict layer -> FeatureMap (the multi-layer input of the encoder)."""
    from cogmodels.backbones.base import FeatureMap

    return {layer: FeatureMap(np.ascontiguousarray(f.values[rows]), f.kind, f.grid) for layer, f in features.items()}


def channel_labels(channels) -> dict:
    """ROI labels and hemispheres of the channels (hemispheres None when the table has none)."""
    hemispheres = list(channels["hemisphere"])
    return {"rois": list(channels["rois"]), "hemispheres": hemispheres if any(hemispheres) else None}


def training_subset(train_rows: np.ndarray, n_train, seed: int) -> np.ndarray:
    """The first ``n_train`` rows of a seeded permutation of ``train_rows`` (all when None), sorted.

    With one seed, a smaller n gives a subset of a larger n (nested learning-curve points).
    """
    if n_train is None:
        return np.sort(train_rows)
    if isinstance(n_train, bool) or int(n_train) != n_train or not 2 <= int(n_train) <= train_rows.size:
        raise ConfigError(format_problem("transfer.n_train", f"an integer from 2 to {train_rows.size} "
                                         f"(the training images of the new subject)", repr(n_train),
                                         f"pass transfer.n_train <= {train_rows.size}, or null for all"))
    order = np.random.default_rng(seed).permutation(train_rows.size)
    return np.sort(train_rows[order[:int(n_train)]])


def _data_hash(dataset, rows: np.ndarray, feature_keys: dict) -> str:
    """Content hash of one subject's training data: feature cache keys, stimulus ids, responses, channels."""
    digest = hashlib.sha1()
    for layer in sorted(feature_keys):
        digest.update(f"{layer}={feature_keys[layer]}\n".encode())
    digest.update("\n".join(dataset.stimuli.ids[i] for i in rows).encode())
    digest.update(np.ascontiguousarray(dataset.responses.responses[rows]).tobytes())
    table = dataset.responses.channels[["id", "hemisphere", "rois"]]
    digest.update(table.to_json(orient="values").encode())
    return digest.hexdigest()


def _model_params(node) -> dict:
    """The encoder config without the keys that do not change the fitted model (progress bars)."""
    params = OmegaConf.to_container(node, resolve=True)
    params.pop("progress", None)
    return params


def _encoder_code_hash(encoder) -> str:
    """Hash of the encoder's code: every source file of its package (e.g. cogmodels/encoders/*.py).

    The whole package, not only the class's module, because the network, training
    loop and helpers live in sibling modules; a change anywhere there retrains.
    """
    digest = hashlib.sha1(implementation_hash(encoder).encode())
    folder = Path(inspect.getfile(type(encoder))).parent
    for source in sorted(folder.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


# -- the source model -------------------------------------------------------------------
def _subject_data(ctx: RunContext, backbone, layers: list, subject=None, exclude=frozenset()):
    """Dataset (``subject`` replaces dataset.subject when given), its features, its data hash and its
    training rows without the images whose content hash is in ``exclude``."""
    options = {} if subject is None else {"subject": subject}
    dataset = load_brain_dataset(ctx.cfg.dataset, "fit_subject", **options)
    features = ctx.cache.features(backbone, dataset.stimuli, layers)
    keys = {layer: feature_key(backbone, layer, dataset.stimuli) for layer in layers}
    train = shared_rows_removed(dataset, split_rows(dataset, "train"), exclude)
    return dataset, features, _data_hash(dataset, train, keys), train


def shared_rows_removed(dataset, rows: np.ndarray, exclude) -> np.ndarray:
    """``rows`` without the stimuli whose content hash is in ``exclude`` (images shared with another subject)."""
    if not exclude:
        return rows
    hashes = dataset.stimuli.content_hashes()
    return np.asarray([i for i in rows if hashes[i] not in exclude], dtype=int)


def test_hashes(dataset) -> frozenset:
    """Content hashes of the images of a dataset's test split."""
    hashes = dataset.stimuli.content_hashes()
    return frozenset(hashes[i] for i in split_rows(dataset, "test"))


def train_source_model(ctx: RunContext, backbone, layers: list, target_subject: str,
                       exclude=frozenset()) -> tuple[object, dict, Path]:
    """The multi-subject encoder of ``transfer.source_subjects``: from the model store, or trained and stored.

    ``exclude``: content hashes of images (the new subject's test images) left out of every source
    subject's training images; the spec records how many were left out per subject."""
    from cogmodels.encoders.persistence import checksum_path
    from cogmodels.encoders.routing import RoutingTransformerEncoder

    cfg = ctx.cfg
    subjects = [str(s) for s in cfg.transfer.source_subjects]
    if not subjects or target_subject in subjects:
        raise ConfigError(format_problem("transfer.source_subjects", "one or more subjects other than the new one",
                                         f"{subjects} with dataset.subject={target_subject!r}",
                                         "list the training subjects without the new subject"))
    data = {s: _subject_data(ctx, backbone, layers, subject=s, exclude=exclude) for s in subjects}
    encoder = instantiate(cfg.encoder)
    spec = {"role": "source", "subjects": subjects, "dataset": cfg.dataset.name, "layers": layers,
            "backbone": OmegaConf.to_container(cfg.backbone, resolve=True),
            "backbone_fingerprints": {layer: backbone.fingerprint(layer) for layer in layers},
            "encoder": _model_params(cfg.encoder), "encoder_code": _encoder_code_hash(encoder),
            "data": {s: data_hash for s, (_, _, data_hash, _) in data.items()},
            "excluded_shared_images": {s: int(split_rows(d, "train").size - rows.size)
                                       for s, (d, _, _, rows) in data.items()}}
    key = hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = Path(str(cfg.output_root)) / MODELS_DIR / f"source-{key}{MODEL_SUFFIX}"
    if checksum_path(path).is_file():  # written last by save_encoder: a complete model file
        try:
            model, stored = load_model(path)
        except DataFormatError as err:
            log.warning("model store entry %s cannot be loaded, training again: %s", path.name, err)
        else:
            log.info("model store hit: source encoder of %s loaded from %s (no training)", subjects, path)
            return model, stored, path
    if not isinstance(encoder, RoutingTransformerEncoder):
        raise ConfigError(format_problem("encoder", "an encoder that fits several subjects at once (fit_multi)",
                                         type(encoder).__name__, "use encoder=routing"))
    fit_data = {}
    for subject, (dataset, features, _, train) in data.items():
        labels = channel_labels(dataset.responses.channels)
        fit_data[subject] = (layer_inputs(features, train), dataset.responses.responses[train], labels["rois"],
                             labels["hemispheres"])
    log.info("training the source encoder on %s (%s stimuli)", subjects, [len(v[1]) for v in fit_data.values()])
    with ctx.stage("source/fit"):
        encoder.fit_multi(fit_data)
    spec["test_r"] = _source_test_r(encoder, data)
    return encoder, save_model(encoder, path, {**spec, "key": key}), path


def _source_test_r(encoder, data: dict) -> dict:
    """Mean test r of the source encoder on each source subject (for the record)."""
    from cogmodels.metrics.brain import pearson_r

    out = {}
    for subject, (dataset, features, _, _) in data.items():
        if "test" not in dataset.splits:
            continue
        test = split_rows(dataset, "test")
        r = pearson_r(dataset.responses.responses[test], encoder.predict(layer_inputs(features, test), subject=subject))
        out[subject] = float(np.nanmean(r))
    return out


def _check_backbone(spec: dict, backbone, layers: list, where: str) -> None:
    """The new subject's features must come from the backbone and layers the source was trained on."""
    stored = spec.get("backbone_fingerprints")
    if not stored:
        return  # a bare model file: the encoder checks grids and feature counts itself
    found = {layer: backbone.fingerprint(layer) for layer in layers}
    if found != stored:
        trained = spec.get("backbone", {})
        raise ConfigError(format_problem(
            where, f"features of the backbone the model was trained on ({trained.get('name')}, layers "
            f"{sorted(stored)})", f"backbone {backbone.name}, layers {layers} with other settings",
            f"run with the backbone config of the source model (backbone={trained.get('name')} and its options)"))


def source_model(ctx: RunContext, backbone, layers: list, target_subject: str,
                 exclude=frozenset()) -> tuple[object, dict, Path]:
    """The source encoder, its spec and its file: loaded from ``transfer.source`` or trained (model store)."""
    source = ctx.cfg.transfer.get("source")
    if source is None:
        return train_source_model(ctx, backbone, layers, target_subject, exclude)
    log.info("transfer.source is given: whether its training images include the new subject's test images "
             "cannot be checked (train the source here, transfer.source=null, to leave them out)")
    path, recorded = resolve_model(source)
    encoder, spec = load_model(path, recorded)
    _check_backbone(spec, backbone, layers, f"transfer.source={path}")
    if target_subject in encoder.subjects_:
        log.warning("subject %s is one of the source model's training subjects %s: this is not a new subject",
                    target_subject, encoder.subjects_)
    log.info("source encoder of %s loaded from %s", encoder.subjects_, path)
    return encoder, spec, path


# -- the task ---------------------------------------------------------------------------
class FlatRidge:
    """RidgeCV (default alphas, per-channel alpha by CV) on the flattened features of every layer, concatenated:
    the linear baseline of the new-subject learning curve.  ``fit(X, Y)`` / ``predict(X)`` take the dict
    layer -> FeatureMap of :func:`layer_inputs`."""

    def fit(self, X: dict, Y):
        from cogmodels.encoders import RidgeCV

        self.ridge_ = RidgeCV().fit(self._flat(X), Y)
        return self

    def predict(self, X: dict) -> np.ndarray:
        return self.ridge_.predict(self._flat(X))

    @staticmethod
    def _flat(X: dict) -> np.ndarray:
        return np.concatenate([X[layer].flatten() for layer in sorted(X)], axis=1)


def fit_new_subject(source, X, Y, channels, subject: str, train_queries: bool):
    """Transfer ``source`` to a new subject: a copy whose shared part is frozen; ``source`` is left unchanged."""
    _check_transferable(source, "transfer.source")
    return source.fit_new_subject(X, Y, **channel_labels(channels), train_queries=bool(train_queries),
                                  subject=subject)


def _model_record(path: Path, spec: dict, root: Path) -> dict:
    try:
        relative = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        relative = None
    return {"file": relative or str(path.resolve()), "file_absolute": str(path.resolve()),
            "sha256": spec.get("sha256"), "subjects": spec.get("subjects"), "test_r": spec.get("test_r")}


def bootstrap_rows(y_true, prediction, indices: np.ndarray, labels: dict, ci: float = 0.95):
    """Mean test r over channels on each resample of the test images, and its percentile CI as two rows.

    ``indices`` (n_boot, n_test) are shared by every head of a run (and by every run with the same seed and
    test split), so the heads' resample means are paired.  Returns the (n_boot,) means and the rows
    ``pearson_r_ci_low`` / ``pearson_r_ci_high`` (ROI "all")."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant resample is NaN, left out
        boot = np.nanmean(bootstrap_pearson(y_true, prediction, indices), axis=1)
    low, high = percentile_ci(boot[:, None], ci)
    rows = [{**labels, "roi_or_condition": "all", "metric": f"pearson_r_ci_{side}", "value": float(value[0]),
             "n_items": int(indices.shape[1])} for side, value in (("low", low), ("high", high))]
    return boot, rows


@TASKS.register("fit_subject")
def fit_subject(ctx: RunContext) -> TaskOutput:
    """Transfer a multi-subject encoder to ``dataset.subject`` and compare it with a from-scratch fit.

    Config keys: ``dataset`` (the new subject's data), ``backbone``, ``encoder``
    (the from-scratch encoder, and the source's when it is trained here),
    ``transfer`` (source, source_subjects, n_train, subset_seed, train_queries,
    scratch, ridge, save_model, n_boot).  See the module docstring.

    Per-item arrays: ``pearson_r@<head>`` and ``normalized_accuracy@<head>`` per
    channel (heads ``transfer`` / ``transfer+queries``, ``scratch`` and ``ridge``),
    ``boot_pearson_r@<head>`` (n_boot,): the mean r over channels on each resample
    of the test images (the same resamples for every head: paired), ``noise_ceiling``
    and true ceilings, channel labels, ``train_ids``, ``test_ids``.  Rows per head
    add ``pearson_r_ci_low`` / ``pearson_r_ci_high`` (ROI "all", 95% percentile CI).
    """
    cfg, transfer = ctx.cfg, ctx.cfg.transfer
    root = Path(str(cfg.output_root))
    with ctx.stage("backbone"):
        backbone = instantiate(cfg.backbone)
        layers = list(backbone.layers)
    with ctx.stage("dataset"):
        target, features, target_hash, _ = _subject_data(ctx, backbone, layers)
    responses = target.responses
    subject = responses.subject
    with ctx.stage("source"):
        source, source_spec, source_path = source_model(ctx, backbone, layers, subject, test_hashes(target))
    train = training_subset(split_rows(target, "train"), transfer.get("n_train"), int(transfer.get("subset_seed", 0)))
    test = split_rows(target, "test")
    X_train, X_test, Y = layer_inputs(features, train), layer_inputs(features, test), responses.responses
    labels = {"dataset": cfg.dataset.name, "backbone": cfg.backbone.name, "subject": subject,
              "layer": "+".join(layers)}
    transfer_head = "transfer+queries" if transfer.get("train_queries") else "transfer"
    log.info("fit-subject %s: %d training images, %d test images, %d channels; source subjects %s", subject,
             train.size, test.size, Y.shape[1], source.subjects_)
    with ctx.stage("transfer"):
        heads = {transfer_head: fit_new_subject(source, X_train, Y[train], responses.channels, subject,
                                                transfer.get("train_queries", False))}
    if transfer.get("scratch", True):
        with ctx.stage("scratch"):
            heads["scratch"] = instantiate(cfg.encoder).fit(X_train, Y[train], **channel_labels(responses.channels))
    if transfer.get("ridge", False):
        with ctx.stage("ridge"):
            heads["ridge"] = FlatRidge().fit(X_train, Y[train])
    with ctx.stage("score"):
        items, rows, nc = ceiling_outputs(target, {**labels, "head": "", "layer": ""})
        indices = bootstrap_indices(test.size, int(transfer.get("n_boot", DEFAULT_N_BOOT)),
                                    seed=[int(cfg.get("seed") or 0), 3])
        for head, encoder in heads.items():
            prediction = encoder.predict(X_test)
            for metric, values in accuracy_items(Y[test], prediction, nc).items():
                items[f"{metric}@{head}"] = values
                rows += metric_rows(values, responses, {**labels, "head": head}, metric, labels["layer"])
            items[f"boot_pearson_r@{head}"], ci_rows = bootstrap_rows(Y[test], prediction, indices,
                                                                      {**labels, "head": head})
            rows += ci_rows
    items.update(channel_items(responses))
    items["train_ids"] = np.asarray([target.stimuli.ids[i] for i in train], dtype=str)
    items["test_ids"] = np.asarray([target.stimuli.ids[i] for i in test], dtype=str)
    provenance = {"weights": weights_statement(backbone), "backbone_layers": layers, "n_train": int(train.size),
                  "n_test": int(test.size), "dataset_card": str(target.card.name),
                  "simulated": bool(target.card.simulated),
                  "source_model": _model_record(source_path, source_spec, root),
                  "source_excluded": source_spec.get("excluded_shared_images")}
    if transfer.get("save_model", True):
        key = hashlib.sha1(f"{source_spec.get('sha256')}|{target_hash}|{train.tobytes().hex()}|"
                           f"{transfer_head}|{_model_params(cfg.encoder)}".encode()).hexdigest()[:20]
        spec = {"role": "transferred", "subjects": [subject], "source": provenance["source_model"],
                "n_train": int(train.size), "head": transfer_head, "layers": layers,
                "backbone": OmegaConf.to_container(cfg.backbone, resolve=True),
                "backbone_fingerprints": {layer: backbone.fingerprint(layer) for layer in layers}}
        path = root / MODELS_DIR / f"transferred-{key}{MODEL_SUFFIX}"
        provenance["transferred_model"] = _model_record(path, save_model(heads[transfer_head], path, spec), root)
    return TaskOutput(rows=rows, items=items, provenance=provenance)
