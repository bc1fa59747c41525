"""A fixture for tests of tiny tensor programs (time-stepper rollouts): torch on one thread. On a busy 2-core
machine every OpenMP region of a 2-thread torch waits for a descheduled thread, which made a 400-evaluation
rollout 100x slower (25 s instead of 0.25 s). Import it into a test module to use it there."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
