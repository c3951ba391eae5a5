import os

import pytest

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")  # see golden/README.md


@pytest.fixture(scope="session")
def golden():
    return GOLDEN


@pytest.fixture
def torch_one_thread():
    """Two OpenMP threads on two shared cores spin-wait each other into a 20x slowdown."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
