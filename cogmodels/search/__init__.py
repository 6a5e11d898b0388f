"""Visual-search models: ``searcher.search(trial) -> SearchResult``."""

from __future__ import annotations

from cogmodels.registry import Registry

#: Models register where they are defined (``@SEARCH_MODELS.register(name, example=...)``); the modules of
#: this folder are imported on first use; plugins: the ``cogmodels.search`` entry-point group.
SEARCH_MODELS = Registry("search model", package=__name__, entry_point_group="cogmodels.search")
