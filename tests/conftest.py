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


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """output_bytes of fdsl_cli.SMALL rendered by the local engine in this process."""
    from fdsl_cli import SMALL, output_bytes
    from fdsl_gen.cli import main

    out = tmp_path_factory.mktemp("small-run") / "ds"
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in SMALL + ["--workers", 1, "--out", out]])
    assert exit_info.value.code == 0
    return output_bytes(out)
