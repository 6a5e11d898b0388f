"""Visual-search models: ``searcher.search(trial) -> SearchResult``."""

from __future__ import annotations

from cogmodels.registry import Registry

SEARCH_MODELS = Registry("search model")
