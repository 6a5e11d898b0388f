"""Stimuli: ids plus images, held in memory or loaded lazily from files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cogmodels.data.checks import check_image, check_unique_ids
from cogmodels.errors import DataFormatError, ShapeError, format_problem


@dataclass(frozen=True)
class Stimulus:
    """One stimulus: its id and its image (uint8, shape (H, W, 3))."""

    id: str
    image: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 RGB of shape (H, W, 3)."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(format_problem(str(path), "an image file", "no such file",
                                             "check the dataset root and its layout (see the dataset card)"))
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except OSError as err:
        raise DataFormatError(format_problem(str(path), "a readable image (jpg/png/...)", f"an unreadable file ({err})",
                                             "re-download or re-export the image")) from err


class Stimuli:
    """An ordered set of stimuli with unique ids.

    Build with :meth:`from_arrays` (images in memory) or :meth:`from_paths`
    (images read on access).  Indexing by position or id returns a
    :class:`Stimulus`.

    Parameters
    ----------
    ids : sequence of str, length n_stimuli
    images : sequence of uint8 arrays of shape (H, W, 3), optional
    paths : sequence of paths, optional
        Exactly one of ``images`` and ``paths`` is given.
    """

    def __init__(self, ids: Sequence, images: Sequence[np.ndarray] | None = None,
                 paths: Sequence[str | os.PathLike] | None = None):
        self.ids = check_unique_ids(ids, "Stimuli.ids")
        if (images is None) == (paths is None):
            raise ValueError("Stimuli needs exactly one of `images` or `paths`")
        source = images if images is not None else paths
        if len(source) != len(self.ids):
            which = "images" if images is not None else "paths"
            raise ShapeError(format_problem(f"Stimuli.{which}", f"{len(self.ids)} entries (one per id)",
                                            f"{len(source)}", "pass one image per id"))
        if images is not None:
            self._images = [check_image(img, f"Stimuli.images[{i}] (id {self.ids[i]!r})") for i, img in enumerate(images)]
            self._paths = None
        else:
            self._images = None
            self._paths = [Path(p) for p in paths]
        self._index = {sid: i for i, sid in enumerate(self.ids)}
        self._hashes: list[str] | None = None

    @classmethod
    def from_arrays(cls, ids: Sequence, images: Sequence[np.ndarray]) -> "Stimuli":
        return cls(ids, images=images)

    @classmethod
    def from_paths(cls, ids: Sequence, paths: Sequence[str | os.PathLike]) -> "Stimuli":
        return cls(ids, paths=paths)

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, key: int | str) -> Stimulus:
        i = self.position(key) if isinstance(key, str) else int(key)
        return Stimulus(self.ids[i], self.image(i))

    def __repr__(self) -> str:
        where = "in memory" if self._images is not None else "from files"
        return f"Stimuli(n_stimuli={len(self)}, {where})"

    def position(self, stimulus_id: str) -> int:
        """Row index of ``stimulus_id``."""
        try:
            return self._index[str(stimulus_id)]
        except KeyError:
            raise DataFormatError(format_problem("stimulus_id", "an id of these stimuli", repr(stimulus_id),
                                                 "check the id; Stimuli.ids lists them")) from None

    def image(self, i: int) -> np.ndarray:
        """The i-th image, uint8 of shape (H, W, 3)."""
        if self._images is not None:
            return self._images[i]
        return check_image(load_image(self._paths[i]), str(self._paths[i]))

    @property
    def paths(self) -> list[Path] | None:
        return None if self._paths is None else list(self._paths)

    def subset(self, keys: Sequence[int | str]) -> "Stimuli":
        """A new Stimuli with the given positions or ids, in that order."""
        rows = [self.position(k) if isinstance(k, str) else int(k) for k in keys]
        ids = [self.ids[r] for r in rows]
        if self._images is not None:
            return Stimuli(ids, images=[self._images[r] for r in rows])
        return Stimuli(ids, paths=[self._paths[r] for r in rows])

    def content_hashes(self) -> list[str]:
        """SHA-1 of each stimulus's content (file bytes, or array bytes and shape)."""
        if self._hashes is None:
            hashes = []
            for i in range(len(self)):
                h = hashlib.sha1()
                if self._paths is not None:
                    h.update(self._paths[i].read_bytes())
                else:
                    h.update(str(self._images[i].shape).encode())
                    h.update(np.ascontiguousarray(self._images[i]).tobytes())
                hashes.append(h.hexdigest())
            self._hashes = hashes
        return list(self._hashes)

    def fingerprint(self) -> str:
        """One hash over the ids and contents, in order (for cache keys)."""
        h = hashlib.sha1()
        for sid, ch in zip(self.ids, self.content_hashes()):
            h.update(f"{sid}\0{ch}\n".encode())
        return h.hexdigest()
