"""Attention-routing transformer brain encoder (Adeli, Sun & Kriegeskorte 2025).

"Transformer brain encoders explain human high-level visual responses"
(arXiv:2505.17329, NeurIPS 2025).  Instead of one static linear map from a
feature grid to each channel, the model *routes* features: one learned query
per brain region (ROI, per hemisphere) cross-attends over the backbone's patch
tokens, so the region reads the features of wherever its preferred content is
in the image.  Each channel (voxel / vertex) is a linear readout of the output
token of its own ROI; a channel in several ROIs sums the readouts of their
tokens.

Architecture (per ensemble member)::

    tokens (n, H*W, C) --standardise--> Linear(C, d_model) = memory
    keys   = memory + 2D sine-cosine position encoding  (DETR-style: position on keys only,
    values = memory                                       so *where* decides the routing, *what* is read)
    queries (n_queries, d_model), learned
    L x [self-attention among queries (optional), cross-attention, MLP], post-layer-norm
    y[c] = sum_{q in rois(c)} w_c . token_q + b_c

Training: MSE on per-channel standardised responses, AdamW with gradient-norm
clipping and a step LR schedule (the paper's settings), mini-batches, early
stopping on the mean validation r of a seeded validation split, the best
weights restored.  DETR-style queries (zero decoder input, queries as the position
term) and no self-attention among queries by default, as in the paper.  Several runs
(seeds) and layers (feature maps) form an ensemble weighted per channel by validation r.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from torch.nn import functional as F

from cogmodels.data.checks import FLOAT32_MAX, check_array
from cogmodels.encoders import ENCODERS
from cogmodels.encoders._early_stopping import (
    columnwise_r, ensemble_weights, feature_standardizer, mean_defined, response_standardizer, score_prediction,
    shuffled_batches, train_with_early_stopping, validation_split)
from cogmodels.encoders._rois import channel_query_names, check_hemispheres, check_rois
from cogmodels.encoders._routing_attention import routing_attention_maps
from cogmodels.encoders._routing_params import GRAD_CLIP, LR, LR_DROP, WEIGHT_DECAY, validate_routing_params
from cogmodels.encoders._routing_state import Member as _Member
from cogmodels.encoders._routing_state import SubjectData as _SubjectData
from cogmodels.encoders._routing_state import restore_routing_state, routing_state
from cogmodels.encoders._tokens import as_token_layers, looks_like_images, resolve_backbone
from cogmodels.encoders.base import BaseEncoder
from cogmodels.encoders.routing_network import RoutingNetwork, flip_tokens
from cogmodels.errors import ConfigError, ShapeError, format_problem

logger = logging.getLogger(__name__)

@ENCODERS.register("routing", example={"d_model": 16, "max_epochs": 2, "patience": 1, "batch_size": 16,
                                        "progress": False})
class RoutingTransformerEncoder(BaseEncoder):
    """Attention-routing transformer brain encoder (Adeli, Sun & Kriegeskorte 2025).

    Parameters
    ----------
    d_model, n_heads, n_layers : int
        Token width, attention heads and decoder layers.
    self_attention : bool
        Self-attention among the queries in each decoder layer (off by default, as in the paper).
    query_input : {"detr", "learned"}
        ``"detr"`` (default, as in DETR and the paper): the decoder input is zero and the learned
        queries are the position term added to the query side of every attention; ``"learned"``:
        the learned queries are the decoder's input (this encoder before issue 8).
    key_content : bool
        True: keys are the projected tokens plus the position code.  False (an ablation): keys carry
        the position code only, so the attention cannot depend on image content.
    mlp_ratio, dropout : float
        MLP width relative to d_model; dropout in attention and MLP (0.1, as in the paper).
    query_per : {"roi_hemisphere", "roi", "channel_group"} or dict {roi: mode}
        One learned query per ROI and hemisphere, per ROI, or per group of
        ``group_size`` channels within an ROI and hemisphere; a dict sets the
        mode per ROI (``"*"``: the others), e.g. one query per channel in
        retinotopic ROIs: ``{"V1": "channel_group", "*": "roi_hemisphere"}``
        with ``group_size=1`` (see :func:`~cogmodels.encoders._rois.channel_query_names`).
    group_size : int
    ignore_rois : sequence of str
        ROI labels that get no query (e.g. labels that only group other ROIs, such as
        "ventral"); every channel must keep at least one label.
    lr, weight_decay : float
        AdamW settings (default: the paper's 5e-4 and 1e-4).
    lr_schedule : {"step", "cosine", "none"}
        ``"step"``: x0.1 every ``lr_drop`` epochs (the paper's StepLR); cosine annealing over
        ``max_epochs``; or constant.
    lr_drop : int
    grad_clip : float or None
        Max global gradient norm (0.1, as in the paper); None switches clipping off.
    flip_augmentation : bool
        Mirror the feature grid left-right for a random half of each training batch (the paper
        flips the images; see the differences below).
    batch_size, max_epochs, patience : int
    validation_fraction : float
        Share of each subject's stimuli held out (seeded) for early stopping and ensemble weights.
    n_runs : int
        Runs (seeds) per feature layer in the ensemble.
    ensemble_weighting : {"r_proportional", "softmax", "uniform"}
        Per-channel member weights from the validation r: proportional to
        max(r, 0) (uniform where no member has r > 0); softmax of
        r / ``ensemble_temperature``; or equal.
    ensemble_temperature : float
    backbone : Backbone or str, optional
        Used to compute tokens when images are passed instead of features.
    layers : list of str, optional
        Backbone layers to extract (default: the backbone's layers).
    seed : int
    progress : bool
        tqdm bars over epochs.

    Attributes
    ----------
    query_names_ : list of str, length n_queries
    subjects_ : list of str
    members_ : list of ensemble members (one network per layer and run)
    validation_r_ : dict subject -> array of shape (n_channels,), the ensemble's validation r

    Diagnostics: ``query_names`` (n_queries,) and, for the stimuli X given, ``attention``
    (n_stimuli, n_queries, H, W), the last-layer cross-attention of each query (see :meth:`attention_maps`).

    Notes
    -----
    Differences from the paper (Adeli, Sun & Kriegeskorte 2025, and the authors' released training
    defaults) that remain, and why:

    * **Backbone and width.** The paper reads DINOv2 ViT-B/14 tokens with d_model 768, 16 heads and a
      1024-wide MLP; here any backbone's cached tokens, a learned linear projection to d_model (64 by
      default, 1 head, MLP 2 x d_model), so that fits run on CPU in minutes.  Set d_model/n_heads/
      mlp_ratio to the paper's values where compute allows.
    * **Schedule length.** The paper trains a fixed ~20 epochs with StepLR dropping every few epochs;
      here early stopping on a seeded validation split restores the best epoch, and ``lr_drop`` is 40
      because a 64-wide model at lr 5e-4 needs more epochs than 4 to converge on small data.
    * **Flip augmentation** flips the cached feature grid, not the image (features are computed once
      and cached); for oriented filters this is an approximation.  Off by default: the responses of
      retinotopic channels are not mirror-invariant.
    * **Queries.** Query sets (per ROI and hemisphere, per ROI, per channel group) are chosen by
      ``query_per``; the paper's best models use one query per ROI (or parcel) and hemisphere.
    * **Ensembling** over runs and layers weights members per channel by validation r; the paper
      selects layers and averages runs per vertex in a similar but not identical way.
    * **Loss.** MSE on per-channel standardised responses; the paper regresses the raw z-scored betas.
    """

    input_kind = "tokens"  # reads (n_stimuli, H*W, C) token grids with their (H, W)
    requires = frozenset({"roi_labels"})  # one query per ROI: every channel needs its ROI label(s)
    stimulus_diagnostics = frozenset({"attention"})

    def __init__(self, d_model: int = 64, n_heads: int = 1, n_layers: int = 1, self_attention: bool = False,
                 query_input: str = "detr", key_content: bool = True,
                 mlp_ratio: float = 2.0, dropout: float = 0.1, query_per: str = "roi_hemisphere",
                 group_size: int = 16, ignore_rois=(), lr: float = LR, weight_decay: float = WEIGHT_DECAY,
                 lr_schedule: str = "step", lr_drop: int = LR_DROP, grad_clip: float | None = GRAD_CLIP,
                 flip_augmentation: bool = False,
                 batch_size: int = 32, max_epochs: int = 100, patience: int = 10,
                 validation_fraction: float = 0.15, n_runs: int = 1, ensemble_weighting: str = "r_proportional",
                 ensemble_temperature: float = 0.05,
                 backbone=None, layers=None, seed: int = 0, progress: bool = True):
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.self_attention = self_attention
        self.query_input = query_input
        self.key_content = key_content
        self.mlp_ratio = mlp_ratio
        self.dropout = dropout
        self.query_per = query_per
        self.group_size = group_size
        self.ignore_rois = ignore_rois
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.lr_drop = lr_drop
        self.grad_clip = grad_clip
        self.flip_augmentation = flip_augmentation
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.n_runs = n_runs
        self.ensemble_weighting = ensemble_weighting
        self.ensemble_temperature = ensemble_temperature
        self.backbone = backbone
        self.layers = layers
        self.seed = seed
        self.progress = progress

    # -- parameters ----------------------------------------------------------
    def validate_params(self) -> "RoutingTransformerEncoder":
        """Check every parameter (no data needed); ConfigError naming ``encoder.<param>`` otherwise."""
        return validate_routing_params(self)

    # -- fitting -------------------------------------------------------------
    def fit(self, X, Y, *, channels=None, grid=None, rois=None, hemispheres=None):
        """Fit one subject.

        Parameters
        ----------
        X : features of the stimuli: array of shape (n_stimuli, H*W, C) with ``grid``, array of
            shape (n_stimuli, C, H, W), a FeatureMap, a dict / list of several layers, or uint8
            images (n_stimuli, H, W, 3) / Stimuli when a ``backbone`` is set
        Y : array of shape (n_stimuli, n_channels)
        channels : DataFrame (``BrainResponses.channels``)
            The channel table of Y: its ``rois`` (a tuple of ROI names per channel) and ``hemisphere``
            columns label the channels (hemispheres are used when any is non-empty).
        grid : (H, W), optional
        rois, hemispheres : sequences of length n_channels, optional
            The labels themselves, instead of ``channels``.
        """
        return self.fit_multi({"subject": {"X": X, "Y": Y, "channels": channels, "rois": rois,
                                           "hemispheres": hemispheres}}, grid=grid)

    def fit_multi(self, subjects: Mapping, grid=None):
        """Fit several subjects at once: shared queries and decoder, one readout per subject.

        Parameters
        ----------
        subjects : dict subject -> (X, Y, rois), (X, Y, rois, hemispheres), (X, Y, channels) or
            a dict with keys X, Y and channels (or rois and hemispheres)
            Each subject's own stimuli features, responses and channel labels (see :meth:`fit`).
        grid : (H, W), optional
        """
        self.validate_params()
        if not subjects:
            raise ConfigError(format_problem("subjects", "at least one subject", "an empty dict",
                                             "pass {subject: (X, Y, rois)}"))
        data = [self._prepare_subject(name, item, grid, k, known_queries=None, fitting=k == 0)
                for k, (name, item) in enumerate(subjects.items())]
        self.subjects_ = [d.name for d in data]
        self.query_names_ = list(dict.fromkeys(q for d in data for names in d.query_names for q in names))
        self.members_ = []
        logger.info("routing encoder: %d subject(s), %d queries, %d layer(s) x %d run(s)", len(data),
                    len(self.query_names_), len(self.grids_), self.n_runs)
        for layer in range(len(self.grids_)):
            mean, scale = feature_standardizer([d.layers[layer] for d in data], [d.train_idx for d in data])
            for run in range(self.n_runs):
                member_seed = int(np.random.SeedSequence([self.seed, layer, run]).generate_state(1)[0])
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(member_seed)
                    network = self._build_network(layer)
                    network.feature_mean.copy_(torch.from_numpy(mean))
                    network.feature_scale.copy_(torch.from_numpy(scale))
                    for d in data:
                        network.add_readout(d.name, self._membership(d.query_names))
                member = _Member(layer, member_seed, network)
                self._train_member(member, data, list(network.parameters()),
                                   desc=f"routing {self.layer_names_[layer]} run {run}")
                self.members_.append(member)
        self._finish(data)
        return self

    def fit_new_subject(self, X, Y, rois=None, hemispheres=None, grid=None, *, channels=None,
                        train_queries: bool = False, subject: str = "new_subject") -> "RoutingTransformerEncoder":
        """Transfer to a new subject: freeze the shared part, fit the subject-specific readout.

        The input projection and decoder layers stay frozen (so do the queries
        unless ``train_queries``); a new per-channel readout is trained.  Every
        ROI of the new subject must have a query in this model (ConfigError
        otherwise).  This encoder is left unchanged; a new one is returned.
        The new subject's channels are labelled by ``channels`` (its channel table)
        or by ``rois`` and ``hemispheres``, as in :meth:`fit`.

        Returns
        -------
        RoutingTransformerEncoder fitted for ``subject`` only; ``transferred_from_`` names the source subjects.
        """
        self._check_fitted("members_")
        backbone = getattr(self, "_backbone_instance", None)
        new = copy.deepcopy(self, memo={id(self.backbone): self.backbone, id(backbone): backbone})
        item = {"X": X, "Y": Y, "channels": channels, "rois": rois, "hemispheres": hemispheres}
        data = [new._prepare_subject(subject, item, grid, 0, known_queries=self.query_names_)]
        for member in new.members_:
            network = member.network
            network.clear_readouts()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(member.seed)
                network.add_readout(subject, new._membership(data[0].query_names))
            network.requires_grad_(False)
            network.readouts.requires_grad_(True)
            network.queries.requires_grad_(train_queries)
            new._train_member(member, data, [p for p in network.parameters() if p.requires_grad],
                              desc=f"transfer to {subject}")
            network.requires_grad_(True)
        new.transferred_from_ = list(self.subjects_)
        new.subjects_ = [subject]
        new._finish(data)
        return new

    def _prepare_subject(self, name, item, grid, index, known_queries, fitting=False) -> _SubjectData:
        where = f"subject {name!r}"
        X, Y, channels, rois, hemispheres = self._unpack_subject(name, item)
        layers = self._features(X, grid, f"{where} X", fitting=fitting)
        Y = check_array(Y, f"{where} Y", ndim=2, dtype="number", finite=True, non_empty=True,
                        max_abs=FLOAT32_MAX).astype(np.float32)
        if Y.shape[0] != layers[0].shape[0]:
            raise ShapeError(format_problem(f"{where} X/Y", "the same number of rows (stimuli)",
                                            f"X has {layers[0].shape[0]}, Y has {Y.shape[0]}",
                                            "align features and responses on the same stimuli"))
        where_rois = f"{where} rois"
        if channels is not None:
            if rois is not None or hemispheres is not None:
                raise ConfigError(format_problem(f"{where} channels", "either a channel table or rois/hemispheres",
                                                 "both", "pass channels=BrainResponses.channels alone"))
            channels = self._check_channels(channels, Y.shape[1])
            rois, where_rois = list(channels["rois"]), f"{where} channels.rois"
            hemispheres = list(channels["hemisphere"]) if any(channels["hemisphere"]) else None
        if self.ignore_rois and rois is not None:
            rois = [tuple(r for r in ((c,) if isinstance(c, str) else c) if r not in self.ignore_rois) for c in rois]
            where_rois += " (without ignore_rois)"
        rois = check_rois(rois, Y.shape[1], where_rois)
        hemispheres = check_hemispheres(hemispheres, Y.shape[1], f"{where} hemispheres")
        query_names = channel_query_names(rois, hemispheres, self.query_per, self.group_size)
        if known_queries is not None:
            unknown = sorted({q for names in query_names for q in names} - set(known_queries))
            if unknown:
                raise ConfigError(format_problem(f"{where} rois", f"ROIs the trained model has queries for "
                                                 f"({', '.join(known_queries[:12])})", f"unknown {unknown[:10]}",
                                                 "drop those channels, or fit a model that includes these ROIs"))
        train_idx, val_idx = validation_split(Y.shape[0], self.validation_fraction, seed=[self.seed, index])
        y_mean, y_scale = response_standardizer(Y[train_idx])
        return _SubjectData(str(name), layers, (Y - y_mean) / y_scale, query_names, train_idx, val_idx,
                            y_mean, y_scale)

    @staticmethod
    def _unpack_subject(name, item) -> tuple:
        """(X, Y, channels, rois, hemispheres) of one subject's item (tuple or dict, see :meth:`fit_multi`)."""
        if isinstance(item, Mapping):
            return (item["X"], item["Y"], item.get("channels"), item.get("rois"), item.get("hemispheres"))
        if not isinstance(item, (tuple, list)) or len(item) not in (3, 4):
            raise ConfigError(format_problem(f"subjects[{name!r}]", "a tuple (X, Y, rois[, hemispheres]) or "
                                             "(X, Y, channels)", f"{type(item).__name__} of "
                                             f"{len(item) if hasattr(item, '__len__') else '?'} items",
                                             "pass features, responses and channel labels"))
        import pandas as pd

        if isinstance(item[2], pd.DataFrame):
            return (item[0], item[1], item[2], None, None)
        X, Y, rois, hemispheres = (*item, None)[:4]
        return X, Y, None, rois, hemispheres

    def _membership(self, query_names: list) -> np.ndarray:
        index = {q: i for i, q in enumerate(self.query_names_)}
        membership = np.zeros((len(query_names), len(index)), dtype=bool)
        for channel, names in enumerate(query_names):
            membership[channel, [index[q] for q in names]] = True
        return membership

    def _build_network(self, layer: int) -> RoutingNetwork:
        return RoutingNetwork(self.n_features_[layer], len(self.query_names_), self.grids_[layer],
                              d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers,
                              mlp_ratio=self.mlp_ratio, self_attention=self.self_attention, dropout=self.dropout,
                              query_input=self.query_input, key_content=self.key_content)

    def _train_member(self, member: _Member, data: list, parameters: list, desc: str) -> None:
        network, layer = member.network, member.layer
        generator = torch.Generator().manual_seed(member.seed)

        def epoch_batches(epoch):
            items = [(k, idx) for k, d in enumerate(data)
                     for idx in shuffled_batches(d.train_idx, self.batch_size, generator)]
            return [items[i] for i in torch.randperm(len(items), generator=generator).tolist()]

        def batch_loss(item):
            k, idx = item
            d = data[k]
            tokens = torch.from_numpy(d.layers[layer][idx])
            if self.flip_augmentation:
                tokens = flip_tokens(tokens, self.grids_[layer], generator)
            prediction = network(tokens, d.name)
            return F.mse_loss(prediction, torch.from_numpy(d.Y[idx]))

        def validation_r():
            return [columnwise_r(torch.from_numpy(d.Y[d.val_idx]),
                                 self._forward(network, d.layers[layer][d.val_idx], d.name)) for d in data]

        with torch.random.fork_rng(devices=[]):  # dropout draws from the global generator: seed it per member
            torch.manual_seed(member.seed + 1)
            member.history = train_with_early_stopping(
                network, parameters, epoch_batches, batch_loss, lambda: mean_defined(torch.cat(validation_r())),
                lr=self.lr, weight_decay=self.weight_decay, max_epochs=self.max_epochs, patience=self.patience,
                progress=self.progress, desc=desc, clip_norm=self.grad_clip, lr_schedule=self.lr_schedule,
                lr_drop=self.lr_drop)
        with torch.no_grad():
            member.val_r = {d.name: r.numpy() for d, r in zip(data, validation_r())}

    def _finish(self, data: list) -> None:
        """Ensemble weights, response scales and the ensemble's validation r per subject."""
        self.ensemble_weights_, self.response_mean_, self.response_scale_, self.validation_r_ = {}, {}, {}, {}
        for d in data:
            r = np.stack([m.val_r[d.name] for m in self.members_])  # (n_members, n_channels)
            self.ensemble_weights_[d.name] = ensemble_weights(r, self.ensemble_weighting, self.ensemble_temperature)
            self.response_mean_[d.name], self.response_scale_[d.name] = d.y_mean, d.y_scale
            standardized = self._predict_standardized([layer[d.val_idx] for layer in d.layers], d.name)
            self.validation_r_[d.name] = columnwise_r(torch.from_numpy(d.Y[d.val_idx]),
                                                      torch.from_numpy(standardized)).numpy()
            undefined = int(np.isnan(self.validation_r_[d.name]).sum())
            if undefined:
                warnings.warn(f"subject {d.name!r}: validation r undefined (NaN) for {undefined} of "
                              f"{len(self.validation_r_[d.name])} channels (no variance on the validation "
                              f"stimuli or a constant prediction)", stacklevel=3)

    # -- features ------------------------------------------------------------
    def _features(self, X, grid, where: str, fitting: bool = False) -> list:
        """Token arrays, one per feature layer, checked against the fitted layers."""
        if looks_like_images(X):
            if isinstance(self.backbone, str) and getattr(self, "_backbone_instance", None) is None:
                self._backbone_instance = resolve_backbone(self.backbone)  # a registered name: create it once
            backbone = resolve_backbone(getattr(self, "_backbone_instance", None) or self.backbone)
            X = backbone.extract(X, layers=list(self.layers or backbone.layers), progress=self.progress)
        layers = as_token_layers(X, grid, where)
        if fitting:
            self.layer_names_ = [name for name, _, _ in layers]
            self.grids_ = [g for _, _, g in layers]
            self.n_features_ = [tokens.shape[2] for _, tokens, _ in layers]
        else:
            expected = list(zip(self.grids_, self.n_features_))
            found = [(g, tokens.shape[2]) for _, tokens, g in layers]
            if found != expected:
                raise ShapeError(format_problem(where, f"{len(expected)} layer(s) with (grid, C) = {expected}",
                                                f"{found}", "pass the same feature layers the model was fitted on"))
        return [tokens for _, tokens, _ in layers]

    # -- prediction ----------------------------------------------------------
    def _forward(self, network: RoutingNetwork, tokens: np.ndarray, subject: str) -> torch.Tensor:
        batch = 4 * self.batch_size
        with torch.no_grad():
            network.eval()
            return torch.cat([network(torch.from_numpy(tokens[i:i + batch]), subject)
                              for i in range(0, len(tokens), batch)])

    def _predict_standardized(self, layers: list, subject: str) -> np.ndarray:
        weights = self.ensemble_weights_[subject]
        total = 0.0
        for member, member_weights in zip(self.members_, weights):
            total = total + self._forward(member.network, layers[member.layer], subject).numpy() * member_weights
        return np.asarray(total, dtype=np.float32)

    def _subject(self, subject) -> str:
        if subject is None:
            if len(self.subjects_) > 1:
                raise ConfigError(format_problem("subject", f"one of {self.subjects_} for a multi-subject model",
                                                 "subject=None", "pass subject=..."))
            return self.subjects_[0]
        if subject not in self.subjects_:
            raise ConfigError(format_problem("subject", f"one of {self.subjects_}", repr(subject),
                                             "use fit_new_subject for a subject the model was not fitted on"))
        return subject

    def predict(self, X, grid=None, subject=None) -> np.ndarray:
        """Predicted responses of shape (n_stimuli, n_channels) of ``subject`` (default: the only one)."""
        self._check_fitted("members_")
        subject = self._subject(subject)
        layers = self._features(X, grid, "X")
        standardized = self._predict_standardized(layers, subject)
        return standardized * self.response_scale_[subject] + self.response_mean_[subject]

    def score(self, X, Y, grid=None, subject=None) -> np.ndarray:
        """Per-channel Pearson r of shape (n_channels,); NaN (with a warning) where Y has no variance."""
        return score_prediction(Y, self.predict(X, grid=grid, subject=subject))

    def attention_maps(self, X, grid=None, layer: int = 0, queries=None):
        """Last-layer cross-attention of each query over the feature grid, averaged over heads and runs.

        Parameters
        ----------
        X : features (as in :meth:`predict`) or uint8 images (n, H_img, W_img, 3) / Stimuli with a ``backbone``
        grid : (H, W), optional
        layer : int
            Which feature layer's members to use.
        queries : list of str, optional
            Names (from ``query_names_``) of the queries to return; default: all, in ``query_names_`` order.

        Returns
        -------
        maps : array of shape (n_stimuli, n_queries, H, W), each map summing to 1; for images, maps
            upsampled (bilinear) to the image size (n_stimuli, n_queries, H_img, W_img) and renormalised
            (a list of (n_queries, H_img, W_img) arrays when image sizes differ).
        """
        self._check_fitted("members_")
        return routing_attention_maps(self, X, grid=grid, layer=layer, queries=queries)

    def diagnostics(self, X=None, *, grid=None) -> dict[str, np.ndarray]:
        """``query_names`` (n_queries,) str; with X, ``attention`` float32 (n_stimuli, n_queries, H, W):
        :meth:`attention_maps` of X on the first feature layer (each map sums to 1)."""
        self._check_fitted("members_")
        out = {"query_names": np.asarray(self.query_names_, dtype=str)}
        if X is not None:
            out["attention"] = np.asarray(self.attention_maps(X, grid=grid), dtype=np.float32)
        return out

    def _fitted_state(self) -> tuple[dict, dict]:
        self._check_fitted("members_")
        return routing_state(self)

    def _restore_fitted_state(self, arrays: dict, facts: dict) -> None:
        restore_routing_state(self, arrays, facts)
