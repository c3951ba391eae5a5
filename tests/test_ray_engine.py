"""--engine ray on a real local Ray (ray.init(num_cpus=2)): shards byte-identical to the local
engine (the search and the replay fast-forward run as Ray tasks too), a task that fails once
is retried, a driver joins a running cluster by --ray-address, and bad addresses are one
line."""
import itertools
import socket
import sys

import pytest

ray = pytest.importorskip("ray", reason="the Ray engine's tests need ray (pip install 'fdsl[ray]')")

import test_engines  # noqa: E402
import test_output_hashes  # noqa: E402
from fdsl_cli import SMALL, output_bytes, run_cli, run_subprocess  # noqa: E402
from fdsl_gen.engines.ray import RayEngine  # noqa: E402
from test_engines import inject_fault  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray for the module: the engine joins the Ray this process already has."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    # the fault-injecting task is defined here, in no module Ray's workers can import
    ray.cloudpickle.register_pickle_by_value(test_engines)
    yield
    ray.cloudpickle.unregister_pickle_by_value(test_engines)
    ray.shutdown()


@pytest.mark.parametrize("name", ["fractaldb-search-patch", "visualatom-replay"])
def test_ray_shards_are_byte_identical_to_the_local_engine(capsys, tmp_path, name):
    args = [*test_output_hashes.COMMANDS[name], "--engine", "ray"]
    assert test_output_hashes.output_hashes(capsys, tmp_path / name, args) == test_output_hashes.EXPECTED[name]


@pytest.mark.parametrize("how", ["raise", "crash"])
def test_a_ray_task_that_fails_once_is_retried_and_the_output_is_the_same(capsys, tmp_path, monkeypatch, small_run,
                                                                           how):
    marker = inject_fault(monkeypatch, tmp_path, how)
    out = tmp_path / "ds"
    code, _, err = run_cli(capsys, *SMALL, "--engine", "ray", "--out", out)
    assert code == 0, err
    assert marker.exists() and "fdsl-gen: visualatom-000001.tar failed (" in err
    assert output_bytes(out) == small_run


def test_verify_runs_on_ray(capsys, tmp_path):
    out = tmp_path / "ds"
    assert run_cli(capsys, *SMALL, "--engine", "ray", "--out", out)[0] == 0
    shard = out / "visualatom-000002.tar"
    shard.write_bytes(shard.read_bytes()[:3000])
    code, _, err = run_cli(capsys, "verify", out, "--engine", "ray")
    assert code == 1 and "BAD visualatom-000002.tar: size 3000 " in err and "000001" not in err


def test_the_ray_parallel_map_is_ordered_and_pulls_lazily():
    pulled = []

    def endless():
        for i in itertools.count():
            pulled.append(i)
            yield i

    with RayEngine() as engine:
        results = engine.parallel_map(abs, (-i for i in endless()))
        assert list(itertools.islice(results, 6)) == list(range(6))
        results.close()
        assert len(pulled) <= 6 + engine.capacity


def test_a_driver_joins_a_running_cluster_by_its_address(tmp_path, small_run):
    address = ray.get_runtime_context().gcs_address  # this module's Ray, reached from another process
    out = tmp_path / "ds"
    done = run_subprocess(*SMALL, "--engine", "ray", "--ray-address", address, "--workers", 2, "--out", out,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert output_bytes(out) == small_run


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_ray_addresses_are_one_line(capsys, tmp_path):
    port = free_port()  # nothing listens there
    for address, message in [
        (f"127.0.0.1:{port}", f"--ray-address 127.0.0.1:{port}: cannot reach a Ray cluster there (Connection refused)"),
        ("head-node", "--ray-address must be auto or HOST:PORT, got 'head-node'"),
    ]:
        code, stdout, err = run_cli(capsys, *SMALL, "--engine", "ray", "--ray-address", address, "--out", tmp_path / "ds")
        assert (code, stdout, err) == (2, "", f"fdsl-gen: error: {message}\n")
    assert not (tmp_path / "ds").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
