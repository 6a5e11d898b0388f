"""Torch CPU threads for the duration of a fit or a sampling loop (the models' ``n_threads`` parameter)."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def torch_threads(n_threads: int | None):
    """Set torch's CPU threads to ``n_threads`` (None: leave them) and restore them afterwards."""
    before = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)
