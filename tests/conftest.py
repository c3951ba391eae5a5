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


# --------------------------------------------------------------------------------------------
# Training data, rendered by fdsl-gen itself at tiny sizes (once per test session; tests that
# change a dataset copy it first).


def fdsl_gen(out, family, *args):
    """Run `fdsl-gen FAMILY ... --out OUT` in this process (one worker, quiet); returns OUT."""
    from fdsl_gen.cli import main

    try:
        main([family, *[str(arg) for arg in args], "--workers", "1", "--quiet", "--out", str(out)])
    except SystemExit as exit_info:
        assert exit_info.code in (0, None), f"fdsl-gen {family} failed with status {exit_info.code}"
    return out


@pytest.fixture(scope="session")
def labelled_shards(tmp_path_factory):
    """VisualAtom, 3 classes x 6 images of 32 px in shards of 7, 7 and 4 samples: no even split
    over 2 ranks x 2 loader workers."""
    return fdsl_gen(tmp_path_factory.mktemp("visualatom") / "va", "visualatom", "--classes", 3, "--instances", 6,
                    "--image-size", 32, "--shard-size", 7)


@pytest.fixture(scope="session")
def search_only(tmp_path_factory):
    """A FractalDB category search without images: a real manifest whose status is not complete."""
    return fdsl_gen(tmp_path_factory.mktemp("fractaldb") / "table", "fractaldb", "--classes", 2, "--filling-rate",
                    0.05, "--search-points", 20000, "--search-only")


@pytest.fixture(scope="session")
def deadleaves_shards(tmp_path_factory):
    """Unlabelled: 32 dead-leaves images of 32 px (RGB) in shards of 10, 10, 10 and 2."""
    return fdsl_gen(tmp_path_factory.mktemp("deadleaves") / "dl", "deadleaves", "--images", 32, "--image-size", 32,
                    "--shard-size", 10)


@pytest.fixture(scope="session")
def spectrum_shards(tmp_path_factory):
    """Unlabelled: 16 Spectrum+Color images of 32 px."""
    return fdsl_gen(tmp_path_factory.mktemp("spectrum") / "sp", "spectrum", "--model", "spectrum-color", "--images", 16,
                    "--image-size", 32, "--shard-size", 8)


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    """scikit-learn's digits as an image folder (train/, val/), 32 px."""
    from fdsl_train.data import write_digits

    out = tmp_path_factory.mktemp("digits") / "digits"
    write_digits(out, image_size=32)
    return out


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
