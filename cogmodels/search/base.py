"""The contract of visual-search models: ``searcher.search(trial, max_fixations=None) -> SearchResult``.

A search model subclasses :class:`SearchModel` (the family's one abstract base):

- ``__init__`` only stores its parameters; ``validate_params()`` checks them
  without data (the runner calls it when the config is composed) and raises a
  ConfigError naming ``search.<param>``; extend it with ``super().validate_params()``;
- ``_prepare(trial) -> state`` does the per-trial work (features of the search
  and target images, anything that does not depend on where the eye is);
- ``_priority(state, fixation) -> (H, W)`` is the priority map over the search
  image given the current fixation (x, y) in pixels.  Models whose map does not
  depend on the fixation set ``fixation_dependent = False`` and it is computed
  once per trial.

The shared loop (:meth:`SearchModel.search`) is winner-take-all with inhibition
of return: the eye starts at the display centre; each step fixates the argmax
of the priority map over the pixels not yet inhibited, stops when the fixation
box (``ior_size`` px square centred on the fixation; default half the
target image's larger side, so that a fixation on a neighbouring item does not
count) overlaps the target's bounding box (``trial.target_box``, as the
original's ``tg_bbox``: fixating the middle of an L finds it, though its
strokes run along the edges), and otherwise inhibits

- ``"object"``: the box of the item the fixation lands in (the original's
  object mask; the square when it lands on background, so the eye cannot get
  stuck there);
- ``"square"``: the ``ior_size`` square around the fixation;
- ``"grid"``: the cell of the display's item grid holding the fixation
  (``trial.meta["grid"]`` cells per side).

The result's ``fixations`` are those after the initial one (``start``).  It
gives up after ``max_fixations`` fixations (then ``found`` is False and
``n_fixations == max_fixations``), or earlier when every pixel is inhibited.
"""

from __future__ import annotations

import numpy as np

from cogmodels.data.search import SearchResult, SearchTrial
from cogmodels.errors import ConfigError, DataFormatError, format_problem

IOR_MODES = ("object", "square", "grid")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class SearchModel:
    """Base of search models (see the module docstring).

    Parameters
    ----------
    max_fixations : int
        Fixation budget per trial (the initial central fixation not counted).
    ior : "object", "square" or "grid"
        Inhibition of return.
    ior_size : int, optional
        Side (px) of the fixation box of the stop rule and of square IOR; default: half the target image's larger
        side.
    """

    fixation_dependent = True
    # How the model's weights were obtained, in words, for the results; models with a network override it.
    weights_statement = "no network weights"

    def __init__(self, max_fixations: int = 80, ior: str = "object", ior_size: int | None = None):
        self.max_fixations = max_fixations
        self.ior = ior
        self.ior_size = ior_size

    # -- parameters ---------------------------------------------------------------------
    def validate_params(self) -> "SearchModel":
        """Check the constructor parameters without data; raise ConfigError naming the parameter."""
        if not _is_int(self.max_fixations) or self.max_fixations < 1:
            raise ConfigError(format_problem("search.max_fixations", "an integer >= 1", repr(self.max_fixations),
                                             "e.g. max_fixations=80"))
        if self.ior not in IOR_MODES:
            raise ConfigError(format_problem("search.ior", f"one of {IOR_MODES}", repr(self.ior),
                                             "use ior=object (the item boxes) or ior=square"))
        if self.ior_size is not None and (not _is_int(self.ior_size) or self.ior_size < 1):
            raise ConfigError(format_problem("search.ior_size", "null or an integer >= 1 (pixels)",
                                             repr(self.ior_size), "use ior_size=null (half the target image's size)"))
        return self

    # -- the search loop ------------------------------------------------------------------
    def search(self, trial: SearchTrial, max_fixations: int | None = None) -> SearchResult:
        """Search one trial (see the module docstring).

        Parameters
        ----------
        trial : SearchTrial
        max_fixations : int, optional
            Overrides the model's budget for this call.

        Returns
        -------
        SearchResult
            ``fixations`` (n_fixations, 2) x, y pixels after the initial fixation, ``start`` the display centre.
        """
        self.validate_params()
        if not isinstance(trial, SearchTrial):
            raise DataFormatError(format_problem("search(trial)", "a cogmodels.data.SearchTrial",
                                                 type(trial).__name__, "build the trial with SearchTrial(...)"))
        budget = self.max_fixations if max_fixations is None else max_fixations
        if not _is_int(budget) or budget < 1:
            raise ConfigError(format_problem("search(max_fixations)", "an integer >= 1", repr(budget),
                                             "pass max_fixations=None for the model's budget"))
        height, width = trial.target_mask.shape
        box = int(self.ior_size or max(max(trial.target_image.shape[:2]) // 2, 1))
        allowed = np.ones((height, width), bool)
        target = np.zeros((height, width), bool)
        tx0, ty0, tx1, ty1 = trial.target_box
        target[ty0:ty1, tx0:tx1] = True
        fixation = ((width - 1) / 2.0, (height - 1) / 2.0)
        fixations = [fixation]
        state = self._prepare(trial)
        fixed_map = None if self.fixation_dependent else np.asarray(self._priority(state, fixation), np.float64)
        for _ in range(int(budget)):
            priority = fixed_map if fixed_map is not None else np.asarray(self._priority(state, fixation), np.float64)
            if priority.shape != (height, width):
                raise DataFormatError(format_problem(f"{type(self).__name__}._priority", f"shape {(height, width)}",
                                                     f"shape {priority.shape}", "return one value per image pixel"))
            if not allowed.any():
                break
            masked = np.where(allowed, priority, -np.inf)
            row, col = np.unravel_index(int(np.argmax(masked)), masked.shape)
            fixation = (float(col), float(row))
            fixations.append(fixation)
            if _box(target, col, row, box).any():
                return SearchResult(np.asarray(fixations[1:]), True, len(fixations) - 1, start=fixations[0])
            self._inhibit(allowed, trial, col, row, box)
        return SearchResult(np.asarray(fixations[1:]), False, len(fixations) - 1, start=fixations[0])

    def _inhibit(self, allowed: np.ndarray, trial: SearchTrial, col: int, row: int, box: int) -> None:
        """Switch off the pixels inhibited after fixating (col, row)."""
        height, width = allowed.shape
        half = box // 2
        x0, x1, y0, y1 = max(col - half, 0), min(col - half + box, width), max(row - half, 0), min(row - half + box,
                                                                                                   height)
        if self.ior == "grid" and trial.meta.get("grid"):
            grid = int(trial.meta["grid"])
            cell_w, cell_h = width / grid, height / grid
            gx, gy = int(col // cell_w), int(row // cell_h)
            allowed[int(round(gy * cell_h)):int(round((gy + 1) * cell_h)),
                    int(round(gx * cell_w)):int(round((gx + 1) * cell_w))] = False
            return
        if self.ior == "object" and trial.item_boxes is not None:
            boxes = trial.item_boxes
            touched = (boxes[:, 0] <= col) & (boxes[:, 2] > col) & (boxes[:, 1] <= row) & (boxes[:, 3] > row)
            if touched.any():
                for bx0, by0, bx1, by1 in boxes[touched].astype(int):
                    allowed[max(by0, 0):by1, max(bx0, 0):bx1] = False
                return
        allowed[y0:y1, x0:x1] = False

    # -- to implement ---------------------------------------------------------------------
    def _prepare(self, trial: SearchTrial):
        """Per-trial state (features, templates); default: the trial itself."""
        return trial

    def _priority(self, state, fixation: tuple[float, float]) -> np.ndarray:
        """Priority map of shape (H, W) over the search image, given the current fixation (x, y) px."""
        raise NotImplementedError


def _box(mask: np.ndarray, col: int, row: int, size: int) -> np.ndarray:
    """The ``size`` x ``size`` window of ``mask`` centred on (col, row), clipped to the image."""
    half = size // 2
    return mask[max(row - half, 0):max(row - half + size, 0), max(col - half, 0):max(col - half + size, 0)]


def display_background(image: np.ndarray) -> np.ndarray:
    """The display's background colour: the most common colour of its border pixels, shape (3,) uint8."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).reshape(-1, image.shape[-1])
    colours, counts = np.unique(border, axis=0, return_counts=True)
    return colours[int(np.argmax(counts))]
