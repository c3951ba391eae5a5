import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(REPO, "..", "shared", "golden")


@pytest.fixture(scope="session")
def golden():
    if not os.path.isdir(GOLDEN):
        pytest.fail(f"golden files not found at {GOLDEN} (../shared beside the repository)")
    return GOLDEN
