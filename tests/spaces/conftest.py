"""Fixtures shared by the tests of spaces/ (families build and run many tiny models)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread is faster, and on a shared CPU several spin-wait for each other
    (5x slower here). The models do not depend on it; the setting is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
