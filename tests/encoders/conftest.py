"""Shared set-up of the encoder tests."""

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread per test module: on tiny problems and a busy shared machine, thread start-up and
    contention cost more than they save."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
