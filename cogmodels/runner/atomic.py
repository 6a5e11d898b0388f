"""Atomic writes: build under a temporary name in the same folder, then ``os.replace``.

Temporary names carry the host and process id of their writer
(``.tmp-<name>@<host>@<pid>@<token>``), so a later process can tell the
leftovers of a killed writer from the work in progress of a live one and
remove only the former.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import uuid
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"


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


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_bytes(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` ``array`` to ``path`` atomically."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
