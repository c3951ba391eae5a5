"""--out as an S3 URL, against a real S3 protocol server: moto's server mode on 127.0.0.1,
started here. A run gives the bytes of a local run; a run stopped between a shard's final key
and its completion record resumes to the same bytes; node-split runs, finalize and verify work
on the URL; bad URLs are one line."""
import socket
import subprocess
import sys
import time

import pytest

s3fs = pytest.importorskip("s3fs", reason="object-store outputs need s3fs (pip install 'fdsl[s3]')")
pytest.importorskip("moto.server", reason="the S3 tests need moto's server (pip install 'moto[server]')")

from fdsl_cli import SMALL, run_cli  # noqa: E402

BUCKET = "fdsl-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    """An S3 server on 127.0.0.1 with one bucket; the AWS_* variables point boto at it (worker
    processes inherit them). Yields an s3fs file system on it."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    environment = pytest.MonkeyPatch()
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline and server.poll() is None, "moto's server did not start"
                time.sleep(0.1)
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
            environment.setenv(name, value)
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir(BUCKET)
        yield fs
    finally:
        environment.undo()
        server.terminate()
        server.wait()


def store_bytes(fs, prefix):
    """What output_bytes (test_engines) reads from a local output, read from the store."""
    fs.invalidate_cache()
    files = {path.rsplit("/", 1)[1]: fs.cat_file(path) for path in fs.ls(f"{BUCKET}/{prefix}", detail=False)
             if path.endswith(".tar")}
    return dict(files, manifest=fs.cat_file(f"{BUCKET}/{prefix}/manifest.json"),
                info=fs.cat_file(f"{BUCKET}/{prefix}/_info.json"))


def temporaries(fs, prefix):
    fs.invalidate_cache()
    return [path for path in fs.find(f"{BUCKET}/{prefix}") if path.endswith(".tmp")]


def test_an_s3_output_has_the_bytes_of_a_local_one(capsys, s3, small_run):
    url = f"s3://{BUCKET}/whole"
    code, stdout, err = run_cli(capsys, *SMALL, "--workers", 2, "--out", url)
    assert code == 0, err
    assert stdout == f"20 samples of 4 classes in 7 shards: {url}\n"
    assert store_bytes(s3, "whole") == small_run
    assert not temporaries(s3, "whole")
    assert len(s3.ls(f"{BUCKET}/whole/.fdsl")) == 7  # a completion record per shard
    code, stdout, _ = run_cli(capsys, "verify", url, "--workers", 1)
    assert code == 0 and stdout.startswith("OK 7 shards, 20 samples")


def test_a_run_stopped_between_a_shard_and_its_record_resumes(capsys, s3, monkeypatch, small_run):
    url = f"s3://{BUCKET}/resume"
    record = f"{BUCKET}/resume/.fdsl/visualatom-000003.tar.json"
    open_key = s3fs.S3FileSystem.open

    def connection_lost_at_a_record(fs, path, *args, **kwargs):
        if path == record + ".tmp":
            raise ConnectionResetError(104, "Connection reset by peer")
        return open_key(fs, path, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "open", connection_lost_at_a_record)
    code, stdout, err = run_cli(capsys, *SMALL, "--workers", 1, "--out", url)
    monkeypatch.undo()
    assert code == 1 and stdout == ""
    assert err == (f"fdsl-gen: error: connection reset by peer writing {url}/.fdsl/visualatom-000003.tar.json; "
                   "fix it and rerun the same command to resume\n")
    s3.invalidate_cache()
    assert s3.exists(f"{BUCKET}/resume/visualatom-000003.tar") and not s3.exists(record)  # no record: not complete
    s3.pipe_file(f"{BUCKET}/resume/visualatom-000004.tar.tmp", b"half a shard")  # a writer killed mid-upload
    code, _, err = run_cli(capsys, *SMALL, "--workers", 1, "--out", url)
    assert code == 0, err
    assert store_bytes(s3, "resume") == small_run
    assert not temporaries(s3, "resume")


def test_node_split_runs_and_finalize_on_s3(capsys, s3, small_run):
    url = f"s3://{BUCKET}/split"
    for rank in (1, 0):
        assert run_cli(capsys, *SMALL, "--workers", 1, "--num-nodes", 2, "--node-rank", rank, "--out", url)[0] == 0
    code, stdout, err = run_cli(capsys, "finalize", url)
    assert code == 0, err
    assert store_bytes(s3, "split") == small_run


def test_bad_urls_are_one_line(capsys, s3):
    for args, message in [
        ([*SMALL, "--out", "s3://no-such-bucket/ds"], "cannot write to --out s3://no-such-bucket/ds: "),
        ([*SMALL, "--out", "nosuchprotocol://x/ds"], "--out nosuchprotocol://x/ds: "),
        (["verify", f"s3://{BUCKET}/nothing"], f"s3://{BUCKET}/nothing is not an fdsl dataset: it has no manifest.json"),
        (["finalize", f"s3://{BUCKET}/nothing"], "is not an fdsl dataset"),
    ]:
        code, stdout, err = run_cli(capsys, *args)
        assert (code, stdout) == (2, "") and len(err.strip().splitlines()) == 1 and message in err, err
