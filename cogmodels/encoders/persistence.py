"""Save and load fitted encoders as a state dict plus a JSON config: no pickle, checked by sha256.

One encoder is one `safetensors <https://huggingface.co/docs/safetensors>`_ file:

- the tensors are the encoder's fitted arrays (ridge coefficients, network
  ``state_dict`` entries, per-subject scales, ...), plain numbers only;
- the header's metadata holds one JSON config: the registry name of the encoder
  (``"ridge"``, ``"factorized"``, ``"routing"`` or a plugin's name), its class,
  its constructor parameters, the fitted facts that are not arrays (subjects,
  query names, grids, training histories) and the caller's ``metadata``.

Next to it, ``<file>.sha256`` records the file's sha256 (``sha256sum`` format).
Both are written atomically (:func:`cogmodels.io.write_bytes`), the checksum last.
:func:`load_encoder` hashes the file before it parses anything and refuses a
file whose sha256 differs from the expected one (the ``sha256`` argument, else
the recorded ``.sha256``).  Loading never runs code from the file: safetensors
holds numbers and JSON, and the class is looked up by name in the registry.

A model saved with one version of an encoder loads into the same class; a
change of its fitted attributes that breaks the stored state raises a
DataFormatError that says so.
"""

from __future__ import annotations

import json
import logging
import struct
import warnings
from pathlib import Path

import numpy as np

from cogmodels.errors import ConfigError, DataFormatError, RegistryError, format_problem

log = logging.getLogger(__name__)

FORMAT = "cogmodels-encoder/2"
CHECKSUM_SUFFIX = ".sha256"
_METADATA_KEY = "cogmodels"
_MAX_HEADER = 100 * 2 ** 20  # a safetensors header larger than this is not one


def checksum_path(path) -> Path:
    """Where the sha256 of the encoder file ``path`` is recorded: ``<path>.sha256``."""
    path = Path(path)
    return path.with_name(path.name + CHECKSUM_SUFFIX)


# -- saving ---------------------------------------------------------------------------
def save_encoder(encoder, path, *, metadata: dict | None = None) -> str:
    """Write a fitted encoder to ``path`` (safetensors) and its sha256 to ``<path>.sha256``, atomically.

    Parameters
    ----------
    encoder : BaseEncoder
        A fitted encoder of a registered class.
    path : str or Path
        The file to write (conventionally ``*.safetensors``); its folder is created.
    metadata : dict, optional
        JSON-serialisable facts stored with the model (e.g. the runner's training spec);
        :func:`read_encoder_config` and ``load_encoder(..., return_metadata=True)`` give them back.

    Returns
    -------
    sha256 : str
        Hex digest of the bytes written to ``path``.
    """
    from safetensors.numpy import save as save_tensors

    from cogmodels import io

    arrays, fitted = encoder._fitted_state()
    params, dropped = _params_to_json(encoder)
    config = {"format": FORMAT, "encoder": registry_name(type(encoder)), "class": _qualified(type(encoder)),
              "params": params, "dropped_params": dropped, "fitted": fitted, "metadata": metadata or {},
              "versions": _versions()}
    tensors = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    data = save_tensors(tensors, metadata={_METADATA_KEY: json.dumps(config, default=str)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    io.remove_stale_temps(path.parent)
    io.write_bytes(path, data)
    digest = io.sha256_bytes(data)
    io.write_bytes(checksum_path(path), f"{digest}  {path.name}\n".encode())  # last: a checksum means complete
    log.info("saved %s encoder to %s (%.1f MB, sha256 %s)", config["encoder"], path, len(data) / 1e6, digest[:12])
    return digest


def registry_name(cls) -> str:
    """The name under which ``cls`` is registered in ``ENCODERS`` (ConfigError when it is not registered)."""
    from cogmodels.encoders import ENCODERS

    for name in ENCODERS.list():
        try:
            if ENCODERS.get(name) is cls:
                return name
        except RegistryError:  # a broken plugin: not ours
            continue
    raise ConfigError(format_problem(f"encoder class {_qualified(cls)}", "a class registered in "
                                     "cogmodels.encoders.ENCODERS", "an unregistered class",
                                     "register it with @ENCODERS.register(name) where it is defined"))


def _qualified(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _params_to_json(encoder) -> tuple[dict, dict]:
    """Constructor parameters as JSON values; parameters that are objects (a Backbone) are dropped (listed)."""
    params, dropped = {}, {}
    for name, value in encoder.get_params().items():
        try:
            params[name] = _plain(value)
        except TypeError:
            if name != "backbone":
                raise ConfigError(format_problem(f"encoder.{name}", "a JSON value (number, string, list, dict) "
                                                 "to save the encoder", f"a {type(value).__name__}",
                                                 f"pass {name} as plain values")) from None
            params[name] = None  # a Backbone object: its name and settings live in the run config
            dropped[name] = repr(value)
            log.warning("save_encoder: the backbone object %r is not saved; pass backbone=... again after "
                        "loading if the encoder must compute features from images", value)
    return params, dropped


def _plain(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise TypeError(type(value).__name__)


def _versions() -> dict:
    import torch

    try:
        from importlib.metadata import version

        cogmodels_version = version("cogmodels")
    except Exception:  # not installed as a distribution (a source checkout)
        cogmodels_version = "unknown"
    return {"cogmodels": cogmodels_version, "numpy": np.__version__, "torch": torch.__version__}


# -- loading --------------------------------------------------------------------------
def load_encoder(path, sha256: str | None = None, *, return_metadata: bool = False):
    """Load an encoder written by :func:`save_encoder`, after checking its sha256.

    Parameters
    ----------
    path : str or Path
    sha256 : str, optional
        The expected sha256 of the file (e.g. the one a run recorded).  Default:
        the one recorded in ``<path>.sha256``; with neither, the file is loaded
        with a warning that its integrity was not checked.
    return_metadata : bool
        Also return the ``metadata`` given to :func:`save_encoder`.

    Returns
    -------
    encoder : BaseEncoder, fitted (or ``(encoder, metadata)``)

    Raises
    ------
    DataFormatError
        The file is missing, its sha256 differs from the expected one, or it is not
        an encoder file (garbage, a bare state dict, another format); the message
        names the file, what was expected, what was found and the fix.
    """
    from safetensors.numpy import load as load_tensors

    path = Path(path)
    data = _verified_bytes(path, sha256)
    config = _config_of(data, path)
    cls = _encoder_class(config, path)
    try:
        arrays = load_tensors(data)
    except Exception as err:  # safetensors raises its own SafetensorError
        raise DataFormatError(format_problem(str(path), "the arrays of a safetensors encoder file",
                                             f"an unreadable body ({type(err).__name__}: {err})",
                                             "save the encoder again (its file is damaged)")) from None
    try:
        encoder = cls(**config["params"])
        encoder.validate_params()
        encoder._restore_fitted_state(arrays, config["fitted"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise DataFormatError(format_problem(
            str(path), f"a state that fits {config['class']} of this version of cogmodels "
            f"(saved with {config.get('versions', {})})", f"{type(err).__name__}: {err}",
            "fit and save the encoder again with this version")) from None
    if config.get("dropped_params"):
        log.warning("%s: parameters %s were not saved (objects); set them again if needed", path,
                    sorted(config["dropped_params"]))
    log.info("loaded %s encoder from %s", config["encoder"], path)
    return (encoder, dict(config.get("metadata") or {})) if return_metadata else encoder


def read_encoder_config(path, sha256: str | None = None) -> dict:
    """The JSON config of an encoder file (encoder name, class, params, fitted facts, metadata), sha256-checked."""
    path = Path(path)
    return _config_of(_verified_bytes(path, sha256), path)


def _verified_bytes(path: Path, sha256: str | None) -> bytes:
    from cogmodels import io

    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "an encoder file written by save_encoder",
                                             "no such file", "pass the path of a saved encoder (.safetensors)"))
    data = path.read_bytes()
    expected, source = sha256, "the expected sha256"
    record = checksum_path(path)
    if expected is None and record.is_file():
        words = record.read_text(errors="replace").split()
        expected, source = (words[0] if words else "(an empty record)"), f"recorded in {record.name}"
    if expected is None:
        warnings.warn(f"{path}: no sha256 recorded ({record.name} is missing) and none given; loading "
                      f"without an integrity check", UserWarning, stacklevel=3)
        return data
    found = io.sha256_bytes(data)
    if found != str(expected).strip().lower():
        raise DataFormatError(format_problem(
            str(path), f"content with sha256 {expected} ({source})", f"sha256 {found} ({len(data)} bytes)",
            "the file changed after it was saved: save or train the model again, or pass the file the "
            "checksum belongs to (nothing was loaded)"))
    return data


def _config_of(data: bytes, path: Path) -> dict:
    """The cogmodels config in the safetensors header of ``data`` (DataFormatError when it is not one)."""
    def garbage(found: str) -> DataFormatError:
        return DataFormatError(format_problem(str(path), f"a safetensors encoder file ({FORMAT}) written by "
                                              "cogmodels.encoders.save_encoder", found,
                                              "pass a file written by save_encoder (a run's models/*.safetensors)"))

    if len(data) < 8:
        raise garbage(f"{len(data)} bytes")
    (size,) = struct.unpack("<Q", data[:8])
    if size > min(_MAX_HEADER, len(data) - 8):
        raise garbage(f"no safetensors header (the first bytes are {data[:8]!r})")
    try:
        header = json.loads(data[8:8 + size])
        config = json.loads(header["__metadata__"][_METADATA_KEY])
    except (ValueError, UnicodeDecodeError):
        raise garbage("a header that is not JSON") from None
    except (KeyError, TypeError):
        raise garbage("a safetensors file without a cogmodels encoder config (a bare state dict?)") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise garbage(f"format {found!r}")
    return config


def _encoder_class(config: dict, path: Path):
    from cogmodels.encoders import ENCODERS
    from cogmodels.encoders.base import BaseEncoder

    name = config.get("encoder")
    try:
        cls = ENCODERS.get(str(name))
    except RegistryError as err:
        raise DataFormatError(format_problem(str(path), "an encoder registered in this installation",
                                             f"encoder {name!r} ({err})",
                                             "install the package that provides it")) from None
    if not (isinstance(cls, type) and issubclass(cls, BaseEncoder)):
        raise DataFormatError(format_problem(str(path), "an encoder class (a BaseEncoder)",
                                             f"{name!r} -> {cls!r}", "register the encoder class itself"))
    if _qualified(cls) != config.get("class"):
        log.warning("%s: saved from %s, loading into %s (registered as %r)", path, config.get("class"),
                    _qualified(cls), name)
    return cls
