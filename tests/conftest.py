import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(REPO, "..", "shared", "golden")


@pytest.fixture(scope="session")
def golden():
    if not os.path.isdir(GOLDEN):
        pytest.fail(f"golden files not found at {GOLDEN} (../shared beside the repository)")
    return GOLDEN


@pytest.fixture
def torch_one_thread():
    """Two OpenMP threads on two shared cores spin-wait each other into a 20x slowdown."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
