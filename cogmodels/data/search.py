"""Visual-search trials."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cogmodels.data.checks import check_array, check_image
from cogmodels.errors import DataFormatError, ShapeError, format_problem


@dataclass
class SearchTrial:
    """One search trial.

    Attributes
    ----------
    search_image : uint8 array of shape (H, W, 3)
    target_image : uint8 array of shape (h, w, 3)
    target_mask : bool array of shape (H, W); True where the target is
    set_size : int
    condition : str, e.g. "T_among_L" or "target_present"
    id : str
    items : float array of shape (n_items, 2), optional; item centres (x, y) in pixels
    meta : dict
    item_boxes : float array of shape (n_items, 4), optional
        Item bounding boxes (x0, y0, x1, y1), pixels, x1/y1 exclusive (object inhibition of return).
    target_index : int, optional
        Row of the target in ``items`` / ``item_boxes``.
    px_per_deg : float, optional
        Pixels per degree of visual angle of the display.

    Raises
    ------
    DataFormatError
        No target mask (None), an empty one, or a set size < 1.
    ShapeError
        A mask not on the search image's grid, or a target image larger than the search image.
    """

    search_image: np.ndarray
    target_image: np.ndarray
    target_mask: np.ndarray
    set_size: int
    condition: str = ""
    id: str = ""
    items: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    item_boxes: np.ndarray | None = None
    target_index: int | None = None
    px_per_deg: float | None = None

    def __post_init__(self):
        if self.target_mask is None:
            raise DataFormatError(format_problem(f"SearchTrial({self.id}).target_mask",
                                                 "a bool (H, W) mask of the target's pixels", "None (missing)",
                                                 "draw the target mask with the display (every trial needs one)"))
        self.search_image = check_image(self.search_image, f"SearchTrial({self.id}).search_image")
        self.target_image = check_image(self.target_image, f"SearchTrial({self.id}).target_image")
        big, small = self.search_image.shape[:2], self.target_image.shape[:2]
        if small[0] > big[0] or small[1] > big[1]:
            raise ShapeError(format_problem(f"SearchTrial({self.id}).target_image",
                                            f"at most the search image's size {big} (h, w)", f"size {small}",
                                            "crop the target image to the item, or enlarge the display"))
        mask = check_array(self.target_mask, f"SearchTrial({self.id}).target_mask", ndim=2)
        if mask.shape != self.search_image.shape[:2]:
            raise ShapeError(format_problem(f"SearchTrial({self.id}).target_mask",
                                            f"shape {self.search_image.shape[:2]} (that of the search image)",
                                            f"shape {mask.shape}", "draw the mask on the search image grid"))
        self.target_mask = mask.astype(bool)
        if not self.target_mask.any():
            raise DataFormatError(format_problem(f"SearchTrial({self.id}).target_mask", "at least one target pixel",
                                                 "an empty mask", "mark the target location"))
        if self.item_boxes is not None:
            self.item_boxes = check_array(self.item_boxes, f"SearchTrial({self.id}).item_boxes", ndim=2)
            if self.item_boxes.shape[1] != 4:
                raise ShapeError(format_problem(f"SearchTrial({self.id}).item_boxes", "shape (n_items, 4)",
                                                f"shape {self.item_boxes.shape}", "give x0, y0, x1, y1 per item"))
        if int(self.set_size) < 1:
            raise DataFormatError(format_problem(f"SearchTrial({self.id}).set_size", "a set size >= 1",
                                                 repr(self.set_size), "count the items in the display"))

    @property
    def target_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) bounding box of the target mask, x1/y1 exclusive."""
        ys, xs = np.nonzero(self.target_mask)
        return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


class SearchTrials(list):
    """A list of :class:`SearchTrial` with helpers to group by condition and set size."""

    def conditions(self) -> list[str]:
        return sorted({t.condition for t in self})

    def where(self, condition: str | None = None, set_size: int | None = None) -> "SearchTrials":
        return SearchTrials(t for t in self if (condition is None or t.condition == condition)
                            and (set_size is None or t.set_size == set_size))


@dataclass
class SearchResult:
    """What a searcher did on one trial.

    Attributes
    ----------
    fixations : float array of shape (n_fixations, 2)
        (x, y) pixels of the search image of each fixation after the initial one, in order.
    found : bool
        Whether the last fixation landed on the target (the stop rule) within the budget.
    n_fixations : int
        Fixations after the initial one, the one that found the target included.
    start : float array of shape (2,), optional
        The initial fixation (x, y) (the display centre for the built-in searchers).
    """

    fixations: np.ndarray
    found: bool
    n_fixations: int
    start: np.ndarray | None = None

    def __post_init__(self):
        self.fixations = np.asarray(self.fixations, dtype=np.float64).reshape(-1, 2)
        self.found = bool(self.found)
        self.n_fixations = int(self.n_fixations)
        if self.start is not None:
            self.start = np.asarray(self.start, dtype=np.float64).reshape(2)
        if self.n_fixations != len(self.fixations):
            raise ShapeError(format_problem("SearchResult.fixations", f"{self.n_fixations} rows (one per fixation "
                                            "after the initial one)", f"{len(self.fixations)} rows",
                                            "leave the initial fixation out (it goes in `start`)"))

    @property
    def path(self) -> np.ndarray:
        """(n_fixations + 1, 2): the start (when known) followed by the fixations."""
        return self.fixations if self.start is None else np.vstack([self.start, self.fixations])
