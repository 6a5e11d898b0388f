"""Shared test settings: offline, headless, small thread pools."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# pytest-xdist runs one worker per core; more BLAS/torch threads per worker only oversubscribe
# the cores (a 768x768 eigendecomposition took 7 s with 2 threads per worker, 0.4 s with 1).
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import pytest  # noqa: E402


@pytest.fixture
def shared_data():
    """Root of the shared real data; skips the test when it is absent."""
    from cogmodels.datasets import shared_data_root

    root = shared_data_root()
    if not root.is_dir():
        pytest.skip(f"shared real data not found at {root} (set COGMODELS_SHARED_DATA to its folder)")
    return root


@pytest.fixture
def raw_gaze(shared_data):
    """Folder of the shared real EyeLink recordings; skips the test when it is absent."""
    folder = shared_data / "raw_gaze"
    if not folder.is_dir():
        pytest.skip(f"shared raw gaze recordings not found at {folder} (set COGMODELS_SHARED_DATA)")
    return folder
