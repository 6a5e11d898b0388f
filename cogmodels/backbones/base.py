"""The feature API shared by every backbone."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np


@dataclass
class FeatureMap:
    """Features of one layer for n stimuli.

    Attributes
    ----------
    values : float32 array
        ``(n_stimuli, C, H, W)`` for spatial maps, ``(n_stimuli, H*W, C)`` for
        token grids, ``(n_stimuli, C)`` for pooled vectors.
    kind : "spatial", "tokens" or "vector"
    grid : (H, W) or None
        Spatial grid of spatial maps and token grids.
    """

    values: np.ndarray
    kind: str
    grid: tuple[int, int] | None = None

    def __post_init__(self):
        expected = {"spatial": 4, "tokens": 3, "vector": 2}[self.kind]
        if self.values.ndim != expected:
            raise ValueError(f"FeatureMap({self.kind}): expected rank {expected}, found shape {self.values.shape}")
        if self.kind == "spatial":
            self.grid = tuple(int(s) for s in self.values.shape[2:])
        elif self.kind == "tokens" and (self.grid is None or self.grid[0] * self.grid[1] != self.values.shape[1]):
            raise ValueError(f"FeatureMap(tokens): grid {self.grid} does not match {self.values.shape[1]} tokens")

    @property
    def n_stimuli(self) -> int:
        return self.values.shape[0]

    @property
    def n_features(self) -> int:
        """Channels C (per position)."""
        return self.values.shape[1] if self.kind in ("spatial", "vector") else self.values.shape[2]

    def as_tokens(self) -> np.ndarray:
        """Array of shape (n_stimuli, H*W, C)."""
        if self.kind == "tokens":
            return self.values
        if self.kind == "spatial":
            n, c, h, w = self.values.shape
            return self.values.reshape(n, c, h * w).transpose(0, 2, 1)
        raise ValueError("a pooled vector has no token grid")

    def as_spatial(self) -> np.ndarray:
        """Array of shape (n_stimuli, C, H, W)."""
        if self.kind == "spatial":
            return self.values
        if self.kind == "tokens":
            n, _, c = self.values.shape
            return self.values.transpose(0, 2, 1).reshape(n, c, *self.grid)
        raise ValueError("a pooled vector has no spatial grid")

    def flatten(self) -> np.ndarray:
        """Array of shape (n_stimuli, n_features_total), the design matrix of linear encoders."""
        return self.values.reshape(self.values.shape[0], -1)


class Backbone:
    """Base class of backbones: one ``extract_batch`` to implement, the rest is shared.

    Subclasses set ``name``, ``layers`` (the selected layer names),
    ``preprocessing`` (a JSON-able dict) and implement
    :meth:`extract_batch`.  ``architecture`` (a JSON-able dict, optional)
    holds any other setting that changes the features, e.g. the parameters of
    a fixed filter bank.  :meth:`fingerprint` goes into feature-cache keys.
    """

    name: str = "backbone"
    layers: list[str]
    preprocessing: dict
    weights_hash: str = "none"  # content hash of the weights file, or "random-seed<k>", or "fixed"
    architecture: dict | None = None

    def available_layers(self) -> list[str]:
        raise NotImplementedError

    def extract_batch(self, images: list[np.ndarray], layers: list[str]) -> dict[str, FeatureMap]:
        """Features of a batch of uint8 (H, W, 3) images for the given layers."""
        raise NotImplementedError

    def extract(self, stimuli, layers=None, batch_size: int = 16, progress: bool = True) -> dict[str, FeatureMap]:
        """Features of every stimulus.

        Parameters
        ----------
        stimuli : Stimuli or sequence of uint8 arrays of shape (H, W, 3)
        layers : list of str, optional
            Default: ``self.layers``.
        batch_size : int
        progress : bool
            Show a tqdm bar.

        Returns
        -------
        dict of layer name -> FeatureMap with n_stimuli rows, in stimulus order.
        """
        from tqdm.auto import tqdm

        layers = list(layers or self.layers)
        n = len(stimuli)
        if n == 0:
            from cogmodels.errors import DataFormatError, format_problem

            raise DataFormatError(format_problem("stimuli", "at least one stimulus", "none",
                                                 "check the split or filter that selected them"))
        get = stimuli.image if hasattr(stimuli, "image") else (lambda i: stimuli[i])
        chunks: dict[str, list[FeatureMap]] = {layer: [] for layer in layers}
        starts = range(0, n, batch_size)
        for start in tqdm(starts, desc=f"{self.name} features", unit="batch", disable=not progress or n <= batch_size):
            batch = [get(i) for i in range(start, min(start + batch_size, n))]
            for layer, fmap in self.extract_batch(batch, layers).items():
                chunks[layer].append(fmap)
        return {layer: FeatureMap(np.concatenate([c.values for c in parts]).astype(np.float32, copy=False),
                                  parts[0].kind, parts[0].grid)
                for layer, parts in chunks.items()}

    def fingerprint(self, layer: str) -> str:
        """Hash of everything that determines the features of ``layer`` (not the stimuli)."""
        spec = {"backbone": self.name, "weights": self.weights_hash, "layer": layer,
                "preprocessing": self.preprocessing}
        if self.architecture:  # only when set, so keys of backbones without one are unchanged
            spec["architecture"] = self.architecture
        return hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def weights_statement(backbone: Backbone) -> str:
    """How the backbone's weights were obtained, in words, for the results (e.g. "random init, seed 0")."""
    weights = str(backbone.weights_hash)
    if weights == "fixed":
        return "fixed filters (no learned weights)"
    if weights.startswith("random-seed"):
        return f"random init, seed {weights[len('random-seed'):]}"
    return f"weights file sha256 {weights}"
