"""fdsl-gen fractaldb end to end: shards, manifest, determinism, resume, verify, bad input."""
import io
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from fdsl_gen.families import fractaldb
from fdsl_cli import cli_command, read_shards, run_cli, run_subprocess, tar_samples, usage_error

SMALL = ["--classes", 3, "--instances", 12, "--image-size", 64, "--points", 5000, "--search-points", 5000]


def write_class_tables(folder, count):
    """``count`` small IFS class tables as reference CSVs (a,b,c,d,e,f,p rows): 2 to 4 maps
    whose linear parts, in [-0.35, 0.35], are contractions, p proportional to |det| + 0.05."""
    folder.mkdir()
    generator = np.random.default_rng(2020)
    for index in range(count):
        maps = generator.uniform(-0.35, 0.35, size=(int(generator.integers(2, 5)), 6))
        maps[:, 4:] *= 3  # translations spread the attractor
        weight = np.abs(maps[:, 0] * maps[:, 3] - maps[:, 1] * maps[:, 2]) + 0.05
        rows = np.column_stack([maps, weight / weight.sum()])
        np.savetxt(folder / f"{index:05d}.csv", rows, delimiter=",", fmt="%.18e")
    return str(folder)


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    return write_class_tables(tmp_path_factory.mktemp("tables") / "csv", 20)


def small_args(params, out, *extra):
    return ["fractaldb", "--params", params, *SMALL, "--shard-size", 8, "--out", out, "--quiet", *extra]


def test_run_writes_shards_manifest_and_timm_info(capsys, tmp_path, params):
    out = tmp_path / "ds"
    code, stdout, _ = run_cli(capsys, *small_args(params, out, "--workers", 1))
    assert code == 0, stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["family"] == "fractaldb"
    assert manifest["num_classes"] == 3 and manifest["num_samples"] == 36
    expected = fractaldb.load_params(params)[:3]
    assert all(np.array_equal(np.array(c["params"]), t) for c, t in zip(manifest["classes"], expected))
    files = sorted(f for f in os.listdir(out) if f.endswith(".tar"))
    assert files == [s["file"] for s in manifest["shards"]] == [f"fractaldb-{i:06d}.tar" for i in range(5)]
    assert sum(s["samples"] for s in manifest["shards"]) == 36
    info = json.loads((out / "_info.json").read_text())
    assert info["splits"]["train"]["num_samples"] == 36

    seen = set()
    for entry in manifest["shards"]:
        for key, sample in tar_samples(out / entry["file"]).items():
            assert "." not in key and set(sample) == {"png", "cls", "json"}
            meta = json.loads(sample["json"])
            image = np.array(Image.open(io.BytesIO(sample["png"])))
            assert image.dtype == np.uint8 and image.shape == (64, 64) and image.any()
            assert int(sample["cls"]) == meta["class"]
            assert 0 <= meta["weight_row"] < 25 and 0 <= meta["flip"] < 4 and meta["draw"] == 0
            assert meta["instance"] == (meta["draw"] * 25 + meta["weight_row"]) * 4 + meta["flip"]
            # everything needed to re-render the sample alone is in its .json
            assert np.array_equal(fractaldb.render_sample(meta), image)
            seen.add((meta["class"], meta["instance"]))
    assert seen == {(c, i) for c in range(3) for i in range(12)}


def test_samples_are_shuffled_across_and_within_shards(capsys, tmp_path, params):
    out = tmp_path / "ds"
    args = ["fractaldb", "--params", params, "--classes", 20, "--instances", 20, "--image-size", 32,
            "--points", 2000, "--shard-size", 40, "--out", out, "--quiet", "--workers", 1]
    assert run_cli(capsys, *args)[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["shards"]:
        classes = [int(s["cls"]) for s in tar_samples(out / entry["file"]).values()]
        assert len(set(classes)) >= 5  # each shard mixes many classes ...
        assert classes != sorted(classes)  # ... in shuffled order


def test_shards_are_identical_whatever_the_worker_count(capsys, tmp_path, params):
    assert run_cli(capsys, *small_args(params, tmp_path / "one", "--workers", 1))[0] == 0
    assert run_cli(capsys, *small_args(params, tmp_path / "three", "--workers", 3))[0] == 0
    assert read_shards(tmp_path / "one") == read_shards(tmp_path / "three")
    assert (tmp_path / "one" / "manifest.json").read_bytes() == (tmp_path / "three" / "manifest.json").read_bytes()


def test_search_then_render_patch_mode_with_seed(capsys, tmp_path):
    out = tmp_path / "searched"
    args = ["fractaldb", "--classes", 2, "--filling-rate", 0.05, "--seed", 3, "--search-points", 20000,
            "--instances", 8, "--image-size", 48, "--points", 3000, "--out", out, "--quiet", "--workers", 1]
    assert run_cli(capsys, *args)[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    tables, _ = fractaldb.search_classes(2, 0.05, 3, 20000)
    assert [c["params"] for c in manifest["classes"]] == [t.tolist() for t in tables]
    assert manifest["class_source"]["source"] == "search"


def test_search_only_then_params_from_manifest(capsys, tmp_path, params):
    table_dir = tmp_path / "table"
    code, stdout, _ = run_cli(capsys, "fractaldb", "--params", params, "--classes", 4, "--search-only", "--out", table_dir, "--quiet")
    assert code == 0
    manifest = json.loads((table_dir / "manifest.json").read_text())
    assert manifest["status"] == "search-only" and len(manifest["classes"]) == 4
    assert not [f for f in os.listdir(table_dir) if f.endswith(".tar")]
    out = tmp_path / "from-manifest"
    assert run_cli(capsys, *small_args(str(table_dir / "manifest.json"), out, "--workers", 1))[0] == 0
    again = tmp_path / "from-csv"
    assert run_cli(capsys, *small_args(params, again, "--workers", 1))[0] == 0
    # the same class table gives the same shards, whichever form it came in
    assert read_shards(out) == read_shards(again)


def test_recipe_supplies_options_and_flags_override(capsys, tmp_path, params):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"family": "fractaldb", "params": params, "classes": 2, "instances": 4,
                                  "image_size": 40, "points": 3000, "draw": "point", "name": "mini"}))
    out = tmp_path / "ds"
    assert run_cli(capsys, "fractaldb", "--recipe", recipe, "--image-size", 32, "--out", out, "--quiet", "--workers", 1)[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["draw"] == "point" and manifest["config"]["image_size"] == 32
    assert manifest["shards"][0]["file"] == "mini-000000.tar"


def test_published_recipe_is_fractaldb_1k():
    recipe = fractaldb.FractalDB.recipes["fractaldb-1k"]
    options = {k: v for k, v in recipe.items() if k not in ("family", "description", "name")}
    config = fractaldb.FractalDB.configure(options)
    assert config["classes"] == 1000 and config["seed"] == 1 and config["filling_rate"] == 0.2
    assert config["search_points"] == 100000 and config["image_size"] == 362 and config["points"] == 200000
    assert config["weight_step"] == 0.4 and config["draw"] == "patch" and config["draws"] == 10
    assert config["instances"] == 1000


def test_rerun_resumes_and_different_config_is_refused(capsys, tmp_path, params):
    out = tmp_path / "ds"
    assert run_cli(capsys, *small_args(params, out, "--workers", 1))[0] == 0
    before = read_shards(out)
    first = out / "fractaldb-000000.tar"
    mtime = first.stat().st_mtime_ns
    os.remove(out / "fractaldb-000002.tar")
    assert run_cli(capsys, *small_args(params, out, "--workers", 1))[0] == 0
    assert first.stat().st_mtime_ns == mtime  # complete shards are kept
    assert read_shards(out) == before  # the missing one is rendered again
    code, _, err = run_cli(capsys, *small_args(params, out, "--workers", 1, "--seed", 9))
    assert code == 2 and "different configuration" in err and "seed" in err and len(err.strip().splitlines()) == 1
    assert run_cli(capsys, *small_args(params, out, "--workers", 1, "--seed", 9, "--overwrite"))[0] == 0
    assert read_shards(out) != before


def test_sigkill_then_resume_gives_the_same_bytes(capsys, tmp_path, params):
    reference = tmp_path / "reference"
    args = ["fractaldb", "--params", params, "--classes", 12, "--instances", 40, "--image-size", 96,
            "--points", 30000, "--shard-size", 20, "--quiet"]
    assert run_cli(capsys, *args, "--out", reference, "--workers", 1)[0] == 0
    out = tmp_path / "killed"
    process = subprocess.Popen(cli_command(*args, "--out", out, "--workers", 2))
    state = out / ".fdsl"
    deadline = time.time() + 120
    while time.time() < deadline and not (state.is_dir() and len(os.listdir(state)) >= 3):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "in-progress"  # an interrupted run never looks complete
    assert len(read_shards(out)) < 24
    done = run_subprocess(*args, "--out", out, "--workers", 2)
    assert done.returncode == 0, done.stderr
    assert read_shards(out) == read_shards(reference)
    assert (out / "manifest.json").read_bytes() == (reference / "manifest.json").read_bytes()
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_verify_passes_then_names_a_truncated_shard(capsys, tmp_path, params):
    out = tmp_path / "ds"
    assert run_cli(capsys, *small_args(params, out, "--workers", 1))[0] == 0
    code, stdout, _ = run_cli(capsys, "verify", out, "--workers", 2)
    assert code == 0 and "OK" in stdout
    shard = out / "fractaldb-000001.tar"
    shard.write_bytes(shard.read_bytes()[:3000])
    code, _, err = run_cli(capsys, "verify", out, "--workers", 1)
    assert code == 1 and "fractaldb-000001.tar" in err and "fractaldb-000000.tar" not in err


def test_verify_catches_a_corrupt_sample_with_a_matching_manifest(tmp_path, params, capsys):
    out = tmp_path / "ds"
    assert run_cli(capsys, *small_args(params, out, "--workers", 1))[0] == 0
    from fdsl_gen.output import LocalOutput
    from fdsl_gen.shards import write_shard
    samples = [(k, [(e, (b"garbage" if e == "png" else v)) for e, v in s.items()])
               for k, s in tar_samples(out / "fractaldb-000003.tar").items()]
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][3] = write_shard(LocalOutput(out), "fractaldb-000003.tar", samples)
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run_cli(capsys, "verify", out)
    assert code == 1 and "fractaldb-000003.tar" in err and "PNG" in err


def test_shards_load_with_webdataset_and_timm(capsys, tmp_path, params):
    import timm.data
    import webdataset as wds

    out = tmp_path / "ds"
    assert run_cli(capsys, *small_args(params, out, "--workers", 1))[0] == 0
    urls = [str(out / f) for f in sorted(os.listdir(out)) if f.endswith(".tar")]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("l").to_tuple("png", "cls", "json"))
    assert len(samples) == 36
    image, label, meta = samples[0]
    assert image.shape == (64, 64) and label == meta["class"]

    dataset = timm.data.create_dataset("wds/fractaldb", root=str(out), split="train")
    items = list(dataset)
    assert len(items) == 36
    assert sorted({target for _, target in items}) == [0, 1, 2]
    assert items[0][0].size == (64, 64)


def test_diverging_systems_are_flagged_not_silent(capsys, tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "00000.csv").write_text("0.5,0.1,0.1,0.5,0.2,0.1,0.5\n-0.4,0.2,0.3,0.5,-0.1,0.3,0.5\n")
    (tables / "00001.csv").write_text("2.0,0.0,0.0,2.0,1.0,1.0,1.0\n")  # x' = 2x + 1 overflows
    out = tmp_path / "ds"
    code, _, err = run_cli(capsys, "fractaldb", "--params", tables, "--instances", 8, "--image-size", 32,
                           "--points", 3000, "--out", out, "--quiet", "--workers", 1)
    assert code == 0 and "warning: 8 samples" in err and "diverged" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["diverged_samples"] == 8
    flags = {}
    for sample in tar_samples(out / manifest["shards"][0]["file"]).values():
        meta = json.loads(sample["json"])
        flags[meta["class"]] = flags.get(meta["class"], set()) | {meta["diverged"]}
    assert flags == {0: {False}, 1: {True}}


BAD_INPUTS = [
    (["--classes", 0], "--classes"),
    (["--classes", -3], "--classes"),
    (["--instances", 0], "--instances"),
    (["--instances", 1001], "--instances"),
    (["--filling-rate", 0], "--filling-rate"),
    (["--filling-rate", 1.5], "--filling-rate"),
    (["--image-size", 0], "--image-size"),
    (["--points", 0], "--points"),
    (["--weight-step", 0.7], "--weight-step"),
    (["--filling-rate", 0.5, "--search-points", 1000], "--search-points"),
    (["--draw", "blob"], "--draw"),
    (["--draw", "point", "--draws", 3], "--draws"),
    (["--workers", 0], "--workers"),
    (["--shard-size", 0], "--shard-size"),
    (["--classes", "many"], "--classes"),
    (["--name", "a.b"], "--name"),
]


@pytest.mark.parametrize("extra, mentions", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, extra, mentions):
    assert mentions in usage_error(capsys, tmp_path / "ds", "fractaldb", *extra)


def test_malformed_params_and_unusable_out(capsys, tmp_path):
    bad_csv = tmp_path / "csvs"
    bad_csv.mkdir()
    (bad_csv / "00000.csv").write_text("1,2,3\n")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (["--params", bad_csv, "--out", tmp_path / "o1"], "malformed --params"),
        (["--params", bad_json, "--out", tmp_path / "o2"], "malformed --params"),
        (["--params", tmp_path / "missing", "--out", tmp_path / "o3"], "--params"),
        (["--out", blocker / "sub"], "--out"),
        (["--out", blocker], "--out"),
        (["--recipe", bad_json, "--out", tmp_path / "o4"], "--recipe"),
    ]
    for extra, mentions in cases:
        code, _, err = run_cli(capsys, "fractaldb", "--quiet", *extra)
        assert code == 2, (extra, err)
        assert len(err.strip().splitlines()) == 1 and mentions in err, (extra, err)
    assert not any((tmp_path / o / "manifest.json").exists() for o in ("o1", "o2", "o3", "o4"))


def test_unknown_recipe_key_and_foreign_folder_are_refused(capsys, tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"classes": 2, "colour": "red"}))
    code, _, err = run_cli(capsys, "fractaldb", "--recipe", recipe, "--out", tmp_path / "o", "--quiet")
    assert code == 2 and "colour" in err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, _, err = run_cli(capsys, "fractaldb", "--classes", 1, "--out", foreign, "--quiet")
    assert code == 2 and "not empty" in err
    assert (foreign / "notes.txt").read_text() == "mine"
