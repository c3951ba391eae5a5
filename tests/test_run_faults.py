"""A run meets the world: I/O faults part-way, a second run on the same --out, and verify's
exit statuses."""
import errno
import json
import os
import signal
import subprocess
import time

import pytest

from fdsl_cli import cli_command, read_shards, run_cli
from fdsl_gen import shards

# 20 samples in 7 shards of 3 (the last of 2); renders in well under a second
SMALL = ["visualatom", "--classes", 4, "--instances", 5, "--image-size", 32, "--line-num-max", 5,
         "--vertex-num-max", 300, "--shard-size", 3, "--workers", 1, "--quiet"]


def generate(capsys, out, *extra):
    return run_cli(capsys, *SMALL, "--out", out, *extra)


def temporaries(out):
    return [path for path in out.rglob("*") if path.name.endswith(shards.TMP_SUFFIX)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "ds"
    from fdsl_gen.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in SMALL + ["--out", out]])
    assert exit_info.value.code == 0
    return out


def assert_resumes_to(capsys, out, reference):
    assert json.loads((out / "manifest.json").read_text())["status"] == "in-progress"
    assert not temporaries(out)
    code, _, err = generate(capsys, out)
    assert code == 0, err
    assert read_shards(out) == read_shards(reference)
    assert (out / "manifest.json").read_bytes() == (reference / "manifest.json").read_bytes()


@pytest.mark.parametrize("fault, what, remedy", [
    (errno.ENOSPC, "no space left on device", "free space"),
    (errno.EIO, "I/O error", "check the device"),
])
def test_write_fault_mid_shard_is_one_line_and_the_rerun_resumes(capsys, tmp_path, monkeypatch, reference,
                                                                 fault, what, remedy):
    write_tar = shards.write_tar

    def failing_write_tar(file, samples):
        if file.name.endswith("visualatom-000003.tar" + shards.TMP_SUFFIX):
            file.write(b"\0" * 4096)  # part of the shard is on disk when the device gives up
            raise OSError(fault, os.strerror(fault))
        return write_tar(file, samples)

    monkeypatch.setattr(shards, "write_tar", failing_write_tar)
    out = tmp_path / "ds"
    code, stdout, err = generate(capsys, out)
    assert code == 1 and stdout == ""
    assert err == (f"fdsl-gen: error: {what} writing {out}/visualatom-000003.tar; {remedy} and rerun the same "
                   "command to resume\n")
    assert sorted(read_shards(out)) == [f"visualatom-00000{i}.tar" for i in range(3)]
    monkeypatch.undo()
    assert_resumes_to(capsys, out, reference)


def test_permission_lost_on_a_completion_record(capsys, tmp_path, monkeypatch, reference):
    replace = os.replace

    def failing_replace(source, destination):
        if str(destination).endswith("visualatom-000002.tar.json"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return replace(source, destination)

    monkeypatch.setattr(os, "replace", failing_replace)
    out = tmp_path / "ds"
    code, _, err = generate(capsys, out)
    monkeypatch.undo()
    record = out / ".fdsl" / "visualatom-000002.tar.json"
    assert code == 1 and err.strip() == (f"fdsl-gen: error: permission denied writing {record}; restore write "
                                         "permission and rerun the same command to resume")
    assert_resumes_to(capsys, out, reference)


def test_a_second_run_on_the_same_out_is_refused_and_a_killed_run_leaves_no_lock(capsys, tmp_path):
    out = tmp_path / "ds"
    slow = ["visualatom", "--classes", 2, "--instances", 3000, "--image-size", 256, "--shard-size", 100,
            "--workers", 1, "--quiet", "--out", out]
    first = subprocess.Popen(cli_command(*slow))
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / ".fdsl" / "visualatom-000000.tar.json").exists():
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before the test could overlap it"
        for extra in ([], ["--overwrite"]):
            code, _, err = run_cli(capsys, *slow, *extra)
            assert code == 2 and len(err.strip().splitlines()) == 1
            assert f"is being written by another fdsl-gen (pid {first.pid})" in err
        assert (out / "visualatom-000000.tar").exists()  # --overwrite removed nothing
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the killed run's lock died with it: the same command resumes at once
    code, _, err = run_cli(capsys, *slow)
    assert code == 0, err
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_verify_exit_statuses(capsys, tmp_path, reference):
    assert run_cli(capsys, "verify", reference, "--workers", 1)[0] == 0
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    for folder in (tmp_path / "missing", tmp_path / "empty", tmp_path / "junk"):
        code, stdout, err = run_cli(capsys, "verify", folder)
        assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1, err
        assert str(folder) in err
    searched = tmp_path / "table"
    assert run_cli(capsys, *SMALL, "--search-only", "--out", searched)[0] == 0
    code, _, err = run_cli(capsys, "verify", searched)
    assert code == 1 and "search-only" in err  # an fdsl dataset, not complete: a failed check
