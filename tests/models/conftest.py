"""Model tests use tiny networks: one torch thread is as fast and avoids OpenMP spin-waits (which
slowed these tests ~50x when several processes shared the 2 CPU cores)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
