"""Shared test settings: offline, headless, small thread pools."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture
def shared_data():
    """Root of the shared real data; skips the test when it is absent."""
    from cogmodels.datasets import shared_data_root

    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(f"shared real data not found at {root} (set COGMODELS_SHARED_DATA to its folder)")
    return root
