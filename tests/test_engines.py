"""The engine interface on the local engine: a failed shard task is retried and the output is
the same, a worker that dies is replaced, retries run out with one line, the parallel map is
lazy and ordered, and --engine ray without Ray says how to install it."""
import functools
import itertools
import os
import sys

import pytest

from fdsl_cli import SMALL, output_bytes, run_cli
from fdsl_gen import generate as generation
from fdsl_gen.engines.base import create_engine
from fdsl_gen.engines.local import LocalEngine
from fdsl_gen.errors import GenerationError, UsageError
from fdsl_gen.worker import ShardTask

FAULTY_SHARD = 1


class FaultOnce(ShardTask):
    """A shard task whose first call for shard 1 fails: it raises, or its worker process dies.
    A file marks that the fault happened, since the retry may run in another process."""

    def __init__(self, marker, how, *task):
        super().__init__(*task)
        self.marker, self.how = marker, how

    def __call__(self, shard):
        if shard == FAULTY_SHARD and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            if self.how == "crash":
                os._exit(1)
            raise RuntimeError("injected fault")
        return super().__call__(shard)


def inject_fault(monkeypatch, tmp_path, how):
    """Make the next run's shard task fail once; returns the file that marks the fault."""
    marker = tmp_path / f"fault-{how}"
    monkeypatch.setattr(generation, "ShardTask", functools.partial(FaultOnce, str(marker), how))
    return marker


@pytest.mark.parametrize("how, workers", [("raise", 1), ("crash", 2)])
def test_a_task_that_fails_once_is_retried_and_the_output_is_the_same(capsys, tmp_path, monkeypatch, small_run,
                                                                       how, workers):
    marker = inject_fault(monkeypatch, tmp_path, how)
    out = tmp_path / "ds"
    code, _, err = run_cli(capsys, *SMALL, "--workers", workers, "--out", out)
    assert code == 0, err
    assert marker.exists()
    assert "fdsl-gen: visualatom-000001.tar failed (" in err and "; retrying" in err
    assert output_bytes(out) == small_run


def test_retries_run_out_with_one_line_and_the_rerun_resumes(capsys, tmp_path, monkeypatch, small_run):
    inject_fault(monkeypatch, tmp_path, "raise")
    out = tmp_path / "ds"
    code, stdout, err = run_cli(capsys, *SMALL, "--workers", 1, "--retries", 0, "--out", out)
    assert code == 1 and stdout == ""
    assert err == ("fdsl-gen: error: visualatom-000001.tar failed once, the last time with RuntimeError: injected "
                   "fault; rerun the same command to resume\n")
    code, _, err = run_cli(capsys, *SMALL, "--workers", 1, "--out", out)  # the fault happened: now it renders
    assert code == 0, err
    assert output_bytes(out) == small_run


def test_engine_run_reports_every_result_and_names_a_task_that_keeps_failing():
    results = []
    LocalEngine(1).run(lambda x: x * x, range(5), results.append)
    assert sorted(results) == [0, 1, 4, 9, 16]

    def always_failing(x):
        raise ValueError(f"bad {x}\nsecond line")

    retried = []
    with pytest.raises(GenerationError, match=r"^3 failed 3 times, the last time with ValueError: bad 3; rerun"):
        LocalEngine(1, retries=2).run(always_failing, [3], results.append, lambda what, e: retried.append(what))
    assert retried == ["3", "3"]


def test_the_parallel_map_is_ordered_and_pulls_lazily_from_an_endless_stream():
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield i

    results = LocalEngine(2).parallel_map(lambda x: x * 3, endless())
    assert list(itertools.islice(results, 10)) == [3 * i for i in range(10)]
    results.close()
    assert len(pulled) <= 10 + 2 * 2  # the look-ahead is bounded


def test_bad_engine_options_are_one_line(capsys, tmp_path):
    for args, message in [
        (["--engine", "spark"], "Invalid value for '--engine'"),
        (["--ray-address", "auto"], "--ray-address needs --engine ray"),
        (["--retries", -1], "--retries must be 0 or more"),
        (["--workers", 0], "--workers must be positive"),
    ]:
        code, stdout, err = run_cli(capsys, *SMALL, *args, "--out", tmp_path / "ds")
        assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1, err
        assert message in err
    assert not (tmp_path / "ds").exists()


def test_engine_ray_without_ray_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what importing an absent package does
    code, stdout, err = run_cli(capsys, *SMALL, "--engine", "ray", "--out", tmp_path / "ds")
    assert code == 2 and stdout == ""
    assert err == "fdsl-gen: error: --engine ray needs Ray, an optional extra: pip install 'fdsl[ray]'\n"
    assert not (tmp_path / "ds").exists()
    with pytest.raises(UsageError, match="pip install 'fdsl\\[ray\\]'"):
        create_engine("ray")
