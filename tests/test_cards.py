"""Every complete dataset gets a Hugging Face dataset card (README.md) and Croissant 1.0
metadata (croissant.json): a pure function of the manifest, read by mlcroissant and HF
datasets themselves; a dataset that is not complete has neither."""
import errno
import fnmatch
import io
import json
import os

import numpy as np
import pytest
import yaml
from PIL import Image

from fdsl_cli import generate, read_samples, read_shards, run_cli
from fdsl_gen import cards, manifest as manifests, shards

SMALL = ["visualatom", "--classes", 3, "--instances", 4, "--image-size", 32, "--line-num-max", 5,
         "--vertex-num-max", 300, "--shard-size", 5, "--name", "va-small"]
UNLABELLED = ["deadleaves", "--shape", "mixed", "--images", 7, "--image-size", 32, "--shard-size", 3]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    for name, args in (("labelled", SMALL), ("unlabelled", UNLABELLED)):
        assert generate(*args, "--workers", 1, "--quiet", "--out", root / name) == 0
    return root


def card_header(out):
    text = (out / "README.md").read_text()
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def test_the_card_header_and_body(datasets):
    out = datasets / "labelled"
    header, body = card_header(out)
    assert header == {
        "license": "cc-by-4.0",
        "pretty_name": "va-small: visualatom, 3 classes x 4 images",
        "task_categories": ["image-classification"],
        "size_categories": ["n<1K"],
        "tags": ["synthetic", "formula-driven-supervised-learning", "fdsl", "webdataset", "visualatom"],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "va-small-*.tar"}]}],
    }
    # the configs' pattern names exactly the dataset's shards
    files = os.listdir(out)
    shard_files = [shard["file"] for shard in json.loads((out / "manifest.json").read_text())["shards"]]
    assert sorted(fnmatch.filter(files, header["configs"][0]["data_files"][0]["path"])) == sorted(shard_files)
    assert "Visual Atoms: Pre-training Vision Transformers with Sinusoidal Waves" in body
    assert "https://arxiv.org/abs/2303.01112" in body and "@inproceedings{takashima2023visual," in body
    assert ("fdsl-gen visualatom --classes 3 --instances 4 --image-size 32 --vertex-num-max 300 --line-num-max 5 "
            "--name va-small --shard-size 5 --out va-small") in body
    assert 'wds.WebDataset("va-small-{000000..000002}.tar"' in body
    assert 'timm.data.create_dataset("wds/va-small", root=".", split="train")' in body
    assert 'load_dataset("webdataset", data_files={"train": "va-small-*.tar"}, split="train")' in body

    header, _ = card_header(datasets / "unlabelled")
    assert header["task_categories"] == ["image-feature-extraction"] and "deadleaves" in header["tags"]


def test_cards_are_a_pure_function_of_the_manifest(capsys, datasets, tmp_path):
    out = datasets / "labelled"
    again = tmp_path / "again"
    assert run_cli(capsys, *SMALL, "--workers", 2, "--quiet", "--out", again)[0] == 0
    for card in cards.CARDS:
        assert (again / card).read_bytes() == (out / card).read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cards.write_cards(elsewhere, manifests.read(out))
    assert sorted(os.listdir(elsewhere)) == sorted(cards.CARDS)
    for card in cards.CARDS:
        assert (elsewhere / card).read_bytes() == (out / card).read_bytes()


@pytest.fixture(scope="module")
def mlcroissant(tmp_path_factory):
    os.environ["CROISSANT_CACHE"] = str(tmp_path_factory.mktemp("croissant-cache"))  # read when imported
    import mlcroissant

    return mlcroissant


@pytest.mark.parametrize("name", ["labelled", "unlabelled"])
def test_croissant_validates_and_reads_every_sample(datasets, mlcroissant, name):
    out = datasets / name
    dataset = mlcroissant.Dataset(jsonld=str(out / "croissant.json"))  # raises on an invalid file
    # the only warnings: no datePublished (the cards hold no dates) and no version (the publisher's)
    missing = "[Metadata({})] Property \"https://schema.org/{}\" is recommended, but does not exist."
    assert sorted(dataset.metadata.ctx.issues.warnings) == [
        missing.format(dataset.metadata.name, p) for p in ("datePublished", "version")]
    assert not dataset.metadata.ctx.issues.errors
    samples = read_samples(out)
    records = list(dataset.records("samples"))
    assert len(records) == len(samples)
    for record in records:
        sample = samples[record["samples/key"].decode()]
        assert record["samples/label"] == int(sample["cls"])
        assert np.array_equal(np.array(record["samples/image"]), np.array(Image.open(io.BytesIO(sample["png"]))))


def test_hf_datasets_loads_the_folder_by_its_card(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets as hf_datasets

    out = datasets / "labelled"
    loaded = hf_datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == 12 and sorted(loaded["cls"]) == [0] * 4 + [1] * 4 + [2] * 4


def test_only_complete_datasets_have_cards(capsys, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    assert run_cli(capsys, *SMALL, "--search-only", "--quiet", "--out", out)[0] == 0
    assert not any((out / card).exists() for card in cards.CARDS)
    assert run_cli(capsys, *SMALL, "--workers", 1, "--quiet", "--out", out)[0] == 0  # renders the table
    complete = {card: (out / card).read_bytes() for card in cards.CARDS}

    # a lost shard: the rerun that renders it again fails part-way, and the cards go with "complete"
    (out / "va-small-000001.tar").unlink()
    write_tar = shards.write_tar

    def failing_write_tar(file, samples):
        if file.name.endswith("va-small-000001.tar" + shards.TMP_SUFFIX):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_tar(file, samples)

    monkeypatch.setattr(shards, "write_tar", failing_write_tar)
    assert run_cli(capsys, *SMALL, "--workers", 1, "--quiet", "--out", out)[0] == 1
    assert manifests.read(out)["status"] == "in-progress"
    assert not any((out / card).exists() for card in cards.CARDS)
    code, stdout, _ = run_cli(capsys, "info", out)
    assert code == 0 and "2 of 3 shards written" in stdout and "rerun the command to resume" in stdout
    monkeypatch.undo()
    assert run_cli(capsys, *SMALL, "--workers", 1, "--quiet", "--out", out)[0] == 0
    assert {card: (out / card).read_bytes() for card in cards.CARDS} == complete

    # --overwrite with another configuration removes them until that one completes
    assert run_cli(capsys, *SMALL, "--instances", 2, "--search-only", "--overwrite", "--quiet", "--out", out)[0] == 0
    assert not any((out / card).exists() for card in cards.CARDS) and not read_shards(out)


def test_the_cards_loading_snippets_run(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets as hf_datasets

    monkeypatch.setattr(hf_datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf")
    monkeypatch.chdir(datasets / "labelled")
    _, body = card_header(datasets / "labelled")
    snippets = [block.split("\n", 1)[1] for block in body.split("```")[1::2] if block.startswith("python")]
    assert len(snippets) == 3  # webdataset, timm, HF datasets
    for snippet in snippets:
        namespace = {}
        exec(snippet, namespace)
        labels = [int(sample[1]) if isinstance(sample, tuple) else sample["cls"] for sample in namespace["dataset"]]
        assert sorted(labels) == [0] * 4 + [1] * 4 + [2] * 4, snippet
