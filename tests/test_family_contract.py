"""The family contract: a family defined here, in one class, renders through the real CLI; every
built-in family's declarations hold together and its samples re-render from their .json."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from fdsl_cli import read_samples, read_shards, run_cli
from fdsl_gen.families import Family, Option, family_names, get_family, register_family


@register_family
class Checkers(Family):
    """A minimal labelled family: class c is a checkerboard of period c + 2 (a seeded shift and
    grey level per instance)."""

    name = "checkers"
    help = "Checkerboards, one period per class (an example family)."
    options = (
        Option("classes", int, 3, "Number of classes.", minimum=1),
        Option("instances", int, 4, "Images per class.", minimum=1),
        Option("image_size", int, 24, "Image side in pixels.", minimum=4),
        Option("seed", int, 0, "Dataset seed.", minimum=0),
    )
    recipes = {"checkers-tiny": {"family": "checkers", "description": "Tiny checkers: for the tests",
                                 "classes": 2, "instances": 3}}
    streams = {"instance": 90}

    @classmethod
    def build_class_table(cls, config, parallel_map=map, on_progress=None):
        return [{"period": c + 2} for c in range(config["classes"])], {"source": "formula"}

    def render_group(self, class_index, instance):
        generator = np.random.default_rng(self.key("instance", class_index, instance))
        meta = {"class": class_index, "instance": instance, "image_size": self.config["image_size"],
                "period": self.class_table[class_index]["period"], "shift": int(generator.integers(8)),
                "grey": int(generator.integers(64, 256))}
        return [(instance, self.render_sample(meta), meta)]

    @staticmethod
    def render_sample(meta):
        rows, columns = np.indices((meta["image_size"], meta["image_size"]))
        squares = ((rows + meta["shift"]) // meta["period"] + columns // meta["period"]) % 2
        return (squares * meta["grey"]).astype(np.uint8)


def test_an_example_family_renders_through_the_cli(capsys, tmp_path):
    assert "checkers" in family_names()
    args = ["checkers", "--classes", 3, "--instances", 5, "--seed", 4, "--shard-size", 4, "--quiet"]
    code, stdout, err = run_cli(capsys, *args, "--workers", 1, "--out", tmp_path / "one")
    assert code == 0, err
    assert "15 samples of 3 classes" in stdout
    assert run_cli(capsys, *args, "--workers", 2, "--out", tmp_path / "two")[0] == 0
    assert read_shards(tmp_path / "one") == read_shards(tmp_path / "two")
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["family"] == "checkers" and manifest["classes"] == [{"period": p} for p in (2, 3, 4)]
    assert manifest["config"]["image_size"] == 24  # the declared default
    for sample in read_samples(tmp_path / "one").values():
        meta = json.loads(sample["json"])
        assert int(sample["cls"]) == meta["class"]
        assert np.array_equal(np.array(Image.open(io.BytesIO(sample["png"]))), Checkers.render_sample(meta))


def test_declarations_become_help_validation_and_recipes(capsys, tmp_path):
    code, stdout, _ = run_cli(capsys, "checkers", "--help")
    assert code == 0 and "Images per class. [default: 4]" in " ".join(stdout.split())
    code, _, err = run_cli(capsys, "checkers", "--instances", 0, "--out", tmp_path / "bad", "--quiet")
    assert code == 2 and "--instances must be positive, got 0" in err
    assert not (tmp_path / "bad" / "manifest.json").exists()
    code, stdout, _ = run_cli(capsys, "recipes")
    assert code == 0 and "checkers-tiny" in stdout
    out = tmp_path / "tiny"
    assert run_cli(capsys, "checkers", "--recipe", "checkers-tiny", "--out", out, "--quiet", "--workers", 1)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["num_samples"] == 6


def test_seed_streams_may_not_collide():
    class Clash(Family):
        name = "clash"
        streams = {"mine": Checkers.streams["instance"]}

    with pytest.raises(ValueError, match="checkers's instance"):
        register_family(Clash)
    assert "clash" not in family_names()


def test_built_in_declarations_hold_together():
    purposes = {}
    for name in family_names():
        family = get_family(name)
        assert family.name == name and family.help and family.options
        flags = [option.flag for option in family.options]
        assert len(set(flags)) == len(flags)
        assert "seed" in [option.name for option in family.options]  # plan and streams derive from it
        for stream, purpose in family.streams.items():
            assert purposes.setdefault(purpose, (name, stream)) == (name, stream)
        for recipe, options in family.recipes.items():
            assert options["family"] == name and options["description"]
            family.configure({k: v for k, v in family.recipe_options(options).items()
                              if k not in ("family", "description", "name")})


@pytest.mark.parametrize("args", [
    ["fractaldb", "--classes", 2, "--filling-rate", 0.05, "--search-points", 20000, "--points", 2000,
     "--image-size", 32, "--instances", 8],
    ["visualatom", "--classes", 2, "--instances", 3, "--image-size", 32, "--line-num-max", 4],
    ["deadleaves", "--shape", "mixed", "--images", 4, "--image-size", 32],
    ["spectrum", "--model", "spectrum-color", "--images", 2, "--image-size", 32],
    ["stylegan", "--variant", "sparse", "--images", 2, "--image-size", 16],
    ["featurevis", "--arch", "resnet18", "--images", 2, "--image-size", 32, "--steps", 2],
])
def test_every_sample_rerenders_from_its_json(capsys, tmp_path, args):
    code, _, err = run_cli(capsys, *args, "--workers", 1, "--quiet", "--out", tmp_path / "ds")
    assert code == 0, err
    family = get_family(args[0])
    for sample in read_samples(tmp_path / "ds").values():
        image = np.array(Image.open(io.BytesIO(sample["png"])).convert("RGB" if family.channels == 3 else "L"))
        assert np.array_equal(family.render_sample(json.loads(sample["json"])), image)
