"""Run fdsl-gen in-process or as a subprocess, for the tests."""
import io
import os
import subprocess
import sys
import tarfile

import pytest

from fdsl_gen.cli import main


def run_cli(capsys, *args):
    """fdsl-gen in this process: returns (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def generate(*args):
    """fdsl-gen in this process, for fixtures wider than a test (no capsys): the exit status."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    return exit_info.value.code


def usage_error(capsys, out, command, *args):
    """Run a generation that must fail on bad input: exit 2, one stderr line, nothing on
    stdout, no manifest in ``out``. Returns the stderr line."""
    code, stdout, stderr = run_cli(capsys, command, "--out", out, "--quiet", *args)
    assert code == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert not (out / "manifest.json").exists()
    return stderr


def cli_command(*args):
    return [sys.executable, "-m", "fdsl_gen", *[str(a) for a in args]]


def run_subprocess(*args, **kwargs):
    return subprocess.run(cli_command(*args), capture_output=True, text=True, env=dict(os.environ), **kwargs)


# 20 samples in 7 shards of 3 (the last of 2); renders in well under a second. Engine, node-split
# and object-store tests compare their outputs with the local engine's (the small_run fixture).
SMALL = ["visualatom", "--classes", 4, "--instances", 5, "--image-size", 32, "--line-num-max", 5,
         "--vertex-num-max", 300, "--shard-size", 3, "--quiet"]


def output_bytes(out):
    """The shards, manifest and _info.json of a local output: what a run must reproduce."""
    return dict(read_shards(out), manifest=(out / "manifest.json").read_bytes(), info=(out / "_info.json").read_bytes())


def read_shards(out):
    """{file name: bytes} of every shard in ``out``."""
    return {f: open(os.path.join(out, f), "rb").read() for f in sorted(os.listdir(out)) if f.endswith(".tar")}


def _samples_of(tar, samples):
    for member in tar:
        key, _, extension = member.name.partition(".")
        samples.setdefault(key, {})[extension] = tar.extractfile(member).read()
    return samples


def tar_samples(path):
    """Every sample of one shard file: {key: {extension: bytes}}."""
    with tarfile.open(path) as tar:
        return _samples_of(tar, {})


def read_samples(out):
    """Every sample of every shard in ``out``: {key: {extension: bytes}}."""
    samples = {}
    for data in read_shards(out).values():
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            _samples_of(tar, samples)
    return samples
