"""The feature cache, as the runner sees it.

The cache itself lives in :mod:`cogmodels.io` (datasets such as ``nsd_sim``
extract their generating features through it too, and datasets never import
the runner); this module re-exports it for the runner and its tasks.
"""

from cogmodels.io import FeatureCache, feature_key, implementation_hash

__all__ = ["FeatureCache", "feature_key", "implementation_hash"]
