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
    """

    search_image: np.ndarray
    target_image: np.ndarray
    target_mask: np.ndarray
    set_size: int
    condition: str = ""
    id: str = ""
    items: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.search_image = check_image(self.search_image, f"SearchTrial({self.id}).search_image")
        self.target_image = check_image(self.target_image, f"SearchTrial({self.id}).target_image")
        mask = check_array(self.target_mask, f"SearchTrial({self.id}).target_mask", ndim=2)
        if mask.shape != self.search_image.shape[:2]:
            raise ShapeError(format_problem(f"SearchTrial({self.id}).target_mask",
                                            f"shape {self.search_image.shape[:2]} (that of the search image)",
                                            f"shape {mask.shape}", "draw the mask on the search image grid"))
        self.target_mask = mask.astype(bool)
        if not self.target_mask.any():
            raise DataFormatError(format_problem(f"SearchTrial({self.id}).target_mask", "at least one target pixel",
                                                 "an empty mask", "mark the target location"))
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
