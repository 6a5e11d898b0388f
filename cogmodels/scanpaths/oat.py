"""OAT: the object-level attention transformer for scanpaths (Fang et al., ECCV 2024), written from the paper.

The model predicts a scanpath as a sequence of fixated **objects**.  Its
encoder sees one token per object (backbone embedding of the object crop
concatenated with a 2D position encoding) plus a target token; its decoder
sees the objects fixated so far (embedding, position and order encoding) and
scores every object plus "stop" with multi-head cross-attention; training is
cross-entropy on the next fixated object (network:
:mod:`cogmodels.scanpaths.oat_network`).

Objects (:mod:`cogmodels.scanpaths.oat_objects`): annotated boxes passed as
``objects=`` to ``fit``/``sample``, or grid-cell proposals (``proposals="grid"``,
the default: OSIE and other free-viewing images have no object annotations).

Sampling.  ``sample(stimulus, n, task, seed)`` draws ``n`` object sequences
from the decoder's softmax (``temperature``), step by step, until "stop" or
``max_length``.  Each fixation's position is drawn inside its object box from
the training fixations' positions within their boxes (box units), and its
duration (ms) from the training set's fixation durations (i.i.d.; the paper
predicts objects only).  ``density(stimulus)`` is the Gaussian-smoothed
histogram of ``density_samples`` sampled scanpaths' fixations (seeded by
``seed``), mixed with 1 % uniform.

Training (:mod:`cogmodels.scanpaths.oat_training`).  Batches are made of whole
displays, so the encoder runs once per display and target, not once per
scanpath; ``validation_fraction`` of the training images are held out, and
the weights of the epoch with the best held-out log-likelihood are kept
(early stopping after ``patience`` epochs without improvement; our addition:
the paper does not describe its stopping rule).

Budget.  ``budget`` ("tiny" 0.05, "small" 0.25, "default" 1, "large" 3, or a
positive number) multiplies the training epochs and the number of scanpaths
behind ``density``: it scales fit and density time together.

Checkpoints.  With ``checkpoint_dir``, every epoch writes ``state.pt``
(network and optimiser state dicts, epoch, loss histories, the best held-out
epoch and its weights, fitted pools; read back with
``torch.load(weights_only=True)``) and ``config.json`` (parameters and a
fingerprint of the training data).  A later ``fit`` with the same parameters
and data resumes after the last saved epoch; the epoch order is seeded by
(seed, epoch), so a resumed fit ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from cogmodels.data import Scanpath
from cogmodels.errors import ConfigError, format_problem
from cogmodels.scanpaths import SCANPATH_MODELS
from cogmodels.scanpaths._threads import torch_threads
from cogmodels.scanpaths.base import ScanpathModel, as_stimulus
from cogmodels.scanpaths.oat_checkpoint import load_checkpoint, resume_checkpoint, save_checkpoint
from cogmodels.scanpaths.oat_data import objects_of, parse_task, prepare, target_features
from cogmodels.scanpaths.oat_network import OATNetwork, fit_error_of
from cogmodels.scanpaths.oat_objects import OFF_OBJECT_POLICIES, ObjectEmbedder, check_grid
from cogmodels.scanpaths.oat_training import batch_logits, n_epochs, train, training_tensors

log = logging.getLogger(__name__)
BUDGETS = {"tiny": 0.05, "small": 0.25, "default": 1.0, "large": 3.0}


@SCANPATH_MODELS.register("oat", example={"budget": "tiny", "grid": (3, 4), "pe_grid": (3, 4), "d_model": 32,
                                          "d_position": 8, "density_samples": 20, "progress": False})
class OATModel(ScanpathModel):
    """Object-level attention transformer (OAT, ECCV 2024): scanpaths as sequences of fixated objects.

    Parameters
    ----------
    proposals : {"grid"}
        Object tokens of images without annotated boxes: grid cells (see :mod:`oat_objects`).
        Annotated boxes are passed as ``objects=`` to ``fit`` and ``sample``.
    grid : (n_rows, n_cols)
        Proposal grid (default 8 x 12).
    off_object : {"nearest", "background", "raise"}
        Fixations on no object box: nearest object, a learned background token, or an error (counted in
        ``n_off_object_``, with a warning).
    min_target_iou : float
        IoU needed to match a trial's target box to an object.
    backbone, backbone_options, crop_size : str, dict, int
        Object-crop embeddings (:class:`~cogmodels.scanpaths.oat_objects.ObjectEmbedder`); default the fixed
        ``gabor`` bank (no weights) plus crop colour statistics.
    position_encoding : {"learned", "sinusoidal"}
    pe_grid, pe_sigma : (int, int), float
        Grid and Gaussian width (cells) of the learned position encoding.
    d_model, d_position, n_heads, n_encoder_layers, n_decoder_layers, dim_feedforward, dropout
        Network size (:class:`~cogmodels.scanpaths.oat_network.OATNetwork`).
    epochs, min_steps, batch_size, lr, weight_decay : int, int, int, float, float
        AdamW training with a cosine learning-rate decay for at most ``epochs`` passes over the scanpaths, or
        more when that gives fewer than ``min_steps`` optimiser steps (small data sets); both are multiplied
        by the budget.  Batches hold ``batch_size`` scanpaths, grouped by display.
    validation_fraction, patience : float, int
        Fraction of the training images held out for early stopping (0: none, every epoch runs), and the
        epochs without a better held-out log-likelihood after which training stops; the best epoch's
        weights are kept (``best_epoch_``, ``validation_history_``).
    budget : str or float
        "tiny", "small", "default", "large" or a positive factor (see the module docstring).
    target_similarity : bool
        Add each object's cosine similarity to the target embedding to its token and (times a learned gain)
        to its score, and the last fixated object's similarity to the "stop" score (our addition to the
        paper; no effect on free viewing).
    history_bias : bool
        Learned score biases for the object fixated last (refixation) and objects fixated before it
        (revisit; inhibition of return when negative): our addition to the paper
        (:class:`~cogmodels.scanpaths.oat_network.OATNetwork`).
    max_length : int
        Longest scanpath (fixations) learned and sampled; longer training scanpaths are truncated.
    temperature : float
        Softmax temperature of sampling.
    density_samples : int
        Scanpaths behind ``density`` (times the budget).
    density_sigma : float
        Gaussian smoothing of ``density``, in units of the mean object side.
    checkpoint_dir : str, optional
    n_threads : int or None
        Torch CPU threads while fitting and sampling (restored afterwards); None: leave torch's setting.
        The default 1: the network's matrices are small, and on a shared machine extra threads mostly
        wait for each other (measured: 2 epochs on the simulator took 16x longer with 2 threads under load).
    seed : int
    progress : bool
    """

    def __init__(self, proposals: str = "grid", grid=(8, 12), off_object: str = "nearest",
                 min_target_iou: float = 0.5, backbone: str = "gabor", backbone_options: dict | None = None,
                 crop_size: int = 32, position_encoding: str = "learned", pe_grid=(8, 12), pe_sigma: float = 1.0,
                 d_model: int = 64, d_position: int = 16, n_heads: int = 4, n_encoder_layers: int = 2,
                 n_decoder_layers: int = 2, dim_feedforward: int = 128, dropout: float = 0.1, epochs: int = 20,
                 min_steps: int = 1500, batch_size: int = 64, lr: float = 2e-3, weight_decay: float = 0.01,
                 validation_fraction: float = 0.1, patience: int = 3, budget="default",
                 target_similarity: bool = True, history_bias: bool = True, max_length: int = 32,
                 temperature: float = 1.0, density_samples: int = 100,
                 density_sigma: float = 0.5, checkpoint_dir: str | None = None, n_threads: int | None = 1,
                 seed: int = 0, progress: bool = True):
        self.proposals = proposals
        self.grid = grid
        self.off_object = off_object
        self.min_target_iou = min_target_iou
        self.backbone = backbone
        self.backbone_options = backbone_options
        self.crop_size = crop_size
        self.position_encoding = position_encoding
        self.pe_grid = pe_grid
        self.pe_sigma = pe_sigma
        self.d_model = d_model
        self.d_position = d_position
        self.n_heads = n_heads
        self.n_encoder_layers = n_encoder_layers
        self.n_decoder_layers = n_decoder_layers
        self.dim_feedforward = dim_feedforward
        self.dropout = dropout
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.budget = budget
        self.target_similarity = target_similarity
        self.history_bias = history_bias
        self.max_length = max_length
        self.temperature = temperature
        self.density_samples = density_samples
        self.density_sigma = density_sigma
        self.checkpoint_dir = checkpoint_dir
        self.n_threads = n_threads
        self.seed = seed
        self.progress = progress

    # -- parameters -----------------------------------------------------------------------------
    def get_params(self) -> dict:
        """Constructor parameters (JSON-able: grids as lists of ints)."""
        params = super().get_params()
        for name in ("grid", "pe_grid"):
            params[name] = [int(v) for v in params[name]]
        return params

    def budget_factor(self) -> float:
        """The budget as a number."""
        return float(BUDGETS[self.budget]) if isinstance(self.budget, str) else float(self.budget)

    def validate_params(self) -> None:
        """Raise ConfigError (field ``scanpath.<name>``) for a bad constructor parameter; called at compose time."""
        def bad(name, expected, fix):
            raise ConfigError(format_problem(f"scanpath.{name}", expected, repr(getattr(self, name)), fix))

        def is_int(v, low):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low

        if self.proposals != "grid":
            bad("proposals", "'grid' (annotated boxes are passed as objects=...)", "use proposals: grid")
        check_grid(self.grid, "scanpath.grid")
        check_grid(self.pe_grid, "scanpath.pe_grid")
        if self.off_object not in OFF_OBJECT_POLICIES:
            bad("off_object", f"one of {OFF_OBJECT_POLICIES}", "use off_object: nearest")
        if self.position_encoding not in ("learned", "sinusoidal"):
            bad("position_encoding", "'learned' or 'sinusoidal'", "use position_encoding: learned")
        if not (isinstance(self.budget, str) and self.budget in BUDGETS) and not (
                not isinstance(self.budget, (str, bool)) and isinstance(self.budget, (int, float))
                and self.budget > 0):
            bad("budget", f"one of {sorted(BUDGETS)} or a positive number", "use budget: default")
        for name, low in (("d_model", 8), ("d_position", 4), ("n_heads", 1), ("n_encoder_layers", 1),
                          ("n_decoder_layers", 1), ("dim_feedforward", 1), ("epochs", 1), ("min_steps", 0),
                          ("batch_size", 1), ("patience", 0),
                          ("max_length", 2), ("density_samples", 1), ("crop_size", 8), ("seed", 0), ("n_threads", 1)):
            if name == "n_threads" and self.n_threads is None:
                continue
            if not is_int(getattr(self, name), low):
                bad(name, f"an integer >= {low}", f"set {name} to an integer >= {low}")
        if self.d_position % 4 or self.d_position >= self.d_model:
            bad("d_position", f"a multiple of 4 below d_model={self.d_model}", "use e.g. d_position: 16")
        if self.d_model % self.n_heads:
            bad("n_heads", f"a divisor of d_model={self.d_model}", "use e.g. n_heads: 4")
        for name in ("min_target_iou", "dropout", "validation_fraction"):
            if not 0 <= float(getattr(self, name)) < 1:
                bad(name, "a number in [0, 1)", f"set {name} in [0, 1)")
        for name in ("pe_sigma", "lr", "temperature", "density_sigma"):
            if not float(getattr(self, name)) > 0:
                bad(name, "a positive number", f"set {name} > 0")
        if float(self.weight_decay) < 0:
            bad("weight_decay", "a number >= 0", "use weight_decay: 1e-4")

    # -- helpers --------------------------------------------------------------------------------
    def _threads(self):
        """Torch CPU threads set to ``n_threads`` for the duration (see the parameter)."""
        return torch_threads(self.n_threads)

    def _embedder(self) -> ObjectEmbedder:
        if getattr(self, "_embedder_cache", None) is None:
            self._embedder_cache = ObjectEmbedder(self.backbone, self.backbone_options, self.crop_size)
        return self._embedder_cache

    def _network(self, n_features: int) -> OATNetwork:
        torch.manual_seed(int(self.seed))  # seeded initialisation (stated in the results)
        network = OATNetwork(n_features, self.d_model, self.d_position, self.n_heads, self.n_encoder_layers,
                             self.n_decoder_layers, self.dim_feedforward, self.dropout, self.position_encoding,
                             tuple(self.pe_grid), self.pe_sigma, self.max_length, self.off_object == "background",
                             bool(self.target_similarity), bool(self.history_bias))
        if self.position_encoding == "learned":
            network.position.fit(seed=int(self.seed))
        return network

    def _standardise(self, features: np.ndarray) -> np.ndarray:
        return (features - self.feature_mean_) / self.feature_std_

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, fixations, stimuli=None, objects: dict | None = None) -> "OATModel":
        """Learn from a Fixations table and its Stimuli.

        Parameters
        ----------
        fixations : Fixations
            Search trials carry their target box in ``fixations.trials`` (target_x, target_y, target_w,
            target_h, pixels); other trials are free viewing.
        stimuli : Stimuli
        objects : dict of stimulus_id -> array of shape (n_objects, 4), optional
            Annotated object boxes (x0, y0, x1, y1 px); default: grid proposals.
        """
        self.validate_params()
        with self._threads():
            return super().fit(fixations, stimuli, objects=objects)

    def _fit(self, fixations, stimuli, objects=None):
        data = prepare(self, fixations, stimuli, objects)
        self.n_off_object_ = data.n_off
        pooled = np.concatenate(data.features)
        self.feature_mean_ = pooled.mean(0).astype(np.float32)
        self.feature_std_ = (pooled.std(0) + 1e-6).astype(np.float32)
        self.durations_ = data.durations.astype(float)
        self.offsets_ = data.offsets.astype(float)
        lengths = np.array([len(s) for s in data.sequences])
        if (lengths > self.max_length).any():
            log.warning("OAT: %d of %d training scanpaths are longer than max_length=%d and are truncated",
                        int((lengths > self.max_length).sum()), len(lengths), self.max_length)
        self.network_ = self._network(pooled.shape[1])
        self.position_fit_error_ = fit_error_of(self.network_.position)
        self.history_, self.validation_history_ = train(self, data)
        self.network_.eval()

    def n_epochs(self, n_scanpaths: int) -> int:
        """Most epochs of a fit on ``n_scanpaths``: ``epochs``, or enough for ``min_steps`` steps (times the budget)."""
        return n_epochs(self, n_scanpaths)

    def _after_epoch(self, epoch: int) -> None:
        """Hook run after each saved epoch (tests interrupt training here)."""

    # -- checkpoints (cogmodels/scanpaths/oat_checkpoint.py) -----------------------------------
    def _save(self, data, optimiser, schedule, epoch, history, validation, best) -> None:
        save_checkpoint(self, data, optimiser, schedule, epoch, history, validation, best)

    def _resume(self, data, optimiser, schedule) -> tuple[int, list, list, dict | None]:
        return resume_checkpoint(self, data, optimiser, schedule)

    @classmethod
    def from_checkpoint(cls, checkpoint_dir) -> "OATModel":
        """A fitted model from a checkpoint folder (the state of its last saved epoch)."""
        return load_checkpoint(cls, checkpoint_dir)

    # -- sampling -------------------------------------------------------------------------------
    def _display(self, stimulus, task, objects):
        """Object set, standardised features (1, N, F), positions, valid mask, target tensors of one trial."""
        objs = objects_of(stimulus, self, None if objects is None else {stimulus.id: objects})
        raw = self._embedder().embed(stimulus.image, objs)
        index, target = target_features(self, stimulus.image, objs, raw, parse_task(task),
                                         where=f"task of stimulus {stimulus.id!r}")
        feats = torch.from_numpy(self._standardise(raw)[None].astype(np.float32))
        pos = torch.from_numpy(objs.positions[None].astype(np.float32))
        valid = torch.ones(1, len(objs) + (self.off_object == "background"), dtype=torch.bool)
        target_t = None if target is None else torch.from_numpy(self._standardise(target)[None].astype(np.float32))
        return objs, feats, pos, valid, target_t, torch.tensor([target is not None]), index

    def sample_objects(self, stimulus, n: int = 10, task=None, seed=0, objects=None) -> tuple[list, object]:
        """Draw ``n`` object sequences.

        Returns
        -------
        sequences : list of int arrays
            Object index of each fixation (``len(objects)``: the background token).
        objects : ObjectSet
        """
        self._check_fitted()
        with self._threads(), torch.no_grad():
            return self._sample_objects(as_stimulus(stimulus), int(n), task, np.random.default_rng(seed), objects)

    def _sample_objects(self, stimulus, n, task, rng, objects):
        objs, feats, pos, valid, target, has_target, _ = self._display(stimulus, task, objects)
        net = self.network_
        tokens = net.object_tokens(feats, pos, target, has_target)
        similarity = net.object_similarity(feats, target, has_target).expand(n, -1, -1)
        memory = net.encode(tokens, valid, target, has_target).expand(n, -1, -1)
        tokens, valid = tokens.expand(n, -1, -1), valid.expand(n, -1)
        stop = tokens.shape[1]
        previous = torch.zeros(n, 0, dtype=torch.long)
        done = np.zeros(n, bool)
        lengths = np.full(n, self.max_length)
        for step in range(self.max_length):
            logits = net.decode(memory, tokens, valid, previous, similarity)[:, -1] / float(self.temperature)
            if step == 0:
                logits[:, stop] = float("-inf")  # at least one fixation
            probs = torch.softmax(logits.double(), -1).numpy()
            cumulative = probs.cumsum(1)
            choice = np.minimum((cumulative < rng.random((n, 1)) * cumulative[:, -1:]).sum(1), stop)
            ending = (choice == stop) & ~done
            lengths[ending] = step
            done |= ending
            if done.all():
                break
            previous = torch.cat([previous, torch.from_numpy(np.where(done, 0, choice))[:, None]], 1)
        seqs = previous.numpy()
        return [seqs[i, : lengths[i]].copy() for i in range(n)], objs

    def sample(self, stimulus, n: int = 10, task=None, seed=0, objects=None) -> list[Scanpath]:
        """Draw ``n`` scanpaths (x, y in pixels, durations in ms); ``objects``: annotated boxes (n_objects, 4)."""
        self._check_fitted()
        stimulus = as_stimulus(stimulus)
        rng = np.random.default_rng(seed)
        sequences, objs = self.sample_objects(stimulus, n, task, rng, objects)
        label = "search" if parse_task(task).is_search else "free_view"
        return [self._to_scanpath(seq, objs, stimulus, label, rng) for seq in sequences]

    def _sample(self, stimulus, n, task, rng):
        return self.sample(stimulus, n, task, rng)

    def _to_scanpath(self, seq, objs, stimulus, label, rng) -> Scanpath:
        width, height = stimulus.size
        on = seq < len(objs)
        xy = rng.random((len(seq), 2)) * [width, height]  # background fixations: anywhere
        if on.any():
            boxes = objs.boxes[seq[on]]
            offsets = self.offsets_[rng.integers(0, len(self.offsets_), on.sum())] if len(self.offsets_) else 0.5
            xy[on] = boxes[:, :2] + offsets * (boxes[:, 2:] - boxes[:, :2])
        xy = np.clip(xy, 0, np.array([width, height]) - 1e-3)
        duration = rng.choice(self.durations_, size=len(seq))
        return Scanpath.from_arrays(xy[:, 0], xy[:, 1], duration=duration, stimulus_id=stimulus.id, task=label)

    def _density(self, stimulus, task=None, objects=None):
        n = max(1, int(round(self.density_samples * self.budget_factor())))
        paths = self.sample(stimulus, n=n, task=task, seed=int(self.seed), objects=objects)
        width, height = stimulus.size
        xy = np.concatenate([p.xy for p in paths]) if paths else np.zeros((0, 2))
        hist = np.zeros((height, width))
        np.add.at(hist, (np.clip(xy[:, 1].astype(int), 0, height - 1), np.clip(xy[:, 0].astype(int), 0, width - 1)), 1)
        objs = objects_of(stimulus, self, None if objects is None else {stimulus.id: objects})
        side = float(np.sqrt(((objs.boxes[:, 2:] - objs.boxes[:, :2]).prod(1)).mean()))
        density = gaussian_filter(hist, self.density_sigma * side, mode="constant")
        density = density / max(density.sum(), 1e-12)
        return 0.99 * density + 0.01 / density.size

    # -- scoring --------------------------------------------------------------------------------
    def log_likelihood(self, fixations, stimuli, objects: dict | None = None) -> np.ndarray:
        """Mean log-likelihood (nats) per decision (each fixated object and the stop) of each scanpath,
        shape (n_scanpaths,), in the order of ``fixations.to_scanpaths()``."""
        self._check_fitted()
        with self._threads(), torch.no_grad():
            return self._log_likelihood(fixations, stimuli, objects)

    def _log_likelihood(self, fixations, stimuli, objects):
        data = prepare(self, fixations, stimuli, objects)
        t = training_tensors(self, data)
        out = np.zeros(len(t.image))
        order = np.argsort(t.display, kind="stable")
        for b in range(0, len(order), 256):
            rows = order[b: b + 256]
            logits, labels = batch_logits(self.network_, t, rows)
            logp = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0)[..., None])[..., 0]
            keep = labels >= 0
            out[rows] = ((logp * keep).sum(1) / keep.sum(1)).numpy()
        return out
