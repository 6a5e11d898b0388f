"""Feature cache: backbone features memory-mapped from disk, keyed by content.

Each cached layer is two files in the cache folder::

    <key>.npy    the FeatureMap values (np.save; read back with mmap_mode="r")
    <key>.json   sidecar: kind, grid, shape, dtype and the key spec

The key is a content hash of ``backbone.fingerprint(layer)`` (backbone name,
weights hash, layer, preprocessing), ``stimuli.fingerprint()`` (stimulus ids
and content hashes) and :func:`implementation_hash` (the source of the
backbone's classes and the torch/timm versions), so every head and every run
that needs the same features shares them, and any change of weights,
preprocessing, images or feature code misses.  Both
files are written atomically, the sidecar last: a sidecar on disk means its
array is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np

from cogmodels.backbones.base import FeatureMap
from cogmodels.errors import ConfigError, format_problem
from cogmodels.runner import atomic

log = logging.getLogger(__name__)


def implementation_hash(backbone) -> str:
    """Hash of the code that computes the features (40 hex digits).

    Covers the source files of every class in ``type(backbone).__mro__`` (so an
    edit of the filter bank or of the timm wrapper invalidates old features even
    when the backbone's fingerprint does not change) and the versions of torch
    and timm when they are imported.
    """
    digest = hashlib.sha1()
    modules = dict.fromkeys(cls.__module__ for cls in type(backbone).__mro__ if cls is not object)
    for name in modules:
        source = getattr(sys.modules.get(name), "__file__", None)
        if source and Path(source).is_file():
            digest.update(Path(source).read_bytes())
    for package in ("torch", "timm"):
        if package in sys.modules:
            digest.update(f"{package}=={getattr(sys.modules[package], '__version__', '?')}".encode())
    return digest.hexdigest()


def feature_key(backbone, layer: str, stimuli) -> str:
    """Cache key of the features of ``layer`` of ``backbone`` for ``stimuli`` (40 hex digits)."""
    if not hasattr(stimuli, "fingerprint"):
        raise ConfigError(format_problem("FeatureCache stimuli", "a cogmodels.data.Stimuli (it has a fingerprint)",
                                         type(stimuli).__name__, "wrap images with Stimuli.from_arrays(ids, images)"))
    text = f"{backbone.fingerprint(layer)}\n{stimuli.fingerprint()}\n{implementation_hash(backbone)}"
    return hashlib.sha1(text.encode()).hexdigest()


class FeatureCache:
    """Extract features once, then memory-map them from ``root``.

    Parameters
    ----------
    root : path
        Cache folder (created when needed); ``${output_root}/feature_cache`` in runs.

    Attributes
    ----------
    hits, misses : int
        Layers served from disk and layers extracted, since creation.
    """

    def __init__(self, root):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.npy", self.root / f"{key}.json"

    def load(self, key: str) -> FeatureMap | None:
        """The cached FeatureMap of ``key`` (memory-mapped), or None when absent or unreadable."""
        array_path, sidecar_path = self._paths(key)
        if not sidecar_path.is_file():
            return None
        try:
            spec = json.loads(sidecar_path.read_text())
            values = np.load(array_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            log.warning("feature cache entry %s is unreadable (%s); extracting again", key[:12], err)
            return None
        if list(values.shape) != spec["shape"] or str(values.dtype) != spec["dtype"]:
            log.warning("feature cache entry %s has shape %s %s but its sidecar says %s %s; extracting again",
                        key[:12], values.shape, values.dtype, spec["shape"], spec["dtype"])
            return None
        grid = None if spec["grid"] is None else tuple(spec["grid"])
        return FeatureMap(values, spec["kind"], grid)

    def save(self, key: str, fmap: FeatureMap, spec: dict) -> FeatureMap:
        """Write ``fmap`` under ``key`` (array first, then the sidecar); returns the memory-mapped copy."""
        self.root.mkdir(parents=True, exist_ok=True)
        atomic.remove_stale_temps(self.root)
        array_path, sidecar_path = self._paths(key)
        values = np.ascontiguousarray(fmap.values, dtype=np.float32)
        atomic.save_npy(array_path, values)
        sidecar = {**spec, "key": key, "kind": fmap.kind, "grid": None if fmap.grid is None else list(fmap.grid),
                   "shape": list(values.shape), "dtype": str(values.dtype)}
        atomic.write_json(sidecar_path, sidecar)
        return self.load(key)

    def features(self, backbone, stimuli, layers=None, batch_size: int = 16,
                 progress: bool = True) -> dict[str, FeatureMap]:
        """Features of ``stimuli``, from the cache where present, extracted (one pass) otherwise.

        Parameters
        ----------
        backbone : cogmodels.backbones.base.Backbone
        stimuli : cogmodels.data.Stimuli
        layers : list of str, optional
            Default: ``backbone.layers``.
        batch_size : int
        progress : bool
            Show the extraction progress bar.

        Returns
        -------
        dict of layer -> FeatureMap whose values are read-only memory maps of shape
        (n_stimuli, C, H, W), (n_stimuli, H*W, C) or (n_stimuli, C).
        """
        layers = list(layers or backbone.layers)
        keys = {layer: feature_key(backbone, layer, stimuli) for layer in layers}
        found = {layer: self.load(key) for layer, key in keys.items()}
        for layer, fmap in found.items():
            if fmap is not None:
                self.hits += 1
                log.info("feature cache hit for %s/%s (key %s): no backbone forward pass", backbone.name, layer,
                         keys[layer][:12])
        missing = [layer for layer, fmap in found.items() if fmap is None]
        if missing:
            self.misses += len(missing)
            log.info("feature cache miss for %s/%s: extracting %d stimuli", backbone.name, ",".join(missing),
                     len(stimuli))
            extracted = backbone.extract(stimuli, missing, batch_size=batch_size, progress=progress)
            for layer in missing:
                spec = {"backbone": backbone.name, "layer": layer, "n_stimuli": len(stimuli),
                        "backbone_fingerprint": backbone.fingerprint(layer),
                        "implementation": implementation_hash(backbone),
                        "stimuli_fingerprint": stimuli.fingerprint()}
                found[layer] = self.save(keys[layer], extracted[layer], spec)
                log.info("feature cache stored %s/%s (key %s): shape %s, %.1f MB in %s", backbone.name, layer,
                         keys[layer][:12], found[layer].values.shape, found[layer].values.nbytes / 1e6, self.root)
        return {layer: found[layer] for layer in layers}
