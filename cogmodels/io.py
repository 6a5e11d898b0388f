"""Low-level file handling shared by datasets, encoders and the runner: atomic writes, content hashing,
and a checked store of arrays on disk.

Atomic writes build a file under a temporary name in the same folder, then
``os.replace`` it into place, so a reader sees the whole file or none.
Temporary names carry the host and process id of their writer
(``.tmp-<name>@<host>@<pid>@<token>``), so a later process can tell the
leftovers of a killed writer from the work in progress of a live one and
remove only the former.

Content hashing: :func:`sha256_file`, :func:`sha256_bytes`, :func:`sha256_array`
(hex digests) and :func:`source_hash` (the code that computes something).

Checked reads: :func:`load_npy_checked` and :func:`load_npz_checked` return
None, with a :class:`CacheWarning` naming the file and what was wrong, when a
cache file is missing, empty, truncated or does not match its recorded sha256,
so the caller rebuilds it instead of failing or using damaged numbers.

Nothing here imports the rest of cogmodels except :mod:`cogmodels.errors`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import sys
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np

from cogmodels.errors import ConfigError, format_problem

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20


class CacheWarning(UserWarning):
    """A cache file was damaged or stale and is rebuilt."""


# -- atomic writes -------------------------------------------------------------------------
def temp_path(final: Path) -> Path:
    """A fresh temporary path next to ``final`` (same folder, so ``os.replace`` is atomic)."""
    final = Path(final)
    token = uuid.uuid4().hex[:8]
    return final.with_name(f"{TEMP_PREFIX}{final.name}@{socket.gethostname()}@{os.getpid()}@{token}")


def _writer_is_dead(path: Path) -> bool:
    """True when ``path`` is a temporary of a process of this host that no longer runs."""
    parts = path.name[len(TEMP_PREFIX):].split("@")
    if len(parts) != 4 or parts[1] != socket.gethostname():
        return False  # another host's writer: we cannot tell, leave it
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def remove_stale_temps(folder: Path) -> int:
    """Remove temporaries left in ``folder`` by killed writers of this host; returns how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob(f"{TEMP_PREFIX}*"):
        if _writer_is_dead(path):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d temporary file(s)/folder(s) left by killed runs in %s", removed, folder)
    return removed


def _write_atomically(path: Path, write, digest: bool = False) -> str | None:
    """Call ``write(handle)`` on a temporary file beside ``path``, fsync it and move it onto ``path``.

    Returns the written file's sha256 when ``digest`` (hashed before the move), else None.
    The temporary file is removed if anything fails.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        found = sha256_file(tmp) if digest else None
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return found


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    _write_atomically(path, lambda handle: handle.write(data))


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def save_npy(path: Path, array: np.ndarray) -> str:
    """``np.save`` ``array`` to ``path`` atomically; returns the file's sha256."""
    return _write_atomically(path, lambda handle: np.save(handle, array, allow_pickle=False), digest=True)


def replace_dir(tmp_dir: Path, final: Path) -> None:
    """Move the finished folder ``tmp_dir`` to ``final``, replacing an existing ``final``.

    POSIX cannot rename a folder onto a non-empty one, so an existing ``final``
    is first renamed aside (to a temporary name) and deleted afterwards.
    """
    final = Path(final)
    old = None
    if final.exists():
        old = temp_path(final)
        os.replace(final, old)
    try:
        os.replace(tmp_dir, final)
    except OSError:
        if old is not None:
            os.replace(old, final)  # put the previous folder back: a temp name would be swept as stale
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_npz(path: Path, arrays: dict) -> str:
    """``np.savez`` ``arrays`` to ``path`` atomically; returns the file's sha256."""
    return _write_atomically(path, lambda handle: np.savez(handle, **arrays), digest=True)


# -- content hashing -----------------------------------------------------------------------
def sha256_bytes(data: bytes) -> str:
    """sha256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    """sha256 hex digest of the content of the file at ``path`` (read in 1 MB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_array(array) -> str:
    """sha256 hex digest of an array's dtype, shape and values (C order)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(memoryview(array.reshape(-1)).cast("B") if array.size else b"")
    return digest.hexdigest()


def source_hash(obj, packages=("torch", "timm")) -> str:
    """Hash of the code behind ``obj`` (40 hex digits).

    Covers the source files of every class in ``type(obj).__mro__`` (so an edit of
    the class or of a base class changes the hash) and the versions of the
    ``packages`` that are imported.
    """
    digest = hashlib.sha1()
    cls = obj if isinstance(obj, type) else type(obj)
    modules = dict.fromkeys(c.__module__ for c in cls.__mro__ if c is not object)
    for name in modules:
        source = getattr(sys.modules.get(name), "__file__", None)
        if source and Path(source).is_file():
            digest.update(Path(source).read_bytes())
    for package in packages:
        if package in sys.modules:
            digest.update(f"{package}=={getattr(sys.modules[package], '__version__', '?')}".encode())
    return digest.hexdigest()


# -- checked reads of cache files ------------------------------------------------------------
REBUILT = "nothing to do: the entry is rebuilt now"


def _damaged(path: Path, expected: str, found: str, fix: str = REBUILT) -> None:
    message = format_problem(str(path), expected, found, fix)
    warnings.warn(message, CacheWarning, stacklevel=3)
    log.warning(message)


def load_npy_checked(path, sha256: str | None, mmap: bool = True, fix: str = REBUILT):
    """The array stored at ``path`` (memory-mapped when ``mmap``), or None (with a CacheWarning) when it is
    missing, empty, unreadable or when its sha256 differs from ``sha256`` (None: no recorded checksum,
    which counts as damaged too: the entry predates checksums)."""
    path = Path(path)
    if not path.is_file():
        _damaged(path, "the cached array its sidecar describes", "no such file", fix)
        return None
    if path.stat().st_size == 0:
        _damaged(path, "a .npy array", "an empty file (0 bytes)", fix)
        return None
    if sha256 is None:
        _damaged(path, "a sidecar with the array's sha256", "an entry without a checksum (older version)", fix)
        return None
    found = sha256_file(path)
    if found != sha256:
        _damaged(path, f"sha256 {sha256[:16]}... (recorded when it was written)",
                 f"sha256 {found[:16]}... (the file changed on disk)", fix)
        return None
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        _damaged(path, "a .npy array", f"an unreadable file ({type(err).__name__}: {err})", fix)
        return None


def load_npz_checked(path, sha256: str | None = None, fix: str = REBUILT) -> dict | None:
    """All arrays of the ``.npz`` at ``path``, read eagerly, or None (with a CacheWarning) when it is missing,
    truncated, fails a member CRC, or differs from ``sha256`` (when given)."""
    path = Path(path)
    if not path.is_file():
        return None
    if sha256 is not None and sha256_file(path) != sha256:
        _damaged(path, f"sha256 {sha256[:16]}...", "other content (the file changed on disk)", fix)
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        _damaged(path, "a complete .npz archive", f"a damaged file ({type(err).__name__}: {err})", fix)
        return None


# -- the feature cache -----------------------------------------------------------------------
def implementation_hash(backbone) -> str:
    """Hash of the code that computes the features (40 hex digits): :func:`source_hash` of the backbone
    (every class of its MRO) and the torch/timm versions."""
    return source_hash(backbone, packages=("torch", "timm"))


def feature_key(backbone, layer: str, stimuli) -> str:
    """Cache key of the features of ``layer`` of ``backbone`` for ``stimuli`` (40 hex digits)."""
    if not hasattr(stimuli, "fingerprint"):
        raise ConfigError(format_problem("FeatureCache stimuli", "a cogmodels.data.Stimuli (it has a fingerprint)",
                                         type(stimuli).__name__, "wrap images with Stimuli.from_arrays(ids, images)"))
    text = f"{backbone.fingerprint(layer)}\n{stimuli.fingerprint()}\n{implementation_hash(backbone)}"
    return hashlib.sha1(text.encode()).hexdigest()


EXTRACT_AGAIN = "nothing to do: extracting again (the entry is rebuilt)"


class FeatureCache:
    """Extract features once, then memory-map them from ``root``.

    Each cached layer is two files in ``root``: ``<key>.npy`` (the FeatureMap
    values, read back with ``mmap_mode="r"``) and ``<key>.json`` (sidecar: kind,
    grid, shape, dtype, the array file's sha256 and the key spec).  The key is a
    content hash of ``backbone.fingerprint(layer)`` (name, weights hash, layer,
    preprocessing), ``stimuli.fingerprint()`` (ids and content hashes) and
    :func:`implementation_hash`, so every head and every run that needs the same
    features shares them, and any change of weights, preprocessing, images or
    feature code misses.  Both files are written atomically, the sidecar last:
    a sidecar on disk means its array is complete.  A damaged entry (empty or
    truncated file, bytes changed on disk, unreadable sidecar) is extracted
    again with a :class:`CacheWarning`.

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

    def load(self, key: str):
        """The cached FeatureMap of ``key`` (memory-mapped), or None when absent.

        A damaged entry (unreadable sidecar; array missing, empty, truncated, or
        not matching the sha256 its sidecar records) also gives None, with a
        :class:`CacheWarning` naming the file: the caller extracts it again.
        """
        from cogmodels.backbones.base import FeatureMap

        array_path, sidecar_path = self._paths(key)
        if not sidecar_path.is_file():
            return None
        try:
            spec = json.loads(sidecar_path.read_text())
            kind, grid, shape, dtype = spec["kind"], spec["grid"], spec["shape"], spec["dtype"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            _damaged(sidecar_path, "a feature cache sidecar (JSON with kind, grid, shape, dtype, sha256)",
                     f"an unreadable file ({type(err).__name__}: {err})", EXTRACT_AGAIN)
            return None
        values = load_npy_checked(array_path, spec.get("sha256"), fix=EXTRACT_AGAIN)
        if values is None:
            return None
        if list(values.shape) != shape or str(values.dtype) != dtype:
            _damaged(array_path, f"an array of shape {shape} {dtype} (its sidecar)",
                     f"shape {list(values.shape)} {values.dtype}", EXTRACT_AGAIN)
            return None
        return FeatureMap(values, kind, None if grid is None else tuple(grid))

    def save(self, key: str, fmap, spec: dict):
        """Write ``fmap`` under ``key`` (array first, then the sidecar); returns the memory-mapped copy."""
        self.root.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.root)
        array_path, sidecar_path = self._paths(key)
        values = np.ascontiguousarray(fmap.values, dtype=np.float32)
        digest = save_npy(array_path, values)
        sidecar = {**spec, "key": key, "kind": fmap.kind, "grid": None if fmap.grid is None else list(fmap.grid),
                   "shape": list(values.shape), "dtype": str(values.dtype), "sha256": digest}
        write_json(sidecar_path, sidecar)
        return self.load(key)

    def features(self, backbone, stimuli, layers=None, batch_size: int = 16,
                 progress: bool = True) -> dict:
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
