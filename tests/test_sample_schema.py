"""Every family's per-sample .json keeps one schema, and Hugging Face datasets reads the shards.

HF datasets infers a WebDataset's features from its first samples and casts every later one
to them, so a key that some samples lack, a value that is sometimes an int and sometimes a
float, or an integer beyond int64 (Arrow's integer) fails there, or only far into a large set.
"""
import io
import json

import numpy as np
import pytest
from PIL import Image

from fdsl_cli import generate, read_samples

RUNS = {
    "fractaldb-patch": ["fractaldb", "--classes", 2, "--filling-rate", 0.05, "--search-points", 20000,
                        "--points", 2000, "--image-size", 32, "--instances", 12],
    "fractaldb-point": ["fractaldb", "--classes", 2, "--filling-rate", 0.05, "--search-points", 20000,
                        "--points", 2000, "--image-size", 32, "--draw", "point", "--instances", 8],
    "visualatom-native": ["visualatom", "--classes", 2, "--instances", 4, "--image-size", 32, "--line-num-max", 6],
    "visualatom-replay": ["visualatom", "--mode", "replay", "--threads", 2, "--classes", 2, "--instances", 3,
                          "--image-size", 32, "--line-num-max", 6],
    "deadleaves-textured": ["deadleaves", "--shape", "mixed", "--textured", "--texture-pool", 3, "--images", 6,
                            "--image-size", 32],
    "spectrum-wmm": ["spectrum", "--model", "spectrum-color-wmm", "--images", 6, "--image-size", 32],
}


def json_schema(value):
    """The JSON type of a value, recursively; integers must fit Arrow's int64."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{key}:{json_schema(value[key])}" for key in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + "|".join(sorted({json_schema(item) for item in value})) + "]"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        assert -2**63 <= value < 2**63, f"{value} does not fit an int64"
        return "int"
    return type(value).__name__


@pytest.fixture(scope="module")
def datasets_by_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, args in RUNS.items():
        assert generate(*args, "--workers", 1, "--shard-size", 5, "--quiet", "--out", root / name) == 0
    return {name: root / name for name in RUNS}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_sample_json_has_one_schema(datasets_by_run, name):
    schemas = {json_schema(json.loads(sample["json"])) for sample in read_samples(datasets_by_run[name]).values()}
    assert len(schemas) == 1, schemas


@pytest.mark.parametrize("name", sorted(RUNS))
def test_hugging_face_datasets_reads_the_shards(datasets_by_run, tmp_path, monkeypatch, name):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    out = datasets_by_run[name]
    shards = sorted(str(path) for path in out.glob("*.tar"))
    loaded = datasets.load_dataset("webdataset", data_files={"train": shards}, split="train",
                                   cache_dir=str(tmp_path / "hf"))
    samples = read_samples(out)
    assert loaded.num_rows == len(samples)
    for row in loaded:
        sample = samples[row["__key__"]]
        assert row["cls"] == int(sample["cls"])
        assert row["json"] == json.loads(sample["json"])
        assert np.array_equal(np.array(row["png"]), np.array(Image.open(io.BytesIO(sample["png"]))))
