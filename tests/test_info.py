"""fdsl-gen info: a few lines or JSON about a dataset folder, and a command that writes the
same dataset again."""
import json
import shlex

import pytest

from fdsl_cli import read_shards, run_cli

FRACTALDB = ["fractaldb", "--classes", 2, "--filling-rate", 0.05, "--seed", 0, "--search-points", 20000,
             "--points", 2000, "--image-size", 32, "--pad", 0, "--instances", 8, "--shard-size", 3]


def info(capsys, out, *args):
    code, stdout, stderr = run_cli(capsys, "info", out, *args)
    assert code == 0, stderr
    return stdout


def rerun(capsys, command, out):
    """Run a printed fdsl-gen command with another --out."""
    arguments = shlex.split(command)
    assert arguments[0] == "fdsl-gen" and arguments[-2] == "--out"
    code, _, stderr = run_cli(capsys, *arguments[1:-1], out, "--workers", 1, "--quiet")
    assert code == 0, stderr


def test_info_says_what_a_dataset_is(capsys, tmp_path):
    out = tmp_path / "fdb"
    assert run_cli(capsys, *FRACTALDB, "--workers", 1, "--quiet", "--out", out)[0] == 0
    lines = info(capsys, out).splitlines()
    manifest = json.loads((out / "manifest.json").read_text())
    total = sum(shard["bytes"] for shard in manifest["shards"])
    assert lines[0] == f"{out}: fractaldb, complete"
    assert lines[1] == f"2 classes x 8 images = 16 samples, 32 px grey; 4 shards, {total / 1000:.1f} kB"
    assert lines[2] == f"diverged samples: {manifest['diverged_samples']}" and manifest["diverged_samples"] > 0
    # the seed 0 and pad 0 differ from the defaults; --draws and --instances' derived values are left out
    assert lines[3] == (f"command: fdsl-gen fractaldb --classes 2 --filling-rate 0.05 --seed 0 --search-points 20000 "
                        f"--image-size 32 --points 2000 --pad 0 --instances 8 --shard-size 3 --out {out}")
    facts = json.loads(info(capsys, out, "--json"))
    assert facts == {"path": str(out), "family": "fractaldb", "status": "complete", "labelled": True, "classes": 2,
                     "instances_per_class": 8, "samples": 16, "image_size": 32, "image_channels": 1, "shards": 4,
                     "shards_written": 4, "bytes": total, "diverged_samples": manifest["diverged_samples"], "command": lines[3][len("command: "):]}


@pytest.mark.parametrize("args, expected", [
    (["visualatom", "--mode", "replay", "--threads", 2, "--classes", 3, "--instances", 2, "--image-size", 32,
      "--line-num-max", 4, "--name", "va small"], "--name 'va small'"),
    (["deadleaves", "--shape", "oriented", "--textured", "--texture-pool", 2, "--images", 3, "--image-size", 32],
     "--shape oriented_square --textured"),
    (["visualatom", "--recipe", "visualatom-1k", "--classes", 20, "--instances", 1, "--image-size", 24,
      "--line-num-max", 3], "--recipe visualatom-1k --classes 20 --instances 1 --image-size 24 --line-num-max 3"),
])
def test_the_command_writes_the_same_dataset(capsys, tmp_path, args, expected):
    first, second = tmp_path / "first", tmp_path / "second"
    assert run_cli(capsys, *args, "--workers", 1, "--quiet", "--out", first)[0] == 0
    command = json.loads(info(capsys, first, "--json"))["command"]
    assert expected in command
    rerun(capsys, command, second)
    assert read_shards(second) == read_shards(first)
    assert (second / "manifest.json").read_bytes() == (first / "manifest.json").read_bytes()


def test_a_search_only_table_and_a_published_recipe(capsys, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    code, _, err = run_cli(capsys, "fractaldb", "--recipe", "fractaldb-1k", "--classes", 2, "--search-only", "--quiet",
                           "--out", first)
    assert code == 0, err
    lines = info(capsys, first).splitlines()
    assert lines[1] == "2 classes x 1,000 images = 2,000 samples, 362 px grey; class table only (--search-only): no shards"
    assert lines[3] == f"command: fdsl-gen fractaldb --recipe fractaldb-1k --classes 2 --search-only --out {first}"
    rerun(capsys, lines[3][len("command: "):], second)
    assert (second / "manifest.json").read_bytes() == (first / "manifest.json").read_bytes()


@pytest.mark.parametrize("setup, message", [
    (lambda path: None, "is not a folder"),
    (lambda path: path.mkdir(), "is not an fdsl dataset: it has no manifest.json"),
    (lambda path: (path.mkdir(), (path / "manifest.json").write_text("{}")), "is not an fdsl manifest"),
])
def test_not_a_dataset_is_a_usage_error(capsys, tmp_path, setup, message):
    setup(tmp_path / "x")
    code, stdout, stderr = run_cli(capsys, "info", tmp_path / "x")
    assert code == 2 and stdout == "" and len(stderr.splitlines()) == 1 and message in stderr
